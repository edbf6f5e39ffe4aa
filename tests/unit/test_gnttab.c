/*
 * Grant-table bookkeeping (xen/gnttab_core.c) and the foreign-map window's slots
 * (xen/gntmap_slots.c), with this test playing Xen: frames are ordinary page-aligned memory,
 * and "the peer maps the page" means setting GTF_reading/GTF_writing in the entry. Covers ref
 * allocation with exhaustion and growth, the entries' contents and the order of the stores,
 * revocation while mapped (and the deferred list), invalid and hostile input, and random
 * operation sequences checked against a simple model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xen/gntmap_slots.h"
#include "xen/gnttab_core.h"

#define PER_FRAME GNTTAB_ENTRIES_PER_FRAME
#define RESERVED GNTTAB_NR_RESERVED_ENTRIES

struct fixture {
    struct gnttab_core core;
    grant_entry_v1_t *frames[GNTTAB_CORE_MAX_FRAMES];
    unsigned wmbs;
    grant_ref_t checking;   /* ref whose entry wmb_check inspects (GNTTAB_NO_REF: none) */
    domid_t want_domid;
    uint32_t want_frame;
};

static struct fixture *fx;

static grant_entry_v1_t *new_frame(void)
{
    grant_entry_v1_t *f = aligned_alloc(GNTTAB_PAGE_SIZE, GNTTAB_PAGE_SIZE);
    assert_non_null(f);
    memset(f, 0xa5, GNTTAB_PAGE_SIZE); /* garbage: add_frame must clear what it hands out */
    return f;
}

/* The write barrier callback: at this point domid and frame must be in the entry and the
 * flags still clear, or Xen could see a valid entry with stale contents. */
static void wmb_check(void *ctx)
{
    struct fixture *f = ctx;
    f->wmbs++;
    if (f->checking == GNTTAB_NO_REF)
        return;
    grant_entry_v1_t *e =
        &f->frames[f->checking / PER_FRAME][f->checking % PER_FRAME];
    assert_int_equal(e->flags, 0);
    assert_int_equal(e->domid, f->want_domid);
    assert_int_equal(e->frame, f->want_frame);
}

static struct gnttab_core_ops ops;

static int setup(void **state)
{
    fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    fx->checking = GNTTAB_NO_REF;
    ops = (struct gnttab_core_ops){ wmb_check, fx };
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (unsigned i = 0; i < GNTTAB_CORE_MAX_FRAMES; i++)
        free(fx->frames[i]);
    free(fx);
    return 0;
}

static void init_core(uint32_t max_frames, uint32_t initial)
{
    gnttab_core_init(&fx->core, max_frames, &ops);
    for (uint32_t i = 0; i < initial; i++) {
        if (fx->frames[i] == NULL)
            fx->frames[i] = new_frame();
        assert_int_equal(gnttab_core_add_frame(&fx->core, fx->frames[i]), 0);
    }
}

static int add_next_frame(void)
{
    uint32_t i = fx->core.nr_frames;
    if (i < GNTTAB_CORE_MAX_FRAMES && fx->frames[i] == NULL)
        fx->frames[i] = new_frame();
    else if (i < GNTTAB_CORE_MAX_FRAMES)
        memset(fx->frames[i], 0xa5, GNTTAB_PAGE_SIZE);  /* reused: garbage again */
    return gnttab_core_add_frame(&fx->core, i < GNTTAB_CORE_MAX_FRAMES ? fx->frames[i]
                                                                        : fx->frames[0]);
}

static grant_entry_v1_t *ent(grant_ref_t ref)
{
    return &fx->frames[ref / PER_FRAME][ref % PER_FRAME];
}

static grant_ref_t grant_ok(domid_t domid, uint32_t frame, bool ro)
{
    grant_ref_t ref = GNTTAB_NO_REF;
    assert_int_equal(gnttab_core_grant(&fx->core, domid, frame, ro, &ref), 0);
    return ref;
}

