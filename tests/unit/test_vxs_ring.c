/*
 * vxenstored's side of the xenstore ring (xenstore/vxs_ring.c): against our guest's side
 * (xen/xenbus_ring.c) sharing one page, with indexes that do not start at zero and wrap; and
 * against a hostile guest that publishes impossible indexes (the ring breaks, the error field
 * says RINGIDX, nothing is read or written out of bounds) or asks for a reconnection; and
 * the rule that a request is consumed only once answered, so that a daemon killed before
 * answering finds it again after a restart (a request larger than the ring excepted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xen/xenbus_ring.h"
#include "xenstore/vxs_ring.h"

#define SZ XENSTORE_RING_SIZE
#define FEATURES (XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR)

static struct xenstore_domain_interface *page_new(XENSTORE_RING_IDX start)
{
    struct xenstore_domain_interface *i = calloc(1, sizeof(*i));
    i->req_cons = i->req_prod = start;
    i->rsp_cons = i->rsp_prod = start;
    return i;
}

/* A stream in random pieces through both queues, indexes wrapping at 2^32 on the way. */
static void test_stream_with_guest(void **state)
{
    (void)state;
    struct xenstore_domain_interface *page = page_new(0xFFFFF000u);
    struct xenbus_ring g;
    struct vxs_ring d;
    xenbus_ring_init(&g, page);
    vxs_ring_attach(&d, page, FEATURES);
    assert_int_equal(page->server_features, FEATURES);
    enum { N = 200000 };
    uint8_t *src = malloc(N), *dst = malloc(N), *back = malloc(N);
    for (size_t k = 0; k < N; k++)
        src[k] = (uint8_t)(k * 7 + 3);
    size_t sent = 0, got = 0, echoed = 0, back_got = 0;
    srand(5);
    while (back_got < N) {
        size_t n = (size_t)(rand() % 1500) + 1;
        if (sent < N)
            sent += xenbus_ring_write(&g, src + sent, n < N - sent ? n : N - sent);
        bool full;
        got += vxs_ring_read(&d, dst + got, (size_t)(rand() % 1500) + 1);
        if (echoed < got)
            echoed += vxs_ring_write(&d, dst + echoed, got - echoed);
        /* Each byte echoed counts as answered: its request bytes go back to the guest. */
        vxs_ring_hold(&d, d.req_read - (XENSTORE_RING_IDX)(got - echoed), 0);
        vxs_ring_release(&d, 1, false);
        back_got += xenbus_ring_read(&g, back + back_got, (size_t)(rand() % 1500) + 1, &full);
        assert_false(d.broken);
        assert_false(g.broken);
    }
    assert_memory_equal(src, dst, N);
    assert_memory_equal(src, back, N);
    free(src);
    free(dst);
    free(back);
    free(page);
}

static void test_full_and_empty(void **state)
{
    (void)state;
    struct xenstore_domain_interface *page = page_new(100);
    struct vxs_ring d;
    vxs_ring_attach(&d, page, FEATURES);
    uint8_t buf[2 * SZ];
    assert_int_equal(vxs_ring_avail(&d), 0);
    assert_int_equal(vxs_ring_read(&d, buf, sizeof buf), 0);
    /* The guest fills req[] completely; reading gives nothing back, answering does. */
    page->req_prod += SZ;
    assert_int_equal(vxs_ring_read(&d, buf, sizeof buf), SZ);
    assert_int_equal(page->req_cons, 100);
    vxs_ring_hold(&d, 100 + SZ, 1);
    assert_false(vxs_ring_release(&d, 1, false));
    assert_true(vxs_ring_release(&d, 2, false));
    assert_int_equal(page->req_cons, 100 + SZ);
    /* rsp[] takes at most a ring's worth until the guest consumes. */
    memset(buf, 'x', sizeof buf);
    assert_int_equal(vxs_ring_write(&d, buf, sizeof buf), SZ);
    assert_int_equal(vxs_ring_space(&d), 0);
    assert_int_equal(vxs_ring_write(&d, buf, 1), 0);
    page->rsp_cons += 10;
    assert_int_equal(vxs_ring_write(&d, buf, sizeof buf), 10);
    assert_false(d.broken);
    free(page);
}

