/*
 * vchan protocol core (see vchan_core.h). Pure: no I/O, no globals.
 *
 * Memory ordering follows the protocol's (Xen's io/libxenvchan.h users): a writer copies the
 * data, then a release barrier, then publishes prod; a reader loads prod, an acquire barrier,
 * copies, then a release barrier (earlier loads before later stores) before publishing cons
 * (the peer may overwrite the bytes as soon as it sees cons move). Notification requests are
 * Dekker-style: the requester sets the bit, full barrier, re-reads the index; the other side
 * publishes the index, full barrier, reads (and clears) the bit.
 */
#include "vchan/vchan_core.h"

#include <errno.h>
#include <string.h>

#define mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

/* ---- layout ------------------------------------------------------------------------- */

unsigned vchan_ring_pages(unsigned order)
{
    if (order < 12 || order > VCHAN_MAX_ORDER)
        return 0;
    return 1u << (order - 12);
}

unsigned vchan_inpage_offset(unsigned order)
{
    if (order == 10)
        return 1024;
    if (order == 11)
        return 2048;
    return 0;
}

int vchan_check_orders(unsigned l, unsigned r)
{
    if (l < VCHAN_MIN_ORDER || l > VCHAN_MAX_ORDER || r < VCHAN_MIN_ORDER || r > VCHAN_MAX_ORDER)
        return -EINVAL;
    if (l < 12 && r < 12 && l == r)
        return -EINVAL;     /* both rings at the same offset of the control page */
    unsigned limit = VCHAN_PAGE_SIZE;
    if (l == 10 || r == 10)
        limit = 1024;
    else if (l == 11 || r == 11)
        limit = 2048;
    unsigned grants = vchan_ring_pages(l) + vchan_ring_pages(r);
    if (VCHAN_GRANTS_OFFSET + 4u * grants > limit)
        return -EINVAL;     /* grants[] would run into the in-page ring */
    return 0;
}

static int min_order(size_t size, unsigned *order)
{
    unsigned o = 12;
    while (o <= VCHAN_MAX_ORDER && ((size_t)1 << o) < size)
        o++;
    if (o > VCHAN_MAX_ORDER)
        return -EINVAL;
    *order = o;
    return 0;
}

int vchan_select_orders(size_t left_min, size_t right_min, unsigned *lo, unsigned *ro)
{
    int rc = 0;
    if (left_min <= 1024 && right_min <= 2048) {
        *lo = 10;
        *ro = 11;
    } else if (left_min <= 2048 && right_min <= 1024) {
        *lo = 11;
        *ro = 10;
    } else if (left_min <= 2048) {
        *lo = 11;
        rc = min_order(right_min, ro);
    } else if (right_min <= 2048) {
        *ro = 11;
        rc = min_order(left_min, lo);
    } else {
        rc = min_order(left_min, lo);
        if (rc == 0)
            rc = min_order(right_min, ro);
    }
    if (rc == 0)
        rc = vchan_check_orders(*lo, *ro);
    return rc;
}

static volatile uint32_t *grant_slot(volatile struct vchan_interface *ctrl, unsigned i)
{
    return (volatile uint32_t *)((volatile uint8_t *)ctrl + VCHAN_GRANTS_OFFSET + 4u * i);
}

void vchan_ctrl_set_grant(volatile struct vchan_interface *ctrl, unsigned i, uint32_t ref)
{
    if (VCHAN_GRANTS_OFFSET + 4u * i + 4u > VCHAN_PAGE_SIZE)
        return;
    *grant_slot(ctrl, i) = ref;
}

uint32_t vchan_ctrl_grant(const volatile struct vchan_interface *ctrl, unsigned i)
{
    if (VCHAN_GRANTS_OFFSET + 4u * i + 4u > VCHAN_PAGE_SIZE)
        return 0;
    return *grant_slot((volatile struct vchan_interface *)ctrl, i);
}

int vchan_client_orders(const volatile struct vchan_interface *ctrl, unsigned *lo, unsigned *ro)
{
    unsigned l = ctrl->left_order;
    unsigned r = ctrl->right_order;
    int rc = vchan_check_orders(l, r);
    if (rc)
        return rc;
    *lo = l;
    *ro = r;
    return 0;
}

