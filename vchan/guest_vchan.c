/*
 * vchan in the guest: pages, grants, foreign maps, the event channel, waiting and liveness
 * around the protocol core. The xenstore handshake is in guest_xs.c. See guest_vchan.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/errno.h>
#include <xenkit/malloc.h>

#include "vchan/guest_priv.h"
#include "vchan/guest_vchan.h"
#include "vchan/vchan_core.h"
#include "xen/clock.h"
#include "xen/eventloop.h"
#include "xen/events.h"
#include "xen/gnttab.h"
#include "xen/hypercall.h"
#include "xen/xenbus.h"

#define PAGE 4096u

struct gvchan {
    struct vchan_core c;
    bool server;
    bool core_ready;        /* vchan_*_init succeeded: close must vchan_close */
    bool connected;         /* the peer has been seen connected */
    bool peer_gone;
    uint16_t peer;
    uint32_t self;
    evtchn_port_t port;
    bool have_port;
    unsigned lo, ro;        /* left (client -> server) and right orders */
    unsigned npages[2];     /* separately granted pages of left and right */
    /* Server: our pages and the grants of the control page and ring pages. */
    void *ctrl_page;
    void *ring_mem[2];
    grant_ref_t ctrl_ref;
    bool ctrl_granted;
    grant_ref_t *refs;      /* left's pages, then right's */
    unsigned nrefs;         /* granted so far */
    bool published;
    /* Client: where the peer's pages are mapped. */
    void *ctrl_map;
    void *ring_map[2];
    char path[GVCHAN_XS_PATH_CAP];
    uint64_t next_check;    /* next liveness check, on clock_xen_ns() */
    uint64_t wait_mark;     /* st.events when gvchan_wait_any started */
    gvchan_handler_fn fn;
    void *arg;
    struct gvchan_stats st;
};

/* ---- pages whose revocation waits for the peer ---------------------------------------- */

/* A run of pages we allocated and granted; freed when its last grant is revoked. */
struct zombie {
    uint8_t *base;
    unsigned npages, waiting;
    struct zombie *next;
};
static struct zombie *zombies;

static void release_page(void *ctx, void *page)
{
    (void)ctx;
    for (struct zombie **zp = &zombies; *zp != NULL; zp = &(*zp)->next) {
        struct zombie *z = *zp;
        if ((uint8_t *)page < z->base || (uint8_t *)page >= z->base + z->npages * PAGE)
            continue;
        if (--z->waiting == 0) {
            *zp = z->next;
            free(z->base);
            free(z);
        }
        return;
    }
    printf("vchan: a revoked page %p belongs to no allocation (leaked)\n", page);
}

unsigned gvchan_reclaim(void)
{
    return gnttab_retry_deferred(release_page, NULL);
}

/* Revoke the grants of a run of pages and free it, now or once the peer unmaps them. */
static void revoke_and_free(void *base, unsigned npages, const grant_ref_t *refs,
                            unsigned nrefs)
{
    if (base == NULL)
        return;
    unsigned waiting = 0;
    for (unsigned i = 0; i < nrefs; i++) {
        int rc = gnttab_end_access_deferred(refs[i]);
        if (rc == 1)
            waiting++;
        else if (rc < 0)
            printf("vchan: revoking grant %u: error %d (page leaked)\n", refs[i], rc);
    }
    if (waiting == 0) {
        free(base);
        return;
    }
    struct zombie *z = try_malloc(sizeof(*z));
    if (z == NULL) {
        printf("vchan: out of memory: %u pages leaked\n", npages);
        return;
    }
    *z = (struct zombie){ .base = base, .npages = npages, .waiting = waiting, .next = zombies };
    zombies = z;
}

/* ---- events and liveness ------------------------------------------------------------- */

static void notify_peer(void *ctx)
{
    struct gvchan *v = ctx;
    if (v->have_port)
        evtchn_send(v->port);
}

static void on_event(evtchn_port_t port, void *arg)
{
    (void)port;
    struct gvchan *v = arg;
    v->st.events++;
    if (v->fn != NULL)
        v->fn(v, v->arg);
}

/* The peer is gone without closing: do what Linux's unmap notify does for a dead process,
 * zero its live byte, so the core ends the stream after the data already in the ring. */
