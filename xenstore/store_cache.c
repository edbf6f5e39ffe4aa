/*
 * The store (struct vs_store) and its object cache in front of the heap's get.
 *
 * The cache is a ring of bytes: objects are appended at the head, and the oldest are
 * overwritten as the head wraps; a small open-addressed table maps a hash to its object's
 * offset in the ring, and an entry whose bytes the head has since passed over is simply
 * stale. There is no per-object allocation, list or free. It was an LRU of malloc'ed objects
 * (hash chains and a doubly linked list): every commit puts ~10 objects into it and evicted
 * as many, and each insert and eviction touched cold memory (the evicted object, its chain
 * and list neighbours, malloc's bins): natively the cache was ~9% of vxenstored's CPU with 10
 * clients writing. Recency is kept by a second chance: an object found in the older half of
 * the ring is copied to the head, so what is read keeps being cached.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/store_tree_int.h"

/* 1 MiB: the objects a commit puts are read again, if at all, by the next few transactions
 * (one opened on the head while the kept tree is another's); the xl mix of the bench loads
 * ~80k objects from a 1 MiB ring with 0.2-0.4% misses (none with 8 MiB, 2.6% with 512 KiB).
 * A bigger ring costs every write: the head walks through more bytes than the L2 holds, so
 * each append stores into cold lines, and the table (16 bytes per 64 ring bytes) grows past
 * the L2 too. With 8 MiB, cache_append was 13% of the daemon's user time (perf, cpu-clock)
 * in single-client writes, 9% with 1 MiB. */
#define VS_CACHE_DEFAULT (1u << 20)
#define CACHE_PROBES 4          /* table slots an object may live in */
#define CACHE_AVG_OBJECT 128    /* the table has two slots per object of this size */

/* An object in the ring: this header, then its bytes, padded to 8. */
struct cobj {
    struct store_hash h;
    uint32_t len;
    uint8_t kind;
};

struct vs_cslot {
    uint64_t tag; /* the hash's first 8 bytes */
    uint64_t off; /* the object's logical offset + 1; 0: empty */
};

static size_t cobj_size(size_t len)
{
    return (sizeof(struct cobj) + len + 7) & ~(size_t)7;
}

static uint64_t hash_tag(const struct store_hash *h)
{
    uint64_t t;
    memcpy(&t, h->b, sizeof(t));
    return t;
}

/* Does the ring still hold the object at logical offset off? The head overwrites the ring's
 * bytes cap behind it. */
static bool live(const struct vs_store *st, uint64_t off)
{
    return st->head - off <= st->ring_cap;
}

static struct cobj *at(const struct vs_store *st, uint64_t off)
{
    return (struct cobj *)(st->ring + off % st->ring_cap);
}

struct vs_store *vs_store_open(struct objstore *os, size_t cache_bytes)
{
    struct vs_store *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->os = os;
    size_t budget = cache_bytes ? cache_bytes : VS_CACHE_DEFAULT;
    st->ring_cap = budget & ~(size_t)7;
    size_t want = 2 * (st->ring_cap / CACHE_AVG_OBJECT);
    st->nslots = 64;
    while (st->nslots < want)
        st->nslots *= 2;
    st->slots = calloc(st->nslots, sizeof(*st->slots));
    st->ring = st->ring_cap ? malloc(st->ring_cap) : NULL;
    if (st->slots == NULL || (st->ring_cap && st->ring == NULL)) {
        free(st->slots);
        free(st->ring);
        free(st);
        return NULL;
    }
    return st;
}

struct objstore *vs_store_objstore(struct vs_store *st)
{
    return st->os;
}

void vs_store_close(struct vs_store *st)
{
    if (st == NULL)
        return;
    struct vs_tree *spare = vs_tree_take_spare(st);
    if (spare != NULL) {
        vs_node_free(spare->root);
        free(spare);
    }
    free(st->ring);
    free(st->slots);
    free(st->big);
    st->ring = NULL;
    st->slots = NULL;
    st->big = NULL;
    st->ring_cap = st->nslots = 0;
    free(st->enc.p);
    memset(&st->enc, 0, sizeof(st->enc));
    free(st->pend_buf.p);
    memset(&st->pend_buf, 0, sizeof(st->pend_buf));
    st->pend = false;
    if (st->trees > 0)
        st->closed = true; /* a tree still open refers to it: the last vs_tree_close frees it */
    else
        free(st);
}

