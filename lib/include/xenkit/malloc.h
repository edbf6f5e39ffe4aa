/*
 * xenkit/malloc.h: the heap beyond <stdlib.h>. The standard functions (malloc, calloc,
 * realloc, aligned_alloc, posix_memalign) panic when memory runs out, with the request and
 * what is left; the try_ variants return NULL instead, for code that can cope.
 */
#ifndef XENKIT_MALLOC_H
#define XENKIT_MALLOC_H

#include <stddef.h>

struct page_source;

/* NULL when out of memory (or, for try_calloc, when n * size overflows; for
 * try_aligned_alloc, when align is not a power of two). try_realloc leaves p untouched when
 * it fails. */
void *try_malloc(size_t size);
void *try_calloc(size_t n, size_t size);
void *try_realloc(void *p, size_t size);
void *try_aligned_alloc(size_t align, size_t size);

/* How many bytes the live object p can hold (>= what was asked for). */
size_t malloc_usable_size(void *p);

struct malloc_stats {
    size_t live_objects; /* allocated and not yet freed */
    size_t slab_pages;   /* 4 KiB pages holding small objects */
    size_t large_pages;  /* 4 KiB pages holding large objects */
    size_t free_pages;   /* what the page allocator still has */
};
void malloc_get_stats(struct malloc_stats *out);

/* Gives cached empty slabs back to the page allocator. */
void malloc_trim(void);

/* Kernel only: where the heap gets its pages. Called once by mm_init(). */
void malloc_init(const struct page_source *src);

#endif
