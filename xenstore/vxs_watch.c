/* vxenstored: watches. A watch on W fires for a change of W or of anything below it (up to
 * `depth` levels when given); the removal of a subtree also fires the watches inside it, at
 * their own path. Relative watches get relative event paths. A new watch fires once at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/vxs.h"
#include "xenstore/vxs_quota.h"

static void watch_free(struct vxs_watch *w)
{
    free(w->path);
    free(w->given);
    free(w->token);
    free(w);
}

/* A watch's path made absolute. C 4.17 (check_watch_path) takes a name starting with "@"
 * as it is, whatever its characters and slashes ("@/", "@a//b"): only its length is
 * limited (by the caller). */
static int special_or_resolve(const struct vxs_conn *c, const char *given, char *abs,
                              bool *rel)
{
    if (given[0] != '@')
        return vxs_path_resolve(c, given, abs, true, rel);
    size_t n = strlen(given);
    if (n > XENSTORE_ABS_PATH_MAX)
        return -EINVAL;
    memcpy(abs, given, n + 1);
    *rel = false;
    return 0;
}

static int add(struct vxs_conn *c, const char *given, const char *token, int depth,
               bool quota)
{
    char abs[XENSTORE_ABS_PATH_MAX + 1];
    bool rel;
    /* C 4.17 (check_watch_path): a special path ("@...", any name) up to the relative
     * paths' limit, not the absolute ones'. */
    if (given[0] == '@' && strlen(given) > XENSTORE_REL_PATH_MAX)
        return -EINVAL;
    int rc = special_or_resolve(c, given, abs, &rel);
    if (rc < 0)
        return rc;
    unsigned n = 0;
    struct vxs_watch **tail = &c->watches;
    for (struct vxs_watch *w = c->watches; w; w = w->next, n++) {
        if (strcmp(w->path, abs) == 0 && strcmp(w->token, token) == 0)
            return -EEXIST;
        tail = &w->next;
    }
    unsigned lim = c->priv || !quota ? 0 : vxs_quota_limit(c->domid, VXS_Q_WATCHES);
    /* C xenstored's watch quota (-W, or the domain's own: SET_QUOTA), checked as C 4.17
     * does, before the count goes up: "more than the limit" allows one watch beyond it. */
    if (lim && n > lim)
        return -E2BIG;
    /* Then its memory quota: C charges the watch's absolute path and token. */
    if (quota && vxs_quota_out_over(c, strlen(abs) + strlen(token)))
        return -ENOMEM;
    struct vxs_watch *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->path = strdup(abs);
    w->given = strdup(given);
    w->token = strdup(token);
    if (!w->path || !w->given || !w->token) {
        watch_free(w);
        return -ENOMEM;
    }
    w->depth = depth;
    w->relative = rel;
    /* At the end: one change fires a connection's watches in the order they were added,
     * as C xenstored (its list of a connection's watches grows at the tail). */
    *tail = w;
    return 0;
}

int vxs_watch_add(struct vxs_conn *c, const char *given, const char *token, int depth)
{
    return add(c, given, token, depth, true);
}

int vxs_watch_restore(struct vxs_conn *c, const char *given, const char *token, int depth)
{
    return add(c, given, token, depth, false);
}

struct vxs_watch *vxs_watch_newest(struct vxs_conn *c)
{
    struct vxs_watch *w = c->watches;
    while (w && w->next)
        w = w->next;
    return w;
}

int vxs_watch_del(struct vxs_conn *c, const char *given, const char *token)
{
    char abs[XENSTORE_ABS_PATH_MAX + 1];
    /* A path no watch could have is simply not found (as C: ENOENT, not EINVAL). */
    bool rel;
    if (special_or_resolve(c, given, abs, &rel) < 0)
        return -ENOENT;
    for (struct vxs_watch **pw = &c->watches; *pw; pw = &(*pw)->next) {
        struct vxs_watch *w = *pw;
        if (strcmp(w->path, abs) == 0 && strcmp(w->token, token) == 0) {
            *pw = w->next;
            watch_free(w);
            return 0;
        }
    }
    return -ENOENT;
}

