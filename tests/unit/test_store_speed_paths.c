/*
 * The store's fast paths keep their promises:
 *   - the pack's WRITE mode (vxenstored --sync none) answers an update only at the flush that
 *     writes it to the file, and never syncs; BATCH updates wait in the write buffer and one
 *     flush writes and syncs them together;
 *   - put_added says whether a put added the object (pack and in-memory heap); the pack's
 *     put_hashed does the same with the caller's hash, and prefetch changes nothing;
 *   - a tree write whose deferred put (vs_put_enc_next) fails writes everything again on the
 *     next try: the commit that finally succeeds names only objects the heap has;
 *   - vs_name_hash's memo gives every name its own hash;
 *   - a transaction's records keep the node they found in `live`: reads after live moved to a
 *     newer head (where those pointers are gone) still see the first access, and the
 *     untouched nodes the new head.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/store_testutil.h"
#include "xenstore/store_pack.h"
#include "xenstore/store_tree_int.h"

static char *tdir;

static int setup(void **state)
{
    (void)state;
    tdir = store_test_mkdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    store_test_rmdir(tdir);
    return 0;
}

static char *path_of(const char *name)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), "%s/%s", tdir, name);
    return buf;
}

static struct objstore *open_pack(const char *name)
{
    struct store_pack_opts o = {.create = true};
    struct objstore *s = NULL;
    struct store_pack_report rep;
    int rc = store_pack_open_path(path_of(name), &o, &s, &rep);
    if (rc != 0)
        fail_msg("open %s: %d (%s)", name, rc, rep.msg);
    return s;
}

static int calls, oks;

static void on_done(void *arg, bool ok)
{
    (void)arg;
    calls++;
    oks += ok;
}

static uint64_t syncs_of(struct objstore *s)
{
    struct store_pack_stats st;
    store_pack_stats(s, &st);
    return st.syncs;
}

/* ---- sync modes ------------------------------------------------------------------------- */

static void test_write_mode_answers_at_flush_without_sync(void **state)
{
    (void)state;
    struct objstore *s = open_pack("write");
    struct store_hash a, b, out;
    assert_int_equal(s->ops->put(s, STORE_KIND_COMMIT, "first", 5, &a), 0);
    assert_int_equal(s->ops->set_ref(s, "main", NULL, &a, STORE_SYNC_ALWAYS, NULL, NULL), 0);
    uint64_t syncs = syncs_of(s);
    calls = oks = 0;
    for (int i = 0; i < 3; i++) {
        char v[16];
        snprintf(v, sizeof v, "next %d", i);
        assert_int_equal(s->ops->put(s, STORE_KIND_COMMIT, v, strlen(v), &b), 0);
        assert_int_equal(s->ops->set_ref(s, "main", &a, &b, STORE_SYNC_WRITE, on_done, NULL), 0);
        a = b;
    }
    assert_int_equal(calls, 0); /* not written yet: not answered */
    assert_int_equal(s->ops->get_ref(s, "main", &out), 0);
    assert_true(store_hash_equal(&out, &b)); /* but readers see it */
    assert_int_equal(s->ops->flush(s), 0);
    assert_int_equal(calls, 3);
    assert_int_equal(oks, 3);
    assert_int_equal(syncs_of(s), syncs); /* WRITE never syncs */
    s->ops->close(s);
    s = open_pack("write");
    assert_int_equal(s->ops->get_ref(s, "main", &out), 0);
    assert_true(store_hash_equal(&out, &b));
    s->ops->close(s);
}

