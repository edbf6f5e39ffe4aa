/*
 * Transactions with C xenstored 4.17's rule (tools/xenstore/xenstored_transaction.c there).
 *
 * A transaction sees every node it has not touched yet in the live store (the branch head
 * at the moment of the access), and every node it has touched as it was at its first
 * access, plus the transaction's own changes. Each first access records the node's
 * existence and own version (C's generation: it changes with the node's value, perms or
 * child list); TRANSACTION_END fails with EAGAIN if any of them differs in the head then.
 * A node looked up and found missing records "absent": if it exists at commit, EAGAIN.
 *
 * Representation: one record per touched path. While a record's node is unchanged it keeps
 * no copy: its state is the node in `live`, a tree on the head as of the last look (the
 * invariant: live's node at that path has the recorded existence and version). Only when
 * the transaction changes the node, or `live` moves to a newer head in which the node
 * differs, does the record take its own copy (value, perms; its sorted child names only
 * when live moves to a head where the node differs or the transaction lists them: until
 * then it keeps the names it added and removed). So a transaction that nobody disturbs
 * copies nothing and checks nothing at commit.
 *
 * The commit validates the records against the head and then replays the write set (the
 * vs_txn_set/vs_txn_rm calls, in order) onto the head's tree. Since every node the calls
 * changed was accessed first (a set touches the node and, when creating it, its parent; an
 * rm touches its whole subtree and its parent, as C's delete walk reads them), a valid
 * transaction's replay does exactly what it did to its view.
 *
 * The records' child lists (sorted names, and the lazy ones relying on live) are kept by
 * store_txn_kids.c, the commit (validation and replay) is in store_txn_commit.c; the shapes
 * the three files use are in store_txn_int.h.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/store_txn_int.h"

/* ---- records ----------------------------------------------------------------------------- */

static uint64_t path_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static struct rec *rec_find(const struct vs_txn *x, const char *path)
{
    if (x->nslots == 0)
        return NULL;
    /* A request asks about the same path several times in a row (permission check, quota,
     * the change, the watch event's perms): the last record found first. */
    if (x->last != NULL && strcmp(x->last->path, path) == 0)
        return x->last;
    size_t mask = x->nslots - 1;
    for (size_t i = path_hash(path) & mask;; i = (i + 1) & mask) {
        uint32_t s = x->slots[i];
        if (s == 0)
            return NULL;
        if (strcmp(x->recs[s - 1]->path, path) == 0)
            return x->recs[s - 1];
    }
}

static void slot_put(uint32_t *slots, size_t nslots, const char *path, uint32_t v)
{
    size_t mask = nslots - 1;
    size_t i = path_hash(path) & mask;
    while (slots[i] != 0)
        i = (i + 1) & mask;
    slots[i] = v;
}

static void rec_free(struct rec *r)
{
    if (r == NULL)
        return;
    free(r->val);
    free(r->perms);
    vs_names_free(r->kids, r->nkids);
    vs_names_free(r->gone, r->ngone);
    free(r);
}

/* A new record for path (not yet present), as live has it: present0/version0. */
static int rec_add(struct vs_txn *x, const char *path, bool present, uint64_t version,
                   struct rec **out)
{
    if (x->nrecs == x->caprecs) {
        bool in = x->recs == x->recs_in;
        size_t cap = in ? 16 : x->caprecs * 2; /* a transaction of the client's: room */
        struct rec **v = in ? malloc(cap * sizeof(*v)) : realloc(x->recs, cap * sizeof(*v));
        if (v == NULL)
            return -ENOMEM;
        if (in)
            memcpy(v, x->recs_in, x->nrecs * sizeof(*v));
        x->recs = v;
        x->caprecs = cap;
    }
    if ((x->nrecs + 1) * 2 > x->nslots) { /* keep the table at most half full */
        size_t n = x->slots == x->slots_in ? 64 : x->nslots * 2;
        uint32_t *s = calloc(n, sizeof(*s));
        if (s == NULL)
            return -ENOMEM;
        for (size_t i = 0; i < x->nrecs; i++)
            slot_put(s, n, x->recs[i]->path, (uint32_t)i + 1);
        if (x->slots != x->slots_in)
            free(x->slots);
        x->slots = s;
        x->nslots = n;
    }
    size_t plen = strlen(path) + 1;
    struct rec *r = calloc(1, sizeof(*r) + plen); /* the path lives after the record */
    if (r == NULL)
        return -ENOMEM;
    r->path = (char *)(r + 1);
    memcpy(r->path, path, plen);
    r->present0 = r->present = present;
    r->version0 = r->version = version;
    x->recs[x->nrecs++] = r;
    x->last = r;
    slot_put(x->slots, x->nslots, path, (uint32_t)x->nrecs);
    *out = r;
    return 0;
}

