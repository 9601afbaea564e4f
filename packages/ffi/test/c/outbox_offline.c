/* A host under `plue host` (built with -DPLUE_OWN_MAIN: a program with its own main() over the
 * sidecar) with PLUE_OUTBOX=1, for OutboxOffline.test.ts: with the server
 * unreachable, plue_session_create returns a handle on a local session and plue_session_delete
 * and plue_session_update_title return 0; plue_session_get_info shows `pending`; two conflicts
 * are resolved from C, one for the server's title ("remote"), one with a text ("text:...").
 * argv[1] is a folder shared with the test: the C side writes `ids`, then `queued` (with
 * `local.json`, `a.json`), `conflict.json`, `resolved.json` and `done`; the test writes `offline`
 * once it cut the proxy. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#define PLUE_IMPLEMENTATION
#include "plue.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char conflicts[2][128];
static int nconflicts;
static char settled[64][128];
static int nsettled;

/* Copies the value of "key":"..." in json into out. */
static int field(const char *json, const char *key, char *out, size_t size) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *at = strstr(json, pattern);
    if (at == NULL) return 0;
    at += strlen(pattern);
    const char *end = strchr(at, '"');
    if (end == NULL || (size_t)(end - at) >= size) return 0;
    memcpy(out, at, (size_t)(end - at));
    out[end - at] = '\0';
    return 1;
}

static void on_event(const char *json, void *userdata) {
    (void)userdata;
    char op[128];
    int conflict = strstr(json, "\"_tag\":\"Conflict\"") != NULL;
    int done = strstr(json, "\"_tag\":\"Confirmed\"") != NULL || strstr(json, "\"_tag\":\"RolledBack\"") != NULL;
    if ((!conflict && !done) || !field(json, "opId", op, sizeof op)) return;
    pthread_mutex_lock(&lock);
    if (conflict && nconflicts < 2) strcpy(conflicts[nconflicts++], op);
    if (done && nsettled < 64) strcpy(settled[nsettled++], op);
    pthread_mutex_unlock(&lock);
}

static int was_settled(const char *op) {
    int found = 0;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < nsettled; i++) if (strcmp(settled[i], op) == 0) found = 1;
    pthread_mutex_unlock(&lock);
    return found;
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

/* Writes the session's info JSON to dir/name; returns it (to be freed) or NULL. */
static char *save_info(plue_session_t s, const char *dir, const char *name) {
    char *info = plue_session_get_info(s);
    if (info) put(dir, name, info);
    return info;
}

static int wait_settled(const char *op) {
    for (int i = 0; i < 2400; i++) {
        if (was_settled(op)) return 1;
        usleep(50000);
    }
    return 0;
}

int plue_host_main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *dir = argv[1];
    int sub = plue_event_subscribe(on_event, NULL);
    if (sub <= 0) return 3;
    plue_session_t a = plue_session_create(NULL);
    plue_session_t b = plue_session_create(NULL);
    plue_session_t d = plue_session_create(NULL);
    if (!a || !b || !d) { fprintf(stderr, "create: %s\n", plue_get_last_error()); return 4; }
    if (plue_session_update_title(a, "gamma delta") != 0 || plue_session_update_title(b, "alpha beta") != 0) return 5;
    char ids[512] = {0}, ida[128] = {0}, idb[128] = {0}, idd[128] = {0};
    char *info;
    info = plue_session_get_info(a); if (!info || !field(info, "id", ida, sizeof ida)) return 6; plue_free_json(info);
    info = plue_session_get_info(b); if (!info || !field(info, "id", idb, sizeof idb)) return 6; plue_free_json(info);
    info = plue_session_get_info(d); if (!info || !field(info, "id", idd, sizeof idd)) return 6; plue_free_json(info);
    snprintf(ids, sizeof ids, "%s %s %s", ida, idb, idd);
    put(dir, "ids", ids);
    for (int i = 0; i < 2400 && !exists(dir, "offline"); i++) usleep(50000);

    /* Unreachable: a create returns a handle on a local session; a delete and renames return 0. */
    plue_session_t local = plue_session_create(NULL);
    if (!local) { fprintf(stderr, "offline create: %d %s\n", plue_get_last_error_code(), plue_get_last_error()); return 7; }
    info = save_info(local, dir, "local.json");
    char create_op[128] = {0};
    if (!info || strstr(info, "\"kind\":\"create\"") == NULL) { fprintf(stderr, "local info: %s\n", info ? info : "NULL"); return 8; }
    field(strstr(info, "\"pending\""), "opId", create_op, sizeof create_op);
    plue_free_json(info);
    int rc = plue_session_delete(d);
    if (rc != 0) { fprintf(stderr, "offline delete: %d %s\n", rc, plue_get_last_error()); return 9; }
    if (plue_session_update_title(a, "gamma DELTA") != 0 || plue_session_update_title(b, "alpha BETA") != 0) {
        fprintf(stderr, "offline title: %s\n", plue_get_last_error());
        return 10;
    }
    info = save_info(a, dir, "a.json");
    if (!info) return 11;
    plue_free_json(info);
    put(dir, "queued", "1");

    /* Back online, the other client changed the same words: two conflicts. */
    char op1[128] = {0}, op2[128] = {0};
    for (int i = 0; i < 2400 && op2[0] == '\0'; i++) {
        usleep(50000);
        pthread_mutex_lock(&lock);
        if (nconflicts == 2) { strcpy(op1, conflicts[0]); strcpy(op2, conflicts[1]); }
        pthread_mutex_unlock(&lock);
    }
    if (op2[0] == '\0') { fprintf(stderr, "no two Conflict events\n"); return 12; }
    info = save_info(a, dir, "conflict.json");
    if (!info) return 13;
    /* Which conflict is a's: its pending operation names it. */
    int a_first = strstr(info, op1) != NULL;
    plue_free_json(info);
    const char *op_a = a_first ? op1 : op2;
    const char *op_b = a_first ? op2 : op1;
    rc = plue_conflict_resolve(op_a, "remote");
    if (rc != 0) { fprintf(stderr, "resolve remote: %d %s\n", rc, plue_get_last_error()); return 14; }
    rc = plue_conflict_resolve(op_b, "text:alpha and beta, from C");
    if (rc != 0) { fprintf(stderr, "resolve text: %d %s\n", rc, plue_get_last_error()); return 15; }
    if (!wait_settled(op_a) || !wait_settled(op_b)) { fprintf(stderr, "the resolutions did not settle\n"); return 16; }
    if (create_op[0] != '\0' && !wait_settled(create_op)) { fprintf(stderr, "the offline create did not settle\n"); return 17; }
    info = save_info(a, dir, "resolved.json");
    if (!info) return 18;
    plue_free_json(info);
    put(dir, "done", "1");
    plue_event_unsubscribe(sub);
    plue_session_destroy(local);
    plue_session_destroy(a);
    plue_session_destroy(b);
    plue_session_destroy(d);
    return 0;
}

#ifdef PLUE_OWN_MAIN
/* The same host in a program with its own main(), over the sidecar (plue_init). */
int main(int argc, char **argv) {
    if (plue_init(NULL) != PLUE_OK) { fprintf(stderr, "init: %s\n", plue_get_last_error()); return 20; }
    int rc = plue_host_main(argc, argv);
    plue_shutdown();
    return rc;
}
#endif
