/*
 * vxenstored: introduced domains. The toolstack INTRODUCEs a domain with its ring's gfn and
 * event channel; we map the ring (grant ref 1, else the gfn), bind the channel and serve the
 * domain as a connection with its own permissions. A domain leaves by RELEASE, or when Xen
 * tells us (VIRQ_DOM_EXC) that it is dying or gone: its connection goes, the nodes it owns
 * are removed (C xenstored's default) and @releaseDomain fires. A shutdown that is not (yet)
 * a death fires @releaseDomain once too, as C xenstored does, so toolstacks notice crashes.
 *
 * XSA-322: a later domain may get the same domid, and must not inherit the rights of the
 * departed one. C xenstored 4.17 removes the departed domain's entries from the special
 * nodes' perms (an owner entry becomes dom0's) and ignores, at each read, a node's entries
 * naming a domain younger than the node or gone. We have no per-node generation to compare,
 * so we remove the entries instead, in the same commit that removes the domain's nodes (one
 * walk over the tree): the access they give is the same (none), and GET_PERMS no longer lists
 * them (C still lists an ignored entry). A domain that died while we were down goes the same
 * way at start-up (vxs_domain_restore).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xenstore/vxs.h"
#include "xenstore/vxs_quota.h"
#include "xenstore/vxs_xen.h"

#define DOMID_FIRST_RESERVED 0x7FF0u

static int virq_port = -1;

static struct vxs_domain *find(uint32_t domid)
{
    for (struct vxs_domain *d = vxs.domains; d; d = d->next)
        if (d->domid == domid)
            return d;
    return NULL;
}

int vxs_special_index(const char *path)
{
    if (strcmp(path, "@introduceDomain") == 0)
        return 0;
    if (strcmp(path, "@releaseDomain") == 0)
        return 1;
    return -1;
}

bool vxs_domain_introduced(uint32_t domid)
{
    struct vxs_domain *d = find(domid);
    return d && d->conn;
}

bool vxs_domain_exists(uint32_t domid)
{
    if (!vxs_xen_available())
        return domid == 0;
    return vxs_xen_domain_state(domid) != VXS_DOM_GONE;
}

/* perms (wire bytes) without the entries after the first that name domid; an owner entry
 * naming it becomes dom0's. Returns the new length, or -1 if nothing changes. */
static int perms_without(const char *perms, size_t len, uint32_t domid, char *out,
                         size_t cap)
{
    struct xs_strings it;
    if (xs_strings_init(&it, perms, len) < 0)
        return -1;
    const char *e;
    size_t elen, n = 0;
    bool first = true, changed = false;
    while ((e = xs_strings_next(&it, &elen)) != NULL) {
        struct xs_perm p;
        if (xs_perm_parse(e, &p) < 0)
            return -1; /* not ours to repair */
        if (p.domid == domid && !first) {
            changed = true;
            continue;
        }
        int k = first && p.domid == domid ? snprintf(out + n, cap - n, "%c0", e[0])
                                           : snprintf(out + n, cap - n, "%s", e);
        if (k < 0 || n + (size_t)k + 1 > cap)
            return -1;
        changed |= first && p.domid == domid;
        n += (size_t)k + 1;
        first = false;
    }
    return changed ? (int)n : -1;
}

struct release_walk {
    struct vs_txn *x;
    struct vxs_events *ev;
    uint32_t domid;
    unsigned changed;
};

/* Below path: remove the nodes domid owns (with -K they become dom0's, as in C), strip its
 * entries from the others' perms. */
