/* vxenstored: paths and node operations inside a store transaction (vs_txn), with C
 * xenstored's semantics: writes and mkdir create missing parents (which inherit their
 * parent's perms), rm is recursive and succeeds on a missing node whose parent exists. Every
 * node a change touches is recorded in the transaction's read set, together with its parent,
 * so that concurrent transactions conflict as they do in C xenstored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/vxs.h"

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
    if (n == 0 || n > (rel ? XENSTORE_REL_PATH_MAX : XENSTORE_ABS_PATH_MAX))
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

int vxs_node_read(struct vs_txn *x, const char *path, void **val, size_t *len)
{
    return vs_txn_read(x, path, val, len);
}

int vxs_node_list(struct vs_txn *x, const char *path, char ***names, size_t *n)
{
    return vs_txn_list(x, path, names, n);
}

int vxs_node_get_perms(struct vs_txn *x, const char *path, void **perms, size_t *len)
{
    return vs_txn_get_perms(x, path, perms, len);
}

/* Create path (absent) with this value, creating missing parents with empty values. */
static int create_node(struct vs_txn *x, const char *path, const void *val, size_t len)
{
    char parent[XENSTORE_ABS_PATH_MAX + 1];
    parent_of(path, parent);
    struct vs_stat st;
    int rc = vs_txn_stat(x, parent, &st);
    if (rc == -ENOENT)
        rc = create_node(x, parent, "", 0);
    if (rc < 0)
        return rc;
    void *perms;
    size_t plen;
    rc = vs_txn_get_perms(x, parent, &perms, &plen);
    if (rc < 0)
        return rc;
    rc = vs_txn_note_read(x, path);
    if (rc == 0)
        rc = vs_txn_set(x, path, val, len, perms, plen, VS_SET_VALUE | VS_SET_PERMS | VS_CREATE);
    free(perms);
    return rc;
}

int vxs_node_write(struct vs_txn *x, struct vxs_events *ev, const char *path, const void *val,
                   size_t len)
{
    struct vs_stat st;
    int rc = vs_txn_stat(x, path, &st);
    if (rc == 0) {
        if (strcmp(path, "/") != 0) {
            char parent[XENSTORE_ABS_PATH_MAX + 1];
            parent_of(path, parent);
            rc = vs_txn_note_read(x, parent);
        }
        if (rc == 0)
            rc = vs_txn_set(x, path, val, len, NULL, 0, VS_SET_VALUE);
    } else if (rc == -ENOENT) {
        rc = create_node(x, path, val, len);
    }
    if (rc == 0)
        vxs_events_add(ev, path, false);
    return rc;
}

int vxs_node_mkdir(struct vs_txn *x, struct vxs_events *ev, const char *path)
{
    struct vs_stat st;
    int rc = vs_txn_stat(x, path, &st);
    if (rc == 0)
        return 0;
    if (rc != -ENOENT)
        return rc;
    rc = create_node(x, path, "", 0);
    if (rc == 0)
        vxs_events_add(ev, path, false);
    return rc;
}

int vxs_node_rm(struct vs_txn *x, struct vxs_events *ev, const char *path)
{
    if (strcmp(path, "/") == 0)
        return -EINVAL;
    char parent[XENSTORE_ABS_PATH_MAX + 1];
    parent_of(path, parent);
    struct vs_stat st;
    int rc = vs_txn_stat(x, path, &st);
    if (rc == -ENOENT) {
        rc = vs_txn_stat(x, parent, &st);
        return rc; /* parent present: nothing to do; missing: ENOENT */
    }
    if (rc < 0)
        return rc;
    rc = vs_txn_note_read(x, parent);
    if (rc == 0)
        rc = vs_txn_rm(x, path);
    if (rc == 0)
        vxs_events_add(ev, path, true);
    return rc;
}

int vxs_node_set_perms(struct vs_txn *x, struct vxs_events *ev, const char *path,
                       const void *perms, size_t len)
{
    struct vs_stat st;
    int rc = vs_txn_stat(x, path, &st);
    if (rc < 0)
        return rc;
    rc = vs_txn_set(x, path, NULL, 0, perms, len, VS_SET_PERMS);
    if (rc == 0)
        vxs_events_add(ev, path, false);
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

void vxs_events_add(struct vxs_events *ev, const char *path, bool rm)
{
    if (ev->n == ev->cap) {
        size_t cap = ev->cap ? ev->cap * 2 : 4;
        char **p = realloc(ev->paths, cap * sizeof *p);
        if (!p)
            return;
        ev->paths = p;
        bool *r = realloc(ev->rm, cap * sizeof *r);
        if (!r)
            return;
        ev->rm = r;
        ev->cap = cap;
    }
    char *s = strdup(path);
    if (!s)
        return;
    ev->paths[ev->n] = s;
    ev->rm[ev->n] = rm;
    ev->n++;
}

void vxs_events_free(struct vxs_events *ev)
{
    for (size_t i = 0; i < ev->n; i++)
        free(ev->paths[i]);
    free(ev->paths);
    free(ev->rm);
    memset(ev, 0, sizeof *ev);
}
