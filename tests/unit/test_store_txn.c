/*
 * Store transactions (vs_txn_*, xenstore/store_txn.c) follow C xenstored 4.17's rule: a
 * transaction reads the nodes it has not touched from the live store, sees a node it has
 * touched as at its first access (plus its own changes), and fails with EAGAIN at commit
 * when a node it accessed has another existence or own version in the head than at that
 * first access. "Another connection" is played by single-change transactions committed in
 * between (the daemon's requests outside transactions are exactly that).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "tests/unit/store_tree_fixture.h"
#include "xenstore/store_tree_int.h"

static struct vs_txn *begin(struct fx *f)
{
    struct vs_txn *x;
    assert_int_equal(vs_txn_begin(f->st, "main", &x), 0);
    return x;
}

static int end(struct vs_txn *x)
{
    return vs_txn_commit(x, NULL, STORE_SYNC_NONE, NULL, NULL, NULL);
}

/* Another connection's write or removal outside any transaction. */
static void other_write(struct fx *f, const char *path, const char *v)
{
    struct vs_txn *x = begin(f);
    assert_int_equal(twrite(x, path, v), 0);
    assert_int_equal(end(x), 0);
}

static void other_rm(struct fx *f, const char *path)
{
    struct vs_txn *x = begin(f);
    assert_int_equal(vs_txn_rm(x, path), 0);
    assert_int_equal(end(x), 0);
}

static void init(struct fx *f, const char **paths, size_t n)
{
    struct vs_txn *x = begin(f);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(twrite(x, paths[i], "init"), 0);
    assert_int_equal(end(x), 0);
}

/* The value of path in the transaction's view (NULL: -ENOENT). */
static void expect_txn(struct vs_txn *x, const char *path, const char *want)
{
    void *v = NULL;
    size_t n = 0;
    int rc = vs_txn_read(x, path, &v, &n);
    expect_read(rc, v, n, want);
}

/* The children of path in the transaction's view, joined by ',' into buf. */
static const char *kids(struct vs_txn *x, const char *path, char *buf, size_t cap)
{
    char **names;
    size_t n;
    assert_int_equal(vs_txn_list(x, path, &names, &n), 0);
    buf[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            strncat(buf, ",", cap - strlen(buf) - 1);
        strncat(buf, names[i], cap - strlen(buf) - 1);
    }
    vs_names_free(names, n);
    return buf;
}

/* ---- what a transaction sees ------------------------------------------------------------- */

/* A node the transaction has not touched is read live: a change committed after
 * TRANSACTION_START but before the first access is seen, and is no conflict. */
static void test_live_read_of_untouched(void **state)
{
    struct fx *f = *state;
    const char *p[] = {"/a", "/b"};
    init(f, p, 2);
    struct vs_txn *x = begin(f);
    other_write(f, "/a", "later");
    other_write(f, "/new", "made");
    expect_txn(x, "/a", "later");
    expect_txn(x, "/new", "made");
    assert_int_equal(twrite(x, "/b", "mine"), 0);
    assert_int_equal(end(x), 0);
    expect_head(f, "/b", "mine");
    expect_head(f, "/a", "later");
}

/* A node once accessed stays as it was then (C keeps a copy of it in the transaction), even
 * when the transaction reads other, new paths from a newer head in between. */
static void test_first_access_sticks(void **state)
{
    struct fx *f = *state;
    const char *p[] = {"/a", "/b", "/c"};
    init(f, p, 3);
    char buf[64];
    struct vs_txn *x = begin(f);
    expect_txn(x, "/a", "init");
    assert_string_equal(kids(x, "/", buf, sizeof buf), "a,b,c");
    other_write(f, "/a", "changed");
    expect_txn(x, "/a", "init"); /* same head as at the first access */
    other_write(f, "/d", "new");
    expect_txn(x, "/b", "init"); /* a new path: the view moves to the new head */
    expect_txn(x, "/a", "init");
    assert_string_equal(kids(x, "/", buf, sizeof buf), "a,b,c");
    expect_txn(x, "/d", "new");  /* untouched: live, although "/" does not list it */
    struct vs_stat s;
    assert_int_equal(vs_txn_stat(x, "/", &s), 0);
    assert_int_equal(s.nchildren, 3);
    assert_int_equal(end(x), -EAGAIN); /* a read-only transaction fails too */
}

/* A node looked up and found missing stays missing, and its creation by another connection
 * is a conflict; created and removed again meanwhile, it is not (C: no generation either
 * way). */