/* As vs_path_split accepts: "/" or "/a/b" (no empty component, no trailing '/'). */
static bool valid_path(const char *p)
{
    if (p[0] != '/')
        return false;
    if (p[1] == 0)
        return true;
    for (const char *s = p; *s; s++)
        if (*s == '/' && (s[1] == '/' || s[1] == 0))
            return false;
    return true;
}

/* Existence and own version of path in t (absent also when an ancestor is missing); *node:
 * the node, NULL if absent. */
int txn_version_at(struct vs_tree *t, const char *path, bool *present, uint64_t *version,
                   struct vs_node **node)
{
    struct vs_node *n;
    int rc = vs_lookup(t, path, &n);
    *present = false;
    *version = 0;
    *node = NULL;
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    *present = true;
    *version = n->version;
    *node = n;
    return 0;
}

int txn_live_node(struct vs_txn *x, struct rec *r, struct vs_node **out)
{
    if (r->node == NULL) {
        int rc = vs_lookup(x->live, r->path, &r->node);
        if (rc < 0)
            return rc;
    }
    *out = r->node;
    return 0;
}

/* Give r its own copy of its state, taken from live (the tree the invariant refers to). */
static int materialize(struct vs_txn *x, struct rec *r)
{
    if (r->own)
        return 0;
    if (!r->present0) {
        r->own = true;
        return 0;
    }
    uint8_t *val = NULL, *perms = NULL;
    size_t vlen = 0, plen = 0;
    struct vs_node *n;
    int rc = txn_live_node(x, r, &n);
    if (rc == 0)
        rc = vs_node_value(x->live, n);
    if (rc == 0) {
        vlen = n->vlen;
        plen = n->plen;
        rc = vs_dup_bytes(n->val, vlen, &val);
    }
    if (rc == 0)
        rc = vs_dup_bytes(n->perms, plen, &perms);
    if (rc < 0) {
        free(val);
        free(perms);
        return rc == -ENOENT ? -EIO : rc; /* the invariant says it is there */
    }
    r->val = val;
    r->vlen = vlen;
    r->perms = perms;
    r->plen = plen;
    r->kids = NULL;
    r->nkids = r->capkids = 0;
    r->lazy = true; /* the children stay live's until they must be copied (txn_kids_copy) */
    r->own = true;
    return 0;
}

/* Make live the current head. Records that rely on live and whose node differs in the new
 * head take their copy from the old tree first, so what the transaction saw stays. */
static int refresh(struct vs_txn *x)
{
    struct store_hash head, base;
    int rc = vs_branch_head(x->st, x->branch, &head);
    bool has_head = rc == 0;
    if (rc < 0 && rc != -ENOENT)
        return rc;
    bool has_base = vs_tree_base(x->live, &base);
    if (has_head == has_base && (!has_head || store_hash_equal(&head, &base)))
        return 0;
    struct vs_tree *t;
    rc = vs_tree_open(x->st, has_head ? &head : NULL, &t);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < x->nrecs; i++) {
        struct rec *r = x->recs[i];
        if (r->own && !r->lazy)
            continue;
        bool present;
        uint64_t version;
        struct vs_node *node;
        rc = txn_version_at(t, r->path, &present, &version, &node);
        (void)node;
        if (rc == 0 && (present != r->present0 || (present && version != r->version0)))
            rc = materialize(x, r);
        if (rc == 0 && r->lazy && (present != r->present0 || version != r->version0))
            rc = txn_kids_copy(x, r); /* the base list is about to go */
        if (rc < 0) {
            vs_tree_close(t);
            return rc;
        }
    }
    /* Every node pointer into the old live goes with it (looked up again in t when needed). */
    for (size_t i = 0; i < x->nrecs; i++)
        x->recs[i]->node = NULL;
    vs_tree_close(x->live);
    x->live = t;
    if (x->nrecs)
        x->moved = true;
    return 0;
}

