/*
 * vxenstored: the requests about quotas and features, with C xenstored's payloads and
 * errors: GET_FEATURE/SET_FEATURE and GET_QUOTA/SET_QUOTA (Xen 4.21's xs_wire.h types
 * 23-26), and CONTROL quota / quota-soft (xenstore-control, Xen 4.17's texts).
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/vxs.h"
#include "xenstore/vxs_quota.h"

#define MAX_ARGS 4

/* The request's strings as C's get_strings() counts them: every NUL ends one, and bytes
 * after the last NUL make one more. Returns how many there are (only the first MAX_ARGS are
 * kept, in buf). */
static unsigned strings(const void *body, size_t len, char *buf, const char *v[MAX_ARGS])
{
    if (len > XENSTORE_PAYLOAD_MAX)
        len = XENSTORE_PAYLOAD_MAX; /* (the reader never hands more) */
    memcpy(buf, body, len);
    buf[len] = '\0';
    unsigned n = 0;
    for (size_t off = 0; off < len; n++) {
        if (n < MAX_ARGS)
            v[n] = buf + off;
        off += strlen(buf + off) + 1;
    }
    return n;
}

/* A domid as C parses it: decimal, nothing after it, at most 65535. */
static int parse_domid(const char *s, uint32_t *domid)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v > 65535)
        return -EINVAL;
    *domid = (uint32_t)v;
    return 0;
}

/* Does C have (or would it make) a struct domain for domid? Yes for dom0, an introduced
 * domain, or one the hypervisor knows. */
static bool domain_known(uint32_t domid)
{
    return domid == 0 || vxs_domain_introduced(domid) || vxs_domain_exists(domid);
}

static int reply(char **out, size_t *olen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int reply(char **out, size_t *olen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !(*out = malloc((size_t)n + 1)))
        return -ENOMEM;
    va_start(ap, fmt);
    vsnprintf(*out, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *olen = (size_t)n + 1;
    return 0;
}

int vxs_quota_get_feature(const struct vxs_conn *c, const void *body, size_t len, char **out,
                          size_t *olen)
{
    char buf[XENSTORE_PAYLOAD_MAX + 1];
    const char *v[MAX_ARGS];
    unsigned n = strings(body, len, buf, v);
    uint32_t feat, domid;
    if (n == 0) {
        feat = c->dom ? vxs_quota_features(c->domid) : VXS_RING_FEATURES;
    } else {
        if (!c->priv)
            return -EACCES;
        if (n > 1)
            return -EINVAL;
        if (parse_domid(v[0], &domid) < 0)
            return -EINVAL;
        if (!domain_known(domid))
            return -ENOENT;
        feat = vxs_quota_features(domid);
    }
    return reply(out, olen, "%u", feat);
}

int vxs_quota_set_feature(const struct vxs_conn *c, const void *body, size_t len)
{
    char buf[XENSTORE_PAYLOAD_MAX + 1];
    const char *v[MAX_ARGS];
    uint32_t domid;
    if (!c->priv)
        return -EACCES;
    if (strings(body, len, buf, v) != 2 || parse_domid(v[0], &domid) < 0)
        return -EINVAL;
    uint32_t feat = (uint32_t)atoi(v[1]);
    if (!domain_known(domid))
        return -ENOENT;
    if (domid == 0 || vxs_domain_introduced(domid))
        return -EBUSY; /* the ring's features are set when it is introduced */
    if (feat & ~(uint32_t)VXS_RING_FEATURES)
        return -EINVAL;
    struct vxs_qdom *d = vxs_qdom(domid, true);
    if (!d)
        return -ENOMEM;
    d->features = feat;
    return 0;
}

/* ---- quotas ---------------------------------------------------------------------------- */

static const char *const qname[VXS_Q_N] = {
    "nodes", "watches", "outstanding", "memory", "transactions", "transaction-nodes",
    "node-permissions", "path-max", "node-size",
};

/* "name" / "soft-name" -> quota and its [hard, soft] index; -1 if there is no such value. */
static int parse_qname(const char *s, int *soft)
{
    *soft = strncmp(s, "soft-", 5) == 0;
    if (*soft)
        s += 5;
    for (int q = 0; q < VXS_Q_N; q++)
        if (strcmp(s, qname[q]) == 0)
            return *soft && q != VXS_Q_MEMORY ? -1 : q;
    return -1;
}

int vxs_quota_get_quota(const struct vxs_conn *c, const void *body, size_t len, char **out,
                        size_t *olen)
{
    char buf[XENSTORE_PAYLOAD_MAX + 1];
    const char *v[MAX_ARGS];
    if (!c->priv)
        return -EACCES;
    unsigned n = strings(body, len, buf, v);
    if (n > 2)
        return -EINVAL;
    if (n == 0) {
        char list[512];
        size_t off = 0;
        for (int q = 0; q < VXS_Q_N; q++) {
            off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", off ? " " : "",
                                    qname[q]);
            if (q == VXS_Q_MEMORY)
                off += (size_t)snprintf(list + off, sizeof list - off, " soft-%s", qname[q]);
        }
        return reply(out, olen, "%s", list);
    }
    const struct vxs_qdom *d = NULL;
    const char *name = v[n - 1];
    if (n == 2) {
        uint32_t domid;
        if (parse_domid(v[0], &domid) < 0)
            return -EINVAL;
        if (!domain_known(domid))
            return -ENOENT;
        d = vxs_qdom(domid, true);
        if (!d)
            return -ENOMEM;
    }
    int soft, q = parse_qname(name, &soft);
    if (q < 0)
        return -EINVAL;
    unsigned val;
    if (d && d->val[q][soft] != UINT_MAX)
        val = d->val[q][soft];
    else
        val = vxs_quota_global(q, soft);
    return reply(out, olen, "%u", val);
}

