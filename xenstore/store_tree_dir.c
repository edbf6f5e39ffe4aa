/*
 * Directories of a working tree, and comparing nodes and directories (store_tree.c has the
 * trees themselves).
 *
 * A directory is a "part" (struct vs_inode): up to VS_LEAF_MAX entries sorted by name, or,
 * above that, VS_FANOUT sub-parts chosen by 5 bits of the entry name's hash per level. The
 * shape is a function of the set of names only (split when a leaf exceeds VS_LEAF_MAX,
 * collapse when a tree falls to VS_LEAF_MAX or fewer, empty sub-parts dropped), so equal
 * directories encode equally whatever their history, and changing one entry of a directory
 * with n entries rewrites O(log n) parts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/store_tree_int.h"

/* ---- directories ---------------------------------------------------------------------------- */

static int ent_cmp(const void *a, const void *b)
{
    return strcmp(((const struct vs_entry *)a)->name, ((const struct vs_entry *)b)->name);
}

int vs_entry_set_name(struct vs_entry *e, const char *name, size_t len)
{
    char *s = malloc(len + 1);
    if (s == NULL)
        return -ENOMEM;
    memcpy(s, name, len);
    s[len] = 0;
    e->name = s;
    e->nlen = (uint32_t)len;
    memset(e->pre, 0, VS_NAME_PRE);
    memcpy(e->pre, name, len < VS_NAME_PRE ? len : VS_NAME_PRE);
    return 0;
}

static void trail_part(struct vs_trail *tr, struct vs_inode *in)
{
    if (tr == NULL)
        return;
    if (tr->nparts == VS_TRAIL_MAX)
        tr->full = true;
    else
        tr->parts[tr->nparts++] = in;
}

static int dir_find(struct vs_tree *t, struct vs_inode *in, unsigned depth, const char *name,
                    bool mark, struct vs_trail *tr, struct vs_entry **out);

int vs_dir_find(struct vs_tree *t, struct vs_inode *in, unsigned depth, const char *name,
                bool mark, struct vs_entry **out)
{
    return dir_find(t, in, depth, name, mark, NULL, out);
}

int vs_dir_find_trail(struct vs_tree *t, struct vs_inode *in, unsigned depth, const char *name,
                      struct vs_trail *tr, struct vs_entry **out)
{
    int rc = dir_find(t, in, depth, name, false, tr, out);
    if (rc == 0) {
        if (tr->nents == VS_TRAIL_MAX)
            tr->full = true;
        else
            tr->ents[tr->nents++] = *out;
    }
    return rc;
}