static void mark_gone(struct gvchan *v)
{
    if (v->peer_gone)
        return;
    v->peer_gone = true;
    if (v->core_ready && vchan_peer_state(&v->c) == VCHAN_LIVE_CLOSED)
        return;             /* it had closed properly: nothing to emulate */
    v->st.peer_died = true;
    if (v->core_ready)
        *v->c.peer_live = VCHAN_LIVE_CLOSED;
    if (v->fn != NULL)
        v->fn(v, v->arg);
}

/* Ask Xen about the event channel if forced or if the last check is GVCHAN_LIVENESS_NS old.
 * `now` is clock_xen_ns(), not the monotonic clock: that one stands still for a second or
 * more now and then under the nested rig, and the check is what finds a peer whose death
 * sent no event (its domain destroyed) or whose event was lost. */
static void check_liveness(struct gvchan *v, uint64_t now, bool force)
{
    if (v->peer_gone || !v->have_port || (!force && now < v->next_check))
        return;
    v->next_check = now + GVCHAN_LIVENESS_NS;
    v->st.liveness_checks++;
    if (v->core_ready && vchan_peer_state(&v->c) == VCHAN_LIVE_OPEN)
        v->connected = true;
    struct evtchn_status st = { .dom = DOMID_SELF, .port = v->port };
    if (HYPERVISOR_event_channel_op(EVTCHNOP_status, &st) != 0)
        return;
    uint16_t remote = st.status == EVTCHNSTAT_interdomain ? st.u.interdomain.dom
                                                         : st.u.unbound.dom;
    if (st.status == EVTCHNSTAT_interdomain && remote == v->peer)
        v->connected = true;
    if (vchan_hs_peer_state(st.status, remote, v->peer, v->connected) == VCHAN_HS_PEER_GONE)
        mark_gone(v);
}

/* Liveness is also checked after this many wake-ups that brought none of the waited-on
 * vchans an event, whatever the clocks say: blocks end within about the liveness period of
 * Xen's real time (clock_xen_timeout), so a clock whose readings run ahead (next_check then
 * lies in their future) holds the check back by a few periods at most. */
#define GVCHAN_LIVENESS_WAKES 4

/* The vchan needs its caller now: an event came, or it is not open (peer closed, gone or
 * broken; also at once if it already was: every operation then returns without waiting,
 * so nothing can wait forever on a dead peer). */
static bool needs_caller(struct gvchan *v)
{
    return v->st.events != v->wait_mark || v->peer_gone || !vchan_is_open(&v->c);
}

int gvchan_wait_any(struct gvchan *const *vs, unsigned n, uint64_t deadline_ns)
{
    /* Each vchan keeps its own mark, so any number of them can be waited on. */
    for (unsigned i = 0; i < n; i++)
        vs[i]->wait_mark = vs[i]->st.events;
    unsigned idle_wakes = 0;
    for (;;) {
        /* The block ends by the liveness period of Xen's real time at the latest (also if
         * a reading ran ahead: clock_xen_timeout), so wake-ups keep coming. */
        uint64_t now = clock_xen_ns(), dl = clock_xen_timeout(now, GVCHAN_LIVENESS_NS);
        if (deadline_ns < dl)
            dl = deadline_ns;
        bool force = idle_wakes >= GVCHAN_LIVENESS_WAKES;
        if (force)
            idle_wakes = 0;
        for (unsigned i = 0; i < n; i++) {
            check_liveness(vs[i], now, force);
            if (needs_caller(vs[i]))
                return (int)i;
            if (vs[i]->next_check < dl)
                dl = vs[i]->next_check;
        }
        if (deadline_ns != WAIT_FOREVER && clock_monotonic_ns() >= deadline_ns)
            return -ETIMEDOUT;
        for (unsigned i = 0; i < n; i++)
            vs[i]->st.waits++;
        /* One wake-up at a time (not wait_for_events, which keeps blocking until the
         * monotonic clock passes dl): the checks above run after every one. dl mixes the
         * caller's deadline (monotonic clock) with the liveness checks' (Xen's clock) as a
         * Xen time: the monotonic clock is never behind Xen's, so the caller's deadline
         * has passed by then. */
        wait_for_wakeup(dl);
        idle_wakes++;
    }
}