/* The record of path: found, or made by a first access to the live store. */
static int access_path(struct vs_txn *x, const char *path, struct rec **out)
{
    struct rec *r = rec_find(x, path);
    if (r != NULL) {
        *out = x->last = r;
        return 0;
    }
    if (!valid_path(path))
        return -EINVAL;
    if (x->live == NULL)
        return -EINVAL; /* a commit is under way */
    if (x->max_recs && x->nrecs >= x->max_recs) {
        x->failed = true; /* C's access_node fails the transaction here */
        return -ENOSPC;
    }
    int rc = refresh(x);
    bool present;
    uint64_t version;
    struct vs_node *node;
    if (rc == 0)
        rc = txn_version_at(x->live, path, &present, &version, &node);
    if (rc == 0)
        rc = rec_add(x, path, present, version, out);
    if (rc == 0)
        (*out)->node = node;
    return rc;
}

static bool rec_present(const struct rec *r)
{
    return r->own ? r->present : r->present0;
}

/* The record of path's parent (path is not "/"), read like any path of the transaction:
 * creating and removing a node read its parent. */
static int access_parent(struct vs_txn *x, const char *path, struct rec **out)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *parent = malloc(n + 1);
    if (parent == NULL)
        return -ENOMEM;
    memcpy(parent, path, n);
    parent[n] = 0;
    int rc = access_path(x, parent, out);
    free(parent);
    return rc;
}

/* The own version a change in this transaction gets (what a commit on live would stamp). */
static uint64_t stamp(const struct vs_txn *x)
{
    return vs_tree_gen(x->live);
}

/* ---- begin / abort ------------------------------------------------------------------------ */

int vs_txn_begin(struct vs_store *st, const char *branch, struct vs_txn **out)
{
    struct vs_txn *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return -ENOMEM;
    x->st = st;
    x->recs = x->recs_in;
    x->caprecs = sizeof(x->recs_in) / sizeof(x->recs_in[0]);
    x->slots = x->slots_in;
    x->nslots = sizeof(x->slots_in) / sizeof(x->slots_in[0]);
    x->ops = x->ops_in;
    x->capops = sizeof(x->ops_in) / sizeof(x->ops_in[0]);
    /* The usual short branch name lives in the transaction (one allocation less). */
    size_t bl = strlen(branch) + 1;
    x->branch = bl <= sizeof(x->branch_in) ? memcpy(x->branch_in, branch, bl) : strdup(branch);
    if (x->branch == NULL) {
        free(x);
        return -ENOMEM;
    }
    struct store_hash head;
    int rc = vs_branch_head(st, branch, &head);
    if (rc == 0 || rc == -ENOENT)
        rc = vs_tree_open(st, rc == 0 ? &head : NULL, &x->live);
    if (rc < 0) {
        if (x->branch != x->branch_in)
            free(x->branch);
        free(x);
        return rc;
    }
    *out = x;
    return 0;
}

static void free_op(struct vs_op *op)
{
    free(op->path); /* val and perms live in its allocation (add_op) */
}

void vs_txn_abort(struct vs_txn *x)
{
    if (x == NULL)
        return;
    vs_tree_close(x->live);
    for (size_t i = 0; i < x->nrecs; i++)
        rec_free(x->recs[i]);
    if (x->recs != x->recs_in)
        free(x->recs);
    if (x->slots != x->slots_in)
        free(x->slots);
    for (size_t i = 0; i < x->nops; i++)
        free_op(&x->ops[i]);
    if (x->ops != x->ops_in)
        free(x->ops);
    if (x->branch != x->branch_in)
        free(x->branch);
    free(x);
}

