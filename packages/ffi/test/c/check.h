/*
 * What the C row tests share (error_rows.c, doc_rows.c, capi_rows.c, oom.c): a failure counter
 * and CHECK, which reports a failed condition with plue's last error and counts it; TICKS, the
 * ceiling of every wait; and two helpers on plue's JSON. Include it after plue.h.
 */
#ifndef PLUE_TEST_CHECK_H
#define PLUE_TEST_CHECK_H
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
#define CHECK(cond, ...)                                                                          \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            pthread_mutex_lock(&lock);                                                            \
            failures++;                                                                           \
            fprintf(stderr, "line %d: %s: ", __LINE__, #cond);                                    \
            fprintf(stderr, __VA_ARGS__);                                                         \
            fprintf(stderr, " [last error %d: %s]\n", plue_get_last_error_code(), plue_get_last_error()); \
            pthread_mutex_unlock(&lock);                                                          \
        }                                                                                         \
    } while (0)

/* Ticks of 25 ms: 2400 is a minute, 4800 two. */
#define TICKS 4800

static inline int has(const char *json, const char *needle) { return json != NULL && strstr(json, needle) != NULL; }

/* The session id of a handle (30 characters), into out; empty if it has none. */
static inline void id_of(plue_session_t s, char out[64]) {
    char *json = plue_session_get_info(s);
    const char *at = json ? strstr(json, "\"id\":\"") : NULL;
    out[0] = '\0';
    if (at != NULL) {
        size_t n = strcspn(at + 6, "\"");
        if (n < 63) { memcpy(out, at + 6, n); out[n] = '\0'; }
    }
    plue_free_json(json);
}
#endif
