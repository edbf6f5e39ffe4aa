/*
 * heap.h: the allocator behind malloc (lib/malloc.c). Pure: the state is a struct heap, pages
 * come from a page_source, the only outside call is panic(); so the host unit tests run it
 * on their own page source.
 *
 * Design.
 *  - Small objects (up to HEAP_SMALL_MAX bytes) live in slabs: one 4 KiB page holding a 64-byte
 *    header (magic, size class, a bitmap of the objects in use, list links) and objects of
 *    one size class (17 classes, 16 to 2016 bytes, all multiples of 16). A slab with a free
 *    object is on its class's list; each class keeps at most one empty slab, other empty
 *    slabs go back to the page source. Allocation finds the first clear bit of the bitmap.
 *  - Large objects are page runs with no header, so a 1 MiB buffer takes exactly 256 pages
 *    (a header would make it 257, which a buddy allocator serves from 512). The page source
 *    knows each run's length (run_pages).
 *  - free(p) tells them apart from p alone: slab objects are never page aligned, large
 *    objects always are.
 *  - Objects are 16-byte aligned. aligned_alloc up to 64 uses a slab class whose size is a
 *    multiple of the alignment (the header is 64 bytes, so every object in it is aligned);
 *    larger alignments take a page run, over-allocated and trimmed when above 4 KiB.
 *  - Checks: the page source says whether p is its memory at all; then for slabs the
 *    header's magic, the object boundary and the in-use bit (double free), for large objects
 *    that p starts a live run. Any failure panics with the pointer and the reason.
 */
#ifndef XENKIT_LIB_HEAP_H
#define XENKIT_LIB_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define HEAP_PAGE_SIZE 4096u
#define HEAP_NCLASSES 17
#define HEAP_SMALL_MAX 2016u

/* Where the heap gets pages. alloc returns n page-aligned contiguous pages or NULL; free must
 * accept any sub-run of what alloc returned (the heap trims runs). run_pages(p) is the length
 * of the live run starting at p (what is left of it after such trims), 0 if p starts none.
 * owns (may be NULL) says whether p lies in memory the source hands out; free_pages is for
 * the out-of-memory message and the statistics. */
struct page_source {
    void *ctx;
    void *(*alloc)(void *ctx, size_t npages);
    void (*free)(void *ctx, void *p, size_t npages);
    size_t (*run_pages)(void *ctx, const void *p);
    int (*owns)(void *ctx, const void *p);
    size_t (*free_pages)(void *ctx);
};

struct heap_slab;

struct heap {
    struct page_source src;
    struct heap_slab *partial[HEAP_NCLASSES]; /* slabs with at least one free object */
    unsigned empty[HEAP_NCLASSES];            /* how many of those are entirely free */
    size_t slab_pages;                        /* pages held as slabs */
    size_t large_pages;                       /* pages held by large objects (with headers) */
    size_t live_objects;                      /* allocations not yet freed */
};

/* Flags for heap_alloc. */
#define HEAP_NOPANIC 1u /* return NULL when out of memory instead of panicking */
#define HEAP_ZERO    2u /* zero the object */

void heap_init(struct heap *h, const struct page_source *src);

/* size bytes aligned to align (a power of two; 0 or up to 16 means 16). size 0 gives a unique
 * minimal object. Out of memory: panic("out of memory: <what>(<size>) with N KiB free")
 * naming `what`, or NULL with HEAP_NOPANIC. A bad alignment returns NULL. */
void *heap_alloc(struct heap *h, size_t size, size_t align, unsigned flags, const char *what);

/* Frees p (NULL is ignored); panics if p is not a live object of this heap. */
void heap_free(struct heap *h, void *p);

/* realloc semantics: NULL p is heap_alloc; size 0 frees p and returns NULL; otherwise the
 * object is resized in place when it fits (a large object's surplus pages are given back) or
 * moved. On failure with HEAP_NOPANIC, NULL and p is untouched. */
void *heap_realloc(struct heap *h, void *p, size_t size, unsigned flags);

/* The usable size of live object p (>= what was asked for). */
size_t heap_usable_size(struct heap *h, const void *p);

/* Gives the cached empty slabs back to the page source. */
void heap_trim(struct heap *h);

#endif
