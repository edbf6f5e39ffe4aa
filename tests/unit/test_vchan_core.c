/*
 * The vchan protocol core (vchan/vchan_core.c) with two endpoints sharing memory in one
 * process: every valid order pair, wrap-around of the rings and of the 32-bit indexes,
 * partial reads and writes, packets vs streams, close with data in flight (nothing lost),
 * the notify and liveness bytes, and a hostile peer (impossible indexes, liveness values and
 * orders; ASan checks that nothing is accessed out of bounds).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vchan/vchan_core.h"

struct pair {
    volatile struct vchan_interface *ctrl;
    void *left, *right;
    struct vchan_core srv, cli;
    unsigned srv_kicks, cli_kicks;      /* notifications sent by the server / client */
    uint32_t srv_kick_prod;             /* right.prod when the server last kicked */
    uint8_t *drain;                     /* non-NULL: each server kick makes the client read
                                         * everything into drain + drained and ask again */
    size_t drained;
    const uint8_t *refill;              /* non-NULL: each client kick makes the server write
                                         * what fits from refill + refilled (up to refill_end)
                                         * and ask again */
    size_t refilled, refill_end;
};

static void srv_notify(void *ctx)
{
    struct pair *p = ctx;
    p->srv_kicks++;
    p->srv_kick_prod = p->ctrl->right.prod;
    if (p->drain) {
        long k = vchan_read(&p->cli, p->drain + p->drained, 1u << 20);
        assert_true(k > 0);
        p->drained += (size_t)k;
        assert_false(vchan_arm_read(&p->cli, 1));
    }
}
static void cli_notify(void *ctx)
{
    struct pair *p = ctx;
    p->cli_kicks++;
    if (p->refill && p->refilled < p->refill_end) {
        long k = vchan_write(&p->srv, p->refill + p->refilled, p->refill_end - p->refilled);
        assert_true(k > 0);
        p->refilled += (size_t)k;
        (void)vchan_arm_write(&p->srv, vchan_write_size(&p->srv));
    }
}

static void *ring_mem(unsigned order)
{
    if (order < 12)
        return NULL;
    void *p = aligned_alloc(4096, (size_t)1 << order);
    assert_non_null(p);
    memset(p, 0xAA, (size_t)1 << order);
    return p;
}

static void pair_open(struct pair *p, unsigned lo, unsigned ro)
{
    memset(p, 0, sizeof(*p));
    p->ctrl = aligned_alloc(4096, 4096);
    assert_non_null((void *)p->ctrl);
    memset((void *)p->ctrl, 0x55, 4096);
    p->left = ring_mem(lo);
    p->right = ring_mem(ro);
    assert_int_equal(vchan_server_init(&p->srv, p->ctrl, lo, ro, p->left, p->right, srv_notify, p), 0);
    assert_int_equal(p->ctrl->srv_live, 1);
    assert_int_equal(p->ctrl->cli_live, 2);
    assert_int_equal(p->ctrl->cli_notify, VCHAN_NOTIFY_WRITE);
    assert_int_equal(p->ctrl->srv_notify, 0);
    unsigned l, r;
    assert_int_equal(vchan_client_orders(p->ctrl, &l, &r), 0);
    assert_int_equal(l, lo);
    assert_int_equal(r, ro);
    assert_int_equal(vchan_client_init(&p->cli, p->ctrl, l, r, p->left, p->right, cli_notify, p), 0);
    vchan_client_connect(&p->cli);
    assert_int_equal(p->ctrl->cli_live, 1);
    assert_int_equal(p->cli_kicks, 1);
}

static void pair_free(struct pair *p)
{
    free((void *)p->ctrl);
    free(p->left);
    free(p->right);
}

