/*
 * 2-level event-channel demultiplexing (xen/evtchn_2l.c) on plain memory standing in for
 * shared_info: every pending unmasked port is delivered exactly once, masked ports wait for
 * unmask, all 4096 ports work (not just the first word), a port that fires during its own
 * handler is delivered again, and the scan is fair across words.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xen/evtchn_2l.h"

struct fake_shared {
    uint8_t upcall;
    uint64_t sel;
    uint64_t pending[64];
    uint64_t mask[64];
};

/* What Xen does when it raises a port (2-level set_pending). */
static void xen_raise(struct fake_shared *s, unsigned port)
{
    unsigned w = port / 64;
    s->pending[w] |= 1ull << (port % 64);
    if (!(s->mask[w] & (1ull << (port % 64)))) {
        s->sel |= 1ull << w;
        s->upcall = 1;
    }
}

struct seen {
    unsigned count[EVTCHN_2L_PORTS];
    unsigned order[EVTCHN_2L_PORTS * 2];
    unsigned n;
    struct fake_shared *shared;
    int refire_port; /* raise this port again from its own handler, once */
    struct evtchn_2l *e;
    int nest_port;   /* this port's handler "waits": runs a nested scan if one is due */
    int nest_then;   /* the next port to do so */
    bool work_in_handler;
};

static void record(unsigned port, void *ctx)
{
    struct seen *s = ctx;
    assert_true(port < EVTCHN_2L_PORTS);
    s->count[port]++;
    if (s->n < sizeof(s->order) / sizeof(s->order[0]))
        s->order[s->n++] = port;
    if ((int)port == s->refire_port) {
        s->refire_port = -1;
        xen_raise(s->shared, port);
    }
    if ((int)port == s->nest_port) {
        /* What the event loop does in a wait inside a handler: scan if a scan is due,
         * else block (here: return). */
        s->nest_port = s->nest_then;
        s->nest_then = -1;
        s->work_in_handler = evtchn_2l_has_work(s->e);
        if (s->work_in_handler)
            evtchn_2l_scan(s->e, record, s);
    }
}

static void setup(struct fake_shared *f, struct evtchn_2l *e, struct seen *s)
{
    memset(f, 0, sizeof(*f));
    memset(s, 0, sizeof(*s));
    s->shared = f;
    s->refire_port = -1;
    s->nest_port = -1;
    s->nest_then = -1;
    s->e = e;
    evtchn_2l_init(e, &f->upcall, &f->sel, f->pending, f->mask);
}

static void test_every_port_once(void **state)
{
    (void)state;
    static struct fake_shared f;
    static struct seen s;
    struct evtchn_2l e;
    setup(&f, &e, &s);

    for (unsigned p = 0; p < EVTCHN_2L_PORTS; p++)
        xen_raise(&f, p);
    assert_int_equal(evtchn_2l_scan(&e, record, &s), EVTCHN_2L_PORTS);
    for (unsigned p = 0; p < EVTCHN_2L_PORTS; p++)
        assert_int_equal(s.count[p], 1);
    assert_int_equal(f.upcall, 0);
    assert_int_equal(f.sel, 0);
    for (unsigned w = 0; w < 64; w++)
        assert_int_equal(f.pending[w], 0);
    assert_int_equal(evtchn_2l_scan(&e, record, &s), 0);
}

static void test_high_ports(void **state)
{
    (void)state;
    static struct fake_shared f;
    static struct seen s;
    struct evtchn_2l e;
    setup(&f, &e, &s);

    const unsigned ports[] = { 31, 32, 63, 64, 1000, 4031, 4095 };
    for (unsigned i = 0; i < 7; i++)
        xen_raise(&f, ports[i]);
    assert_int_equal(evtchn_2l_scan(&e, record, &s), 7);
    for (unsigned i = 0; i < 7; i++)
        assert_int_equal(s.count[ports[i]], 1);
}

