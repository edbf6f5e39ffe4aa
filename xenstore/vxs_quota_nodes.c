/*
 * vxenstored: nodes per domain (C xenstored's "nodes" quota) and the size of a node's record
 * ("node-size"). The transaction-nodes quota is the store transaction's own count of the
 * nodes it accessed (vs_txn_set_max_accessed, set by vxs_txn.c).
 *
 * Each node counts for its owner. A request or xenstore transaction changes the counts only
 * when its store transaction commits, so every tracked store transaction keeps the changes
 * it made (per owner: nodes and bytes); vxs_dispatch.c applies them after the commit or
 * forgets them. The accounting reads only what the change itself touches (the node, its
 * missing parents, a removed subtree), so it adds no conflicts. Changes the daemon makes on its own
 * commits (a released domain's nodes) and a restart leave the counts stale: they are then
 * rebuilt from the whole tree, as C xenstored walks its tree at such times.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/vxs.h"
#include "xenstore/vxs_quota.h"

struct delta {
    uint32_t domid;
    long nodes;
    long long mem;
    bool counted; /* a node of it was created, removed or given away (C's changed_domains) */
};

struct qtx {
    struct qtx *next;
    struct vs_txn *x;
    const struct vxs_conn *c; /* NULL: the daemon's own */
    uint32_t domid;
    bool priv, xs_tx, created;
    bool failed; /* a request in it was refused ENOMEM: the commit says so too */
    unsigned writes; /* node writes and deletions: C's write-rate debits */
    struct delta *d;
    size_t nd, capd;
};

static struct qtx *txs;
static bool stale = true; /* nothing counted yet: count at first need */

static struct qtx *find(const struct vs_txn *x)
{
    for (struct qtx *q = txs; q; q = q->next)
        if (q->x == x)
            return q;
    return NULL;
}

void vxs_quota_txn_track(struct vs_txn *x, const struct vxs_conn *c, bool xs_transaction)
{
    if (!x || find(x))
        return;
    struct qtx *q = calloc(1, sizeof *q);
    if (!q)
        return; /* accounting lost for this one; the next recount repairs it */
    q->x = x;
    q->c = c;
    q->domid = c ? c->domid : 0;
    q->priv = !c || c->priv;
    q->xs_tx = xs_transaction;
    q->next = txs;
    txs = q;
}

static void qtx_free(struct qtx *q)
{
    free(q->d);
    free(q);
}

static struct qtx *unlink_qtx(struct vs_txn *x)
{
    for (struct qtx **p = &txs; *p; p = &(*p)->next)
        if ((*p)->x == x) {
            struct qtx *q = *p;
            *p = q->next;
            return q;
        }
    return NULL;
}

void vxs_quota_txn_forget(struct vs_txn *x)
{
    struct qtx *q = unlink_qtx(x);
    if (q)
        qtx_free(q);
}

static void add(struct qtx *q, uint32_t domid, long nodes, long long mem, bool counted)
{
    for (size_t i = 0; i < q->nd; i++)
        if (q->d[i].domid == domid) {
            q->d[i].nodes += nodes;
            q->d[i].mem += mem;
            q->d[i].counted |= counted;
            return;
        }
    if (q->nd == q->capd) {
        size_t cap = q->capd ? q->capd * 2 : 4;
        struct delta *d = realloc(q->d, cap * sizeof *d);
        if (!d) {
            stale = true;
            return;
        }
        q->d = d;
        q->capd = cap;
    }
    q->d[q->nd++] = (struct delta){.domid = domid, .nodes = nodes, .mem = mem,
                                   .counted = counted};
}

static void count_into(struct vxs_qdom *d, long nodes, long long mem)
{
    d->nodes += nodes;
    d->node_mem += mem;
    if (d->nodes < 0)
        d->nodes = 0;
    if (d->node_mem < 0)
        d->node_mem = 0;
    if (d->nodes > (long)d->max_seen[VXS_Q_NODES] && d->domid != 0)
        d->max_seen[VXS_Q_NODES] = (unsigned)d->nodes;
}