/* ---- setup --------------------------------------------------------------------------- */

static int ring_init(struct vchan_ring *ring, volatile struct vchan_interface *ctrl,
                     volatile struct ring_shared *shr, unsigned order, void *mem)
{
    if (order < 12) {
        ring->buf = (uint8_t *)ctrl + vchan_inpage_offset(order);
    } else {
        if (!mem)
            return -EINVAL;
        ring->buf = mem;
    }
    ring->size = 1u << order;
    ring->shr = shr;
    ring->own = 0;
    return 0;
}

/* Nothing known about the peer's indexes yet: nothing readable, no space, so the first
 * operation loads them. Called whenever our own indexes are set. */
static void forget_peer(struct vchan_core *c)
{
    c->rd.peer = c->rd.own;
    c->wr.peer = c->wr.own - c->wr.size;
}

static int core_init(struct vchan_core *c, bool server, volatile struct vchan_interface *ctrl,
                     unsigned lo, unsigned ro, void *left_mem, void *right_mem,
                     vchan_notify_fn notify, void *ctx)
{
    memset(c, 0, sizeof(*c));
    if (!ctrl || !notify)
        return -EINVAL;
    int rc = vchan_check_orders(lo, ro);
    if (rc)
        return rc;
    struct vchan_ring left, right;
    if ((rc = ring_init(&left, ctrl, &ctrl->left, lo, left_mem)) != 0 ||
        (rc = ring_init(&right, ctrl, &ctrl->right, ro, right_mem)) != 0)
        return rc;
    c->ctrl = ctrl;
    c->server = server;
    c->left_order = lo;
    c->right_order = ro;
    c->notify = notify;
    c->notify_ctx = ctx;
    c->state = VCHAN_ST_OPEN;
    if (server) {
        c->rd = left;
        c->wr = right;
        c->own_live = &ctrl->srv_live;
        c->peer_live = &ctrl->cli_live;
        c->own_flags = &ctrl->srv_notify;
        c->peer_flags = &ctrl->cli_notify;
    } else {
        c->rd = right;
        c->wr = left;
        c->own_live = &ctrl->cli_live;
        c->peer_live = &ctrl->srv_live;
        c->own_flags = &ctrl->cli_notify;
        c->peer_flags = &ctrl->srv_notify;
    }
    forget_peer(c);
    return 0;
}

int vchan_server_init(struct vchan_core *c, volatile struct vchan_interface *ctrl,
                      unsigned lo, unsigned ro, void *left_mem, void *right_mem,
                      vchan_notify_fn notify, void *ctx)
{
    int rc = core_init(c, true, ctrl, lo, ro, left_mem, right_mem, notify, ctx);
    if (rc)
        return rc;
    memset((void *)ctrl, 0, VCHAN_PAGE_SIZE);
    ctrl->left_order = (uint16_t)lo;
    ctrl->right_order = (uint16_t)ro;
    ctrl->cli_live = VCHAN_LIVE_WAITING;
    ctrl->srv_live = VCHAN_LIVE_OPEN;
    ctrl->cli_notify = VCHAN_NOTIFY_WRITE;
    ctrl->srv_notify = 0;
    wmb();
    return 0;
}

int vchan_client_init(struct vchan_core *c, volatile struct vchan_interface *ctrl,
                      unsigned lo, unsigned ro, void *left_mem, void *right_mem,
                      vchan_notify_fn notify, void *ctx)
{
    int rc = core_init(c, false, ctrl, lo, ro, left_mem, right_mem, notify, ctx);
    if (rc)
        return rc;
    /* Our own indexes, copied once (the server zeroed them; it may already have written
     * into the right ring, whose prod we read on every step like any peer index). */
    c->rd.own = ctrl->right.cons;
    c->wr.own = ctrl->left.prod;
    forget_peer(c);
    return 0;
}

void vchan_client_connect(struct vchan_core *c)
{
    if (c->server || c->state != VCHAN_ST_OPEN)
        return;
    c->ctrl->srv_notify = VCHAN_NOTIFY_WRITE;
    wmb();
    c->ctrl->cli_live = VCHAN_LIVE_OPEN;
    mb();
    c->notify(c->notify_ctx);
}

/* ---- state --------------------------------------------------------------------------- */