static void test_masked_waits_for_unmask(void **state)
{
    (void)state;
    static struct fake_shared f;
    static struct seen s;
    struct evtchn_2l e;
    setup(&f, &e, &s);

    evtchn_2l_mask(&e, 200);
    xen_raise(&f, 200);
    assert_int_equal(f.upcall, 0); /* Xen does not flag a masked port */
    assert_int_equal(evtchn_2l_scan(&e, record, &s), 0);
    assert_true(evtchn_2l_is_pending(&e, 200));

    evtchn_2l_unmask(&e, 200);
    assert_int_equal(f.upcall, 1); /* unmask flags what was pending meanwhile */
    assert_int_equal(evtchn_2l_scan(&e, record, &s), 1);
    assert_int_equal(s.count[200], 1);
    assert_false(evtchn_2l_is_pending(&e, 200));
}

/* A port masked after Xen flagged its word: the scan leaves it pending, unmask delivers it. */
static void test_mask_after_flag(void **state)
{
    (void)state;
    static struct fake_shared f;
    static struct seen s;
    struct evtchn_2l e;
    setup(&f, &e, &s);

    xen_raise(&f, 70);
    xen_raise(&f, 71);
    evtchn_2l_mask(&e, 71);
    assert_int_equal(evtchn_2l_scan(&e, record, &s), 1);
    assert_int_equal(s.count[70], 1);
    assert_int_equal(s.count[71], 0);
    evtchn_2l_unmask(&e, 71);
    assert_int_equal(evtchn_2l_scan(&e, record, &s), 1);
    assert_int_equal(s.count[71], 1);
}

static void test_refire_during_handler(void **state)
{
    (void)state;
    static struct fake_shared f;
    static struct seen s;
    struct evtchn_2l e;
    setup(&f, &e, &s);

    s.refire_port = 5;
    xen_raise(&f, 5);
    evtchn_2l_scan(&e, record, &s);
    /* Raised again after its pending bit was cleared: flagged for the next scan. */
    assert_int_equal(f.upcall, 1);
    evtchn_2l_scan(&e, record, &s);
    assert_int_equal(s.count[5], 2);
    assert_int_equal(f.upcall, 0);
}

/* After delivering port P, the next scan starts after P: a port that is always pending does
 * not starve ports behind it. */
static void test_round_robin(void **state)
{
    (void)state;
    static struct fake_shared f;
    static struct seen s;
    struct evtchn_2l e;
    setup(&f, &e, &s);

    xen_raise(&f, 3);
    xen_raise(&f, 3000);
    evtchn_2l_scan(&e, record, &s);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.order[0], 3);
    assert_int_equal(s.order[1], 3000);

    s.n = 0;
    xen_raise(&f, 3);
    xen_raise(&f, 2999);
    xen_raise(&f, 3001);
    evtchn_2l_scan(&e, record, &s);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.order[0], 3001); /* starts after the last port delivered (3000) */
    assert_int_equal(s.order[1], 3);
    assert_int_equal(s.order[2], 2999);
}

static void test_out_of_range_ports_ignored(void **state)
{
    (void)state;
    static struct fake_shared f;
    static struct seen s;
    struct evtchn_2l e;
    setup(&f, &e, &s);

    evtchn_2l_mask(&e, EVTCHN_2L_PORTS);
    evtchn_2l_unmask(&e, UINT32_MAX);
    evtchn_2l_clear(&e, 5000);
    assert_false(evtchn_2l_is_pending(&e, 99999));
    for (unsigned w = 0; w < 64; w++)
        assert_int_equal(f.mask[w], 0);
}

/* A handler that waits (a vchan handler doing a xenstore request, say) runs a nested scan
 * from inside the first one. Ports the first scan had taken from the selector but not reached
 * yet are still pending, so Xen flags them no more: the nested scan must take them, or the
 * wait would poll on a pending port forever (SCHEDOP_poll returns at once, the upcall flag
 * stays clear, nothing is dispatched). */
static void test_nested_scan_takes_the_rest(void **state)
{
    (void)state;
    static struct fake_shared f;
    static struct seen s;
    struct evtchn_2l e;
    setup(&f, &e, &s);

    s.nest_port = 3;
    xen_raise(&f, 3);
    xen_raise(&f, 5);      /* same word, after 3 */
    xen_raise(&f, 70);     /* another word */
    xen_raise(&f, 4095);   /* the last word */
    assert_int_equal(evtchn_2l_scan(&e, record, &s), 1); /* the rest went to the nested scan */
    assert_true(s.work_in_handler);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.order[0], 3);
    assert_int_equal(s.count[5], 1);
    assert_int_equal(s.count[70], 1);
    assert_int_equal(s.count[4095], 1);
    /* Nothing left over: the loop may block. */
    assert_false(evtchn_2l_has_work(&e));
    assert_int_equal(f.sel, 0);
    assert_int_equal(f.upcall, 0);
}

