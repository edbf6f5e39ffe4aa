/* vxenstored: paths and node operations inside a store transaction (vs_txn), with C
 * xenstored's semantics: writes and mkdir create missing parents (which inherit their
 * parent's perms), rm is recursive and succeeds on a missing node whose parent exists. The
 * nodes looked at are those C looks at (the node; on a miss or a denial the ancestors up to
 * the first existing one; when creating, the parent; when removing, the parent and the
 * subtree), so that transactions conflict as in C xenstored (vs_txn records each access). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/vxs.h"
#include "xenstore/vxs_quota.h"

static bool valid_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '/' || ch == '_' || ch == '@';
}

int vxs_path_resolve(const struct vxs_conn *c, const char *in, char *out, bool watch,
                     bool *relative)
{
    size_t n = strlen(in);
    bool rel = in[0] != '/' && !(watch && in[0] == '@');
    if (relative)
        *relative = rel;
    /* A relative path's length is limited by the path-max quota below, after it is made
     * absolute (as C: the quota can be raised beyond XENSTORE_REL_PATH_MAX with CONTROL);
     * any path by XENSTORE_ABS_PATH_MAX, which C 4.17 does not check (vxenstored.8). */
    if (n == 0 || n > XENSTORE_ABS_PATH_MAX)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!valid_char(in[i]))
            return -EINVAL;
        if (in[i] == '/' && (in[i + 1] == '/' || (in[i + 1] == 0 && n > 1)))
            return -EINVAL;
    }
    if (rel) {
        if (in[0] == '/')
            return -EINVAL;
        int k = snprintf(out, XENSTORE_ABS_PATH_MAX + 1, "/local/domain/%u/%s", c->domid, in);
        if (k < 0 || k > XENSTORE_ABS_PATH_MAX)
            return -EINVAL;
    } else {
        memcpy(out, in, n + 1);
    }
    /* C xenstored's path-max quota (2048 by default, for dom0 too): counted below
     * /local/domain/<domid>/ for a domain's own nodes, from the root elsewhere. */
    if (out[0] == '/') {
        size_t off = 0;
        if (strncmp(out, "/local/domain/", 14) == 0) {
            size_t i = 14;
            while (out[i] >= '0' && out[i] <= '9' && i < 14 + 5)
                i++;
            if (i > 14 && out[i] == '/')
                off = i + 1;
        }
        if (strlen(out) - off > vxs.path_max)
            return -EINVAL;
    }
    return 0;
}

/* The parent of an absolute path other than "/", into buf. */
static void parent_of(const char *path, char *buf)
{
    const char *slash = strrchr(path, '/');
    size_t n = (size_t)(slash - path);
    if (n == 0) {
        strcpy(buf, "/");
    } else {
        memcpy(buf, path, n);
        buf[n] = 0;
    }
}

/* What c may do on an existing node; -ENOENT if it is missing. */
static int access_of(const struct vxs_conn *c, struct vs_txn *x, const char *path,
                     unsigned *bits)
{
    const void *perms;
    size_t len;
    int rc = vs_txn_perms_ref(x, path, &perms, &len);
    if (rc < 0)
        return rc;
    *bits = vxs_perms_for(perms, len, c);
    return 0;
}

/* A node is missing: say so (err) only if c could do `want` on its nearest existing
 * ancestor; otherwise EACCES, so nothing is learnt about nodes one may not see. */
static int missing(const struct vxs_conn *c, struct vs_txn *x, const char *path, int err,
                   unsigned want)
{
    char cur[XENSTORE_ABS_PATH_MAX + 1];
    strcpy(cur, path);
    while (strcmp(cur, "/") != 0) {
        char up[XENSTORE_ABS_PATH_MAX + 1];
        parent_of(cur, up);
        strcpy(cur, up);
        unsigned bits;
        int rc = access_of(c, x, cur, &bits);
        if (rc == -ENOENT)
            continue;
        if (rc < 0)
            return rc;
        return (bits & want) ? err : -EACCES;
    }
    return err;
}

/* Check that c may do `want` on path: 0, -EACCES, or -ENOENT (as C's get_node). */
static int check(const struct vxs_conn *c, struct vs_txn *x, const char *path, unsigned want)
{
    unsigned bits;
    int rc = access_of(c, x, path, &bits);
    if (rc == -ENOENT)
        return missing(c, x, path, rc, want);
    if (rc < 0)
        return rc;
    /* Denied: C looks at the parents too (EACCES either way, but they count as accessed in a
     * transaction). */
    return (bits & want) == want ? 0 : missing(c, x, path, -EACCES, want);
}

int vxs_node_read(const struct vxs_conn *c, struct vs_txn *x, const char *path, void **val,
                  size_t *len)
{
    int rc = check(c, x, path, VXS_PERM_READ);
    return rc < 0 ? rc : vs_txn_read(x, path, val, len);
}

