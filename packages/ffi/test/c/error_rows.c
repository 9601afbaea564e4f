/*
 * Rows of docs/c-api.md about failures and events that need a server doing something particular
 * (see docs/coverage-of-docs.md): PLUE_ERR_PROTOCOL, PLUE_ERR_SHARE_UNAVAILABLE, an `Error` event
 * and the C queue's own `Lagged` event at a callback. The same modes run through plue_init and
 * the sidecar (main) and under `plue host` (plue_host_main). Usage: error_rows MODE [args...];
 * prints "done: N failure(s)" and exits with N. Every wait is for a condition, with a ceiling of
 * two minutes.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* A small event queue, so that a test fills it with a few dozen renames (the default is 8192). */
#define PLUE_EVENT_QUEUE_MAX 64
#define PLUE_IMPLEMENTATION
#include "plue.h"
#include "check.h"


static int wait_flag(int *flag) {
    int i, v = 0;
    for (i = 0; i < TICKS; i++) {
        pthread_mutex_lock(&lock);
        v = *flag;
        pthread_mutex_unlock(&lock);
        if (v) break;
        usleep(25000);
    }
    return v;
}

/* ---- PLUE_ERR_PROTOCOL: the test's proxy answers `garbled_id` and a rename to "plue-garble"
 * with JSON that is not a Session ---- */
static void protocol_mode(const char *garbled_id) {
    plue_session_t s;
    char *json;
    s = plue_session_open(garbled_id);
    CHECK(s == NULL && plue_get_last_error_code() == PLUE_ERR_PROTOCOL, "open of an id answered with what is not a Session");
    printf("open %d %s\n", plue_get_last_error_code(), plue_get_last_error());
    s = plue_session_create(NULL);
    CHECK(s != NULL, "create");
    CHECK(plue_session_update_title(s, "plue-garble") == PLUE_ERR_PROTOCOL, "a rename answered with what is not a Session");
    printf("title %d %s\n", plue_get_last_error_code(), plue_get_last_error());
    /* The handle still works: an answer that did not decode breaks nothing else. */
    CHECK(plue_session_update_title(s, "a fine title") == PLUE_OK, "rename again");
    json = plue_session_get_info(s);
    CHECK(has(json, "\"title\":\"a fine title\""), "get_info: %s", json ? json : "(null)");
    plue_free_json(json);
    CHECK(plue_session_delete(s) == PLUE_OK, "delete");
    plue_session_destroy(s);
}

/* ---- PLUE_ERR_SHARE_UNAVAILABLE: a server with sharing disabled (OPENCODE_DISABLE_SHARE=1) ---- */
static void share_mode(void) {
    plue_session_t s = plue_session_create(NULL);
    char *share;
    CHECK(s != NULL, "create");
    share = plue_session_create_share(s);
    CHECK(share == NULL && plue_get_last_error_code() == PLUE_ERR_SHARE_UNAVAILABLE, "share: %s", share ? share : "(null)");
    printf("share %d %s\n", plue_get_last_error_code(), plue_get_last_error());
    plue_free_json(share);
    CHECK(plue_session_delete(s) == PLUE_OK, "delete");
    plue_session_destroy(s);
}

/* ---- an Error event: the test makes the session's run fail (the stub model refuses it) ---- */
static char error_id[64];
static char error_json[4096];
static int error_seen = 0;
static void on_error(const char *json, void *userdata) {
    (void)userdata;
    pthread_mutex_lock(&lock);
    if (!error_seen && error_id[0] != '\0' && has(json, "\"_tag\":\"Error\"") && has(json, error_id)) {
        snprintf(error_json, sizeof error_json, "%s", json);
        error_seen = 1;
    }
    pthread_mutex_unlock(&lock);
}

static void error_mode(void) {
    plue_session_t s;
    char needle[96];
    int sub = plue_event_subscribe(on_error, NULL);
    CHECK(sub > 0, "subscribe");
    s = plue_session_create(NULL);
    CHECK(s != NULL, "create");
    pthread_mutex_lock(&lock);
    id_of(s, error_id);
    pthread_mutex_unlock(&lock);
    /* The test prompts this session with what the stub model refuses. */
    printf("session %s\n", error_id);
    fflush(stdout);
    CHECK(wait_flag(&error_seen), "an Error event for %s", error_id);
    printf("event %s\n", error_json);
    snprintf(needle, sizeof needle, "\"sessionId\":\"%s\"", error_id);
    CHECK(has(error_json, needle) && has(error_json, "\"error\":{"), "the Error event names the session and carries the error");
    CHECK(plue_event_unsubscribe(sub) == PLUE_OK, "unsubscribe");
    CHECK(plue_session_delete(s) == PLUE_OK, "delete");
    plue_session_destroy(s);
}

