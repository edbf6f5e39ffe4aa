/*
 * The versioned store's tree/commit layer (xenstore/store_tree.h) on the in-memory heap:
 * trees, own versions, determinism, large directories, lazy loading, commits and branches,
 * transactions (xenstore's conflict rule). Merges, history and reachability are in
 * test_store_tree_history.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "tests/unit/store_tree_fixture.h"
#include "xenstore/store_tree_int.h"

static uint64_t version(struct vs_tree *t, const char *path)
{
    struct vs_stat s;
    assert_int_equal(vs_tree_stat(t, path, &s), 0);
    return s.version;
}

/* ---- basics ------------------------------------------------------------------------------- */

static void test_paths_and_errors(void **state)
{
    struct fx *f = *state;
    struct vs_tree *t;
    assert_int_equal(vs_tree_open(f->st, NULL, &t), 0);
    const char *bad[] = {"", "a", "/a/", "//", "/a//b", "a/b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(vs_tree_set(t, bad[i], "x", 1, NULL, 0, VS_SET_VALUE | VS_CREATE),
                         -EINVAL);
        struct vs_stat s;
        assert_int_equal(vs_tree_stat(t, bad[i], &s), -EINVAL);
    }
    assert_int_equal(vs_tree_set(t, "/a/b", "x", 1, NULL, 0, VS_SET_VALUE | VS_CREATE), -ENOENT);
    assert_int_equal(vs_tree_set(t, "/a", "x", 1, NULL, 0, VS_SET_VALUE), -ENOENT);
    set(t, "/a", "1");
    assert_int_equal(vs_tree_set(t, "/a", "x", 1, NULL, 0, VS_SET_VALUE | VS_CREATE | VS_EXCL),
                     -EEXIST);
    assert_int_equal(vs_tree_set(t, "/", "", 0, NULL, 0, VS_CREATE | VS_EXCL), -EEXIST);
    assert_int_equal(vs_tree_rm(t, "/"), -EINVAL);
    assert_int_equal(vs_tree_rm(t, "/b"), -ENOENT);
    assert_int_equal(vs_tree_rm(t, "/a/b"), -ENOENT);
    expect_val(t, "/a", "1");
    vs_tree_close(t);
}

