/*
 * The in-memory object heap: the objstore.h semantics with no durability at all. Objects live
 * in a chained hash table keyed by their hash, refs in a small list. Used by the tree layer's
 * tests and for running without a database file. Single-threaded.
 *
 * Semantics shared with store_pack.c (the tree layer may rely on them):
 *   - put of an invalid kind is -EINVAL; put of an existing object is a no-op returning 0;
 *   - get verifies the bytes against the hash (here they cannot differ; the check is kept so
 *     both heaps behave alike);
 *   - set_ref refuses (-ENOENT) a value that names no stored object, so a ref never names a
 *     missing object; -EEXIST when the compare-and-swap loses; -EINVAL for an empty name or
 *     one longer than STORE_REF_NAME_MAX;
 *   - del_ref with expect NULL deletes unconditionally (-ENOENT if the ref does not exist),
 *     with expect non-NULL only if the ref equals *expect (-EEXIST otherwise);
 *   - done callbacks run before set_ref returns (there is nothing to wait for), and flush is
 *     a no-op.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/objstore.h"

struct mem_obj {
    struct mem_obj *next;
    struct store_hash h;
    enum store_kind kind;
    size_t len;
    uint8_t data[];
};

struct mem_ref {
    struct mem_ref *next;
    struct store_hash h;
    char name[];
};

struct memobj {
    struct objstore base;
    struct mem_obj **buckets;
    size_t nbuckets, count;
    struct mem_ref *refs;
};

static struct memobj *M(struct objstore *s)
{
    return (struct memobj *)s;
}

static size_t bucket_of(const struct memobj *m, const struct store_hash *h)
{
    uint64_t x;
    memcpy(&x, h->b, sizeof(x));
    return (size_t)(x & (m->nbuckets - 1));
}

static struct mem_obj *find(struct memobj *m, const struct store_hash *h)
{
    for (struct mem_obj *o = m->buckets[bucket_of(m, h)]; o != NULL; o = o->next)
        if (store_hash_equal(&o->h, h))
            return o;
    return NULL;
}

static int grow(struct memobj *m)
{
    size_t n = m->nbuckets * 2;
    struct mem_obj **nb = calloc(n, sizeof(*nb));
    if (nb == NULL)
        return -ENOMEM;
    struct mem_obj **old = m->buckets;
    size_t oldn = m->nbuckets;
    m->buckets = nb;
    m->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        struct mem_obj *o = old[i];
        while (o != NULL) {
            struct mem_obj *next = o->next;
            size_t b = bucket_of(m, &o->h);
            o->next = nb[b];
            nb[b] = o;
            o = next;
        }
    }
    free(old);
    return 0;
}

static bool valid_kind(enum store_kind kind)
{
    return kind == STORE_KIND_BLOB || kind == STORE_KIND_NODE || kind == STORE_KIND_COMMIT;
}

static int mem_put_added(struct objstore *s, enum store_kind kind, const void *data,
                         size_t len, struct store_hash *out, bool *added)
{
    struct memobj *m = M(s);
    *added = false;
    if (!valid_kind(kind) || (data == NULL && len > 0))
        return -EINVAL;
    struct store_hash h;
    store_hash_object(kind, data, len, &h);
    if (find(m, &h) == NULL) {
        if (m->count >= m->nbuckets && grow(m) < 0)
            return -ENOMEM;
        struct mem_obj *o = malloc(sizeof(*o) + len);
        if (o == NULL)
            return -ENOMEM;
        o->h = h;
        o->kind = kind;
        o->len = len;
        if (len > 0)
            memcpy(o->data, data, len);
        size_t b = bucket_of(m, &h);
        o->next = m->buckets[b];
        m->buckets[b] = o;
        m->count++;
        *added = true;
    }
    if (out != NULL)
        *out = h;
    return 0;
}

static int mem_put(struct objstore *s, enum store_kind kind, const void *data, size_t len,
                   struct store_hash *out)
{
    bool added;
    return mem_put_added(s, kind, data, len, out, &added);
}

static int mem_get(struct objstore *s, const struct store_hash *h, enum store_kind *kind,
                   void **data, size_t *len)
{
    struct mem_obj *o = find(M(s), h);
    if (o == NULL)
        return -ENOENT;
    struct store_hash check;
    store_hash_object(o->kind, o->data, o->len, &check);
    if (!store_hash_equal(&check, h))
        return -EBADMSG;
    void *copy = malloc(o->len > 0 ? o->len : 1);
    if (copy == NULL)
        return -ENOMEM;
    if (o->len > 0)
        memcpy(copy, o->data, o->len);
    if (kind != NULL)
        *kind = o->kind;
    if (len != NULL)
        *len = o->len;
    *data = copy;
    return 0;
}

static bool mem_has(struct objstore *s, const struct store_hash *h)
{
    return find(M(s), h) != NULL;
}

static struct mem_ref **ref_slot(struct memobj *m, const char *name)
{
    struct mem_ref **p = &m->refs;
    while (*p != NULL && strcmp((*p)->name, name) != 0)
        p = &(*p)->next;
    return p;
}

static bool valid_name(const char *name)
{
    if (name == NULL)
        return false;
    size_t n = strnlen(name, STORE_REF_NAME_MAX + 1);
    return n > 0 && n <= STORE_REF_NAME_MAX;
}

static int mem_get_ref(struct objstore *s, const char *name, struct store_hash *out)
{
    if (!valid_name(name))
        return -EINVAL;
    struct mem_ref *r = *ref_slot(M(s), name);
    if (r == NULL)
        return -ENOENT;
    *out = r->h;
    return 0;
}

static int mem_set_ref(struct objstore *s, const char *name, const struct store_hash *expect,
                       const struct store_hash *value, enum store_sync sync,
                       store_durable_fn done, void *done_arg)
{
    struct memobj *m = M(s);
    (void)sync;
    if (!valid_name(name) || value == NULL)
        return -EINVAL;
    struct mem_ref **slot = ref_slot(m, name);
    struct mem_ref *r = *slot;
    if (expect == NULL ? r != NULL : (r == NULL || !store_hash_equal(&r->h, expect)))
        return -EEXIST;
    if (find(m, value) == NULL)
        return -ENOENT;
    if (r == NULL) {
        size_t n = strlen(name);
        r = malloc(sizeof(*r) + n + 1);
        if (r == NULL)
            return -ENOMEM;
        memcpy(r->name, name, n + 1);
        r->next = NULL;
        *slot = r;
    }
    r->h = *value;
    if (done != NULL)
        done(done_arg, true);
    return 0;
}

static int mem_del_ref(struct objstore *s, const char *name, const struct store_hash *expect,
                       enum store_sync sync)
{
    (void)sync;
    if (!valid_name(name))
        return -EINVAL;
    struct mem_ref **slot = ref_slot(M(s), name);
    struct mem_ref *r = *slot;
    if (r == NULL)
        return -ENOENT;
    if (expect != NULL && !store_hash_equal(&r->h, expect))
        return -EEXIST;
    *slot = r->next;
    free(r);
    return 0;
}

static int mem_list_refs(struct objstore *s,
                         int (*fn)(void *arg, const char *name, const struct store_hash *h),
                         void *arg)
{
    for (struct mem_ref *r = M(s)->refs; r != NULL; r = r->next) {
        int rc = fn(arg, r->name, &r->h);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int mem_flush(struct objstore *s)
{
    (void)s;
    return 0;
}

static void mem_close(struct objstore *s)
{
    struct memobj *m = M(s);
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct mem_obj *o = m->buckets[i];
        while (o != NULL) {
            struct mem_obj *next = o->next;
            free(o);
            o = next;
        }
    }
    while (m->refs != NULL) {
        struct mem_ref *next = m->refs->next;
        free(m->refs);
        m->refs = next;
    }
    free(m->buckets);
    free(m);
}

static const struct objstore_ops memobj_ops = {
    .put = mem_put,
    .get = mem_get,
    .has = mem_has,
    .get_ref = mem_get_ref,
    .set_ref = mem_set_ref,
    .del_ref = mem_del_ref,
    .list_refs = mem_list_refs,
    .flush = mem_flush,
    .close = mem_close,
    .put_added = mem_put_added,
};

struct objstore *store_memobj_open(void)
{
    struct memobj *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->nbuckets = 64;
    m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
    if (m->buckets == NULL) {
        free(m);
        return NULL;
    }
    m->base.ops = &memobj_ops;
    return &m->base;
}
