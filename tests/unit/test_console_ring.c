/*
 * The PV console output ring (xen/console_ring.c) against a simulated backend: wrap-around of
 * the ring and of the 32-bit indexes, output far longer than the ring, CR/LF translation split
 * across a full ring, a backend that stalls, and a hostile backend that publishes impossible
 * consumer indexes (ASan checks that nothing is written out of bounds).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xen/console_ring.h"

#define RING_SIZE sizeof(((struct xencons_interface *)0)->out)

struct backend {
    struct xencons_interface *intf;
    char *sink;           /* everything consumed, in order */
    size_t sink_len, sink_cap;
    unsigned notifies, waits;
    unsigned max_waits;   /* give up after this many waits (0: never) */
    size_t per_wait;      /* bytes consumed per wait (0: a random amount) */
    unsigned seed;
};

static void consume(struct backend *b, size_t max)
{
    struct xencons_interface *i = b->intf;
    while (i->out_cons != i->out_prod && max-- > 0) {
        assert_true(b->sink_len < b->sink_cap);
        b->sink[b->sink_len++] = i->out[MASK_XENCONS_IDX(i->out_cons, i->out)];
        i->out_cons++;
    }
}

static void be_notify(void *ctx)
{
    ((struct backend *)ctx)->notifies++;
}

static bool be_wait(void *ctx)
{
    struct backend *b = ctx;
    b->waits++;
    if (b->max_waits && b->waits > b->max_waits)
        return false;
    size_t n = b->per_wait;
    if (n == 0) {
        b->seed = b->seed * 1103515245u + 12345u;
        n = 1 + (b->seed >> 8) % RING_SIZE;
    }
    consume(b, n);
    return true;
}

static struct backend *backend_new(size_t cap, XENCONS_RING_IDX start)
{
    struct backend *b = calloc(1, sizeof(*b));
    b->intf = calloc(1, sizeof(*b->intf));
    b->intf->out_cons = b->intf->out_prod = start;
    b->sink = malloc(cap);
    b->sink_cap = cap;
    b->seed = 42;
    return b;
}

static void backend_free(struct backend *b)
{
    free(b->sink);
    free(b->intf);
    free(b);
}

static void test_small_write_fits(void **state)
{
    (void)state;
    struct backend *b = backend_new(64, 0);
    struct console_ring r;
    console_ring_init(&r, b->intf, false);

    assert_int_equal(console_ring_write(&r, "hello", 5), 5);
    assert_int_equal(b->intf->out_prod, 5);
    assert_int_equal(console_ring_unconsumed(&r), 5);
    consume(b, 100);
    assert_memory_equal(b->sink, "hello", 5);
    assert_int_equal(console_ring_unconsumed(&r), 0);
    backend_free(b);
}

static void test_full_ring_stops(void **state)
{
    (void)state;
    struct backend *b = backend_new(4 * RING_SIZE, 0);
    struct console_ring r;
    console_ring_init(&r, b->intf, false);
    char buf[RING_SIZE + 100];
    memset(buf, 'x', sizeof(buf));

    assert_int_equal(console_ring_write(&r, buf, sizeof(buf)), RING_SIZE);
    assert_int_equal(console_ring_write(&r, buf, 10), 0);
    consume(b, 7);
    assert_int_equal(console_ring_write(&r, buf, 10), 7);
    backend_free(b);
}

/* 64 KiB through a 2 KiB ring, with the 32-bit indexes wrapping on the way. */
static void check_long_output(XENCONS_RING_IDX start, size_t per_wait)
{
    const size_t len = 64 * 1024 + 17;
    char *buf = malloc(len);
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)('A' + (i * 7 + i / 91) % 26);

    struct backend *b = backend_new(len, start);
    b->per_wait = per_wait;
    struct console_ring r;
    console_ring_init(&r, b->intf, false);
    const struct console_ring_ops ops = { be_notify, be_wait, b };

    assert_int_equal(console_ring_write_all(&r, buf, len, &ops), len);
    consume(b, SIZE_MAX);
    assert_int_equal(b->sink_len, len);
    assert_memory_equal(b->sink, buf, len);
    assert_true(b->waits > 0);
    assert_true(b->notifies > 0);
    backend_free(b);
    free(buf);
}

static void test_long_output_in_order(void **state)
{
    (void)state;
    check_long_output(0, 0);
    check_long_output(0, 1);
    check_long_output(0, RING_SIZE);
}

static void test_index_wraparound(void **state)
{
    (void)state;
    check_long_output(UINT32_MAX - 5, 0);
    check_long_output(UINT32_MAX - RING_SIZE + 3, 333);
}

