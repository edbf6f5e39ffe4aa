/*
 * A guest's ring reconnection (XENSTORE_RECONNECT: kexec, a new kernel) with the daemon
 * killed at each point around it. The reconnection resets both rings to 0 and starts the
 * domain's entry in the connection table afresh (no watches, no saved head or cut message, a
 * new incarnation: vxs_domain_ring_reconnected). A daemon killed after the reset but before
 * that commit reached the pack found the old entry against the new ring: the old watches
 * restored (events the new kernel never asked for), the old cut message's record starting
 * past rsp_prod (the ring declared broken), and the old incarnation, so that the new
 * kernel's first requests, at ring positions the old one had used, could be taken for the
 * old one's committed requests and answered OK without being applied.
 *
 * In-process through tests/unit/vxs_harness.c; a kill is vh_kill: the pack keeps only what
 * reached its file (a SIGKILL loses the records the round has not written yet), the ring
 * page outlives the daemon.
 */
#include <setjmp.h>
#include <stdbool.h>
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
#define BIG_LEN 3000

static const char *const args[] = {"-S", "8192", NULL}; /* (--sync batch, the default) */
static int step, kill_at, kills;

/* A step boundary: the daemon is killed here if it is the kill point. */
static void point(void)
{
    if (step++ == kill_at) {
        vh_kill();
        kills++;
    }
}

static void guest_send(uint32_t type, uint32_t req_id, const char *a, const char *b)
{
    char body[XENSTORE_PAYLOAD_MAX];
    /* (A WATCH's token ends with a NUL, a WRITE's value does not.) */
    size_t la = strlen(a) + 1, lb = b ? strlen(b) + (type == XS_WATCH) : 0;
    memcpy(body, a, la);
    if (b)
        memcpy(body + la, b, lb);
    vh_guest_send(DOM, type, req_id, body, la + lb);
}

struct msg {
    uint32_t type, req_id;
    char body[XENSTORE_PAYLOAD_MAX + 1];
};

/* The guest's bytes of rsp[] not yet parsed (it reads all of rsp[] each time). */
static uint8_t stream[2 * (XENSTORE_PAYLOAD_MAX + sizeof(struct xsd_sockmsg))];
static size_t stream_len;

/* What rsp[] holds, then every whole message taken so far into m. */
static size_t guest_take(struct msg *m, size_t cap)
{
    struct xenstore_domain_interface *i = vh_ring(DOM);
    size_t got = i->rsp_prod - i->rsp_cons;
    assert_true(got <= XENSTORE_RING_SIZE && stream_len + got <= sizeof stream);
    for (size_t k = 0; k < got; k++)
        stream[stream_len++] = (uint8_t)i->rsp[MASK_XENSTORE_IDX(i->rsp_cons + k)];
    i->rsp_cons += (XENSTORE_RING_IDX)got;
    size_t n = 0;
    for (;;) {
        struct xsd_sockmsg h;
        if (stream_len < sizeof h)
            break;
        memcpy(&h, stream, sizeof h);
        assert_true(h.len <= XENSTORE_PAYLOAD_MAX);
        if (stream_len < sizeof h + h.len)
            break;
        assert_true(n < cap);
        m[n].type = h.type;
        m[n].req_id = h.req_id;
        memcpy(m[n].body, stream + sizeof h, h.len);
        m[n].body[h.len] = 0;
        stream_len -= sizeof h + h.len;
        memmove(stream, stream + sizeof h + h.len, stream_len);
        n++;
    }
    return n;
}

/* Rounds until the guest has its whole stream; the messages into m. */
static size_t rounds(struct msg *m, size_t cap)
{
    size_t n = 0;
    for (int r = 0; r < 16; r++) {
        vh_round_output();
        n += guest_take(m + n, cap - n);
    }
    return n;
}

/* The guest's old kernel: a WRITE at ring position 0, a WATCH, and (with big) a READ of a
 * 3 KB value (its reply is cut in rsp[], so the table records it), all answered and read.
 * Then it asks to reconnect and its new kernel, once the ring says CONNECTED, sends a WRITE
 * (at position 0 again: positions start from 0) and reads its reply; with early it writes
 * as soon as the ring says so, before the daemon's next round. The daemon is killed before
 * step k. Returns the number of steps. */
