/* vxenstored: xenstore transactions of a connection (ids, limits, end) and the commits of
 * single requests. Conflicts follow C xenstored's rule through the store transaction
 * (store_txn.c: untouched nodes read live, EAGAIN at commit when a node the transaction
 * accessed changed since its first access). Watch events fire at commit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/vxs.h"
#include "xenstore/vxs_quota.h"

int vxs_txn_start(struct vxs_conn *c, uint32_t *id)
{
    /* As C 4.17 (transaction_started > quota): one transaction beyond the limit opens. */
    if (vxs.max_txs && c->ntxs > vxs.max_txs && !c->priv)
        return -ENOSPC;
    struct vxs_tx *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    int rc = vs_txn_begin(vxs.st, VXS_BRANCH, &t->x);
    if (rc < 0) {
        free(t);
        return rc;
    }
    /* C's transaction-nodes quota counts every node the transaction accesses (parents looked
     * at, removed subtrees), which the store transaction counts exactly. */
    if (!c->priv)
        vs_txn_set_max_accessed(t->x, vxs_quota_limit(c->domid, VXS_Q_TRANSACTION_NODES));
    do {
        t->id = c->next_txid++;
    } while (t->id == 0 || vxs_txn_find(c, t->id));
    t->next = c->txs;
    c->txs = t;
    c->ntxs++;
    *id = t->id;
    return 0;
}

struct vxs_tx *vxs_txn_find(struct vxs_conn *c, uint32_t id)
{
    for (struct vxs_tx *t = c->txs; t; t = t->next)
        if (t->id == id)
            return t;
    return NULL;
}

static void unlink_tx(struct vxs_conn *c, struct vxs_tx *t)
{
    for (struct vxs_tx **pt = &c->txs; *pt; pt = &(*pt)->next)
        if (*pt == t) {
            *pt = t->next;
            c->ntxs--;
            return;
        }
}

/* C fires a transaction's events at commit, checking the watcher's access with the node's
 * perms at the transaction's first access or, for a node that did not exist then, with the
 * committed node: a node the transaction created and removed again has neither, so no event
 * reports it. Drop those. */
static void drop_transient(struct vs_txn *x, struct vxs_events *ev)
{
    size_t k = 0;
    for (size_t i = 0; i < ev->n; i++) {
        bool then, now;
        if (vs_txn_was_accessed(x, ev->paths[i], &then, &now) && !then && !now) {
            free(ev->paths[i]); /* and its perms: one allocation (vxs_events_add) */
            continue;
        }
        ev->paths[k] = ev->paths[i];
        ev->exact[k] = ev->exact[i];
        ev->perms[k] = ev->perms[i];
        ev->perms_len[k] = ev->perms_len[i];
        k++;
    }
    ev->n = k;
}

/* Moves the events ev->paths[0..n) into the order order[] gives (indexes into the old
 * arrays). */
static void events_permute(struct vxs_events *ev, const size_t *order)
{
    size_t n = ev->n;
    char **paths = malloc(n * (2 * sizeof(char *) + sizeof(size_t) + sizeof(bool)));
    if (!paths)
        return; /* keep the order they came in */
    char **perms = paths + n;
    size_t *plen = (size_t *)(perms + n);
    bool *exact = (bool *)(plen + n);
    for (size_t i = 0; i < n; i++) {
        paths[i] = ev->paths[order[i]];
        perms[i] = ev->perms[order[i]];
        plen[i] = ev->perms_len[order[i]];
        exact[i] = ev->exact[order[i]];
    }
    memcpy(ev->paths, paths, n * sizeof(char *));
    memcpy(ev->perms, perms, n * sizeof(char *));
    memcpy(ev->perms_len, plen, n * sizeof(size_t));
    memcpy(ev->exact, exact, n * sizeof(bool));
    free(paths);
}

struct ranked {
    size_t rank, at;
};

static int ranked_cmp(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* C xenstored queues a transaction's events on the nodes it accessed, one per node, and
 * fires them at the commit in the order of the nodes' first access (a read counts), each
 * node's as an exact event only if every change of it was exact (a removed subtree's inner
 * nodes). So: the events sorted by the first access of their path (stable), the exactness
 * of one path's events made the same. */
