/*
 * vxenstored: a ring's message written into rsp[] in parts, finished after a kill
 * (vxs_ring_partial.c). The state lives in struct vxs_ring_partial (vxs_ring.h).
 */
#ifndef XENKIT_XENSTORE_VXS_RING_PARTIAL_H
#define XENKIT_XENSTORE_VXS_RING_PARTIAL_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/io/xs_wire.h>

struct vxs_conn;
struct vxs_out;

/* flush_ring (vxs_conn.c), before the first byte of o (c's ring's next output) goes into
 * rsp[]: may it start now? A message that fits whole does (no store write); one that does
 * not is recorded in the connection table first and starts once that record is durable
 * (false until then: the loop comes back). */
bool vxs_ring_partial_may_start(struct vxs_conn *c, const struct vxs_out *o);
/* Once per restart, before any output is queued on the restored rings (vxs_events_replay):
 * each ring whose record says a message was cut gets the rest of it first. */
void vxs_ring_partial_restore_all(void);
/* A replayed request (c->replay) about to be handled: true if it is the one whose reply the
 * restart resumed (or found whole in rsp[]): not handled again, no second reply. */
bool vxs_ring_partial_answers(struct vxs_conn *c, const struct xsd_sockmsg *hdr);
/* Is c's record stale now (its message all in rsp[], and a reply's request consumed)? Then
 * vxs_persist_marks removes it, lazily, with the marks. */
bool vxs_ring_partial_clear_due(const struct vxs_conn *c);

#endif
