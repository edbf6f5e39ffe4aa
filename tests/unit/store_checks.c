/* Checks of the objstore.h contract shared by the tests of every heap (memobj, pack). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/store_checks.h"

void store_check_objects(struct objstore *s)
{
    struct store_hash h1, h2, h3, h4;
    assert_int_equal(s->ops->put(s, STORE_KIND_BLOB, "abc", 3, &h1), 0);
    assert_int_equal(s->ops->put(s, STORE_KIND_NODE, "abc", 3, &h2), 0);
    assert_false(store_hash_equal(&h1, &h2)); /* the kind is part of the name */
    assert_int_equal(s->ops->put(s, STORE_KIND_BLOB, "abc", 3, &h3), 0);
    assert_true(store_hash_equal(&h1, &h3)); /* dedup */
    assert_int_equal(s->ops->put(s, STORE_KIND_COMMIT, NULL, 0, &h4), 0);

    struct store_hash expect;
    store_hash_object(STORE_KIND_BLOB, "abc", 3, &expect);
    assert_true(store_hash_equal(&h1, &expect));

    enum store_kind kind;
    void *data;
    size_t len;
    assert_int_equal(s->ops->get(s, &h1, &kind, &data, &len), 0);
    assert_int_equal(kind, STORE_KIND_BLOB);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "abc", 3);
    free(data);
    assert_int_equal(s->ops->get(s, &h2, &kind, &data, &len), 0);
    assert_int_equal(kind, STORE_KIND_NODE);
    free(data);
    assert_int_equal(s->ops->get(s, &h4, &kind, &data, &len), 0);
    assert_int_equal(kind, STORE_KIND_COMMIT);
    assert_int_equal(len, 0);
    free(data);

    assert_true(s->ops->has(s, &h1));
    struct store_hash missing;
    store_hash_object(STORE_KIND_BLOB, "nope", 4, &missing);
    assert_false(s->ops->has(s, &missing));
    assert_int_equal(s->ops->get(s, &missing, &kind, &data, &len), -ENOENT);
    assert_int_equal(s->ops->put(s, (enum store_kind)0, "x", 1, &h3), -EINVAL);
    assert_int_equal(s->ops->put(s, (enum store_kind)9, "x", 1, &h3), -EINVAL);

    /* Many objects of many sizes. */
    uint8_t buf[5000];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    struct store_hash hs[200];
    for (int i = 0; i < 200; i++) {
        buf[0] = (uint8_t)i;
        buf[1] = (uint8_t)(i >> 8);
        assert_int_equal(s->ops->put(s, STORE_KIND_BLOB, buf, (size_t)(i * 25), &hs[i]), 0);
    }
    for (int i = 0; i < 200; i++) {
        buf[0] = (uint8_t)i;
        buf[1] = (uint8_t)(i >> 8);
        assert_int_equal(s->ops->get(s, &hs[i], &kind, &data, &len), 0);
        assert_int_equal(len, (size_t)(i * 25));
        if (len > 0)
            assert_memory_equal(data, buf, len);
        free(data);
    }
}

static int durable_calls, durable_ok;
static void on_durable(void *arg, bool ok)
{
    (void)arg;
    durable_calls++;
    durable_ok += ok;
}

struct listing {
    int n;
    bool saw_a, saw_b;
};
static int list_fn(void *arg, const char *name, const struct store_hash *h)
{
    (void)h;
    struct listing *l = arg;
    l->n++;
    if (strcmp(name, "a") == 0)
        l->saw_a = true;
    if (strcmp(name, "b/c") == 0)
        l->saw_b = true;
    return 0;
}
static int stop_fn(void *arg, const char *name, const struct store_hash *h)
{
    (void)name;
    (void)h;
    (*(int *)arg)++;
    return 7;
}

