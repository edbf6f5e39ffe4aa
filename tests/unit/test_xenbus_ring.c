/*
 * The guest side of the xenstore ring (xen/xenbus_ring.c) against a simulated daemon:
 * indexes that do not start at zero, wrap of the 1 KiB arrays and of the 32-bit indexes,
 * full and empty queues, a stream pushed through both queues in random pieces, and a
 * hostile daemon that publishes impossible indexes or scribbles over ours.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xen/xenbus_ring.h"

#define SZ XENSTORE_RING_SIZE

static struct xenstore_domain_interface *page_new(XENSTORE_RING_IDX req, XENSTORE_RING_IDX rsp)
{
    struct xenstore_domain_interface *i = calloc(1, sizeof(*i));
    i->req_cons = i->req_prod = req;
    i->rsp_cons = i->rsp_prod = rsp;
    return i;
}

/* The daemon's halves. */
static size_t daemon_take(struct xenstore_domain_interface *i, uint8_t *out, size_t max)
{
    size_t n = 0;
    while (i->req_cons != i->req_prod && n < max)
        out[n++] = (uint8_t)i->req[MASK_XENSTORE_IDX(i->req_cons++)];
    return n;
}

static size_t daemon_put(struct xenstore_domain_interface *i, const uint8_t *in, size_t len)
{
    size_t n = 0;
    while (n < len && i->rsp_prod - i->rsp_cons < SZ)
        i->rsp[MASK_XENSTORE_IDX(i->rsp_prod++)] = (char)in[n++];
    return n;
}

static void test_init_adopts_indexes(void **state)
{
    (void)state;
    struct xenstore_domain_interface *i = page_new(1000, 77);
    struct xenbus_ring r;
    xenbus_ring_init(&r, i);
    assert_false(r.broken);
    assert_int_equal(r.req_prod, 1000);
    assert_int_equal(r.rsp_cons, 77);
    assert_int_equal(xenbus_ring_space(&r), SZ);
    assert_int_equal(xenbus_ring_avail(&r), 0);
    free(i);
}

static void test_write_read_wrap(void **state)
{
    (void)state;
    /* Indexes just below 2^32 and not aligned to the array: both wraps happen. */
    struct xenstore_domain_interface *i = page_new(UINT32_MAX - 300, UINT32_MAX - 10);
    struct xenbus_ring r;
    uint8_t data[SZ], got[SZ];
    bool full;

    for (size_t k = 0; k < SZ; k++)
        data[k] = (uint8_t)(k * 7 + 3);
    xenbus_ring_init(&r, i);
    assert_int_equal(xenbus_ring_write(&r, data, 700), 700);
    assert_int_equal(i->req_prod, (XENSTORE_RING_IDX)(UINT32_MAX - 300 + 700));
    assert_int_equal(xenbus_ring_space(&r), SZ - 700);
    /* Only the room that is left is taken. */
    assert_int_equal(xenbus_ring_write(&r, data + 700, 500), SZ - 700);
    assert_int_equal(xenbus_ring_space(&r), 0);
    assert_int_equal(xenbus_ring_write(&r, data, 1), 0);
    assert_int_equal(daemon_take(i, got, SZ), SZ);
    assert_memory_equal(got, data, SZ);
    assert_int_equal(xenbus_ring_space(&r), SZ);

    assert_int_equal(daemon_put(i, data, SZ), SZ);
    assert_int_equal(xenbus_ring_avail(&r), SZ);
    assert_int_equal(xenbus_ring_read(&r, got, 100, &full), 100);
    assert_true(full);
    assert_int_equal(xenbus_ring_read(&r, got + 100, SZ, &full), SZ - 100);
    assert_false(full);
    assert_memory_equal(got, data, SZ);
    assert_int_equal(i->rsp_cons, i->rsp_prod);
    assert_int_equal(xenbus_ring_read(&r, got, SZ, &full), 0);
    free(i);
}

