/* heap.c: slabs for small objects, page runs for large ones. See heap.h. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <xenkit/panic.h>

#include "lib/heap.h"

#define PG HEAP_PAGE_SIZE
#define SLAB_MAGIC  0x534c4142u /* "SLAB" */
#define SLAB_HDR    64u

/* Sizes chosen so that a page (minus the header) wastes little: 4032 bytes hold e.g. 6 x 672,
 * 4 x 1008, 3 x 1344, 2 x 2016. All multiples of 16, so every object is 16-byte aligned. */
static const uint16_t class_size[HEAP_NCLASSES] = {
    16, 32, 48, 64, 80, 96, 128, 160, 192, 256, 336, 448, 576, 672, 1008, 1344, 2016,
};

struct heap_slab {
    uint32_t magic;
    uint16_t cls;
    uint16_t nfree;
    struct heap_slab *next, *prev; /* on h->partial[cls] while nfree > 0 */
    uint64_t used[4];              /* bit i: object i in use (bits past the last object set) */
    uint64_t unused;
};
_Static_assert(sizeof(struct heap_slab) == SLAB_HDR, "slab header is 64 bytes");
_Static_assert((PG - SLAB_HDR) / 16 <= 256, "bitmap covers the smallest class");

static unsigned class_count(unsigned cls)
{
    return (PG - SLAB_HDR) / class_size[cls];
}

void heap_init(struct heap *h, const struct page_source *src)
{
    memset(h, 0, sizeof(*h));
    h->src = *src;
}

static size_t free_kib(struct heap *h)
{
    return h->src.free_pages ? h->src.free_pages(h->src.ctx) * (PG / 1024) : 0;
}

/* Pages from the source; when it has none, give back the cached empty slabs and try once
 * more. */
static void *get_pages(struct heap *h, size_t n)
{
    void *p = h->src.alloc(h->src.ctx, n);
    if (p == NULL) {
        heap_trim(h);
        p = h->src.alloc(h->src.ctx, n);
    }
    return p;
}

static void *out_of_memory(struct heap *h, size_t size, unsigned flags, const char *what)
{
    if (flags & HEAP_NOPANIC)
        return NULL;
    panic("out of memory: %s(%zu) with %zu KiB free", what, size, free_kib(h));
}

static void slab_unlink(struct heap *h, struct heap_slab *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        h->partial[s->cls] = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
}

static void slab_push(struct heap *h, struct heap_slab *s)
{
    s->prev = NULL;
    s->next = h->partial[s->cls];
    if (s->next)
        s->next->prev = s;
    h->partial[s->cls] = s;
}

static struct heap_slab *slab_new(struct heap *h, unsigned cls)
{
    struct heap_slab *s = get_pages(h, 1);
    if (s == NULL)
        return NULL;
    unsigned count = class_count(cls);
    memset(s, 0, sizeof(*s));
    s->magic = SLAB_MAGIC;
    s->cls = (uint16_t)cls;
    s->nfree = (uint16_t)count;
    for (unsigned i = count; i < 256; i++)
        s->used[i / 64] |= 1ull << (i % 64);
    slab_push(h, s);
    h->empty[cls]++;
    h->slab_pages++;
    return s;
}

static void *slab_alloc(struct heap *h, unsigned cls)
{
    struct heap_slab *s = h->partial[cls];
    if (s == NULL && (s = slab_new(h, cls)) == NULL)
        return NULL;
    if (s->magic != SLAB_MAGIC || s->cls != cls || s->nfree == 0)
        panic("heap corrupted: slab %p on the list of class %u is damaged", (void *)s, cls);
    unsigned w = 0;
    while (s->used[w] == UINT64_MAX)
        w++; /* nfree > 0 and the padding bits are set: stops at w < 4 */
    unsigned bit = (unsigned)__builtin_ctzll(~s->used[w]);
    s->used[w] |= 1ull << bit;
    if (s->nfree-- == class_count(cls))
        h->empty[cls]--;
    if (s->nfree == 0)
        slab_unlink(h, s);
    return (char *)s + SLAB_HDR + (w * 64 + bit) * class_size[cls];
}

/* The smallest class that holds size bytes with every object aligned to align (<= 64). */
static int class_for(size_t size, size_t align)
{
    for (unsigned c = 0; c < HEAP_NCLASSES; c++)
        if (class_size[c] >= size && class_size[c] % align == 0)
            return (int)c;
    return -1;
}

/* Large objects are whole page runs, page aligned, with no header: the page source knows
 * each run's length. Alignments above a page over-allocate and give back the ends. */
static void *large_alloc(struct heap *h, size_t size, size_t align)
{
    size_t extra = align > PG ? align / PG - 1 : 0;
    if (size > SIZE_MAX / 2 - align)
        return NULL; /* cannot exist: also keeps the arithmetic below from wrapping */
    size_t need = size ? (size + PG - 1) / PG : 1;
    char *run = get_pages(h, need + extra);
    if (run == NULL)
        return NULL;
    char *obj = run;
    if (extra) {
        obj = (char *)(((uintptr_t)run + align - 1) & ~(uintptr_t)(align - 1));
        size_t lead = (size_t)(obj - run) / PG;
        if (lead)
            h->src.free(h->src.ctx, run, lead);
        if (extra - lead)
            h->src.free(h->src.ctx, obj + need * PG, extra - lead);
    }
    h->large_pages += need;
    return obj;
}