static void test_init_clamps(void **state)
{
    (void)state;
    gnttab_core_init(&fx->core, 0, &ops);
    assert_int_equal(fx->core.max_frames, 1);
    gnttab_core_init(&fx->core, 100000, &ops);
    assert_int_equal(fx->core.max_frames, GNTTAB_CORE_MAX_FRAMES);
    assert_int_equal(gnttab_core_capacity(&fx->core), 0);
    grant_ref_t ref;
    /* No frame yet: the caller must add one. */
    assert_int_equal(gnttab_core_grant(&fx->core, 0, 1, false, &ref), -XEN_EAGAIN);
}

/* The first refs handed out are 8, 9, ... (FIFO), never a reserved one, and the reserved
 * entries (the toolstack's console and xenstore grants) are never touched. */
static void test_reserved_untouched(void **state)
{
    (void)state;
    gnttab_core_init(&fx->core, 2, &ops);
    fx->frames[0] = new_frame();
    grant_entry_v1_t saved[RESERVED];
    memcpy(saved, fx->frames[0], sizeof(saved));
    assert_int_equal(gnttab_core_add_frame(&fx->core, fx->frames[0]), 0);
    assert_int_equal(gnttab_core_capacity(&fx->core), PER_FRAME - RESERVED);
    assert_int_equal(gnttab_core_nr_free(&fx->core), PER_FRAME - RESERVED);
    for (grant_ref_t r = RESERVED; r < PER_FRAME; r++) {
        assert_int_equal(ent(r)->flags, 0);
        assert_int_equal(ent(r)->domid, 0);
        assert_int_equal(ent(r)->frame, 0);
    }
    for (grant_ref_t want = RESERVED; want < PER_FRAME; want++)
        assert_int_equal(grant_ok(0, want, false), want);
    assert_memory_equal(saved, fx->frames[0], sizeof(saved));
    for (grant_ref_t r = 0; r < RESERVED; r++) {
        assert_int_equal(gnttab_core_end(&fx->core, r), -XEN_EINVAL);
        assert_false(gnttab_core_query(&fx->core, r, NULL, NULL, NULL));
    }
    assert_memory_equal(saved, fx->frames[0], sizeof(saved));
}

static void test_exhaustion_and_growth(void **state)
{
    (void)state;
    init_core(3, 1);
    grant_ref_t ref;
    uint32_t granted = 0;
    for (uint32_t frame = 1; frame <= 3; frame++) {
        int rc;
        while ((rc = gnttab_core_grant(&fx->core, 1, granted, false, &ref)) == 0)
            granted++;
        assert_int_equal(granted, frame * PER_FRAME - RESERVED);
        assert_int_equal(gnttab_core_nr_free(&fx->core), 0);
        if (frame < 3) {
            assert_int_equal(rc, -XEN_EAGAIN);  /* "add a frame and call again" */
            assert_int_equal(add_next_frame(), 0);
            assert_int_equal(gnttab_core_nr_free(&fx->core), PER_FRAME);
        } else {
            assert_int_equal(rc, -XEN_ENOSPC);  /* at the maximum: no growth possible */
            assert_int_equal(add_next_frame(), -XEN_ENOSPC);
        }
    }
    assert_int_equal(gnttab_core_capacity(&fx->core), 3 * PER_FRAME - RESERVED);
    /* Freeing one makes exactly one available, and it is the one handed out next. */
    assert_int_equal(gnttab_core_end(&fx->core, 700), 0);
    assert_int_equal(grant_ok(2, 5, true), 700);
    assert_int_equal(gnttab_core_grant(&fx->core, 1, 1, false, &ref), -XEN_ENOSPC);
    /* Revoke everything: all refs free again. */
    for (grant_ref_t r = RESERVED; r < 3 * PER_FRAME; r++)
        assert_int_equal(gnttab_core_end(&fx->core, r), 0);
    assert_int_equal(gnttab_core_nr_free(&fx->core), 3 * PER_FRAME - RESERVED);
    for (grant_ref_t r = RESERVED; r < 3 * PER_FRAME; r++)
        assert_int_equal(ent(r)->flags, 0);
}