static void order_by_access(struct vs_txn *x, struct vxs_events *ev)
{
    size_t n = ev->n;
    if (n < 2)
        return;
    struct ranked *r = malloc(n * sizeof *r);
    size_t *order = malloc(n * sizeof *order);
    if (r && order) {
        for (size_t i = 0; i < n; i++) {
            r[i].rank = vs_txn_access_rank(x, ev->paths[i]);
            if (r[i].rank == 0)
                r[i].rank = SIZE_MAX; /* not accessed (cannot happen): last */
            r[i].at = i;
        }
        qsort(r, n, sizeof *r, ranked_cmp);
        for (size_t i = 0; i < n; i++)
            order[i] = r[i].at;
        events_permute(ev, order);
        for (size_t i = 0, j; i < n; i = j) {
            bool exact = true;
            for (j = i; j < n && strcmp(ev->paths[j], ev->paths[i]) == 0; j++)
                exact = exact && ev->exact[j];
            for (size_t k = i; k < j; k++)
                ev->exact[k] = exact;
        }
    }
    free(r);
    free(order);
}

static int commit(struct vxs_conn *c, struct vs_txn *x, struct vxs_events *ev, bool dirty,
                  const char *what, uint64_t *need)
{
    drop_transient(x, ev);
    *need = 0;
    /* "dom%u/conn%u", by hand: snprintf was ~1k instructions of each write's ~26k. A ring's
     * request adds "@<its ring index>", a kept socket's "@<its name>:<its stream offset>":
     * a restart finds it done (vxs_replay_done.c). */
    char author[32 + sizeof c->name + 12], *a = author;
    memcpy(a, "dom", 3);
    a = vxs_fmt_u32(a + 3, c->domid);
    memcpy(a, "/conn", 5);
    a = vxs_fmt_u32(a + 5, c->id);
    if (c->dom || c->rx) {
        *a++ = '@';
        if (!c->dom) {
            size_t n = strnlen(c->name, sizeof c->name - 1);
            memcpy(a, c->name, n);
            a[n] = ':';
            a += n + 1;
        }
        a = vxs_fmt_u32(a, c->req_pos);
    }
    *a = 0;
    struct vs_commit_info info = {.author = author, .message = what, .time_ns = 0};
    int rc;
    if (!dirty) {
        /* Nothing to write: validate only (a read-only transaction still gets EAGAIN when
         * what it read changed, as in C xenstored). */
        rc = vs_txn_commit(x, &info, vxs.sync, NULL, NULL, NULL);
    } else {
        uint64_t seq = vxs_seq_new();
        rc = vs_txn_commit(x, &info, vxs.sync, vxs_seq_durable, (void *)(uintptr_t)seq, NULL);
        if (rc == 0) {
            *need = seq;
        } else {
            vxs_seq_durable((void *)(uintptr_t)seq, true); /* nothing to wait for */
        }
    }
    if (rc == 0)
        vxs_watch_fire(ev, *need ? *need : vxs.next_seq);
    vxs_events_free(ev);
    return rc;
}

int vxs_txn_end(struct vxs_conn *c, struct vxs_tx *t, bool do_commit, const char *what,
                uint64_t *need)
{
    unlink_tx(c, t);
    int rc = 0;
    *need = 0;
    if (do_commit) {
        order_by_access(t->x, &t->ev);
        rc = commit(c, t->x, &t->ev, t->dirty, what, need);
    } else {
        vs_txn_abort(t->x);
        vxs_events_free(&t->ev);
    }
    free(t);
    return rc;
}

void vxs_txn_clear(struct vxs_conn *c)
{
    while (c->txs) {
        uint64_t need;
        vxs_txn_end(c, c->txs, false, NULL, &need);
    }
}

int vxs_txn_commit_one(struct vxs_conn *c, struct vs_txn *x, struct vxs_events *ev, bool dirty,
                       const char *what, uint64_t *need)
{
    return commit(c, x, ev, dirty, what, need);
}

uint64_t vxs_txn_daemon_commit(const char *branch, const char *what,
                               int (*fn)(struct vs_txn *x, struct vxs_events *ev, void *arg),
                               void *arg)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        struct vs_txn *x;
        struct vxs_events ev = {0};
        if (vs_txn_begin(vxs.st, branch, &x) < 0)
            break;
        int rc = fn(x, &ev, arg);
        if (rc != 0) {
            vs_txn_abort(x);
            vxs_events_free(&ev);
            if (rc > 0)
                return vxs.next_seq; /* nothing to change */
            break;
        }
        uint64_t seq = vxs_seq_new();
        struct vs_commit_info info = {.author = "vxenstored", .message = what};
        rc = vs_txn_commit(x, &info, vxs.sync, vxs_seq_durable, (void *)(uintptr_t)seq, NULL);
        if (rc == 0) {
            vxs_watch_fire(&ev, seq);
            vxs_events_free(&ev);
            return seq;
        }
        vxs_seq_durable((void *)(uintptr_t)seq, true); /* nothing to wait for */
        vxs_events_free(&ev);
        if (rc != -EAGAIN)
            break;
    }
    vxs_log("cannot commit: %s", what);
    return vxs.next_seq;
}
