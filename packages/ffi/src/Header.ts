/**
 * Generates `plue.h`, the single header a C host includes, from the API description.
 *
 * @since 0.1.0
 */
import { API_VERSION, type BridgedFunction, DESTROY_OP, ErrorCodes, Functions, VERSION } from "./Api.js"

const comment = (lines: ReadonlyArray<string>, indent = ""): string =>
  [`${indent}/*`, ...lines.map((line) => (line ? `${indent} * ${line}` : `${indent} *`)), `${indent} */`].join("\n")

const cType = (f: BridgedFunction): string =>
  f.result === "handle" ? "plue_session_t" : f.result === "json" ? "char *" : "int"

const params = (f: BridgedFunction): string => {
  const list = [...(f.handle ? ["plue_session_t session"] : []), ...f.strings.map((s) => `const char *${s.name}`)]
  return list.length === 0 ? "void" : list.join(", ")
}

const declaration = (f: BridgedFunction): string => {
  const lines = [
    `${f.name}: ${f.summary}`,
    "",
    ...(f.handle ? ["session:   a handle from plue_session_create or plue_session_open."] : []),
    ...f.strings.map((s) => `${s.name}: ${s.doc}${s.nullable ? "" : " (not NULL)"}.`),
    `Returns:   ${f.returns}`,
    "On failure plue_get_last_error_code() and plue_get_last_error() say why.",
    "Blocks the calling thread until done; never call it on the JavaScript main thread."
  ]
  const space = cType(f).endsWith("*") ? "" : " "
  return `${comment(lines)}\nPLUE_API ${cType(f)}${space}${f.name}(${params(f)});`
}

/** The C body of one bridged function. */
const definition = (f: BridgedFunction): string => {
  const pointer = f.result === "handle" || f.result === "json"
  // A refused argument: record the error, return what this kind of function returns on failure.
  const reject = (code: string, message: string) =>
    pointer
      ? `{ plue__fail(${code}, "${f.name}: ${message}"); return NULL; }`
      : `return plue__fail(${code}, "${f.name}: ${message}");`
  const space = cType(f).endsWith("*") ? "" : " "
  const out: Array<string> = [`PLUE_API ${cType(f)}${space}${f.name}(${params(f)}) {`, "    plue__record rec;", "    int code;"]
  if (f.handle) out.push(`    if (session == NULL) ${reject("PLUE_ERR_INVALID_HANDLE", "the session handle is NULL")}`)
  for (const s of f.strings) {
    if (!s.nullable) out.push(`    if (${s.name} == NULL) ${reject("PLUE_ERR_INVALID_ARGUMENT", `${s.name} is NULL`)}`)
    out.push(`    if (${s.name} != NULL && !plue__utf8_valid(${s.name})) ${reject("PLUE_ERR_INVALID_ARGUMENT", `${s.name} is not valid UTF-8`)}`)
  }
  if (f.mirrored) {
    out.push("    {")
    out.push("        char *warm = plue__mirror_get(plue__handle_value(session));")
    out.push("        if (warm != NULL) { plue__fail(PLUE_OK, NULL); return warm; }")
    out.push("    }")
  }
  const handle = f.handle ? "plue__handle_value(session)" : "0"
  const a = f.strings[0]?.name ?? "NULL"
  const b = f.strings[1]?.name ?? "NULL"
  out.push(`    code = plue__invoke(${f.op}, ${handle}, ${a}, ${b}, &rec);`)
  if (f.result === "handle") {
    out.push("    if (code != PLUE_OK) return NULL;")
    out.push("    return (plue_session_t)(intptr_t)rec.value;")
  } else if (f.result === "json") {
    out.push("    if (code != PLUE_OK) return NULL;")
    out.push(`    if (rec.json == NULL) { plue__fail(PLUE_ERR_INTERNAL, "${f.name}: the bridge returned no JSON"); return NULL; }`)
    out.push("    return rec.json;")
  } else {
    out.push("    return code;")
  }
  out.push("}")
  return out.join("\n")
}

