/* The fixture of the pack tests (test_store_pack*.c): a scratch directory per test, packs
 * opened in it, and a commit model (commit i = blob + commit object {i, prev, blob}) whose
 * chain from ref "main" can be checked object by object. Include <cmocka.h> first. */
#ifndef XENKIT_TESTS_STORE_PACK_FIXTURE_H
#define XENKIT_TESTS_STORE_PACK_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/store_testutil.h"
#include "xenstore/store_pack.h"

static char *tdir;

static inline int setup(void **state)
{
    (void)state;
    tdir = store_test_mkdir();
    return 0;
}

static inline int teardown(void **state)
{
    (void)state;
    store_test_rmdir(tdir);
    return 0;
}

static inline char *path_of(const char *name)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), "%s/%s", tdir, name);
    return buf;
}

static inline struct objstore *open_ok(const char *name, const struct store_pack_opts *o,
                                       struct store_pack_report *rep)
{
    struct store_pack_opts def = {.create = true};
    struct objstore *s = NULL;
    int rc = store_pack_open_path(path_of(name), o ? o : &def, &s, rep);
    if (rc != 0)
        fail_msg("open %s: %d (%s)", name, rc, rep ? rep->msg : "");
    return s;
}

/* The commit model: commit i = blob + commit object {i, prev, blob} */

struct cobj {
    uint64_t n;
    struct store_hash prev, blob;
};

/* The blob of commit n of run seed: its length. */
static inline int cobj_value(char val[128], uint64_t n, uint64_t seed)
{
    return snprintf(val, 128, "value %llu of run %llu %*s", (unsigned long long)n,
                    (unsigned long long)seed, (int)(n % 40), "");
}

static inline int make_commit(struct objstore *s, uint64_t n, uint64_t seed,
                              const struct store_hash *prev, struct store_hash *out)
{
    char val[128];
    int len = cobj_value(val, n, seed);
    struct cobj c = {.n = n};
    if (prev != NULL)
        c.prev = *prev;
    int rc = s->ops->put(s, STORE_KIND_BLOB, val, (size_t)len, &c.blob);
    if (rc == 0)
        rc = s->ops->put(s, STORE_KIND_COMMIT, &c, sizeof(c), out);
    return rc;
}

/* Check the newest max commits of the chain from ref "main" (all of them: UINT64_MAX):
 * returns the head's number, -1 if no ref; fails the test if any object is missing or
 * wrong. */
static inline int64_t check_chain_n(struct objstore *s, uint64_t seed, uint64_t max)
{
    struct store_hash h;
    if (s->ops->get_ref(s, "main", &h) != 0)
        return -1;
    int64_t head = -1;
    for (uint64_t i = 0; i < max; i++) {
        enum store_kind k;
        void *d;
        size_t len;
        assert_int_equal(s->ops->get(s, &h, &k, &d, &len), 0);
        assert_int_equal(k, STORE_KIND_COMMIT);
        assert_int_equal(len, sizeof(struct cobj));
        struct cobj c;
        memcpy(&c, d, sizeof(c));
        free(d);
        if (head < 0)
            head = (int64_t)c.n;
        char val[128];
        int vl = cobj_value(val, c.n, seed);
        assert_int_equal(s->ops->get(s, &c.blob, &k, &d, &len), 0);
        assert_int_equal(len, (size_t)vl);
        assert_memory_equal(d, val, len);
        free(d);
        if (c.n == 0)
            break;
        h = c.prev;
    }
    return head;
}

static inline int64_t check_chain(struct objstore *s, uint64_t seed)
{
    return check_chain_n(s, seed, UINT64_MAX);
}

/* The newest n commits are intact and the head is expect_head (when >= 0). */
static inline void check_recent(struct objstore *s, uint64_t seed, uint64_t n,
                                int64_t expect_head)
{
    int64_t head = check_chain_n(s, seed, n);
    assert_true(head >= 0);
    if (expect_head >= 0)
        assert_int_equal(head, expect_head);
}

static inline int commit_n(struct objstore *s, uint64_t n, uint64_t seed, enum store_sync sync)
{
    struct store_hash prev, c;
    bool have = s->ops->get_ref(s, "main", &prev) == 0;
    int rc = make_commit(s, n, seed, have ? &prev : NULL, &c);
    if (rc == 0)
        rc = s->ops->set_ref(s, "main", have ? &prev : NULL, &c, sync, NULL, NULL);
    return rc;
}


#endif