static int release_nodes(struct release_walk *w, const char *path)
{
    void *perms;
    size_t plen;
    int rc = vs_txn_get_perms(w->x, path, &perms, &plen);
    if (rc < 0)
        return rc == -ENOENT ? 0 : rc;
    if (vxs_perms_owner(perms, plen) == w->domid && strcmp(path, "/") != 0 &&
        !vxs.keep_orphans) {
        vxs_watch_note_removal(w->x, w->ev, path);
        rc = vs_txn_rm(w->x, path);
        if (rc == 0) {
            vxs_events_add(w->ev, path, false, perms, plen);
            w->changed++;
        }
        free(perms);
        return rc;
    }
    char stripped[XENSTORE_PAYLOAD_MAX];
    int n = perms_without(perms, plen, w->domid, stripped, sizeof stripped);
    free(perms);
    if (n > 0) {
        /* Silent, as in C: no watch fires for a revoked entry. */
        rc = vs_txn_set(w->x, path, NULL, 0, stripped, (size_t)n, VS_SET_PERMS);
        if (rc < 0)
            return rc;
        w->changed++;
    }
    char **names;
    size_t nn;
    rc = vs_txn_list(w->x, path, &names, &nn);
    if (rc < 0)
        return rc;
    char child[XENSTORE_ABS_PATH_MAX + 1];
    for (size_t i = 0; i < nn && rc == 0; i++) {
        int k = snprintf(child, sizeof child, "%s/%s", strcmp(path, "/") ? path : "", names[i]);
        if (k > 0 && (size_t)k < sizeof child)
            rc = release_nodes(w, child);
    }
    vs_names_free(names, nn);
    return rc;
}

static int release_tree(struct vs_txn *x, struct vxs_events *ev, void *arg)
{
    struct release_walk w = {x, ev, *(uint32_t *)arg, 0};
    vxs_quota_tree_changed(); /* the daemon's own commit: the node counts are rebuilt */
    int rc = release_nodes(&w, "/");
    return rc < 0 ? rc : w.changed == 0 ? 1 : 0;
}

/* Remove what a departed domain owned and its entries in other nodes' perms (XSA-322), in
 * one commit of its own; and its entries in the special nodes' perms. */
static uint64_t release_nodes_of(uint32_t domid)
{
    for (int i = 0; i < 2; i++) {
        char stripped[sizeof vxs.spec_perms[i]];
        int n = perms_without(vxs.spec_perms[i], vxs.spec_perms_len[i], domid, stripped,
                              sizeof stripped);
        if (n > 0) {
            memcpy(vxs.spec_perms[i], stripped, (size_t)n);
            vxs.spec_perms_len[i] = (size_t)n;
            vxs_persist_special(i);
        }
    }
    if (domid == 0)
        return vxs.next_seq;
    char what[64];
    snprintf(what, sizeof what, "RELEASE %u (its nodes and perms)", domid);
    return vxs_txn_daemon_commit(VXS_BRANCH, what, release_tree, &domid);
}

static void unlink_domain(struct vxs_domain *d)
{
    for (struct vxs_domain **pd = &vxs.domains; *pd; pd = &(*pd)->next)
        if (*pd == d) {
            *pd = d->next;
            return;
        }
}

/* The domain is gone (RELEASE, or dying): drop it and tell the watchers. */
static void destroy(struct vxs_domain *d)
{
    uint32_t domid = d->domid;
    if (d->conn) {
        d->conn->dom = NULL;
        d->conn->dead = true; /* freed by the poll loop */
        d->conn = NULL;
    }
    vxs_xen_unbind(d->local_port);
    if (d->page)
        vxs_xen_unmap_ring(d->page, (enum vxs_map_kind)d->map_kind);
    unlink_domain(d);
    free(d);
    vxs_quota_domain_gone(domid); /* its quotas and features start afresh, as C's */
    vxs_persist_domain_gone(domid);
    uint64_t need = release_nodes_of(domid);
    vxs_watch_fire_special(1, domid, need);
    if (vxs.verbose)
        vxs_log("domain %u released", domid);
}

