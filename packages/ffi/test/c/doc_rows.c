/*
 * Rows of docs/c-api.md that no other C test exercised (see docs/coverage-of-docs.md). A plain
 * program with its own main(), through plue_init and the sidecar; built as a library, its
 * plue_host_main runs under `plue host`. Usage: doc_rows MODE [args...]; prints
 * "done: N failure(s)" and exits with N (the "leaky" host mode exits 7 on purpose).
 * Every wait is for a condition, with a ceiling of a minute or more.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#define PLUE_IMPLEMENTATION
#include "plue.h"
#include "check.h"


static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_sessions(void) {
    char *list = plue_session_list();
    int n = 0;
    const char *p = list;
    while (p != NULL && (p = strstr(p, "{\"id\":\"ses_")) != NULL) { n++; p++; }
    plue_free_json(list);
    return list == NULL ? -1 : n;
}

/* ---- events seen by the subscribers of the "sessions" mode ---- */
static char created_id[64];
static int self_removing_calls = 0, self_removing_id = 0, self_removed = -1;
static char busy_id[64];
static int busy_seen = 0, aborted_seen = 0;

/* The ids of the sessions whose Created event arrived (it may arrive before create returns). */
static char created_ids[256][40];
static int ncreated = 0;

static void on_created(const char *json, void *userdata) {
    (void)userdata;
    pthread_mutex_lock(&lock);
    if (has(json, "\"_tag\":\"Created\"") && ncreated < 256) {
        const char *at = strstr(json, "\"id\":\"ses_");
        if (at != NULL) {
            size_t n = strcspn(at + 6, "\"");
            if (n < 40) { memcpy(created_ids[ncreated], at + 6, n); created_ids[ncreated][n] = '\0'; ncreated++; }
        }
    }
    if (busy_id[0] != '\0' && has(json, "\"_tag\":\"Status\"") && has(json, busy_id) && has(json, "\"busy\"")) busy_seen = 1;
    if (busy_id[0] != '\0' && has(json, "\"_tag\":\"Aborted\"") && has(json, busy_id)) aborted_seen = 1;
    pthread_mutex_unlock(&lock);
}

/* Unsubscribes itself from inside its first call: that must neither deadlock nor call it again. */
static void on_self_removing(const char *json, void *userdata) {
    (void)json;
    (void)userdata;
    /* An event may come before plue_event_subscribe has returned the id. */
    while (__sync_add_and_fetch(&self_removing_id, 0) == 0) usleep(1000);
    pthread_mutex_lock(&lock);
    self_removing_calls++;
    pthread_mutex_unlock(&lock);
    if (self_removed == -1) self_removed = plue_event_unsubscribe(self_removing_id);
}

static int created_known(void) {
    int i, found = 0;
    for (i = 0; i < ncreated; i++) if (strcmp(created_ids[i], created_id) == 0) found = 1;
    return found;
}

static int wait_created(void) {
    int i, v = 0;
    for (i = 0; i < TICKS && !v; i++) {
        pthread_mutex_lock(&lock);
        v = created_known();
        pthread_mutex_unlock(&lock);
        if (!v) usleep(25000);
    }
    return v;
}

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

/* ---- the last error is per thread ---- */
static int other_code = -1;
static char other_message[1024];
static void *other_thread(void *arg) {
    char *list;
    (void)arg;
    /* This thread's own error, then a success: neither touches the main thread's last error. */
    CHECK(plue_session_open("ses_doesnotexist00000000000000") == NULL, "open unknown id");
    other_code = plue_get_last_error_code();
    snprintf(other_message, sizeof other_message, "%s", plue_get_last_error());
    list = plue_session_list();
    CHECK(list != NULL && plue_get_last_error_code() == PLUE_OK, "list on the other thread");
    plue_free_json(list);
    return NULL;
}

/* ---- a call in flight when its handle is destroyed ---- */
static plue_session_t in_flight;
static int in_flight_result = -1;
static const char *provider = "stub", *model = "slow-model";
static void *initializer(void *arg) {
    (void)arg;
    in_flight_result = plue_session_initialize(in_flight, provider, model);
    return NULL;
}

