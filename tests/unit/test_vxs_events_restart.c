/*
 * Watch events a ring had not received when the daemon died are not lost: after the
 * restart each restored watch gets the events of the commits since its ring's mark, at the
 * exact paths (xenstore/vxs_events_replay.c); duplicates are allowed, losses are not.
 * In-process through tests/unit/vxs_harness.c with the store in a pack file; "killed" =
 * the harness stopped with the events still queued in the daemon (not yet in rsp[]), as
 * SIGKILL would leave them, and started again on the same pack (test_vxs_replay.c does the
 * same for requests).
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


static struct vxs_conn *conn_of(uint32_t domid)
{
    for (struct vxs_conn *c = vxs.conns; c; c = c->next)
        if (c->dom && c->domid == domid)
            return c;
    return NULL;
}

/* How many watch events wait in c's queue (not in its ring). */
static size_t queued_events(const struct vxs_conn *c)
{
    size_t n = 0;
    for (const struct vxs_out *o = c->out_head; o; o = o->next)
        n += ((const struct xsd_sockmsg *)o->data)->type == XS_WATCH_EVENT;
    return n;
}

/* A request of dom0's socket client whose round takes only its own reply: the rings' events
 * stay queued in the daemon (the harness's vh_req would take them all). */
static int d0_req(struct vh_client *d0, uint32_t type, const char *a, const char *b)
{
    static uint8_t body[XENSTORE_PAYLOAD_MAX + 1];
    size_t la = strlen(a) + 1, lb = b ? strlen(b) : 0;
    memcpy(body, a, la);
    if (b)
        memcpy(body + la, b, lb);
    body[la + lb] = 0;
    struct xsd_sockmsg hdr = {.type = type, .req_id = 7, .len = (uint32_t)(la + lb)};
    vxs_dispatch(d0->c, &hdr, body);
    if (vxs.durable_upto < vxs.next_seq)
        assert_int_equal(vxs.os->ops->flush(vxs.os), 0);
    int rc = -EPROTO;
    struct vxs_out *o;
    while ((o = vxs_conn_take(d0->c)) != NULL) {
        const struct xsd_sockmsg *h = (const void *)o->data;
        if (h->type != XS_WATCH_EVENT)
            rc = h->type == XS_ERROR ? -1 : 0;
        free(o);
    }
    return rc;
}

/* The events a guest's ring brings it after the restart: every round's output is read out
 * of rsp[] until nothing more comes. Paths "path|token" into out[], returns how many. */
#define MAX_SEEN 256
static char seen[MAX_SEEN][XENSTORE_ABS_PATH_MAX + 64];

static size_t guest_events(uint32_t domid)
{
    size_t n = 0;
    for (int round = 0; round < 64; round++) {
        vh_round_output();
        struct xenstore_domain_interface *i = vh_ring(domid);
        bool any = false;
        while (i->rsp_prod - i->rsp_cons >= sizeof(struct xsd_sockmsg)) {
            struct xsd_sockmsg h;
            for (size_t k = 0; k < sizeof h; k++)
                ((uint8_t *)&h)[k] = (uint8_t)i->rsp[MASK_XENSTORE_IDX(i->rsp_cons + k)];
            if (i->rsp_prod - i->rsp_cons < sizeof h + h.len)
                break;
            char body[XENSTORE_PAYLOAD_MAX + 1];
            for (size_t k = 0; k < h.len; k++)
                body[k] = i->rsp[MASK_XENSTORE_IDX(i->rsp_cons + sizeof h + k)];
            body[h.len] = 0;
            i->rsp_cons += (XENSTORE_RING_IDX)(sizeof h + h.len);
            any = true;
            if (h.type != XS_WATCH_EVENT)
                continue; /* a reply to the guest's own request */
            const char *p, *t;
            assert_int_equal(xs_decode_watch_event(body, h.len, &p, &t), 0);
            assert_true(n < MAX_SEEN);
            snprintf(seen[n++], sizeof seen[0], "%s|%s", p, t);
        }
        if (!any && queued_events(conn_of(domid)) == 0)
            break;
    }
    return n;
}

