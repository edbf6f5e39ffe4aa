/*
 * vxenstored's quotas with unprivileged domains, in-process (tests/unit/vxs_harness.c); the
 * socket test (tests/xenstored/quota.sh) can only be dom0. As C xenstored 4.17 has them:
 *
 *   - nodes per domain (-E): a node counts for its owner; a single request may not take its
 *     domain over the quota (ENOSPC, nothing created); inside a transaction only the
 *     committed count is checked, and the commit checks every domain the transaction added
 *     nodes for; dom0 is exempt but its nodes under a domain's home count for that domain;
 *     SET_PERMS moves a node between owners; a released domain's count goes with its nodes;
 *     the incremental counts always equal a count of the whole tree;
 *   - transaction-nodes (ENOSPC, then the commit fails with ENOMEM);
 *   - per-domain values (SET_QUOTA DOMID ...), privileged-only GET/SET_QUOTA and CONTROL
 *     (EACCES), GET/SET_FEATURE (EACCES with a domid, EBUSY once introduced, the ring's
 *     server_features from SET_FEATURE);
 *   - the limits that stop reading a ring instead of failing requests: outstanding replies
 *     and the XSA-206 write rate limit while a transaction is open; unread watch events of
 *     domains expire (-w watch-event=).
 * The memory quota has a file of its own: test_vxs_quota_memory.c.
 */
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
    vxs_wrl_set_clock(NULL);
    return 0;
}

/* The write rate limit's clock in the tests that set it: it moves only when they say. */
static uint64_t fake_now_ms;

static uint64_t fake_clock(void)
{
    return fake_now_ms;
}

/* The node count of domid, after checking that the incremental counts of domains 0-9 equal
 * what a walk of the whole tree finds. */
static long nodes_of(uint32_t domid)
{
    vxs_quota_recount();
    long inc[10];
    for (uint32_t d = 0; d < 10; d++) {
        struct vxs_qdom *q = vxs_qdom(d, false);
        inc[d] = q ? q->nodes : 0;
    }
    vxs_quota_tree_changed();
    vxs_quota_recount();
    for (uint32_t d = 0; d < 10; d++) {
        struct vxs_qdom *q = vxs_qdom(d, false);
        assert_int_equal(inc[d], q ? q->nodes : 0);
    }
    return inc[domid];
}

static int req_strs(struct vh_client *cl, uint32_t type, const char *a, const char *b,
                    const char *c, char *out)
{
    const char *v[3] = {a, b, c};
    size_t n = c ? 3 : b ? 2 : a ? 1 : 0;
    struct vh_msg m;
    int rc = vh_reqv(cl, type, 0, v, n, NULL, &m);
    if (rc == 0 && out)
        snprintf(out, XENSTORE_PAYLOAD_MAX + 1, "%s", m.body);
    return rc;
}

static void test_nodes_single_requests(void **state)
{
    (void)state;
    const char *args[] = {"-E", "5", NULL};
    vh_start(NULL, args);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1);
    assert_int_equal(nodes_of(1), 1);
    assert_int_equal(vh_write(d1, 0, "a", "1"), 0);
    assert_int_equal(vh_write(d1, 0, "b/c", "1"), 0); /* b and b/c */
    assert_int_equal(vh_write(d1, 0, "d", "1"), 0);
    assert_int_equal(nodes_of(1), 5);
    /* At the quota: nothing new, not even partly (b/c/d/e would make 2). */
    assert_int_equal(vh_write(d1, 0, "e", "1"), -ENOSPC);
    assert_int_equal(vh_mkdir(d1, 0, "e"), -ENOSPC);
    assert_int_equal(vh_write(d1, 0, "b/c/d/e", "1"), -ENOSPC);
    assert_int_equal(vh_read(d1, 0, "b/c/d", buf), -ENOENT);
    assert_int_equal(vh_write(d1, 0, "a", "rewritten"), 0); /* no new node */
    assert_int_equal(vh_mkdir(d1, 0, "a"), 0);
    /* A removed subtree gives its nodes back. */
    assert_int_equal(vh_rm(d1, 0, "b"), 0);
    assert_int_equal(nodes_of(1), 3);
    assert_int_equal(vh_write(d1, 0, "x/y", "1"), 0);
    assert_int_equal(nodes_of(1), 5);
    /* dom0 is not limited, but what it creates under the home belongs to domain 1. */
    assert_int_equal(vh_write(d0, 0, "/local/domain/1/z", "1"), 0);
    assert_int_equal(nodes_of(1), 6);
    assert_int_equal(vh_mkdir(d1, 0, "w"), -ENOSPC);
    /* SET_PERMS moves a node to its new owner. */
    assert_int_equal(vh_set_perms(d0, 0, "/local/domain/1/z", "n0"), 0);
    assert_int_equal(nodes_of(1), 5);
    assert_int_equal(vh_rm(d0, 0, "/local/domain/1/x"), 0);
    assert_int_equal(nodes_of(1), 3);
    assert_int_equal(vh_mkdir(d1, 0, "w"), 0);
    assert_int_equal(nodes_of(1), 4);
    /* dom0's own nodes: far beyond 5. */
    char p[64];
    for (int i = 0; i < 20; i++) {
        snprintf(p, sizeof p, "/d0/n%d", i);
        assert_int_equal(vh_write(d0, 0, p, "v"), 0);
    }
    assert_true(nodes_of(0) > 20);
}

