/*
 * A plain C program with its own main(): plue through plue_init and the sidecar (`plue serve`,
 * found through PLUE_COMMAND). Built by the tests with `cc own_main.c -lpthread` and nothing else.
 * Usage: own_main MODE [args...]; prints "done: N failure(s)" and exits with N.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#define PLUE_IMPLEMENTATION
#include "plue.h"

static int failures = 0;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
#define CHECK(cond, ...)                                                                          \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            pthread_mutex_lock(&report_lock);                                                     \
            failures++;                                                                           \
            fprintf(stderr, "line %d: %s: ", __LINE__, #cond);                                    \
            fprintf(stderr, __VA_ARGS__);                                                         \
            fprintf(stderr, " [last error %d: %s]\n", plue_get_last_error_code(), plue_get_last_error()); \
            pthread_mutex_unlock(&report_lock);                                                   \
        }                                                                                         \
    } while (0)

static int has(const char *json, const char *needle) { return json != NULL && strstr(json, needle) != NULL; }

/* The seed specification's "Example Usage (from C)", in main() after plue_init. */
static int seed(void) {
    plue_session_t session;
    char *info_json, *share_json, *after;
    if (plue_init(NULL) != 0) { printf("Error: %s\n", plue_get_last_error()); return 1; }
    session = plue_session_create(NULL);
    if (!session) { printf("Error: %s\n", plue_get_last_error()); return 1; }
    info_json = plue_session_get_info(session);
    printf("Session info: %s\n", info_json);
    plue_free_json(info_json);
    if (plue_session_update_title(session, "My Coding Session") != 0) printf("Failed to update title\n");
    share_json = plue_session_create_share(session);
    printf("Share info: %s\n", share_json ? share_json : plue_get_last_error());
    plue_free_json(share_json);
    after = plue_session_get_info(session);
    printf("After: %s\n", after);
    plue_free_json(after);
    plue_session_destroy(session);
    CHECK(plue__live_strings() == 0, "%ld strings never freed", (long)plue__live_strings());
    CHECK(plue_shutdown() == PLUE_OK, "shutdown");
    return 0;
}

/* ---- 8 threads at once ---- */
static plue_session_t shared;
static pthread_barrier_t start_together;

static void *worker(void *arg) {
    int n = (int)(intptr_t)arg, i;
    char title[64];
    plue_session_t own;
    pthread_barrier_wait(&start_together);
    own = plue_session_create(NULL);
    CHECK(own != NULL, "thread %d create", n);
    for (i = 0; i < 200; i++) {
        plue_session_t target = i % 2 == 0 ? own : shared;
        if (i % 5 == 4) {
            snprintf(title, sizeof title, "thread %d call %d", n, i);
            CHECK(plue_session_update_title(own, title) == PLUE_OK, "thread %d title %d", n, i);
        } else {
            char *json = plue_session_get_info(target);
            CHECK(has(json, "\"id\":\"ses_"), "thread %d get_info %d", n, i);
            plue_free_json(json);
        }
    }
    {
        char *json = plue_session_get_info(own);
        CHECK(has(json, "\"title\":\"thread"), "thread %d sees its own last title: %s", n, json ? json : "(null)");
        plue_free_json(json);
    }
    CHECK(plue_session_delete(own) == PLUE_OK, "thread %d delete", n);
    plue_session_destroy(own);
    return NULL;
}

static void threads(void) {
    pthread_t t[8];
    int i;
    CHECK(plue_init(NULL) == PLUE_OK, "init");
    shared = plue_session_create(NULL);
    CHECK(shared != NULL, "shared create");
    pthread_barrier_init(&start_together, NULL, 8);
    for (i = 0; i < 8; i++) pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
    for (i = 0; i < 8; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start_together);
    plue_session_destroy(shared);
    CHECK(plue__live_strings() == 0, "%ld strings never freed", (long)plue__live_strings());
    CHECK(plue_shutdown() == PLUE_OK, "shutdown");
}

/* ---- reference counting, shutdown, init again; the program's SIGCHLD handler stays ---- */
static volatile sig_atomic_t sigchld_seen = 0;
static void on_sigchld(int sig) { (void)sig; sigchld_seen++; }

