/*
 * vchan in the guest: libxenvchan-compatible streams between a xenkit unikernel and another
 * domain (another unikernel, or dom0's libxenvchan / vchan-cat / vchan-socket-proxy), on the
 * protocol core (vchan/vchan_core.h), grant tables (xen/gnttab.h), event channels
 * (xen/events.h) and the xenbus client (xen/xenbus.h).
 *
 * Setup (as libxenvchan): the server grants a control page and the ring pages to the peer,
 * allocates an unbound event channel for it and writes `<xs_path>/ring-ref` and
 * `<xs_path>/event-channel` (decimal), each readable by the peer only (perms
 * [n<self>, r<peer>]). It uses no xenstore transaction: ring-ref is written and given its
 * permissions before event-channel, and clients wait for event-channel (a watch), so a
 * client never sees half a handshake. The client waits for the two keys (watch, up to its
 * deadline), binds the event channel, maps the control page and the rings, and announces
 * itself. Close removes xs_path and the parent directories it leaves empty (in one
 * transaction, retried with backoff on EAGAIN), never the domain's home or its top-level
 * directories.
 *
 * xs_path may be absolute or relative; a relative path is relative to the SERVER's home
 * (/local/domain/<server-domid>) for both sides, so both can be given the conventional
 * "data/vchan/<client-domid>/<name>".
 *
 * Waiting: every call that may wait takes an absolute deadline on clock_monotonic_ns():
 * GVCHAN_NOWAIT (0) does not wait, WAIT_FOREVER (xen/eventloop.h) has no limit. Waits run
 * the event loop (wait_for_events), so timers, xenstore and other vchans keep being served.
 * A unikernel that serves several vchans can either give each a handler
 * (gvchan_set_handler, called from the event loop after each event on its channel) and use
 * the non-blocking calls there, or wait on all of them with gvchan_wait_any().
 *
 * Liveness: the peer is gone when it closes (its live byte), when Linux's unmap notify
 * zeroes it (dom0 peer killed), or when its domain dies. Xen reports the last one to no
 * one: it only turns our end of the event channel back into "unbound". The binding therefore
 * asks Xen (EVTCHNOP_status) at most every GVCHAN_LIVENESS_NS while someone waits on the
 * vchan or asks gvchan_is_open(), and then plays the part of the unmap notify: it zeroes
 * the peer's live byte itself, and the core does the rest (data still in the ring is
 * delivered, then reads return -ENOTCONN). The period is counted on Xen's clock
 * (clock_xen_ns), and a wait also checks after every 4 wake-ups that brought it no event
 * and looks at the live byte after every wake-up: a lost event cannot hang a waiter even
 * while the guest's monotonic clock stands still (it does, under the nested rig).
 *
 * Return values: > 0 bytes moved; 0 nothing before the deadline (or, without waiting,
 * nothing now); -ENOTCONN the peer is gone (reads: and nothing is left to read) or we
 * closed; -EPROTO the peer broke the protocol; -EMSGSIZE a packet larger than the ring;
 * other -errno from setup.
 */
#ifndef XENKIT_VCHAN_GUEST_VCHAN_H
#define XENKIT_VCHAN_GUEST_VCHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GVCHAN_NOWAIT 0
#define GVCHAN_LIVENESS_NS (200ull * 1000 * 1000)

struct gvchan;
typedef void (*gvchan_handler_fn)(struct gvchan *v, void *arg);

/* ---- setup --------------------------------------------------------------------------- */

/* Server for client domain `peer` at xs_path, with rings of at least read_min bytes (client
 * to server, "left") and write_min bytes (server to client), ordered as libxenvchan does.
 * Returns at once, without waiting for the client (see gvchan_wait_connected). */
int gvchan_server_init(struct gvchan **out, uint16_t peer, const char *xs_path,
                       size_t read_min, size_t write_min);
/* The same with explicit ring orders (10..20; vchan_check_orders decides what is valid). */
int gvchan_server_init_orders(struct gvchan **out, uint16_t peer, const char *xs_path,
                              unsigned read_order, unsigned write_order);

/* Client of the server in domain `peer`, waiting until deadline for it to publish xs_path.
 * Returns 0, -ETIMEDOUT, or -errno (bad handshake values, refused map or bind). */
