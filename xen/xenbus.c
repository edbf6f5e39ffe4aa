/*
 * The xenbus connection: the ring page and event channel from Xen's HVM params, the
 * outgoing queue, reply matching, and ring reconnection. See xenbus.h for the contract.
 *
 * Requests are encoded into one scratch buffer and then copied whole into a software queue
 * (txq) that the event handler drains into the ring as room appears. A message therefore
 * reaches the ring contiguously even when the ring is full and a watch callback sends its
 * own request while an earlier one still waits for room: nothing ever interleaves.
 *
 * The event handler only moves bytes: it drains txq into the ring, reassembles replies with
 * the codec's reader and hands each one to the request waiting for it (a struct on that
 * caller's stack, linked into `pending`), or queues a watch event. Callers wait
 * (xb_wait_daemon) until their request is marked done, also looking at the ring themselves
 * after every wake-up.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <xen/hvm/params.h>

#include "xen/clock.h"
#include "xen/eventloop.h"
#include "xen/events.h"
#include "xen/hypercall.h"
#include "xen/xenbus.h"
#include "xen/xenbus_priv.h"
#include "xen/xenbus_ring.h"

#define PAGE_SHIFT_4K 12
/* Two whole messages: one can always be queued while another drains. */
#define TXQ_SIZE (2 * XS_MSG_MAX)
/* Watches re-registered at once after a reconnection, tracked to check their replies. */
#define DETACHED_MAX 64
/* A request unanswered this long gets a console line (and another every as long). */
#define SLOW_REPORT_NS (5 * NSEC_PER_SEC)
/* A wait for the daemon looks at the ring itself at least this often (Xen's clock). */
#define RECHECK_NS (500 * NSEC_PER_MSEC)

struct pending {
    struct pending *next;
    uint32_t req_id;
    uint32_t type;
    void *buf;
    size_t cap;
    size_t len;
    int err;
    bool done;
};

enum conn_state { CONN_DOWN, CONN_UP, CONN_RECONNECTING, CONN_DEAD };

static struct {
    enum conn_state state;
    struct xenstore_domain_interface *intf;
    struct xenbus_ring ring;
    evtchn_port_t port;
    uint32_t features;
    uint32_t gen;
    uint32_t next_req_id;
    struct xs_reader rd;
    struct pending *pending;
    size_t txq_head, txq_len;
    uint32_t detached[DETACHED_MAX];
    unsigned n_detached;
    bool in_poll;
} xb;

static uint8_t rx_body[XS_READER_BODY_SIZE];
static uint8_t txq[TXQ_SIZE];
static uint8_t scratch[XS_MSG_MAX];

struct xenbus_stats xb_stats;

bool xenbus_available(void)
{
    return xb.state == CONN_UP || xb.state == CONN_RECONNECTING;
}

uint32_t xenbus_server_features(void)
{
    return xb.features;
}

uint32_t xb_generation(void)
{
    return xb.gen;
}

void xenbus_get_stats(struct xenbus_stats *out)
{
    *out = xb_stats;
}

static void notify(void)
{
    evtchn_send(xb.port);
}

/* ---- Losing and regaining the connection --------------------------------------------- */

static void fail_pending(int err)
{
    for (struct pending *p = xb.pending; p != NULL; p = p->next) {
        if (!p->done) {
            p->err = err;
            p->done = true;
        }
    }
}

/* The stream is unusable (daemon error, impossible index, malformed framing). Requests in
 * flight fail: we cannot know whether the daemon executed them. */
static void connection_lost(const char *why)
{
    printf("xenbus: connection lost: %s\n", why);
    fail_pending(-EIO);
    xb.txq_head = xb.txq_len = 0;
    xb.n_detached = 0;
    xb.gen++;
    if (!(xb.features & XENSTORE_SERVER_FEATURE_RECONNECTION)) {
        printf("xenbus: the daemon does not offer reconnection; xenstore is gone\n");
        xb.state = CONN_DEAD;
        return;
    }
    /* docs/misc/xenstore-ring.txt: we set connection = RECONNECT and notify; the daemon
     * empties both queues, forgets our watches and transactions, sets it back to CONNECTED
     * and notifies. Until then only the connection field means anything. */
    xb.state = CONN_RECONNECTING;
    __atomic_store_n(&xb.intf->connection, XENSTORE_RECONNECT, __ATOMIC_SEQ_CST);
    notify();
}

