/*
 * vxenstored's request handling against the store, in-process (tests/unit/vxs_harness.c),
 * with unprivileged domain connections, which the socket tests cannot make:
 *
 *   - the old Irmin prototype's tables (ocaml-xenstore-server's server_test.ml): implicit
 *     creation, isolation, independent transactions coalesce, real conflicts, watches; where
 *     that prototype and C xenstored disagree, C xenstored 4.17 is the reference;
 *   - C xenstored 4.17's permission rules (xenstored_core.c: perm_for_conn, get_node,
 *     errno_from_parents, construct_node, do_set_perms; xenstored_watch.c: watch_permitted):
 *     the owner gets everything, else the first entry naming the domain (or its SET_TARGET
 *     target), else the owner entry's access; EACCES rather than ENOENT when the nearest
 *     existing ancestor does not allow the access; unprivileged domains own what they create
 *     and may not give it away; watch events only for watchers that may read the node or
 *     its parent; @introduceDomain/@releaseDomain only for watchers their perms allow;
 *   - DOMID_ANY (Xen 4.21's "all domains" entry), matched in order like a domain's own id.
 * Watches are in test_vxs_watch.c.
 */
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

#include "tests/unit/vxs_dispatch_checks.h"

/* ---- the prototype's tables ----------------------------------------------------------- */

/* Writes create missing parents; a domain sees none of dom0's nodes (the root is "n0"). */
static void test_implicit_create(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1);
    assert_int_equal(vh_read(d0, 0, "/a", buf), -ENOENT);
    /* The prototype said ENOENT; C says EACCES: "/" does not let domain 1 read. */
    assert_int_equal(vh_read(d1, 0, "/a", buf), -EACCES);
    assert_int_equal(vh_write(d0, 0, "/a/b", "hello"), 0);
    assert_int_equal(vh_read(d1, 0, "/a/b", buf), -EACCES);
    READS(d0, 0, "/a", "");
    PERMS(d0, "/a", "n0");
    assert_int_equal(vh_read(d1, 0, "/a", buf), -EACCES);
    assert_int_equal(vh_dir(d0, 0, "/a", buf), 0);
    assert_string_equal(buf, "b");
    assert_int_equal(vh_dir(d1, 0, "/a", buf), -EACCES);
}

/* getperms(setperms(x)) == x; only the owner (or dom0) may set perms, and an unprivileged
 * owner may not give the node away (C: EPERM; the prototype allowed it). */
