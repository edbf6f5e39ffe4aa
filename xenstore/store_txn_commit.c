/*
 * A transaction's commit (store_txn.c has the transactions): validate every record against
 * the branch head (EAGAIN iff a node the transaction accessed differs there), then replay
 * the write set onto the head's tree and move the branch; retried when another commit wins
 * the race for the ref.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/store_txn_int.h"

/* ---- commit ------------------------------------------------------------------------------- */

/* Does every record have its first access's existence and own version in t? all: also the
 * records that rely on live (needed when t is not live). */
static int validate(struct vs_txn *x, struct vs_tree *t, bool all)
{
    for (size_t i = 0; i < x->nrecs; i++) {
        struct rec *r = x->recs[i];
        if (!all && !r->own)
            continue;
        bool present;
        uint64_t version;
        struct vs_node *node;
        int rc = txn_version_at(t, r->path, &present, &version, &node);
        if (rc < 0)
            return rc;
        if (present != r->present0 || (present && version != r->version0))
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
            return -EAGAIN; /* cannot happen after validation; never commit half */
        if (rc < 0)
            return rc;
    }
    return 0;
}

int vs_txn_commit(struct vs_txn *x, const struct vs_commit_info *info, enum store_sync sync,
                  store_durable_fn done, void *done_arg, struct store_hash *commit_out)
{
    int rc = x->failed ? -ENOMEM : 0;
    for (int attempt = 0; rc == 0 && attempt < 16; attempt++) {
        struct store_hash head, base;
        rc = vs_branch_head(x->st, x->branch, &head);
        bool has_head = rc == 0;
        if (rc < 0 && rc != -ENOENT)
            break;
        bool at_live = false;
        if (x->live != NULL) {
            bool hb = vs_tree_base(x->live, &base);
            at_live = hb == has_head && (!hb || store_hash_equal(&base, &head));
        }
        struct vs_tree *t = NULL;
        if (at_live) {
            t = x->live;
            x->live = NULL; /* it becomes the commit's tree */
            /* Unmoved since the first access: nothing can differ. */
            rc = x->moved ? validate(x, t, false) : 0;
        } else {
            rc = vs_tree_open(x->st, has_head ? &head : NULL, &t);
            if (rc == 0)
                rc = validate(x, t, true);
        }
        if (rc == 0 && x->nops == 0) {
            vs_tree_close(t);
            if (commit_out && has_head)
                *commit_out = head;
            if (done)
                done(done_arg, true);
            break;
        }
        if (rc == 0)
            rc = replay(x, t);
        struct store_hash h;
        if (rc == 0)
            rc = vs_tree_commit(t, has_head ? &head : NULL, has_head ? 1 : 0, info, &h);
        if (rc == 0)
            rc = vs_branch_set(x->st, x->branch, has_head ? &head : NULL, &h, sync, done,
                               done_arg);
        vs_tree_close(t);
        if (rc == 0 && commit_out)
            *commit_out = h;
        if (rc != -EEXIST || attempt == 15)
            break;
        /* Lost the race for the ref: validate against the new head and replay again. */
        rc = 0;
    }
    vs_txn_abort(x);
    return rc;
}
