/*
 * vxenstored: connections. A connection is a Unix socket (a dom0 process, privileged) or an
 * introduced domain's ring. Requests are parsed from a private copy of the bytes (the ring's
 * bytes are copied once, by vxs_ring_read) and handled in order; replies and watch events
 * queue on the connection and leave once the commit they depend on is durable.
 *
 * Abuse limits (XSA-326 spirit): an unprivileged connection whose queued output exceeds
 * VXS_OUT_HIGH bytes is not read from until its peer consumes, and watch events beyond
 * VXS_OUT_MAX are dropped rather than queued, so a guest that never reads its ring cannot
 * make the daemon grow without bound.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "xenstore/vxs.h"
#include "xenstore/vxs_quota.h"
#include "xenstore/vxs_replay_done.h"
#include "xenstore/vxs_ring_partial.h"
#include "xenstore/vxs_uring.h"
#include "xenstore/vxs_xen.h"

#define VXS_OUT_HIGH (256u * 1024)
#define VXS_OUT_MAX (2560u * 1024)
/* A plain socket with batched drops drops at once past this many held bytes (vxs_conn.c:
 * drop_peeked): far below a client socket's send buffer (~200 KiB by default). */
#define VXS_DROP_BATCH_BYTES (16u * 1024)

static size_t queued(const struct vxs_conn *c)
{
    size_t n = 0;
    for (const struct vxs_out *o = c->out_head; o; o = o->next)
        n += o->len;
    return n;
}

void vxs_send(struct vxs_conn *c, const void *msg, size_t len, uint64_t need)
{
    if (c->dead)
        return;
    if (!c->priv && c->out_bytes + len > VXS_OUT_MAX) {
        /* A reply must go (or the client waits forever); an event may be lost, as with C
         * xenstored's memory quota. */
        const struct xsd_sockmsg *h = msg;
        if (h->type == XS_WATCH_EVENT)
            return;
    }
    vxs_trace(c, "OUT", msg, (const uint8_t *)msg + sizeof(struct xsd_sockmsg));
    struct vxs_out *o = malloc(sizeof *o + len);
    if (!o) {
        c->dead = true;
        return;
    }
    o->next = NULL;
    o->need = need;
    o->serial = ++c->out_serial;
    o->expires_ms = 0;
    o->gen = 0;
    o->req_pos = c->req_pos;
    o->cause = NULL;
    o->len = len;
    memcpy(o->data, msg, len);
    if (c->out_tail)
        c->out_tail->next = o;
    else
        c->out_head = o;
    c->out_tail = o;
    c->out_bytes += len;
    if (((const struct xsd_sockmsg *)msg)->type != XS_WATCH_EVENT)
        vxs_quota_outstanding(c, 1);
    else if (!c->priv && c->dom && vxs_quota_watch_event_ms())
        o->expires_ms = vxs_now_ms() + vxs_quota_watch_event_ms();
    if (!c->priv && c->out_bytes > VXS_OUT_HIGH)
        c->stalled = true;
}

/* A reply leaves the queue: one request less outstanding. */
static void taken(struct vxs_conn *c, const struct vxs_out *o)
{
    if (vxs_cause_taken(o) && ((const struct xsd_sockmsg *)o->data)->type != XS_WATCH_EVENT)
        vxs_quota_outstanding(c, -1);
}

static void pop_out(struct vxs_conn *c)
{
    struct vxs_out *o = c->out_head;
    taken(c, o);
    c->out_off = 0;
    c->out_head = o->next;
    if (!c->out_head)
        c->out_tail = NULL;
    c->out_bytes -= o->len;
    free(o);
}

