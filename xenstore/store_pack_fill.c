/*
 * The zeros ahead of the records (store_pack.c, prealloc) written by a thread of the pack
 * (store_pack_fill_thread in store_pack.h), so that no update waits for them.
 *
 * Why: the file grows in steps of up to 2 MiB of zeros, and the append that crossed the end
 * of the zeros wrote the next step itself, inline: 0.3-1.5 ms on this VM, in the middle of a
 * request. In the bench's latency test with the nodes of 1,000 domains, 12-14 of the 15-18
 * rounds over 150 us among vxenstored's last 10,000 were such appends (the others: one index
 * doubling, preemption): a quarter of the 50 slowest of 5,000 writes that make the p99. With
 * the thread, an append asks the thread for the next step ahead of time, and it writes it
 * while the caller goes on appending below (measured: no inline zero write left in that
 * test on a quiet machine; on a loaded one, see below).
 *
 * The rule that keeps records and zeros apart: records go below alloc_end only; the thread
 * writes [alloc_end, want_to) 16 KiB at a time and moves alloc_end past each chunk (under
 * the lock) once its write returned. An append asks for the next step when less than a step
 * of zeros is ahead (so one to two steps are), and one that would cross alloc_end while the
 * thread fills waits for its next chunk (~5-20 us), not for the step. With the thread idle,
 * or asked but not scheduled yet, such an append writes no zeros: its record extends the
 * file (a pwrite of a few us) and the thread fills on after it. Why not as before (ask at
 * half a step, publish the whole step at its end, write a step inline when short): on a
 * loaded machine the thread took up to 15 ms for a 2 MiB step, and appends reaching it
 * waited 5 ms for it or wrote 2 MiB of zeros inline (bench latency test, 1,000 domains,
 * load 6: the stalls of 1-5 ms every ~560 writes that made vxenstored's write p99.9).
 * Since the kernel serializes the file's writes (ext4 takes the inode's lock), an append by
 * pwrite that comes during a chunk waits for at most that chunk.
 * Durability is unchanged: the zeros are written before the records that follow them, so the
 * sync that covers a record covers them too (docs/store-format.md, "Preallocated tail").
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/store_pack_int.h"

#define FILL_CHUNK (16u << 10)
#define PREFAULT_UNIT (256u << 10) /* pages mapped by one madvise */

struct pack_filler {
    pthread_t thread;
    pthread_cond_t cv; /* work for the thread, or the thread went idle (broadcast) */
    uint64_t want_to;  /* fill up to here (0: nothing asked) */
    bool busy;         /* writing zeros (on the io it noted) */
    unsigned waiting;  /* appends waiting for the zeros it writes */
    bool stop;
};

/* The zeros written reach `at` (lock held): records may go below it. */
static void fill_publish(struct pack *p, uint64_t at)
{
    if (at <= p->alloc_end)
        return;
    p->alloc_end = at;
    if (at > p->sized_end)
        p->sized_end = at;
    if (p->filler->waiting > 0)
        pthread_cond_broadcast(&p->filler->cv); /* an append waiting for these zeros */
}

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
        /* Records are stored through the file's mapping (store_pack.c, write_at): fault its
         * pages in behind the zeros, so that the updates do not (the pages are in the page
         * cache already: this only maps them). Not while syncs are frequent: records then
         * go by pwrite, and mapped pages would only make each sync write-protect them. */
        bool mapped = pack_map_writes(p);
        t->busy = true;
        uint64_t at = p->alloc_end, to = t->want_to;
        if (at < written_end(p))
            at = written_end(p); /* (records end below alloc_end: cannot happen) */
        uint64_t faulted = at;
        pthread_mutex_unlock(&p->lock);
        /* One chunk at a time, each published (alloc_end) when the pack's lock is free
         * (trylock: it is free while an append waits for these zeros), so that an append
         * that outruns the step waits for a chunk or two, not for the step. Taking the
         * lock after every chunk cost ~1 us of system time per update with 10 writers
         * (the thread slept on the lock the updates hold). */
        bool ok = true;
        while (at < to && !__atomic_load_n(&t->stop, __ATOMIC_RELAXED)) {
            size_t n = to - at < FILL_CHUNK ? (size_t)(to - at) : FILL_CHUNK;
            if (store_io_write_all(io, zeros, n, at) < 0) {
                ok = false; /* best effort: appends then extend the file as without zeros */
                break;
            }
            at += n;
            if (mapped && (at - faulted >= PREFAULT_UNIT || at == to)) {
                store_io_map_prefault(io, faulted, at - faulted);
                faulted = at;
            }
            if (at < to && pthread_mutex_trylock(&p->lock) == 0) {
                fill_publish(p, at);
                pthread_mutex_unlock(&p->lock);
            }
        }
        pthread_mutex_lock(&p->lock);
        fill_publish(p, at);
        t->busy = false;
        if (ok && at >= to)
            p->zero_steps_thread++;
        else
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
    /* Crossing what the thread is filling: wait for its next chunk (never write where it
     * writes). */
    while (t->busy && need > p->alloc_end) {
        t->waiting++;
        pthread_cond_wait(&t->cv, &p->lock);
        t->waiting--;
    }
    /* Less than a step ahead: ask for the next one (so the zeros stay one to two steps
     * ahead; with half a step, a thread slowed by a loaded machine was still filling when
     * the appends reached its step). Asked but not running yet, it starts from alloc_end
     * as the caller leaves it. */
    uint64_t ahead = p->alloc_end > need ? p->alloc_end - need : 0;
    if (!t->busy && ahead < step) {
        uint64_t to = (p->alloc_end > need ? p->alloc_end : need) + step;
        to -= to % 4096;
        if (to > t->want_to) {
            t->want_to = to;
            pthread_cond_broadcast(&t->cv);
        }
    }
    /* Short of zeros with the thread idle (or asked but not scheduled yet): the caller's
     * record extends the file itself (store_pack.c, prealloc). */
    return need <= p->alloc_end;
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
