/*
 * Ring requests whose commit was made before a SIGKILL but whose reply never reached the
 * ring (so the restarted daemon finds them still in req[], xenstore/vxs_ring.h). Handling such
 * a request again would apply it a second time, after writes other clients made (and had
 * acknowledged) in between: a replayed WRITE would silently undo them. Each commit a ring's
 * request makes names the request's ring index (its author, "dom<d>/conn<n>@<index>"), and
 * the restart looks for them (xenstore/vxs_replay_done.c): such a request is answered OK
 * without being applied again, a request the old daemon handled before it without a commit
 * (a no-op or a failure) is answered without effect, and each request still gets exactly one
 * reply.
 *
 * In-process through tests/unit/vxs_harness.c: the store in a pack file, the guest's page kept
 * across vh_restart (a kill: the daemon's memory is gone, the page and the pack stay). A
 * request is "handled, reply not yet in the ring" between vh_guest_event (read and
 * dispatched) and the round's output, which the restart comes before.
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

static char buf[XENSTORE_PAYLOAD_MAX + 1];

/* A daemon on disk with domain 5, owner of /local/domain/5 and of x there ("v0"); the ring
 * pages survive the restarts. Returns dom0's client. */
static struct vh_client *world(void)
{
    vh_start_disk("vxs-ring-done", NULL);
    vh_keep_rings(true);
    struct vh_client *d0 = vh_dom0();
    vh_domain(5);
    assert_int_equal(vh_mkdir(d0, 0, "/local/domain/5"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/local/domain/5", "n5"), 0);
    assert_int_equal(vh_write(d0, 0, "/local/domain/5/x", "v0"), 0);
    return d0;
}

static void guest_send_str2(uint32_t type, uint32_t req_id, const char *a, const char *b)
{
    char body[256];
    size_t la = strlen(a) + 1, lb = b ? strlen(b) : 0;
    assert_true(la + lb <= sizeof body);
    memcpy(body, a, la);
    if (b)
        memcpy(body + la, b, lb);
    vh_guest_send(5, type, req_id, body, la + lb);
}

/* Every reply in rsp[] now, in order: their req_ids into ids (bodies of the first in buf). */
static size_t guest_replies(uint32_t *ids, size_t cap, char bodies[][64])
{
    size_t n = 0;
    uint32_t id;
    while ((id = vh_guest_reply(5, buf)) != 0) {
        assert_true(n < cap);
        ids[n] = id;
        size_t l = strnlen(buf, 63);
        memcpy(bodies[n], buf, l);
        bodies[n][l] = 0;
        n++;
    }
    return n;
}

/* The guest got exactly one reply since the last look: to req_id, saying body (any if NULL). */
static void expect_one_reply(uint32_t req_id, const char *body)
{
    uint32_t ids[8];
    char bodies[8][64];
    assert_int_equal(guest_replies(ids, 8, bodies), 1);
    assert_int_equal(ids[0], req_id);
    if (body != NULL)
        assert_string_equal(bodies[0], body);
}

/* dom0 reads val at path (after the restart: what the daemon kept). */
static void expect_node(const char *path, const char *val)
{
    assert_int_equal(vh_read(vh_dom0(), 0, path, buf), 0);
    assert_string_equal(buf, val);
}

static void test_replayed_write_keeps_later_acked_write(void **state)
{
    (void)state;
    struct vh_client *d0 = world();
    guest_send_str2(XS_WRITE, 7, "/local/domain/5/x", "guest");
    vh_guest_event(5); /* handled and committed; the reply waits for the round's output */
    /* Another client's write to the same node, acknowledged. */
    assert_int_equal(vh_write(d0, 0, "/local/domain/5/x", "dom0"), 0);

    vh_restart(); /* killed before the guest's reply reached rsp[]: req_cons never moved */
    vh_round_output();
    expect_node("/local/domain/5/x", "dom0"); /* the acknowledged write is still there */
    expect_one_reply(7, "OK");
    struct xenstore_domain_interface *i = vh_ring(5);
    assert_int_equal(i->req_cons, i->req_prod);

    /* Later requests are handled as usual. */
    guest_send_str2(XS_WRITE, 8, "/local/domain/5/x", "again");
    vh_guest_event(5);
    vh_round_output();
    assert_int_equal(vh_guest_reply(5, buf), 8);
    expect_node("/local/domain/5/x", "again");
    vh_finish_disk();
}

static void test_noop_before_commit_not_applied_again(void **state)
{
    (void)state;
    struct vh_client *d0 = world();
    /* A MKDIR of a node that exists (OK, no commit), a RM that fails (no commit), then a
     * WRITE (committed), then a READ, all handled before the kill. */
    guest_send_str2(XS_MKDIR, 11, "/local/domain/5/x", NULL);
    guest_send_str2(XS_RM, 12, "/local/domain/5/nope/deeper", NULL);
    guest_send_str2(XS_WRITE, 13, "/local/domain/5/y", "1");
    guest_send_str2(XS_READ, 14, "/local/domain/5/x", NULL);
    vh_guest_event(5);
    /* Meanwhile dom0 removes x and creates the parent the RM lacked: applied again, the
     * MKDIR would bring x back and the RM would now succeed. */
    assert_int_equal(vh_rm(d0, 0, "/local/domain/5/x"), 0);
    assert_int_equal(vh_write(d0, 0, "/local/domain/5/nope/deeper", "z"), 0);

    vh_restart();
    vh_round_output();
    d0 = vh_dom0();
    assert_int_equal(vh_read(d0, 0, "/local/domain/5/x", buf), -ENOENT);
    expect_node("/local/domain/5/nope/deeper", "z");
    expect_node("/local/domain/5/y", "1");
    uint32_t ids[8];
    char bodies[8][64];
    assert_int_equal(guest_replies(ids, 8, bodies), 4);
    for (uint32_t k = 0; k < 4; k++)
        assert_int_equal(ids[k], 11 + k);
    assert_string_equal(bodies[0], "OK");
    assert_string_equal(bodies[2], "OK");
    /* Handled again, the READ answers what is there now (its first answer never left). */
    assert_string_equal(bodies[3], "ENOENT");
    vh_finish_disk();
}

static void test_killed_twice_before_the_reply(void **state)
{
    (void)state;
    struct vh_client *d0 = world();
    guest_send_str2(XS_WRITE, 21, "/local/domain/5/x", "guest");
    vh_guest_event(5);
    assert_int_equal(vh_write(d0, 0, "/local/domain/5/x", "dom0"), 0);
    vh_restart();
    /* Killed again before the restarted daemon's OK reached the ring. */
    vh_restart();
    vh_round_output();
    expect_node("/local/domain/5/x", "dom0");
    expect_one_reply(21, "OK");
    vh_finish_disk();
}

static void test_unhandled_requests_still_run(void **state)
{
    (void)state;
    world();
    /* Answered and consumed before the kill: not in req[] any more. */
    guest_send_str2(XS_WRITE, 31, "/local/domain/5/x", "one");
    vh_guest_event(5);
    vh_round_output();
    assert_int_equal(vh_guest_reply(5, buf), 31);
    /* Written by the guest while the daemon was down: never handled, so applied now. */
    vh_restart();
    guest_send_str2(XS_WRITE, 32, "/local/domain/5/x", "two");
    vh_restart();
    vh_round_output();
    expect_node("/local/domain/5/x", "two");
    expect_one_reply(32, NULL);
    vh_finish_disk();
}

/* A request in a transaction, by hand (vh_guest_send has no tx_id). */
static void guest_send_tx(uint32_t type, uint32_t req_id, uint32_t tx, const void *body,
                          size_t len)
{
    struct xsd_sockmsg h = {.type = type, .req_id = req_id, .tx_id = tx, .len = (uint32_t)len};
    vh_guest_put(5, &h, sizeof h);
    vh_guest_put(5, body, len);
}

/* Guest 5 starts a transaction and writes x in it (both answered); returns its id. */
static uint32_t guest_tx_with_write(uint32_t req_id, const char *val)
{
    guest_send_tx(XS_TRANSACTION_START, req_id, 0, "", 1);
    vh_guest_event(5);
    vh_round_output();
    assert_int_equal(vh_guest_reply(5, buf), req_id);
    uint32_t tx = (uint32_t)strtoul(buf, NULL, 10);
    assert_true(tx != 0);
    char body[64];
    int n = snprintf(body, sizeof body, "/local/domain/5/x%c%s", 0, val);
    guest_send_tx(XS_WRITE, req_id + 1, tx, body, (size_t)n);
    vh_guest_event(5);
    vh_round_output();
    assert_int_equal(vh_guest_reply(5, buf), req_id + 1);
    assert_string_equal(buf, "OK");
    return tx;
}

/* TRANSACTION_END: committed before the kill (its reply lost) it answers OK once and is not
 * applied again; never handled, its transaction died with the daemon (EAGAIN: the client
 * runs it again). */
static void test_transaction_end(void **state)
{
    (void)state;
    struct vh_client *d0 = world();
    uint32_t tx = guest_tx_with_write(41, "t1");
    guest_send_tx(XS_TRANSACTION_END, 43, tx, "T", 2);
    vh_guest_event(5); /* committed, the reply waits for the round's output */
    assert_int_equal(vh_write(d0, 0, "/local/domain/5/x", "dom0"), 0);
    vh_restart();
    vh_round_output();
    expect_node("/local/domain/5/x", "dom0");
    expect_one_reply(43, "OK");

    tx = guest_tx_with_write(44, "t2");
    guest_send_tx(XS_TRANSACTION_END, 46, tx, "T", 2); /* not handled before the kill */
    vh_restart();
    vh_round_output();
    expect_one_reply(46, "EAGAIN");
    expect_node("/local/domain/5/x", "dom0");
    vh_finish_disk();
}

/* A ring that reconnected (XENSTORE_RECONNECT: its indexes back to 0) reuses positions: a
 * commit of the earlier epoch at the same position and of the same type must not make a
 * request of the new one look done (it would be answered OK and never applied). */
static void test_reconnected_ring_positions_reused(void **state)
{
    (void)state;
    world();
    struct xenstore_domain_interface *i = vh_ring(5);
    i->req_cons = i->req_prod = i->rsp_cons = i->rsp_prod = 0;
    guest_send_str2(XS_WRITE, 51, "/local/domain/5/x", "old"); /* at position 0 */
    vh_guest_event(5);
    vh_round_output();
    assert_int_equal(vh_guest_reply(5, buf), 51);
    i->connection = XENSTORE_RECONNECT; /* a new kernel: the ring starts again at 0 */
    vh_guest_event(5);
    assert_int_equal(i->connection, XENSTORE_CONNECTED);
    assert_int_equal(i->req_prod, 0);
    guest_send_str2(XS_WRITE, 52, "/local/domain/5/x", "new"); /* at position 0 again */
    vh_restart(); /* killed before the request was read */
    vh_round_output();
    expect_node("/local/domain/5/x", "new");
    assert_int_equal(vh_guest_reply(5, buf), 52);
    assert_string_equal(buf, "OK");
    vh_finish_disk();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replayed_write_keeps_later_acked_write),
        cmocka_unit_test(test_noop_before_commit_not_applied_again),
        cmocka_unit_test(test_killed_twice_before_the_reply),
        cmocka_unit_test(test_unhandled_requests_still_run),
        cmocka_unit_test(test_transaction_end),
        cmocka_unit_test(test_reconnected_ring_positions_reused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
