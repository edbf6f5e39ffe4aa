/*
 * vchan protocol core: libxenvchan's wire protocol (Xen's <xen/io/libxenvchan.h>) as pure
 * code. No I/O, no globals, no allocation: the same file is compiled into the guest kernel,
 * into the dom0 library (vchan/dom0_*.c) and into the host unit tests.
 *
 * What a binding does around it
 * -----------------------------
 * The binding owns the pages and the event channel; the core owns the protocol.
 *
 *   Server:
 *     vchan_select_orders(read_min, write_min, &lo, &ro)      (or pick orders, then
 *     vchan_check_orders(lo, ro))                               check them)
 *     allocate/grant the control page, and vchan_ring_pages(lo) + vchan_ring_pages(ro)
 *     pages for the separate rings (each ring contiguous in our address space)
 *     vchan_server_init(&c, ctrl, lo, ro, left_mem, right_mem, notify, ctx)
 *         zeroes the page and writes orders, liveness and notify bytes
 *     vchan_ctrl_set_grant(ctrl, i, ref) for every ring page (left's pages first)
 *     publish ring-ref / event-channel in xenstore
 *   Client:
 *     map the control page; vchan_client_orders(ctrl, &lo, &ro) copies the orders ONCE and
 *     checks them; vchan_ctrl_grant(ctrl, i) reads each ring page's grant ref (copy it, then
 *     map; the peer may change the page afterwards, we never re-read)
 *     vchan_client_init(&c, ctrl, lo, ro, left_mem, right_mem, notify, ctx)
 *     vchan_client_connect(&c): cli_live = 1, asks the server for write notifications and
 *     kicks the event channel
 *   Both: on every event (or when woken for any reason) just retry the operation. Any
 *     operation that returns 0 ("nothing now") has asked the peer for the notification it
 *     needs and re-checked the indexes after a full barrier, so waiting for the next event
 *     cannot miss a wake-up. The peer's close always sends an event.
 *   Close: vchan_close(&c) sets our liveness byte to 0 and notifies; then unmap/ungrant.
 *
 * left = client -> server, right = server -> client. For orders 10 and 11 the ring is inside
 * the control page (offset 1024 / 2048): pass NULL as its memory. For orders 12..20 it is
 * 2^(order-12) separately granted pages.
 *
 * Hostile peer
 * ------------
 * Our own indexes (read ring's cons, write ring's prod) are private copies, only ever
 * written to the page. The peer's indexes and liveness byte are loaded once per step and
 * checked; an index claiming more than the ring's size is outstanding marks the connection
 * broken (sticky; every operation then returns -EPROTO). The last checked value of the
 * peer's cons is kept: a write that fits in the space it leaves does not load cons again
 * (a bad cons is then found by the next write that needs more, or by buffer_space).
 * Orders are copied once and the ring sizes are private. No value read from the page is
 * ever used to address memory.
 *
 * Close semantics (differs from libxenvchan on purpose)
 * -------------------------------------------------------
 * A reader reads the peer's liveness byte BEFORE the ring's producer index, so everything
 * the peer wrote before closing is still delivered: read()/recv() return data while there
 * is any, and -ENOTCONN only once the ring is empty and the peer is gone. (libxenvchan checks
 * is_open first and can drop the tail of the stream.)
 *
 * Return values
 * -------------
 *   > 0          bytes moved
 *   0            nothing possible now (notification requested; wait for an event)
 *   -ENOTCONN    peer closed (read side: and nothing left to read), or we closed
 *   -EPROTO      the peer broke the protocol (impossible index or liveness value)
 *   -EMSGSIZE    packet larger than the ring (send/recv)
 */
#ifndef XENKIT_VCHAN_CORE_H
#define XENKIT_VCHAN_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/io/libxenvchan.h>

#define VCHAN_PAGE_SIZE     4096u
#define VCHAN_MIN_ORDER     10u
#define VCHAN_MAX_ORDER     20u      /* 1 MiB rings, 256 grants */
#define VCHAN_GRANTS_OFFSET 24u      /* offsetof(struct vchan_interface, grants) */

/* Liveness byte values (cli_live / srv_live). */
#define VCHAN_LIVE_CLOSED  0
#define VCHAN_LIVE_OPEN    1
#define VCHAN_LIVE_WAITING 2         /* client not connected yet (cli_live only) */

typedef void (*vchan_notify_fn)(void *ctx);

struct vchan_ring {
    uint8_t *buf;                    /* ring memory (size bytes) */
    uint32_t size;                   /* 1 << order: private, never re-read */
    uint32_t own;                    /* our index: cons (read ring) or prod (write ring) */
    uint32_t peer;                   /* the peer's index as last loaded and checked (read
                                      * ring: prod, write ring: cons): what we know is
                                      * readable / free without touching the shared line */
    volatile struct ring_shared *shr;
};

enum vchan_state { VCHAN_ST_OPEN = 0, VCHAN_ST_CLOSED, VCHAN_ST_BROKEN };

struct vchan_core {
    volatile struct vchan_interface *ctrl;
    struct vchan_ring rd, wr;        /* server: rd = left, wr = right; client: the reverse */
    volatile uint8_t *own_live, *peer_live;
    volatile uint8_t *own_flags;     /* requests addressed to us (we clear them, then notify) */
    volatile uint8_t *peer_flags;    /* requests we address to the peer */
    vchan_notify_fn notify;
    void *notify_ctx;
    bool server;
    bool closed;                     /* vchan_close ran */
    bool peer_seen;                  /* server: the client was seen connected */
    uint8_t state;                   /* enum vchan_state */
    unsigned left_order, right_order;
};

/* ---- layout ------------------------------------------------------------------------- */

