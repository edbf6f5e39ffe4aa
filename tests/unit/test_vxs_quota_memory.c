/*
 * vxenstored's memory quota for unprivileged domains (-M/-m memory), in-process
 * (tests/unit/vxs_harness.c), as C xenstored 4.17 has it: a domain's figure counts per node
 * its path, a record header, its value and perms, charged to the node's owner whoever writes;
 * a write that would take the owner to the hard value gets EIO (also dom0's), inside a
 * transaction at the request (the commit then says ENOMEM); what C queues for a domain
 * (replies, watch events) counts too; dom0 itself has no quota.
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

#include "tests/unit/vxs_harness.h"
#include "xenstore/vxs_quota.h"

static char buf[XENSTORE_PAYLOAD_MAX + 1];

static int teardown(void **state)
{
    (void)state;
    vh_stop();
    return 0;
}

/* A domain's memory figure is C xenstored 4.17's: per node its path, a 24-byte record header,
 * 8 bytes per perms entry and the value; per child its name and NUL, for the owner of the
 * node that lists it; per watch its absolute path and token. */
static void test_memory_figure(void **state)
{
    (void)state;
    vh_start(NULL, NULL);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1);
    vxs_quota_recount();
    /* "/local/domain/1": 15 + 24 + 8 (one entry "n1"), no value, no children. */
    assert_int_equal(vxs_qdom(1, false)->node_mem, 47);
    assert_int_equal(vh_write(d1, 0, "a", "0123456789"), 0); /* 17 + 32 + 10, "a\0" */
    assert_int_equal(vxs_qdom(1, false)->node_mem, 47 + 59 + 2);
    assert_int_equal(vh_set_perms(d1, 0, "a", "n1,r0"), 0); /* one more entry */
    assert_int_equal(vxs_qdom(1, false)->node_mem, 47 + 67 + 2);
    assert_int_equal(vh_write(d1, 0, "b/cc", ""), 0); /* b: 17 + 32, "b\0"; b/cc: 20 + 32 */
    assert_int_equal(vxs_qdom(1, false)->node_mem, 47 + 67 + 2 + 49 + 2 + 52 + 3);
    assert_int_equal(vxs_quota_memory(1), 47 + 67 + 2 + 49 + 2 + 52 + 3);
    assert_int_equal(vh_watch(d1, "b", "tok"), 0); /* "/local/domain/1/b" and "tok" */
    assert_int_equal(vxs_quota_memory(1), 47 + 67 + 2 + 49 + 2 + 52 + 3 + 17 + 3);
    assert_int_equal(vh_rm(d1, 0, "b"), 0);
    assert_int_equal(vxs_qdom(1, false)->node_mem, 47 + 67 + 2);
    /* A recount from the tree gives the same. */
    vxs_quota_tree_changed();
    vxs_quota_recount();
    assert_int_equal(vxs_qdom(1, false)->node_mem, 47 + 67 + 2);
}

/* A 2,000-byte value: two fit under the memory quotas of the tests below, three do not. */
static const char *big_value(void)
{
    static char big[2001];
    memset(big, 'x', 2000);
    return big;
}

static void test_memory(void **state)
{
    (void)state;
    const char *args[] = {"-Q", "memory=5000", "-q", "memory=3000", NULL};
    vh_start(NULL, args);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1);
    const char *big = big_value();
    assert_int_equal(vh_write(d1, 0, "a", big), 0);
    assert_false(vxs_qdom(1, false)->soft_reported);
    assert_int_equal(vh_write(d1, 0, "b", big), 0);
    assert_true(vxs_qdom(1, false)->soft_reported);
    assert_true(vxs_quota_may_read(d1->c));
    assert_int_equal(vh_write(d1, 0, "c", big), -EIO); /* C's write_node_raw */
    assert_int_equal(vh_read(d1, 0, "c", buf), -ENOENT);
    /* The node would be the domain's: dom0's write is refused too (C charges the owner). */
    assert_int_equal(vh_write(d0, 0, "/local/domain/1/c", big), -EIO);
    assert_int_equal(vh_read(d1, 0, "c", buf), -ENOENT);
    /* dom0's transaction may put it over (C charges a transaction's copies to its
     * connection, and checks no quota at the commit): then its ring is not read. */
    uint32_t tx;
    assert_int_equal(vh_tx_start(d0, &tx), 0);
    assert_int_equal(vh_write(d0, tx, "/local/domain/1/c", big), 0);
    assert_int_equal(vh_tx_end(d0, tx, true), 0);
    assert_false(vxs_quota_may_read(d1->c));
    /* Over it, even a rewrite that adds nothing is refused (C checks the total); an RM
     * never is. */
    assert_int_equal(vh_write(d0, 0, "/local/domain/1/c", big), -EIO);
    assert_int_equal(vh_rm(d0, 0, "/local/domain/1/c"), 0);
    assert_true(vxs_quota_may_read(d1->c));
}

