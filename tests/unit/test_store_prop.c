/*
 * Property tests of the tree/commit layer: random operation sequences (write, mkdir, rm, set
 * perms, commit, branch, merge, transactions with concurrent commits) run against the store
 * and against a naive in-memory model (a plain tree of nodes, deep copies for snapshots). After
 * every step the reads agree; at commits the diffs agree; periodically the whole trees agree,
 * own versions included (the model stamps versions with gens by the documented rule).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "tests/unit/store_tree_testlib.h"
#include "tests/unit/store_model.h"

/* ---- comparing store and model -------------------------------------------------------------- */

static void compare_node(struct vs_tree *t, const struct mn *m, const char *path)
{
    struct vs_stat s;
    assert_int_equal(vs_tree_stat(t, path, &s), 0);
    assert_int_equal(s.version, m->ver);
    assert_int_equal(s.nchildren, m->nk);
    void *v;
    size_t n;
    assert_int_equal(vs_tree_read(t, path, &v, &n), 0);
    assert_int_equal(n, m->vlen);
    assert_memory_equal(v, m->val, n);
    free(v);
    assert_int_equal(vs_tree_get_perms(t, path, &v, &n), 0);
    assert_int_equal(n, m->plen);
    assert_memory_equal(v, m->perms, n);
    free(v);
    char **names;
    assert_int_equal(vs_tree_list(t, path, &names, &n), 0);
    assert_int_equal(n, m->nk);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(names[i], m->kids[i]->name);
        char cp[256];
        snprintf(cp, sizeof(cp), "%s%s%s", path, strcmp(path, "/") ? "/" : "", names[i]);
        compare_node(t, m->kids[i], cp);
    }
    vs_names_free(names, n);
}

struct lines {
    char **l;
    size_t n, cap;
};
static void lines_add(struct lines *L, char kind, const char *path)
{
    if (L->n == L->cap) {
        L->cap = L->cap ? L->cap * 2 : 64;
        L->l = realloc(L->l, L->cap * sizeof(char *));
    }
    L->l[L->n] = malloc(strlen(path) + 3);
    sprintf(L->l[L->n++], "%c %s", kind, path);
}
static int scmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}
static void lines_free(struct lines *L)
{
    for (size_t i = 0; i < L->n; i++)
        free(L->l[i]);
    free(L->l);
    memset(L, 0, sizeof(*L));
}
static int diff_cb(void *arg, const char *path, enum vs_change c)
{
    lines_add(arg, c == VS_ADDED ? '+' : c == VS_REMOVED ? '-' : '~', path);
    return 0;
}
static void mn_all(const struct mn *n, const char *path, char kind, struct lines *L)
{
    lines_add(L, kind, path);
    for (size_t i = 0; i < n->nk; i++) {
        char cp[256];
        snprintf(cp, sizeof(cp), "%s%s%s", path, strcmp(path, "/") ? "/" : "", n->kids[i]->name);
        mn_all(n->kids[i], cp, kind, L);
    }
}
static void mn_diff(const struct mn *a, const struct mn *b, const char *path, struct lines *L)
{
    if (!own_eq(a, b))
        lines_add(L, '~', path);
    for (size_t i = 0; i < a->nk; i++) {
        char cp[256];
        snprintf(cp, sizeof(cp), "%s%s%s", path, strcmp(path, "/") ? "/" : "", a->kids[i]->name);
        struct mn *bk = mn_kid((struct mn *)b, a->kids[i]->name, NULL);
        if (bk)
            mn_diff(a->kids[i], bk, cp, L);
        else
            mn_all(a->kids[i], cp, '-', L);
    }
    for (size_t i = 0; i < b->nk; i++) {
        if (mn_kid((struct mn *)a, b->kids[i]->name, NULL))
            continue;
        char cp[256];
        snprintf(cp, sizeof(cp), "%s%s%s", path, strcmp(path, "/") ? "/" : "", b->kids[i]->name);
        mn_all(b->kids[i], cp, '+', L);
    }
}

static void compare_diff(struct vs_store *st, const struct store_hash *ca,
                         const struct store_hash *cb, const struct mn *ma, const struct mn *mb)
{
    struct lines s = {0}, m = {0};
    assert_int_equal(vs_diff_commits(st, ca, cb, diff_cb, &s), 0);
    mn_diff(ma, mb, "/", &m);
    if (s.n)
        qsort(s.l, s.n, sizeof(char *), scmp);
    if (m.n)
        qsort(m.l, m.n, sizeof(char *), scmp);
    assert_int_equal(s.n, m.n);
    for (size_t i = 0; i < s.n; i++)
        assert_string_equal(s.l[i], m.l[i]);
    lines_free(&s);
    lines_free(&m);
}