static void lifecycle(void) {
    struct sigaction mine, now;
    plue_session_t before, after;
    char *json;
    pid_t first;
    memset(&mine, 0, sizeof mine);
    mine.sa_handler = on_sigchld;
    sigemptyset(&mine.sa_mask);
    mine.sa_flags = SA_RESTART;
    sigaction(SIGCHLD, &mine, NULL);

    CHECK(plue_shutdown() == PLUE_ERR_NOT_BOUND, "shutdown before any init");
    CHECK(plue_session_list() == NULL && plue_get_last_error_code() == PLUE_ERR_NOT_BOUND, "a call before init");
    CHECK(plue_init(NULL) == PLUE_OK, "init");
    first = plue__child;
    CHECK(plue_init(NULL) == PLUE_OK, "init counts");
    CHECK(plue__child == first, "a second init starts no second sidecar");
    before = plue_session_create(NULL);
    CHECK(before != NULL, "create");
    CHECK(plue_shutdown() == PLUE_OK, "the first shutdown only counts");
    json = plue_session_list();
    CHECK(json != NULL, "still bound after one of two shutdowns");
    plue_free_json(json);
    CHECK(plue_shutdown() == PLUE_OK, "the last shutdown");
    CHECK(waitpid(first, NULL, WNOHANG) < 0, "the sidecar was reaped");
    CHECK(plue_session_get_info(before) == NULL && plue_get_last_error_code() == PLUE_ERR_NOT_BOUND, "a call after shutdown: %d", plue_get_last_error_code());
    CHECK(strstr(plue_get_last_error(), "plue_shutdown") != NULL, "says why");
    CHECK(plue_shutdown() == PLUE_ERR_NOT_BOUND, "one shutdown too many");

    CHECK(plue_init(NULL) == PLUE_OK, "init again after shutdown");
    CHECK(plue__child != first, "a new sidecar");
    CHECK(plue_session_get_info(before) == NULL && plue_get_last_error_code() == PLUE_ERR_INVALID_HANDLE, "a handle from before the shutdown is not open");
    after = plue_session_create(NULL);
    CHECK(after != NULL, "create after init again");
    json = plue_session_get_info(after);
    CHECK(has(json, "\"id\":\"ses_"), "get_info after init again");
    plue_free_json(json);
    CHECK(plue_session_delete(after) == PLUE_OK, "delete");
    plue_session_destroy(after);
    CHECK(plue_shutdown() == PLUE_OK, "shutdown again");

    sigaction(SIGCHLD, NULL, &now);
    CHECK(now.sa_handler == on_sigchld, "the program's SIGCHLD handler is still installed");
    CHECK(sigchld_seen >= 2, "it saw both sidecars exit (%d)", (int)sigchld_seen);
    CHECK(plue__live_strings() == 0, "%ld strings never freed", (long)plue__live_strings());
}

/* ---- fork: the child's calls fail with PLUE_ERR_NOT_BOUND; the parent goes on ---- */
static void forked(void) {
    plue_session_t s;
    pid_t child;
    int status = -1;
    char *json;
    CHECK(plue_init(NULL) == PLUE_OK, "init");
    s = plue_session_create(NULL);
    CHECK(s != NULL, "create");
    json = plue_session_get_info(s); /* warm: answered from the mirror from now on */
    plue_free_json(json);
    child = fork();
    if (child == 0) {
        int bad = 0;
        char *in_child = plue_session_get_info(s);
        if (in_child != NULL || plue_get_last_error_code() != PLUE_ERR_NOT_BOUND) bad |= 1;
        if (plue_session_update_title(s, "from the child") != PLUE_ERR_NOT_BOUND) bad |= 2;
        if (plue_session_list() != NULL || plue_get_last_error_code() != PLUE_ERR_NOT_BOUND) bad |= 4;
        if (strstr(plue_get_last_error(), "forked") == NULL) bad |= 8;
        /* The child may start a sidecar of its own. */
        if (plue_init(NULL) != PLUE_OK) bad |= 16;
        else {
            char *list = plue_session_list();
            if (list == NULL) bad |= 32;
            plue_free_json(list);
            if (plue_session_get_info(s) != NULL || plue_get_last_error_code() != PLUE_ERR_INVALID_HANDLE) bad |= 64;
            if (plue_shutdown() != PLUE_OK) bad |= 128;
        }
        _exit(bad);
    }
    CHECK(child > 0, "fork");
    while (waitpid(child, &status, 0) < 0) {}
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child's calls failed with PLUE_ERR_NOT_BOUND, then its own plue_init worked (status %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    json = plue_session_get_info(s);
    CHECK(has(json, "\"id\":\"ses_") && !has(json, "from the child"), "the parent goes on");
    plue_free_json(json);
    CHECK(plue_session_update_title(s, "after the fork") == PLUE_OK, "the parent's calls still work");
    CHECK(plue_session_delete(s) == PLUE_OK, "delete");
    plue_session_destroy(s);
    CHECK(plue_shutdown() == PLUE_OK, "shutdown");
}

/* ---- the sidecar killed while a call is in flight ---- */
static plue_session_t slow;
static int slow_result = -1;
static const char *provider = "stub", *model = "slow-model";
static void *initializer(void *arg) {
    (void)arg;
    slow_result = plue_session_initialize(slow, provider, model);
    return NULL;
}
static int busy = 0;
static char slow_id[64];
static void on_status(const char *event_json, void *userdata) {
    (void)userdata;
    if (has(event_json, "\"_tag\":\"Status\"") && has(event_json, slow_id) && has(event_json, "\"busy\"")) __atomic_store_n(&busy, 1, __ATOMIC_SEQ_CST);
}

