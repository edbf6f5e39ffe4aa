/*
 * History: commit log (optionally of one path), diffs that skip equal subtrees by hash,
 * blame, and the reachability walk the heap's garbage collector uses.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/store_tree_int.h"

/* ---- log ------------------------------------------------------------------------------------ */

/* Subtree hash at path in the tree of root (present false if there is no such node). */
static int path_hash(struct vs_store *st, const struct store_hash *root, const char *path,
                     bool *present, struct store_hash *h)
{
    struct vs_tree *t;
    int rc = vs_tree_open_root(st, root, 0, &t);
    if (rc < 0)
        return rc;
    rc = vs_tree_subtree_hash(t, path, h);
    vs_tree_close(t);
    *present = rc == 0;
    return rc == -ENOENT ? 0 : rc;
}

int vs_log(struct vs_store *st, const struct store_hash *head, const char *path, vs_log_fn fn,
           void *arg)
{
    struct vs_hmap seen = {0};
    struct vs_cq q = {0};
    struct vs_commit c;
    int rc = vs_commit_read(st, head, &c);
    if (rc < 0)
        return rc;
    if (vs_hmap_add(&seen, head, NULL) == NULL || vs_cq_push(&q, c.gen, head) < 0)
        rc = -ENOMEM;
    vs_commit_free(&c);
    struct vs_cq_ent top;
    while (rc == 0 && vs_cq_pop(&q, &top)) {
        rc = vs_commit_read(st, &top.h, &c);
        if (rc == -ENOENT) {
            rc = 0;
            continue;
        }
        if (rc < 0)
            break;
        bool show = true;
        if (path != NULL) {
            bool p1 = false, p2 = false;
            struct store_hash h1, h2;
            struct vs_commit pc;
            rc = path_hash(st, &c.root, path, &p1, &h1);
            if (rc == 0 && c.nparents > 0 && vs_commit_read(st, &c.parents[0], &pc) == 0) {
                rc = path_hash(st, &pc.root, path, &p2, &h2);
                vs_commit_free(&pc);
            }
            show = p1 != p2 || (p1 && !store_hash_equal(&h1, &h2));
        }
        if (rc == 0 && show)
            rc = fn(arg, &top.h, &c);
        for (size_t i = 0; rc == 0 && i < c.nparents; i++) {
            bool fresh;
            struct vs_hmap_ent *e = vs_hmap_add(&seen, &c.parents[i], &fresh);
            if (e == NULL) {
                rc = -ENOMEM;
                break;
            }
            if (!fresh)
                continue;
            struct vs_commit pc;
            if (vs_commit_read(st, &c.parents[i], &pc) < 0)
                continue; /* collected: history ends here */
            rc = vs_cq_push(&q, pc.gen, &c.parents[i]);
            vs_commit_free(&pc);
        }
        vs_commit_free(&c);
    }
    vs_hmap_free(&seen);
    vs_cq_free(&q);
    return rc;
}

/* ---- diff ----------------------------------------------------------------------------------- */

struct dctx {
    struct vs_tree *ta, *tb;
    vs_diff_fn fn;
    void *arg;
};

static int report_all(struct dctx *d, struct vs_tree *t, struct vs_node *n, const char *path,
                      enum vs_change kind)
{
    int rc = d->fn(d->arg, path, kind);
    struct vs_entry **ents = NULL;
    size_t k = 0;
    if (rc == 0)
        rc = vs_dir_entries(t, &n->dir, 0, &ents, &k);
    for (size_t i = 0; rc == 0 && i < k; i++) {
        struct vs_node *c;
        char *cp = vs_path_join(path, ents[i]->name);
        rc = cp ? vs_entry_node(t, ents[i], &c) : -ENOMEM;
        if (rc == 0)
            rc = report_all(d, t, c, cp, kind);
        free(cp);
    }
    free(ents);
    return rc;
}

