/*
 * vxenstored: quotas and abuse limits, as C xenstored has them.
 *
 *   - The quota table: a hard (and for memory a soft) value per quota, global defaults
 *     (-E -W -t -S -A -M, -Q/-q WHAT=N, CONTROL quota set, SET_QUOTA) and per-domain values
 *     (SET_QUOTA DOMID ...). Privileged connections (dom0, the Unix socket) are exempt.
 *   - Nodes per domain: every node counts for its owner (the first perms entry). Changes are
 *     noted per store transaction (vxs_quota_txn_*) and reach the counts only when that
 *     transaction commits; removals the daemon makes on its own (a released domain's nodes)
 *     and a restart make the counts stale, and they are recounted by walking the tree.
 *   - Memory per domain: an estimate of what a domain makes the daemon hold (its nodes'
 *     paths, values and perms; its watches; its queued output). Over the soft value a warning
 *     goes to the log; at the hard value writes of its nodes get EIO, whoever makes them
 *     (dom0 too: C charges a node's bytes to its owner), its watches and long replies
 *     ENOMEM, its events are dropped and its ring is not read.
 *   - Outstanding requests: replies queued and not yet taken by the peer; at the quota the
 *     ring is not read (the guest waits, it gets no error), as in C.
 *   - Write rate limit (XSA-206): while any transaction is open, unprivileged domains share a
 *     token bucket of 200 writes/s (burst 10 a domain, 1000 in all, new domains 5 bursts
 *     from the reserve); a domain in debt is not read until it has credit again.
 *   - GET_FEATURE/SET_FEATURE/GET_QUOTA/SET_QUOTA and CONTROL quota/quota-soft.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xenstore/vxs.h"
#include "xenstore/vxs_quota.h"

#define Q_OFF UINT_MAX /* a quota without this value (only memory has a soft one) */

/* The names -Q/-q take: C's (Xen 4.21's GET_QUOTA names; 4.17's "permissions" too). */
static const struct {
    const char *name, *alias;
} names[VXS_Q_N] = {
    [VXS_Q_NODES] = {"nodes", NULL},
    [VXS_Q_WATCHES] = {"watches", NULL},
    [VXS_Q_OUTSTANDING] = {"outstanding", NULL},
    [VXS_Q_MEMORY] = {"memory", NULL},
    [VXS_Q_TRANSACTIONS] = {"transactions", NULL},
    [VXS_Q_TRANSACTION_NODES] = {"transaction-nodes", NULL},
    [VXS_Q_PERMISSIONS] = {"node-permissions", "permissions"},
    [VXS_Q_PATH_MAX] = {"path-max", NULL},
    [VXS_Q_NODE_SIZE] = {"node-size", NULL},
};

/* Global values: [0] hard, [1] soft. Those other files read through vxs.* stay there. */
static unsigned glob[VXS_Q_N][2];
static unsigned watch_event_ms = 20000;
static struct vxs_qdom *doms[65536]; /* by domid, allocated when first needed */

static unsigned *hard_slot(enum vxs_quota_id q)
{
    static unsigned dummy;
    switch (q) {
    case VXS_Q_WATCHES:
        return &vxs.max_watches;
    case VXS_Q_TRANSACTIONS:
        return &vxs.max_txs;
    case VXS_Q_PERMISSIONS:
        return &vxs.max_perms;
    default:
        return q < VXS_Q_N ? &glob[q][0] : &dummy;
    }
}

unsigned vxs_quota_global(enum vxs_quota_id q, int soft)
{
    if (soft)
        return glob[q][1];
    if (q == VXS_Q_NODE_SIZE)
        return (unsigned)vxs.max_node_size;
    if (q == VXS_Q_PATH_MAX)
        return (unsigned)vxs.path_max;
    return *hard_slot(q);
}

void vxs_quota_set_global(enum vxs_quota_id q, int soft, unsigned v)
{
    if (soft)
        glob[q][1] = v;
    else if (q == VXS_Q_NODE_SIZE)
        vxs.max_node_size = v;
    else if (q == VXS_Q_PATH_MAX)
        vxs.path_max = v > XENSTORE_REL_PATH_MAX ? XENSTORE_REL_PATH_MAX : v;
    else
        *hard_slot(q) = v;
}

