/* Operations on nodes: read, write, directory, mkdir, rm, permissions, domain paths. Each
 * is one request (xb_request) plus the checks its reply needs. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <xen/xen.h>

#include "xen/xenbus.h"
#include "xen/xenbus_priv.h"

/* Requests whose only argument is a path. */
static int path_op(uint32_t type, xenbus_tx_t t, const char *path, void *reply, size_t cap,
                   size_t *len)
{
    struct xb_req rq = { .type = type, .tx = t, .strs = { path }, .nstr = 1 };
    return xb_request(&rq, reply, cap, len);
}

/* Requests answered by "OK". */
static int ok_op(const struct xb_req *rq)
{
    char reply[4];
    size_t len;
    int rc = xb_request(rq, reply, sizeof(reply), &len);
    if (rc == -ERANGE)
        return -EPROTO; /* anything longer than "OK\0" is not OK */
    return rc != 0 ? rc : xs_decode_ok(reply, len);
}

int xenbus_read(xenbus_tx_t t, const char *path, char *buf, size_t cap)
{
    size_t len;
    if (cap == 0)
        return -ERANGE;
    int rc = path_op(XS_READ, t, path, buf, cap - 1, &len);
    if (rc != 0)
        return rc;
    buf[len] = '\0';
    return (int)len;
}

int xenbus_read_u64(xenbus_tx_t t, const char *path, uint64_t *out)
{
    char buf[24];
    int n = xenbus_read(t, path, buf, sizeof(buf));
    if (n == -ERANGE)
        return -EINVAL;
    if (n < 0)
        return n;
    if (n == 0 || (buf[0] == '0' && n > 1) || (size_t)n != strlen(buf))
        return -EINVAL;
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return -EINVAL;
        unsigned d = (unsigned)(buf[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -EINVAL;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int xenbus_write_bytes(xenbus_tx_t t, const char *path, const void *value, size_t len)
{
    /* raw must not be NULL for an empty value: the codec appends nothing then. */
    struct xb_req rq = { .type = XS_WRITE, .tx = t, .strs = { path }, .nstr = 1,
                         .raw = value != NULL ? value : "", .raw_len = len };
    return ok_op(&rq);
}

int xenbus_write(xenbus_tx_t t, const char *path, const char *value)
{
    return xenbus_write_bytes(t, path, value, strlen(value));
}

int xenbus_printf(xenbus_tx_t t, const char *path, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return -E2BIG;
    return xenbus_write_bytes(t, path, buf, (size_t)n);
}

int xenbus_mkdir(xenbus_tx_t t, const char *path)
{
    struct xb_req rq = { .type = XS_MKDIR, .tx = t, .strs = { path }, .nstr = 1 };
    return ok_op(&rq);
}

int xenbus_rm(xenbus_tx_t t, const char *path)
{
    struct xb_req rq = { .type = XS_RM, .tx = t, .strs = { path }, .nstr = 1 };
    return ok_op(&rq);
}

int xenbus_exists(xenbus_tx_t t, const char *path)
{
    /* A directory listing answers without copying a (possibly large) value; the buffer
     * size does not matter, only the status. */
    char buf[1];
    int rc = path_op(XS_DIRECTORY, t, path, buf, 0, NULL);
    if (rc == 0 || rc == -ERANGE)
        return 1;
    return rc == -ENOENT ? 0 : rc;
}

int xenbus_directory(xenbus_tx_t t, const char *path, char *buf, size_t cap)
{
    size_t len;
    int rc = path_op(XS_DIRECTORY, t, path, buf, cap, &len);
    if (rc != 0)
        return rc;
    struct xs_strings it;
    if (xs_strings_init(&it, buf, len) != 0)
        return -EPROTO;
    return (int)xs_strings_count(buf, len);
}

int xenbus_get_perms(xenbus_tx_t t, const char *path, struct xs_perm *perms, unsigned max)
{
    char buf[512];
    size_t len;
    int rc = path_op(XS_GET_PERMS, t, path, buf, sizeof(buf), &len);
    if (rc != 0)
        return rc;
    struct xs_strings it;
    if (xs_strings_init(&it, buf, len) != 0)
        return -EPROTO;
    unsigned n = 0;
    for (const char *s; (s = xs_strings_next(&it, NULL)) != NULL; n++) {
        if (n == max)
            return -ERANGE;
        if (xs_perm_parse(s, &perms[n]) != 0)
            return -EPROTO;
    }
    /* A node always has an owner entry. */
    return n == 0 ? -EPROTO : (int)n;
}

int xenbus_set_perms(xenbus_tx_t t, const char *path, const struct xs_perm *perms,
                     unsigned n)
{
    /* The path and n entries as one raw block: entries are "<letter><domid>\0". */
    char buf[1024];
    size_t len = 0;
    if (n == 0)
        return -EINVAL;
    for (unsigned i = 0; i < n; i++) {
        int k = xs_perm_format(&perms[i], buf + len, sizeof(buf) - len);
        if (k < 0)
            return k;
        len += (size_t)k + 1;
    }
    struct xb_req rq = { .type = XS_SET_PERMS, .tx = t, .strs = { path }, .nstr = 1,
                         .raw = buf, .raw_len = len };
    return ok_op(&rq);
}

int xenbus_get_domain_path(uint32_t domid, char *buf, size_t cap)
{
    char id[12];
    size_t len;
    snprintf(id, sizeof(id), "%u", (unsigned)domid);
    if (cap == 0)
        return -ERANGE;
    int rc = path_op(XS_GET_DOMAIN_PATH, XENBUS_TX_NONE, id, buf, cap, &len);
    if (rc != 0)
        return rc;
    /* "/local/domain/5\0": one string, NUL-terminated, nothing after. */
    if (len == 0 || buf[len - 1] != '\0' || strlen(buf) != len - 1)
        return -EPROTO;
    return (int)(len - 1);
}

int xenbus_get_domid(uint32_t *domid)
{
    uint64_t v;
    int rc = xenbus_read_u64(XENBUS_TX_NONE, "domid", &v);
    if (rc != 0)
        return rc;
    if (v >= DOMID_FIRST_RESERVED)
        return -EPROTO;
    *domid = (uint32_t)v;
    return 0;
}
