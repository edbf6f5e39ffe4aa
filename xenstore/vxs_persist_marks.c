/*
 * vxenstored: each ring's events-delivered mark in the connection table, saved so that it
 * follows what reached rsp[] without a store write per request.
 *
 * The mark (/dom/<domid>/ev, /sock/<name>/ev): "every watch event of the xenstore branch's
 * commits up to gen X has reached the ring (or was dropped, as live events are)". A restart
 * replays the events of the commits after it (vxs_events_replay.c), so it may be older than
 * the truth (duplicate events), never newer (lost ones). How far the saved mark lags behind
 * what the ring really had decides how many commits a restart replays. It is saved:
 *   - with each connection-table commit the daemon makes anyway (a message cut in rsp[],
 *     vxs_ring_partial.c; the head of a request larger than req[]; a WATCH; vxs_persist.c):
 *     no commit of its own, and those come with the large messages that keep a ring busy;
 *   - after a restart, while a ring takes the events its replay queued (its saved mark older
 *     than the head the replay started from; for CATCHUP_FOR_MS at most): as soon as its
 *     mark moves, after its flush, one such commit at a time (the next once the last is
 *     durable: about once per loop round). They used to be saved at fixed times (every
 *     100 ms in the first seconds, else each second), so a daemon killed before the first
 *     one replayed the whole previous replay again plus its own commits: under kills 20 to
 *     200 ms apart (tests/xenstored/killtest_ring.sh) the replay grew run after run to
 *     about a hundred commits (several hundred with every kill 10 ms after a start), and
 *     half or more of the events a guest got were duplicates; now a few commits
 *     (docs/ARCHITECTURE.md has the figures);
 *   - otherwise at most once a second (LAZY_MS), all rings in one commit: a ring busy with
 *     small requests costs no store write per request (test_marks_are_lazy).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/vxs.h"
#include "xenstore/vxs_persist_marks.h"
#include "xenstore/vxs_ring_partial.h"

#define BRANCH VXS_CONN_BRANCH
#define LAZY_MS 1000
#define CATCHUP_FOR_MS 5000

static const char perms[] = "n0";

int vxs_persist_set_mark(struct vs_txn *x, const char *dir, uint64_t gen)
{
    char path[80], val[24];
    snprintf(path, sizeof path, "%s/ev", dir);
    int n = snprintf(val, sizeof val, "%llu", (unsigned long long)gen);
    return vs_txn_set(x, path, val, (size_t)n, perms, sizeof perms,
                      VS_SET_VALUE | VS_SET_PERMS | VS_CREATE);
}

/* Between vxs_persist_load and the end of vxs_events_replay the saved marks are still the
 * only record of what the restored rings had (and their queues not yet what is owed): none
 * may be overwritten then. */
static bool marks_held;

/* After a restart's replay, a ring whose saved mark is older than the head then is in its
 * catch-up (c->ev_catchup: its mark saved as soon as it moves) until that mark passes it
 * or until catchup_until_ms. The last such commit is catchup_need: the next waits until it
 * is durable. */
static uint64_t catchup_until_ms, catchup_need;

void vxs_persist_marks_hold(bool hold)
{
    if (marks_held && !hold) {
        uint64_t head = vxs_head_gen();
        for (struct vxs_conn *c = vxs.conns; c; c = c->next)
            c->ev_catchup = (c->dom || c->in_table) && c->ev_saved < head ? head : 0;
        catchup_until_ms = vxs_now_ms() + CATCHUP_FOR_MS;
        catchup_need = 0;
    }
    marks_held = hold;
}

/* A ring's mark now: below every queued event's gen (one partly in rsp[] included: a restart
 * finishes it from its record, vxs_ring_partial.c, and then replays it whole), else the head
 * (every commit's events were queued when it was made, and are all gone into the ring, or
 * dropped as live events are). The minimum, not the first: a restart's first events are
 * tagged by their watch's start, in no order.
 * Cached while the queue's first message stays the same: a message queued later is a reply
 * (no gen), an event of a later commit, or a new watch's first event (one past the head then),
 * none below the cached value (the head when it was computed, at most). So only a message
 * leaving the queue's head can raise the mark; one dropped from the middle (an expired event)
 * leaves the cached mark lower than it could be, a duplicate at worst. (A restart queues its
 * old events before the marks are let go, vxs_events_replay: no mark is computed before.) */
static uint64_t mark_of(struct vxs_conn *c, uint64_t head)
{
    const struct vxs_out *first = c->out_head;
    if (!first)
        return head;
    if (c->ev_mark_serial != first->serial) {
        uint64_t m = head;
        for (const struct vxs_out *o = first; o; o = o->next)
            if (o->gen && o->gen - 1 < m)
                m = o->gen - 1;
        c->ev_mark = m;
        c->ev_mark_serial = first->serial;
    }
    return c->ev_mark < head ? c->ev_mark : head;
}

/* The connections whose mark moved since it was saved, or (clear_rsp) whose cut message's
 * record is stale (vxs_ring_partial_clear_due): what the next marks commit writes. Kept
 * from that commit's callback until it is made (no connection is freed in between). */
struct moved {
    struct vxs_conn *c;
    char dir[64];
    uint64_t gen;
    bool rsp_done;
};
static struct moved *moved;
static size_t nmoved, moved_cap;