static uint32_t rng(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Stream `total` bytes from `w` to `r` in random pieces, checking the contents. */
static void stream(struct vchan_core *w, struct vchan_core *r, size_t total, uint32_t seed)
{
    size_t cap = 3u << 20;
    uint8_t *src = malloc(cap), *dst = malloc(cap);
    assert_true(total <= cap);
    uint32_t s = seed | 1;
    for (size_t i = 0; i < total; i++)
        src[i] = (uint8_t)rng(&s);
    size_t sent = 0, got = 0;
    while (got < total) {
        if (sent < total) {
            size_t n = 1 + rng(&s) % (w->wr.size + w->wr.size / 2);
            if (n > total - sent)
                n = total - sent;
            long k = vchan_write(w, src + sent, n);
            assert_true(k >= 0 && (size_t)k <= n);
            sent += (size_t)k;
        }
        size_t n = 1 + rng(&s) % (r->rd.size + 7);
        long k = vchan_read(r, dst + got, n);
        assert_true(k >= 0 && (size_t)k <= n);
        got += (size_t)k;
    }
    assert_memory_equal(src, dst, total);
    assert_int_equal(vchan_data_ready(r), 0);
    free(src);
    free(dst);
}

static void test_all_order_pairs(void **state)
{
    (void)state;
    unsigned tried = 0;
    for (unsigned lo = 10; lo <= 20; lo++) {
        for (unsigned ro = 10; ro <= 20; ro++) {
            if (vchan_check_orders(lo, ro) != 0)
                continue;
            struct pair p;
            pair_open(&p, lo, ro);
            size_t n = 3 * ((size_t)1 << (lo > ro ? lo : ro)) + 17;
            if (n > (3u << 20))
                n = 3u << 20;
            stream(&p.cli, &p.srv, n, lo * 31 + ro);                              /* left */
            stream(&p.srv, &p.cli, n, lo * 17 + ro);                            /* right */
            pair_free(&p);
            tried++;
        }
    }
    /* 11*11 pairs minus 10/10, 11/11, 10 with >= 12 beyond 250 grants (10/20) */
    assert_true(tried >= 110);
}

static void test_order_rules(void **state)
{
    (void)state;
    assert_int_equal(vchan_check_orders(10, 11), 0);
    assert_int_equal(vchan_check_orders(11, 10), 0);
    assert_int_equal(vchan_check_orders(10, 10), -EINVAL);
    assert_int_equal(vchan_check_orders(11, 11), -EINVAL);
    assert_int_equal(vchan_check_orders(9, 12), -EINVAL);
    assert_int_equal(vchan_check_orders(12, 21), -EINVAL);
    assert_int_equal(vchan_check_orders(10, 19), 0);     /* 128 grants below offset 1024 */
    assert_int_equal(vchan_check_orders(10, 20), -EINVAL); /* 256 grants reach offset 1024 */
    assert_int_equal(vchan_check_orders(11, 20), 0);
    assert_int_equal(vchan_check_orders(20, 20), 0);
    assert_int_equal(vchan_ring_pages(10), 0);
    assert_int_equal(vchan_ring_pages(12), 1);
    assert_int_equal(vchan_ring_pages(20), 256);
    assert_int_equal(vchan_inpage_offset(10), 1024);
    assert_int_equal(vchan_inpage_offset(11), 2048);

    unsigned l, r;
    assert_int_equal(vchan_select_orders(0, 0, &l, &r), 0);
    assert_int_equal(l * 100 + r, 1011);
    assert_int_equal(vchan_select_orders(1024, 2048, &l, &r), 0);
    assert_int_equal(l * 100 + r, 1011);
    assert_int_equal(vchan_select_orders(2048, 1024, &l, &r), 0);
    assert_int_equal(l * 100 + r, 1110);
    assert_int_equal(vchan_select_orders(2048, 4096, &l, &r), 0);
    assert_int_equal(l * 100 + r, 1112);
    assert_int_equal(vchan_select_orders(65536, 100, &l, &r), 0);
    assert_int_equal(l * 100 + r, 1611);
    assert_int_equal(vchan_select_orders(65537, 1 << 20, &l, &r), 0);
    assert_int_equal(l * 100 + r, 1720);
    assert_int_equal(vchan_select_orders((1 << 20) + 1, 0, &l, &r), -EINVAL);
}

/* Free-running indexes crossing 2^32, rings wrapping many times. */
static void test_index_wrap(void **state)
{
    (void)state;
    unsigned orders[][2] = { { 10, 11 }, { 12, 12 }, { 16, 13 } };
    for (unsigned i = 0; i < 3; i++) {
        struct pair p;
        pair_open(&p, orders[i][0], orders[i][1]);
        uint32_t x = 0xFFFFFFFFu - 100 - i * 1000;
        p.ctrl->left.cons = p.ctrl->left.prod = x;
        p.ctrl->right.cons = p.ctrl->right.prod = x + 5;
        p.srv.rd.own = x;          /* server reads left */
        p.cli.wr.own = x;
        p.srv.wr.own = x + 5;      /* server writes right */
        p.cli.rd.own = x + 5;
        stream(&p.cli, &p.srv, 200000, 7 + i);
        stream(&p.srv, &p.cli, 200000, 9 + i);
        assert_true(p.srv.rd.own < 1000000);   /* crossed 2^32 */
        pair_free(&p);
    }
}

static void test_partial(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, 12, 12);
    uint8_t buf[10000], out[10000];
    for (unsigned i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7);
    assert_int_equal(vchan_buffer_space(&p.cli), 4096);
    assert_int_equal(vchan_write(&p.cli, buf, 10000), 4096);   /* as much as fits */
    assert_int_equal(vchan_write(&p.cli, buf, 1), 0);          /* full */
    assert_int_equal(p.ctrl->srv_notify & VCHAN_NOTIFY_READ, VCHAN_NOTIFY_READ);
    assert_int_equal(vchan_data_ready(&p.srv), 4096);
    assert_int_equal(vchan_read(&p.srv, out, 100), 100);
    assert_int_equal(vchan_write_pending(&p.cli), 3996);
    assert_int_equal(vchan_read(&p.srv, out + 100, 5000), 3996);
    assert_memory_equal(buf, out, 4096);
    assert_int_equal(vchan_read(&p.srv, out, 10), 0);          /* empty */
    assert_int_equal(vchan_write_pending(&p.cli), 0);
    assert_int_equal(vchan_read(&p.srv, out, 0), 0);
    assert_int_equal(vchan_write(&p.cli, buf, 0), 0);
    pair_free(&p);
}