static void test_entry_contents_and_order(void **state)
{
    (void)state;
    init_core(2, 1);
    static const struct { domid_t domid; uint32_t frame; bool ro; } cases[] = {
        { 0, 0x1234, false }, { 7, 0xffffffffu, true }, { DOMID_FIRST_RESERVED - 1, 1, false },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fx->checking = fx->core.free.head;  /* the ref about to be handed out */
        fx->want_domid = cases[i].domid;
        fx->want_frame = cases[i].frame;
        unsigned wmbs = fx->wmbs;
        grant_ref_t ref = grant_ok(cases[i].domid, cases[i].frame, cases[i].ro);
        assert_int_equal(ref, fx->checking);
        assert_int_equal(fx->wmbs, wmbs + 1);
        assert_int_equal(ent(ref)->domid, cases[i].domid);
        assert_int_equal(ent(ref)->frame, cases[i].frame);
        assert_int_equal(ent(ref)->flags,
                         GTF_permit_access | (cases[i].ro ? GTF_readonly : 0));
        domid_t d;
        uint32_t f;
        bool ro;
        assert_true(gnttab_core_query(&fx->core, ref, &d, &f, &ro));
        assert_int_equal(d, cases[i].domid);
        assert_int_equal(f, cases[i].frame);
        assert_int_equal(ro, cases[i].ro);
    }
    fx->checking = GNTTAB_NO_REF;
    /* No ops at all (NULL) works too. */
    gnttab_core_init(&fx->core, 1, NULL);
    assert_int_equal(gnttab_core_add_frame(&fx->core, fx->frames[0]), 0);
    assert_int_equal(grant_ok(3, 3, false), RESERVED);
}

/* Xen marks a mapped entry GTF_reading (and GTF_writing for a writable mapping): revoking
 * must fail, keep the grant and leave the entry alone. */
static void test_end_while_peer_maps(void **state)
{
    (void)state;
    init_core(1, 1);
    static const uint16_t busy[] = { GTF_reading, GTF_writing, GTF_reading | GTF_writing };
    for (size_t i = 0; i < 3; i++) {
        grant_ref_t ref = grant_ok(5, 0x99, false);
        uint16_t flags = GTF_permit_access | busy[i];
        ent(ref)->flags = flags;
        for (int tries = 0; tries < 3; tries++) {
            assert_int_equal(gnttab_core_end(&fx->core, ref), -XEN_EBUSY);
            assert_int_equal(ent(ref)->flags, flags);
            assert_true(gnttab_core_query(&fx->core, ref, NULL, NULL, NULL));
        }
        uint32_t nfree = gnttab_core_nr_free(&fx->core);
        ent(ref)->flags = GTF_permit_access;    /* the peer unmapped */
        assert_int_equal(gnttab_core_end(&fx->core, ref), 0);
        assert_int_equal(ent(ref)->flags, 0);
        assert_int_equal(gnttab_core_nr_free(&fx->core), nfree + 1);
        assert_false(gnttab_core_query(&fx->core, ref, NULL, NULL, NULL));
    }
    /* A readonly grant the peer maps for reading. */
    grant_ref_t ref = grant_ok(5, 0x99, true);
    ent(ref)->flags |= GTF_reading;
    assert_int_equal(gnttab_core_end(&fx->core, ref), -XEN_EBUSY);
    ent(ref)->flags &= (uint16_t)~GTF_reading;
    assert_int_equal(gnttab_core_end(&fx->core, ref), 0);
}

struct released {
    unsigned n;
    grant_ref_t refs[16];
    uint32_t frames[16];
};

static void on_release(void *ctx, grant_ref_t ref, uint32_t frame)
{
    struct released *r = ctx;
    assert_true(r->n < 16);
    r->refs[r->n] = ref;
    r->frames[r->n++] = frame;
}

