/*
 * page_alloc.h: a buddy allocator for runs of 4 KiB pages. Pure: all state is in the
 * struct page_alloc the caller owns, memory is named by address, and the only outside call is
 * panic(). The kernel runs it on the identity-mapped RAM (virtual == physical); the host unit
 * tests run it on a buffer.
 *
 * Design. RAM minus the reserved ranges becomes up to PAGE_ALLOC_MAX_ZONES zones (contiguous
 * runs of pages). Each zone keeps one metadata byte per page, carved from its own first pages,
 * so metadata is proportional to RAM, not to the span of addresses (a hostile memory map
 * cannot make us reserve gigabytes). Free blocks are 2^order pages, aligned to their size
 * relative to the zone's base, and sit on one doubly-linked free list per order whose links
 * live inside the free pages themselves. Allocating n pages takes the smallest block of order
 * >= ceil(log2 n) and gives the unused tail back; freeing coalesces with the buddy while it is
 * free. Both are O(log n) list operations plus O(n) to mark the n pages (which the caller is
 * going to touch anyway). Any page range inside an allocation may be freed on its own (the
 * heap trims aligned allocations that way).
 *
 * Checks (each a panic with a message): freeing a page that is free (double free), that is
 * not ours (outside every zone, reserved, or the allocator's own metadata), or a misaligned
 * address; a free-list entry whose metadata disagrees (a use-after-free write into a free
 * page's list links).
 */
#ifndef XENKIT_LIB_PAGE_ALLOC_H
#define XENKIT_LIB_PAGE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#define PAGE_ALLOC_PAGE_SIZE 4096u
#define PAGE_ALLOC_MAX_ZONES 32
#define PAGE_ALLOC_MAX_ORDER 20 /* largest block: 2^20 pages = 4 GiB */

/* A range of addresses [base, base + len). */
struct pa_range {
    uint64_t base;
    uint64_t len;
};

struct pa_zone {
    uint64_t base;   /* address of page 0 of the zone (page aligned) */
    uint64_t npages; /* pages managed, after the metadata */
    uint8_t *meta;   /* one byte per page */
};

struct page_alloc {
    struct pa_zone zones[PAGE_ALLOC_MAX_ZONES]; /* sorted by base, disjoint */
    unsigned nzones;
    void *free_list[PAGE_ALLOC_MAX_ORDER + 1];  /* first free block of each order */
    uint64_t total_pages;   /* pages that can be allocated */
    uint64_t free_pages;
    uint64_t meta_pages;    /* pages used for metadata */
    uint64_t dropped_pages; /* RAM pages left out: zones beyond PAGE_ALLOC_MAX_ZONES, or too
                               small to hold their own metadata */
};

/* Sets up `pa` to manage the pages of `ram` (n ranges, any order, may overlap) minus the pages
 * touching any of `reserved` (m ranges). Partial pages are never used. `ram` and `reserved`
 * may be modified (sorted). Everything usable starts free. */
void page_alloc_init(struct page_alloc *pa, struct pa_range *ram, unsigned n,
                     const struct pa_range *reserved, unsigned m);

/* Adds more RAM later (e.g. RAM above 4 GiB once it is mapped). Same rules as init: the range
 * must not overlap a zone already managed (such pages are left out). */
void page_alloc_add(struct page_alloc *pa, uint64_t base, uint64_t len);

/* n >= 1 contiguous pages, page aligned; NULL if there is no such run (never panics). */
void *page_alloc(struct page_alloc *pa, size_t n);

/* Frees n pages at p, which must all be allocated; panics otherwise. */
void page_free(struct page_alloc *pa, void *p, size_t n);

/* If p is the first page of an allocated run, the run's length in pages; else 0 (a free
 * page, a page inside a run, not ours). Freeing part of a run splits it: what follows the
 * freed pages is a run of its own. O(length). */
size_t page_run_length(const struct page_alloc *pa, const void *p);

/* True if p lies in a page this allocator manages (free or not). */
int page_alloc_owns(const struct page_alloc *pa, const void *p);

/* Size of the largest free block, in pages (what the biggest page_alloc can get). */
uint64_t page_alloc_largest_free(const struct page_alloc *pa);

/* Walks every zone and free list and panics if the metadata, the lists and free_pages
 * disagree. O(pages): for tests and debugging. */
void page_alloc_check(const struct page_alloc *pa);

/* The heap's page source (lib/heap.h) served by pa: what the kernel's malloc and the heap's
 * host tests run on. */
struct page_source;
void page_alloc_source(struct page_alloc *pa, struct page_source *src);

#endif