static void test_nodes_transactions(void **state)
{
    (void)state;
    const char *args[] = {"-E", "5", NULL};
    vh_start(NULL, args);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1);
    assert_int_equal(vh_write(d1, 0, "a", "1"), 0);
    assert_int_equal(nodes_of(1), 2);
    /* Counted at the commit: 2 + 3 reaches 5, which the commit refuses (C's >=). */
    uint32_t tx;
    assert_int_equal(vh_tx_start(d1, &tx), 0);
    assert_int_equal(vh_write(d1, tx, "t1", "1"), 0);
    assert_int_equal(vh_write(d1, tx, "t2", "1"), 0);
    assert_int_equal(vh_write(d1, tx, "t3", "1"), 0);
    assert_int_equal(nodes_of(1), 2);
    assert_int_equal(vh_tx_end(d1, tx, true), -ENOSPC);
    assert_int_equal(vh_read(d1, 0, "t1", buf), -ENOENT);
    assert_int_equal(nodes_of(1), 2);
    assert_int_equal(vh_tx_end(d1, tx, true), -ENOENT); /* it is over */
    assert_int_equal(vh_tx_start(d1, &tx), 0);
    assert_int_equal(vh_write(d1, tx, "t1", "1"), 0);
    assert_int_equal(vh_write(d1, tx, "t2", "1"), 0);
    assert_int_equal(vh_tx_end(d1, tx, true), 0);
    assert_int_equal(nodes_of(1), 4);
    assert_int_equal(vh_write(d1, 0, "s", "1"), 0);
    assert_int_equal(nodes_of(1), 5);
    /* Inside a transaction the committed count is what is checked. */
    assert_int_equal(vh_tx_start(d1, &tx), 0);
    assert_int_equal(vh_write(d1, tx, "u", "1"), -ENOSPC);
    assert_int_equal(vh_rm(d1, tx, "t1"), 0);
    assert_int_equal(vh_tx_end(d1, tx, true), 0);
    assert_int_equal(nodes_of(1), 4);
    /* An aborted transaction counts nothing. */
    assert_int_equal(vh_tx_start(d1, &tx), 0);
    assert_int_equal(vh_rm(d1, tx, "t2"), 0);
    assert_int_equal(vh_tx_end(d1, tx, false), 0);
    assert_int_equal(nodes_of(1), 4);
    /* The commit checks every domain whose nodes it counted, not only those it added to:
     * domain 2, which dom0 put over the quota, stays over it after losing one node. */
    struct vh_client *d2 = vh_domain_with_home(d0, 2);
    (void)d2;
    for (int i = 0; i < 5; i++) {
        char p[64];
        snprintf(p, sizeof p, "/local/domain/2/s%d", i);
        assert_int_equal(vh_write(d0, 0, p, "1"), 0);
        assert_int_equal(vh_set_perms(d0, 0, p, "n2,b1"), 0);
    }
    assert_int_equal(nodes_of(2), 6);
    assert_int_equal(vh_rm(d1, 0, "t2"), 0);
    assert_int_equal(nodes_of(1), 3);
    assert_int_equal(vh_tx_start(d1, &tx), 0);
    assert_int_equal(vh_write(d1, tx, "n", "1"), 0);
    assert_int_equal(vh_rm(d1, tx, "/local/domain/2/s0"), 0);
    assert_int_equal(vh_tx_end(d1, tx, true), -ENOSPC);
    assert_int_equal(nodes_of(2), 6);
    assert_int_equal(vh_rm(d1, 0, "/local/domain/2/s0"), 0); /* no node made: no check */
    assert_int_equal(nodes_of(2), 5);
    assert_int_equal(vh_write(d1, 0, "t1", "1"), 0);
    assert_int_equal(nodes_of(1), 4);
    /* dom0's transaction is not checked, even for domain 1's nodes. */
    assert_int_equal(vh_tx_start(d0, &tx), 0);
    assert_int_equal(vh_write(d0, tx, "/local/domain/1/m1", "1"), 0);
    assert_int_equal(vh_write(d0, tx, "/local/domain/1/m2", "1"), 0);
    assert_int_equal(vh_tx_end(d0, tx, true), 0);
    assert_int_equal(nodes_of(1), 6);
}

