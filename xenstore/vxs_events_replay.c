/*
 * vxenstored: the watch events a ring may have missed while the daemon was down.
 *
 * A ring's watch events wait in the daemon's memory until they fit in rsp[]; SIGKILL loses
 * them. The event's path matters to the guest (a backend watching "backend/vbd" acts on
 * "backend/vbd/1/51712/state", not on "backend/vbd"), so firing each restored watch once at
 * its own path is not enough. Instead each ring has a mark in the connection table: "every
 * event of the xenstore branch's commits up to gen X has reached the ring (or was dropped,
 * as live events are)". It is saved without a store write per request (vxs_persist_marks.c:
 * with the table's other commits, at once while a ring takes the events a restart replayed,
 * else at most once a second) and is only ever too old, never too
 * new: a ring's queued event keeps its mark below that event's commit. The branch is a line
 * of commits (a transaction is replayed onto the head, never merged), so at start-up the
 * commits after the oldest mark are diffed one by one against their parents, oldest first,
 * and each changed path is offered to every restored watch whose mark and registration are
 * older than the commit: the same matching (depth, relative paths) and read check (the node
 * or its parent, in that commit's trees) as live events. The result is a superset of what
 * was owed: duplicates of events the guest had already, and, because a diff sees nodes and
 * not requests, an event for each node of a removed or created subtree (live: the requested
 * path, and the watched nodes inside a removed one) - every one a path that did change.
 * Not seen by a diff, so not replayed: a write that changed neither value nor perms.
 *
 * Still fired once at their own path, as before (a duplicate at worst):
 *   - the special watches (@introduceDomain, @releaseDomain, @releaseDomain/<domid>): their
 *     events are not commits of the xenstore branch, but their event is their own name, so
 *     this is the event itself; only a watch on @releaseDomain with a depth, which is told
 *     the domid live ("@releaseDomain/5"), gets the plain name (and a domain found gone or
 *     shut down at start-up fires @releaseDomain again anyway);
 *   - a watch whose start is unknown (a table written by an older version) or older than the
 *     history kept (GC, or more than REPLAY_MAX commits back): the commits that are left are
 *     replayed too.
 *   - a watch whose first event may not have reached the ring: that event is tagged one past
 *     the watch's start (vxs_watch_first_event), so the mark stays at or below the start
 *     until it has left (a lazily saved mark gives a duplicate at worst).
 * A WATCH whose reply died with the daemon is handled again and sends its first event again
 * (vxs_dispatch.c).
 */
#include <stdlib.h>
#include <string.h>

#include "xenstore/vxs.h"
#include "xenstore/vxs_replay_done.h"
#include "xenstore/vxs_ring_partial.h"

/* How many commits back a restart looks at most. */
#define REPLAY_MAX 20000

struct commit_ref {
    struct store_hash h;
    uint64_t gen;
};

struct collect {
    struct commit_ref *v;
    size_t n, cap;
    uint64_t stop_at; /* the oldest start: commits with gen <= it are not needed */
    bool reached;     /* the walk reached stop_at (the history is complete) */
};

static int collect_one(void *p, const struct store_hash *h, const struct vs_commit *c)
{
    struct collect *a = p;
    if (c->gen <= a->stop_at) {
        a->reached = true;
        return 1;
    }
    if (a->n == REPLAY_MAX)
        return 2;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        struct commit_ref *v = realloc(a->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n].h = *h;
    a->v[a->n++].gen = c->gen;
    if (c->gen == 1 || c->nparents == 0)
        a->reached = true; /* the first commit: nothing older exists */
    return 0;
}

struct paths {
    char **v;
    size_t n, cap;
};

static int note_path(void *p, const char *path, enum vs_change ch)
{
    (void)ch;
    struct paths *a = p;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        char **v = realloc(a->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        a->v = v;
        a->cap = cap;
    }
    if (!(a->v[a->n] = strdup(path)))
        return -ENOMEM;
    a->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A connection whose watches came back from the table: a ring, or a socket the fd store
 * kept (vxs_sock.c). */
static bool replayed(const struct vxs_conn *c)
{
    return c->restored && (c->dom || c->in_table);
}

/* Where a watch's replay starts: the later of its ring's mark and its registration. */
static uint64_t start_of(const struct vxs_watch *w, bool have_mark, uint64_t mark)
{
    uint64_t s = have_mark ? mark : 0;
    return w->since > s ? w->since : s;
}

/* May c read the node at path, or its parent, in tree t (C's watch_permitted)? */
static bool may_see(struct vs_tree *t, const char *path, const struct vxs_conn *c)
{
    void *perms;
    size_t len;
    if (vs_tree_get_perms(t, path, &perms, &len) == 0) {
        bool ok = vxs_perms_for(perms, len, c) & VXS_PERM_READ;
        free(perms);
        if (ok)
            return true;
    }
    const char *slash = strrchr(path, '/');
    if (!slash || strcmp(path, "/") == 0)
        return false;
    char parent[XENSTORE_ABS_PATH_MAX + 1];
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof parent)
        return false;
    memcpy(parent, path, n);
    parent[n] = 0;
    if (vs_tree_get_perms(t, parent, &perms, &len) < 0)
        return false;
    bool ok = vxs_perms_for(perms, len, c) & VXS_PERM_READ;
    free(perms);
    return ok;
}

