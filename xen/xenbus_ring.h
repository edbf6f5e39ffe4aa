/*
 * The two byte queues of the xenstore ring page (struct xenstore_domain_interface,
 * <xen/io/xs_wire.h>, docs/misc/xenstore-ring.txt), seen from the guest: we produce into
 * req[] and consume from rsp[]. Pure: no I/O, no globals; the client (xen/xenbus.c) adds
 * the event channel, the unit tests a simulated daemon.
 *
 * The daemon may write anything anywhere in the page. Our own indexes (req_prod, rsp_cons)
 * are kept here and only ever written to the page, never read back; the daemon's (req_cons,
 * rsp_prod) are read once per operation and checked: one that claims more than a ring's
 * size is outstanding marks the ring broken, and it is not used again until
 * xenbus_ring_resync() (after a reconnection).
 */
#ifndef XENKIT_XEN_XENBUS_RING_H
#define XENKIT_XEN_XENBUS_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/io/xs_wire.h>

struct xenbus_ring {
    struct xenstore_domain_interface *intf;
    XENSTORE_RING_IDX req_prod; /* ours: next byte we write */
    XENSTORE_RING_IDX rsp_cons; /* ours: next byte we read */
    bool broken;                /* the daemon published an impossible index */
};

/* Adopt the indexes the page holds (they need not start at zero) and check them. */
void xenbus_ring_init(struct xenbus_ring *r, struct xenstore_domain_interface *intf);
/* After the daemon reset the ring (reconnection): adopt its indexes again, clear broken. */
void xenbus_ring_resync(struct xenbus_ring *r);

/* Copy up to len bytes into req[]; returns how many fit (0 if broken). Publishes them with
 * a release store of req_prod; the caller notifies the daemon. */
size_t xenbus_ring_write(struct xenbus_ring *r, const void *buf, size_t len);
/* Copy up to len bytes out of rsp[]; returns how many there were (0 if broken). Sets
 * *was_full if rsp[] has been full since our previous read (its prod, loaded after our cons
 * is published, is a ring's size or more ahead of where this read started): the daemon may
 * be waiting for room, so the caller must notify it. */
size_t xenbus_ring_read(struct xenbus_ring *r, void *buf, size_t len, bool *was_full);

/* Room in req[] and bytes waiting in rsp[] (0 if broken). */
size_t xenbus_ring_space(struct xenbus_ring *r);
size_t xenbus_ring_avail(struct xenbus_ring *r);

#endif
