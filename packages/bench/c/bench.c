/*
 * C side of the FFI benchmark: plue_session_get_info on a warm cache against a bare koffi round
 * trip (a C thread calling a registered JS callback that returns at once), single-threaded
 * (per-call latency) and from 8 threads (calls per second). Results go to argv[2] as JSON.
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

static plue_session_t session;
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

int plue_host_main(int argc, char **argv) {
    FILE *out;
    double ip50, ip99, ep50, ep99, ithr, ethr;
    if (argc < 3) return 2;
    calls = atoi(argv[1]);
    session = plue_session_create(NULL);
    if (session == NULL || echo == NULL) return 3;
    latency(one_echo, &ep50, &ep99);
    latency(one_info, &ip50, &ip99);
    ethr = throughput(one_echo, 8);
    ithr = throughput(one_info, 8);
    out = fopen(argv[2], "w");
    if (out == NULL) return 4;
    fprintf(out, "{\"calls\":%d,\"koffi\":{\"p50\":%.3f,\"p99\":%.3f,\"threads8PerSecond\":%.0f},"
                 "\"getInfo\":{\"p50\":%.3f,\"p99\":%.3f,\"threads8PerSecond\":%.0f}}\n",
            calls, ep50, ep99, ethr, ip50, ip99, ithr);
    fclose(out);
    plue_session_delete(session);
    plue_session_destroy(session);
    return 0;
}