void vxs_watch_clear(struct vxs_conn *c)
{
    while (c->watches) {
        struct vxs_watch *w = c->watches;
        c->watches = w->next;
        watch_free(w);
    }
}

/* ---- events a guest's request caused (XSA-326) -------------------------------------------- */

struct vxs_cause {
    uint32_t domid;
    unsigned events;    /* its events still queued */
    bool reply;         /* its reply still queued */
    bool held;          /* its reply has left before its events: still outstanding */
};

/* The request being handled, if an unprivileged domain's, and the cause its events share
 * (made at its first event). */
static struct vxs_conn *cause_conn;
static struct vxs_cause *cause_now;

void vxs_cause_begin(struct vxs_conn *c)
{
    cause_conn = !c->priv && c->dom && c->domid != 0 ? c : NULL;
    cause_now = NULL;
}

void vxs_cause_end(struct vxs_conn *c, uint64_t serial_before)
{
    struct vxs_cause *k = cause_now;
    cause_conn = NULL;
    cause_now = NULL;
    if (!k)
        return;
    for (struct vxs_out *o = c->out_head; o; o = o->next)
        if (o->serial > serial_before && !o->cause &&
            ((const struct xsd_sockmsg *)o->data)->type != XS_WATCH_EVENT) {
            o->cause = k; /* its reply: counted outstanding until it and the events leave */
            k->reply = true;
            return;
        }
    if (!k->events)
        free(k);          /* no reply (the connection died) and no event left */
}

bool vxs_cause_taken(const struct vxs_out *o)
{
    struct vxs_cause *k = o->cause;
    if (!k)
        return true;
    if (((const struct xsd_sockmsg *)o->data)->type != XS_WATCH_EVENT) {
        k->reply = false;
        if (k->events) {
            k->held = true;
            return false;
        }
        free(k);
        return true;
    }
    if (--k->events == 0 && !k->reply) {
        if (k->held)
            vxs_quota_outstanding_dom(k->domid, -1);
        if (k != cause_now)
            free(k);
    }
    return true;
}

/* One event; gen (the commit that caused it) is kept with a ring's queued copy, so that its
 * events-delivered mark (vxs_persist_marks) stays below what has not reached the ring. */
static void send_event(struct vxs_conn *c, const char *path, const char *token, uint64_t need,
                       uint64_t gen, bool linked)
{
    uint8_t buf[XS_MSG_MAX];
    struct xs_builder b;
    xs_build_begin(&b, buf, sizeof buf, XS_WATCH_EVENT, 0, 0);
    xs_build_str(&b, path);
    xs_build_str(&b, token);
    int n = xs_build_end(&b);
    if (n <= 0)
        return;
    /* The same event still waiting to leave says it all already (as C xenstored: two
     * watches with one token, one change, one event). Special events are always sent. */
    if (path[0] != '@') {
        for (const struct vxs_out *o = c->out_head; o; o = o->next)
            if (o->len == (size_t)n && !(o == c->out_head && c->out_off) &&
                memcmp(o->data, buf, (size_t)n) == 0)
                return;
    }
    /* As C: an event that would take the watcher's domain to its hard memory quota is lost
     * (events cannot be refused). */
    if (vxs_quota_out_over(c, (size_t)n))
        return;
    uint64_t before = c->out_serial;
    vxs_send(c, buf, (size_t)n, need);
    if (c->out_serial != before) {
        c->out_tail->gen = gen;
        if (cause_conn && linked) {
            if (!cause_now && (cause_now = calloc(1, sizeof *cause_now)) != NULL)
                cause_now->domid = cause_conn->domid;
            if (cause_now) {
                cause_now->events++;
                c->out_tail->cause = cause_now;
            }
        }
    }
}

