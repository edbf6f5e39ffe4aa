/*
 * The on-disk object heap (store_pack.h): one append-only file of checksummed records.
 * docs/store-format.md is the reference for the layout and the recovery rules; the comments
 * here point at it rather than repeating it.
 *
 * This file: records, the write buffer, objects (put/get/has), stats, close and the ops
 * table. Refs, sync modes and waiters are in store_pack_refs.c, CRC-32C and the index in
 * store_pack_index.c, opening (header, scan, recovery, index rebuild) in store_pack_open.c,
 * garbage collection in store_pack_gc.c; what they share is in store_pack_int.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/store_pack_int.h"

#define WBUF_MAX (1u << 20) /* write out before the buffer would grow past this */

void pack_log(struct pack *p, const char *fmt, ...)
{
    if (p->opts.log == NULL)
        return;
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    p->opts.log(p->opts.log_arg, buf);
}

static uint8_t *scratch(struct pack *p, size_t n)
{
    if (n > p->scratch_cap) {
        size_t cap = p->scratch_cap ? p->scratch_cap : 4096;
        while (cap < n)
            cap *= 2;
        uint8_t *b = realloc(p->scratch, cap);
        if (b == NULL)
            return NULL;
        p->scratch = b;
        p->scratch_cap = cap;
    }
    return p->scratch;
}

bool pack_valid_name(const char *name)
{
    if (name == NULL)
        return false;
    size_t n = strnlen(name, STORE_REF_NAME_MAX + 1);
    return n > 0 && n <= STORE_REF_NAME_MAX;
}

/* -- cache -- */

static struct cache_slot *cache_slot(struct pack *p, const struct store_hash *h)
{
    uint64_t x;
    memcpy(&x, h->b + 8, sizeof(x));
    return &p->cache[x & p->cache_mask];
}

static void cache_insert(struct pack *p, const struct store_hash *h, unsigned kind,
                         const void *data, size_t len)
{
    if (len > p->opts.cache_bytes / 8)
        return;
    struct cache_slot *c = cache_slot(p, h);
    if (c->data != NULL) {
        p->cache_used -= c->len;
        free(c->data);
        c->data = NULL;
    }
    if (p->cache_used + len > p->opts.cache_bytes)
        return;
    c->data = malloc(len > 0 ? len : 1);
    if (c->data == NULL)
        return;
    if (len > 0)
        memcpy(c->data, data, len);
    c->h = *h;
    c->kind = (uint8_t)kind;
    c->len = len;
    p->cache_used += len;
}

static void cache_free(struct pack *p)
{
    for (size_t i = 0; p->cache != NULL && i <= p->cache_mask; i++)
        free(p->cache[i].data);
    free(p->cache);
    p->cache = NULL;
}

/* -- appending -- */

/* Encode a record at b (REC_HDR, the hash for an object, len, REC_CRC bytes). */
static void encode_record_at(uint8_t *b, unsigned type, unsigned kind,
                            const struct store_hash *h, const void *payload, size_t len)
{
    size_t hl = type == REC_OBJ ? STORE_HASH_LEN : 0;
    b[0] = (uint8_t)type;
    b[1] = (uint8_t)kind;
    b[2] = b[3] = 0;
    put_le32(b + 4, (uint32_t)len);
    if (hl)
        memcpy(b + REC_HDR, h->b, hl);
    if (len > 0)
        memcpy(b + REC_HDR + hl, payload, len);
    put_le32(b + REC_HDR + hl + len, pack_crc32c(0, b, REC_HDR + hl + len));
}

/* Encode a record into p->scratch; returns its total length or -ENOMEM. */
int64_t pack_encode_record(struct pack *p, unsigned type, unsigned kind,
                           const struct store_hash *h, const void *payload, size_t len)
{
    size_t total = REC_HDR + (type == REC_OBJ ? STORE_HASH_LEN : 0) + len + REC_CRC;
    uint8_t *b = scratch(p, total);
    if (b == NULL)
        return -ENOMEM;
    encode_record_at(b, type, kind, h, payload, len);
    return (int64_t)total;
}