static void sessions(const char *list_file) {
    plue_session_t parent, child, again;
    char parent_id[64], child_id[64], needle[96], *json, *share;
    int before, sub, self_sub, i, got;
    pthread_t t;
    FILE *f;

    CHECK(plue_init(NULL) == PLUE_OK, "init");

    /* plue_session_create(parent_id): a child of that session. */
    parent = plue_session_create(NULL);
    id_of(parent, parent_id);
    child = plue_session_create(parent_id);
    CHECK(child != NULL, "create a child");
    json = plue_session_get_info(child);
    snprintf(needle, sizeof needle, "\"parentID\":\"%s\"", parent_id);
    CHECK(has(json, needle), "the child names its parent: %s", json ? json : "(null)");
    plue_free_json(json);
    id_of(child, child_id);

    /* A parent that does not exist: PLUE_ERR_NOT_FOUND, and nothing is created. */
    before = count_sessions();
    CHECK(plue_session_create("ses_doesnotexist0000000000000") == NULL && plue_get_last_error_code() == PLUE_ERR_NOT_FOUND, "missing parent");
    CHECK(count_sessions() == before, "a failed create creates nothing (%d before)", before);

    /* plue_session_delete: the session and all its children. */
    CHECK(plue_session_delete(parent) == PLUE_OK, "delete the parent");
    again = plue_session_open(child_id);
    /* Not on the server any more; the bridge may also know it saw the deletion. */
    CHECK(again == NULL && (plue_get_last_error_code() == PLUE_ERR_NOT_FOUND || plue_get_last_error_code() == PLUE_ERR_DELETED), "the child went with its parent");
    for (i = 0; i < TICKS; i++) {
        json = plue_session_get_info(child);
        got = json == NULL && plue_get_last_error_code() == PLUE_ERR_DELETED;
        plue_free_json(json);
        if (got) break;
        usleep(25000);
    }
    CHECK(got, "the child's handle sees the deletion");
    plue_session_destroy(child);
    plue_session_destroy(parent);

    /* plue_session_destroy: the session stays on the server. */
    parent = plue_session_create(NULL);
    id_of(parent, parent_id);
    plue_session_destroy(parent);
    again = plue_session_open(parent_id);
    CHECK(again != NULL, "a destroyed handle's session is still on the server");

    /* The last error describes the calling thread's last call. */
    CHECK(plue_session_open("../not-an-id") == NULL && plue_get_last_error_code() == PLUE_ERR_INVALID_ARGUMENT, "bad id");
    pthread_create(&t, NULL, other_thread, NULL);
    pthread_join(t, NULL);
    CHECK(other_code == PLUE_ERR_NOT_FOUND && strlen(other_message) > 0, "the other thread saw its own error (%d)", other_code);
    CHECK(plue_get_last_error_code() == PLUE_ERR_INVALID_ARGUMENT && has(plue_get_last_error(), "not-an-id"), "this thread's last error is its own");

    /* Sharing with no share service on the server: PLUE_ERR_SERVER. */
    share = plue_session_create_share(again);
    CHECK(share == NULL && plue_get_last_error_code() == PLUE_ERR_SERVER, "share with no share service: %s", share ? share : "(null)");
    plue_free_json(share);
    plue_session_delete(again);
    plue_session_destroy(again);

    /* Events: Created reaches a callback; a callback may unsubscribe itself from inside. */
    sub = plue_event_subscribe(on_created, NULL);
    self_sub = plue_event_subscribe(on_self_removing, NULL);
    __sync_lock_test_and_set(&self_removing_id, self_sub);
    CHECK(sub > 0 && self_sub > 0, "subscribe");
    parent = plue_session_create(NULL);
    pthread_mutex_lock(&lock);
    id_of(parent, created_id);
    pthread_mutex_unlock(&lock);
    CHECK(wait_created(), "a Created event for a session this program made (%s)", created_id);
    CHECK(self_removed == PLUE_OK, "unsubscribe from inside the callback returned %d", self_removed);
    CHECK(self_removing_calls == 1, "the self-removing callback ran once (%d)", self_removing_calls);
    CHECK(plue_event_unsubscribe(self_sub) == PLUE_ERR_INVALID_ARGUMENT, "it is gone");

    /* plue_session_initialize that succeeds: the init turn runs on the stub model to its end. */
    CHECK(plue_session_update_title(parent, "initialized from C") == PLUE_OK, "title");
    CHECK(plue_session_initialize(parent, provider, model) == PLUE_OK, "initialize on the stub model");

    /* plue_session_destroy while a call on the handle is in flight: that call fails with
     * PLUE_ERR_INVALID_HANDLE; the session stays on the server. */
    in_flight = plue_session_create(NULL);
    CHECK(plue_session_update_title(in_flight, "destroyed in flight") == PLUE_OK, "title");
    pthread_mutex_lock(&lock);
    id_of(in_flight, busy_id);
    pthread_mutex_unlock(&lock);
    pthread_create(&t, NULL, initializer, NULL);
    CHECK(wait_flag(&busy_seen), "the session became busy");
    {
        double started = now_s();
        plue_session_destroy(in_flight);
        CHECK(plue_get_last_error_code() == PLUE_OK, "destroy an open handle");
        pthread_join(t, NULL);
        CHECK(in_flight_result == PLUE_ERR_INVALID_HANDLE, "the call in flight returned %d, want PLUE_ERR_INVALID_HANDLE", in_flight_result);
        CHECK(now_s() - started < 120.0, "and returned (%.1f s)", now_s() - started);
    }
    again = plue_session_open(busy_id);
    CHECK(again != NULL, "the session is still on the server");
    CHECK(plue_session_abort(again) == PLUE_OK, "abort its run");
    CHECK(wait_flag(&aborted_seen), "an Aborted event reached the callback");
    plue_session_destroy(again);
    plue_session_delete(parent);
    plue_session_destroy(parent);
    CHECK(plue_event_unsubscribe(sub) == PLUE_OK, "unsubscribe");

    /* plue_session_list, for the test to compare with the server's own listing. */
    json = plue_session_list();
    CHECK(json != NULL, "list");
    f = fopen(list_file, "w");
    if (f != NULL && json != NULL) { fputs(json, f); fclose(f); }
    plue_free_json(json);
    CHECK(plue__live_strings() == 0, "%ld strings never freed", (long)plue__live_strings());
    CHECK(plue_shutdown() == PLUE_OK, "shutdown");
}

