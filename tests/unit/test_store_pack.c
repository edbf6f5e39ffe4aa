/*
 * The pack file (xenstore/store_pack.c) and the I/O backends (xenstore/store_io.c): the
 * objstore.h contract, reopen, BATCH group commit, recovery from a torn tail cut at every byte
 * of the last record, bit flips anywhere (recovered or refused, never a crash, never a state
 * that was not committed), injected faults (short writes, failed syncs and writes, crashes
 * after N bytes followed by power cuts of four kinds), and an open-time figure. GC is in
 * test_store_pack_gc.c.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/store_checks.h"
#include "tests/unit/store_pack_fixture.h"
#include "xenstore/store_io.h"
#include "xenstore/store_pack_int.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- basics ------------------------------------------------------------------------------- */

static void test_contract(void **state)
{
    (void)state;
    struct store_pack_report rep;
    struct objstore *s = open_ok("contract", NULL, &rep);
    assert_true(rep.created);
    store_check_objects(s);
    store_check_refs(s);
    s->ops->close(s);
    /* everything committed is there after reopen */
    s = open_ok("contract", NULL, &rep);
    assert_false(rep.created);
    assert_false(rep.truncated);
    struct store_hash h, c1;
    store_hash_object(STORE_KIND_COMMIT, "c2", 2, &c1);
    assert_int_equal(s->ops->get_ref(s, "a", &h), 0);
    assert_true(store_hash_equal(&h, &c1));
    assert_int_equal(s->ops->get_ref(s, "b/c", &h), -ENOENT);
    store_check_objects(s); /* all dedups now */
    s->ops->close(s);
}

/* The index keys objects by the first 16 bytes of their hash (store_pack_int.h). Two objects
 * sharing them cannot be made in practice, so the test plants one: b's prefix pointing at a's
 * record, once with the record still in the write buffer and once in the file. A put of b must
 * be refused (not taken as stored), a get of b must not return a's bytes, and the pack must
 * go on working. */
static void test_index_prefix_collision(void **state)
{
    (void)state;
    for (int in_file = 0; in_file < 2; in_file++) {
        char name[32];
        snprintf(name, sizeof(name), "prefix%d", in_file);
        struct objstore *s = open_ok(name, NULL, NULL);
        struct store_hash a, b, c, got;
        assert_int_equal(s->ops->put(s, STORE_KIND_BLOB, "a", 1, &a), 0);
        if (in_file)
            assert_int_equal(s->ops->flush(s), 0);
        store_hash_object(STORE_KIND_BLOB, "b", 1, &b);
        struct pack *p = P(s);
        uint64_t off = ix_find(&p->ix, &a);
        assert_true(off != 0);
        assert_int_equal(ix_find(&p->ix, &b), 0);
        assert_int_equal(pack_ix_put(&p->ix, &b, off), 0); /* b's prefix -> a's record */
        assert_int_equal(s->ops->put(s, STORE_KIND_BLOB, "b", 1, &got), -EEXIST);
        void *d = NULL;
        size_t len;
        assert_int_equal(s->ops->get(s, &b, NULL, &d, &len), -EBADMSG);
        assert_int_equal(s->ops->get(s, &a, NULL, &d, &len), 0);
        assert_int_equal(len, 1);
        assert_memory_equal(d, "a", 1);
        free(d);
        assert_int_equal(s->ops->put(s, STORE_KIND_BLOB, "c", 1, &c), 0);
        assert_int_equal(s->ops->set_ref(s, "main", NULL, &c, STORE_SYNC_ALWAYS, NULL, NULL), 0);
        s->ops->close(s);
    }
}

/* The index grows incrementally (store_pack_int.h): while the old table's entries move over,
 * every entry is found (in either table), slot() reports found ones with their offset, a
 * second put of a known hash adds nothing, and settle() leaves one table. The doublings to
 * tables of 3 and 6 MB take the table prepared (and faulted in by a thread) since half full. */