static void reconnected(void)
{
    xenbus_ring_resync(&xb.ring);
    xs_reader_reset(&xb.rd);
    xb.state = CONN_UP;
    xb_stats.reconnects++;
    printf("xenbus: ring reconnected (generation %u)\n", (unsigned)xb.gen);
    if (xb.ring.broken) {
        connection_lost("impossible ring indexes after reconnection");
        return;
    }
    xb_watch_reregister();
}

/* ---- Moving bytes -------------------------------------------------------------------- */

/* Drain txq into the ring. Returns true if anything was written. */
static bool flush_txq(void)
{
    bool wrote = false;
    while (xb.txq_len > 0) {
        size_t run = TXQ_SIZE - xb.txq_head;
        if (run > xb.txq_len)
            run = xb.txq_len;
        size_t n = xenbus_ring_write(&xb.ring, txq + xb.txq_head, run);
        if (n == 0)
            break;
        wrote = true;
        xb.txq_head = (xb.txq_head + n) % TXQ_SIZE;
        xb.txq_len -= n;
    }
    return wrote;
}

static bool is_detached(uint32_t req_id)
{
    for (unsigned i = 0; i < xb.n_detached; i++) {
        if (xb.detached[i] == req_id) {
            xb.detached[i] = xb.detached[--xb.n_detached];
            return true;
        }
    }
    return false;
}

/* One complete message from the daemon. */
static void handle_message(const struct xsd_sockmsg *h, const uint8_t *body)
{
    if (h->type == XS_WATCH_EVENT) {
        xb_stats.watch_events++;
        xb_watch_event(body, h->len);
        return;
    }
    struct pending *p = xb.pending;
    while (p != NULL && (p->done || p->req_id != h->req_id))
        p = p->next;
    if (p == NULL) {
        if (is_detached(h->req_id)) {
            if (h->type == XS_ERROR)
                printf("xenbus: re-registering a watch failed: %d\n",
                       xs_decode_error(body, h->len));
            return;
        }
        xb_stats.bad_replies++;
        printf("xenbus: dropped a %s reply for unknown request %u\n", xs_type_name(h->type),
               (unsigned)h->req_id);
        return;
    }
    xb_stats.replies++;
    p->done = true;
    p->err = xs_reply_status(h, body, p->type);
    if (p->err == -EPROTO) {
        xb_stats.bad_replies++;
        printf("xenbus: %s reply to a %s request %u\n", xs_type_name(h->type),
               xs_type_name(p->type), (unsigned)h->req_id);
    }
    if (p->err != 0)
        return;
    if (h->len > p->cap) {
        p->err = -ERANGE;
        return;
    }
    memcpy(p->buf, body, h->len);
    p->len = h->len;
}

/* Everything the event handler does; also called directly by waiting requests. */
static void poll_ring(void)
{
    bool kick = false;

    if (xb.in_poll)
        return;
    xb.in_poll = true;
    if (xb.state == CONN_RECONNECTING &&
        __atomic_load_n(&xb.intf->connection, __ATOMIC_SEQ_CST) == XENSTORE_CONNECTED)
        reconnected();
    if (xb.state != CONN_UP)
        goto out;
    if (xb.features & XENSTORE_SERVER_FEATURE_ERROR) {
        uint32_t err = __atomic_load_n(&xb.intf->error, __ATOMIC_ACQUIRE);
        if (err != XENSTORE_ERROR_NONE) {
            char why[48];
            snprintf(why, sizeof(why), "the daemon reports error %u", (unsigned)err);
            connection_lost(why);
            goto out;
        }
    }
    kick |= flush_txq();
    for (;;) {
        size_t want;
        bool was_full;
        void *dst = xs_reader_want(&xb.rd, &want);
        if (dst == NULL)
            break;
        size_t n = xenbus_ring_read(&xb.ring, dst, want, &was_full);
        kick |= was_full && n > 0;
        if (n == 0)
            break;
        int rc = xs_reader_got(&xb.rd, n);
        if (rc < 0) {
            connection_lost("oversized message from the daemon");
            goto out;
        }
        if (rc == 1) {
            handle_message(&xb.rd.hdr, xb.rd.body);
            xs_reader_next(&xb.rd);
        }
    }
    if (xb.ring.broken) {
        connection_lost("impossible ring index from the daemon");
        goto out;
    }
    /* Replies may have made room for more of txq, and for watches still to re-register. */
    kick |= flush_txq();
    if (xb_watch_resend())
        kick |= flush_txq();
    if (kick)
        notify();
out:
    xb.in_poll = false;
}

