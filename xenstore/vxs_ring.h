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

/*
 * Requests are consumed (req_cons published, their bytes given back to the guest) only once
 * they are answered: vxs_ring_read copies bytes out and advances a private read index, the
 * caller says where each complete request ends and which of its outputs must leave first
 * (vxs_ring_hold), and vxs_ring_release consumes the requests whose output has left. So a
 * daemon killed at any moment finds every unanswered request still in req[] when it attaches
 * again, and handles it (again; one whose commit the old daemon made is answered without
 * being applied again: struct vxs_replay_window, vxs_replay_done.c). Two exceptions: a
 * request larger than what req[] can hold is consumed as it arrives once req[] is full of it
 * (the guest could not write the rest otherwise; vxenstored saves that head first and gives
 * it back to the reader after a restart, vxs_persist_head), and if more requests are held
 * than VXS_RING_HELD the oldest is consumed.
 */
#define VXS_RING_HELD 64 /* XENSTORE_RING_SIZE / a bare header: more cannot be in req[] */

/* The requests a restarted daemon finds again (a ring's req[] at attach, a kept socket's
 * queue at restore: the replay window [from, from + len), 32-bit positions that wrap) and,
 * among them, those whose commit the old daemon made (vxs_replay_done.c looks them up). */
struct vxs_replay_window {
    uint32_t from, len;
    struct {
        uint32_t start;
        uint32_t type;
    } done[VXS_RING_HELD];
    unsigned ndone;
    bool lost;     /* more were noted than done[] holds */
    bool complete; /* the lookup saw every commit that could be one of the window's, so a
                    * request not in done[] made none (vxs_persist_txn_committed trusts it) */
};

/* What a replayed request is: handled before and committed (answer OK, apply nothing),
 * handled before without a commit because a later request of the window made one (answer,
 * apply nothing), or maybe not handled at all (handle it again). */
enum vxs_replay { VXS_REPLAY_AGAIN, VXS_REPLAY_DONE, VXS_REPLAY_NO_EFFECT };
/* Might the request starting at `start` have been handled before the restart? */
bool vxs_replay_in_window(const struct vxs_replay_window *w, uint32_t start);
/* The old daemon committed the request of type `type` starting at `start`. false if start
 * is outside the window (so is every older commit of this connection). At most
 * VXS_RING_HELD are kept (more handled requests cannot wait unanswered). */
bool vxs_replay_note_done(struct vxs_replay_window *w, uint32_t start, uint32_t type);
enum vxs_replay vxs_replay_kind(const struct vxs_replay_window *w, uint32_t start,
                                uint32_t type);

/* A message written into rsp[] in parts (it did not fit whole) is recorded in the connection
 * table first: a daemon killed in its middle must finish exactly it after the restart, or the
 * guest's stream is corrupt (vxenstored's vxs_ring_partial.c keeps this, the ring only its
 * place; zeroed at attach and reset). */
struct vxs_ring_partial {
    bool saved;                 /* the table has a record (maybe stale: done and not cleared) */
    XENSTORE_RING_IDX start;    /* the rsp[] index of its first byte */
    uint64_t serial;            /* the recorded message's output number (0: not queued) */
    uint64_t need;              /* the commit of the record (or of its removal) */
    /* The recorded reply (this message, or a reply that went before it) whose request, from
     * ring index ans_pos to ans_end, may not be all consumed yet: replayed, it gets no second
     * reply. (A request larger than req[] is consumed in parts: past ans_pos, not yet past
     * ans_end.) */
    bool ans;
    XENSTORE_RING_IDX ans_pos, ans_end;
    uint32_t ans_req_id, ans_type;
    bool skip;                  /* restored: that request is not handled again */
    /* The last reply that started into rsp[] (whole or not; not in the table): a message cut
     * after it while its request is still in req[] records it as ans. */
    bool last;
    XENSTORE_RING_IDX last_pos, last_end;
    uint32_t last_req_id, last_type;
};

