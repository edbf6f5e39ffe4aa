/*
 * vxenstored's side of the xenstore ring (xenstore/vxs_ring.c): against our guest's side
 * (xen/xenbus_ring.c) sharing one page, with indexes that do not start at zero and wrap; and
 * against a hostile guest that publishes impossible indexes (the ring breaks, the error field
 * says RINGIDX, nothing is read or written out of bounds) or asks for a reconnection.
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
        got += vxs_ring_read(&d, dst + got, (size_t)(rand() % 1500) + 1, &full);
        if (echoed < got)
            echoed += vxs_ring_write(&d, dst + echoed, got - echoed);
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
    bool full;
    assert_int_equal(vxs_ring_avail(&d), 0);
    assert_int_equal(vxs_ring_read(&d, buf, sizeof buf, &full), 0);
    /* The guest fills req[] completely: we see it was full (it may wait: notify). */
    page->req_prod += SZ;
    assert_int_equal(vxs_ring_read(&d, buf, sizeof buf, &full), SZ);
    assert_true(full);
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
    bool full;
    assert_int_equal(vxs_ring_read(&d, buf, sizeof buf, &full), 0);
    assert_true(d.broken);
    assert_int_equal(page->error, XENSTORE_ERROR_RINGIDX);
    /* Broken stays broken: nothing more is read or written. */
    page->req_prod = 5;
    assert_int_equal(vxs_ring_read(&d, buf, sizeof buf, &full), 0);
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

/* After a daemon restart the page's indexes are adopted: nothing is read twice. */
static void test_reattach_adopts_indexes(void **state)
{
    (void)state;
    struct xenstore_domain_interface *page = page_new(40);
    struct vxs_ring d;
    vxs_ring_attach(&d, page, FEATURES);
    memcpy(page->req + MASK_XENSTORE_IDX(40), "hello", 5);
    page->req_prod = 45;
    uint8_t buf[16];
    bool full;
    assert_int_equal(vxs_ring_read(&d, buf, 3, &full), 3);
    struct vxs_ring again;
    vxs_ring_attach(&again, page, FEATURES);
    assert_int_equal(vxs_ring_read(&again, buf, sizeof buf, &full), 2);
    assert_memory_equal(buf, "lo", 2);
    free(page);
}

static void test_reconnect(void **state)
{
    (void)state;
    struct xenstore_domain_interface *page = page_new(3);
    struct vxs_ring d;
    vxs_ring_attach(&d, page, FEATURES);
    page->req_prod = SZ * 5; /* nonsense, then the guest asks for a fresh start */
    bool full;
    uint8_t buf[8];
    vxs_ring_read(&d, buf, sizeof buf, &full);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
