/*
 * C-side tests of the plue API, run by the test suite with `plue host`-style binding against a
 * real OpenCode server. Usage: plue_host_main(argv = [lib, MODE, REPORT_FILE, ...]).
 * Every failed check is written to REPORT_FILE; the exit status is the number of failures.
 * Each run starts from clean state (`reset`), and every wait below is for a condition, with a
 * ceiling of a minute (WAIT_TICKS) so that a loaded machine still passes and a hang still ends.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#define PLUE_IMPLEMENTATION
#include "plue.h"

static FILE *report;
static int failures = 0;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            pthread_mutex_lock(&report_lock);                              \
            failures++;                                                    \
            fprintf(report, "line %d: %s: ", __LINE__, #cond);             \
            fprintf(report, __VA_ARGS__);                                  \
            fprintf(report, " [last error %d: %s]\n", plue_get_last_error_code(), plue_get_last_error()); \
            fflush(report);                                                \
            pthread_mutex_unlock(&report_lock);                            \
        }                                                                  \
    } while (0)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Ceilings of the waits: ticks of 25 ms (a minute) and of 5 ms (a minute). */
#define WAIT_TICKS 2400
#define WAIT_TICKS_5MS 12000

static int has(const char *json, const char *needle) { return json != NULL && strstr(json, needle) != NULL; }

