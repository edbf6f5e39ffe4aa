/* malloc.c: the standard allocation functions on one global heap (lib/heap.c), fed by the
 * kernel's page allocator through malloc_init(). Single vCPU, no interrupts touch the heap: no
 * locking. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <xenkit/malloc.h>
#include <xenkit/panic.h>

#include "lib/heap.h"

static struct heap heap;
static bool heap_ready;

void malloc_init(const struct page_source *src)
{
    heap_init(&heap, src);
    heap_ready = true;
}

static struct heap *the_heap(const char *what, size_t size)
{
    if (!heap_ready)
        panic("%s(%zu) before the heap is set up", what, size);
    return &heap;
}

void *malloc(size_t size)
{
    return heap_alloc(the_heap("malloc", size), size, 0, 0, "malloc");
}

void *try_malloc(size_t size)
{
    return heap_alloc(the_heap("try_malloc", size), size, 0, HEAP_NOPANIC, "try_malloc");
}

void free(void *p)
{
    if (p != NULL)
        heap_free(the_heap("free", 0), p);
}

void *calloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        panic("calloc(%zu, %zu): size overflows", n, size);
    return heap_alloc(the_heap("calloc", n * size), n * size, 0, HEAP_ZERO, "calloc");
}

void *try_calloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    return heap_alloc(the_heap("try_calloc", n * size), n * size, 0, HEAP_ZERO | HEAP_NOPANIC,
                      "try_calloc");
}

void *realloc(void *p, size_t size)
{
    return heap_realloc(the_heap("realloc", size), p, size, 0);
}

void *try_realloc(void *p, size_t size)
{
    return heap_realloc(the_heap("try_realloc", size), p, size, HEAP_NOPANIC);
}

/* C17: any power-of-two alignment, size need not be a multiple of it. A bad alignment
 * returns NULL (that is not running out of memory). */
void *aligned_alloc(size_t align, size_t size)
{
    if (align == 0 || (align & (align - 1)))
        return NULL;
    return heap_alloc(the_heap("aligned_alloc", size), size, align, 0, "aligned_alloc");
}

void *try_aligned_alloc(size_t align, size_t size)
{
    if (align == 0 || (align & (align - 1)))
        return NULL;
    return heap_alloc(the_heap("try_aligned_alloc", size), size, align, HEAP_NOPANIC,
                      "try_aligned_alloc");
}

int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    *out = heap_alloc(the_heap("posix_memalign", size), size, align, 0, "posix_memalign");
    return 0;
}

size_t malloc_usable_size(void *p)
{
    return p ? heap_usable_size(the_heap("malloc_usable_size", 0), p) : 0;
}

void malloc_get_stats(struct malloc_stats *out)
{
    out->live_objects = heap.live_objects;
    out->slab_pages = heap.slab_pages;
    out->large_pages = heap.large_pages;
    out->free_pages = heap.src.free_pages ? heap.src.free_pages(heap.src.ctx) : 0;
}

void malloc_trim(void)
{
    if (heap_ready)
        heap_trim(&heap);
}
