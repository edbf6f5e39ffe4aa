/*
 * Opening a pack (store_pack.h): the header, the scan that checks every record, rebuilds the
 * index and the refs and recovers from a torn or damaged tail (docs/store-format.md,
 * "Recovery"), and store_pack_open / store_pack_open_path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xenstore/store_pack_int.h"

#define IX_EST_BYTES 100 /* expected file bytes per object, to size the index at open */

/* Backward-shift deletion (only the open scan needs it, to drop objects it had admitted). */
static void ix_del(struct index *ix, const struct store_hash *h)
{
    pack_ix_settle(ix); /* one table */
    uint64_t k0, k1;
    ix_key(h, &k0, &k1);
    size_t i = ix_home_k0(ix, k0);
    while (ix->e[i].off != 0 && !ix_entry_is(&ix->e[i], k0, k1))
        i = (i + 1) & ix->mask;
    if (ix->e[i].off == 0)
        return;
    ix->e[i].off = 0;
    ix->count--;
    for (size_t j = (i + 1) & ix->mask; ix->e[j].off != 0; j = (j + 1) & ix->mask) {
        size_t k = ix_home_k0(ix, ix->e[j].k0);
        bool movable = (j > i) ? (k <= i || k > j) : (k <= i && k > j);
        if (movable) {
            ix->e[i] = ix->e[j];
            ix->e[j].off = 0;
            i = j;
        }
    }
}

/* ---- open: the scan ---------------------------------------------------------------------------- */

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
int64_t pack_check_record(struct reader *r, uint64_t off, unsigned *type, unsigned *kind,
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
    if (pack_crc32c(0, b, total - REC_CRC) != le32(b + total - REC_CRC))
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
        if (pack_ref_apply(p, op, name, &h) < 0)
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
        int64_t n = pack_check_record(r, off, &t, &k, &rec);
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

/* Is everything from off to the end of the file zero? 1 yes, 0 no, or a negative error. */
static int zero_tail(struct reader *r, uint64_t off)
{
    while (off < r->size) {
        size_t n = r->size - off < 65536 ? (size_t)(r->size - off) : 65536;
        int err;
        const uint8_t *b = rd(r, off, n, &err);
        if (b == NULL)
            return err < 0 ? err : 0;
        for (size_t i = 0; i < n; i++)
            if (b[i] != 0)
                return 0;
        off += n;
    }
    return 1;
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
        int64_t n = pack_check_record(&r, off, &type, &kind, &rec);
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
                if ((rc = pack_ix_put(&p->ix, &pend.h[pend.n], off)) < 0)
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
        /* Nothing but zeros after the last refs record: space written ahead (store_pack.c,
         * prealloc), not a torn record; the file stays as it is. */
        int z = off == good && off < size ? zero_tail(&r, off) : 0;
        if (z < 0)
            rc = z;
        else if (z == 0 && good < size) {
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

void pack_encode_header(uint8_t *h)
{
    memset(h, 0, HDR_LEN);
    memcpy(h, PACK_MAGIC, 8);
    put_le32(h + 8, PACK_VERSION);
    put_le32(h + 12, HDR_LEN);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    put_le64(h + 16, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
    put_le32(h + 28, pack_crc32c(0, h, 28));
}

static bool header_ok(const uint8_t *h)
{
    return memcmp(h, PACK_MAGIC, 8) == 0 && le32(h + 8) == PACK_VERSION &&
           le32(h + 12) == HDR_LEN && le32(h + 28) == pack_crc32c(0, h, 28);
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
        pack_log(p, "pack %s: removed %s left by an unfinished GC", p->name, p->gcname);
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
        pack_encode_header(h);
        if ((rc = p->io->ops->truncate(p->io, 0)) < 0 ||
            (rc = store_io_write_all(p->io, h, HDR_LEN, 0)) < 0 ||
            (rc = p->io->ops->sync(p->io)) < 0 || (rc = p->dir->ops->sync_dir(p->dir)) < 0)
            return rc;
        p->end = p->synced_end = p->refs_end = p->alloc_end = HDR_LEN;
        pack_map_file(p, HDR_LEN);
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
        if (pack_ix_init(&ix, est * 5 / 7) == 0) { /* est stays under the 70% growth load */
            pack_ix_free(&p->ix);
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
    p->alloc_end = rep->truncated ? rep->valid_size : size;
    pack_map_file(p, p->alloc_end);
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
    if (p->cache != NULL && p->name != NULL && p->gcname != NULL &&
        pack_ix_init(&p->ix, 1024) == 0) {
        sprintf(p->gcname, "%s.gc", name);
        rc = open_pack(p, rep);
    }
    if (rc < 0) {
        if (rep->msg[0] == '\0')
            snprintf(rep->msg, sizeof(rep->msg), "pack %s: open failed: %s", name,
                     strerror(-rc));
        pack_log(p, "%s", rep->msg);
        p->own_dir = false;
        pack_free(p);
        return rc;
    }
    pack_log(p, "%s", rep->msg);
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
