/* page_alloc.c: the buddy page allocator described in page_alloc.h. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <xenkit/panic.h>

#include "lib/heap.h"
#include "lib/page_alloc.h"

#define PG PAGE_ALLOC_PAGE_SIZE

/* Metadata byte of a page. A free block of order k has FREE_HEAD|k on its first page and
 * FREE_BODY on the others; an allocated run has USED_HEAD on its first page and USED on the
 * others, so its length can be found from its start (page_run_length). */
#define META_USED      0x00
#define META_USED_HEAD 0x20
#define META_FREE_BODY 0x40
#define META_FREE_HEAD 0x80
#define META_ORDER     0x3f

/* The links of a free block, kept in its first page. */
struct pa_node {
    struct pa_node *next, *prev;
};

static uint64_t addr_of(const void *p)
{
    return (uint64_t)(uintptr_t)p;
}

static void *ptr_of(uint64_t a)
{
    return (void *)(uintptr_t)a;
}

static void sort_ranges(struct pa_range *r, unsigned n)
{
    for (unsigned i = 1; i < n; i++) {
        struct pa_range x = r[i];
        unsigned j = i;
        for (; j > 0 && r[j - 1].base > x.base; j--)
            r[j] = r[j - 1];
        r[j] = x;
    }
}

/* End of a range, saturated instead of wrapping. */
static uint64_t range_end(uint64_t base, uint64_t len)
{
    return base + len < base ? UINT64_MAX : base + len;
}

static uint64_t round_down(uint64_t a)
{
    return a & ~(uint64_t)(PG - 1);
}

static uint64_t round_up(uint64_t a)
{
    return a > UINT64_MAX - (PG - 1) ? round_down(UINT64_MAX) : round_down(a + PG - 1);
}

/* The zone holding address a, or NULL. Zones are sorted: binary search. */
static const struct pa_zone *find_zone(const struct page_alloc *pa, uint64_t a)
{
    unsigned lo = 0, hi = pa->nzones;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        const struct pa_zone *z = &pa->zones[mid];
        if (a < z->base)
            hi = mid;
        else if (a - z->base >= z->npages * PG)
            lo = mid + 1;
        else
            return z;
    }
    return NULL;
}

static void list_push(struct page_alloc *pa, const struct pa_zone *z, uint64_t idx,
                      unsigned order)
{
    struct pa_node *node = ptr_of(z->base + idx * PG);
    node->prev = NULL;
    node->next = pa->free_list[order];
    if (node->next)
        node->next->prev = node;
    pa->free_list[order] = node;
    z->meta[idx] = (uint8_t)(META_FREE_HEAD | order);
}

static void list_remove(struct page_alloc *pa, struct pa_node *node, unsigned order)
{
    if (node->prev)
        node->prev->next = node->next;
    else
        pa->free_list[order] = node->next;
    if (node->next)
        node->next->prev = node->prev;
}

/* Puts the free block [idx, idx + 2^order) of zone z on a list, merged with its buddies while
 * they are free. Its pages other than the head must already be FREE_BODY. */
static void insert_free(struct page_alloc *pa, const struct pa_zone *z, uint64_t idx,
                        unsigned order)
{
    while (order < PAGE_ALLOC_MAX_ORDER) {
        uint64_t buddy = idx ^ (1ull << order);
        if (buddy + (1ull << order) > z->npages ||
            z->meta[buddy] != (uint8_t)(META_FREE_HEAD | order))
            break;
        list_remove(pa, ptr_of(z->base + buddy * PG), order);
        z->meta[buddy] = META_FREE_BODY;
        z->meta[idx] = META_FREE_BODY;
        idx &= ~(1ull << order);
        order++;
    }
    list_push(pa, z, idx, order);
}

