#ifndef CMALLOCCOUNTER_H
#define CMALLOCCOUNTER_H
#include <stdint.h>

/// Allocation calls (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign) made by
/// the calling thread since it started, and the bytes they asked for. Counted by the
/// interposed allocator in malloc_counter.c, linked only into NormalizerBench.
uint64_t malloc_counter_allocations(void);
uint64_t malloc_counter_bytes(void);
/// 1 once the interposed malloc has been called at least once (the interposition works).
int malloc_counter_active(void);

#endif
