/* A host under `plue host` with PLUE_OUTBOX=1, for Outbox.test.ts: a title change queued while
 * the server is unreachable returns 0; its conflict arrives as an event and is resolved from C.
 * argv[1] is a folder shared with the test: the C side writes `id`, `queued`, `resolved`; the
 * test writes `offline` once it cut the proxy. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#define PLUE_IMPLEMENTATION
#include "plue.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char conflict_op[128];
static int confirmed;

static void on_event(const char *json, void *userdata) {
    (void)userdata;
    if (strstr(json, "\"_tag\":\"Confirmed\"") != NULL) {
        pthread_mutex_lock(&lock);
        if (conflict_op[0] != '\0' && strstr(json, conflict_op) != NULL) confirmed = 1;
        pthread_mutex_unlock(&lock);
        return;
    }
    if (strstr(json, "\"_tag\":\"Conflict\"") == NULL) return;
    const char *at = strstr(json, "\"opId\":\"");
    if (at == NULL) return;
    at += 8;
    const char *end = strchr(at, '"');
    if (end == NULL || (size_t)(end - at) >= sizeof conflict_op) return;
    pthread_mutex_lock(&lock);
    memcpy(conflict_op, at, (size_t)(end - at));
    conflict_op[end - at] = '\0';
    pthread_mutex_unlock(&lock);
}

static void put(const char *dir, const char *name, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int exists(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

int plue_host_main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *dir = argv[1];
    int sub = plue_event_subscribe(on_event, NULL);
    if (sub <= 0) return 3;
    plue_session_t s = plue_session_create(NULL);
    if (!s) { fprintf(stderr, "create: %s\n", plue_get_last_error()); return 4; }
    if (plue_session_update_title(s, "alpha beta gamma") != 0) { fprintf(stderr, "title: %s\n", plue_get_last_error()); return 5; }
    char *info = plue_session_get_info(s);
    if (!info) return 6;
    const char *id = strstr(info, "\"id\":\"");
    char sid[128] = {0};
    if (id) sscanf(id + 6, "%127[^\"]", sid);
    plue_free_json(info);
    put(dir, "id", sid);
    for (int i = 0; i < 1200 && !exists(dir, "offline"); i++) usleep(50000);
    /* Unreachable: queued, and visible at once. */
    int rc = plue_session_update_title(s, "alpha BETA gamma");
    if (rc != 0) { fprintf(stderr, "queued title: %d %s\n", rc, plue_get_last_error()); return 7; }
    info = plue_session_get_info(s);
    int visible = info && strstr(info, "alpha BETA gamma") != NULL;
    plue_free_json(info);
    if (!visible) return 8;
    put(dir, "queued", "1");
    char op[128] = {0};
    for (int i = 0; i < 1200 && op[0] == '\0'; i++) {
        usleep(50000);
        pthread_mutex_lock(&lock);
        memcpy(op, conflict_op, sizeof op);
        pthread_mutex_unlock(&lock);
    }
    if (op[0] == '\0') { fprintf(stderr, "no Conflict event\n"); return 9; }
    if (plue_conflict_resolve("op_not_there", "local") != PLUE_ERR_NOT_FOUND) return 10;
    if (plue_conflict_resolve(op, "sideways") != PLUE_ERR_INVALID_ARGUMENT) return 11;
    rc = plue_conflict_resolve(op, "local");
    if (rc != 0) { fprintf(stderr, "resolve: %d %s\n", rc, plue_get_last_error()); return 12; }
    int done = 0;
    for (int i = 0; i < 1200 && !done; i++) {
        usleep(50000);
        pthread_mutex_lock(&lock);
        done = confirmed;
        pthread_mutex_unlock(&lock);
    }
    if (!done) { fprintf(stderr, "no Confirmed event after resolving\n"); return 13; }
    put(dir, "resolved", op);
    plue_event_unsubscribe(sub);
    plue_session_destroy(s);
    return 0;
}