static void test_index_incremental_growth(void **state)
{
    (void)state;
    struct index ix;
    assert_int_equal(pack_ix_init(&ix, 16), 0);
    enum { N = 100000 };
    struct store_hash *hs = malloc(N * sizeof(*hs));
    assert_non_null(hs);
    uint64_t rng = 99;
    size_t growths = 0, prepared = 0;
    for (size_t i = 0; i < N; i++) {
        for (size_t k = 0; k < STORE_HASH_LEN; k += 8) {
            uint64_t r = store_rng(&rng);
            memcpy(hs[i].b + k, &r, 8);
        }
        bool growing = ix.old != NULL;
        struct ix_entry *next = ix.next;
        assert_int_equal(pack_ix_put(&ix, &hs[i], 1000 + i), 0);
        growths += !growing && ix.old != NULL;
        assert_int_equal(ix.count, i + 1);
        size_t j = (size_t)(store_rng(&rng) % (i + 1));
        assert_int_equal(ix_find(&ix, &hs[j]), 1000 + j);
        bool found;
        uint64_t off;
        pack_ix_slot(&ix, &hs[j], &found, &off);
        assert_true(found);
        assert_int_equal(off, 1000 + j);
        if (i % 7 == 0) { /* again: no new entry */
            assert_int_equal(pack_ix_put(&ix, &hs[j], 5), 0);
            assert_int_equal(ix.count, i + 1);
            assert_int_equal(ix_find(&ix, &hs[j]), 1000 + j);
        }
        if (next != NULL && ix.e == next) { /* a doubling (by either put) took it */
            prepared++;
            assert_null(ix.next);
        }
    }
    assert_true(growths >= 5);
    assert_int_equal(prepared, 2);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(ix_find(&ix, &hs[i]), 1000 + i);
    pack_ix_settle(&ix);
    assert_null(ix.old);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(ix_find(&ix, &hs[i]), 1000 + i);
    pack_ix_free(&ix);
    free(hs);
}

/* The fill thread (store_pack_fill.c) writes the zeros ahead while appends go on below them:
 * an append that leaves less than half a step asks it, and when the test lets it finish
 * before the next append (pack_filler_settle), no append writes zeros itself, not even one
 * bigger than the zeros ahead; the records are stored through the file's mapping. Every commit survives close and reopen, also a
 * close while it may be filling. */