static void test_missing_then_created(void **state)
{
    struct fx *f = *state;
    const char *p[] = {"/a"};
    init(f, p, 1);
    struct vs_txn *x = begin(f);
    expect_txn(x, "/a/x", NULL);
    assert_int_equal(twrite(x, "/a/other", "w"), 0);
    other_write(f, "/a/x", "theirs");
    expect_txn(x, "/a/x", NULL);
    assert_int_equal(end(x), -EAGAIN);
    expect_head(f, "/a/other", NULL);

    x = begin(f);
    expect_txn(x, "/y", NULL);
    assert_int_equal(twrite(x, "/a/z", "w"), 0);
    other_write(f, "/y", "briefly");
    other_rm(f, "/y");
    assert_int_equal(end(x), 0);
    expect_head(f, "/a/z", "w");
}

/* The transaction sees its own writes; nobody else does before the commit. */
static void test_own_writes_visible(void **state)
{
    struct fx *f = *state;
    const char *p[] = {"/d", "/d/k"};
    init(f, p, 2);
    char buf[64];
    struct vs_txn *x = begin(f);
    assert_int_equal(twrite(x, "/d/n", "one"), 0);
    assert_int_equal(twrite(x, "/d/n", "two"), 0);
    assert_int_equal(vs_txn_set(x, "/d/n", NULL, 0, "p", 1, VS_SET_PERMS), 0);
    expect_txn(x, "/d/n", "two");
    void *pm;
    size_t pl;
    assert_int_equal(vs_txn_get_perms(x, "/d/n", &pm, &pl), 0);
    assert_int_equal(pl, 1);
    free(pm);
    assert_string_equal(kids(x, "/d", buf, sizeof buf), "k,n");
    assert_int_equal(vs_txn_rm(x, "/d/k"), 0);
    expect_txn(x, "/d/k", NULL);
    assert_string_equal(kids(x, "/d", buf, sizeof buf), "n");
    assert_int_equal(vs_txn_set(x, "/d/n", "x", 1, NULL, 0, VS_SET_VALUE | VS_CREATE |
                                VS_EXCL), -EEXIST);
    assert_int_equal(twrite(x, "/nope/deeper", "v"), -ENOENT);
    assert_int_equal(vs_txn_rm(x, "/"), -EINVAL);
    assert_int_equal(vs_txn_rm(x, "/d/k"), -ENOENT);
    assert_int_equal(vs_txn_read(x, "//d", &pm, &pl), -EINVAL);
    expect_head(f, "/d/n", NULL);
    expect_head(f, "/d/k", "init");
    bool then, now;
    assert_true(vs_txn_was_accessed(x, "/d/n", &then, &now));
    assert_false(then);
    assert_true(now);
    assert_true(vs_txn_was_accessed(x, "/d/k", &then, &now));
    assert_true(then);
    assert_false(now);
    assert_false(vs_txn_was_accessed(x, "/elsewhere", &then, &now));
    assert_int_equal(end(x), 0);
    expect_head(f, "/d/n", "two");
    expect_head(f, "/d/k", NULL);
}

/* A parent the transaction adds children to or removes them from keeps the transaction's
 * view of its child list when the head moves, whether the parent is unchanged there (its
 * list is still read from the head) or changed (the view is copied from the old head). */
static void test_kids_view_survives_moves(void **state)
{
    struct fx *f = *state;
    const char *p[] = {"/d", "/d/a", "/d/b", "/e"};
    init(f, p, 4);
    char buf[64];
    struct vs_txn *x = begin(f);
    assert_int_equal(twrite(x, "/d/n", "v"), 0);
    assert_int_equal(vs_txn_rm(x, "/d/a"), 0);
    other_write(f, "/e/z", "v"); /* /d unchanged */
    expect_txn(x, "/zz", NULL);   /* a first access: the transaction looks at the new head */
    struct vs_stat st;
    assert_int_equal(vs_txn_stat(x, "/d", &st), 0);
    assert_int_equal(st.nchildren, 2);
    assert_string_equal(kids(x, "/d", buf, sizeof buf), "b,n");
    assert_int_equal(twrite(x, "/d/a", "again"), 0);
    assert_int_equal(twrite(x, "/d/m", "v"), 0);
    assert_int_equal(vs_txn_rm(x, "/d/m"), 0);
    other_write(f, "/d/c", "v"); /* /d changed */
    expect_txn(x, "/zy", NULL);
    assert_int_equal(vs_txn_stat(x, "/d", &st), 0);
    assert_int_equal(st.nchildren, 3);
    assert_string_equal(kids(x, "/d", buf, sizeof buf), "a,b,n");
    assert_int_equal(vs_txn_rm(x, "/d/b"), 0);
    assert_string_equal(kids(x, "/d", buf, sizeof buf), "a,n");
    assert_int_equal(end(x), -EAGAIN);
    expect_head(f, "/d/a", "init");
    expect_head(f, "/d/c", "v");
}

