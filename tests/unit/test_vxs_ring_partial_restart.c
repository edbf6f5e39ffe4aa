/*
 * A ring's reply or watch event written into rsp[] in parts (it did not fit whole: rsp[] has
 * 1024 bytes), the daemon killed between two parts (xenstore/vxs_ring_partial.c). The guest's
 * byte stream must stay well-formed: the restarted daemon writes exactly the rest of the cut
 * message (recorded in the connection table before its first byte), and the replayed request
 * gets no second reply.
 *
 * In-process through tests/unit/vxs_harness.c, the store in a pack file, the ring page kept
 * across vh_restart (a kill: the daemon's memory is gone, the page and the pack stay). The
 * guest takes at most CHUNK bytes of rsp[] at a time; a scenario is a list of steps (a round
 * of output, a guest's read), and each test runs it once per kill point: killed before step
 * k (and, in the twice-killed runs, again two steps after the restart), then drained to the
 * end, and the guest's whole stream parsed.
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
#include "xenstore/store_pack.h"

#define DOM 5
#define CHUNK 300
#define BIG_LEN 3000
#define TOKEN_LEN 900
#define MAX_STEPS 64

static char buf[XENSTORE_PAYLOAD_MAX + 1];
/* A node may be as large as a payload (the default quota counts 2048 bytes). */
static const char *const batch_args[] = {"-S", "8192", NULL};
/* --sync none and always: the record is written by its commit, the first part goes at once. */
static const char *const none_args[] = {"-S", "8192", "--sync", "none", NULL};
static const char *const always_args[] = {"-S", "8192", "--sync", "always", NULL};
static const char *const *args = batch_args;

/* ---- the guest's side: every byte it took from rsp[], in order ---------------------------- */

static uint8_t stream[1 << 17];
static size_t stream_len;

/* The guest takes up to max bytes of rsp[]; returns how many. */
static size_t guest_take(size_t max)
{
    struct xenstore_domain_interface *i = vh_ring(DOM);
    size_t n = i->rsp_prod - i->rsp_cons;
    if (n > max)
        n = max;
    assert_true(stream_len + n <= sizeof stream);
    for (size_t k = 0; k < n; k++)
        stream[stream_len++] = (uint8_t)i->rsp[MASK_XENSTORE_IDX(i->rsp_cons + k)];
    i->rsp_cons += (XENSTORE_RING_IDX)n;
    return n;
}

struct msg {
    uint32_t type, req_id;
    size_t len;
    const uint8_t *body;
};

/* The stream as messages; fails the test if it is not a sequence of whole, plausible ones
 * (what Linux's xenbus would misparse). */
static size_t parse(struct msg *m, size_t cap)
{
    size_t n = 0, off = 0;
    while (off < stream_len) {
        struct xsd_sockmsg h;
        assert_true(stream_len - off >= sizeof h);
        memcpy(&h, stream + off, sizeof h);
        assert_true(h.len <= XENSTORE_PAYLOAD_MAX);
        assert_true(h.type == XS_WATCH_EVENT || h.type == XS_ERROR || h.type == XS_READ ||
                    h.type == XS_WRITE || h.type == XS_WATCH || h.type == XS_DIRECTORY);
        assert_true(stream_len - off - sizeof h >= h.len);
        assert_true(n < cap);
        m[n++] = (struct msg){h.type, h.req_id, h.len, stream + off + sizeof h};
        off += sizeof h + h.len;
    }
    return n;
}

/* ---- the daemon, killed at chosen steps ----------------------------------------------------- */

static char big1[BIG_LEN + 1], big2[BIG_LEN + 1], token[TOKEN_LEN + 1];
static int step, kill_at[2], kills;

static void fill(char *s, size_t n, char first)
{
    for (size_t k = 0; k < n; k++)
        s[k] = (char)(first + k % 23);
    s[n] = 0;
}

