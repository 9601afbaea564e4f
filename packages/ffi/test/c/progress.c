/*
 * Progress events in a plain C program with its own main() (plue_init and the sidecar): the
 * program subscribes, creates a session, titles it, initializes it on the model named by argv,
 * deletes it, and prints every Progress event it received as "progress <json>", then
 * "done: N failure(s)" and exits with N. Built with `cc progress.c -lpthread` and nothing else.
 * Usage: progress PROVIDER MODEL
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define PLUE_IMPLEMENTATION
#include "plue.h"

static int failures = 0;
#define CHECK(cond, ...)                                                                          \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            failures++;                                                                           \
            fprintf(stderr, "line %d: %s: ", __LINE__, #cond);                                    \
            fprintf(stderr, __VA_ARGS__);                                                         \
            fprintf(stderr, " [last error %d: %s]\n", plue_get_last_error_code(), plue_get_last_error()); \
        }                                                                                         \
    } while (0)

#define MAX_EVENTS 256
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *seen[MAX_EVENTS];
static int count = 0, deletes_done = 0, others = 0;

/* Runs on plue's dispatcher thread: keeps a copy of each Progress event (the string is only
 * valid during the call). */
static void on_event(const char *event_json, void *userdata) {
    (void)userdata;
    pthread_mutex_lock(&lock);
    if (strstr(event_json, PLUE_EVENT_TAG(PLUE_EVENT_PROGRESS)) == NULL) {
        others++;
    } else if (count < MAX_EVENTS) {
        seen[count++] = strdup(event_json);
        if (strstr(event_json, "\"kind\":\"delete\"") && strstr(event_json, "\"phase\":\"" PLUE_PROGRESS_DONE "\"")) deletes_done++;
    }
    pthread_mutex_unlock(&lock);
}

int main(int argc, char **argv) {
    plue_session_t s;
    int sub, i, waited, done = 0;
    if (argc < 3) { fprintf(stderr, "usage: progress PROVIDER MODEL\n"); return 2; }
    CHECK(plue_init(NULL) == PLUE_OK, "plue_init");
    sub = plue_event_subscribe(on_event, NULL);
    CHECK(sub > 0, "subscribe");
    s = plue_session_create(NULL);
    CHECK(s != NULL, "create");
    CHECK(plue_session_update_title(s, "progress from C") == PLUE_OK, "title");
    CHECK(plue_session_initialize(s, argv[1], argv[2]) == PLUE_OK, "initialize on %s/%s", argv[1], argv[2]);
    CHECK(plue_session_delete(s) == PLUE_OK, "delete");
    /* A call on a deleted session is refused before it starts: it reports no progress. */
    CHECK(plue_session_update_title(s, "too late") == PLUE_ERR_DELETED, "title after delete");
    plue_session_destroy(s);
    for (waited = 0; waited < 2400 && !done; waited++) {
        pthread_mutex_lock(&lock);
        done = deletes_done > 0;
        pthread_mutex_unlock(&lock);
        if (!done) usleep(25000);
    }
    CHECK(done, "the delete's done event arrived");
    CHECK(plue_event_unsubscribe(sub) == PLUE_OK, "unsubscribe");
    pthread_mutex_lock(&lock);
    for (i = 0; i < count; i++) {
        printf("progress %s\n", seen[i]);
        free(seen[i]);
    }
    CHECK(others > 0, "the other events arrived too");
    pthread_mutex_unlock(&lock);
    CHECK(plue_shutdown() == PLUE_OK, "shutdown");
    printf("done: %d failure(s)\n", failures);
    return failures;
}