unsigned vxs_quota_txn_apply(struct vs_txn *x)
{
    struct qtx *q = unlink_qtx(x);
    if (!q)
        return 0;
    unsigned writes = q->writes;
    for (size_t i = 0; !stale && i < q->nd; i++) {
        struct vxs_qdom *d = vxs_qdom(q->d[i].domid, true);
        if (!d) {
            stale = true;
            break;
        }
        count_into(d, q->d[i].nodes, q->d[i].mem);
    }
    qtx_free(q);
    return writes;
}

int vxs_quota_txn_check(struct vs_txn *x)
{
    if (vs_txn_failed(x))
        return 0; /* C says ENOMEM first: the commit will */
    struct qtx *q = find(x);
    if (q && q->failed)
        return -ENOMEM;
    if (!q || q->priv || !q->created)
        return 0;
    vxs_quota_recount();
    /* Every domain whose nodes the transaction counted, as C's transaction_fix_domains. */
    for (size_t i = 0; i < q->nd; i++) {
        uint32_t id = q->d[i].domid;
        if (id == 0 || !q->d[i].counted)
            continue;
        const struct vxs_qdom *d = vxs_qdom(id, false);
        long cnt = (d ? d->nodes : 0) + q->d[i].nodes;
        unsigned lim = vxs_quota_limit(id, VXS_Q_NODES);
        if (lim && cnt >= (long)lim)
            return -ENOSPC;
    }
    return 0;
}

/* A domain whose ring we stopped serving (a protocol error): C checks no quota of its
 * (domain_chk_quota: its connection is ignored). */
static bool ignored(uint32_t domid)
{
    for (const struct vxs_conn *c = vxs.conns; c; c = c->next)
        if (c->dom && c->domid == domid && !c->dead)
            return c->dom->ring.broken;
    return false;
}

int vxs_quota_txn_check_memory(struct vs_txn *x)
{
    struct qtx *q = find(x);
    if (!q)
        return 0;
    /* C 4.17 (do_tdb_write) charges a node's bytes to the node's owner, whoever writes it,
     * and checks the owner's hard memory quota there; a refused write is EIO
     * (write_node_raw), not ENOMEM. Inside an xenstore transaction it charges its copies
     * to the transaction's connection instead: dom0's are never refused, a domain's only
     * for what they add to its own figure (the commit itself is not checked). A rewrite
     * that adds nothing is checked too, as C's (refused if the owner is at the quota
     * already); what only gives back (RM) is not. */
    if (q->xs_tx && q->priv)
        return 0;
    for (size_t i = 0; i < q->nd; i++) {
        uint32_t id = q->d[i].domid;
        if (id == 0 || q->d[i].mem < 0 || (q->xs_tx && id != q->domid) || ignored(id))
            continue;
        vxs_quota_recount();
        const struct vxs_qdom *d = vxs_qdom(id, false);
        /* Its nodes and its connections (the owner's ones, as C's domain->memory); an
         * xenstore transaction's own changes are in its connection's figure already. */
        unsigned long long m = (d && d->node_mem > 0 ? (unsigned long long)d->node_mem : 0) +
                               vxs_quota_conns_memory(id) +
                               (q->xs_tx ? 0 : (unsigned long long)q->d[i].mem);
        if (vxs_quota_memory_check(id, m))
            return -EIO;
    }
    return 0;
}

long long vxs_quota_txn_own_mem(struct vs_txn *x)
{
    const struct qtx *q = find(x);
    long long m = 0;
    for (size_t i = 0; q && i < q->nd; i++)
        if (q->d[i].domid == q->domid)
            m += q->d[i].mem;
    return m;
}

long long vxs_quota_txn_open_mem(struct vs_txn *x)
{
    const struct qtx *q = find(x);
    return q && !q->failed ? vxs_quota_txn_own_mem(x) : 0;
}

void vxs_quota_txn_fail(struct vs_txn *x)
{
    struct qtx *q = find(x);
    if (q)
        q->failed = true;
}

/* The size of the record C xenstored 4.17 writes for a node (write_node_raw): header,
 * perms entries, value, children's names with their NULs; the "node-size" quota is on it. */
#define C_RECORD_HDR 24u
#define C_RECORD_PERM 8u

/* A node's bytes as C xenstored 4.17 charges them to its owner's memory (do_tdb_write): the
 * path and the record, without the children's names, which are counted as they come and go
 * (name_bytes), for the owner of the node that lists them. So "quota DOMID" shows C's figure
 * and the memory quota bites at the same point. */
