/*
 * The versioned store's tree/commit layer (xenstore/store_tree.h) on the in-memory heap:
 * three-way merges, history (log and diff) and reachability (the walk that GC and export
 * use).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "tests/unit/store_tree_fixture.h"
#include "xenstore/store_tree_int.h"

static int conflicts;
static enum vs_merge_choice count_theirs(void *arg, const char *path, const struct vs_own *b,
                                         const struct vs_own *o, const struct vs_own *t)
{
    (void)arg, (void)path, (void)b, (void)o, (void)t;
    conflicts++;
    return VS_MERGE_THEIRS;
}

static void test_merge(void **state)
{
    struct fx *f = *state;
    const char *p[] = {"/a", "/b", "/c", "/c/x", "/d"};
    init_main(f, p, 5);
    struct store_hash base, side, h;
    assert_int_equal(vs_branch_head(f->st, "main", &base), 0);
    assert_int_equal(vs_branch_set(f->st, "side", NULL, &base, STORE_SYNC_NONE, NULL, NULL), 0);
    struct vs_tree *t;
    /* side: change /a, add /e, remove /d, change /c/x */
    assert_int_equal(vs_tree_open(f->st, &base, &t), 0);
    set(t, "/a", "side");
    set(t, "/e", "side");
    assert_int_equal(vs_tree_rm(t, "/d"), 0);
    set(t, "/c/x", "side");
    struct vs_commit_info ci = {"t", "side", 1};
    assert_int_equal(vs_branch_commit(t, "side", &ci, STORE_SYNC_NONE, NULL, NULL, &side), 0);
    vs_tree_close(t);
    /* main: change /b, change /c/x differently (conflict) */
    assert_int_equal(vs_tree_open(f->st, &base, &t), 0);
    set(t, "/b", "main");
    set(t, "/c/x", "main");
    commit(f->st, t, "main", &h);
    vs_tree_close(t);
    struct store_hash mb;
    assert_int_equal(vs_merge_base(f->st, &h, &side, &mb), 0);
    assert_true(store_hash_equal(&mb, &base));
    assert_int_equal(vs_branch_merge(f->st, "main", &side, NULL, NULL, &ci, STORE_SYNC_NONE, &h),
                     -EAGAIN);
    conflicts = 0;
    assert_int_equal(vs_branch_merge(f->st, "main", &side, count_theirs, NULL, &ci,
                                     STORE_SYNC_NONE, &h),
                     0);
    assert_int_equal(conflicts, 1);
    expect_head(f, "/a", "side");
    expect_head(f, "/b", "main");
    expect_head(f, "/c/x", "side");
    expect_head(f, "/e", "side");
    expect_head(f, "/d", NULL);
    struct vs_commit c;
    assert_int_equal(vs_commit_read(f->st, &h, &c), 0);
    assert_int_equal(c.nparents, 2);
    vs_commit_free(&c);
    /* Merging again is a no-op; merging main into side fast-forwards. */
    struct store_hash h2;
    assert_int_equal(vs_branch_merge(f->st, "main", &side, NULL, NULL, &ci, STORE_SYNC_NONE, &h2),
                     0);
    assert_true(store_hash_equal(&h, &h2));
    assert_int_equal(vs_branch_merge(f->st, "side", &h, NULL, NULL, &ci, STORE_SYNC_NONE, &h2), 0);
    assert_true(store_hash_equal(&h, &h2));
    /* Delete/modify conflict: keep ours (the modification). */
    assert_int_equal(vs_tree_open(f->st, &h, &t), 0);
    set(t, "/c/x", "mod");
    commit(f->st, t, "mod", &h2);
    vs_tree_close(t);
    assert_int_equal(vs_tree_open(f->st, &h, &t), 0);
    assert_int_equal(vs_tree_rm(t, "/c"), 0);
    assert_int_equal(vs_branch_commit(t, "side", &ci, STORE_SYNC_NONE, NULL, NULL, &side), 0);
    vs_tree_close(t);
    assert_int_equal(vs_branch_merge(f->st, "main", &side, vs_merge_prefer_ours, NULL, &ci,
                                     STORE_SYNC_NONE, &h),
                     0);
    expect_head(f, "/c/x", "mod");
}

/* ---- history ------------------------------------------------------------------------------ */

struct logged {
    int n;
    char msgs[32][16];
};
static int log_fn(void *arg, const struct store_hash *h, const struct vs_commit *c)
{
    (void)h;
    struct logged *l = arg;
    snprintf(l->msgs[l->n++], 16, "%s", c->message);
    return 0;
}