static void test_fill_thread(void **state)
{
    (void)state;
    struct objstore *s = open_ok("fill", NULL, NULL);
    struct pack *p = P(s);
    assert_int_equal(store_pack_fill_thread(s), 0);
    assert_int_equal(store_pack_fill_thread(s), 0); /* already running */
    pthread_mutex_lock(&p->lock);
    pack_filler_settle(p); /* it was asked for the first step when started */
    assert_true(p->alloc_end > p->end);
    uint64_t inline0 = p->zero_steps_inline;
    pthread_mutex_unlock(&p->lock);
    uint8_t big[8192];
    uint64_t n = 0;
    for (; n < 600; n++) { /* ~4.9 MB */
        memset(big, (int)n, sizeof(big));
        memcpy(big, &n, sizeof(n));
        struct store_hash h;
        assert_int_equal(s->ops->put(s, STORE_KIND_BLOB, big, sizeof(big), &h), 0);
        assert_int_equal(commit_n(s, n, 7, n % 50 == 0 ? STORE_SYNC_ALWAYS : STORE_SYNC_NONE),
                         0);
        pthread_mutex_lock(&p->lock);
        pack_filler_settle(p);
        assert_true(p->end <= p->alloc_end);
        pthread_mutex_unlock(&p->lock);
    }
    /* A record bigger than the zeros ahead (and than a step): the append writes no zeros
     * itself, its record extends the file, and the thread fills on after it. */
    size_t hugelen = 3u << 20;
    uint8_t *huge = malloc(hugelen);
    assert_non_null(huge);
    memset(huge, 0x5a, hugelen);
    struct store_hash hh;
    assert_int_equal(s->ops->put(s, STORE_KIND_BLOB, huge, hugelen, &hh), 0);
    assert_int_equal(commit_n(s, n, 7, STORE_SYNC_NONE), 0);
    n++;
    pthread_mutex_lock(&p->lock);
    pack_filler_settle(p);
    assert_true(p->end < p->alloc_end);
    pthread_mutex_unlock(&p->lock);
    enum store_kind hk;
    void *hd;
    size_t hl;
    assert_int_equal(s->ops->get(s, &hh, &hk, &hd, &hl), 0);
    assert_int_equal(hl, hugelen);
    assert_memory_equal(hd, huge, hugelen);
    free(hd);
    free(huge);
    pthread_mutex_lock(&p->lock);
    assert_int_equal(p->zero_steps_inline, inline0);
    assert_true(p->zero_steps_thread >= 3);
    /* A POSIX file: the records went through its mapping, into the zeros (store_pack.c,
     * write_at), once 32 NONE updates followed a sync (17 of each 50 here), and the reopen
     * below reads them back with pread. */
    assert_non_null(p->map);
    assert_true(p->map_writes >= 12 * 17);
    assert_true(p->map_writes < 600);
    assert_true(p->sized_end >= p->end);
    pthread_mutex_unlock(&p->lock);
    s->ops->close(s);
    struct store_pack_report rep;
    s = open_ok("fill", NULL, &rep);
    assert_false(rep.truncated);
    assert_int_equal(check_chain(s, 7), (int64_t)n - 1);
    /* Closed while it may be writing: close waits for it; nothing is lost. */
    assert_int_equal(store_pack_fill_thread(s), 0);
    for (uint64_t k = 0; k < 40; k++, n++) {
        struct store_hash h;
        memcpy(big, &n, sizeof(n));
        assert_int_equal(s->ops->put(s, STORE_KIND_BLOB, big, sizeof(big), &h), 0);
        assert_int_equal(commit_n(s, n, 7, STORE_SYNC_NONE), 0);
    }
    s->ops->close(s);
    s = open_ok("fill", NULL, &rep);
    assert_int_equal(check_chain(s, 7), (int64_t)n - 1);
    s->ops->close(s);
}

static void test_reopen_many(void **state)
{
    (void)state;
    struct objstore *s = open_ok("many", NULL, NULL);
    for (uint64_t i = 0; i < 3000; i++)
        assert_int_equal(commit_n(s, i, 1, i % 100 == 0 ? STORE_SYNC_ALWAYS : STORE_SYNC_NONE),
                         0);
    assert_int_equal(check_chain(s, 1), 2999);
    s->ops->close(s);
    struct store_pack_report rep;
    s = open_ok("many", NULL, &rep);
    assert_int_equal(rep.ref_records, 3000);
    assert_int_equal(rep.objects, 6000);
    assert_int_equal(check_chain(s, 1), 2999);
    struct store_pack_stats st;
    store_pack_stats(s, &st);
    assert_true(st.cache_bytes <= (8u << 20));
    s->ops->close(s);
    /* uncommitted objects at the end are dropped on open */
    s = open_ok("many", NULL, NULL);
    struct store_hash h;
    assert_int_equal(s->ops->put(s, STORE_KIND_BLOB, "loose", 5, &h), 0);
    s->ops->close(s);
    s = open_ok("many", NULL, &rep);
    assert_true(rep.truncated);
    assert_false(s->ops->has(s, &h));
    assert_int_equal(check_chain(s, 1), 2999);
    s->ops->close(s);
}

static int cb_calls, cb_ok;
static void cb(void *arg, bool ok)
{
    (void)arg;
    cb_calls++;
    cb_ok += ok;
}