/* ---- Lagged: a callback slower than the queue ---- */
static int release_slow = 0, slow_blocked = 0, lagged_seen = 0, after_lagged = 0, fast_lagged = 0;
static long slow_missed = 0, fast_missed = 0;
static char lagged_json[128];
static void on_slow(const char *json, void *userdata) {
    int blocked;
    (void)userdata;
    pthread_mutex_lock(&lock);
    blocked = slow_blocked;
    slow_blocked = 1;
    if (has(json, "\"_tag\":\"Lagged\"")) {
        const char *at = strstr(json, "\"missed\":");
        lagged_seen++;
        slow_missed += at != NULL ? atol(at + 9) : 0;
        snprintf(lagged_json, sizeof lagged_json, "%s", json);
    } else if (lagged_seen > 0) after_lagged++;
    pthread_mutex_unlock(&lock);
    /* The first event holds the dispatcher thread until the main thread says so. */
    if (!blocked) while (!__sync_add_and_fetch(&release_slow, 0)) usleep(1000);
}
static void on_fast(const char *json, void *userdata) {
    (void)userdata;
    if (!has(json, "\"_tag\":\"Lagged\"")) return;
    pthread_mutex_lock(&lock);
    fast_lagged++;
    {
        const char *at = strstr(json, "\"missed\":");
        fast_missed += at != NULL ? atol(at + 9) : 0;
    }
    pthread_mutex_unlock(&lock);
}

#define RENAMERS 4
static int renames_each = 0;
static void *renamer(void *arg) {
    plue_session_t s = plue_session_create(NULL);
    char title[64];
    int i;
    (void)arg;
    CHECK(s != NULL, "create");
    for (i = 0; i < renames_each; i++) {
        snprintf(title, sizeof title, "rename %d", i);
        CHECK(plue_session_update_title(s, title) == PLUE_OK, "rename %d", i);
    }
    plue_session_delete(s);
    plue_session_destroy(s);
    return NULL;
}

static void lagged_mode(int renames) {
    pthread_t threads[RENAMERS];
    plue_session_t s;
    int slow, fast, i, ok;
    renames_each = renames / RENAMERS;
    slow = plue_event_subscribe(on_slow, NULL);
    fast = plue_event_subscribe(on_fast, NULL);
    CHECK(slow > 0 && fast > 0, "subscribe");
    /* One event to block the slow callback on. */
    s = plue_session_create(NULL);
    CHECK(wait_flag(&slow_blocked), "the slow callback got its first event");
    /* Each rename is at least four events (Progress queued, sending, done, and Updated): many
     * more than the queue (PLUE_EVENT_QUEUE_MAX, 64 here) holds while the callback is blocked. */
    for (i = 0; i < RENAMERS; i++) pthread_create(&threads[i], NULL, renamer, NULL);
    for (i = 0; i < RENAMERS; i++) pthread_join(threads[i], NULL);
    __sync_lock_test_and_set(&release_slow, 1);
    /* The drained queue ends with the renamers' deletions: wait until Lagged and later events came. */
    for (i = 0, ok = 0; i < TICKS && !ok; i++) {
        pthread_mutex_lock(&lock);
        ok = lagged_seen > 0 && after_lagged > 0 && fast_lagged == lagged_seen && fast_missed == slow_missed;
        pthread_mutex_unlock(&lock);
        if (!ok) usleep(25000);
    }
    CHECK(ok, "a Lagged event, then more events, reached the slow callback (lagged %d, after %d, fast %d)", lagged_seen, after_lagged, fast_lagged);
    pthread_mutex_lock(&lock);
    printf("lagged %s slow-missed %ld fast-missed %ld lagged-events %d\n", lagged_json, slow_missed, fast_missed, lagged_seen);
    CHECK(slow_missed > 0, "missed > 0");
    CHECK(fast_missed == slow_missed, "every subscriber was told the same count (%ld, %ld)", fast_missed, slow_missed);
    pthread_mutex_unlock(&lock);
    CHECK(plue_event_unsubscribe(slow) == PLUE_OK && plue_event_unsubscribe(fast) == PLUE_OK, "unsubscribe");
    plue_session_delete(s);
    plue_session_destroy(s);
}

static int run(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    CHECK(plue_init(NULL) == PLUE_OK, "init");
    if (strcmp(mode, "protocol") == 0 && argc > 2) protocol_mode(argv[2]);
    else if (strcmp(mode, "share") == 0) share_mode();
    else if (strcmp(mode, "error-event") == 0) error_mode();
    else if (strcmp(mode, "lagged") == 0 && argc > 2) lagged_mode(atoi(argv[2]));
    else { fprintf(stderr, "unknown mode %s\n", mode); failures++; }
    CHECK(plue__live_strings() == 0, "%ld strings never freed", (long)plue__live_strings());
    CHECK(plue_shutdown() == PLUE_OK, "shutdown");
    printf("done: %d failure(s)\n", failures);
    fflush(stdout);
    return failures;
}

int plue_host_main(int argc, char **argv) { return run(argc, argv); }

int main(int argc, char **argv) { return run(argc, argv); }