struct vxs_ring {
    struct xenstore_domain_interface *intf;
    XENSTORE_RING_IDX req_cons; /* ours: the guest may overwrite bytes before it */
    XENSTORE_RING_IDX req_read; /* next byte we copy; [req_cons, req_read) is held */
    XENSTORE_RING_IDX rsp_prod; /* ours: next byte we write */
    /* What req[] held at attach: requests starting there may have been handled by a daemon
     * that was killed before their reply was consumed (vxs_ring_replayed). */
    struct vxs_replay_window replay;
    struct {
        XENSTORE_RING_IDX end; /* the request's end: req_cons advances to it */
        uint64_t mark;         /* released once every output up to this one has left */
    } held[VXS_RING_HELD];
    unsigned nheld;
    bool broken;
    struct vxs_ring_partial partial;
};

/* Adopt our indexes from the page and check them against the guest's. Sets the features we
 * advertise in server_features. */
void vxs_ring_attach(struct vxs_ring *r, struct xenstore_domain_interface *intf,
                     uint32_t features);
/* Copy up to len bytes out of req[] from the read index on; returns how many there were (0 if
 * broken). Nothing is consumed: see vxs_ring_hold/vxs_ring_release. */
size_t vxs_ring_read(struct vxs_ring *r, void *buf, size_t len);
/* A complete request read ends at ring index `end`; it is answered once the caller's output
 * number `mark` (a counter that grows with each message queued for this ring) has left. */
void vxs_ring_hold(struct vxs_ring *r, XENSTORE_RING_IDX end, uint64_t mark);
/* Every output numbered below `left_below` has left: consume the requests they answered.
 * `partial`: the caller holds the start of an unfinished request; if nothing else is held and
 * req[] is full, it is consumed too (it is larger than the ring). Returns true if req_cons
 * moved (the guest may wait for room: notify it). */
bool vxs_ring_release(struct vxs_ring *r, uint64_t left_below, bool partial);
/* Would vxs_ring_release(partial) consume the head of an unfinished request now (nothing
 * held, req[] full of it)? The caller first makes that head durable (vxs_persist_head). */
bool vxs_ring_head_due(const struct vxs_ring *r);
/* A restored ring whose req[] starts inside a request whose head (from `start` on) the caller
 * feeds its reader from the connection table: requests from `start` on may be replays. */
void vxs_ring_replay_head(struct vxs_ring *r, XENSTORE_RING_IDX start);
/* Might a request starting at ring index `start` have been handled before a restart? */
bool vxs_ring_replayed(const struct vxs_ring *r, XENSTORE_RING_IDX start);
/* The held request answered by the caller's output number `serial` (the first held one
 * released with it): its end and its own mark (its last output); false if none is held. */
bool vxs_ring_held_end(const struct vxs_ring *r, uint64_t serial, XENSTORE_RING_IDX *end,
                       uint64_t *mark);
/* Copy up to len bytes into rsp[]; returns how many fit (0 if broken). Publishes them with
 * a release store of rsp_prod; the caller notifies the guest. */
size_t vxs_ring_write(struct vxs_ring *r, const void *buf, size_t len);
/* Room in rsp[], bytes waiting in req[] beyond the read index (0 if broken). */
size_t vxs_ring_space(struct vxs_ring *r);
size_t vxs_ring_avail(struct vxs_ring *r);
/* Mark the ring broken with an error code (XENSTORE_ERROR_*), written to the page. */
void vxs_ring_fail(struct vxs_ring *r, uint32_t error);
/* The guest asked for a reconnection (connection == XENSTORE_RECONNECT): reset both rings to
 * zero, clear the error and broken state and what was held, and set connection back to
 * XENSTORE_CONNECTED. */
bool vxs_ring_reconnect_requested(struct vxs_ring *r);
void vxs_ring_reset(struct vxs_ring *r);

#endif