static long long node_bytes(const char *path, size_t vlen, const void *perms, size_t plen)
{
    return (long long)(strlen(path) + C_RECORD_HDR + C_RECORD_PERM * xs_strings_count(perms, plen) +
                       vlen);
}

/* A child's name in its parent's record. */
static long long name_bytes(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? (long long)strlen(slash + 1) + 1 : 0;
}

/* The parent of path (not "/") gains or loses a child's name: its owner's bytes. */
static void parent_names(struct qtx *q, struct vs_txn *x, const char *path, long long sign)
{
    char parent[XENSTORE_ABS_PATH_MAX + 1];
    const char *slash = strrchr(path, '/');
    if (!slash || strcmp(path, "/") == 0)
        return;
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof parent)
        return;
    memcpy(parent, path, n);
    parent[n] = '\0';
    const void *perms;
    size_t plen;
    if (vs_txn_perms_ref(x, parent, &perms, &plen) < 0) {
        stale = true;
        return;
    }
    add(q, vxs_perms_owner(perms, plen), 0, sign * name_bytes(path), false);
}

static size_t children_bytes(struct vs_txn *x, const char *path)
{
    char **names;
    size_t n, total = 0;
    if (vs_txn_list(x, path, &names, &n) < 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        total += strlen(names[i]) + 1;
    vs_names_free(names, n);
    return total;
}

static bool record_too_big(unsigned lim, size_t nperms, size_t vlen, size_t childlen)
{
    return lim && C_RECORD_HDR + C_RECORD_PERM * nperms + vlen + childlen >= lim;
}

/* A record node-size refuses: in a transaction C has already noted the node as accessed for
 * writing, cannot take that back, and fails the transaction (write_node ->
 * fail_transaction): its commit says ENOMEM. */
static int size_refused(struct vs_txn *x)
{
    struct qtx *q = find(x);
    if (q && q->xs_tx)
        q->failed = true;
    return -ENOSPC;
}

int vxs_quota_node_size(const struct vxs_conn *c, struct vs_txn *x, const char *path,
                        size_t vlen, const void *perms, size_t plen)
{
    if (!c || c->priv)
        return 0;
    unsigned lim = vxs_quota_limit(c->domid, VXS_Q_NODE_SIZE);
    struct vs_stat st;
    if (!lim || vs_txn_stat(x, path, &st) < 0)
        return 0;
    size_t nperms;
    if (perms) {
        nperms = xs_strings_count(perms, plen);
    } else {
        const void *p;
        if (vs_txn_perms_ref(x, path, &p, &plen) < 0)
            return 0;
        nperms = xs_strings_count(p, plen);
    }
    if (vlen == (size_t)-1)
        vlen = st.vlen;
    size_t childlen = st.nchildren ? children_bytes(x, path) : 0;
    return record_too_big(lim, nperms, vlen, childlen) ? size_refused(x) : 0;
}

/* Would c's memory quota refuse one of the first n new nodes of a request making path (C's
 * order: deepest first, each charged to c, the owner of what an unprivileged domain makes)? */
static bool memory_first(const struct vxs_conn *c, const char *path, size_t vlen, size_t np,
                         long n)
{
    unsigned hard = vxs_quota_limit(c->domid, VXS_Q_MEMORY);
    if (!hard || n <= 0)
        return false;
    vxs_quota_recount();
    const struct vxs_qdom *d = vxs_qdom(c->domid, false);
    unsigned long long total = (d && d->node_mem > 0 ? (unsigned long long)d->node_mem : 0) +
                               vxs_quota_conns_memory(c->domid);
    size_t plen = strlen(path), below = 0; /* the child's name a new parent holds */
    for (long j = 0; j < n && plen > 0; j++) {
        total += plen + C_RECORD_HDR + C_RECORD_PERM * np + (j == 0 ? vlen : below + 1);
        size_t i = plen;
        while (i > 0 && path[i - 1] != '/')
            i--;
        below = plen - i;
        plen = i > 1 ? i - 1 : i;
    }
    return total >= hard;
}

int vxs_quota_may_create(const struct vxs_conn *c, struct vs_txn *x, const char *path,
                         size_t vlen)
{
    if (!c || c->priv)
        return 0;
    struct qtx *qw = find(x);
    if (qw)
        qw->writes++; /* the existing parent gains a child: C writes it too */
    /* The new nodes (path and its missing parents) and the nearest existing ancestor, which
     * gains a child. */
    long k = 0;
    char cur[XENSTORE_ABS_PATH_MAX + 1], child[XENSTORE_ABS_PATH_MAX + 1] = "";
    snprintf(cur, sizeof cur, "%s", path);
    struct vs_stat st;
    while (strcmp(cur, "/") != 0 && vs_txn_stat(x, cur, &st) == -ENOENT) {
        k++;
        char *slash = strrchr(cur, '/');
        if (!slash)
            break;
        snprintf(child, sizeof child, "%s", slash + 1);
        if (slash == cur)
            cur[1] = '\0';
        else
            *slash = '\0';
    }
    bool in_tx = qw && qw->xs_tx;
    const void *perms;
    size_t plen, np = 0;
    if (vs_txn_perms_ref(x, cur, &perms, &plen) == 0)
        np = xs_strings_count(perms, plen); /* the new nodes inherit as many entries */
    /* C makes the new nodes one at a time, deepest first, then rewrites the parent; for each
     * the nodes quota (a new node), the node-size quota, then its owner's memory quota (EIO,
     * vxs_quota_txn_check_memory at the request's end here). So the first node refused by
     * the nodes or node-size quota (ENOSPC) is found here, and the refusal is EIO instead if
     * the memory quota would refuse a node before it. */
    long first = -1; /* the index (0: deepest) of the first node refused here */
    bool size = false;
    unsigned lim = vxs_quota_limit(c->domid, VXS_Q_NODES);
    if (lim) {
        vxs_quota_recount();
        const struct vxs_qdom *d = vxs_qdom(c->domid, false);
        long have = d ? d->nodes : 0;
        /* In a transaction C counts new nodes at commit, so only the committed count is
         * checked here; outside one each new node counts as it is made. */
        if (in_tx ? have >= (long)lim : have + k > (long)lim)
            first = in_tx || have >= (long)lim ? 0 : (long)lim - have;
    }
    unsigned szlim = vxs_quota_limit(c->domid, VXS_Q_NODE_SIZE);
    if (szlim) {
        /* Bottom up: the node with the value, each new parent holding its child's name, the
         * existing parent (index k) with its children and one more. */
        size_t plen2 = strlen(path), below = 0;
        for (long j = 0; j < k && (first < 0 || j < first); j++) {
            if (record_too_big(szlim, np, j == 0 ? vlen : 0, j == 0 ? 0 : below + 1)) {
                first = j, size = true;
                break;
            }
            size_t i = plen2;
            while (i > 0 && path[i - 1] != '/')
                i--;
            below = plen2 - i;
            plen2 = i > 1 ? i - 1 : i;
        }
        if ((first < 0 || k < first) && vs_txn_stat(x, cur, &st) == 0) {
            size_t childlen = (st.nchildren ? children_bytes(x, cur) : 0) + strlen(child) + 1;
            if (record_too_big(szlim, np, st.vlen, childlen))
                first = k, size = true;
        }
    }
    if (first < 0)
        return 0;
    if (!in_tx && memory_first(c, path, vlen, np, first))
        return -EIO;
    return size ? size_refused(x) : -ENOSPC;
}

void vxs_quota_node_created(struct vs_txn *x, const char *path, size_t vlen, const void *perms,
                            size_t plen)
{
    struct qtx *q = find(x);
    if (!q)
        return;
    q->created = true;
    q->writes++;
    add(q, vxs_perms_owner(perms, plen), 1, node_bytes(path, vlen, perms, plen), true);
    parent_names(q, x, path, 1);
}

static void walk_removed(struct qtx *q, struct vs_txn *x, char *path, size_t cap)
{
    struct vs_stat st;
    void *perms;
    size_t plen;
    if (vs_txn_stat(x, path, &st) < 0 || vs_txn_get_perms(x, path, &perms, &plen) < 0)
        return;
    uint32_t owner = vxs_perms_owner(perms, plen);
    add(q, owner, -1, -node_bytes(path, st.vlen, perms, plen), true);
    q->writes++;
    free(perms);
    if (!st.nchildren)
        return;
    char **names;
    size_t n;
    if (vs_txn_list(x, path, &names, &n) < 0) {
        stale = true;
        return;
    }
    size_t len = strlen(path);
    for (size_t i = 0; i < n; i++)
        add(q, owner, 0, -(long long)(strlen(names[i]) + 1), false);
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(names[i]);
        if (len + 1 + nl >= cap) {
            stale = true;
            continue;
        }
        path[len] = '/';
        memcpy(path + len + 1, names[i], nl + 1);
        walk_removed(q, x, path, cap);
        path[len] = '\0';
    }
    vs_names_free(names, n);
}

