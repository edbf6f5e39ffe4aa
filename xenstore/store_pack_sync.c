/*
 * BATCH as a pipelined group commit (store_pack_sync_thread in store_pack.h): the device's
 * flush runs in a thread of the pack, so that the caller's loop goes on handling requests
 * and appending commits while it runs.
 *
 * A waiter (store_pack_int.h) remembers where its ref record ends. The caller's round writes
 * the buffered records out (one pwrite) and releases the waiters the file now covers: a
 * BATCH one once a finished sync covered its end (synced_end), a WRITE one once written. The
 * thread syncs whenever a BATCH waiter's record is written but not synced: it notes the end
 * of what was written *before* it calls the sync (fdatasync covers the writes completed
 * before the call, not those that race with it), syncs without the pack's lock, then moves
 * synced_end there and wakes the caller through an eventfd. Records written meanwhile get the
 * next sync at once: one sync in flight at a time, the next one starting as this one ends.
 * Callbacks run only in the caller's thread (store_pack_sync_round, flush, set_ref), never
 * in this one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "xenstore/store_pack_int.h"

struct pack_syncer {
    pthread_t thread;
    pthread_cond_t cv; /* work for the thread, or the thread went idle (broadcast) */
    int efd;           /* readable: a sync finished since the last round */
    bool busy;         /* a sync is running (on the io it noted) */
    bool stop;
    bool notified;     /* efd holds a count not read yet, or the thread is writing one */
};

/* Is there a BATCH waiter whose record is in the file but not synced? (lock held) */
static bool sync_wanted(const struct pack *p)
{
    uint64_t w = written_end(p);
    if (p->failed || w <= p->synced_end)
        return false;
    for (size_t i = 0; i < p->nwaiters; i++)
        if (p->waiters[i].sync && p->waiters[i].end > p->synced_end &&
            p->waiters[i].end <= w)
            return true;
    return false;
}

static void *sync_main(void *arg)
{
    struct pack *p = arg;
    struct pack_syncer *t = p->syncer;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!t->stop && !sync_wanted(p))
            pthread_cond_wait(&t->cv, &p->lock);
        if (!sync_wanted(p))
            break; /* stopped, and nothing written waits: close flushes the rest */
        uint64_t target = written_end(p);
        struct store_io *io = p->io; /* a GC switching files waits until we are idle */
        t->busy = true;
        p->syncs++;
        p->sync_at_rec = p->ref_records;
        pthread_mutex_unlock(&p->lock);
        int rc = io->ops->sync(io);
        pthread_mutex_lock(&p->lock);
        t->busy = false;
        if (rc < 0) {
            if (!p->failed) {
                p->failed = rc;
                pack_log(p, "pack %s: sync failed (%s); updates refused until reopened",
                         p->name, strerror(-rc));
            }
        } else if (target > p->synced_end) {
            p->synced_end = target;
        }
        pthread_cond_broadcast(&t->cv); /* a GC or close waiting for us to be idle */
        bool notify = !t->notified;
        t->notified = true;
        if (notify) {
            /* Outside the lock: the loop it wakes takes the lock at once. */
            pthread_mutex_unlock(&p->lock);
            uint64_t one = 1;
            ssize_t n = write(t->efd, &one, sizeof one);
            pthread_mutex_lock(&p->lock);
            if (n != (ssize_t)sizeof one)
                t->notified = false; /* (cannot fail with a counter far from its limit) */
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int store_pack_sync_thread(struct objstore *s)
{
    struct pack *p = P(s);
    if (p->syncer != NULL)
        return p->syncer->efd;
    struct pack_syncer *t = calloc(1, sizeof *t);
    if (t == NULL)
        return -ENOMEM;
    t->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t->efd < 0) {
        int e = errno;
        free(t);
        return -e;
    }
    pthread_cond_init(&t->cv, NULL);
    pthread_mutex_lock(&p->lock);
    p->syncer = t;
    int rc = pthread_create(&t->thread, NULL, sync_main, p);
    if (rc != 0)
        p->syncer = NULL;
    pthread_mutex_unlock(&p->lock);
    if (rc != 0) {
        pthread_cond_destroy(&t->cv);
        close(t->efd);
        free(t);
        return -rc;
    }
    return t->efd;
}

void pack_syncer_stop(struct pack *p)
{
    struct pack_syncer *t = p->syncer;
    if (t == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    t->stop = true;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&p->lock);
    pthread_join(t->thread, NULL);
    p->syncer = NULL;
    pthread_cond_destroy(&t->cv);
    close(t->efd);
    free(t);
}

void pack_syncer_wait_idle(struct pack *p)
{
    while (p->syncer != NULL && p->syncer->busy)
        pthread_cond_wait(&p->syncer->cv, &p->lock);
}

bool pack_syncer_running(const struct pack *p)
{
    return p->syncer != NULL;
}

int store_pack_sync_round(struct objstore *s)
{
    struct pack *p = P(s);
    pthread_mutex_lock(&p->lock);
    struct pack_syncer *t = p->syncer;
    if (t != NULL && t->notified) {
        /* EAGAIN: the thread set `notified` and is about to write (it writes unlocked);
         * the flag stays, so that the count it writes is read by a later round. */
        uint64_t n;
        if (read(t->efd, &n, sizeof n) == (ssize_t)sizeof n)
            t->notified = false;
        else if (errno != EAGAIN)
            pack_log(p, "pack %s: eventfd: %s", p->name, strerror(errno));
    }
    int rc = p->failed;
    if (rc == 0 && p->nwaiters > 0)
        rc = pack_wbuf_write(p); /* the round's records: one write */
    if (rc == 0 && t == NULL && p->nsyncwait > 0)
        rc = pack_do_sync(p); /* no thread: the sync runs here, as flush does */
    /* Take out the waiters that may go: all of them (ok = false) after a failure. */
    struct waiter *go = NULL;
    size_t ngo = 0;
    if (p->nwaiters > 0)
        go = malloc(p->nwaiters * sizeof *go);
    if (go != NULL) {
        uint64_t w = written_end(p);
        size_t keep = 0;
        for (size_t i = 0; i < p->nwaiters; i++) {
            struct waiter *x = &p->waiters[i];
            if (rc < 0 || x->end <= (x->sync ? p->synced_end : w)) {
                go[ngo++] = *x;
                if (x->sync)
                    p->nsyncwait--;
            } else {
                p->waiters[keep++] = *x;
            }
        }
        p->nwaiters = keep;
        if (keep > 0 && ngo > 0)
            p->batch_since_ns = now_ns();
    }
    bool kick = rc == 0 && t != NULL && !t->busy && sync_wanted(p);
    pthread_mutex_unlock(&p->lock);
    /* Woken after unlocking (else it would wake only to wait for the lock): it looks at
     * sync_wanted under the lock before it waits, so no kick is lost. */
    if (kick)
        pthread_cond_broadcast(&t->cv);
    for (size_t i = 0; i < ngo; i++)
        if (go[i].fn != NULL)
            go[i].fn(go[i].arg, rc == 0);
    free(go);
    return rc;
}
