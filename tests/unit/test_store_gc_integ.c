/*
 * The versioned store's two halves together under garbage collection: the real pack file
 * (store_pack.c) collects with the tree layer's reachability (vs_gc_enumerate), keeping the
 * last N commits, while a writer keeps committing. Checks that the file stays bounded, that
 * the head's tree and the kept history read back complete after a reopen (nothing reachable
 * lost), and that walking history stops cleanly where collected commits begin.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "xenstore/store_pack.h"
#include "xenstore/store_tree.h"

#define KEYS 40
#define COMMITS 1500
#define KEEP 20
#define GC_EVERY 250

static char model[KEYS][64];

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static int count_commit(void *arg, const struct store_hash *h, const struct vs_commit *c)
{
    (void)h;
    (void)c;
    (*(unsigned *)arg)++;
    return 0;
}

static void check_head(struct vs_store *st)
{
    struct store_hash head;
    struct vs_tree *t;
    assert_int_equal(vs_branch_head(st, "main", &head), 0);
    assert_int_equal(vs_tree_open(st, &head, &t), 0);
    for (int k = 0; k < KEYS; k++) {
        char path[32];
        void *val;
        size_t len;
        snprintf(path, sizeof(path), "/k%d", k);
        assert_int_equal(vs_tree_read(t, path, &val, &len), 0);
        assert_int_equal(len, strlen(model[k]));
        assert_memory_equal(val, model[k], len);
        free(val);
    }
    vs_tree_close(t);
}

static void test_gc_with_tree_reachability(void **state)
{
    (void)state;
    char dir[] = "/tmp/xk-gcinteg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/store.pack", dir);

    struct store_pack_opts opts = { .create = true };
    struct objstore *os;
    assert_int_equal(store_pack_open_path(path, &opts, &os, NULL), 0);
    struct vs_store *st = vs_store_open(os, 0);
    assert_non_null(st);

    off_t max_after_gc = 0;
    srand(7);
    for (int i = 1; i <= COMMITS; i++) {
        struct store_hash head, *base = NULL;
        if (vs_branch_head(st, "main", &head) == 0)
            base = &head;
        struct vs_tree *t;
        assert_int_equal(vs_tree_open(st, base, &t), 0);
        int k = rand() % KEYS;
        snprintf(model[k], sizeof(model[k]), "value %d of key %d, commit %d %08x", i, k, i,
                 (unsigned)rand());
        char p[32];
        snprintf(p, sizeof(p), "/k%d", k);
        assert_int_equal(vs_tree_set(t, p, model[k], strlen(model[k]), NULL, 0,
                                     VS_SET_VALUE | VS_CREATE), 0);
        /* The first commits create every key so the head always has all of them. */
        if (i == 1)
            for (int j = 0; j < KEYS; j++) {
                snprintf(model[j], sizeof(model[j]), "initial %d", j);
                snprintf(p, sizeof(p), "/k%d", j);
                assert_int_equal(vs_tree_set(t, p, model[j], strlen(model[j]), NULL, 0,
                                             VS_SET_VALUE | VS_CREATE), 0);
            }
        struct vs_commit_info info = { "test", "churn", 0 };
        assert_int_equal(vs_branch_commit(t, "main", &info, STORE_SYNC_NONE, NULL, NULL, NULL),
                         0);
        vs_tree_close(t);

        if (i % GC_EVERY == 0) {
            struct vs_gc_args args = { .os = os, .keep = { .commits = KEEP } };
            struct store_pack_gc_stats gs;
            assert_int_equal(store_pack_gc(os, vs_gc_enumerate, &args, &gs), 0);
            off_t sz = file_size(path);
            if (sz > max_after_gc)
                max_after_gc = sz;
            check_head(st);
        }
    }
    /* Bounded: after GC the pack holds KEEP commits' worth, not COMMITS'. */
    off_t before_last_gc = file_size(path);
    print_message("gc integ: %d commits, pack %lld bytes at most after GC, %lld before\n",
                  COMMITS, (long long)max_after_gc, (long long)before_last_gc);
    assert_true(max_after_gc < 200 * 1024);

    vs_store_close(st);
    os->ops->close(os);

    /* Reopen: the head, its tree and the kept history are all there. */
    assert_int_equal(store_pack_open_path(path, &opts, &os, NULL), 0);
    st = vs_store_open(os, 0);
    check_head(st);
    struct store_hash head;
    assert_int_equal(vs_branch_head(st, "main", &head), 0);
    unsigned n = 0;
    int rc = vs_log(st, &head, NULL, count_commit, &n);
    /* The walk ends where collected commits begin: at least KEEP commits, no crash. */
    assert_true(rc == 0 || rc == -ENOENT);
    assert_true(n >= KEEP);
    vs_store_close(st);
    os->ops->close(os);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gc_with_tree_reachability),
    };
    return cmocka_run_group_tests_name("store_gc_integ", tests, NULL, NULL);
}