bool vs_txn_snapshot(const struct vs_txn *x, struct store_hash *commit)
{
    struct store_hash base;
    if (x->live == NULL || !vs_tree_base(x->live, &base))
        return false;
    if (commit)
        *commit = base;
    return true;
}

size_t vs_txn_accessed(const struct vs_txn *x)
{
    return x->nrecs;
}

bool vs_txn_failed(const struct vs_txn *x)
{
    return x->failed;
}

bool vs_txn_was_accessed(const struct vs_txn *x, const char *path, bool *then, bool *now)
{
    const struct rec *r = rec_find(x, path);
    if (r == NULL)
        return false;
    *then = r->present0;
    *now = rec_present(r);
    return true;
}

size_t vs_txn_access_rank(const struct vs_txn *x, const char *path)
{
    if (x->nslots == 0)
        return 0;
    size_t mask = x->nslots - 1;
    for (size_t i = path_hash(path) & mask;; i = (i + 1) & mask) {
        uint32_t s = x->slots[i];
        if (s == 0 || strcmp(x->recs[s - 1]->path, path) == 0)
            return s; /* records are only ever appended: the slot holds index + 1 */
    }
}

void vs_txn_set_max_accessed(struct vs_txn *x, size_t max)
{
    x->max_recs = max;
}

/* ---- reads -------------------------------------------------------------------------------- */

int vs_txn_note_read(struct vs_txn *x, const char *path)
{
    struct rec *r;
    return access_path(x, path, &r);
}

/* The node of a record that relies on live (-ENOENT if it is absent there). */
static int unowned_node(struct vs_txn *x, struct rec *r, struct vs_node **n)
{
    return r->present0 ? txn_live_node(x, r, n) : -ENOENT;
}

int vs_txn_stat(struct vs_txn *x, const char *path, struct vs_stat *st)
{
    struct rec *r;
    struct vs_node *n;
    int rc = access_path(x, path, &r);
    if (rc < 0)
        return rc;
    if (!r->own) {
        if ((rc = unowned_node(x, r, &n)) < 0)
            return rc;
        st->version = n->version;
        st->vlen = n->vlen;
        st->plen = n->plen;
        st->nchildren = (size_t)n->dir.count;
        return 0;
    }
    if (!r->present)
        return -ENOENT;
    st->version = r->version;
    st->vlen = r->vlen;
    st->plen = r->plen;
    st->nchildren = r->nkids;
    if (r->lazy) {
        rc = txn_live_node(x, r, &n);
        if (rc < 0)
            return rc == -ENOENT ? -EIO : rc;
        st->nchildren += (size_t)n->dir.count - r->ngone;
    }
    return 0;
}

static int copy_out(const void *src, size_t len, void **dst, size_t *dlen)
{
    uint8_t *p;
    if (vs_dup_bytes(src, len, &p) < 0)
        return -ENOMEM;
    *dst = p;
    *dlen = len;
    return 0;
}

/* The value (perms false) or the perms of path as the transaction sees it, borrowed: valid
 * until the transaction's next change or end. */
static int field_ref(struct vs_txn *x, const char *path, bool perms, const void **out,
                     size_t *len)
{
    struct rec *r;
    struct vs_node *n;
    int rc = access_path(x, path, &r);
    if (rc < 0)
        return rc;
    if (r->own) {
        if (!r->present)
            return -ENOENT;
        *out = perms ? r->perms : r->val;
        *len = perms ? r->plen : r->vlen;
        return 0;
    }
    if ((rc = unowned_node(x, r, &n)) < 0)
        return rc;
    if (!perms && (rc = vs_node_value(x->live, n)) < 0)
        return rc;
    *out = perms ? n->perms : n->val;
    *len = perms ? n->plen : n->vlen;
    return 0;
}

static int read_field(struct vs_txn *x, const char *path, bool perms, void **out, size_t *len)
{
    const void *p;
    size_t n;
    int rc = field_ref(x, path, perms, &p, &n);
    return rc < 0 ? rc : copy_out(p, n, out, len);
}