static void test_packets(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, 10, 11);      /* left 1 KiB, right 2 KiB */
    uint8_t buf[4096] = { 1, 2, 3 }, out[4096];
    assert_int_equal(vchan_send(&p.cli, buf, 1025), -EMSGSIZE);
    assert_int_equal(vchan_send(&p.cli, buf, 600), 600);
    assert_int_equal(vchan_send(&p.cli, buf, 600), 0);         /* does not fit: nothing */
    assert_int_equal(vchan_data_ready(&p.srv), 600);
    assert_int_equal(vchan_recv(&p.srv, out, 601), 0);         /* not all there: nothing */
    assert_int_equal(vchan_data_ready(&p.srv), 600);
    assert_int_equal(vchan_recv(&p.srv, out, 2049), -EMSGSIZE);
    assert_int_equal(vchan_recv(&p.srv, out, 600), 600);
    assert_memory_equal(buf, out, 600);
    assert_int_equal(vchan_send(&p.cli, buf, 1024), 1024);     /* a whole ring, wrapped */
    assert_int_equal(vchan_recv(&p.srv, out, 1024), 1024);
    assert_int_equal(vchan_send(&p.srv, buf, 2048), 2048);
    assert_int_equal(vchan_write(&p.srv, buf, 1), 0);
    assert_int_equal(vchan_recv(&p.cli, out, 2048), 2048);
    pair_free(&p);
}

