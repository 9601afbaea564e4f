/*
 * plue.c - the C core of plue.h: per-thread errors, string ownership, the completion records,
 * the event dispatcher, the warm-read mirror, and the two transports a call can take to the
 * JavaScript side (a koffi callback under `plue host`, framed messages over a socketpair to the
 * sidecar that plue_init starts).
 *
 * `npm run generate` splices everything below the marker line into plue.h, under
 * PLUE_IMPLEMENTATION, followed by the generated bodies of the API functions. The tests compile
 * this file on its own with `cc -Wall -Wextra -Werror`, taking the declarations (and the operation
 * and frame numbers) from the generated header.
 */
#include "plue.h"
/* ==== spliced into plue.h below this line ==== */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Not declared by glibc in strict ISO C modes (-std=c99/c11 without feature macros). */
extern char **environ;
#ifndef __cplusplus
int kill(pid_t pid, int sig);
#endif

/* Helpers only the generated API functions (below this file in plue.h) call. */
#if defined(__GNUC__) || defined(__clang__)
#define PLUE__HELPER static __attribute__((unused))
#else
#define PLUE__HELPER static
#endif

/* Events waiting for the dispatcher thread at most: past it the oldest is dropped and every
 * subscriber gets {"_tag":"Lagged","missed":n} before the next event. Define it (a number > 0)
 * before including plue.h in the PLUE_IMPLEMENTATION file to change it. */
#ifndef PLUE_EVENT_QUEUE_MAX
#define PLUE_EVENT_QUEUE_MAX 8192
#endif
#define PLUE__QUEUE_MAX ((size_t)(PLUE_EVENT_QUEUE_MAX))
#define PLUE__KOFFI 1
#define PLUE__SOCKET 2
/* Sidecar handles carry the plue_init generation above this bit, so a handle from before a
 * plue_shutdown is never taken for one of the next sidecar's. */
#define PLUE__GENERATION_SHIFT 40
#define PLUE__DEFAULT_TIMEOUT_MS 60000
#define PLUE__REAP_GRACE_MS 10000

/* ---- per-thread last error ----
 * Plain thread-local storage, no heap and no key destructor: a destructor would live in the
 * host library, which may be unloaded before the threads that used plue exit. */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define PLUE__THREAD_LOCAL thread_local
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define PLUE__THREAD_LOCAL _Thread_local
#else
#define PLUE__THREAD_LOCAL __thread
#endif
#define PLUE__MESSAGE_MAX 1024
static PLUE__THREAD_LOCAL int plue__error_code = 0;
static PLUE__THREAD_LOCAL char plue__error_message[PLUE__MESSAGE_MAX];

static int plue__fail(int code, const char *message) {
    size_t n = 0;
    plue__error_code = code;
    if (message != NULL) {
        n = strlen(message);
        if (n >= PLUE__MESSAGE_MAX) {
            /* Cut on a UTF-8 character boundary. */
            n = PLUE__MESSAGE_MAX - 1;
            while (n > 0 && (((unsigned char)message[n]) & 0xC0) == 0x80) n--;
        }
        memmove(plue__error_message, message, n);
    }
    plue__error_message[n] = '\0';
    return code;
}

/* ---- shared state ---- */
static pthread_mutex_t plue__lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t plue__idle = PTHREAD_COND_INITIALIZER;
static int plue__bound = 0;
static int plue__transport = 0;
static plue__call_fn plue__js_call = NULL;
static pthread_t plue__main_thread;
static int plue__in_flight = 0;
static int64_t plue__generation = 0;
/* Why calls fail with PLUE_ERR_NOT_BOUND right now. */
static char plue__down[256] = "plue is not bound: call plue_init first, or run this program with `plue host`";
/* Strings handed to the host and not yet freed (`plue host --debug` reports them). */
static int64_t plue__strings = 0;

static char *plue__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *copy = (char *)malloc(n);
    if (copy != NULL) memcpy(copy, s, n);
    return copy;
}

/* A string the host will own (and free with plue_free_json): plain malloc, counted. */
static char *plue__host_string(const char *s, size_t n) {
    char *text = (char *)malloc(n + 1);
    if (text == NULL) return NULL;
    memcpy(text, s, n);
    text[n] = '\0';
    __atomic_add_fetch(&plue__strings, 1, __ATOMIC_RELAXED);
    return text;
}

PLUE__HELPER int plue__utf8_valid(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned int c = *p, cp;
        int n, i;
        if (c < 0x80) { p++; continue; }
        if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; }
        else return 0;
        for (i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        p += n + 1;
    }
    return 1;
}

/* ---- handles: the bridge's handle number, tagged with the sidecar generation ---- */
/* Under plue__lock. 0 when the handle is not of the current generation. */
static int plue__handle_in(plue_session_t session, int64_t *handle) {
    int64_t value = (int64_t)(intptr_t)session;
    if ((value >> PLUE__GENERATION_SHIFT) != plue__generation) return 0;
    *handle = value & (((int64_t)1 << PLUE__GENERATION_SHIFT) - 1);
    return 1;
}

PLUE__HELPER plue_session_t plue__handle_out(int64_t handle) {
    int64_t generation;
    pthread_mutex_lock(&plue__lock);
    generation = plue__generation;
    pthread_mutex_unlock(&plue__lock);
    return (plue_session_t)(intptr_t)((generation << PLUE__GENERATION_SHIFT) | handle);
}

/* ---- the warm-read mirror: handle -> session JSON, written by the bridge in the same step as
 * every change of the coherent cache, read by host threads without a hop to JavaScript ---- */
#define PLUE__MIRROR_BUCKETS 1024
typedef struct plue__mirrored {
    struct plue__mirrored *next;
    int64_t handle;
    size_t size;
    char *json;
} plue__mirrored;
static plue__mirrored *plue__mirror[PLUE__MIRROR_BUCKETS];
static pthread_mutex_t plue__mirror_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t plue__bucket(int64_t handle) {
    return (size_t)(((uint64_t)handle * 11400714819323198485ULL) >> 54) % PLUE__MIRROR_BUCKETS;
}