int vs_txn_read(struct vs_txn *x, const char *path, void **val, size_t *len)
{
    return read_field(x, path, false, val, len);
}

int vs_txn_get_perms(struct vs_txn *x, const char *path, void **perms, size_t *len)
{
    return read_field(x, path, true, perms, len);
}

int vs_txn_perms_ref(struct vs_txn *x, const char *path, const void **perms, size_t *len)
{
    return field_ref(x, path, true, perms, len);
}

static int list_rec(struct vs_txn *x, struct rec *r, char ***names, size_t *n)
{
    struct vs_node *node;
    int rc;
    if (!r->own)
        return (rc = unowned_node(x, r, &node)) < 0 ? rc : vs_node_list(x->live, node, names, n);
    if (!r->present)
        return -ENOENT;
    rc = txn_kids_copy(x, r);
    if (rc < 0)
        return rc;
    char **v = calloc(r->nkids ? r->nkids : 1, sizeof(*v));
    if (v == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < r->nkids; i++) {
        if ((v[i] = strdup(r->kids[i])) == NULL) {
            vs_names_free(v, i);
            return -ENOMEM;
        }
    }
    *names = v;
    *n = r->nkids;
    return 0;
}

int vs_txn_list(struct vs_txn *x, const char *path, char ***names, size_t *n)
{
    struct rec *r;
    int rc = access_path(x, path, &r);
    return rc < 0 ? rc : list_rec(x, r, names, n);
}

/* ---- writes ------------------------------------------------------------------------------- */

static int add_op(struct vs_txn *x, int kind, const char *path, const void *val, size_t vlen,
                  const void *perms, size_t plen, unsigned flags)
{
    if (x->nops == x->capops) {
        bool in = x->ops == x->ops_in;
        size_t cap = in ? 16 : x->capops * 2;
        struct vs_op *v = in ? malloc(cap * sizeof(*v)) : realloc(x->ops, cap * sizeof(*v));
        if (v == NULL)
            return -ENOMEM;
        if (in)
            memcpy(v, x->ops_in, x->nops * sizeof(*v));
        x->ops = v;
        x->capops = cap;
    }
    struct vs_op *op = &x->ops[x->nops];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->flags = flags;
    op->vlen = (flags & VS_SET_VALUE) ? vlen : 0;
    op->plen = (flags & VS_SET_PERMS) ? plen : 0;
    /* One allocation: the path, then the value and the perms, each NUL-terminated. */
    size_t pl = strlen(path) + 1;
    char *b = malloc(pl + op->vlen + 1 + op->plen + 1);
    if (b == NULL)
        return -ENOMEM;
    memcpy(b, path, pl);
    uint8_t *v = (uint8_t *)b + pl, *p = v + op->vlen + 1;
    if (op->vlen)
        memcpy(v, val, op->vlen);
    v[op->vlen] = 0;
    if (op->plen)
        memcpy(p, perms, op->plen);
    p[op->plen] = 0;
    op->path = b;
    op->val = v;
    op->perms = p;
    x->nops++;
    return 0;
}

static void drop_last_op(struct vs_txn *x)
{
    free_op(&x->ops[--x->nops]);
}

/* Set value and/or perms of an own, present record. */
static int set_fields(struct vs_txn *x, struct rec *r, const void *val, size_t vlen,
                      const void *perms, size_t plen, unsigned flags)
{
    uint8_t *v = NULL, *p = NULL;
    if ((flags & VS_SET_VALUE) && vs_dup_bytes(val, vlen, &v) < 0)
        return -ENOMEM;
    if ((flags & VS_SET_PERMS) && vs_dup_bytes(perms, plen, &p) < 0) {
        free(v);
        return -ENOMEM;
    }
    if (flags & VS_SET_VALUE) {
        free(r->val);
        r->val = v;
        r->vlen = vlen;
    }
    if (flags & VS_SET_PERMS) {
        free(r->perms);
        r->perms = p;
        r->plen = plen;
    }
    r->version = stamp(x);
    return 0;
}

