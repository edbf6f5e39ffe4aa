/*
 * A ring request larger than the ring, cut by a daemon restart (xenstore/vxs_ring.h: its head
 * is consumed while it arrives, or the guest could not write its tail). The daemon saves
 * that head in the connection table before consuming it (vxs_persist_head), so a restarted
 * daemon, finding req[] starting in the middle of the request, reads the saved head first
 * and the request completes. In-process through tests/unit/vxs_harness.c, the store in a
 * pack file, the restart done by stopping and starting the harness on it with the guest's
 * ring page kept (vh_keep_rings), the guest's side of the ring played by hand.
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

#define DOM 5
#define VALUE_LEN 3000
#define VALUE_MAX (XENSTORE_PAYLOAD_MAX - 4) /* the largest payload: "big\0" and this */

static char buf[XENSTORE_PAYLOAD_MAX + 1];
/* A node may be as large as a payload (the default quota is 2048 bytes, counting more than
 * the value). */
static const char *const args[] = {"-S", "8192", NULL};

/* The guest's whole request: header, "big\0", value_len bytes of value. */
static uint8_t req[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
static size_t req_len, req_sent, value_len;

static struct vxs_conn *conn_of(uint32_t domid)
{
    for (struct vxs_conn *c = vxs.conns; c; c = c->next)
        if (c->dom && c->domid == domid)
            return c;
    return NULL;
}

static void make_request(size_t vlen)
{
    struct xsd_sockmsg h = {.type = XS_WRITE, .req_id = 7, .len = (uint32_t)(4 + vlen)};
    memcpy(req, &h, sizeof h);
    memcpy(req + sizeof h, "big", 4);
    for (size_t k = 0; k < vlen; k++)
        req[sizeof h + 4 + k] = (uint8_t)('a' + k % 26);
    value_len = vlen;
    req_len = sizeof h + 4 + vlen;
    req_sent = 0;
}

/* The guest writes as much of the rest as req[] has room for; returns how much. */
static size_t guest_put_more(void)
{
    struct xenstore_domain_interface *i = vh_ring(DOM);
    size_t room = XENSTORE_RING_SIZE - (i->req_prod - i->req_cons);
    size_t n = req_len - req_sent < room ? req_len - req_sent : room;
    vh_guest_put(DOM, req + req_sent, n);
    req_sent += n;
    return n;
}

static void start(void)
{
    vh_start_disk("vxs-bigreq", args);
    struct vh_client *d0 = vh_dom0();
    vh_domain(DOM);
    assert_int_equal(vh_mkdir(d0, 0, "/local/domain/5"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/local/domain/5", "n5"), 0);
    make_request(VALUE_LEN);
}


/* The rest of the request arrives, is handled and answered OK; the node holds the value. */
static void tail_completes_request(void)
{
    while (req_sent < req_len) {
        /* Two rounds: the head's commit, then its flush and the consume. */
        vh_round_output();
        vh_round_output();
        assert_true(guest_put_more() > 0);
        vh_guest_event(DOM);
    }
    vh_round_output();
    struct xenstore_domain_interface *i = vh_ring(DOM);
    assert_int_equal(vh_guest_reply(DOM, buf), 7);
    assert_string_equal(buf, "OK");
    assert_int_equal(i->error, XENSTORE_ERROR_NONE);
    assert_int_equal(i->req_cons, i->req_prod);
    struct vh_client *d0 = vh_dom0();
    assert_int_equal(vh_read(d0, 0, "/local/domain/5/big", buf), 0);
    assert_int_equal(strlen(buf), value_len);
    assert_memory_equal(buf, req + sizeof(struct xsd_sockmsg) + 4, value_len);
}

/* The ring still works: a small request is answered. */
static void ring_still_works(uint32_t req_id)
{
    vh_guest_send(DOM, XS_WRITE, req_id, "small\0v", 7);
    vh_guest_event(DOM);
    vh_round_output();
    assert_int_equal(vh_guest_reply(DOM, buf), req_id);
    assert_string_equal(buf, "OK");
    assert_int_equal(vh_ring(DOM)->error, XENSTORE_ERROR_NONE);
}

static void test_head_consumed_then_killed(void **state)
{
    (void)state;
    start();
    struct xenstore_domain_interface *i = vh_ring(DOM);
    /* Two ring-fulls: each is held until its head is saved and durable, then consumed. */
    for (int piece = 1; piece <= 2; piece++) {
        assert_int_equal(guest_put_more(), XENSTORE_RING_SIZE);
        vh_guest_event(DOM);
        vh_round_output(); /* the head's commit is made, not durable yet: nothing consumed */
        assert_int_equal(i->req_cons, (piece - 1) * XENSTORE_RING_SIZE);
        vh_round_output(); /* the group flush made it durable: consumed */
        assert_int_equal(i->req_cons, piece * XENSTORE_RING_SIZE);
    }
    uint32_t start_idx;
    void *bytes;
    size_t len;
    assert_true(vxs_persist_head_get(DOM, &start_idx, &bytes, &len));
    assert_int_equal(start_idx, 0);
    assert_int_equal(len, 2 * XENSTORE_RING_SIZE);
    assert_memory_equal(bytes, req, len);
    free(bytes);

    vh_keep_rings(true); /* the guest's page outlives the killed daemon */
    vh_restart(); /* req[] now starts in the middle of the request */
    /* The saved head went to the reader: it waits for the tail, no protocol error. */
    struct vxs_conn *c = conn_of(DOM);
    assert_non_null(c);
    assert_int_equal(c->rd.have, 2 * XENSTORE_RING_SIZE);
    assert_int_equal(vh_ring(DOM)->error, XENSTORE_ERROR_NONE);
    tail_completes_request();
    ring_still_works(8);

    /* The saved head is stale now (the request was answered): ignored and cleared. */
    vh_keep_rings(true); /* the guest's page outlives the killed daemon */
    vh_restart();
    assert_false(vxs_persist_head_get(DOM, &start_idx, &bytes, &len));
    ring_still_works(9);
    vh_finish_disk();
}

/* Killed after the head was saved but before it was consumed: req[] still holds it, the
 * saved head does not end at req_cons and is ignored. */
static void test_head_saved_not_consumed(void **state)
{
    (void)state;
    start();
    struct xenstore_domain_interface *i = vh_ring(DOM);
    assert_int_equal(guest_put_more(), XENSTORE_RING_SIZE);
    vh_guest_event(DOM);
    vh_round_output();
    vh_round_output();
    assert_int_equal(i->req_cons, XENSTORE_RING_SIZE);
    assert_int_equal(guest_put_more(), XENSTORE_RING_SIZE);
    vh_guest_event(DOM);
    vh_round_output(); /* the second head's commit made; the kill comes before its flush */
    assert_int_equal(i->req_cons, XENSTORE_RING_SIZE);

    /* The table has the first head, or the second one if its commit reached the disk (it
     * reaches beyond req_cons: only its bytes up to req_cons are taken from it). */
    vh_keep_rings(true); /* the guest's page outlives the killed daemon */
    vh_restart();
    struct vxs_conn *c = conn_of(DOM);
    assert_non_null(c);
    assert_int_equal(c->rd.have, 2 * XENSTORE_RING_SIZE);
    tail_completes_request();
    ring_still_works(8);
    vh_finish_disk();
}

/* A request larger than the ring answered with no kill, then a restart: the head saved on
 * the way is stale, and req[] is read from req_cons as usual. */
static void test_stale_head_ignored(void **state)
{
    (void)state;
    start();
    tail_completes_request();
    vh_keep_rings(true); /* the guest's page outlives the killed daemon */
    vh_restart();
    uint32_t start_idx;
    void *bytes;
    size_t len;
    assert_false(vxs_persist_head_get(DOM, &start_idx, &bytes, &len));
    ring_still_works(8);
    /* And another large request after the restart goes through too. */
    make_request(VALUE_LEN);
    tail_completes_request();
    vh_finish_disk();
}

/* The largest request: four ring-fulls consumed before the kill, its last 16 bytes after. */
static void test_largest_request(void **state)
{
    (void)state;
    start();
    make_request(VALUE_MAX);
    struct xenstore_domain_interface *i = vh_ring(DOM);
    for (int piece = 1; piece <= 4; piece++) {
        assert_int_equal(guest_put_more(), XENSTORE_RING_SIZE);
        vh_guest_event(DOM);
        vh_round_output();
        vh_round_output();
        assert_int_equal(i->req_cons, piece * XENSTORE_RING_SIZE);
    }
    vh_keep_rings(true); /* the guest's page outlives the killed daemon */
    vh_restart();
    struct vxs_conn *c = conn_of(DOM);
    assert_non_null(c);
    assert_int_equal(c->rd.have, 4 * XENSTORE_RING_SIZE);
    tail_completes_request();
    ring_still_works(8);
    vh_finish_disk();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_consumed_then_killed),
        cmocka_unit_test(test_head_saved_not_consumed),
        cmocka_unit_test(test_stale_head_ignored),
        cmocka_unit_test(test_largest_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