const top = `/*
 * plue.h - plue ${VERSION}: drive OpenCode sessions from C.
 *
 * A single header. Include it wherever you need it, and in exactly one .c file write
 *
 *     #define PLUE_IMPLEMENTATION
 *     #include "plue.h"
 *
 * Quick start: build your host as a shared library exporting plue_host_main, then run it with
 * \`plue host ./libhost.so [args...]\`, which connects to OpenCode (--url / OPENCODE_URL, or a
 * local server it starts) and calls plue_host_main on a thread of its own.
 *
 *     int plue_host_main(int argc, char **argv) {
 *         plue_session_t s = plue_session_create(NULL);
 *         if (!s) { printf("Error: %s\\n", plue_get_last_error()); return 1; }
 *         char *info = plue_session_get_info(s);
 *         printf("%s\\n", info);
 *         plue_free_json(info);
 *         plue_session_destroy(s);
 *         return 0;
 *     }
 *
 * Threads: any thread of the host may call any function, concurrently. A call blocks its thread
 * until the operation ends. Never call a blocking function on the JavaScript main thread (it
 * fails with PLUE_ERR_WRONG_THREAD). Event callbacks run on a dispatcher thread of plue's, one
 * event at a time, in order; plue functions may be called from inside a callback.
 *
 * Ownership: every char * a function returns was allocated by this header's code and belongs to
 * the caller, who frees it with plue_free_json. const char * results (plue_get_last_error,
 * plue_version) belong to plue. Strings passed in are only read during the call.
 *
 * Handles: a plue_session_t is an opaque number, not a pointer to memory: NULL, destroyed, double
 * destroyed or made-up handles fail with PLUE_ERR_INVALID_HANDLE and never crash.
 *
 * Errors: functions returning a pointer return NULL on failure; functions returning int return
 * 0 on success and a plue_error_t code otherwise. plue_get_last_error_code() and
 * plue_get_last_error() describe the last call made on the calling thread.
 *
 * Generated by @plue/ffi from its API description. Do not edit.
 */`

/**
 * The text of `plue.h`.
 *
 * @since 0.1.0
 */