static int wait_one(struct gvchan *v, uint64_t deadline_ns)
{
    return gvchan_wait_any(&v, 1, deadline_ns) < 0 ? -ETIMEDOUT : 0;
}

/* ---- setup --------------------------------------------------------------------------- */

static struct gvchan *alloc_vchan(bool server, uint16_t peer)
{
    struct gvchan *v = try_calloc(1, sizeof(*v));
    if (v != NULL) {
        v->server = server;
        v->peer = peer;
    }
    return v;
}

static void teardown(struct gvchan *v)
{
    if (v->core_ready)
        vchan_close(&v->c);         /* live byte 0 + event: data we wrote stays readable */
    if (v->server) {
        if (v->published) {
            int rc = gvchan_xs_remove(v->path);
            if (rc < 0)
                printf("vchan: removing %s from xenstore: error %d\n", v->path, rc);
        }
        if (v->have_port)
            evtchn_close(v->port);
        /* The ring runs first (their grants are refs[]), then the control page. */
        unsigned left_refs = v->nrefs < v->npages[0] ? v->nrefs : v->npages[0];
        revoke_and_free(v->ring_mem[0], v->npages[0], v->refs, left_refs);
        revoke_and_free(v->ring_mem[1], v->npages[1], v->refs ? v->refs + left_refs : NULL,
                        v->nrefs - left_refs);
        revoke_and_free(v->ctrl_page, 1, &v->ctrl_ref, v->ctrl_granted ? 1 : 0);
        free(v->refs);
    } else {
        for (unsigned i = 0; i < 2; i++)
            if (v->ring_map[i] != NULL)
                gnttab_unmap_foreign(v->ring_map[i], v->npages[i]);
        if (v->ctrl_map != NULL)
            gnttab_unmap_foreign(v->ctrl_map, 1);
        if (v->have_port)
            evtchn_close(v->port);
    }
    free(v);
    gvchan_reclaim();
}

static void *alloc_pages(unsigned n)
{
    void *p = try_aligned_alloc(PAGE, (size_t)n * PAGE);
    if (p != NULL)
        memset(p, 0, (size_t)n * PAGE);
    return p;
}

int gvchan_server_init_orders(struct gvchan **out, uint16_t peer, const char *xs_path,
                              unsigned lo, unsigned ro)
{
    gvchan_reclaim();
    int rc = vchan_check_orders(lo, ro);
    if (rc < 0)
        return rc;
    struct gvchan *v = alloc_vchan(true, peer);
    if (v == NULL)
        return -ENOMEM;
    v->lo = lo;
    v->ro = ro;
    v->npages[0] = vchan_ring_pages(lo);
    v->npages[1] = vchan_ring_pages(ro);
    if ((rc = xenbus_get_domid(&v->self)) < 0)
        goto fail;
    if ((rc = gvchan_xs_resolve(xs_path, v->self, v->path, sizeof(v->path))) < 0)
        goto fail;
    rc = -ENOMEM;
    unsigned total = v->npages[0] + v->npages[1];
    if ((v->ctrl_page = alloc_pages(1)) == NULL)
        goto fail;
    for (unsigned i = 0; i < 2; i++)
        if (v->npages[i] != 0 && (v->ring_mem[i] = alloc_pages(v->npages[i])) == NULL)
            goto fail;
    if (total != 0 && (v->refs = try_calloc(total, sizeof(*v->refs))) == NULL)
        goto fail;
    rc = vchan_server_init(&v->c, v->ctrl_page, lo, ro, v->ring_mem[0], v->ring_mem[1],
                           notify_peer, v);
    if (rc < 0)
        goto fail;
    v->core_ready = true;
    for (unsigned i = 0; i < total; i++) {
        const uint8_t *page = i < v->npages[0]
                                  ? (uint8_t *)v->ring_mem[0] + (size_t)i * PAGE
                                  : (uint8_t *)v->ring_mem[1] + (size_t)(i - v->npages[0]) * PAGE;
        if ((rc = gnttab_grant_access(peer, page, false, &v->refs[i])) < 0)
            goto fail;
        v->nrefs++;
        vchan_ctrl_set_grant(v->c.ctrl, i, v->refs[i]);
    }
    if ((rc = gnttab_grant_access(peer, v->ctrl_page, false, &v->ctrl_ref)) < 0)
        goto fail;
    v->ctrl_granted = true;
    if ((rc = evtchn_alloc_unbound(peer, on_event, v, &v->port)) < 0)
        goto fail;
    v->have_port = true;
    v->published = true;    /* also on failure: remove whatever part was written */
    if ((rc = gvchan_xs_publish(v->path, v->self, peer, v->ctrl_ref, v->port)) < 0)
        goto fail;
    v->next_check = clock_xen_ns() + GVCHAN_LIVENESS_NS;
    *out = v;
    return 0;
fail:
    v->core_ready = false;  /* nobody was connected: no close notification */
    teardown(v);
    return rc;
}

