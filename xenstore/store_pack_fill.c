/*
 * The zeros ahead of the records (store_pack.c, prealloc) written by a thread of the pack
 * (store_pack_fill_thread in store_pack.h), so that no update waits for them.
 *
 * Why: the file grows in steps of up to 2 MiB of zeros, and the append that crossed the end
 * of the zeros wrote the next step itself, inline: 0.3-1.5 ms on this VM, in the middle of a
 * request. In the bench's latency test with the nodes of 1,000 domains, 12-14 of the 15-18
 * rounds over 150 us among vxenstored's last 10,000 were such appends (the others: one index
 * doubling, preemption): a quarter of the 50 slowest of 5,000 writes that make the p99. With
 * the thread, an append that leaves less than half a step of zeros ahead asks the thread for
 * the next step, which it writes while the caller goes on appending below (measured: no
 * inline zero write left in that test).
 *
 * The rule that keeps records and zeros apart: records go below alloc_end only; the thread
 * writes [alloc_end, to) and moves alloc_end to `to` (under the lock) only after its writes
 * returned. An append that would cross alloc_end while the thread fills waits for it (the
 * thread was asked half a step early, so only an update bigger than that does), and with the
 * thread idle it writes the zeros inline as before. The thread writes 16 KiB at a time: the
 * file's writes are serialized by the kernel (ext4 takes the inode's lock), so an append
 * that comes meanwhile waits for at most one such write (~5 us), not for the step.
 * Durability is unchanged: the zeros are written before the records that follow them, so the
 * sync that covers a record covers them too (docs/store-format.md, "Preallocated tail").
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/store_pack_int.h"

#define FILL_CHUNK (16u << 10)

struct pack_filler {
    pthread_t thread;
    pthread_cond_t cv; /* work for the thread, or the thread went idle (broadcast) */
    uint64_t want_to;  /* fill up to here (0: nothing asked) */
    bool busy;         /* writing zeros (on the io it noted) */
    bool stop;
};

static void *fill_main(void *arg)
{
    static const uint8_t zeros[FILL_CHUNK];
    struct pack *p = arg;
    struct pack_filler *t = p->filler;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!t->stop && (t->want_to <= p->alloc_end || p->failed))
            pthread_cond_wait(&t->cv, &p->lock);
        if (t->stop)
            break;
        struct store_io *io = p->io; /* a GC switching files waits until we are idle */
        uint64_t from = p->alloc_end, to = t->want_to;
        if (from < written_end(p))
            from = written_end(p); /* (records below it are written: cannot happen) */
        t->busy = true;
        pthread_mutex_unlock(&p->lock);
        bool mapped = pack_map_writes(p);
        uint64_t at = from;
        while (at < to && !__atomic_load_n(&t->stop, __ATOMIC_RELAXED)) {
            size_t n = to - at < FILL_CHUNK ? (size_t)(to - at) : FILL_CHUNK;
            if (store_io_write_all(io, zeros, n, at) < 0)
                break; /* best effort: appends then extend the file as without zeros */
            at += n;
        }
        /* Records are stored through the file's mapping (store_pack.c, write_at): fault its
         * pages in now, so that the updates do not (their pages are in the page cache
         * already: this only maps them). Not while syncs are frequent: records then go by
         * pwrite, and mapped pages would only make each sync write-protect them. */
        if (mapped && at > from)
            store_io_map_prefault(io, from, at - from);
        pthread_mutex_lock(&p->lock);
        t->busy = false;
        if (at > p->sized_end)
            p->sized_end = at;
        if (at > p->alloc_end) {
            p->alloc_end = at;
            p->zero_steps_thread++;
        }
        if (at < to)
            t->want_to = 0; /* failed or stopped: asked again by the next append */
        pthread_cond_broadcast(&t->cv); /* an append, a GC or close waiting for us */
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int store_pack_fill_thread(struct objstore *s)
{
    struct pack *p = P(s);
    if (p->filler != NULL)
        return 0;
    struct pack_filler *t = calloc(1, sizeof *t);
    if (t == NULL)
        return -ENOMEM;
    pthread_cond_init(&t->cv, NULL);
    pthread_mutex_lock(&p->lock);
    p->filler = t;
    if (p->alloc_end - p->end < pack_prealloc_step(p) / 2) { /* the first step too */
        t->want_to = p->alloc_end + pack_prealloc_step(p);
        t->want_to -= t->want_to % 4096;
    }
    int rc = pthread_create(&t->thread, NULL, fill_main, p);
    if (rc != 0)
        p->filler = NULL;
    pthread_mutex_unlock(&p->lock);
    if (rc != 0) {
        pthread_cond_destroy(&t->cv);
        free(t);
        return -rc;
    }
    return 0;
}

bool pack_filler_prealloc(struct pack *p, uint64_t need, uint64_t step)
{
    struct pack_filler *t = p->filler;
    if (t == NULL)
        return false;
    /* Crossing what the thread is filling: wait for it (never write where it writes). */
    while (t->busy && need > p->alloc_end)
        pthread_cond_wait(&t->cv, &p->lock);
    if (need > p->alloc_end)
        return false; /* idle and short of zeros: the caller writes them inline */
    if (!t->busy && p->alloc_end - need < step / 2) {
        uint64_t to = p->alloc_end + step;
        to -= to % 4096;
        if (to > t->want_to) {
            t->want_to = to;
            pthread_cond_broadcast(&t->cv);
        }
    }
    return true;
}

void pack_filler_wait_idle(struct pack *p)
{
    while (p->filler != NULL && p->filler->busy)
        pthread_cond_wait(&p->filler->cv, &p->lock);
}

void pack_filler_settle(struct pack *p)
{
    while (p->filler != NULL && !p->failed &&
           (p->filler->busy || p->filler->want_to > p->alloc_end))
        pthread_cond_wait(&p->filler->cv, &p->lock);
}

void pack_filler_stop(struct pack *p)
{
    struct pack_filler *t = p->filler;
    if (t == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    __atomic_store_n(&t->stop, true, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&p->lock);
    pthread_join(t->thread, NULL); /* it ends after the chunk it writes, not the step */
    p->filler = NULL;
    pthread_cond_destroy(&t->cv);
    free(t);
}