static void test_batch(void **state)
{
    (void)state;
    struct store_pack_opts o = {.create = true, .batch_max_updates = 10, .batch_max_ms = 1000};
    struct objstore *s = open_ok("batch", &o, NULL);
    struct store_hash prev, c;
    cb_calls = cb_ok = 0;
    for (uint64_t i = 0; i < 9; i++) {
        bool have = s->ops->get_ref(s, "main", &prev) == 0;
        assert_int_equal(make_commit(s, i, 2, have ? &prev : NULL, &c), 0);
        assert_int_equal(s->ops->set_ref(s, "main", have ? &prev : NULL, &c, STORE_SYNC_BATCH,
                                         cb, NULL),
                         0);
    }
    struct store_pack_stats st;
    store_pack_stats(s, &st);
    assert_int_equal(cb_calls, 0); /* nobody durable yet */
    assert_int_equal(st.pending, 9);
    uint64_t syncs = st.syncs;
    /* the 10th reaches the threshold: one sync for all ten */
    s->ops->get_ref(s, "main", &prev);
    assert_int_equal(make_commit(s, 9, 2, &prev, &c), 0);
    assert_int_equal(s->ops->set_ref(s, "main", &prev, &c, STORE_SYNC_BATCH, cb, NULL), 0);
    store_pack_stats(s, &st);
    assert_int_equal(cb_calls, 10);
    assert_int_equal(cb_ok, 10);
    assert_int_equal(st.syncs, syncs + 1);
    /* flush */
    assert_int_equal(commit_n(s, 10, 2, STORE_SYNC_BATCH), 0);
    s->ops->get_ref(s, "main", &prev);
    assert_int_equal(make_commit(s, 11, 2, &prev, &c), 0);
    assert_int_equal(s->ops->set_ref(s, "main", &prev, &c, STORE_SYNC_BATCH, cb, NULL), 0);
    assert_int_equal(cb_calls, 10);
    assert_true(store_pack_poll(s) > 0); /* waits for the clock */
    assert_int_equal(s->ops->flush(s), 0);
    assert_int_equal(cb_calls, 11);
    assert_int_equal(store_pack_poll(s), -1);
    /* an ALWAYS update makes the waiting BATCH ones durable too */
    s->ops->get_ref(s, "main", &prev);
    assert_int_equal(make_commit(s, 12, 2, &prev, &c), 0);
    assert_int_equal(s->ops->set_ref(s, "main", &prev, &c, STORE_SYNC_BATCH, cb, NULL), 0);
    assert_int_equal(commit_n(s, 13, 2, STORE_SYNC_ALWAYS), 0);
    assert_int_equal(cb_calls, 12);
    s->ops->close(s);
    /* the time threshold through poll */
    o.batch_max_ms = 1;
    s = open_ok("batch", &o, NULL);
    s->ops->get_ref(s, "main", &prev);
    assert_int_equal(make_commit(s, 14, 2, &prev, &c), 0);
    assert_int_equal(s->ops->set_ref(s, "main", &prev, &c, STORE_SYNC_BATCH, cb, NULL), 0);
    struct timespec ts = {0, 3000000};
    nanosleep(&ts, NULL);
    assert_int_equal(store_pack_poll(s), -1);
    assert_int_equal(cb_calls, 13);
    assert_int_equal(check_chain(s, 2), 14);
    s->ops->close(s);
}

static void test_bad_files(void **state)
{
    (void)state;
    struct objstore *s;
    struct store_pack_report rep;
    struct store_pack_opts o = {.create = false};
    assert_int_equal(store_pack_open_path(path_of("missing"), &o, &s, &rep), -ENOENT);
    store_test_write_file(path_of("junk"), "this is not a pack file at all, no no no", 40);
    assert_int_equal(store_pack_open_path(path_of("junk"), &o, &s, &rep), -EBADMSG);
    store_test_write_file(path_of("short"), "hello", 5);
    assert_int_equal(store_pack_open_path(path_of("short"), &o, &s, &rep), -EBADMSG);
    /* a torn header (a creation that never finished) is a new, empty pack */
    store_test_write_file(path_of("torn"), "XKST", 4);
    assert_int_equal(store_pack_open_path(path_of("torn"), &o, &s, &rep), 0);
    assert_true(rep.created);
    s->ops->close(s);
    store_test_write_file(path_of("empty"), "", 0);
    assert_int_equal(store_pack_open_path(path_of("empty"), &o, &s, &rep), 0);
    s->ops->close(s);
}