/* Data written before a close is delivered; only then does read report the close. */
static void test_close_in_flight(void **state)
{
    (void)state;
    for (int who = 0; who < 2; who++) {
        struct pair p;
        pair_open(&p, 12, 16);
        struct vchan_core *w = who ? &p.srv : &p.cli, *r = who ? &p.cli : &p.srv;
        uint8_t buf[3000], out[3000];
        for (unsigned i = 0; i < sizeof(buf); i++)
            buf[i] = (uint8_t)(i ^ 0x5a);
        assert_int_equal(vchan_write(w, buf, 3000), 3000);
        unsigned kicks = p.srv_kicks + p.cli_kicks;
        vchan_close(w);
        assert_int_equal(p.srv_kicks + p.cli_kicks, kicks + 1);   /* close always notifies */
        vchan_close(w);                                           /* idempotent */
        assert_int_equal(p.srv_kicks + p.cli_kicks, kicks + 1);
        assert_false(vchan_is_open(r));
        assert_int_equal(vchan_peer_state(r), VCHAN_LIVE_CLOSED);
        assert_int_equal(vchan_recv(r, out, 3001), -ENOTCONN);    /* can never complete */
        assert_int_equal(vchan_read(r, out, 1000), 1000);
        assert_int_equal(vchan_recv(r, out + 1000, 2000), 2000);
        assert_memory_equal(buf, out, 3000);
        assert_int_equal(vchan_read(r, out, 1), -ENOTCONN);
        assert_int_equal(vchan_write(r, buf, 1), -ENOTCONN);
        assert_int_equal(vchan_write(w, buf, 1), -ENOTCONN);
        assert_int_equal(vchan_read(w, out, 1), -ENOTCONN);
        pair_free(&p);
    }
}

static void test_notify_rules(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, 12, 12);
    uint8_t b[64] = { 0 };
    /* The client asked for write notifications at connect: one server write kicks once
     * (plus the one kick when the server first sees the client connected). */
    assert_int_equal(p.ctrl->srv_notify, VCHAN_NOTIFY_WRITE);
    assert_int_equal(vchan_write(&p.srv, b, 10), 10);
    assert_int_equal(p.srv_kicks, 2);
    assert_int_equal(p.ctrl->srv_notify, 0);
    assert_int_equal(vchan_write(&p.srv, b, 10), 10);
    assert_int_equal(p.srv_kicks, 2);
    /* Reading without a request from the writer does not kick. */
    assert_int_equal(vchan_read(&p.cli, b, 64), 20);
    assert_int_equal(p.cli_kicks, 1);
    /* An empty read asks for a write notification. */
    assert_int_equal(vchan_read(&p.cli, b, 64), 0);
    assert_int_equal(p.ctrl->srv_notify, VCHAN_NOTIFY_WRITE);
    /* The server initialised cli_notify = WRITE: the client's first write kicks. */
    assert_int_equal(vchan_write(&p.cli, b, 5), 5);
    assert_int_equal(p.cli_kicks, 2);
    /* The connect kick happened once only. */
    unsigned k = p.srv_kicks;
    assert_true(vchan_is_open(&p.srv));
    assert_true(vchan_is_open(&p.srv));
    assert_int_equal(p.srv_kicks, k);
    /* arm: nothing to read -> request and report "sleep"; data -> "do not sleep". */
    assert_int_equal(vchan_read(&p.srv, b, 64), 5);
    p.ctrl->cli_notify = 0;
    assert_false(vchan_arm_read(&p.srv, 1));
    assert_int_equal(p.ctrl->cli_notify, VCHAN_NOTIFY_WRITE);
    assert_int_equal(vchan_write(&p.cli, b, 1), 1);
    assert_true(vchan_arm_read(&p.srv, 1));
    assert_true(vchan_arm_write(&p.srv, 4096));
    pair_free(&p);
}

/* A large write is published step by step: a reader that asked to be woken is kicked after
 * the first step (so it can copy while the writer copies the rest), once, and a large read
 * frees the ring step by step too. */