static void on_event(evtchn_port_t port, void *arg)
{
    (void)port;
    (void)arg;
    poll_ring();
}

/* ---- Requests ------------------------------------------------------------------------ */

/* Wait for the daemon: until the next wake-up, at most RECHECK_NS of Xen's clock (or until
 * deadline_ns; clock_xen_timeout: a reading that ran ahead adds at most 2 s), then look at
 * the ring ourselves, whatever woke us: an event consumed by a nested wait, or that never
 * came, costs at most that, and the bound does not depend on the monotonic clock, which under the nested rig now and then stands still for a second
 * or more (a deadline on it would hold a lost event's wait up as long). The monotonic
 * deadline is used as a Xen time: that clock is never behind Xen's, so it has passed by
 * then. */
void xb_wait_daemon(uint64_t deadline_ns)
{
    uint64_t dl = clock_xen_timeout(clock_xen_ns(), RECHECK_NS);
    wait_for_wakeup(deadline_ns < dl ? deadline_ns : dl);
    poll_ring();
}

/* Wait until the connection can take a request. */
static int wait_connected(void)
{
    for (;;) {
        switch (xb.state) {
        case CONN_UP:
            return 0;
        case CONN_DOWN:
            return -ENODEV;
        case CONN_DEAD:
            return -EIO;
        case CONN_RECONNECTING:
            poll_ring();
            if (xb.state == CONN_RECONNECTING)
                xb_wait_daemon(WAIT_FOREVER);
            break;
        }
    }
}

static int encode(const struct xb_req *rq, uint32_t req_id)
{
    struct xs_builder b;
    xs_build_begin(&b, scratch, sizeof(scratch), rq->type, req_id, rq->tx.id);
    for (unsigned i = 0; i < rq->nstr; i++)
        xs_build_str(&b, rq->strs[i]);
    if (rq->raw != NULL)
        xs_build_raw(&b, rq->raw, rq->raw_len);
    return xs_build_end(&b);
}

/* Copy the n encoded bytes in scratch into txq (the caller checked the room). */
static void put_txq(size_t n)
{
    size_t tail = (xb.txq_head + xb.txq_len) % TXQ_SIZE;
    size_t first = TXQ_SIZE - tail < n ? TXQ_SIZE - tail : n;
    memcpy(txq + tail, scratch, first);
    memcpy(txq, scratch + first, n - first);
    xb.txq_len += n;
    xb_stats.requests++;
}

/* Encode rq and put it in txq whole, waiting for room (for the largest message, since
 * scratch must not be held across a wait). Returns the request id it got. */
static int enqueue(const struct xb_req *rq, uint32_t *req_id)
{
    int rc;
    for (;;) {
        if ((rc = wait_connected()) != 0)
            return rc;
        if (rq->tx.id != 0 && rq->tx.gen != xb.gen)
            return -EAGAIN; /* the transaction died with an earlier connection */
        if (TXQ_SIZE - xb.txq_len >= XS_MSG_MAX)
            break;
        poll_ring();
        if (TXQ_SIZE - xb.txq_len < XS_MSG_MAX)
            xb_wait_daemon(WAIT_FOREVER);
    }
    /* Nothing below waits, so nobody else can use scratch or txq until we are done. */
    *req_id = xb.next_req_id++;
    int n = encode(rq, *req_id);
    if (n < 0)
        return n;
    put_txq((size_t)n);
    return 0;
}