static void test_transaction_nodes(void **state)
{
    (void)state;
    const char *args[] = {"-Q", "transaction-nodes=3", NULL};
    vh_start(NULL, args);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1);
    uint32_t tx;
    assert_int_equal(vh_tx_start(d1, &tx), 0);
    assert_int_equal(vh_write(d1, tx, "a", "1"), 0);
    /* Each access of a node not accessed before counts (C counts parents looked at too). */
    int rc = 0, i;
    for (i = 0; i < 10 && rc != -ENOSPC; i++) {
        char p[16];
        snprintf(p, sizeof p, "r%d", i);
        rc = vh_read(d1, tx, p, buf);
        assert_true(rc == -ENOENT || rc == -ENOSPC);
    }
    assert_int_equal(rc, -ENOSPC);
    assert_true(i <= 3);
    assert_int_equal(vh_tx_end(d1, tx, true), -ENOMEM); /* the transaction failed */
    /* ENOMEM also when its new nodes would be over the nodes quota (C's order). */
    char out[XENSTORE_PAYLOAD_MAX + 1];
    assert_int_equal(req_strs(d0, XS_CODEC_SET_QUOTA, "1", "nodes", "2", out), 0);
    assert_int_equal(vh_tx_start(d1, &tx), 0);
    assert_int_equal(vh_write(d1, tx, "n1", "1"), 0);
    rc = 0;
    for (i = 0; i < 10 && rc != -ENOSPC; i++) {
        char p[16];
        snprintf(p, sizeof p, "r%d", i);
        rc = vh_read(d1, tx, p, buf);
    }
    assert_int_equal(rc, -ENOSPC);
    assert_int_equal(vh_tx_end(d1, tx, true), -ENOMEM);
    assert_int_equal(vh_read(d1, 0, "a", buf), -ENOENT);
    /* dom0 is exempt. */
    assert_int_equal(vh_tx_start(d0, &tx), 0);
    for (i = 0; i < 10; i++) {
        char p[32];
        snprintf(p, sizeof p, "/x%d", i);
        assert_int_equal(vh_read(d0, tx, p, buf), -ENOENT);
    }
    assert_int_equal(vh_tx_end(d0, tx, true), 0);
}

static void test_quota_requests(void **state)
{
    (void)state;
    vh_start(NULL, NULL);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1);
    char out[XENSTORE_PAYLOAD_MAX + 1];
    /* Privileged only. */
    assert_int_equal(req_strs(d1, XS_CODEC_GET_QUOTA, NULL, NULL, NULL, out), -EACCES);
    assert_int_equal(req_strs(d1, XS_CODEC_GET_QUOTA, "nodes", NULL, NULL, out), -EACCES);
    assert_int_equal(req_strs(d1, XS_CODEC_SET_QUOTA, "1", "nodes", "9", out), -EACCES);
    assert_int_equal(req_strs(d1, XS_CONTROL, "quota", NULL, NULL, out), -EACCES);
    assert_int_equal(req_strs(d1, XS_CODEC_SET_FEATURE, "1", "0", NULL, out), -EACCES);
    assert_int_equal(req_strs(d1, XS_CODEC_GET_FEATURE, "1", NULL, NULL, out), -EACCES);
    assert_int_equal(req_strs(d1, XS_CODEC_GET_FEATURE, NULL, NULL, NULL, out), 0);
    assert_string_equal(out, "15");
    /* A per-domain value. */
    assert_int_equal(req_strs(d0, XS_CODEC_SET_QUOTA, "1", "nodes", "3", out), 0);
    assert_int_equal(req_strs(d0, XS_CODEC_GET_QUOTA, "1", "nodes", NULL, out), 0);
    assert_string_equal(out, "3");
    assert_int_equal(req_strs(d0, XS_CODEC_GET_QUOTA, "nodes", NULL, NULL, out), 0);
    assert_string_equal(out, "1000");
    assert_int_equal(vh_write(d1, 0, "a", "1"), 0);
    assert_int_equal(vh_write(d1, 0, "b", "1"), 0);
    assert_int_equal(vh_write(d1, 0, "c", "1"), -ENOSPC);
    assert_int_equal(req_strs(d0, XS_CODEC_SET_QUOTA, "1", "transactions", "1", out), 0);
    assert_int_equal(req_strs(d0, XS_CODEC_SET_QUOTA, "1", "watches", "2", out), 0);
    /* C 4.17 checks before counting the new one: one beyond the limit is allowed. */
    assert_int_equal(vh_watch(d1, "w1", "t"), 0);
    assert_int_equal(vh_watch(d1, "w2", "t"), 0);
    assert_int_equal(vh_watch(d1, "w3", "t"), 0);
    assert_int_equal(vh_watch(d1, "w4", "t"), -E2BIG);
    uint32_t tx, tx2, tx3;
    assert_int_equal(vh_tx_start(d1, &tx), 0);
    assert_int_equal(vh_tx_start(d1, &tx2), 0);
    assert_int_equal(vh_tx_start(d1, &tx3), -ENOSPC);
    assert_int_equal(vh_tx_end(d1, tx, false), 0);
    assert_int_equal(vh_tx_end(d1, tx2, false), 0);
    /* CONTROL quota DOMID: C's figures. */
    assert_int_equal(req_strs(d0, XS_CONTROL, "quota", "1", NULL, out), 0);
    assert_non_null(strstr(out, "Domain 1:\nnodes           :        3\n"));
    assert_non_null(strstr(out, "transactions    :        0\n"));
    /* Features: set before INTRODUCE, given to the ring, then fixed. */
    vh_set_domain_exists(2, true);
    assert_int_equal(req_strs(d0, XS_CODEC_SET_FEATURE, "2", "16", NULL, out), -EINVAL);
    assert_int_equal(req_strs(d0, XS_CODEC_SET_FEATURE, "2", "2", NULL, out), 0);
    assert_int_equal(req_strs(d0, XS_CODEC_GET_FEATURE, "2", NULL, NULL, out), 0);
    assert_string_equal(out, "2");
    struct vh_client *d2 = vh_domain(2);
    assert_int_equal(req_strs(d2, XS_CODEC_GET_FEATURE, NULL, NULL, NULL, out), 0);
    assert_string_equal(out, "2");
    for (struct vxs_domain *d = vxs.domains; d; d = d->next)
        if (d->domid == 2)
            assert_int_equal(((struct xenstore_domain_interface *)d->page)->server_features, 2);
    assert_int_equal(req_strs(d0, XS_CODEC_SET_FEATURE, "2", "1", NULL, out), -EBUSY);
    assert_int_equal(req_strs(d0, XS_CODEC_SET_FEATURE, "9", "1", NULL, out), -ENOENT);
}

