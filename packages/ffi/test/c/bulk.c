/*
 * plue_bulk from C. The same source runs both ways: as a `plue host` plugin (plue_host_main) and,
 * built with -DPLUE_BULK_MAIN, as a program with its own main() through plue_init and the sidecar.
 * Usage: bulk OPS_FILE OUT_FILE [shutdown]
 * Reads the batch from OPS_FILE, runs it with plue_bulk while subscribed to events, and writes to
 * OUT_FILE: the results JSON on the first line, then one line per check of invalid input, then
 * "progress events=N final=1|0", then "done: N failure(s)". Exits with N.
 * With "shutdown" (sidecar only): plue_bulk runs on a thread of its own, and plue_shutdown is called
 * once the batch has finished an operation; OUT_FILE gets the results that call still returned.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define PLUE_IMPLEMENTATION
#include "plue.h"

static int failures = 0;
static FILE *out = NULL;
#define CHECK(cond, what)                                                                                  \
    do {                                                                                                   \
        if (!(cond)) {                                                                                     \
            failures++;                                                                                    \
            fprintf(out, "FAILED line %d: %s: %s [last error %d: %s]\n", __LINE__, #cond, what,             \
                    plue_get_last_error_code(), plue_get_last_error());                                   \
        }                                                                                                  \
    } while (0)

/* Written by the event callback (plue's dispatcher thread), read by the calling thread. */
static volatile int progress_events = 0;
static volatile int progress_final = 0;
static volatile int progress_done = 0;

static long number_after(const char *json, const char *key) {
    const char *at = strstr(json, key);
    return at == NULL ? -1 : strtol(at + strlen(key), NULL, 10);
}

static void on_event(const char *json, void *userdata) {
    (void)userdata;
    if (strstr(json, "\"_tag\":\"BulkProgress\"") == NULL) return;
    __atomic_add_fetch(&progress_events, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&progress_done, (int)number_after(json, "\"done\":"), __ATOMIC_SEQ_CST);
    if (number_after(json, "\"done\":") == number_after(json, "\"total\":")) __atomic_store_n(&progress_final, 1, __ATOMIC_SEQ_CST);
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    long size;
    char *text;
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    text = (char *)malloc((size_t)size + 1);
    if (text != NULL && fread(text, 1, (size_t)size, f) != (size_t)size) { free(text); text = NULL; }
    if (text != NULL) text[size] = '\0';
    fclose(f);
    return text;
}

static void sleep_ms(long ms) {
    struct timespec t;
    t.tv_sec = ms / 1000;
    t.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&t, NULL);
}

/* An invalid batch: NULL, PLUE_ERR_INVALID_ARGUMENT, a message saying why. */
static void refused(const char *input, const char *name) {
    char *result = plue_bulk(input);
    fprintf(out, "invalid %s: null=%d code=%d message=%s\n", name, result == NULL, plue_get_last_error_code(), plue_get_last_error());
    CHECK(result == NULL, name);
    CHECK(plue_get_last_error_code() == PLUE_ERR_INVALID_ARGUMENT, name);
    plue_free_json(result);
}

static char *batch_ops = NULL;
static char *batch_results = NULL;
static void *batch_thread(void *arg) {
    (void)arg;
    batch_results = plue_bulk(batch_ops);
    return NULL;
}

/* plue_shutdown while a batch runs: what has started finishes, the rest is cancelled, and the
 * call still returns its results. */
static int shutdown_during_batch(char *ops) {
    pthread_t thread;
    int waited;
    batch_ops = ops;
    CHECK(plue_event_subscribe(on_event, NULL) > 0, "subscribe");
    CHECK(pthread_create(&thread, NULL, batch_thread, NULL) == 0, "thread");
    for (waited = 0; waited < 120000 && __atomic_load_n(&progress_done, __ATOMIC_SEQ_CST) < 1; waited += 5) sleep_ms(5);
    CHECK(__atomic_load_n(&progress_done, __ATOMIC_SEQ_CST) >= 1, "an operation finished before the shutdown");
    CHECK(plue_shutdown() == PLUE_OK, "shutdown during the batch");
    pthread_join(thread, NULL);
    CHECK(batch_results != NULL, "the batch returns its results across the shutdown");
    fprintf(out, "%s\n", batch_results != NULL ? batch_results : "null");
    plue_free_json(batch_results);
    free(ops);
    fprintf(out, "done: %d failure(s)\n", failures);
    fclose(out);
    return failures;
}

static int run(int argc, char **argv) {
    char *ops, *results, *empty;
    int subscription, waited;
    if (argc < 3) return 2;
    out = fopen(argv[2], "w");
    if (out == NULL) return 2;
    ops = read_file(argv[1]);
    if (ops == NULL) { fprintf(out, "cannot read %s\n", argv[1]); fclose(out); return 2; }
    if (plue_init(NULL) != PLUE_OK) { fprintf(out, "plue_init: %s\n", plue_get_last_error()); fclose(out); free(ops); return 3; }
    if (argc > 3 && strcmp(argv[3], "shutdown") == 0) return shutdown_during_batch(ops);
    subscription = plue_event_subscribe(on_event, NULL);
    CHECK(subscription > 0, "subscribe");

    results = plue_bulk(ops);
    CHECK(results != NULL, "the batch runs");
    CHECK(plue_get_last_error_code() == PLUE_OK, "PLUE_OK after a batch, failed items or not");
    fprintf(out, "%s\n", results != NULL ? results : "null");
    plue_free_json(results);
    free(ops);

    /* The final BulkProgress may follow the results by up to 100 ms. */
    for (waited = 0; waited < 10000 && !__atomic_load_n(&progress_final, __ATOMIC_SEQ_CST); waited += 10) sleep_ms(10);

    refused(NULL, "NULL");
    refused("", "empty");
    refused("not json", "text");
    refused("{\"op\":\"delete\",\"session\":\"ses_a\"}", "an object that is not a batch");
    refused("[{\"op\":\"rename\",\"session\":\"ses_a\"}]", "an unknown op");
    refused("[{\"op\":\"title\",\"session\":\"ses_a\"}]", "a title without its text");
    refused("[{\"op\":\"delete\",\"session\":\"ses_a\",\"extra\":1}]", "an unknown field");
    refused("[\"\xff\"]", "invalid UTF-8");
    empty = plue_bulk("[]");
    CHECK(empty != NULL && strcmp(empty, "[]") == 0, "an empty batch gives an empty array");
    plue_free_json(empty);

    CHECK(plue_event_unsubscribe(subscription) == PLUE_OK, "unsubscribe");
    fprintf(out, "progress events=%d final=%d\n", __atomic_load_n(&progress_events, __ATOMIC_SEQ_CST),
            __atomic_load_n(&progress_final, __ATOMIC_SEQ_CST));
    CHECK(plue__live_strings() == 0, "every string freed");
    CHECK(plue_shutdown() == PLUE_OK, "shutdown");
    fprintf(out, "done: %d failure(s)\n", failures);
    fclose(out);
    return failures;
}

#ifdef PLUE_BULK_MAIN
int main(int argc, char **argv) { return run(argc, argv); }
#else
PLUE_API int plue_host_main(int argc, char **argv) { return run(argc, argv); }
#endif