/* Pages of a separately granted ring of this order (0 for in-page orders 10 and 11). */
unsigned vchan_ring_pages(unsigned order);

/* Offset inside the control page of an in-page ring (1024 or 2048), 0 for orders >= 12. */
unsigned vchan_inpage_offset(unsigned order);

/* 0 if (left_order, right_order) is a valid pair: both in 10..20, at most one in-page ring,
 * grants[] fits below the in-page ring / the end of the page. -EINVAL otherwise. */
int vchan_check_orders(unsigned left_order, unsigned right_order);

/* libxenvchan's server choice for minimum sizes (bytes) of the left (server reads) and right
 * (server writes) rings: 10/11 or 11/10 when both are small, else the small side gets 11 and
 * the other the smallest order >= 12 that holds it. -EINVAL if a size exceeds 1 MiB. */
int vchan_select_orders(size_t left_min, size_t right_min,
                        unsigned *left_order, unsigned *right_order);

/* Grant refs in the control page: index i < pages(left) + pages(right), left's pages first.
 * vchan_ctrl_grant reads once (the caller keeps the copy). */
void vchan_ctrl_set_grant(volatile struct vchan_interface *ctrl, unsigned i, uint32_t ref);
uint32_t vchan_ctrl_grant(const volatile struct vchan_interface *ctrl, unsigned i);

/* Client: copy the orders once from the mapped control page and check them. */
int vchan_client_orders(const volatile struct vchan_interface *ctrl,
                        unsigned *left_order, unsigned *right_order);

/* ---- setup --------------------------------------------------------------------------- */

/* Server: zero the control page and initialise it (orders, srv_live = 1, cli_live = 2,
 * cli_notify = WRITE, srv_notify = 0). left_mem/right_mem: the separate ring memory for
 * orders >= 12, NULL for in-page orders. The grants must still be filled in. -EINVAL on a
 * bad order pair or missing memory. */
int vchan_server_init(struct vchan_core *c, volatile struct vchan_interface *ctrl,
                      unsigned left_order, unsigned right_order,
                      void *left_mem, void *right_mem, vchan_notify_fn notify, void *ctx);

/* Client: attach to a page the server initialised, with the orders vchan_client_orders
 * returned and the mapped ring memory. Our own indexes are copied from the page once. */
int vchan_client_init(struct vchan_core *c, volatile struct vchan_interface *ctrl,
                      unsigned left_order, unsigned right_order,
                      void *left_mem, void *right_mem, vchan_notify_fn notify, void *ctx);

/* Client: announce ourselves (cli_live = 1, srv_notify = WRITE) and kick the server. */
void vchan_client_connect(struct vchan_core *c);

/* ---- state --------------------------------------------------------------------------- */

/* Peer state: VCHAN_LIVE_OPEN, VCHAN_LIVE_WAITING (server side, client not yet connected),
 * VCHAN_LIVE_CLOSED; -EPROTO if the connection is broken (an impossible liveness value
 * breaks it). */
int vchan_peer_state(struct vchan_core *c);

/* True while the peer is connected (or, for a server, not yet connected) and nothing is
 * broken: libxenvchan_is_open. Data may still be readable after this turns false. */
bool vchan_is_open(struct vchan_core *c);

/* Bytes readable now / writable now (0 when broken or, for space, after close). */
size_t vchan_data_ready(struct vchan_core *c);
size_t vchan_buffer_space(struct vchan_core *c);

/* Bytes that were there when the peer's prod was last loaded and are not read yet (no
 * load: 0 after a read that took everything it saw). */
size_t vchan_read_known(const struct vchan_core *c);

/* Whether `want` bytes can be written now, from the space known since the peer's cons was
 * last loaded, and loading it only if that is short (a writer that polls before each write
 * leaves the shared line alone while it knows there is room). False when closed/broken. */
bool vchan_can_write(struct vchan_core *c, size_t want);

/* Bytes we wrote that the peer has not consumed yet (for a lingering close). */
size_t vchan_write_pending(struct vchan_core *c);

/* Ring sizes (bytes). */
static inline size_t vchan_read_size(const struct vchan_core *c) { return c->rd.size; }
static inline size_t vchan_write_size(const struct vchan_core *c) { return c->wr.size; }

/* ---- data ---------------------------------------------------------------------------- */

/* Stream: copy up to len bytes (whatever is there / whatever fits). Both keep going while
 * the peer keeps up: a read loads prod again when it has taken what it saw, a write loads
 * cons again when it has filled the space it knew of, and a write larger than the ring that
 * finds it full looks again up to VCHAN_WRITE_SPIN times (~2.5 us) before it returns
 * what it wrote (a read loads prod again only after finding a publication step's worth).
 * So a large write into a small ring moves far more than the ring's size per call when the
 * reader runs on another CPU. */
long vchan_read(struct vchan_core *c, void *buf, size_t len);
long vchan_write(struct vchan_core *c, const void *buf, size_t len);

/* Packet: all len bytes or nothing (0); -EMSGSIZE if len exceeds the ring. recv returns
 * -ENOTCONN when the peer closed and fewer than len bytes remain. */
long vchan_recv(struct vchan_core *c, void *buf, size_t len);
long vchan_send(struct vchan_core *c, const void *buf, size_t len);

/* Ask for a wake-up without moving data: "notify me when you write" (for read waits) or
 * "when you read" (for write waits); each re-checks afterwards and returns true if the
 * condition already holds (data ready, resp. `want` bytes of space), or if the connection is
 * closed/broken (the caller must not sleep then). */
bool vchan_arm_read(struct vchan_core *c, size_t want);
bool vchan_arm_write(struct vchan_core *c, size_t want);

/* Close our end: our liveness byte = 0, notify the peer. Idempotent. */
void vchan_close(struct vchan_core *c);

#endif