static void test_publish_steps(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, 16, 16);
    size_t n = 60000;
    uint8_t *src = malloc(n), *dst = malloc(n);
    for (size_t i = 0; i < n; i++)
        src[i] = (uint8_t)(i * 7 + 3);
    assert_int_equal(vchan_read(&p.cli, dst, n), 0);       /* asks for a write notification */
    assert_int_equal(p.ctrl->srv_notify, VCHAN_NOTIFY_WRITE);
    (void)vchan_is_open(&p.srv);                           /* the one connect kick */
    unsigned kicks = p.srv_kicks;
    assert_int_equal(vchan_write(&p.srv, src, n), (long)n);
    assert_int_equal(p.srv_kicks, kicks + 1);
    assert_true(p.srv_kick_prod > 0 && p.srv_kick_prod < n);
    assert_int_equal(p.ctrl->right.prod, n);
    /* The writer waits for room: the reader's first step kicks it. */
    assert_false(vchan_arm_write(&p.srv, 65536));
    assert_int_equal(p.ctrl->cli_notify & VCHAN_NOTIFY_READ, VCHAN_NOTIFY_READ);
    unsigned ck = p.cli_kicks;
    assert_int_equal(vchan_read(&p.cli, dst, n), (long)n);
    assert_int_equal(p.cli_kicks, ck + 1);
    assert_memory_equal(src, dst, n);
    free(src);
    free(dst);
    pair_free(&p);
}

/* A stream write goes on as long as the reader frees room while it copies: here the reader
 * (the client) drains the 1 KiB ring on every kick, and asks again, so one call writes 8 KiB
 * (a packet is never split: it waits for room). */
static void test_write_while_drained(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, 11, 10);
    size_t n = 8192;
    uint8_t *src = malloc(n), *dst = malloc(n + 1024);
    for (size_t i = 0; i < n; i++)
        src[i] = (uint8_t)(i * 13 + 1);
    (void)vchan_is_open(&p.srv);                           /* the one connect kick */
    assert_false(vchan_arm_read(&p.cli, 1));
    p.drain = dst;
    assert_int_equal(vchan_write(&p.srv, src, n), (long)n);
    assert_int_equal(p.drained, n);
    assert_memory_equal(src, dst, n);
    assert_int_equal(vchan_send(&p.srv, src, 1024), 1024);
    assert_int_equal(p.drained, n + 1024);
    p.drain = NULL;
    assert_int_equal(vchan_send(&p.srv, src, 1000), 1000);
    assert_int_equal(vchan_send(&p.srv, src, 100), 0);
    free(src);
    free(dst);
    pair_free(&p);
}

/* A stream read goes on while the writer keeps bringing data: the server fills the 2 KiB
 * ring and asks to hear when the client reads; the client's read of 8 KiB kicks it after
 * each ring's worth, the server writes more from the kick, and the read loads prod again and
 * takes it, all in one call. */
static void test_read_while_refilled(void **state)
{
    (void)state;
    struct pair p;
    pair_open(&p, 10, 11);
    size_t n = 8192;
    uint8_t *src = malloc(n), *dst = malloc(n);
    for (size_t i = 0; i < n; i++)
        src[i] = (uint8_t)(i * 29 + 5);
    assert_int_equal(vchan_write(&p.srv, src, n), 2048);
    assert_false(vchan_arm_write(&p.srv, 2048));
    assert_int_equal(p.ctrl->cli_notify & VCHAN_NOTIFY_READ, VCHAN_NOTIFY_READ);
    p.refill = src;
    p.refilled = 2048;
    p.refill_end = n;
    assert_int_equal(vchan_read(&p.cli, dst, n), (long)n);
    assert_memory_equal(src, dst, n);
    p.refill = NULL;
    free(src);
    free(dst);
    pair_free(&p);
}

/* A write that fits in the space known from the last load of cons looks at the peer's
 * liveness after publishing: a closed peer still makes it fail, a bad liveness byte breaks
 * the connection. A reader knows what it saw and left. */