static void test_release(void **state)
{
    (void)state;
    vh_start(NULL, NULL);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1);
    assert_int_equal(vh_write(d1, 0, "a/b", "1"), 0);
    assert_int_equal(vh_write(d0, 0, "/elsewhere/owned-by-1", "1"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/elsewhere/owned-by-1", "n1"), 0);
    assert_int_equal(nodes_of(1), 4);
    long dom0 = nodes_of(0);
    char out[XENSTORE_PAYLOAD_MAX + 1];
    assert_int_equal(req_strs(d0, XS_CODEC_SET_QUOTA, "1", "nodes", "7", out), 0);
    assert_int_equal(vh_release(d0, 1), 0);
    assert_int_equal(vh_read(d0, 0, "/elsewhere/owned-by-1", buf), -ENOENT);
    assert_int_equal(nodes_of(1), 0);
    assert_int_equal(nodes_of(0), dom0);
    /* Its own values went with it. */
    assert_int_equal(req_strs(d0, XS_CODEC_GET_QUOTA, "1", "nodes", NULL, out), 0);
    assert_string_equal(out, "1000");
}

/* XSA-326, as C 4.17: a guest's request stays outstanding until the watch events it caused
 * have left their queues too (here: a watcher that does not read its ring), so a guest cannot
 * pile events up on a slow watcher; not the first event of its own WATCH. */
static void test_outstanding_events(void **state)
{
    (void)state;
    const char *args[] = {"-Q", "outstanding=2", NULL};
    vh_start(NULL, args);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1);
    struct vh_client *d2 = vh_domain_with_home(d0, 2);
    assert_int_equal(vh_write(d1, 0, "w", ""), 0);
    assert_int_equal(vh_set_perms(d1, 0, "w", "n1,r2"), 0);
    assert_int_equal(vh_watch(d2, "/local/domain/1/w", "slow"), 0);
    assert_int_equal(vh_watch(d1, "w", "own"), 0);
    vh_events_drop(d1);
    vh_events_drop(d2);
    vh_rings_keep_output(true); /* d2 takes nothing from now on */
    assert_int_equal(vh_write(d1, 0, "w/a", "1"), 0);
    vh_events_drop(d1);
    assert_int_equal(vxs_qdom(1, false)->outstanding, 1); /* d2 has its event */
    assert_true(vxs_quota_may_read(d1->c));
    assert_int_equal(vh_write(d1, 0, "w/b", "1"), 0);
    vh_events_drop(d1);
    assert_int_equal(vxs_qdom(1, false)->outstanding, 2);
    assert_false(vxs_quota_may_read(d1->c));
    /* d2 reads its ring: both requests are done. */
    free(vxs_conn_take(d2->c));
    assert_int_equal(vxs_qdom(1, false)->outstanding, 1);
    free(vxs_conn_take(d2->c));
    assert_int_equal(vxs_qdom(1, false)->outstanding, 0);
    assert_true(vxs_quota_may_read(d1->c));
    /* A watcher that goes away lets them go as well; a new watch's own first event and
     * dom0's requests are not held. */
    assert_int_equal(vh_write(d1, 0, "w/c", "1"), 0);
    vh_events_drop(d1);
    assert_int_equal(vxs_qdom(1, false)->outstanding, 1);
    vxs_conn_reset(d2->c);
    assert_int_equal(vxs_qdom(1, false)->outstanding, 0);
    assert_int_equal(vh_watch(d1, "w", "own2"), 0);
    vh_events_drop(d1);
    assert_int_equal(vxs_qdom(1, false)->outstanding, 0);
    assert_int_equal(vh_watch(d2, "/local/domain/1/w", "slow"), 0);
    assert_int_equal(vh_write(d0, 0, "/local/domain/1/w/d", "1"), 0);
    vh_events_drop(d1);
    assert_int_equal(vxs_qdom(1, false)->outstanding, 0);
    vh_rings_keep_output(false);
}