static void test_batch_mode_one_sync_per_flush(void **state)
{
    (void)state;
    struct objstore *s = open_pack("batch");
    struct store_hash a, b, out;
    assert_int_equal(s->ops->put(s, STORE_KIND_COMMIT, "first", 5, &a), 0);
    assert_int_equal(s->ops->set_ref(s, "main", NULL, &a, STORE_SYNC_ALWAYS, NULL, NULL), 0);
    uint64_t syncs = syncs_of(s);
    calls = oks = 0;
    for (int i = 0; i < 5; i++) {
        char v[16];
        snprintf(v, sizeof v, "batch %d", i);
        assert_int_equal(s->ops->put(s, STORE_KIND_COMMIT, v, strlen(v), &b), 0);
        /* mixed with a WRITE update: the flush must still sync for the BATCH ones */
        enum store_sync m = i == 2 ? STORE_SYNC_WRITE : STORE_SYNC_BATCH;
        assert_int_equal(s->ops->set_ref(s, "main", &a, &b, m, on_done, NULL), 0);
        a = b;
    }
    assert_int_equal(calls, 0);
    assert_int_equal(s->ops->flush(s), 0);
    assert_int_equal(calls, 5);
    assert_int_equal(oks, 5);
    assert_int_equal(syncs_of(s), syncs + 1);
    s->ops->close(s);
    s = open_pack("batch");
    assert_int_equal(s->ops->get_ref(s, "main", &out), 0);
    assert_true(store_hash_equal(&out, &b));
    s->ops->close(s);
}

/* A NONE update is written (and answered) at once, as before. */
static void test_none_mode_answers_at_once(void **state)
{
    (void)state;
    struct objstore *s = open_pack("none");
    struct store_hash a;
    assert_int_equal(s->ops->put(s, STORE_KIND_COMMIT, "only", 4, &a), 0);
    calls = oks = 0;
    assert_int_equal(s->ops->set_ref(s, "main", NULL, &a, STORE_SYNC_NONE, on_done, NULL), 0);
    assert_int_equal(calls, 1);
    s->ops->close(s);
}

/* ---- put_added ----------------------------------------------------------------------------- */

static void check_put_added(struct objstore *s)
{
    struct store_hash h1, h2, ref;
    bool added = false;
    assert_non_null(s->ops->put_added);
    assert_int_equal(s->ops->put_added(s, STORE_KIND_BLOB, "value", 5, &h1, &added), 0);
    assert_true(added);
    assert_int_equal(s->ops->put_added(s, STORE_KIND_BLOB, "value", 5, &h2, &added), 0);
    assert_false(added);
    assert_true(store_hash_equal(&h1, &h2));
    store_hash_object(STORE_KIND_BLOB, "value", 5, &ref);
    assert_true(store_hash_equal(&h1, &ref));
    /* the same bytes as another kind are another object */
    assert_int_equal(s->ops->put_added(s, STORE_KIND_NODE, "value", 5, &h2, &added), 0);
    assert_true(added);
    assert_int_equal(s->ops->put_added(s, (enum store_kind)9, "x", 1, &h2, &added), -EINVAL);
    assert_false(added);
    s->ops->close(s);
}

static void test_put_added_pack(void **state)
{
    (void)state;
    check_put_added(open_pack("added"));
}

static void test_put_added_memobj(void **state)
{
    (void)state;
    check_put_added(store_memobj_open());
}

static void test_put_hashed_pack(void **state)
{
    (void)state;
    struct objstore *s = open_pack("hashed");
    assert_non_null(s->ops->put_hashed);
    assert_non_null(s->ops->prefetch);
    struct store_hash h, other;
    store_hash_object(STORE_KIND_NODE, "Nnode", 5, &h);
    store_hash_object(STORE_KIND_BLOB, "x", 1, &other);
    s->ops->prefetch(s, &h); /* a hint: nothing stored */
    assert_false(s->ops->has(s, &h));
    bool added = false;
    assert_int_equal(s->ops->put_hashed(s, STORE_KIND_NODE, "Nnode", 5, &h, &added), 0);
    assert_true(added);
    assert_int_equal(s->ops->put_hashed(s, STORE_KIND_NODE, "Nnode", 5, &h, &added), 0);
    assert_false(added);
    struct store_hash h2;
    assert_int_equal(s->ops->put_added(s, STORE_KIND_NODE, "Nnode", 5, &h2, &added), 0);
    assert_false(added); /* the same object as put_added names it */
    assert_true(store_hash_equal(&h, &h2));
    enum store_kind k;
    void *d;
    size_t n;
    assert_int_equal(s->ops->get(s, &h, &k, &d, &n), 0);
    assert_int_equal(k, STORE_KIND_NODE);
    assert_int_equal(n, 5);
    assert_memory_equal(d, "Nnode", 5);
    free(d);
    assert_int_equal(s->ops->put_hashed(s, (enum store_kind)9, "x", 1, &other, &added), -EINVAL);
    assert_false(added);
    assert_false(s->ops->has(s, &other));
    s->ops->close(s);
}