void store_check_refs(struct objstore *s)
{
    struct store_hash c1, c2, missing, out;
    assert_int_equal(s->ops->put(s, STORE_KIND_COMMIT, "c1", 2, &c1), 0);
    assert_int_equal(s->ops->put(s, STORE_KIND_COMMIT, "c2", 2, &c2), 0);
    store_hash_object(STORE_KIND_COMMIT, "never put", 9, &missing);

    assert_int_equal(s->ops->get_ref(s, "a", &out), -ENOENT);
    durable_calls = durable_ok = 0;
    assert_int_equal(s->ops->set_ref(s, "a", NULL, &c1, STORE_SYNC_ALWAYS, on_durable, NULL), 0);
    assert_int_equal(durable_calls, 1);
    assert_int_equal(durable_ok, 1);
    assert_int_equal(s->ops->get_ref(s, "a", &out), 0);
    assert_true(store_hash_equal(&out, &c1));
    /* expect NULL but the ref exists: the CAS loses */
    assert_int_equal(s->ops->set_ref(s, "a", NULL, &c2, STORE_SYNC_NONE, NULL, NULL), -EEXIST);
    /* wrong expectation */
    assert_int_equal(s->ops->set_ref(s, "a", &c2, &c2, STORE_SYNC_NONE, NULL, NULL), -EEXIST);
    assert_int_equal(s->ops->set_ref(s, "a", &c1, &c2, STORE_SYNC_NONE, on_durable, NULL), 0);
    assert_int_equal(durable_calls, 2);
    assert_int_equal(s->ops->get_ref(s, "a", &out), 0);
    assert_true(store_hash_equal(&out, &c2));
    /* a ref never names a missing object */
    assert_int_equal(s->ops->set_ref(s, "a", &c2, &missing, STORE_SYNC_NONE, NULL, NULL),
                     -ENOENT);
    assert_int_equal(s->ops->get_ref(s, "a", &out), 0);
    assert_true(store_hash_equal(&out, &c2));
    /* names */
    assert_int_equal(s->ops->set_ref(s, "", NULL, &c1, STORE_SYNC_NONE, NULL, NULL), -EINVAL);
    char longname[STORE_REF_NAME_MAX + 2];
    memset(longname, 'x', sizeof(longname));
    longname[STORE_REF_NAME_MAX + 1] = '\0';
    assert_int_equal(s->ops->set_ref(s, longname, NULL, &c1, STORE_SYNC_NONE, NULL, NULL),
                     -EINVAL);
    longname[STORE_REF_NAME_MAX] = '\0';
    assert_int_equal(s->ops->set_ref(s, longname, NULL, &c1, STORE_SYNC_NONE, NULL, NULL), 0);
    assert_int_equal(s->ops->get_ref(s, longname, &out), 0);
    assert_int_equal(s->ops->del_ref(s, longname, NULL, STORE_SYNC_NONE), 0);

    assert_int_equal(s->ops->set_ref(s, "b/c", NULL, &c1, STORE_SYNC_BATCH, on_durable, NULL), 0);
    assert_int_equal(s->ops->flush(s), 0);
    assert_int_equal(durable_calls, 3);
    assert_int_equal(durable_ok, 3);

    struct listing l = {0};
    assert_int_equal(s->ops->list_refs(s, list_fn, &l), 0);
    assert_int_equal(l.n, 2);
    assert_true(l.saw_a && l.saw_b);
    int calls = 0;
    assert_int_equal(s->ops->list_refs(s, stop_fn, &calls), 7);
    assert_int_equal(calls, 1);

    assert_int_equal(s->ops->del_ref(s, "b/c", &c2, STORE_SYNC_NONE), -EEXIST);
    assert_int_equal(s->ops->del_ref(s, "b/c", &c1, STORE_SYNC_ALWAYS), 0);
    assert_int_equal(s->ops->del_ref(s, "b/c", NULL, STORE_SYNC_NONE), -ENOENT);
    assert_int_equal(s->ops->get_ref(s, "b/c", &out), -ENOENT);
    l = (struct listing){0};
    assert_int_equal(s->ops->list_refs(s, list_fn, &l), 0);
    assert_int_equal(l.n, 1);
}
