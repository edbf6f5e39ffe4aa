/* The store model of the property tests: see store_model.h. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/store_model.h"
#include "xenstore/store_tree.h"

struct mn *mn_new(const char *name, uint64_t ver)
{
    struct mn *n = calloc(1, sizeof(*n));
    n->name = strdup(name);
    n->val = calloc(1, 1);
    n->perms = calloc(1, 1);
    n->ver = ver;
    return n;
}

void mn_free(struct mn *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->nk; i++)
        mn_free(n->kids[i]);
    free(n->kids);
    free(n->name);
    free(n->val);
    free(n->perms);
    free(n);
}

static char *dupb(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

struct mn *mn_clone(const struct mn *n)
{
    struct mn *c = mn_new(n->name, n->ver);
    free(c->val);
    free(c->perms);
    c->val = dupb(n->val, n->vlen);
    c->vlen = n->vlen;
    c->perms = dupb(n->perms, n->plen);
    c->plen = n->plen;
    c->nk = n->nk;
    c->kids = calloc(n->nk + 1, sizeof(*c->kids));
    for (size_t i = 0; i < n->nk; i++)
        c->kids[i] = mn_clone(n->kids[i]);
    return c;
}

struct mn *mn_kid(struct mn *n, const char *name, size_t *pos)
{
    size_t i = 0;
    for (; i < n->nk; i++) {
        int c = strcmp(n->kids[i]->name, name);
        if (c == 0) {
            if (pos)
                *pos = i;
            return n->kids[i];
        }
        if (c > 0)
            break;
    }
    if (pos)
        *pos = i;
    return NULL;
}

static void mn_insert(struct mn *n, struct mn *k)
{
    size_t pos;
    assert_null(mn_kid(n, k->name, &pos));
    n->kids = realloc(n->kids, (n->nk + 1) * sizeof(*n->kids));
    memmove(&n->kids[pos + 1], &n->kids[pos], (n->nk - pos) * sizeof(*n->kids));
    n->kids[pos] = k;
    n->nk++;
}

static void mn_remove(struct mn *n, const char *name)
{
    size_t pos;
    struct mn *k = mn_kid(n, name, &pos);
    assert_non_null(k);
    mn_free(k);
    memmove(&n->kids[pos], &n->kids[pos + 1], (n->nk - pos - 1) * sizeof(*n->kids));
    n->nk--;
}

/* Walk "/a/b": the node, or NULL; *parent the parent when it exists. */
struct mn *mn_find(struct mn *root, const char *path, struct mn **parent, char *last)
{
    struct mn *cur = root, *par = NULL;
    if (parent)
        *parent = NULL;
    if (strcmp(path, "/") == 0)
        return root;
    const char *p = path + 1;
    while (cur) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        char name[64];
        memcpy(name, p, l);
        name[l] = 0;
        par = cur;
        cur = mn_kid(cur, name, NULL);
        if (!e) {
            if (parent)
                *parent = par;
            if (last)
                strcpy(last, name);
            return cur;
        }
        p = e + 1;
    }
    return NULL;
}

int mn_set(struct mn *root, const char *path, const char *val, size_t vlen,
           const char *perms, size_t plen, unsigned flags, uint64_t gen)
{
    struct mn *parent;
    char last[64];
    struct mn *n = mn_find(root, path, &parent, last);
    if (n == NULL) {
        if (parent == NULL || !(flags & VS_CREATE))
            return -ENOENT;
        n = mn_new(last, gen);
        mn_insert(parent, n);
        parent->ver = gen;
        if (!(flags & VS_SET_VALUE) || val == NULL) {
            val = "";
            vlen = 0;
        }
        if (!(flags & VS_SET_PERMS) || perms == NULL) {
            perms = "";
            plen = 0;
        }
        flags |= VS_SET_VALUE | VS_SET_PERMS;
    } else if ((flags & (VS_CREATE | VS_EXCL)) == (VS_CREATE | VS_EXCL)) {
        return -EEXIST;
    }
    if (flags & VS_SET_VALUE) {
        free(n->val);
        n->val = dupb(val ? val : "", val ? vlen : 0);
        n->vlen = val ? vlen : 0;
    }
    if (flags & VS_SET_PERMS) {
        free(n->perms);
        n->perms = dupb(perms ? perms : "", perms ? plen : 0);
        n->plen = perms ? plen : 0;
    }
    n->ver = gen;
    return 0;
}

