/*
 * The child lists of a transaction's records (store_txn.c): sorted arrays of names, and the
 * lazy lists that rely on live's node (the names added to it and the names gone from it)
 * until they must be copied.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/store_txn_int.h"

/* ---- sorted name arrays ------------------------------------------------------------------ */

static size_t names_pos(char *const *v, size_t n, const char *name, bool *found)
{
    size_t lo = 0, hi = n;
    *found = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(v[mid], name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Insert name at i (from names_pos). */
static int names_insert(char ***v, size_t *n, size_t *cap, size_t i, const char *name)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 4;
        char **nv = realloc(*v, c * sizeof(*nv));
        if (nv == NULL)
            return -ENOMEM;
        *v = nv;
        *cap = c;
    }
    char *s = strdup(name);
    if (s == NULL)
        return -ENOMEM;
    memmove(*v + i + 1, *v + i, (*n - i) * sizeof(**v));
    (*v)[i] = s;
    (*n)++;
    return 0;
}

static void names_remove(char **v, size_t *n, size_t i)
{
    free(v[i]);
    memmove(v + i, v + i + 1, (*n - i - 1) * sizeof(*v));
    (*n)--;
}

/* ---- a record's children ----------------------------------------------------------------- */

/* Give a lazy record its own child list: live's list at its path (live: where the invariant
 * holds), less `gone`, plus the added names. */
int txn_kids_copy(struct vs_txn *x, struct rec *r)
{
    if (!r->lazy)
        return 0;
    char **base;
    size_t nb;
    struct vs_node *n;
    int rc = txn_live_node(x, r, &n);
    if (rc == 0)
        rc = vs_node_list(x->live, n, &base, &nb);
    if (rc < 0)
        return rc == -ENOENT ? -EIO : rc;
    size_t cap = nb + r->nkids;
    char **v = malloc((cap ? cap : 1) * sizeof(*v));
    if (v == NULL) {
        vs_names_free(base, nb);
        return -ENOMEM;
    }
    /* Merge (both sorted, disjoint: an added name is not in the base). */
    size_t i = 0, j = 0, k = 0;
    while (i < nb || j < r->nkids) {
        if (j == r->nkids || (i < nb && strcmp(base[i], r->kids[j]) < 0)) {
            bool gone;
            names_pos(r->gone, r->ngone, base[i], &gone);
            if (gone)
                free(base[i]);
            else
                v[k++] = base[i];
            i++;
        } else {
            v[k++] = r->kids[j++];
        }
    }
    free(base);
    free(r->kids);
    vs_names_free(r->gone, r->ngone);
    r->gone = NULL;
    r->ngone = r->capgone = 0;
    r->kids = v;
    r->nkids = k;
    r->capkids = cap;
    r->lazy = false;
    return 0;
}

/* Is name in the base list of a lazy record (live's children at its path)? */
static int in_base(struct vs_txn *x, struct rec *r, const char *name, bool *has)
{
    struct vs_node *n;
    struct vs_entry *e;
    int rc = txn_live_node(x, r, &n);
    if (rc == 0)
        rc = vs_dir_find(x->live, &n->dir, 0, name, false, &e);
    *has = rc == 0;
    return rc == -ENOENT ? 0 : rc;
}

/* Add name to an own record's children (nothing if listed already). */
int txn_kid_insert(struct vs_txn *x, struct rec *r, const char *name)
{
    bool found;
    size_t i = names_pos(r->kids, r->nkids, name, &found);
    if (found)
        return 0;
    if (r->lazy) {
        bool has, gone;
        size_t g = names_pos(r->gone, r->ngone, name, &gone);
        if (gone) {
            names_remove(r->gone, &r->ngone, g);
            return 0;
        }
        int rc = in_base(x, r, name, &has);
        if (rc < 0 || has)
            return rc;
    }
    return names_insert(&r->kids, &r->nkids, &r->capkids, i, name);
}

/* Remove name from an own record's children; -ENOENT if not listed. */
int txn_kid_remove(struct vs_txn *x, struct rec *r, const char *name)
{
    bool found;
    size_t i = names_pos(r->kids, r->nkids, name, &found);
    if (found) {
        names_remove(r->kids, &r->nkids, i);
        return 0;
    }
    if (!r->lazy)
        return -ENOENT;
    bool has, gone;
    size_t g = names_pos(r->gone, r->ngone, name, &gone);
    int rc = gone ? 0 : in_base(x, r, name, &has);
    if (rc < 0)
        return rc;
    if (gone || !has)
        return -ENOENT;
    return names_insert(&r->gone, &r->ngone, &r->capgone, g, name);
}