static void test_outstanding(void **state)
{
    (void)state;
    const char *args[] = {"-Q", "outstanding=2", NULL};
    vh_start(NULL, args);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1);
    assert_int_equal(vh_write(d1, 0, "a", "1"), 0);
    assert_int_equal(vxs_qdom(1, false)->outstanding, 0); /* the reply was taken */
    assert_true(vxs_quota_may_read(d1->c));
    /* Two replies the guest has not taken: its ring is no longer read. */
    struct xsd_sockmsg m = {.type = XS_READ, .len = 0};
    vxs_send(d1->c, &m, sizeof m, 0);
    assert_true(vxs_quota_may_read(d1->c));
    vxs_send(d1->c, &m, sizeof m, 0);
    assert_false(vxs_quota_may_read(d1->c));
    assert_int_equal(vxs_quota_poll_timeout(-1), -1); /* its guest notifies when it reads */
    /* Watch events are not requests. */
    struct xsd_sockmsg ev = {.type = XS_WATCH_EVENT, .len = 0};
    vxs_send(d0->c, &ev, sizeof ev, 0);
    free(vxs_conn_take(d1->c));
    assert_int_equal(vxs_quota_poll_timeout(-1), 0); /* the loop reads it again at once */
    assert_true(vxs_quota_may_read(d1->c));
    free(vxs_conn_take(d1->c));
    assert_int_equal(vxs_qdom(1, false)->outstanding, 0);
    /* dom0 is never stopped. */
    for (int i = 0; i < 5; i++)
        vxs_send(d0->c, &m, sizeof m, 0);
    assert_true(vxs_quota_may_read(d0->c));
}

static void test_write_rate_limit(void **state)
{
    (void)state;
    fake_now_ms = 1000000; /* no credit is earned in this test */
    vxs_wrl_set_clock(fake_clock);
    vh_start(NULL, NULL);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1),
                     *d2 = vh_domain_with_home(d0, 2);
    /* No transaction open anywhere: no limit. */
    for (int i = 0; i < 300; i++)
        assert_int_equal(vh_write(d2, 0, "a", "1"), 0);
    assert_true(vxs_quota_may_read(d2->c));
    /* While dom0 has one open, domain 1's writes draw on its credit (a burst of 10, then
     * 200/s shared): a burst far over it leaves the domain in debt, not reading its ring. */
    uint32_t tx;
    assert_int_equal(vh_tx_start(d0, &tx), 0);
    int i = 0;
    while (i < 1000 && vxs_quota_may_read(d1->c))
        assert_int_equal(vh_write(d1, 0, "a", "1"), 0), i++;
    assert_true(i < 1000);
    assert_true(i > 5);
    assert_true(vxs_quota_poll_timeout(-1) > 0); /* woken when the debt is paid */
    /* The rate is shared by the introduced domains only (C's wrl_ndomains), not by every
     * domain a quota request or a node's owner named: the wait stays the same. */
    int wait = vxs_quota_poll_timeout(-1);
    assert_non_null(vxs_qdom(77, true));
    assert_int_equal(vxs_quota_poll_timeout(-1), wait);
    /* Each node written counts, as in C: one request making 12 nodes and writing their
     * parent is more than a new domain's burst of 10. */
    struct vh_client *d3 = vh_domain_with_home(d0, 3);
    assert_true(vxs_quota_may_read(d3->c));
    assert_int_equal(vh_write(d3, 0, "a/b/c/d/e/f/g/h/i/j/k/l", "1"), 0);
    assert_false(vxs_quota_may_read(d3->c));
    assert_int_equal(vh_tx_end(d0, tx, false), 0);
    /* dom0 is never limited. */
    assert_int_equal(vh_tx_start(d1, &tx), 0);
    for (i = 0; i < 100; i++)
        assert_int_equal(vh_write(d0, 0, "/x", "1"), 0);
    assert_true(vxs_quota_may_read(d0->c));
}

