/*
 * BATCH as a pipelined group commit (store_pack_sync_thread): on a backend whose sync waits
 * until the test lets it through (store_io_gate.h),
 *   - no callback runs before the sync covering its update returned, and none in the thread;
 *   - an update made while a sync runs waits for the next sync (fdatasync covers only what
 *     was written before it was called), which starts as soon as the running one ends;
 *   - a failed sync answers every waiter with ok = false and the pack refuses updates;
 *   - close finishes the sync in flight and makes the rest durable;
 *   - a GC waits for the sync running on the file it is about to replace.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/store_io_gate.h"
#include "tests/unit/store_pack_fixture.h"

static pthread_t main_thread;

struct cb {
    int calls;
    bool ok;
    bool other_thread; /* called outside the test's thread */
};

static void on_durable(void *arg, bool ok)
{
    struct cb *c = arg;
    c->calls++;
    c->ok = ok;
    if (!pthread_equal(pthread_self(), main_thread))
        c->other_thread = true;
}

struct gated {
    struct store_io_gate *gate;
    struct store_iodir *dir;
    struct objstore *s;
    int fd;        /* the sync thread's eventfd */
    uint64_t base; /* syncs the open made */
};

/* Wait until the n-th sync since the open entered the gate; syncs since the open. */
static void wait_entered(struct gated *g, uint64_t n)
{
    store_io_gate_wait_entered(g->gate, g->base + n);
}

static uint64_t entered(struct gated *g)
{
    return store_io_gate_entered(g->gate) - g->base;
}

static void gated_open(struct gated *g)
{
    main_thread = pthread_self();
    assert_int_equal(store_io_gate_dir(tdir, &g->gate, &g->dir), 0);
    struct store_pack_opts o = {.create = true};
    assert_int_equal(store_pack_open(g->dir, "p.pack", &o, &g->s, NULL), 0);
    g->fd = store_pack_sync_thread(g->s);
    assert_true(g->fd >= 0);
    assert_int_equal(store_pack_sync_thread(g->s), g->fd); /* the same thread */
    g->base = store_io_gate_entered(g->gate);
}

static void gated_close(struct gated *g)
{
    g->s->ops->close(g->s);
    g->dir->ops->close(g->dir);
    store_io_gate_free(g->gate);
}

/* Commit n with a callback (BATCH). */
static void commit_cb(struct objstore *s, uint64_t n, struct cb *c)
{
    struct store_hash prev, h;
    bool have = s->ops->get_ref(s, "main", &prev) == 0;
    assert_int_equal(make_commit(s, n, 1, have ? &prev : NULL, &h), 0);
    assert_int_equal(
        s->ops->set_ref(s, "main", have ? &prev : NULL, &h, STORE_SYNC_BATCH, on_durable, c), 0);
}

/* Wait until a finished sync is announced on the eventfd. */
static void wait_fd(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, -1), 1);
}

/* Rounds (each after a finished sync was announced) until x's callback came. */
static void rounds_until(struct gated *g, const struct cb *x)
{
    while (x->calls == 0) {
        wait_fd(g->fd);
        assert_int_equal(store_pack_sync_round(g->s), 0);
    }
}

/* The cases' common start: a gated store whose syncs are held, commit 0 (callback a) written
 * by a round and its sync entered in the thread (held there). */
static void gated_first_sync_held(struct gated *g, struct cb *a)
{
    gated_open(g);
    store_io_gate_hold(g->gate, true);
    commit_cb(g->s, 0, a);
    assert_int_equal(a->calls, 0);
    assert_int_equal(store_pack_sync_round(g->s), 0); /* writes, hands the sync to the thread */
    wait_entered(g, 1);
}

