/*
 * Writing a working tree (store_tree.c has the trees themselves): its dirty nodes and
 * directory parts become objects, children first, then a commit; and trimming the clean
 * loaded nodes of a tree that holds too many. Only what is marked dirty is visited (a
 * directory entry's own flag says whether its child changed: struct vs_entry).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/store_tree_int.h"

/* ---- writing -------------------------------------------------------------------------------- */

static int write_part(struct vs_tree *t, struct vs_inode *in, unsigned depth,
                      struct store_hash *out);

static int write_children(struct vs_tree *t, struct vs_inode *in, unsigned depth)
{
    if (in->tree) {
        for (unsigned i = 0; i < VS_FANOUT; i++) {
            struct vs_inode *s = in->slot[i].in;
            if (s == NULL || !s->dirty)
                continue;
            int rc = write_part(t, s, depth + 1, &in->slot[i].h);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    for (size_t i = 0; i < in->n; i++) {
        struct vs_entry *e = &in->ents[i];
        if (!e->dirty)
            continue; /* not even loaded, or clean: see struct vs_entry */
        if (e->n != NULL) {
            int rc = vs_node_write(t, e->n);
            if (rc < 0)
                return rc;
            e->h = e->n->h;
        }
        e->dirty = false;
    }
    return 0;
}

static int write_part(struct vs_tree *t, struct vs_inode *in, unsigned depth,
                      struct store_hash *out)
{
    int rc = write_children(t, in, depth);
    if (rc < 0)
        return rc;
    vs_inode_encode(in, depth, vs_enc_buf(t->st));
    rc = vs_put_enc_next(t->st, STORE_KIND_NODE, out);
    if (rc == 0)
        in->dirty = false;
    return rc;
}

int vs_node_write(struct vs_tree *t, struct vs_node *n)
{
    if (!n->dirty)
        return 0;
    int rc = write_children(t, &n->dir, 0);
    if (rc < 0)
        return rc;
    if (n->val_dirty || (n->val_blob != (n->vlen > VS_INLINE_MAX))) {
        if (n->vlen > VS_INLINE_MAX) {
            rc = vs_node_value(t, n);
            if (rc == 0)
                rc = vs_put(t->st, STORE_KIND_BLOB, n->val, n->vlen, &n->vh);
            if (rc < 0)
                return rc;
            n->val_blob = true;
        } else {
            n->val_blob = false;
        }
        n->val_dirty = false;
    }
    vs_node_encode(n, vs_enc_buf(t->st));
    rc = vs_put_enc_next(t->st, STORE_KIND_NODE, &n->h);
    if (rc == 0) {
        n->dirty = false;
        n->dir.dirty = false;
    }
    return rc;
}

static void mark_node_dirty(struct vs_node *n);

static void mark_part_dirty(struct vs_inode *in)
{
    in->dirty = true;
    if (in->tree) {
        for (unsigned i = 0; i < VS_FANOUT; i++)
            if (in->slot[i].in != NULL)
                mark_part_dirty(in->slot[i].in);
        return;
    }
    for (size_t i = 0; i < in->n; i++) {
        struct vs_entry *e = &in->ents[i];
        if (e->n != NULL) {
            e->dirty = true;
            mark_node_dirty(e->n);
        }
    }
}

static void mark_node_dirty(struct vs_node *n)
{
    n->dirty = true;
    mark_part_dirty(&n->dir);
}

/* A write failed (rc < 0): the put vs_put_enc_next deferred is dropped, and the nodes and
 * parts marked clean since may name objects that never reached the heap, so the whole loaded
 * tree is marked dirty (written again, a retry finds what is there: errors only). */
static int write_failed(struct vs_tree *t, int rc)
{
    vs_put_drop(t->st);
    mark_node_dirty(t->root);
    return rc;
}

int vs_tree_write(struct vs_tree *t, struct store_hash *root_out)
{
    int rc = vs_node_write(t, t->root);
    if (rc == 0)
        rc = vs_put_pending(t->st);
    if (rc < 0)
        return write_failed(t, rc);
    if (root_out)
        *root_out = t->root->h;
    return 0;
}

int vs_tree_commit(struct vs_tree *t, const struct store_hash *parents, size_t nparents,
                   const struct vs_commit_info *info, struct store_hash *commit_out)
{
    if (nparents > VS_MAX_PARENTS)
        return -EINVAL;
    struct vs_commit c;
    memset(&c, 0, sizeof(c));
    /* The root's put stays deferred until the commit is encoded and hashed. */
    int rc = vs_node_write(t, t->root);
    if (rc < 0)
        return write_failed(t, rc);
    c.root = t->root->h;
    c.gen = t->gen;
    for (size_t i = 0; i < nparents; i++) {
        c.parents[i] = parents[i];
        /* A tree on its base has gen = the base's gen + 1 (vs_tree_open, and below): no
         * need to decode the base again (the usual single parent of a daemon commit). */
        if (t->has_base && store_hash_equal(&parents[i], &t->base))
            continue;
        struct vs_commit p;
        rc = vs_commit_read(t->st, &parents[i], &p);
        if (rc < 0)
            return write_failed(t, rc);
        if (p.gen + 1 > c.gen)
            c.gen = p.gen + 1;
        vs_commit_free(&p);
    }
    c.nparents = nparents;
    c.time_ns = info && info->time_ns ? info->time_ns : vs_now_ns();
    c.author = (char *)(info && info->author ? info->author : "");
    c.message = (char *)(info && info->message ? info->message : "");
    vs_commit_encode(&c, vs_enc_buf(t->st));
    struct store_hash h;
    rc = vs_put_enc_next(t->st, STORE_KIND_COMMIT, &h);
    if (rc == 0)
        rc = vs_put_pending(t->st);
    if (rc < 0)
        return write_failed(t, rc);
    t->has_base = true;
    t->base = h;
    t->gen = c.gen + 1;
    if (t->loaded > t->max_loaded)
        vs_tree_trim(t);
    if (commit_out)
        *commit_out = h;
    return 0;
}

static void trim_part(struct vs_inode *in)
{
    if (in->tree) {
        for (unsigned i = 0; i < VS_FANOUT; i++) {
            struct vs_inode *s = in->slot[i].in;
            if (s == NULL)
                continue;
            if (!s->dirty) {
                vs_inode_clear(s);
                free(s);
                in->slot[i].in = NULL;
            } else {
                trim_part(s);
            }
        }
        return;
    }
    for (size_t i = 0; i < in->n; i++) {
        struct vs_node *c = in->ents[i].n;
        if (c == NULL)
            continue;
        if (!c->dirty) {
            in->ents[i].h = c->h;
            vs_node_free(c);
            in->ents[i].n = NULL;
        } else {
            trim_part(&c->dir);
        }
    }
}

void vs_tree_trim(struct vs_tree *t)
{
    trim_part(&t->root->dir);
    t->loaded = 0;
}