static void test_read_write_list_rm(void **state)
{
    struct fx *f = *state;
    struct vs_tree *t;
    assert_int_equal(vs_tree_open(f->st, NULL, &t), 0);
    set(t, "/local", "");
    set(t, "/local/domain", "");
    set(t, "/local/domain/7", "");
    set(t, "/local/domain/7/name", "guest");
    set(t, "/local/domain/3", "three");
    assert_int_equal(vs_tree_set(t, "/local/domain/7", NULL, 0, "n7\0r0", 5, VS_SET_PERMS), 0);
    expect_val(t, "/local/domain/7/name", "guest");
    expect_val(t, "/local/domain/3", "three");
    void *p;
    size_t pl;
    assert_int_equal(vs_tree_get_perms(t, "/local/domain/7", &p, &pl), 0);
    assert_int_equal(pl, 5);
    assert_memory_equal(p, "n7\0r0", 5);
    free(p);
    char **names;
    size_t n;
    assert_int_equal(vs_tree_list(t, "/local/domain", &names, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "3");
    assert_string_equal(names[1], "7");
    vs_names_free(names, n);
    struct vs_stat s;
    assert_int_equal(vs_tree_stat(t, "/local/domain/7", &s), 0);
    assert_int_equal(s.nchildren, 1);
    assert_int_equal(s.plen, 5);
    assert_int_equal(s.vlen, 0);
    /* A big value goes to a blob and back. */
    char big[5000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    assert_int_equal(vs_tree_set(t, "/big", big, sizeof(big), NULL, 0, VS_SET_VALUE | VS_CREATE),
                     0);
    struct store_hash c1;
    commit(f->st, t, "one", &c1);
    vs_tree_trim(t);
    void *v;
    size_t vl;
    assert_int_equal(vs_tree_read(t, "/big", &v, &vl), 0);
    assert_int_equal(vl, sizeof(big));
    assert_memory_equal(v, big, vl);
    free(v);
    assert_int_equal(vs_tree_rm(t, "/local/domain"), 0);
    expect_val(t, "/local/domain/7/name", NULL);
    assert_int_equal(vs_tree_list(t, "/local", &names, &n), 0);
    assert_int_equal(n, 0);
    vs_names_free(names, n);
    vs_tree_close(t);
    /* The commit still has everything. */
    assert_int_equal(vs_tree_open(f->st, &c1, &t), 0);
    expect_val(t, "/local/domain/7/name", "guest");
    vs_tree_close(t);
}

/* Own versions: a node's value, perms or child list; not its grandchildren. */
static void test_own_versions(void **state)
{
    struct fx *f = *state;
    struct vs_tree *t;
    struct store_hash h;
    assert_int_equal(vs_tree_open(f->st, NULL, &t), 0);
    set(t, "/a", "");
    set(t, "/a/b", "");
    set(t, "/a/b/c", "x");
    commit(f->st, t, "c1", &h);
    uint64_t va = version(t, "/a"), vb = version(t, "/a/b"), vc = version(t, "/a/b/c");
    assert_int_equal(va, 1);
    set(t, "/a/b/c", "y"); /* grandchild of /a */
    commit(f->st, t, "c2", &h);
    assert_int_equal(version(t, "/a"), va);
    assert_int_equal(version(t, "/a/b"), vb);
    assert_int_not_equal(version(t, "/a/b/c"), vc);
    set(t, "/a/b/d", ""); /* child list of /a/b */
    commit(f->st, t, "c3", &h);
    assert_int_equal(version(t, "/a"), va);
    assert_int_not_equal(version(t, "/a/b"), vb);
    vb = version(t, "/a/b");
    assert_int_equal(vs_tree_set(t, "/a/b", NULL, 0, "p", 1, VS_SET_PERMS), 0);
    assert_int_not_equal(version(t, "/a/b"), vb);
    assert_int_equal(version(t, "/a"), va);
    vs_tree_close(t);
}

struct build_ctx {
    int dummy;
};

static void build_random(struct vs_store *st, uint64_t seed, int nnames, struct store_hash *root)
{
    struct vs_tree *t;
    assert_int_equal(vs_tree_open_root(st, NULL, 5, &t), 0);
    int *order = malloc(nnames * sizeof(int));
    for (int i = 0; i < nnames; i++)
        order[i] = i;
    for (int i = nnames - 1; i > 0; i--) {
        int j = (int)(tl_rand(&seed) % (uint64_t)(i + 1));
        int x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    set(t, "/d", "");
    /* Extra names added and removed again on the way. */
    for (int i = 0; i < nnames; i++) {
        char p[64];
        snprintf(p, sizeof(p), "/d/n%d", order[i]);
        set(t, p, p);
        snprintf(p, sizeof(p), "/d/tmp%d", order[i]);
        set(t, p, "t");
        if (i % 7 == 3) {
            assert_int_equal(vs_tree_write(t, NULL), 0); /* write mid-way too */
            vs_tree_trim(t);
        }
    }
    for (int i = 0; i < nnames; i++) {
        char p[64];
        snprintf(p, sizeof(p), "/d/tmp%d", order[nnames - 1 - i]);
        assert_int_equal(vs_tree_rm(t, p), 0);
    }
    assert_int_equal(vs_tree_write(t, root), 0);
    char **names;
    size_t n;
    assert_int_equal(vs_tree_list(t, "/d", &names, &n), 0);
    assert_int_equal(n, nnames);
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(names[i - 1], names[i]) < 0);
    vs_names_free(names, n);
    vs_tree_close(t);
    free(order);
}

/* Same tree (same contents, same versions), whatever the order of operations: same root. */
static void test_determinism(void **state)
{
    struct fx *f = *state;
    int sizes[] = {1, 10, 64, 65, 300, 3000};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        struct store_hash a, b;
        build_random(f->st, 1 + s, sizes[s], &a);
        build_random(f->st, 99 + s, sizes[s], &b);
        assert_true(store_hash_equal(&a, &b));
    }
    /* And the empty tree has its fixed hash. */
    struct vs_tree *t;
    struct store_hash h, e;
    assert_int_equal(vs_tree_open_root(f->st, NULL, 1, &t), 0);
    assert_int_equal(vs_tree_write(t, &h), 0);
    vs_empty_root(f->st, &e);
    assert_true(store_hash_equal(&h, &e));
    vs_tree_close(t);
}

/* A directory of 100,000 entries: updating one writes O(log n) bytes, reads stay cheap. */
static void test_large_directory(void **state)
{
    struct fx *f = *state;
    struct vs_tree *t;
    struct store_hash h;
    assert_int_equal(vs_tree_open(f->st, NULL, &t), 0);
    set(t, "/big", "");
    uint64_t cost_small = 0;
    for (int i = 0; i < 100000; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/big/%d", i);
        set(t, p, "v");
        if (i == 999) { /* the same update at 1,000 entries, for the ratio */
            commit(f->st, t, "k", &h);
            uint64_t before = f->os->new_bytes;
            set(t, "/big/500", "changed");
            commit(f->st, t, "one", &h);
            cost_small = f->os->new_bytes - before;
            set(t, "/big/500", "v");
        }
    }
    commit(f->st, t, "fill", &h);
    vs_tree_trim(t);
    uint64_t full = f->os->new_bytes;
    (void)full;
    uint64_t before = f->os->new_bytes, objs = f->os->new_objects;
    set(t, "/big/4242", "changed");
    commit(f->st, t, "one", &h);
    uint64_t cost = f->os->new_bytes - before;
    print_message("      update in a 100000-entry directory: %llu bytes in %llu objects "
                  "(1000 entries: %llu bytes)\n",
                  (unsigned long long)cost, (unsigned long long)(f->os->new_objects - objs),
                  (unsigned long long)cost_small);
    assert_true(cost < 8192);             /* the directory itself is ~4 MB */
    assert_true(cost < 4 * cost_small + 1024);
    /* Reading one entry after a trim loads a handful of objects. */
    vs_tree_trim(t);
    vs_store_close(f->st);
    f->st = vs_store_open(&f->os->base, 0);
    vs_tree_close(t);
    assert_int_equal(vs_tree_open(f->st, &h, &t), 0);
    uint64_t gets = f->os->gets;
    expect_val(t, "/big/77777", "v");
    expect_val(t, "/big/4242", "changed");
    print_message("      two lookups from cold: %llu object reads\n",
                  (unsigned long long)(f->os->gets - gets));
    assert_true(f->os->gets - gets <= 16);
    /* Removing down below the split threshold collapses back to the canonical shape. */
    struct vs_stat s;
    assert_int_equal(vs_tree_stat(t, "/big", &s), 0);
    assert_int_equal(s.nchildren, 100000);
    vs_tree_close(t);
}

static void test_shrink_canonical(void **state)
{
    struct fx *f = *state;
    struct vs_tree *t;
    struct store_hash a, b;
    assert_int_equal(vs_tree_open_root(f->st, NULL, 3, &t), 0);
    set(t, "/d", "");
    for (int i = 0; i < 20; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/d/k%d", i);
        set(t, p, "x");
    }
    assert_int_equal(vs_tree_write(t, &a), 0);
    for (int i = 20; i < 5000; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/d/k%d", i);
        set(t, p, "x");
    }
    assert_int_equal(vs_tree_write(t, NULL), 0);
    vs_tree_trim(t);
    for (int i = 4999; i >= 20; i--) {
        char p[32];
        snprintf(p, sizeof(p), "/d/k%d", i);
        assert_int_equal(vs_tree_rm(t, p), 0);
    }
    assert_int_equal(vs_tree_write(t, &b), 0);
    assert_true(store_hash_equal(&a, &b));
    vs_tree_close(t);
}

static void test_lazy_and_trim(void **state)
{
    struct fx *f = *state;
    struct vs_tree *t;
    struct store_hash h;
    assert_int_equal(vs_tree_open(f->st, NULL, &t), 0);
    for (int i = 0; i < 200; i++) {
        char p[32];
        snprintf(p, sizeof(p), "/n%d", i);
        set(t, p, "v");
        snprintf(p, sizeof(p), "/n%d/c", i);
        set(t, p, "w");
    }
    vs_tree_set_max_loaded(t, 50);
    commit(f->st, t, "c", &h);
    assert_true(vs_tree_loaded(t) < 50); /* trimmed after the commit */
    expect_val(t, "/n150/c", "w");
    set(t, "/n3/c", "changed");
    vs_tree_trim(t); /* keeps the dirty path */
    expect_val(t, "/n3/c", "changed");
    commit(f->st, t, "c2", &h);
    vs_tree_close(t);
    assert_int_equal(vs_tree_open(f->st, &h, &t), 0);
    expect_val(t, "/n3/c", "changed");
    expect_val(t, "/n4/c", "w");
    vs_tree_close(t);
}

/* ---- commits and branches ------------------------------------------------------------------ */

static void test_commits_and_branches(void **state)
{
    struct fx *f = *state;
    struct vs_tree *t;
    struct store_hash c1, c2, head;
    assert_int_equal(vs_branch_head(f->st, "main", &head), -ENOENT);
    assert_int_equal(vs_tree_open(f->st, NULL, &t), 0);
    set(t, "/a", "1");
    struct vs_commit_info ci = {"dom0", "first", 123};
    assert_int_equal(vs_branch_commit(t, "main", &ci, STORE_SYNC_NONE, NULL, NULL, &c1), 0);
    set(t, "/a", "2");
    ci.message = "second";
    ci.time_ns = 456;
    assert_int_equal(vs_branch_commit(t, "main", &ci, STORE_SYNC_NONE, NULL, NULL, &c2), 0);
    vs_tree_close(t);
    assert_int_equal(vs_branch_head(f->st, "main", &head), 0);
    assert_true(store_hash_equal(&head, &c2));
    struct vs_commit c;
    assert_int_equal(vs_commit_read(f->st, &c2, &c), 0);
    assert_int_equal(c.nparents, 1);
    assert_true(store_hash_equal(&c.parents[0], &c1));
    assert_int_equal(c.gen, 2);
    assert_int_equal(c.time_ns, 456);
    assert_string_equal(c.author, "dom0");
    assert_string_equal(c.message, "second");
    vs_commit_free(&c);
    /* A stale tree loses the compare-and-swap. */
    assert_int_equal(vs_tree_open(f->st, &c1, &t), 0);
    set(t, "/a", "3");
    assert_int_equal(vs_branch_commit(t, "main", &ci, STORE_SYNC_NONE, NULL, NULL, NULL), -EEXIST);
    vs_tree_close(t);
    /* Snapshots: a branch is O(1), a hash. */
    assert_int_equal(vs_branch_set(f->st, "snap", NULL, &c1, STORE_SYNC_NONE, NULL, NULL), 0);
    assert_int_equal(vs_tree_open(f->st, &c1, &t), 0);
    expect_val(t, "/a", "1");
    vs_tree_close(t);
    /* Corrupt objects are refused, not trusted. */
    struct store_hash bad;
    assert_int_equal(f->os->base.ops->put(&f->os->base, STORE_KIND_COMMIT, "C\x01", 2, &bad), 0);
    assert_int_equal(vs_commit_read(f->st, &bad, &c), -EBADMSG);
    assert_int_equal(f->os->base.ops->put(&f->os->base, STORE_KIND_NODE, "N\x00\x00\x00\x00\x05", 6,
                                          &bad),
                     0);
    assert_int_equal(vs_tree_open_root(f->st, &bad, 1, &t), -EBADMSG);
}

/* ---- transactions -------------------------------------------------------------------------- */

static int direct_write(struct fx *f, const char *path, const char *v)
{
    struct vs_txn *x;
    assert_int_equal(vs_txn_begin(f->st, "main", &x), 0);
    assert_int_equal(twrite(x, path, v), 0);
    return vs_txn_commit(x, NULL, STORE_SYNC_NONE, NULL, NULL, NULL);
}

/* test-xenstore's "ta err": read A, write B, a concurrent write of A -> EAGAIN. */
static void test_txn_ta_err(void **state)
{
    struct fx *f = *state;
    const char *p[] = {"/a", "/b"};
    init_main(f, p, 2);
    struct vs_txn *x;
    void *v;
    size_t n;
    assert_int_equal(vs_txn_begin(f->st, "main", &x), 0);
    assert_int_equal(vs_txn_read(x, "/a", &v, &n), 0);
    free(v);
    assert_int_equal(twrite(x, "/b", "from-txn"), 0);
    assert_int_equal(direct_write(f, "/a", "concurrent"), 0);
    assert_int_equal(vs_txn_commit(x, NULL, STORE_SYNC_NONE, NULL, NULL, NULL), -EAGAIN);
    expect_head(f, "/b", "init");
    /* Without the concurrent write it commits. */
    assert_int_equal(vs_txn_begin(f->st, "main", &x), 0);
    assert_int_equal(vs_txn_read(x, "/a", &v, &n), 0);
    free(v);
    assert_int_equal(twrite(x, "/b", "from-txn"), 0);
    assert_int_equal(vs_txn_commit(x, NULL, STORE_SYNC_NONE, NULL, NULL, NULL), 0);
    expect_head(f, "/b", "from-txn");
}

/* Grandchild changes do not conflict with a read of the grandparent; child-list changes do. */
static void test_txn_grandchild(void **state)
{
    struct fx *f = *state;
    const char *p[] = {"/g", "/g/c", "/g/c/gc", "/other"};
    init_main(f, p, 4);
    struct vs_txn *x;
    void *v;
    size_t n;
    assert_int_equal(vs_txn_begin(f->st, "main", &x), 0);
    assert_int_equal(vs_txn_read(x, "/g", &v, &n), 0);
    free(v);
    assert_int_equal(twrite(x, "/other", "t"), 0);
    assert_int_equal(direct_write(f, "/g/c/gc", "changed"), 0);
    assert_int_equal(direct_write(f, "/g/c/new", "added"), 0); /* /g/c's list, not /g's */
    assert_int_equal(vs_txn_commit(x, NULL, STORE_SYNC_NONE, NULL, NULL, NULL), 0);
    expect_head(f, "/other", "t");
    expect_head(f, "/g/c/gc", "changed");
    /* Listing /g, then a child of /g is added: conflict. */
    char **names;
    assert_int_equal(vs_txn_begin(f->st, "main", &x), 0);
    assert_int_equal(vs_txn_list(x, "/g", &names, &n), 0);
    vs_names_free(names, n);
    assert_int_equal(twrite(x, "/other", "u"), 0);
    assert_int_equal(direct_write(f, "/g/c2", "added"), 0);
    assert_int_equal(vs_txn_commit(x, NULL, STORE_SYNC_NONE, NULL, NULL, NULL), -EAGAIN);
    /* Reading a missing node, then someone creates it: conflict. */
    assert_int_equal(vs_txn_begin(f->st, "main", &x), 0);
    assert_int_equal(vs_txn_read(x, "/nothere", &v, &n), -ENOENT);
    assert_int_equal(twrite(x, "/other", "w"), 0);
    assert_int_equal(direct_write(f, "/nothere", "now"), 0);
    assert_int_equal(vs_txn_commit(x, NULL, STORE_SYNC_NONE, NULL, NULL, NULL), -EAGAIN);
    /* Removed and recreated with the same value: still a change (own version). */
    assert_int_equal(vs_txn_begin(f->st, "main", &x), 0);
    assert_int_equal(vs_txn_read(x, "/nothere", &v, &n), 0);
    free(v);
    assert_int_equal(twrite(x, "/other", "w"), 0);
    struct vs_txn *y;
    assert_int_equal(vs_txn_begin(f->st, "main", &y), 0);
    assert_int_equal(vs_txn_rm(y, "/nothere"), 0);
    assert_int_equal(vs_txn_commit(y, NULL, STORE_SYNC_NONE, NULL, NULL, NULL), 0);
    assert_int_equal(direct_write(f, "/nothere", "now"), 0);
    assert_int_equal(vs_txn_commit(x, NULL, STORE_SYNC_NONE, NULL, NULL, NULL), -EAGAIN);
}

/* Two transactions writing different subtrees both commit; the second is replayed. */
static void test_txn_independent(void **state)
{
    struct fx *f = *state;
    const char *p[] = {"/local", "/local/domain", "/local/domain/1", "/local/domain/2"};
    init_main(f, p, 4);
    struct vs_txn *x, *y;
    assert_int_equal(vs_txn_begin(f->st, "main", &x), 0);
    assert_int_equal(vs_txn_begin(f->st, "main", &y), 0);
    struct vs_stat s;
    assert_int_equal(vs_txn_stat(x, "/local/domain/1", &s), 0);
    assert_int_equal(vs_txn_stat(y, "/local/domain/2", &s), 0);
    assert_int_equal(twrite(x, "/local/domain/1/device", "vbd"), 0);
    assert_int_equal(twrite(x, "/local/domain/1/device/51712", "x"), 0);
    assert_int_equal(twrite(y, "/local/domain/2/device", "vif"), 0);
    assert_int_equal(twrite(y, "/local/domain/2/device", "vif2"), 0);
    assert_int_equal(vs_txn_commit(x, NULL, STORE_SYNC_NONE, NULL, NULL, NULL), 0);
    struct store_hash c;
    assert_int_equal(vs_txn_commit(y, NULL, STORE_SYNC_NONE, NULL, NULL, &c), 0);
    expect_head(f, "/local/domain/1/device/51712", "x");
    expect_head(f, "/local/domain/2/device", "vif2");
    struct vs_commit cm;
    assert_int_equal(vs_commit_read(f->st, &c, &cm), 0);
    assert_int_equal(cm.gen, 3);
    vs_commit_free(&cm);
    /* A write set that no longer applies (its parent vanished) is a conflict too. */
    assert_int_equal(vs_txn_begin(f->st, "main", &x), 0);
    assert_int_equal(twrite(x, "/local/domain/2/device/0", "y"), 0);
    assert_int_equal(vs_txn_begin(f->st, "main", &y), 0);
    assert_int_equal(vs_txn_rm(y, "/local/domain/2"), 0);
    assert_int_equal(vs_txn_commit(y, NULL, STORE_SYNC_NONE, NULL, NULL, NULL), 0);
    assert_int_equal(vs_txn_commit(x, NULL, STORE_SYNC_NONE, NULL, NULL, NULL), -EAGAIN);
    /* A read-only transaction commits nothing and says so through the head. */
    struct store_hash head;
    assert_int_equal(vs_branch_head(f->st, "main", &head), 0);
    assert_int_equal(vs_txn_begin(f->st, "main", &x), 0);
    assert_int_equal(vs_txn_stat(x, "/local", &s), 0);
    assert_int_equal(vs_txn_commit(x, NULL, STORE_SYNC_NONE, NULL, NULL, &c), 0);
    assert_true(store_hash_equal(&c, &head));
    /* note_read makes a blind write conflict, as C xenstored's write access does. */
    assert_int_equal(vs_txn_begin(f->st, "main", &x), 0);
    assert_int_equal(vs_txn_note_read(x, "/local/domain/1"), 0);
    assert_int_equal(twrite(x, "/local/domain/1", "mine"), 0);
    assert_int_equal(direct_write(f, "/local/domain/1", "theirs"), 0);
    assert_int_equal(vs_txn_commit(x, NULL, STORE_SYNC_NONE, NULL, NULL, NULL), -EAGAIN);
}

static int durable_calls;
static void on_durable(void *arg, bool ok)
{
    (void)arg;
    assert_true(ok);
    durable_calls++;
}

static void test_txn_sync_callback(void **state)
{
    struct fx *f = *state;
    struct vs_txn *x;
    durable_calls = 0;
    assert_int_equal(vs_txn_begin(f->st, "main", &x), 0);
    assert_int_equal(twrite(x, "/k", "v"), 0);
    assert_int_equal(vs_txn_commit(x, NULL, STORE_SYNC_ALWAYS, on_durable, NULL, NULL), 0);
    assert_int_equal(durable_calls, 1);
}

/* ---- the object cache ----------------------------------------------------------------------- */

/* Load h and check its bytes (object i: i's bytes, i % 251 long); returns the heap's gets it
 * took. */
static uint64_t load_check(struct counting_os *os, struct vs_store *st,
                           const struct store_hash *h, unsigned i, size_t len)
{
    uint64_t g = os->gets;
    const uint8_t *d;
    size_t n;
    assert_int_equal(vs_load(st, h, STORE_KIND_BLOB, &d, &n), 0);
    assert_int_equal(n, len);
    for (size_t k = 0; k < n; k++)
        assert_int_equal(d[k], (uint8_t)(i + k));
    return os->gets - g;
}

/* The ring (store_cache.c): objects come back right whether cached, overwritten by the
 * wrapping head, moved by a second chance or too big for it; the newest are cached. */
static void test_cache_ring(void **state)
{
    (void)state;
    struct counting_os *os = counting_open();
    struct vs_store *st = vs_store_open(&os->base, 4096);
    enum { N = 300 };
    struct store_hash h[N];
    size_t len[N];
    uint8_t buf[2000];
    for (unsigned i = 0; i < N; i++) {
        len[i] = i == 7 ? sizeof(buf) : i % 251; /* 7: over a quarter of the ring */
        for (size_t k = 0; k < len[i]; k++)
            buf[k] = (uint8_t)(i + k);
        assert_int_equal(vs_put(st, STORE_KIND_BLOB, buf, len[i], &h[i]), 0);
    }
    /* The newest object was cached by its put; the oldest are long overwritten. */
    assert_int_equal(load_check(os, st, &h[N - 1], N - 1, len[N - 1]), 0);
    assert_int_equal(load_check(os, st, &h[0], 0, len[0]), 1);
    assert_int_equal(load_check(os, st, &h[0], 0, len[0]), 0);
    /* Too big for the ring: from the heap each time. */
    assert_int_equal(load_check(os, st, &h[7], 7, len[7]), 1);
    assert_int_equal(load_check(os, st, &h[7], 7, len[7]), 1);
    /* Every object, in several orders, many times round the ring. */
    uint64_t seed = 99;
    for (unsigned r = 0; r < 3000; r++) {
        unsigned i = (unsigned)(tl_rand(&seed) % N);
        load_check(os, st, &h[i], i, len[i]);
    }
    /* A small object read as often as the head passes half the ring stays cached (second
     * chance), though far more than a ring's worth is loaded meanwhile. */
    load_check(os, st, &h[3], 3, len[3]);
    for (unsigned i = 100; i < 250; i++) {
        load_check(os, st, &h[i], i, len[i]);
        if (i % 4 == 0)
            assert_int_equal(load_check(os, st, &h[3], 3, len[3]), 0);
    }
    const uint8_t *d;
    size_t n;
    assert_int_equal(vs_load(st, &h[5], STORE_KIND_NODE, &d, &n), -EBADMSG);
    vs_store_close(st);
    os->base.ops->close(&os->base);
}

/* Object i of test_cache_stats: its number, then bytes; 4 to 99 bytes. */
static size_t stats_object(unsigned i, uint8_t *buf)
{
    size_t len = 4 + i % 96;
    memcpy(buf, &i, 4);
    for (size_t k = 4; k < len; k++)
        buf[k] = (uint8_t)(i + k);
    return len;
}

/* The figures memreport shows (vs_store_cache_stats): the default ring is 1 MiB (store_cache.c
 * says why); objects and bytes count what the ring holds, bytes stop at the ring's size once
 * it has wrapped, and the newest objects are hits (but for a few whose four table slots were
 * all taken by newer ones: ~30 of 5000 here). */
static void test_cache_stats(void **state)
{
    (void)state;
    struct counting_os *os = counting_open();
    struct vs_store *st = vs_store_open(&os->base, 0);
    size_t objects, bytes, budget;
    vs_store_cache_stats(st, &objects, &bytes, &budget);
    assert_int_equal(budget, 1u << 20);
    assert_int_equal(objects, 0);
    assert_int_equal(bytes, 0);
    enum { N = 20000 };
    static struct store_hash h[N];
    uint8_t buf[100];
    for (unsigned i = 0; i < N; i++) {
        size_t len = stats_object(i, buf);
        assert_int_equal(vs_put(st, STORE_KIND_BLOB, buf, len, &h[i]), 0);
        if (i == 9) {
            vs_store_cache_stats(st, &objects, &bytes, &budget);
            assert_int_equal(objects, 10);
            assert_true(bytes >= 10 * 48 && bytes <= 10 * 144);
        }
    }
    /* ~1.9 MB were put: the ring wrapped. */
    vs_store_cache_stats(st, &objects, &bytes, &budget);
    assert_int_equal(bytes, budget);
    assert_true(objects > 5000 && objects < N);
    uint64_t gets = os->gets;
    for (unsigned i = N - 1; i >= N - 5000; i--) {
        size_t len = stats_object(i, buf);
        const uint8_t *d;
        size_t n;
        assert_int_equal(vs_load(st, &h[i], STORE_KIND_BLOB, &d, &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(d, buf, len);
    }
    assert_true(os->gets - gets < 100);
    vs_store_close(st);
    os->base.ops->close(&os->base);
}

/* A leaf part's encoding (docs/store-format.md): form 0, the entry count, then per entry the
 * name (varint length, bytes) and the child's hash; built here byte by byte and compared with
 * vs_inode_encode's, for names of 1 to 300 bytes (one- and two-byte lengths). */
static void test_leaf_encoding(void **state)
{
    (void)state;
    struct vs_inode in;
    memset(&in, 0, sizeof(in));
    static const size_t lens[] = {1, 7, 8, 9, 20, 127, 128, 300};
    enum { N = sizeof(lens) / sizeof(lens[0]) };
    in.ents = calloc(N, sizeof(*in.ents));
    in.n = in.cap = in.count = N;
    char name[301];
    for (size_t i = 0; i < N; i++) {
        memset(name, 'a' + (int)i, lens[i]); /* sorted: 'a...', 'b...', ... */
        assert_int_equal(vs_entry_set_name(&in.ents[i], name, lens[i]), 0);
        for (size_t k = 0; k < STORE_HASH_LEN; k++)
            in.ents[i].h.b[k] = (uint8_t)(i * 31 + k);
    }
    struct vs_buf want = {0}, got = {0};
    vs_buf_u8(&want, VS_FMT_INODE);
    vs_buf_u8(&want, 3);
    vs_buf_u8(&want, 0);
    vs_buf_varint(&want, N);
    for (size_t i = 0; i < N; i++) {
        vs_buf_varint(&want, lens[i]);
        vs_buf_put(&want, in.ents[i].name, lens[i]);
        vs_buf_put(&want, in.ents[i].h.b, STORE_HASH_LEN);
    }
    vs_inode_encode(&in, 3, &got);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.p, want.p, want.len);
    struct vs_inode back;
    assert_int_equal(vs_inode_decode(got.p, got.len, 3, &back), 0);
    assert_int_equal(back.n, N);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(back.ents[i].nlen, lens[i]);
        assert_string_equal(back.ents[i].name, in.ents[i].name);
    }
    vs_inode_clear(&back);
    vs_inode_clear(&in);
    free(want.p);
    free(got.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_paths_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_write_list_rm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_own_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_determinism, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shrink_canonical, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lazy_and_trim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commits_and_branches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn_ta_err, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn_grandchild, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn_independent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn_sync_callback, setup, teardown),
        cmocka_unit_test(test_cache_ring),
        cmocka_unit_test(test_cache_stats),
        cmocka_unit_test(test_leaf_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