void *heap_alloc(struct heap *h, size_t size, size_t align, unsigned flags, const char *what)
{
    if (align <= 16)
        align = 16;
    if (align & (align - 1))
        return NULL;
    void *p = NULL;
    int cls = align <= 64 ? class_for(size ? size : 1, align) : -1;
    if (cls >= 0)
        p = slab_alloc(h, (unsigned)cls);
    else
        p = large_alloc(h, size, align);
    if (p == NULL)
        return out_of_memory(h, size, flags, what);
    h->live_objects++;
    if (flags & HEAP_ZERO)
        memset(p, 0, size);
    return p;
}

/* What free/realloc/usable_size learn about a pointer: a slab object, or a large object of
 * `pages` pages. */
struct found {
    struct heap_slab *slab;
    unsigned idx;
    size_t pages;
};

static struct found find_header(struct heap *h, const void *p, const char *op)
{
    uintptr_t a = (uintptr_t)p;
    struct found f = { NULL, 0, 0 };

    if (h->src.owns && !h->src.owns(h->src.ctx, p))
        panic("%s(%p): not a heap pointer", op, p);
    if (a % PG == 0) { /* slab objects never are */
        f.pages = h->src.run_pages(h->src.ctx, p);
        if (f.pages == 0)
            panic("%s(%p): not a live heap object (double free, or not the start of one)", op,
                  p);
        return f;
    }
    struct heap_slab *s = (struct heap_slab *)(a & ~(uintptr_t)(PG - 1));
    if (s->magic != SLAB_MAGIC)
        panic("%s(%p): not a live heap object (double free or heap corruption: bad magic 0x%x)",
              op, p, s->magic);
    size_t off = a - (uintptr_t)s;
    if (s->cls >= HEAP_NCLASSES)
        panic("%s(%p): heap corrupted (slab header damaged)", op, p);
    size_t size = class_size[s->cls];
    if (off < SLAB_HDR || (off - SLAB_HDR) % size || (off - SLAB_HDR) / size >= class_count(s->cls))
        panic("%s(%p): not the start of a heap object", op, p);
    f.slab = s;
    f.idx = (unsigned)((off - SLAB_HDR) / size);
    if (!(s->used[f.idx / 64] & (1ull << (f.idx % 64))))
        panic("%s(%p): double free (object not in use)", op, p);
    return f;
}

static void slab_free(struct heap *h, struct heap_slab *s, unsigned idx)
{
    unsigned count = class_count(s->cls);
    s->used[idx / 64] &= ~(1ull << (idx % 64));
    if (s->nfree++ == 0)
        slab_push(h, s);
    if (s->nfree == count) {
        if (h->empty[s->cls] >= 1) {
            /* One empty slab per class is enough to absorb alloc/free churn. */
            slab_unlink(h, s);
            s->magic = 0;
            h->slab_pages--;
            h->src.free(h->src.ctx, s, 1);
        } else {
            h->empty[s->cls]++;
        }
    }
}

void heap_free(struct heap *h, void *p)
{
    if (p == NULL)
        return;
    struct found f = find_header(h, p, "free");
    h->live_objects--;
    if (f.slab) {
        slab_free(h, f.slab, f.idx);
        return;
    }
    h->large_pages -= f.pages;
    h->src.free(h->src.ctx, p, f.pages);
}

size_t heap_usable_size(struct heap *h, const void *p)
{
    if (p == NULL)
        return 0;
    struct found f = find_header(h, p, "malloc_usable_size");
    if (f.slab)
        return class_size[f.slab->cls];
    return f.pages * PG;
}

void *heap_realloc(struct heap *h, void *p, size_t size, unsigned flags)
{
    if (p == NULL)
        return heap_alloc(h, size, 0, flags, "realloc");
    if (size == 0) {
        heap_free(h, p);
        return NULL;
    }
    struct found f = find_header(h, p, "realloc");
    size_t have;
    if (f.slab) {
        have = class_size[f.slab->cls];
        if (size <= have)
            return p;
    } else {
        have = f.pages * PG;
        if (size <= have) {
            size_t need = (size + PG - 1) / PG;
            if (need < f.pages) { /* give back the pages no longer needed */
                h->src.free(h->src.ctx, (char *)p + need * PG, f.pages - need);
                h->large_pages -= f.pages - need;
            }
            return p;
        }
    }
    void *q = heap_alloc(h, size, 0, flags, "realloc");
    if (q == NULL)
        return NULL;
    memcpy(q, p, have);
    heap_free(h, p);
    return q;
}

void heap_trim(struct heap *h)
{
    for (unsigned c = 0; c < HEAP_NCLASSES; c++) {
        struct heap_slab *s = h->partial[c];
        while (s && h->empty[c] > 0) {
            struct heap_slab *next = s->next;
            if (s->nfree == class_count(c)) {
                slab_unlink(h, s);
                s->magic = 0;
                h->empty[c]--;
                h->slab_pages--;
                h->src.free(h->src.ctx, s, 1);
            }
            s = next;
        }
    }
}