int gvchan_server_init(struct gvchan **out, uint16_t peer, const char *xs_path,
                       size_t read_min, size_t write_min)
{
    unsigned lo, ro;
    int rc = vchan_select_orders(read_min, write_min, &lo, &ro);
    if (rc < 0)
        return rc;
    return gvchan_server_init_orders(out, peer, xs_path, lo, ro);
}

/* GNTST_* codes are negative and small; keep them apart from -errno for the caller. */
static int map_error(int gntst)
{
    printf("vchan: mapping the server's pages failed (GNTST %d)\n", gntst);
    return gntst == -XEN_ENOSPC ? -ENOSPC : -EACCES;
}

int gvchan_client_init(struct gvchan **out, uint16_t peer, const char *xs_path,
                       uint64_t deadline_ns)
{
    gvchan_reclaim();
    struct gvchan *v = alloc_vchan(false, peer);
    if (v == NULL)
        return -ENOMEM;
    uint32_t ring_ref, port;
    grant_ref_t *refs = NULL;
    int rc;
    if ((rc = xenbus_get_domid(&v->self)) < 0)
        goto fail;
    if ((rc = gvchan_xs_resolve(xs_path, peer, v->path, sizeof(v->path))) < 0)
        goto fail;
    if ((rc = gvchan_xs_wait(v->path, deadline_ns, &ring_ref, &port)) < 0)
        goto fail;
    if ((rc = evtchn_bind_interdomain(peer, port, on_event, v, &v->port)) < 0)
        goto fail;
    v->have_port = true;
    grant_ref_t cref = ring_ref;
    if ((rc = gnttab_map_foreign(peer, &cref, 1, false, &v->ctrl_map)) < 0) {
        v->ctrl_map = NULL;
        rc = map_error(rc);
        goto fail;
    }
    if ((rc = vchan_client_orders(v->ctrl_map, &v->lo, &v->ro)) < 0)
        goto fail;
    v->npages[0] = vchan_ring_pages(v->lo);
    v->npages[1] = vchan_ring_pages(v->ro);
    unsigned total = v->npages[0] + v->npages[1];
    if (total != 0) {
        if ((refs = try_calloc(total, sizeof(*refs))) == NULL) {
            rc = -ENOMEM;
            goto fail;
        }
        for (unsigned i = 0; i < total; i++)
            refs[i] = vchan_ctrl_grant(v->ctrl_map, i);   /* copied once */
    }
    for (unsigned i = 0, first = 0; i < 2; first += v->npages[i], i++) {
        if (v->npages[i] == 0)
            continue;
        rc = gnttab_map_foreign(peer, refs + first, v->npages[i], false, &v->ring_map[i]);
        if (rc < 0) {
            v->ring_map[i] = NULL;
            rc = map_error(rc);
            goto fail;
        }
    }
    rc = vchan_client_init(&v->c, v->ctrl_map, v->lo, v->ro, v->ring_map[0], v->ring_map[1],
                           notify_peer, v);
    if (rc < 0)
        goto fail;
    v->core_ready = true;
    v->connected = true;
    vchan_client_connect(&v->c);
    free(refs);
    v->next_check = clock_xen_ns() + GVCHAN_LIVENESS_NS;
    *out = v;
    return 0;
fail:
    free(refs);
    teardown(v);
    return rc;
}

int gvchan_wait_connected(struct gvchan *v, uint64_t deadline_ns)
{
    for (;;) {
        int st = vchan_peer_state(&v->c);
        if (st == VCHAN_LIVE_OPEN) {
            v->connected = true;
            return 0;
        }
        if (st != VCHAN_LIVE_WAITING || v->peer_gone)
            return -ENOTCONN;
        if (wait_one(v, deadline_ns) < 0)
            return -ETIMEDOUT;
    }
}