void vxs_quota_node_removing(struct vs_txn *x, const char *path)
{
    struct qtx *q = find(x);
    if (!q)
        return;
    char buf[XENSTORE_ABS_PATH_MAX + 1];
    snprintf(buf, sizeof buf, "%s", path);
    q->writes++; /* the parent loses a child */
    parent_names(q, x, path, -1);
    walk_removed(q, x, buf, sizeof buf);
}

void vxs_quota_node_changing(struct vs_txn *x, const char *path, size_t new_vlen,
                             const void *new_perms, size_t new_plen)
{
    struct qtx *q = find(x);
    if (!q)
        return;
    struct vs_stat st;
    const void *perms;
    size_t plen;
    if (vs_txn_stat(x, path, &st) < 0 || vs_txn_perms_ref(x, path, &perms, &plen) < 0)
        return;
    uint32_t old_owner = vxs_perms_owner(perms, plen);
    uint32_t new_owner = new_perms ? vxs_perms_owner(new_perms, new_plen) : old_owner;
    if (!new_perms)
        new_plen = plen;
    if (new_vlen == (size_t)-1)
        new_vlen = st.vlen;
    /* A new value is only bytes; new perms take the node from its owner and give it to the
     * new one (the same one, often), as C's SET_PERMS does. */
    bool perms_change = new_perms != NULL;
    if (!new_perms)
        new_perms = perms;
    q->writes++;
    /* The children's names move with the record (C rewrites it for the new owner). */
    long long names = old_owner != new_owner && st.nchildren ? (long long)children_bytes(x, path)
                                                             : 0;
    add(q, old_owner, -1, -node_bytes(path, st.vlen, perms, plen) - names, perms_change);
    add(q, new_owner, 1, node_bytes(path, new_vlen, new_perms, new_plen) + names, perms_change);
}