int vs_txn_set(struct vs_txn *x, const char *path, const void *val, size_t vlen,
               const void *perms, size_t plen, unsigned flags)
{
    struct rec *r, *pr = NULL;
    int rc = access_path(x, path, &r);
    if (rc < 0)
        return rc;
    bool create = !rec_present(r);
    if (!create && (flags & (VS_CREATE | VS_EXCL)) == (VS_CREATE | VS_EXCL))
        return -EEXIST;
    if (create) {
        if (!(flags & VS_CREATE))
            return -ENOENT;
        rc = access_parent(x, path, &pr);
        if (rc < 0)
            return rc;
        if (!rec_present(pr))
            return -ENOENT;
        rc = materialize(x, pr);
        if (rc < 0)
            return rc;
    }
    rc = materialize(x, r);
    if (rc == 0)
        rc = add_op(x, OP_SET, path, val, vlen, perms, plen, flags);
    if (rc < 0)
        return rc;
    if (create) {
        rc = txn_kid_insert(x, pr, strrchr(path, '/') + 1);
        if (rc == 0) {
            pr->version = stamp(x);
            bool sv = flags & VS_SET_VALUE, sp = flags & VS_SET_PERMS;
            r->present = true;
            rc = set_fields(x, r, sv ? val : "", sv ? vlen : 0, sp ? perms : "", sp ? plen : 0,
                            VS_SET_VALUE | VS_SET_PERMS);
            if (rc < 0)
                x->failed = true; /* the parent lists it already */
        } else {
            drop_last_op(x);
        }
        return rc;
    }
    rc = set_fields(x, r, val, vlen, perms, plen, flags);
    if (rc < 0)
        drop_last_op(x);
    return rc;
}

/* C's delete walk: every node of the subtree (as the transaction sees it) is accessed, then
 * removed, children first. A listed child that is missing stops it with EIO, as in C. */
static int rm_walk(struct vs_txn *x, struct rec *r)
{
    char **kids;
    size_t n;
    int rc = list_rec(x, r, &kids, &n);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *cp = vs_path_join(r->path, kids[i]);
        struct rec *c;
        rc = cp ? access_path(x, cp, &c) : -ENOMEM;
        free(cp);
        if (rc == 0)
            rc = rec_present(c) ? rm_walk(x, c) : -EIO;
    }
    vs_names_free(kids, n);
    if (rc == 0)
        rc = materialize(x, r);
    if (rc < 0)
        return rc;
    r->present = false;
    free(r->val);
    free(r->perms);
    r->val = r->perms = NULL;
    r->vlen = r->plen = 0;
    vs_names_free(r->kids, r->nkids);
    r->kids = NULL;
    r->nkids = r->capkids = 0;
    vs_names_free(r->gone, r->ngone);
    r->gone = NULL;
    r->ngone = r->capgone = 0;
    r->lazy = false;
    return 0;
}

int vs_txn_rm(struct vs_txn *x, const char *path)
{
    if (strcmp(path, "/") == 0)
        return -EINVAL;
    struct rec *r, *pr;
    int rc = access_path(x, path, &r);
    if (rc < 0)
        return rc;
    if (!rec_present(r))
        return -ENOENT;
    rc = access_parent(x, path, &pr);
    if (rc < 0)
        return rc;
    if (!rec_present(pr))
        return -EINVAL; /* C's rm_node when the parent cannot be read */
    rc = materialize(x, pr);
    if (rc == 0)
        rc = add_op(x, OP_RM, path, NULL, 0, NULL, 0, 0);
    if (rc < 0)
        return rc;
    rc = rm_walk(x, r);
    if (rc == 0) {
        rc = txn_kid_remove(x, pr, strrchr(path, '/') + 1);
        if (rc == -ENOENT)
            rc = -EIO; /* the parent as seen does not list it: C's delete_child */
    }
    if (rc == 0)
        pr->version = stamp(x);
    else if (rc == -ENOMEM)
        x->failed = true; /* part of the subtree is gone from the view */
    /* On EIO the view is as C leaves it; the parent's version differs from the head's now,
     * so the commit fails with EAGAIN whatever the replay would do. */
    return rc;
}
