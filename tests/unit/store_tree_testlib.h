/* Helpers shared by the tree layer's tests: a counting wrapper around any objstore (bytes and
 * objects actually added), a PRNG, and small assertion helpers over store_tree.h. */
#ifndef XENKIT_TESTS_STORE_TREE_TESTLIB_H
#define XENKIT_TESTS_STORE_TREE_TESTLIB_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/objstore.h"
#include "xenstore/store_tree.h"

struct counting_os {
    struct objstore base;
    struct objstore *inner;
    uint64_t new_objects, new_bytes, gets;
};

static inline struct counting_os *CO(struct objstore *s)
{
    return (struct counting_os *)s;
}
static inline int co_put(struct objstore *s, enum store_kind k, const void *d, size_t n,
                         struct store_hash *out)
{
    struct store_hash h;
    store_hash_object(k, d, n, &h);
    if (!CO(s)->inner->ops->has(CO(s)->inner, &h)) {
        CO(s)->new_objects++;
        CO(s)->new_bytes += n;
    }
    return CO(s)->inner->ops->put(CO(s)->inner, k, d, n, out);
}
static inline int co_get(struct objstore *s, const struct store_hash *h, enum store_kind *k,
                         void **d, size_t *n)
{
    CO(s)->gets++;
    return CO(s)->inner->ops->get(CO(s)->inner, h, k, d, n);
}
static inline bool co_has(struct objstore *s, const struct store_hash *h)
{
    return CO(s)->inner->ops->has(CO(s)->inner, h);
}
static inline int co_get_ref(struct objstore *s, const char *n, struct store_hash *out)
{
    return CO(s)->inner->ops->get_ref(CO(s)->inner, n, out);
}
static inline int co_set_ref(struct objstore *s, const char *n, const struct store_hash *e,
                             const struct store_hash *v, enum store_sync sy,
                             store_durable_fn done, void *arg)
{
    return CO(s)->inner->ops->set_ref(CO(s)->inner, n, e, v, sy, done, arg);
}
static inline int co_del_ref(struct objstore *s, const char *n, const struct store_hash *e,
                             enum store_sync sy)
{
    return CO(s)->inner->ops->del_ref(CO(s)->inner, n, e, sy);
}
static inline int co_list_refs(struct objstore *s,
                               int (*fn)(void *, const char *, const struct store_hash *),
                               void *arg)
{
    return CO(s)->inner->ops->list_refs(CO(s)->inner, fn, arg);
}
static inline int co_flush(struct objstore *s)
{
    return CO(s)->inner->ops->flush(CO(s)->inner);
}
static inline void co_close(struct objstore *s)
{
    CO(s)->inner->ops->close(CO(s)->inner);
    free(s);
}
static const struct objstore_ops counting_ops = {
    co_put, co_get, co_has, co_get_ref, co_set_ref, co_del_ref, co_list_refs, co_flush, co_close,
    NULL, /* put_added: vs_put then looks in its cache itself */
    NULL, /* prefetch, put_hashed: vs_put_enc_next puts at once */
    NULL,
};

/* A counting objstore over a fresh in-memory heap. */
static inline struct counting_os *counting_open(void)
{
    struct counting_os *c = calloc(1, sizeof(*c));
    c->base.ops = &counting_ops;
    c->inner = store_memobj_open();
    return c;
}

static inline uint64_t tl_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

#endif