void vxs_watch_send(struct vxs_conn *c, const char *path, const char *token, uint64_t need)
{
    send_event(c, path, token, need, 0, false);
}

/* Tagged one past the gen the watch was added at (vxs_persist_watch set w->since): while it
 * waits, the ring's mark stays at or below w->since, which tells a restart to send it again
 * (vxs_events_replay.c). */
void vxs_watch_first_event(struct vxs_conn *c, const struct vxs_watch *w, uint64_t need)
{
    send_event(c, w->given, w->token, need, vxs_conn_in_table(c) && w->since ? w->since + 1 : 0,
               false); /* not the WATCH request's doing (as C) */
}


/* Is p equal to w or below it? Sets *levels to the number of components below. */
static bool under(const char *p, const char *w, int *levels)
{
    size_t wl = strlen(w);
    const char *rest;
    if (strcmp(w, "/") == 0) {
        if (p[0] != '/')
            return false;
        rest = p;
    } else {
        if (strncmp(p, w, wl) != 0 || (p[wl] != 0 && p[wl] != '/'))
            return false;
        rest = p + wl;
    }
    int n = 0;
    for (const char *s = rest; *s; s++)
        if (*s == '/' && s[1])
            n++;
    *levels = n;
    return true;
}

/* Is ev a transaction's list, fired at its commit rather than now? */
static bool commit_later(const struct vxs_events *ev)
{
    for (const struct vxs_conn *c = vxs.conns; c; c = c->next)
        for (const struct vxs_tx *t = c->txs; t; t = t->next)
            if (&t->ev == ev)
                return true;
    return false;
}

/* An exact event for a removed node, once, with its perms and, if they differ, its parent's
 * (see below: the parent goes with the subtree). */
static void note_removed_node(struct vxs_events *ev, const char *path, const void *perms,
                              size_t plen, const void *pperms, size_t pplen)
{
    for (size_t i = 0; i < ev->n; i++)
        if (ev->exact[i] && strcmp(ev->paths[i], path) == 0)
            return;
    vxs_events_add(ev, path, true, perms, plen);
    if (pperms && (pplen != plen || memcmp(pperms, perms, plen) != 0))
        vxs_events_add(ev, path, true, pperms, pplen);
}

/* A transaction's removal: C queues every removed node and, at the commit, fires the watches
 * on them that exist then, also those added since the removal. So every node of the subtree
 * (as the transaction sees it) gets its exact event now; vxs_watch_fire matches them with
 * the watches of the commit's time. */
static void note_subtree(struct vs_txn *x, struct vxs_events *ev, char *path, size_t cap,
                         const void *pperms, size_t pplen)
{
    void *perms;
    size_t plen;
    struct vs_stat st;
    if (vs_txn_stat(x, path, &st) < 0 || vs_txn_get_perms(x, path, &perms, &plen) < 0)
        return;
    if (pperms)
        note_removed_node(ev, path, perms, plen, pperms, pplen);
    char **names;
    size_t n;
    if (st.nchildren && vs_txn_list(x, path, &names, &n) == 0) {
        size_t len = strlen(path);
        for (size_t i = 0; i < n; i++) {
            size_t nl = strlen(names[i]);
            if (len + 1 + nl >= cap)
                continue;
            path[len] = '/';
            memcpy(path + len + 1, names[i], nl + 1);
            note_subtree(x, ev, path, cap, perms, plen);
            path[len] = '\0';
        }
        vs_names_free(names, n);
    }
    free(perms);
}

/* Does a come before b when a subtree is walked children first, siblings by name (the
 * store's order)? Both are below the removed node. */