static void test_deferred(void **state)
{
    (void)state;
    init_core(1, 1);
    struct released rel = { 0 };

    /* Not mapped: revoked at once. */
    grant_ref_t a = grant_ok(1, 0x100, false);
    assert_int_equal(gnttab_core_end_deferred(&fx->core, a), 0);

    grant_ref_t b = grant_ok(1, 0x200, false), c = grant_ok(1, 0x300, true);
    ent(b)->flags |= GTF_reading | GTF_writing;
    ent(c)->flags |= GTF_reading;
    assert_int_equal(gnttab_core_end_deferred(&fx->core, b), 1);
    assert_int_equal(gnttab_core_end_deferred(&fx->core, c), 1);
    /* Deferred refs belong to the deferred list: not granted, not free, not revocable. */
    assert_false(gnttab_core_query(&fx->core, b, NULL, NULL, NULL));
    assert_int_equal(gnttab_core_end(&fx->core, b), -XEN_EINVAL);
    assert_int_equal(gnttab_core_end_deferred(&fx->core, b), -XEN_EINVAL);
    uint32_t nfree = gnttab_core_nr_free(&fx->core);

    assert_int_equal(gnttab_core_retry_deferred(&fx->core, on_release, &rel), 2);
    assert_int_equal(rel.n, 0);

    /* A hostile writer scribbles over the shared entry's frame: what we report for release
     * is what we granted, from our private record. */
    ent(b)->frame = 0xdead;
    ent(b)->flags = GTF_permit_access;
    assert_int_equal(gnttab_core_retry_deferred(&fx->core, on_release, &rel), 1);
    assert_int_equal(rel.n, 1);
    assert_int_equal(rel.refs[0], b);
    assert_int_equal(rel.frames[0], 0x200);
    assert_int_equal(ent(b)->flags, 0);
    assert_int_equal(gnttab_core_nr_free(&fx->core), nfree + 1);

    ent(c)->flags &= (uint16_t)~GTF_reading;
    assert_int_equal(gnttab_core_retry_deferred(&fx->core, on_release, &rel), 0);
    assert_int_equal(rel.n, 2);
    assert_int_equal(rel.refs[1], c);
    assert_int_equal(rel.frames[1], 0x300);
    assert_int_equal(gnttab_core_retry_deferred(&fx->core, NULL, NULL), 0);
    assert_int_equal(gnttab_core_nr_free(&fx->core), PER_FRAME - RESERVED);
}

static void test_invalid_input(void **state)
{
    (void)state;
    init_core(2, 1);
    grant_ref_t ref;
    assert_int_equal(gnttab_core_grant(&fx->core, DOMID_SELF, 1, false, &ref), -XEN_EINVAL);
    assert_int_equal(gnttab_core_grant(&fx->core, DOMID_FIRST_RESERVED, 1, false, &ref),
                     -XEN_EINVAL);
    assert_int_equal(gnttab_core_grant(&fx->core, 0xffff, 1, false, &ref), -XEN_EINVAL);
    assert_int_equal(gnttab_core_grant(&fx->core, 1, 1, false, NULL), -XEN_EINVAL);
    assert_int_equal(gnttab_core_nr_free(&fx->core), PER_FRAME - RESERVED);

    static const grant_ref_t bad[] = {
        0, 1, RESERVED - 1,                 /* reserved */
        RESERVED, PER_FRAME - 1,            /* free */
        PER_FRAME, 2 * PER_FRAME - 1,       /* frame not added yet */
        GNTTAB_CORE_MAX_REFS, GNTTAB_CORE_MAX_REFS + 1, 0x7fffffff, GNTTAB_NO_REF,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(gnttab_core_end(&fx->core, bad[i]), -XEN_EINVAL);
        assert_int_equal(gnttab_core_end_deferred(&fx->core, bad[i]), -XEN_EINVAL);
        assert_false(gnttab_core_query(&fx->core, bad[i], NULL, NULL, NULL));
    }
    /* Double revoke. */
    ref = grant_ok(1, 1, false);
    assert_int_equal(gnttab_core_end(&fx->core, ref), 0);
    assert_int_equal(gnttab_core_end(&fx->core, ref), -XEN_EINVAL);
    assert_int_equal(gnttab_core_nr_free(&fx->core), PER_FRAME - RESERVED);

    /* Frames: NULL and misaligned pointers are refused and change nothing. */
    assert_int_equal(gnttab_core_add_frame(&fx->core, NULL), -XEN_EINVAL);
    grant_entry_v1_t *f = new_frame();
    assert_int_equal(gnttab_core_add_frame(&fx->core, f + 1), -XEN_EINVAL);
    assert_int_equal(fx->core.nr_frames, 1);
    free(f);
}

/* Random grants, revocations (some while "mapped"), deferrals, retries and growth, checked
 * after every step against a model of what each ref should be. */
