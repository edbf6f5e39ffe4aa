/* vxenstored: permission lists. A node's perms are stored as their wire bytes ("b0\0r5\0"):
 * the first entry names the owner and the access of every domain not listed. */
#include <string.h>

#include "xenstore/vxs.h"

int vxs_perms_normalise(const void *in, size_t len, char *buf, size_t cap)
{
    struct xs_strings it;
    if (len == 0 || xs_strings_init(&it, in, len) < 0)
        return -EINVAL;
    size_t out = 0, n = 0, slen;
    const char *s;
    while ((s = xs_strings_next(&it, &slen)) != NULL) {
        struct xs_perm p;
        if (xs_perm_parse(s, &p) < 0)
            return -EINVAL;
        int k = xs_perm_format(&p, buf + out, cap - out);
        if (k < 0 || out + (size_t)k + 1 > cap)
            return -EINVAL;
        out += (size_t)k + 1;
        n++;
    }
    return n ? (int)out : -EINVAL;
}

bool vxs_perms_allow(const void *perms, size_t len, uint32_t domid, bool priv, char want)
{
    if (priv)
        return true;
    struct xs_strings it;
    if (xs_strings_init(&it, perms, len) < 0)
        return false;
    const char *s;
    size_t slen;
    char access = XS_PERM_NONE;
    bool first = true;
    while ((s = xs_strings_next(&it, &slen)) != NULL) {
        struct xs_perm p;
        if (xs_perm_parse(s, &p) < 0)
            return false;
        if (first) {
            if (p.domid == domid)
                return true; /* the owner */
            access = p.access;
            first = false;
        } else if (p.domid == domid) {
            access = p.access;
            break;
        }
    }
    return access == XS_PERM_BOTH || access == want;
}