static bool got(size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(seen[i], what) == 0)
            return true;
    return false;
}

static void setup_backend(struct vh_client *d0)
{
    assert_int_equal(vh_mkdir(d0, 0, "/local/domain/5/backend/vbd"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/local/domain/5", "n5"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/local/domain/5/backend", "n5"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/local/domain/5/backend/vbd", "n5"), 0);
}

/* A daemon on disk with dom0 and domain 5, whose backend subtree domain 5 owns; returns
 * dom0's client and (d5 may be NULL) domain 5's. */
static struct vh_client *start(struct vh_client **d5)
{
    vh_start_disk("vxs-evrestart", NULL);
    struct vh_client *d0 = vh_dom0();
    struct vh_client *g = vh_domain(5);
    if (d5)
        *d5 = g;
    setup_backend(d0);
    return d0;
}

/* Domain 5 watches its backend subtree (token "be"); the watch's first event is dropped. */
static void watch_backend(struct vh_client *d5)
{
    assert_int_equal(vh_watch(d5, "/local/domain/5/backend", "be"), 0);
    vh_events_drop(d5);
}

static void test_queued_events_survive_kill(void **state)
{
    (void)state;
    struct vh_client *d5, *d0 = start(&d5);
    struct vh_client *d6 = vh_domain(6);
    /* A backend in domain 5 watches its subtree three levels deep (relative path); domain
     * 6, which may read nothing there, watches it too. */
    const char *w5[3] = {"backend/vbd", "be", "3"};
    assert_int_equal(vh_reqv(d5, XS_WATCH, 0, w5, 3, NULL, NULL), 0);
    assert_int_equal(vh_watch(d6, "/local/domain/5/backend", "spy"), 0);
    vh_events_drop(d5);
    vh_events_drop(d6);

    /* dom0's toolstack writes; domain 5 has not read the events when the daemon dies. */
    assert_int_equal(d0_req(d0, XS_WRITE, "/local/domain/5/backend/vbd/1/51712/state", "1"), 0);
    assert_int_equal(d0_req(d0, XS_WRITE, "/local/domain/5/backend/vbd/1/51712/params", "x"), 0);
    assert_int_equal(d0_req(d0, XS_WRITE, "/local/domain/5/backend/vbd/2/768/state", "1"), 0);
    assert_int_equal(d0_req(d0, XS_WRITE, "/local/domain/5/backend/vbd/1/51712/q/deep", "4"),
                     0); /* four levels down: not for a depth-3 watch */
    assert_int_equal(d0_req(d0, XS_RM, "/local/domain/5/backend/vbd/2", NULL), 0);
    assert_int_equal(d0_req(d0, XS_WRITE, "/local/domain/0/elsewhere", "1"), 0);
    assert_true(queued_events(conn_of(5)) >= 4);
    assert_int_equal(vh_ring(5)->rsp_prod, 0); /* nothing reached the ring */

    vh_restart();
    size_t n = guest_events(5);
    assert_true(got(n, "backend/vbd/1/51712/state|be"));
    assert_true(got(n, "backend/vbd/1/51712/params|be"));
    assert_true(got(n, "backend/vbd/2/768/state|be"));
    assert_true(got(n, "backend/vbd/2|be"));
    assert_false(got(n, "backend/vbd/1/51712/q/deep|be"));
    /* Nothing outside the watch. (Its own path may come again too: the mark saved at
     * INTRODUCE is older than the watch, so its first event may not have left.) */
    for (size_t i = 0; i < n; i++)
        assert_true(strncmp(seen[i], "backend/vbd/", 12) == 0 ||
                    strcmp(seen[i], "backend/vbd|be") == 0);
    /* XSA-115 holds for replayed events too: domain 6 may read none of those nodes (it may
     * get its watch's first event again, for the same reason as above). */
    n = guest_events(6);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(seen[i], "/local/domain/5/backend|spy");

    /* Killed again at once: the events are in the ring now, and the marks (saved lazily,
     * here forced) say so: nothing is owed, so nothing comes again. */
    vxs_persist_marks(true);
    assert_int_equal(vh_ring(5)->rsp_prod, vh_ring(5)->rsp_cons);
    vh_restart();
    assert_int_equal(guest_events(5), 0);
    vh_finish_disk();
}

static void test_stale_mark_gives_duplicates_only(void **state)
{
    (void)state;
    struct vh_client *d5, *d0 = start(&d5);
    watch_backend(d5);
    /* A: delivered to the ring and read, mark saved. B: delivered and read, its mark
     * perhaps not saved (it is lazy: B may come again). C: still queued when the daemon
     * dies. */
    assert_int_equal(d0_req(d0, XS_WRITE, "/local/domain/5/backend/a", "1"), 0);
    vh_round_output();
    vxs_persist_marks(true);
    assert_int_equal(d0_req(d0, XS_WRITE, "/local/domain/5/backend/b", "1"), 0);
    vh_round_output();
    struct xenstore_domain_interface *i = vh_ring(5);
    i->rsp_cons = i->rsp_prod;
    assert_int_equal(d0_req(d0, XS_WRITE, "/local/domain/5/backend/c", "1"), 0);
    vh_restart();
    size_t n = guest_events(5);
    assert_false(got(n, "/local/domain/5/backend/a|be"));
    assert_true(got(n, "/local/domain/5/backend/c|be"));
    vh_finish_disk();
}

static void test_watch_added_after_change_gets_no_old_events(void **state)
{
    (void)state;
    struct vh_client *d5, *d0 = start(&d5);
    assert_int_equal(d0_req(d0, XS_WRITE, "/local/domain/5/backend/old", "1"), 0);
    /* Registered after that write (the mark saved at INTRODUCE is older). */
    watch_backend(d5);
    assert_int_equal(d0_req(d0, XS_WRITE, "/local/domain/5/backend/new", "1"), 0);
    vh_restart();
    size_t n = guest_events(5);
    assert_true(got(n, "/local/domain/5/backend/new|be"));
    assert_false(got(n, "/local/domain/5/backend/old|be"));
    vh_finish_disk();
}

/* The WATCH's reply reached the ring, its first event had not: it comes after the restart
 * (the WATCH itself is consumed, so it is not handled again). */
static void test_first_event_not_lost(void **state)
{
    (void)state;
    struct vh_client *d0 = start(NULL);
    struct vxs_conn *c5 = conn_of(5);
    static uint8_t body[] = "/local/domain/5/backend\0fe";
    struct xsd_sockmsg hdr = {.type = XS_WATCH, .req_id = 3, .len = sizeof body};
    vxs_dispatch(c5, &hdr, body);
    if (vxs.durable_upto < vxs.next_seq)
        assert_int_equal(vxs.os->ops->flush(vxs.os), 0);
    struct vxs_out *o = vxs_conn_take(c5); /* the reply only */
    assert_non_null(o);
    assert_int_equal(((const struct xsd_sockmsg *)o->data)->type, XS_WATCH);
    free(o);
    assert_int_equal(queued_events(c5), 1);
    assert_int_equal(d0_req(d0, XS_WRITE, "/local/domain/0/other", "1"), 0);
    vxs_persist_marks(true); /* even a fresh mark says: the first event is owed */
    vh_restart();
    size_t n = guest_events(5);
    assert_true(got(n, "/local/domain/5/backend|fe"));
    vh_finish_disk();
}

/* Killed again while the replayed events still wait (more than the ring holds), with the
 * mark saved meanwhile: those still queued come again after the second restart. The ring page
 * outlives the kills, as a guest's does: the event the second kill cut in rsp[] is finished
 * (vxs_ring_partial.c) before the others come. */
static void test_killed_again_during_replay(void **state)
{
    (void)state;
    struct vh_client *d5, *d0 = start(&d5);
    vh_keep_rings(true);
    watch_backend(d5);
    for (int i = 0; i < 60; i++) {
        char p[64];
        snprintf(p, sizeof p, "/local/domain/5/backend/n%02d", i);
        assert_int_equal(d0_req(d0, XS_WRITE, p, "1"), 0);
    }
    vh_restart();
    vh_round_output(); /* 60 events of ~40 bytes: the 1 KiB ring takes part, the rest waits */
    struct vxs_conn *c5 = conn_of(5);
    assert_true(vh_ring(5)->rsp_prod > 0);
    size_t waiting = 0;
    static char owed[64][64];
    for (const struct vxs_out *o = c5->out_head; o; o = o->next) {
        const struct xsd_sockmsg *h = (const void *)o->data;
        if (h->type != XS_WATCH_EVENT || (o == c5->out_head && c5->out_off))
            continue;
        assert_true(waiting < 64);
        snprintf(owed[waiting++], sizeof owed[0], "%s|be", (const char *)(h + 1));
    }
    assert_true(waiting > 10);
    vxs_persist_marks(true);
    uint64_t mark;
    assert_true(vxs_persist_mark_get(5, &mark));
    assert_true(mark > 10); /* past what the ring took: those are not owed again */
    vh_restart();
    size_t n = guest_events(5);
    for (size_t i = 0; i < waiting; i++)
        assert_true(got(n, owed[i]));
    vh_finish_disk();
}

/* The guest takes what rsp[] holds, as a kernel would (the events are not looked at). */
static void guest_drains(uint32_t domid)
{
    struct xenstore_domain_interface *i = vh_ring(domid);
    i->rsp_cons = i->rsp_prod;
}

/* After a restart the mark follows what the ring took of the replayed events, with no save
 * forced: a daemon killed again at any moment of that catch-up replays only the events still
 * queued (before, the mark was saved 100 ms later at the soonest, and a daemon that lived
 * less replayed all of them again, plus the commits of its own life). */
static void test_mark_follows_catchup(void **state)
{
    (void)state;
    struct vh_client *d5, *d0 = start(&d5);
    vh_keep_rings(true);
    watch_backend(d5);
    for (int i = 0; i < 100; i++) {
        char p[64];
        snprintf(p, sizeof p, "/local/domain/5/backend/m%02d", i);
        assert_int_equal(d0_req(d0, XS_WRITE, p, "1"), 0);
    }
    vh_restart();
    struct vxs_conn *c5 = conn_of(5);
    /* The guest reads rsp[] twice (100 events of ~47 bytes: four fills of it and more). */
    for (int fill = 0; fill < 2; fill++) {
        vh_round_output();
        guest_drains(5);
    }
    vh_round_output(); /* (a third fill goes in, unread) */
    size_t waiting = 0;
    for (const struct vxs_out *o = c5->out_head; o; o = o->next)
        waiting += ((const struct xsd_sockmsg *)o->data)->type == XS_WATCH_EVENT;
    assert_true(waiting > 10 && waiting < 60);
    guest_drains(5); /* (the third fill: its events are delivered, the queue's are not) */
    vh_restart();
    /* What was queued, and at most the event a kill left cut in rsp[] whole again. */
    size_t n = guest_events(5);
    assert_true(n >= waiting);
    assert_true(n <= waiting + 1);
    /* All read now, nothing forced: a third daemon owes nothing. */
    vh_restart();
    assert_int_equal(guest_events(5), 0);
    vh_finish_disk();
}

struct rsp_commit {
    struct store_hash h;
};

/* The newest commit recording a cut message of domain 5. */
static int find_rsp(void *p, const struct store_hash *h, const struct vs_commit *c)
{
    if (!c->message || strncmp(c->message, "RSP dom5 @", 10) != 0)
        return 0;
    ((struct rsp_commit *)p)->h = *h;
    return 1;
}

/* A connection-table commit made anyway (here the record of a message cut in rsp[]) takes
 * the marks that moved along: a ring busy with large messages has its mark saved as often,
 * with no commit of its own. */
static void test_mark_rides_table_commits(void **state)
{
    (void)state;
    struct vh_client *d5, *d0 = start(&d5);
    watch_backend(d5);
    assert_int_equal(d0_req(d0, XS_WRITE, "/local/domain/5/backend/a", "1"), 0);
    assert_int_equal(guest_events(5), 1); /* in rsp[], read: the mark may move past it */
    uint64_t before = 0;
    assert_true(vxs_persist_mark_get(5, &before));
    /* A 3 KB value read by the guest: its reply does not fit in rsp[], so it is recorded. */
    static char big[3001];
    memset(big, 'b', 3000);
    assert_int_equal(d0_req(d0, XS_WRITE, "/local/domain/5/big", big), 0);
    uint64_t head = vxs_head_gen();
    assert_true(before < head);
    vh_guest_send(5, XS_READ, 9, "/local/domain/5/big", 20);
    vh_guest_event(5);
    vh_round_output();
    /* The record's own commit holds the mark (not a marks commit, which a second's wait
     * could bring). */
    struct store_hash h;
    assert_int_equal(vs_branch_head(vxs.st, "connections", &h), 0);
    struct rsp_commit rc = {0};
    assert_int_equal(vs_log(vxs.st, &h, NULL, find_rsp, &rc), 1);
    struct vs_tree *t;
    assert_int_equal(vs_tree_open(vxs.st, &rc.h, &t), 0);
    void *val;
    size_t len;
    assert_int_equal(vs_tree_read(t, "/dom/5/ev", &val, &len), 0);
    char want[24];
    snprintf(want, sizeof want, "%llu", (unsigned long long)head);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(val, want, len);
    free(val);
    vs_tree_close(t);
    vh_finish_disk();
}

static int count_commit(void *p, const struct store_hash *h, const struct vs_commit *c)
{
    (void)h;
    (void)c;
    ++*(unsigned *)p;
    return 0;
}

static unsigned table_commits(void)
{
    struct store_hash head;
    unsigned n = 0;
    assert_int_equal(vs_branch_head(vxs.st, "connections", &head), 0);
    assert_int_equal(vs_log(vxs.st, &head, NULL, count_commit, &n), 0);
    return n;
}

/* The marks cost no store write per request: 300 writes whose events a watching guest reads
 * out of its ring, round after round, add at most one connection-table commit per second
 * (the bound is computed from the time the loop took, not asserted on it). */
static void test_marks_are_lazy(void **state)
{
    (void)state;
    struct vh_client *d0 = start(NULL);
    assert_int_equal(d0_req(d0, XS_WRITE, "/local/domain/5/backend/x", "0"), 0);
    vh_guest_send(5, XS_WATCH, 1, "/local/domain/5/backend\0w", 26);
    vh_guest_event(5);
    (void)guest_events(5);
    vxs_persist_marks(true);
    unsigned before = table_commits();
    uint64_t t0 = vxs_now_ms();
    for (int i = 0; i < 300; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        assert_int_equal(d0_req(d0, XS_WRITE, "/local/domain/5/backend/x", v), 0);
        assert_int_equal(guest_events(5), 1);
    }
    uint64_t ms = vxs_now_ms() - t0;
    unsigned added = table_commits() - before;
    print_message("300 watched writes in %llu ms: %u connection-table commits\n",
                  (unsigned long long)ms, added);
    assert_true(added <= 1 + ms / 1000);
    vh_finish_disk();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queued_events_survive_kill),
        cmocka_unit_test(test_stale_mark_gives_duplicates_only),
        cmocka_unit_test(test_watch_added_after_change_gets_no_old_events),
        cmocka_unit_test(test_first_event_not_lost),
        cmocka_unit_test(test_killed_again_during_replay),
        cmocka_unit_test(test_marks_are_lazy),
        cmocka_unit_test(test_mark_follows_catchup),
        cmocka_unit_test(test_mark_rides_table_commits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
