/*
 * vxenstored's watches in-process (tests/unit/vxs_harness.c), with unprivileged domain
 * connections: the old Irmin prototype's watch tables and C xenstored 4.17's rules
 * (xenstored_watch.c): relative paths, events only for watchers that may read the node or
 * its parent, events of transactions at their commit, recursive removal, the special
 * watches @introduceDomain/@releaseDomain and their perms, SET_TARGET, watch depth and
 * RESET_WATCHES. The rest of request handling is in test_vxs_dispatch.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/vxs_dispatch_checks.h"

/* ---- watches -------------------------------------------------------------------------- */

static void test_simple_watches(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1);
    assert_int_equal(vh_mkdir(d0, 0, "/a"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/a", "b0"), 0);
    assert_int_equal(vh_watch(d0, "/a", "token"), 0);
    EVENT(d0, "/a", "token"); /* the first event, at once */
    NO_EVENT(d0);
    assert_int_equal(vh_write(d0, 0, "/a", "foo"), 0);
    EVENT(d0, "/a", "token");
    assert_int_equal(vh_write(d1, 0, "/a", "foo2"), 0);
    EVENT(d0, "/a", "token");
    assert_int_equal(vh_write(d1, 0, "/a/1", "x"), 0);
    EVENT(d0, "/a/1", "token");
    assert_int_equal(vh_write(d0, 0, "/b", "x"), 0);
    NO_EVENT(d0);
    assert_int_equal(vh_watch(d0, "/a", "token"), -EEXIST);
    assert_int_equal(vh_unwatch(d0, "/a", "token"), 0);
    assert_int_equal(vh_unwatch(d0, "/a", "token"), -ENOENT);
    assert_int_equal(vh_write(d0, 0, "/a", "bar"), 0);
    NO_EVENT(d0);
    /* Bytes after the last NUL are ignored (C's get_strings); a third string is a depth. */
    const char *wt[2] = {"/a", "t2"};
    assert_int_equal(vh_reqv(d0, XS_WATCH, 0, wt, 2, "junk", NULL), 0);
    EVENT(d0, "/a", "t2");
    assert_int_equal(vh_reqv(d0, XS_UNWATCH, 0, wt, 2, "junk", NULL), 0);
    const char *dp[2] = {"/a", "0"};
    assert_int_equal(vh_reqv(d0, XS_DIRECTORY_PART, 0, dp, 2, "junk", NULL), 0);
    const char *ctl[1] = {"check"};
    assert_int_equal(vh_reqv(d0, XS_CONTROL, 0, ctl, 1, "-a", NULL), 0);
}

static void test_relative_watches(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1);
    assert_int_equal(vh_write(d0, 0, "/local/domain/0/device", ""), 0);
    assert_int_equal(vh_watch(d0, "device", "token"), 0);
    EVENT(d0, "device", "token");
    assert_int_equal(vh_write(d0, 0, "/local/domain/0/device/vbd", "hello"), 0);
    EVENT(d0, "device/vbd", "token");
    /* A guest's relative watch is under its own home. */
    assert_int_equal(vh_mkdir(d0, 0, "/local/domain/1/device"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/local/domain/1", "n1"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/local/domain/1/device", "n1"), 0);
    assert_int_equal(vh_watch(d1, "device", "fe"), 0);
    EVENT(d1, "device", "fe");
    assert_int_equal(vh_write(d0, 0, "/local/domain/1/device/vif/0/state", "1"), 0);
    EVENT(d1, "device/vif/0/state", "fe");
    NO_EVENT(d0);
}

/* XSA-115: no events about nodes a watcher may not read. C delivers an event when the
 * watcher may read the node or its parent. */