static void set_broken(struct vchan_core *c)
{
    c->state = VCHAN_ST_BROKEN;
}

/* The peer's liveness, loaded once; an impossible value breaks the connection. */
static int peer_live(struct vchan_core *c)
{
    uint8_t v = *c->peer_live;
    if (v > VCHAN_LIVE_WAITING) {
        set_broken(c);
        return -EPROTO;
    }
    /* A server that wrote before the client connected got no write-notification request
     * then; kick the client once when it first shows up, so that a client that waits for
     * an event before looking at the ring (vchan-socket-proxy does) sees the data. */
    if (c->server && v == VCHAN_LIVE_OPEN && !c->peer_seen) {
        c->peer_seen = true;
        c->notify(c->notify_ctx);
    }
    /* The server never legitimately reports "waiting"; take it as open. */
    return v;
}

int vchan_peer_state(struct vchan_core *c)
{
    if (c->state == VCHAN_ST_BROKEN)
        return -EPROTO;
    return peer_live(c);
}

bool vchan_is_open(struct vchan_core *c)
{
    if (c->state != VCHAN_ST_OPEN)
        return false;
    int v = peer_live(c);
    return v == VCHAN_LIVE_OPEN || v == VCHAN_LIVE_WAITING;
}

/* Readable bytes: the peer's prod loaded once and checked against our private cons. */
static uint32_t raw_ready(struct vchan_core *c)
{
    uint32_t prod = c->rd.shr->prod;
    uint32_t ready = prod - c->rd.own;
    if (ready > c->rd.size) {
        set_broken(c);
        return 0;
    }
    c->rd.peer = prod;
    return ready;
}

/* Writable bytes: the peer's cons loaded once and checked against our private prod. */
static uint32_t raw_space(struct vchan_core *c)
{
    uint32_t cons = c->wr.shr->cons;
    uint32_t used = c->wr.own - cons;
    if (used > c->wr.size) {
        set_broken(c);
        return 0;
    }
    c->wr.peer = cons;
    return c->wr.size - used;
}

/* Free bytes known without loading the peer's cons: what its last checked value leaves. */
static uint32_t known_space(const struct vchan_core *c)
{
    return c->wr.size - (c->wr.own - c->wr.peer);
}

size_t vchan_data_ready(struct vchan_core *c)
{
    if (c->state == VCHAN_ST_BROKEN)
        return 0;
    uint32_t r = raw_ready(c);
    return c->state == VCHAN_ST_BROKEN ? 0 : r;
}

size_t vchan_buffer_space(struct vchan_core *c)
{
    if (c->state != VCHAN_ST_OPEN)
        return 0;
    uint32_t s = raw_space(c);
    return c->state == VCHAN_ST_BROKEN ? 0 : s;
}

size_t vchan_read_known(const struct vchan_core *c)
{
    return c->rd.peer - c->rd.own;
}

bool vchan_can_write(struct vchan_core *c, size_t want)
{
    if (c->state != VCHAN_ST_OPEN)
        return false;
    return known_space(c) >= want || vchan_buffer_space(c) >= want;
}

size_t vchan_write_pending(struct vchan_core *c)
{
    if (c->state == VCHAN_ST_BROKEN)
        return 0;
    uint32_t s = raw_space(c);
    return c->state == VCHAN_ST_BROKEN ? 0 : c->wr.size - s;
}

/* Ask the peer to notify us of `bit`, then a full barrier before re-reading any index. */
static void request_notify(struct vchan_core *c, uint8_t bit)
{
    if (!(*c->peer_flags & bit))
        __atomic_fetch_or(c->peer_flags, bit, __ATOMIC_SEQ_CST);
    mb();
}

/* We moved an index: if the peer asked to hear about `bit`, clear the request and notify. */
static void send_notify(struct vchan_core *c, uint8_t bit)
{
    mb();
    if (*c->own_flags & bit) {
        uint8_t prev = __atomic_fetch_and(c->own_flags, (uint8_t)~bit, __ATOMIC_SEQ_CST);
        if (prev & bit)
            c->notify(c->notify_ctx);
    }
}

/* ---- data ---------------------------------------------------------------------------- */