/* ---- misuse: NULLs, stale and made-up handles, odd bytes, huge input, bad ids ---- */
static void misuse(void) {
    plue_session_t s, fake = (plue_session_t)(intptr_t)0xdeadbeef;
    char *json, *big;

    CHECK(strcmp(plue_version(), PLUE_VERSION) == 0, "runtime %s vs header %s", plue_version(), PLUE_VERSION);
    CHECK(plue_get_last_error() != NULL, "last error is never NULL");

    CHECK(plue_session_get_info(NULL) == NULL && plue_get_last_error_code() == PLUE_ERR_INVALID_HANDLE, "get_info(NULL)");
    CHECK(strlen(plue_get_last_error()) > 0, "a message comes with the code");
    CHECK(plue_session_update_title(NULL, "x") == PLUE_ERR_INVALID_HANDLE, "update_title(NULL)");
    CHECK(plue_session_initialize(NULL, "p", "m") == PLUE_ERR_INVALID_HANDLE, "initialize(NULL)");
    CHECK(plue_session_delete(NULL) == PLUE_ERR_INVALID_HANDLE, "delete(NULL)");
    CHECK(plue_session_abort(NULL) == PLUE_ERR_INVALID_HANDLE, "abort(NULL)");
    CHECK(plue_session_create_share(NULL) == NULL, "create_share(NULL)");
    CHECK(plue_session_unshare(NULL) == PLUE_ERR_INVALID_HANDLE, "unshare(NULL)");
    /* Like free(NULL): destroying NULL does nothing, not even set an error. */
    plue_session_destroy(NULL);
    CHECK(plue_get_last_error_code() == PLUE_ERR_INVALID_HANDLE, "destroy(NULL) leaves the last error alone");
    CHECK(plue_session_open(NULL) == NULL && plue_get_last_error_code() == PLUE_ERR_INVALID_ARGUMENT, "open(NULL)");
    plue_free_json(NULL);

    CHECK(plue_session_get_info(fake) == NULL && plue_get_last_error_code() == PLUE_ERR_INVALID_HANDLE, "made-up handle");
    CHECK(plue_session_update_title(fake, "x") == PLUE_ERR_INVALID_HANDLE, "made-up handle title");
    plue_session_destroy(fake);
    CHECK(plue_get_last_error_code() == PLUE_ERR_INVALID_HANDLE, "destroy made-up handle");

    s = plue_session_create(NULL);
    CHECK(s != NULL, "create");
    CHECK(plue_get_last_error_code() == PLUE_OK && plue_get_last_error()[0] == '\0', "success clears the last error");
    CHECK(plue_session_update_title(s, NULL) == PLUE_ERR_INVALID_ARGUMENT, "title NULL");
    CHECK(plue_session_update_title(s, "bad \xC3\x28 utf8") == PLUE_ERR_INVALID_ARGUMENT, "invalid UTF-8");
    CHECK(plue_session_update_title(s, "overlong \xC0\xAF") == PLUE_ERR_INVALID_ARGUMENT, "overlong UTF-8");
    CHECK(plue_session_update_title(s, "surrogate \xED\xA0\x80") == PLUE_ERR_INVALID_ARGUMENT, "surrogate");
    CHECK(plue_session_update_title(s, "Grüße 日本 🚀") == PLUE_OK, "unicode title");
    json = plue_session_get_info(s);
    CHECK(has(json, "Grüße 日本 🚀"), "unicode title round-trips: %s", json ? json : "(null)");
    plue_free_json(json);

    big = (char *)malloc(1024 * 1024 + 1);
    memset(big, 'a', 1024 * 1024);
    big[1024 * 1024] = '\0';
    CHECK(plue_session_update_title(s, big) == PLUE_OK, "1 MB title");
    json = plue_session_get_info(s);
    CHECK(json != NULL && strlen(json) > 1024 * 1024, "1 MB title read back");
    plue_free_json(json);
    free(big);

    CHECK(plue_session_open("../config") == NULL && plue_get_last_error_code() == PLUE_ERR_INVALID_ARGUMENT, "path traversal id");
    CHECK(plue_session_open("ses_a/../../auth") == NULL && plue_get_last_error_code() == PLUE_ERR_INVALID_ARGUMENT, "traversal 2");
    CHECK(plue_session_open("ses_%2e%2e") == NULL && plue_get_last_error_code() == PLUE_ERR_INVALID_ARGUMENT, "percent dots");
    CHECK(plue_session_open("") == NULL && plue_get_last_error_code() == PLUE_ERR_INVALID_ARGUMENT, "empty id");
    CHECK(plue_session_open("ses_doesnotexist00000000000") == NULL && plue_get_last_error_code() == PLUE_ERR_NOT_FOUND, "unknown id");
    CHECK(plue_session_create("../x") == NULL && plue_get_last_error_code() == PLUE_ERR_INVALID_ARGUMENT, "bad parent id");
    CHECK(plue_session_create("ses_doesnotexist0000000000000") == NULL && plue_get_last_error_code() == PLUE_ERR_NOT_FOUND, "missing parent");

    plue_session_destroy(s);
    CHECK(plue_get_last_error_code() == PLUE_OK, "destroy");
    CHECK(plue_session_get_info(s) == NULL && plue_get_last_error_code() == PLUE_ERR_INVALID_HANDLE, "destroyed handle");
    plue_session_destroy(s);
    CHECK(plue_get_last_error_code() == PLUE_ERR_INVALID_HANDLE, "double destroy");

    /* Deleted session: the handle fails gracefully. */
    s = plue_session_create(NULL);
    CHECK(plue_session_delete(s) == PLUE_OK, "delete");
    CHECK(plue_session_get_info(s) == NULL && plue_get_last_error_code() == PLUE_ERR_DELETED, "deleted session");
    CHECK(plue_session_update_title(s, "x") == PLUE_ERR_DELETED, "deleted session title");
    plue_session_destroy(s);

    /* Ownership: a string plue returned is freed with plue_free_json once; NULL is a no-op. */
    s = plue_session_create(NULL);
    json = plue_session_get_info(s);
    CHECK(json != NULL, "get_info for the free checks");
    plue_free_json(json);
    plue_free_json(NULL);
    plue_session_destroy(s);

    CHECK(strcmp(plue_errstr(PLUE_ERR_NOT_FOUND), "No session with that id on the server.") == 0, "plue_errstr: %s", plue_errstr(PLUE_ERR_NOT_FOUND));
    CHECK(strcmp(plue_errstr(4242), "unknown result code") == 0, "plue_errstr of an unknown code");
    CHECK(plue_version_number() == PLUE_VERSION_NUMBER, "runtime %d vs header %d", plue_version_number(), PLUE_VERSION_NUMBER);

    CHECK(plue_event_subscribe(NULL, NULL) == -PLUE_ERR_INVALID_ARGUMENT, "subscribe NULL");
    CHECK(plue_event_unsubscribe(424242) == PLUE_ERR_INVALID_ARGUMENT, "unsubscribe unknown");
}

/* ---- threads: 8 threads x 500 mixed operations on shared and private sessions ---- */
static plue_session_t shared_sessions[4];