/* The table slot of h's object (NULL if not cached). */
static struct vs_cslot *cache_find(struct vs_store *st, const struct store_hash *h)
{
    if (st->nslots == 0 || st->ring_cap == 0)
        return NULL;
    uint64_t tag = hash_tag(h);
    size_t mask = st->nslots - 1;
    for (size_t k = 0; k < CACHE_PROBES; k++) {
        struct vs_cslot *s = &st->slots[(tag + k) & mask];
        if (s->off != 0 && s->tag == tag && live(st, s->off - 1) &&
            store_hash_equal(&at(st, s->off - 1)->h, h))
            return s;
    }
    return NULL;
}

/* Where an object of `size` ring bytes goes: the head, or the ring's start if it would not
 * fit before the end (the tail is skipped). */
static uint64_t place(const struct vs_store *st, size_t size)
{
    uint64_t o = st->head;
    size_t p = (size_t)(o % st->ring_cap);
    if (p + size > st->ring_cap)
        o += st->ring_cap - p;
    return o;
}

/* Point a slot for tag at off: one of its probes that is empty, stale or tag's, else the
 * one holding the oldest object. */
static void slot_set(struct vs_store *st, struct vs_cslot *keep, uint64_t tag, uint64_t off)
{
    if (keep == NULL) {
        size_t mask = st->nslots - 1;
        for (size_t k = 0; k < CACHE_PROBES; k++) {
            struct vs_cslot *s = &st->slots[(tag + k) & mask];
            if (s->off == 0 || !live(st, s->off - 1) || s->tag == tag) {
                keep = s;
                break;
            }
            if (keep == NULL || s->off < keep->off)
                keep = s;
        }
    }
    keep->tag = tag;
    keep->off = off + 1;
}

/* Append an object (not cached yet, or being moved to the head: then `slot` is its slot and
 * data may point into the ring, behind the bytes the append overwrites). NULL if it is too
 * big to cache. */
static struct cobj *cache_append(struct vs_store *st, struct vs_cslot *slot,
                                 const struct store_hash *h, enum store_kind kind,
                                 const void *data, size_t len)
{
    size_t size = cobj_size(len);
    if (st->ring_cap == 0 || st->nslots == 0 || size > st->ring_cap / 4)
        return NULL;
    uint64_t o = place(st, size);
    struct cobj *c = at(st, o);
    struct cobj hdr = {.h = *h, .len = (uint32_t)len, .kind = (uint8_t)kind};
    if (len)
        memmove(c + 1, data, len);
    *c = hdr;
    st->head = o + size;
    slot_set(st, slot, hash_tag(h), o);
    return c;
}

int vs_load(struct vs_store *st, const struct store_hash *h, enum store_kind kind,
            const uint8_t **data, size_t *len)
{
    int prc = vs_put_pending(st); /* (it may be the object asked for) */
    if (prc < 0)
        return prc;
    struct vs_cslot *s = cache_find(st, h);
    struct cobj *c = NULL;
    if (s != NULL) {
        uint64_t off = s->off - 1;
        c = at(st, off);
        /* Second chance: a hit in the older half moves to the head, unless the move would
         * overwrite the object before it is copied. */
        size_t size = cobj_size(c->len);
        if (st->head - off > st->ring_cap / 2 && place(st, size) + size - off <= st->ring_cap)
            c = cache_append(st, s, h, (enum store_kind)c->kind, c + 1, c->len);
    } else {
        enum store_kind k;
        void *d;
        size_t l;
        int rc = st->os->ops->get(st->os, h, &k, &d, &l);
        if (rc < 0)
            return rc;
        c = cache_append(st, NULL, h, k, d, l);
        if (c == NULL) { /* too big for the ring: kept until the next big one */
            if (k != kind) {
                free(d);
                return -EBADMSG;
            }
            free(st->big);
            st->big = d;
            *data = d;
            *len = l;
            return 0;
        }
        free(d);
    }
    if (c->kind != kind)
        return -EBADMSG;
    *data = (const uint8_t *)(c + 1);
    *len = c->len;
    return 0;
}