enum model_state { M_ABSENT, M_FREE, M_GRANTED, M_DEFERRED };
struct model_ref {
    enum model_state st;
    domid_t domid;
    uint32_t frame;
    bool ro;
};

static uint64_t rng;
static uint32_t rnd(uint32_t n)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 33) % n;
}

static void model_check(const struct model_ref *m, uint32_t max_refs)
{
    uint32_t nfree = 0;
    for (grant_ref_t r = RESERVED; r < max_refs; r++) {
        domid_t d;
        uint32_t f;
        bool ro;
        bool granted = gnttab_core_query(&fx->core, r, &d, &f, &ro);
        assert_int_equal(granted, m[r].st == M_GRANTED);
        nfree += m[r].st == M_FREE;
        if (m[r].st == M_FREE || m[r].st == M_ABSENT)
            continue;
        if (granted) {
            assert_int_equal(d, m[r].domid);
            assert_int_equal(f, m[r].frame);
            assert_int_equal(ro, m[r].ro);
        }
        /* The entry as Xen sees it, ignoring the busy bits we set ourselves. */
        grant_entry_v1_t *e = ent(r);
        assert_int_equal(e->flags & ~(GTF_reading | GTF_writing),
                         GTF_permit_access | (m[r].ro ? GTF_readonly : 0));
        assert_int_equal(e->domid, m[r].domid);
        assert_int_equal(e->frame, m[r].frame);
    }
    assert_int_equal(gnttab_core_nr_free(&fx->core), nfree);
}

struct random_stats {
    unsigned grows, full, busy;
};

/* Phases alternate between filling (mostly grants) and draining (mostly revocations); each
 * is long enough (3000 steps per frame, about 1000 refs net) for the table to grow to its
 * maximum and run full, or to empty again. */
static struct random_stats run_random(uint64_t seed, uint32_t max_frames, unsigned phases)
{
    const unsigned phase = 3000 * max_frames, steps = phases * phase;
    struct random_stats rs = { 0 };
    rng = seed;
    init_core(max_frames, 1);
    uint32_t max_refs = max_frames * PER_FRAME;
    struct model_ref *m = calloc(max_refs, sizeof(*m));
    for (grant_ref_t r = RESERVED; r < PER_FRAME; r++)
        m[r].st = M_FREE;
    uint32_t frames = 1;
    grant_ref_t *granted = calloc(max_refs, sizeof(*granted)); /* a bag of granted refs */
    uint32_t ngranted = 0;