/* ---- conflicts ---------------------------------------------------------------------------- */

/* Two transactions creating device trees of different domains both commit (the second
 * replayed onto the first's commit), reading their domain's node as C's create does. */
static void test_independent_both_commit(void **state)
{
    struct fx *f = *state;
    const char *p[] = {"/local", "/local/domain", "/local/domain/1", "/local/domain/2",
                       "/local/domain/0", "/local/domain/0/backend",
                       "/local/domain/0/backend/vbd", "/local/domain/0/backend/vbd/1",
                       "/local/domain/0/backend/vbd/2"};
    init(f, p, sizeof p / sizeof *p);
    struct vs_txn *x = begin(f), *y = begin(f);
    struct vs_stat s;
    assert_int_equal(vs_txn_stat(x, "/local/domain/1/device", &s), -ENOENT);
    assert_int_equal(vs_txn_stat(y, "/local/domain/2/device", &s), -ENOENT);
    assert_int_equal(twrite(x, "/local/domain/1/device", ""), 0);
    assert_int_equal(twrite(x, "/local/domain/1/device/vbd", ""), 0);
    assert_int_equal(twrite(x, "/local/domain/0/backend/vbd/1/51712", "be1"), 0);
    assert_int_equal(twrite(y, "/local/domain/2/device", ""), 0);
    assert_int_equal(twrite(y, "/local/domain/2/device/vbd", ""), 0);
    assert_int_equal(twrite(y, "/local/domain/0/backend/vbd/2/51712", "be2"), 0);
    assert_int_equal(end(x), 0);
    assert_int_equal(end(y), 0);
    expect_head(f, "/local/domain/0/backend/vbd/1/51712", "be1");
    expect_head(f, "/local/domain/0/backend/vbd/2/51712", "be2");
    expect_head(f, "/local/domain/2/device/vbd", "");
}

/* test-xenstore's "ta err": read A, write B, a concurrent write of A -> EAGAIN; a node read
 * and then written by the transaction is still checked. */
static void test_read_then_write_checked(void **state)
{
    struct fx *f = *state;
    const char *p[] = {"/a", "/b"};
    init(f, p, 2);
    struct vs_txn *x = begin(f);
    expect_txn(x, "/a", "init");
    assert_int_equal(twrite(x, "/b", "mine"), 0);
    other_write(f, "/a", "theirs");
    assert_int_equal(end(x), -EAGAIN);
    expect_head(f, "/b", "init");

    x = begin(f);
    expect_txn(x, "/a", "theirs");
    assert_int_equal(twrite(x, "/a", "mine"), 0);
    other_write(f, "/a", "again");
    assert_int_equal(end(x), -EAGAIN);
    expect_head(f, "/a", "again");
}

/* A node's version changes with its value, perms or child list, not with a grandchild's
 * change; a read-only transaction conflicts exactly when a node it read changed. */
static void test_read_only_as_c(void **state)
{
    struct fx *f = *state;
    const char *p[] = {"/g", "/g/c", "/g/c/gc"};
    init(f, p, 3);
    char buf[64];
    struct vs_txn *x = begin(f);
    assert_string_equal(kids(x, "/g", buf, sizeof buf), "c");
    other_write(f, "/g/c/gc", "changed");
    other_write(f, "/g/c/new", "added");
    assert_int_equal(end(x), 0);

    x = begin(f);
    assert_string_equal(kids(x, "/g", buf, sizeof buf), "c");
    other_write(f, "/g/c2", "added");
    assert_int_equal(end(x), -EAGAIN);

    x = begin(f);
    void *pm;
    size_t pl;
    assert_int_equal(vs_txn_get_perms(x, "/g/c", &pm, &pl), 0);
    free(pm);
    struct vs_txn *y = begin(f);
    assert_int_equal(vs_txn_set(y, "/g/c", NULL, 0, "q", 1, VS_SET_PERMS), 0);
    assert_int_equal(end(y), 0);
    assert_int_equal(end(x), -EAGAIN);

    /* Untouched nodes may change at will. */
    x = begin(f);
    expect_txn(x, "/g/c2", "added");
    other_write(f, "/g", "v");
    other_rm(f, "/g/c/new");
    assert_int_equal(end(x), 0);
}

/* A removal accesses the whole subtree (C's delete walk reads every node): a change below
 * the removed node conflicts, and the removed nodes stay gone in the view even while they
 * are still there in the live store. */