/* put_hashed encodes a record in place at the write buffer's end: around the buffer's 1 MiB
 * bound (written out first), for a record bigger than the buffer (written at once), and for
 * objects already there (nothing kept), every object reads back, also after reopening. */
static void test_put_in_place_buffer_edges(void **state)
{
    (void)state;
    unlink(path_of("inplace"));
    struct objstore *s = open_pack("inplace");
    enum { SMALL = 1500, SMALL_LEN = 1000, BIG_LEN = 3 << 20 };
    static struct store_hash hs[SMALL];
    uint8_t *buf = malloc(BIG_LEN);
    assert_non_null(buf);
    for (int i = 0; i < SMALL; i++) { /* ~1.5 MB: crosses the buffer's bound */
        memset(buf, i & 0xff, SMALL_LEN);
        memcpy(buf, &i, sizeof i);
        bool added = false;
        store_hash_object(STORE_KIND_BLOB, buf, SMALL_LEN, &hs[i]);
        assert_int_equal(s->ops->put_hashed(s, STORE_KIND_BLOB, buf, SMALL_LEN, &hs[i], &added),
                         0);
        assert_true(added);
        if (i % 7 == 0) { /* an older one again: found, in the buffer or the file */
            int j = i / 2;
            memset(buf, j & 0xff, SMALL_LEN);
            memcpy(buf, &j, sizeof j);
            assert_int_equal(
                s->ops->put_hashed(s, STORE_KIND_BLOB, buf, SMALL_LEN, &hs[j], &added), 0);
            assert_false(added);
        }
    }
    memset(buf, 0x5a, BIG_LEN);
    struct store_hash big;
    bool added = false;
    store_hash_object(STORE_KIND_BLOB, buf, BIG_LEN, &big);
    assert_int_equal(s->ops->put_hashed(s, STORE_KIND_BLOB, buf, BIG_LEN, &big, &added), 0);
    assert_true(added);
    assert_int_equal(s->ops->put_hashed(s, STORE_KIND_BLOB, buf, BIG_LEN, &big, &added), 0);
    assert_false(added);
    assert_int_equal(s->ops->set_ref(s, "big", NULL, &big, STORE_SYNC_NONE, NULL, NULL), 0);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < SMALL; i++) {
            enum store_kind k;
            void *d;
            size_t n;
            assert_int_equal(s->ops->get(s, &hs[i], &k, &d, &n), 0);
            assert_int_equal(n, SMALL_LEN);
            assert_memory_equal(d, &i, sizeof i);
            free(d);
        }
        enum store_kind k;
        void *d;
        size_t n;
        assert_int_equal(s->ops->get(s, &big, &k, &d, &n), 0);
        assert_int_equal(n, BIG_LEN);
        assert_memory_equal(d, buf, BIG_LEN);
        free(d);
        s->ops->close(s);
        s = open_pack("inplace");
    }
    s->ops->close(s);
    free(buf);
    unlink(path_of("inplace"));
}

/* ---- a deferred put that fails ------------------------------------------------------------- */

