// Counts allocations by interposing the allocator: an executable that defines malloc & co.
// takes every call to them from the process, libswiftCore's swift_slowAlloc included (the
// dynamic linker resolves the executable's definitions first). Each wrapper bumps the calling
// thread's counters and forwards to glibc's own entry points (__libc_malloc & co.), which
// avoids dlsym(RTLD_NEXT), itself an allocating call. Only NormalizerBench links this target.
#include "CMallocCounter.h"
#include <errno.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

#define TLS __thread __attribute__((tls_model("initial-exec")))
static TLS uint64_t allocations;
static TLS uint64_t bytes;
static int active;

static inline void count(size_t size) {
    allocations += 1;
    bytes += size;
    active = 1;
}

void *malloc(size_t size) { count(size); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { count(n * size); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { count(size); return __libc_realloc(p, size); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t alignment, size_t size) { count(size); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { count(size); return __libc_memalign(alignment, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    count(size);
    void *p = __libc_memalign(alignment, size);
    if (p == NULL && size != 0) return ENOMEM;
    *out = p;
    return 0;
}

uint64_t malloc_counter_allocations(void) { return allocations; }
uint64_t malloc_counter_bytes(void) { return bytes; }
int malloc_counter_active(void) { return active; }