void vxs_quota_defaults(void)
{
    /* A fresh daemon (or a unit test's next one): nothing known about any domain. */
    for (uint32_t id = 0; id < 65536; id++) {
        if (doms[id])
            vxs_wrl_domain_gone(doms[id]);
        free(doms[id]);
        doms[id] = NULL;
    }
    vxs_wrl_reset();
    vxs_quota_txn_forget_all();
    vxs_quota_tree_changed();
    static const unsigned hard[VXS_Q_N] = {
        [VXS_Q_NODES] = 1000,         [VXS_Q_WATCHES] = 128,
        [VXS_Q_OUTSTANDING] = 20,     [VXS_Q_MEMORY] = 2 * 1024 * 1024 + 512 * 1024,
        [VXS_Q_TRANSACTIONS] = 10,    [VXS_Q_TRANSACTION_NODES] = 1024,
        [VXS_Q_PERMISSIONS] = 5,      [VXS_Q_PATH_MAX] = XENSTORE_REL_PATH_MAX,
        [VXS_Q_NODE_SIZE] = 2048,
    };
    for (int q = 0; q < VXS_Q_N; q++) {
        vxs_quota_set_global(q, 0, hard[q]);
        glob[q][1] = Q_OFF;
    }
    glob[VXS_Q_MEMORY][1] = 2 * 1024 * 1024;
    watch_event_ms = 20000;
}

/* "name" or "soft-name" -> quota and index; -1 if unknown or without that value. */
static int parse_name(const char *s, size_t n, int *soft)
{
    *soft = 0;
    if (n > 5 && strncmp(s, "soft-", 5) == 0)
        *soft = 1, s += 5, n -= 5;
    for (int q = 0; q < VXS_Q_N; q++) {
        if ((strlen(names[q].name) == n && strncmp(s, names[q].name, n) == 0) ||
            (names[q].alias && strlen(names[q].alias) == n && strncmp(s, names[q].alias, n) == 0))
            return *soft && glob[q][1] == Q_OFF ? -1 : q;
    }
    return -1;
}

int vxs_quota_set_option(const char *what_eq_n, bool soft)
{
    const char *eq = strchr(what_eq_n, '=');
    char *end;
    if (!eq || !eq[1])
        return -1;
    unsigned long v = strtoul(eq + 1, &end, 10);
    if (*end || v > INT_MAX)
        return -1;
    int s;
    int q = parse_name(what_eq_n, (size_t)(eq - what_eq_n), &s);
    if (q < 0 || s)
        return -1;
    if (soft && glob[q][1] == Q_OFF)
        return -1; /* only memory has a soft value */
    vxs_quota_set_global(q, soft, (unsigned)v);
    return 0;
}

int vxs_quota_set_timeout(const char *what_eq_secs)
{
    const char *eq = strchr(what_eq_secs, '=');
    char *end;
    if (!eq || !eq[1] || (size_t)(eq - what_eq_secs) != strlen("watch-event") ||
        strncmp(what_eq_secs, "watch-event", (size_t)(eq - what_eq_secs)) != 0)
        return -1;
    unsigned long v = strtoul(eq + 1, &end, 10);
    if (*end || v > INT_MAX / 1000)
        return -1;
    watch_event_ms = (unsigned)v * 1000;
    return 0;
}

unsigned vxs_quota_watch_event_ms(void)
{
    return watch_event_ms;
}

/* ---- per-domain state ---------------------------------------------------------------- */

struct vxs_qdom *vxs_qdom(uint32_t domid, bool create)
{
    domid &= 0xffffu;
    if (!doms[domid] && create) {
        struct vxs_qdom *d = calloc(1, sizeof *d);
        if (!d)
            return NULL;
        for (int q = 0; q < VXS_Q_N; q++)
            d->val[q][0] = d->val[q][1] = Q_OFF;
        d->features = VXS_RING_FEATURES;
        d->domid = domid;
        vxs_wrl_domain_new(d);
        doms[domid] = d;
    }
    return doms[domid];
}

void vxs_quota_domain_introduced(uint32_t domid)
{
    struct vxs_qdom *d = vxs_qdom(domid, true);
    if (d)
        vxs_wrl_domain_introduced(d);
}

void vxs_quota_domain_gone(uint32_t domid)
{
    struct vxs_qdom *d = doms[domid & 0xffffu];
    if (!d)
        return;
    vxs_wrl_domain_gone(d);
    doms[domid & 0xffffu] = NULL;
    free(d);
    vxs_quota_tree_changed();
}

unsigned vxs_quota_limit(uint32_t domid, enum vxs_quota_id q)
{
    const struct vxs_qdom *d = doms[domid & 0xffffu];
    if (d && d->val[q][0] != Q_OFF)
        return d->val[q][0];
    return vxs_quota_global(q, 0);
}

static unsigned soft_limit(uint32_t domid, enum vxs_quota_id q)
{
    const struct vxs_qdom *d = doms[domid & 0xffffu];
    if (d && d->val[q][1] != Q_OFF)
        return d->val[q][1];
    return glob[q][1];
}

bool vxs_quota_exceeds(const struct vxs_conn *c, enum vxs_quota_id q, unsigned long long val)
{
    if (!c || c->priv)
        return false;
    unsigned lim = vxs_quota_limit(c->domid, q);
    return lim && val >= lim;
}