static void test_crlf_translation(void **state)
{
    (void)state;
    struct backend *b = backend_new(64, 0);
    struct console_ring r;
    console_ring_init(&r, b->intf, true);

    assert_int_equal(console_ring_write(&r, "a\nb\n", 4), 4);
    consume(b, 100);
    assert_int_equal(b->sink_len, 6);
    assert_memory_equal(b->sink, "a\r\nb\r\n", 6);
    backend_free(b);
}

/* The "\r" fills the ring's last byte; the "\n" must follow once there is room, exactly once. */
static void test_crlf_split_at_full_ring(void **state)
{
    (void)state;
    struct backend *b = backend_new(2 * RING_SIZE + 8, 0);
    struct console_ring r;
    console_ring_init(&r, b->intf, true);
    char fill[RING_SIZE - 1];
    memset(fill, '.', sizeof(fill));

    assert_int_equal(console_ring_write(&r, fill, sizeof(fill)), sizeof(fill));
    assert_int_equal(console_ring_write(&r, "\nz", 2), 0); /* only "\r" fitted */
    consume(b, SIZE_MAX);
    assert_int_equal(console_ring_write(&r, "\nz", 2), 2);
    consume(b, SIZE_MAX);
    assert_int_equal(b->sink_len, sizeof(fill) + 3);
    assert_memory_equal(b->sink + sizeof(fill), "\r\nz", 3);
    backend_free(b);
}

static void test_wait_gives_up(void **state)
{
    (void)state;
    struct backend *b = backend_new(4 * RING_SIZE, 0);
    b->per_wait = 0;
    b->max_waits = 1;
    b->per_wait = 10;
    struct console_ring r;
    console_ring_init(&r, b->intf, false);
    const struct console_ring_ops ops = { be_notify, be_wait, b };
    char buf[3 * RING_SIZE];
    memset(buf, 'q', sizeof(buf));

    size_t n = console_ring_write_all(&r, buf, sizeof(buf), &ops);
    assert_int_equal(n, RING_SIZE + 10);
    assert_false(r.broken);
    backend_free(b);
}

/* A backend that moves out_cons past out_prod (or anywhere impossible) breaks the ring: no
 * write happens, write_all returns instead of looping, and unconsumed reports nothing. */
static void test_hostile_consumer_index(void **state)
{
    (void)state;
    const XENCONS_RING_IDX bad[] = { 1, RING_SIZE + 1, 0x80000000u, UINT32_MAX - RING_SIZE };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        struct backend *b = backend_new(16, 100);
        struct console_ring r;
        console_ring_init(&r, b->intf, false);
        const struct console_ring_ops ops = { be_notify, be_wait, b };

        b->intf->out_cons = 100 + bad[k]; /* cons ahead of prod */
        assert_int_equal(console_ring_write(&r, "abc", 3), 0);
        assert_true(r.broken);
        assert_int_equal(b->intf->out_prod, 100);
        assert_int_equal(console_ring_write_all(&r, "abc", 3, &ops), 0);
        assert_int_equal(console_ring_unconsumed(&r), 0);
        backend_free(b);
    }
}

/* Random hostile indexes between writes: whatever the backend does, every store stays inside
 * out[] (ASan would catch an overflow of the heap-allocated interface). */
static void test_random_hostile_indexes(void **state)
{
    (void)state;
    struct backend *b = backend_new(16, 0);
    unsigned seed = 7;
    for (int round = 0; round < 2000; round++) {
        struct console_ring r;
        console_ring_init(&r, b->intf, round & 1);
        seed = seed * 1103515245u + 12345u;
        b->intf->out_cons = seed;
        seed = seed * 1103515245u + 12345u;
        b->intf->out_prod = (round % 3) ? seed : b->intf->out_cons + (seed % (RING_SIZE + 1));
        size_t n = console_ring_write(&r, "0123456789\n", 11);
        assert_true(n <= 11);
        if (r.broken)
            assert_int_equal(n, 0);
    }
    backend_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_write_fits),
        cmocka_unit_test(test_full_ring_stops),
        cmocka_unit_test(test_long_output_in_order),
        cmocka_unit_test(test_index_wraparound),
        cmocka_unit_test(test_crlf_translation),
        cmocka_unit_test(test_crlf_split_at_full_ring),
        cmocka_unit_test(test_wait_gives_up),
        cmocka_unit_test(test_hostile_consumer_index),
        cmocka_unit_test(test_random_hostile_indexes),
    };
    return cmocka_run_group_tests_name("console_ring", tests, NULL, NULL);
}
