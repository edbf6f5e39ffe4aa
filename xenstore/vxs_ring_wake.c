/*
 * Rings that wait for an event nobody sends: the poll loop's timers for them.
 *
 * A ring's two sides tell each other about new bytes with an event, and each side sends one
 * only when it believes the other needs it. Linux's xenbus (and so dom0's kernel and every
 * Linux guest) notifies us of a request only if req[] looked fully consumed before its
 * write, and after reading replies only if rsp[] was full. Three cases follow in which the
 * event we would need never comes, so we look by ourselves:
 *
 * 1. Part of a request read: we consume a request only once it is answered (vxs_ring.h), so
 *    the guest sees its earlier bytes unconsumed and writes the rest without an event. Look
 *    again after 1 ms, then every 100 ms (a guest that stops half-way must not keep us busy).
 *
 * 2. A request written while we consumed: the guest stores req_prod, then loads req_cons to
 *    decide whether to notify, with no barrier in between (x86 may satisfy the load before
 *    the store is visible). We store req_cons, fence, then load req_prod. Each can miss the
 *    other's store (a store-buffer race: Linux's "implies mb()" comment covers only the
 *    notify itself), and the request then sits in req[] with the daemon asleep in poll until
 *    some other traffic wakes it. C xenstored consumes on read, long before the guest's next
 *    write, so the window is tiny there; we consume at the end of a round, while a busy guest
 *    is writing its next request, so it is not. The guest's store is visible nanoseconds
 *    later: one more look at req[] 1 ms after any consume closes the window.
 *
 * 3. Replies the guest leaves in rsp[]: if our event was lost (or raced the guest's own
 *    checks), a guest blocked on a reply sleeps while the reply waits for it. Notify again
 *    after 100 ms without progress, backing off to every 10 s (a guest that never reads costs
 *    one event per 10 s). Spurious events are harmless to every xenbus implementation.
 */
#include <stdint.h>

#include "xenstore/vxs.h"
#include "xenstore/vxs_quota.h"
#include "xenstore/vxs_xen.h"

#define PARTIAL_FIRST_MS 1
#define PARTIAL_SLOW_MS 100
#define RECHECK_MS 1
#define RENOTIFY_FIRST_MS 100
#define RENOTIFY_MAX_MS 10000

void vxs_ring_wake_consumed(struct vxs_conn *c)
{
    c->recheck_at_ms = vxs_now_ms() + RECHECK_MS;
}

static void shorter(int *best, uint64_t due, uint64_t now)
{
    int t = due <= now ? 0 : (due - now > 60000 ? 60000 : (int)(due - now));
    if (*best < 0 || t < *best)
        *best = t;
}

/* Case 3 for one ring: notify again if the guest made no progress for a while. */
static void renotify(struct vxs_conn *c, uint64_t now, int *best)
{
    struct vxs_domain *d = c->dom;
    XENSTORE_RING_IDX cons = __atomic_load_n(&d->ring.intf->rsp_cons, __ATOMIC_ACQUIRE);
    if (d->ring.rsp_prod == cons) {
        c->rsp_wait_since_ms = 0;
        return;
    }
    if (!c->rsp_wait_since_ms || cons != c->rsp_cons_seen) {
        c->rsp_wait_since_ms = now;
        c->rsp_cons_seen = cons;
        c->renotify_ms = RENOTIFY_FIRST_MS;
    } else if (now - c->rsp_wait_since_ms >= c->renotify_ms) {
        if (vxs.verbose)
            vxs_log("domain %u: %u reply bytes unread for %llu ms: notifying again", c->domid,
                    d->ring.rsp_prod - cons, (unsigned long long)(now - c->rsp_wait_since_ms));
        vxs_xen_notify(d->local_port);
        c->rsp_wait_since_ms = now;
        c->renotify_ms = c->renotify_ms * 2 > RENOTIFY_MAX_MS ? RENOTIFY_MAX_MS
                                                                : c->renotify_ms * 2;
    }
    shorter(best, c->rsp_wait_since_ms + c->renotify_ms, now);
}

int vxs_ring_wake_timeout(void)
{
    int best = -1;
    uint64_t now = 0;
    for (struct vxs_conn *c = vxs.conns; c; c = c->next) {
        if (!c->dom || c->dead || !c->dom->ring.intf || c->dom->ring.broken) {
            c->partial_since_ms = 0;
            continue;
        }
        if (!now)
            now = vxs_now_ms();
        /* 1: part of a request read */
        if (c->rd.have == 0) {
            c->partial_since_ms = 0;
        } else {
            if (!c->partial_since_ms)
                c->partial_since_ms = now;
            int t = now - c->partial_since_ms < PARTIAL_SLOW_MS ? PARTIAL_FIRST_MS
                                                                 : PARTIAL_SLOW_MS;
            if (best < 0 || t < best)
                best = t;
        }
        /* 2: a consume a request may have raced. Due: the round after it (which ran since
         * the last call, or we would not be here after the deadline) looked at req[]. */
        if (c->recheck_at_ms) {
            if (now >= c->recheck_at_ms)
                c->recheck_at_ms = 0;
            else
                shorter(&best, c->recheck_at_ms, now);
        }
        /* 3: replies left unread */
        renotify(c, now, &best);
    }
    return best;
}