/* Bind, map and connect d. */
static int connect_domain(struct vxs_domain *d)
{
    enum vxs_map_kind kind = VXS_MAP_NONE;
    void *page = vxs_xen_map_ring(d->domid, d->gfn, &kind);
    if (!page)
        return -ENOENT;
    int port = vxs_xen_bind(d->domid, d->remote_port);
    if (port < 0) {
        vxs_xen_unmap_ring(page, kind);
        return port;
    }
    d->page = page;
    d->map_kind = kind;
    d->local_port = port;
    vxs_ring_attach(&d->ring, page, vxs_quota_features(d->domid)); /* SET_FEATURE's */
    d->conn = vxs_conn_new_ring(d, d->domid);
    if (!d->conn)
        return -ENOMEM;
    vxs_quota_domain_introduced(d->domid); /* its write-rate share, as C's new_domain */
    return 0;
}

int vxs_domain_introduce(struct vxs_conn *c, uint32_t domid, uint64_t gfn, uint32_t port)
{
    if (port == 0)
        return -EINVAL;
    /* --socket-only: dom0 alone exists and is introduced from the start (as C's dom0_init),
     * so introducing it again is OK and changes nothing here (no ring); any other domain is
     * missing (C without a hypervisor: its ring cannot be mapped, ENOENT). */
    if (!vxs_xen_available())
        return domid == 0 ? 0 : -ENOENT;
    if (domid >= DOMID_FIRST_RESERVED)
        return -ENOENT; /* DOMID_SELF and the like: no ring of theirs to map */
    struct vxs_domain *d = find(domid);
    if (d && d->conn) {
        /* Introduced again (C 4.17's do_introduce): the gfn is ignored (the ring stays
         * mapped), the event channel is bound again to the port given (a failed bind leaves
         * the domain without one, not an error), and the connection starts afresh: its
         * watches, transactions and queued replies go and both rings are emptied, as at a
         * XENSTORE_RECONNECT. Not by the domain's own connection: it would reset itself in
         * the middle of its request. */
        if (d->conn == c)
            return -EINVAL;
        /* Unbound first, as C: the same remote port given again (it can be bound once). */
        vxs_xen_unbind(d->local_port);
        int p = vxs_xen_bind(domid, port);
        d->local_port = p < 0 ? -1 : p;
        d->remote_port = port;
        vxs_conn_reset(d->conn);
        vxs_domain_ring_reconnected(d); /* new incarnation, watches leave the table */
        vxs_ring_reset(&d->ring);
        if (d->local_port >= 0)
            vxs_xen_notify(d->local_port);
        return 0;
    }
    if (!d) {
        d = calloc(1, sizeof *d);
        if (!d)
            return -ENOMEM;
        d->domid = domid;
        d->local_port = -1;
        d->next = vxs.domains;
        vxs.domains = d;
    }
    d->gfn = gfn;
    d->remote_port = port;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    d->incarnation = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    int rc = connect_domain(d);
    if (rc < 0) {
        vxs_log("domain %u: cannot connect its ring: %s", domid, strerror(-rc));
        unlink_domain(d);
        free(d);
        return rc;
    }
    /* As C's do_introduce (domain_conn_reset): the rings start empty, and a guest that
     * waits in XENSTORE_RECONNECT (a dom0less domain, introduced after it booted) is told it
     * is connected; the event below wakes it. */
    vxs_ring_reset(&d->ring);
    vxs_persist_domain(d);
    if (vxs.verbose)
        vxs_log("domain %u introduced (port %u)", domid, port);
    vxs_watch_fire_special(0, domid, vxs.next_seq);
    vxs_xen_notify(d->local_port);
    return 0;
}

/* For the connection table a reconnection is a new introduction of the same domain: no
 * watches, no saved head, nothing owed, and a new incarnation, so that after a restart the
 * commits of the ring's earlier life (whose positions the new one reuses from 0) are never
 * taken for its requests' (vxs_replay_done.c stops at commits older than the incarnation).
 * The caller resets the rings next: the commit is written out (and synced) first, or a kill
 * in between left the new ring with the old entry (its watches, its cut message's record
 * past the new rsp_prod, its incarnation). Reconnections are rare: the wait costs nothing. */
