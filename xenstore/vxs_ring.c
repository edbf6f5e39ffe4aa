/* The daemon's side of the xenstore ring page; see vxs_ring.h for the rules. */
#include <string.h>

#include "xenstore/vxs_ring.h"

#define RING XENSTORE_RING_SIZE

static XENSTORE_RING_IDX load_acquire(const XENSTORE_RING_IDX *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void store_release(XENSTORE_RING_IDX *p, XENSTORE_RING_IDX v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

void vxs_ring_fail(struct vxs_ring *r, uint32_t error)
{
    r->broken = true;
    __atomic_store_n(&r->intf->error, error, __ATOMIC_RELEASE);
}

void vxs_ring_attach(struct vxs_ring *r, struct xenstore_domain_interface *intf,
                     uint32_t features)
{
    r->intf = intf;
    r->broken = false;
    r->nheld = 0;
    r->replay.ndone = 0;
    r->replay.lost = r->replay.complete = false;
    memset(&r->partial, 0, sizeof r->partial);
    r->req_cons = r->req_read = load_acquire(&intf->req_cons);
    r->rsp_prod = load_acquire(&intf->rsp_prod);
    __atomic_store_n(&intf->server_features, features, __ATOMIC_RELEASE);
    XENSTORE_RING_IDX prod = load_acquire(&intf->req_prod);
    XENSTORE_RING_IDX cons = load_acquire(&intf->rsp_cons);
    r->replay.from = r->req_cons;
    r->replay.len = prod - r->req_cons;
    if (prod - r->req_cons > RING || r->rsp_prod - cons > RING) {
        r->replay.len = 0;
        vxs_ring_fail(r, XENSTORE_ERROR_RINGIDX);
    }
}

/* Bytes the guest has produced beyond our read index, or -1 (and broken) if its index is
 * impossible. The guest may not produce more than a ring beyond what we consumed. */
static long pending(struct vxs_ring *r)
{
    if (r->broken)
        return -1;
    XENSTORE_RING_IDX prod = load_acquire(&r->intf->req_prod);
    XENSTORE_RING_IDX n = prod - r->req_cons;
    if (n > RING) {
        vxs_ring_fail(r, XENSTORE_ERROR_RINGIDX);
        return -1;
    }
    XENSTORE_RING_IDX read = r->req_read - r->req_cons;
    if (n < read) {
        /* req_prod went back behind bytes we already read. */
        vxs_ring_fail(r, XENSTORE_ERROR_RINGIDX);
        return -1;
    }
    return (long)(n - read);
}

/* Bytes in flight towards the guest, or -1. */
static long unread(struct vxs_ring *r)
{
    if (r->broken)
        return -1;
    XENSTORE_RING_IDX cons = load_acquire(&r->intf->rsp_cons);
    XENSTORE_RING_IDX n = r->rsp_prod - cons;
    if (n > RING) {
        vxs_ring_fail(r, XENSTORE_ERROR_RINGIDX);
        return -1;
    }
    return (long)n;
}

size_t vxs_ring_avail(struct vxs_ring *r)
{
    long n = pending(r);
    return n < 0 ? 0 : (size_t)n;
}

size_t vxs_ring_space(struct vxs_ring *r)
{
    long n = unread(r);
    return n < 0 ? 0 : RING - (size_t)n;
}

size_t vxs_ring_read(struct vxs_ring *r, void *buf, size_t len)
{
    long avail = pending(r);
    if (avail <= 0)
        return 0;
    size_t n = len < (size_t)avail ? len : (size_t)avail;
    uint8_t *out = buf;
    for (size_t done = 0; done < n;) {
        size_t off = MASK_XENSTORE_IDX(r->req_read + done);
        size_t chunk = RING - off;
        if (chunk > n - done)
            chunk = n - done;
        /* Copied once: the request is parsed from buf, never from the page. */
        memcpy(out + done, (const void *)(r->intf->req + off), chunk);
        done += chunk;
    }
    r->req_read += (XENSTORE_RING_IDX)n;
    return n;
}

/* Give the guest back the bytes before `to` (between req_cons and req_read). */
static void consume(struct vxs_ring *r, XENSTORE_RING_IDX to)
{
    r->req_cons = to;
    /* Our reads of req[] completed before the guest may overwrite those bytes. */
    store_release(&r->intf->req_cons, r->req_cons);
    /* And before we look at req_prod again: a guest that read the old req_cons did not
     * notify us of its new request (Linux notifies only if req_prod <= req_cons), so either
     * it sees this req_cons or we see its req_prod. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void vxs_ring_hold(struct vxs_ring *r, XENSTORE_RING_IDX end, uint64_t mark)
{
    if (r->broken || end - r->req_cons > r->req_read - r->req_cons)
        return; /* not a position we read: nothing to hold */
    if (r->nheld == VXS_RING_HELD) {
        /* Cannot happen with requests of at least a header each; stay safe anyway. */
        consume(r, r->held[0].end);
        memmove(&r->held[0], &r->held[1], (VXS_RING_HELD - 1) * sizeof r->held[0]);
        r->nheld--;
    }
    r->held[r->nheld].end = end;
    r->held[r->nheld].mark = mark;
    r->nheld++;
}

bool vxs_ring_release(struct vxs_ring *r, uint64_t left_below, bool partial)
{
    if (r->broken)
        return false;
    XENSTORE_RING_IDX before = r->req_cons;
    unsigned k = 0;
    while (k < r->nheld && r->held[k].mark < left_below)
        k++;
    if (k) {
        consume(r, r->held[k - 1].end);
        memmove(&r->held[0], &r->held[k], (r->nheld - k) * sizeof r->held[0]);
        r->nheld -= k;
    }
    /* A request larger than req[]: its head must go, or the guest cannot write its tail. */
    if (partial && vxs_ring_head_due(r))
        consume(r, r->req_read);
    return r->req_cons != before;
}

bool vxs_ring_head_due(const struct vxs_ring *r)
{
    return !r->broken && r->nheld == 0 && r->req_read - r->req_cons == RING;
}

void vxs_ring_replay_head(struct vxs_ring *r, XENSTORE_RING_IDX start)
{
    r->replay.len += r->replay.from - start;
    r->replay.from = start;
}

bool vxs_ring_held_end(const struct vxs_ring *r, uint64_t serial, XENSTORE_RING_IDX *end,
                       uint64_t *mark)
{
    for (unsigned k = 0; k < r->nheld; k++)
        if (r->held[k].mark >= serial) {
            *end = r->held[k].end;
            *mark = r->held[k].mark;
            return true;
        }
    return false;
}

bool vxs_ring_replayed(const struct vxs_ring *r, XENSTORE_RING_IDX start)
{
    return vxs_replay_in_window(&r->replay, start);
}

bool vxs_replay_in_window(const struct vxs_replay_window *w, uint32_t start)
{
    return (uint32_t)(start - w->from) < w->len;
}

bool vxs_replay_note_done(struct vxs_replay_window *w, uint32_t start, uint32_t type)
{
    if (!vxs_replay_in_window(w, start))
        return false;
    for (unsigned i = 0; i < w->ndone; i++)
        if (w->done[i].start == start)
            return true; /* (the newest commit at that position came first) */
    if (w->ndone < VXS_RING_HELD) {
        w->done[w->ndone].start = start;
        w->done[w->ndone].type = type;
        w->ndone++;
    } else {
        w->lost = true;
    }
    return true;
}

enum vxs_replay vxs_replay_kind(const struct vxs_replay_window *w, uint32_t start,
                                uint32_t type)
{
    if (!vxs_replay_in_window(w, start))
        return VXS_REPLAY_AGAIN;
    bool later = false;
    uint32_t rel = start - w->from;
    for (unsigned i = 0; i < w->ndone; i++) {
        if (w->done[i].start == start)
            /* Another type at the same position: not this request (a ring reset since). */
            return w->done[i].type == type ? VXS_REPLAY_DONE : VXS_REPLAY_AGAIN;
        later |= (uint32_t)(w->done[i].start - w->from) > rel;
    }
    /* Requests are handled in order: one before a committed one was handled too. */
    return later ? VXS_REPLAY_NO_EFFECT : VXS_REPLAY_AGAIN;
}

size_t vxs_ring_write(struct vxs_ring *r, const void *buf, size_t len)
{
    long used = unread(r);
    if (used < 0)
        return 0;
    size_t room = RING - (size_t)used;
    size_t n = len < room ? len : room;
    const uint8_t *in = buf;
    for (size_t done = 0; done < n;) {
        size_t off = MASK_XENSTORE_IDX(r->rsp_prod + done);
        size_t chunk = RING - off;
        if (chunk > n - done)
            chunk = n - done;
        memcpy((void *)(r->intf->rsp + off), in + done, chunk);
        done += chunk;
    }
    r->rsp_prod += (XENSTORE_RING_IDX)n;
    store_release(&r->intf->rsp_prod, r->rsp_prod);
    return n;
}

bool vxs_ring_reconnect_requested(struct vxs_ring *r)
{
    return __atomic_load_n(&r->intf->connection, __ATOMIC_ACQUIRE) == XENSTORE_RECONNECT;
}

void vxs_ring_reset(struct vxs_ring *r)
{
    struct xenstore_domain_interface *i = r->intf;
    store_release(&i->req_cons, 0);
    store_release(&i->req_prod, 0);
    store_release(&i->rsp_cons, 0);
    store_release(&i->rsp_prod, 0);
    r->req_cons = r->req_read = r->rsp_prod = 0;
    r->replay.len = 0;
    r->replay.ndone = 0;
    r->replay.lost = r->replay.complete = false;
    r->nheld = 0;
    r->broken = false;
    memset(&r->partial, 0, sizeof r->partial); /* (its record left with the table's entry) */
    __atomic_store_n(&i->error, XENSTORE_ERROR_NONE, __ATOMIC_RELEASE);
    __atomic_store_n(&i->connection, XENSTORE_CONNECTED, __ATOMIC_RELEASE);
}
