/* The fixture of the tree layer's cmocka tests (test_store_tree*.c, test_store_txn.c,
 * test_store_git.c): a store over a counting in-memory objstore, and assertion helpers over
 * its trees and branch "main". Include <cmocka.h> first. Helpers are static inline so a test
 * may leave some unused. */
#ifndef XENKIT_TESTS_STORE_TREE_FIXTURE_H
#define XENKIT_TESTS_STORE_TREE_FIXTURE_H

#include "tests/unit/store_tree_testlib.h"

struct fx {
    struct counting_os *os;
    struct vs_store *st;
};

static inline int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->os = counting_open();
    f->st = vs_store_open(&f->os->base, 0);
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    struct fx *f = *state;
    vs_store_close(f->st);
    f->os->base.ops->close(&f->os->base);
    free(f);
    return 0;
}

static inline void set(struct vs_tree *t, const char *path, const char *val)
{
    assert_int_equal(vs_tree_set(t, path, val, strlen(val), NULL, 0, VS_SET_VALUE | VS_CREATE),
                     0);
}

/* A read's result (rc, and the value v of n bytes) is want (NULL: -ENOENT); frees v. */
static inline void expect_read(int rc, void *v, size_t n, const char *want)
{
    if (want == NULL) {
        assert_int_equal(rc, -ENOENT);
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(v, want, n);
    free(v);
}

/* The value of path in t (val NULL: the node must be absent). */
static inline void expect_val(struct vs_tree *t, const char *path, const char *val)
{
    void *v = NULL;
    size_t n = 0;
    int rc = vs_tree_read(t, path, &v, &n);
    expect_read(rc, v, n, val);
}

/* The value of path at the head of branch "main" (want NULL: absent). */
static inline void expect_head(struct fx *f, const char *path, const char *want)
{
    struct store_hash head;
    struct vs_tree *t;
    assert_int_equal(vs_branch_head(f->st, "main", &head), 0);
    assert_int_equal(vs_tree_open(f->st, &head, &t), 0);
    expect_val(t, path, want);
    vs_tree_close(t);
}

static inline void commit(struct vs_store *st, struct vs_tree *t, const char *msg,
                          struct store_hash *h)
{
    struct vs_commit_info ci = {"test", msg, 1000000000ull * 1700000000};
    assert_int_equal(vs_branch_commit(t, "main", &ci, STORE_SYNC_NONE, NULL, NULL, h), 0);
    (void)st;
}

/* A write (creating the node) in transaction x. */
static inline int twrite(struct vs_txn *x, const char *path, const char *v)
{
    return vs_txn_set(x, path, v, strlen(v), NULL, 0, VS_SET_VALUE | VS_CREATE);
}

/* Commits paths, each with the value "init", on top of main's head (if any). */
static inline void init_main(struct fx *f, const char **paths, size_t n)
{
    struct vs_tree *t;
    struct store_hash h;
    struct store_hash head;
    assert_int_equal(vs_tree_open(f->st, vs_branch_head(f->st, "main", &head) == 0 ? &head : NULL,
                                  &t),
                     0);
    for (size_t i = 0; i < n; i++)
        set(t, paths[i], "init");
    commit(f->st, t, "init", &h);
    vs_tree_close(t);
}

#endif