/* ---- recovery: torn tails and flipped bits ------------------------------------------------- */

/* A small pack of 6 commits; sizes[i] = the file size after commit i. */
static uint8_t *small_pack(const char *name, size_t sizes[6], size_t *len)
{
    unlink(path_of(name));
    struct objstore *s = open_ok(name, NULL, NULL);
    for (uint64_t i = 0; i < 6; i++) {
        assert_int_equal(commit_n(s, i, 3, STORE_SYNC_ALWAYS), 0);
        struct store_pack_stats st;
        store_pack_stats(s, &st);
        sizes[i] = (size_t)st.file_size;
    }
    s->ops->close(s);
    return store_test_read_file(path_of(name), len);
}

static void test_torn_tail_every_offset(void **state)
{
    (void)state;
    size_t sizes[6], len;
    uint8_t *img = small_pack("tornsrc", sizes, &len);
    assert_int_equal(len, sizes[5]);
    int opened = 0;
    for (size_t cut = sizes[4]; cut <= sizes[5]; cut++) {
        for (int garbage = 0; garbage < 2; garbage++) {
            /* the last commit cut at `cut`; the rest of its bytes missing or garbage */
            uint8_t *b = malloc(len);
            memcpy(b, img, len);
            for (size_t i = cut; garbage && i < len; i++)
                b[i] = (uint8_t)(i * 131 + 7);
            store_test_write_file(path_of("torn"), b, garbage ? len : cut);
            free(b);
            struct store_pack_report rep;
            struct objstore *s = open_ok("torn", NULL, &rep);
            int64_t head = check_chain(s, 3);
            if (cut == sizes[5]) {
                assert_int_equal(head, 5);
                assert_false(rep.truncated);
            } else {
                assert_int_equal(head, 4);
                assert_true(rep.truncated || cut == sizes[4]);
                assert_int_equal(rep.valid_size, sizes[4]);
                /* and the store goes on from there */
                assert_int_equal(commit_n(s, 5, 3, STORE_SYNC_ALWAYS), 0);
            }
            s->ops->close(s);
            opened++;
        }
    }
    assert_true(opened > 100);
    free(img);
}

/* The file grows by zeros written ahead of the records (appends then overwrite allocated
 * blocks, so a sync need not write the inode). A crash leaves that zero tail: reopening
 * reads it as free space, not as a torn record; uncommitted objects before it are still cut.
 * A clean close gives the zeros back. */
static void test_prealloc_zero_tail(void **state)
{
    (void)state;
    unlink(path_of("prealloc"));
    struct objstore *s = open_ok("prealloc", NULL, NULL);
    for (uint64_t i = 0; i < 5; i++)
        assert_int_equal(commit_n(s, i, 7, STORE_SYNC_ALWAYS), 0);
    struct store_pack_stats st;
    store_pack_stats(s, &st);
    size_t len = 0;
    uint8_t *img = store_test_read_file(path_of("prealloc"), &len); /* as a SIGKILL leaves it */
    assert_true(len > st.file_size);
    for (size_t i = st.file_size; i < len; i++)
        assert_int_equal(img[i], 0);

    /* committed records + zeros: opens as it is */
    store_test_write_file(path_of("prealloc-kill"), img, len);
    struct store_pack_report rep;
    struct objstore *k = open_ok("prealloc-kill", NULL, &rep);
    assert_false(rep.truncated);
    assert_int_equal(rep.valid_size, st.file_size);
    assert_int_equal(check_chain(k, 7), 4);
    assert_int_equal(commit_n(k, 5, 7, STORE_SYNC_ALWAYS), 0);
    k->ops->close(k);
    k = open_ok("prealloc-kill", NULL, &rep);
    assert_false(rep.truncated);
    assert_int_equal(check_chain(k, 7), 5);
    struct store_pack_stats kst;
    store_pack_stats(k, &kst);
    k->ops->close(k);
    size_t klen;
    free(store_test_read_file(path_of("prealloc-kill"), &klen));
    assert_int_equal(klen, kst.file_size); /* close trimmed the zeros */

    /* an object record without its refs record, then zeros: the object is cut */
    assert_int_equal(s->ops->put(s, STORE_KIND_BLOB, "uncommitted", 11, NULL), 0);
    assert_int_equal(s->ops->flush(s), 0);
    free(img);
    img = store_test_read_file(path_of("prealloc"), &len);
    store_test_write_file(path_of("prealloc-kill"), img, len);
    k = open_ok("prealloc-kill", NULL, &rep);
    assert_true(rep.truncated);
    assert_int_equal(rep.valid_size, st.file_size);
    assert_int_equal(check_chain(k, 7), 4);
    k->ops->close(k);

    /* a non-zero byte far into the zeros: not free space; cut like any torn tail */
    img[len - 1] = 1;
    store_test_write_file(path_of("prealloc-kill"), img, len);
    k = open_ok("prealloc-kill", NULL, &rep);
    assert_true(rep.truncated);
    assert_int_equal(check_chain(k, 7), 4);
    k->ops->close(k);
    free(img);
    s->ops->close(s);
    unlink(path_of("prealloc"));
    unlink(path_of("prealloc-kill"));
}