static void *worker(void *arg) {
    int n = (int)(intptr_t)arg, i;
    char title[64];
    plue_session_t own = plue_session_create(NULL);
    CHECK(own != NULL, "thread %d create", n);
    for (i = 0; i < 500; i++) {
        plue_session_t target = (i % 2 == 0) ? own : shared_sessions[(n + i) % 4];
        int op = (i * 7 + n) % 10;
        if (op < 7) {
            char *json = plue_session_get_info(target);
            CHECK(json != NULL, "thread %d get_info %d", n, i);
            plue_free_json(json);
        } else if (op < 9) {
            snprintf(title, sizeof(title), "t%d-%d", n, i);
            CHECK(plue_session_update_title(target, title) == PLUE_OK, "thread %d title %d", n, i);
        } else {
            plue_session_t again;
            char *json = plue_session_get_info(own);
            const char *id = json ? strstr(json, "\"id\":\"") : NULL;
            char sid[80] = {0};
            if (id) { memcpy(sid, id + 6, 30); sid[30] = '\0'; }
            again = plue_session_open(sid);
            CHECK(again != NULL, "thread %d open %s", n, sid);
            plue_session_destroy(again);
            plue_free_json(json);
        }
    }
    CHECK(plue_session_delete(own) == PLUE_OK, "thread %d delete", n);
    plue_session_destroy(own);
    return NULL;
}

static void threads(void) {
    pthread_t t[8];
    int i;
    for (i = 0; i < 4; i++) shared_sessions[i] = plue_session_create(NULL);
    for (i = 0; i < 8; i++) pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
    for (i = 0; i < 8; i++) pthread_join(t[i], NULL);
    for (i = 0; i < 4; i++) {
        char *list;
        plue_session_destroy(shared_sessions[i]);
        list = plue_session_list();
        CHECK(list != NULL, "list");
        plue_free_json(list);
    }
}

/* ---- events: in order, and plue may be called from inside a callback ---- */
static pthread_mutex_t event_lock = PTHREAD_MUTEX_INITIALIZER;
static int next_expected = 0, seen_in_order = 0, out_of_order = 0, nested_ok = 0;
static char watched_id[64];

static void on_event(const char *event_json, void *userdata) {
    char needle[64];
    CHECK(userdata == (void *)&next_expected, "userdata handed back unchanged");
    if (!has(event_json, "\"_tag\":\"Updated\"") || !has(event_json, watched_id)) return;
    pthread_mutex_lock(&event_lock);
    snprintf(needle, sizeof(needle), "\"title\":\"ordered %d\"", next_expected);
    if (has(event_json, needle)) { seen_in_order++; next_expected++; }
    else out_of_order++;
    pthread_mutex_unlock(&event_lock);
    if (!nested_ok) {
        /* A plue call from inside the callback works (it runs on plue's dispatcher thread). */
        char *list = plue_session_list();
        if (list != NULL) nested_ok = 1;
        plue_free_json(list);
    }
}

static void events(void) {
    int i, sub, waited;
    char title[64];
    plue_session_t s = plue_session_create(NULL);
    char *json = plue_session_get_info(s);
    const char *id = strstr(json, "\"id\":\"");
    memcpy(watched_id, id + 6, 30);
    watched_id[30] = '\0';
    plue_free_json(json);
    sub = plue_event_subscribe(on_event, &next_expected);
    CHECK(sub > 0, "subscribe");
    for (i = 0; i < 50; i++) {
        snprintf(title, sizeof(title), "ordered %d", i);
        CHECK(plue_session_update_title(s, title) == PLUE_OK, "update %d", i);
    }
    for (waited = 0; waited < WAIT_TICKS; waited++) {
        int done;
        pthread_mutex_lock(&event_lock);
        done = seen_in_order == 50;
        pthread_mutex_unlock(&event_lock);
        if (done) break;
        usleep(25000);
    }
    CHECK(seen_in_order == 50, "all 50 updates arrived in order (%d, %d out of order)", seen_in_order, out_of_order);
    CHECK(out_of_order == 0, "%d events out of order", out_of_order);
    CHECK(nested_ok == 1, "a plue call from inside a callback returned a result");
    CHECK(plue_event_unsubscribe(sub) == PLUE_OK, "unsubscribe");
    CHECK(plue_event_unsubscribe(sub) == PLUE_ERR_INVALID_ARGUMENT, "unsubscribe twice");
    plue_session_delete(s);
    plue_session_destroy(s);
}