static int postorder_cmp(const char *a, const char *b)
{
    size_t i = 0;
    while (a[i] && a[i] == b[i])
        i++;
    if (!a[i] && !b[i])
        return 0;
    if (!a[i])
        return b[i] == '/' ? 1 : -1;   /* a is b's ancestor, or a's last name is shorter */
    if (!b[i])
        return a[i] == '/' ? -1 : 1;
    if (a[i] == '/')
        return -1;                      /* a's name at this level is a prefix of b's */
    if (b[i] == '/')
        return 1;
    return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
}

/* Sorts the events ev[from..n) into post-order, stably (insertion: removals with watches
 * inside are few). */
static void postorder_sort(struct vxs_events *ev, size_t from)
{
    for (size_t i = from + 1; i < ev->n; i++) {
        char *p = ev->paths[i], *pm = ev->perms[i];
        size_t pl = ev->perms_len[i];
        bool ex = ev->exact[i];
        size_t j = i;
        for (; j > from && postorder_cmp(ev->paths[j - 1], p) > 0; j--) {
            ev->paths[j] = ev->paths[j - 1];
            ev->perms[j] = ev->perms[j - 1];
            ev->perms_len[j] = ev->perms_len[j - 1];
            ev->exact[j] = ev->exact[j - 1];
        }
        ev->paths[j] = p;
        ev->perms[j] = pm;
        ev->perms_len[j] = pl;
        ev->exact[j] = ex;
    }
}

void vxs_watch_note_removal(struct vs_txn *x, struct vxs_events *ev, const char *path)
{
    if (commit_later(ev)) {
        char buf[XENSTORE_ABS_PATH_MAX + 1];
        if (strlen(path) < sizeof buf && strcmp(path, "/") != 0) {
            memcpy(buf, path, strlen(path) + 1);
            note_subtree(x, ev, buf, sizeof buf, NULL, 0);
        }
        return;
    }
    size_t first = ev->n;
    for (struct vxs_conn *c = vxs.conns; c; c = c->next) {
        for (struct vxs_watch *w = c->watches; w; w = w->next) {
            int levels;
            if (w->path[0] == '@' || strcmp(w->path, path) == 0 ||
                !under(w->path, path, &levels))
                continue;
            bool dup = false;
            for (size_t i = 0; i < ev->n && !dup; i++)
                dup = ev->exact[i] && strcmp(ev->paths[i], w->path) == 0;
            void *perms, *pperms;
            size_t plen, pplen;
            if (dup || vs_txn_get_perms(x, w->path, &perms, &plen) < 0)
                continue;
            vxs_events_add(ev, w->path, true, perms, plen);
            /* A watcher that may read the parent gets the event too (C's watch_permitted),
             * but the parent goes with the subtree, so vxs_watch_fire cannot look it up:
             * the same event again with the parent's perms (a watcher allowed by both gets
             * one event, vxs_watch_send drops the copy). */
            char parent[XENSTORE_ABS_PATH_MAX + 1];
            size_t n = (size_t)(strrchr(w->path, '/') - w->path);
            memcpy(parent, w->path, n ? n : 1);
            parent[n ? n : 1] = 0;
            if (vs_txn_get_perms(x, parent, &pperms, &pplen) == 0) {
                if (pplen != plen || memcmp(pperms, perms, plen) != 0)
                    vxs_events_add(ev, w->path, true, pperms, pplen);
                free(pperms);
            }
            free(perms);
        }
    }
    /* C fires them as it deletes the nodes, children before their parent (then the removed
     * node's own event, which the caller adds); its children come in creation order, ours by
     * name (the DIRECTORY order, vxenstored.8). */
    postorder_sort(ev, first);
}

void vxs_watch_report(struct vxs_conn *c, const struct vxs_watch *w, const char *abs,
                      uint64_t gen, uint64_t need)
{
    const char *path = abs;
    if (w->relative) {
        char prefix[40];
        int k = snprintf(prefix, sizeof prefix, "/local/domain/%u/", c->domid);
        if (strncmp(abs, prefix, (size_t)k) == 0)
            path = abs + k;
    }
    send_event(c, path, w->token, need, gen, true);
}