static void test_write_known_space(void **state)
{
    (void)state;
    uint8_t b[100] = { 0 };
    struct pair p;
    pair_open(&p, 12, 12);
    assert_int_equal(vchan_write(&p.cli, b, 100), 100);     /* loads cons: 3996 known free */
    assert_int_equal(vchan_write(&p.cli, b, 100), 100);
    vchan_close(&p.srv);
    assert_int_equal(vchan_write(&p.cli, b, 100), -ENOTCONN);
    assert_int_equal(vchan_send(&p.cli, b, 100), -ENOTCONN);
    pair_free(&p);

    /* what a reader knows is left without loading prod again */
    pair_open(&p, 12, 12);
    assert_int_equal(vchan_read_known(&p.srv), 0);
    assert_int_equal(vchan_write(&p.cli, b, 100), 100);
    assert_int_equal(vchan_read_known(&p.srv), 0);           /* not looked yet */
    assert_int_equal(vchan_read(&p.srv, b, 30), 30);
    assert_int_equal(vchan_read_known(&p.srv), 70);
    assert_int_equal(vchan_write(&p.cli, b, 100), 100);
    assert_int_equal(vchan_read(&p.srv, b, 100), 100);        /* loads prod: 170 there */
    assert_int_equal(vchan_read_known(&p.srv), 70);
    assert_int_equal(vchan_recv(&p.srv, b, 70), 70);
    assert_int_equal(vchan_read_known(&p.srv), 0);
    pair_free(&p);

    pair_open(&p, 12, 12);
    assert_int_equal(vchan_send(&p.srv, b, 100), 100);
    p.ctrl->cli_live = 9;
    assert_int_equal(vchan_send(&p.srv, b, 100), -EPROTO);
    assert_int_equal(vchan_write(&p.srv, b, 1), -EPROTO);
    pair_free(&p);
}