int vxs_node_list(const struct vxs_conn *c, struct vs_txn *x, const char *path, char ***names,
                  size_t *n)
{
    int rc = check(c, x, path, VXS_PERM_READ);
    return rc < 0 ? rc : vs_txn_list(x, path, names, n);
}

int vxs_node_get_perms(const struct vxs_conn *c, struct vs_txn *x, const char *path,
                       void **perms, size_t *len)
{
    int rc = check(c, x, path, VXS_PERM_READ);
    return rc < 0 ? rc : vs_txn_get_perms(x, path, perms, len);
}

/* Create path (absent) with this value, creating missing parents with empty values. New
 * nodes inherit their parent's perms; an unprivileged domain owns what it creates. */
static int create_node(const struct vxs_conn *c, struct vs_txn *x, struct vxs_events *ev,
                       const char *path, const void *val, size_t len)
{
    char parent[XENSTORE_ABS_PATH_MAX + 1];
    parent_of(path, parent);
    struct vs_stat st;
    int rc = vs_txn_stat(x, parent, &st);
    if (rc == -ENOENT)
        rc = create_node(c, x, NULL, parent, "", 0);
    if (rc < 0)
        return rc;
    void *perms;
    size_t plen;
    rc = vs_txn_get_perms(x, parent, &perms, &plen);
    if (rc < 0)
        return rc;
    char own[XENSTORE_PAYLOAD_MAX];
    const void *use = perms;
    size_t ulen = plen;
    if (c && !c->priv) {
        /* Replace the owner entry's domid, keep its access and the other entries. */
        const char *p = perms;
        size_t first = strnlen(p, plen);
        if (first < plen && first >= 1) {
            int k = snprintf(own, sizeof own, "%c%u", p[0], c->domid);
            if (k > 0 && (size_t)k + 1 + (plen - first - 1) <= sizeof own) {
                memcpy(own + k + 1, p + first + 1, plen - first - 1);
                use = own;
                ulen = (size_t)k + 1 + (plen - first - 1);
            }
        }
    }
    rc = vs_txn_note_read(x, path);
    if (rc == 0)
        rc = vs_txn_set(x, path, val, len, use, ulen, VS_SET_VALUE | VS_SET_PERMS | VS_CREATE);
    if (rc == 0)
        vxs_quota_node_created(x, path, len, use, ulen);
    /* One watch event, for the node asked for (as C): parents created on the way are not
     * reported on their own. */
    if (rc == 0 && ev)
        vxs_events_add(ev, path, false, use, ulen);
    free(perms);
    return rc;
}

int vxs_node_write(const struct vxs_conn *c, struct vs_txn *x, struct vxs_events *ev,
                   const char *path, const void *val, size_t len)
{
    int rc = check(c, x, path, VXS_PERM_WRITE);
    if (rc == -ENOENT && (rc = vxs_quota_may_create(c, x, path, len)) == 0)
        return create_node(c, x, ev, path, val, len);
    if (rc < 0)
        return rc;
    /* As C: changing an existing node accesses that node only, not its parent. */
    if (rc == 0)
        rc = vxs_quota_node_size(c, x, path, len, NULL, 0);
    if (rc == 0) {
        vxs_quota_node_changing(x, path, len, NULL, 0);
        rc = vs_txn_set(x, path, val, len, NULL, 0, VS_SET_VALUE);
    }
    if (rc == 0) {
        const void *perms;
        size_t plen;
        if (vs_txn_perms_ref(x, path, &perms, &plen) == 0)
            vxs_events_add(ev, path, false, perms, plen);
    }
    return rc;
}

int vxs_node_mkdir(const struct vxs_conn *c, struct vs_txn *x, struct vxs_events *ev,
                   const char *path)
{
    int rc = check(c, x, path, VXS_PERM_WRITE);
    if (rc == -ENOENT && (rc = vxs_quota_may_create(c, x, path, 0)) == 0)
        return create_node(c, x, ev, path, "", 0);
    return rc;
}

int vxs_node_rm(const struct vxs_conn *c, struct vs_txn *x, struct vxs_events *ev,
                const char *path)
{
    char parent[XENSTORE_ABS_PATH_MAX + 1];
    struct vs_stat st;
    int rc = check(c, x, path, VXS_PERM_WRITE);
    if (rc == -ENOENT) {
        if (strcmp(path, "/") == 0)
            return -EINVAL;
        parent_of(path, parent);
        return vs_txn_stat(x, parent, &st); /* parent present: nothing to do */
    }
    if (rc < 0)
        return rc;
    if (strcmp(path, "/") == 0)
        return -EINVAL;
    parent_of(path, parent);
    void *perms = NULL;
    size_t plen = 0;
    rc = vs_txn_get_perms(x, path, &perms, &plen);
    if (rc == 0)
        rc = vs_txn_note_read(x, parent);
    if (rc == 0)
        vxs_watch_note_removal(x, ev, path);
    if (rc == 0) {
        vxs_quota_node_removing(x, path);
        rc = vs_txn_rm(x, path);
    }
    if (rc == 0)
        vxs_events_add(ev, path, false, perms, plen);
    free(perms);
    return rc;
}

