/*
 * Branches (refs moved by compare-and-swap), 3-way merges of trees, merge bases, and
 * transactions with xenstore's conflict rule (a read set of own versions, validated against
 * the head, then the write set replayed onto it).
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
        struct vs_entry e = {.name = strdup(ents[i]->name), .n = cc};
        if (e.name == NULL) {
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
                struct vs_entry e = {.name = strdup(name), .n = copy};
                rc = e.name ? vs_dir_insert(m->ot, &o->dir, 0, &e) : -ENOMEM;
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

/* ---- transactions ------------------------------------------------------------------------------ */

enum { OP_SET, OP_RM };

struct vs_op {
    int kind;
    char *path;
    void *val, *perms;
    size_t vlen, plen;
    unsigned flags;
};

struct vs_read {
    char *path;
    bool present;
    uint64_t version;
};

struct vs_txn {
    struct vs_store *st;
    char *branch;
    bool has_base;
    struct store_hash base;
    struct vs_tree *tree; /* snapshot plus our writes */
    struct vs_tree *snap; /* the snapshot as it was (for read-set versions) */
    struct vs_hmap rindex; /* path hash -> index in reads */
    struct vs_read *reads;
    size_t nreads, capreads;
    struct vs_op *ops;
    size_t nops, capops;
};

int vs_txn_begin(struct vs_store *st, const char *branch, struct vs_txn **out)
{
    struct vs_txn *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return -ENOMEM;
    x->st = st;
    x->branch = strdup(branch);
    if (x->branch == NULL) {
        free(x);
        return -ENOMEM;
    }
    int rc = vs_branch_head(st, branch, &x->base);
    if (rc == 0)
        x->has_base = true;
    else if (rc != -ENOENT)
        goto fail;
    rc = vs_tree_open(st, x->has_base ? &x->base : NULL, &x->tree);
    if (rc == 0)
        rc = vs_tree_open(st, x->has_base ? &x->base : NULL, &x->snap);
    if (rc < 0)
        goto fail;
    *out = x;
    return 0;
fail:
    vs_tree_close(x->tree);
    free(x->branch);
    free(x);
    return rc;
}

void vs_txn_abort(struct vs_txn *x)
{
    if (x == NULL)
        return;
    vs_tree_close(x->tree);
    vs_tree_close(x->snap);
    vs_hmap_free(&x->rindex);
    for (size_t i = 0; i < x->nreads; i++)
        free(x->reads[i].path);
    free(x->reads);
    for (size_t i = 0; i < x->nops; i++) {
        free(x->ops[i].path);
        free(x->ops[i].val);
        free(x->ops[i].perms);
    }
    free(x->ops);
    free(x->branch);
    free(x);
}

bool vs_txn_snapshot(const struct vs_txn *x, struct store_hash *commit)
{
    if (x->has_base && commit)
        *commit = x->base;
    return x->has_base;
}

struct vs_tree *vs_txn_tree(struct vs_txn *x)
{
    return x->tree;
}

/* Present/version of path in tree t (absent also when an ancestor is missing). */
static int version_at(struct vs_tree *t, const char *path, bool *present, uint64_t *version)
{
    struct vs_node *n;
    int rc = vs_lookup(t, path, &n);
    if (rc == -ENOENT) {
        *present = false;
        *version = 0;
        return 0;
    }
    if (rc < 0)
        return rc;
    *present = true;
    *version = n->version;
    return 0;
}

int vs_txn_note_read(struct vs_txn *x, const char *path)
{
    struct store_hash ph;
    store_hash_object(STORE_KIND_BLOB, path, strlen(path), &ph);
    bool fresh;
    struct vs_hmap_ent *e = vs_hmap_add(&x->rindex, &ph, &fresh);
    if (e == NULL)
        return -ENOMEM;
    if (!fresh)
        return 0;
    struct vs_read r;
    int rc = version_at(x->snap, path, &r.present, &r.version);
    if (rc == 0 && x->nreads == x->capreads) {
        size_t cap = x->capreads ? x->capreads * 2 : 16;
        struct vs_read *v = realloc(x->reads, cap * sizeof(*v));
        if (v == NULL)
            rc = -ENOMEM;
        else {
            x->reads = v;
            x->capreads = cap;
        }
    }
    if (rc == 0 && (r.path = strdup(path)) == NULL)
        rc = -ENOMEM;
    if (rc < 0) {
        /* forget the index entry: rebuild lazily is overkill; mark it unusable */
        e->used = false;
        x->rindex.n--;
        /* linear probing needs no tombstone here only if nothing was inserted after it,
         * which holds: it was the last insertion */
        return rc;
    }
    e->v = x->nreads;
    x->reads[x->nreads++] = r;
    return 0;
}

int vs_txn_stat(struct vs_txn *x, const char *path, struct vs_stat *st)
{
    int rc = vs_txn_note_read(x, path);
    return rc < 0 ? rc : vs_tree_stat(x->tree, path, st);
}

int vs_txn_read(struct vs_txn *x, const char *path, void **val, size_t *len)
{
    int rc = vs_txn_note_read(x, path);
    return rc < 0 ? rc : vs_tree_read(x->tree, path, val, len);
}

int vs_txn_get_perms(struct vs_txn *x, const char *path, void **perms, size_t *len)
{
    int rc = vs_txn_note_read(x, path);
    return rc < 0 ? rc : vs_tree_get_perms(x->tree, path, perms, len);
}