static void test_hostile(void **state)
{
    (void)state;
    uint8_t b[8192];
    struct pair p;

    /* prod claims more than the ring holds */
    pair_open(&p, 12, 12);
    p.ctrl->left.prod = 4097;
    assert_int_equal(vchan_read(&p.srv, b, sizeof(b)), -EPROTO);
    assert_int_equal(vchan_data_ready(&p.srv), 0);
    assert_int_equal(vchan_write(&p.srv, b, 1), -EPROTO);      /* sticky */
    assert_false(vchan_is_open(&p.srv));
    pair_free(&p);

    /* prod behind our cons (a huge unsigned difference) */
    pair_open(&p, 10, 11);
    p.ctrl->right.prod = 0xFFFFFFF0u;
    assert_int_equal(vchan_recv(&p.cli, b, 10), -EPROTO);
    pair_free(&p);

    /* cons ahead of our prod: more consumed than written. Found when cons is next loaded: a
     * write that fits in the space known from the last load does not look at it. */
    pair_open(&p, 12, 12);
    assert_int_equal(vchan_write(&p.srv, b, 100), 100);
    p.ctrl->right.cons = 300;
    assert_int_equal(vchan_write(&p.srv, b, 100), 100);
    assert_int_equal(vchan_buffer_space(&p.srv), 0);
    assert_int_equal(vchan_write(&p.srv, b, 100), -EPROTO);
    pair_free(&p);

    /* the same found by a write that needs more than the known space */
    pair_open(&p, 12, 12);
    assert_int_equal(vchan_write(&p.srv, b, 4000), 4000);
    p.ctrl->right.cons = 5000;
    assert_int_equal(vchan_write(&p.srv, b, 100), -EPROTO);
    pair_free(&p);

    /* the peer scribbles over OUR index: ignored, we never read it back */
    pair_open(&p, 12, 12);
    assert_int_equal(vchan_write(&p.cli, b, 100), 100);
    p.ctrl->left.cons = 0x7777777u;     /* server's own index */
    assert_int_equal(vchan_read(&p.srv, b, 8192), 100);
    assert_int_equal(p.ctrl->left.cons, 100);
    pair_free(&p);

    /* impossible liveness values */
    pair_open(&p, 12, 12);
    p.ctrl->cli_live = 7;
    assert_int_equal(vchan_read(&p.srv, b, 10), -EPROTO);
    assert_int_equal(vchan_peer_state(&p.srv), -EPROTO);
    pair_free(&p);

    /* orders the client must refuse */
    pair_open(&p, 12, 12);
    unsigned l, r;
    uint16_t bad[][2] = { { 10, 10 }, { 9, 12 }, { 12, 21 }, { 0xffff, 12 }, { 10, 20 } };
    for (unsigned i = 0; i < 5; i++) {
        p.ctrl->left_order = bad[i][0];
        p.ctrl->right_order = bad[i][1];
        assert_int_equal(vchan_client_orders(p.ctrl, &l, &r), -EINVAL);
    }
    /* orders changed after the client attached: the private sizes are used */
    p.ctrl->left_order = 20;
    p.ctrl->right_order = 20;
    stream(&p.cli, &p.srv, 50000, 3);
    pair_free(&p);

    /* random garbage in the indexes: never out of bounds (ASan), always broken or sane */
    uint32_t s = 12345;
    for (int round = 0; round < 2000; round++) {
        pair_open(&p, 10 + round % 3, 11 + (round % 3 == 1 ? 1 : 0));
        p.ctrl->left.prod = rng(&s) % 3 ? rng(&s) : rng(&s) % 4096;
        p.ctrl->right.cons = rng(&s) % 3 ? rng(&s) : rng(&s) % 4096;
        long a = vchan_read(&p.srv, b, sizeof(b));
        long c = vchan_write(&p.srv, b, sizeof(b));
        assert_true(a == -EPROTO || (a >= 0 && (size_t)a <= p.srv.rd.size));
        assert_true(c == -EPROTO || (c >= 0 && (size_t)c <= p.srv.wr.size));
        pair_free(&p);
    }
}

static void test_bad_init(void **state)
{
    (void)state;
    struct vchan_core c;
    uint8_t *page = aligned_alloc(4096, 4096);
    assert_int_equal(vchan_server_init(&c, (void *)page, 12, 12, NULL, NULL, srv_notify, NULL), -EINVAL);
    assert_int_equal(vchan_server_init(&c, (void *)page, 10, 10, NULL, NULL, srv_notify, NULL), -EINVAL);
    assert_int_equal(vchan_server_init(&c, (void *)page, 10, 11, NULL, NULL, NULL, NULL), -EINVAL);
    /* grants: set/get within the page only */
    assert_int_equal(vchan_server_init(&c, (void *)page, 11, 20, NULL, (void *)page, srv_notify, NULL), 0);
    vchan_ctrl_set_grant(c.ctrl, 0, 77);
    vchan_ctrl_set_grant(c.ctrl, 255, 78);
    vchan_ctrl_set_grant(c.ctrl, 5000, 79);         /* ignored */
    assert_int_equal(vchan_ctrl_grant(c.ctrl, 0), 77);
    assert_int_equal(vchan_ctrl_grant(c.ctrl, 255), 78);
    assert_int_equal(vchan_ctrl_grant(c.ctrl, 5000), 0);
    assert_int_equal(*(uint32_t *)(page + 24), 77);
    free(page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_rules),
        cmocka_unit_test(test_all_order_pairs),
        cmocka_unit_test(test_index_wrap),
        cmocka_unit_test(test_partial),
        cmocka_unit_test(test_packets),
        cmocka_unit_test(test_close_in_flight),
        cmocka_unit_test(test_notify_rules),
        cmocka_unit_test(test_publish_steps),
        cmocka_unit_test(test_write_known_space),
        cmocka_unit_test(test_write_while_drained),
        cmocka_unit_test(test_read_while_refilled),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_bad_init),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