/* ---- the driver ----------------------------------------------------------------------------- */

#define MAXC 4096

struct branch {
    const char *name;
    struct vs_tree *t;   /* working tree */
    struct mn *work;     /* model of the working tree */
    struct mn *head;     /* model at the branch head */
    bool has_head;
    struct store_hash head_h;
    uint64_t head_gen;
};

struct world {
    struct vs_store *st;
    struct counting_os *os;
    uint64_t rng;
    struct branch br[2];
    /* model snapshots of every commit, for merge bases */
    struct store_hash ch[MAXC];
    struct mn *cm[MAXC];
    uint64_t cgen[MAXC];
    size_t nc;
    unsigned stats[16];
};

static void remember(struct world *w, const struct store_hash *h, const struct mn *m, uint64_t gen)
{
    for (size_t i = 0; i < w->nc; i++)
        if (store_hash_equal(&w->ch[i], h))
            return;
    assert_true(w->nc < MAXC);
    w->ch[w->nc] = *h;
    w->cm[w->nc] = mn_clone(m);
    w->cgen[w->nc++] = gen;
}

static const struct mn *snapshot(struct world *w, const struct store_hash *h)
{
    for (size_t i = 0; i < w->nc; i++)
        if (store_hash_equal(&w->ch[i], h))
            return w->cm[i];
    fail_msg("commit without a model snapshot");
    return NULL;
}

static uint64_t R(struct world *w, uint64_t n)
{
    return tl_rand(&w->rng) % n;
}

static void rand_path(struct world *w, char *p)
{
    static const char *names[] = {"a", "b", "c", "d"};
    if (R(w, 4) == 0) {
        /* Names around the 8 bytes a directory entry keeps inline (entry-9, entry-12,
         * entry-123: shorter, as long, longer with the same first 8 bytes). */
        sprintf(p, R(w, 2) ? "/big/e%u" : "/big/entry-%u", (unsigned)R(w, 150));
        if (R(w, 4) == 0)
            strcat(p, "/x");
        return;
    }
    int depth = 1 + (int)R(w, 3);
    p[0] = 0;
    for (int i = 0; i < depth; i++) {
        strcat(p, "/");
        strcat(p, names[R(w, 4)]);
    }
}

static void rand_bytes(struct world *w, char *buf, size_t *len)
{
    size_t n = R(w, 10) == 0 ? 70 + R(w, 100) : R(w, 6); /* some values are blobs */
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('a' + R(w, 3));
    *len = n;
}

static uint64_t wgen(const struct branch *b)
{
    return b->has_head ? b->head_gen + 1 : 1;
}

static void open_branch(struct world *w, struct branch *b)
{
    vs_tree_close(b->t);
    b->has_head = vs_branch_head(w->st, b->name, &b->head_h) == 0;
    assert_int_equal(vs_tree_open(w->st, b->has_head ? &b->head_h : NULL, &b->t), 0);
    if (b->has_head) {
        struct vs_commit c;
        assert_int_equal(vs_commit_read(w->st, &b->head_h, &c), 0);
        b->head_gen = c.gen;
        vs_commit_free(&c);
        mn_free(b->head);
        b->head = mn_clone(snapshot(w, &b->head_h));
    }
    mn_free(b->work);
    b->work = mn_clone(b->head);
    vs_tree_set_max_loaded(b->t, 1 + R(w, 300)); /* exercise trimming */
    assert_int_equal(vs_tree_gen(b->t), wgen(b));
}

static void do_commit(struct world *w, struct branch *b)
{
    struct store_hash h, prev = b->head_h;
    bool had = b->has_head;
    struct vs_commit_info ci = {"prop", b->name, 1000 + w->nc};
    assert_int_equal(vs_branch_commit(b->t, b->name, &ci, STORE_SYNC_NONE, NULL, NULL, &h), 0);
    b->head_gen = wgen(b);
    b->has_head = true;
    b->head_h = h;
    mn_free(b->head);
    b->head = mn_clone(b->work);
    remember(w, &h, b->head, b->head_gen);
    if (had)
        compare_diff(w->st, &prev, &h, snapshot(w, &prev), b->head);
    assert_int_equal(vs_tree_gen(b->t), wgen(b));
    w->stats[0]++;
}