/* Fills moved[]; returns how many marks moved (not counting stale records), or -1. */
static long collect(uint64_t head, bool clear_rsp)
{
    long marks = 0;
    nmoved = 0;
    for (struct vxs_conn *c = vxs.conns; c; c = c->next) {
        if ((!c->dom && !c->in_table) || c->dead)
            continue;
        uint64_t m = mark_of(c, head);
        bool rsp_done = clear_rsp && vxs_ring_partial_clear_due(c);
        if (m == c->ev_saved && !rsp_done)
            continue;
        if (nmoved == moved_cap) {
            size_t cap = moved_cap ? moved_cap * 2 : 8;
            struct moved *v = realloc(moved, cap * sizeof *v);
            if (!v)
                return -1;
            moved = v;
            moved_cap = cap;
        }
        struct moved *e = &moved[nmoved++];
        e->c = c;
        vxs_persist_conn_dir(e->dir, sizeof e->dir, c);
        e->gen = m;
        e->rsp_done = rsp_done;
        marks += m != c->ev_saved;
    }
    return marks;
}

/* moved[] into a table commit; 1 if none is in the table any more (released meanwhile). */
static int put_moved(struct vs_txn *x, struct vxs_events *ev)
{
    int done = 0;
    for (size_t i = 0; i < nmoved; i++) {
        struct vs_stat st;
        if (vs_txn_stat(x, moved[i].dir, &st) < 0)
            continue; /* released (closed) meanwhile */
        int rc = vxs_persist_set_mark(x, moved[i].dir, moved[i].gen);
        if (rc < 0)
            return rc;
        if (moved[i].rsp_done) {
            char path[80];
            snprintf(path, sizeof path, "%s/rsp", moved[i].dir);
            if ((rc = vxs_persist_rm(x, ev, path)) < 0)
                return rc;
        }
        done++;
    }
    return done ? 0 : 1;
}

static int put_marks(struct vs_txn *x, struct vxs_events *ev, void *p)
{
    (void)p;
    return put_moved(x, ev);
}

/* moved[] is in the table now. */
static void moved_saved(void)
{
    for (size_t i = 0; i < nmoved; i++) {
        moved[i].c->ev_saved = moved[i].gen;
        if (moved[i].rsp_done)
            moved[i].c->dom->ring.partial.saved = false;
    }
    nmoved = 0;
}

static bool with_pending;

int vxs_persist_marks_with(struct vs_txn *x)
{
    with_pending = false;
    if (marks_held)
        return 0;
    uint64_t head = vxs_head_gen();
    if (!head || collect(head, false) <= 0)
        return 0;
    int rc = put_moved(x, NULL);
    with_pending = rc == 0;
    return rc < 0 ? rc : 0;
}

void vxs_persist_marks_with_done(void)
{
    if (with_pending)
        moved_saved();
    with_pending = false;
}

/* One commit of every mark that moved (and of the stale records' removal); returns its seq,
 * or 0 if there was nothing to save. */
static uint64_t save(uint64_t head)
{
    if (collect(head, true) < 0 || nmoved == 0)
        return 0;
    uint64_t seq = vxs_txn_daemon_commit(BRANCH, "marks", put_marks, NULL);
    moved_saved();
    return seq;
}

void vxs_persist_marks(bool force)
{
    static uint64_t last_ms;
    uint64_t now = vxs_now_ms();
    if (marks_held || (!force && now - last_ms < LAZY_MS))
        return;
    last_ms = now;
    uint64_t head = vxs_head_gen();
    if (head)
        save(head);
}

void vxs_persist_marks_flushed(struct vxs_conn *c)
{
    if (c->ev_catchup && c->ev_saved >= c->ev_catchup)
        c->ev_catchup = 0; /* caught up */
    if (!marks_held && c->ev_catchup && !c->dead && catchup_need <= vxs.durable_upto) {
        if (vxs_now_ms() >= catchup_until_ms) {
            c->ev_catchup = 0; /* (a ring that reads this slowly gets lazy saves) */
        } else if (!c->out_head || c->ev_mark_serial != c->out_head->serial) {
            /* Its queue's head moved (or the queue is empty): maybe its mark too. */
            uint64_t head = vxs_head_gen();
            if (head && mark_of(c, head) != c->ev_saved) {
                uint64_t seq = save(head);
                if (seq)
                    catchup_need = seq;
                return;
            }
        }
    }
    vxs_persist_marks(false);
}

static bool mark_get(const char *dir, uint64_t *gen)
{
    struct vs_txn *x;
    if (vs_txn_begin(vxs.st, BRANCH, &x) < 0)
        return false;
    char path[80];
    snprintf(path, sizeof path, "%s/ev", dir);
    void *val;
    size_t len;
    bool ok = false;
    if (vs_txn_read(x, path, &val, &len) == 0) {
        char buf[24] = "";
        memcpy(buf, val, len < sizeof buf - 1 ? len : sizeof buf - 1);
        free(val);
        char *end;
        unsigned long long g = strtoull(buf, &end, 10);
        if (end != buf && !*end) {
            *gen = g;
            ok = true;
        }
    }
    vs_txn_abort(x);
    return ok;
}

bool vxs_persist_mark_get(uint32_t domid, uint64_t *gen)
{
    char dir[32];
    snprintf(dir, sizeof dir, "/dom/%u", domid);
    return mark_get(dir, gen);
}

bool vxs_persist_conn_mark_get(const struct vxs_conn *c, uint64_t *gen)
{
    char dir[64];
    vxs_persist_conn_dir(dir, sizeof dir, c);
    return mark_get(dir, gen);
}
