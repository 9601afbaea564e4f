/*
 * PLUE_ERR_OUT_OF_MEMORY (docs/c-api.md, "An allocation failed."): run with the test's allocator
 * shim (c/oom_shim.c) in LD_PRELOAD, which makes malloc/calloc/realloc fail on demand. The same
 * program runs through plue_init and the sidecar (main) and under `plue host` (plue_host_main).
 * Usage: oom MODE; prints "done: N failure(s)" and exits with N. Modes:
 *   calling   the calling thread's allocations fail: the functions that allocate on it return
 *             PLUE_ERR_OUT_OF_MEMORY (NULL / a negative id for the pointer and id results), those
 *             that need no allocation there still work, and all work again once memory is back
 *   others    (sidecar) every other thread's allocations fail (plue's reader and dispatcher):
 *             a result that cannot be kept fails its call with PLUE_ERR_OUT_OF_MEMORY, the
 *             sidecar stays bound, a stale session is never served, lost events are told by Lagged
 *   init      (sidecar) plue_init with its Nth allocation failing, for every N until it succeeds:
 *             each attempt returns PLUE_ERR_OUT_OF_MEMORY and leaves no child process behind
 * Every wait is for a condition, with a ceiling of two minutes.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#define PLUE_IMPLEMENTATION
#include "plue.h"
#include "check.h"


static void (*oom_thread)(long);
static void (*oom_others)(int);
static long (*oom_failed)(void);

/* ---- what the callback saw ---- */
static int lagged = 0, after_lagged = 0, renamed_after = 0;
static char lagged_json[128];

static void on_event(const char *json, void *userdata) {
    (void)userdata;
    pthread_mutex_lock(&lock);
    if (has(json, PLUE_EVENT_TAG(PLUE_EVENT_LAGGED))) {
        lagged++;
        snprintf(lagged_json, sizeof lagged_json, "%s", json);
    } else if (lagged > 0) {
        after_lagged++;
    }
    if (has(json, PLUE_EVENT_TAG(PLUE_EVENT_UPDATED)) && has(json, "oom-after")) renamed_after = 1;
    pthread_mutex_unlock(&lock);
}