/* Inside a transaction the memory quota bites at the request (as C, which charges the
 * transaction's copy of a node when it writes it), not at the commit: the refused write
 * (EIO) fails the transaction, whose commit then says ENOMEM; nothing of it is applied. */
static void test_memory_transaction(void **state)
{
    (void)state;
    const char *args[] = {"-Q", "memory=5000", NULL};
    vh_start(NULL, args);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1);
    const char *big = big_value();
    assert_int_equal(vh_write(d1, 0, "a", big), 0);
    uint32_t tx;
    assert_int_equal(vh_tx_start(d1, &tx), 0);
    assert_int_equal(vh_write(d1, tx, "b", big), 0);
    assert_int_equal(vh_write(d1, tx, "c", big), -EIO);
    assert_true(vxs_quota_may_read(d1->c)); /* else its TRANSACTION_END would never come */
    assert_int_equal(vh_rm(d1, tx, "a"), 0); /* gives back: no check */
    assert_int_equal(vh_tx_end(d1, tx, true), -ENOMEM);
    assert_int_equal(vh_read(d1, 0, "b", buf), -ENOENT);
    assert_int_equal(vh_read(d1, 0, "a", buf), 0);
    assert_string_equal(buf, big);
    /* An open transaction's additions count for the domain (C: its copies) also outside
     * it, and for reading its ring; until it ends. */
    unsigned long long before = vxs_quota_memory(1);
    assert_int_equal(vh_tx_start(d1, &tx), 0);
    assert_int_equal(vh_write(d1, tx, "b", big), 0);
    assert_true(vxs_quota_memory(1) > before + 2000);
    assert_int_equal(vh_write(d1, 0, "c", big), -EIO);
    assert_int_equal(vh_tx_end(d1, tx, false), 0);
    assert_int_equal(vxs_quota_memory(1), before);
    /* Within the quota the transaction commits; the figure is then as without it. */
    assert_int_equal(vh_tx_start(d1, &tx), 0);
    assert_int_equal(vh_write(d1, tx, "b", big), 0);
    assert_int_equal(vh_tx_end(d1, tx, true), 0);
    assert_true(vxs_quota_memory(1) > before + 2000);
    assert_int_equal(vh_write(d1, 0, "c", big), -EIO);
    /* An aborted failed transaction is just aborted. */
    assert_int_equal(vh_tx_start(d1, &tx), 0);
    assert_int_equal(vh_write(d1, tx, "c", big), -EIO);
    assert_int_equal(vh_tx_end(d1, tx, false), 0);
    /* dom0 is exempt inside transactions too. */
    assert_int_equal(vh_tx_start(d0, &tx), 0);
    assert_int_equal(vh_write(d0, tx, "/local/domain/1/c", big), 0);
    assert_int_equal(vh_tx_end(d0, tx, true), 0);
}

/* The quota checked is the node owner's, whoever writes (C 4.17's do_tdb_write): another
 * domain's node a domain may write, dom0 making a domain the owner of a big node, a
 * dom0-owned node written by a domain (dom0 has no quota); removing never fails. */
static void test_memory_owner(void **state)
{
    (void)state;
    const char *args[] = {"-Q", "memory=5000", NULL};
    vh_start(NULL, args);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1);
    struct vh_client *d2 = vh_domain_with_home(d0, 2);
    const char *big = big_value();
    assert_int_equal(vh_write(d2, 0, "a", big), 0);
    assert_int_equal(vh_write(d2, 0, "b", big), 0);
    /* A node of domain 2 that domain 1 may write: refused for 2's quota, not 1's. */
    assert_int_equal(vh_write(d2, 0, "w", ""), 0);
    assert_int_equal(vh_set_perms(d2, 0, "w", "n2,w1"), 0);
    assert_int_equal(vh_write(d1, 0, "/local/domain/2/w", big), -EIO);
    assert_int_equal(vh_write(d1, 0, "/local/domain/2/w", "small"), 0);
    assert_true(vxs_quota_memory(1) < 200);
    /* dom0 giving domain 2 a big node of its own. */
    assert_int_equal(vh_write(d0, 0, "/d0big", big), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/d0big", "n2"), -EIO);
    assert_int_equal(vh_get_perms(d0, 0, "/d0big", buf), 0);
    assert_memory_equal(buf, "n0", 3);
    /* Domain 1 writing a dom0-owned node: dom0's, no quota. */
    assert_int_equal(vh_set_perms(d0, 0, "/d0big", "n0,w1"), 0);
    assert_int_equal(vh_write(d1, 0, "/d0big", big), 0);
    /* Removing gives back: never refused, and then the owner's write goes. */
    assert_int_equal(vh_rm(d0, 0, "/local/domain/2/b"), 0);
    assert_int_equal(vh_write(d0, 0, "/local/domain/2/c", big), 0);
}