/* The events of one commit (gen) to the restored rings' watches that start before it. */
static void replay_commit(const struct commit_ref *ref, const bool *have_mark,
                          const uint64_t *mark, size_t nrings)
{
    struct vs_commit cm;
    if (vs_commit_read(vxs.st, &ref->h, &cm) < 0)
        return;
    struct store_hash parent_root;
    if (cm.nparents) {
        struct vs_commit pc;
        if (vs_commit_read(vxs.st, &cm.parents[0], &pc) < 0) {
            vs_commit_free(&cm);
            return;
        }
        parent_root = pc.root;
        vs_commit_free(&pc);
    } else {
        vs_empty_root(vxs.st, &parent_root);
    }
    struct paths ps = {0};
    struct vs_tree *now = NULL, *then = NULL;
    if (vs_diff_roots(vxs.st, &parent_root, &cm.root, note_path, &ps) < 0 || ps.n == 0 ||
        vs_tree_open(vxs.st, &ref->h, &now) < 0 ||
        vs_tree_open_root(vxs.st, &parent_root, cm.gen, &then) < 0)
        goto out;
    qsort(ps.v, ps.n, sizeof *ps.v, cmp_str);
    for (size_t i = 0; i < ps.n; i++) {
        const char *p = ps.v[i];
        struct vs_stat st;
        /* The node as it is after the commit, or as it was before a removal. */
        struct vs_tree *t = vs_tree_stat(now, p, &st) == 0 ? now : then;
        size_t k = 0;
        for (struct vxs_conn *c = vxs.conns; c; c = c->next) {
            if (!replayed(c))
                continue;
            size_t ri = k++;
            if (ri >= nrings)
                break;
            if (c->dead)
                continue;
            int seen = -1; /* the read check, made once per connection and path */
            for (struct vxs_watch *w = c->watches; w; w = w->next) {
                if (w->path[0] == '@' || start_of(w, have_mark[ri], mark[ri]) >= ref->gen ||
                    (!w->since && !have_mark[ri]) || !vxs_watch_matches(w, p, false))
                    continue;
                if (seen < 0)
                    seen = may_see(t, p, c);
                if (seen)
                    vxs_watch_report(c, w, p, ref->gen, vxs.next_seq);
            }
        }
    }
out:
    if (now)
        vs_tree_close(now);
    if (then)
        vs_tree_close(then);
    for (size_t i = 0; i < ps.n; i++)
        free(ps.v[i]);
    free(ps.v);
    vs_commit_free(&cm);
}

void vxs_events_replay(void)
{
    /* First on each restored ring: the rest of a message a kill cut in rsp[]. */
    vxs_ring_partial_restore_all();
    /* Once per restart, before any restored connection is read: the requests committed
     * before the kill, so that none is applied again. */
    vxs_replay_done_scan();
    size_t nrings = 0;
    for (const struct vxs_conn *c = vxs.conns; c; c = c->next)
        nrings += replayed(c);
    if (!nrings) {
        vxs_persist_marks_hold(false);
        return;
    }
    bool *have_mark = calloc(nrings, sizeof *have_mark);
    uint64_t *mark = calloc(nrings, sizeof *mark);
    if (!have_mark || !mark) {
        vxs_persist_marks_hold(false);
        goto out;
    }
    /* Each ring's mark, and the oldest start of a watch that wants a replay. */
    uint64_t head = vxs_head_gen(), oldest = UINT64_MAX;
    size_t k = 0;
    for (struct vxs_conn *c = vxs.conns; c; c = c->next) {
        if (!replayed(c))
            continue;
        size_t ri = k++;
        have_mark[ri] = vxs_persist_conn_mark_get(c, &mark[ri]);
        if (have_mark[ri])
            c->ev_saved = mark[ri];
        for (const struct vxs_watch *w = c->watches; w; w = w->next)
            if (w->path[0] != '@' && (w->since || have_mark[ri])) {
                uint64_t s = start_of(w, have_mark[ri], mark[ri]);
                if (s < oldest)
                    oldest = s;
            }
    }
    struct collect col = {0};
    col.stop_at = oldest;
    if (oldest < head) {
        struct store_hash h;
        if (vs_branch_head(vxs.st, VXS_BRANCH, &h) == 0)
            vs_log(vxs.st, &h, NULL, collect_one, &col);
    } else {
        col.reached = true;
    }
    /* The history is complete down to this gen (exclusive): a watch starting earlier may
     * have missed events of commits that are gone. */
    uint64_t complete_from = col.reached ? 0 : col.n ? col.v[col.n - 1].gen - 1 : head;
    k = 0;
    for (struct vxs_conn *c = vxs.conns; c; c = c->next) {
        if (!replayed(c))
            continue;
        size_t ri = k++;
        for (struct vxs_watch *w = c->watches; w; w = w->next) {
            bool known = w->since || have_mark[ri];
            /* A mark not past the watch's start: its first event may not have left. */
            bool first = have_mark[ri] && w->since && mark[ri] <= w->since;
            /* (Tagged as a first event: until it leaves, the mark stays where a restart
             * sends it again.) */
            if (w->path[0] == '@' || !known || first ||
                start_of(w, have_mark[ri], mark[ri]) < complete_from)
                vxs_watch_first_event(c, w, vxs.next_seq);
        }
    }
    for (size_t i = col.n; i-- > 0;)
        replay_commit(&col.v[i], have_mark, mark, nrings);
    if (col.n)
        vxs_log("restart: watch events of %zu commits replayed", col.n);
    free(col.v);
    vxs_persist_marks_hold(false); /* from here on the queues say what is owed */
out:
    free(have_mark);
    free(mark);
}