static void killed(void) {
    pthread_t t;
    int waited, sub;
    char *json;
    CHECK(plue_init(NULL) == PLUE_OK, "init");
    slow = plue_session_create(NULL);
    CHECK(plue_session_update_title(slow, "killed mid-call") == PLUE_OK, "title");
    json = plue_session_get_info(slow);
    memcpy(slow_id, strstr(json, "\"id\":\"") + 6, 30);
    slow_id[30] = '\0';
    plue_free_json(json);
    sub = plue_event_subscribe(on_status, NULL);
    pthread_create(&t, NULL, initializer, NULL);
    for (waited = 0; waited < 2400 && !__atomic_load_n(&busy, __ATOMIC_SEQ_CST); waited++) usleep(25000);
    CHECK(__atomic_load_n(&busy, __ATOMIC_SEQ_CST), "the call is in flight (the session is busy)");
    kill(plue__child, SIGKILL);
    pthread_join(t, NULL);
    CHECK(slow_result == PLUE_ERR_NOT_BOUND, "the call in flight returned %d, want PLUE_ERR_NOT_BOUND", slow_result);
    CHECK(plue_session_list() == NULL && plue_get_last_error_code() == PLUE_ERR_NOT_BOUND, "later calls fail");
    CHECK(strstr(plue_get_last_error(), "sidecar") != NULL, "and say the sidecar exited: %s", plue_get_last_error());
    CHECK(plue_session_get_info(slow) == NULL && plue_get_last_error_code() == PLUE_ERR_NOT_BOUND, "warm reads too");
    (void)sub;
    CHECK(plue_shutdown() == PLUE_OK, "shutdown after the sidecar died");
    CHECK(plue_init(NULL) == PLUE_OK, "init again after the sidecar died");
    json = plue_session_list();
    CHECK(json != NULL, "the new sidecar answers");
    plue_free_json(json);
    CHECK(plue_shutdown() == PLUE_OK, "shutdown");
}

/* ---- failures of plue_init itself ---- */
static void init_failures(void) {
    plue_options options;
    memset(&options, 0, sizeof options);
    options.size = sizeof options;
    options.command = "/nonexistent/plue";
    CHECK(plue_init(&options) == PLUE_ERR_NOT_BOUND, "a sidecar command that does not exist");
    CHECK(strstr(plue_get_last_error(), "/nonexistent/plue") != NULL, "names it: %s", plue_get_last_error());
    options.command = "false";
    CHECK(plue_init(&options) == PLUE_ERR_NOT_BOUND, "a sidecar that exits at once");
    CHECK(strstr(plue_get_last_error(), "exited") != NULL, "says it exited: %s", plue_get_last_error());
    options.command = NULL;
    options.url = "http://127.0.0.1:9";
    options.timeout_ms = 15000;
    CHECK(plue_init(&options) != PLUE_OK, "a server that is not there");
    fprintf(stderr, "unreachable server: %d %s\n", plue_get_last_error_code(), plue_get_last_error());
    CHECK(plue_shutdown() == PLUE_ERR_NOT_BOUND, "nothing to shut down after failed inits");
}

/* ---- the program dies (the test kills it): its sidecar must not outlive it ---- */
static void orphan(void) {
    CHECK(plue_init(NULL) == PLUE_OK, "init");
    printf("sidecar %ld\n", (long)plue__child);
    fflush(stdout);
    for (;;) pause();
}

/* ---- the same program under `plue host`: already bound, plue_init only counts ---- */
static void hosted(void) {
    plue_session_t s;
    char *json;
    CHECK(plue_init(NULL) == PLUE_OK, "init under plue host");
    CHECK(plue__child == -1, "no sidecar under plue host");
    CHECK(plue_init(NULL) == PLUE_OK, "init counts");
    s = plue_session_create(NULL);
    CHECK(s != NULL, "create");
    json = plue_session_get_info(s);
    CHECK(has(json, "\"id\":\"ses_"), "get_info");
    plue_free_json(json);
    plue_session_destroy(s);
    CHECK(plue_shutdown() == PLUE_OK && plue_shutdown() == PLUE_OK, "shutdowns");
    json = plue_session_list();
    CHECK(json != NULL, "still bound: `plue host` owns the binding");
    plue_free_json(json);
    CHECK(plue_shutdown() == PLUE_ERR_NOT_BOUND, "one shutdown too many");
}

/* Run by `plue host` when built as a shared library: argv[1] is the mode. */
int plue_host_main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "hosted";
    if (strcmp(mode, "seed") == 0) return seed() + failures;
    hosted();
    printf("done: %d failure(s)\n", failures);
    return failures;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "seed";
    if (argc > 2) provider = argv[2];
    if (argc > 3) model = argv[3];
    if (strcmp(mode, "seed") == 0) return seed();
    if (strcmp(mode, "threads") == 0) threads();
    else if (strcmp(mode, "lifecycle") == 0) lifecycle();
    else if (strcmp(mode, "fork") == 0) forked();
    else if (strcmp(mode, "killed") == 0) killed();
    else if (strcmp(mode, "init-failures") == 0) init_failures();
    else if (strcmp(mode, "orphan") == 0) orphan();
    else { fprintf(stderr, "unknown mode %s\n", mode); failures++; }
    printf("done: %d failure(s)\n", failures);
    return failures;
}