/* Zeros written ahead of the records. An fdatasync after an append that grows the file must
 * also write the inode (its size, new blocks: a journal commit on ext4), which costs several
 * times the data flush itself: measured on this machine's ext4, 1.3 ms per 1.75 KB
 * append + fdatasync against 0.12 ms for the same write over blocks already written. So the
 * file grows in steps of PREALLOC_MIN..PREALLOC_MAX bytes of zeros (an eighth of its size;
 * at most 2 MiB, which the next sync writes out along with the records),
 * written (not fallocate'd: unwritten extents need a metadata change at the first write) and
 * made durable by the next sync with the records before them; records then overwrite them.
 * Recovery reads an all-zero tail as this space, not as a torn record
 * (docs/store-format.md, "Preallocated tail"). Best effort: if the zeros cannot be written
 * (ENOSPC), records are appended as before and that write reports the error. */
#define PREALLOC_MIN (256u << 10)
#define PREALLOC_MAX (2u << 20)

uint64_t pack_prealloc_step(const struct pack *p)
{
    uint64_t step = p->end / 8;
    return step < PREALLOC_MIN ? PREALLOC_MIN : step > PREALLOC_MAX ? PREALLOC_MAX : step;
}

static void prealloc(struct pack *p, uint64_t need)
{
    static const uint8_t zeros[65536];
    uint64_t step = pack_prealloc_step(p);
    /* With the fill thread the zeros are written ahead of time, off the update's path
     * (store_pack_fill.c); without it, here. An append that outruns the thread (idle, or
     * asked but not scheduled yet on a loaded machine) writes no step inline (1-5 ms here,
     * in the middle of a request): its record extends the file (a few us more than over
     * zeros), and the thread, asked by pack_filler_prealloc, fills on from there. */
    if (pack_filler_prealloc(p, need, step) || need <= p->alloc_end)
        return;
    if (p->filler != NULL) {
        p->alloc_end = need;
        return;
    }
    p->zero_steps_inline++;
    uint64_t from = p->alloc_end > need ? p->alloc_end : need;
    if (from < written_end(p))
        from = written_end(p);
    uint64_t to = need + step;
    to -= to % 4096;
    while (from < to) {
        size_t n = to - from < sizeof(zeros) ? (size_t)(to - from) : sizeof(zeros);
        if (store_io_write_all(p->io, zeros, n, from) < 0)
            break;
        from += n;
    }
    /* The records will cover [.., need); the zeros [need, from). A zero write cut short
     * leaves the file ending at `from` (or earlier on error: appends then extend it). */
    p->alloc_end = from > need ? from : need;
    if (from > p->sized_end)
        p->sized_end = from;
}

/* Close: give back the zeros written ahead (best effort; a leftover zero tail is harmless). */
void pack_trim_prealloc(struct pack *p)
{
    if (p->io != NULL && !p->failed && p->wlen == 0 && p->alloc_end > p->end &&
        p->io->ops->truncate(p->io, p->end) == 0)
        p->alloc_end = p->sized_end = p->end;
}

void pack_map_file(struct pack *p, uint64_t size)
{
    p->map = store_io_map(p->io, &p->map_len);
    p->sized_end = size;
}

/* Records go to the file through its shared mapping when it covers them (the zeros ahead
 * extend the file, so it usually does) and syncs are rare, else by pwrite. Why: a pwrite
 * takes the file's lock (ext4: the inode's rwsem) and walks the page cache for every call;
 * a store into pages the fill thread faulted in (store_pack_fill.c) is a memcpy. Measured
 * here on ext4, 2 KB records over zeros written ahead: 0.9 us per pwrite against ~0.1 us
 * per memcpy into the prefaulted mapping, and the fill thread's writes of zeros no longer
 * wait for the update's pwrites on the inode's lock. Same guarantees: the bytes are in the
 * page cache when this returns (a SIGKILL keeps them), and the fdatasync that makes a sync
 * durable writes the pages dirtied through a MAP_SHARED mapping as it writes pwrite's (each
 * first store into a clean page faults and dirties it; writeback write-protects it again).
 *
 * That last point is why frequent syncs (BATCH rounds, ALWAYS) keep pwrite: each sync
 * write-protects the mapped pages it cleans (an rmap walk and a TLB flush) and the next
 * store into them faults again; measured with 10 writers in --sync batch, 1.4-4.8 us more
 * system time per write than pwrite. So the mapping is used only once MAP_QUIET_RECORDS
 * ref records went by since a sync began (vxenstored's --sync none, where only its rare
 * ALWAYS commits sync). */
#define MAP_QUIET_RECORDS 32

bool pack_map_writes(const struct pack *p)
{
    return p->map != NULL && p->ref_records - p->sync_at_rec >= MAP_QUIET_RECORDS;
}