/* ---- abort: one thread blocks in initialize on the slow model, another aborts ---- */
static plue_session_t init_session;
static int init_result = -1;
static const char *provider, *model, *go_file = NULL;

static void *initializer(void *arg) {
    (void)arg;
    init_result = plue_session_initialize(init_session, provider, model);
    return NULL;
}

static volatile int busy_seen = 0, aborted = 0, idle_after_abort = 0;
static char init_id[64];

static void on_status(const char *event_json, void *userdata) {
    (void)userdata;
    if (!has(event_json, "\"_tag\":\"Status\"") || !has(event_json, init_id)) return;
    if (has(event_json, "\"busy\"")) busy_seen = 1;
    if (has(event_json, "\"idle\"") && aborted) idle_after_abort = 1;
}

static void abort_while_initializing(void) {
    pthread_t t;
    int sub, waited;
    char *json;
    init_session = plue_session_create(NULL);
    /* A titled session: OpenCode then does not run a title-generation call beside the turn. */
    CHECK(plue_session_update_title(init_session, "abort me") == PLUE_OK, "title");
    json = plue_session_get_info(init_session);
    memcpy(init_id, strstr(json, "\"id\":\"") + 6, 30);
    init_id[30] = '\0';
    plue_free_json(json);
    sub = plue_event_subscribe(on_status, NULL);
    pthread_create(&t, NULL, initializer, NULL);
    /* Abort once the model is streaming: the test creates go_file when the stub model has a
     * stream open (OpenCode does not cancel a model call that had not started yet). */
    for (waited = 0; waited < WAIT_TICKS && !busy_seen; waited++) usleep(25000);
    CHECK(busy_seen, "the session became busy");
    for (waited = 0; waited < WAIT_TICKS && go_file != NULL && access(go_file, F_OK) != 0; waited++) usleep(25000);
    CHECK(go_file == NULL || access(go_file, F_OK) == 0, "the model started streaming");
    {
        double start = now_s();
        aborted = 1;
        CHECK(plue_session_abort(init_session) == PLUE_OK, "abort");
        pthread_join(t, NULL);
        CHECK(init_result == PLUE_ERR_ABORTED, "initialize returned %d, want PLUE_ERR_ABORTED", init_result);
        /* PLUE_ERR_ABORTED (not PLUE_OK) shows the turn was cut; the time only bounds a hang. */
        CHECK(now_s() - start < 60.0, "initialize returned %.2f s after the abort", now_s() - start);
        /* The run ended on the server too: the session went idle. */
        for (waited = 0; waited < WAIT_TICKS && !idle_after_abort; waited++) usleep(25000);
        CHECK(idle_after_abort, "the session went idle after the abort");
    }
    plue_event_unsubscribe(sub);
    plue_session_destroy(init_session);
}

/* ---- coherence of warm reads: another client renames, then deletes, the session ---- */
static void coherence(const char *id_file) {
    plue_session_t s = plue_session_create(NULL);
    char *json = plue_session_get_info(s), id[64], seen_file[4096];
    FILE *f;
    int waited, renamed = 0, deleted = 0;
    memcpy(id, strstr(json, "\"id\":\"") + 6, 30);
    id[30] = '\0';
    plue_free_json(json);
    f = fopen(id_file, "w");
    fputs(id, f);
    fclose(f);
    for (waited = 0; waited < WAIT_TICKS_5MS && !renamed; waited++) {
        json = plue_session_get_info(s);
        renamed = has(json, "\"title\":\"changed elsewhere\"");
        plue_free_json(json);
        if (!renamed) usleep(5000);
    }
    CHECK(renamed, "the other client's title reached get_info");
    /* Tell the test the rename was seen: it deletes the session only then. */
    snprintf(seen_file, sizeof seen_file, "%s.renamed", id_file);
    f = fopen(seen_file, "w");
    if (f != NULL) fclose(f);
    for (waited = 0; waited < WAIT_TICKS_5MS && !deleted; waited++) {
        json = plue_session_get_info(s);
        deleted = json == NULL && plue_get_last_error_code() == PLUE_ERR_DELETED;
        plue_free_json(json);
        if (!deleted) usleep(5000);
    }
    CHECK(deleted, "the other client's delete reached get_info");
    plue_session_destroy(s);
    CHECK(plue_session_get_info(s) == NULL && plue_get_last_error_code() == PLUE_ERR_INVALID_HANDLE, "destroyed");
}