/* A plain socket's request bytes are read with MSG_PEEK and taken from the socket only after
 * the round's replies to them were sent. Why: the bytes a client sent are charged to its
 * socket until we consume them, and consuming them wakes that client (its socket became
 * writable) although it sleeps waiting for the reply, not for room: one more wake-up and
 * sleep of the client per request, paid on both cores (perf: a third of the daemon's time in
 * writes from 10 clients). Taken after the reply, the client is awake already and no wake-up
 * is needed. All peeked bytes go at the end of the round, answered or not (a reply that waits
 * for its sync is still queued by us): so a socket never polls readable for bytes we hold,
 * and the next peek starts at a request's boundary or the reader's partial state.
 * Not always: when the reply's wake-up puts the client on our CPU, it runs at once (our send
 * returns into a preemption), reads the reply, sends its next request and sleeps again before
 * we drop - and the drop wakes it for nothing. Measured with 10 writers on two busy CPUs
 * (perf, sched_wakeup by call chain, 2 s, ~80k writes): 66k wake-ups from send(), 26k from
 * these recv()s. So the daemon's loop (vxs.drop_batch) has plain sockets keep their answered
 * bytes and drop them vxs.drop_batch requests at a time: one recv() and at most one such
 * wake-up per batch instead of per request. Held bytes would keep a socket polling readable,
 * so those sockets are polled edge-triggered (epoll, as the kept sockets of vxs_sock.c) and
 * peeked at an advancing SO_PEEK_OFF. Bounds: a batch drops once all its replies have left,
 * at VXS_DROP_BATCH_BYTES, and at once while a request is incomplete (its sender may be
 * waiting for room in its socket); and before the loop sleeps, all held bytes go
 * (vxs_conn_drop_batched), so no client ever waits on bytes we hold while we wait. Measured
 * (same test, per write, A/B): the daemon's syscalls 3.4 -> 2.6-2.7, the tasks it wakes 1.6
 * -> 1.03, the clients' context switches 1.6 -> 1.03-1.25 (docs/ARCHITECTURE.md). */
static void drop_peeked(struct vxs_conn *c)
{
    uint8_t scratch[8192];
    while (c->peeked > 0) {
        size_t want = c->peeked < sizeof scratch ? c->peeked : sizeof scratch;
        ssize_t k = recv(c->fd, scratch, want, MSG_DONTWAIT);
        if (k <= 0) {
            if (k < 0 && errno == EINTR)
                continue;
            c->dead = true; /* the bytes we peeked are gone: the stream is lost */
            c->peeked = 0;
            return;
        }
        c->peeked -= (size_t)k;
    }
}

static void input_socket(struct vxs_conn *c);

static void flush_socket(struct vxs_conn *c)
{
    while (!c->dead && c->out_head && c->out_head->need <= vxs.durable_upto) {
        struct vxs_out *o = c->out_head;
        vxs_sock_sending(c, o->serial, true); /* journalled before it goes (vxs_sock.c) */
        ssize_t n = send(c->fd, o->data + c->out_off, o->len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 || c->out_off + (size_t)n < o->len)
            vxs_sock_sending(c, o->serial, false);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            c->dead = true;
            return;
        }
        c->out_off += (size_t)n;
        if (c->out_off < o->len)
            break;
        pop_out(c);
    }
    /* The requests whose replies have all left are discarded from the socket now (with the
     * fd store; vxs_sock.c). */
    vxs_sock_release(c, c->out_head ? c->out_head->serial : c->out_serial + 1);
    if (!c->batched || (!c->out_head && (c->out_serial - c->dropped_serial >= vxs.drop_batch ||
                                         c->peeked >= VXS_DROP_BATCH_BYTES || c->rd.have))) {
        drop_peeked(c);
        c->dropped_serial = c->out_serial;
    }
    /* The peer shut its side when it sent its last bytes (one edge for both): once our
     * replies have left, read on to see the end, which no other edge will announce. */
    if (c->batched && c->peer_shut && !c->out_head && !c->dead)
        input_socket(c);
}

/* The loop's epoll set (vxs_main.c waits on it): the batched plain sockets (edge-triggered,
 * data = the connection's id) and the loop's other fds (level-triggered, data = VXS_EV_FD |
 * a bit of enum vxs_loop_fd, vxs_conn_epoll_add). */
static int epfd = -1;

