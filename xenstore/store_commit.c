/*
 * Branches (refs moved by compare-and-swap), 3-way merges of trees and merge bases.
 * Transactions are in store_txn.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/store_tree_int.h"

/* ---- commit queue ---------------------------------------------------------------------------- */

static bool cq_less(const struct vs_cq_ent *a, const struct vs_cq_ent *b)
{
    if (a->gen != b->gen)
        return a->gen < b->gen;
    return memcmp(a->h.b, b->h.b, STORE_HASH_LEN) < 0;
}

int vs_cq_push(struct vs_cq *q, uint64_t gen, const struct store_hash *h)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        struct vs_cq_ent *e = realloc(q->e, cap * sizeof(*e));
        if (e == NULL)
            return -ENOMEM;
        q->e = e;
        q->cap = cap;
    }
    size_t i = q->n++;
    q->e[i].gen = gen;
    q->e[i].h = *h;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cq_less(&q->e[p], &q->e[i]))
            break;
        struct vs_cq_ent tmp = q->e[p];
        q->e[p] = q->e[i];
        q->e[i] = tmp;
        i = p;
    }
    return 0;
}

bool vs_cq_pop(struct vs_cq *q, struct vs_cq_ent *out)
{
    if (q->n == 0)
        return false;
    *out = q->e[0];
    q->e[0] = q->e[--q->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->n && cq_less(&q->e[m], &q->e[l]))
            m = l;
        if (r < q->n && cq_less(&q->e[m], &q->e[r]))
            m = r;
        if (m == i)
            break;
        struct vs_cq_ent tmp = q->e[m];
        q->e[m] = q->e[i];
        q->e[i] = tmp;
        i = m;
    }
    return true;
}

void vs_cq_free(struct vs_cq *q)
{
    free(q->e);
    q->e = NULL;
    q->n = q->cap = 0;
}

/* ---- branches ---------------------------------------------------------------------------------- */

int vs_branch_head(struct vs_store *st, const char *branch, struct store_hash *commit)
{
    return st->os->ops->get_ref(st->os, branch, commit);
}

int vs_branch_set(struct vs_store *st, const char *branch, const struct store_hash *expect,
                  const struct store_hash *commit, enum store_sync sync,
                  store_durable_fn done, void *done_arg)
{
    return st->os->ops->set_ref(st->os, branch, expect, commit, sync, done, done_arg);
}

int vs_branch_commit(struct vs_tree *t, const char *branch, const struct vs_commit_info *info,
                     enum store_sync sync, store_durable_fn done, void *done_arg,
                     struct store_hash *commit_out)
{
    struct store_hash base, h;
    bool hb = vs_tree_base(t, &base);
    int rc = vs_tree_commit(t, hb ? &base : NULL, hb ? 1 : 0, info, &h);
    if (rc < 0)
        return rc;
    if (commit_out)
        *commit_out = h;
    return vs_branch_set(t->st, branch, hb ? &base : NULL, &h, sync, done, done_arg);
}

/* ---- merge ------------------------------------------------------------------------------------- */

enum vs_merge_choice vs_merge_prefer_ours(void *arg, const char *path, const struct vs_own *b,
                                          const struct vs_own *o, const struct vs_own *t)
{
    (void)arg, (void)path, (void)b, (void)o, (void)t;
    return VS_MERGE_OURS;
}

enum vs_merge_choice vs_merge_prefer_theirs(void *arg, const char *path,
                                            const struct vs_own *b, const struct vs_own *o,
                                            const struct vs_own *t)
{
    (void)arg, (void)path, (void)b, (void)o, (void)t;
    return VS_MERGE_THEIRS;
}

struct mctx {
    struct vs_tree *bt, *ot, *tt;
    vs_merge_policy policy;
    void *arg;
};

static int own_of(struct vs_tree *t, struct vs_node *n, struct vs_own *o)
{
    memset(o, 0, sizeof(*o));
    if (n == NULL)
        return 0;
    int rc = vs_node_value(t, n);
    if (rc < 0)
        return rc;
    o->present = true;
    o->val = n->val;
    o->vlen = n->vlen;
    o->perms = n->perms;
    o->plen = n->plen;
    return 0;
}