static void random_write(struct world *w, struct branch *b)
{
    char p[64], v[200], perms[8];
    size_t vl, pl;
    rand_path(w, p);
    rand_bytes(w, v, &vl);
    pl = R(w, 5);
    for (size_t i = 0; i < pl; i++)
        perms[i] = R(w, 3) ? (char)('r' + R(w, 2)) : 0; /* opaque: NULs too */
    unsigned flags;
    switch (R(w, 5)) {
    case 0:
        flags = VS_CREATE | VS_EXCL; /* mkdir */
        break;
    case 1:
        flags = VS_SET_PERMS;
        break;
    case 2:
        flags = VS_SET_VALUE;
        break;
    default:
        flags = VS_SET_VALUE | VS_CREATE;
        break;
    }
    if (R(w, 4) == 0) {
        int rs = vs_tree_rm(b->t, p);
        int rm = mn_rm(b->work, p, wgen(b));
        assert_int_equal(rs, rm);
        w->stats[1]++;
        return;
    }
    int rs = vs_tree_set(b->t, p, v, vl, perms, pl, flags);
    int rm = mn_set(b->work, p, (flags & VS_SET_VALUE) ? v : NULL, vl,
                    (flags & VS_SET_PERMS) ? perms : NULL, pl, flags, wgen(b));
    assert_int_equal(rs, rm);
    w->stats[2]++;
}

static void random_read(struct world *w, struct branch *b)
{
    char p[64];
    rand_path(w, p);
    struct mn *m = mn_find(b->work, p, NULL, NULL);
    struct vs_stat s;
    int rc = vs_tree_stat(b->t, p, &s);
    if (m == NULL) {
        assert_int_equal(rc, -ENOENT);
        return;
    }
    assert_int_equal(rc, 0);
    compare_node(b->t, m, p);
}

static int policy_of;
static enum vs_merge_choice fixed_policy(void *arg, const char *path, const struct vs_own *b,
                                         const struct vs_own *o, const struct vs_own *t)
{
    (void)path, (void)b, (void)o, (void)t;
    (*(int *)arg)++;
    return policy_of == 0 ? VS_MERGE_FAIL : policy_of == 1 ? VS_MERGE_OURS : VS_MERGE_THEIRS;
}

static void do_merge(struct world *w)
{
    struct branch *m = &w->br[0], *s = &w->br[1];
    do_commit(w, m);
    do_commit(w, s);
    struct store_hash base;
    int rc = vs_merge_base(w->st, &m->head_h, &s->head_h, &base);
    assert_int_equal(rc, 0); /* side always starts from main */
    policy_of = (int)R(w, 3);
    int nconf_s = 0, nconf_m = 0;
    struct store_hash out;
    struct vs_commit_info ci = {"prop", "merge", 5};
    rc = vs_branch_merge(w->st, "main", &s->head_h, fixed_policy, &nconf_s, &ci, STORE_SYNC_NONE,
                         &out);
    if (store_hash_equal(&base, &s->head_h) || store_hash_equal(&base, &m->head_h)) {
        assert_int_equal(rc, 0); /* contained or fast-forward */
        if (store_hash_equal(&base, &m->head_h))
            assert_true(store_hash_equal(&out, &s->head_h));
        open_branch(w, m);
        compare_node(m->t, m->work, "/");
        w->stats[3]++;
        return;
    }
    struct mn *res = mn_clone(m->head);
    uint64_t gen = (m->head_gen > s->head_gen ? m->head_gen : s->head_gen) + 1;
    int rm = mn_merge((struct mn *)snapshot(w, &base), res, s->head, gen, policy_of, &nconf_m);
    assert_int_equal(rc, rm);
    if (rc == 0) {
        remember(w, &out, res, gen);
        open_branch(w, m);
        compare_node(m->t, m->work, "/");
        w->stats[4]++;
    } else {
        w->stats[5]++;
    }
    mn_free(res);
}

/* The nodes a transaction has accessed, in the model: path -> existence and version at the
 * first access. In do_txn nobody else commits while the transaction works, so a first access
 * always finds the node as it was at the start (the snapshot): a node the transaction changed
 * was accessed by that change, and a removal accesses the whole subtree. */
struct acc {
    char path[64];
    bool present;
    uint64_t ver;
};
#define MAX_ACC 1024

static void touch(struct acc *acc, size_t *nacc, struct mn *snap, const char *path)
{
    for (size_t j = 0; j < *nacc; j++)
        if (strcmp(acc[j].path, path) == 0)
            return;
    assert_true(*nacc < MAX_ACC);
    struct mn *sn = mn_find(snap, path, NULL, NULL);
    strcpy(acc[*nacc].path, path);
    acc[*nacc].present = sn != NULL;
    acc[(*nacc)++].ver = sn ? sn->ver : 0;
}

