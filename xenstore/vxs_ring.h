/*
 * The xenstore ring page (struct xenstore_domain_interface, <xen/io/xs_wire.h>,
 * docs/misc/xenstore-ring.txt) seen from the daemon: we consume req[] and produce rsp[].
 * Pure: no I/O, no globals; vxenstored adds the grant mapping and the event channel, the unit
 * tests a hostile guest.
 *
 * The guest may write anything anywhere in the page at any time. Our own indexes (req_cons,
 * rsp_prod) are adopted from the page once, at attach (they survive a daemon restart there),
 * and afterwards only written. The guest's (req_prod, rsp_cons) are read once per operation
 * and checked: one that claims more than a ring's size outstanding marks the ring broken
 * (XENSTORE_ERROR_RINGIDX is written to the page's error field) and it is not used again.
 */
#ifndef XENKIT_XENSTORE_VXS_RING_H
#define XENKIT_XENSTORE_VXS_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/io/xs_wire.h>

struct vxs_ring {
    struct xenstore_domain_interface *intf;
    XENSTORE_RING_IDX req_cons; /* ours: next byte we read */
    XENSTORE_RING_IDX rsp_prod; /* ours: next byte we write */
    bool broken;
};

/* Adopt our indexes from the page and check them against the guest's. Sets the features we
 * advertise in server_features. */
void vxs_ring_attach(struct vxs_ring *r, struct xenstore_domain_interface *intf,
                     uint32_t features);
/* Copy up to len bytes out of req[]; returns how many there were (0 if broken). Sets
 * *was_full if req[] was full before: the guest may wait for room, so notify it. */
size_t vxs_ring_read(struct vxs_ring *r, void *buf, size_t len, bool *was_full);
/* Copy up to len bytes into rsp[]; returns how many fit (0 if broken). Publishes them with
 * a release store of rsp_prod; the caller notifies the guest. */
size_t vxs_ring_write(struct vxs_ring *r, const void *buf, size_t len);
/* Room in rsp[], bytes waiting in req[] (0 if broken). */
size_t vxs_ring_space(struct vxs_ring *r);
size_t vxs_ring_avail(struct vxs_ring *r);
/* Mark the ring broken with an error code (XENSTORE_ERROR_*), written to the page. */
void vxs_ring_fail(struct vxs_ring *r, uint32_t error);
/* The guest asked for a reconnection (connection == XENSTORE_RECONNECT): reset both rings to
 * zero, clear the error and broken state, and set connection back to XENSTORE_CONNECTED. */
bool vxs_ring_reconnect_requested(struct vxs_ring *r);
void vxs_ring_reset(struct vxs_ring *r);

#endif