static void pipelined_batches(void **state)
{
    (void)state;
    struct gated g;
    struct cb a = {0}, b = {0}, c = {0};
    gated_first_sync_held(&g, &a);
    /* While the sync runs the caller goes on: two more commits, a round each. */
    commit_cb(g.s, 1, &b);
    assert_int_equal(store_pack_sync_round(g.s), 0);
    commit_cb(g.s, 2, &c);
    assert_int_equal(store_pack_sync_round(g.s), 0);
    assert_int_equal(a.calls + b.calls + c.calls, 0);
    struct store_pack_stats st;
    store_pack_stats(g.s, &st);
    assert_int_equal(st.pending, 3);
    /* The first sync returns: only a is covered (b and c were written after it began). */
    store_io_gate_release(g.gate, 0);
    wait_fd(g.fd);
    assert_int_equal(store_pack_sync_round(g.s), 0);
    assert_int_equal(a.calls, 1);
    assert_true(a.ok);
    assert_false(a.other_thread);
    assert_int_equal(b.calls + c.calls, 0);
    /* The next sync began as the first ended, without waiting for a round. */
    wait_entered(&g, 2);
    store_io_gate_release(g.gate, 0);
    rounds_until(&g, &b);
    assert_int_equal(b.calls, 1);
    assert_int_equal(c.calls, 1);
    assert_true(b.ok && c.ok);
    assert_false(b.other_thread || c.other_thread);
    store_pack_stats(g.s, &st);
    assert_int_equal(st.pending, 0);
    assert_int_equal(entered(&g), 2); /* one sync for b and c */
    /* store_pack_poll has no timer to offer: the eventfd wakes the loop. */
    assert_int_equal(store_pack_poll(g.s), -1);
    store_io_gate_hold(g.gate, false);
    gated_close(&g);
    struct objstore *s = open_ok("p.pack", NULL, NULL);
    assert_int_equal(check_chain(s, 1), 2);
    s->ops->close(s);
}

/* WRITE updates (--sync none) need no sync: the round that writes them answers them, even
 * while a sync for a BATCH update runs. */
static void write_mode_beside_thread(void **state)
{
    (void)state;
    struct gated g;
    struct cb a = {0}, w = {0};
    gated_first_sync_held(&g, &a);
    struct store_hash prev, h;
    assert_int_equal(g.s->ops->get_ref(g.s, "main", &prev), 0);
    assert_int_equal(make_commit(g.s, 1, 1, &prev, &h), 0);
    assert_int_equal(
        g.s->ops->set_ref(g.s, "main", &prev, &h, STORE_SYNC_WRITE, on_durable, &w), 0);
    assert_int_equal(w.calls, 0);
    assert_int_equal(store_pack_sync_round(g.s), 0);
    assert_int_equal(w.calls, 1);
    assert_int_equal(a.calls, 0);
    store_io_gate_release(g.gate, 0);
    rounds_until(&g, &a);
    assert_int_equal(entered(&g), 1); /* the WRITE update asked for none */
    store_io_gate_hold(g.gate, false);
    gated_close(&g);
}

static void failed_sync(void **state)
{
    (void)state;
    struct gated g;
    struct cb a = {0}, b = {0};
    gated_first_sync_held(&g, &a);
    commit_cb(g.s, 1, &b);
    store_io_gate_release(g.gate, -EIO);
    wait_fd(g.fd);
    assert_int_equal(store_pack_sync_round(g.s), -EIO);
    assert_int_equal(a.calls, 1);
    assert_false(a.ok);
    assert_int_equal(b.calls, 1);
    assert_false(b.ok);
    struct store_hash prev, h;
    assert_int_equal(g.s->ops->get_ref(g.s, "main", &prev), 0);
    assert_int_equal(make_commit(g.s, 2, 1, &prev, &h), -EIO); /* updates refused */
    struct store_pack_stats st;
    store_pack_stats(g.s, &st);
    assert_int_equal(st.failed, -EIO);
    store_io_gate_hold(g.gate, false);
    gated_close(&g);
}

/* close: the thread finishes the sync it runs, the flush answers the rest. */
static void close_finishes(void **state)
{
    (void)state;
    struct gated g;
    gated_open(&g);
    struct cb a = {0}, b = {0};
    commit_cb(g.s, 0, &a);
    assert_int_equal(store_pack_sync_round(g.s), 0);
    commit_cb(g.s, 1, &b); /* still in the write buffer */
    gated_close(&g);
    assert_int_equal(a.calls, 1);
    assert_true(a.ok);
    assert_int_equal(b.calls, 1);
    assert_true(b.ok);
    struct objstore *s = open_ok("p.pack", NULL, NULL);
    assert_int_equal(check_chain(s, 1), 1);
    s->ops->close(s);
}

