/* Guest side of the xenstore ring's byte queues; see xenbus_ring.h for the contract. */
#include <string.h>

#include "xen/xenbus_ring.h"

_Static_assert((XENSTORE_RING_SIZE & (XENSTORE_RING_SIZE - 1)) == 0,
               "xenstore ring size is a power of two");

/* Acquire pairs with the daemon's release of its index: the bytes it produced (rsp) or its
 * reads of the bytes it consumed (req) are ordered before what we do next. */
static XENSTORE_RING_IDX load_peer(const XENSTORE_RING_IDX *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void publish(XENSTORE_RING_IDX *p, XENSTORE_RING_IDX v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static void adopt(struct xenbus_ring *r)
{
    r->broken = false;
    r->req_prod = load_peer(&r->intf->req_prod);
    r->rsp_cons = load_peer(&r->intf->rsp_cons);
    /* Check both queues once, so a page that starts out corrupt is noticed at once. */
    (void)xenbus_ring_space(r);
    (void)xenbus_ring_avail(r);
}

void xenbus_ring_init(struct xenbus_ring *r, struct xenstore_domain_interface *intf)
{
    r->intf = intf;
    adopt(r);
}

void xenbus_ring_resync(struct xenbus_ring *r)
{
    adopt(r);
}

size_t xenbus_ring_space(struct xenbus_ring *r)
{
    if (r->broken)
        return 0;
    XENSTORE_RING_IDX used = r->req_prod - load_peer(&r->intf->req_cons);
    if (used > XENSTORE_RING_SIZE) {
        r->broken = true;
        return 0;
    }
    return XENSTORE_RING_SIZE - used;
}

size_t xenbus_ring_avail(struct xenbus_ring *r)
{
    if (r->broken)
        return 0;
    XENSTORE_RING_IDX avail = load_peer(&r->intf->rsp_prod) - r->rsp_cons;
    if (avail > XENSTORE_RING_SIZE) {
        r->broken = true;
        return 0;
    }
    return avail;
}

size_t xenbus_ring_write(struct xenbus_ring *r, const void *buf, size_t len)
{
    const char *src = buf;
    size_t n = xenbus_ring_space(r);
    if (n > len)
        n = len;
    for (size_t done = 0; done < n;) {
        /* Contiguous run up to the end of the array, then wrap. */
        size_t off = MASK_XENSTORE_IDX(r->req_prod + (XENSTORE_RING_IDX)done);
        size_t run = XENSTORE_RING_SIZE - off;
        if (run > n - done)
            run = n - done;
        memcpy(r->intf->req + off, src + done, run);
        done += run;
    }
    r->req_prod += (XENSTORE_RING_IDX)n;
    if (n > 0)
        publish(&r->intf->req_prod, r->req_prod);
    return n;
}

size_t xenbus_ring_read(struct xenbus_ring *r, void *buf, size_t len, bool *was_full)
{
    char *dst = buf;
    const XENSTORE_RING_IDX old_cons = r->rsp_cons;
    size_t avail = xenbus_ring_avail(r);
    size_t n = avail < len ? avail : len;
    for (size_t done = 0; done < n;) {
        size_t off = MASK_XENSTORE_IDX(r->rsp_cons + (XENSTORE_RING_IDX)done);
        size_t run = XENSTORE_RING_SIZE - off;
        if (run > n - done)
            run = n - done;
        memcpy(dst + done, r->intf->rsp + off, run);
        done += run;
    }
    r->rsp_cons += (XENSTORE_RING_IDX)n;
    if (n > 0)
        publish(&r->intf->rsp_cons, r->rsp_cons);
    /* The daemon stops writing only when rsp[] is full, and then sleeps until our event.
     * Whether it filled the ring is decided on its prod loaded AFTER our cons is published
     * (a full barrier between, Linux's rule): the count loaded before the copy misses a
     * daemon that filled the ring meanwhile, which would then wait for an event nobody
     * sends while we wait for the rest of its message. Either it saw our new cons (and
     * had room), or we see its full ring here. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    *was_full = !r->broken && load_peer(&r->intf->rsp_prod) - old_cons >= XENSTORE_RING_SIZE;
    return n;
}