static void test_hostile_req_prod(void **state)
{
    (void)state;
    struct xenstore_domain_interface *page = page_new(0);
    struct vxs_ring d;
    vxs_ring_attach(&d, page, FEATURES);
    page->req_prod = SZ + 1; /* more than a ring outstanding */
    uint8_t buf[4 * SZ];
    assert_int_equal(vxs_ring_read(&d, buf, sizeof buf), 0);
    assert_true(d.broken);
    assert_int_equal(page->error, XENSTORE_ERROR_RINGIDX);
    /* Broken stays broken: nothing more is read or written. */
    page->req_prod = 5;
    assert_int_equal(vxs_ring_read(&d, buf, sizeof buf), 0);
    assert_int_equal(vxs_ring_write(&d, "ab", 2), 0);
    free(page);
}

static void test_hostile_rsp_cons(void **state)
{
    (void)state;
    struct xenstore_domain_interface *page = page_new(7);
    struct vxs_ring d;
    vxs_ring_attach(&d, page, FEATURES);
    page->rsp_cons = 7 + 5; /* consumed bytes we never produced */
    assert_int_equal(vxs_ring_write(&d, "abc", 3), 0);
    assert_true(d.broken);
    assert_int_equal(page->error, XENSTORE_ERROR_RINGIDX);
    free(page);
}

static void test_attach_checks_indexes(void **state)
{
    (void)state;
    struct xenstore_domain_interface *page = page_new(0);
    page->req_prod = 0x80000000u;
    struct vxs_ring d;
    vxs_ring_attach(&d, page, FEATURES);
    assert_true(d.broken);
    free(page);
}

/* After a daemon restart the page's indexes are adopted: what was answered is not read
 * again, what was not is. */
static void test_reattach_adopts_indexes(void **state)
{
    (void)state;
    struct xenstore_domain_interface *page = page_new(40);
    struct vxs_ring d;
    vxs_ring_attach(&d, page, FEATURES);
    memcpy(page->req + MASK_XENSTORE_IDX(40), "hello", 5);
    page->req_prod = 45;
    uint8_t buf[16];
    assert_int_equal(vxs_ring_read(&d, buf, 3), 3);
    vxs_ring_hold(&d, 43, 7);
    vxs_ring_release(&d, 8, false);
    struct vxs_ring again;
    vxs_ring_attach(&again, page, FEATURES);
    assert_int_equal(vxs_ring_read(&again, buf, sizeof buf), 2);
    assert_memory_equal(buf, "lo", 2);
    free(page);
}

/* Two requests from our guest's side, the daemon killed after answering the first only: the
 * restarted daemon reads the second again (marked as a possible replay), and a request the
 * guest writes after the restart is not a replay. */
static void test_unanswered_request_survives_restart(void **state)
{
    (void)state;
    struct xenstore_domain_interface *page = page_new(0xFFFFFFF0u); /* wraps at 2^32 */
    struct xenbus_ring g;
    xenbus_ring_init(&g, page);
    struct xsd_sockmsg a = {.type = XS_WRITE, .req_id = 1, .len = 4};
    struct xsd_sockmsg b = {.type = XS_RM, .req_id = 2, .len = 3};
    assert_int_equal(xenbus_ring_write(&g, &a, sizeof a), sizeof a);
    assert_int_equal(xenbus_ring_write(&g, "a\0b\0", 4), 4);
    assert_int_equal(xenbus_ring_write(&g, &b, sizeof b), sizeof b);
    assert_int_equal(xenbus_ring_write(&g, "/x\0", 3), 3);
    XENSTORE_RING_IDX start = 0xFFFFFFF0u, end_a = start + 20, end_b = end_a + 19;

    struct vxs_ring d;
    vxs_ring_attach(&d, page, FEATURES);
    uint8_t buf[SZ];
    assert_int_equal(vxs_ring_read(&d, buf, sizeof buf), 39);
    assert_true(vxs_ring_replayed(&d, start));   /* it was in req[] at attach */
    vxs_ring_hold(&d, end_a, 1);                 /* reply 1 answers a */
    vxs_ring_hold(&d, end_b, 2);                 /* reply 2 answers b */
    assert_int_equal(page->req_cons, start);     /* nothing answered yet */
    assert_int_equal(vxs_ring_write(&d, "reply-a", 7), 7);
    assert_true(vxs_ring_release(&d, 2, false)); /* reply 1 left, reply 2 did not */
    assert_int_equal(page->req_cons, end_a);
    /* SIGKILL here: reply 2 was never written. */

    struct vxs_ring again;
    vxs_ring_attach(&again, page, FEATURES);
    assert_int_equal(vxs_ring_read(&again, buf, sizeof buf), 19);
    assert_memory_equal(buf, &b, sizeof b);
    assert_memory_equal(buf + sizeof b, "/x\0", 3);
    assert_true(vxs_ring_replayed(&again, end_a));
    /* The guest sends another request after the restart: not a replay. */
    assert_int_equal(xenbus_ring_write(&g, &a, sizeof a), sizeof a);
    assert_false(vxs_ring_replayed(&again, end_b));
    assert_int_equal(vxs_ring_read(&again, buf, sizeof buf), sizeof a);
    /* Output numbered 1 (the replayed reply) is still queued: nothing is consumed. */
    vxs_ring_hold(&again, end_b, 1);
    assert_false(vxs_ring_release(&again, 1, true));
    assert_int_equal(page->req_cons, end_a);
    assert_true(vxs_ring_release(&again, 2, true));
    assert_int_equal(page->req_cons, end_b);
    /* The reply the guest gets after the restart is the first one after reply-a. */
    uint8_t back[16];
    bool full;
    assert_int_equal(xenbus_ring_read(&g, back, sizeof back, &full), 7);
    free(page);
}