int mn_rm(struct mn *root, const char *path, uint64_t gen)
{
    struct mn *parent;
    char last[64];
    if (strcmp(path, "/") == 0)
        return -EINVAL;
    struct mn *n = mn_find(root, path, &parent, last);
    if (n == NULL)
        return -ENOENT;
    mn_remove(parent, last);
    parent->ver = gen;
    return 0;
}

bool own_eq(const struct mn *a, const struct mn *b)
{
    return a->vlen == b->vlen && a->plen == b->plen && memcmp(a->val, b->val, a->vlen) == 0 &&
           memcmp(a->perms, b->perms, a->plen) == 0;
}

/* Equal subtrees, versions included (what equal hashes mean). */
bool deep_eq(const struct mn *a, const struct mn *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    if (!own_eq(a, b) || a->ver != b->ver || a->nk != b->nk)
        return false;
    for (size_t i = 0; i < a->nk; i++)
        if (strcmp(a->kids[i]->name, b->kids[i]->name) != 0 || !deep_eq(a->kids[i], b->kids[i]))
            return false;
    return true;
}

static void stamp_all(struct mn *n, uint64_t gen)
{
    n->ver = gen;
    for (size_t i = 0; i < n->nk; i++)
        stamp_all(n->kids[i], gen);
}

/* The merge rule of store_tree.h on the model (policy: fixed side). Returns -EAGAIN on a
 * refused conflict; o is changed in place. */
int mn_merge(struct mn *b, struct mn *o, struct mn *t, uint64_t gen, int policy,
             int *nconf)
{
    if (deep_eq(o, t) || (b && deep_eq(b, t)))
        return 0;
    if (!own_eq(o, t)) {
        bool theirs;
        if (b && own_eq(b, o))
            theirs = true;
        else if (b && own_eq(b, t))
            theirs = false;
        else {
            (*nconf)++;
            if (policy == 0)
                return -EAGAIN;
            theirs = policy == 2;
        }
        if (theirs) {
            free(o->val);
            free(o->perms);
            o->val = dupb(t->val, t->vlen);
            o->vlen = t->vlen;
            o->perms = dupb(t->perms, t->plen);
            o->plen = t->plen;
            o->ver = gen;
        }
    }
    /* names in either */
    size_t cap = o->nk + t->nk + 1, nn = 0;
    char **names = calloc(cap, sizeof(char *));
    for (size_t i = 0; i < o->nk; i++)
        names[nn++] = strdup(o->kids[i]->name);
    for (size_t i = 0; i < t->nk; i++)
        if (!mn_kid(o, t->kids[i]->name, NULL))
            names[nn++] = strdup(t->kids[i]->name);
    int rc = 0;
    for (size_t i = 0; i < nn && rc == 0; i++) {
        struct mn *bc = b ? mn_kid(b, names[i], NULL) : NULL;
        struct mn *oc = mn_kid(o, names[i], NULL), *tc = mn_kid(t, names[i], NULL);
        if (oc && tc) {
            rc = mn_merge(bc, oc, tc, gen, policy, nconf);
        } else if (oc) {
            bool drop = false;
            if (bc && deep_eq(bc, oc))
                drop = true;
            else if (bc) {
                (*nconf)++;
                if (policy == 0)
                    rc = -EAGAIN;
                drop = policy == 2;
            }
            if (rc == 0 && drop) {
                mn_remove(o, names[i]);
                o->ver = gen;
            }
        } else {
            bool add = false;
            if (bc == NULL)
                add = true;
            else if (!deep_eq(bc, tc)) {
                (*nconf)++;
                if (policy == 0)
                    rc = -EAGAIN;
                add = policy == 2;
            }
            if (rc == 0 && add) {
                struct mn *c = mn_clone(tc);
                stamp_all(c, gen);
                mn_insert(o, c);
                o->ver = gen;
            }
        }
    }
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    return rc;
}