struct diffed {
    int n;
    char lines[32][64];
};
static int diff_fn(void *arg, const char *path, enum vs_change c)
{
    struct diffed *d = arg;
    snprintf(d->lines[d->n++], 64, "%c %s", c == VS_ADDED ? '+' : c == VS_REMOVED ? '-' : '~',
             path);
    return 0;
}
static int line_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_history(void **state)
{
    struct fx *f = *state;
    struct vs_tree *t;
    struct store_hash c[5];
    assert_int_equal(vs_tree_open(f->st, NULL, &t), 0);
    set(t, "/a", "1");
    set(t, "/b", "1");
    commit(f->st, t, "c0", &c[0]);
    set(t, "/b", "2");
    commit(f->st, t, "c1", &c[1]);
    set(t, "/a", "2");
    set(t, "/a/x", "x");
    set(t, "/a/x/y", "y");
    commit(f->st, t, "c2", &c[2]);
    assert_int_equal(vs_tree_rm(t, "/a/x"), 0);
    assert_int_equal(vs_tree_set(t, "/b", NULL, 0, "p", 1, VS_SET_PERMS), 0);
    commit(f->st, t, "c3", &c[3]);
    set(t, "/b/z", "");
    commit(f->st, t, "c4", &c[4]);
    vs_tree_close(t);
    struct logged l = {0};
    assert_int_equal(vs_log(f->st, &c[4], NULL, log_fn, &l), 0);
    assert_int_equal(l.n, 5);
    assert_string_equal(l.msgs[0], "c4");
    assert_string_equal(l.msgs[4], "c0");
    memset(&l, 0, sizeof(l));
    assert_int_equal(vs_log(f->st, &c[4], "/a", log_fn, &l), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.msgs[0], "c3");
    assert_string_equal(l.msgs[1], "c2");
    assert_string_equal(l.msgs[2], "c0");
    struct diffed d = {0};
    assert_int_equal(vs_diff_commits(f->st, &c[1], &c[3], diff_fn, &d), 0);
    qsort(d.lines, d.n, 64, line_cmp);
    assert_int_equal(d.n, 2);
    assert_string_equal(d.lines[0], "~ /a");
    assert_string_equal(d.lines[1], "~ /b");
    memset(&d, 0, sizeof(d));
    assert_int_equal(vs_diff_commits(f->st, &c[2], &c[4], diff_fn, &d), 0);
    qsort(d.lines, d.n, 64, line_cmp);
    assert_int_equal(d.n, 4);
    assert_string_equal(d.lines[0], "+ /b/z");
    assert_string_equal(d.lines[1], "- /a/x");
    assert_string_equal(d.lines[2], "- /a/x/y");
    assert_string_equal(d.lines[3], "~ /b");
    struct store_hash who;
    assert_int_equal(vs_blame(f->st, &c[4], "/b", &who), 0);
    assert_true(store_hash_equal(&who, &c[3])); /* perms; /b/z added in c4 is not /b's value */
    assert_int_equal(vs_blame(f->st, &c[4], "/a", &who), 0);
    assert_true(store_hash_equal(&who, &c[2]));
    assert_int_equal(vs_blame(f->st, &c[1], "/a", &who), 0);
    assert_true(store_hash_equal(&who, &c[0]));
    assert_int_equal(vs_blame(f->st, &c[4], "/a/x", &who), -ENOENT);
    /* Read any path at any commit. */
    assert_int_equal(vs_tree_open(f->st, &c[2], &t), 0);
    expect_val(t, "/a/x/y", "y");
    expect_val(t, "/b", "2");
    vs_tree_close(t);
}

/* ---- reachability ------------------------------------------------------------------------- */

struct copy_ctx {
    struct vs_store *from;
    struct objstore *to;
    int n;
};
static int copy_fn(void *arg, const struct store_hash *h, enum store_kind kind)
{
    struct copy_ctx *c = arg;
    struct objstore *os = vs_store_objstore(c->from);
    enum store_kind k;
    void *d;
    size_t n;
    int rc = os->ops->get(os, h, &k, &d, &n);
    if (rc < 0)
        return rc;
    assert_int_equal(k, kind);
    struct store_hash h2;
    assert_int_equal(c->to->ops->put(c->to, k, d, n, &h2), 0);
    free(d);
    c->n++;
    return 0;
}

