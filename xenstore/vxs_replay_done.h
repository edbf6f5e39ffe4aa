/*
 * vxenstored: ring requests whose commit the daemon made before it was killed, found again
 * after the restart (vxs_ring_done.c).
 */
#ifndef XENKIT_XENSTORE_VXS_RING_DONE_H
#define XENKIT_XENSTORE_VXS_RING_DONE_H

#include <stdbool.h>
#include <xen/io/xs_wire.h>

struct vxs_conn;

/* After the restored rings are attached (and their saved heads given back), before their
 * requests are read: look up which of the requests each ring still holds were committed. */
void vxs_ring_done_scan(void);
/* Called by the ring's reader for each request before it is dispatched: true if the request
 * was committed before the restart and has been answered OK here (not to be dispatched);
 * otherwise the ring's `dry` says whether dispatching it may apply anything. */
bool vxs_ring_done_answer(struct vxs_conn *c, const struct xsd_sockmsg *hdr);

#endif
