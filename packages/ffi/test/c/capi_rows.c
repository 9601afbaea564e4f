/*
 * Rows of docs/c-api.md that need a harness of their own (see docs/coverage-of-docs.md), through
 * plue_init and the sidecar. Usage: capi_rows MODE [args]; prints "done: N failure(s)" and exits
 * with N. Modes:
 *   init-threads ROUNDS  threads call plue_init and plue_shutdown at once: one sidecar, the count
 *                        right, a second plue_shutdown refused, no child left
 *   unsubscribe          plue_event_unsubscribe from one thread while the callback runs on the
 *                        dispatcher: it returns only after the callback returned, and the callback
 *                        is never called again
 *   stdout               the program prints on its stdout around plue calls; whatever the sidecar
 *                        prints goes to the program's stderr
 * Every wait is for a condition, with a ceiling of two minutes.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#define PLUE_IMPLEMENTATION
#include "plue.h"
#include "check.h"

static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;

/* The processes whose parent is this program (running, or exited and not yet reaped). */
static int children(pid_t *out, int max) {
    DIR *proc = opendir("/proc");
    struct dirent *entry;
    int n = 0;
    if (proc == NULL) return -1;
    while ((entry = readdir(proc)) != NULL) {
        char path[300], stat[512], *close_paren;
        FILE *file;
        size_t got;
        int ppid;
        if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/%s/stat", entry->d_name);
        if ((file = fopen(path, "r")) == NULL) continue;
        got = fread(stat, 1, sizeof stat - 1, file);
        fclose(file);
        stat[got] = '\0';
        /* pid (comm) state ppid ...: comm may hold spaces, so read after its last ')'. */
        close_paren = strrchr(stat, ')');
        if (close_paren == NULL || sscanf(close_paren + 1, " %*c %d", &ppid) != 1) continue;
        if (ppid == (int)getpid()) {
            if (n < max) out[n] = (pid_t)atoi(entry->d_name);
            n++;
        }
    }
    closedir(proc);
    return n;
}

/* ---- init-threads: plue_init / plue_shutdown from several threads at once ---- */
#define INITERS 8
static pthread_barrier_t barrier;
static int init_codes[INITERS], shutdown_codes[INITERS], work_ok[INITERS];

static void *initer(void *arg) {
    int i = (int)(intptr_t)arg;
    plue_session_t s;
    pthread_barrier_wait(&barrier);
    init_codes[i] = plue_init(NULL);
    /* Each thread's own calls work on the one sidecar. */
    s = plue_session_create(NULL);
    work_ok[i] = s != NULL && plue_session_update_title(s, "init-threads") == PLUE_OK && plue_session_delete(s) == PLUE_OK;
    plue_session_destroy(s);
    pthread_barrier_wait(&barrier);
    /* The main thread counts the sidecars here. */
    pthread_barrier_wait(&barrier);
    shutdown_codes[i] = plue_shutdown();
    return NULL;
}

/* Threads that each take and release plue_init a few times while the main thread holds one. */
static void *churner(void *arg) {
    int i, *ok = (int *)arg;
    pthread_barrier_wait(&barrier);
    for (i = 0; i < 5; i++) {
        if (plue_init(NULL) != PLUE_OK) *ok = 0;
        if (plue_shutdown() != PLUE_OK) *ok = 0;
    }
    return NULL;
}