/* ---- plue_options: each field, and `size` ---- */
static int stale_calls = 0, fresh_seen = 0;
static char fresh_id[64];
static void on_stale(const char *json, void *userdata) { (void)json; (void)userdata; __sync_add_and_fetch(&stale_calls, 1); }
static void on_fresh(const char *json, void *userdata) {
    (void)userdata;
    pthread_mutex_lock(&lock);
    if (fresh_id[0] != '\0' && has(json, fresh_id)) fresh_seen = 1;
    pthread_mutex_unlock(&lock);
}

static void options_mode(const char *command, const char *dir_option, const char *dir_env, const char *never_ready) {
    plue_options o;
    plue_session_t s;
    char *json, needle[4200];
    int stale, fresh, stale_sub;
    double started;

    /* options->command is used before PLUE_COMMAND (the test sets that to a missing program). */
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    o.command = command;
    CHECK(plue_init(&o) == PLUE_OK, "options->command");
    /* OPENCODE_DIRECTORY (set by the test) is the project directory when options->directory is unset. */
    s = plue_session_create(NULL);
    json = plue_session_get_info(s);
    snprintf(needle, sizeof needle, "\"directory\":\"%s\"", dir_env);
    CHECK(has(json, needle), "OPENCODE_DIRECTORY: %s", json ? json : "(null)");
    plue_free_json(json);
    plue_session_delete(s);
    plue_session_destroy(s);

    /* plue_shutdown ends the event subscriptions: after init again, the old one is never called. */
    stale_sub = plue_event_subscribe(on_stale, NULL);
    CHECK(stale_sub > 0, "subscribe");
    CHECK(plue_shutdown() == PLUE_OK, "shutdown");
    CHECK(plue_event_unsubscribe(stale_sub) == PLUE_ERR_INVALID_ARGUMENT, "the subscription ended with the shutdown");

    /* options->directory before OPENCODE_DIRECTORY. */
    o.directory = dir_option;
    CHECK(plue_init(&o) == PLUE_OK, "options->directory");
    stale = __sync_add_and_fetch(&stale_calls, 0);
    CHECK(plue_event_subscribe(on_fresh, NULL) > 0, "subscribe again");
    s = plue_session_create(NULL);
    pthread_mutex_lock(&lock);
    id_of(s, fresh_id);
    pthread_mutex_unlock(&lock);
    CHECK(plue_session_update_title(s, "seen by the new subscriber") == PLUE_OK, "title");
    fresh = wait_flag(&fresh_seen);
    CHECK(fresh, "the new subscription sees the session's events");
    CHECK(__sync_add_and_fetch(&stale_calls, 0) == stale, "the old subscription was not called (%d calls)", stale_calls - stale);
    json = plue_session_get_info(s);
    snprintf(needle, sizeof needle, "\"directory\":\"%s\"", dir_option);
    CHECK(has(json, needle), "options->directory: %s", json ? json : "(null)");
    plue_free_json(json);
    plue_session_delete(s);
    plue_session_destroy(s);
    CHECK(plue_shutdown() == PLUE_OK, "shutdown");
    o.directory = NULL;

    /* options->password before OPENCODE_SERVER_PASSWORD: a wrong one is PLUE_ERR_UNAUTHORIZED. */
    o.password = "wrong password";
    started = now_s();
    CHECK(plue_init(&o) == PLUE_ERR_UNAUTHORIZED, "a refused password");
    CHECK(has(plue_get_last_error(), "password"), "says so: %s", plue_get_last_error());
    /* At once: not after the timeout (60 s by default). */
    CHECK(now_s() - started < 45.0, "a refused password fails plue_init at once (%.1f s)", now_s() - started);

    /* Fields past `size` are unset: the wrong password and a dead URL are not read. */
    o.url = "http://127.0.0.1:9";
    o.size = offsetof(plue_options, url);
    CHECK(plue_init(&o) == PLUE_OK, "url and password past size are ignored");
    CHECK(plue_shutdown() == PLUE_OK, "shutdown");

    /* options->timeout_ms: a sidecar that never gets ready fails plue_init after that long. */
    memset(&o, 0, sizeof o);
    o.size = sizeof o;
    o.command = never_ready;
    o.timeout_ms = 2000;
    started = now_s();
    CHECK(plue_init(&o) == PLUE_ERR_UNREACHABLE, "a sidecar never ready");
    CHECK(has(plue_get_last_error(), "not ready within 2000 ms"), "says so: %s", plue_get_last_error());
    CHECK(now_s() - started >= 1.9 && now_s() - started < 60.0, "after about timeout_ms (%.1f s)", now_s() - started);
    CHECK(plue_shutdown() == PLUE_ERR_NOT_BOUND, "nothing to shut down");
}