static int write_at(struct pack *p, const uint8_t *buf, size_t len, uint64_t off)
{
    prealloc(p, off + len);
    int rc = 0;
    if (pack_map_writes(p) && off + len <= p->sized_end && off + len <= p->map_len) {
        memcpy(p->map + off, buf, len);
        p->map_writes++;
    } else {
        rc = store_io_write_all(p->io, buf, len, off);
        if (rc == 0 && off + len > p->sized_end)
            p->sized_end = off + len;
    }
    if (rc < 0) {
        p->failed = rc;
        pack_log(p, "pack %s: write at %llu failed (%s); updates refused until reopened", p->name,
                 (unsigned long long)off, strerror(-rc));
    }
    return rc;
}

/* Pass the buffered records to the file (one pwrite). On failure the pack refuses updates
 * and the buffer is kept, so that its objects can still be read. */
int pack_wbuf_write(struct pack *p)
{
    if (p->wlen == 0)
        return 0;
    if (p->failed)
        return p->failed;
    int rc = write_at(p, p->wbuf, p->wlen, p->end - p->wlen);
    if (rc == 0)
        p->wlen = 0;
    return rc;
}

/* Append a record. Object records are buffered; a ref record (`now`) goes to the file at
 * once, together with the buffered objects before it: one pwrite per update (a second
 * syscall per commit cost ~2.5% of the daemon's CPU). A failed write takes the ref record
 * back out of the buffer (its objects stay readable there) and the pack refuses updates; the
 * recovery rules never depended on the objects reaching the file first. */
int pack_append(struct pack *p, const uint8_t *rec, size_t total, uint64_t *at, bool now)
{
    if (p->failed)
        return p->failed;
    int rc = 0;
    if (p->wlen + total > p->wcap) {
        if (!now && p->wlen + total > WBUF_MAX)
            rc = pack_wbuf_write(p);
        if (rc == 0 && p->wlen + total > p->wcap && p->wlen + total <= WBUF_MAX) {
            size_t cap = p->wcap ? p->wcap : 65536;
            while (cap < p->wlen + total)
                cap *= 2;
            uint8_t *b = realloc(p->wbuf, cap);
            if (b != NULL) {
                p->wbuf = b;
                p->wcap = cap;
            }
        }
    }
    if (rc == 0 && p->wlen + total <= p->wcap) {
        memcpy(p->wbuf + p->wlen, rec, total);
        p->wlen += total;
        p->end += total;
        if (now && (rc = pack_wbuf_write(p)) < 0) {
            p->wlen -= total;
            p->end -= total;
            return rc;
        }
    } else {
        /* A record too big for the buffer (or no memory for it). */
        if (rc == 0)
            rc = pack_wbuf_write(p);
        if (rc == 0)
            rc = write_at(p, rec, total, p->end);
        if (rc < 0)
            return rc;
        p->end += total;
    }
    if (rc < 0)
        return rc;
    if (at != NULL)
        *at = p->end - total;
    return 0;
}

/* Room for a record of total bytes at the end of the write buffer, for an object record
 * encoded in place (no copy through p->scratch) and kept or not (an object already stored)
 * by the caller: p->wbuf + p->wlen, after writing the buffer out if it would grow past
 * WBUF_MAX, as pack_append. NULL if the record does not fit the buffer or there is no memory
 * for it (then pack_append writes it) or the write out failed (*rc). Lock held. */
static uint8_t *wbuf_room(struct pack *p, size_t total, int *rc)
{
    *rc = 0;
    if (p->wlen + total > WBUF_MAX && (*rc = pack_wbuf_write(p)) < 0)
        return NULL;
    if (p->wlen + total > p->wcap) {
        if (p->wlen + total > WBUF_MAX)
            return NULL;
        size_t cap = p->wcap ? p->wcap : 65536;
        while (cap < p->wlen + total)
            cap *= 2;
        uint8_t *b = realloc(p->wbuf, cap);
        if (b == NULL)
            return NULL;
        p->wbuf = b;
        p->wcap = cap;
    }
    return p->wbuf + p->wlen;
}

/* The sync that makes every appended record durable (docs/store-format.md, "Durability"). */
int pack_do_sync(struct pack *p)
{
    if (p->failed)
        return p->failed;
    int wrc = pack_wbuf_write(p);
    if (wrc < 0)
        return wrc;
    uint64_t end = p->end;
    p->syncs++;
    p->sync_at_rec = p->ref_records;
    int rc = p->io->ops->sync(p->io);
    if (rc < 0) {
        p->failed = rc;
        pack_log(p, "pack %s: sync failed (%s); updates refused until reopened", p->name,
                 strerror(-rc));
        return rc;
    }
    p->synced_end = end;
    return 0;
}

