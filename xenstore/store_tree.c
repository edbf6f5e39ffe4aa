/*
 * Working trees: a xenstore-shaped tree loaded lazily from the objstore (through the store's
 * cache), changed in memory, and written back as new objects only at commit. The directories
 * (split into parts above VS_LEAF_MAX entries) and the comparison of nodes and directories
 * are in store_tree_dir.c, writing a tree (objects, commit) and trimming it in
 * store_tree_write.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/store_tree_int.h"

#define VS_DEFAULT_MAX_LOADED 100000

/* ---- construction and destruction ---------------------------------------------------------- */

struct vs_node *vs_node_new(void)
{
    struct vs_node *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    n->val = calloc(1, 1);
    n->perms = calloc(1, 1);
    if (n->val == NULL || n->perms == NULL) {
        free(n->val);
        free(n->perms);
        free(n);
        return NULL;
    }
    n->dirty = true;
    return n;
}

void vs_inode_clear(struct vs_inode *in)
{
    for (size_t i = 0; i < in->n; i++) {
        free(in->ents[i].name);
        vs_node_free(in->ents[i].n);
    }
    free(in->ents);
    for (unsigned i = 0; in->slot != NULL && i < VS_FANOUT; i++) {
        if (in->slot[i].in) {
            vs_inode_clear(in->slot[i].in);
            free(in->slot[i].in);
        }
    }
    free(in->slot);
    memset(in, 0, sizeof(*in));
}

void vs_node_free(struct vs_node *n)
{
    if (n == NULL)
        return;
    vs_inode_clear(&n->dir);
    free(n->val);
    free(n->perms);
    free(n);
}

static void empty_node_hash(struct store_hash *out)
{
    struct vs_node n;
    memset(&n, 0, sizeof(n));
    n.val = (uint8_t *)"";
    n.perms = (uint8_t *)"";
    struct vs_buf b = {0};
    vs_node_encode(&n, &b);
    store_hash_object(STORE_KIND_NODE, b.p, b.len, out);
    free(b.p);
}

void vs_empty_root(struct vs_store *st, struct store_hash *out)
{
    if (!st->empty_root_known) {
        empty_node_hash(&st->empty_root);
        st->empty_root_known = true;
    }
    *out = st->empty_root;
}

/* ---- loading -------------------------------------------------------------------------------- */

int vs_node_load(struct vs_tree *t, const struct store_hash *h, struct vs_node **out)
{
    const uint8_t *d;
    size_t len;
    int rc = vs_load(t->st, h, STORE_KIND_NODE, &d, &len);
    struct vs_node *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return -ENOMEM;
    if (rc == -ENOENT) {
        /* The empty tree's root need not have been written. */
        struct store_hash e;
        vs_empty_root(t->st, &e);
        if (!store_hash_equal(&e, h)) {
            free(n);
            return rc;
        }
        free(n);
        n = vs_node_new();
        if (n == NULL)
            return -ENOMEM;
        n->dirty = false;
        n->h = e;
    } else if (rc < 0) {
        free(n);
        return rc;
    } else {
        rc = vs_node_decode(d, len, n);
        if (rc < 0) {
            free(n);
            return rc;
        }
        n->h = *h;
    }
    t->loaded++;
    *out = n;
    return 0;
}

int vs_node_value(struct vs_tree *t, struct vs_node *n)
{
    if (n->val != NULL)
        return 0;
    const uint8_t *d;
    size_t len;
    int rc = vs_load(t->st, &n->vh, STORE_KIND_BLOB, &d, &len);
    if (rc < 0)
        return rc;
    if (len != n->vlen)
        return -EBADMSG;
    n->val = malloc(len + 1);
    if (n->val == NULL)
        return -ENOMEM;
    memcpy(n->val, d, len);
    n->val[len] = 0;
    return 0;
}

int vs_inode_slot(struct vs_tree *t, struct vs_inode *in, unsigned i, unsigned depth)
{
    if (!in->slot[i].present || in->slot[i].in != NULL)
        return 0;
    const uint8_t *d;
    size_t len;
    int rc = vs_load(t->st, &in->slot[i].h, STORE_KIND_NODE, &d, &len);
    if (rc < 0)
        return rc;
    struct vs_inode *sub = calloc(1, sizeof(*sub));
    if (sub == NULL)
        return -ENOMEM;
    rc = vs_inode_decode(d, len, depth + 1, sub);
    if (rc < 0) {
        free(sub);
        return rc;
    }
    in->slot[i].in = sub;
    return 0;
}