/* -EAGAIN unless the policy picks a side; *theirs tells which. */
static int ask(struct mctx *m, const char *path, struct vs_node *b, struct vs_node *o,
               struct vs_node *t, bool *theirs)
{
    struct vs_own ob, oo, ot;
    int rc = own_of(m->bt, b, &ob);
    if (rc == 0)
        rc = own_of(m->ot, o, &oo);
    if (rc == 0)
        rc = own_of(m->tt, t, &ot);
    if (rc < 0)
        return rc;
    enum vs_merge_choice c =
        m->policy ? m->policy(m->arg, path, &ob, &oo, &ot) : VS_MERGE_FAIL;
    if (c == VS_MERGE_FAIL)
        return -EAGAIN;
    *theirs = c == VS_MERGE_THEIRS;
    return 0;
}

static bool same_hash(struct vs_node *a, struct vs_node *b)
{
    return a && b && !a->dirty && !b->dirty && store_hash_equal(&a->h, &b->h);
}

/* A fresh copy of src's subtree (from tree st), stamped with dt's gen. */
static int deep_copy(struct vs_tree *st, struct vs_node *src, struct vs_tree *dt,
                     struct vs_node **out)
{
    int rc = vs_node_value(st, src);
    if (rc < 0)
        return rc;
    struct vs_node *n = vs_node_new();
    if (n == NULL)
        return -ENOMEM;
    dt->loaded++;
    rc = vs_node_set_fields(dt, n, src->val, src->vlen, src->perms, src->plen,
                            VS_SET_VALUE | VS_SET_PERMS);
    struct vs_entry **ents = NULL;
    size_t k = 0;
    if (rc == 0)
        rc = vs_dir_entries(st, &src->dir, 0, &ents, &k);
    for (size_t i = 0; rc == 0 && i < k; i++) {
        struct vs_node *c, *cc;
        rc = vs_entry_node(st, ents[i], &c);
        if (rc == 0)
            rc = deep_copy(st, c, dt, &cc);
        if (rc < 0)
            break;
        struct vs_entry e = {.n = cc};
        if (vs_entry_set_name(&e, ents[i]->name, ents[i]->nlen) < 0) {
            vs_node_free(cc);
            rc = -ENOMEM;
            break;
        }
        rc = vs_dir_insert(dt, &n->dir, 0, &e);
        if (rc < 0) {
            free(e.name);
            vs_node_free(cc);
        }
    }
    free(ents);
    if (rc < 0) {
        vs_node_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

static int child_of(struct vs_tree *t, struct vs_node *n, const char *name,
                    struct vs_entry **e, struct vs_node **c)
{
    *e = NULL;
    *c = NULL;
    if (n == NULL)
        return 0;
    int rc = vs_dir_find(t, &n->dir, 0, name, false, e);
    if (rc == -ENOENT) {
        *e = NULL;
        return 0;
    }
    if (rc < 0)
        return rc;
    return vs_entry_node(t, *e, c);
}

static int merge_node(struct mctx *m, const char *path, struct vs_node *b, struct vs_node *o,
                      struct vs_node *t);

static int merge_child(struct mctx *m, const char *path, const char *name, uint8_t in,
                       struct vs_node *b, struct vs_node *o, struct vs_node *t)
{
    struct vs_entry *be, *oe, *te;
    struct vs_node *bc, *oc, *tc;
    int rc = child_of(m->bt, b, name, &be, &bc);
    if (rc == 0)
        rc = child_of(m->ot, o, name, &oe, &oc);
    if (rc == 0)
        rc = child_of(m->tt, t, name, &te, &tc);
    if (rc < 0)
        return rc;
    char *cpath = vs_path_join(path, name);
    if (cpath == NULL)
        return -ENOMEM;
    bool theirs = false;
    if (in == 3) {
        rc = merge_node(m, cpath, bc, oc, tc);
        if (rc == 0 && oc->dirty) {
            o->dirty = true;
            rc = vs_dir_find(m->ot, &o->dir, 0, name, true, &oe);
        }
    } else if (in == 1) { /* only ours has it */
        if (bc == NULL || same_hash(bc, oc)) {
            if (bc != NULL)
                theirs = true; /* theirs removed it, ours did not touch it */
        } else {
            rc = ask(m, cpath, bc, oc, NULL, &theirs);
        }
        if (rc == 0 && theirs) {
            rc = vs_dir_remove(m->ot, &o->dir, 0, name);
            o->version = m->ot->gen;
            o->dirty = true;
        }
    } else { /* only theirs has it */
        if (bc == NULL)
            theirs = true; /* theirs added it */
        else if (!same_hash(bc, tc))
            rc = ask(m, cpath, bc, NULL, tc, &theirs);
        if (rc == 0 && theirs) {
            struct vs_node *copy;
            rc = deep_copy(m->tt, tc, m->ot, &copy);
            if (rc == 0) {
                struct vs_entry e = {.n = copy};
                rc = vs_entry_set_name(&e, name, strlen(name));
                if (rc == 0)
                    rc = vs_dir_insert(m->ot, &o->dir, 0, &e);
                if (rc < 0) {
                    free(e.name);
                    vs_node_free(copy);
                }
            }
            o->version = m->ot->gen;
            o->dirty = true;
        }
    }
    free(cpath);
    return rc;
}

static int merge_node(struct mctx *m, const char *path, struct vs_node *b, struct vs_node *o,
                      struct vs_node *t)
{
    if (same_hash(o, t) || same_hash(b, t))
        return 0;
    int eq = vs_own_equal(m->ot, o, m->tt, t);
    if (eq < 0)
        return eq;
    if (!eq) {
        bool theirs;
        int bo = b ? vs_own_equal(m->bt, b, m->ot, o) : 0;
        int bt = b ? vs_own_equal(m->bt, b, m->tt, t) : 0;
        if (bo < 0 || bt < 0)
            return bo < 0 ? bo : bt;
        int rc = 0;
        if (bo)
            theirs = true;
        else if (bt)
            theirs = false;
        else
            rc = ask(m, path, b, o, t, &theirs);
        if (rc < 0)
            return rc;
        if (theirs) {
            rc = vs_node_value(m->tt, t);
            if (rc == 0)
                rc = vs_node_set_fields(m->ot, o, t->val, t->vlen, t->perms, t->plen,
                                        VS_SET_VALUE | VS_SET_PERMS);
            if (rc < 0)
                return rc;
        }
    }
    char **names;
    uint8_t *in;
    size_t n;
    int rc = vs_dir_changed(m->ot, &o->dir, m->tt, &t->dir, &names, &in, &n);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = merge_child(m, path, names[i], in[i], b, o, t);
    vs_names_free(names, n);
    free(in);
    return rc;
}

int vs_merge_roots(struct vs_store *st, const struct store_hash *base,
                   const struct store_hash *ours, const struct store_hash *theirs, uint64_t gen,
                   vs_merge_policy policy, void *arg, struct store_hash *out_root)
{
    struct store_hash empty;
    vs_empty_root(st, &empty);
    struct mctx m = {.policy = policy, .arg = arg};
    int rc = vs_tree_open_root(st, base ? base : &empty, gen, &m.bt);
    if (rc < 0)
        return rc;
    rc = vs_tree_open_root(st, ours, gen, &m.ot);
    if (rc == 0) {
        rc = vs_tree_open_root(st, theirs, gen, &m.tt);
        if (rc == 0) {
            rc = merge_node(&m, "/", m.bt->root, m.ot->root, m.tt->root);
            if (rc == 0)
                rc = vs_tree_write(m.ot, out_root);
            vs_tree_close(m.tt);
        }
        vs_tree_close(m.ot);
    }
    vs_tree_close(m.bt);
    return rc;
}

int vs_merge_base(struct vs_store *st, const struct store_hash *a, const struct store_hash *b,
                  struct store_hash *out)
{
    struct vs_hmap seen = {0};
    struct vs_cq q = {0};
    int rc = -ENOENT;
    const struct store_hash *start[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        struct vs_commit c;
        int r = vs_commit_read(st, start[i], &c);
        if (r < 0) {
            rc = r;
            goto out;
        }
        struct vs_hmap_ent *e = vs_hmap_add(&seen, start[i], NULL);
        if (e == NULL || vs_cq_push(&q, c.gen, start[i]) < 0) {
            vs_commit_free(&c);
            rc = -ENOMEM;
            goto out;
        }
        e->v |= 1u << i;
        vs_commit_free(&c);
    }
    struct vs_cq_ent top;
    while (vs_cq_pop(&q, &top)) {
        struct vs_hmap_ent *e = vs_hmap_find(&seen, &top.h);
        uint64_t flags = e->v;
        if (flags & 4)
            continue; /* already expanded */
        e->v |= 4;
        if ((flags & 3) == 3) {
            *out = top.h;
            rc = 0;
            goto out;
        }
        struct vs_commit c;
        int r = vs_commit_read(st, &top.h, &c);
        if (r == -ENOENT)
            continue;
        if (r < 0) {
            rc = r;
            goto out;
        }
        for (size_t i = 0; i < c.nparents; i++) {
            struct vs_commit pc;
            if (vs_commit_read(st, &c.parents[i], &pc) < 0)
                continue; /* collected */
            bool fresh;
            struct vs_hmap_ent *pe = vs_hmap_add(&seen, &c.parents[i], &fresh);
            if (pe == NULL || (fresh && vs_cq_push(&q, pc.gen, &c.parents[i]) < 0)) {
                vs_commit_free(&pc);
                vs_commit_free(&c);
                rc = -ENOMEM;
                goto out;
            }
            pe->v |= flags & 3;
            vs_commit_free(&pc);
        }
        vs_commit_free(&c);
    }
out:
    vs_hmap_free(&seen);
    vs_cq_free(&q);
    return rc;
}

int vs_branch_merge(struct vs_store *st, const char *branch, const struct store_hash *theirs,
                    vs_merge_policy policy, void *arg, const struct vs_commit_info *info,
                    enum store_sync sync, struct store_hash *commit_out)
{
    struct store_hash head, base;
    int rc = vs_branch_head(st, branch, &head);
    if (rc == -ENOENT) {
        rc = vs_branch_set(st, branch, NULL, theirs, sync, NULL, NULL);
        if (rc == 0 && commit_out)
            *commit_out = *theirs;
        return rc;
    }
    if (rc < 0)
        return rc;
    rc = vs_merge_base(st, &head, theirs, &base);
    bool has_base = rc == 0;
    if (rc < 0 && rc != -ENOENT)
        return rc;
    if (has_base && store_hash_equal(&base, theirs)) { /* already contained */
        if (commit_out)
            *commit_out = head;
        return 0;
    }
    if (has_base && store_hash_equal(&base, &head)) { /* fast-forward */
        rc = vs_branch_set(st, branch, &head, theirs, sync, NULL, NULL);
        if (rc == 0 && commit_out)
            *commit_out = *theirs;
        return rc;
    }
    struct vs_commit cb = {0}, co, ct;
    if (has_base && (rc = vs_commit_read(st, &base, &cb)) < 0)
        return rc;
    if ((rc = vs_commit_read(st, &head, &co)) < 0) {
        vs_commit_free(&cb);
        return rc;
    }
    if ((rc = vs_commit_read(st, theirs, &ct)) < 0) {
        vs_commit_free(&cb);
        vs_commit_free(&co);
        return rc;
    }
    uint64_t gen = (co.gen > ct.gen ? co.gen : ct.gen) + 1;
    struct store_hash root;
    rc = vs_merge_roots(st, has_base ? &cb.root : NULL, &co.root, &ct.root, gen, policy, arg,
                        &root);
    vs_commit_free(&cb);
    vs_commit_free(&co);
    vs_commit_free(&ct);
    if (rc < 0)
        return rc;
    struct vs_tree *t;
    rc = vs_tree_open_root(st, &root, gen, &t);
    if (rc < 0)
        return rc;
    struct store_hash parents[2] = {head, *theirs}, h;
    rc = vs_tree_commit(t, parents, 2, info, &h);
    vs_tree_close(t);
    if (rc == 0)
        rc = vs_branch_set(st, branch, &head, &h, sync, NULL, NULL);
    if (rc == 0 && commit_out)
        *commit_out = h;
    return rc;
}