static void report_slow(const struct pending *p, uint64_t waited_ns)
{
    struct xenstore_domain_interface *i = xb.intf;
    printf("xenbus: %s request %u unanswered for %lu s (req %u/%u rsp %u/%u, queued %u, "
           "state %d)\n",
           xs_type_name(p->type), (unsigned)p->req_id,
           (unsigned long)(waited_ns / NSEC_PER_SEC), (unsigned)i->req_cons,
           (unsigned)i->req_prod, (unsigned)i->rsp_cons, (unsigned)i->rsp_prod,
           (unsigned)xb.txq_len, (int)xb.state);
}

int xb_request(const struct xb_req *rq, void *reply, size_t cap, size_t *reply_len)
{
    struct pending p = { .type = rq->type, .buf = reply, .cap = cap };
    int rc = enqueue(rq, &p.req_id);
    if (rc != 0)
        return rc;
    p.next = xb.pending;
    xb.pending = &p;
    poll_ring();
    /* The clock is read only once a wake-up has not brought the reply (most replies come
     * with the first): guests with an emulated TSC pay a trap per reading. */
    uint64_t start = 0, next_report = 0;
    while (!p.done) {
        xb_wait_daemon(WAIT_FOREVER);
        if (p.done)
            break;
        uint64_t now = clock_monotonic_ns();
        if (next_report == 0) {
            start = now;
            next_report = now + SLOW_REPORT_NS;
        } else if (now >= next_report) {
            /* Not an error (the daemon may be busy), but worth a line when it lasts. */
            next_report += SLOW_REPORT_NS;
            report_slow(&p, now - start);
        }
    }
    for (struct pending **pp = &xb.pending; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == &p) {
            *pp = p.next;
            break;
        }
    }
    if (reply_len != NULL)
        *reply_len = p.len;
    return p.err;
}

int xb_send_detached(const struct xb_req *rq)
{
    if (xb.state != CONN_UP)
        return -EIO;
    if (xb.n_detached == DETACHED_MAX)
        return -EAGAIN;
    uint32_t req_id = xb.next_req_id++;
    int n = encode(rq, req_id);
    if (n < 0)
        return n;
    if (TXQ_SIZE - xb.txq_len < (size_t)n)
        return -EAGAIN; /* the caller tries again once txq has drained */
    put_txq((size_t)n);
    xb.detached[xb.n_detached++] = req_id;
    return 0;
}

/* ---- Setup --------------------------------------------------------------------------- */

int xenbus_init(void)
{
    uint64_t pfn = 0, port = 0;

    if (xb.state != CONN_DOWN)
        return 0;
    if (xen_hvm_get_param(HVM_PARAM_STORE_PFN, &pfn) != 0 ||
        xen_hvm_get_param(HVM_PARAM_STORE_EVTCHN, &port) != 0 || pfn == 0)
        return -ENODEV;
    /* boot.S identity-maps the low 4 GiB, where Xen puts its special pages. */
    if (pfn >= (4ull << 30) >> PAGE_SHIFT_4K || port > UINT32_MAX)
        return -ENODEV;

    xb.intf = (struct xenstore_domain_interface *)(uintptr_t)(pfn << PAGE_SHIFT_4K);
    xb.port = (evtchn_port_t)port;
    xb.features = __atomic_load_n(&xb.intf->server_features, __ATOMIC_ACQUIRE);
    xb.next_req_id = 1;
    xs_reader_init(&xb.rd, rx_body, sizeof(rx_body));
    xenbus_ring_init(&xb.ring, xb.intf);
    xb_watch_init();

    /* Someone (dom0less setup, a previous kernel) may have started a reconnection: the
     * guest must then wait for the daemon to finish it before touching the ring. */
    bool reconnecting = (xb.features & XENSTORE_SERVER_FEATURE_RECONNECTION) &&
                        __atomic_load_n(&xb.intf->connection, __ATOMIC_ACQUIRE) ==
                            XENSTORE_RECONNECT;
    xb.state = reconnecting ? CONN_RECONNECTING : CONN_UP;

    int rc = evtchn_bind(xb.port, on_event, NULL);
    if (rc != 0) {
        printf("xenbus: cannot bind event channel %u: %d\n", (unsigned)xb.port, rc);
        xb.state = CONN_DOWN;
        return rc;
    }
    if (xb.state == CONN_UP && xb.ring.broken)
        connection_lost("impossible ring indexes at start");
    poll_ring();
    return 0;
}