/* plue_init(NULL) with no URL: the sidecar starts a local OpenCode server (and stops it), which
 * shares through plue's own share service: the owner secret and the expiry reach C. */
static void local_mode(void) {
    plue_session_t s;
    char *share;
    CHECK(plue_init(NULL) == PLUE_OK, "init with a local server");
    s = plue_session_create(NULL);
    CHECK(s != NULL, "create");
    share = plue_session_create_share(s);
    CHECK(has(share, "\"url\":\"http") && has(share, "\"secret\":\"") && has(share, "\"expiresAt\":"), "share: %s", share ? share : "(null)");
    printf("share %s\n", share ? share : "(null)");
    plue_free_json(share);
    CHECK(plue_session_unshare(s) == PLUE_OK, "unshare");
    CHECK(plue_session_delete(s) == PLUE_OK, "delete");
    plue_session_destroy(s);
    CHECK(plue_shutdown() == PLUE_OK, "shutdown");
}

/* plue_errstr of every code, one per line, for the test to compare with the reference. */
static void errstr_mode(void) {
    int code;
    for (code = 0; code <= 14; code++) printf("%d\t%s\n", code, plue_errstr(code));
}

/* Under `plue host --debug`: one string never freed, one handle never destroyed, exit 7. */
int plue_host_main(int argc, char **argv) {
    plue_session_t s;
    char *json;
    (void)argc;
    (void)argv;
    s = plue_session_create(NULL);
    json = plue_session_get_info(s);
    printf("leaked %s\n", json != NULL ? "a string" : "nothing");
    return 7;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "sessions") == 0 && argc > 2) {
        if (argc > 4) { provider = argv[3]; model = argv[4]; }
        sessions(argv[2]);
    } else if (strcmp(mode, "options") == 0 && argc > 5) options_mode(argv[2], argv[3], argv[4], argv[5]);
    else if (strcmp(mode, "local") == 0) local_mode();
    else if (strcmp(mode, "errstr") == 0) { errstr_mode(); return 0; }
    else { fprintf(stderr, "unknown mode %s\n", mode); failures++; }
    printf("done: %d failure(s)\n", failures);
    return failures;
}