int vxs_node_set_perms(const struct vxs_conn *c, struct vs_txn *x, struct vxs_events *ev,
                       const char *path, const void *perms, size_t len)
{
    int rc = check(c, x, path, VXS_PERM_WRITE | VXS_PERM_OWNER);
    if (rc < 0)
        return rc;
    void *old;
    size_t olen;
    rc = vs_txn_get_perms(x, path, &old, &olen);
    if (rc < 0)
        return rc;
    /* Unprivileged domains may not give their nodes away. */
    if (c && !c->priv && vxs_perms_owner(perms, len) != vxs_perms_owner(old, olen)) {
        free(old);
        return -EPERM;
    }
    rc = vxs_quota_node_size(c, x, path, (size_t)-1, perms, len);
    if (rc < 0) {
        free(old);
        return rc;
    }
    vxs_quota_node_changing(x, path, (size_t)-1, perms, len);
    rc = vs_txn_set(x, path, NULL, 0, perms, len, VS_SET_PERMS);
    if (rc == 0)
        vxs_events_add(ev, path, false, perms, len);
    /* C xenstored also tells the watchers the old perms let read (they just lost access):
     * the same event with the old perms; a watcher allowed by both gets one event, as
     * vxs_watch_send drops a copy of an event still queued. */
    if (rc == 0 && (olen != len || memcmp(old, perms, len) != 0))
        vxs_events_add(ev, path, false, old, olen);
    free(old);
    return rc;
}

int vxs_node_init(struct vs_txn *x)
{
    static const char n0[] = "n0";
    int rc = vs_txn_set(x, "/", "", 0, n0, sizeof n0, VS_SET_VALUE | VS_SET_PERMS);
    if (rc == 0)
        rc = vs_txn_set(x, "/tool", "", 0, n0, sizeof n0, VS_SET_VALUE | VS_SET_PERMS | VS_CREATE);
    if (rc == 0)
        rc = vs_txn_set(x, "/tool/xenstored", "", 0, n0, sizeof n0,
                        VS_SET_VALUE | VS_SET_PERMS | VS_CREATE);
    return rc;
}

/* The four arrays live in one allocation (paths, perms, perms_len, exact; ev->paths is its
 * start), and each event's path and perms in another: a write's one event used to cost six
 * allocations. */
void vxs_events_add(struct vxs_events *ev, const char *path, bool exact, const void *perms,
                    size_t perms_len)
{
    if (ev->n == ev->cap) {
        size_t cap = ev->cap ? ev->cap * 2 : 4;
        size_t ptrs = cap * sizeof(char *);
        char *blk = malloc(2 * ptrs + cap * sizeof(size_t) + cap * sizeof(bool));
        if (!blk)
            return;
        char **paths = (char **)blk, **pm = (char **)(blk + ptrs);
        size_t *pl = (size_t *)(blk + 2 * ptrs);
        bool *ex = (bool *)(blk + 2 * ptrs + cap * sizeof(size_t));
        if (ev->n) {
            memcpy(paths, ev->paths, ev->n * sizeof(*paths));
            memcpy(pm, ev->perms, ev->n * sizeof(*pm));
            memcpy(pl, ev->perms_len, ev->n * sizeof(*pl));
            memcpy(ex, ev->exact, ev->n * sizeof(*ex));
        }
        free(ev->paths);
        ev->paths = paths;
        ev->perms = pm;
        ev->perms_len = pl;
        ev->exact = ex;
        ev->cap = cap;
    }
    size_t plen = strlen(path) + 1;
    char *s = malloc(plen + (perms_len ? perms_len : 1)); /* the path, then the perms */
    if (!s)
        return;
    memcpy(s, path, plen);
    char *pm = s + plen;
    if (perms_len)
        memcpy(pm, perms, perms_len);
    ev->paths[ev->n] = s;
    ev->exact[ev->n] = exact;
    ev->perms[ev->n] = pm;
    ev->perms_len[ev->n] = perms_len;
    ev->n++;
}

void vxs_events_free(struct vxs_events *ev)
{
    for (size_t i = 0; i < ev->n; i++)
        free(ev->paths[i]); /* its perms too */
    free(ev->paths);        /* and the other arrays */
    memset(ev, 0, sizeof *ev);
}