uint32_t vxs_quota_features(uint32_t domid)
{
    const struct vxs_qdom *d = doms[domid & 0xffffu];
    return d ? d->features : VXS_RING_FEATURES;
}

/* ---- memory ---------------------------------------------------------------------------- */

unsigned long long vxs_quota_conn_memory(const struct vxs_conn *c)
{
    unsigned long long m = c->out_bytes;
    for (const struct vxs_watch *w = c->watches; w; w = w->next)
        m += strlen(w->path) + strlen(w->token); /* C: the absolute path and the token */
    /* What its open transactions add to its own nodes so far: C charges a transaction's
     * copies of nodes while it is open (more than this: vxenstored.8), so a domain's big
     * transactions count against its quota before their commit there too. */
    for (const struct vxs_tx *t = c->txs; t; t = t->next) {
        long long d = vxs_quota_txn_open_mem(t->x);
        if (d > 0)
            m += (unsigned long long)d;
    }
    return m;
}

unsigned long long vxs_quota_conns_memory(uint32_t domid)
{
    unsigned long long m = 0;
    for (const struct vxs_conn *c = vxs.conns; c; c = c->next)
        if (c->domid == domid) /* dom0's sockets count for it, as in C */
            m += vxs_quota_conn_memory(c);
    return m;
}

unsigned long long vxs_quota_memory(uint32_t domid)
{
    const struct vxs_qdom *d = doms[domid & 0xffffu];
    unsigned long long m = d && d->node_mem > 0 ? (unsigned long long)d->node_mem : 0;
    return m + vxs_quota_conns_memory(domid);
}

bool vxs_quota_out_over(const struct vxs_conn *c, size_t n)
{
    if (c->priv || c->domid == 0)
        return false;
    unsigned hard = vxs_quota_limit(c->domid, VXS_Q_MEMORY);
    if (!hard)
        return false;
    /* The figure vxs_quota_may_read uses (a domain's own connection, not a scan of all). */
    const struct vxs_qdom *d = doms[c->domid & 0xffffu];
    unsigned long long m = d && d->node_mem > 0 ? (unsigned long long)d->node_mem : 0;
    return m + vxs_quota_conn_memory(c) + n >= hard;
}

/* Log crossing the soft and hard values once each way, as C does. true: at the hard one. */
bool vxs_quota_memory_check(uint32_t domid, unsigned long long mem)
{
    if (domid == 0)
        return false;
    struct vxs_qdom *d = vxs_qdom(domid, true);
    if (!d)
        return false;
    unsigned hard = vxs_quota_limit(domid, VXS_Q_MEMORY);
    unsigned soft = soft_limit(domid, VXS_Q_MEMORY);
    if (hard && mem >= hard) {
        if (!d->hard_reported)
            vxs_log("domain %u exceeds hard memory quota, Xenstore interface to domain "
                    "stalled", domid);
        d->hard_reported = true;
        return true;
    }
    if (d->hard_reported) {
        d->hard_reported = false;
        vxs_log("domain %u below hard memory quota again", domid);
    }
    if (soft && soft != Q_OFF && mem >= soft && !d->soft_reported) {
        d->soft_reported = true;
        vxs_log("domain %u exceeds soft memory quota", domid);
    } else if ((soft == Q_OFF || !soft || mem < soft) && d->soft_reported) {
        d->soft_reported = false;
        vxs_log("domain %u below soft memory quota again", domid);
    }
    return false;
}

/* ---- outstanding requests and reading a ring ------------------------------------------ */

static void outstanding(struct vxs_qdom *d, int delta)
{
    if (!d)
        return;
    if (delta < 0 && d->outstanding < (unsigned)-delta)
        d->outstanding = 0;
    else
        d->outstanding += (unsigned)delta;
    if (d->outstanding > d->max_seen[VXS_Q_OUTSTANDING])
        d->max_seen[VXS_Q_OUTSTANDING] = d->outstanding;
}

void vxs_quota_outstanding(const struct vxs_conn *c, int delta)
{
    if (c->dom)
        outstanding(vxs_qdom(c->domid, true), delta);
}

void vxs_quota_outstanding_dom(uint32_t domid, int delta)
{
    outstanding(vxs_qdom(domid, false), delta);
}

bool vxs_quota_may_read(const struct vxs_conn *c)
{
    if (c->priv || !c->dom)
        return true;
    struct vxs_qdom *d = vxs_qdom(c->domid, true);
    if (!d)
        return true;
    d->blocked = !vxs_wrl_may_read(d) ||
                 vxs_quota_exceeds(c, VXS_Q_OUTSTANDING, d->outstanding) ||
                 vxs_quota_memory_check(c->domid, (d->node_mem > 0 ? (unsigned long long)
                                                   d->node_mem : 0) + vxs_quota_conn_memory(c));
    return !d->blocked;
}