/* What domains earn over their burst goes to the reserve (at most 1000 writes), which a
 * domain in debt draws on first, as in C: after a quiet while a domain is stopped only some
 * 1000 writes past its burst, not at once. */
static void test_write_rate_reserve(void **state)
{
    (void)state;
    fake_now_ms = 1000000;
    vxs_wrl_set_clock(fake_clock);
    vh_start(NULL, NULL);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1);
    vh_domain_with_home(d0, 2); /* idle: it earns for the reserve too */
    uint32_t tx;
    assert_int_equal(vh_tx_start(d0, &tx), 0);
    fake_now_ms += 60000;
    int i = 0;
    while (i < 2000 && vxs_quota_may_read(d1->c))
        assert_int_equal(vh_write(d1, 0, "a", "1"), 0), i++;
    /* Its own burst of 10 and the full reserve: the write that goes past both stops it
     * (the first WRITE, which made "a", is two node writes: "a" and its parent). */
    assert_int_equal(i, 10 + 1000 + 1 - 1);
    assert_int_equal(vxs_wrl_reserve(), 0);
    /* Time pays the debt (200 writes a second shared by the domains with a ring). */
    fake_now_ms += 1000;
    assert_true(vxs_quota_may_read(d1->c));
    assert_int_equal(vh_tx_end(d0, tx, false), 0);
}

static void test_watch_event_expiry(void **state)
{
    (void)state;
    vh_start(NULL, NULL);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1);
    vxs_watch_send(d1->c, "/local/domain/1/x", "tok", 0);
    vxs_watch_send(d0->c, "/x", "tok", 0);
    assert_non_null(d1->c->out_head);
    assert_true(d1->c->out_head->expires_ms != 0); /* -w watch-event=20 by default */
    assert_true(d0->c->out_head->expires_ms == 0); /* dom0's never expire */
    vxs_conn_expire_events();
    assert_non_null(d1->c->out_head); /* not yet */
    d1->c->out_head->expires_ms = 1;  /* as if 20 s had passed */
    /* Partly written into the ring already: it stays, and does not keep the loop awake. */
    d1->c->out_off = 1;
    assert_int_equal(vxs_conn_event_timeout(), -1);
    vxs_conn_expire_events();
    assert_non_null(d1->c->out_head);
    d1->c->out_off = 0;
    assert_int_equal(vxs_conn_event_timeout(), 0);
    vxs_conn_expire_events();
    assert_null(d1->c->out_head);
    assert_int_equal(d1->c->out_bytes, 0);
    assert_non_null(d0->c->out_head);
}

/* node-size is on the record C keeps for a node: 24 bytes of header, 8 a perms entry, the
 * value and the children's names (write_node_raw), so a parent fills up with children. */
static void test_node_size(void **state)
{
    (void)state;
    vh_start(NULL, NULL);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1);
    vh_set_domain_exists(2, true);
    static char v[2100];
    memset(v, 'v', 2015);
    v[2015] = '\0';
    assert_int_equal(vh_write(d1, 0, "a", v), 0); /* 24 + 8 + 2015 = 2047 */
    v[2015] = 'v';
    v[2016] = '\0';
    assert_int_equal(vh_write(d1, 0, "a", v), -ENOSPC);
    assert_int_equal(vh_write(d1, 0, "b", v), -ENOSPC);
    assert_int_equal(vh_read(d1, 0, "b", buf), -ENOENT);
    assert_int_equal(vh_write(d0, 0, "/local/domain/1/a", v), 0); /* dom0 is exempt */
    v[2015] = '\0';
    assert_int_equal(vh_write(d1, 0, "a", v), 0);
    assert_int_equal(vh_set_perms(d1, 0, "a", "n1,r2"), -ENOSPC); /* + 8 */
    assert_int_equal(vh_write(d1, 0, "a", "short"), 0);
    assert_int_equal(vh_set_perms(d1, 0, "a", "n1,r2"), 0);
    /* 100-character names: 24 + 8 + 101 * 20 >= 2048 at the 20th child. */
    char name[128];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "dir/%02d%098d", i, 0);
        assert_int_equal(vh_write(d1, 0, name, "1"), i < 19 ? 0 : -ENOSPC);
    }
    assert_int_equal(vh_write(d0, 0, "/local/domain/1/dir/x", "1"), 0);
    /* Per domain. */
    char out[XENSTORE_PAYLOAD_MAX + 1];
    assert_int_equal(req_strs(d0, XS_CODEC_SET_QUOTA, "1", "node-size", "100", out), 0);
    memset(v, 'w', 68);
    v[68] = '\0';
    assert_int_equal(vh_write(d1, 0, "c", v), -ENOSPC); /* 24 + 8 + 68 = 100 */
    v[67] = '\0';
    assert_int_equal(vh_write(d1, 0, "c", v), 0);
}

/* The transaction-nodes quota is the one in force at each request (C checks the quota as it
 * is at each access): raised while a transaction is open, it counts from the next request. */