/* Frees [idx, idx + n) of zone z (no checks): split into aligned power-of-two blocks. */
static void free_range(struct page_alloc *pa, const struct pa_zone *z, uint64_t idx, uint64_t n)
{
    memset(z->meta + idx, META_FREE_BODY, n);
    pa->free_pages += n;
    while (n > 0) {
        unsigned order = 0;
        while (order < PAGE_ALLOC_MAX_ORDER && !(idx & (1ull << order)) &&
               (2ull << order) <= n)
            order++;
        insert_free(pa, z, idx, order);
        idx += 1ull << order;
        n -= 1ull << order;
    }
}

/* Records the usable page range [base, end) as a zone candidate. When all slots are taken the
 * smallest range loses (its pages count as dropped). */
static void add_candidate(struct page_alloc *pa, uint64_t base, uint64_t end)
{
    uint64_t pages = (end - base) / PG;
    /* One page of metadata covers 4096 pages; a zone needs at least one page besides it. */
    if (pages < 2) {
        pa->dropped_pages += pages;
        return;
    }
    if (pa->nzones == PAGE_ALLOC_MAX_ZONES) {
        unsigned small = 0;
        for (unsigned i = 1; i < pa->nzones; i++)
            if (pa->zones[i].npages < pa->zones[small].npages)
                small = i;
        if (pa->zones[small].npages >= pages) {
            pa->dropped_pages += pages;
            return;
        }
        pa->dropped_pages += pa->zones[small].npages;
        memmove(&pa->zones[small], &pa->zones[small + 1],
                (pa->nzones - small - 1) * sizeof(pa->zones[0]));
        pa->nzones--;
    }
    unsigned i = pa->nzones;
    for (; i > 0 && pa->zones[i - 1].base > base; i--)
        pa->zones[i] = pa->zones[i - 1];
    pa->zones[i] = (struct pa_zone){ .base = base, .npages = pages, .meta = NULL };
    pa->nzones++;
}

/* Turns a candidate (base, npages covering everything) into a zone: metadata first, then the
 * pages after it all free. */
static void setup_zone(struct page_alloc *pa, struct pa_zone *z)
{
    uint64_t all = z->npages;
    uint64_t meta_pages = (all + PG - 1) / PG;
    z->meta = ptr_of(z->base);
    z->base += meta_pages * PG;
    z->npages = all - meta_pages;
    pa->meta_pages += meta_pages;
    pa->total_pages += z->npages;
    free_range(pa, z, 0, z->npages);
}

void page_alloc_init(struct page_alloc *pa, struct pa_range *ram, unsigned n,
                     const struct pa_range *reserved, unsigned m)
{
    struct pa_range res[128];
    unsigned nres = 0;

    memset(pa, 0, sizeof(*pa));
    /* Reserved ranges, widened to whole pages, sorted. More than fit would be a caller bug:
     * better to panic than to hand out something reserved. */
    if (m > sizeof(res) / sizeof(res[0]))
        panic("page_alloc_init: %u reserved ranges (at most %zu)", m,
              sizeof(res) / sizeof(res[0]));
    for (unsigned i = 0; i < m; i++) {
        if (reserved[i].len == 0)
            continue;
        uint64_t b = round_down(reserved[i].base);
        res[nres++] = (struct pa_range){ b, round_up(range_end(reserved[i].base,
                                                               reserved[i].len)) - b };
    }
    sort_ranges(res, nres);
    sort_ranges(ram, n);

    /* RAM clipped to whole pages and merged where ranges overlap or touch, in place. */
    unsigned nm = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t b = round_up(ram[i].base), e = round_down(range_end(ram[i].base, ram[i].len));
        if (b >= e)
            continue;
        if (nm > 0 && b <= ram[nm - 1].base + ram[nm - 1].len) {
            uint64_t last = ram[nm - 1].base + ram[nm - 1].len;
            if (e > last)
                ram[nm - 1].len = e - ram[nm - 1].base;
            continue;
        }
        ram[nm++] = (struct pa_range){ b, e - b };
    }
    /* Then minus the reserved ranges. */
    for (unsigned i = 0; i < nm; i++) {
        uint64_t b = ram[i].base, e = ram[i].base + ram[i].len;
        for (unsigned r = 0; r < nres && b < e; r++) {
            uint64_t rb = res[r].base, re = res[r].base + res[r].len;
            if (re <= b || rb >= e)
                continue;
            if (rb > b)
                add_candidate(pa, b, rb);
            b = re;
        }
        if (b < e)
            add_candidate(pa, b, e);
    }
    for (unsigned i = 0; i < pa->nzones; i++)
        setup_zone(pa, &pa->zones[i]);
}