void gvchan_close(struct gvchan *v)
{
    if (v != NULL)
        teardown(v);
}

int gvchan_flush(struct gvchan *v, uint64_t deadline_ns)
{
    for (;;) {
        if (vchan_write_pending(&v->c) == 0)
            return 0;
        if (!vchan_is_open(&v->c))
            return -ENOTCONN;
        /* Ask for a "read" event once everything is consumed. */
        if (vchan_arm_write(&v->c, vchan_write_size(&v->c)))
            continue;
        if (wait_one(v, deadline_ns) < 0)
            return vchan_write_pending(&v->c) == 0 ? 0 : -ETIMEDOUT;
    }
}

/* ---- data ---------------------------------------------------------------------------- */

long gvchan_read(struct gvchan *v, void *buf, size_t len, uint64_t deadline_ns)
{
    for (;;) {
        long r = vchan_read(&v->c, buf, len);
        if (r != 0 || len == 0)
            return r;
        if (vchan_arm_read(&v->c, 1))
            continue;
        if (wait_one(v, deadline_ns) < 0)
            return vchan_read(&v->c, buf, len);
    }
}

long gvchan_recv(struct gvchan *v, void *buf, size_t len, uint64_t deadline_ns)
{
    for (;;) {
        long r = vchan_recv(&v->c, buf, len);
        if (r != 0 || len == 0)
            return r;
        if (vchan_arm_read(&v->c, len))
            continue;
        if (wait_one(v, deadline_ns) < 0)
            return vchan_recv(&v->c, buf, len);
    }
}

long gvchan_write(struct gvchan *v, const void *buf, size_t len, uint64_t deadline_ns)
{
    size_t done = 0;
    const uint8_t *p = buf;
    while (done < len) {
        long r = vchan_write(&v->c, p + done, len - done);
        if (r < 0)
            return done > 0 ? (long)done : r;
        done += (size_t)r;
        if (done == len || r > 0)
            continue;
        if (vchan_arm_write(&v->c, 1))
            continue;
        if (wait_one(v, deadline_ns) < 0) {
            r = vchan_write(&v->c, p + done, len - done);
            if (r > 0)
                done += (size_t)r;
            break;
        }
    }
    return (long)done;
}

long gvchan_send(struct gvchan *v, const void *buf, size_t len, uint64_t deadline_ns)
{
    for (;;) {
        long r = vchan_send(&v->c, buf, len);
        if (r != 0 || len == 0)
            return r;
        if (vchan_arm_write(&v->c, len))
            continue;
        if (wait_one(v, deadline_ns) < 0)
            return vchan_send(&v->c, buf, len);
    }
}

/* ---- state --------------------------------------------------------------------------- */

bool gvchan_is_open(struct gvchan *v)
{
    check_liveness(v, clock_xen_ns(), false);
    return vchan_is_open(&v->c);
}

size_t gvchan_data_ready(struct gvchan *v) { return vchan_data_ready(&v->c); }
size_t gvchan_buffer_space(struct gvchan *v) { return vchan_buffer_space(&v->c); }
size_t gvchan_read_size(struct gvchan *v) { return vchan_read_size(&v->c); }
size_t gvchan_write_size(struct gvchan *v) { return vchan_write_size(&v->c); }
uint32_t gvchan_port(struct gvchan *v) { return v->port; }
uint16_t gvchan_peer(struct gvchan *v) { return v->peer; }

void gvchan_orders(struct gvchan *v, unsigned *left_order, unsigned *right_order)
{
    *left_order = v->lo;
    *right_order = v->ro;
}

void gvchan_set_handler(struct gvchan *v, gvchan_handler_fn fn, void *arg)
{
    v->fn = fn;
    v->arg = arg;
}

bool gvchan_arm(struct gvchan *v, bool read, bool write)
{
    bool ready = false;
    if (read)
        ready |= vchan_arm_read(&v->c, 1);
    if (write)
        ready |= vchan_arm_write(&v->c, 1);
    return ready;
}

void gvchan_get_stats(struct gvchan *v, struct gvchan_stats *out)
{
    *out = v->st;
}