/* A pack whose put_hashed lets pass_puts calls through, then fails fail_puts (as out of
 * memory), then lets all through. */
struct failing_os {
    struct objstore base;
    struct objstore *inner;
    int pass_puts, fail_puts;
};
static struct objstore *fo_inner(struct objstore *s)
{
    return ((struct failing_os *)s)->inner;
}
static int fo_put(struct objstore *s, enum store_kind k, const void *d, size_t n,
                  struct store_hash *out)
{
    return fo_inner(s)->ops->put(fo_inner(s), k, d, n, out);
}
static int fo_get(struct objstore *s, const struct store_hash *h, enum store_kind *k, void **d,
                  size_t *n)
{
    return fo_inner(s)->ops->get(fo_inner(s), h, k, d, n);
}
static bool fo_has(struct objstore *s, const struct store_hash *h)
{
    return fo_inner(s)->ops->has(fo_inner(s), h);
}
static int fo_get_ref(struct objstore *s, const char *name, struct store_hash *out)
{
    return fo_inner(s)->ops->get_ref(fo_inner(s), name, out);
}
static int fo_set_ref(struct objstore *s, const char *name, const struct store_hash *e,
                      const struct store_hash *v, enum store_sync sy, store_durable_fn done,
                      void *arg)
{
    return fo_inner(s)->ops->set_ref(fo_inner(s), name, e, v, sy, done, arg);
}
static int fo_del_ref(struct objstore *s, const char *name, const struct store_hash *e,
                      enum store_sync sy)
{
    return fo_inner(s)->ops->del_ref(fo_inner(s), name, e, sy);
}
static int fo_list_refs(struct objstore *s,
                        int (*fn)(void *, const char *, const struct store_hash *), void *arg)
{
    return fo_inner(s)->ops->list_refs(fo_inner(s), fn, arg);
}
static int fo_flush(struct objstore *s)
{
    return fo_inner(s)->ops->flush(fo_inner(s));
}
static void fo_close(struct objstore *s)
{
    fo_inner(s)->ops->close(fo_inner(s));
    free(s);
}
static int fo_put_added(struct objstore *s, enum store_kind k, const void *d, size_t n,
                        struct store_hash *out, bool *added)
{
    return fo_inner(s)->ops->put_added(fo_inner(s), k, d, n, out, added);
}
static void fo_prefetch(struct objstore *s, const struct store_hash *h)
{
    fo_inner(s)->ops->prefetch(fo_inner(s), h);
}
static int fo_put_hashed(struct objstore *s, enum store_kind k, const void *d, size_t n,
                         const struct store_hash *h, bool *added)
{
    struct failing_os *f = (struct failing_os *)s;
    if (f->pass_puts > 0) {
        f->pass_puts--;
    } else if (f->fail_puts > 0) {
        f->fail_puts--;
        *added = false;
        return -ENOMEM;
    }
    return f->inner->ops->put_hashed(f->inner, k, d, n, h, added);
}
static const struct objstore_ops failing_ops = {
    .put = fo_put,
    .get = fo_get,
    .has = fo_has,
    .get_ref = fo_get_ref,
    .set_ref = fo_set_ref,
    .del_ref = fo_del_ref,
    .list_refs = fo_list_refs,
    .flush = fo_flush,
    .close = fo_close,
    .put_added = fo_put_added,
    .prefetch = fo_prefetch,
    .put_hashed = fo_put_hashed,
};

/* Every /d/kI in t has the value vI. */
static void expect_tree(struct vs_tree *t, int nkeys)
{
    for (int i = 0; i < nkeys; i++) {
        char p[64], v[32];
        snprintf(p, sizeof p, "/d/k%d", i);
        snprintf(v, sizeof v, "v%d", i);
        void *val;
        size_t len;
        assert_int_equal(vs_tree_read(t, p, &val, &len), 0);
        assert_int_equal(len, strlen(v));
        assert_memory_equal(val, v, len);
        free(val);
    }
}

