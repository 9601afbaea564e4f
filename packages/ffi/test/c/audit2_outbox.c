/* A program with its own main() and PLUE_OUTBOX=1, for Audit2.test.ts: through the sidecar, a
 * session created offline (no title) gets a handle, is renamed offline (0), and both are
 * confirmed once the server is back. argv[1] is a folder shared with the test: the C side
 * writes `ready`, `queued` (with the session id); the test writes `offline`, then `online`. */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#define PLUE_IMPLEMENTATION
#include "plue.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int confirmed_create, confirmed_title, conflicts;

static void on_event(const char *json, void *userdata) {
    (void)userdata;
    pthread_mutex_lock(&lock);
    if (strstr(json, PLUE_EVENT_TAG(PLUE_EVENT_CONFIRMED)) != NULL) {
        if (strstr(json, "\"kind\":\"create\"") != NULL) confirmed_create++;
        if (strstr(json, "\"kind\":\"title\"") != NULL) confirmed_title++;
    }
    if (strstr(json, PLUE_EVENT_TAG(PLUE_EVENT_CONFLICT)) != NULL) {
        conflicts++;
        printf("conflict %s\n", json);
    }
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

static int await_file(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    for (int i = 0; i < 2400; i++) {
        if (access(path, F_OK) == 0) return 1;
        usleep(50000);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *dir = argv[1];
    if (plue_init(NULL) != PLUE_OK) { printf("plue_init: %s\n", plue_get_last_error()); return 3; }
    int sub = plue_event_subscribe(on_event, NULL);
    if (sub <= 0) return 4;
    put(dir, "ready", "1");
    if (!await_file(dir, "offline")) return 5;

    plue_session_t s = plue_session_create(NULL);
    if (s == NULL) { printf("offline create: %d %s\n", plue_get_last_error_code(), plue_get_last_error()); return 6; }
    char *info = plue_session_get_info(s);
    char id[64] = {0};
    const char *at = info != NULL ? strstr(info, "\"id\":\"") : NULL;
    if (at != NULL) sscanf(at + 6, "%63[^\"]", id);
    plue_free_json(info);
    if (id[0] == '\0') return 7;
    int rc = plue_session_update_title(s, "named offline from C");
    if (rc != PLUE_OK) { printf("offline title: %d %s\n", rc, plue_get_last_error()); return 8; }
    info = plue_session_get_info(s);
    int visible = info != NULL && strstr(info, "named offline from C") != NULL;
    plue_free_json(info);
    if (!visible) return 9;
    put(dir, "queued", id);

    if (!await_file(dir, "online")) return 10;
    int done = 0;
    for (int i = 0; i < 2400 && !done; i++) {
        usleep(50000);
        pthread_mutex_lock(&lock);
        done = confirmed_create >= 1 && confirmed_title >= 1;
        pthread_mutex_unlock(&lock);
    }
    pthread_mutex_lock(&lock);
    printf("confirmed create=%d title=%d conflicts=%d\n", confirmed_create, confirmed_title, conflicts);
    pthread_mutex_unlock(&lock);
    plue_event_unsubscribe(sub);
    plue_session_destroy(s);
    rc = plue_shutdown();
    return done && conflicts == 0 && rc == PLUE_OK ? 0 : 11;
}
