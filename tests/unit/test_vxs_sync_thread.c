/*
 * vxenstored's --sync batch with the pack's sync thread (VXS_SYNC_THREAD=1;
 * vxs_durable_fd/vxs_durable_round, as the poll loop runs them), on a backend whose syncs
 * the test holds (store_io_gate.h):
 *   - a guest's WRITE is handled and committed while the sync runs, but its reply reaches
 *     rsp[], its request is consumed (req_cons) and dom0's watch event is released only once
 *     the sync that covers the commit returned; a READ handled meanwhile waits with it;
 *   - a sync that fails releases nothing;
 *   - shutdown (SIGTERM) finishes the sync in flight and writes the replies it releases.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/store_io_gate.h"
#include "tests/unit/vxs_harness.h"
#include "xenstore/store_pack.h"
#include "xenstore/store_tree.h"

static char dir[64];
static struct store_io_gate *gate;
static struct store_iodir *iodir;
static uint64_t base; /* syncs before the test's own */

/* The daemon (vh_start) on a gated pack, its sync thread started, dom0 watching domain 5's
 * data, domain 5 introduced. */
static void start(struct vh_client **d0, struct vh_client **d5)
{
    snprintf(dir, sizeof dir, "/tmp/vxs-sync.XXXXXX");
    assert_non_null(mkdtemp(dir));
    vh_start(NULL, NULL);
    vs_store_close(vxs.st);
    vxs.os->ops->close(vxs.os);
    assert_int_equal(store_io_gate_dir(dir, &gate, &iodir), 0);
    assert_int_equal(vxs_store_open_pack(iodir), 0);
    setenv("VXS_SYNC_THREAD", "1", 1); /* the thread is opt-in (vxs_server.c) */
    assert_true(vxs_durable_fd() >= 0);
    *d0 = vh_dom0();
    *d5 = vh_domain(5);
    assert_int_equal(vh_mkdir(*d0, 0, "/local/domain/5"), 0);
    assert_int_equal(vh_set_perms(*d0, 0, "/local/domain/5", "n5"), 0);
    assert_int_equal(vh_watch(*d0, "/local/domain/5/data", "tok"), 0);
    char path[256], token[64];
    while (vh_event(*d0, path, token))
        ;
    base = store_io_gate_entered(gate);
}