/* Each put of a write is deferred to the next (vs_put_enc_next): when one fails, the nodes
 * already marked clean name objects that never reached the heap. The failed commit must leave
 * the tree to be written again in full, whichever put failed (the 1st, 2nd, ... of the
 * write), so that the retried commit is complete: read back through a fresh store (no cache),
 * every node is there. */
static void test_deferred_put_failure(void **state)
{
    (void)state;
    enum { NKEYS = 80 }; /* > 64 entries: /d is a split directory (parts are written too) */
    for (int nth = 0; nth < 12; nth++) {
        char name[32];
        snprintf(name, sizeof name, "deferred%d", nth);
        unlink(path_of(name));
        struct failing_os *f = calloc(1, sizeof *f);
        assert_non_null(f);
        f->base.ops = &failing_ops;
        f->inner = open_pack(name);
        struct vs_store *st = vs_store_open(&f->base, 0);
        struct vs_tree *t;
        assert_int_equal(vs_tree_open(st, NULL, &t), 0);
        assert_int_equal(vs_tree_set(t, "/d", "", 0, NULL, 0, VS_CREATE), 0);
        for (int i = 0; i < NKEYS; i++) {
            char p[64], v[32];
            snprintf(p, sizeof p, "/d/k%d", i);
            snprintf(v, sizeof v, "v%d", i);
            assert_int_equal(vs_tree_set(t, p, v, strlen(v), NULL, 0, VS_CREATE | VS_SET_VALUE), 0);
        }
        /* the commit's puts before the nth go through; the nth fails */
        f->pass_puts = nth;
        f->fail_puts = 1;
        struct store_hash c;
        assert_int_equal(vs_tree_commit(t, NULL, 0, NULL, &c), -ENOMEM);
        assert_int_equal(f->fail_puts, 0);
        assert_int_equal(vs_tree_commit(t, NULL, 0, NULL, &c), 0);
        assert_int_equal(vs_branch_set(st, "main", NULL, &c, STORE_SYNC_NONE, NULL, NULL), 0);
        vs_tree_close(t);
        vs_store_close(st);
        /* read back through a fresh store on the same heap: nothing cached */
        st = vs_store_open(&f->base, 0);
        assert_int_equal(vs_tree_open(st, &c, &t), 0);
        expect_tree(t, NKEYS);
        vs_tree_close(t);
        vs_store_close(st);
        f->base.ops->close(&f->base);
        unlink(path_of(name));
    }
}

/* ---- name hashes -------------------------------------------------------------------------- */

static void test_name_hash_memo(void **state)
{
    (void)state;
    static const char *const names[] = {"a", "bb", "a", "a", "bb", "", "a", "", "bb"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct store_hash h, ref;
        vs_name_hash(names[i], &h);
        store_hash_object(STORE_KIND_BLOB, names[i], strlen(names[i]), &ref);
        assert_true(store_hash_equal(&h, &ref));
    }
    /* longer than the memo holds */
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    for (int i = 0; i < 2; i++) {
        struct store_hash h, ref;
        vs_name_hash(big, &h);
        store_hash_object(STORE_KIND_BLOB, big, strlen(big), &ref);
        assert_true(store_hash_equal(&h, &ref));
        big[0] = 'y';
    }
}

/* ---- a transaction's found nodes ----------------------------------------------------------- */

static void outside_write(struct vs_store *st, const char *path, const char *v)
{
    struct vs_txn *x;
    assert_int_equal(vs_txn_begin(st, "main", &x), 0);
    assert_int_equal(vs_txn_set(x, path, v, strlen(v), NULL, 0, VS_SET_VALUE | VS_CREATE), 0);
    assert_int_equal(vs_txn_commit(x, NULL, STORE_SYNC_NONE, NULL, NULL, NULL), 0);
}