/* ---- shutdown: threads keep calling until the bridge goes away under them ---- */
static volatile long hammered = 0;
static const char *busy_file = NULL;
static void *hammer(void *arg) {
    plue_session_t s = (plue_session_t)arg;
    for (;;) {
        char *json = plue_session_get_info(s);
        int code = plue_get_last_error_code();
        plue_free_json(json);
        if (plue_session_update_title(s, "hammer") == PLUE_ERR_NOT_BOUND || code == PLUE_ERR_NOT_BOUND) return NULL;
        /* Tell the test once the threads are busy: it unbinds the bridge only then. */
        if (__sync_add_and_fetch(&hammered, 1) == 50 && busy_file != NULL) {
            FILE *f = fopen(busy_file, "w");
            if (f != NULL) fclose(f);
        }
    }
}

static void shutdown_mode(const char *done_file) {
    pthread_t t[4];
    int i;
    FILE *f;
    plue_session_t s = plue_session_create(NULL);
    static char busy[4096];
    snprintf(busy, sizeof busy, "%s.busy", done_file);
    busy_file = busy;
    CHECK(s != NULL, "create");
    for (i = 0; i < 4; i++) pthread_create(&t[i], NULL, hammer, s);
    for (i = 0; i < 4; i++) pthread_join(t[i], NULL);
    /* Every call after the bridge went away fails at once, without touching JavaScript. */
    CHECK(plue_session_get_info(s) == NULL && plue_get_last_error_code() == PLUE_ERR_NOT_BOUND, "after unbind");
    f = fopen(done_file, "w");
    if (f != NULL) {
        fprintf(f, "%ld calls, %ld strings live\n", (long)hammered, (long)plue__live_strings());
        fclose(f);
    }
}

/* ---- dead server: the OpenCode server is killed under the host; every call answers ---- */
static void dead_server(const char *flag_file) {
    plue_session_t s = plue_session_create(NULL), opened;
    char *json;
    FILE *f;
    int waited, code;
    double started;
    CHECK(s != NULL, "create while the server lives");
    /* Tell the test it can kill the server, then wait until it says it did. */
    f = fopen(flag_file, "w");
    fputs("ready", f);
    fclose(f);
    for (waited = 0; waited < WAIT_TICKS_5MS; waited++) {
        char buf[16] = {0};
        f = fopen(flag_file, "r");
        if (f != NULL) {
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            (void)n;
            fclose(f);
        }
        if (strcmp(buf, "killed") == 0) break;
        usleep(5000);
    }
    started = now_s();
    json = plue_session_get_info(s);
    /* The cache may still answer for a moment (within its TTL) once the stream dropped; after
       that, reads reach for the server and fail. Either way: an answer, never a crash. */
    for (waited = 0; waited < WAIT_TICKS && json != NULL; waited++) {
        plue_free_json(json);
        usleep(25000);
        json = plue_session_get_info(s);
    }
    code = plue_get_last_error_code();
    CHECK(json == NULL && code == PLUE_ERR_UNREACHABLE, "get_info with the server dead: code %d", code);
    CHECK(strlen(plue_get_last_error()) > 0, "with a message");
    plue_free_json(json);
    CHECK(plue_session_update_title(s, "nobody hears") == PLUE_ERR_UNREACHABLE, "update_title");
    CHECK(plue_session_list() == NULL && plue_get_last_error_code() == PLUE_ERR_UNREACHABLE, "list");
    CHECK(plue_session_create(NULL) == NULL && plue_get_last_error_code() == PLUE_ERR_UNREACHABLE, "create");
    CHECK(plue_session_create_share(s) == NULL && plue_get_last_error_code() == PLUE_ERR_UNREACHABLE, "create_share");
    CHECK(plue_session_delete(s) == PLUE_ERR_UNREACHABLE, "delete");
    opened = plue_session_open("ses_doesnotexist0000000000000");
    CHECK(opened == NULL && plue_get_last_error_code() == PLUE_ERR_UNREACHABLE, "open");
    /* A malformed id is refused before any request: the dead server is never asked. */
    CHECK(plue_session_open("../config") == NULL && plue_get_last_error_code() == PLUE_ERR_INVALID_ARGUMENT, "open of a malformed id");
    plue_session_destroy(s);
    CHECK(plue_get_last_error_code() == PLUE_OK, "destroy needs no server");
    CHECK(plue_session_get_info(s) == NULL && plue_get_last_error_code() == PLUE_ERR_INVALID_HANDLE, "destroyed");
    CHECK(now_s() - started < 120.0, "every call answered in bounded time (%.1f s)", now_s() - started);
}