static void test_flipped_bits_everywhere(void **state)
{
    (void)state;
    size_t sizes[6], len;
    uint8_t *img = small_pack("flipsrc", sizes, &len);
    int refused = 0, recovered = 0, intact = 0;
    for (size_t bit = 0; bit < len * 8; bit += 3) {
        img[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        store_test_write_file(path_of("flip"), img, len);
        img[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        for (int salvage = 0; salvage < 2; salvage++) {
            struct store_pack_opts o = {.salvage = salvage};
            struct store_pack_report rep;
            struct objstore *s = NULL;
            int rc = store_pack_open_path(path_of("flip"), &o, &s, &rep);
            if (rc != 0) {
                assert_int_equal(rc, -EBADMSG);
                refused++;
                continue;
            }
            /* Opened: at a committed state whose objects all check. */
            int64_t head = check_chain(s, 3);
            assert_true(head >= -1 && head <= 5);
            if (rep.truncated)
                recovered++;
            else {
                intact++;
                assert_int_equal(head, 5);
            }
            s->ops->close(s);
            if (salvage == 0 && rc == 0)
                break;
            (void)bit;
        }
    }
    printf("flipped bits: %d opens refused, %d recovered, %d intact (of a %zu-byte pack)\n",
           refused, recovered, intact, len);
    assert_true(refused > 0 && recovered > 0);
    free(img);
}

/* A bit flip in an object that a later ALWAYS commit vouches for is refused without salvage,
 * and salvage opens at the state before it. */
static void test_damaged_committed_record(void **state)
{
    (void)state;
    size_t sizes[6], len;
    uint8_t *img = small_pack("dmgsrc", sizes, &len);
    img[sizes[1] + 20] ^= 0x10; /* inside commit 2's first record */
    store_test_write_file(path_of("dmg"), img, len);
    struct objstore *s;
    struct store_pack_report rep;
    struct store_pack_opts o = {0};
    assert_int_equal(store_pack_open_path(path_of("dmg"), &o, &s, &rep), -EBADMSG);
    assert_non_null(strstr(rep.msg, "refusing"));
    o.salvage = true;
    assert_int_equal(store_pack_open_path(path_of("dmg"), &o, &s, &rep), 0);
    assert_true(rep.salvaged);
    assert_int_equal(check_chain(s, 3), 1);
    s->ops->close(s);
    free(img);
}

/* ---- fault injection ---------------------------------------------------------------------- */

static struct objstore *open_fault(const char *name, struct store_fault *f,
                                   struct store_iodir **fdir, struct store_pack_report *rep)
{
    struct store_iodir *pd;
    assert_int_equal(store_io_posix_dir(tdir, &pd), 0);
    assert_int_equal(store_io_fault_dir(pd, f, fdir), 0);
    struct store_pack_opts o = {.create = true};
    struct objstore *s = NULL;
    int rc = store_pack_open(*fdir, name, &o, &s, rep);
    return rc == 0 ? s : NULL;
}

static void test_fault_short_writes(void **state)
{
    (void)state;
    struct store_fault f = {.crash_after_bytes = -1, .short_write_every = 2};
    struct store_iodir *fd;
    unlink(path_of("short"));
    struct objstore *s = open_fault("short", &f, &fd, NULL);
    assert_non_null(s);
    assert_null(P(s)->map); /* no mapping: every byte goes through the fault backend */
    for (uint64_t i = 0; i < 200; i++)
        assert_int_equal(commit_n(s, i, 4, STORE_SYNC_ALWAYS), 0);
    s->ops->close(s);
    fd->ops->close(fd);
    s = open_ok("short", NULL, NULL);
    assert_int_equal(check_chain(s, 4), 199);
    s->ops->close(s);
}

static void test_fault_failed_sync(void **state)
{
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        struct store_fault f = {.crash_after_bytes = -1};
        struct store_iodir *fd;
        unlink(path_of("fsync"));
        struct objstore *s = open_fault("fsync", &f, &fd, NULL);
        for (uint64_t i = 0; i < 10; i++)
            assert_int_equal(commit_n(s, i, 5, STORE_SYNC_ALWAYS), 0);
        f.fail_sync_from = (uint32_t)f.syncs + 1;
        struct store_hash prev, c, out;
        s->ops->get_ref(s, "main", &prev);
        assert_int_equal(make_commit(s, 10, 5, &prev, &c), 0);
        cb_calls = cb_ok = 0;
        if (mode == 0) {
            assert_int_equal(s->ops->set_ref(s, "main", &prev, &c, STORE_SYNC_ALWAYS, cb, NULL),
                             -EIO);
            assert_int_equal(cb_calls, 1);
            assert_int_equal(cb_ok, 0);
            /* not acknowledged, not shown */
            assert_int_equal(s->ops->get_ref(s, "main", &out), 0);
            assert_true(store_hash_equal(&out, &prev));
        } else {
            assert_int_equal(s->ops->set_ref(s, "main", &prev, &c, STORE_SYNC_BATCH, cb, NULL), 0);
            assert_int_equal(s->ops->flush(s), -EIO);
            assert_int_equal(cb_calls, 1);
            assert_int_equal(cb_ok, 0);
        }
        /* the pack refuses updates from now on; reads go on */
        f.fail_sync_from = 0;
        assert_int_equal(commit_n(s, 11, 5, STORE_SYNC_NONE), -EIO);
        assert_int_equal(s->ops->flush(s), -EIO);
        assert_int_equal(check_chain(s, 5), mode == 0 ? 9 : 10);
        struct store_pack_stats st;
        store_pack_stats(s, &st);
        assert_int_equal(st.failed, -EIO);
        s->ops->close(s);
        fd->ops->close(fd);
        /* reopen: the commit in doubt may or may not be there; the state is consistent */
        s = open_ok("fsync", NULL, NULL);
        int64_t head = check_chain(s, 5);
        assert_true(head == 9 || head == 10);
        s->ops->close(s);
    }
}

static void test_fault_failed_write(void **state)
{
    (void)state;
    struct store_fault f = {.crash_after_bytes = -1};
    struct store_iodir *fd;
    unlink(path_of("fwrite"));
    struct objstore *s = open_fault("fwrite", &f, &fd, NULL);
    for (uint64_t i = 0; i < 10; i++)
        assert_int_equal(commit_n(s, i, 6, STORE_SYNC_ALWAYS), 0);
    f.fail_write_at = (uint32_t)f.writes + 1; /* the commit: its objects + refs record */
    assert_int_equal(commit_n(s, 10, 6, STORE_SYNC_ALWAYS), -EIO);
    assert_int_equal(commit_n(s, 10, 6, STORE_SYNC_ALWAYS), -EIO);
    s->ops->close(s);
    fd->ops->close(fd);
    s = open_ok("fwrite", NULL, NULL);
    assert_int_equal(check_chain(s, 6), 9);
    s->ops->close(s);
}

/* Crash after N bytes (N swept over a run of ALWAYS commits), then a power cut of each kind:
 * every acknowledged commit is there, the head is the last acknowledged one or the one in
 * flight. */
static void test_fault_crash_power_cut(void **state)
{
    (void)state;
    int cycles = 0;
    uint64_t rng = 77;
    for (int64_t limit = 40; limit < 6000; limit += 1 + (int64_t)(store_rng(&rng) % 97)) {
        for (int how = 0; how < 4; how++) {
            struct store_fault f = {.crash_after_bytes = -1};
            struct store_iodir *fd;
            unlink(path_of("crash"));
            struct store_pack_report rep;
            f.crash_after_bytes = limit;
            struct objstore *s = open_fault("crash", &f, &fd, &rep);
            int64_t acked = -1;
            if (s != NULL) {
                for (uint64_t i = 0; i < 1000; i++) {
                    if (commit_n(s, i, 7, STORE_SYNC_ALWAYS) != 0)
                        break;
                    acked = (int64_t)i;
                }
                assert_true(f.dead);
                s->ops->close(s);
            }
            assert_int_equal(store_io_fault_power_cut(fd, "crash", (enum store_power_cut)how,
                                                      (uint64_t)limit * 4 + (uint64_t)how),
                             0);
            fd->ops->close(fd);
            s = open_fault("crash", &f, &fd, &rep);
            assert_non_null(s);
            int64_t head = check_chain(s, 7);
            if (head < acked || head > acked + 1)
                fail_msg("limit %lld cut %d: head %lld, acked %lld (%s)", (long long)limit, how,
                         (long long)head, (long long)acked, rep.msg);
            s->ops->close(s);
            fd->ops->close(fd);
            cycles++;
        }
    }
    printf("crash after N bytes + power cut: %d cycles\n", cycles);
}

/* ---- a figure: open time ---------------------------------------------------------------- */

static void test_open_time(void **state)
{
    (void)state;
    const uint64_t n = getenv("STORE_OPEN_COMMITS") ? strtoull(getenv("STORE_OPEN_COMMITS"), 0, 10)
                                                    : 50000;
    struct objstore *s = open_ok("opentime", NULL, NULL);
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++)
        assert_int_equal(commit_n(s, i, 10, STORE_SYNC_NONE), 0);
    double t1 = now_s();
    struct store_pack_stats st;
    store_pack_stats(s, &st);
    s->ops->close(s);
    double t2 = now_s();
    struct store_pack_report rep;
    s = open_ok("opentime", NULL, &rep);
    double t3 = now_s();
    assert_int_equal(rep.ref_records, n);
    check_recent(s, 10, 10, (int64_t)n - 1);
    printf("open time: %llu commits (%llu bytes, %llu objects) opened in %.3f s "
           "(%.2f us/commit); written at %.0f commits/s (NONE)\n",
           (unsigned long long)n, (unsigned long long)st.file_size,
           (unsigned long long)rep.objects, t3 - t2, (t3 - t2) * 1e6 / (double)n,
           (double)n / (t1 - t0));
    s->ops->close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contract),
        cmocka_unit_test(test_index_prefix_collision),
        cmocka_unit_test(test_fill_thread),
        cmocka_unit_test(test_index_incremental_growth),
        cmocka_unit_test(test_reopen_many),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_torn_tail_every_offset),
        cmocka_unit_test(test_prealloc_zero_tail),
        cmocka_unit_test(test_flipped_bits_everywhere),
        cmocka_unit_test(test_damaged_committed_record),
        cmocka_unit_test(test_fault_short_writes),
        cmocka_unit_test(test_fault_failed_sync),
        cmocka_unit_test(test_fault_failed_write),
        cmocka_unit_test(test_fault_crash_power_cut),
        cmocka_unit_test(test_open_time),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