static void copy_out(struct vchan_ring *r, void *dst, size_t n)
{
    uint32_t off = r->own & (r->size - 1);
    size_t first = r->size - off;
    if (first > n)
        first = n;
    memcpy(dst, r->buf + off, first);
    if (n > first)
        memcpy((uint8_t *)dst + first, r->buf, n - first);
}

static void copy_in(struct vchan_ring *r, const void *src, size_t n)
{
    uint32_t off = r->own & (r->size - 1);
    size_t first = r->size - off;
    if (first > n)
        first = n;
    memcpy(r->buf + off, src, first);
    if (n > first)
        memcpy(r->buf, (const uint8_t *)src + first, n - first);
}

/* A transfer is published in steps (copy a step, release, move the index) and the peer's
 * index is loaded again whenever the space / data we know of runs out, so that one call moves
 * everything that fits while the peer keeps up. The peer, polling on another CPU, starts on
 * the first step while we copy the next, and frees room (or brings data) that we use in the
 * same call: the two copies overlap instead of taking turns. Without that, a 1 KiB ring went
 * in strict alternation (the writer filled the whole ring and published, the reader copied
 * it all and published, each waiting for the other): 1,024 bytes per call on both sides, a
 * spin per fill, 36-43% of memcpy. Steps are 1/8 of the ring (128 B at order 10), at most
 * VCHAN_PUBLISH_STEP: smaller steps cost a trip of the control line each (vchan/README.md).
 *
 * Only the last step pays the full barrier of the notify check (send_notify); the steps
 * before look at the request byte with a plain load (a peer that asked and sleeps is woken
 * early, as hint_notify says). That is enough for the Dekker handshake: a peer that sets its
 * request bit and then re-reads our index either sees the final index or has its bit seen
 * by the final check, whatever it saw of the steps before. */
#ifndef VCHAN_PUBLISH_STEP
#define VCHAN_PUBLISH_STEP 16384u
#endif
#ifndef VCHAN_PUBLISH_DIV
#define VCHAN_PUBLISH_DIV 8u
#endif

static uint32_t publish_step(const struct vchan_ring *r)
{
    uint32_t step = r->size / VCHAN_PUBLISH_DIV;
    return step > VCHAN_PUBLISH_STEP ? VCHAN_PUBLISH_STEP : step;
}

/* Between steps: if the peer's request bit is already set (plain load, no barrier), clear it
 * and notify now rather than after the whole call. A hint only: send_notify decides. */
static void hint_notify(struct vchan_core *c, uint8_t bit)
{
    if (*c->own_flags & bit)
        send_notify(c, bit);
}

/* How many bytes a call moves between two looks at the request byte: one ring, at most
 * VCHAN_PUBLISH_STEP. Not every step: a libxenvchan peer asks for a notification on almost
 * every read (whenever it finds less than it wants) or write, and an event per 128-byte step
 * would cost us a system call each; this is the rate of one check per call (a call moved at
 * most one ring, in 16 KiB steps) from before calls went on while the peer keeps up. */
static uint32_t hint_every(const struct vchan_ring *r)
{
    return r->size < VCHAN_PUBLISH_STEP ? r->size : VCHAN_PUBLISH_STEP;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    __asm__ volatile("" ::: "memory");
#endif
}

/* The next step of a transfer: what is left, at most what is known free / ready, at most a
 * publication step. */
static size_t step_len(size_t left, uint32_t avail, uint32_t max)
{
    size_t step = left < avail ? left : avail;
    return step < max ? step : max;
}

/* Stream (more = true): move up to n bytes, starting with the `avail` known readable, and
 * loading prod again each time those run out, as long as the last load found at least a
 * step's worth (a writer that publishes small messages one by one is not chased: each load
 * takes the control line from it, and its notify barrier waits for the line to come back;
 * the 64-byte rows lost 5-20% so); packet: exactly n <= avail. */
