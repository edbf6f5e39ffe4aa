/*
 * Ring requests handled again after a restart (xenstore/vxs_ring.h: a request is consumed
 * only once its reply is in the ring, so one whose reply was lost with the daemon is read
 * again). The choices, in-process through tests/unit/vxs_harness.c with the store in a pack
 * file and the restart done by stopping and starting the harness on it:
 *   - TRANSACTION_END whose commit was made before the restart: OK (not applied again);
 *     whose commit was not made: EAGAIN (the client runs the transaction again);
 *   - transaction ids of an earlier run: EAGAIN; ids this run gave and ended: ENOENT;
 *   - WATCH of a watch restored from the connection table: OK (not EEXIST);
 *     UNWATCH of one already gone: OK (not ENOENT).
 * The ring positions the connection's reader would set (vxs_conn.replay, req_pos) are set by
 * hand here; the ring side is tested in test_vxs_ring.c, the timers for events that never
 * come in test_vxs_ring_wake.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/vxs_harness.h"
#include "xenstore/vxs_quota.h"

static char buf[XENSTORE_PAYLOAD_MAX + 1];

static struct vxs_conn *conn_of(uint32_t domid)
{
    for (struct vxs_conn *c = vxs.conns; c; c = c->next)
        if (c->dom && c->domid == domid)
            return c;
    return NULL;
}

/* One request on a connection the harness has no client for (a ring reconnected by the
 * restart): dispatched as its reader would, as a replay at ring index pos. Returns 0 or the
 * error as -errno; the first string of a non-error reply goes to buf. */
static int replayed(struct vxs_conn *c, uint32_t pos, uint32_t type, uint32_t tx,
                    const char *body, size_t len)
{
    static uint8_t in[XENSTORE_PAYLOAD_MAX + 1];
    memcpy(in, body, len);
    in[len] = 0;
    struct xsd_sockmsg hdr = {.type = type, .req_id = 99, .tx_id = tx, .len = (uint32_t)len};
    c->replay = true;
    c->req_pos = pos;
    vxs_dispatch(c, &hdr, in);
    c->replay = false;
    if (vxs.durable_upto < vxs.next_seq)
        assert_int_equal(vxs.os->ops->flush(vxs.os), 0);
    int rc = -EPROTO;
    struct vxs_out *o;
    while ((o = vxs_conn_take(c)) != NULL) {
        const struct xsd_sockmsg *h = (const void *)o->data;
        if (h->type != XS_WATCH_EVENT && rc == -EPROTO) {
            assert_int_equal(h->req_id, 99);
            memcpy(buf, o->data + sizeof *h, h->len);
            buf[h->len] = 0;
            rc = h->type == XS_ERROR ? xs_decode_error(buf, h->len) : 0;
        }
        free(o);
    }
    return rc;
}