static void test_transaction_nodes_raised(void **state)
{
    (void)state;
    const char *args[] = {"-Q", "transaction-nodes=2", NULL};
    vh_start(NULL, args);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1);
    uint32_t tx;
    char out[XENSTORE_PAYLOAD_MAX + 1];
    assert_int_equal(vh_tx_start(d1, &tx), 0);
    assert_int_equal(req_strs(d0, XS_CODEC_SET_QUOTA, "1", "transaction-nodes", "100", out), 0);
    assert_int_equal(vh_write(d1, tx, "a/b/c", "1"), 0);
    assert_int_equal(vh_write(d1, tx, "d/e/f", "1"), 0);
    assert_int_equal(vh_tx_end(d1, tx, true), 0);
    assert_int_equal(vh_read(d1, 0, "d/e/f", buf), 0);
    assert_string_equal(buf, "1");
}

/* In a transaction, a record node-size refuses (a new node, a new parent, the existing
 * ancestor that gains a child, an existing node's new value or perms) fails the transaction
 * (C's write_node): its commit then says ENOMEM. The nodes quota does not. */
static void test_node_size_fails_transaction(void **state)
{
    (void)state;
    vh_start(NULL, NULL);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1);
    char out[XENSTORE_PAYLOAD_MAX + 1];
    assert_int_equal(req_strs(d0, XS_CODEC_SET_QUOTA, "1", "node-size", "60", out), 0);
    uint32_t tx;
    /* The new node itself too big (24 + 8 + 28 = 60). */
    assert_int_equal(vh_tx_start(d1, &tx), 0);
    assert_int_equal(vh_write(d1, tx, "a", "0123456789012345678901234567"), -ENOSPC);
    assert_int_equal(vh_write(d1, tx, "b", "1"), 0);
    assert_int_equal(vh_tx_end(d1, tx, true), -ENOMEM);
    assert_int_equal(vh_write(d1, 0, "b", "1"), 0);
    /* An existing node's new value, its new perms. */
    assert_int_equal(vh_tx_start(d1, &tx), 0);
    assert_int_equal(vh_write(d1, tx, "b", "0123456789012345678901234567"), -ENOSPC);
    assert_int_equal(vh_tx_end(d1, tx, true), -ENOMEM);
    assert_int_equal(vh_tx_start(d1, &tx), 0);
    assert_int_equal(vh_set_perms(d1, tx, "b", "n1,r0,r0,r0,r0"), -ENOSPC); /* 24 + 40 + 1 */
    assert_int_equal(vh_tx_end(d1, tx, true), -ENOMEM);
    assert_int_equal(vh_tx_start(d1, &tx), 0);
    assert_int_equal(vh_set_perms(d1, tx, "b", "n1,r0"), 0);
    assert_int_equal(vh_tx_end(d1, tx, true), 0);
    assert_int_equal(vh_set_perms(d1, 0, "b", "n1"), 0);
    /* The home gains a 28-byte name: 24 + 8 + 2 + 29 >= 60, after "x/y" were written. */
    assert_int_equal(vh_tx_start(d1, &tx), 0);
    assert_int_equal(vh_write(d1, tx, "abcdefghijabcdefghijabcdefgh/y", "1"), -ENOSPC);
    assert_int_equal(vh_write(d1, tx, "c", "1"), 0);
    assert_int_equal(vh_tx_end(d1, tx, true), -ENOMEM);
    assert_int_equal(vh_read(d1, 0, "c", buf), -ENOENT);
    /* Outside a transaction the same refusal is only that request's. */
    assert_int_equal(vh_write(d1, 0, "abcdefghijabcdefghijabcdefgh/y", "1"), -ENOSPC);
    assert_int_equal(vh_write(d1, 0, "c", "1"), 0);
}

/* node-permissions: the entries are counted before they are parsed (C's order). */
static void test_perms_entries(void **state)
{
    (void)state;
    vh_start(NULL, NULL);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1);
    vh_set_domain_exists(2, true);
    assert_int_equal(vh_write(d1, 0, "a", "1"), 0);
    assert_int_equal(vh_set_perms(d1, 0, "a", "n1,r2,r2,r2,r2"), 0);
    assert_int_equal(vh_set_perms(d1, 0, "a", "n1,r2,r2,r2,r2,r2"), -ENOSPC);
    assert_int_equal(vh_set_perms(d1, 0, "a", "n1,x,x,x,x,x"), -ENOSPC);
    assert_int_equal(vh_set_perms(d1, 0, "a", "n1,x"), -EINVAL);
    assert_int_equal(vh_set_perms(d0, 0, "/local/domain/1/a", "n1,r2,r2,r2,r2,r2"), 0);
    char out[XENSTORE_PAYLOAD_MAX + 1];
    assert_int_equal(req_strs(d0, XS_CODEC_SET_QUOTA, "1", "node-permissions", "2", out), 0);
    assert_int_equal(vh_set_perms(d1, 0, "a", "n1,r2,r2"), -ENOSPC);
    assert_int_equal(vh_set_perms(d1, 0, "a", "n1,r2"), 0);
}

