/*
 * Rings that wait for an event nobody sends (xenstore/vxs_ring_wake.c), in-process through
 * tests/unit/vxs_harness.c with the guest's side of the ring played by hand:
 *   - part of a request read: looked at again after 1 ms, then every 100 ms;
 *   - a request that became visible just after a consume (the guest, seeing the old
 *     req_cons, sent no event): looked at again 1 ms after the consume;
 *   - replies the guest leaves unread: notified again after 100 ms without progress, backing
 *     off to every 10 s, and no more once it reads.
 * The poll loop's timeout is vxs_ring_wake_timeout(); "time passes" is done by moving the
 * connection's marks back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/vxs_harness.h"

static char buf[XENSTORE_PAYLOAD_MAX + 1];
static const char x[] = "/x";

/* A domain whose guest may read /x (= "1"); its connection. */
static struct vxs_conn *setup(uint32_t domid)
{
    vh_start(NULL, NULL);
    struct vh_client *d0 = vh_dom0();
    struct vh_client *g = vh_domain(domid);
    char perms[8];
    snprintf(perms, sizeof perms, "r%u", domid);
    assert_int_equal(vh_write(d0, 0, "/x", "1"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/x", perms), 0);
    return g->c;
}

/* A poll round woken by the guest's event. */
static void event_round(uint32_t domid)
{
    vh_guest_event(domid);
    vh_round_output();
}

static void test_partial_request(void **state)
{
    (void)state;
    struct vxs_conn *c = setup(6);
    struct xenstore_domain_interface *i = vh_ring(6);
    assert_int_equal(vxs_ring_wake_timeout(), -1);

    /* The header, announced; the daemon reads it and waits for the payload. */
    struct xsd_sockmsg h = {.type = XS_READ, .req_id = 7, .len = sizeof x};
    vh_guest_put(6, &h, sizeof h);
    event_round(6);
    assert_int_equal(vh_guest_reply(6, buf), 0);
    assert_int_equal(i->req_cons, 0); /* held: not consumed */
    assert_int_equal(vxs_ring_wake_timeout(), 1);

    /* The payload, with no event (req_cons did not move): the next round finds it. */
    vh_guest_put(6, x, sizeof x);
    vh_round_output();
    assert_int_equal(vh_guest_reply(6, buf), 7);
    assert_string_equal(buf, "1");
    assert_int_equal(i->req_cons, i->req_prod);
    c->recheck_at_ms = 1; /* (the consume's own look, tested below) */
    assert_int_equal(vxs_ring_wake_timeout(), -1);

    /* A guest that stops half-way: looked at seldom after the first 100 ms. */
    h.req_id = 8;
    vh_guest_put(6, &h, sizeof h);
    event_round(6);
    c->recheck_at_ms = 1;
    assert_int_equal(vxs_ring_wake_timeout(), 1);
    c->partial_since_ms -= 200;
    assert_int_equal(vxs_ring_wake_timeout(), 100);
    vh_stop();
}

/* The guest writes its next request while the daemon consumes the last one, and both miss
 * the other's store: the guest saw the old req_cons (so sent no event) and the daemon's look
 * after its consume saw the old req_prod. */
static void test_request_racing_a_consume(void **state)
{
    (void)state;
    struct vxs_conn *c = setup(5);
    struct xenstore_domain_interface *i = vh_ring(5);
    vh_guest_send(5, XS_READ, 1, x, sizeof x);
    event_round(5); /* answered and consumed; req[] looked empty afterwards */
    assert_int_equal(vh_guest_reply(5, buf), 1);
    assert_int_equal(i->req_cons, i->req_prod);
    int t = vxs_ring_wake_timeout();
    assert_true(t >= 0 && t <= 1);

    /* Now the guest's request becomes visible, without an event. */
    vh_guest_send(5, XS_READ, 2, x, sizeof x);
    /* The poll loop sleeps at most 1 ms; the round after it reads req[]. */
    vh_round_output();
    assert_int_equal(vh_guest_reply(5, buf), 2);
    assert_string_equal(buf, "1");

    /* Once a round ran after the deadline with nothing new, nothing more is due. */
    c->recheck_at_ms -= 10;
    assert_int_equal(vxs_ring_wake_timeout(), -1);
    assert_int_equal(c->recheck_at_ms, 0);
    vh_stop();
}

static void test_unread_replies_notified_again(void **state)
{
    (void)state;
    struct vxs_conn *c = setup(7);
    vh_guest_send(7, XS_READ, 1, x, sizeof x);
    event_round(7);
    c->recheck_at_ms = 0;
    /* The reply is in rsp[]; the guest does not read it (its event was lost). */
    unsigned long n0 = vh_notifies();
    int t = vxs_ring_wake_timeout();
    assert_true(t > 1 && t <= 100);
    assert_int_equal(vh_notifies(), n0);

    /* 100 ms without progress: notified again, then after 200, 400, ... up to 10 s. */
    c->rsp_wait_since_ms -= 100;
    t = vxs_ring_wake_timeout();
    assert_int_equal(vh_notifies(), n0 + 1);
    assert_true(t > 100 && t <= 200);
    for (int k = 0; k < 12; k++) {
        c->rsp_wait_since_ms -= c->renotify_ms;
        vxs_ring_wake_timeout();
    }
    assert_int_equal(vh_notifies(), n0 + 13);
    assert_int_equal(c->renotify_ms, 10000);

    /* The guest reads: nothing more to do for it. */
    assert_int_equal(vh_guest_reply(7, buf), 1);
    assert_int_equal(vxs_ring_wake_timeout(), -1);
    assert_int_equal(c->rsp_wait_since_ms, 0);

    /* A guest that reads slowly but reads: no extra events while it makes progress. */
    vh_guest_send(7, XS_READ, 2, x, sizeof x);
    vh_guest_send(7, XS_READ, 3, x, sizeof x);
    event_round(7);
    c->recheck_at_ms = 0;
    n0 = vh_notifies();
    vxs_ring_wake_timeout();
    c->rsp_wait_since_ms -= 90;
    assert_int_equal(vh_guest_reply(7, buf), 2);
    vxs_ring_wake_timeout(); /* progress: the clock starts again */
    c->rsp_wait_since_ms -= 90;
    vxs_ring_wake_timeout();
    assert_int_equal(vh_notifies(), n0);
    assert_int_equal(vh_guest_reply(7, buf), 3);
    vh_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partial_request),
        cmocka_unit_test(test_request_racing_a_consume),
        cmocka_unit_test(test_unread_replies_notified_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