int vs_entry_node(struct vs_tree *t, struct vs_entry *e, struct vs_node **out)
{
    if (e->n == NULL) {
        int rc = vs_node_load(t, &e->h, &e->n);
        if (rc < 0)
            return rc;
    }
    *out = e->n;
    return 0;
}

/* ---- paths ---------------------------------------------------------------------------------- */

/* vs_path_split into the caller's buffer when the components fit (as they nearly always do:
 * every look-up splits its path, and a malloc and free each was ~2% of a request); else
 * allocated. Free with split_free. */
#define SPLIT_BUF 64
static int split(const char *path, char **buf, char ***comps, size_t *n);
static void split_free(char **buf, char **comps)
{
    if (comps != buf)
        free(comps);
}

/* "/a/b" -> {"a", "b"} (one allocation: free(*comps)). "/" -> none. */
int vs_path_split(const char *path, char ***comps, size_t *n)
{
    return split(path, NULL, comps, n);
}

static int split(const char *path, char **buf, char ***comps, size_t *n)
{
    size_t len = strlen(path);
    if (len == 0 || path[0] != '/' || (len > 1 && path[len - 1] == '/'))
        return -EINVAL;
    size_t cnt = 0;
    for (size_t i = 0; i < len; i++)
        if (path[i] == '/')
            cnt++;
    if (len == 1)
        cnt = 0;
    size_t need = cnt * sizeof(char *) + len + 1;
    char **v = buf != NULL && need <= SPLIT_BUF * sizeof(char *) ? buf : malloc(need);
    if (v == NULL)
        return -ENOMEM;
    char *s = (char *)(v + cnt);
    memcpy(s, path, len + 1);
    size_t k = 0;
    for (size_t i = 0; i < len && cnt; i++) {
        if (s[i] != '/')
            continue;
        s[i] = 0;
        if (s[i + 1] == '/' || s[i + 1] == 0) {
            split_free(buf, v);
            return -EINVAL;
        }
        v[k++] = s + i + 1;
    }
    *comps = v;
    *n = cnt;
    return 0;
}

/* ---- lookups -------------------------------------------------------------------------------- */

/* Walk to the node at comps[0..n); with `mark`, everything on the way becomes dirty. */
static int walk(struct vs_tree *t, char **comps, size_t n, bool mark, struct vs_node **out)
{
    struct vs_node *cur = t->root;
    for (size_t i = 0; i < n; i++) {
        if (mark)
            cur->dirty = true;
        struct vs_entry *e;
        int rc = vs_dir_find(t, &cur->dir, 0, comps[i], mark, &e);
        if (rc < 0)
            return rc;
        rc = vs_entry_node(t, e, &cur);
        if (rc < 0)
            return rc;
    }
    if (mark)
        cur->dirty = true;
    *out = cur;
    return 0;
}

/* walk without mark, recording the way in tr (the nodes up to and including the last). */
static int walk_trail(struct vs_tree *t, char **comps, size_t n, struct vs_trail *tr,
                      struct vs_node **out)
{
    struct vs_node *cur = t->root;
    for (size_t i = 0; i < n; i++) {
        if (tr->nnodes == VS_TRAIL_MAX)
            tr->full = true;
        else
            tr->nodes[tr->nnodes++] = cur;
        struct vs_entry *e;
        int rc = vs_dir_find_trail(t, &cur->dir, 0, comps[i], tr, &e);
        if (rc < 0)
            return rc;
        rc = vs_entry_node(t, e, &cur);
        if (rc < 0)
            return rc;
    }
    if (tr->nnodes == VS_TRAIL_MAX)
        tr->full = true;
    else
        tr->nodes[tr->nnodes++] = cur;
    *out = cur;
    return 0;
}

/* What walk with mark would have marked, from a walk_trail of the same path. */
static void mark_trail(const struct vs_trail *tr)
{
    for (size_t i = 0; i < tr->nnodes; i++)
        tr->nodes[i]->dirty = true;
    for (size_t i = 0; i < tr->nparts; i++)
        tr->parts[i]->dirty = true;
    for (size_t i = 0; i < tr->nents; i++)
        tr->ents[i]->dirty = true;
}