static int reconnect_run(int k, bool big, bool early)
{
    step = 0;
    stream_len = 0;
    kill_at = k;
    kills = 0;
    vh_start_disk("vxs-reconnect", args);
    vh_keep_rings(true);
    vh_rings_keep_output(true);
    struct vh_client *d0 = vh_dom0();
    vh_domain(DOM);
    assert_int_equal(vh_mkdir(d0, 0, "/local/domain/5"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/local/domain/5", "n5"), 0);
    static char value[BIG_LEN + 1];
    memset(value, 'v', BIG_LEN);
    assert_int_equal(vh_write(d0, 0, "/local/domain/5/big", value), 0);

    static struct msg m[32];
    guest_send(XS_WRITE, 1, "/local/domain/5/a", "old");
    guest_send(XS_WATCH, 2, "/local/domain/5/w", "oldtoken");
    if (big)
        guest_send(XS_READ, 3, "/local/domain/5/big", NULL);
    vh_guest_event(DOM);
    size_t n = rounds(m, 32);
    assert_int_equal(n, big ? 4u : 3u); /* the replies and the watch's first event */

    point(); /* 0 */
    vh_ring(DOM)->connection = XENSTORE_RECONNECT;
    vh_guest_event(DOM);
    if (early && vh_ring(DOM)->connection == XENSTORE_CONNECTED)
        guest_send(XS_WRITE, 1, "/local/domain/5/b", "new");
    point(); /* 1: rings reset, the table's new entry made (not written before the fix) */
    vh_round_output();
    point(); /* 2 */
    /* The new kernel waits for CONNECTED (a kill before the daemon saw the request leaves
     * the page asking; the restarted daemon answers it). */
    for (int r = 0; r < 4 && vh_ring(DOM)->connection != XENSTORE_CONNECTED; r++) {
        vh_guest_event(DOM);
        vh_round_output();
    }
    assert_int_equal(vh_ring(DOM)->connection, XENSTORE_CONNECTED);
    if (!early) {
        assert_int_equal(vh_ring(DOM)->req_prod, 0);
        guest_send(XS_WRITE, 1, "/local/domain/5/b", "new");
    }
    point(); /* 3: in req[], unread */
    vh_guest_event(DOM);
    point(); /* 4: handled, its reply not in rsp[] yet */
    n = rounds(m, 32);
    point(); /* 5 */
    /* The old kernel's watch is gone: dom0's write to its path tells the guest nothing. */
    assert_int_equal(vh_write(vh_dom0(), 0, "/local/domain/5/w", "x"), 0);
    n += rounds(m + n, 32 - n);
    struct xenstore_domain_interface *i = vh_ring(DOM);
    assert_int_equal(i->error, XENSTORE_ERROR_NONE);
    assert_int_equal(i->req_cons, i->req_prod);
    if (getenv("VH_DEBUG"))
        for (size_t j = 0; j < n; j++)
            fprintf(stderr, "kill %d: msg %zu type %u id %u %s\n", k, j, m[j].type,
                    m[j].req_id, m[j].body);
    /* Its one reply, and nothing else (no event of the old watch). */
    assert_int_equal(n, 1);
    assert_int_equal(m[0].type, XS_WRITE);
    assert_int_equal(m[0].req_id, 1);
    assert_string_equal(m[0].body, "OK");
    char val[64];
    assert_int_equal(vh_read(vh_dom0(), 0, "/local/domain/5/b", val), 0);
    assert_string_equal(val, "new");
    int steps = step;
    vh_finish_disk();
    return steps;
}

/* Once without a kill (its number of kill points), then killed at each point. */
static void kill_at_each_point(bool big, bool early)
{
    int steps = reconnect_run(-1, big, early);
    assert_int_equal(steps, 6);
    for (int k = 0; k < steps; k++) {
        reconnect_run(k, big, early);
        assert_int_equal(kills, 1);
    }
}

/* The old entry's cut message's record (start 81) against the reset rsp_prod (0): the ring
 * was declared broken. */
static void test_reconnect_after_cut_reply(void **state)
{
    (void)state;
    kill_at_each_point(true, false);
}

/* The new kernel's WRITE at position 0 in req[] at the kill: with the old incarnation, the
 * old kernel's committed WRITE at position 0 was taken for it, and it was answered OK
 * without being applied. */
static void test_reconnect_request_at_old_position(void **state)
{
    (void)state;
    kill_at_each_point(false, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reconnect_after_cut_reply),
        cmocka_unit_test(test_reconnect_request_at_old_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