static void expect_read(struct vs_txn *x, const char *path, const char *want)
{
    void *v;
    size_t n;
    assert_int_equal(vs_txn_read(x, path, &v, &n), 0);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(v, want, n);
    free(v);
}

static void test_txn_found_nodes_survive_live_moving(void **state)
{
    (void)state;
    struct objstore *os = store_memobj_open();
    struct vs_store *st = vs_store_open(os, 0);
    outside_write(st, "/a", "a0");
    outside_write(st, "/b", "b0");
    /* many children under /d, so the directory is split (its lookups hash names) */
    outside_write(st, "/d", "");
    for (int i = 0; i < 100; i++) {
        char p[32];
        snprintf(p, sizeof p, "/d/k%d", i);
        outside_write(st, p, "d0");
    }
    struct vs_txn *x;
    assert_int_equal(vs_txn_begin(st, "main", &x), 0);
    expect_read(x, "/a", "a0");
    expect_read(x, "/d/k7", "d0");
    expect_read(x, "/d/k9", "d0"); /* nobody changes it: it keeps relying on live */
    struct vs_stat s1;
    assert_int_equal(vs_txn_stat(x, "/d", &s1), 0);
    assert_int_equal(s1.nchildren, 100);
    /* others change what the transaction touched and what it did not */
    outside_write(st, "/a", "a1");
    outside_write(st, "/b", "b1");
    outside_write(st, "/d/k7", "d1");
    outside_write(st, "/d/new", "x");
    /* an untouched node: live moves to the new head; the old tree becomes the store's
     * spare, and the next commit's tree replaces (frees) it */
    expect_read(x, "/b", "b1");
    outside_write(st, "/e", "e");
    /* the touched ones: as at their first access, again and again */
    for (int i = 0; i < 2; i++) {
        expect_read(x, "/d/k9", "d0");
        expect_read(x, "/a", "a0");
        expect_read(x, "/d/k7", "d0");
        void *perms;
        size_t plen;
        assert_int_equal(vs_txn_get_perms(x, "/a", &perms, &plen), 0);
        free(perms);
        struct vs_stat s2;
        assert_int_equal(vs_txn_stat(x, "/d", &s2), 0);
        assert_int_equal(s2.nchildren, 100);
    }
    /* a change to a touched node after live moved: commit sees the conflict */
    assert_int_equal(vs_txn_set(x, "/d/k8", "y", 1, NULL, 0, VS_SET_VALUE), 0);
    assert_int_equal(vs_txn_commit(x, NULL, STORE_SYNC_NONE, NULL, NULL, NULL), -EAGAIN);
    /* and one undisturbed does commit, reading through the same paths */
    assert_int_equal(vs_txn_begin(st, "main", &x), 0);
    expect_read(x, "/d/k7", "d1");
    assert_int_equal(vs_txn_set(x, "/d/k7", "d2", 2, NULL, 0, VS_SET_VALUE), 0);
    expect_read(x, "/d/k7", "d2");
    assert_int_equal(vs_txn_commit(x, NULL, STORE_SYNC_NONE, NULL, NULL, NULL), 0);
    assert_int_equal(vs_txn_begin(st, "main", &x), 0);
    expect_read(x, "/d/k7", "d2");
    vs_txn_abort(x);
    vs_store_close(st);
    os->ops->close(os);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_mode_answers_at_flush_without_sync),
        cmocka_unit_test(test_batch_mode_one_sync_per_flush),
        cmocka_unit_test(test_none_mode_answers_at_once),
        cmocka_unit_test(test_put_added_pack),
        cmocka_unit_test(test_put_added_memobj),
        cmocka_unit_test(test_put_hashed_pack),
        cmocka_unit_test(test_put_in_place_buffer_edges),
        cmocka_unit_test(test_deferred_put_failure),
        cmocka_unit_test(test_name_hash_memo),
        cmocka_unit_test(test_txn_found_nodes_survive_live_moving),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