static int wait_for(int *flag) {
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

/* Prints one line "NAME CODE message" (the test reads them). */
static void said(const char *name) { printf("%s %d %s\n", name, plue_get_last_error_code(), plue_get_last_error()); }

/* ---- the calling thread's allocations fail ---- */
static void calling_mode(void) {
    plue_session_t s;
    char *json;
    int sub, rc;
    long before;
    s = plue_session_create(NULL);
    CHECK(s != NULL, "create");
    json = plue_session_get_info(s);
    CHECK(has(json, "\"id\":\"ses_"), "get_info before: %s", json ? json : "(null)");
    plue_free_json(json);

    before = oom_failed();
    oom_thread(0);
    /* A warm read copies the session's JSON on this thread: that copy fails. */
    json = plue_session_get_info(s);
    rc = plue_get_last_error_code();
    said("get_info");
    CHECK(json == NULL && rc == PLUE_ERR_OUT_OF_MEMORY, "get_info while allocations fail: %s", json ? json : "(null)");
    /* The first subscription allocates its table (and starts the dispatcher thread). */
    sub = plue_event_subscribe(on_event, NULL);
    said("subscribe");
    CHECK(sub == -PLUE_ERR_OUT_OF_MEMORY && plue_get_last_error_code() == PLUE_ERR_OUT_OF_MEMORY, "subscribe while allocations fail: %d", sub);
    /* The library's own calls that allocate nothing still answer. */
    CHECK(strcmp(plue_errstr(PLUE_ERR_OUT_OF_MEMORY), "An allocation failed.") == 0, "errstr");
    plue_free_json(NULL);
    /* A call is sent without an allocation on the calling thread (a gathered write to the
     * sidecar; koffi's hop under `plue host`), and an int result comes back without one: a
     * rename works while this thread cannot allocate. */
    rc = plue_session_update_title(s, "oom-during");
    said("title");
    CHECK(rc == PLUE_OK, "a rename while this thread's allocations fail");
    oom_thread(-1);
    printf("failed allocations %ld\n", oom_failed() - before);
    CHECK(oom_failed() - before >= 2, "the shim failed allocations (%ld)", oom_failed() - before);

    /* Memory is back: everything works again. */
    sub = plue_event_subscribe(on_event, NULL);
    CHECK(sub > 0, "subscribe after");
    CHECK(plue_session_update_title(s, "oom-after") == PLUE_OK, "rename after");
    json = plue_session_get_info(s);
    CHECK(has(json, "\"title\":\"oom-after\""), "get_info after: %s", json ? json : "(null)");
    plue_free_json(json);
    CHECK(wait_for(&renamed_after), "the rename's Updated event reached the callback");
    json = plue_session_list();
    CHECK(has(json, "oom-after"), "list after");
    plue_free_json(json);
    CHECK(plue_event_unsubscribe(sub) == PLUE_OK, "unsubscribe");
    CHECK(plue_session_delete(s) == PLUE_OK, "delete");
    plue_session_destroy(s);
    CHECK(plue_get_last_error_code() == PLUE_OK, "destroy");
}

/* ---- every other thread's allocations fail (plue's reader and dispatcher) ---- */
static void others_mode(void) {
    plue_session_t s;
    char *json;
    int sub, rc, told;
    long before;
    sub = plue_event_subscribe(on_event, NULL);
    CHECK(sub > 0, "subscribe");
    s = plue_session_create(NULL);
    CHECK(s != NULL, "create");
    CHECK(plue_session_update_title(s, "oom-before") == PLUE_OK, "rename before");

    before = oom_failed();
    oom_others(1);
    /* The reader thread cannot keep the answer's JSON: the call fails, the stream goes on. */
    json = plue_session_list();
    rc = plue_get_last_error_code();
    said("list");
    CHECK(json == NULL && rc == PLUE_ERR_OUT_OF_MEMORY, "list while the reader cannot allocate");
    plue_free_json(json);
    /* An int result carries no string: it comes back. Its events and the mirror's new value
     * cannot be kept by the reader. */
    rc = plue_session_update_title(s, "oom-during");
    said("title");
    CHECK(rc == PLUE_OK, "a rename while the reader cannot allocate");
    /* The session is never served stale: the mirror dropped the handle, so this asks the bridge,
     * whose answer the reader cannot keep. */
    json = plue_session_get_info(s);
    rc = plue_get_last_error_code();
    said("get_info");
    CHECK(!has(json, "oom-before"), "a stale session was served: %s", json);
    CHECK(json == NULL ? rc == PLUE_ERR_OUT_OF_MEMORY : has(json, "oom-during"), "get_info: %s", json ? json : "(null)");
    plue_free_json(json);
    oom_others(0);
    printf("failed allocations %ld\n", oom_failed() - before);
    CHECK(oom_failed() - before >= 2, "the shim failed allocations (%ld)", oom_failed() - before);

    /* Memory is back: the same sidecar answers, the session is current, the callback hears. */
    json = plue_session_get_info(s);
    CHECK(has(json, "\"title\":\"oom-during\""), "get_info after: %s", json ? json : "(null)");
    plue_free_json(json);
    json = plue_session_list();
    CHECK(has(json, "oom-during"), "list after");
    plue_free_json(json);
    CHECK(plue_session_update_title(s, "oom-after") == PLUE_OK, "rename after");
    CHECK(wait_for(&renamed_after), "the rename's Updated event reached the callback");
    pthread_mutex_lock(&lock);
    printf("lagged %d %s after %d\n", lagged, lagged_json, after_lagged);
    told = lagged == 1 && after_lagged > 0;
    pthread_mutex_unlock(&lock);
    /* (CHECK takes the lock: never inside it.) */
    CHECK(told, "the events the reader lost were told by one Lagged, then the next ones came");
    CHECK(plue_event_unsubscribe(sub) == PLUE_OK, "unsubscribe");
    CHECK(plue_session_delete(s) == PLUE_OK, "delete");
    plue_session_destroy(s);
}

/* No child process of this program is left (running or unreaped). */
static int no_children(void) {
    int status;
    return waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD;
}

/* ---- plue_init with its Nth allocation failing ---- */
static void init_mode(void) {
    long spare;
    int rc = -1, ooms = 0;
    plue_session_t s;
    for (spare = 0; spare < 200 && rc != PLUE_OK; spare++) {
        oom_thread(spare);
        rc = plue_init(NULL);
        oom_thread(-1);
        if (rc != PLUE_OK) {
            ooms++;
            CHECK(rc == PLUE_ERR_OUT_OF_MEMORY, "plue_init with allocation %ld failing: %d", spare, rc);
            CHECK(plue_get_last_error_code() == rc && plue_get_last_error()[0] != '\0', "a message");
            if (ooms == 1) said("init");
            CHECK(no_children(), "plue_init with allocation %ld failing left a child process", spare);
            CHECK(plue_session_list() == NULL && plue_get_last_error_code() == PLUE_ERR_NOT_BOUND, "not bound after a failed plue_init");
        }
    }
    printf("init failed %d time(s), then succeeded: %d\n", ooms, rc);
    CHECK(rc == PLUE_OK && ooms >= 2, "plue_init succeeded once its allocations did (%d failures)", ooms);
    if (rc != PLUE_OK) return;
    s = plue_session_create(NULL);
    CHECK(s != NULL, "create after");
    CHECK(plue_session_delete(s) == PLUE_OK, "delete");
    plue_session_destroy(s);
    /* A later plue_init only counts: it allocates nothing. */
    oom_thread(0);
    CHECK(plue_init(NULL) == PLUE_OK, "a counting plue_init while allocations fail");
    CHECK(plue_shutdown() == PLUE_OK, "shutdown of the count");
    oom_thread(-1);
    CHECK(plue_shutdown() == PLUE_OK, "shutdown");
    CHECK(no_children(), "the sidecar was reaped");
}

static int run(int argc, char **argv, int hosted) {
    const char *mode = argc > 1 ? argv[1] : "";
    /* POSIX's way to take a function from dlsym (ISO C has no object-to-function cast). */
    *(void **)&oom_thread = dlsym(RTLD_DEFAULT, "plue_oom_thread");
    *(void **)&oom_others = dlsym(RTLD_DEFAULT, "plue_oom_others");
    *(void **)&oom_failed = dlsym(RTLD_DEFAULT, "plue_oom_failed");
    if (oom_thread == NULL || oom_others == NULL || oom_failed == NULL) {
        fprintf(stderr, "the allocator shim is not loaded (LD_PRELOAD)\n");
        return 99;
    }
    if (strcmp(mode, "init") == 0 && !hosted) init_mode();
    else {
        CHECK(plue_init(NULL) == PLUE_OK, "init");
        if (strcmp(mode, "calling") == 0) calling_mode();
        else if (strcmp(mode, "others") == 0 && !hosted) others_mode();
        else { fprintf(stderr, "unknown mode %s\n", mode); failures++; }
        CHECK(plue__live_strings() == 0, "%ld strings never freed", (long)plue__live_strings());
        CHECK(plue_shutdown() == PLUE_OK, "shutdown");
    }
    printf("done: %d failure(s)\n", failures);
    fflush(stdout);
    return failures;
}

int plue_host_main(int argc, char **argv) { return run(argc, argv, 1); }

int main(int argc, char **argv) {
    /* The shim is loaded in this process; the sidecar is not to have it. */
    unsetenv("LD_PRELOAD");
    return run(argc, argv, 0);
}