/* A daemon on disk with domain 5, owner of /local/domain/5, where big = big1 and x = "xv". */
static void world(int k0, int k1)
{
    fill(big1, BIG_LEN, 'a');
    fill(big2, BIG_LEN, 'B');
    fill(token, TOKEN_LEN, 'd');
    stream_len = 0;
    step = 0;
    kills = 0;
    kill_at[0] = k0;
    kill_at[1] = k1;
    vh_start_disk("vxs-ring-partial", args);
    vh_keep_rings(true);
    vh_rings_keep_output(true);
    struct vh_client *d0 = vh_dom0();
    vh_domain(DOM);
    assert_int_equal(vh_mkdir(d0, 0, "/local/domain/5"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/local/domain/5", "n5"), 0);
    assert_int_equal(vh_write(d0, 0, "/local/domain/5/big", big1), 0);
    assert_int_equal(vh_write(d0, 0, "/local/domain/5/x", "xv"), 0);
}

/* A step boundary: the daemon is killed here if this is a kill point. After a kill big
 * changes, so a reply made again would have other bytes than the cut one. */
static void point(void)
{
    if (step == kill_at[0] || step == kill_at[1]) {
        vh_kill();
        kills++;
        assert_int_equal(vh_write(vh_dom0(), 0, "/local/domain/5/big", big2), 0);
    }
    step++;
}

static void guest_send(uint32_t type, uint32_t req_id, const char *a, const char *b)
{
    char body[XENSTORE_PAYLOAD_MAX];
    size_t la = strlen(a) + 1, lb = b ? strlen(b) + 1 : 0;
    assert_true(la + lb <= sizeof body);
    memcpy(body, a, la);
    if (b)
        memcpy(body + la, b, lb);
    vh_guest_send(DOM, type, req_id, body, la + lb);
}

/* Rounds and partial reads with a kill point between each, until nothing moves. */
static void run_steps(void)
{
    int idle = 0;
    for (int i = 0; i < MAX_STEPS && idle < 3; i++) {
        vh_round_output();
        point();
        size_t got = guest_take(CHUNK);
        point();
        idle = got ? 0 : idle + 1;
    }
}

/* After the scenario: everything still owed reaches the guest. */
static void drain(void)
{
    for (int i = 0; i < 16; i++) {
        vh_round_output();
        guest_take(XENSTORE_RING_SIZE);
    }
    struct xenstore_domain_interface *i = vh_ring(DOM);
    assert_int_equal(i->error, XENSTORE_ERROR_NONE);
    assert_int_equal(i->req_cons, i->req_prod); /* every request consumed */
}

/* A READ's value (no NUL), or with_nul: a reply such as "OK" (its NUL included). */
static void expect_body(const struct msg *m, const char *s, bool with_nul)
{
    assert_int_equal(m->len, strlen(s) + with_nul);
    assert_memory_equal(m->body, s, m->len);
}

/* ---- a reply in parts ------------------------------------------------------------------------ */

/* READ big (3 KB: 11 parts of 300 bytes), then a WRITE and a small READ behind it. */
static int reply_run(int k0, int k1)
{
    world(k0, k1);
    guest_send(XS_READ, 7, "/local/domain/5/big", NULL);
    guest_send(XS_WRITE, 8, "/local/domain/5/y", "1");
    guest_send(XS_READ, 9, "/local/domain/5/x", NULL);
    vh_guest_event(DOM);
    point();
    run_steps();
    drain();
    struct msg m[16];
    size_t n = parse(m, 16);
    if (getenv("VH_DEBUG"))
        for (size_t k = 0; k < n; k++)
            fprintf(stderr, "kill %d,%d: msg %zu type %u id %u len %zu\n", k0, k1, k, m[k].type,
                    m[k].req_id, m[k].len);
    assert_int_equal(n, 3);
    assert_int_equal(m[0].req_id, 7);
    assert_int_equal(m[0].type, XS_READ);
    /* The first daemon's bytes, or (killed before its first byte left) the second's. */
    if (m[0].len == BIG_LEN && memcmp(m[0].body, big1, BIG_LEN) != 0)
        expect_body(&m[0], big2, false);
    else
        expect_body(&m[0], big1, false);
    assert_int_equal(m[1].req_id, 8);
    expect_body(&m[1], "OK", true);
    assert_int_equal(m[2].req_id, 9);
    expect_body(&m[2], "xv", false);
    assert_int_equal(vh_read(vh_dom0(), 0, "/local/domain/5/y", buf), 0);
    assert_string_equal(buf, "1");
    int steps = step;
    vh_finish_disk();
    return steps;
}

/* run(k0, k1) once without a kill (its number of kill points), then once killed at each
 * point: every kill taken. */
static void kill_at_each_point(int (*run)(int, int), const char *what, int min_points)
{
    int steps = run(-1, -1);
    print_message("%s: %d kill points\n", what, steps);
    assert_true(steps > min_points);
    for (int k = 0; k < steps; k++) {
        run(k, -1);
        assert_int_equal(kills, 1);
    }
}

/* Killed at each point and again two points later, while the rest is being sent (the last
 * ones end before their second kill point). */
static void kill_twice_at_each_point(int (*run)(int, int))
{
    int steps = run(-1, -1), twice = 0;
    for (int k = 0; k < steps; k++) {
        run(k, k + 2);
        twice += kills == 2;
    }
    assert_true(twice >= steps - 4);
}

static void test_reply_killed_at_every_step(void **state)
{
    (void)state;
    kill_at_each_point(reply_run, "reply", 20);
}

static void test_reply_killed_other_sync_modes(void **state)
{
    (void)state;
    const char *const *modes[] = {none_args, always_args};
    const char *names[] = {"reply, --sync none", "reply, --sync always"};
    for (size_t m = 0; m < 2; m++) {
        args = modes[m];
        kill_at_each_point(reply_run, names[m], 20);
    }
    args = batch_args;
}

static void test_reply_killed_twice(void **state)
{
    (void)state;
    kill_twice_at_each_point(reply_run);
}

/* ---- a watch event in parts ------------------------------------------------------------------ */

/* A watch with a 900-byte token (its events: 935 bytes). Its reply and first event are
 * taken whole; then the guest READs big, and while that 3 KB reply goes out 300 bytes at a
 * time, dom0 writes the watched node: the event waits behind the reply and goes in parts. */
static int event_run(int k0, int k1)
{
    world(k0, k1);
    guest_send(XS_WATCH, 20, "/local/domain/5/w", token);
    vh_guest_event(DOM);
    for (int i = 0; i < 8; i++) {
        vh_round_output();
        guest_take(XENSTORE_RING_SIZE);
    }
    guest_send(XS_READ, 21, "/local/domain/5/big", NULL);
    vh_guest_event(DOM);
    vh_round_output();
    assert_int_equal(vh_write(vh_dom0(), 0, "/local/domain/5/w", "1"), 0);
    point();
    run_steps();
    drain();
    struct msg m[16];
    size_t n = parse(m, 16);
    /* The WATCH's reply once, and events each whole and exactly the watch's (duplicates of
     * an event may come: the restart replays what the ring may have missed). */
    size_t replies = 0, big_replies = 0, events = 0;
    if (getenv("VH_DEBUG"))
        for (size_t k = 0; k < n; k++)
            fprintf(stderr, "kill %d,%d: msg %zu type %u id %u len %zu\n", k0, k1, k, m[k].type,
                    m[k].req_id, m[k].len);
    char want[64 + TOKEN_LEN];
    int wl = snprintf(want, sizeof want, "/local/domain/5/w%c%s", 0, token);
    for (size_t k = 0; k < n; k++) {
        if (m[k].type == XS_WATCH_EVENT) {
            assert_int_equal(m[k].len, (size_t)wl + 1);
            assert_memory_equal(m[k].body, want, (size_t)wl + 1);
            events++;
        } else if (m[k].req_id == 21) {
            assert_int_equal(m[k].len, BIG_LEN);
            if (memcmp(m[k].body, big1, BIG_LEN) != 0)
                expect_body(&m[k], big2, false);
            big_replies++;
        } else {
            assert_int_equal(m[k].req_id, 20);
            expect_body(&m[k], "OK", true);
            replies++;
        }
    }
    assert_int_equal(replies, 1);
    assert_int_equal(big_replies, 1);
    assert_true(events >= 2); /* the first event, the write's */
    int steps = step;
    vh_finish_disk();
    return steps;
}

static void test_event_killed_at_every_step(void **state)
{
    (void)state;
    kill_at_each_point(event_run, "event", 8);
}

static void test_event_killed_twice(void **state)
{
    (void)state;
    kill_twice_at_each_point(event_run);
}

/* ---- a request larger than req[] answered by more than its reply ------------------------- */

/* The guest's WATCH with an 1100-byte token (1135 bytes: it goes into req[] in parts, its
 * head consumed as it arrives; its first event, as long, is always cut), behind a READ of
 * big whose 3 KB reply the guest reads slowly: the WATCH's reply goes whole or cut, then its
 * event in parts. Its request is consumed only once that event has left too; a kill before
 * then replays it (from the saved head and req[]), and the cut event's record must still
 * name the reply (whether the request is consumed is told by its end, not its start, which
 * req_cons passed with its head), or it would be answered again. The marks (which remove
 * records they take as stale) are saved at every step. */
#define TOKEN2_LEN 1100
static char token2[TOKEN2_LEN + 1];
static uint8_t bigreq[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
static size_t bigreq_len, bigreq_sent;
static size_t big_chunk; /* what the guest takes of rsp[] at a time */

static void bigreq_put_more(void)
{
    struct xenstore_domain_interface *i = vh_ring(DOM);
    size_t room = XENSTORE_RING_SIZE - (i->req_prod - i->req_cons);
    size_t n = bigreq_len - bigreq_sent < room ? bigreq_len - bigreq_sent : room;
    if (n) {
        vh_guest_put(DOM, bigreq + bigreq_sent, n);
        bigreq_sent += n;
        vh_guest_event(DOM);
    }
}

static int big_request_run(int k0, int k1)
{
    world(k0, k1);
    fill(token2, TOKEN2_LEN, 'e');
    static const char path[] = "/local/domain/5/w";
    struct xsd_sockmsg h = {.type = XS_WATCH, .req_id = 22,
                            .len = (uint32_t)(sizeof path + TOKEN2_LEN + 1)};
    memcpy(bigreq, &h, sizeof h);
    memcpy(bigreq + sizeof h, path, sizeof path);
    memcpy(bigreq + sizeof h + sizeof path, token2, TOKEN2_LEN + 1);
    bigreq_len = sizeof h + h.len;
    bigreq_sent = 0;
    guest_send(XS_READ, 21, "/local/domain/5/big", NULL);
    vh_guest_event(DOM);
    point();
    int idle = 0;
    for (int i = 0; i < 4 * MAX_STEPS && idle < 3; i++) {
        bigreq_put_more();
        vh_round_output();
        vxs_persist_marks(true);
        point();
        size_t got = guest_take(big_chunk);
        point();
        idle = got || bigreq_sent < bigreq_len ? 0 : idle + 1;
    }
    drain();
    struct msg m[16];
    size_t n = parse(m, 16);
    if (getenv("VH_DEBUG"))
        for (size_t k = 0; k < n; k++)
            fprintf(stderr, "kill %d,%d: msg %zu type %u id %u len %zu\n", k0, k1, k, m[k].type,
                    m[k].req_id, m[k].len);
    /* Each reply once, in order; the first event whole (maybe twice; before the WATCH's
     * reply too when the kill came before that reply left: the restart's events replay
     * sends the restored watch's first event, then the WATCH is handled again). */
    size_t replies = 0, events = 0;
    char want[64 + TOKEN2_LEN];
    int wl = snprintf(want, sizeof want, "/local/domain/5/w%c%s", 0, token2);
    for (size_t k = 0; k < n; k++) {
        if (m[k].type == XS_WATCH_EVENT) {
            assert_int_equal(m[k].len, (size_t)wl + 1);
            assert_memory_equal(m[k].body, want, (size_t)wl + 1);
            events++;
            continue;
        }
        assert_int_equal(m[k].req_id, 21 + replies);
        replies++;
    }
    assert_int_equal(replies, 2);
    assert_true(events >= 1);
    int steps = step;
    vh_finish_disk();
    return steps;
}

/* Read 300, 100 or 12 bytes at a time: the WATCH's reply goes whole or cut. */
static void test_big_request_killed_at_every_step(void **state)
{
    (void)state;
    const size_t chunks[] = {CHUNK, 100, 12};
    for (size_t k = 0; k < 3; k++) {
        char what[64];
        snprintf(what, sizeof what, "big request, %zu-byte reads", chunks[k]);
        big_chunk = chunks[k];
        kill_at_each_point(big_request_run, what, 8);
    }
}

static void test_big_request_killed_twice(void **state)
{
    (void)state;
    big_chunk = 100;
    kill_twice_at_each_point(big_request_run);
}

/* ---- the window between a cut message's last part and its request's consumption -------- */

/* Killed after the whole of a cut reply is in rsp[] but before req_cons moved past its
 * request (a few instructions in one flush; played here by putting req_cons back): the
 * record says the reply is whole, so the replayed request gets no second one. */
static void test_whole_but_unconsumed(void **state)
{
    (void)state;
    world(-1, -1);
    struct xenstore_domain_interface *i = vh_ring(DOM);
    XENSTORE_RING_IDX req_cons = i->req_cons;
    guest_send(XS_READ, 7, "/local/domain/5/big", NULL);
    vh_guest_event(DOM);
    vxs_persist_marks_hold(true); /* (the stale record is not removed meanwhile) */
    for (int k = 0; k < 32; k++) {
        vh_round_output();
        guest_take(CHUNK);
    }
    assert_int_not_equal(i->req_cons, req_cons);
    i->req_cons = req_cons;
    vh_restart();
    assert_int_equal(vh_write(vh_dom0(), 0, "/local/domain/5/big", big2), 0);
    drain();
    struct msg m[4];
    assert_int_equal(parse(m, 4), 1);
    expect_body(&m[0], big1, false);
    vh_finish_disk();
}

/* ---- a recorded message dropped before its first byte ----------------------------------- */

static struct vxs_conn *conn_of(uint32_t domid)
{
    for (struct vxs_conn *c = vxs.conns; c; c = c->next)
        if (c->dom && c->domid == domid)
            return c;
    return NULL;
}

/* A watch event recorded (it did not fit), then dropped before its record was durable (as an
 * expired event of an unprivileged domain is, vxs_conn_expire_events; played here by taking
 * it off the queue), then a small reply written where the event would have started: the
 * record must not outlive its message, or the restart would write the event's bytes into the
 * middle of the stream. */
static void test_dropped_before_start(void **state)
{
    (void)state;
    world(-1, -1);
    char v[101];
    fill(v, 100, 'k');
    assert_int_equal(vh_write(vh_dom0(), 0, "/local/domain/5/v", v), 0);
    guest_send(XS_READ, 30, "/local/domain/5/v", NULL);          /* 116 bytes back */
    guest_send(XS_WATCH, 31, "/local/domain/5/w", token);        /* 19, then a 935-byte event */
    vh_guest_event(DOM);
    /* The replies go (the WATCH's after its own record: its event cannot follow it at once);
     * the event is recorded, its record not yet durable. */
    vh_round_output();
    vh_round_output();
    struct vxs_conn *c = conn_of(DOM);
    assert_non_null(c->out_head);
    const struct xsd_sockmsg *h = (const void *)c->out_head->data;
    assert_int_equal(h->type, XS_WATCH_EVENT);
    assert_int_equal(c->out_off, 0);
    free(vxs_conn_take(c));
    guest_send(XS_READ, 32, "/local/domain/5/x", NULL);
    vh_guest_event(DOM);
    for (int k = 0; k < 3; k++)
        vh_round_output();
    vh_restart();
    drain();
    struct msg m[16];
    size_t n = parse(m, 16), replies = 0;
    char want[64 + TOKEN_LEN];
    int wl = snprintf(want, sizeof want, "/local/domain/5/w%c%s", 0, token);
    for (size_t k = 0; k < n; k++) {
        if (m[k].type == XS_WATCH_EVENT) {
            assert_int_equal(m[k].len, (size_t)wl + 1);
            assert_memory_equal(m[k].body, want, (size_t)wl + 1);
            continue;
        }
        assert_int_equal(m[k].req_id, 30 + replies);
        replies++;
    }
    assert_int_equal(replies, 3);
    vh_finish_disk();
}

/* ---- what it costs, and a hostile page ------------------------------------------------------- */

static bool conn_head(struct store_hash *h)
{
    return vs_branch_head(vxs.st, VXS_CONN_BRANCH, h) == 0;
}

/* A reply that fits makes no commit; one that does not makes its record. */
static void test_record_only_when_cut(void **state)
{
    (void)state;
    world(-1, -1);
    vh_round_output();
    struct store_hash before, after;
    assert_true(conn_head(&before));
    guest_send(XS_READ, 9, "/local/domain/5/x", NULL);
    vh_guest_event(DOM);
    vh_round_output();
    guest_take(XENSTORE_RING_SIZE);
    assert_true(conn_head(&after));
    assert_memory_equal(&before, &after, sizeof before);
    guest_send(XS_READ, 7, "/local/domain/5/big", NULL);
    vh_guest_event(DOM);
    vh_round_output();
    assert_true(conn_head(&after));
    assert_memory_not_equal(&before, &after, sizeof before);
    vh_finish_disk();
}

static long pack_size(void)
{
    struct store_pack_stats st;
    store_pack_stats(vxs.os, &st);
    return (long)st.file_size;
}

/* The same large reply recorded again and again (a guest polling a big value while behind):
 * its payload is one stored object, so the pack grows by far less than the message per
 * record (with the message in one value, whose header's req_id differs each time: ~3.8 KB a
 * record; split: ~0.85 KB). */
static void test_same_message_stored_once(void **state)
{
    (void)state;
    world(-1, -1);
    for (int k = 0; k < 3; k++) { /* (the first records store the message) */
        guest_send(XS_READ, 40, "/local/domain/5/big", NULL);
        vh_guest_event(DOM);
        for (int r = 0; r < 16; r++) {
            vh_round_output();
            guest_take(XENSTORE_RING_SIZE);
        }
    }
    vh_round_output();
    long before = pack_size();
    for (int k = 0; k < 20; k++) {
        guest_send(XS_READ, 41 + k, "/local/domain/5/big", NULL);
        vh_guest_event(DOM);
        for (int r = 0; r < 16; r++) {
            vh_round_output();
            guest_take(XENSTORE_RING_SIZE);
        }
    }
    vh_round_output();
    long grown = pack_size() - before;
    print_message("20 cut 3016-byte replies: the pack grew by %ld bytes\n", grown);
    assert_true(grown < 20 * 3016 / 2);
    struct msg m[32];
    assert_int_equal(parse(m, 32), 23);
    vh_finish_disk();
}

/* rsp_prod (ours, but in the shared page) moved before the cut message's start while no
 * daemon ran: the ring is broken, nothing is written, nothing crashes. */
static void test_rsp_prod_before_start(void **state)
{
    (void)state;
    world(-1, -1);
    struct xenstore_domain_interface *i = vh_ring(DOM);
    XENSTORE_RING_IDX start = i->rsp_prod;
    guest_send(XS_READ, 7, "/local/domain/5/big", NULL);
    vh_guest_event(DOM);
    for (int k = 0; k < 4; k++) {
        vh_round_output();
        guest_take(CHUNK);
    }
    assert_true(i->rsp_prod - start > 0 && i->rsp_prod - start < 3016);
    i->rsp_prod = start - 16;
    i->rsp_cons = i->rsp_prod;
    XENSTORE_RING_IDX prod = i->rsp_prod;
    vh_restart();
    vh_round_output();
    assert_int_equal(i->error, XENSTORE_ERROR_RINGIDX);
    assert_int_equal(i->rsp_prod, prod);
    vh_finish_disk();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_killed_at_every_step),
        cmocka_unit_test(test_reply_killed_twice),
        cmocka_unit_test(test_reply_killed_other_sync_modes),
        cmocka_unit_test(test_event_killed_at_every_step),
        cmocka_unit_test(test_event_killed_twice),
        cmocka_unit_test(test_big_request_killed_at_every_step),
        cmocka_unit_test(test_big_request_killed_twice),
        cmocka_unit_test(test_whole_but_unconsumed),
        cmocka_unit_test(test_dropped_before_start),
        cmocka_unit_test(test_record_only_when_cut),
        cmocka_unit_test(test_same_message_stored_once),
        cmocka_unit_test(test_rsp_prod_before_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
