/* mem_arena.h: page-aligned memory from the host for the allocator tests. Include it before
 * test_common.h: after that, malloc and free mean our heap's (see xk_libc.h). */
#ifndef XENKIT_TEST_MEM_ARENA_H
#define XENKIT_TEST_MEM_ARENA_H

#include <stddef.h>
#include <sys/mman.h>

/* len bytes (a multiple of 4096), page aligned, zero-filled; NULL on failure. */
static inline void *arena_map(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static inline void arena_unmap(void *p, size_t len)
{
    munmap(p, len);
}

#endif