int gvchan_client_init(struct gvchan **out, uint16_t peer, const char *xs_path,
                       uint64_t deadline_ns);

/* Server: wait until the client has connected (or is gone). 0 when connected, -ETIMEDOUT,
 * -ENOTCONN. */
int gvchan_wait_connected(struct gvchan *v, uint64_t deadline_ns);

/* Close: our live byte = 0 and an event to the peer (data we wrote stays readable by it),
 * unmap / revoke (pages the peer still maps are revoked and freed later, see
 * gvchan_reclaim), close the event channel; the server removes xs_path and the empty
 * parents. Frees v. */
void gvchan_close(struct gvchan *v);
/* Wait until the peer has read everything we wrote (or is gone, or the deadline): for a
 * close that does not leave the peer to drain a ring we already unmapped. 0 when drained,
 * -ETIMEDOUT, -ENOTCONN. */
int gvchan_flush(struct gvchan *v, uint64_t deadline_ns);
/* Free pages whose revocation had to wait for the peer to unmap them. Returns how many
 * grants are still waiting. Called by every setup and close too. */
unsigned gvchan_reclaim(void);

/* ---- data ---------------------------------------------------------------------------- */

/* Stream: read what is there (up to len), waiting until deadline for at least one byte. */
long gvchan_read(struct gvchan *v, void *buf, size_t len, uint64_t deadline_ns);
/* Stream: write all len bytes, waiting for room until deadline. Returns len, or how much
 * was written by the deadline (0 if nothing), or -errno if nothing could be written. */
long gvchan_write(struct gvchan *v, const void *buf, size_t len, uint64_t deadline_ns);
/* Packets: exactly len bytes or nothing, waiting until deadline. */
long gvchan_recv(struct gvchan *v, void *buf, size_t len, uint64_t deadline_ns);
long gvchan_send(struct gvchan *v, const void *buf, size_t len, uint64_t deadline_ns);

/* ---- state and waiting --------------------------------------------------------------- */

/* libxenvchan_is_open: the peer is (or, for a server, may still become) connected. Checks
 * liveness with Xen if the last check is older than GVCHAN_LIVENESS_NS. */
bool gvchan_is_open(struct gvchan *v);
size_t gvchan_data_ready(struct gvchan *v);
size_t gvchan_buffer_space(struct gvchan *v);
size_t gvchan_read_size(struct gvchan *v);
size_t gvchan_write_size(struct gvchan *v);
/* Our event channel port, the peer's domid, the ring orders (server's view: left, right). */
uint32_t gvchan_port(struct gvchan *v);
uint16_t gvchan_peer(struct gvchan *v);
void gvchan_orders(struct gvchan *v, unsigned *left_order, unsigned *right_order);

/* Call fn(v, arg) from the event loop after every event on the channel and when the peer is
 * found gone; NULL removes it. The handler may call the non-blocking operations (and may
 * wait, like any event handler), but must not close the vchan. */
void gvchan_set_handler(struct gvchan *v, gvchan_handler_fn fn, void *arg);

/* Wait until something happens on one of the n vchans (an event, or its peer found closed
 * or gone), or the deadline. Returns the index of one that had activity, or -ETIMEDOUT; at
 * once the index of one that is not open any more (peer closed or gone, broken), so keep
 * only open vchans in the set (gvchan_is_open). The caller
 * then retries its operations; to be woken by data, it must first have tried to read (or
 * call gvchan_arm), since the peer only notifies on request. */
int gvchan_wait_any(struct gvchan *const *v, unsigned n, uint64_t deadline_ns);
/* Ask the peer for an event when it writes (read = true) and/or reads (write = true).
 * Returns true if there is already something to do (data, room, or a closed peer). */
bool gvchan_arm(struct gvchan *v, bool read, bool write);

struct gvchan_stats {
    uint64_t events;        /* event channel notifications received */
    uint64_t waits;         /* times a blocking call went to sleep */
    uint64_t liveness_checks;
    bool peer_died;         /* the peer was found gone by Xen (not closed by its live byte) */
};
void gvchan_get_stats(struct gvchan *v, struct gvchan_stats *out);

#endif
