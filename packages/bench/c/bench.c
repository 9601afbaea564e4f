/*
 * C side of the FFI benchmark, single-threaded (per-call latency) and from 8 threads (calls per
 * second): a bare koffi round trip (a C thread calling a registered JS callback that returns at
 * once; under `plue host` only), a plue round trip (plue_session_get_info on a destroyed handle:
 * C -> JavaScript, which refuses it at once -> C), and a warm plue_session_get_info (answered in
 * C from the mirror). Built as a `plue host` library, or with -DBENCH_SIDECAR as a program with
 * its own main() that goes through plue_init and the sidecar. Results go to argv[2] as JSON.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define PLUE_IMPLEMENTATION
#include "plue.h"

typedef int (*echo_fn)(int);
static echo_fn echo = NULL;
PLUE_API void bench_set_echo(echo_fn fn) { echo = fn; }

static plue_session_t session, gone;
static int calls = 20000;
static volatile int stop = 0;

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int one_info(void) {
    char *json = plue_session_get_info(session);
    if (json == NULL) return 0;
    plue_free_json(json);
    return 1;
}
static int one_echo(void) { return echo(1) == 1; }
static int one_round_trip(void) {
    char *json = plue_session_get_info(gone);
    if (json != NULL) { plue_free_json(json); return 0; }
    return plue_get_last_error_code() == PLUE_ERR_INVALID_HANDLE;
}

static void latency(int (*op)(void), double *p50, double *p99) {
    double *samples = (double *)malloc(sizeof(double) * (size_t)calls);
    int i;
    for (i = 0; i < 1000; i++) op();
    for (i = 0; i < calls; i++) {
        double t = now_us();
        op();
        samples[i] = now_us() - t;
    }
    qsort(samples, (size_t)calls, sizeof(double), cmp);
    *p50 = samples[calls / 2];
    *p99 = samples[(calls * 99) / 100];
    free(samples);
}

typedef struct { int (*op)(void); long done; } job;
static void *spin(void *arg) {
    job *j = (job *)arg;
    while (!stop) { if (j->op()) j->done++; }
    return NULL;
}

static double throughput(int (*op)(void), int threads) {
    pthread_t t[64];
    job jobs[64];
    long total = 0;
    int i;
    double start;
    struct timespec second = {1, 0};
    stop = 0;
    for (i = 0; i < threads; i++) { jobs[i].op = op; jobs[i].done = 0; pthread_create(&t[i], NULL, spin, &jobs[i]); }
    start = now_us();
    nanosleep(&second, NULL);
    stop = 1;
    for (i = 0; i < threads; i++) { pthread_join(t[i], NULL); total += jobs[i].done; }
    return (double)total / ((now_us() - start) / 1e6);
}

/* Measures everything and writes the JSON; 0 on success. */
static int measure(const char *report, double init_ms) {
    FILE *out;
    double ip50 = 0, ip99 = 0, ep50 = 0, ep99 = 0, rp50 = 0, rp99 = 0, ithr = 0, ethr = 0, rthr = 0;
    session = plue_session_create(NULL);
    gone = plue_session_create(NULL);
    if (session == NULL || gone == NULL) return 3;
    plue_session_destroy(gone);
    if (!one_round_trip()) return 5;
    if (echo != NULL) latency(one_echo, &ep50, &ep99);
    latency(one_round_trip, &rp50, &rp99);
    latency(one_info, &ip50, &ip99);
    if (echo != NULL) ethr = throughput(one_echo, 8);
    rthr = throughput(one_round_trip, 8);
    ithr = throughput(one_info, 8);
    out = fopen(report, "w");
    if (out == NULL) return 4;
    fprintf(out, "{\"calls\":%d,\"initMs\":%.1f,\"koffi\":{\"p50\":%.3f,\"p99\":%.3f,\"threads8PerSecond\":%.0f},"
                 "\"roundTrip\":{\"p50\":%.3f,\"p99\":%.3f,\"threads8PerSecond\":%.0f},"
                 "\"getInfo\":{\"p50\":%.3f,\"p99\":%.3f,\"threads8PerSecond\":%.0f}}\n",
            calls, init_ms, ep50, ep99, ethr, rp50, rp99, rthr, ip50, ip99, ithr);
    fclose(out);
    plue_session_delete(session);
    plue_session_destroy(session);
    return 0;
}

int plue_host_main(int argc, char **argv) {
    if (argc < 3) return 2;
    calls = atoi(argv[1]);
    if (echo == NULL) return 3;
    return measure(argv[2], 0);
}

#ifdef BENCH_SIDECAR
int main(int argc, char **argv) {
    double start;
    int status;
    if (argc < 3) return 2;
    calls = atoi(argv[1]);
    start = now_us();
    if (plue_init(NULL) != PLUE_OK) {
        fprintf(stderr, "plue_init: %s\n", plue_get_last_error());
        return 6;
    }
    status = measure(argv[2], (now_us() - start) / 1000.0);
    plue_shutdown();
    return status;
}
#endif
