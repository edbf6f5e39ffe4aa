/*
 * vxenstored: the connection table in the store, so that a daemon killed at any moment and
 * restarted carries on with the same domains. The branch "connections" (beside the database's
 * branch "xenstore", in the same pack) holds:
 *
 *   /dom/<domid>              "<gfn> <remote port>"   an introduced domain (dom0 included)
 *   /dom/<domid>/w/<id>       "<depth>\0<path>\0<token>"   one of its ring's watches
 *
 * Every change is its own commit, made with the daemon's sync mode; the reply that depends on
 * it (INTRODUCE, WATCH, ...) waits until it is durable, like every other reply. Socket
 * connections are not recorded: their processes see the socket close when the daemon dies.
 * Open transactions are not recorded: after a restart a ring's unknown transaction ids get
 * EAGAIN (the client retries), and the ring's own indexes live in the shared page.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/vxs.h"

#define BRANCH "connections"

static const char perms[] = "n0";

/* Each change below is one vxs_txn_daemon_commit: its callback returns 0 to commit, 1 when
 * there is nothing to do. */

/* Create a directory node unless it exists. */
static void ensure(struct vs_txn *x, const char *path)
{
    vs_txn_set(x, path, "", 0, perms, sizeof perms,
               VS_SET_VALUE | VS_SET_PERMS | VS_CREATE | VS_EXCL);
}

struct dom_arg {
    uint32_t domid;
    uint64_t gfn;
    uint32_t port;
};

static int put_domain(struct vs_txn *x, struct vxs_events *ev, void *p)
{
    (void)ev;
    struct dom_arg *a = p;
    char path[64], val[64];
    ensure(x, "/dom");
    snprintf(path, sizeof path, "/dom/%u", a->domid);
    int n = snprintf(val, sizeof val, "%llu %u", (unsigned long long)a->gfn, a->port);
    /* A fresh introduction starts with no watches. */
    vs_txn_rm(x, path);
    return vs_txn_set(x, path, val, (size_t)n, perms, sizeof perms,
                      VS_SET_VALUE | VS_SET_PERMS | VS_CREATE);
}

uint64_t vxs_persist_domain(uint32_t domid, uint64_t gfn, uint32_t port)
{
    struct dom_arg a = {domid, gfn, port};
    char what[64];
    snprintf(what, sizeof what, "INTRODUCE %u", domid);
    return vxs_txn_daemon_commit(BRANCH, what, put_domain, &a);
}

static int rm_path(struct vs_txn *x, struct vxs_events *ev, void *p)
{
    (void)ev;
    struct vs_stat st;
    int rc = vs_txn_stat(x, p, &st);
    if (rc == -ENOENT)
        return 1;
    return rc < 0 ? rc : vs_txn_rm(x, p);
}

uint64_t vxs_persist_domain_gone(uint32_t domid)
{
    char path[64], what[64];
    snprintf(path, sizeof path, "/dom/%u", domid);
    snprintf(what, sizeof what, "RELEASE %u", domid);
    return vxs_txn_daemon_commit(BRANCH, what, rm_path, path);
}

/* A watch's node name: a hash of its path and token (one node per (path, token)). */
static void watch_path(char *buf, size_t cap, uint32_t domid, const struct vxs_watch *w)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *s = w->given; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const char *s = w->token; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    snprintf(buf, cap, "/dom/%u/w/%016llx", domid, (unsigned long long)h);
}

struct watch_arg {
    uint32_t domid;
    const struct vxs_watch *w;
};