void vxs_domain_ring_reconnected(struct vxs_domain *d)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t t = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    d->incarnation = t > d->incarnation ? t : d->incarnation + 1;
    if (vxs_persist_domain(d) > vxs.durable_upto && vxs.os->ops->flush(vxs.os) < 0)
        vxs_log("domain %u: reconnection not made durable (store flush failed)", d->domid);
}

int vxs_domain_release(uint32_t domid)
{
    if (domid == 0)
        return -EINVAL;
    struct vxs_domain *d = find(domid);
    if (!d)
        return -ENOENT;
    if (!d->conn)
        return -EINVAL;
    destroy(d);
    return 0;
}

int vxs_domain_resume(uint32_t domid)
{
    if (domid == 0)
        return -EINVAL; /* as RELEASE: C refuses domain 0 before looking it up */
    struct vxs_domain *d = find(domid);
    if (!d)
        return -ENOENT;
    if (!d->conn)
        return -EINVAL;
    d->shutdown = false;
    return 0;
}

int vxs_domain_set_target(uint32_t domid, uint32_t target)
{
    /* --socket-only: dom0 is the one introduced domain (privileged: a target adds nothing). */
    if (!vxs_xen_available())
        return domid == 0 && target == 0 ? 0 : -ENOENT;
    struct vxs_domain *d = find(domid);
    if (!d)
        return -ENOENT;
    if (!d->conn)
        return -EINVAL;
    /* The target must be introduced too (C 4.17's find_connected_domain), not only exist. */
    struct vxs_domain *t = find(target);
    if (!t)
        return -ENOENT;
    if (!t->conn)
        return -EINVAL;
    d->conn->has_target = true;
    d->conn->target = target;
    return 0;
}

int vxs_domain_init_dom0(void)
{
    int port;
    void *page = vxs_xen_map_dom0(&port);
    if (!page)
        return -ENOENT;
    struct vxs_domain *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->domid = 0;
    d->remote_port = (uint32_t)port;
    d->page = page;
    d->map_kind = VXS_MAP_KVA;
    d->local_port = vxs_xen_bind(0, (uint32_t)port);
    if (d->local_port < 0) {
        vxs_log("dom0: cannot bind port %d: %s", port, strerror(-d->local_port));
        vxs_xen_unmap_ring(page, VXS_MAP_KVA);
        free(d);
        return -EIO;
    }
    vxs_ring_attach(&d->ring, page, VXS_RING_FEATURES);
    d->conn = vxs_conn_new_ring(d, 0);
    vxs_quota_domain_introduced(0); /* earns write-rate credit for the reserve, as in C */
    d->next = vxs.domains;
    vxs.domains = d;
    /* dom0's kernel waits for a first event to know that xenstored is up. */
    vxs_xen_notify(d->local_port);
    virq_port = vxs_xen_bind_dom_exc();
    if (virq_port < 0)
        vxs_log("cannot bind VIRQ_DOM_EXC: dead domains are noticed only on RELEASE");
    return 0;
}

/* Xen says some domain changed state: find out which. */
static void check_domains(void)
{
    for (struct vxs_domain *d = vxs.domains, *next; d; d = next) {
        next = d->next;
        if (d->domid == 0)
            continue;
        enum vxs_dom_state s = vxs_xen_domain_state(d->domid);
        if (s == VXS_DOM_GONE || s == VXS_DOM_DYING) {
            destroy(d);
        } else if (s == VXS_DOM_SHUTDOWN && !d->shutdown) {
            d->shutdown = true;
            vxs_watch_fire_special(1, d->domid, vxs.next_seq);
        }
    }
}