int vs_txn_list(struct vs_txn *x, const char *path, char ***names, size_t *n)
{
    int rc = vs_txn_note_read(x, path);
    return rc < 0 ? rc : vs_tree_list(x->tree, path, names, n);
}

static int add_op(struct vs_txn *x, int kind, const char *path, const void *val, size_t vlen,
                  const void *perms, size_t plen, unsigned flags)
{
    if (x->nops == x->capops) {
        size_t cap = x->capops ? x->capops * 2 : 16;
        struct vs_op *v = realloc(x->ops, cap * sizeof(*v));
        if (v == NULL)
            return -ENOMEM;
        x->ops = v;
        x->capops = cap;
    }
    struct vs_op *op = &x->ops[x->nops];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->flags = flags;
    op->path = strdup(path);
    op->val = malloc(vlen + 1);
    op->perms = malloc(plen + 1);
    if (op->path == NULL || op->val == NULL || op->perms == NULL) {
        free(op->path);
        free(op->val);
        free(op->perms);
        return -ENOMEM;
    }
    if ((flags & VS_SET_VALUE) && vlen)
        memcpy(op->val, val, vlen);
    if ((flags & VS_SET_PERMS) && plen)
        memcpy(op->perms, perms, plen);
    op->vlen = (flags & VS_SET_VALUE) ? vlen : 0;
    op->plen = (flags & VS_SET_PERMS) ? plen : 0;
    x->nops++;
    return 0;
}

int vs_txn_set(struct vs_txn *x, const char *path, const void *val, size_t vlen,
               const void *perms, size_t plen, unsigned flags)
{
    /* Reserve the op first so that a change is never applied without being recorded. */
    int rc = add_op(x, OP_SET, path, val, vlen, perms, plen, flags);
    if (rc < 0)
        return rc;
    rc = vs_tree_set(x->tree, path, val, vlen, perms, plen, flags);
    if (rc < 0) {
        struct vs_op *op = &x->ops[--x->nops];
        free(op->path);
        free(op->val);
        free(op->perms);
    }
    return rc;
}

int vs_txn_rm(struct vs_txn *x, const char *path)
{
    int rc = add_op(x, OP_RM, path, NULL, 0, NULL, 0, 0);
    if (rc < 0)
        return rc;
    rc = vs_tree_rm(x->tree, path);
    if (rc < 0) {
        struct vs_op *op = &x->ops[--x->nops];
        free(op->path);
        free(op->val);
        free(op->perms);
    }
    return rc;
}

/* Does every path of the read set have the same existence and own version in t? */
static int validate(struct vs_txn *x, struct vs_tree *t)
{
    for (size_t i = 0; i < x->nreads; i++) {
        bool present;
        uint64_t version;
        int rc = version_at(t, x->reads[i].path, &present, &version);
        if (rc < 0)
            return rc;
        if (present != x->reads[i].present || (present && version != x->reads[i].version))
            return -EAGAIN;
    }
    return 0;
}

static int replay(struct vs_txn *x, struct vs_tree *t)
{
    for (size_t i = 0; i < x->nops; i++) {
        struct vs_op *op = &x->ops[i];
        int rc = op->kind == OP_SET ? vs_tree_set(t, op->path, op->val, op->vlen, op->perms,
                                                  op->plen, op->flags)
                                    : vs_tree_rm(t, op->path);
        if (rc == -ENOENT || rc == -EEXIST)
            return -EAGAIN; /* the write set no longer applies to the head */
        if (rc < 0)
            return rc;
    }
    return 0;
}

int vs_txn_commit(struct vs_txn *x, const struct vs_commit_info *info, enum store_sync sync,
                  store_durable_fn done, void *done_arg, struct store_hash *commit_out)
{
    int rc;
    for (int attempt = 0; attempt < 16; attempt++) {
        struct store_hash head;
        rc = vs_branch_head(x->st, x->branch, &head);
        bool has_head = rc == 0;
        if (rc < 0 && rc != -ENOENT)
            break;
        rc = 0;
        bool moved = has_head != x->has_base || (has_head && !store_hash_equal(&head, &x->base));
        struct vs_tree *t = NULL;
        if (moved) {
            rc = vs_tree_open(x->st, has_head ? &head : NULL, &t);
            if (rc < 0)
                break;
            rc = validate(x, t);
        }
        if (rc == 0 && x->nops == 0) {
            vs_tree_close(t);
            if (commit_out && has_head)
                *commit_out = head;
            if (done)
                done(done_arg, true);
            break;
        }
        if (rc == 0 && moved)
            rc = replay(x, t);
        if (rc < 0) {
            vs_tree_close(t);
            break;
        }
        struct vs_tree *ct = moved ? t : x->tree;
        struct store_hash h;
        rc = vs_tree_commit(ct, has_head ? &head : NULL, has_head ? 1 : 0, info, &h);
        if (rc == 0)
            rc = vs_branch_set(x->st, x->branch, has_head ? &head : NULL, &h, sync, done,
                               done_arg);
        vs_tree_close(t);
        if (rc == 0 && commit_out)
            *commit_out = h;
        if (rc != -EEXIST)
            break;
        /* Lost the race for the ref: revalidate against the new head and replay. The txn
         * tree may have been committed already; from now on the write set is replayed. */
        x->has_base = true;
        x->base = h; /* never equal to a future head: forces the replay path */
    }
    vs_txn_abort(x);
    return rc;
}