static void test_rm_accesses_subtree(void **state)
{
    struct fx *f = *state;
    const char *p[] = {"/r", "/r/a", "/r/a/b", "/r/c"};
    init(f, p, 4);
    struct vs_txn *x = begin(f);
    assert_int_equal(vs_txn_rm(x, "/r/a"), 0);
    expect_txn(x, "/r/a/b", NULL);
    expect_head(f, "/r/a/b", "init");
    other_write(f, "/r/a/b", "changed");
    expect_txn(x, "/r/a/b", NULL);
    assert_int_equal(end(x), -EAGAIN);
    expect_head(f, "/r/a/b", "changed");

    x = begin(f);
    assert_int_equal(vs_txn_rm(x, "/r/a"), 0);
    assert_true(vs_txn_accessed(x) >= 3); /* /r/a, /r/a/b and the parent /r */
    assert_int_equal(end(x), 0);
    expect_head(f, "/r/a", NULL);
    expect_head(f, "/r/c", "init");
}

/* C's answers to an RM in a transaction whose view of the parent is older than the node:
 * EIO when the parent as seen does not list it, EINVAL when the parent was seen missing. */
static void test_rm_stale_parent(void **state)
{
    struct fx *f = *state;
    const char *p[] = {"/p"};
    init(f, p, 1);
    char buf[64];
    struct vs_txn *x = begin(f);
    assert_string_equal(kids(x, "/p", buf, sizeof buf), "");
    other_write(f, "/p/c", "theirs");
    assert_int_equal(vs_txn_rm(x, "/p/c"), -EIO);
    assert_int_equal(end(x), -EAGAIN);
    expect_head(f, "/p/c", "theirs");

    x = begin(f);
    expect_txn(x, "/q", NULL);
    other_write(f, "/q", "");
    other_write(f, "/q/c", "theirs");
    assert_int_equal(vs_txn_rm(x, "/q/c"), -EINVAL);
    assert_int_equal(end(x), -EAGAIN);
    expect_head(f, "/q/c", "theirs");
}

/* Creating under a parent another connection changed after the transaction read it is a
 * conflict; creating where nobody interfered is not, even if the head moved meanwhile. */
static void test_create_parent_checked(void **state)
{
    struct fx *f = *state;
    const char *p[] = {"/dir", "/elsewhere"};
    init(f, p, 2);
    struct vs_txn *x = begin(f);
    assert_int_equal(twrite(x, "/dir/mine", "m"), 0);
    other_write(f, "/dir/theirs", "t");
    assert_int_equal(end(x), -EAGAIN);

    x = begin(f);
    assert_int_equal(twrite(x, "/dir/mine", "m"), 0);
    other_write(f, "/elsewhere", "t");
    expect_txn(x, "/elsewhere", "t");
    assert_int_equal(end(x), 0);
    expect_head(f, "/dir/mine", "m");
    expect_head(f, "/dir/theirs", "t");
}

/* An empty branch: the first transaction creates the tree. */
static void test_empty_branch(void **state)
{
    struct fx *f = *state;
    struct vs_txn *x = begin(f);
    struct store_hash c;
    assert_false(vs_txn_snapshot(x, &c));
    expect_txn(x, "/a", NULL);
    assert_int_equal(twrite(x, "/a", "first"), 0);
    assert_int_equal(end(x), 0);
    expect_head(f, "/a", "first");
    x = begin(f);
    assert_true(vs_txn_snapshot(x, &c));
    vs_txn_abort(x);
}

/* C's transaction-nodes quota: one access too many says ENOSPC (nodes accessed before stay
 * readable) and the commit then says ENOMEM. */
static void test_max_accessed(void **state)
{
    struct fx *f = *state;
    const char *p[] = {"/a", "/b", "/c"};
    init(f, p, 3);
    struct vs_txn *x = begin(f);
    vs_txn_set_max_accessed(x, 2);
    expect_txn(x, "/a", "init");
    expect_txn(x, "/nothere", NULL);
    assert_int_equal(vs_txn_accessed(x), 2);
    expect_txn(x, "/a", "init");
    void *v;
    size_t n;
    assert_int_equal(vs_txn_read(x, "/b", &v, &n), -ENOSPC);
    assert_int_equal(twrite(x, "/a", "w"), 0);
    assert_int_equal(end(x), -ENOMEM);
    expect_head(f, "/a", "init");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_live_read_of_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_access_sticks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_then_created, setup, teardown),
        cmocka_unit_test_setup_teardown(test_own_writes_visible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_independent_both_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_then_write_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_as_c, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rm_accesses_subtree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rm_stale_parent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_parent_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_branch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_accessed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kids_view_survives_moves, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