static void test_watches_read_perm(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1), *d2 = vh_domain(2);
    /* Watching is allowed anywhere, with the first event; changes stay private. */
    assert_int_equal(vh_watch(d1, "/a", "token"), 0);
    EVENT(d1, "/a", "token");
    assert_int_equal(vh_write(d0, 0, "/a", "hello"), 0);
    assert_int_equal(vh_read(d1, 0, "/a", buf), -EACCES);
    NO_EVENT(d1);
    /* Readable: events. */
    assert_int_equal(vh_set_perms(d0, 0, "/a", "n0,r1"), 0);
    EVENT(d1, "/a", "token");
    assert_int_equal(vh_write(d0, 0, "/a", "again"), 0);
    EVENT(d1, "/a", "token");
    /* A child it may not read, under a parent it may read: the event comes. */
    assert_int_equal(vh_write(d0, 0, "/a/secret", "s"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/a/secret", "n0"), 0);
    vh_events_drop(d1);
    assert_int_equal(vh_write(d0, 0, "/a/secret", "t"), 0);
    EVENT(d1, "/a/secret", "token");
    /* A grandchild neither it nor its parent lets read: none. */
    assert_int_equal(vh_write(d0, 0, "/a/secret/deeper", "u"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/a/secret/deeper", "n0"), 0);
    vh_events_drop(d1);
    assert_int_equal(vh_write(d0, 0, "/a/secret/deeper", "v"), 0);
    NO_EVENT(d1);
    /* Losing the right to read is news too (C passes the old perms to watch_permitted). */
    assert_int_equal(vh_write(d0, 0, "/b", "x"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/b", "n0,r1"), 0);
    assert_int_equal(vh_watch(d1, "/b", "b"), 0);
    vh_events_drop(d1);
    assert_int_equal(vh_set_perms(d0, 0, "/b", "n0"), 0);
    EVENT(d1, "/b", "b");
    NO_EVENT(d1);
    assert_int_equal(vh_set_perms(d0, 0, "/b", "n0,w1"), 0);
    NO_EVENT(d1);
    /* Domain 2 watches the root: it sees only what it may read. */
    assert_int_equal(vh_watch(d2, "/", "all"), 0);
    EVENT(d2, "/", "all");
    assert_int_equal(vh_write(d0, 0, "/a", "x"), 0);
    NO_EVENT(d2);
    assert_int_equal(vh_write(d0, 0, "/open", "o"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/open", "r0"), 0);
    EVENT(d2, "/open", "all");
    NO_EVENT(d2);
}

/* Events of a transaction fire when it commits, not before, and not at all if it aborts
 * or fails. */
static void test_transaction_watches(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1);
    assert_int_equal(vh_mkdir(d0, 0, "/a"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/a", "n0,r1"), 0);
    assert_int_equal(vh_watch(d1, "/a", "token"), 0);
    EVENT(d1, "/a", "token");
    uint32_t t;
    assert_int_equal(vh_tx_start(d0, &t), 0);
    assert_int_equal(vh_write(d0, t, "/a", "hello"), 0);
    NO_EVENT(d1);
    assert_int_equal(vh_tx_end(d0, t, false), 0);
    NO_EVENT(d1);
    assert_int_equal(vh_tx_start(d0, &t), 0);
    assert_int_equal(vh_write(d0, t, "/a", "hello"), 0);
    NO_EVENT(d1);
    assert_int_equal(vh_tx_end(d0, t, true), 0);
    EVENT(d1, "/a", "token");
    NO_EVENT(d1);
    assert_int_equal(vh_tx_start(d0, &t), 0);
    READS(d0, t, "/a", "hello");
    assert_int_equal(vh_write(d0, t, "/a/x", "1"), 0);
    assert_int_equal(vh_write(d0, 0, "/a", "conflict"), 0);
    EVENT(d1, "/a", "token");
    assert_int_equal(vh_tx_end(d0, t, true), -EAGAIN);
    NO_EVENT(d1);
}

/* rm fires the watches on the removed node and above it, and those inside the subtree at
 * their own path; watchers inside may need to read the node. */
static void test_recursive_rm_watch(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1);
    assert_int_equal(vh_write(d0, 0, "/a/b/c", "x"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/a", "n0,r1"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/a/b", "n0,r1"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/a/b/c", "n0,r1"), 0);
    assert_int_equal(vh_watch(d0, "/a/b/c", "deep"), 0);
    assert_int_equal(vh_watch(d0, "/a", "top"), 0);
    assert_int_equal(vh_watch(d1, "/a/b/c", "d1"), 0);
    assert_int_equal(vh_watch(d1, "/x", "elsewhere"), 0);
    vh_events_drop(d0);
    vh_events_drop(d1);
    assert_int_equal(vh_rm(d0, 0, "/a/b"), 0);
    char p[XENSTORE_ABS_PATH_MAX + 1], t[XENSTORE_ABS_PATH_MAX + 1];
    bool deep = false, top = false;
    while (vh_event(d0, p, t)) {
        if (strcmp(t, "deep") == 0) {
            assert_string_equal(p, "/a/b/c");
            deep = true;
        } else {
            assert_string_equal(t, "top");
            assert_string_equal(p, "/a/b");
            top = true;
        }
    }
    assert_true(deep && top);
    EVENT(d1, "/a/b/c", "d1");
    NO_EVENT(d1);
    /* A watched node inside the removed subtree that the watcher may not read, under a
     * parent (removed too) that it may: C fires the event (the parent still exists when
     * C checks, since it removes children first). */
    assert_int_equal(vh_write(d0, 0, "/r/s/t", "x"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/r", "n0,r1"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/r/s", "n0,r1"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/r/s/t", "n0"), 0);
    assert_int_equal(vh_write(d0, 0, "/r/s/t/u", "x"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/r/s/t/u", "n0"), 0);
    assert_int_equal(vh_watch(d1, "/r/s/t", "t"), 0);
    assert_int_equal(vh_watch(d1, "/r/s/t/u", "u"), 0);
    vh_events_drop(d1);
    assert_int_equal(vh_rm(d0, 0, "/r/s"), 0);
    EVENT(d1, "/r/s/t", "t");
    NO_EVENT(d1);
    /* rm of a missing node fires nothing. */
    assert_int_equal(vh_rm(d0, 0, "/a/b"), 0);
    NO_EVENT(d0);
}

/* An rm in a transaction fires, at the commit, the watches on the removed nodes that exist
 * then: also those added after the rm (C queues the removed nodes, not the watches). */
static void test_transaction_rm_watch_added_later(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1);
    assert_int_equal(vh_write(d0, 0, "/q/e/c/c", "x"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/q", "n0,r1"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/q/e", "n0,r1"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/q/e/c", "n0"), 0); /* its parent lets d1 see it */
    uint32_t t;
    assert_int_equal(vh_tx_start(d0, &t), 0);
    assert_int_equal(vh_rm(d0, t, "/q"), 0);
    assert_int_equal(vh_watch(d1, "/q/e/c", "later"), 0);
    assert_int_equal(vh_watch(d1, "/q/never", "never"), 0);
    vh_events_drop(d1);
    assert_int_equal(vh_tx_end(d0, t, true), 0);
    EVENT(d1, "/q/e/c", "later");
    NO_EVENT(d1);
}

/* The order of one change's events, as C 4.17: a connection's watches in the order they
 * were added; a removed subtree's nodes children first (siblings by name in ours, by
 * creation in C), then the node removed; a transaction's events at the commit in the order
 * of its first access to each node (a read counts), one per node. */
static void test_event_order(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *w = vh_dom0();
    assert_int_equal(vh_write(d0, 0, "/o/b/c", "x"), 0);
    assert_int_equal(vh_write(d0, 0, "/o/a", "x"), 0);
    assert_int_equal(vh_write(d0, 0, "/o/b/d", "x"), 0);
    assert_int_equal(vh_watch(w, "/o", "o"), 0);
    assert_int_equal(vh_watch(w, "/o/b/d", "d"), 0);
    assert_int_equal(vh_watch(w, "/", "root"), 0);
    assert_int_equal(vh_watch(w, "/o/a", "a"), 0);
    assert_int_equal(vh_watch(w, "/o/b", "b"), 0);
    assert_int_equal(vh_watch(w, "/o/b/c", "c"), 0);
    vh_events_drop(w);
    assert_int_equal(vh_write(d0, 0, "/o/b/c", "y"), 0);
    EVENT(w, "/o/b/c", "o");
    EVENT(w, "/o/b/c", "root");
    EVENT(w, "/o/b/c", "b");
    EVENT(w, "/o/b/c", "c");
    NO_EVENT(w);
    uint32_t t;
    assert_int_equal(vh_tx_start(d0, &t), 0);
    READS(d0, t, "/o/b/d", "x");
    assert_int_equal(vh_write(d0, t, "/o/a", "y"), 0);
    assert_int_equal(vh_write(d0, t, "/o/b/d", "y"), 0);
    assert_int_equal(vh_write(d0, t, "/o/a", "z"), 0);
    assert_int_equal(vh_tx_end(d0, t, true), 0);
    EVENT(w, "/o/b/d", "o");
    EVENT(w, "/o/b/d", "d");
    EVENT(w, "/o/b/d", "root");
    EVENT(w, "/o/b/d", "b");
    EVENT(w, "/o/a", "o");
    EVENT(w, "/o/a", "root");
    EVENT(w, "/o/a", "a");
    NO_EVENT(w);
    assert_int_equal(vh_rm(d0, 0, "/o"), 0);
    EVENT(w, "/o/a", "a");
    EVENT(w, "/o/b/c", "c");
    EVENT(w, "/o/b/d", "d");
    EVENT(w, "/o/b", "b");
    EVENT(w, "/o", "o");
    EVENT(w, "/o", "root");
    NO_EVENT(w);
}

/* @introduceDomain and @releaseDomain: for dom0, and for the domains their perms let read. */
static void test_special_watches(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1);
    assert_int_equal(vh_watch(d0, "@introduceDomain", "in"), 0);
    assert_int_equal(vh_watch(d0, "@releaseDomain", "out"), 0);
    assert_int_equal(vh_watch(d1, "@introduceDomain", "in1"), 0);
    assert_int_equal(vh_watch(d1, "@releaseDomain", "out1"), 0);
    EVENT(d0, "@introduceDomain", "in");
    EVENT(d0, "@releaseDomain", "out");
    /* The first event comes whatever the perms, as with any watch. */
    EVENT(d1, "@introduceDomain", "in1");
    EVENT(d1, "@releaseDomain", "out1");
    assert_int_equal(vh_get_perms(d1, 0, "@introduceDomain", buf), -EACCES);
    assert_int_equal(vh_set_perms(d1, 0, "@releaseDomain", "r1"), -EACCES);
    PERMS(d0, "@releaseDomain", "n0");
    struct vh_client *d2 = vh_domain(2);
    EVENT(d0, "@introduceDomain", "in");
    NO_EVENT(d1);
    /* Domain 2 leaves: its nodes go with it. */
    assert_int_equal(vh_write(d2, 0, "/local/domain/2", ""), -EACCES);
    assert_int_equal(vh_mkdir(d0, 0, "/local/domain/2"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/local/domain/2", "n2"), 0);
    assert_int_equal(vh_write(d2, 0, "data", "x"), 0);
    assert_int_equal(vh_release(d0, 2), 0);
    EVENT(d0, "@releaseDomain", "out");
    NO_EVENT(d1);
    assert_null(d2->c); /* its connection is gone */
    assert_int_equal(vh_read(d0, 0, "/local/domain/2", buf), -ENOENT);
    assert_int_equal(vh_release(d0, 2), -ENOENT);
    /* dom0 lets domain 1 see them. */
    assert_int_equal(vh_set_perms(d0, 0, "@introduceDomain", "n0,r1"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "@releaseDomain", "n0,r1"), 0);
    PERMS(d1, "@releaseDomain", "n0,r1");
    struct vh_client *d3 = vh_domain(3);
    EVENT(d1, "@introduceDomain", "in1");
    assert_int_equal(vh_release(d0, 3), 0);
    EVENT(d1, "@releaseDomain", "out1");
    assert_null(d3->c);
    vh_events_drop(d0);
    /* Any "@" name may be watched, up to 2048 characters (C 4.17's limit for them). */
    char name[2050];
    memset(name, 'z', sizeof name - 1);
    name[0] = '@';
    name[2048] = '\0';
    assert_int_equal(vh_watch(d0, name, "t"), 0);
    EVENT(d0, name, "t");
    name[2048] = 'z';
    name[2049] = '\0';
    assert_int_equal(vh_watch(d0, name, "t"), -EINVAL);
    assert_int_equal(vh_unwatch(d0, name, "t"), -ENOENT);
}

/* A device model's watches see what it may read through its target. */
static void test_target_watches(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d2 = vh_domain(2), *d7 = vh_domain(7);
    (void)d2;
    assert_int_equal(vh_set_target(d0, 7, 2), 0);
    assert_int_equal(vh_write(d0, 0, "/vm2", "x"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/vm2", "n2"), 0);
    assert_int_equal(vh_write(d0, 0, "/vm3", "x"), 0);
    vh_set_domain_exists(3, true);
    assert_int_equal(vh_set_perms(d0, 0, "/vm3", "n3"), 0);
    assert_int_equal(vh_watch(d7, "/vm2", "t2"), 0);
    assert_int_equal(vh_watch(d7, "/vm3", "t3"), 0);
    vh_events_drop(d7);
    assert_int_equal(vh_write(d0, 0, "/vm2", "y"), 0);
    assert_int_equal(vh_write(d0, 0, "/vm3", "y"), 0);
    EVENT(d7, "/vm2", "t2");
    NO_EVENT(d7);
}

/* Watch depth (0: the node only, 1: and its children), UNWATCH of a relative watch,
 * RESET_WATCHES (watches and transactions go). */
static void test_watch_depth_and_reset(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1);
    assert_int_equal(vh_mkdir(d0, 0, "/local/domain/1"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/local/domain/1", "n1"), 0);
    const char *w0[3] = {"d", "zero", "0"}, *w1[3] = {"d", "one", "1"};
    assert_int_equal(vh_reqv(d1, XS_WATCH, 0, w0, 3, NULL, NULL), 0);
    assert_int_equal(vh_reqv(d1, XS_WATCH, 0, w1, 3, NULL, NULL), 0);
    assert_int_equal(vh_watch(d1, "d", "all"), 0);
    assert_int_equal(vh_events_drop(d1), 3);
    assert_int_equal(vh_write(d1, 0, "d", "v"), 0);
    char p[XENSTORE_ABS_PATH_MAX + 1], t[XENSTORE_ABS_PATH_MAX + 1];
    int n = 0;
    while (vh_event(d1, p, t)) {
        assert_string_equal(p, "d");
        n++;
    }
    assert_int_equal(n, 3);
    assert_int_equal(vh_write(d1, 0, "d/a", "v"), 0);
    n = 0;
    while (vh_event(d1, p, t)) {
        assert_string_equal(p, "d/a");
        assert_string_not_equal(t, "zero");
        n++;
    }
    assert_int_equal(n, 2);
    assert_int_equal(vh_write(d1, 0, "d/a/b", "v"), 0);
    EVENT(d1, "d/a/b", "all");
    NO_EVENT(d1);
    /* Watches are known by their absolute path (C canonicalizes both). */
    assert_int_equal(vh_watch(d1, "/local/domain/1/d", "all"), -EEXIST);
    assert_int_equal(vh_unwatch(d1, "/local/domain/1/d", "all"), 0);
    assert_int_equal(vh_unwatch(d1, "d", "all"), -ENOENT);
    uint32_t tx;
    assert_int_equal(vh_tx_start(d1, &tx), 0);
    const char *empty = "";
    assert_int_equal(vh_reqv(d1, XS_RESET_WATCHES, 0, &empty, 1, NULL, NULL), 0);
    assert_int_equal(vh_write(d1, 0, "d", "w"), 0);
    NO_EVENT(d1);
    assert_int_equal(vh_write(d1, tx, "d", "x"), -ENOENT);
}

/* DIRECTORY_PART and the domain queries with an unprivileged connection. */
int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_simple_watches),
        T(test_relative_watches),
        T(test_watches_read_perm),
        T(test_transaction_watches),
        T(test_recursive_rm_watch),
        T(test_event_order),
        T(test_transaction_rm_watch_added_later),
        T(test_special_watches),
        T(test_target_watches),
        T(test_watch_depth_and_reset),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