int vxs_quota_set_quota(const struct vxs_conn *c, const void *body, size_t len)
{
    char buf[XENSTORE_PAYLOAD_MAX + 1];
    const char *v[MAX_ARGS];
    if (!c->priv)
        return -EACCES;
    unsigned n = strings(body, len, buf, v);
    if (n < 2 || n > 3)
        return -EINVAL;
    struct vxs_qdom *d = NULL;
    if (n == 3) {
        uint32_t domid;
        if (parse_domid(v[0], &domid) < 0)
            return -EINVAL;
        if (!domain_known(domid))
            return -ENOENT;
        if (!(d = vxs_qdom(domid, true)))
            return -ENOMEM;
    }
    int soft, q = parse_qname(v[n - 2], &soft);
    unsigned val = (unsigned)atoi(v[n - 1]);
    if (q < 0 || val == UINT_MAX)
        return -EINVAL;
    if (d)
        d->val[q][soft] = val;
    else
        vxs_quota_set_global(q, soft, val);
    return 0;
}

/* ---- CONTROL quota / quota-soft (Xen 4.17's texts and names) ---------------------------- */

struct ctl_quota {
    int q;
    const char *name, *descr;
};
static const struct ctl_quota ctl_hard[] = {
    {VXS_Q_NODES, "nodes", "Nodes per domain"},
    {VXS_Q_WATCHES, "watches", "Watches per domain"},
    {VXS_Q_TRANSACTIONS, "transactions", "Transactions per domain"},
    {VXS_Q_OUTSTANDING, "outstanding", "Outstanding requests per domain"},
    {VXS_Q_TRANSACTION_NODES, "transaction-nodes", "Max. number of accessed nodes per transaction"},
    {VXS_Q_MEMORY, "memory", "Total Xenstore memory per domain (error level)"},
    {VXS_Q_NODE_SIZE, "node-size", "Max. size of a node"},
    {VXS_Q_PATH_MAX, "path-max", "Max. length of a node path"},
    {VXS_Q_PERMISSIONS, "permissions", "Max. number of permissions per node"},
};
static const struct ctl_quota ctl_soft[] = {
    {VXS_Q_MEMORY, "memory", "Total Xenstore memory per domain (warning level)"},
};

/* "Domain N:" and its current figures, as C's domain_get_quota. */
static int domain_figures(uint32_t domid, char **out, size_t *olen)
{
    if (!domain_known(domid))
        return -ENOENT;
    vxs_quota_recount();
    const struct vxs_qdom *d = vxs_qdom(domid, true);
    if (!d)
        return -ENOMEM;
    unsigned watches = 0, txs = 0;
    for (const struct vxs_conn *c = vxs.conns; c; c = c->next) {
        if (!c->dom || c->domid != domid)
            continue;
        for (const struct vxs_watch *w = c->watches; w; w = w->next)
            watches++;
        txs += c->ntxs;
    }
    return reply(out, olen,
                 "Domain %u:\n%-16s: %8ld\n%-16s: %8u\n%-16s: %8u\n%-16s: %8u\n%-16s: %8llu\n",
                 domid, "nodes", d->nodes, "watches", watches, "transactions", txs,
                 "outstanding", d->outstanding, "memory", vxs_quota_memory(domid));
}

int vxs_quota_control(bool soft, int argc, char **argv, char **out, size_t *olen)
{
    size_t nt = soft ? sizeof ctl_soft / sizeof ctl_soft[0] : sizeof ctl_hard / sizeof ctl_hard[0];
    const struct ctl_quota *t = soft ? ctl_soft : ctl_hard;
    if (argc == 0) {
        char text[1024];
        size_t off = (size_t)snprintf(text, sizeof text, "Quota settings:\n");
        for (size_t i = 0; i < nt; i++)
            off += (size_t)snprintf(text + off, sizeof text - off, "%-17s: %8d %s\n", t[i].name,
                                    (int)vxs_quota_global(t[i].q, soft), t[i].descr);
        return reply(out, olen, "%s", text);
    }
    if (strcmp(argv[0], "set") == 0) {
        if (argc != 3)
            return -EINVAL;
        int val = atoi(argv[2]);
        if (val < 1)
            return -EINVAL;
        for (size_t i = 0; i < nt; i++)
            if (strcmp(argv[1], t[i].name) == 0) {
                /* C 4.17 caps path-max at 2048 for -M only: here it takes any value (the
                 * paths themselves stay within XENSTORE_ABS_PATH_MAX, vxs_path_resolve). */
                if (t[i].q == VXS_Q_PATH_MAX && !soft)
                    vxs.path_max = (size_t)val;
                else
                    vxs_quota_set_global(t[i].q, soft, (unsigned)val);
                return reply(out, olen, "OK");
            }
        return -EINVAL;
    }
    if (soft || argc != 1)
        return -EINVAL;
    return domain_figures((uint32_t)atoi(argv[0]), out, olen);
}
