/*
 * The pack's refs and durability (store_pack.h, docs/store-format.md "Durability"): named
 * refs moved by compare-and-swap, their records, and when an update is answered in each
 * sync mode (ALWAYS: one sync; BATCH and WRITE: waiters answered by the flush that writes,
 * and for BATCH syncs, the round's records; NONE: at once). Split out of store_pack.c, which
 * keeps objects, records, the write buffer and the ops table.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/store_pack_int.h"

/* -- refs -- */

static struct ref *ref_find(struct pack *p, const char *name)
{
    for (size_t i = 0; i < p->nrefs; i++)
        if (strcmp(p->refs[i].name, name) == 0)
            return &p->refs[i];
    return NULL;
}

int pack_ref_apply(struct pack *p, unsigned op, const char *name, const struct store_hash *h)
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

static int append_refs(struct pack *p, unsigned kind, const uint8_t *entries, size_t elen,
                       uint32_t count, bool now)
{
    uint8_t *buf = malloc(REFS_FIXED + elen);
    if (buf == NULL)
        return -ENOMEM;
    put_le64(buf, p->seq + 1);
    put_le64(buf + 8, p->synced_end);
    put_le32(buf + 16, count);
    memcpy(buf + REFS_FIXED, entries, elen);
    int64_t total = pack_encode_record(p, REC_REFS, kind, NULL, buf, REFS_FIXED + elen);
    free(buf);
    if (total < 0)
        return (int)total;
    int rc = pack_append(p, p->scratch, (size_t)total, NULL, now);
    if (rc == 0) {
        p->seq++;
        p->ref_records++;
        p->refs_end = p->end;
        p->ninflight = 0;
        p->inflight_overflow = false;
    }
    return rc;
}

size_t pack_encode_ref_entry(uint8_t *b, unsigned op, const char *name,
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

int pack_get_ref(struct objstore *s, const char *name, struct store_hash *out)
{
    struct pack *p = P(s);
    if (!pack_valid_name(name))
        return -EINVAL;
    pthread_mutex_lock(&p->lock);
    struct ref *r = ref_find(p, name);
    if (r != NULL)
        *out = r->h;
    pthread_mutex_unlock(&p->lock);
    return r != NULL ? 0 : -ENOENT;
}

/* Take the waiting BATCH callbacks out (lock held); they are called after unlocking. */
struct waiter *pack_take_waiters(struct pack *p, size_t *n)
{
    struct waiter *w = p->waiters;
    *n = p->nwaiters;
    p->waiters = NULL;
    p->nwaiters = p->capwaiters = 0;
    p->nsyncwait = 0;
    return w;
}

/* Does an update in this mode go to the file before set_ref/del_ref returns? BATCH and WRITE
 * updates wait in the write buffer for the flush that answers their waiters: one write for a
 * whole round of updates instead of one each (a pwrite per commit was ~7% of vxenstored's
 * CPU on plain writes). */
static bool write_now(enum store_sync sync)
{
    return sync != STORE_SYNC_BATCH && sync != STORE_SYNC_WRITE;
}

/* Answer the waiters: everything buffered goes to the file, and through the device's flush
 * if a BATCH update waits (WRITE updates only need the file). Lock held. */
static int settle(struct pack *p)
{
    return p->nsyncwait > 0 ? pack_do_sync(p) : pack_wbuf_write(p);
}

void pack_call_waiters(struct waiter *w, size_t n, bool ok)
{
    for (size_t i = 0; i < n; i++)
        if (w[i].fn != NULL)
            w[i].fn(w[i].arg, ok);
    free(w);
}

static bool batch_due(struct pack *p)
{
    /* WRITE waiters alone never sync: count what is not written yet, not what is unsynced. */
    uint64_t pending = p->nsyncwait > 0 ? p->end - p->synced_end : p->wlen;
    return p->nwaiters >= p->opts.batch_max_updates || pending >= p->opts.batch_max_bytes ||
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
        rc = pack_do_sync(p);
        w = pack_take_waiters(p, &nw); /* earlier BATCH updates are durable now too */
        call_done_now = true;
        break;
    case STORE_SYNC_BATCH:
    case STORE_SYNC_WRITE:
        if (p->nwaiters == p->capwaiters) {
            size_t cap = p->capwaiters ? p->capwaiters * 2 : 64;
            struct waiter *n = realloc(p->waiters, cap * sizeof(*n));
            if (n == NULL) {
                /* Cannot queue the callback: make it durable now instead. */
                rc = sync == STORE_SYNC_BATCH ? pack_do_sync(p) : pack_wbuf_write(p);
                w = pack_take_waiters(p, &nw);
                call_done_now = true;
                break;
            }
            p->waiters = n;
            p->capwaiters = cap;
        }
        if (p->nwaiters == 0)
            p->batch_since_ns = now_ns();
        p->waiters[p->nwaiters++] =
            (struct waiter){done, done_arg, p->end, sync == STORE_SYNC_BATCH};
        if (sync == STORE_SYNC_BATCH)
            p->nsyncwait++;
        /* With the sync thread, the caller's rounds and the thread settle the waiters; a
         * sync here would stop the caller for the device's flush. */
        if (!pack_syncer_running(p) && batch_due(p)) {
            rc = settle(p);
            w = pack_take_waiters(p, &nw);
        }
        break;
    case STORE_SYNC_NONE:
    default:
        call_done_now = true;
        break;
    }
    pthread_mutex_unlock(&p->lock);
    pack_call_waiters(w, nw, rc == 0);
    if (call_done_now && done != NULL && rc == 0)
        done(done_arg, true);
    return rc;
}