static int diff_node(struct dctx *d, const char *path, struct vs_node *a, struct vs_node *b)
{
    if (!a->dirty && !b->dirty && store_hash_equal(&a->h, &b->h))
        return 0;
    int eq = vs_own_equal(d->ta, a, d->tb, b);
    if (eq < 0)
        return eq;
    int rc = eq ? 0 : d->fn(d->arg, path, VS_CHANGED);
    if (rc != 0)
        return rc;
    char **names;
    uint8_t *in;
    size_t n;
    rc = vs_dir_changed(d->ta, &a->dir, d->tb, &b->dir, &names, &in, &n);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *cp = vs_path_join(path, names[i]);
        struct vs_entry *ea = NULL, *eb = NULL;
        struct vs_node *ca = NULL, *cb = NULL;
        if (cp == NULL)
            rc = -ENOMEM;
        if (rc == 0 && (in[i] & 1) && (rc = vs_dir_find(d->ta, &a->dir, 0, names[i], false, &ea)) == 0)
            rc = vs_entry_node(d->ta, ea, &ca);
        if (rc == 0 && (in[i] & 2) && (rc = vs_dir_find(d->tb, &b->dir, 0, names[i], false, &eb)) == 0)
            rc = vs_entry_node(d->tb, eb, &cb);
        if (rc == 0) {
            if (ca && cb)
                rc = diff_node(d, cp, ca, cb);
            else if (ca)
                rc = report_all(d, d->ta, ca, cp, VS_REMOVED);
            else
                rc = report_all(d, d->tb, cb, cp, VS_ADDED);
        }
        free(cp);
    }
    vs_names_free(names, n);
    free(in);
    return rc;
}

int vs_diff_roots(struct vs_store *st, const struct store_hash *a, const struct store_hash *b,
                  vs_diff_fn fn, void *arg)
{
    struct dctx d = {.fn = fn, .arg = arg};
    int rc = vs_tree_open_root(st, a, 0, &d.ta);
    if (rc < 0)
        return rc;
    rc = vs_tree_open_root(st, b, 0, &d.tb);
    if (rc == 0) {
        rc = diff_node(&d, "/", d.ta->root, d.tb->root);
        vs_tree_close(d.tb);
    }
    vs_tree_close(d.ta);
    return rc;
}

int vs_diff_commits(struct vs_store *st, const struct store_hash *a,
                    const struct store_hash *b, vs_diff_fn fn, void *arg)
{
    struct vs_commit ca, cb;
    int rc = vs_commit_read(st, a, &ca);
    if (rc < 0)
        return rc;
    rc = vs_commit_read(st, b, &cb);
    if (rc == 0) {
        rc = vs_diff_roots(st, &ca.root, &cb.root, fn, arg);
        vs_commit_free(&cb);
    }
    vs_commit_free(&ca);
    return rc;
}

/* ---- blame ---------------------------------------------------------------------------------- */

int vs_blame(struct vs_store *st, const struct store_hash *head, const char *path,
             struct store_hash *out)
{
    struct store_hash cur = *head;
    struct vs_tree *t;
    int rc = vs_tree_open(st, head, &t);
    if (rc < 0)
        return rc;
    struct vs_node *n;
    rc = vs_lookup(t, path, &n);
    while (rc == 0) {
        struct vs_commit c;
        rc = vs_commit_read(st, &cur, &c);
        if (rc < 0)
            break;
        struct store_hash parent = c.parents[0];
        bool has_parent = c.nparents > 0;
        vs_commit_free(&c);
        struct vs_tree *pt;
        if (!has_parent || vs_tree_open(st, &parent, &pt) < 0)
            break; /* root commit, or history collected */
        struct vs_node *pn;
        rc = vs_lookup(pt, path, &pn);
        if (rc == -ENOENT) {
            rc = 0;
            vs_tree_close(pt);
            break;
        }
        int eq = rc < 0 ? rc : (!pn->dirty && !n->dirty && store_hash_equal(&pn->h, &n->h))
                                   ? 1
                                   : vs_own_equal(pt, pn, t, n);
        if (eq <= 0) {
            rc = eq;
            vs_tree_close(pt);
            break;
        }
        vs_tree_close(t);
        t = pt;
        n = pn;
        cur = parent;
    }
    vs_tree_close(t);
    if (rc == 0)
        *out = cur;
    return rc;
}