/* A ref record; `now`: written to the file at once (ALWAYS, NONE), else left in the write
 * buffer for the flush that answers the update's waiter (BATCH, WRITE). */
/* -- GC bookkeeping of older objects writers touch -- */

void pack_inflight_add(struct pack *p, const struct store_hash *h)
{
    if (p->ninflight == p->capinflight) {
        size_t cap = p->capinflight ? p->capinflight * 2 : 64;
        struct store_hash *n = realloc(p->inflight, cap * sizeof(*n));
        if (n == NULL) {
            p->inflight_overflow = true;
            return;
        }
        p->inflight = n;
        p->capinflight = cap;
    }
    p->inflight[p->ninflight++] = *h;
}

void pack_gc_touch(struct pack *p, const struct store_hash *h, uint64_t off)
{
    struct gc_state *g = p->gc;
    if (g == NULL || off >= g->start_off || pthread_equal(pthread_self(), g->thread))
        return;
    if (g->ntouched == g->captouched) {
        size_t cap = g->captouched ? g->captouched * 2 : 256;
        struct store_hash *n = realloc(g->touched, cap * sizeof(*n));
        if (n == NULL) {
            g->overflow = true;
            return;
        }
        g->touched = n;
        g->captouched = cap;
    }
    g->touched[g->ntouched++] = *h;
}

/* ---- objstore ops ---------------------------------------------------------------------------- */

/* The index keys objects by their hash's first 16 bytes (store_pack_int.h): does the record
 * at off, which the index found for h, carry all of h? 0 if so, -EEXIST if it is another
 * object with the same prefix, or the read's error. Lock held. */
static int record_is(struct pack *p, uint64_t off, const struct store_hash *h)
{
    uint8_t got[STORE_HASH_LEN];
    const uint8_t *g = got;
    if (off >= written_end(p)) {
        g = p->wbuf + (off - written_end(p)) + REC_HDR;
    } else {
        int rc = store_io_read_all(p->io, got, sizeof(got), off + REC_HDR);
        if (rc < 0)
            return rc == -ENODATA ? -EBADMSG : rc;
    }
    if (memcmp(g, h->b, STORE_HASH_LEN) == 0)
        return 0;
    pack_log(p, "pack %s: an object's hash shares its first %d bytes with the object at %llu: "
             "refused", p->name, IX_KEY_LEN, (unsigned long long)off);
    return -EEXIST;
}