int vs_lookup(struct vs_tree *t, const char *path, struct vs_node **out)
{
    char **comps, *sbuf[SPLIT_BUF];
    size_t n;
    int rc = split(path, sbuf, &comps, &n);
    if (rc < 0)
        return rc;
    rc = walk(t, comps, n, false, out);
    split_free(sbuf, comps);
    return rc;
}

int vs_lookup_entry(struct vs_tree *t, const char *path, struct vs_entry **out)
{
    char **comps, *sbuf[SPLIT_BUF];
    size_t n;
    int rc = split(path, sbuf, &comps, &n);
    if (rc < 0)
        return rc;
    if (n == 0) {
        split_free(sbuf, comps);
        return -EINVAL;
    }
    struct vs_node *parent;
    rc = walk(t, comps, n - 1, false, &parent);
    if (rc == 0)
        rc = vs_dir_find(t, &parent->dir, 0, comps[n - 1], false, out);
    split_free(sbuf, comps);
    return rc;
}

/* ---- the public tree API -------------------------------------------------------------------- */

int vs_tree_open_root(struct vs_store *st, const struct store_hash *root, uint64_t gen,
                      struct vs_tree **out)
{
    struct vs_tree *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -ENOMEM;
    t->st = st;
    t->gen = gen;
    t->max_loaded = VS_DEFAULT_MAX_LOADED;
    int rc;
    if (root == NULL) {
        t->root = vs_node_new();
        rc = t->root ? 0 : -ENOMEM;
    } else {
        rc = vs_node_load(t, root, &t->root);
    }
    if (rc < 0) {
        free(t);
        return rc;
    }
    st->trees++;
    *out = t;
    return 0;
}

/* Reuse of a working tree. vxenstored opens a tree on the branch head for every request and
 * closes it after the commit; opening decodes the commit and the root, and every lookup then
 * decodes the nodes on its path again (with their directories: ~30 entries per part of a
 * 1,000-domain /local/domain). A tree that is clean (everything written: nothing below its
 * root is dirty) holds exactly its base commit's content, so vs_tree_close keeps one (the
 * newest by gen: the head's, not an old one a history query read) and vs_tree_open of the same
 * commit takes it back with its nodes still loaded. */
struct vs_tree *vs_tree_take_spare(struct vs_store *st)
{
    struct vs_tree *t = st->spare;
    st->spare = NULL;
    return t;
}

static bool keep_spare(struct vs_tree *t)
{
    struct vs_store *st = t->st;
    if (st->closed || !t->has_base || t->root->dirty)
        return false;
    if (st->spare != NULL && st->spare->gen > t->gen)
        return false;
    st->trees--;
    if (t->loaded > t->max_loaded)
        vs_tree_trim(t);
    t->max_loaded = VS_DEFAULT_MAX_LOADED;
    struct vs_tree *old = st->spare;
    st->spare = t;
    if (old != NULL) {
        vs_node_free(old->root);
        free(old);
    }
    return true;
}

int vs_tree_open(struct vs_store *st, const struct store_hash *commit, struct vs_tree **out)
{
    if (commit == NULL)
        return vs_tree_open_root(st, NULL, 1, out);
    if (st->spare != NULL && store_hash_equal(&st->spare->base, commit)) {
        *out = vs_tree_take_spare(st);
        st->trees++;
        return 0;
    }
    struct vs_commit c;
    int rc = vs_commit_read(st, commit, &c);
    if (rc < 0)
        return rc;
    rc = vs_tree_open_root(st, &c.root, c.gen + 1, out);
    if (rc == 0) {
        (*out)->has_base = true;
        (*out)->base = *commit;
    }
    vs_commit_free(&c);
    return rc;
}

void vs_tree_close(struct vs_tree *t)
{
    if (t == NULL || keep_spare(t))
        return;
    struct vs_store *st = t->st;
    if (--st->trees == 0 && st->closed) {
        free(st->enc.p);
        free(st->pend_buf.p);
        free(st);
    }
    vs_node_free(t->root);
    free(t);
}