void page_alloc_add(struct page_alloc *pa, uint64_t base, uint64_t len)
{
    uint64_t b = round_up(base), e = round_down(range_end(base, len));
    if (b >= e)
        return;
    for (unsigned i = 0; i < pa->nzones; i++) {
        uint64_t zb = addr_of(pa->zones[i].meta), ze = pa->zones[i].base + pa->zones[i].npages * PG;
        if (b < ze && zb < e) {
            pa->dropped_pages += (e - b) / PG;
            return;
        }
    }
    if (pa->nzones == PAGE_ALLOC_MAX_ZONES) {
        /* add_candidate would evict a live zone to make room: refuse instead. */
        pa->dropped_pages += (e - b) / PG;
        return;
    }
    add_candidate(pa, b, e);
    for (unsigned i = 0; i < pa->nzones; i++)
        if (pa->zones[i].meta == NULL)
            setup_zone(pa, &pa->zones[i]);
}

static unsigned order_for(size_t n)
{
    unsigned k = 0;
    while (k <= PAGE_ALLOC_MAX_ORDER && (1ull << k) < n)
        k++;
    return k;
}

void *page_alloc(struct page_alloc *pa, size_t n)
{
    if (n == 0 || n > pa->free_pages)
        return NULL;
    unsigned k = order_for(n), o = k;
    while (o <= PAGE_ALLOC_MAX_ORDER && pa->free_list[o] == NULL)
        o++;
    if (o > PAGE_ALLOC_MAX_ORDER)
        return NULL;

    struct pa_node *node = pa->free_list[o];
    uint64_t a = addr_of(node);
    const struct pa_zone *z = find_zone(pa, a);
    uint64_t idx = z ? (a - z->base) / PG : 0;
    if (z == NULL || (a - z->base) % PG || z->meta[idx] != (uint8_t)(META_FREE_HEAD | o) ||
        node->prev != NULL)
        panic("page allocator: free list of order %u corrupt at 0x%lx", o, (unsigned long)a);
    list_remove(pa, node, o);
    while (o > k) { /* split, keeping the lower half */
        o--;
        list_push(pa, z, idx + (1ull << o), o);
    }
    memset(z->meta + idx, META_USED, n);
    z->meta[idx] = META_USED_HEAD;
    pa->free_pages -= 1ull << k;
    if (n < (1ull << k)) /* give back the tail */
        free_range(pa, z, idx + n, (1ull << k) - n);
    return node;
}

void page_free(struct page_alloc *pa, void *p, size_t n)
{
    uint64_t a = addr_of(p);
    if (n == 0)
        return;
    if (a % PG)
        panic("page_free(0x%lx, %zu): not page aligned", (unsigned long)a, n);
    const struct pa_zone *z = find_zone(pa, a);
    if (z == NULL)
        panic("page_free(0x%lx, %zu): not a page of the allocator", (unsigned long)a, n);
    uint64_t idx = (a - z->base) / PG;
    if (n > z->npages - idx)
        panic("page_free(0x%lx, %zu): runs past the end of its zone", (unsigned long)a, n);
    for (uint64_t i = idx; i < idx + n; i++)
        if (z->meta[i] != META_USED && z->meta[i] != META_USED_HEAD)
            panic("page_free(0x%lx, %zu): double free (page 0x%lx is free)", (unsigned long)a,
                  n, (unsigned long)(z->base + i * PG));
    /* What is left of the run after the freed pages is a run of its own. */
    if (idx + n < z->npages && z->meta[idx + n] == META_USED)
        z->meta[idx + n] = META_USED_HEAD;
    free_range(pa, z, idx, n);
}

