/*
 * vxenstored: requests (a ring's, a kept socket's) whose commit the daemon made before it was
 * killed, found again after the restart (vxs_replay_done.c).
 */
#ifndef XENKIT_XENSTORE_VXS_REPLAY_DONE_H
#define XENKIT_XENSTORE_VXS_REPLAY_DONE_H

#include <stdbool.h>
#include <xen/io/xs_wire.h>

struct vxs_conn;

/* Once per restart, after the restored connections exist (rings attached, their saved heads
 * given back; kept sockets restored), before their requests are read: look up which of the
 * requests each still holds were committed (vxs_events_replay calls it). */
void vxs_replay_done_scan(void);
/* The connection's reader, for each request before it is dispatched: true if the request was
 * committed before the restart and has been answered OK here (not to be dispatched). */
bool vxs_replay_done_answer(struct vxs_conn *c, const struct xsd_sockmsg *hdr);
/* Was the lookup complete for the replayed request c is handling? Then, not answered by
 * vxs_replay_done_answer, it made no commit before the restart (a replayed TRANSACTION_END
 * need not look for its commit message, vxs_persist_txn_committed). */
bool vxs_replay_done_known(const struct vxs_conn *c);
/* Is the request c is handling one the old daemon handled without a commit? Then it is
 * answered as it stands now, nothing applied (vxs_dispatch.c). */
bool vxs_replay_dry(const struct vxs_conn *c);

#endif