export const generateHeader = (): string => {
  const codes = ErrorCodes.map((c) => `${comment([c.doc], "    ")}\n    ${c.name} = ${c.value}`).join(",\n")
  const ops = Functions.map(declaration).join("\n\n")
  const bodies = Functions.map(definition).join("\n\n")
  return `${top}
#ifndef PLUE_H
#define PLUE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef PLUE_API
#define PLUE_API __attribute__((visibility("default")))
#endif

/* The version of this header; plue_version() gives the runtime's. */
#define PLUE_VERSION "${VERSION}"
/* The bridge protocol version, checked when the bridge binds. */
#define PLUE_API_VERSION ${API_VERSION}

/* An open session handle (opaque; not a pointer to memory). */
typedef struct plue_session *plue_session_t;

/* Result codes. Numbers never change; new codes may be appended. */
typedef enum plue_error {
${codes}
} plue_error_t;

/* Receives one session event as JSON ({"_tag":"Created"|"Updated"|"Deleted"|"Shared"|"Unshared"|
 * "Aborted"|"Status"|"Error"|"Lagged", ...}). The string is valid only during the call. */
typedef void (*plue_event_callback)(const char *event_json, void *userdata);

${ops}

${comment([
    "plue_session_destroy: closes the handle. In-flight calls on it return PLUE_ERR_INVALID_HANDLE.",
    "The session itself stays on the server. NULL, destroyed and made-up handles set",
    "PLUE_ERR_INVALID_HANDLE and are otherwise ignored."
  ])}
PLUE_API void plue_session_destroy(plue_session_t session);

${comment([
    "plue_get_last_error: the message of the last call made on this thread (\"\" after a success),",
    "at most 1023 bytes. Owned by plue; valid until the next plue call on this thread. Never NULL."
  ])}
PLUE_API const char *plue_get_last_error(void);

${comment(["plue_get_last_error_code: the plue_error_t of the last call made on this thread (PLUE_OK after a success)."])}
PLUE_API int plue_get_last_error_code(void);

${comment(["plue_free_json: frees a string returned by plue. NULL is ignored. A pointer plue did not return, or one freed already, is refused with PLUE_ERR_INVALID_ARGUMENT and left alone (a best effort: a string freed and then reallocated by plue cannot be told apart)."])}
PLUE_API void plue_free_json(char *json);

${comment([
    "plue_event_subscribe: calls callback(event_json, userdata) for every session event, from this",
    "host's changes and every other client's, in order, on plue's dispatcher thread.",
    "Returns a subscription id > 0, or a negative plue_error_t (-PLUE_ERR_INVALID_ARGUMENT for a NULL",
    "callback). A subscriber that falls far behind gets a {\"_tag\":\"Lagged\",\"missed\":n} event."
  ])}
PLUE_API int plue_event_subscribe(plue_event_callback callback, void *userdata);

${comment([
    "plue_event_unsubscribe: stops a subscription. When it returns, the callback is not running and",
    "will not be called again (unless it is called from inside that callback, which then finishes).",
    "Returns 0, or PLUE_ERR_INVALID_ARGUMENT for an unknown id."
  ])}
PLUE_API int plue_event_unsubscribe(int subscription_id);

${comment(["plue_version: the runtime version, e.g. \"" + VERSION + "\". Owned by plue."])}
PLUE_API const char *plue_version(void);

${comment(["plue_host_main: defined by the host library; `plue host` calls it off the main thread."])}
PLUE_API int plue_host_main(int argc, char **argv);

/* ---- Bridge side: called by @plue/ffi, not by hosts. ---- */
typedef int (*plue__call_fn)(int op, int64_t handle, const char *a, const char *b, void *record);
typedef struct plue__api {
    int api_version;
    plue__call_fn call;
} plue__api_t;
PLUE_API int plue__bind(const plue__api_t *api);
PLUE_API int plue__unbind(void);
PLUE_API void plue__complete(void *record, int code, const char *message, const char *json, int64_t value);
PLUE_API void plue__event_push(const char *json);
PLUE_API int64_t plue__live_strings(void);
PLUE_API void plue__mirror_put(int64_t handle, const char *json);
PLUE_API void plue__mirror_remove(int64_t handle);
PLUE_API void plue__mirror_clear(void);

#ifdef __cplusplus
}
#endif

#endif /* PLUE_H */

#ifdef PLUE_IMPLEMENTATION
#ifndef PLUE__IMPLEMENTED
#define PLUE__IMPLEMENTED

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PLUE__DESTROY_OP ${DESTROY_OP}
#define PLUE__QUEUE_MAX 8192

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

static char *plue__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *copy = (char *)malloc(n);
    if (copy != NULL) memcpy(copy, s, n);
    return copy;
}

/* Strings handed to the caller carry a header whose tag is bound to its own address, so that
   plue_free_json can refuse a pointer plue did not hand out, or one freed already (the tag is
   cleared before the memory is released, and the allocator overwrites it once it is free). */
typedef struct plue__owned_head { uint64_t tag; uint64_t size; } plue__owned_head;
#define PLUE__OWNED_TAG 0x706c75652d6a736fULL
static char *plue__owned_copy(const char *s, size_t n) {
    plue__owned_head *head = (plue__owned_head *)malloc(sizeof(plue__owned_head) + n + 1);
    char *text;
    if (head == NULL) return NULL;
    head->tag = PLUE__OWNED_TAG ^ (uint64_t)(uintptr_t)head;
    head->size = n;
    text = (char *)(head + 1);
    memcpy(text, s, n);
    text[n] = '\\0';
    return text;
}
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
        memcpy(plue__error_message, message, n);
    }
    plue__error_message[n] = '\\0';
    return code;
}

/* ---- shared state ---- */
static pthread_mutex_t plue__lock = PTHREAD_MUTEX_INITIALIZER;
static int plue__bound = 0;
static plue__call_fn plue__js_call = NULL;
static pthread_t plue__main_thread;
static int64_t plue__strings = 0;

static int plue__utf8_valid(const char *s) {
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

static int64_t plue__handle_value(plue_session_t session) { return (int64_t)(intptr_t)session; }

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

static char *plue__mirror_get(int64_t handle) {
    plue__mirrored *node;
    char *copy = NULL;
    pthread_mutex_lock(&plue__mirror_lock);
    for (node = plue__mirror[plue__bucket(handle)]; node != NULL; node = node->next) {
        if (node->handle == handle) {
            copy = plue__owned_copy(node->json, node->size);
            break;
        }
    }
    pthread_mutex_unlock(&plue__mirror_lock);
    if (copy != NULL) { pthread_mutex_lock(&plue__lock); plue__strings++; pthread_mutex_unlock(&plue__lock); }
    return copy;
}

PLUE_API void plue__mirror_put(int64_t handle, const char *json) {
    plue__mirrored *node, *fresh;
    char *copy, *old = NULL;
    size_t bucket = plue__bucket(handle);
    if (json == NULL) return;
    copy = plue__strdup(json);
    fresh = (plue__mirrored *)malloc(sizeof(plue__mirrored));
    if (copy == NULL || fresh == NULL) { free(copy); free(fresh); plue__mirror_remove(handle); return; }
    pthread_mutex_lock(&plue__mirror_lock);
    for (node = plue__mirror[bucket]; node != NULL; node = node->next) if (node->handle == handle) break;
    if (node != NULL) {
        old = node->json;
        node->json = copy;
        node->size = strlen(copy);
    } else {
        fresh->handle = handle;
        fresh->json = copy;
        fresh->size = strlen(copy);
        fresh->next = plue__mirror[bucket];
        plue__mirror[bucket] = fresh;
        fresh = NULL;
    }
    pthread_mutex_unlock(&plue__mirror_lock);
    free(old);
    free(fresh);
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
} plue__record;

PLUE_API void plue__complete(void *record, int code, const char *message, const char *json, int64_t value) {
    plue__record *rec = (plue__record *)record;
    if (rec == NULL) return;
    pthread_mutex_lock(&rec->mutex);
    rec->code = code;
    rec->message = message != NULL ? plue__strdup(message) : NULL;
    rec->json = NULL;
    if (json != NULL) {
        rec->json = plue__owned_copy(json, strlen(json));
        if (rec->json == NULL) rec->code = PLUE_ERR_OUT_OF_MEMORY;
        else { pthread_mutex_lock(&plue__lock); plue__strings++; pthread_mutex_unlock(&plue__lock); }
    }
    rec->value = value;
    rec->done = 1;
    pthread_cond_signal(&rec->cond);
    pthread_mutex_unlock(&rec->mutex);
}

static int plue__invoke(int op, int64_t handle, const char *a, const char *b, plue__record *rec) {
    plue__call_fn call;
    int bound, accepted;
    pthread_t main_thread;
    memset(rec, 0, sizeof(*rec));
    pthread_mutex_lock(&plue__lock);
    call = plue__js_call;
    bound = plue__bound;
    main_thread = plue__main_thread;
    pthread_mutex_unlock(&plue__lock);
    if (!bound || call == NULL) {
        return plue__fail(PLUE_ERR_NOT_BOUND, "no plue bridge is bound: run this host with \`plue host\`");
    }
    if (pthread_equal(pthread_self(), main_thread)) {
        return plue__fail(PLUE_ERR_WRONG_THREAD, "a blocking plue call was made on the JavaScript main thread; call it from another thread");
    }
    pthread_mutex_init(&rec->mutex, NULL);
    pthread_cond_init(&rec->cond, NULL);
    accepted = call(op, handle, a, b, rec);
    pthread_mutex_lock(&rec->mutex);
    if (accepted == 1) {
        while (!rec->done) pthread_cond_wait(&rec->cond, &rec->mutex);
    } else if (!rec->done) {
        rec->code = PLUE_ERR_INTERNAL;
        rec->message = plue__strdup("the plue bridge failed to start the call");
    }
    pthread_mutex_unlock(&rec->mutex);
    pthread_mutex_destroy(&rec->mutex);
    pthread_cond_destroy(&rec->cond);
    plue__fail(rec->code, rec->code == PLUE_OK ? NULL : (rec->message != NULL ? rec->message : "unknown failure"));
    free(rec->message);
    rec->message = NULL;
    if (rec->code != PLUE_OK && rec->json != NULL) plue_free_json(rec->json);
    return rec->code;
}

${bodies}

PLUE_API void plue_session_destroy(plue_session_t session) {
    plue__record rec;
    if (session == NULL) { plue__fail(PLUE_ERR_INVALID_HANDLE, "plue_session_destroy: the session handle is NULL"); return; }
    (void)plue__invoke(PLUE__DESTROY_OP, plue__handle_value(session), NULL, NULL, &rec);
}

PLUE_API const char *plue_get_last_error(void) { return plue__error_message; }

PLUE_API int plue_get_last_error_code(void) { return plue__error_code; }

PLUE_API void plue_free_json(char *json) {
    plue__owned_head *head;
    if (json == NULL) return;
    head = (plue__owned_head *)(void *)json - 1;
    if (head->tag != (PLUE__OWNED_TAG ^ (uint64_t)(uintptr_t)head)) {
        plue__fail(PLUE_ERR_INVALID_ARGUMENT, "plue_free_json: not a string returned by plue, or one freed already; nothing was freed");
        return;
    }
    head->tag = 0;
    free(head);
    pthread_mutex_lock(&plue__lock);
    plue__strings--;
    pthread_mutex_unlock(&plue__lock);
}

PLUE_API const char *plue_version(void) { return "${VERSION}"; }

PLUE_API int64_t plue__live_strings(void) {
    int64_t n;
    pthread_mutex_lock(&plue__lock);
    n = plue__strings;
    pthread_mutex_unlock(&plue__lock);
    return n;
}

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

static void plue__deliver(const char *json) {
    plue__sub *copy;
    int n, i;
    pthread_mutex_lock(&plue__lock);
    n = plue__nsubs;
    copy = n > 0 ? (plue__sub *)malloc(sizeof(plue__sub) * (size_t)n) : NULL;
    if (copy != NULL) memcpy(copy, plue__subs, sizeof(plue__sub) * (size_t)n);
    pthread_mutex_unlock(&plue__lock);
    for (i = 0; copy != NULL && i < n; i++) {
        int still = 0, j;
        /* Skip a subscription removed by an earlier callback of this same event. */
        pthread_mutex_lock(&plue__lock);
        for (j = 0; j < plue__nsubs; j++) if (plue__subs[j].id == copy[i].id) still = 1;
        pthread_mutex_unlock(&plue__lock);
        if (still) copy[i].callback(json, copy[i].userdata);
    }
    free(copy);
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
            snprintf(lagged, sizeof(lagged), "{\\"_tag\\":\\"Lagged\\",\\"missed\\":%lu}", (unsigned long)missed);
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
        if (pthread_create(&plue__dispatcher, NULL, plue__dispatch_main, NULL) == 0) {
            plue__dispatching = 1;
            pthread_detach(plue__dispatcher);
        }
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

PLUE_API void plue__event_push(const char *json) {
    plue__event *event;
    if (json == NULL) return;
    pthread_mutex_lock(&plue__lock);
    if (plue__nsubs == 0 || !plue__dispatching) { pthread_mutex_unlock(&plue__lock); return; }
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
    if (event != NULL) event->json = plue__strdup(json);
    if (event == NULL || event->json == NULL) { free(event); plue__missed++; pthread_mutex_unlock(&plue__lock); return; }
    event->next = NULL;
    if (plue__tail != NULL) plue__tail->next = event; else plue__head = event;
    plue__tail = event;
    plue__queued++;
    pthread_cond_signal(&plue__queue_cond);
    pthread_mutex_unlock(&plue__lock);
}

/* ---- binding ---- */
PLUE_API int plue__bind(const plue__api_t *api) {
    if (api == NULL || api->api_version != PLUE_API_VERSION || api->call == NULL) return -1;
    pthread_mutex_lock(&plue__lock);
    plue__js_call = api->call;
    plue__main_thread = pthread_self();
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
    left = plue__nsubs;
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
    pthread_mutex_unlock(&plue__lock);
    return left;
}

#ifdef __cplusplus
}
#endif

#endif /* PLUE__IMPLEMENTED */
#endif /* PLUE_IMPLEMENTATION */
`
}