static void init_threads_mode(int rounds) {
    pthread_t threads[INITERS];
    pid_t kids[16], sidecar;
    int round, i, n, ok[INITERS];
    char *json;
    for (round = 0; round < rounds; round++) {
        pthread_barrier_init(&barrier, NULL, INITERS + 1);
        for (i = 0; i < INITERS; i++) pthread_create(&threads[i], NULL, initer, (void *)(intptr_t)i);
        pthread_barrier_wait(&barrier); /* all start plue_init at once */
        pthread_barrier_wait(&barrier); /* all have called it and worked */
        n = children(kids, 16);
        CHECK(n == 1, "round %d: %d sidecar(s) while %d threads hold plue_init", round, n, INITERS);
        pthread_barrier_wait(&barrier); /* all call plue_shutdown at once */
        for (i = 0; i < INITERS; i++) pthread_join(threads[i], NULL);
        pthread_barrier_destroy(&barrier);
        for (i = 0; i < INITERS; i++) {
            CHECK(init_codes[i] == PLUE_OK, "round %d thread %d: plue_init %d", round, i, init_codes[i]);
            CHECK(work_ok[i], "round %d thread %d: create, rename, delete", round, i);
            CHECK(shutdown_codes[i] == PLUE_OK, "round %d thread %d: plue_shutdown %d", round, i, shutdown_codes[i]);
        }
        /* Eight inits, eight shutdowns: the count is back to zero, the sidecar reaped. */
        CHECK(plue_shutdown() == PLUE_ERR_NOT_BOUND, "round %d: a ninth plue_shutdown has no plue_init to release", round);
        CHECK(plue_session_list() == NULL && plue_get_last_error_code() == PLUE_ERR_NOT_BOUND, "round %d: not bound after the last shutdown", round);
        n = children(kids, 16);
        CHECK(n == 0, "round %d: %d child process(es) left after the last plue_shutdown", round, n);
    }
    printf("init-threads: %d round(s) of %d threads\n", rounds, INITERS);

    /* The main thread holds one plue_init while the threads take and release theirs: the sidecar
     * is never stopped nor started again. */
    CHECK(plue_init(NULL) == PLUE_OK, "init");
    n = children(kids, 16);
    CHECK(n == 1, "one sidecar (%d)", n);
    sidecar = n == 1 ? kids[0] : -1;
    pthread_barrier_init(&barrier, NULL, INITERS);
    for (i = 0; i < INITERS; i++) {
        ok[i] = 1;
        pthread_create(&threads[i], NULL, churner, &ok[i]);
    }
    for (i = 0; i < INITERS; i++) pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&barrier);
    for (i = 0; i < INITERS; i++) CHECK(ok[i], "thread %d: init and shutdown, five times", i);
    n = children(kids, 16);
    CHECK(n == 1 && kids[0] == sidecar, "the same sidecar after the churn (%d, pid %ld then %ld)", n, (long)sidecar, (long)(n > 0 ? kids[0] : -1));
    json = plue_session_list();
    CHECK(json != NULL, "a call after the churn");
    plue_free_json(json);
    CHECK(plue_shutdown() == PLUE_OK, "shutdown");
    CHECK(children(kids, 16) == 0, "reaped");
    printf("churn: one sidecar, pid %ld\n", (long)sidecar);
}

/* ---- unsubscribe while the callback runs ---- */
static int entered = 0, release_callback = 0, callback_returned = 0, calls_after = 0, unsubscribed = 0;
static int witness_saw_after = 0;
static long unsubscriber_tid = 0;

static void on_held(const char *json, void *userdata) {
    (void)userdata;
    pthread_mutex_lock(&lock);
    if (unsubscribed) calls_after++;
    if (!entered && has(json, PLUE_EVENT_TAG(PLUE_EVENT_CREATED))) {
        struct timespec until;
        entered = 1;
        pthread_cond_broadcast(&changed);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 120;
        while (!release_callback) {
            if (pthread_cond_timedwait(&changed, &lock, &until) == ETIMEDOUT) break;
        }
        callback_returned = 1;
    }
    pthread_mutex_unlock(&lock);
}

static void on_witness(const char *json, void *userdata) {
    (void)userdata;
    if (has(json, PLUE_EVENT_TAG(PLUE_EVENT_UPDATED)) && has(json, "after-unsubscribe")) {
        pthread_mutex_lock(&lock);
        witness_saw_after = 1;
        pthread_cond_broadcast(&changed);
        pthread_mutex_unlock(&lock);
    }
}

static int held_id;
static int unsubscribe_code = -1, returned_when_unsubscribed = -1;

static void *unsubscriber(void *arg) {
    (void)arg;
    pthread_mutex_lock(&lock);
    unsubscriber_tid = (long)syscall(SYS_gettid);
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    unsubscribe_code = plue_event_unsubscribe(held_id);
    pthread_mutex_lock(&lock);
    /* Was the callback still running when unsubscribe returned? */
    returned_when_unsubscribed = callback_returned;
    unsubscribed = 1;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* The state letter of thread `tid` of this process (S: asleep, blocked), or '?'. */
static char thread_state(long tid) {
    char path[64], stat[512], *close_paren, state = '?';
    FILE *file;
    size_t got;
    snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
    if ((file = fopen(path, "r")) == NULL) return '?';
    got = fread(stat, 1, sizeof stat - 1, file);
    fclose(file);
    stat[got] = '\0';
    close_paren = strrchr(stat, ')');
    if (close_paren != NULL) sscanf(close_paren + 1, " %c", &state);
    return state;
}

/* Waits (two minutes at most) until *flag is set; under lock. */
static int wait_locked(int *flag) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 120;
    while (!*flag) {
        if (pthread_cond_timedwait(&changed, &lock, &until) == ETIMEDOUT) break;
    }
    return *flag;
}