/* put_added, the hash h computed (by pack_put_added, or by the caller of put_hashed). */
static int put_hashed(struct pack *p, enum store_kind kind, const void *data, size_t len,
                      const struct store_hash *hp, bool *added)
{
    const struct store_hash h = *hp;
    pthread_mutex_lock(&p->lock);
    /* One probe: room is made first, so the slot a miss ends on is where the new entry goes.
     * A miss is the usual case (a commit puts new nodes), and the probe's cache misses (the
     * index of a big pack is tens of MB) were most of a put's time: the probe's first lines
     * are fetched while the record is encoded (wasted only when the object is there). */
    int rc = pack_ix_reserve(&p->ix);
    size_t home = ix_home(&p->ix, &h);
    __builtin_prefetch(&p->ix.e[home], 1);
    size_t need = REC_HDR + STORE_HASH_LEN + len + REC_CRC;
    int64_t total = rc < 0 ? rc : p->failed ? p->failed : (int64_t)need;
    uint8_t *rec = NULL; /* encoded in place in the write buffer, not kept yet */
    if (total > 0) {
        int wrc;
        rec = wbuf_room(p, need, &wrc);
        if (rec != NULL)
            encode_record_at(rec, REC_OBJ, kind, &h, data, len);
        else if (wrc < 0)
            total = wrc;
        else
            total = pack_encode_record(p, REC_OBJ, kind, &h, data, len);
    }
    bool found = false;
    uint64_t off = 0;
    size_t slot = rc == 0 ? pack_ix_slot(&p->ix, &h, &found, &off) : 0;
    if (rc < 0) {
        /* no memory to index a new object */
    } else if (found) {
        rc = record_is(p, off, &h);
        if (rc == 0) {
            pack_gc_touch(p, &h, off);
            if (off < p->refs_end)
                pack_inflight_add(p, &h); /* the next ref update may name it: GC keeps it */
        }
    } else if (total < 0) {
        rc = (int)total; /* the pack failed, or no memory for the record */
    } else {
        if (rec != NULL) { /* keep it: as pack_append */
            off = p->end;
            p->wlen += need;
            p->end += need;
        } else {
            rc = pack_append(p, p->scratch, (size_t)total, &off, false);
        }
        if (rc == 0) {
            ix_entry_set(&p->ix.e[slot], &h, off);
            p->ix.count++;
            *added = true;
        }
        /* Not cached here: the tree layer's cache keeps what it puts, and until written out
         * the record is served from the write buffer. */
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

static int check_put(enum store_kind kind, const void *data, size_t len, bool *added)
{
    *added = false;
    if (!valid_kind(kind) || (data == NULL && len > 0))
        return -EINVAL;
    return len > OBJ_MAX ? -EFBIG : 0;
}

static int pack_put_added(struct objstore *s, enum store_kind kind, const void *data,
                          size_t len, struct store_hash *out, bool *added)
{
    int rc = check_put(kind, data, len, added);
    if (rc < 0)
        return rc;
    struct store_hash h;
    store_hash_object(kind, data, len, &h);
    rc = put_hashed(P(s), kind, data, len, &h, added);
    if (rc == 0 && out != NULL)
        *out = h;
    return rc;
}

static int pack_put_hashed(struct objstore *s, enum store_kind kind, const void *data,
                           size_t len, const struct store_hash *h, bool *added)
{
    int rc = check_put(kind, data, len, added);
    return rc < 0 ? rc : put_hashed(P(s), kind, data, len, h, added);
}

/* The index slot a put of h probes first, fetched ahead (the put's cache miss: objstore.h). */
static void pack_prefetch(struct objstore *s, const struct store_hash *h)
{
    struct pack *p = P(s);
    pthread_mutex_lock(&p->lock);
    const struct ix_entry *e = &p->ix.e[ix_home(&p->ix, h)];
    __builtin_prefetch(e, 1);
    if (((uintptr_t)e & 63) + sizeof(*e) > 64) /* it straddles two lines */
        __builtin_prefetch(e + 1, 1);
    if (p->ix.old != NULL) { /* growing: a put that misses in e probes the old table too */
        uint64_t k0, k1;
        ix_key(h, &k0, &k1);
        __builtin_prefetch(&p->ix.old[k0 & p->ix.old_mask]);
    }
    pthread_mutex_unlock(&p->lock);
}

static int pack_put(struct objstore *s, enum store_kind kind, const void *data, size_t len,
                    struct store_hash *out)
{
    bool added;
    return pack_put_added(s, kind, data, len, out, &added);
}

/* Read and check the object record at off (lock held). */
static int read_object(struct pack *p, struct store_io *io, uint64_t off,
                       const struct store_hash *h, unsigned *kind, uint8_t **data, size_t *len)
{
    uint8_t hdr[REC_HDR + STORE_HASH_LEN];
    int rc = store_io_read_all(io, hdr, sizeof(hdr), off);
    if (rc < 0)
        return rc == -ENODATA ? -EBADMSG : rc;
    uint32_t n = le32(hdr + 4);
    if (hdr[0] != REC_OBJ || !valid_kind(hdr[1]) || n > OBJ_MAX ||
        memcmp(hdr + REC_HDR, h->b, STORE_HASH_LEN) != 0)
        return -EBADMSG;
    uint8_t *b = malloc(sizeof(hdr) + n + REC_CRC);
    if (b == NULL)
        return -ENOMEM;
    rc = store_io_read_all(io, b, sizeof(hdr) + n + REC_CRC, off);
    if (rc < 0) {
        free(b);
        return rc == -ENODATA ? -EBADMSG : rc;
    }
    struct store_hash check;
    store_hash_object(hdr[1], b + sizeof(hdr), n, &check);
    if (pack_crc32c(0, b, sizeof(hdr) + n) != le32(b + sizeof(hdr) + n) ||
        !store_hash_equal(&check, h)) {
        free(b);
        return -EBADMSG;
    }
    memmove(b, b + sizeof(hdr), n);
    *kind = hdr[1];
    *data = b;
    *len = n;
    (void)p;
    return 0;
}

/* The object record at off, still in the write buffer (lock held). */
static int read_buffered(struct pack *p, uint64_t off, const struct store_hash *h,
                         unsigned *kind, uint8_t **data, size_t *len)
{
    const uint8_t *r = p->wbuf + (off - written_end(p));
    uint32_t n = le32(r + 4);
    if (r[0] != REC_OBJ || memcmp(r + REC_HDR, h->b, STORE_HASH_LEN) != 0)
        return -EBADMSG;
    uint8_t *b = malloc(n > 0 ? n : 1);
    if (b == NULL)
        return -ENOMEM;
    if (n > 0)
        memcpy(b, r + REC_HDR + STORE_HASH_LEN, n);
    *kind = r[1];
    *data = b;
    *len = n;
    return 0;
}

static int pack_get(struct objstore *s, const struct store_hash *h, enum store_kind *kind,
                    void **data, size_t *len)
{
    struct pack *p = P(s);
    pthread_mutex_lock(&p->lock);
    uint64_t off = ix_find(&p->ix, h);
    if (off == 0) {
        pthread_mutex_unlock(&p->lock);
        return -ENOENT;
    }
    pack_gc_touch(p, h, off);
    struct cache_slot *c = cache_slot(p, h);
    int rc = 0;
    unsigned k;
    uint8_t *d;
    size_t n;
    if (c->data != NULL && store_hash_equal(&c->h, h)) {
        p->cache_hits++;
        k = c->kind;
        n = c->len;
        d = malloc(n > 0 ? n : 1);
        if (d == NULL)
            rc = -ENOMEM;
        else if (n > 0)
            memcpy(d, c->data, n);
    } else {
        p->cache_misses++;
        if (off >= written_end(p))
            rc = read_buffered(p, off, h, &k, &d, &n);
        else
            rc = read_object(p, p->io, off, h, &k, &d, &n);
        if (rc == 0)
            cache_insert(p, h, k, d, n);
        else if (rc == -EBADMSG)
            pack_log(p, "pack %s: object at %llu is damaged", p->name, (unsigned long long)off);
    }
    pthread_mutex_unlock(&p->lock);
    if (rc < 0)
        return rc;
    if (kind != NULL)
        *kind = (enum store_kind)k;
    if (len != NULL)
        *len = n;
    *data = d;
    return 0;
}

static bool pack_has(struct objstore *s, const struct store_hash *h)
{
    struct pack *p = P(s);
    pthread_mutex_lock(&p->lock);
    uint64_t off = ix_find(&p->ix, h);
    if (off != 0)
        pack_gc_touch(p, h, off);
    pthread_mutex_unlock(&p->lock);
    return off != 0;
}

void store_pack_stats(struct objstore *s, struct store_pack_stats *st)
{
    struct pack *p = P(s);
    pthread_mutex_lock(&p->lock);
    *st = (struct store_pack_stats){
        .file_size = p->end,
        .objects = p->ix.count,
        .cache_bytes = p->cache_used,
        .cache_hits = p->cache_hits,
        .cache_misses = p->cache_misses,
        .syncs = p->syncs,
        .ref_records = p->ref_records,
        .pending = (uint32_t)p->nwaiters,
        .failed = p->failed,
    };
    pthread_mutex_unlock(&p->lock);
}

void pack_free(struct pack *p)
{
    if (p->io != NULL)
        p->io->ops->close(p->io);
    if (p->own_dir && p->dir != NULL)
        p->dir->ops->close(p->dir);
    pack_ix_free(&p->ix);
    free(p->refs);
    free(p->waiters);
    free(p->inflight);
    cache_free(p);
    free(p->scratch);
    free(p->wbuf);
    free(p->name);
    free(p->gcname);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static void pack_close(struct objstore *s)
{
    struct pack *p = P(s);
    if (p == NULL)
        return;
    pack_syncer_stop(p); /* it finishes the sync it owes; the flushes below do the rest */
    pack_filler_stop(p);
    pack_flush(s);
    pack_flush(s); /* after WRITE waiters (file only), what is unsynced goes to the device */
    pthread_mutex_lock(&p->lock);
    pack_trim_prealloc(p);
    pthread_mutex_unlock(&p->lock);
    pack_free(p);
}

const struct objstore_ops pack_ops = {
    .put = pack_put,
    .get = pack_get,
    .has = pack_has,
    .get_ref = pack_get_ref,
    .set_ref = pack_set_ref,
    .del_ref = pack_del_ref,
    .list_refs = pack_list_refs,
    .flush = pack_flush,
    .close = pack_close,
    .put_added = pack_put_added,
    .prefetch = pack_prefetch,
    .put_hashed = pack_put_hashed,
};