/* A handler alone in its scan sees no work, so a wait inside it blocks instead of spinning;
 * an event raised meanwhile is flagged as usual. */
static void test_nested_wait_without_work(void **state)
{
    (void)state;
    static struct fake_shared f;
    static struct seen s;
    struct evtchn_2l e;
    setup(&f, &e, &s);

    s.nest_port = 64;
    xen_raise(&f, 64);
    evtchn_2l_scan(&e, record, &s);
    assert_false(s.work_in_handler);
    assert_false(evtchn_2l_has_work(&e));
    xen_raise(&f, 9);
    assert_true(evtchn_2l_has_work(&e));
    evtchn_2l_scan(&e, record, &s);
    assert_int_equal(s.count[9], 1);
    assert_int_equal(s.count[64], 1);
}

/* Nested twice: the innermost scan still finds what the outer ones left. */
static void test_nested_twice(void **state)
{
    (void)state;
    static struct fake_shared f;
    static struct seen s;
    struct evtchn_2l e;
    setup(&f, &e, &s);

    s.nest_port = 1;
    s.nest_then = 2;
    xen_raise(&f, 1);
    xen_raise(&f, 2);
    xen_raise(&f, 200);
    xen_raise(&f, 300);
    /* Port 2's handler nests again, from inside port 1's nested scan. */
    evtchn_2l_scan(&e, record, &s);
    assert_int_equal(s.n, 4);
    for (unsigned p = 0; p < 400; p++)
        assert_int_equal(s.count[p], p == 1 || p == 2 || p == 200 || p == 300);
    assert_false(evtchn_2l_has_work(&e));
}

/* Random raises, masks and unmasks against a model: every raise of an unmasked port is
 * delivered before the port is quiet, nothing is delivered that was not raised. */
static void test_random_against_model(void **state)
{
    (void)state;
    static struct fake_shared f;
    static struct seen s;
    static unsigned raised[EVTCHN_2L_PORTS];
    static uint8_t masked[EVTCHN_2L_PORTS];
    struct evtchn_2l e;
    setup(&f, &e, &s);
    memset(raised, 0, sizeof(raised));
    memset(masked, 0, sizeof(masked));
    srand(1234);

    for (int step = 0; step < 20000; step++) {
        unsigned port = (unsigned)rand() % EVTCHN_2L_PORTS;
        switch (rand() % 5) {
        case 0:
        case 1:
            /* Xen coalesces: a raise while pending counts once. */
            if (!evtchn_2l_is_pending(&e, port))
                raised[port]++;
            xen_raise(&f, port);
            break;
        case 2:
            evtchn_2l_mask(&e, port);
            masked[port] = 1;
            break;
        case 3:
            evtchn_2l_unmask(&e, port);
            masked[port] = 0;
            break;
        default:
            evtchn_2l_scan(&e, record, &s);
        }
    }
    for (unsigned p = 0; p < EVTCHN_2L_PORTS; p++)
        evtchn_2l_unmask(&e, p);
    evtchn_2l_scan(&e, record, &s);
    for (unsigned p = 0; p < EVTCHN_2L_PORTS; p++)
        assert_int_equal(s.count[p], raised[p]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_port_once),
        cmocka_unit_test(test_high_ports),
        cmocka_unit_test(test_masked_waits_for_unmask),
        cmocka_unit_test(test_mask_after_flag),
        cmocka_unit_test(test_refire_during_handler),
        cmocka_unit_test(test_round_robin),
        cmocka_unit_test(test_out_of_range_ports_ignored),
        cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_nested_scan_takes_the_rest),
        cmocka_unit_test(test_nested_wait_without_work),
        cmocka_unit_test(test_nested_twice),
    };
    return cmocka_run_group_tests_name("evtchn_2l", tests, NULL, NULL);
}
