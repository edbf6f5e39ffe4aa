/*
 * The on-disk object heap (store_pack.h): one append-only file of checksummed records.
 * docs/store-format.md is the reference for the layout and the recovery rules; the comments
 * here point at it rather than repeating it.
 *
 *   file   := header record*
 *   header := "XKSTPAK1" u32 version(1) u32 header_len(32) u64 created_ns u32 0 u32 crc32c
 *   record := u8 type u8 kind u16 0 u32 len [hash(32) if object] payload(len) u32 crc32c
 *   refs payload := u64 seq u64 synced_upto u32 count { u8 op u8 namelen name [hash] }*
 *
 * All integers little-endian. In memory: an open-addressing index hash -> record offset
 * (rebuilt by the scan at open), the refs, a direct-mapped object cache bounded in bytes,
 * and the BATCH updates waiting for their sync.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xenstore/store_pack.h"

#define PACK_MAGIC "XKSTPAK1"
#define PACK_VERSION 1
#define HDR_LEN 32
#define REC_HDR 8
#define REC_CRC 4
#define REC_OBJ 1
#define REC_REFS 2
#define REFS_DELTA 0
#define REFS_FULL 1
#define REF_SET 1
#define REF_DEL 2
#define OBJ_MAX (64u << 20)
#define REFS_MAX (16u << 20)
#define REFS_FIXED 20 /* seq, synced_upto, count */

/* ---- CRC-32C (Castagnoli), slice-by-8 ------------------------------------------------------ */

static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
}