/* A request larger than req[] cannot wait in it whole: once req[] is full of it and nothing
 * before it is held, its head is consumed so that the guest can write the rest. */
static void test_request_larger_than_ring(void **state)
{
    (void)state;
    struct xenstore_domain_interface *page = page_new(5);
    struct vxs_ring d;
    vxs_ring_attach(&d, page, FEATURES);
    uint8_t buf[SZ];
    page->req_prod = 5 + 100;
    assert_int_equal(vxs_ring_read(&d, buf, sizeof buf), 100);
    vxs_ring_hold(&d, 5 + 40, 3); /* a small request, then the head of a big one */
    page->req_prod = 5 + SZ;      /* req[] full */
    assert_int_equal(vxs_ring_read(&d, buf, sizeof buf), SZ - 100);
    /* The small one's reply has not left: nothing moves, even though req[] is full. */
    assert_false(vxs_ring_release(&d, 3, true));
    assert_int_equal(page->req_cons, 5);
    /* It left: the small one is consumed; the big one's head is not, as the guest now has
     * room to write more of it. */
    assert_true(vxs_ring_release(&d, 4, true));
    assert_int_equal(page->req_cons, 5 + 40);
    /* Not full: the partial request stays held. */
    page->req_prod = 5 + SZ + 10;
    assert_int_equal(vxs_ring_read(&d, buf, sizeof buf), 10);
    assert_false(vxs_ring_release(&d, 4, true));
    assert_int_equal(page->req_cons, 5 + 40);
    /* Full of it again: its head goes. */
    page->req_prod = 5 + 40 + SZ;
    assert_int_equal(vxs_ring_read(&d, buf, sizeof buf), 30);
    assert_true(vxs_ring_release(&d, 4, true));
    assert_int_equal(page->req_cons, 5 + 40 + SZ);
    assert_false(d.broken);
    free(page);
}

/* The guest moves req_prod back behind bytes we have read: broken, nothing is read again. */
static void test_hostile_req_prod_backwards(void **state)
{
    (void)state;
    struct xenstore_domain_interface *page = page_new(0);
    struct vxs_ring d;
    vxs_ring_attach(&d, page, FEATURES);
    page->req_prod = 50;
    uint8_t buf[SZ];
    assert_int_equal(vxs_ring_read(&d, buf, sizeof buf), 50);
    page->req_prod = 20;
    assert_int_equal(vxs_ring_read(&d, buf, sizeof buf), 0);
    assert_true(d.broken);
    assert_int_equal(page->error, XENSTORE_ERROR_RINGIDX);
    /* A hold outside what was read is ignored, a release of a broken ring does nothing. */
    vxs_ring_hold(&d, 5000, 1);
    assert_false(vxs_ring_release(&d, 10, true));
    assert_int_equal(page->req_cons, 0);
    free(page);
}