static void test_reachable(void **state)
{
    struct fx *f = *state;
    struct vs_tree *t;
    struct store_hash c[10];
    assert_int_equal(vs_tree_open(f->st, NULL, &t), 0);
    for (int i = 0; i < 10; i++) {
        char p[32], v[5000];
        snprintf(p, sizeof(p), "/k%d", i % 4);
        memset(v, 'a' + i, sizeof(v)); /* blobs */
        assert_int_equal(vs_tree_set(t, p, v, sizeof(v), NULL, 0, VS_SET_VALUE | VS_CREATE), 0);
        for (int j = 0; j < 100; j++) {
            snprintf(p, sizeof(p), "/dir/e%d", j * 10 + i); /* inodes */
            if (i == 0 && j == 0)
                set(t, "/dir", "");
            set(t, p, "x");
        }
        struct vs_commit_info ci = {"t", "m", (uint64_t)(i + 1) * 1000000000u};
        assert_int_equal(vs_branch_commit(t, "main", &ci, STORE_SYNC_NONE, NULL, NULL, &c[i]), 0);
    }
    vs_tree_close(t);
    /* Keep the last 3 commits and an old snapshot; copy what is reachable to a fresh heap. */
    struct objstore *to = store_memobj_open();
    struct copy_ctx cc = {f->st, to, 0};
    struct vs_keep keep = {.commits = 3, .snapshots = &c[1], .nsnapshots = 1};
    assert_int_equal(vs_reachable(f->st, &c[9], 1, &keep, copy_fn, &cc), 0);
    struct vs_store *st2 = vs_store_open(to, 0);
    for (int i = 0; i < 10; i++) {
        int rc = vs_tree_open(st2, &c[i], &t);
        if (i == 1 || i >= 7) {
            assert_int_equal(rc, 0);
            char **names;
            size_t n;
            assert_int_equal(vs_tree_list(t, "/dir", &names, &n), 0);
            assert_int_equal(n, 100 * (i + 1));
            vs_names_free(names, n);
            void *v;
            size_t vl;
            assert_int_equal(vs_tree_read(t, "/k1", &v, &vl), 0);
            free(v);
            vs_tree_close(t);
        } else {
            assert_int_equal(rc, -ENOENT);
        }
    }
    /* History in the copy ends quietly where GC cut it. */
    struct logged l = {0};
    assert_int_equal(vs_log(st2, &c[9], NULL, log_fn, &l), 0);
    assert_int_equal(l.n, 3);
    vs_store_close(st2);
    to->ops->close(to);
    /* By age: commits at 8 s, 9 s, 10 s are younger than 2.5 s before 10.5 s... */
    to = store_memobj_open();
    cc.to = to;
    struct vs_keep keep2 = {.commits = 1, .seconds = 3, .now_ns = 10500000000ull};
    assert_int_equal(vs_reachable(f->st, &c[9], 1, &keep2, copy_fn, &cc), 0);
    assert_true(to->ops->has(to, &c[7]));
    assert_true(!to->ops->has(to, &c[6]));
    to->ops->close(to);
    /* Everything. */
    to = store_memobj_open();
    cc.to = to;
    struct vs_keep all = {.commits = VS_KEEP_ALL};
    assert_int_equal(vs_reachable(f->st, &c[9], 1, &all, copy_fn, &cc), 0);
    assert_true(to->ops->has(to, &c[0]));
    to->ops->close(to);
}

struct live_copy {
    struct objstore *from, *to;
    int n;
};
static int live_copy_fn(void *arg, const struct store_hash *h)
{
    struct live_copy *c = arg;
    enum store_kind k;
    void *d;
    size_t n;
    assert_int_equal(c->from->ops->get(c->from, h, &k, &d, &n), 0);
    struct store_hash h2;
    assert_int_equal(c->to->ops->put(c->to, k, d, n, &h2), 0);
    free(d);
    c->n++;
    return 0;
}

/* The adapter the pack's GC calls: every ref is a head (commits, or bare trees). */
static void test_gc_enumerate(void **state)
{
    struct fx *f = *state;
    struct vs_tree *t;
    struct store_hash c[4], root;
    assert_int_equal(vs_tree_open(f->st, NULL, &t), 0);
    for (int i = 0; i < 4; i++) {
        char v[16];
        snprintf(v, sizeof(v), "v%d", i);
        set(t, "/k", v);
        commit(f->st, t, "m", &c[i]);
    }
    vs_tree_close(t);
    assert_int_equal(vs_branch_set(f->st, "other", NULL, &c[1], STORE_SYNC_NONE, NULL, NULL), 0);
    assert_int_equal(vs_tree_open_root(f->st, NULL, 1, &t), 0);
    set(t, "/conn", "table");
    assert_int_equal(vs_tree_write(t, &root), 0);
    vs_tree_close(t);
    assert_int_equal(vs_branch_set(f->st, "conns", NULL, &root, STORE_SYNC_NONE, NULL, NULL), 0);
    struct live_copy lc = {&f->os->base, store_memobj_open(), 0};
    struct vs_gc_args g = {.os = &f->os->base, .keep = {.commits = 1}};
    assert_int_equal(vs_gc_enumerate(&g, live_copy_fn, &lc), 0);
    assert_true(lc.to->ops->has(lc.to, &c[3]));
    assert_true(lc.to->ops->has(lc.to, &c[1]));
    assert_true(!lc.to->ops->has(lc.to, &c[2]));
    assert_true(!lc.to->ops->has(lc.to, &c[0]));
    assert_true(lc.to->ops->has(lc.to, &root));
    struct vs_store *st2 = vs_store_open(lc.to, 0);
    assert_int_equal(vs_tree_open_root(st2, &root, 1, &t), 0);
    expect_val(t, "/conn", "table");
    vs_tree_close(t);
    vs_store_close(st2);
    lc.to->ops->close(lc.to);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reachable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_enumerate, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