static uint32_t crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = data;
    crc = ~crc;
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
              crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^ crc_tab[3][p[4]] ^
              crc_tab[2][p[5]] ^ crc_tab[1][p[6]] ^ crc_tab[0][p[7]];
        p += 8;
        len -= 8;
    }
    while (len-- > 0)
        crc = (crc >> 8) ^ crc_tab[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the index: open addressing, linear probing, off == 0 is empty ------------------------- */

struct ix_entry {
    struct store_hash h;
    uint64_t off;
};

struct index {
    struct ix_entry *e;
    size_t mask, count;
};

static size_t ix_home(const struct index *ix, const struct store_hash *h)
{
    uint64_t x;
    memcpy(&x, h->b, sizeof(x));
    return (size_t)x & ix->mask;
}

#define IX_EST_BYTES 100 /* expected file bytes per object, to size the index at open */

static int ix_init(struct index *ix, size_t cap)
{
    size_t n = 1024;
    while (n < cap * 2)
        n *= 2;
    ix->e = calloc(n, sizeof(*ix->e));
    if (ix->e == NULL)
        return -ENOMEM;
    ix->mask = n - 1;
    ix->count = 0;
    return 0;
}

static uint64_t ix_find(const struct index *ix, const struct store_hash *h)
{
    for (size_t i = ix_home(ix, h);; i = (i + 1) & ix->mask) {
        if (ix->e[i].off == 0)
            return 0;
        if (store_hash_equal(&ix->e[i].h, h))
            return ix->e[i].off;
    }
}

static void ix_put_nogrow(struct index *ix, const struct store_hash *h, uint64_t off)
{
    size_t i = ix_home(ix, h);
    while (ix->e[i].off != 0) {
        if (store_hash_equal(&ix->e[i].h, h))
            return;
        i = (i + 1) & ix->mask;
    }
    ix->e[i].h = *h;
    ix->e[i].off = off;
    ix->count++;
}

static int ix_put(struct index *ix, const struct store_hash *h, uint64_t off)
{
    if ((ix->count + 1) * 10 > (ix->mask + 1) * 7) {
        struct index n;
        if (ix_init(&n, ix->mask + 1) < 0)
            return -ENOMEM;
        for (size_t i = 0; i <= ix->mask; i++)
            if (ix->e[i].off != 0)
                ix_put_nogrow(&n, &ix->e[i].h, ix->e[i].off);
        free(ix->e);
        *ix = n;
    }
    ix_put_nogrow(ix, h, off);
    return 0;
}

/* Backward-shift deletion (only the open scan needs it, to drop objects it had admitted). */
static void ix_del(struct index *ix, const struct store_hash *h)
{
    size_t i = ix_home(ix, h);
    while (ix->e[i].off != 0 && !store_hash_equal(&ix->e[i].h, h))
        i = (i + 1) & ix->mask;
    if (ix->e[i].off == 0)
        return;
    ix->e[i].off = 0;
    ix->count--;
    for (size_t j = (i + 1) & ix->mask; ix->e[j].off != 0; j = (j + 1) & ix->mask) {
        size_t k = ix_home(ix, &ix->e[j].h);
        bool movable = (j > i) ? (k <= i || k > j) : (k <= i && k > j);
        if (movable) {
            ix->e[i] = ix->e[j];
            ix->e[j].off = 0;
            i = j;
        }
    }
}

/* ---- the pack ------------------------------------------------------------------------------ */

struct ref {
    char name[STORE_REF_NAME_MAX + 1];
    struct store_hash h;
};

struct waiter {
    store_durable_fn fn;
    void *arg;
};

struct cache_slot {
    struct store_hash h;
    uint8_t kind;
    size_t len;
    uint8_t *data; /* NULL: empty */
};

struct gc_state {
    pthread_t thread;
    uint64_t start_off;      /* objects at or after this offset are copied by catch-up */
    struct store_hash *touched; /* older objects writers used during the GC */
    size_t ntouched, captouched;
    bool overflow;           /* out of memory recording them: the GC must fail */
};

struct pack {
    struct objstore base;
    pthread_mutex_t lock;
    struct store_iodir *dir;
    bool own_dir;
    char *name, *gcname;
    struct store_io *io;
    uint64_t end;         /* where the next record goes */
    uint64_t synced_end;  /* everything before it is known durable */
    uint64_t seq;         /* the last ref record's sequence number */
    uint64_t refs_end;    /* the end of the last ref record: objects after it are in flight */
    int failed;
    struct index ix;
    struct ref *refs;
    size_t nrefs, caprefs;
    struct waiter *waiters;
    size_t nwaiters, capwaiters;
    uint64_t batch_since_ns;
    struct store_pack_opts opts;
    struct cache_slot *cache;
    size_t cache_mask, cache_used;
    uint64_t cache_hits, cache_misses, syncs, ref_records;
    uint8_t *scratch;
    size_t scratch_cap;
    /* Write buffer: records appended but not yet passed to pwrite. They sit at file offsets
     * [end - wlen, end); set_ref/del_ref/flush/sync (and a full buffer) write them out. */
    uint8_t *wbuf;
    size_t wlen, wcap;
    struct gc_state *gc;
};

#define WBUF_MAX (1u << 20) /* write out before the buffer would grow past this */

static struct pack *P(struct objstore *s)
{
    return (struct pack *)s;
}

static void plog(struct pack *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void plog(struct pack *p, const char *fmt, ...)
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

static bool valid_kind(unsigned kind)
{
    return kind == STORE_KIND_BLOB || kind == STORE_KIND_NODE || kind == STORE_KIND_COMMIT;
}

static bool valid_name(const char *name)
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

/* -- refs -- */

static struct ref *ref_find(struct pack *p, const char *name)
{
    for (size_t i = 0; i < p->nrefs; i++)
        if (strcmp(p->refs[i].name, name) == 0)
            return &p->refs[i];
    return NULL;
}

static int ref_apply(struct pack *p, unsigned op, const char *name, const struct store_hash *h)
{
    struct ref *r = ref_find(p, name);
    if (op == REF_DEL) {
        if (r != NULL)
            *r = p->refs[--p->nrefs];
        return 0;
    }
    if (r == NULL) {
        if (p->nrefs == p->caprefs) {
            size_t cap = p->caprefs ? p->caprefs * 2 : 8;
            struct ref *n = realloc(p->refs, cap * sizeof(*n));
            if (n == NULL)
                return -ENOMEM;
            p->refs = n;
            p->caprefs = cap;
        }
        r = &p->refs[p->nrefs++];
        strcpy(r->name, name);
    }
    r->h = *h;
    return 0;
}

/* -- appending -- */

/* Encode a record into p->scratch; returns its total length or -ENOMEM. */
static int64_t encode_record(struct pack *p, unsigned type, unsigned kind,
                             const struct store_hash *h, const void *payload, size_t len)
{
    size_t hl = type == REC_OBJ ? STORE_HASH_LEN : 0;
    size_t total = REC_HDR + hl + len + REC_CRC;
    uint8_t *b = scratch(p, total);
    if (b == NULL)
        return -ENOMEM;
    b[0] = (uint8_t)type;
    b[1] = (uint8_t)kind;
    b[2] = b[3] = 0;
    put_le32(b + 4, (uint32_t)len);
    if (hl)
        memcpy(b + REC_HDR, h->b, hl);
    if (len > 0)
        memcpy(b + REC_HDR + hl, payload, len);
    put_le32(b + REC_HDR + hl + len, crc32c(0, b, REC_HDR + hl + len));
    return (int64_t)total;
}

static int write_at(struct pack *p, const uint8_t *buf, size_t len, uint64_t off)
{
    int rc = store_io_write_all(p->io, buf, len, off);
    if (rc < 0) {
        p->failed = rc;
        plog(p, "pack %s: write at %llu failed (%s); updates refused until reopened", p->name,
             (unsigned long long)off, strerror(-rc));
    }
    return rc;
}

/* Pass the buffered records to the file (one pwrite). On failure the pack refuses updates
 * and the buffer is kept, so that its objects can still be read. */
static int wbuf_write(struct pack *p)
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

/* The end of what has been passed to the file (lock held). */
static uint64_t written_end(const struct pack *p)
{
    return p->end - p->wlen;
}

/* Append a record. Object records are buffered; a ref record (`now`) is written at once,
 * right after the buffered objects are written out: two pwrites per update instead of one
 * per object. (Kept as two so that a failed write of the objects is never followed by the
 * ref record that names them; the recovery rules do not depend on it.) */
static int append(struct pack *p, const uint8_t *rec, size_t total, uint64_t *at, bool now)
{
    if (p->failed)
        return p->failed;
    int rc = 0;
    if (!now && p->wlen + total > p->wcap) {
        if (p->wlen + total > WBUF_MAX)
            rc = wbuf_write(p);
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
    if (rc == 0 && !now && p->wlen + total <= p->wcap) {
        memcpy(p->wbuf + p->wlen, rec, total);
        p->wlen += total;
    } else {
        /* A ref record, or a record too big for the buffer (or no memory for it). */
        if (rc == 0)
            rc = wbuf_write(p);
        if (rc == 0)
            rc = write_at(p, rec, total, p->end);
    }
    if (rc < 0)
        return rc;
    if (at != NULL)
        *at = p->end;
    p->end += total;
    return 0;
}

/* The sync that makes every appended record durable (docs/store-format.md, "Durability"). */
static int do_sync(struct pack *p)
{
    if (p->failed)
        return p->failed;
    int wrc = wbuf_write(p);
    if (wrc < 0)
        return wrc;
    uint64_t end = p->end;
    p->syncs++;
    int rc = p->io->ops->sync(p->io);
    if (rc < 0) {
        p->failed = rc;
        plog(p, "pack %s: sync failed (%s); updates refused until reopened", p->name,
             strerror(-rc));
        return rc;
    }
    p->synced_end = end;
    return 0;
}

static int append_refs(struct pack *p, unsigned kind, const uint8_t *entries, size_t elen,
                       uint32_t count)
{
    uint8_t *buf = malloc(REFS_FIXED + elen);
    if (buf == NULL)
        return -ENOMEM;
    put_le64(buf, p->seq + 1);
    put_le64(buf + 8, p->synced_end);
    put_le32(buf + 16, count);
    memcpy(buf + REFS_FIXED, entries, elen);
    int64_t total = encode_record(p, REC_REFS, kind, NULL, buf, REFS_FIXED + elen);
    free(buf);
    if (total < 0)
        return (int)total;
    int rc = append(p, p->scratch, (size_t)total, NULL, true);
    if (rc == 0) {
        p->seq++;
        p->ref_records++;
        p->refs_end = p->end;
    }
    return rc;
}

static size_t encode_ref_entry(uint8_t *b, unsigned op, const char *name,
                               const struct store_hash *h)
{
    size_t n = strlen(name);
    b[0] = (uint8_t)op;
    b[1] = (uint8_t)n;
    memcpy(b + 2, name, n);
    if (op == REF_SET) {
        memcpy(b + 2 + n, h->b, STORE_HASH_LEN);
        return 2 + n + STORE_HASH_LEN;
    }
    return 2 + n;
}

/* -- GC bookkeeping of older objects writers touch -- */

static void gc_touch(struct pack *p, const struct store_hash *h, uint64_t off)
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

static int pack_put(struct objstore *s, enum store_kind kind, const void *data, size_t len,
                    struct store_hash *out)
{
    struct pack *p = P(s);
    if (!valid_kind(kind) || (data == NULL && len > 0))
        return -EINVAL;
    if (len > OBJ_MAX)
        return -EFBIG;
    struct store_hash h;
    store_hash_object(kind, data, len, &h);
    pthread_mutex_lock(&p->lock);
    int rc = 0;
    uint64_t off = ix_find(&p->ix, &h);
    if (off != 0) {
        gc_touch(p, &h, off);
    } else if (p->failed) {
        rc = p->failed;
    } else {
        int64_t total = encode_record(p, REC_OBJ, kind, &h, data, len);
        rc = total < 0 ? (int)total : append(p, p->scratch, (size_t)total, &off, false);
        if (rc == 0)
            rc = ix_put(&p->ix, &h, off);
        if (rc == 0)
            cache_insert(p, &h, kind, data, len);
    }
    pthread_mutex_unlock(&p->lock);
    if (rc == 0 && out != NULL)
        *out = h;
    return rc;
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
    if (crc32c(0, b, sizeof(hdr) + n) != le32(b + sizeof(hdr) + n) ||
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
    gc_touch(p, h, off);
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
            plog(p, "pack %s: object at %llu is damaged", p->name, (unsigned long long)off);
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
        gc_touch(p, h, off);
    pthread_mutex_unlock(&p->lock);
    return off != 0;
}

static int pack_get_ref(struct objstore *s, const char *name, struct store_hash *out)
{
    struct pack *p = P(s);
    if (!valid_name(name))
        return -EINVAL;
    pthread_mutex_lock(&p->lock);
    struct ref *r = ref_find(p, name);
    if (r != NULL)
        *out = r->h;
    pthread_mutex_unlock(&p->lock);
    return r != NULL ? 0 : -ENOENT;
}

/* Take the waiting BATCH callbacks out (lock held); they are called after unlocking. */
static struct waiter *take_waiters(struct pack *p, size_t *n)
{
    struct waiter *w = p->waiters;
    *n = p->nwaiters;
    p->waiters = NULL;
    p->nwaiters = p->capwaiters = 0;
    return w;
}

static void call_waiters(struct waiter *w, size_t n, bool ok)
{
    for (size_t i = 0; i < n; i++)
        if (w[i].fn != NULL)
            w[i].fn(w[i].arg, ok);
    free(w);
}

static bool batch_due(struct pack *p)
{
    return p->nwaiters >= p->opts.batch_max_updates ||
           p->end - p->synced_end >= p->opts.batch_max_bytes ||
           (p->nwaiters > 0 &&
            now_ns() - p->batch_since_ns >= (uint64_t)p->opts.batch_max_ms * 1000000u);
}

/* Common tail of set_ref and del_ref (lock held, the ref record appended and applied). */
static int finish_update(struct pack *p, enum store_sync sync, store_durable_fn done,
                         void *done_arg)
{
    struct waiter *w = NULL;
    size_t nw = 0;
    int rc = 0;
    bool call_done_now = false;
    switch (sync) {
    case STORE_SYNC_ALWAYS:
        rc = do_sync(p);
        w = take_waiters(p, &nw); /* earlier BATCH updates are durable now too */
        call_done_now = true;
        break;
    case STORE_SYNC_BATCH:
        if (p->nwaiters == p->capwaiters) {
            size_t cap = p->capwaiters ? p->capwaiters * 2 : 64;
            struct waiter *n = realloc(p->waiters, cap * sizeof(*n));
            if (n == NULL) {
                /* Cannot queue the callback: make it durable now instead. */
                rc = do_sync(p);
                w = take_waiters(p, &nw);
                call_done_now = true;
                break;
            }
            p->waiters = n;
            p->capwaiters = cap;
        }
        if (p->nwaiters == 0)
            p->batch_since_ns = now_ns();
        p->waiters[p->nwaiters++] = (struct waiter){done, done_arg};
        if (batch_due(p)) {
            rc = do_sync(p);
            w = take_waiters(p, &nw);
        }
        break;
    case STORE_SYNC_NONE:
    default:
        call_done_now = true;
        break;
    }
    pthread_mutex_unlock(&p->lock);
    call_waiters(w, nw, rc == 0);
    if (call_done_now && done != NULL && rc == 0)
        done(done_arg, true);
    return rc;
}

static int pack_set_ref(struct objstore *s, const char *name, const struct store_hash *expect,
                        const struct store_hash *value, enum store_sync sync,
                        store_durable_fn done, void *done_arg)
{
    struct pack *p = P(s);
    if (!valid_name(name) || value == NULL)
        return -EINVAL;
    pthread_mutex_lock(&p->lock);
    struct ref *r = ref_find(p, name);
    int rc = 0;
    uint64_t off;
    if (expect == NULL ? r != NULL : (r == NULL || !store_hash_equal(&r->h, expect)))
        rc = -EEXIST;
    else if ((off = ix_find(&p->ix, value)) == 0)
        rc = -ENOENT;
    else if (p->failed)
        rc = p->failed;
    if (rc == 0) {
        gc_touch(p, value, off);
        uint8_t e[2 + STORE_REF_NAME_MAX + STORE_HASH_LEN];
        size_t n = encode_ref_entry(e, REF_SET, name, value);
        struct store_hash old = r != NULL ? r->h : *value;
        bool existed = r != NULL;
        rc = append_refs(p, REFS_DELTA, e, n, 1);
        if (rc == 0)
            rc = ref_apply(p, REF_SET, name, value);
        if (rc == 0) {
            rc = finish_update(p, sync, done, done_arg);
            if (rc < 0 && sync == STORE_SYNC_ALWAYS) {
                /* Not durable: do not show it (the pack refuses updates from now on). */
                pthread_mutex_lock(&p->lock);
                if (existed)
                    ref_apply(p, REF_SET, name, &old);
                else
                    ref_apply(p, REF_DEL, name, NULL);
                pthread_mutex_unlock(&p->lock);
                if (done != NULL)
                    done(done_arg, false);
            }
            return rc;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

static int pack_del_ref(struct objstore *s, const char *name, const struct store_hash *expect,
                        enum store_sync sync)
{
    struct pack *p = P(s);
    if (!valid_name(name))
        return -EINVAL;
    pthread_mutex_lock(&p->lock);
    struct ref *r = ref_find(p, name);
    int rc = 0;
    if (r == NULL)
        rc = -ENOENT;
    else if (expect != NULL && !store_hash_equal(&r->h, expect))
        rc = -EEXIST;
    else if (p->failed)
        rc = p->failed;
    if (rc == 0) {
        uint8_t e[2 + STORE_REF_NAME_MAX];
        size_t n = encode_ref_entry(e, REF_DEL, name, NULL);
        struct store_hash old = r->h;
        rc = append_refs(p, REFS_DELTA, e, n, 1);
        if (rc == 0) {
            ref_apply(p, REF_DEL, name, NULL);
            rc = finish_update(p, sync, NULL, NULL);
            if (rc < 0 && sync == STORE_SYNC_ALWAYS) {
                pthread_mutex_lock(&p->lock);
                ref_apply(p, REF_SET, name, &old);
                pthread_mutex_unlock(&p->lock);
            }
            return rc;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

static int pack_list_refs(struct objstore *s,
                          int (*fn)(void *arg, const char *name, const struct store_hash *h),
                          void *arg)
{
    struct pack *p = P(s);
    /* Copy under the lock, call without it (fn may use the store). */
    pthread_mutex_lock(&p->lock);
    size_t n = p->nrefs;
    struct ref *copy = malloc((n ? n : 1) * sizeof(*copy));
    if (copy != NULL && n > 0)
        memcpy(copy, p->refs, n * sizeof(*copy));
    pthread_mutex_unlock(&p->lock);
    if (copy == NULL)
        return -ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = fn(arg, copy[i].name, &copy[i].h);
    free(copy);
    return rc;
}

static int pack_flush(struct objstore *s)
{
    struct pack *p = P(s);
    pthread_mutex_lock(&p->lock);
    int rc = p->failed;
    if (rc == 0 && (p->nwaiters > 0 || p->synced_end != p->end))
        rc = do_sync(p);
    size_t nw;
    struct waiter *w = take_waiters(p, &nw);
    pthread_mutex_unlock(&p->lock);
    call_waiters(w, nw, rc == 0);
    return rc;
}

int store_pack_poll(struct objstore *s)
{
    struct pack *p = P(s);
    pthread_mutex_lock(&p->lock);
    if (p->nwaiters == 0) {
        pthread_mutex_unlock(&p->lock);
        return p->failed ? p->failed : -1;
    }
    uint64_t age = now_ns() - p->batch_since_ns;
    uint64_t limit = (uint64_t)p->opts.batch_max_ms * 1000000u;
    if (age < limit && !p->failed) {
        pthread_mutex_unlock(&p->lock);
        return (int)((limit - age + 999999) / 1000000);
    }
    pthread_mutex_unlock(&p->lock);
    int rc = pack_flush(s);
    return rc < 0 ? rc : -1;
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

static void pack_free(struct pack *p)
{
    if (p->io != NULL)
        p->io->ops->close(p->io);
    if (p->own_dir && p->dir != NULL)
        p->dir->ops->close(p->dir);
    free(p->ix.e);
    free(p->refs);
    free(p->waiters);
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
    pack_flush(s);
    pack_free(p);
}

static const struct objstore_ops pack_ops = {
    .put = pack_put,
    .get = pack_get,
    .has = pack_has,
    .get_ref = pack_get_ref,
    .set_ref = pack_set_ref,
    .del_ref = pack_del_ref,
    .list_refs = pack_list_refs,
    .flush = pack_flush,
    .close = pack_close,
};

/* ---- open: the scan ---------------------------------------------------------------------------- */

/* A buffered sequential reader over the file. */
struct reader {
    struct store_io *io;
    uint64_t size;
    uint8_t *buf;
    size_t cap;
    uint64_t boff; /* file offset of buf[0] */
    size_t blen;
};

/* Make [off, off+len) available; returns a pointer or NULL (I/O error in *err, or past EOF). */
static const uint8_t *rd(struct reader *r, uint64_t off, size_t len, int *err)
{
    *err = 0;
    if (off + len > r->size || off + len < off)
        return NULL;
    if (off >= r->boff && off + len <= r->boff + r->blen)
        return r->buf + (off - r->boff);
    if (len > r->cap) {
        size_t cap = r->cap;
        while (cap < len)
            cap *= 2;
        uint8_t *b = realloc(r->buf, cap);
        if (b == NULL) {
            *err = -ENOMEM;
            return NULL;
        }
        r->buf = b;
        r->cap = cap;
    }
    size_t want = r->cap;
    if (off + want > r->size)
        want = (size_t)(r->size - off);
    int rc = store_io_read_all(r->io, r->buf, want, off);
    if (rc < 0) {
        *err = rc == -ENODATA ? 0 : rc;
        r->blen = 0;
        return NULL;
    }
    r->boff = off;
    r->blen = want;
    return r->buf;
}

/* Is there a well-formed, checksummed record at off? Returns its total length (0: no), or a
 * negative error. *type, *kind and *body (the bytes after the header) describe it. */
static int64_t check_record(struct reader *r, uint64_t off, unsigned *type, unsigned *kind,
                            const uint8_t **rec)
{
    int err;
    const uint8_t *h = rd(r, off, REC_HDR, &err);
    if (h == NULL)
        return err;
    unsigned t = h[0], k = h[1];
    uint32_t len = le32(h + 4);
    if (h[2] != 0 || h[3] != 0)
        return 0;
    size_t total;
    if (t == REC_OBJ) {
        if (!valid_kind(k) || len > OBJ_MAX)
            return 0;
        total = REC_HDR + STORE_HASH_LEN + len + REC_CRC;
    } else if (t == REC_REFS) {
        if ((k != REFS_DELTA && k != REFS_FULL) || len > REFS_MAX || len < REFS_FIXED)
            return 0;
        total = REC_HDR + len + REC_CRC;
    } else {
        return 0;
    }
    const uint8_t *b = rd(r, off, total, &err);
    if (b == NULL)
        return err;
    if (crc32c(0, b, total - REC_CRC) != le32(b + total - REC_CRC))
        return 0;
    *type = t;
    *kind = k;
    *rec = b;
    return (int64_t)total;
}

struct pending {
    struct store_hash *h;
    size_t n, cap;
};

/* Parse and apply a refs record (its targets must be in the index). 0, or 1 if it is not
 * acceptable, or -ENOMEM. */
static int apply_refs_record(struct pack *p, unsigned kind, const uint8_t *body, size_t len,
                             bool first)
{
    uint64_t seq = le64(body);
    uint32_t count = le32(body + 16);
    if (!first && seq != p->seq + 1)
        return 1;
    /* Validate everything first, then apply. */
    size_t pos = REFS_FIXED;
    for (uint32_t i = 0; i < count; i++) {
        if (pos + 2 > len)
            return 1;
        unsigned op = body[pos], n = body[pos + 1];
        if ((op != REF_SET && op != REF_DEL) || n == 0 || pos + 2 + n > len ||
            memchr(body + pos + 2, 0, n) != NULL)
            return 1;
        if (op == REF_SET) {
            if (pos + 2 + n + STORE_HASH_LEN > len)
                return 1;
            struct store_hash h;
            memcpy(h.b, body + pos + 2 + n, STORE_HASH_LEN);
            if (ix_find(&p->ix, &h) == 0)
                return 1;
            pos += STORE_HASH_LEN;
        } else if (kind == REFS_FULL) {
            return 1;
        }
        pos += 2 + n;
    }
    if (pos != len)
        return 1;
    if (kind == REFS_FULL)
        p->nrefs = 0;
    pos = REFS_FIXED;
    for (uint32_t i = 0; i < count; i++) {
        unsigned op = body[pos], n = body[pos + 1];
        char name[STORE_REF_NAME_MAX + 1];
        memcpy(name, body + pos + 2, n);
        name[n] = '\0';
        struct store_hash h;
        if (op == REF_SET)
            memcpy(h.b, body + pos + 2 + n, STORE_HASH_LEN);
        if (ref_apply(p, op, name, &h) < 0)
            return -ENOMEM;
        pos += 2 + n + (op == REF_SET ? STORE_HASH_LEN : 0);
    }
    p->seq = seq;
    return 0;
}

/* After a bad record at `bad`: is there a later valid refs record claiming the file was
 * durable beyond `bad` (then committed data is damaged, not just an unsynced tail torn)? */
static int committed_after(struct reader *r, uint64_t bad, uint64_t last_seq, uint64_t *where)
{
    for (uint64_t off = bad + 1; off + REC_HDR + REFS_FIXED + REC_CRC <= r->size; off++) {
        int err;
        const uint8_t *h = rd(r, off, REC_HDR, &err);
        if (h == NULL)
            return err;
        if (h[0] != REC_REFS || h[2] != 0 || h[3] != 0)
            continue;
        unsigned t, k;
        const uint8_t *rec;
        int64_t n = check_record(r, off, &t, &k, &rec);
        if (n < 0)
            return (int)n;
        if (n == 0)
            continue;
        if (le64(rec + REC_HDR) > last_seq && le64(rec + REC_HDR + 8) > bad) {
            *where = off;
            return 1;
        }
    }
    return 0;
}

static int scan(struct pack *p, uint64_t size, struct store_pack_report *rep)
{
    struct reader r = {.io = p->io, .size = size, .cap = 1u << 20};
    r.buf = malloc(r.cap);
    struct pending pend = {0};
    if (r.buf == NULL)
        return -ENOMEM;
    uint64_t off = HDR_LEN, good = HDR_LEN;
    bool first = true;
    int rc = 0;
    for (;;) {
        unsigned type, kind;
        const uint8_t *rec;
        if (off == size)
            break;
        int64_t n = check_record(&r, off, &type, &kind, &rec);
        if (n < 0) {
            rc = (int)n;
            break;
        }
        if (n == 0)
            break;
        if (type == REC_OBJ) {
            if (pend.n == pend.cap) {
                size_t cap = pend.cap ? pend.cap * 2 : 1024;
                struct store_hash *nh = realloc(pend.h, cap * sizeof(*nh));
                if (nh == NULL) {
                    rc = -ENOMEM;
                    break;
                }
                pend.h = nh;
                pend.cap = cap;
            }
            memcpy(pend.h[pend.n].b, rec + REC_HDR, STORE_HASH_LEN);
            /* Admit it now (later refs may name it); withdrawn if no refs record follows. */
            if (ix_find(&p->ix, &pend.h[pend.n]) == 0) {
                if ((rc = ix_put(&p->ix, &pend.h[pend.n], off)) < 0)
                    break;
                pend.n++;
            }
        } else {
            int a = apply_refs_record(p, kind, rec + REC_HDR, (size_t)n - REC_HDR - REC_CRC,
                                      first);
            if (a < 0) {
                rc = a;
                break;
            }
            if (a > 0)
                break;
            first = false;
            rep->ref_records++;
            pend.n = 0;
            good = off + (uint64_t)n;
        }
        off += (uint64_t)n;
    }
    if (rc == 0) {
        for (size_t i = 0; i < pend.n; i++)
            ix_del(&p->ix, &pend.h[i]);
        rep->objects = p->ix.count;
        rep->valid_size = good;
        rep->bad_offset = off;
        if (good < size) {
            uint64_t where = 0;
            int c = off < size ? committed_after(&r, off, first ? 0 : p->seq, &where) : 0;
            if (c < 0) {
                rc = c;
            } else if (c > 0 && !p->opts.salvage) {
                snprintf(rep->msg, sizeof(rep->msg),
                         "pack %s: damaged record at %llu, but committed updates follow (at "
                         "%llu): refusing to open (salvage would cut %llu bytes)",
                         p->name, (unsigned long long)off, (unsigned long long)where,
                         (unsigned long long)(size - good));
                rc = -EBADMSG;
            } else {
                rep->truncated = true;
                rep->salvaged = c > 0;
                snprintf(rep->msg, sizeof(rep->msg),
                         "pack %s: %s at %llu; truncated from %llu to %llu bytes (last complete "
                         "ref update, seq %llu)",
                         p->name, c > 0 ? "damaged committed record" : "torn or damaged tail",
                         (unsigned long long)off, (unsigned long long)size,
                         (unsigned long long)good, (unsigned long long)p->seq);
            }
        }
    }
    free(pend.h);
    free(r.buf);
    return rc;
}

static void encode_header(uint8_t *h)
{
    memset(h, 0, HDR_LEN);
    memcpy(h, PACK_MAGIC, 8);
    put_le32(h + 8, PACK_VERSION);
    put_le32(h + 12, HDR_LEN);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    put_le64(h + 16, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
    put_le32(h + 28, crc32c(0, h, 28));
}

static bool header_ok(const uint8_t *h)
{
    return memcmp(h, PACK_MAGIC, 8) == 0 && le32(h + 8) == PACK_VERSION &&
           le32(h + 12) == HDR_LEN && le32(h + 28) == crc32c(0, h, 28);
}

/* A file shorter than a header holding zeros or a prefix of the magic: a creation that never
 * completed (the header is written by one write and synced before open returns). */
static bool torn_header(const uint8_t *h, size_t n)
{
    bool zeros = true;
    for (size_t i = 0; i < n; i++)
        zeros = zeros && h[i] == 0;
    return zeros || memcmp(h, PACK_MAGIC, n < 8 ? n : 8) == 0;
}

static int open_pack(struct pack *p, struct store_pack_report *rep)
{
    int rc = p->dir->ops->open(p->dir, p->name, p->opts.create ? STORE_IO_CREATE : 0, &p->io);
    if (rc < 0)
        return rc;
    /* A GC that did not finish leaves its new file behind: it was never switched to. */
    int u = p->dir->ops->unlink(p->dir, p->gcname);
    if (u == 0)
        plog(p, "pack %s: removed %s left by an unfinished GC", p->name, p->gcname);
    uint64_t size;
    if ((rc = p->io->ops->size(p->io, &size)) < 0)
        return rc;
    rep->file_size = size;
    uint8_t h[HDR_LEN];
    size_t hn = size < HDR_LEN ? (size_t)size : HDR_LEN;
    if (hn > 0 && (rc = store_io_read_all(p->io, h, hn, 0)) < 0)
        return rc == -ENODATA ? -EBADMSG : rc;
    if (size < HDR_LEN || !header_ok(h)) {
        if (size >= HDR_LEN || !torn_header(h, hn)) {
            snprintf(rep->msg, sizeof(rep->msg), "pack %s: not a pack file (bad header)",
                     p->name);
            return -EBADMSG;
        }
        /* Empty or torn during creation: nothing was ever committed in it. */
        encode_header(h);
        if ((rc = p->io->ops->truncate(p->io, 0)) < 0 ||
            (rc = store_io_write_all(p->io, h, HDR_LEN, 0)) < 0 ||
            (rc = p->io->ops->sync(p->io)) < 0 || (rc = p->dir->ops->sync_dir(p->dir)) < 0)
            return rc;
        p->end = p->synced_end = p->refs_end = HDR_LEN;
        rep->created = true;
        rep->valid_size = HDR_LEN;
        snprintf(rep->msg, sizeof(rep->msg), "pack %s: created%s", p->name,
                 size > 0 ? " (over an incomplete header)" : "");
        return 0;
    }
    /* Size the index for the objects the file probably holds, so that the scan does not
     * double it (rehashing, and faulting in every intermediate table) on its way up: object
     * records of the tree layer average about 120 bytes: expect one per IX_EST_BYTES (100).
     * Fewer (bigger objects) leaves slots unused (pages of the calloc'd table that no entry
     * lands on are never faulted in); more grow it as before. */
    size_t est = (size_t)((size - HDR_LEN) / IX_EST_BYTES);
    if (est > p->ix.mask / 2) {
        struct index ix;
        if (ix_init(&ix, est * 5 / 7) == 0) { /* est stays under the 70% growth load */
            free(p->ix.e);
            p->ix = ix;
        }
    }
    if ((rc = scan(p, size, rep)) < 0)
        return rc;
    if (rep->truncated) {
        /* Cut the tail, durably, before anything is appended after it. */
        if ((rc = p->io->ops->truncate(p->io, rep->valid_size)) < 0 ||
            (rc = p->io->ops->sync(p->io)) < 0)
            return rc;
    } else {
        snprintf(rep->msg, sizeof(rep->msg),
                 "pack %s: opened, %llu bytes, %llu objects, %llu ref updates", p->name,
                 (unsigned long long)size, (unsigned long long)rep->objects,
                 (unsigned long long)rep->ref_records);
    }
    p->end = p->synced_end = p->refs_end = rep->valid_size;
    return 0;
}

int store_pack_open(struct store_iodir *dir, const char *name, const struct store_pack_opts *opts,
                    struct objstore **out, struct store_pack_report *report)
{
    struct store_pack_report local;
    struct store_pack_report *rep = report != NULL ? report : &local;
    memset(rep, 0, sizeof(*rep));
    if (name == NULL || strlen(name) == 0 || strlen(name) > 200)
        return -EINVAL;
    struct pack *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    pthread_mutex_init(&p->lock, NULL);
    p->base.ops = &pack_ops;
    p->dir = dir;
    if (opts != NULL)
        p->opts = *opts;
    if (p->opts.cache_bytes == 0)
        p->opts.cache_bytes = 8u << 20;
    if (p->opts.batch_max_updates == 0)
        p->opts.batch_max_updates = 1024;
    if (p->opts.batch_max_bytes == 0)
        p->opts.batch_max_bytes = 8u << 20;
    if (p->opts.batch_max_ms == 0)
        p->opts.batch_max_ms = 5;
    size_t slots = 64;
    while (slots * 512 < p->opts.cache_bytes)
        slots *= 2;
    p->cache = calloc(slots, sizeof(*p->cache));
    p->cache_mask = slots - 1;
    p->name = strdup(name);
    p->gcname = malloc(strlen(name) + 4);
    int rc = -ENOMEM;
    if (p->cache != NULL && p->name != NULL && p->gcname != NULL && ix_init(&p->ix, 1024) == 0) {
        sprintf(p->gcname, "%s.gc", name);
        rc = open_pack(p, rep);
    }
    if (rc < 0) {
        if (rep->msg[0] == '\0')
            snprintf(rep->msg, sizeof(rep->msg), "pack %s: open failed: %s", name,
                     strerror(-rc));
        plog(p, "%s", rep->msg);
        p->own_dir = false;
        pack_free(p);
        return rc;
    }
    plog(p, "%s", rep->msg);
    *out = &p->base;
    return 0;
}

int store_pack_open_path(const char *path, const struct store_pack_opts *opts,
                         struct objstore **out, struct store_pack_report *report)
{
    const char *slash = strrchr(path, '/');
    char *dirpath = slash == NULL ? strdup(".") : strndup(path, (size_t)(slash - path + 1));
    if (dirpath == NULL)
        return -ENOMEM;
    struct store_iodir *dir;
    int rc = store_io_posix_dir(dirpath, &dir);
    free(dirpath);
    if (rc < 0)
        return rc;
    rc = store_pack_open(dir, slash == NULL ? path : slash + 1, opts, out, report);
    if (rc < 0) {
        dir->ops->close(dir);
        return rc;
    }
    P(*out)->own_dir = true;
    return 0;
}

/* ---- garbage collection ------------------------------------------------------------------------ */

struct gc_writer {
    struct store_io *io;
    uint8_t *buf;
    size_t n, cap;
    uint64_t off; /* file offset of buf[0] */
};

static int gw_flush(struct gc_writer *w)
{
    int rc = store_io_write_all(w->io, w->buf, w->n, w->off);
    if (rc == 0) {
        w->off += w->n;
        w->n = 0;
    }
    return rc;
}

static int gw_append(struct gc_writer *w, const void *d, size_t len, uint64_t *at)
{
    if (at != NULL)
        *at = w->off + w->n;
    if (w->n + len > w->cap) {
        int rc = gw_flush(w);
        if (rc < 0)
            return rc;
        if (len > w->cap)
            return store_io_write_all(w->io, d, len, (w->off += len) - len);
    }
    memcpy(w->buf + w->n, d, len);
    w->n += len;
    return 0;
}

struct gc_ctx {
    struct pack *p;
    struct store_io *old;
    struct gc_writer w;
    struct index nix;
    struct reader r; /* over the old file */
    uint64_t live;
};

/* Copy the (checked) object record at off of the old file into the new one. */
static int gc_copy_at(struct gc_ctx *c, uint64_t off, uint64_t limit)
{
    unsigned type, kind;
    const uint8_t *rec;
    c->r.size = limit;
    int64_t n = check_record(&c->r, off, &type, &kind, &rec);
    if (n <= 0 || type != REC_OBJ)
        return n < 0 ? (int)n : -EBADMSG;
    struct store_hash h;
    memcpy(h.b, rec + REC_HDR, STORE_HASH_LEN);
    if (ix_find(&c->nix, &h) != 0)
        return 0;
    uint64_t at;
    int rc = gw_append(&c->w, rec, (size_t)n, &at);
    return rc < 0 ? rc : ix_put(&c->nix, &h, at);
}

static int gc_live(void *arg, const struct store_hash *h)
{
    struct gc_ctx *c = arg;
    c->live++;
    if (ix_find(&c->nix, h) != 0)
        return 0;
    struct pack *p = c->p;
    pthread_mutex_lock(&p->lock);
    uint64_t off = ix_find(&p->ix, h);
    uint64_t start = p->gc->start_off;
    pthread_mutex_unlock(&p->lock);
    if (off == 0)
        return -ENOENT;
    if (off >= start)
        return 0; /* appended during the GC: the catch-up copies it */
    return gc_copy_at(c, off, start);
}

/* Copy every object record in [from, to) of the old file. */
static int gc_copy_range(struct gc_ctx *c, uint64_t from, uint64_t to)
{
    c->r.size = to;
    for (uint64_t off = from; off < to;) {
        unsigned type, kind;
        const uint8_t *rec;
        int64_t n = check_record(&c->r, off, &type, &kind, &rec);
        if (n <= 0)
            return n < 0 ? (int)n : -EBADMSG;
        if (type == REC_OBJ) {
            int rc = gc_copy_at(c, off, to);
            if (rc < 0)
                return rc;
        }
        off += (uint64_t)n;
    }
    return 0;
}

/* Copy the older objects writers touched meanwhile (lock held by the caller if `locked`). */
static int gc_copy_touched(struct gc_ctx *c, bool locked)
{
    struct pack *p = c->p;
    if (!locked)
        pthread_mutex_lock(&p->lock);
    struct store_hash *t = p->gc->touched;
    size_t n = p->gc->ntouched;
    bool overflow = p->gc->overflow;
    p->gc->touched = NULL;
    p->gc->ntouched = p->gc->captouched = 0;
    int rc = overflow ? -ENOMEM : 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint64_t off = ix_find(&p->ix, &t[i]);
        if (off != 0 && ix_find(&c->nix, &t[i]) == 0)
            rc = gc_copy_at(c, off, p->gc->start_off);
    }
    if (!locked)
        pthread_mutex_unlock(&p->lock);
    free(t);
    return rc;
}

int store_pack_gc(struct objstore *s, store_enum_fn enumerate, void *arg,
                  struct store_pack_gc_stats *stats)
{
    struct pack *p = P(s);
    struct store_pack_gc_stats st = {0};
    pthread_mutex_lock(&p->lock);
    if (p->gc != NULL || p->failed) {
        int rc = p->gc != NULL ? -EBUSY : p->failed;
        pthread_mutex_unlock(&p->lock);
        return rc;
    }
    struct gc_state *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        pthread_mutex_unlock(&p->lock);
        return -ENOMEM;
    }
    g->thread = pthread_self();
    /* Objects put since the last ref update belong to a commit being built: the catch-up
     * copies them with everything appended during the GC. */
    g->start_off = p->refs_end;
    p->gc = g;
    st.bytes_before = p->end;
    size_t old_count = p->ix.count;
    pthread_mutex_unlock(&p->lock);

    struct gc_ctx c = {.p = p, .old = p->io};
    c.r = (struct reader){.io = p->io, .cap = 1u << 20};
    c.r.buf = malloc(c.r.cap);
    c.w.cap = 1u << 20;
    c.w.buf = malloc(c.w.cap);
    int rc = (c.r.buf == NULL || c.w.buf == NULL) ? -ENOMEM : ix_init(&c.nix, old_count / 2);
    if (rc == 0)
        rc = p->dir->ops->open(p->dir, p->gcname, STORE_IO_CREATE | STORE_IO_TRUNC, &c.w.io);
    if (rc == 0) {
        uint8_t h[HDR_LEN];
        encode_header(h);
        rc = gw_append(&c.w, h, HDR_LEN, NULL);
    }
    /* 1. The live set, as of the start. */
    if (rc == 0)
        rc = enumerate(arg, gc_live, &c);
    if (rc > 0)
        rc = -ECANCELED;
    /* 2. Catch up with what writers appended meanwhile, without stopping them. */
    uint64_t cursor = g->start_off;
    while (rc == 0 && st.catchup_rounds < 16) {
        pthread_mutex_lock(&p->lock);
        uint64_t end = written_end(p); /* the catch-up reads the file */
        int failed = p->failed;
        pthread_mutex_unlock(&p->lock);
        if (failed) {
            rc = failed;
            break;
        }
        if (end - cursor < 65536)
            break;
        rc = gc_copy_range(&c, cursor, end);
        if (rc == 0)
            rc = gc_copy_touched(&c, false);
        cursor = end;
        st.catchup_rounds++;
    }
    /* 3. Stop the writers: the last catch-up, the refs, sync, rename, switch. */
    pthread_mutex_lock(&p->lock);
    uint64_t t0 = now_ns();
    if (rc == 0 && p->failed)
        rc = p->failed;
    if (rc == 0)
        rc = wbuf_write(p); /* objects put since the last ref update: into the old file, so
                               that the last catch-up copies them */
    if (rc == 0)
        rc = gc_copy_range(&c, cursor, p->end);
    if (rc == 0)
        rc = gc_copy_touched(&c, true);
    uint8_t *entries = NULL;
    size_t elen = 0;
    if (rc == 0) {
        entries = malloc(p->nrefs * (2 + STORE_REF_NAME_MAX + STORE_HASH_LEN) + 1);
        if (entries == NULL)
            rc = -ENOMEM;
        for (size_t i = 0; rc == 0 && i < p->nrefs; i++) {
            if (ix_find(&c.nix, &p->refs[i].h) == 0) {
                char hex[65];
                store_hash_hex(&p->refs[i].h, hex);
                plog(p, "pack %s: GC aborted: ref %s names %s, which is not in the live set",
                     p->name, p->refs[i].name, hex);
                rc = -ESTALE;
                break;
            }
            elen += encode_ref_entry(entries + elen, REF_SET, p->refs[i].name, &p->refs[i].h);
        }
    }
    if (rc == 0) {
        uint64_t at = c.w.off + c.w.n;
        uint8_t *buf = malloc(REFS_FIXED + elen);
        if (buf == NULL) {
            rc = -ENOMEM;
        } else {
            put_le64(buf, p->seq + 1);
            put_le64(buf + 8, at); /* true once the sync below returns; the file is not
                                      used before */
            put_le32(buf + 16, (uint32_t)p->nrefs);
            memcpy(buf + REFS_FIXED, entries, elen);
            int64_t total = encode_record(p, REC_REFS, REFS_FULL, NULL, buf, REFS_FIXED + elen);
            free(buf);
            rc = total < 0 ? (int)total : gw_append(&c.w, p->scratch, (size_t)total, NULL);
        }
    }
    free(entries);
    if (rc == 0)
        rc = gw_flush(&c.w);
    if (rc == 0)
        rc = c.w.io->ops->sync(c.w.io); /* fdatasync: the new pack's bytes are durable */
    if (rc == 0)
        rc = p->dir->ops->rename(p->dir, p->gcname, p->name); /* atomic switch of the name */
    size_t nw = 0;
    struct waiter *w = NULL;
    if (rc == 0) {
        int drc = p->dir->ops->sync_dir(p->dir); /* fsync(dir): the switch is durable */
        st.bytes_after = c.w.off;
        st.copied_objects = c.nix.count;
        p->io = c.w.io;
        c.w.io = NULL;
        c.old->ops->close(c.old);
        p->end = p->synced_end = p->refs_end = c.w.off;
        p->seq++;
        free(p->ix.e);
        p->ix = c.nix;
        c.nix.e = NULL;
        if (drc < 0) {
            p->failed = drc;
            plog(p, "pack %s: directory sync after GC failed (%s); updates refused", p->name,
                 strerror(-drc));
        } else {
            w = take_waiters(p, &nw); /* their updates are in the synced new pack */
        }
    }
    st.switch_us = (now_ns() - t0) / 1000;
    p->gc = NULL;
    pthread_mutex_unlock(&p->lock);
    call_waiters(w, nw, true);

    if (c.w.io != NULL) {
        c.w.io->ops->close(c.w.io);
        p->dir->ops->unlink(p->dir, p->gcname);
    }
    free(g->touched);
    free(g);
    free(c.nix.e);
    free(c.r.buf);
    free(c.w.buf);
    st.live_objects = c.live;
    if (rc == 0)
        plog(p, "pack %s: GC: %llu -> %llu bytes, %llu objects kept, %llu catch-up rounds, "
                "writers stopped %llu us",
             p->name, (unsigned long long)st.bytes_before, (unsigned long long)st.bytes_after,
             (unsigned long long)st.copied_objects, (unsigned long long)st.catchup_rounds,
             (unsigned long long)st.switch_us);
    else
        plog(p, "pack %s: GC failed: %s", p->name, strerror(-rc));
    if (stats != NULL)
        *stats = st;
    return rc;
}
