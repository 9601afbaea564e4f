/*
 * oom_shim.c - an LD_PRELOAD allocator for the tests that makes malloc, calloc and realloc fail
 * on demand (they return NULL with errno ENOMEM), and otherwise hands every call to the real
 * allocator (dlsym(RTLD_NEXT)). Inert until a program asks, through the functions it exports:
 *
 *   void plue_oom_thread(long spare)  on the calling thread, `spare` more allocations succeed,
 *                                     then every one fails; spare < 0: none fails (the default)
 *   void plue_oom_others(int on)      every other thread's allocations fail while on (the
 *                                     caller's do not), e.g. plue's reader and dispatcher threads
 *   long plue_oom_failed(void)        how many allocations have failed so far
 *
 * A program finds them with dlsym(RTLD_DEFAULT, ...), so it knows whether the shim is loaded.
 * Build: cc -shared -fPIC -o liboom.so oom_shim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef void *(*malloc_fn)(size_t);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);
typedef void (*free_fn)(void *);

static malloc_fn real_malloc;
static calloc_fn real_calloc;
static realloc_fn real_realloc;
static free_fn real_free;

/* dlsym itself may allocate (calloc) before the real functions are known: a small arena serves it. */
static unsigned char boot[8192] __attribute__((aligned(16)));
static size_t boot_used;
static __thread int resolving __attribute__((tls_model("initial-exec")));

static __thread long spare_here __attribute__((tls_model("initial-exec"))) = -1;
static __thread int spared __attribute__((tls_model("initial-exec")));
static int fail_others;
static long failed;

static int in_boot(const void *p) { return (const unsigned char *)p >= boot && (const unsigned char *)p < boot + sizeof boot; }

static void *boot_alloc(size_t n) {
    size_t at = (__atomic_fetch_add(&boot_used, (n + 15) & ~(size_t)15, __ATOMIC_RELAXED));
    if (at + n > sizeof boot) return NULL;
    return boot + at;
}

static void resolve(void) {
    if (real_free != NULL) return;
    resolving = 1;
    real_malloc = (malloc_fn)dlsym(RTLD_NEXT, "malloc");
    real_calloc = (calloc_fn)dlsym(RTLD_NEXT, "calloc");
    real_realloc = (realloc_fn)dlsym(RTLD_NEXT, "realloc");
    real_free = (free_fn)dlsym(RTLD_NEXT, "free");
    resolving = 0;
}

static int refuse(void) {
    int here = spare_here == 0;
    if (spare_here > 0) spare_here--;
    if (here || (__atomic_load_n(&fail_others, __ATOMIC_RELAXED) && !spared)) {
        __atomic_add_fetch(&failed, 1, __ATOMIC_RELAXED);
        errno = ENOMEM;
        return 1;
    }
    return 0;
}

void plue_oom_thread(long spare) { spare_here = spare < 0 ? -1 : spare; }

void plue_oom_others(int on) {
    spared = on;
    __atomic_store_n(&fail_others, on, __ATOMIC_SEQ_CST);
}

long plue_oom_failed(void) { return __atomic_load_n(&failed, __ATOMIC_RELAXED); }

void *malloc(size_t n) {
    if (resolving) return boot_alloc(n);
    resolve();
    if (refuse()) return NULL;
    return real_malloc(n);
}

void *calloc(size_t count, size_t size) {
    if (resolving) {
        void *p = boot_alloc(count * size);
        if (p != NULL) memset(p, 0, count * size);
        return p;
    }
    resolve();
    if (refuse()) return NULL;
    return real_calloc(count, size);
}

void *realloc(void *p, size_t n) {
    resolve();
    if (in_boot(p)) {
        void *moved = malloc(n);
        if (moved != NULL) memcpy(moved, p, n);
        return moved;
    }
    if (n > 0 && refuse()) return NULL;
    return real_realloc(p, n);
}

void free(void *p) {
    if (p == NULL || in_boot(p)) return;
    resolve();
    real_free(p);
}