static void test_reconnect(void **state)
{
    (void)state;
    struct xenstore_domain_interface *page = page_new(3);
    struct vxs_ring d;
    vxs_ring_attach(&d, page, FEATURES);
    page->req_prod = SZ * 5; /* nonsense, then the guest asks for a fresh start */
    uint8_t buf[8];
    vxs_ring_read(&d, buf, sizeof buf);
    assert_true(d.broken);
    assert_false(vxs_ring_reconnect_requested(&d));
    page->connection = XENSTORE_RECONNECT;
    assert_true(vxs_ring_reconnect_requested(&d));
    vxs_ring_reset(&d);
    assert_false(d.broken);
    assert_int_equal(page->connection, XENSTORE_CONNECTED);
    assert_int_equal(page->error, XENSTORE_ERROR_NONE);
    assert_int_equal(page->req_cons, 0);
    assert_int_equal(page->req_prod, 0);
    assert_int_equal(page->rsp_prod, 0);
    assert_int_equal(vxs_ring_write(&d, "ok", 2), 2);
    free(page);
}

/* The replay window's commits found at restart (vxs_replay_done.c feeds them): a request
 * committed is DONE (same position, same type), one before a committed one NO_EFFECT, the
 * others AGAIN; positions outside the window are refused (the caller's walk stops there);
 * all of it across the 2^32 wrap; a reconnection forgets them. */
static void test_replay_done_list(void **state)
{
    (void)state;
    XENSTORE_RING_IDX start = 0xFFFFFFE0u; /* the window wraps at 2^32 */
    struct xenstore_domain_interface *page = page_new(start);
    page->req_prod = start + 100; /* 100 bytes of requests in req[] at attach */
    struct vxs_ring d;
    vxs_ring_attach(&d, page, FEATURES);
    struct vxs_replay_window *w = &d.replay;
    XENSTORE_RING_IDX r1 = start, r2 = start + 20, r3 = start + 40, r4 = start + 70;
    /* The walk goes newest first: r3's WRITE, then r2's RM, then a commit before the window. */
    assert_true(vxs_replay_note_done(w, r3, XS_WRITE));
    assert_true(vxs_replay_note_done(w, r2, XS_RM));
    assert_true(vxs_replay_note_done(w, r2, XS_RM)); /* seen twice: noted once */
    assert_int_equal(w->ndone, 2);
    assert_false(vxs_replay_note_done(w, start - 20, XS_WRITE));
    assert_false(vxs_replay_note_done(w, start + 100, XS_WRITE)); /* past what req[] held */
    assert_int_equal(vxs_replay_kind(w, r3, XS_WRITE), VXS_REPLAY_DONE);
    assert_int_equal(vxs_replay_kind(w, r2, XS_RM), VXS_REPLAY_DONE);
    assert_int_equal(vxs_replay_kind(w, r2, XS_WRITE), VXS_REPLAY_AGAIN);
    assert_int_equal(vxs_replay_kind(w, r1, XS_MKDIR), VXS_REPLAY_NO_EFFECT);
    assert_int_equal(vxs_replay_kind(w, r4, XS_WRITE), VXS_REPLAY_AGAIN);
    assert_int_equal(vxs_replay_kind(w, start + 100, XS_WRITE), VXS_REPLAY_AGAIN);
    /* At most VXS_RING_HELD are kept (more requests cannot be in req[]). */
    for (XENSTORE_RING_IDX k = 0; k < 2 * VXS_RING_HELD; k++)
        vxs_replay_note_done(w, start + k % 100, XS_WRITE);
    assert_int_equal(w->ndone, VXS_RING_HELD);
    assert_true(w->lost);
    page->connection = XENSTORE_RECONNECT;
    vxs_ring_reset(&d);
    assert_int_equal(w->ndone, 0);
    assert_false(w->lost || w->complete);
    assert_false(vxs_ring_replayed(&d, 0));
    assert_int_equal(vxs_replay_kind(w, 0, XS_WRITE), VXS_REPLAY_AGAIN);
    free(page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_with_guest),
        cmocka_unit_test(test_full_and_empty),
        cmocka_unit_test(test_hostile_req_prod),
        cmocka_unit_test(test_hostile_rsp_cons),
        cmocka_unit_test(test_attach_checks_indexes),
        cmocka_unit_test(test_reattach_adopts_indexes),
        cmocka_unit_test(test_reconnect),
        cmocka_unit_test(test_unanswered_request_survives_restart),
        cmocka_unit_test(test_request_larger_than_ring),
        cmocka_unit_test(test_hostile_req_prod_backwards),
        cmocka_unit_test(test_replay_done_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