static void test_transaction_end_replayed(void **state)
{
    (void)state;
    vh_start_disk("vxs-replay", NULL);
    struct vh_client *d0 = vh_dom0();
    struct vh_client *d5 = vh_domain(5);
    assert_int_equal(vh_mkdir(d0, 0, "/local/domain/5"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/local/domain/5", "n5"), 0);
    uint32_t t1, t2;
    assert_int_equal(vh_tx_start(d5, &t1), 0);
    assert_int_equal(vh_write(d5, t1, "count", "1"), 0);
    d5->c->req_pos = 500; /* the ring index of its TRANSACTION_END */
    assert_int_equal(vh_tx_end(d5, t1, true), 0);
    /* A second transaction that dies with the daemon, uncommitted. */
    assert_int_equal(vh_tx_start(d5, &t2), 0);
    assert_int_equal(vh_write(d5, t2, "count", "2"), 0);

    vh_restart(); /* the reply to t1's TRANSACTION_END never reached the ring */
    struct vxs_conn *c5 = conn_of(5);
    assert_non_null(c5);
    assert_true(c5->restored);
    /* t1's commit is found: OK, and nothing is applied twice. */
    assert_int_equal(replayed(c5, 500, XS_TRANSACTION_END, t1, "T", 2), 0);
    assert_string_equal(buf, "OK");
    /* The same id at another ring position is another request: its commit is not there. */
    assert_int_equal(replayed(c5, 540, XS_TRANSACTION_END, t1, "T", 2), -EAGAIN);
    /* t2 was never committed: EAGAIN, the client runs it again. */
    assert_int_equal(replayed(c5, 520, XS_TRANSACTION_END, t2, "T", 2), -EAGAIN);
    /* Other requests in an old transaction: EAGAIN too. */
    assert_int_equal(replayed(c5, 560, XS_READ, t2, "count", 6), -EAGAIN);
    d0 = vh_dom0();
    assert_int_equal(vh_read(d0, 0, "/local/domain/5/count", buf), 0);
    assert_string_equal(buf, "1");

    /* Ids this run gives are apart from the earlier run's; one ended is unknown (ENOENT). */
    assert_int_equal(replayed(c5, 600, XS_TRANSACTION_START, 0, "", 1), 0);
    uint32_t t3 = (uint32_t)strtoul(buf, NULL, 10);
    assert_true(t3 >= 0x40000000u);
    assert_int_equal(replayed(c5, 620, XS_TRANSACTION_END, t3, "F", 2), 0);
    assert_int_equal(replayed(c5, 640, XS_TRANSACTION_END, t3, "F", 2), -ENOENT);

    /* A second restart: this run's ids are now old ones (EAGAIN, not ENOENT), and the next
     * run's start elsewhere. */
    vh_restart();
    c5 = conn_of(5);
    assert_int_equal(replayed(c5, 660, XS_TRANSACTION_END, t3, "T", 2), -EAGAIN);
    assert_int_equal(replayed(c5, 680, XS_TRANSACTION_START, 0, "", 1), 0);
    assert_int_not_equal((uint32_t)strtoul(buf, NULL, 10), t3);
    vh_finish_disk();
}

static void test_watch_replayed(void **state)
{
    (void)state;
    vh_start_disk("vxs-replay", NULL);
    struct vh_client *d5 = vh_domain(5);
    assert_int_equal(vh_watch(d5, "data", "tok"), 0);
    assert_int_equal(vh_watch(d5, "gone", "tok"), 0);
    assert_int_equal(vh_unwatch(d5, "gone", "tok"), 0);
    vh_restart();
    struct vxs_conn *c5 = conn_of(5);
    static const char w[] = "data\0tok";
    static const char g[] = "gone\0tok";
    /* The WATCH whose reply was lost: restored from the table, so OK. */
    assert_int_equal(replayed(c5, 100, XS_WATCH, 0, w, sizeof w), 0);
    assert_string_equal(buf, "OK");
    /* The UNWATCH whose reply was lost: the watch is gone, OK. */
    assert_int_equal(replayed(c5, 120, XS_UNWATCH, 0, g, sizeof g), 0);
    /* Not a replay: C's answers. */
    struct xsd_sockmsg hdr = {.type = XS_WATCH, .req_id = 1, .len = sizeof w};
    static uint8_t in[sizeof w + 1];
    memcpy(in, w, sizeof w);
    vxs_dispatch(c5, &hdr, in);
    struct vxs_out *o;
    bool eexist = false;
    while ((o = vxs_conn_take(c5)) != NULL) {
        const struct xsd_sockmsg *h = (const void *)o->data;
        if (h->type == XS_ERROR)
            eexist = strcmp((const char *)o->data + sizeof *h, "EEXIST") == 0;
        free(o);
    }
    assert_true(eexist);
    vh_finish_disk();
}

/* ---- the ring itself: the daemon's connection code on a page the test writes as a guest --- */

static void test_ring_requests_consumed_when_answered(void **state)
{
    (void)state;
    vh_start(NULL, NULL);
    struct vh_client *d0 = vh_dom0();
    vh_domain(5);
    assert_int_equal(vh_write(d0, 0, "/x", "1"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/x", "r5"), 0);
    struct xenstore_domain_interface *i = vh_ring(5);
    static const char x[] = "/x";
    vh_guest_send(5, XS_READ, 1, x, sizeof x);
    vh_guest_send(5, XS_WRITE, 2, "/y\0v", 4); /* EACCES: a reply all the same */
    vh_guest_event(5);
    /* Read and handled, not answered yet (the round's output comes last): held. */
    assert_int_equal(i->req_cons, 0);
    vh_round_output();
    assert_int_equal(i->req_cons, i->req_prod);
    assert_int_equal(vh_guest_reply(5, buf), 1);
    assert_string_equal(buf, "1");
    assert_int_equal(vh_guest_reply(5, buf), 2);
    assert_string_equal(buf, "EACCES");

    /* A request written while an earlier one is held announces nothing (Linux notifies only
     * when req[] looked empty): the flush that answers the first reads it too. */
    vh_guest_send(5, XS_READ, 3, x, sizeof x);
    vh_guest_event(5);
    vh_guest_send(5, XS_READ, 4, x, sizeof x); /* no event for this one */
    vh_round_output();
    assert_int_equal(vh_guest_reply(5, buf), 3);
    assert_int_equal(vh_guest_reply(5, buf), 4);
    assert_int_equal(i->req_cons, i->req_prod);
    vh_guest_event(5);
    vh_round_output();
    assert_int_equal(vh_guest_reply(5, buf), 0);
    vh_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transaction_end_replayed),
        cmocka_unit_test(test_watch_replayed),
        cmocka_unit_test(test_ring_requests_consumed_when_answered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