static int put_watch(struct vs_txn *x, struct vxs_events *ev, void *p)
{
    (void)ev;
    struct watch_arg *a = p;
    char dom[64], wdir[80], path[128];
    snprintf(dom, sizeof dom, "/dom/%u", a->domid);
    struct vs_stat st;
    if (vs_txn_stat(x, dom, &st) < 0)
        return 1; /* not an introduced domain's ring: nothing to record */
    snprintf(wdir, sizeof wdir, "%s/w", dom);
    ensure(x, wdir);
    watch_path(path, sizeof path, a->domid, a->w);
    char val[XENSTORE_PAYLOAD_MAX + 32];
    int n = snprintf(val, sizeof val, "%d", a->w->depth);
    size_t gl = strlen(a->w->given) + 1, tl = strlen(a->w->token) + 1;
    if ((size_t)n + 1 + gl + tl > sizeof val)
        return -E2BIG;
    memcpy(val + n + 1, a->w->given, gl);
    memcpy(val + n + 1 + gl, a->w->token, tl);
    return vs_txn_set(x, path, val, (size_t)n + 1 + gl + tl, perms, sizeof perms,
                      VS_SET_VALUE | VS_SET_PERMS | VS_CREATE);
}

uint64_t vxs_persist_watch(const struct vxs_conn *c, const struct vxs_watch *w, bool add)
{
    if (!c->dom)
        return vxs.next_seq;
    char what[64];
    snprintf(what, sizeof what, "%s dom%u", add ? "WATCH" : "UNWATCH", c->domid);
    if (add) {
        struct watch_arg a = {c->domid, w};
        return vxs_txn_daemon_commit(BRANCH, what, put_watch, &a);
    }
    char path[128];
    watch_path(path, sizeof path, c->domid, w);
    return vxs_txn_daemon_commit(BRANCH, what, rm_path, path);
}

uint64_t vxs_persist_watches_clear(const struct vxs_conn *c)
{
    if (!c->dom)
        return vxs.next_seq;
    char path[64], what[64];
    snprintf(path, sizeof path, "/dom/%u/w", c->domid);
    snprintf(what, sizeof what, "RESET_WATCHES dom%u", c->domid);
    return vxs_txn_daemon_commit(BRANCH, what, rm_path, path);
}

void vxs_persist_load(void (*domain)(uint32_t domid, uint64_t gfn, uint32_t port),
                      void (*watch)(uint32_t domid, const char *path, const char *token,
                                    int depth))
{
    struct vs_txn *x;
    if (vs_txn_begin(vxs.st, BRANCH, &x) < 0)
        return;
    char **doms = NULL;
    size_t nd = 0;
    if (vs_txn_list(x, "/dom", &doms, &nd) < 0) {
        vs_txn_abort(x);
        return;
    }
    for (size_t i = 0; i < nd; i++) {
        char path[64];
        snprintf(path, sizeof path, "/dom/%s", doms[i]);
        void *val;
        size_t len;
        if (vs_txn_read(x, path, &val, &len) < 0)
            continue;
        char buf[64];
        size_t n = len < sizeof buf - 1 ? len : sizeof buf - 1;
        memcpy(buf, val, n);
        buf[n] = 0;
        free(val);
        unsigned long long gfn;
        unsigned port;
        if (sscanf(buf, "%llu %u", &gfn, &port) != 2)
            continue;
        uint32_t domid = (uint32_t)strtoul(doms[i], NULL, 10);
        domain(domid, gfn, port);
        char wdir[80];
        snprintf(wdir, sizeof wdir, "%s/w", path);
        char **ws = NULL;
        size_t nw = 0;
        if (vs_txn_list(x, wdir, &ws, &nw) < 0)
            continue;
        for (size_t j = 0; j < nw; j++) {
            char wp[128];
            snprintf(wp, sizeof wp, "%s/%s", wdir, ws[j]);
            if (vs_txn_read(x, wp, &val, &len) < 0)
                continue;
            /* "<depth>\0<path>\0<token>\0": checked, it is a file on disk */
            const char *p = val, *end = p + len;
            const char *p1 = memchr(p, 0, len);
            const char *p2 = p1 ? memchr(p1 + 1, 0, (size_t)(end - p1 - 1)) : NULL;
            const char *p3 = p2 ? memchr(p2 + 1, 0, (size_t)(end - p2 - 1)) : NULL;
            if (p3)
                watch(domid, p1 + 1, p2 + 1, atoi(p));
            free(val);
        }
        vs_names_free(ws, nw);
    }
    vs_names_free(doms, nd);
    vs_txn_abort(x);
}