    for (unsigned step = 0; step < steps; step++) {
        bool draining = (step / phase) % 2;
        uint32_t op = rnd(100);
        uint32_t grant_end = draining ? 20 : 55, peer_end = grant_end + 15;
        uint32_t revoke_end = peer_end + (draining ? 55 : 20), retry_end = revoke_end + 5;
        if (op < grant_end) {                       /* grant */
            domid_t d = (domid_t)rnd(DOMID_FIRST_RESERVED);
            uint32_t f = (uint32_t)rng;
            bool ro = rnd(2);
            grant_ref_t ref;
            int rc = gnttab_core_grant(&fx->core, d, f, ro, &ref);
            if (rc == -XEN_EAGAIN) {
                assert_true(frames < max_frames);
                assert_int_equal(add_next_frame(), 0);
                rs.grows++;
                for (grant_ref_t r = frames * PER_FRAME; r < (frames + 1) * PER_FRAME; r++)
                    m[r].st = M_FREE;
                frames++;
                rc = gnttab_core_grant(&fx->core, d, f, ro, &ref);
            }
            if (rc == -XEN_ENOSPC) {
                assert_int_equal(frames, max_frames);
                assert_int_equal(gnttab_core_nr_free(&fx->core), 0);
                rs.full++;
                continue;
            }
            assert_int_equal(rc, 0);
            assert_true(ref >= RESERVED && ref < frames * PER_FRAME);
            assert_int_equal(m[ref].st, M_FREE);
            m[ref] = (struct model_ref){ M_GRANTED, d, f, ro };
            granted[ngranted++] = ref;
        } else if (op < peer_end && ngranted > 0) { /* the peer maps or unmaps */
            grant_ref_t ref = granted[rnd(ngranted)];
            uint16_t bits = (uint16_t)(rnd(2) ? GTF_reading : 0) |
                            (uint16_t)(!m[ref].ro && rnd(2) ? GTF_writing : 0);
            ent(ref)->flags = (uint16_t)((ent(ref)->flags & ~(GTF_reading | GTF_writing)) |
                                         bits);
        } else if (op < revoke_end && ngranted > 0) { /* revoke, maybe deferred */
            uint32_t k = rnd(ngranted);
            grant_ref_t ref = granted[k];
            bool busy = ent(ref)->flags & (GTF_reading | GTF_writing);
            bool defer = rnd(2);
            int rc = defer ? gnttab_core_end_deferred(&fx->core, ref)
                           : gnttab_core_end(&fx->core, ref);
            if (busy) {
                rs.busy++;
                assert_int_equal(rc, defer ? 1 : -XEN_EBUSY);
                if (!defer)
                    continue;
                m[ref].st = M_DEFERRED;
            } else {
                assert_int_equal(rc, 0);
                m[ref].st = M_FREE;
            }
            granted[k] = granted[--ngranted];
        } else if (op < retry_end) {                /* deferred refs' peers unmap; retry */
            uint32_t expect_left = 0;
            for (grant_ref_t r = RESERVED; r < frames * PER_FRAME; r++) {
                if (m[r].st != M_DEFERRED)
                    continue;
                if (rnd(2))
                    ent(r)->flags &= (uint16_t)~(GTF_reading | GTF_writing);
                if (ent(r)->flags & (GTF_reading | GTF_writing))
                    expect_left++;
                else
                    m[r].st = M_FREE;
            }
            assert_int_equal(gnttab_core_retry_deferred(&fx->core, NULL, NULL), expect_left);
        } else {                                    /* garbage refs are refused */
            grant_ref_t ref = (grant_ref_t)rng;
            if (ref < max_refs && m[ref].st == M_GRANTED)
                continue;
            assert_int_equal(gnttab_core_end(&fx->core, ref), -XEN_EINVAL);
        }
        if (step % 64 == 0)
            model_check(m, max_refs);
    }
    model_check(m, max_refs);
    free(granted);
    free(m);
    return rs;
}

static void test_random_against_model(void **state)
{
    (void)state;
    static const struct { uint64_t seed; uint32_t frames; } runs[] = {
        { 1, 1 }, { 2, 3 }, { 0xfeedface, 5 }, { 77, 2 },
    };
    for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        struct random_stats rs = run_random(runs[i].seed, runs[i].frames, 4);
        /* The sequence reached what it is meant to test. */
        assert_int_equal(rs.grows, runs[i].frames - 1);
        assert_true(rs.full > 0);
        assert_true(rs.busy > 0);
    }
}

/* --- the map window's slots --- */

static void test_slots_alloc_free(void **state)
{
    (void)state;
    struct gntmap_slots *s = calloc(1, sizeof(*s));
    const uint64_t base = 0xF1000000ull;
    gntmap_slots_init(s, base, 16);
    uint32_t a, b, c, x;

    assert_int_equal(gntmap_slots_alloc(s, 4, &a), 0);
    assert_int_equal(a, 0);
    assert_int_equal(gntmap_slots_alloc(s, 1, &b), 0);
    assert_int_equal(b, 4);
    assert_int_equal(gntmap_slots_alloc(s, 11, &c), 0);
    assert_int_equal(c, 5);
    assert_int_equal(s->used, 16);
    assert_int_equal(gntmap_slots_alloc(s, 1, &x), -XEN_ENOSPC);

    /* Free the middle run: a run of 2 does not fit in its hole of 1, a run of 1 does. */
    gntmap_slots_free(s, b);
    assert_int_equal(gntmap_slots_alloc(s, 2, &x), -XEN_ENOSPC);
    assert_int_equal(gntmap_slots_alloc(s, 1, &x), 0);
    assert_int_equal(x, 4);
    gntmap_slots_free(s, x);
    gntmap_slots_free(s, a);
    assert_int_equal(gntmap_slots_alloc(s, 5, &x), 0);  /* 0..3 + 4 coalesce */
    assert_int_equal(x, 0);
    assert_int_equal(gntmap_slots_addr(s, 3), base + 3 * GNTMAP_SLOT_SIZE);

    /* Bad sizes; a window larger than the table is clamped. */
    assert_int_equal(gntmap_slots_alloc(s, 0, &x), -XEN_EINVAL);
    assert_int_equal(gntmap_slots_alloc(s, 70000, &x), -XEN_EINVAL);
    assert_int_equal(gntmap_slots_alloc(s, 1, NULL), -XEN_EINVAL);
    gntmap_slots_init(s, base, 1u << 30);
    assert_int_equal(s->nr, GNTMAP_MAX_SLOTS);
    assert_int_equal(gntmap_slots_alloc(s, GNTMAP_MAX_SLOTS, &x), 0);
    assert_int_equal(s->used, GNTMAP_MAX_SLOTS);
    gntmap_slots_free(s, x);
    assert_int_equal(s->used, 0);
    free(s);
}