int vxs_conn_epoll_fd(void)
{
    if (epfd < 0)
        epfd = epoll_create1(EPOLL_CLOEXEC);
    return epfd;
}

int vxs_conn_epoll_add(int fd, unsigned bit)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = VXS_EV_FD | bit};
    if (vxs_conn_epoll_fd() < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    return 0;
}

/* A new plain socket, with vxs.drop_batch: polled edge-triggered, peeked at SO_PEEK_OFF.
 * Left as before if either cannot be had. */
static void batch_drops(struct vxs_conn *c)
{
    int zero = 0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.u64 = c->id};
    if (vxs_conn_epoll_fd() < 0 ||
        setsockopt(c->fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof zero) < 0)
        return;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) == 0)
        c->batched = true;
}

unsigned vxs_conn_handle_events(const struct epoll_event *ev, int n, unsigned *fds)
{
    unsigned served = 0;
    for (int i = 0; i < n; i++) {
        if (ev[i].data.u64 & VXS_EV_FD) {
            if (fds)
                *fds |= (unsigned)ev[i].data.u64;
            continue;
        }
        served++;
        for (struct vxs_conn *c = vxs.conns; c; c = c->next)
            if (c->id == ev[i].data.u64 && c->batched) {
                if (ev[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                    c->peer_shut = true;
                vxs_conn_input(c);
                break;
            }
    }
    return served;
}

unsigned vxs_conn_events(unsigned *fds)
{
    struct epoll_event ev[64];
    int n = epfd < 0 ? 0 : epoll_wait(epfd, ev, 64, 0);
    return vxs_conn_handle_events(ev, n, fds);
}

bool vxs_conn_holding(void)
{
    for (const struct vxs_conn *c = vxs.conns; c; c = c->next)
        if (!c->dead && ((c->batched && c->peeked) || vxs_sock_holds_done(c)))
            return true;
    return false;
}

void vxs_conn_drop_batched(void)
{
    for (struct vxs_conn *c = vxs.conns; c; c = c->next)
        if (c->batched && c->peeked && !c->dead) {
            drop_peeked(c);
            c->dropped_serial = c->out_serial;
        } else if (c->rx && !c->dead) {
            vxs_sock_discard_done(c); /* a kept socket's answered requests (vxs_sock.c) */
        }
}

static void input_ring(struct vxs_conn *c);

/* The bytes of the unfinished request c's reader holds (header first): its head. */
static size_t head_bytes(const struct vxs_conn *c, uint8_t *out)
{
    size_t hdr = sizeof c->rd.hdr, n = c->rd.have;
    memcpy(out, &c->rd.hdr, n < hdr ? n : hdr);
    if (n > hdr)
        memcpy(out + hdr, c->body, n - hdr);
    return n;
}

/* A request larger than req[] has its head consumed while it arrives (vxs_ring_release's
 * `partial`): a daemon killed then would find req[] starting in its middle. So that head
 * (from the request's start to the read index) is first saved in the connection table, and
 * consumed once that commit is durable (the round's group flush, as for a reply). Only such
 * requests pay a store write. */
static bool head_durable(struct vxs_conn *c)
{
    struct vxs_ring *r = &c->dom->ring;
    if (!vxs_ring_head_due(r))
        return false;
    if (!c->head_saved || c->head_end != r->req_read) {
        static uint8_t head[sizeof(struct xsd_sockmsg) + XS_READER_BODY_SIZE];
        size_t n = head_bytes(c, head);
        c->head_saved = true;
        c->head_end = r->req_read;
        c->head_need = vxs_persist_head(c->domid, r->req_read - (XENSTORE_RING_IDX)n, head, n);
    }
    return c->head_need <= vxs.durable_upto;
}

/* Rounds of "answer, consume, read what came meanwhile" one flush may do for a ring. */
#define VXS_RING_PASSES 64

/* Write what may leave into rsp[] and consume the requests it answers. A guest like Linux
 * notifies us of a request only if req[] looked empty to it (req_prod <= req_cons before its
 * write): while we hold answered-but-unconsumed requests it does not. So we look at req[]
 * ourselves, handle what came, answer that, and so on; past VXS_RING_PASSES rounds the rest
 * waits for the next poll round (vxs.ring_backlog makes it come at once). */
static void flush_ring(struct vxs_conn *c)
{
    struct vxs_domain *d = c->dom;
    bool notify = false;
    for (int pass = 0;; pass++) {
        bool wrote = false;
        while (!c->dead && c->out_head && c->out_head->need <= vxs.durable_upto) {
            struct vxs_out *o = c->out_head;
            /* What fits goes, even part of a message: a guest like Linux notifies us after
             * reading only if rsp[] was full, so waiting for room for a whole message could
             * wait forever. One that does not fit whole is recorded first, so that a daemon
             * killed in its middle finishes it after the restart (vxs_ring_partial.c). */
            if (c->out_off == 0 && !vxs_ring_partial_may_start(c, o))
                break;
            size_t n = vxs_ring_write(&d->ring, o->data + c->out_off, o->len - c->out_off);
            if (n == 0)
                break;
            wrote = true;
            c->out_off += n;
            if (c->out_off < o->len)
                break;
            pop_out(c);
        }
        /* Requests whose replies are now in rsp[] are consumed (vxs_ring.h): only now, so
         * that a restarted daemon finds the unanswered ones still in req[]. */
        uint64_t left_below = c->out_head ? c->out_head->serial : c->out_serial + 1;
        bool consumed = vxs_ring_release(&d->ring, left_below, false);
        if (c->rd.have > 0 && head_durable(c))
            consumed |= vxs_ring_release(&d->ring, left_below, true);
        if (consumed)
            vxs_ring_wake_consumed(c); /* a request written meanwhile may not notify */
        notify |= wrote || consumed;
        if (c->dead || c->stalled || d->ring.broken || vxs_ring_avail(&d->ring) == 0)
            break;
        if (pass == VXS_RING_PASSES) {
            vxs.ring_backlog = true;
            break;
        }
        XENSTORE_RING_IDX before = d->ring.req_read;
        input_ring(c);
        if (d->ring.req_read == before)
            break; /* not read now (a quota): its own wake-up brings us back */
    }
    if (notify)
        vxs_xen_notify(d->local_port);
}

void vxs_conn_flush(struct vxs_conn *c)
{
    if (c->dom) {
        flush_ring(c);
        vxs_persist_marks_flushed(c); /* what the rings now have (vxs_persist_marks.c) */
    }
    else if (c->fd >= 0) {
        flush_socket(c);
        if (c->in_table)
            vxs_persist_marks_flushed(c); /* as a ring's */
    }
    if (c->stalled && c->out_bytes <= VXS_OUT_HIGH / 2) {
        c->stalled = false;
        if (c->dom)
            vxs_conn_input(c); /* requests that waited in its ring */
    }
}

/* The first message that may leave of each batched plain socket, for all of them with one
 * system call (vxs_uring.c: the clients these replies wake preempt the daemon once, after
 * all of them, not after each); the rest, and the drops, go as before (flush_socket). Kept
 * sockets are left out: their journal is written before each send (vxs_sock_sending). */
static void send_heads(void)
{
    struct vxs_uring_send v[VXS_URING_BATCH];
    struct vxs_conn *of[VXS_URING_BATCH];
    struct vxs_conn *c = vxs.conns;
    while (c) {
        size_t n = 0;
        for (; c && n < VXS_URING_BATCH; c = c->next)
            if (c->batched && !c->dead && c->out_head && !c->out_off &&
                c->out_head->need <= vxs.durable_upto) {
                v[n] = (struct vxs_uring_send){c->fd, c->out_head->data, c->out_head->len, 0};
                of[n++] = c;
            }
        if (n < 2) /* one: as cheap with send() */
            return;
        if (vxs_uring_send(v, n) == 0)
            return;
        for (size_t i = 0; i < n; i++) {
            struct vxs_conn *d = of[i];
            if (v[i].res == (long)d->out_head->len)
                pop_out(d);
            else if (v[i].res > 0)
                d->out_off = (size_t)v[i].res; /* the rest when there is room */
            else if (v[i].res < 0 && v[i].res != -EAGAIN && v[i].res != -EINTR)
                d->dead = true;
        }
    }
}

void vxs_conn_flush_all(void)
{
    send_heads();
    for (struct vxs_conn *c = vxs.conns, *next; c; c = next) {
        next = c->next;
        if (!c->dead)
            vxs_conn_flush(c);
        if (c->dead)
            vxs_conn_free(c);
    }
}

bool vxs_conn_wants_pollin(const struct vxs_conn *c)
{
    return !c->stalled && vxs_sock_wants_pollin(c) && !c->batched;
}

bool vxs_conn_wants_pollout(const struct vxs_conn *c)
{
    return c->fd >= 0 && c->out_head && c->out_head->need <= vxs.durable_upto;
}

/* Feed bytes to the request reader and handle complete requests. false: protocol error.
 * A ring's bytes were read from ring index `pos` on: each request handled is held there
 * until its reply has left (vxs_ring_hold). */
static bool feed(struct vxs_conn *c, const uint8_t *buf, size_t n, uint64_t pos)
{
    size_t off = 0;
    while (off < n && !c->dead) {
        size_t used;
        int rc = xs_reader_feed(&c->rd, buf + off, n - off, &used);
        off += used;
        if (rc < 0)
            return false;
        if (rc == 1) {
            struct xsd_sockmsg hdr = c->rd.hdr;
            uint64_t end = pos + off, start = end - (sizeof hdr + hdr.len);
            c->req_pos = (XENSTORE_RING_IDX)start;
            /* Requests a new domain wrote before its INTRODUCE are not replays. */
            c->replay = c->dom ? c->restored && vxs_ring_replayed(&c->dom->ring, c->req_pos)
                               : vxs_sock_replayed(c, start);
            /* (A request committed before a restart is answered, not applied again.) */
            if (!vxs_replay_done_answer(c, &hdr)) {
                vxs_trace(c, "IN ", &hdr, c->body);
                vxs_dispatch(c, &hdr, c->body);
            }
            c->replay = false;
            xs_reader_next(&c->rd);
            if (!c->dom)
                vxs_sock_hold(c, end, c->out_serial); /* kept until answered (vxs_sock.c) */
            if (c->dom) {
                vxs_ring_hold(&c->dom->ring, (XENSTORE_RING_IDX)end, c->out_serial);
                /* A quota reached (outstanding replies, memory, write rate): as C, which
                 * checks before each request, the rest stays unread in req[]. */
                if (off < n && !vxs_quota_may_read(c)) {
                    c->dom->ring.req_read = (XENSTORE_RING_IDX)end;
                    break;
                }
            }
        }
    }
    return true;
}

void vxs_conn_restore_head(struct vxs_conn *c)
{
    struct vxs_ring *r = &c->dom->ring;
    uint32_t start;
    void *bytes;
    size_t len;
    if (r->broken || !vxs_persist_head_get(c->domid, &start, &bytes, &len))
        return;
    /* The head saved last may reach beyond req_cons (killed before consuming it): what req[]
     * still has is read from there. */
    XENSTORE_RING_IDX consumed = r->req_cons - start;
    if (consumed == 0 || consumed > len) {
        /* Stale: the request was answered since (req_cons went past it), or nothing of it
         * was consumed (req[] has it all). */
        free(bytes);
        vxs_persist_head(c->domid, 0, NULL, 0);
        return;
    }
    /* req[] starts inside that request: its head first, then req[] completes it. */
    vxs_ring_replay_head(r, start);
    c->head_saved = true;
    c->head_end = r->req_cons;
    c->head_need = 0;
    if (!feed(c, bytes, consumed, start)) {
        vxs_log("domain %u: saved request head unreadable, ignored", c->domid);
        xs_reader_init(&c->rd, c->body, sizeof c->body);
    }
    free(bytes);
}

static void input_socket(struct vxs_conn *c)
{
    if (c->batched) {
        /* Told of new bytes once (edge-triggered): peek them all, from where the last peek
         * ended (SO_PEEK_OFF; a drop moves it back by what it took). */
        while (!c->dead) {
            uint8_t buf[8192];
            ssize_t n = recv(c->fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                c->dead = true;
                return;
            }
            if (n < 0)
                return;
            c->peeked += (size_t)n;
            if (!feed(c, buf, (size_t)n, 0))
                c->dead = true; /* oversized payload: the stream cannot continue (as C) */
            if (n < (ssize_t)sizeof buf)
                return;
        }
        return;
    }
    if (!c->rx) {
        /* One read per round (poll is level-triggered), peeked: see drop_peeked. */
        uint8_t buf[8192];
        drop_peeked(c); /* read again before a flush: what the last read peeked is handled */
        ssize_t n = c->dead ? -1 : recv(c->fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
        if (c->dead || n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            c->dead = true;
            return;
        }
        if (n > 0) {
            c->peeked = (size_t)n;
            if (!feed(c, buf, (size_t)n, 0))
                c->dead = true; /* oversized payload: the stream cannot continue (as C) */
        }
        return;
    }
    /* A kept socket is told of new bytes once (edge-triggered, vxs_sock.c): read them all. */
    while (!c->dead) {
        uint8_t buf[8192];
        uint64_t pos;
        ssize_t n = vxs_sock_recv(c, buf, sizeof buf, &pos);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            c->dead = true;
            return;
        }
        if (n > 0 && !feed(c, buf, (size_t)n, pos))
            c->dead = true; /* oversized payload: the stream cannot continue (as C does) */
        if (n < (ssize_t)sizeof buf)
            return;
    }
}

static void input_ring(struct vxs_conn *c)
{
    struct vxs_domain *d = c->dom;
    if (vxs_ring_reconnect_requested(&d->ring)) {
        /* The guest reconnects (kexec, a new kernel): forget everything about it. */
        vxs_conn_reset(c);
        vxs_domain_ring_reconnected(d); /* its watches and saved head leave the table */
        vxs_ring_reset(&d->ring);
        vxs_xen_notify(d->local_port);
        return;
    }
    /* Requests are read (and consumed only once answered, see flush_ring), none while our
     * output is stalled: the guest's writer then waits for room, its backpressure. */
    while (!c->dead && !c->stalled && !d->ring.broken && vxs_quota_may_read(c)) {
        uint8_t buf[XENSTORE_RING_SIZE];
        XENSTORE_RING_IDX pos = d->ring.req_read;
        size_t n = vxs_ring_read(&d->ring, buf, sizeof buf);
        if (n == 0)
            break;
        if (!feed(c, buf, n, pos)) {
            vxs_ring_fail(&d->ring, XENSTORE_ERROR_PROTO);
            vxs_log("domain %u: protocol error, connection ignored", c->domid);
            vxs_conn_reset(c);
            vxs_xen_notify(d->local_port);
        }
    }
}

void vxs_conn_input(struct vxs_conn *c)
{
    if (c->dead)
        return;
    if (c->dom)
        input_ring(c);
    else if (c->fd >= 0 && !c->stalled)
        input_socket(c);
}

static struct vxs_conn *conn_alloc(void)
{
    struct vxs_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = -1;
    c->id = ++vxs.next_conn_id;
    c->next_txid = 1;
    xs_reader_init(&c->rd, c->body, sizeof c->body);
    c->next = vxs.conns;
    vxs.conns = c;
    return c;
}

struct vxs_conn *vxs_conn_new_socket_named(int fd, const char *name)
{
    struct vxs_conn *c = conn_alloc();
    if (!c) {
        close(fd);
        return NULL;
    }
    c->fd = fd;
    c->domid = 0;
    c->priv = true;
    if (name)
        snprintf(c->name, sizeof c->name, "%s", name);
    return c;
}

struct vxs_conn *vxs_conn_new_socket(int fd)
{
    struct vxs_conn *c = vxs_conn_new_socket_named(fd, NULL);
    if (c && vxs.drop_batch && !vxs_fdstore_active())
        batch_drops(c); /* (kept sockets have their own discards: vxs_sock.c) */
    if (c && vxs_fdstore_active()) {
        /* The keeper holds it too, so that it outlives us (vxs_sock.c). */
        vxs_sock_name(c);
        if (vxs_fdstore_put(fd, c->name, true) < 0)
            c->name[0] = 0;
        vxs_sock_rx_init(c, false);
    }
    return c;
}

struct vxs_conn *vxs_conn_new_ring(struct vxs_domain *d, uint32_t domid)
{
    struct vxs_conn *c = conn_alloc();
    if (!c)
        return NULL;
    c->dom = d;
    c->domid = domid;
    c->priv = domid == 0;
    return c;
}

void vxs_conn_reset(struct vxs_conn *c)
{
    vxs_conn_cleanup(c);
    while (c->out_head)
        pop_out(c);
    xs_reader_init(&c->rd, c->body, sizeof c->body);
    c->stalled = false;
    c->head_saved = false;
}

void vxs_conn_free(struct vxs_conn *c)
{
    for (struct vxs_conn **pc = &vxs.conns; *pc; pc = &(*pc)->next)
        if (*pc == c) {
            *pc = c->next;
            break;
        }
    vxs_conn_reset(c);
    if (c->dom)
        c->dom->conn = NULL;
    vxs_sock_rx_free(c);
    if (!c->dom)
        vxs_persist_sock_gone(c); /* its watches leave the table */
    if (c->fd >= 0 && c->name[0]) {
        /* The keeper's copy keeps the socket open: the client sees the end now. */
        shutdown(c->fd, SHUT_RDWR);
        vxs_fdstore_remove(c->name);
    }
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

struct vxs_out *vxs_conn_take(struct vxs_conn *c)
{
    struct vxs_out *o = c->out_head;
    if (!o || o->need > vxs.durable_upto || c->out_off)
        return NULL;
    c->out_head = o->next;
    if (!c->out_head)
        c->out_tail = NULL;
    c->out_bytes -= o->len;
    o->next = NULL;
    taken(c, o);
    if (c->stalled && c->out_bytes <= VXS_OUT_HIGH / 2)
        c->stalled = false;
    return o;
}

/* Keep the queue accounting honest in debug builds. */
size_t vxs_conn_queued(const struct vxs_conn *c)
{
    return queued(c);
}

/* Watch events an unprivileged domain left unread for -w watch-event= seconds are dropped,
 * as C xenstored drops them (the domain may not make us hold them forever). Only whole
 * messages go: not one the ring has taken part of. */
int vxs_conn_event_timeout(void)
{
    uint64_t first = 0, now = vxs_now_ms();
    for (const struct vxs_conn *c = vxs.conns; c; c = c->next)
        for (const struct vxs_out *o = c->out_head; o; o = o->next)
            /* (not one partly in the ring: it cannot go, and would keep us awake) */
            if (o->expires_ms && !(o == c->out_head && c->out_off) &&
                (!first || o->expires_ms < first))
                first = o->expires_ms;
    if (!first)
        return -1;
    return first <= now ? 0 : first - now > 1000000000u ? 1000000000 : (int)(first - now);
}

void vxs_conn_expire_events(void)
{
    uint64_t now = vxs_now_ms();
    for (struct vxs_conn *c = vxs.conns; c; c = c->next) {
        struct vxs_out **po = &c->out_head, *prev = NULL;
        while (*po) {
            struct vxs_out *o = *po;
            if (!o->expires_ms || o->expires_ms > now || (o == c->out_head && c->out_off)) {
                prev = o;
                po = &o->next;
                continue;
            }
            *po = o->next;
            if (c->out_tail == o)
                c->out_tail = prev;
            c->out_bytes -= o->len;
            vxs_cause_taken(o);
            free(o);
        }
    }
}