static void test_setperms_owner(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d2 = vh_domain(2), *d3 = vh_domain(3),
                     *d5 = vh_domain(5), *d7 = vh_domain(7);
    assert_int_equal(vh_write(d0, 0, "/foo", ""), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/foo", "r5,w2,b3"), 0);
    PERMS(d0, "/foo", "r5,w2,b3");
    /* Domain 2 may write but does not own it. */
    assert_int_equal(vh_set_perms(d2, 0, "/foo", "r2,w2,b3"), -EACCES);
    assert_int_equal(vh_set_perms(d5, 0, "/foo", "r2,w2,b3"), -EPERM);
    assert_int_equal(vh_set_perms(d5, 0, "/foo", "b5,r2"), 0);
    PERMS(d5, "/foo", "b5,r2");
    /* The owner entry's access is what everybody else gets. */
    assert_int_equal(vh_write(d7, 0, "/foo", "seven"), 0);
    assert_int_equal(vh_write(d2, 0, "/foo", "two"), -EACCES);
    READS(d2, 0, "/foo", "seven");
    assert_int_equal(vh_write(d3, 0, "/foo", "three"), 0);
    /* dom0 may change the owner. */
    assert_int_equal(vh_set_perms(d0, 0, "/foo", "n2"), 0);
    assert_int_equal(vh_set_perms(d2, 0, "/foo", "n2,r5"), 0);
    READS(d5, 0, "/foo", "three");
    assert_int_equal(vh_read(d3, 0, "/foo", buf), -EACCES);
}

/* The prototype's test_restrict: each domain gets the first entry naming it. */
static void test_access_letters(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d2 = vh_domain(2), *d3 = vh_domain(3),
                     *d7 = vh_domain(7);
    vh_set_domain_exists(5, true); /* named, never introduced */
    assert_int_equal(vh_write(d0, 0, "/foo", "bar"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/foo", "r5,w2,b3,n7"), 0);
    /* w: write, no read. */
    assert_int_equal(vh_write(d2, 0, "/foo", "two"), 0);
    assert_int_equal(vh_read(d2, 0, "/foo", buf), -EACCES);
    assert_int_equal(vh_dir(d2, 0, "/foo", buf), -EACCES);
    assert_int_equal(vh_get_perms(d2, 0, "/foo", buf), -EACCES);
    /* b: both. */
    assert_int_equal(vh_write(d3, 0, "/foo", "three"), 0);
    READS(d3, 0, "/foo", "three");
    PERMS(d3, "/foo", "r5,w2,b3,n7");
    /* n: nothing, although the owner entry gives everybody else r. */
    assert_int_equal(vh_read(d7, 0, "/foo", buf), -EACCES);
    assert_int_equal(vh_write(d7, 0, "/foo", "x"), -EACCES);
    assert_int_equal(vh_rm(d7, 0, "/foo"), -EACCES);
    /* The first matching entry counts, not the most generous. */
    assert_int_equal(vh_set_perms(d0, 0, "/foo", "n5,r3,b3"), 0);
    READS(d3, 0, "/foo", "three");
    assert_int_equal(vh_write(d3, 0, "/foo", "x"), -EACCES);
    /* The owner gets everything, whatever a later entry of its own says. */
    assert_int_equal(vh_set_perms(d0, 0, "/foo", "n3,n3"), 0);
    assert_int_equal(vh_write(d3, 0, "/foo", "mine"), 0);
    READS(d3, 0, "/foo", "mine");
}

/* ---- EACCES or ENOENT: what the nearest existing ancestor allows ---------------------- */

static void test_missing_nodes(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1), *d2 = vh_domain(2),
                     *d3 = vh_domain(3);
    assert_int_equal(vh_mkdir(d0, 0, "/p"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/p", "n0,r1,b3"), 0);
    /* Readable parent: the node is simply missing, however deep. */
    assert_int_equal(vh_read(d1, 0, "/p/x", buf), -ENOENT);
    assert_int_equal(vh_read(d1, 0, "/p/x/y/z", buf), -ENOENT);
    assert_int_equal(vh_dir(d1, 0, "/p/x", buf), -ENOENT);
    assert_int_equal(vh_get_perms(d1, 0, "/p/x", buf), -ENOENT);
    /* Unreadable: nothing is learnt. */
    assert_int_equal(vh_read(d2, 0, "/p/x", buf), -EACCES);
    assert_int_equal(vh_read(d2, 0, "/p/x/y/z", buf), -EACCES);
    /* Creating needs write access to the nearest existing ancestor. */
    assert_int_equal(vh_write(d1, 0, "/p/x", "v"), -EACCES);
    assert_int_equal(vh_mkdir(d1, 0, "/p/x"), -EACCES);
    assert_int_equal(vh_write(d3, 0, "/p/x/y", "v"), 0);
    /* ... and what it creates is its own, with the parent's other entries. */
    PERMS(d0, "/p/x", "n3,r1,b3");
    PERMS(d0, "/p/x/y", "n3,r1,b3");
    READS(d1, 0, "/p/x/y", "v");
    /* rm of a missing node: fine if its parent exists, else ENOENT (or EACCES). */
    assert_int_equal(vh_rm(d3, 0, "/p/x/nothing"), 0);
    assert_int_equal(vh_rm(d3, 0, "/p/x/no/thing"), -ENOENT);
    assert_int_equal(vh_rm(d2, 0, "/p/no/thing"), -EACCES);
    /* rm needs write access to the node itself. */
    assert_int_equal(vh_rm(d1, 0, "/p/x"), -EACCES);
    assert_int_equal(vh_rm(d3, 0, "/p/x"), 0);
    assert_int_equal(vh_read(d0, 0, "/p/x/y", buf), -ENOENT);
    assert_int_equal(vh_rm(d0, 0, "/"), -EINVAL);
}

/* A guest's home: relative paths, what it owns there, what others see. */
static void test_domain_home(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1), *d2 = vh_domain(2);
    /* As the toolstack sets it up: the domain owns its home, nobody else reads it. */
    assert_int_equal(vh_mkdir(d0, 0, "/local/domain/1"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/local/domain/1", "n1"), 0);
    assert_int_equal(vh_write(d1, 0, "data/x", "one"), 0);
    READS(d0, 0, "/local/domain/1/data/x", "one");
    READS(d1, 0, "/local/domain/1/data/x", "one");
    READS(d1, 0, "data/x", "one");
    PERMS(d1, "data/x", "n1");
    assert_int_equal(vh_read(d2, 0, "/local/domain/1/data/x", buf), -EACCES);
    /* A relative path of domain 2 is under its own home, which does not exist. */
    assert_int_equal(vh_read(d2, 0, "data/x", buf), -EACCES);
    assert_int_equal(vh_dir(d1, 0, "data", buf), 0);
    assert_string_equal(buf, "x");
    /* Sharing with domain 2, read-only. */
    assert_int_equal(vh_set_perms(d1, 0, "data/x", "n1,r2"), 0);
    READS(d2, 0, "/local/domain/1/data/x", "one");
    assert_int_equal(vh_write(d2, 0, "/local/domain/1/data/x", "two"), -EACCES);
    /* Not giving it away, not even to dom0. */
    assert_int_equal(vh_set_perms(d1, 0, "data/x", "n2"), -EPERM);
    assert_int_equal(vh_set_perms(d1, 0, "data/x", "n0"), -EPERM);
    assert_int_equal(vh_set_perms(d2, 0, "/local/domain/1/data/x", "n2"), -EACCES);
    /* GET_DOMAIN_PATH. */
    const char *one = "1";
    struct vh_msg m;
    assert_int_equal(vh_reqv(d2, XS_GET_DOMAIN_PATH, 0, &one, 1, NULL, &m), 0);
    assert_string_equal(m.body, "/local/domain/1");
    /* The toolstack's requests are dom0's. */
    assert_int_equal(vh_set_target(d1, 2, 1), -EACCES);
    assert_int_equal(vh_release(d1, 2), -EACCES);
    const char *intro[3] = {"9", "1", "1"};
    assert_int_equal(vh_reqv(d1, XS_INTRODUCE, 0, intro, 3, NULL, NULL), -EACCES);
    const char *ctl[1] = {"help"};
    assert_int_equal(vh_reqv(d1, XS_CONTROL, 0, ctl, 1, NULL, NULL), -EACCES);
    assert_int_equal(vh_reqv(d0, XS_CONTROL, 0, ctl, 1, NULL, NULL), 0);
}

/* SET_TARGET: a device model (stubdom 7) acts for its target (2) too. */
static void test_set_target(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d2 = vh_domain(2), *d7 = vh_domain(7),
                     *d8 = vh_domain(8);
    assert_int_equal(vh_write(d0, 0, "/foo", "bar"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/foo", "n2"), 0);
    assert_int_equal(vh_write(d0, 0, "/shared", "s"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/shared", "n0,r2"), 0);
    assert_int_equal(vh_write(d7, 0, "/foo", "seven"), -EACCES);
    assert_int_equal(vh_set_target(d0, 7, 99), -ENOENT); /* no such domain */
    vh_set_domain_exists(9, true);
    assert_int_equal(vh_set_target(d0, 7, 9), -ENOENT); /* exists, not introduced (as C) */
    assert_int_equal(vh_set_target(d0, 9, 2), -ENOENT);  /* 7's stubdom not introduced */
    assert_int_equal(vh_set_target(d0, 7, 2), 0);
    /* Owner through its target: everything, setting perms included. */
    assert_int_equal(vh_write(d7, 0, "/foo", "seven"), 0);
    READS(d2, 0, "/foo", "seven");
    assert_int_equal(vh_set_perms(d7, 0, "/foo", "n2,r8"), 0);
    READS(d8, 0, "/foo", "seven");
    /* The target's entry in a list. */
    READS(d7, 0, "/shared", "s");
    assert_int_equal(vh_write(d7, 0, "/shared", "x"), -EACCES);
    /* Not the other way round: the target gains nothing from the stubdom. */
    assert_int_equal(vh_write(d0, 0, "/dm", ""), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/dm", "n7"), 0);
    assert_int_equal(vh_read(d2, 0, "/dm", buf), -EACCES);
    /* Relative paths stay the stubdom's own. */
    assert_int_equal(vh_mkdir(d0, 0, "/local/domain/7"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/local/domain/7", "n7"), 0);
    assert_int_equal(vh_write(d7, 0, "x", "1"), 0);
    READS(d0, 0, "/local/domain/7/x", "1");
    /* What the stubdom creates is its own (not its target's). */
    assert_int_equal(vh_write(d7, 0, "/foo/child", "c"), 0);
    PERMS(d0, "/foo/child", "n7,r8");
}

/* DOMID_ANY (0x7FF4): an entry matching every domain, in order like an own entry. */
static void test_domid_any(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1), *d2 = vh_domain(2);
    assert_int_equal(vh_write(d0, 0, "/any", "v"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/any", "n0,r32756"), 0);
    PERMS(d0, "/any", "n0,r32756");
    READS(d1, 0, "/any", "v");
    READS(d2, 0, "/any", "v");
    assert_int_equal(vh_write(d1, 0, "/any", "x"), -EACCES);
    /* An own entry before it wins. */
    assert_int_equal(vh_set_perms(d0, 0, "/any", "n0,b1,r32756"), 0);
    assert_int_equal(vh_write(d1, 0, "/any", "one"), 0);
    assert_int_equal(vh_write(d2, 0, "/any", "two"), -EACCES);
    /* After it, it does not (Xen's perm_for_conn: the first entry that matches). */
    assert_int_equal(vh_set_perms(d0, 0, "/any", "n0,r32756,b1"), 0);
    assert_int_equal(vh_write(d1, 0, "/any", "one"), -EACCES);
    READS(d1, 0, "/any", "one");
    /* Owned by DOMID_ANY: every domain owns it. */
    assert_int_equal(vh_set_perms(d0, 0, "/any", "n32756"), 0);
    assert_int_equal(vh_write(d2, 0, "/any", "two"), 0);
    READS(d1, 0, "/any", "two");
}

/* ---- transactions --------------------------------------------------------------------- */

static void test_transactions_are_isolated(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1);
    uint32_t t;
    assert_int_equal(vh_tx_start(d0, &t), 0);
    assert_int_equal(vh_write(d0, t, "/foo", "bar"), 0);
    READS(d0, t, "/foo", "bar");
    assert_int_equal(vh_read(d0, 0, "/foo", buf), -ENOENT);
    /* Transaction ids are the connection's own. */
    assert_int_equal(vh_read(d1, t, "/foo", buf), -ENOENT);
    assert_int_equal(vh_tx_end(d1, t, true), -ENOENT);
    assert_int_equal(vh_tx_end(d0, t, true), 0);
    READS(d0, 0, "/foo", "bar");
    /* Aborted: nothing happened. */
    assert_int_equal(vh_tx_start(d0, &t), 0);
    assert_int_equal(vh_write(d0, t, "/foo", "baz"), 0);
    assert_int_equal(vh_tx_end(d0, t, false), 0);
    READS(d0, 0, "/foo", "bar");
    assert_int_equal(vh_tx_end(d0, t, true), -ENOENT);
}

static void test_independent_transactions_coalesce(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0();
    assert_int_equal(vh_mkdir(d0, 0, "/a/b"), 0);
    assert_int_equal(vh_mkdir(d0, 0, "/1/2"), 0);
    uint32_t t1, t2;
    assert_int_equal(vh_tx_start(d0, &t1), 0);
    assert_int_equal(vh_tx_start(d0, &t2), 0);
    assert_int_equal(vh_write(d0, t1, "/a/b", "foo"), 0);
    assert_int_equal(vh_write(d0, t2, "/1/2", "foo"), 0);
    assert_int_equal(vh_tx_end(d0, t1, true), 0);
    assert_int_equal(vh_tx_end(d0, t2, true), 0);
    READS(d0, 0, "/a/b", "foo");
    READS(d0, 0, "/1/2", "foo");
}

/* Two toolstack transactions adding a disk to two guests, and two guests writing in their
 * own trees in their own transactions, all at once: all commit. (The prototype created
 * backend/vbd/1 and backend/vbd/2 inside the transactions; in C xenstored that is a
 * conflict, since both change backend/vbd's child list: see below.) */
static void test_device_create_coalesce(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1), *d2 = vh_domain(2);
    for (int i = 1; i <= 2; i++) {
        char p[64];
        snprintf(p, sizeof p, "/local/domain/0/backend/vbd/%d", i);
        assert_int_equal(vh_mkdir(d0, 0, p), 0);
        snprintf(p, sizeof p, "/local/domain/%d/device/vbd", i);
        assert_int_equal(vh_mkdir(d0, 0, p), 0);
        snprintf(p, sizeof p, "/local/domain/%d", i);
        assert_int_equal(vh_set_perms(d0, 0, p, i == 1 ? "n1" : "n2"), 0);
        snprintf(p, sizeof p, "/local/domain/%d/device", i);
        assert_int_equal(vh_set_perms(d0, 0, p, i == 1 ? "n1" : "n2"), 0);
        snprintf(p, sizeof p, "/local/domain/%d/device/vbd", i);
        assert_int_equal(vh_set_perms(d0, 0, p, i == 1 ? "n1" : "n2"), 0);
    }
    uint32_t t1, t2, g1, g2;
    assert_int_equal(vh_tx_start(d0, &t1), 0);
    assert_int_equal(vh_tx_start(d0, &t2), 0);
    assert_int_equal(vh_tx_start(d1, &g1), 0);
    assert_int_equal(vh_tx_start(d2, &g2), 0);
    assert_int_equal(vh_write(d0, t1, "/local/domain/0/backend/vbd/1/51712", "hello"), 0);
    assert_int_equal(vh_write(d0, t1, "/local/domain/1/device/vbd/51712/backend-id", "0"), 0);
    assert_int_equal(vh_write(d0, t2, "/local/domain/0/backend/vbd/2/51712", "hello"), 0);
    assert_int_equal(vh_write(d0, t2, "/local/domain/2/device/vbd/51712/backend-id", "0"), 0);
    assert_int_equal(vh_write(d1, g1, "feature", "1"), 0);
    assert_int_equal(vh_write(d2, g2, "feature", "1"), 0);
    assert_int_equal(vh_tx_end(d0, t1, true), 0);
    assert_int_equal(vh_tx_end(d1, g1, true), 0);
    assert_int_equal(vh_tx_end(d0, t2, true), 0);
    assert_int_equal(vh_tx_end(d2, g2, true), 0);
    READS(d0, 0, "/local/domain/0/backend/vbd/1/51712", "hello");
    READS(d0, 0, "/local/domain/0/backend/vbd/2/51712", "hello");
    READS(d1, 0, "device/vbd/51712/backend-id", "0");
    READS(d2, 0, "feature", "1");
    /* The frontend node the toolstack created in the guest's tree is the guest's. */
    PERMS(d0, "/local/domain/1/device/vbd/51712", "n1");
    /* Both creating a child of one node: the second gets EAGAIN (C: the parent was read
     * before it was written, and its generation changed), and succeeds when retried. */
    assert_int_equal(vh_tx_start(d0, &t1), 0);
    assert_int_equal(vh_tx_start(d0, &t2), 0);
    assert_int_equal(vh_write(d0, t1, "/local/domain/0/backend/vif/1/0", "a"), 0);
    assert_int_equal(vh_write(d0, t2, "/local/domain/0/backend/vif/2/0", "b"), 0);
    assert_int_equal(vh_tx_end(d0, t1, true), 0);
    assert_int_equal(vh_tx_end(d0, t2, true), -EAGAIN);
    assert_int_equal(vh_tx_start(d0, &t2), 0);
    assert_int_equal(vh_write(d0, t2, "/local/domain/0/backend/vif/2/0", "b"), 0);
    assert_int_equal(vh_tx_end(d0, t2, true), 0);
    assert_int_equal(vh_dir(d0, 0, "/local/domain/0/backend/vif", buf), 0);
    assert_string_equal(buf, "1,2");
}

static void test_transactions_really_do_conflict(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1);
    assert_int_equal(vh_mkdir(d0, 0, "/a"), 0);
    uint32_t t;
    assert_int_equal(vh_tx_start(d0, &t), 0);
    assert_int_equal(vh_dir(d0, t, "/a", buf), 0);
    assert_string_equal(buf, "");
    assert_int_equal(vh_write(d0, 0, "/a/b", "hello"), 0);
    assert_int_equal(vh_write(d0, t, "/a/b", "there"), 0);
    assert_int_equal(vh_tx_end(d0, t, true), -EAGAIN);
    READS(d0, 0, "/a/b", "hello");
    /* Read A, write B, somebody writes A: EAGAIN (C's rule, not snapshot isolation). */
    assert_int_equal(vh_set_perms(d0, 0, "/a", "b0,b1"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/a/b", "b0,b1"), 0);
    assert_int_equal(vh_tx_start(d1, &t), 0);
    READS(d1, t, "/a/b", "hello");
    assert_int_equal(vh_write(d1, t, "/a/c", "x"), 0);
    assert_int_equal(vh_write(d0, 0, "/a/b", "changed"), 0);
    assert_int_equal(vh_tx_end(d1, t, true), -EAGAIN);
    assert_int_equal(vh_read(d0, 0, "/a/c", buf), -ENOENT);
    /* A read-only transaction fails too when what it read changed. */
    assert_int_equal(vh_tx_start(d1, &t), 0);
    READS(d1, t, "/a/b", "changed");
    assert_int_equal(vh_write(d0, 0, "/a/b", "again"), 0);
    assert_int_equal(vh_tx_end(d1, t, true), -EAGAIN);
    /* Nothing read changed: commits. */
    assert_int_equal(vh_tx_start(d1, &t), 0);
    READS(d1, t, "/a/b", "again");
    assert_int_equal(vh_write(d0, 0, "/elsewhere", "x"), 0);
    assert_int_equal(vh_write(d1, t, "/a/c", "y"), 0);
    assert_int_equal(vh_tx_end(d1, t, true), 0);
    READS(d0, 0, "/a/c", "y");
    PERMS(d0, "/a/c", "b1,b1");
}

/* C's view inside a transaction: a node not touched yet is read live; once touched, it stays
 * as at that first access, and a change since then fails the transaction. */
static void test_transaction_live_reads(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1);
    assert_int_equal(vh_write(d0, 0, "/x", "1"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/x", "n0,b1"), 0);
    uint32_t t;
    assert_int_equal(vh_tx_start(d1, &t), 0);
    assert_int_equal(vh_write(d0, 0, "/x", "2"), 0);
    READS(d1, t, "/x", "2");
    assert_int_equal(vh_write(d0, 0, "/x", "3"), 0);
    READS(d1, t, "/x", "2");
    assert_int_equal(vh_tx_end(d1, t, true), -EAGAIN);
    /* Its own write is what it reads back, and wins at commit when nothing it read moved. */
    assert_int_equal(vh_tx_start(d1, &t), 0);
    assert_int_equal(vh_write(d1, t, "/x", "mine"), 0);
    READS(d1, t, "/x", "mine");
    READS(d0, 0, "/x", "3");
    assert_int_equal(vh_tx_end(d1, t, true), 0);
    READS(d0, 0, "/x", "mine");
}

static void test_domain_queries(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1);
    assert_int_equal(vh_write(d0, 0, "/dp/a", ""), 0);
    assert_int_equal(vh_write(d0, 0, "/dp/b", ""), 0);
    const char *dp[2] = {"/dp", "0"};
    struct vh_msg m;
    assert_int_equal(vh_reqv(d1, XS_DIRECTORY_PART, 0, dp, 2, NULL, &m), -EACCES);
    assert_int_equal(vh_set_perms(d0, 0, "/dp", "n0,r1"), 0);
    assert_int_equal(vh_reqv(d1, XS_DIRECTORY_PART, 0, dp, 2, NULL, &m), 0);
    /* "<generation>\0a\0b\0\0" */
    size_t gl = strlen(m.body) + 1;
    assert_true(gl > 1 && gl < m.len);
    assert_int_equal(m.len - gl, 5);
    assert_memory_equal(m.body + gl, "a\0b\0", 5);
    const char *one = "1";
    assert_int_equal(vh_reqv(d1, XS_IS_DOMAIN_INTRODUCED, 0, &one, 1, NULL, &m), -EACCES);
    assert_int_equal(vh_reqv(d0, XS_IS_DOMAIN_INTRODUCED, 0, &one, 1, NULL, &m), 0);
    assert_string_equal(m.body, "T");
    const char *relempty = "";
    assert_int_equal(vh_read(d1, 0, relempty, buf), -EINVAL);
    assert_int_equal(vh_read(d1, 0, "a//b", buf), -EINVAL);
    assert_int_equal(vh_read(d1, 0, "/dp/", buf), -EINVAL);
    assert_int_equal(vh_read(d1, 0, "@introduceDomain", buf), -EINVAL);
}

/* A released domain takes with it what it owned anywhere, its watches and transactions;
 * what others own stays, and a new domain with its id starts afresh. */
static void test_release_cleans_up(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1), *d2 = vh_domain(2);
    assert_int_equal(vh_mkdir(d0, 0, "/shared"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/shared", "b0"), 0);
    assert_int_equal(vh_write(d2, 0, "/shared/two/x", "2"), 0);
    assert_int_equal(vh_write(d1, 0, "/shared/one", "1"), 0);
    assert_int_equal(vh_set_perms(d2, 0, "/shared/two", "n2,r1"), 0);
    assert_int_equal(vh_watch(d1, "/shared", "s"), 0);
    assert_int_equal(vh_watch(d2, "/shared", "s2"), 0);
    uint32_t tx;
    assert_int_equal(vh_tx_start(d2, &tx), 0);
    vh_events_drop(d1);
    assert_int_equal(vh_release(d0, 2), 0);
    assert_null(d2->c);
    EVENT(d1, "/shared/two", "s");
    NO_EVENT(d1);
    assert_int_equal(vh_read(d0, 0, "/shared/two", buf), -ENOENT);
    READS(d0, 0, "/shared/one", "1");
    /* A new domain 2: no watches, no transactions of the old one. */
    struct vh_client *n2 = vh_domain(2);
    assert_non_null(n2->c);
    assert_null(n2->c->watches);
    assert_int_equal(vh_write(n2, tx, "/shared/x", "y"), -ENOENT);
    vh_events_drop(d1);
}

/* SET_PERMS: the owner must exist (C 4.17: ENOENT); DOMID_ANY always does. (Other entries
 * naming a missing domain are accepted and dropped: test_vxs_perms_unknown.c.) */
static void test_setperms_owner_exists(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1);
    assert_int_equal(vh_write(d0, 0, "/n", ""), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/n", "n42"), -ENOENT);
    vh_set_domain_exists(42, true);
    assert_int_equal(vh_set_perms(d0, 0, "/n", "n42,r1"), 0);
    PERMS(d0, "/n", "n42,r1");
    assert_int_equal(vh_set_perms(d0, 0, "/n", "n1,r32756"), 0);
    assert_int_equal(vh_set_perms(d1, 0, "/n", "n99,r1"), -ENOENT);
    assert_int_equal(vh_set_perms(d1, 0, "/n", "n1,bogus"), -EINVAL);
    assert_int_equal(vh_set_perms(d1, 0, "/n", ""), -EINVAL);
    PERMS(d1, "/n", "n1,r32756");
}

/* INTRODUCE of a domain already introduced (C 4.17's do_introduce): OK whatever the gfn,
 * the channel bound again to the new port, and the connection reset: its watches,
 * transactions and ring indexes go, its nodes stay. Only port 0 is refused (atoi). */
static void test_reintroduce(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0(), *d5 = vh_domain(5);
    assert_int_equal(vh_mkdir(d0, 0, "/local/domain/5"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/local/domain/5", "n5"), 0);
    assert_int_equal(vh_write(d5, 0, "x", "1"), 0);
    assert_int_equal(vh_watch(d5, "x", "t"), 0);
    uint32_t tx;
    assert_int_equal(vh_tx_start(d5, &tx), 0);
    vh_ring(5)->req_prod = vh_ring(5)->req_cons = 7; /* indexes the reset must zero */
    vh_events_drop(d5);
    const char *zero[3] = {"5", "1", "0"}, *again[3] = {"5", "junk", "205x"},
               *same[3] = {"5", "1", "205"};
    assert_int_equal(vh_reqv(d0, XS_INTRODUCE, 0, zero, 3, NULL, NULL), -EINVAL);
    assert_int_equal(vh_reqv(d0, XS_INTRODUCE, 0, again, 3, NULL, NULL), 0);
    assert_int_equal(d5->c->dom->remote_port, 205);
    int bound = d5->c->dom->local_port;
    assert_true(bound >= 0);
    /* The same port again: unbound first, so it binds (a port is bound once at a time). */
    assert_int_equal(vh_reqv(d0, XS_INTRODUCE, 0, same, 3, NULL, NULL), 0);
    assert_true(d5->c->dom->local_port >= 0 && d5->c->dom->local_port != bound);
    assert_int_equal(vh_ring(5)->req_prod, 0);
    assert_int_equal(vh_ring(5)->req_cons, 0);
    assert_null(d5->c->watches);
    assert_int_equal(vh_write(d5, tx, "x", "2"), -ENOENT);
    assert_int_equal(vh_write(d0, 0, "/local/domain/5/x", "3"), 0);
    NO_EVENT(d5);
    READS(d5, 0, "x", "3");
    const char *five = "5";
    struct vh_msg m;
    assert_int_equal(vh_reqv(d0, XS_IS_DOMAIN_INTRODUCED, 0, &five, 1, NULL, &m), 0);
    assert_string_equal(m.body, "T");
    /* A first INTRODUCE empties the rings too, and a guest waiting in XENSTORE_RECONNECT
     * (dom0less: introduced after it booted) is told it is connected, with an event. */
    struct xenstore_domain_interface *p6 = vh_page_before_introduce(6);
    p6->connection = XENSTORE_RECONNECT;
    p6->req_prod = 9;
    p6->rsp_cons = 4;
    unsigned long ev = vh_notifies();
    vh_domain(6);
    assert_int_equal(vh_ring(6)->connection, XENSTORE_CONNECTED);
    assert_int_equal(vh_ring(6)->req_prod, 0);
    assert_int_equal(vh_ring(6)->rsp_cons, 0);
    assert_true(vh_notifies() > ev);
    /* Reserved ids (DOMID_SELF...) have no ring to map: ENOENT. */
    const char *self[3] = {"32752", "1", "5"};
    assert_int_equal(vh_reqv(d0, XS_INTRODUCE, 0, self, 3, NULL, NULL), -ENOENT);
    /* Not by the domain's own connection (it is not privileged anyway). */
    assert_int_equal(vh_reqv(d5, XS_INTRODUCE, 0, again, 3, NULL, NULL), -EACCES);
}

/* CONTROL as C 4.17's: help in its format and order (ours' commands after), memreport FILE
 * appends the report to FILE and says OK, memreport and logfile argument counts. */
static void test_control_c_commands(void **state)
{
    (void)state;
    struct vh_client *d0 = vh_dom0();
    struct vh_msg m;
    const char *help[1] = {"help"};
    assert_int_equal(vh_reqv(d0, XS_CONTROL, 0, help, 1, NULL, &m), 0);
    assert_true(strncmp(m.body, "check\t\nlog\ton|off\nlive-update\t", 22) == 0);
    assert_non_null(strstr(m.body, "\nquota-soft\t[set <name> <val>]\nhelp\t\nhistory\t"));
    char path[] = "/tmp/vxs-memreport-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    const char *mr[3] = {"memreport", path, "x"};
    assert_int_equal(vh_reqv(d0, XS_CONTROL, 0, mr, 2, NULL, &m), 0);
    assert_string_equal(m.body, "OK");
    assert_int_equal(vh_reqv(d0, XS_CONTROL, 0, mr, 3, NULL, &m), -EINVAL);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[128] = "";
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    unlink(path);
    assert_true(strncmp(line, "connections: ", 13) == 0);
    const char *bad[2] = {"memreport", "/nonexistent-dir/m"};
    assert_int_equal(vh_reqv(d0, XS_CONTROL, 0, bad, 2, NULL, &m), -EINVAL); /* C: EBADF */
    assert_int_equal(vh_reqv(d0, XS_CONTROL, 0, mr, 1, NULL, &m), 0); /* ours: the text */
    assert_true(strncmp(m.body, "connections: ", 13) == 0);
    const char *lf[3] = {"logfile", "a", "b"};
    assert_int_equal(vh_reqv(d0, XS_CONTROL, 0, lf, 1, NULL, &m), -EINVAL);
    assert_int_equal(vh_reqv(d0, XS_CONTROL, 0, lf, 3, NULL, &m), -EINVAL);
    /* log off|on: the trace file closed, then reopened (C's close_log / reopen_log). */
    char tpath[] = "/tmp/vxs-trace-XXXXXX";
    fd = mkstemp(tpath);
    assert_true(fd >= 0);
    close(fd);
    lf[1] = tpath;
    assert_int_equal(vh_reqv(d0, XS_CONTROL, 0, lf, 2, NULL, &m), 0);
    const char *off[2] = {"log", "off"}, *on[2] = {"log", "on"};
    struct stat st0, st1;
    assert_int_equal(vh_write(d0, 0, "/traced", "1"), 0);
    assert_int_equal(stat(tpath, &st0), 0);
    assert_true(st0.st_size > 0);
    assert_int_equal(vh_reqv(d0, XS_CONTROL, 0, off, 2, NULL, &m), 0);
    assert_int_equal(vh_write(d0, 0, "/traced", "2"), 0);
    assert_int_equal(stat(tpath, &st1), 0);
    assert_int_equal(st1.st_size, st0.st_size);
    assert_int_equal(vh_reqv(d0, XS_CONTROL, 0, on, 2, NULL, &m), 0);
    assert_int_equal(vh_write(d0, 0, "/traced", "3"), 0);
    assert_int_equal(stat(tpath, &st1), 0);
    assert_true(st1.st_size > st0.st_size);
    vxs_trace_close();
    unlink(tpath);
}

/* The same requests on a pack file with --sync always: every reply waits for its commit. */
static void test_on_pack(void **state)
{
    (void)state;
    vh_stop();
    char dir[] = "/tmp/vxs-dispatch-XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *args[] = {"--sync", "always", NULL};
    vh_start(dir, args);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1);
    assert_int_equal(vh_mkdir(d0, 0, "/local/domain/1"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/local/domain/1", "n1"), 0);
    assert_int_equal(vh_write(d1, 0, "x", "1"), 0);
    assert_true(vxs.durable_upto == vxs.next_seq);
    vh_stop();
    vh_start(dir, NULL);
    d0 = vh_dom0();
    READS(d0, 0, "/local/domain/1/x", "1");
    PERMS(d0, "/local/domain/1/x", "n1");
    char path[sizeof dir + 32];
    snprintf(path, sizeof path, "%s/xenstore.pack", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_implicit_create),
        T(test_setperms_owner),
        T(test_access_letters),
        T(test_missing_nodes),
        T(test_domain_home),
        T(test_set_target),
        T(test_domid_any),
        T(test_transactions_are_isolated),
        T(test_independent_transactions_coalesce),
        T(test_device_create_coalesce),
        T(test_transactions_really_do_conflict),
        T(test_transaction_live_reads),
        T(test_domain_queries),
        T(test_release_cleans_up),
        T(test_setperms_owner_exists),
        T(test_reintroduce),
        T(test_control_c_commands),
        T(test_on_pack),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