static void touch_subtree(struct acc *acc, size_t *nacc, struct mn *snap, const char *path,
                          const struct mn *n)
{
    touch(acc, nacc, snap, path);
    for (size_t i = 0; i < n->nk; i++) {
        char cp[64];
        snprintf(cp, sizeof cp, "%s/%s", strcmp(path, "/") ? path : "", n->kids[i]->name);
        touch_subtree(acc, nacc, snap, cp, n->kids[i]);
    }
}

static void parent_path(const char *path, char *out)
{
    const char *sl = strrchr(path, '/');
    size_t l = sl == path ? 1 : (size_t)(sl - path);
    memcpy(out, path, l);
    out[l] = 0;
}

/* A transaction on main, concurrent commits on main, then commit: checked against the model
 * of C xenstored's rule (every node accessed must be as at its first access; the write set is
 * then replayed onto the head). */
static void do_txn(struct world *w)
{
    struct branch *m = &w->br[0];
    do_commit(w, m);
    struct vs_txn *x;
    assert_int_equal(vs_txn_begin(w->st, "main", &x), 0);
    struct mn *snap = mn_clone(m->head), *mine = mn_clone(m->head);
    uint64_t tgen = m->head_gen + 1;
    static struct acc acc[MAX_ACC];
    size_t nacc = 0;
    struct {
        char path[64];
        char v[200], p[8];
        size_t vl, pl;
        unsigned flags;
        bool rm;
    } ops[16];
    size_t nops = 0;
    int steps = 1 + (int)R(w, 8);
    for (int i = 0; i < steps; i++) {
        char p[64], pp[64];
        rand_path(w, p);
        if (R(w, 2) == 0) {
            struct vs_stat s;
            int rc = vs_txn_stat(x, p, &s);
            struct mn *n = mn_find(mine, p, NULL, NULL);
            assert_int_equal(rc, n ? 0 : -ENOENT);
            touch(acc, &nacc, snap, p);
        } else if (nops < 16) {
            ops[nops].rm = R(w, 4) == 0;
            strcpy(ops[nops].path, p);
            rand_bytes(w, ops[nops].v, &ops[nops].vl);
            ops[nops].pl = 0;
            ops[nops].flags = VS_SET_VALUE | VS_CREATE;
            struct mn *n = mn_find(mine, p, NULL, NULL);
            parent_path(p, pp);
            if (ops[nops].rm) {
                if (n != NULL) {
                    touch(acc, &nacc, snap, pp);
                    touch_subtree(acc, &nacc, snap, p, n);
                } else {
                    touch(acc, &nacc, snap, p);
                }
            } else {
                touch(acc, &nacc, snap, p);
                if (n == NULL)
                    touch(acc, &nacc, snap, pp);
            }
            int rs = ops[nops].rm ? vs_txn_rm(x, p)
                                  : vs_txn_set(x, p, ops[nops].v, ops[nops].vl, NULL, 0,
                                               ops[nops].flags);
            int rm = ops[nops].rm ? mn_rm(mine, p, tgen)
                                  : mn_set(mine, p, ops[nops].v, ops[nops].vl, NULL, 0,
                                           ops[nops].flags, tgen);
            assert_int_equal(rs, rm);
            if (rs == 0)
                nops++;
        }
    }
    /* Concurrent commits on main. */
    int conc = (int)R(w, 3);
    for (int i = 0; i < conc; i++) {
        for (int j = 0; j < 1 + (int)R(w, 3); j++)
            random_write(w, m);
        do_commit(w, m);
    }
    /* What the model expects. */
    int expect = 0;
    for (size_t i = 0; i < nacc; i++) {
        struct mn *n = mn_find(m->head, acc[i].path, NULL, NULL);
        if ((n != NULL) != acc[i].present || (n && n->ver != acc[i].ver))
            expect = -EAGAIN;
    }
    struct mn *after = mn_clone(m->head);
    uint64_t agen = conc ? m->head_gen + 1 : tgen;
    if (expect == 0 && conc == 0) {
        mn_free(after);
        after = mn_clone(mine);
    } else if (expect == 0) {
        for (size_t i = 0; i < nops && expect == 0; i++) {
            int rc = ops[i].rm ? mn_rm(after, ops[i].path, agen)
                               : mn_set(after, ops[i].path, ops[i].v, ops[i].vl, NULL, 0,
                                        ops[i].flags, agen);
            if (rc < 0)
                expect = -EAGAIN;
        }
    }
    struct store_hash out;
    int rc = vs_txn_commit(x, NULL, STORE_SYNC_NONE, NULL, NULL, &out);
    assert_int_equal(rc, expect);
    if (rc == 0 && nops > 0) {
        remember(w, &out, after, agen);
        open_branch(w, m);
        compare_node(m->t, m->work, "/");
        w->stats[6]++;
    } else {
        w->stats[rc == 0 ? 7 : 8]++;
    }
    mn_free(after);
    mn_free(snap);
    mn_free(mine);
}