static void test_slots_lookup_and_state(void **state)
{
    (void)state;
    struct gntmap_slots *s = calloc(1, sizeof(*s));
    const uint64_t base = 0xF1000000ull;
    gntmap_slots_init(s, base, 8);
    uint32_t first, x;
    assert_int_equal(gntmap_slots_alloc(s, 1, &x), 0);
    assert_int_equal(gntmap_slots_alloc(s, 3, &first), 0);
    uint64_t addr = gntmap_slots_addr(s, first);

    assert_int_equal(gntmap_slots_lookup(s, addr, 3, &x), 0);
    assert_int_equal(x, first);
    /* Wrong count, inside the run, misaligned, outside the window, free slots. */
    assert_int_equal(gntmap_slots_lookup(s, addr, 2, &x), -XEN_EINVAL);
    assert_int_equal(gntmap_slots_lookup(s, addr, 4, &x), -XEN_EINVAL);
    assert_int_equal(gntmap_slots_lookup(s, addr + GNTMAP_SLOT_SIZE, 2, &x), -XEN_EINVAL);
    assert_int_equal(gntmap_slots_lookup(s, addr + 8, 3, &x), -XEN_EINVAL);
    assert_int_equal(gntmap_slots_lookup(s, base - GNTMAP_SLOT_SIZE, 1, &x), -XEN_EINVAL);
    assert_int_equal(gntmap_slots_lookup(s, base + 8 * GNTMAP_SLOT_SIZE, 1, &x), -XEN_EINVAL);
    assert_int_equal(gntmap_slots_lookup(s, base + 6 * GNTMAP_SLOT_SIZE, 1, &x), -XEN_EINVAL);
    assert_int_equal(gntmap_slots_lookup(s, UINT64_MAX & ~0xfffull, 1, &x), -XEN_EINVAL);
    assert_int_equal(gntmap_slots_lookup(s, addr, 3, NULL), -XEN_EINVAL);

    gntmap_slots_set_mapped(s, first + 1, 7, 42, 99);
    assert_int_equal(s->slot[first + 1].state, GNTMAP_SLOT_MAPPED);
    assert_int_equal(s->slot[first + 1].ref, 42);
    assert_int_equal(s->slot[first + 1].handle, 99);
    assert_int_equal(s->slot[first + 1].domid, 7);
    gntmap_slots_set_unmapped(s, first + 1);
    assert_int_equal(s->slot[first + 1].state, GNTMAP_SLOT_RESERVED);
    /* Free slots cannot be marked mapped; out-of-range indexes and frees are ignored. */
    gntmap_slots_set_mapped(s, 7, 1, 1, 1);
    assert_int_equal(s->slot[7].state, GNTMAP_SLOT_FREE);
    gntmap_slots_set_mapped(s, 1000, 1, 1, 1);
    gntmap_slots_free(s, 1000);
    gntmap_slots_free(s, first + 1);    /* not the start of a run */
    assert_int_equal(s->used, 4);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_init_clamps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reserved_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exhaustion_and_growth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entry_contents_and_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_while_peer_maps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deferred, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_against_model, setup, teardown),
        cmocka_unit_test(test_slots_alloc_free),
        cmocka_unit_test(test_slots_lookup_and_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