/* The limit holds request by request: requests the guest wrote beyond it stay in req[] until
 * it takes replies (C checks before each request it reads). */
static void test_outstanding_ring(void **state)
{
    (void)state;
    const char *args[] = {"-Q", "outstanding=3", NULL};
    vh_start(NULL, args);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1);
    struct xenstore_domain_interface *intf = NULL;
    for (struct vxs_domain *d = vxs.domains; d; d = d->next)
        if (d->domid == 1)
            intf = d->page;
    assert_non_null(intf);
    XENSTORE_RING_IDX prod = intf->req_prod;
    for (uint32_t i = 0; i < 10; i++) {
        struct xsd_sockmsg h = {.type = XS_GET_DOMAIN_PATH, .req_id = 100 + i, .len = 2};
        uint8_t msg[sizeof h + 2];
        memcpy(msg, &h, sizeof h);
        memcpy(msg + sizeof h, "1", 2);
        for (size_t j = 0; j < sizeof msg; j++, prod++)
            intf->req[MASK_XENSTORE_IDX(prod)] = (char)msg[j];
    }
    intf->req_prod = prod;
    unsigned got = 0;
    for (int round = 0; round < 10 && got < 10; round++) {
        vxs_conn_input(d1->c);
        assert_true(vxs_qdom(1, false)->outstanding <= 3);
        struct vxs_out *o;
        while ((o = vxs_conn_take(d1->c)) != NULL) {
            const struct xsd_sockmsg *h = (const void *)o->data;
            assert_int_equal(h->req_id, 100 + got);
            got++;
            free(o);
        }
    }
    assert_int_equal(got, 10);
}

/* Hostile payloads for the quota and feature requests: any bytes, any length, from dom0 and
 * from a domain; the daemon answers each (run under ASan+UBSan too). */
static void test_hostile_payloads(void **state)
{
    (void)state;
    vh_start(NULL, NULL);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain_with_home(d0, 1);
    static const char *const pieces[] = {"", "0", "1", "7", "65535", "65536", "-1", "x",
                                         "nodes", "soft-memory", "soft-", "memory", "quota",
                                         "quota-soft", "set", "4294967295", "99999999999"};
    static uint8_t body[XENSTORE_PAYLOAD_MAX];
    unsigned seed = 12345;
    for (int i = 0; i < 3000; i++) {
        size_t len = 0;
        int n = (int)((seed = seed * 1103515245u + 12345u) >> 16) % 5;
        for (int j = 0; j < n; j++) {
            const char *p = pieces[((seed = seed * 1103515245u + 12345u) >> 16) % 17];
            memcpy(body + len, p, strlen(p) + 1);
            len += strlen(p) + 1;
        }
        if (((seed = seed * 1103515245u + 12345u) >> 16) % 4 == 0 && len)
            len--; /* no final NUL */
        if (i % 500 == 0) {
            memset(body, i % 1000 ? 'z' : 0, sizeof body); /* long, or all NULs */
            len = sizeof body;
        }
        uint32_t types[] = {XS_CODEC_GET_FEATURE, XS_CODEC_SET_FEATURE, XS_CODEC_GET_QUOTA,
                            XS_CODEC_SET_QUOTA, XS_CONTROL};
        uint32_t type = types[i % 5];
        struct vh_client *cl = i % 2 ? d0 : d1;
        if (type == XS_CONTROL && cl == d0 && len) {
            memcpy(body, i % 3 ? "quota" : "quota-soft", i % 3 ? 6 : 11);
        }
        struct vh_msg m;
        int rc = vh_req(cl, type, 0, body, len, &m);
        assert_true(rc == 0 || rc == -EINVAL || rc == -ENOENT || rc == -EACCES ||
                    rc == -EBUSY);
    }
    /* Still itself. */
    assert_int_equal(vh_write(d1, 0, "a", "1"), 0);
    char out[XENSTORE_PAYLOAD_MAX + 1];
    assert_int_equal(req_strs(d0, XS_CODEC_GET_QUOTA, NULL, NULL, NULL, out), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_teardown(f, teardown)
        T(test_nodes_single_requests),
        T(test_nodes_transactions),
        T(test_transaction_nodes),
        T(test_transaction_nodes_raised),
        T(test_quota_requests),
        T(test_release),
        T(test_outstanding),
        T(test_outstanding_events),
        T(test_outstanding_ring),
        T(test_write_rate_limit),
        T(test_write_rate_reserve),
        T(test_watch_event_expiry),
        T(test_node_size),
        T(test_node_size_fails_transaction),
        T(test_perms_entries),
        T(test_hostile_payloads),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