/* C makes a request's new nodes deepest first, each checked against the nodes quota, then
 * the node-size quota, then the memory quota: a request refused by both says EIO if the
 * memory quota refuses a node before the one the nodes quota refuses, else ENOSPC. */
static void test_memory_before_nodes(void **state)
{
    (void)state;
    const char *args[] = {"-Q", "memory=3000", "-E", "4", "-S", "4000", NULL};
    vh_start(NULL, args);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1);
    static char val[2951];
    memset(val, 'x', sizeof val - 1);
    /* Four new nodes, one over the nodes quota (the fourth): the value's node, the first
     * made, is over the memory quota. */
    assert_int_equal(vh_write(d1, 0, "a/b/c/d", val), -EIO);
    /* A small value: the nodes quota refuses the fourth. */
    assert_int_equal(vh_write(d1, 0, "a/b/c/d", "v"), -ENOSPC);
    /* Within the nodes quota, the memory quota alone: EIO too. */
    assert_int_equal(vh_write(d1, 0, "a", val), -EIO);
    assert_int_equal(vh_read(d1, 0, "a", buf), -ENOENT);
    /* The node-size quota (-S) is checked before the memory quota at the same node. */
    static char big[4001];
    memset(big, 'y', sizeof big - 1);
    assert_int_equal(vh_write(d1, 0, "a/b/c/d", big), -ENOSPC);
}

/* C charges what it queues for a domain to the domain's memory: at the hard quota a reply of
 * more than 16 bytes becomes ENOMEM (a short one still goes), an event is lost. */
static void test_memory_replies_and_events(void **state)
{
    (void)state;
    vh_start(NULL, NULL);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1);
    assert_int_equal(vh_write(d1, 0, "v", "01234567890123456789"), 0);
    assert_int_equal(vh_write(d1, 0, "s", "ok"), 0);
    assert_int_equal(vh_write(d1, 0, "w/x", ""), 0);
    assert_int_equal(vh_watch(d1, "w", "tok"), 0);
    vh_events_drop(d1);
    /* With its header, the event "w/x\0tok\0" is 24 bytes, the 20-byte value's reply 37,
     * "ok"'s 19 (16 of payload at most are never refused). */
    unsigned long long mem = vxs_quota_memory(1);
    vxs_quota_set_global(VXS_Q_MEMORY, 0, (unsigned)(mem + 25));
    assert_int_equal(vh_write(d0, 0, "/local/domain/1/w/x", ""), 0);
    char ep[64], et[64];
    assert_true(vh_event(d1, ep, et));
    assert_string_equal(ep, "w/x");
    assert_int_equal(vxs_quota_memory(1), mem);
    assert_int_equal(vh_read(d1, 0, "v", buf), -ENOMEM);
    assert_int_equal(vh_read(d1, 0, "s", buf), 0);
    assert_string_equal(buf, "ok");
    vxs_quota_set_global(VXS_Q_MEMORY, 0, (unsigned)(mem + 38));
    assert_int_equal(vh_read(d1, 0, "v", buf), 0);
    vxs_quota_set_global(VXS_Q_MEMORY, 0, (unsigned)(mem + 24));
    assert_int_equal(vh_write(d0, 0, "/local/domain/1/w/x", ""), 0);
    assert_false(vh_event(d1, NULL, NULL));
    /* A new watch is charged its absolute path and token ("/local/domain/1/w", "t2": 19). */
    vxs_quota_set_global(VXS_Q_MEMORY, 0, (unsigned)(mem + 19));
    assert_int_equal(vh_watch(d1, "w", "t2"), -ENOMEM);
    vxs_quota_set_global(VXS_Q_MEMORY, 0, (unsigned)(mem + 20));
    assert_int_equal(vh_watch(d1, "w", "t2"), 0);
    /* dom0 is exempt. */
    vxs_quota_set_global(VXS_Q_MEMORY, 0, 1);
    assert_int_equal(vh_read(d0, 0, "/local/domain/1/v", buf), 0);
    assert_string_equal(buf, "01234567890123456789");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_teardown(f, teardown)
        T(test_memory_figure),
        T(test_memory),
        T(test_memory_transaction),
        T(test_memory_owner),
        T(test_memory_before_nodes),
        T(test_memory_replies_and_events),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