size_t page_run_length(const struct page_alloc *pa, const void *p)
{
    uint64_t a = addr_of(p);
    const struct pa_zone *z = find_zone(pa, a);
    if (z == NULL || a % PG)
        return 0;
    uint64_t idx = (a - z->base) / PG, i = idx + 1;
    if (z->meta[idx] != META_USED_HEAD)
        return 0;
    while (i < z->npages && z->meta[i] == META_USED)
        i++;
    return (size_t)(i - idx);
}

int page_alloc_owns(const struct page_alloc *pa, const void *p)
{
    return find_zone(pa, addr_of(p)) != NULL;
}

uint64_t page_alloc_largest_free(const struct page_alloc *pa)
{
    for (int o = PAGE_ALLOC_MAX_ORDER; o >= 0; o--)
        if (pa->free_list[o])
            return 1ull << o;
    return 0;
}

void page_alloc_check(const struct page_alloc *pa)
{
    uint64_t listed = 0, marked = 0;

    for (unsigned o = 0; o <= PAGE_ALLOC_MAX_ORDER; o++) {
        const struct pa_node *prev = NULL;
        for (const struct pa_node *b = pa->free_list[o]; b; prev = b, b = b->next) {
            const struct pa_zone *z = find_zone(pa, addr_of(b));
            uint64_t idx = z ? (addr_of(b) - z->base) / PG : 0;
            if (z == NULL || z->meta[idx] != (uint8_t)(META_FREE_HEAD | o) || b->prev != prev ||
                (idx & ((1ull << o) - 1)) || idx + (1ull << o) > z->npages)
                panic("page_alloc_check: bad free block 0x%lx order %u",
                      (unsigned long)addr_of(b), o);
            for (uint64_t i = 1; i < (1ull << o); i++)
                if (z->meta[idx + i] != META_FREE_BODY)
                    panic("page_alloc_check: block 0x%lx order %u: page %lu not free",
                          (unsigned long)addr_of(b), o, (unsigned long)i);
            listed += 1ull << o;
        }
    }
    for (unsigned i = 0; i < pa->nzones; i++) {
        const struct pa_zone *z = &pa->zones[i];
        if (i > 0 && z->base < pa->zones[i - 1].base + pa->zones[i - 1].npages * PG)
            panic("page_alloc_check: zones %u and %u overlap", i - 1, i);
        for (uint64_t p = 0; p < z->npages; p++)
            marked += z->meta[p] != META_USED && z->meta[p] != META_USED_HEAD;
    }
    if (listed != pa->free_pages || marked != pa->free_pages)
        panic("page_alloc_check: free_pages %lu, listed %lu, marked %lu",
              (unsigned long)pa->free_pages, (unsigned long)listed, (unsigned long)marked);
}

static void *source_alloc(void *ctx, size_t n)
{
    return page_alloc(ctx, n);
}

static void source_free(void *ctx, void *p, size_t n)
{
    page_free(ctx, p, n);
}

static size_t source_run_pages(void *ctx, const void *p)
{
    return page_run_length(ctx, p);
}

static int source_owns(void *ctx, const void *p)
{
    return page_alloc_owns(ctx, p);
}

static size_t source_free_pages(void *ctx)
{
    return (size_t)((const struct page_alloc *)ctx)->free_pages;
}

void page_alloc_source(struct page_alloc *pa, struct page_source *src)
{
    *src = (struct page_source){ pa, source_alloc, source_free, source_run_pages, source_owns,
                                 source_free_pages };
}