static void test_random_stream(void **state)
{
    (void)state;
    struct xenstore_domain_interface *i = page_new(12345, 4000000000u);
    struct xenbus_ring r;
    enum { TOTAL = 200000 };
    uint8_t *src = malloc(TOTAL), *mid = malloc(TOTAL), *dst = malloc(TOTAL);
    size_t sent = 0, relayed = 0, relay_out = 0, received = 0, taken = 0;
    unsigned seed = 7;
    bool full;

    for (size_t k = 0; k < TOTAL; k++)
        src[k] = (uint8_t)(k ^ (k >> 8));
    xenbus_ring_init(&r, i);
    /* Guest -> daemon -> (echo) -> guest, in random pieces. */
    while (received < TOTAL) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 8) % 1500;
        if (sent < TOTAL)
            sent += xenbus_ring_write(&r, src + sent, n < TOTAL - sent ? n : TOTAL - sent);
        seed = seed * 1103515245u + 12345u;
        taken = daemon_take(i, mid + relayed, 1 + (seed >> 8) % 1500);
        relayed += taken;
        relay_out += daemon_put(i, mid + relay_out, relayed - relay_out);
        seed = seed * 1103515245u + 12345u;
        received += xenbus_ring_read(&r, dst + received, 1 + (seed >> 8) % 1500, &full);
        assert_false(r.broken);
    }
    assert_memory_equal(src, dst, TOTAL);
    free(src);
    free(mid);
    free(dst);
    free(i);
}

static void test_hostile_req_cons(void **state)
{
    (void)state;
    struct xenstore_domain_interface *i = page_new(0, 0);
    struct xenbus_ring r;
    xenbus_ring_init(&r, i);
    assert_int_equal(xenbus_ring_write(&r, "abc", 3), 3);
    /* The daemon claims to have consumed bytes we never wrote. */
    i->req_cons = 10;
    assert_int_equal(xenbus_ring_write(&r, "d", 1), 0);
    assert_true(r.broken);
    /* Once broken, nothing is used, even if the index looks fine again. */
    i->req_cons = 3;
    assert_int_equal(xenbus_ring_space(&r), 0);
    assert_int_equal(xenbus_ring_avail(&r), 0);
    free(i);
}

static void test_hostile_rsp_prod(void **state)
{
    (void)state;
    struct xenstore_domain_interface *i = page_new(0, 500);
    struct xenbus_ring r;
    char buf[SZ * 2];
    bool full;
    xenbus_ring_init(&r, i);
    i->rsp_prod = 500 + SZ + 1; /* more than a ring's worth outstanding */
    assert_int_equal(xenbus_ring_read(&r, buf, sizeof(buf), &full), 0);
    assert_true(r.broken);
    assert_int_equal(i->rsp_cons, 500);
    /* Behind our consumer: also impossible (the difference wraps to a huge number). */
    i->rsp_prod = 499;
    xenbus_ring_resync(&r);
    assert_true(r.broken);
    free(i);
}

static void test_our_indexes_are_not_read_back(void **state)
{
    (void)state;
    struct xenstore_domain_interface *i = page_new(0, 0);
    struct xenbus_ring r;
    uint8_t got[8];
    bool full;
    xenbus_ring_init(&r, i);
    assert_int_equal(xenbus_ring_write(&r, "abcd", 4), 4);
    /* The daemon scribbles over our producer index: we keep our own count. */
    i->req_prod = 9999;
    assert_int_equal(xenbus_ring_write(&r, "ef", 2), 2);
    assert_int_equal(i->req_prod, 6);
    assert_int_equal(daemon_take(i, got, 8), 6);
    assert_memory_equal(got, "abcdef", 6);
    /* Same for our consumer index. */
    daemon_put(i, (const uint8_t *)"xyz", 3);
    i->rsp_cons = 2;
    assert_int_equal(xenbus_ring_read(&r, got, 8, &full), 3);
    assert_memory_equal(got, "xyz", 3);
    free(i);
}

static void test_broken_at_init_and_resync(void **state)
{
    (void)state;
    struct xenstore_domain_interface *i = page_new(0, 0);
    struct xenbus_ring r;
    i->req_cons = 5000; /* garbage left on the page */
    xenbus_ring_init(&r, i);
    assert_true(r.broken);
    /* The daemon resets the ring (reconnection): indexes made consistent again. */
    i->req_cons = i->req_prod = 0;
    i->rsp_cons = i->rsp_prod = 0;
    xenbus_ring_resync(&r);
    assert_false(r.broken);
    assert_int_equal(xenbus_ring_write(&r, "ok", 2), 2);
    free(i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_adopts_indexes),
        cmocka_unit_test(test_write_read_wrap),
        cmocka_unit_test(test_random_stream),
        cmocka_unit_test(test_hostile_req_cons),
        cmocka_unit_test(test_hostile_rsp_prod),
        cmocka_unit_test(test_our_indexes_are_not_read_back),
        cmocka_unit_test(test_broken_at_init_and_resync),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
