/*
 * The xenstore side of the guest's vchan handshake: see guest_vchan.h for the protocol and
 * guest_priv.h for the functions.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenkit/malloc.h>

#include "vchan/guest_priv.h"
#include "xen/eventloop.h"
#include "xen/xenbus.h"

int gvchan_xs_resolve(const char *xs_path, uint32_t server_domid, char *out, size_t cap)
{
    int rc = vchan_hs_check_path(xs_path);
    if (rc < 0)
        return rc;
    if (xs_path[0] == '/') {
        if (strlen(xs_path) >= cap)
            return -ENAMETOOLONG;
        strcpy(out, xs_path);
        return 0;
    }
    rc = xenbus_get_domain_path(server_domid, out, cap);
    if (rc < 0)
        return rc;
    size_t n = (size_t)rc;
    if (n + 1 + strlen(xs_path) >= cap)
        return -ENAMETOOLONG;
    out[n] = '/';
    strcpy(out + n + 1, xs_path);
    return 0;
}

static int write_key(const char *path, const char *key, uint32_t value, uint32_t self,
                     uint32_t peer)
{
    char node[GVCHAN_XS_PATH_CAP + 16];
    snprintf(node, sizeof(node), "%s/%s", path, key);
    int rc = xenbus_printf(XENBUS_TX_NONE, node, "%u", (unsigned)value);
    if (rc < 0)
        return rc;
    const struct xs_perm perms[2] = {
        { .domid = self, .access = XS_PERM_NONE },
        { .domid = peer, .access = XS_PERM_READ },
    };
    return xenbus_set_perms(XENBUS_TX_NONE, node, perms, 2);
}

int gvchan_xs_publish(const char *path, uint32_t self, uint32_t peer, uint32_t ring_ref,
                      uint32_t port)
{
    /* ring-ref first: a client that can read event-channel finds ring-ref complete. */
    int rc = write_key(path, "ring-ref", ring_ref, self, peer);
    if (rc == 0)
        rc = write_key(path, "event-channel", port, self, peer);
    return rc;
}

/* 1 and the value if the key holds a valid value, 0 if it is not (yet) there or not
 * readable, -errno otherwise. */
static int read_key(const char *path, const char *key, uint32_t *out)
{
    char node[GVCHAN_XS_PATH_CAP + 16], val[16];
    snprintf(node, sizeof(node), "%s/%s", path, key);
    int rc = xenbus_read(XENBUS_TX_NONE, node, val, sizeof(val));
    if (rc == -ENOENT || rc == -EACCES)
        return 0;
    if (rc == -ERANGE)
        return -EINVAL;
    if (rc < 0)
        return rc;
    if (vchan_hs_parse_u32(val, (size_t)rc, out) < 0)
        return -EINVAL;
    return 1;
}

int gvchan_xs_wait(const char *path, uint64_t deadline_ns, uint32_t *ring_ref,
                   uint32_t *port)
{
    char node[GVCHAN_XS_PATH_CAP + 16];
    snprintf(node, sizeof(node), "%s/event-channel", path);
    /* On the heap: several setups may wait at once (from different event handlers). */
    struct xenbus_watch *w = try_calloc(1, sizeof(*w));
    if (w == NULL)
        return -ENOMEM;
    int rc = xenbus_watch_add(w, node, NULL, NULL);
    if (rc < 0) {
        free(w);
        return rc;
    }
    for (;;) {
        /* The watch fires once at once, then on every change of the node: read, and wait
         * for the next event while the server has not finished. */
        rc = xenbus_watch_wait(w, deadline_ns, NULL, 0);
        if (rc < 0)
            break;
        rc = read_key(path, "event-channel", port);
        if (rc == 1)
            rc = read_key(path, "ring-ref", ring_ref);
        if (rc != 0)
            break;
    }
    xenbus_watch_remove(w);
    free(w);
    return rc < 0 ? rc : 0;
}

struct cleanup {
    const char *path;
    unsigned removed;
};

static int cleanup_tx(xenbus_tx_t t, void *arg)
{
    struct cleanup *c = arg;
    char parent[GVCHAN_XS_PATH_CAP];
    char list[64];
    c->removed = 0;
    size_t len = strlen(c->path);
    while ((len = vchan_hs_parent(c->path, len)) != 0) {
        memcpy(parent, c->path, len);
        parent[len] = '\0';
        int n = xenbus_directory(t, parent, list, sizeof(list));
        if (n == -ERANGE || n > 0)
            return 0;           /* not empty: stop here */
        if (n == -ENOENT)
            continue;           /* already gone: look further up */
        if (n < 0)
            return n;
        int rc = xenbus_rm(t, parent);
        if (rc < 0 && rc != -ENOENT)
            return rc;
        c->removed++;
    }
    return 0;
}

int gvchan_xs_remove(const char *path)
{
    int rc = xenbus_rm(XENBUS_TX_NONE, path);
    if (rc < 0 && rc != -ENOENT)
        return rc;
    if (vchan_hs_parent(path, strlen(path)) == 0)
        return 0;
    struct cleanup c = { .path = path };
    return xenbus_transaction_run(cleanup_tx, &c, 0, NULL);
}