static void unsubscribe_mode(void) {
    pthread_t thread;
    plue_session_t s;
    int witness, i, blocked = 0, sleeping_checks = 0, returned_early, after;
    witness = plue_event_subscribe(on_witness, NULL);
    held_id = plue_event_subscribe(on_held, NULL);
    CHECK(witness > 0 && held_id > 0, "subscribe");
    s = plue_session_create(NULL);
    CHECK(s != NULL, "create");
    pthread_mutex_lock(&lock);
    i = wait_locked(&entered);
    pthread_mutex_unlock(&lock);
    CHECK(i, "the callback got the Created event and holds");

    pthread_create(&thread, NULL, unsubscriber, NULL);
    /* Wait until the unsubscribing thread is asleep inside plue_event_unsubscribe (blocked: the
     * only place it can sleep is waiting for the running callback), twice in a row. */
    for (i = 0; i < TICKS && sleeping_checks < 2; i++) {
        long tid;
        int done;
        pthread_mutex_lock(&lock);
        tid = unsubscriber_tid;
        done = unsubscribed;
        pthread_mutex_unlock(&lock);
        if (done) break;
        if (tid != 0 && thread_state(tid) == 'S') sleeping_checks++;
        else sleeping_checks = 0;
        usleep(25000);
    }
    pthread_mutex_lock(&lock);
    blocked = sleeping_checks >= 2;
    returned_early = unsubscribed;
    /* Let the callback return. */
    release_callback = 1;
    pthread_cond_broadcast(&changed);
    i = wait_locked(&unsubscribed);
    pthread_mutex_unlock(&lock);
    /* (CHECK takes the lock: never inside it.) */
    CHECK(blocked && !returned_early, "plue_event_unsubscribe waits while the callback runs (blocked %d, returned %d)", blocked, returned_early);
    CHECK(i, "plue_event_unsubscribe returned once the callback did");
    pthread_join(thread, NULL);
    CHECK(unsubscribe_code == PLUE_OK, "unsubscribe: %d", unsubscribe_code);
    CHECK(returned_when_unsubscribed == 1, "the callback had returned when plue_event_unsubscribe returned");
    printf("unsubscribe: blocked while the callback ran: %d; the callback had returned when it returned: %d\n", blocked, returned_when_unsubscribed);

    /* More events: the witness hears them (the one dispatcher delivers in order), the
     * unsubscribed callback never again. */
    CHECK(plue_session_update_title(s, "after-unsubscribe") == PLUE_OK, "rename");
    pthread_mutex_lock(&lock);
    i = wait_locked(&witness_saw_after);
    after = calls_after;
    pthread_mutex_unlock(&lock);
    CHECK(i, "the witness got the rename's Updated event");
    CHECK(after == 0, "the unsubscribed callback was called %d time(s) after", after);
    printf("calls after unsubscribe: %d\n", after);
    CHECK(plue_event_unsubscribe(witness) == PLUE_OK, "unsubscribe the witness");
    CHECK(plue_session_delete(s) == PLUE_OK, "delete");
    plue_session_destroy(s);
}

/* ---- stdout: the program's own ---- */
static void stdout_mode(void) {
    plue_session_t s;
    char *json;
    printf("program: bound\n");
    fflush(stdout);
    s = plue_session_create(NULL);
    CHECK(s != NULL, "create");
    json = plue_session_get_info(s);
    printf("program: created %s\n", has(json, "\"id\":\"ses_") ? "a session" : "nothing");
    fflush(stdout);
    plue_free_json(json);
    CHECK(plue_session_delete(s) == PLUE_OK, "delete");
    plue_session_destroy(s);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "init-threads") == 0) init_threads_mode(argc > 2 ? atoi(argv[2]) : 3);
    else if (strcmp(mode, "unsubscribe") == 0 || strcmp(mode, "stdout") == 0) {
        if (strcmp(mode, "stdout") == 0) { printf("program: start\n"); fflush(stdout); }
        CHECK(plue_init(NULL) == PLUE_OK, "init");
        if (strcmp(mode, "unsubscribe") == 0) unsubscribe_mode();
        else stdout_mode();
        CHECK(plue__live_strings() == 0, "%ld strings never freed", (long)plue__live_strings());
        CHECK(plue_shutdown() == PLUE_OK, "shutdown");
        if (strcmp(mode, "stdout") == 0) printf("program: after plue_shutdown\n");
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        failures++;
    }
    printf("done: %d failure(s)\n", failures);
    fflush(stdout);
    return failures;
}
