/*
 * A C host for `plue host`: shares a session and unshares it, and follows the events through a
 * C callback. Writes what it saw to the report file named by argv[1]:
 *   SHARE <the JSON of plue_session_create_share>
 *   EVENTS shared=N unshared=N
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#define PLUE_IMPLEMENTATION
#include "plue.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char session_id[128];
static int shared_seen = 0;
static int unshared_seen = 0;

static void on_event(const char *json, void *userdata) {
    (void)userdata;
    pthread_mutex_lock(&lock);
    if (session_id[0] != '\0' && strstr(json, session_id) != NULL) {
        if (strstr(json, "\"_tag\":\"Shared\"") != NULL) shared_seen++;
        if (strstr(json, "\"_tag\":\"Unshared\"") != NULL) unshared_seen++;
    }
    pthread_mutex_unlock(&lock);
}

static void pause_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

int plue_host_main(int argc, char **argv) {
    FILE *report;
    plue_session_t session;
    char *info, *share, *at;
    int sub, i, done = 0;
    if (argc < 2) return 2;
    report = fopen(argv[1], "w");
    if (report == NULL) return 3;
    sub = plue_event_subscribe(on_event, NULL);
    session = plue_session_create(NULL);
    if (session == NULL) { fprintf(report, "ERROR create %s\n", plue_get_last_error()); fclose(report); return 4; }
    info = plue_session_get_info(session);
    at = info ? strstr(info, "\"id\":\"") : NULL;
    if (at != NULL) {
        size_t n = strcspn(at + 6, "\"");
        pthread_mutex_lock(&lock);
        if (n < sizeof(session_id)) { memcpy(session_id, at + 6, n); session_id[n] = '\0'; }
        pthread_mutex_unlock(&lock);
    }
    plue_free_json(info);
    share = plue_session_create_share(session);
    if (share == NULL) {
        fprintf(report, "ERROR share %d %s\n", plue_get_last_error_code(), plue_get_last_error());
    } else {
        fprintf(report, "SHARE %s\n", share);
        plue_free_json(share);
    }
    if (plue_session_unshare(session) != PLUE_OK) fprintf(report, "ERROR unshare %s\n", plue_get_last_error());
    /* The events come on plue's dispatcher thread: wait for both, up to 20 s. */
    for (i = 0; i < 400 && !done; i++) {
        pthread_mutex_lock(&lock);
        done = shared_seen > 0 && unshared_seen > 0;
        pthread_mutex_unlock(&lock);
        if (!done) pause_ms(50);
    }
    pthread_mutex_lock(&lock);
    fprintf(report, "EVENTS shared=%d unshared=%d\n", shared_seen, unshared_seen);
    pthread_mutex_unlock(&lock);
    plue_session_delete(session);
    plue_session_destroy(session);
    plue_event_unsubscribe(sub);
    fclose(report);
    return 0;
}