/* Nearly every put is of a new object (a commit rewrites the nodes on its paths with the new
 * gen), which cannot be in the cache: a heap that says so (added) spares the cache a lookup
 * that misses. Freshly written objects are read again soon: by the next transaction that
 * opens the head when the store's kept tree is another's (concurrent transactions). */
static void cache_put(struct vs_store *st, bool added, const struct store_hash *h,
                      enum store_kind kind, const void *data, size_t len)
{
    if (added || cache_find(st, h) == NULL)
        cache_append(st, NULL, h, kind, data, len);
}

int vs_put(struct vs_store *st, enum store_kind kind, const void *data, size_t len,
           struct store_hash *out)
{
    int rc = vs_put_pending(st);
    if (rc < 0)
        return rc;
    bool added = false;
    rc = st->os->ops->put_added ? st->os->ops->put_added(st->os, kind, data, len, out, &added)
                                : st->os->ops->put(st->os, kind, data, len, out);
    if (rc < 0)
        return rc;
    cache_put(st, added, out, kind, data, len);
    return 0;
}

void vs_store_cache_stats(const struct vs_store *st, size_t *objects, size_t *bytes,
                          size_t *budget)
{
    size_t n = 0;
    for (size_t i = 0; i < st->nslots; i++)
        n += st->slots[i].off != 0 && live(st, st->slots[i].off - 1);
    *objects = n;
    *bytes = st->head < st->ring_cap ? (size_t)st->head : st->ring_cap;
    *budget = st->ring_cap;
}

struct vs_buf *vs_enc_buf(struct vs_store *st)
{
    st->enc.len = 0;
    st->enc.oom = false;
    return &st->enc;
}

#define VS_ENC_KEEP (256u << 10) /* a bigger encoding buffer is not kept for the next one */

static void enc_shrink(struct vs_buf *b)
{
    if (b->cap > VS_ENC_KEEP) {
        free(b->p);
        memset(b, 0, sizeof(*b));
    }
}

int vs_put_enc(struct vs_store *st, enum store_kind kind, struct store_hash *out)
{
    struct vs_buf *b = &st->enc;
    int rc = b->oom ? -ENOMEM : vs_put(st, kind, b->p, b->len, out);
    enc_shrink(b);
    return rc;
}

int vs_put_pending(struct vs_store *st)
{
    if (!st->pend)
        return 0;
    st->pend = false;
    struct vs_buf *b = &st->pend_buf;
    bool added = false;
    int rc = st->os->ops->put_hashed(st->os, st->pend_kind, b->p, b->len, &st->pend_h, &added);
    if (rc == 0)
        cache_put(st, added, &st->pend_h, st->pend_kind, b->p, b->len);
    enc_shrink(b);
    return rc;
}

void vs_put_drop(struct vs_store *st)
{
    st->pend = false;
    enc_shrink(&st->pend_buf);
}

int vs_put_enc_next(struct vs_store *st, enum store_kind kind, struct store_hash *out)
{
    const struct objstore_ops *ops = st->os->ops;
    if (ops->put_hashed == NULL || ops->prefetch == NULL)
        return vs_put_enc(st, kind, out);
    struct vs_buf *b = &st->enc;
    if (b->oom) {
        enc_shrink(b);
        return -ENOMEM;
    }
    store_hash_object(kind, b->p, b->len, out);
    /* What this object's put will touch: the heap's index slot, then the cache's table slot
     * and the ring's head, where it will be appended. */
    ops->prefetch(st->os, out);
    if (st->nslots > 0)
        __builtin_prefetch(&st->slots[hash_tag(out) & (st->nslots - 1)], 1);
    int rc = vs_put_pending(st);
    if (rc < 0) {
        enc_shrink(b);
        return rc;
    }
    /* The ring bytes its cache_append will store to: cold (the head last passed there 1 MiB of
     * appends ago), and stores that miss hold up the next locked instruction (the heap's
     * lock) until they complete. */
    size_t size = cobj_size(b->len);
    if (st->ring_cap > 0 && size <= st->ring_cap / 4) {
        const uint8_t *r = (const uint8_t *)at(st, place(st, size));
        for (size_t o = 0; o < size; o += 64)
            __builtin_prefetch(r + o, 1);
    }
    struct vs_buf swap = st->pend_buf;
    st->pend_buf = *b;
    *b = swap;
    st->pend_h = *out;
    st->pend_kind = kind;
    st->pend = true;
    return 0;
}