/* ---- reachability --------------------------------------------------------------------------- */

struct rctx {
    struct vs_store *st;
    struct vs_hmap visited;
    vs_reach_fn fn;
    void *arg;
};

static int emit(struct rctx *r, const struct store_hash *h, enum store_kind kind, bool *fresh)
{
    struct vs_hmap_ent *e = vs_hmap_add(&r->visited, h, fresh);
    if (e == NULL)
        return -ENOMEM;
    return *fresh ? r->fn(r->arg, h, kind) : 0;
}

static int reach_node(struct rctx *r, const struct store_hash *h);

static int reach_part(struct rctx *r, struct vs_inode *in, unsigned depth)
{
    int rc = 0;
    if (!in->tree) {
        for (size_t i = 0; rc == 0 && i < in->n; i++)
            rc = reach_node(r, &in->ents[i].h);
        return rc;
    }
    for (unsigned i = 0; rc == 0 && i < VS_FANOUT; i++) {
        if (!in->slot[i].present)
            continue;
        bool fresh;
        rc = emit(r, &in->slot[i].h, STORE_KIND_NODE, &fresh);
        if (rc < 0 || !fresh)
            continue;
        const uint8_t *d;
        size_t len;
        struct vs_inode sub;
        rc = vs_load(r->st, &in->slot[i].h, STORE_KIND_NODE, &d, &len);
        if (rc == 0)
            rc = vs_inode_decode(d, len, depth + 1, &sub);
        if (rc == 0) {
            rc = reach_part(r, &sub, depth + 1);
            vs_inode_clear(&sub);
        }
    }
    return rc;
}

static int reach_node(struct rctx *r, const struct store_hash *h)
{
    bool fresh;
    int rc = emit(r, h, STORE_KIND_NODE, &fresh);
    if (rc < 0 || !fresh)
        return rc;
    const uint8_t *d;
    size_t len;
    rc = vs_load(r->st, h, STORE_KIND_NODE, &d, &len);
    if (rc == -ENOENT) {
        struct store_hash e;
        vs_empty_root(r->st, &e);
        if (store_hash_equal(&e, h))
            return 0; /* the empty tree's root was never written */
    }
    if (rc < 0)
        return rc;
    struct vs_node n;
    memset(&n, 0, sizeof(n));
    rc = vs_node_decode(d, len, &n);
    if (rc < 0)
        return rc;
    if (n.val_blob)
        rc = emit(r, &n.vh, STORE_KIND_BLOB, &fresh);
    if (rc == 0)
        rc = reach_part(r, &n.dir, 0);
    vs_inode_clear(&n.dir);
    free(n.val);
    free(n.perms);
    return rc;
}

static int reach_commit(struct rctx *r, const struct store_hash *h, const struct vs_commit *c)
{
    bool fresh;
    int rc = emit(r, h, STORE_KIND_COMMIT, &fresh);
    if (rc < 0 || !fresh)
        return rc;
    return reach_node(r, &c->root);
}