int vs_tree_stat(struct vs_tree *t, const char *path, struct vs_stat *st)
{
    struct vs_node *n;
    int rc = vs_lookup(t, path, &n);
    if (rc < 0)
        return rc;
    st->version = n->version;
    st->vlen = n->vlen;
    st->plen = n->plen;
    st->nchildren = (size_t)n->dir.count;
    return 0;
}

int vs_dup_bytes(const void *src, size_t len, uint8_t **out)
{
    uint8_t *p = malloc(len + 1);
    if (p == NULL)
        return -ENOMEM;
    if (len)
        memcpy(p, src, len);
    p[len] = 0;
    *out = p;
    return 0;
}

static int copy_out(const void *src, size_t len, void **dst, size_t *dlen)
{
    uint8_t *p;
    int rc = vs_dup_bytes(src, len, &p);
    if (rc < 0)
        return rc;
    *dst = p;
    *dlen = len;
    return 0;
}

int vs_tree_read(struct vs_tree *t, const char *path, void **val, size_t *len)
{
    struct vs_node *n;
    int rc = vs_lookup(t, path, &n);
    if (rc == 0)
        rc = vs_node_value(t, n);
    if (rc < 0)
        return rc;
    return copy_out(n->val, n->vlen, val, len);
}

int vs_tree_get_perms(struct vs_tree *t, const char *path, void **perms, size_t *len)
{
    struct vs_node *n;
    int rc = vs_lookup(t, path, &n);
    if (rc < 0)
        return rc;
    return copy_out(n->perms, n->plen, perms, len);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void vs_names_free(char **names, size_t n)
{
    if (names == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int vs_tree_list(struct vs_tree *t, const char *path, char ***names, size_t *n)
{
    struct vs_node *node;
    int rc = vs_lookup(t, path, &node);
    return rc < 0 ? rc : vs_node_list(t, node, names, n);
}

int vs_node_list(struct vs_tree *t, struct vs_node *node, char ***names, size_t *n)
{
    struct vs_entry **arr;
    size_t k;
    int rc = vs_dir_entries(t, &node->dir, 0, &arr, &k);
    if (rc < 0)
        return rc;
    char **v = calloc(k ? k : 1, sizeof(char *));
    if (v == NULL) {
        free(arr);
        return -ENOMEM;
    }
    for (size_t i = 0; i < k; i++) {
        v[i] = strdup(arr[i]->name);
        if (v[i] == NULL) {
            free(arr);
            vs_names_free(v, i);
            return -ENOMEM;
        }
    }
    free(arr);
    if (node->dir.tree) /* leaves are sorted already */
        qsort(v, k, sizeof(char *), name_cmp);
    *names = v;
    *n = k;
    return 0;
}

int vs_tree_subtree_hash(struct vs_tree *t, const char *path, struct store_hash *out)
{
    if (strcmp(path, "/") == 0) {
        if (t->root->dirty)
            return -EAGAIN;
        *out = t->root->h;
        return 0;
    }
    struct vs_entry *e;
    int rc = vs_lookup_entry(t, path, &e);
    if (rc < 0)
        return rc;
    if (e->n && e->n->dirty)
        return -EAGAIN;
    *out = e->n ? e->n->h : e->h;
    return 0;
}

int vs_node_set_fields(struct vs_tree *t, struct vs_node *n, const void *val, size_t vlen,
                      const void *perms, size_t plen, unsigned flags)
{
    if (flags & VS_SET_VALUE) {
        uint8_t *v;
        if (vs_dup_bytes(val, vlen, &v) < 0)
            return -ENOMEM;
        free(n->val);
        n->val = v;
        n->vlen = vlen;
        n->val_dirty = true;
    }
    if (flags & VS_SET_PERMS) {
        uint8_t *p;
        if (vs_dup_bytes(perms, plen, &p) < 0)
            return -ENOMEM;
        free(n->perms);
        n->perms = p;
        n->plen = plen;
    }
    n->version = t->gen;
    n->dirty = true;
    return 0;
}

int vs_tree_set(struct vs_tree *t, const char *path, const void *val, size_t vlen,
                const void *perms, size_t plen, unsigned flags)
{
    char **comps, *sbuf[SPLIT_BUF];
    size_t n;
    int rc = split(path, sbuf, &comps, &n);
    if (rc < 0)
        return rc;
    struct vs_node *parent, *node;
    if (n == 0) {
        if ((flags & (VS_CREATE | VS_EXCL)) == (VS_CREATE | VS_EXCL))
            rc = -EEXIST;
        else
            rc = vs_node_set_fields(t, t->root, val, vlen, perms, plen, flags);
        goto out;
    }
    /* Check first (read-only), so a failing call leaves nothing marked dirty; then mark
     * what the check went through. */
    struct vs_trail tr;
    tr.nnodes = tr.nparts = tr.nents = 0;
    tr.full = false;
    rc = walk_trail(t, comps, n - 1, &tr, &parent);
    if (rc < 0)
        goto out;
    size_t pnodes = tr.nnodes, pparts = tr.nparts, pents = tr.nents; /* up to the parent */
    bool pfull = tr.full;
    struct vs_entry *e;
    rc = vs_dir_find_trail(t, &parent->dir, 0, comps[n - 1], &tr, &e);
    if (rc == 0) {
        if ((flags & (VS_CREATE | VS_EXCL)) == (VS_CREATE | VS_EXCL)) {
            rc = -EEXIST;
            goto out;
        }
        rc = vs_entry_node(t, e, &node);
        if (rc == 0 && tr.full) {
            rc = walk(t, comps, n, true, &node);
        } else if (rc == 0) {
            mark_trail(&tr);
            node->dirty = true;
        }
        if (rc == 0)
            rc = vs_node_set_fields(t, node, val, vlen, perms, plen, flags);
        goto out;
    }
    if (rc != -ENOENT)
        goto out;
    if (!(flags & VS_CREATE))
        goto out;
    node = vs_node_new();
    struct vs_entry ne = {.n = node};
    if (node == NULL || vs_entry_set_name(&ne, comps[n - 1], strlen(comps[n - 1])) < 0) {
        vs_node_free(node);
        free(ne.name);
        rc = -ENOMEM;
        goto out;
    }
    t->loaded++;
    bool sv = flags & VS_SET_VALUE, sp = flags & VS_SET_PERMS;
    rc = vs_node_set_fields(t, node, sv ? val : "", sv ? vlen : 0, sp ? perms : "",
                            sp ? plen : 0, VS_SET_VALUE | VS_SET_PERMS);
    if (rc == 0 && pfull) {
        rc = walk(t, comps, n - 1, true, &parent);
    } else if (rc == 0) {
        tr.nnodes = pnodes; /* not the parts the failed look-up went through */
        tr.nparts = pparts;
        tr.nents = pents;
        mark_trail(&tr);
    }
    if (rc == 0)
        rc = vs_dir_insert(t, &parent->dir, 0, &ne);
    if (rc < 0) {
        vs_node_free(node);
        free(ne.name);
        goto out;
    }
    parent->version = t->gen;
out:
    split_free(sbuf, comps);
    return rc;
}

int vs_tree_rm(struct vs_tree *t, const char *path)
{
    char **comps, *sbuf[SPLIT_BUF];
    size_t n;
    int rc = split(path, sbuf, &comps, &n);
    if (rc < 0)
        return rc;
    if (n == 0) {
        split_free(sbuf, comps);
        return -EINVAL;
    }
    struct vs_node *parent;
    struct vs_entry *e;
    rc = walk(t, comps, n - 1, false, &parent);
    if (rc == 0)
        rc = vs_dir_find(t, &parent->dir, 0, comps[n - 1], false, &e);
    if (rc == 0)
        rc = walk(t, comps, n - 1, true, &parent);
    if (rc == 0)
        rc = vs_dir_remove(t, &parent->dir, 0, comps[n - 1]);
    if (rc == 0)
        parent->version = t->gen;
    split_free(sbuf, comps);
    return rc;
}

void vs_tree_set_max_loaded(struct vs_tree *t, size_t max_loaded)
{
    t->max_loaded = max_loaded;
}

size_t vs_tree_loaded(const struct vs_tree *t)
{
    return t->loaded;
}

bool vs_tree_base(const struct vs_tree *t, struct store_hash *commit)
{
    if (t->has_base && commit)
        *commit = t->base;
    return t->has_base;
}

uint64_t vs_tree_gen(const struct vs_tree *t)
{
    return t->gen;
}