static long do_read(struct vchan_core *c, void *buf, size_t n, uint32_t avail, bool more)
{
    uint8_t *dst = buf;
    size_t done = 0;
    uint32_t max = publish_step(&c->rd), every = hint_every(&c->rd), since = 0, seen = avail;
    rmb();
    for (;;) {
        size_t step = step_len(n - done, avail, max);
        copy_out(&c->rd, dst + done, step);
        /* Our loads of the bytes are done before the peer may see cons move and reuse
         * them: a release fence orders earlier loads before later stores. */
        wmb();
        c->rd.own += (uint32_t)step;
        c->rd.shr->cons = c->rd.own;
        done += step;
        avail -= (uint32_t)step;
        if (done == n)
            break;
        if ((since += (uint32_t)step) >= every) {
            since = 0;
            hint_notify(c, VCHAN_NOTIFY_READ);
        }
        if (avail == 0) {
            if (!more || seen < max)
                break;
            avail = seen = raw_ready(c);
            if (avail == 0)
                break;
            rmb();
        }
    }
    send_notify(c, VCHAN_NOTIFY_READ);
    return (long)done;
}

/* Looks at a full ring before a stream write gives up: the first ones back to back (at
 * order 10 the reader frees a 128-byte step every ~20 ns, and one `pause` takes ~40 ns on
 * this host: +2-3%), the rest with a pause between; ~2.5 us in all. */
#ifndef VCHAN_WRITE_SPIN
#define VCHAN_WRITE_SPIN 80u
#endif
#ifndef VCHAN_WRITE_SPIN_QUICK
#define VCHAN_WRITE_SPIN_QUICK 16u
#endif

/* A stream write that filled the ring: the reader is usually copying on another CPU and frees
 * room within a few pauses; looking again for a while (no barrier, no return to the binding
 * and its spin) keeps the copies overlapping. Returns the space found (0: give up). */
static uint32_t wait_space(struct vchan_core *c)
{
    for (unsigned i = 0; i < VCHAN_WRITE_SPIN; i++) {
        uint32_t s = raw_space(c);
        if (s || c->state != VCHAN_ST_OPEN)
            return s;
        hint_notify(c, VCHAN_NOTIFY_WRITE);
        if (i >= VCHAN_WRITE_SPIN_QUICK)
            cpu_relax();
    }
    return 0;
}

/* As do_read, for the write ring: `avail` is the known free space; a stream write loads the
 * peer's cons again when it runs out, and one larger than the ring (which cannot complete
 * unless the reader frees room meanwhile) waits for room in wait_space. Small writes that
 * fill the ring return at once: spinning there cost 64-byte messages at order 10 ~20%. */
static long do_write(struct vchan_core *c, const void *buf, size_t n, uint32_t avail, bool more)
{
    const uint8_t *src = buf;
    size_t done = 0;
    uint32_t max = publish_step(&c->wr), every = hint_every(&c->wr), since = 0;
    for (;;) {
        size_t step = step_len(n - done, avail, max);
        copy_in(&c->wr, src + done, step);
        wmb();
        c->wr.own += (uint32_t)step;
        c->wr.shr->prod = c->wr.own;
        done += step;
        avail -= (uint32_t)step;
        if (done == n)
            break;
        if ((since += (uint32_t)step) >= every) {
            since = 0;
            hint_notify(c, VCHAN_NOTIFY_WRITE);
        }
        if (avail == 0 && more && n > c->wr.size)
            avail = wait_space(c);
        if (avail == 0)
            break;
    }
    send_notify(c, VCHAN_NOTIFY_WRITE);
    return (long)done;
}

static int check_state(struct vchan_core *c)
{
    if (c->state == VCHAN_ST_BROKEN)
        return -EPROTO;
    if (c->state == VCHAN_ST_CLOSED)
        return -ENOTCONN;
    return 0;
}

/* Readable bytes, at least `want` or after asking for a write notification. The peer's
 * liveness is read BEFORE its prod, so that data written before a close is never missed.
 * Returns the ready count (>= 0), or -ENOTCONN (peer gone, fewer than want left),
 * -EPROTO. */
static long ready_for(struct vchan_core *c, size_t want)
{
    /* Enough there: no need to know whether the peer is still around. */
    uint32_t ready = raw_ready(c);
    if (c->state == VCHAN_ST_BROKEN)
        return -EPROTO;
    if (ready >= want)
        return ready;
    int live = peer_live(c);
    if (live < 0)
        return live;
    rmb();
    ready = raw_ready(c);
    if (c->state == VCHAN_ST_BROKEN)
        return -EPROTO;
    if (ready >= want)
        return ready;
    if (live == VCHAN_LIVE_CLOSED)
        return -ENOTCONN;
    request_notify(c, VCHAN_NOTIFY_WRITE);
    ready = raw_ready(c);
    if (c->state == VCHAN_ST_BROKEN)
        return -EPROTO;
    return ready;
}