int vs_reachable(struct vs_store *st, const struct store_hash *heads, size_t nheads,
                 const struct vs_keep *keep, vs_reach_fn fn, void *arg)
{
    struct rctx r = {.st = st, .fn = fn, .arg = arg};
    uint64_t now = keep->now_ns ? keep->now_ns : vs_now_ns();
    uint64_t horizon = 0;
    if (keep->seconds) {
        uint64_t span = keep->seconds > UINT64_MAX / 1000000000u
                            ? UINT64_MAX
                            : keep->seconds * 1000000000u;
        horizon = span >= now ? 0 : now - span;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < keep->nsnapshots; i++) {
        struct vs_commit c;
        rc = vs_commit_read(st, &keep->snapshots[i], &c);
        if (rc == 0) {
            rc = reach_commit(&r, &keep->snapshots[i], &c);
            vs_commit_free(&c);
        }
    }
    for (size_t hi = 0; rc == 0 && hi < nheads; hi++) {
        struct vs_hmap seen = {0};
        struct vs_cq q = {0};
        struct vs_commit c;
        uint64_t rank = 0;
        rc = vs_commit_read(st, &heads[hi], &c);
        if (rc == 0) {
            if (vs_hmap_add(&seen, &heads[hi], NULL) == NULL ||
                vs_cq_push(&q, c.gen, &heads[hi]) < 0)
                rc = -ENOMEM;
            vs_commit_free(&c);
        }
        struct vs_cq_ent top;
        while (rc == 0 && vs_cq_pop(&q, &top)) {
            if (vs_commit_read(st, &top.h, &c) < 0)
                continue;
            bool kept = rank == 0 || rank < keep->commits ||
                        (keep->seconds && c.time_ns >= horizon);
            rank++;
            if (kept) {
                rc = reach_commit(&r, &top.h, &c);
                for (size_t i = 0; rc == 0 && i < c.nparents; i++) {
                    bool fresh;
                    struct vs_hmap_ent *e = vs_hmap_add(&seen, &c.parents[i], &fresh);
                    struct vs_commit pc;
                    if (e == NULL)
                        rc = -ENOMEM;
                    else if (fresh && vs_commit_read(st, &c.parents[i], &pc) == 0) {
                        rc = vs_cq_push(&q, pc.gen, &c.parents[i]);
                        vs_commit_free(&pc);
                    }
                }
            }
            vs_commit_free(&c);
        }
        vs_hmap_free(&seen);
        vs_cq_free(&q);
    }
    vs_hmap_free(&r.visited);
    return rc;
}

/* ---- the pack GC's enumerator ------------------------------------------------------------ */

static int ref_fn(void *arg, const char *name, const struct store_hash *h)
{
    (void)name;
    return vs_hashes_push(arg, h);
}

struct live_adapter {
    int (*live)(void *larg, const struct store_hash *h);
    void *larg;
};

static int live_fn(void *arg, const struct store_hash *h, enum store_kind kind)
{
    (void)kind;
    struct live_adapter *a = arg;
    return a->live(a->larg, h);
}

int vs_gc_enumerate(void *arg, int (*live)(void *larg, const struct store_hash *h), void *larg)
{
    struct vs_gc_args *g = arg;
    struct vs_store *st = vs_store_open(g->os, 0);
    if (st == NULL)
        return -ENOMEM;
    struct vs_hashes l = {0};
    int rc = g->os->ops->list_refs(g->os, ref_fn, &l);
    struct store_hash *commits = calloc(l.n + 1, sizeof(*commits));
    size_t nc = 0;
    struct live_adapter a = {live, larg};
    struct rctx r = {.st = st, .fn = live_fn, .arg = &a};
    if (commits == NULL)
        rc = -ENOMEM;
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        enum store_kind kind;
        void *d;
        size_t len;
        rc = g->os->ops->get(g->os, &l.h[i], &kind, &d, &len);
        if (rc < 0)
            break;
        free(d);
        bool fresh;
        if (kind == STORE_KIND_COMMIT)
            commits[nc++] = l.h[i];
        else if (kind == STORE_KIND_NODE)
            rc = reach_node(&r, &l.h[i]);
        else
            rc = emit(&r, &l.h[i], kind, &fresh);
    }
    if (rc == 0)
        rc = vs_reachable(st, commits, nc, &g->keep, live_fn, &a);
    vs_hmap_free(&r.visited);
    free(commits);
    free(l.h);
    vs_store_close(st);
    return rc;
}