/* ---- remote events: another client renames and deletes; the C subscriber sees it in order ---- */
static int remote_next = 0, remote_wrong = 0, remote_deleted = 0;

static void on_remote_event(const char *event_json, void *userdata) {
    char needle[64];
    (void)userdata;
    if (!has(event_json, watched_id)) return;
    pthread_mutex_lock(&event_lock);
    if (has(event_json, "\"_tag\":\"Updated\"") && has(event_json, "\"title\":\"remote ")) {
        snprintf(needle, sizeof(needle), "\"title\":\"remote %d\"", remote_next);
        if (has(event_json, needle) && has(event_json, "\"origin\":\"remote\"")) remote_next++;
        else remote_wrong++;
    } else if (has(event_json, "\"_tag\":\"Deleted\"")) {
        remote_deleted = has(event_json, "\"origin\":\"remote\"") ? 1 : -1;
    }
    pthread_mutex_unlock(&event_lock);
}

static void remote_events(const char *id_file) {
    int sub, waited, done = 0;
    plue_session_t s = plue_session_create(NULL);
    char *json = plue_session_get_info(s);
    FILE *f;
    memcpy(watched_id, strstr(json, "\"id\":\"") + 6, 30);
    watched_id[30] = '\0';
    plue_free_json(json);
    sub = plue_event_subscribe(on_remote_event, NULL);
    CHECK(sub > 0, "subscribe");
    f = fopen(id_file, "w");
    fputs(watched_id, f);
    fclose(f);
    for (waited = 0; waited < WAIT_TICKS && !done; waited++) {
        pthread_mutex_lock(&event_lock);
        done = remote_deleted != 0;
        pthread_mutex_unlock(&event_lock);
        if (!done) usleep(25000);
    }
    CHECK(remote_deleted == 1, "the other client's delete arrived as a remote Deleted event (%d)", remote_deleted);
    CHECK(remote_next == 20, "the other client's 20 renames arrived in order (%d)", remote_next);
    CHECK(remote_wrong == 0, "%d renames out of order or not marked remote", remote_wrong);
    json = plue_session_get_info(s);
    CHECK(json == NULL && plue_get_last_error_code() == PLUE_ERR_DELETED, "the handle sees the deletion");
    plue_free_json(json);
    CHECK(plue_event_unsubscribe(sub) == PLUE_OK, "unsubscribe");
    plue_session_destroy(s);
}

/* Every test starts from clean state: nothing a run before this one counted or saw is kept. */
static void reset(void) {
    failures = 0;
    memset(shared_sessions, 0, sizeof shared_sessions);
    next_expected = seen_in_order = out_of_order = nested_ok = 0;
    memset(watched_id, 0, sizeof watched_id);
    init_session = NULL;
    init_result = -1;
    busy_seen = aborted = idle_after_abort = 0;
    memset(init_id, 0, sizeof init_id);
    hammered = 0;
    busy_file = NULL;
    remote_next = remote_wrong = remote_deleted = 0;
}

int plue_host_main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "misuse";
    reset();
    report = argc > 2 ? fopen(argv[2], "w") : stderr;
    if (report == NULL) return 100;
    provider = argc > 3 ? argv[3] : "stub";
    model = argc > 4 ? argv[4] : "slow-model";
    go_file = argc > 5 ? argv[5] : NULL;
    if (strcmp(mode, "misuse") == 0) misuse();
    else if (strcmp(mode, "threads") == 0) threads();
    else if (strcmp(mode, "events") == 0) events();
    else if (strcmp(mode, "abort") == 0) abort_while_initializing();
    else if (strcmp(mode, "coherence") == 0) coherence(go_file);
    else if (strcmp(mode, "shutdown") == 0) shutdown_mode(go_file);
    else if (strcmp(mode, "dead-server") == 0) dead_server(go_file);
    else if (strcmp(mode, "remote-events") == 0) remote_events(go_file);
    else { fprintf(report, "unknown mode %s\n", mode); failures++; }
    fprintf(report, "done: %d failure(s)\n", failures);
    if (report != stderr) fclose(report);
    return failures;
}
