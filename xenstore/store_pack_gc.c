/*
 * The pack's garbage collection (store_pack_gc in store_pack.h): copy the live objects into a
 * new file while writers go on, catch up with what they appended meanwhile, then stop them
 * briefly to write the refs, sync and switch (docs/store-format.md).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/store_pack_int.h"

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
    int64_t n = pack_check_record(&c->r, off, &type, &kind, &rec);
    if (n <= 0 || type != REC_OBJ)
        return n < 0 ? (int)n : -EBADMSG;
    struct store_hash h;
    memcpy(h.b, rec + REC_HDR, STORE_HASH_LEN);
    if (ix_find(&c->nix, &h) != 0)
        return 0;
    uint64_t at;
    int rc = gw_append(&c->w, rec, (size_t)n, &at);
    return rc < 0 ? rc : pack_ix_put(&c->nix, &h, at);
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
        int64_t n = pack_check_record(&c->r, off, &type, &kind, &rec);
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

/* The objects of a commit in flight at the switch (lock held, everything copied): the object
 * records after the old file's last refs record, and the older objects it put again (all in
 * the new index, else -ESTALE). */
static int gc_inflight(struct gc_ctx *c, struct store_hash **out, size_t *nout)
{
    struct pack *p = c->p;
    size_t n = 0, cap = p->ninflight + 16;
    struct store_hash *l = malloc(cap * sizeof(*l));
    if (l == NULL)
        return -ENOMEM;
    if (p->ninflight > 0)
        memcpy(l, p->inflight, p->ninflight * sizeof(*l));
    n = p->ninflight;
    c->r.size = p->end;
    for (uint64_t off = p->refs_end; off < p->end;) {
        unsigned type, kind;
        const uint8_t *rec;
        int64_t len = pack_check_record(&c->r, off, &type, &kind, &rec);
        if (len <= 0) {
            free(l);
            return len < 0 ? (int)len : -EBADMSG;
        }
        if (type == REC_OBJ) {
            if (n == cap) {
                cap *= 2;
                struct store_hash *nl = realloc(l, cap * sizeof(*nl));
                if (nl == NULL) {
                    free(l);
                    return -ENOMEM;
                }
                l = nl;
            }
            memcpy(l[n++].b, rec + REC_HDR, STORE_HASH_LEN);
        }
        off += (uint64_t)len;
    }
    for (size_t i = 0; i < n; i++)
        if (ix_find(&c->nix, &l[i]) == 0) {
            pack_log(p, "pack %s: GC aborted: an object in flight was not copied", p->name);
            free(l);
            return -ESTALE;
        }
    *out = l;
    *nout = n;
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
    if (p->gc != NULL || p->failed || p->inflight_overflow) {
        int rc = p->gc != NULL ? -EBUSY : p->failed ? p->failed : -ENOMEM;
        pthread_mutex_unlock(&p->lock);
        return rc;
    }
    struct gc_state *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        pthread_mutex_unlock(&p->lock);
        return -ENOMEM;
    }
    g->thread = pthread_self();
    /* Older objects a commit being built put again before the GC began: kept like those
     * touched during it. */
    if (p->ninflight > 0) {
        g->touched = malloc(p->ninflight * sizeof(*g->touched));
        if (g->touched == NULL) {
            free(g);
            pthread_mutex_unlock(&p->lock);
            return -ENOMEM;
        }
        memcpy(g->touched, p->inflight, p->ninflight * sizeof(*g->touched));
        g->ntouched = g->captouched = p->ninflight;
    }
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
    int rc = (c.r.buf == NULL || c.w.buf == NULL) ? -ENOMEM : pack_ix_init(&c.nix, old_count / 2);
    if (rc == 0)
        rc = p->dir->ops->open(p->dir, p->gcname, STORE_IO_CREATE | STORE_IO_TRUNC, &c.w.io);
    if (rc == 0) {
        uint8_t h[HDR_LEN];
        pack_encode_header(h);
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
    /* 3. Stop the writers: the last catch-up, the refs, sync, rename, switch. A sync the
     * sync thread runs on the old file ends first (the switch closes that file), and so do the
     * zeros the fill thread writes to it. */
    pthread_mutex_lock(&p->lock);
    pack_syncer_wait_idle(p);
    pack_filler_wait_idle(p); /* (it writes zeros to the old file) */
    uint64_t t0 = now_ns();
    if (rc == 0 && p->failed)
        rc = p->failed;
    if (rc == 0)
        rc = pack_wbuf_write(p); /* objects put since the last ref update: into the old file, so
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
                pack_log(p, "pack %s: GC aborted: ref %s names %s, which is not in the live set",
                         p->name, p->refs[i].name, hex);
                rc = -ESTALE;
                break;
            }
            elen += pack_encode_ref_entry(entries + elen, REF_SET, p->refs[i].name, &p->refs[i].h);
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
            int64_t total =
                pack_encode_record(p, REC_REFS, REFS_FULL, NULL, buf, REFS_FIXED + elen);
            free(buf);
            rc = total < 0 ? (int)total : gw_append(&c.w, p->scratch, (size_t)total, NULL);
        }
    }
    free(entries);
    /* The commit being built (objects after the last refs record, and older ones it put
     * again) lands below the new file's refs record: remember it as in flight there, or the
     * next GC would take it for garbage before its ref update arrives. */
    struct store_hash *inflight = NULL;
    size_t ninflight = 0;
    if (rc == 0)
        rc = gc_inflight(&c, &inflight, &ninflight);
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
        p->end = p->synced_end = p->refs_end = p->alloc_end = c.w.off;
        pack_map_file(p, c.w.off);
        free(p->inflight);
        p->inflight = inflight;
        p->ninflight = p->capinflight = ninflight;
        inflight = NULL;
        p->seq++;
        pack_ix_free(&p->ix);
        p->ix = c.nix;
        c.nix = (struct index){0};
        if (drc < 0) {
            p->failed = drc;
            pack_log(p, "pack %s: directory sync after GC failed (%s); updates refused", p->name,
                     strerror(-drc));
        } else {
            w = pack_take_waiters(p, &nw); /* their updates are in the synced new pack */
        }
    }
    st.switch_us = (now_ns() - t0) / 1000;
    p->gc = NULL;
    pthread_mutex_unlock(&p->lock);
    pack_call_waiters(w, nw, true);

    if (c.w.io != NULL) {
        c.w.io->ops->close(c.w.io);
        p->dir->ops->unlink(p->dir, p->gcname);
    }
    free(inflight);
    free(g->touched);
    free(g);
    pack_ix_free(&c.nix);
    free(c.r.buf);
    free(c.w.buf);
    st.live_objects = c.live;
    if (rc == 0)
        pack_log(p, "pack %s: GC: %llu -> %llu bytes, %llu objects kept, %llu catch-up rounds, "
                    "writers stopped %llu us",
                 p->name, (unsigned long long)st.bytes_before, (unsigned long long)st.bytes_after,
                 (unsigned long long)st.copied_objects, (unsigned long long)st.catchup_rounds,
                 (unsigned long long)st.switch_us);
    else
        pack_log(p, "pack %s: GC failed: %s", p->name, strerror(-rc));
    if (stats != NULL)
        *stats = st;
    return rc;
}