/* flush (the synchronous path) while the thread's sync runs: everything durable, every
 * callback called, in the caller's thread. */
static void flush_beside_thread(void **state)
{
    (void)state;
    struct gated g;
    struct cb a = {0}, b = {0};
    gated_first_sync_held(&g, &a);
    commit_cb(g.s, 1, &b);
    store_io_gate_release(g.gate, 0); /* the thread's sync */
    store_io_gate_release(g.gate, 0); /* flush's own */
    assert_int_equal(g.s->ops->flush(g.s), 0);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_false(a.other_thread || b.other_thread);
    assert_int_equal(store_pack_sync_round(g.s), 0);
    assert_int_equal(a.calls + b.calls, 2);
    store_io_gate_hold(g.gate, false);
    gated_close(&g);
}

struct gc_arg {
    struct objstore *s;
    int rc;
    volatile bool done;
};

static int enum_all(void *arg, store_live_fn live, void *larg)
{
    struct objstore *s = arg;
    struct store_hash h;
    if (s->ops->get_ref(s, "main", &h) != 0)
        return 0;
    for (;;) {
        enum store_kind k;
        void *d;
        size_t len;
        int rc = live(larg, &h);
        if (rc == 0)
            rc = s->ops->get(s, &h, &k, &d, &len);
        if (rc != 0)
            return rc;
        struct cobj c;
        memcpy(&c, d, sizeof c);
        free(d);
        if ((rc = live(larg, &c.blob)) != 0)
            return rc;
        if (c.n == 0)
            return 0;
        h = c.prev;
    }
}

static void *gc_main(void *arg)
{
    struct gc_arg *a = arg;
    a->rc = store_pack_gc(a->s, enum_all, a->s, NULL);
    a->done = true;
    return NULL;
}

/* A GC switching files waits for the sync the thread runs on the old one. */
static void gc_waits_for_sync(void **state)
{
    (void)state;
    struct gated g;
    gated_open(&g);
    struct cb cbs[20] = {{0}};
    for (int i = 0; i < 19; i++)
        commit_cb(g.s, (uint64_t)i, &cbs[i]);
    assert_int_equal(g.s->ops->flush(g.s), 0);
    g.base = store_io_gate_entered(g.gate);
    store_io_gate_hold(g.gate, true);
    commit_cb(g.s, 19, &cbs[19]);
    assert_int_equal(store_pack_sync_round(g.s), 0);
    wait_entered(&g, 1);
    struct gc_arg a = {.s = g.s};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, gc_main, &a), 0);
    usleep(50000);
    assert_false(a.done); /* (a slow machine may only miss a bug here, never fail) */
    store_io_gate_release(g.gate, 0); /* the thread's sync */
    store_io_gate_release(g.gate, 0); /* the GC's sync of the new file */
    pthread_join(t, NULL);
    assert_int_equal(a.rc, 0);
    assert_int_equal(store_pack_sync_round(g.s), 0);
    assert_int_equal(cbs[19].calls, 1);
    assert_true(cbs[19].ok);
    store_io_gate_hold(g.gate, false);
    struct cb c = {0};
    commit_cb(g.s, 20, &c);
    assert_int_equal(store_pack_sync_round(g.s), 0);
    rounds_until(&g, &c);
    gated_close(&g);
    struct objstore *s = open_ok("p.pack", NULL, NULL);
    assert_int_equal(check_chain(s, 1), 20);
    s->ops->close(s);
}

/* Without the thread, the round writes, syncs and answers at once (as flush). */
static void round_without_thread(void **state)
{
    (void)state;
    struct objstore *s = open_ok("p.pack", NULL, NULL);
    struct cb a = {0};
    main_thread = pthread_self();
    commit_cb(s, 0, &a);
    assert_int_equal(a.calls, 0);
    assert_int_equal(store_pack_sync_round(s), 0);
    assert_int_equal(a.calls, 1);
    assert_true(a.ok);
    struct store_pack_stats st;
    store_pack_stats(s, &st);
    assert_int_equal(st.pending, 0);
    s->ops->close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(pipelined_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(write_mode_beside_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(close_finishes, setup, teardown),
        cmocka_unit_test_setup_teardown(flush_beside_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(gc_waits_for_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(round_without_thread, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