long vchan_read(struct vchan_core *c, void *buf, size_t len)
{
    int rc = check_state(c);
    if (rc)
        return rc;
    if (len == 0)
        return 0;
    long ready = ready_for(c, 1);
    if (ready <= 0)
        return ready;
    return do_read(c, buf, len, (uint32_t)ready, true);
}

long vchan_recv(struct vchan_core *c, void *buf, size_t len)
{
    int rc = check_state(c);
    if (rc)
        return rc;
    if (len > c->rd.size)
        return -EMSGSIZE;
    if (len == 0)
        return 0;
    long ready = ready_for(c, len);
    if (ready < 0)
        return ready;
    if ((size_t)ready < len)
        return 0;
    return do_read(c, buf, len, (uint32_t)ready, false);
}

/* A write on the fast path (the space was known, nothing of the control page loaded before
 * it) checks the peer's liveness afterwards, when send_notify's barrier has made our prod
 * store visible and the control page's line is ours: one transfer of that line per write
 * instead of a load (shared) and then the store (exclusive). A peer found closed turns the
 * write into -ENOTCONN, as it would have been a moment earlier; its bytes are lost as any
 * written just before a close are. */
static long written(struct vchan_core *c, long n)
{
    int live = peer_live(c);
    if (live < 0)
        return live;
    if (live == VCHAN_LIVE_CLOSED)
        return -ENOTCONN;
    return n;
}

/* Writable bytes, at least `want` or after asking for a read notification. */
static long space_for(struct vchan_core *c, size_t want)
{
    int live = peer_live(c);
    if (live < 0)
        return live;
    if (live == VCHAN_LIVE_CLOSED)
        return -ENOTCONN;
    uint32_t space = raw_space(c);
    if (c->state == VCHAN_ST_BROKEN)
        return -EPROTO;
    if (space >= want)
        return space;
    request_notify(c, VCHAN_NOTIFY_READ);
    space = raw_space(c);
    if (c->state == VCHAN_ST_BROKEN)
        return -EPROTO;
    return space;
}

long vchan_write(struct vchan_core *c, const void *buf, size_t len)
{
    int rc = check_state(c);
    if (rc)
        return rc;
    if (len == 0)
        return 0;
    if (known_space(c) >= len)
        return written(c, do_write(c, buf, len, known_space(c), false));
    long space = space_for(c, 1);
    if (space <= 0)
        return space;
    return do_write(c, buf, len, (uint32_t)space, true);
}

long vchan_send(struct vchan_core *c, const void *buf, size_t len)
{
    int rc = check_state(c);
    if (rc)
        return rc;
    if (len > c->wr.size)
        return -EMSGSIZE;
    if (len == 0)
        return 0;
    if (known_space(c) >= len)
        return written(c, do_write(c, buf, len, known_space(c), false));
    long space = space_for(c, len);
    if (space < 0)
        return space;
    if ((size_t)space < len)
        return 0;
    return do_write(c, buf, len, (uint32_t)space, false);
}

bool vchan_arm_read(struct vchan_core *c, size_t want)
{
    if (c->state != VCHAN_ST_OPEN)
        return true;
    if (want == 0)
        want = 1;
    if (want > c->rd.size)
        want = c->rd.size;
    long r = ready_for(c, want);
    return r < 0 || (size_t)r >= want;
}

bool vchan_arm_write(struct vchan_core *c, size_t want)
{
    if (c->state != VCHAN_ST_OPEN)
        return true;
    if (want == 0)
        want = 1;
    if (want > c->wr.size)
        want = c->wr.size;
    long r = space_for(c, want);
    return r < 0 || (size_t)r >= want;
}

void vchan_close(struct vchan_core *c)
{
    if (c->closed || !c->ctrl)
        return;
    c->closed = true;
    mb();       /* everything we wrote is visible before the peer sees us gone */
    *c->own_live = VCHAN_LIVE_CLOSED;
    mb();
    c->notify(c->notify_ctx);
    if (c->state == VCHAN_ST_OPEN)
        c->state = VCHAN_ST_CLOSED;
}