void vxs_quota_tree_changed(void)
{
    stale = true;
}

void vxs_quota_txn_forget_all(void)
{
    while (txs) {
        struct qtx *q = txs;
        txs = q->next;
        qtx_free(q);
    }
}

static void count_tree(struct vs_txn *x, char *path, size_t cap)
{
    struct vs_stat st;
    void *perms;
    size_t plen;
    if (vs_txn_stat(x, path, &st) < 0 || vs_txn_get_perms(x, path, &perms, &plen) < 0)
        return;
    struct vxs_qdom *d = vxs_qdom(vxs_perms_owner(perms, plen), true);
    if (d)
        count_into(d, 1, node_bytes(path, st.vlen, perms, plen));
    free(perms);
    if (!st.nchildren)
        return;
    char **names;
    size_t n;
    if (vs_txn_list(x, path, &names, &n) < 0)
        return;
    size_t len = strlen(path);
    for (size_t i = 0; d && i < n; i++)
        count_into(d, 0, (long long)strlen(names[i]) + 1);
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(names[i]);
        if (len + 1 + nl >= cap)
            continue;
        if (len == 1) /* "/" */
            memcpy(path + 1, names[i], nl + 1);
        else {
            path[len] = '/';
            memcpy(path + len + 1, names[i], nl + 1);
        }
        count_tree(x, path, cap);
        path[len] = '\0';
    }
    vs_names_free(names, n);
}

void vxs_quota_recount(void)
{
    if (!stale || !vxs.st)
        return;
    struct vs_txn *x;
    if (vs_txn_begin(vxs.st, VXS_BRANCH, &x) < 0)
        return;
    for (uint32_t id = 0; id < 65536; id++) {
        struct vxs_qdom *d = vxs_qdom(id, false);
        if (d)
            d->nodes = 0, d->node_mem = 0;
    }
    char path[XENSTORE_ABS_PATH_MAX + 2] = "/";
    count_tree(x, path, sizeof path);
    vs_txn_abort(x);
    stale = false;
}