static void run(uint64_t seed, int steps)
{
    struct world *w = calloc(1, sizeof(*w));
    w->os = counting_open();
    w->st = vs_store_open(&w->os->base, 1 + (seed % 3) * 200000); /* small caches too */
    w->rng = seed * 2654435761u + 1;
    w->br[0].name = "main";
    w->br[1].name = "side";
    /* main starts with /big (split at 65 entries; the generator goes up to 150) */
    w->br[0].head = mn_new("", 0);
    open_branch(w, &w->br[0]);
    assert_int_equal(vs_tree_set(w->br[0].t, "/big", "", 0, NULL, 0, VS_CREATE), 0);
    mn_set(w->br[0].work, "/big", "", 0, NULL, 0, VS_CREATE, 1);
    for (int i = 0; i < 100; i += 1 + (int)R(w, 2)) {
        char p[32];
        sprintf(p, "/big/e%d", i);
        assert_int_equal(vs_tree_set(w->br[0].t, p, "v", 1, NULL, 0, VS_SET_VALUE | VS_CREATE), 0);
        mn_set(w->br[0].work, p, "v", 1, NULL, 0, VS_SET_VALUE | VS_CREATE, 1);
    }
    do_commit(w, &w->br[0]);
    assert_int_equal(vs_branch_set(w->st, "side", NULL, &w->br[0].head_h, STORE_SYNC_NONE, NULL,
                                   NULL),
                     0);
    w->br[1].head = mn_new("", 0);
    open_branch(w, &w->br[1]);
    for (int i = 0; i < steps; i++) {
        struct branch *b = &w->br[R(w, 2)];
        uint64_t r = R(w, 100);
        if (r < 45)
            random_write(w, b);
        else if (r < 75)
            random_read(w, b);
        else if (r < 83)
            do_commit(w, b);
        else if (r < 88)
            do_txn(w);
        else if (r < 92)
            do_merge(w);
        else if (r < 94) { /* restart side from main */
            do_commit(w, &w->br[0]);
            struct store_hash old;
            assert_int_equal(vs_branch_head(w->st, "side", &old), 0);
            assert_int_equal(vs_branch_set(w->st, "side", &old, &w->br[0].head_h,
                                           STORE_SYNC_NONE, NULL, NULL),
                             0);
            open_branch(w, &w->br[1]);
        } else if (r < 97) {
            compare_node(b->t, b->work, "/");
        } else {
            vs_tree_trim(b->t);
        }
    }
    compare_node(w->br[0].t, w->br[0].work, "/");
    compare_node(w->br[1].t, w->br[1].work, "/");
    /* Every remembered commit still reads as its model, also through a second store on the
     * same heap: no kept tree, no cached object, only what the commits wrote. */
    struct vs_store *fresh = vs_store_open(&w->os->base, 0);
    assert_non_null(fresh);
    for (size_t i = 0; i < w->nc; i += 1 + w->nc / 20) {
        struct vs_tree *t;
        assert_int_equal(vs_tree_open(w->st, &w->ch[i], &t), 0);
        compare_node(t, w->cm[i], "/");
        vs_tree_close(t);
        assert_int_equal(vs_tree_open(fresh, &w->ch[i], &t), 0);
        compare_node(t, w->cm[i], "/");
        vs_tree_close(t);
    }
    vs_store_close(fresh);
    print_message("      seed %llu: %u commits, %u rm, %u set, %u merges (%u ff, %u refused), "
                  "%u txns (%u read-only, %u EAGAIN)\n",
                  (unsigned long long)seed, w->stats[0], w->stats[1], w->stats[2],
                  w->stats[4] + w->stats[3], w->stats[3], w->stats[5],
                  w->stats[6] + w->stats[7] + w->stats[8], w->stats[7], w->stats[8]);
    for (int i = 0; i < 2; i++) {
        vs_tree_close(w->br[i].t);
        mn_free(w->br[i].work);
        mn_free(w->br[i].head);
    }
    for (size_t i = 0; i < w->nc; i++)
        mn_free(w->cm[i]);
    vs_store_close(w->st);
    w->os->base.ops->close(&w->os->base);
    free(w);
}

static void test_random_sequences(void **state)
{
    (void)state;
    const char *env = getenv("STORE_PROP_SEEDS");
    int nseeds = env ? atoi(env) : 30;
    for (int s = 1; s <= nseeds; s++)
        run((uint64_t)s, 600);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_sequences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