/* 1 when the mirror holds the session's handle: *out is then a copy of its JSON (PLUE_OK set), or
 * NULL when the copy could not be allocated (PLUE_ERR_OUT_OF_MEMORY set). 0: the call hops. */
PLUE__HELPER int plue__warm_read(plue_session_t session, char **out) {
    plue__mirrored *node;
    int64_t handle = 0;
    int usable, found = 0;
    *out = NULL;
    pthread_mutex_lock(&plue__lock);
    usable = plue__bound && plue__handle_in(session, &handle);
    pthread_mutex_unlock(&plue__lock);
    if (!usable) return 0;
    pthread_mutex_lock(&plue__mirror_lock);
    for (node = plue__mirror[plue__bucket(handle)]; node != NULL; node = node->next) {
        if (node->handle == handle) {
            found = 1;
            *out = plue__host_string(node->json, node->size);
            break;
        }
    }
    pthread_mutex_unlock(&plue__mirror_lock);
    if (!found) return 0;
    if (*out == NULL) plue__fail(PLUE_ERR_OUT_OF_MEMORY, "plue_session_get_info: out of memory copying the session's JSON");
    else plue__fail(PLUE_OK, NULL);
    return 1;
}

PLUE_API void plue__mirror_remove(int64_t handle) {
    plue__mirrored **link, *gone = NULL;
    pthread_mutex_lock(&plue__mirror_lock);
    for (link = &plue__mirror[plue__bucket(handle)]; *link != NULL; link = &(*link)->next) {
        if ((*link)->handle == handle) { gone = *link; *link = gone->next; break; }
    }
    pthread_mutex_unlock(&plue__mirror_lock);
    if (gone != NULL) { free(gone->json); free(gone); }
}

/* Takes ownership of json (malloc'd, size bytes, NUL-terminated). */
static void plue__mirror_put_owned(int64_t handle, char *json, size_t size) {
    plue__mirrored *node, *fresh;
    char *old = NULL;
    size_t bucket = plue__bucket(handle);
    fresh = (plue__mirrored *)malloc(sizeof(plue__mirrored));
    if (fresh == NULL) { free(json); plue__mirror_remove(handle); return; }
    pthread_mutex_lock(&plue__mirror_lock);
    for (node = plue__mirror[bucket]; node != NULL; node = node->next) if (node->handle == handle) break;
    if (node != NULL) {
        old = node->json;
        node->json = json;
        node->size = size;
    } else {
        fresh->handle = handle;
        fresh->json = json;
        fresh->size = size;
        fresh->next = plue__mirror[bucket];
        plue__mirror[bucket] = fresh;
        fresh = NULL;
    }
    pthread_mutex_unlock(&plue__mirror_lock);
    free(old);
    free(fresh);
}

PLUE_API void plue__mirror_put(int64_t handle, const char *json) {
    char *copy;
    if (json == NULL) return;
    copy = plue__strdup(json);
    if (copy == NULL) { plue__mirror_remove(handle); return; }
    plue__mirror_put_owned(handle, copy, strlen(copy));
}

PLUE_API void plue__mirror_clear(void) {
    size_t i;
    pthread_mutex_lock(&plue__mirror_lock);
    for (i = 0; i < PLUE__MIRROR_BUCKETS; i++) {
        while (plue__mirror[i] != NULL) {
            plue__mirrored *gone = plue__mirror[i];
            plue__mirror[i] = gone->next;
            free(gone->json);
            free(gone);
        }
    }
    pthread_mutex_unlock(&plue__mirror_lock);
}

/* ---- the completion protocol: one record per blocking call ---- */
typedef struct plue__record {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int done;
    int code;
    char *message;
    char *json;
    int64_t value;
    /* Sidecar calls: the call id, and the list of calls waiting for their COMPLETE frame. */
    uint64_t id;
    struct plue__record *next;
} plue__record;

/* Sidecar calls waiting for an answer (under plue__lock). */
static plue__record *plue__pending = NULL;
static uint64_t plue__next_id = 1;

/* Ends a call: takes ownership of message and json (malloc'd), wakes its thread. */
static void plue__finish(plue__record *rec, int code, char *message, char *json, int64_t value) {
    pthread_mutex_lock(&rec->mutex);
    rec->code = code;
    rec->message = message;
    rec->json = json;
    if (json != NULL) __atomic_add_fetch(&plue__strings, 1, __ATOMIC_RELAXED);
    rec->value = value;
    rec->done = 1;
    pthread_cond_signal(&rec->cond);
    pthread_mutex_unlock(&rec->mutex);
}

PLUE_API void plue__complete(void *record, int code, const char *message, const char *json, int64_t value) {
    char *copy = NULL;
    if (record == NULL) return;
    if (json != NULL) {
        copy = plue__strdup(json);
        if (copy == NULL) { code = PLUE_ERR_OUT_OF_MEMORY; message = "out of memory copying the result"; }
    }
    plue__finish((plue__record *)record, code, message != NULL ? plue__strdup(message) : NULL, copy, value);
}

/* Under plue__lock: takes the record of call id (or rec itself when id is 0) out of the list. */
static plue__record *plue__unlink(uint64_t id, plue__record *rec) {
    plue__record **link;
    for (link = &plue__pending; *link != NULL; link = &(*link)->next) {
        if ((rec != NULL && *link == rec) || (rec == NULL && (*link)->id == id)) {
            plue__record *found = *link;
            *link = found->next;
            return found;
        }
    }
    return NULL;
}

/* ---- the sidecar's socket: frames of a fixed header and two strings (see plue.h) ---- */
static int plue__sock = -1;
static pid_t plue__child = -1;
static pthread_t plue__reader;
static pthread_mutex_t plue__send_lock = PTHREAD_MUTEX_INITIALIZER;