void vxs_domain_events(void)
{
    int port;
    bool virq = false;
    while ((port = vxs_xen_next_pending()) >= 0) {
        if (port == virq_port) {
            virq = true;
            continue;
        }
        for (struct vxs_domain *d = vxs.domains; d; d = d->next) {
            if (d->local_port == port && d->conn) {
                vxs_conn_input(d->conn);
                vxs_conn_flush(d->conn);
                break;
            }
        }
    }
    if (virq)
        check_domains();
}

static bool restored_dom0;
static uint64_t dom0_incarnation;
static uint32_t restarts;

/* A ring (or a socket, vxs_sock.c) reconnected after a restart: the transaction ids it had
 * are unknown now (EAGAIN), and the ids this run gives it start in a range of their own (by
 * the count of restarts), so that an id of an earlier run is never mistaken for one of this
 * run. */
void vxs_conn_mark_restored(struct vxs_conn *c)
{
    if (!restarts)
        restarts = vxs_persist_restart();
    c->restored = true;
    c->first_txid = c->next_txid = 0x40000000u + (restarts % 48) * 0x01000000u;
}

bool vxs_domain_old_txid(const struct vxs_conn *c, uint32_t txid)
{
    return c->restored && txid != 0 &&
           (uint32_t)(txid - c->first_txid) >= (uint32_t)(c->next_txid - c->first_txid);
}

static void restore_domain(uint32_t domid, uint64_t gfn, uint32_t port, uint64_t incarnation)
{
    if (domid == 0) {
        restored_dom0 = true;
        dom0_incarnation = incarnation;
        return;
    }
    if (find(domid))
        return;
    struct vxs_domain *d = calloc(1, sizeof *d);
    if (!d)
        return;
    d->domid = domid;
    d->gfn = gfn;
    d->remote_port = port;
    d->incarnation = incarnation;
    d->local_port = -1;
    d->next = vxs.domains;
    vxs.domains = d;
    enum vxs_dom_state s = vxs_xen_domain_state(domid);
    int rc = s == VXS_DOM_RUNNING || s == VXS_DOM_SHUTDOWN ? connect_domain(d) : -ESRCH;
    if (rc < 0) {
        /* Gone while we were down (or its ring with it): release it now. */
        vxs_log("domain %u: gone since the last run, released", domid);
        destroy(d);
        return;
    }
    vxs_conn_mark_restored(d->conn);
    vxs_conn_restore_head(d->conn); /* a request larger than the ring, cut by the kill */
    vxs_log("domain %u: reconnected after restart", domid);
}

static void restore_watch(uint32_t domid, const char *path, const char *token, int depth,
                          uint64_t since)
{
    struct vxs_domain *d = find(domid);
    if (!d || !d->conn || vxs_watch_restore(d->conn, path, token, depth) < 0)
        return;
    /* The events it may have missed come from vxs_events_replay. */
    vxs_watch_newest(d->conn)->since = since;
}

void vxs_domain_restore(void)
{
    restarts = vxs_persist_restart();
    /* First the special nodes' perms: a domain found gone below loses its entries there. */
    vxs_persist_load_special();
    vxs_persist_load(restore_domain, restore_watch);
    struct vxs_domain *d0 = find(0);
    if (d0 && d0->conn && restored_dom0) {
        d0->incarnation = dom0_incarnation;
        vxs_conn_mark_restored(d0->conn);
        vxs_conn_restore_head(d0->conn);
    }
    if (!restored_dom0 && d0)
        vxs_persist_domain(d0);
    vxs_events_replay(); /* (and vxs_replay_done_scan) */ /* older than what check_domains fires */
    check_domains();
    /* What waits in each ring now: requests the old daemon read but did not answer, and
     * those written while no daemon ran. Their writer notified nobody (or a dead daemon) and
     * will not do it again, so read them without waiting for an event. */
    for (struct vxs_domain *d = vxs.domains; d; d = d->next)
        if (d->conn) {
            vxs_conn_input(d->conn);
            vxs_conn_flush(d->conn);
            vxs_xen_notify(d->local_port);
        }
}
