/*
 * Transactions with xenstore's conflict rule (a read set of own versions, validated against
 * the head, then the write set replayed onto it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/store_tree_int.h"

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