/* The perms of path's parent in the committed tree (it has just been committed), into
 * *perms (malloc'd), or 0 bytes if there is none. */
static void parent_perms(const char *path, void **perms, size_t *len)
{
    *perms = NULL;
    *len = 0;
    const char *slash = strrchr(path, '/');
    if (path[0] != '/' || !slash || strcmp(path, "/") == 0)
        return;
    char parent[XENSTORE_ABS_PATH_MAX + 1];
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    memcpy(parent, path, n);
    parent[n] = 0;
    struct vs_txn *x;
    if (vs_txn_begin(vxs.st, VXS_BRANCH, &x) < 0)
        return;
    if (vs_txn_get_perms(x, parent, perms, len) < 0) {
        *perms = NULL;
        *len = 0;
    }
    vs_txn_abort(x);
}

bool vxs_watch_matches(const struct vxs_watch *w, const char *p, bool exact)
{
    int levels;
    if (w->path[0] == '@')
        return false;
    if (exact)
        return strcmp(p, w->path) == 0;
    return under(p, w->path, &levels) && (w->depth < 0 || levels <= w->depth);
}

void vxs_watch_fire(const struct vxs_events *ev, uint64_t need)
{
    /* The gen of the commit just made (the branch's head), read once and only if a ring
     * gets an event: sockets die with the daemon, rings' events outlive it. */
    uint64_t gen = 0;
    for (size_t i = 0; i < ev->n; i++) {
        const char *p = ev->paths[i];
        void *pperms = NULL;
        size_t pplen = 0;
        bool have_parent = false;
        for (struct vxs_conn *c = vxs.conns; c; c = c->next) {
            if (c->dead || !c->watches)
                continue;
            bool any = false;
            for (struct vxs_watch *w = c->watches; w && !any; w = w->next)
                any = vxs_watch_matches(w, p, ev->exact[i]);
            if (!any)
                continue;
            /* XSA-115: no events about nodes the watcher may not read. C xenstored
             * (watch_permitted) lets the event through when the watcher may read the
             * node or its parent. */
            if (!(vxs_perms_for(ev->perms[i], ev->perms_len[i], c) & VXS_PERM_READ)) {
                if (!have_parent) {
                    parent_perms(p, &pperms, &pplen);
                    have_parent = true;
                }
                if (!pperms || !(vxs_perms_for(pperms, pplen, c) & VXS_PERM_READ))
                    continue;
            }
            if (vxs_conn_in_table(c) && !gen)
                gen = vxs_head_gen();
            for (struct vxs_watch *w = c->watches; w; w = w->next)
                if (vxs_watch_matches(w, p, ev->exact[i]))
                    vxs_watch_report(c, w, p, vxs_conn_in_table(c) ? gen : 0, need);
        }
        free(pperms);
    }
}

void vxs_watch_fire_special(int which, uint32_t domid, uint64_t need)
{
    const char *name = which == 0 ? "@introduceDomain" : "@releaseDomain";
    char with_id[48];
    snprintf(with_id, sizeof with_id, "%s/%u", name, domid);
    for (struct vxs_conn *c = vxs.conns; c; c = c->next) {
        if (c->dead || !c->watches)
            continue;
        if (!(vxs_perms_for(vxs.spec_perms[which], vxs.spec_perms_len[which], c) &
              VXS_PERM_READ))
            continue;
        for (struct vxs_watch *w = c->watches; w; w = w->next) {
            if (strcmp(w->path, name) == 0) {
                /* A depth asks for the domid (newer C xenstored); without one, the plain
                 * name, as every xenstored has always sent. */
                vxs_watch_send(c, which == 1 && w->depth > 0 ? with_id : name, w->token, need);
            } else if (which == 1 && strcmp(w->path, with_id) == 0) {
                vxs_watch_send(c, with_id, w->token, need);
            }
        }
    }
}