static void plue__put32(unsigned char *p, uint32_t v) { int i; for (i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void plue__put64(unsigned char *p, uint64_t v) { int i; for (i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static uint32_t plue__get32(const unsigned char *p) { uint32_t v = 0; int i; for (i = 3; i >= 0; i--) v = (v << 8) | p[i]; return v; }
static uint64_t plue__get64(const unsigned char *p) { uint64_t v = 0; int i; for (i = 7; i >= 0; i--) v = (v << 8) | p[i]; return v; }

/* Sends one frame. MSG_NOSIGNAL: a dead sidecar is an error here, never a SIGPIPE in the host.
 * No allocation: the header and both strings go out as one gathered write, so a call can be sent
 * (and a handle destroyed) when memory is short. */
static int plue__send_frame(int fd, int kind, uint64_t id, int64_t value, int code, const char *a, const char *b) {
    size_t la = a != NULL ? strlen(a) : 0, lb = b != NULL ? strlen(b) : 0;
    size_t total = PLUE__WIRE_HEADER_SIZE + la + lb;
    unsigned char head[PLUE__WIRE_HEADER_SIZE];
    struct iovec parts[3];
    struct msghdr msg;
    int failed = 0, first = 0, count = 0;
    if (total > PLUE__WIRE_MAX_FRAME) return -1;
    plue__put32(head, (uint32_t)total);
    plue__put32(head + 4, (uint32_t)kind);
    plue__put64(head + 8, id);
    plue__put64(head + 16, (uint64_t)value);
    plue__put32(head + 24, (uint32_t)code);
    plue__put32(head + 28, a != NULL ? (uint32_t)la : 0xFFFFFFFFu);
    plue__put32(head + 32, b != NULL ? (uint32_t)lb : 0xFFFFFFFFu);
    parts[count].iov_base = head;
    parts[count++].iov_len = sizeof head;
    if (la > 0) { parts[count].iov_base = (void *)a; parts[count++].iov_len = la; }
    if (lb > 0) { parts[count].iov_base = (void *)b; parts[count++].iov_len = lb; }
    pthread_mutex_lock(&plue__send_lock);
    while (first < count) {
        ssize_t n;
        size_t done;
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = parts + first;
        msg.msg_iovlen = (size_t)(count - first);
        n = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { failed = 1; break; }
        /* A partial write: skip what went, go on with the rest. */
        for (done = (size_t)n; first < count && done >= parts[first].iov_len; first++) done -= parts[first].iov_len;
        if (first < count) {
            parts[first].iov_base = (unsigned char *)parts[first].iov_base + done;
            parts[first].iov_len -= done;
        }
    }
    pthread_mutex_unlock(&plue__send_lock);
    return failed ? -1 : 0;
}

static int plue__read_full(int fd, unsigned char *buffer, size_t size) {
    size_t got = 0;
    while (got < size) {
        ssize_t n = recv(fd, buffer + got, size - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    return 0;
}

typedef struct plue__frame {
    int kind;
    int code;
    uint64_t id;
    int64_t value;
    char *a; /* malloc'd and NUL-terminated, or NULL */
    char *b;
    size_t la, lb;
    /* A string the frame carried could not be allocated: it was read past, and is NULL here. */
    int lost;
} plue__frame;

static int plue__read_string(int fd, uint32_t length, char **out, size_t *size, int *lost) {
    *out = NULL;
    *size = 0;
    if (length == 0xFFFFFFFFu) return 0;
    *out = (char *)malloc((size_t)length + 1);
    if (*out == NULL) {
        /* Out of memory: read the string past (the stream stays in step) and say it was lost. */
        unsigned char sink[512];
        size_t left = length;
        while (left > 0) {
            size_t n = left < sizeof sink ? left : sizeof sink;
            if (plue__read_full(fd, sink, n) != 0) return -1;
            left -= n;
        }
        *lost = 1;
        return 0;
    }
    if (length > 0 && plue__read_full(fd, (unsigned char *)*out, length) != 0) { free(*out); *out = NULL; return -1; }
    (*out)[length] = '\0';
    *size = length;
    return 0;
}

/* Reads one frame; -1 at the end of the stream or on a broken one. */
static int plue__read_frame(int fd, plue__frame *frame) {
    unsigned char head[PLUE__WIRE_HEADER_SIZE];
    uint32_t total, la, lb;
    if (plue__read_full(fd, head, sizeof head) != 0) return -1;
    total = plue__get32(head);
    la = plue__get32(head + 28);
    lb = plue__get32(head + 32);
    if (total > PLUE__WIRE_MAX_FRAME || total < PLUE__WIRE_HEADER_SIZE) return -1;
    if ((uint64_t)PLUE__WIRE_HEADER_SIZE + (la == 0xFFFFFFFFu ? 0 : la) + (lb == 0xFFFFFFFFu ? 0 : lb) != total) return -1;
    frame->kind = (int)plue__get32(head + 4);
    frame->id = plue__get64(head + 8);
    frame->value = (int64_t)plue__get64(head + 16);
    frame->code = (int)plue__get32(head + 24);
    frame->lost = 0;
    frame->b = NULL;
    if (plue__read_string(fd, la, &frame->a, &frame->la, &frame->lost) != 0) return -1;
    if (plue__read_string(fd, lb, &frame->b, &frame->lb, &frame->lost) != 0) { free(frame->a); return -1; }
    return 0;
}

/* ---- a call: checks, then a hop to JavaScript by the bound transport, then the wait ---- */
PLUE__HELPER int plue__invoke(int op, plue_session_t session, const char *a, const char *b, plue__record *rec) {
    plue__call_fn call;
    int transport, accepted = 0, fd;
    int64_t handle = 0;
    char down[sizeof plue__down];
    memset(rec, 0, sizeof(*rec));
    pthread_mutex_lock(&plue__lock);
    if (!plue__bound) {
        memcpy(down, plue__down, sizeof down);
        pthread_mutex_unlock(&plue__lock);
        return plue__fail(PLUE_ERR_NOT_BOUND, down);
    }
    transport = plue__transport;
    if (transport == PLUE__KOFFI && pthread_equal(pthread_self(), plue__main_thread)) {
        pthread_mutex_unlock(&plue__lock);
        return plue__fail(PLUE_ERR_WRONG_THREAD, "a blocking plue call was made on the JavaScript main thread; call it from another thread");
    }
    if (session != NULL && !plue__handle_in(session, &handle)) {
        pthread_mutex_unlock(&plue__lock);
        return plue__fail(PLUE_ERR_INVALID_HANDLE, "the session handle is not open: made up, or from before plue_shutdown");
    }
    plue__in_flight++;
    pthread_mutex_init(&rec->mutex, NULL);
    pthread_cond_init(&rec->cond, NULL);
    call = plue__js_call;
    /* Stays open while this call is counted in flight: plue_shutdown waits for the count first. */
    fd = plue__sock;
    if (transport == PLUE__SOCKET) {
        rec->id = plue__next_id++;
        rec->next = plue__pending;
        plue__pending = rec;
    }
    pthread_mutex_unlock(&plue__lock);

    if (transport == PLUE__KOFFI) {
        accepted = call(op, handle, a, b, rec) == 1;
    } else {
        accepted = plue__send_frame(fd, PLUE__WIRE_CALL, rec->id, handle, op, a, b) == 0;
        if (!accepted) {
            /* Unless the reader already took it (the sidecar went away): it is still ours. */
            pthread_mutex_lock(&plue__lock);
            if (plue__unlink(0, rec) == NULL) accepted = 1;
            pthread_mutex_unlock(&plue__lock);
        }
    }
    pthread_mutex_lock(&rec->mutex);
    if (accepted) {
        while (!rec->done) pthread_cond_wait(&rec->cond, &rec->mutex);
    } else if (!rec->done) {
        rec->code = transport == PLUE__SOCKET ? PLUE_ERR_NOT_BOUND : PLUE_ERR_INTERNAL;
        rec->message = plue__strdup(transport == PLUE__SOCKET ? "the plue sidecar could not be reached (it has exited)" : "the plue bridge failed to start the call");
    }
    pthread_mutex_unlock(&rec->mutex);
    pthread_mutex_destroy(&rec->mutex);
    pthread_cond_destroy(&rec->cond);

    pthread_mutex_lock(&plue__lock);
    if (--plue__in_flight == 0) pthread_cond_broadcast(&plue__idle);
    pthread_mutex_unlock(&plue__lock);

    /* No message (it could not be allocated): the code's own text. */
    plue__fail(rec->code, rec->code == PLUE_OK ? NULL : (rec->message != NULL ? rec->message : plue_errstr(rec->code)));
    free(rec->message);
    rec->message = NULL;
    if (rec->code != PLUE_OK && rec->json != NULL) { plue_free_json(rec->json); rec->json = NULL; }
    return rec->code;
}

PLUE_API int plue__calls_in_flight(void) {
    int n;
    pthread_mutex_lock(&plue__lock);
    n = plue__in_flight;
    pthread_mutex_unlock(&plue__lock);
    return n;
}

PLUE_API const char *plue_get_last_error(void) { return plue__error_message; }

PLUE_API int plue_get_last_error_code(void) { return plue__error_code; }

PLUE_API void plue_free_json(char *json) {
    if (json == NULL) return;
    free(json);
    __atomic_sub_fetch(&plue__strings, 1, __ATOMIC_RELAXED);
}

PLUE_API int64_t plue__live_strings(void) { return __atomic_load_n(&plue__strings, __ATOMIC_RELAXED); }

/* ---- events: a queue filled by the bridge, drained by one dispatcher thread ---- */
typedef struct plue__sub { int id; plue_event_callback callback; void *userdata; } plue__sub;
typedef struct plue__event { struct plue__event *next; char *json; } plue__event;
static plue__sub *plue__subs = NULL;
static int plue__nsubs = 0, plue__capsubs = 0, plue__next_sub = 1;
static plue__event *plue__head = NULL, *plue__tail = NULL;
static size_t plue__queued = 0, plue__missed = 0;
static pthread_cond_t plue__queue_cond = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t plue__dispatch_lock = PTHREAD_MUTEX_INITIALIZER;
static int plue__dispatching = 0, plue__stopping = 0;
static pthread_t plue__dispatcher;

#define PLUE__LOCAL_SUBS 16
static void plue__deliver(const char *json) {
    plue__sub local[PLUE__LOCAL_SUBS], *copy = local;
    int n, i;
    pthread_mutex_lock(&plue__lock);
    n = plue__nsubs;
    if (n > PLUE__LOCAL_SUBS) copy = (plue__sub *)malloc(sizeof(plue__sub) * (size_t)n);
    /* Out of memory: the event is missed, and every subscriber is told so by the next Lagged. */
    if (copy == NULL) plue__missed++;
    else if (n > 0) memcpy(copy, plue__subs, sizeof(plue__sub) * (size_t)n);
    pthread_mutex_unlock(&plue__lock);
    for (i = 0; copy != NULL && i < n; i++) {
        int still = 0, j;
        /* Skip a subscription removed by an earlier callback of this same event. */
        pthread_mutex_lock(&plue__lock);
        for (j = 0; j < plue__nsubs; j++) if (plue__subs[j].id == copy[i].id) still = 1;
        pthread_mutex_unlock(&plue__lock);
        if (still) copy[i].callback(json, copy[i].userdata);
    }
    if (copy != local) free(copy);
}

static void *plue__dispatch_main(void *arg) {
    (void)arg;
    for (;;) {
        plue__event *event;
        size_t missed;
        pthread_mutex_lock(&plue__lock);
        while (plue__head == NULL && !plue__stopping) pthread_cond_wait(&plue__queue_cond, &plue__lock);
        if (plue__stopping) {
            plue__dispatching = 0;
            pthread_mutex_unlock(&plue__lock);
            return NULL;
        }
        event = plue__head;
        plue__head = event->next;
        if (plue__head == NULL) plue__tail = NULL;
        plue__queued--;
        missed = plue__missed;
        plue__missed = 0;
        pthread_mutex_unlock(&plue__lock);
        pthread_mutex_lock(&plue__dispatch_lock);
        if (missed > 0) {
            char lagged[64];
            snprintf(lagged, sizeof(lagged), "{\"_tag\":\"Lagged\",\"missed\":%lu}", (unsigned long)missed);
            plue__deliver(lagged);
        }
        plue__deliver(event->json);
        pthread_mutex_unlock(&plue__dispatch_lock);
        free(event->json);
        free(event);
    }
}

PLUE_API int plue_event_subscribe(plue_event_callback callback, void *userdata) {
    int id;
    if (callback == NULL) return -plue__fail(PLUE_ERR_INVALID_ARGUMENT, "plue_event_subscribe: the callback is NULL");
    pthread_mutex_lock(&plue__lock);
    if (plue__nsubs == plue__capsubs) {
        int cap = plue__capsubs == 0 ? 8 : plue__capsubs * 2;
        plue__sub *grown = (plue__sub *)realloc(plue__subs, sizeof(plue__sub) * (size_t)cap);
        if (grown == NULL) {
            pthread_mutex_unlock(&plue__lock);
            return -plue__fail(PLUE_ERR_OUT_OF_MEMORY, "plue_event_subscribe: out of memory");
        }
        plue__subs = grown;
        plue__capsubs = cap;
    }
    id = plue__next_sub++;
    plue__subs[plue__nsubs].id = id;
    plue__subs[plue__nsubs].callback = callback;
    plue__subs[plue__nsubs].userdata = userdata;
    plue__nsubs++;
    plue__stopping = 0;
    if (!plue__dispatching) {
        int rc = pthread_create(&plue__dispatcher, NULL, plue__dispatch_main, NULL);
        if (rc != 0) {
            /* No thread to call it: the subscription would never be called. */
            plue__nsubs--;
            pthread_mutex_unlock(&plue__lock);
            return -plue__fail(rc == EAGAIN || rc == ENOMEM ? PLUE_ERR_OUT_OF_MEMORY : PLUE_ERR_INTERNAL,
                               "plue_event_subscribe: cannot start the event dispatcher thread");
        }
        plue__dispatching = 1;
        pthread_detach(plue__dispatcher);
    }
    pthread_mutex_unlock(&plue__lock);
    plue__fail(PLUE_OK, NULL);
    return id;
}

PLUE_API int plue_event_unsubscribe(int subscription_id) {
    int i, found = 0, on_dispatcher;
    pthread_mutex_lock(&plue__lock);
    for (i = 0; i < plue__nsubs; i++) {
        if (plue__subs[i].id == subscription_id) {
            plue__subs[i] = plue__subs[plue__nsubs - 1];
            plue__nsubs--;
            found = 1;
            break;
        }
    }
    on_dispatcher = plue__dispatching && pthread_equal(pthread_self(), plue__dispatcher);
    pthread_mutex_unlock(&plue__lock);
    if (!found) return plue__fail(PLUE_ERR_INVALID_ARGUMENT, "plue_event_unsubscribe: no such subscription");
    /* Wait for a delivery in progress on another thread to end. */
    if (!on_dispatcher) { pthread_mutex_lock(&plue__dispatch_lock); pthread_mutex_unlock(&plue__dispatch_lock); }
    return plue__fail(PLUE_OK, NULL);
}

/* Takes ownership of json (malloc'd). */
static void plue__event_push_owned(char *json) {
    plue__event *event;
    pthread_mutex_lock(&plue__lock);
    if (plue__nsubs == 0 || !plue__dispatching) { pthread_mutex_unlock(&plue__lock); free(json); return; }
    if (plue__queued >= PLUE__QUEUE_MAX) {
        plue__event *oldest = plue__head;
        plue__head = oldest->next;
        if (plue__head == NULL) plue__tail = NULL;
        plue__queued--;
        plue__missed++;
        free(oldest->json);
        free(oldest);
    }
    event = (plue__event *)malloc(sizeof(plue__event));
    if (event == NULL) { free(json); plue__missed++; pthread_mutex_unlock(&plue__lock); return; }
    event->json = json;
    event->next = NULL;
    if (plue__tail != NULL) plue__tail->next = event; else plue__head = event;
    plue__tail = event;
    plue__queued++;
    pthread_cond_signal(&plue__queue_cond);
    pthread_mutex_unlock(&plue__lock);
}

/* An event that could not be allocated: counted as missed (told by the next Lagged). */
static void plue__event_lost(void) {
    pthread_mutex_lock(&plue__lock);
    if (plue__nsubs > 0 && plue__dispatching) plue__missed++;
    pthread_mutex_unlock(&plue__lock);
}

PLUE_API void plue__event_push(const char *json) {
    char *copy;
    if (json == NULL) return;
    pthread_mutex_lock(&plue__lock);
    if (plue__nsubs == 0 || !plue__dispatching) { pthread_mutex_unlock(&plue__lock); return; }
    pthread_mutex_unlock(&plue__lock);
    copy = plue__strdup(json);
    if (copy == NULL) {
        pthread_mutex_lock(&plue__lock);
        plue__missed++;
        pthread_mutex_unlock(&plue__lock);
        return;
    }
    plue__event_push_owned(copy);
}

/* Under plue__lock: ends every subscription and stops the dispatcher; returns how many there were. */
static int plue__events_stop(void) {
    int left = plue__nsubs;
    plue__nsubs = 0;
    plue__stopping = 1;
    while (plue__head != NULL) {
        plue__event *event = plue__head;
        plue__head = event->next;
        free(event->json);
        free(event);
    }
    plue__tail = NULL;
    plue__queued = 0;
    pthread_cond_broadcast(&plue__queue_cond);
    return left;
}

/* ---- fork: a child has none of the parent's threads, so its calls fail instead of hanging ---- */
static pthread_mutex_t plue__init_lock = PTHREAD_MUTEX_INITIALIZER;
static int plue__init_count = 0;
static pthread_once_t plue__fork_once = PTHREAD_ONCE_INIT;

static void plue__after_fork_child(void) {
    /* One thread exists now; locks another thread held at fork() stay held: start them over. */
    pthread_mutex_init(&plue__lock, NULL);
    pthread_mutex_init(&plue__mirror_lock, NULL);
    pthread_mutex_init(&plue__send_lock, NULL);
    pthread_mutex_init(&plue__dispatch_lock, NULL);
    pthread_mutex_init(&plue__init_lock, NULL);
    pthread_cond_init(&plue__idle, NULL);
    pthread_cond_init(&plue__queue_cond, NULL);
    if (plue__sock >= 0) close(plue__sock);
    plue__sock = -1;
    plue__child = -1;
    plue__bound = 0;
    plue__transport = 0;
    plue__js_call = NULL;
    plue__init_count = 0;
    plue__in_flight = 0;
    plue__pending = NULL;
    plue__generation++;
    /* The parent's mirror, subscriptions and queue belong to threads this process does not have. */
    memset(plue__mirror, 0, sizeof plue__mirror);
    plue__nsubs = 0;
    plue__dispatching = 0;
    plue__stopping = 0;
    plue__head = plue__tail = NULL;
    plue__queued = 0;
    strcpy(plue__down, "this process was forked from the one plue was bound in; call plue_init here to start a sidecar of its own");
}

static void plue__register_fork_handler(void) { pthread_atfork(NULL, NULL, plue__after_fork_child); }

/* ---- binding under `plue host` (koffi) ---- */
PLUE_API int plue__bind(const plue__api *api) {
    if (api == NULL || api->api_version != PLUE__API_VERSION || api->call == NULL) return -1;
    pthread_once(&plue__fork_once, plue__register_fork_handler);
    pthread_mutex_lock(&plue__lock);
    if (plue__transport == PLUE__SOCKET) { pthread_mutex_unlock(&plue__lock); return -2; }
    plue__js_call = api->call;
    plue__main_thread = pthread_self();
    plue__transport = PLUE__KOFFI;
    plue__generation = 0;
    plue__bound = 1;
    pthread_mutex_unlock(&plue__lock);
    return 0;
}

PLUE_API int plue__unbind(void) {
    int left;
    plue__mirror_clear();
    pthread_mutex_lock(&plue__lock);
    plue__bound = 0;
    plue__js_call = NULL;
    if (plue__transport == PLUE__KOFFI) plue__transport = 0;
    strcpy(plue__down, "the plue bridge has shut down (`plue host` unbound this library)");
    left = plue__events_stop();
    pthread_mutex_unlock(&plue__lock);
    return left;
}

/* ---- the sidecar (plue_init / plue_shutdown) ---- */
static void *plue__reader_main(void *arg) {
    int fd = (int)(intptr_t)arg;
    plue__record *left;
    plue__frame frame;
    for (;;) {
        if (plue__read_frame(fd, &frame) != 0) break;
        if (frame.kind == PLUE__WIRE_COMPLETE) {
            plue__record *rec;
            pthread_mutex_lock(&plue__lock);
            rec = plue__unlink(frame.id, NULL);
            pthread_mutex_unlock(&plue__lock);
            /* A result that could not be allocated fails the call (a lost message: the code's text). */
            if (rec != NULL) plue__finish(rec, frame.lost && frame.code == PLUE_OK ? PLUE_ERR_OUT_OF_MEMORY : frame.code, frame.a, frame.b, frame.value);
            else { free(frame.a); free(frame.b); }
            continue;
        }
        if (frame.kind == PLUE__WIRE_EVENT && frame.a != NULL) { plue__event_push_owned(frame.a); frame.a = NULL; }
        else if (frame.kind == PLUE__WIRE_EVENT && frame.lost) plue__event_lost();
        else if (frame.kind == PLUE__WIRE_MIRROR_PUT && frame.a != NULL) { plue__mirror_put_owned(frame.value, frame.a, frame.la); frame.a = NULL; }
        /* The new value could not be kept: the old one must not be served, so the handle leaves the mirror. */
        else if (frame.kind == PLUE__WIRE_MIRROR_PUT && frame.lost) plue__mirror_remove(frame.value);
        else if (frame.kind == PLUE__WIRE_MIRROR_REMOVE) plue__mirror_remove(frame.value);
        else if (frame.kind == PLUE__WIRE_MIRROR_CLEAR) plue__mirror_clear();
        free(frame.a);
        free(frame.b);
    }
    /* The stream ended: the sidecar exited (or plue_shutdown closed it). Nothing more will answer. */
    pthread_mutex_lock(&plue__lock);
    if (plue__bound && plue__transport == PLUE__SOCKET) {
        plue__bound = 0;
        snprintf(plue__down, sizeof plue__down, "the plue sidecar (pid %ld) has exited; call plue_shutdown, then plue_init to start another", (long)plue__child);
    }
    left = plue__pending;
    plue__pending = NULL;
    pthread_mutex_unlock(&plue__lock);
    plue__mirror_clear();
    while (left != NULL) {
        plue__record *rec = left;
        left = rec->next;
        plue__finish(rec, PLUE_ERR_NOT_BOUND, plue__strdup("the plue sidecar exited during the call"), NULL, 0);
    }
    return NULL;
}

static long plue__now_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long)tv.tv_sec * 1000L + (long)(tv.tv_usec / 1000);
}

/* Waits for the sidecar to exit (it does once its socket closes); kills it after a grace period. */
static int plue__reap(pid_t pid, long grace_ms) {
    long deadline = plue__now_ms() + grace_ms;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        /* ECHILD: the host's own SIGCHLD handler reaped it already. */
        if (r < 0 && errno != EINTR) return -1;
        if (plue__now_ms() >= deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
            return status;
        }
        poll(NULL, 0, 5);
    }
}

/* Appends "key":"value" (JSON-escaped) to out; value NULL appends nothing. */
static size_t plue__json_field(char *out, size_t at, const char *key, const char *value) {
    const unsigned char *p;
    if (value == NULL) return at;
    at += (size_t)sprintf(out + at, "%s\"%s\":\"", at > 1 ? "," : "", key);
    for (p = (const unsigned char *)value; *p; p++) {
        if (*p == '"' || *p == '\\') { out[at++] = '\\'; out[at++] = (char)*p; }
        else if (*p < 0x20) at += (size_t)sprintf(out + at, "\\u%04x", *p);
        else out[at++] = (char)*p;
    }
    out[at++] = '"';
    out[at] = '\0';
    return at;
}

#define PLUE__OPTION(options, field) \
    ((options) != NULL && (options)->size >= offsetof(plue_options, field) + sizeof((options)->field) ? (options)->field : 0)

/* A close-on-exec copy of `fd` numbered 10 or above (never 0, 1 or 2); -1 if none can be made. */
static int plue__fd_above_stdio(int fd) {
    int copy;
#ifdef F_DUPFD_CLOEXEC
    copy = fcntl(fd, F_DUPFD_CLOEXEC, 10);
#else
    copy = fcntl(fd, F_DUPFD, 10);
    if (copy >= 0) fcntl(copy, F_SETFD, FD_CLOEXEC);
#endif
    return copy;
}

static int plue__start(const plue_options *options) {
    const char *command = PLUE__OPTION(options, command);
    const char *url = PLUE__OPTION(options, url);
    const char *password = PLUE__OPTION(options, password);
    const char *directory = PLUE__OPTION(options, directory);
    int timeout = PLUE__OPTION(options, timeout_ms);
    char message[PLUE__MESSAGE_MAX];
    char *argv[3], *hello;
    int sv[2], child_end, parent_end, stderr_open, rc, status, code = PLUE_OK;
    long deadline;
    pid_t pid;
    posix_spawn_file_actions_t actions;
    plue__frame frame;

    if (command == NULL || command[0] == '\0') command = getenv("PLUE_COMMAND");
    if (command == NULL || command[0] == '\0') command = "plue";
    if (timeout <= 0) timeout = PLUE__DEFAULT_TIMEOUT_MS;
    if ((url != NULL && !plue__utf8_valid(url)) || (password != NULL && !plue__utf8_valid(password)) ||
        (directory != NULL && !plue__utf8_valid(directory))) {
        return plue__fail(PLUE_ERR_INVALID_ARGUMENT, "plue_init: an option is not valid UTF-8");
    }
    /* Both ends close on exec: only the sidecar gets one, as its fd 3. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(message, sizeof message, "plue_init: socketpair failed: %s", strerror(errno));
        return plue__fail(PLUE_ERR_INTERNAL, message);
    }
    /* Both ends go above the standard descriptors: a program started with stdin or stderr
     * closed (`./app 2>&-`) would otherwise get them as 0 or 2, and the sidecar's stdout,
     * made from the program's stderr, would be the socket. */
    child_end = plue__fd_above_stdio(sv[1]);
    close(sv[1]);
    parent_end = plue__fd_above_stdio(sv[0]);
    close(sv[0]);
    sv[0] = parent_end;
    if (child_end < 0 || parent_end < 0) {
        if (child_end >= 0) close(child_end);
        if (parent_end >= 0) close(parent_end);
        return plue__fail(PLUE_ERR_INTERNAL, "plue_init: cannot duplicate the sidecar's socket");
    }
    stderr_open = fcntl(2, F_GETFD) != -1;
    rc = posix_spawn_file_actions_init(&actions);
    if (rc == 0) {
        /* The host's stdout is its own: whatever the sidecar prints goes to stderr (or, when
         * the program's stderr is closed, nowhere). */
        if ((rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)) == 0 &&
            (rc = stderr_open ? posix_spawn_file_actions_adddup2(&actions, 2, 1)
                              : posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)) == 0 &&
            (rc = stderr_open ? 0 : posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)) == 0 &&
            (rc = posix_spawn_file_actions_adddup2(&actions, child_end, 3)) == 0) {
            argv[0] = (char *)command;
            argv[1] = (char *)"serve";
            argv[2] = NULL;
            rc = posix_spawnp(&pid, command, &actions, NULL, argv, environ);
        } else {
            rc = -rc;
        }
        posix_spawn_file_actions_destroy(&actions);
    } else {
        rc = -rc;
    }
    if (rc < 0) {
        /* Preparing the spawn failed (ENOMEM): nothing was started. */
        close(child_end);
        close(sv[0]);
        snprintf(message, sizeof message, "plue_init: cannot prepare the plue sidecar's start: %s", strerror(-rc));
        return plue__fail(-rc == ENOMEM ? PLUE_ERR_OUT_OF_MEMORY : PLUE_ERR_INTERNAL, message);
    }
    close(child_end);
    if (rc != 0) {
        close(sv[0]);
        snprintf(message, sizeof message, "plue_init: cannot start the plue sidecar `%s serve`: %s (put plue on PATH, or name it with PLUE_COMMAND or options->command)", command, strerror(rc));
        return plue__fail(PLUE_ERR_NOT_BOUND, message);
    }

    hello = (char *)malloc(64 + 6 * ((url ? strlen(url) : 0) + (password ? strlen(password) : 0) + (directory ? strlen(directory) : 0)));
    if (hello == NULL) { code = PLUE_ERR_OUT_OF_MEMORY; snprintf(message, sizeof message, "plue_init: out of memory"); goto failed; }
    {
        size_t at = 1;
        hello[0] = '{';
        hello[1] = '\0';
        at = plue__json_field(hello, at, "url", url);
        at = plue__json_field(hello, at, "password", password);
        at = plue__json_field(hello, at, "directory", directory);
        hello[at++] = '}';
        hello[at] = '\0';
    }
    rc = plue__send_frame(sv[0], PLUE__WIRE_HELLO, 0, PLUE__API_VERSION, 0, hello, NULL);
    free(hello);
    if (rc != 0) {
        /* The sidecar closed its end before reading HELLO: it is exiting (or was never plue). */
        close(sv[0]);
        sv[0] = -1;
        status = plue__reap(pid, PLUE__REAP_GRACE_MS);
        snprintf(message, sizeof message, "plue_init: the plue sidecar `%s serve` exited (status %d) at once, closing its socket before it was ready", command,
                 status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return plue__fail(PLUE_ERR_NOT_BOUND, message);
    }

    /* Wait for READY (or FAILED, or the sidecar's exit), within the timeout. */
    deadline = plue__now_ms() + timeout;
    for (;;) {
        struct pollfd wait_for;
        long left = deadline - plue__now_ms();
        wait_for.fd = sv[0];
        wait_for.events = POLLIN;
        wait_for.revents = 0;
        if (left <= 0) {
            code = PLUE_ERR_UNREACHABLE;
            snprintf(message, sizeof message, "plue_init: the plue sidecar `%s serve` was not ready within %d ms", command, timeout);
            goto failed;
        }
        rc = poll(&wait_for, 1, (int)left);
        if (rc < 0 && errno != EINTR) { code = PLUE_ERR_INTERNAL; snprintf(message, sizeof message, "plue_init: poll failed: %s", strerror(errno)); goto failed; }
        if (rc <= 0) continue;
        if (plue__read_frame(sv[0], &frame) != 0) {
            close(sv[0]);
            sv[0] = -1;
            status = plue__reap(pid, PLUE__REAP_GRACE_MS);
            snprintf(message, sizeof message, "plue_init: the plue sidecar `%s serve` exited (status %d) before it was ready", command,
                     status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
            return plue__fail(PLUE_ERR_NOT_BOUND, message);
        }
        if (frame.kind == PLUE__WIRE_READY && frame.value == PLUE__API_VERSION) { free(frame.a); free(frame.b); break; }
        if (frame.kind == PLUE__WIRE_FAILED) {
            code = frame.code > 0 ? frame.code : PLUE_ERR_INTERNAL;
            snprintf(message, sizeof message, "plue_init: %s", frame.a != NULL ? frame.a : "the plue sidecar failed to start");
            free(frame.a);
            free(frame.b);
            goto failed;
        }
        free(frame.a);
        free(frame.b);
        if (frame.kind == PLUE__WIRE_READY) {
            code = PLUE_ERR_INTERNAL;
            snprintf(message, sizeof message, "plue_init: the plue sidecar `%s` speaks bridge protocol %ld, this header %d: use the plue of this header", command, (long)frame.value, PLUE__API_VERSION);
            goto failed;
        }
    }

    pthread_mutex_lock(&plue__lock);
    plue__sock = sv[0];
    plue__child = pid;
    plue__transport = PLUE__SOCKET;
    plue__generation++;
    plue__bound = 1;
    pthread_mutex_unlock(&plue__lock);
    rc = pthread_create(&plue__reader, NULL, plue__reader_main, (void *)(intptr_t)sv[0]);
    if (rc != 0) {
        pthread_mutex_lock(&plue__lock);
        plue__sock = -1;
        plue__child = -1;
        plue__transport = 0;
        plue__bound = 0;
        pthread_mutex_unlock(&plue__lock);
        /* EAGAIN: no memory (or no thread) for it. */
        code = rc == EAGAIN || rc == ENOMEM ? PLUE_ERR_OUT_OF_MEMORY : PLUE_ERR_INTERNAL;
        snprintf(message, sizeof message, "plue_init: cannot start the reader thread: %s", strerror(rc));
        goto failed;
    }
    return plue__fail(PLUE_OK, NULL);

failed:
    if (sv[0] >= 0) close(sv[0]);
    (void)plue__reap(pid, PLUE__REAP_GRACE_MS);
    return plue__fail(code, message);
}

PLUE_API int plue_init(const plue_options *options) {
    int code = PLUE_OK, hosted;
    pthread_once(&plue__fork_once, plue__register_fork_handler);
    pthread_mutex_lock(&plue__init_lock);
    pthread_mutex_lock(&plue__lock);
    hosted = plue__transport == PLUE__KOFFI;
    pthread_mutex_unlock(&plue__lock);
    if (plue__init_count == 0 && !hosted) code = plue__start(options);
    if (code == PLUE_OK) plue__init_count++;
    pthread_mutex_unlock(&plue__init_lock);
    return code == PLUE_OK ? plue__fail(PLUE_OK, NULL) : code;
}

PLUE_API int plue_shutdown(void) {
    int fd;
    pid_t pid;
    pthread_mutex_lock(&plue__init_lock);
    if (plue__init_count == 0) {
        pthread_mutex_unlock(&plue__init_lock);
        return plue__fail(PLUE_ERR_NOT_BOUND, "plue_shutdown: there is no plue_init to release");
    }
    if (--plue__init_count > 0) {
        pthread_mutex_unlock(&plue__init_lock);
        return plue__fail(PLUE_OK, NULL);
    }
    pthread_mutex_lock(&plue__lock);
    if (plue__transport != PLUE__SOCKET) {
        /* Under `plue host`, plue_init only counted. */
        pthread_mutex_unlock(&plue__lock);
        pthread_mutex_unlock(&plue__init_lock);
        return plue__fail(PLUE_OK, NULL);
    }
    plue__bound = 0;
    strcpy(plue__down, "plue has shut down (plue_shutdown); call plue_init to start again");
    fd = plue__sock;
    pid = plue__child;
    pthread_mutex_unlock(&plue__lock);
    /* End of input for the sidecar: it ends the calls in flight (they return PLUE_ERR_NOT_BOUND),
     * answers them, and exits. Wait until every call has returned to its thread. */
    shutdown(fd, SHUT_WR);
    pthread_mutex_lock(&plue__lock);
    while (plue__in_flight > 0) pthread_cond_wait(&plue__idle, &plue__lock);
    pthread_mutex_unlock(&plue__lock);
    shutdown(fd, SHUT_RDWR);
    pthread_join(plue__reader, NULL);
    close(fd);
    (void)plue__reap(pid, PLUE__REAP_GRACE_MS);
    plue__mirror_clear();
    pthread_mutex_lock(&plue__lock);
    plue__sock = -1;
    plue__child = -1;
    plue__transport = 0;
    (void)plue__events_stop();
    pthread_mutex_unlock(&plue__lock);
    pthread_mutex_unlock(&plue__init_lock);
    return plue__fail(PLUE_OK, NULL);
}

#ifdef __cplusplus
}
#endif