static void finish(void)
{
    store_io_gate_hold(gate, false);
    vh_stop();
    iodir->ops->close(iodir);
    store_io_gate_free(gate);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* The end of a poll round, as vxs_main.c: durability, then what may leave. */
static int round_end(void)
{
    int rc = vxs_durable_round();
    if (rc == 0)
        for (struct vxs_conn *c = vxs.conns; c; c = c->next)
            if (!c->dead && c->dom)
                vxs_conn_flush(c);
    return rc;
}

static void wait_sync_fd(void)
{
    struct pollfd p = {.fd = vxs_durable_fd(), .events = POLLIN};
    assert_int_equal(poll(&p, 1, -1), 1);
}

/* Guest 5 writes data/x = v, then reads it back, while the sync is held. */
static void guest_write_read(void)
{
    vh_guest_send(5, XS_WRITE, 7, "data/x\0v", 8);
    vh_guest_event(5);
    assert_int_equal(round_end(), 0);
    store_io_gate_wait_entered(gate, base + 1); /* the thread is in the sync */
    vh_guest_send(5, XS_READ, 8, "data/x", 7);
    vh_guest_event(5);
    assert_int_equal(round_end(), 0);
}

/* The cases' start: the daemon with domain 5, its ring's indexes noted, then the guest's
 * write and read handled while the sync is held. */
struct held {
    struct vh_client *d0, *d5;
    struct xenstore_domain_interface *ring;
    XENSTORE_RING_IDX cons0, rsp0;
};

static void start_held(struct held *h)
{
    start(&h->d0, &h->d5);
    h->ring = vh_ring(5);
    h->cons0 = h->ring->req_cons;
    h->rsp0 = h->ring->rsp_prod;
    store_io_gate_hold(gate, true);
    guest_write_read();
}

static void replies_wait_for_the_sync(void **state)
{
    (void)state;
    struct held h;
    start_held(&h);
    struct vh_client *d0 = h.d0;
    struct xenstore_domain_interface *ring = h.ring;
    XENSTORE_RING_IDX cons0 = h.cons0, rsp0 = h.rsp0;
    /* Both handled (the commit is made), nothing out: no reply, no consume, no event. */
    assert_true(vxs.next_seq > vxs.durable_upto);
    assert_int_equal(ring->rsp_prod, rsp0);
    assert_int_equal(ring->req_cons, cons0);
    assert_null(vxs_conn_take(d0->c));
    assert_int_equal(round_end(), 0);
    assert_int_equal(ring->rsp_prod, rsp0);
    /* Let the sync (and any later one: a lazy events mark may commit meanwhile) through. */
    store_io_gate_hold(gate, false);
    size_t both = 2 * sizeof(struct xsd_sockmsg) + 3 + 1; /* "OK" and its NUL, "v" */
    while (ring->rsp_prod - rsp0 < both) {
        if (vxs.durable_upto < vxs.next_seq)
            wait_sync_fd();
        assert_int_equal(round_end(), 0);
    }
    char body[XENSTORE_PAYLOAD_MAX + 1];
    assert_int_equal(vh_guest_reply(5, body), 7);
    assert_string_equal(body, "OK");
    assert_int_equal(vh_guest_reply(5, body), 8);
    assert_string_equal(body, "v");
    assert_int_equal(ring->req_cons, cons0 + 2 * sizeof(struct xsd_sockmsg) + 8 + 7);
    struct vxs_out *o = vxs_conn_take(d0->c);
    assert_non_null(o);
    assert_int_equal(((const struct xsd_sockmsg *)o->data)->type, XS_WATCH_EVENT);
    free(o);
    finish();
}

static void failed_sync_releases_nothing(void **state)
{
    (void)state;
    struct held h;
    start_held(&h);
    struct xenstore_domain_interface *ring = h.ring;
    store_io_gate_release(gate, -EIO);
    wait_sync_fd();
    assert_int_equal(round_end(), -EIO); /* the loop ends the daemon here */
    for (struct vxs_conn *c = vxs.conns; c; c = c->next)
        if (!c->dead && c->dom)
            vxs_conn_flush(c); /* even if it went on: nothing may leave */
    assert_int_equal(ring->rsp_prod, h.rsp0);
    assert_int_equal(ring->req_cons, h.cons0);
    assert_null(vxs_conn_take(h.d0->c));
    finish();
}

static void shutdown_finishes_the_sync(void **state)
{
    (void)state;
    struct held h;
    start_held(&h);
    struct xenstore_domain_interface *ring = h.ring;
    XENSTORE_RING_IDX rsp0 = h.rsp0;
    store_io_gate_release(gate, 0); /* the thread's sync */
    store_io_gate_release(gate, 0); /* shutdown's flush */
    store_io_gate_release(gate, 0); /* close's */
    assert_int_equal(vxs_shutdown(), 0);
    assert_true(ring->rsp_prod != rsp0);
    char body[XENSTORE_PAYLOAD_MAX + 1];
    assert_int_equal(vh_guest_reply(5, body), 7);
    assert_int_equal(vh_guest_reply(5, body), 8);
    assert_string_equal(body, "v");
    /* vxs_shutdown closed the store; vh_stop closes whatever vxs holds. */
    vxs.os = store_memobj_open();
    vxs.st = vs_store_open(vxs.os, 0);
    finish();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replies_wait_for_the_sync),
        cmocka_unit_test(failed_sync_releases_nothing),
        cmocka_unit_test(shutdown_finishes_the_sync),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