int pack_set_ref(struct objstore *s, const char *name, const struct store_hash *expect,
                        const struct store_hash *value, enum store_sync sync,
                        store_durable_fn done, void *done_arg)
{
    struct pack *p = P(s);
    if (!pack_valid_name(name) || value == NULL)
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
        pack_gc_touch(p, value, off);
        uint8_t e[2 + STORE_REF_NAME_MAX + STORE_HASH_LEN];
        size_t n = pack_encode_ref_entry(e, REF_SET, name, value);
        struct store_hash old = r != NULL ? r->h : *value;
        bool existed = r != NULL;
        rc = append_refs(p, REFS_DELTA, e, n, 1, write_now(sync));
        if (rc == 0)
            rc = pack_ref_apply(p, REF_SET, name, value);
        if (rc == 0) {
            rc = finish_update(p, sync, done, done_arg);
            if (rc < 0 && sync == STORE_SYNC_ALWAYS) {
                /* Not durable: do not show it (the pack refuses updates from now on). */
                pthread_mutex_lock(&p->lock);
                if (existed)
                    pack_ref_apply(p, REF_SET, name, &old);
                else
                    pack_ref_apply(p, REF_DEL, name, NULL);
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

int pack_del_ref(struct objstore *s, const char *name, const struct store_hash *expect,
                        enum store_sync sync)
{
    struct pack *p = P(s);
    if (!pack_valid_name(name))
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
        size_t n = pack_encode_ref_entry(e, REF_DEL, name, NULL);
        struct store_hash old = r->h;
        rc = append_refs(p, REFS_DELTA, e, n, 1, write_now(sync));
        if (rc == 0) {
            pack_ref_apply(p, REF_DEL, name, NULL);
            rc = finish_update(p, sync, NULL, NULL);
            if (rc < 0 && sync == STORE_SYNC_ALWAYS) {
                pthread_mutex_lock(&p->lock);
                pack_ref_apply(p, REF_SET, name, &old);
                pthread_mutex_unlock(&p->lock);
            }
            return rc;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int pack_list_refs(struct objstore *s,
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

int pack_flush(struct objstore *s)
{
    struct pack *p = P(s);
    pthread_mutex_lock(&p->lock);
    int rc = p->failed;
    if (rc == 0 && p->nwaiters > 0)
        rc = settle(p);
    else if (rc == 0 && p->synced_end != p->end)
        rc = pack_do_sync(p);
    size_t nw;
    struct waiter *w = pack_take_waiters(p, &nw);
    pthread_mutex_unlock(&p->lock);
    pack_call_waiters(w, nw, rc == 0);
    return rc;
}

int store_pack_poll(struct objstore *s)
{
    struct pack *p = P(s);
    pthread_mutex_lock(&p->lock);
    if (p->nwaiters == 0 || pack_syncer_running(p)) { /* the thread's eventfd wakes the loop */
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