static int dir_find(struct vs_tree *t, struct vs_inode *in, unsigned depth, const char *name,
                    bool mark, struct vs_trail *tr, struct vs_entry **out)
{
    struct store_hash nh;
    bool hashed = false;
    while (in->tree) {
        if (!hashed) {
            vs_name_hash(name, &nh);
            hashed = true;
        }
        unsigned b = vs_bucket_of(&nh, depth);
        if (!in->slot[b].present)
            return -ENOENT;
        int rc = vs_inode_slot(t, in, b, depth);
        if (rc < 0)
            return rc;
        if (mark)
            in->dirty = true;
        trail_part(tr, in);
        in = in->slot[b].in;
        depth++;
    }
    size_t len = strlen(name), lo = 0, hi = in->n;
    uint64_t key = vs_name_key(name, len);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = vs_entry_cmp(&in->ents[mid], name, key, len);
        if (c == 0) {
            if (mark) {
                in->dirty = true;
                in->ents[mid].dirty = true;
            }
            trail_part(tr, in);
            *out = &in->ents[mid];
            return 0;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -ENOENT;
}

static int collect(struct vs_tree *t, struct vs_inode *in, unsigned depth,
                   struct vs_entry **arr, size_t *k)
{
    if (!in->tree) {
        for (size_t i = 0; i < in->n; i++)
            arr[(*k)++] = &in->ents[i];
        return 0;
    }
    for (unsigned i = 0; i < VS_FANOUT; i++) {
        if (!in->slot[i].present)
            continue;
        int rc = vs_inode_slot(t, in, i, depth);
        if (rc < 0)
            return rc;
        rc = collect(t, in->slot[i].in, depth + 1, arr, k);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int vs_dir_entries(struct vs_tree *t, struct vs_inode *in, unsigned depth,
                   struct vs_entry ***out, size_t *n)
{
    struct vs_entry **arr = malloc((in->count ? in->count : 1) * sizeof(*arr));
    if (arr == NULL)
        return -ENOMEM;
    size_t k = 0;
    int rc = collect(t, in, depth, arr, &k);
    if (rc == 0 && k != in->count)
        rc = -EBADMSG; /* a part's count disagrees with its contents */
    if (rc < 0) {
        free(arr);
        return rc;
    }
    *out = arr;
    *n = k;
    return 0;
}

static int leaf_reserve(struct vs_inode *in, size_t want)
{
    if (want <= in->cap)
        return 0;
    size_t cap = in->cap ? in->cap : 4;
    while (cap < want)
        cap *= 2;
    struct vs_entry *e = realloc(in->ents, cap * sizeof(*e));
    if (e == NULL)
        return -ENOMEM;
    in->ents = e;
    in->cap = cap;
    return 0;
}

/* A leaf with too many entries becomes a tree of leaves (recursively). */
static int split(struct vs_inode *in, unsigned depth)
{
    struct vs_inode *subs[VS_FANOUT] = {0};
    struct vs_slot *slot = calloc(VS_FANOUT, sizeof(*slot));
    if (slot == NULL)
        return -ENOMEM;
    for (unsigned i = 0; i < VS_FANOUT; i++) {
        subs[i] = calloc(1, sizeof(struct vs_inode));
        if (subs[i] == NULL)
            goto nomem;
    }
    for (size_t i = 0; i < in->n; i++) {
        struct vs_inode *s = subs[vs_bucket(in->ents[i].name, depth)];
        if (leaf_reserve(s, s->n + 1) < 0)
            goto nomem;
        s->ents[s->n++] = in->ents[i]; /* sorted input stays sorted */
        s->count++;
    }
    free(in->ents);
    in->ents = NULL;
    in->n = in->cap = 0;
    in->tree = true;
    in->slot = slot;
    in->dirty = true;
    for (unsigned i = 0; i < VS_FANOUT; i++) {
        if (subs[i]->n == 0) {
            free(subs[i]);
            continue;
        }
        subs[i]->dirty = true;
        in->slot[i].present = true;
        in->slot[i].in = subs[i];
        if (subs[i]->n > VS_LEAF_MAX && depth + 1 < VS_MAX_DEPTH) {
            int rc = split(subs[i], depth + 1);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
nomem:
    for (unsigned i = 0; i < VS_FANOUT; i++) {
        if (subs[i]) {
            free(subs[i]->ents);
            free(subs[i]);
        }
    }
    free(slot);
    return -ENOMEM;
}

/* Insert an entry that is not there yet (takes ownership of e's contents). */
int vs_dir_insert(struct vs_tree *t, struct vs_inode *in, unsigned depth, struct vs_entry *e)
{
    while (in->tree) {
        unsigned b = vs_bucket(e->name, depth);
        if (!in->slot[b].present) {
            struct vs_inode *s = calloc(1, sizeof(*s));
            if (s == NULL)
                return -ENOMEM;
            s->dirty = true;
            in->slot[b].present = true;
            in->slot[b].in = s;
        } else {
            int rc = vs_inode_slot(t, in, b, depth);
            if (rc < 0)
                return rc;
        }
        in->count++;
        in->dirty = true;
        in = in->slot[b].in;
        depth++;
    }
    if (leaf_reserve(in, in->n + 1) < 0)
        return -ENOMEM; /* counts above are now off: the tree is unusable; only on OOM */
    size_t lo = 0, hi = in->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (vs_entry_cmp(&in->ents[mid], e->name, vs_pre_key(e->pre), e->nlen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(&in->ents[lo + 1], &in->ents[lo], (in->n - lo) * sizeof(*e));
    in->ents[lo] = *e;
    in->ents[lo].dirty = e->n != NULL; /* a new node, or a copy: it is to be written */
    in->n++;
    in->count++;
    in->dirty = true;
    if (in->n > VS_LEAF_MAX && depth < VS_MAX_DEPTH)
        return split(in, depth);
    return 0;
}

/* A tree part with few enough entries becomes one sorted leaf (its sub-parts are leaves by
 * then: they were collapsed first). */
static int collapse(struct vs_tree *t, struct vs_inode *in, unsigned depth)
{
    struct vs_entry **arr;
    size_t n;
    int rc = vs_dir_entries(t, in, depth, &arr, &n);
    if (rc < 0)
        return rc;
    struct vs_entry *ents = malloc((n ? n : 1) * sizeof(*ents));
    if (ents == NULL) {
        free(arr);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        ents[i] = *arr[i];
    free(arr);
    qsort(ents, n, sizeof(*ents), ent_cmp);
    for (unsigned i = 0; i < VS_FANOUT; i++) {
        struct vs_inode *s = in->slot[i].in;
        if (s) {
            free(s->ents); /* entries moved, not freed */
            free(s);
        }
    }
    free(in->slot);
    in->slot = NULL;
    in->tree = false;
    in->ents = ents;
    in->n = n;
    in->cap = n ? n : 1;
    in->dirty = true;
    return 0;
}

/* Remove name (which must be there) and free its subtree. */
int vs_dir_remove(struct vs_tree *t, struct vs_inode *in, unsigned depth, const char *name)
{
    if (in->tree) {
        unsigned b = vs_bucket(name, depth);
        if (!in->slot[b].present)
            return -ENOENT;
        int rc = vs_inode_slot(t, in, b, depth);
        if (rc < 0)
            return rc;
        rc = vs_dir_remove(t, in->slot[b].in, depth + 1, name);
        if (rc < 0)
            return rc;
        in->count--;
        in->dirty = true;
        if (in->slot[b].in->count == 0) {
            vs_inode_clear(in->slot[b].in);
            free(in->slot[b].in);
            memset(&in->slot[b], 0, sizeof(in->slot[b]));
        }
        if (in->count <= VS_LEAF_MAX)
            return collapse(t, in, depth);
        return 0;
    }
    for (size_t i = 0; i < in->n; i++) {
        if (strcmp(in->ents[i].name, name) != 0)
            continue;
        free(in->ents[i].name);
        vs_node_free(in->ents[i].n);
        memmove(&in->ents[i], &in->ents[i + 1], (in->n - i - 1) * sizeof(in->ents[0]));
        in->n--;
        in->count--;
        in->dirty = true;
        return 0;
    }
    return -ENOENT;
}

/* ---- comparing ------------------------------------------------------------------------------ */

bool vs_entry_hash(const struct vs_entry *e, struct store_hash *out)
{
    if (e->n == NULL) {
        *out = e->h;
        return true;
    }
    if (e->n->dirty)
        return false;
    *out = e->n->h;
    return true;
}

int vs_own_equal(struct vs_tree *ta, struct vs_node *a, struct vs_tree *tb, struct vs_node *b)
{
    if (a->plen != b->plen || a->vlen != b->vlen || memcmp(a->perms, b->perms, a->plen) != 0)
        return 0;
    if (a->val_blob && b->val_blob && !a->val_dirty && !b->val_dirty)
        return store_hash_equal(&a->vh, &b->vh);
    int rc = vs_node_value(ta, a);
    if (rc == 0)
        rc = vs_node_value(tb, b);
    if (rc < 0)
        return rc;
    return memcmp(a->val, b->val, a->vlen) == 0;
}

struct changed {
    char **names;
    uint8_t *in;
    size_t n, cap;
};

static int changed_add(struct changed *c, const char *name, uint8_t in)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        char **nn = realloc(c->names, cap * sizeof(char *));
        if (nn == NULL)
            return -ENOMEM;
        c->names = nn;
        uint8_t *ni = realloc(c->in, cap);
        if (ni == NULL)
            return -ENOMEM;
        c->in = ni;
        c->cap = cap;
    }
    c->names[c->n] = strdup(name);
    if (c->names[c->n] == NULL)
        return -ENOMEM;
    c->in[c->n++] = in;
    return 0;
}

static int eptr_cmp(const void *a, const void *b)
{
    return strcmp((*(struct vs_entry *const *)a)->name, (*(struct vs_entry *const *)b)->name);
}

static int changed_parts(struct vs_tree *ta, struct vs_inode *a, struct vs_tree *tb,
                         struct vs_inode *b, unsigned depth, struct changed *c)
{
    int rc;
    if (a && b && a->tree && b->tree) {
        for (unsigned i = 0; i < VS_FANOUT; i++) {
            bool pa = a->slot[i].present, pb = b->slot[i].present;
            if (!pa && !pb)
                continue;
            if (pa && pb && (a->slot[i].in == NULL || !a->slot[i].in->dirty) &&
                (b->slot[i].in == NULL || !b->slot[i].in->dirty) &&
                store_hash_equal(&a->slot[i].h, &b->slot[i].h))
                continue;
            if (pa && (rc = vs_inode_slot(ta, a, i, depth)) < 0)
                return rc;
            if (pb && (rc = vs_inode_slot(tb, b, i, depth)) < 0)
                return rc;
            rc = changed_parts(ta, pa ? a->slot[i].in : NULL, tb, pb ? b->slot[i].in : NULL,
                               depth + 1, c);
            if (rc < 0)
                return rc;
        }
        return 0;
    }
    struct vs_entry **ea = NULL, **eb = NULL;
    size_t na = 0, nb = 0;
    if (a && (rc = vs_dir_entries(ta, a, depth, &ea, &na)) < 0)
        return rc;
    if (b && (rc = vs_dir_entries(tb, b, depth, &eb, &nb)) < 0) {
        free(ea);
        return rc;
    }
    if (a && a->tree)
        qsort(ea, na, sizeof(*ea), eptr_cmp);
    if (b && b->tree)
        qsort(eb, nb, sizeof(*eb), eptr_cmp);
    size_t i = 0, j = 0;
    rc = 0;
    while (rc == 0 && (i < na || j < nb)) {
        int cmp = i == na ? 1 : j == nb ? -1 : strcmp(ea[i]->name, eb[j]->name);
        if (cmp < 0) {
            rc = changed_add(c, ea[i++]->name, 1);
        } else if (cmp > 0) {
            rc = changed_add(c, eb[j++]->name, 2);
        } else {
            struct store_hash ha, hb;
            if (!vs_entry_hash(ea[i], &ha) || !vs_entry_hash(eb[j], &hb) ||
                !store_hash_equal(&ha, &hb))
                rc = changed_add(c, ea[i]->name, 3);
            i++;
            j++;
        }
    }
    free(ea);
    free(eb);
    return rc;
}

int vs_dir_changed(struct vs_tree *ta, struct vs_inode *a, struct vs_tree *tb,
                   struct vs_inode *b, char ***names, uint8_t **in, size_t *n)
{
    struct changed c = {0};
    int rc = changed_parts(ta, a, tb, b, 0, &c);
    if (rc < 0) {
        vs_names_free(c.names, c.n);
        free(c.in);
        return rc;
    }
    *names = c.names;
    *in = c.in;
    *n = c.n;
    return 0;
}
