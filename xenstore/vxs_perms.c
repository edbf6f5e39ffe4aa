/* vxenstored: permission lists. A node's perms are stored as their wire bytes ("b0\0r5\0"):
 * the first entry names the owner and the access of every domain not listed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/vxs.h"

/* Parsed as libxenstore's xs_strings_to_perms, which C xenstored uses: only NUL-terminated
 * entries count (trailing bytes without a NUL are ignored), the domid is strtol(.., 0) (so
 * "r0x10" is domain 16) and must be followed by nothing. */
int vxs_perms_normalise(const void *in, size_t len, char *buf, size_t cap)
{
    const char *p = in, *end = p + len;
    size_t out = 0, n = 0;
    while (p < end) {
        const char *nul = memchr(p, 0, (size_t)(end - p));
        if (!nul)
            break;
        char access = p[0];
        if (access != 'r' && access != 'w' && access != 'b' && access != 'n')
            return -EINVAL;
        const char *num = p + 1;
        if (!*num)
            return -EINVAL;
        char *stop;
        long v = strtol(num, &stop, 0);
        if (*stop)
            return -EINVAL;
        int k = snprintf(buf + out, cap - out, "%c%u", access, (unsigned)v);
        if (k < 0 || out + (size_t)k + 1 > cap)
            return -EINVAL;
        out += (size_t)k + 1;
        n++;
        p = nul + 1;
    }
    return n ? (int)out : -EINVAL;
}

static unsigned bits(char access)
{
    switch (access) {
    case XS_PERM_READ:
        return VXS_PERM_READ;
    case XS_PERM_WRITE:
        return VXS_PERM_WRITE;
    case XS_PERM_BOTH:
        return VXS_PERM_READ | VXS_PERM_WRITE;
    default:
        return 0;
    }
}

/* Does an entry for domid apply to c: its own id, its target's (a device model acting for
 * its guest), or DOMID_ANY (every domain)? */
static bool is(const struct vxs_conn *c, uint32_t domid)
{
    return domid == c->domid || (c->has_target && domid == c->target) ||
           domid == VXS_DOMID_ANY;
}

/* C xenstored's rule: privileged connections and the owner (or a device model acting for
 * the owner) get everything; otherwise the first entry that applies to the domain; failing
 * that the owner entry's access. A DOMID_ANY entry applies in its place in the list, as in
 * Xen's perm_for_conn: an own entry after it is never reached, and a node owned by
 * DOMID_ANY is everybody's. */
unsigned vxs_perms_for(const void *perms, size_t len, const struct vxs_conn *c)
{
    const unsigned all = VXS_PERM_READ | VXS_PERM_WRITE | VXS_PERM_OWNER;
    if (!c || c->priv)
        return all;
    struct xs_strings it;
    if (xs_strings_init(&it, perms, len) < 0)
        return 0;
    const char *s;
    size_t slen;
    unsigned dflt = 0;
    bool first = true;
    while ((s = xs_strings_next(&it, &slen)) != NULL) {
        struct xs_perm p;
        if (xs_perm_parse(s, &p) < 0)
            return 0;
        if (first) {
            if (is(c, p.domid))
                return all;
            dflt = bits(p.access);
            first = false;
        } else if (is(c, p.domid)) {
            return bits(p.access);
        }
    }
    return dflt;
}

uint32_t vxs_perms_owner(const void *perms, size_t len)
{
    struct xs_strings it;
    size_t slen;
    const char *s;
    struct xs_perm p;
    if (xs_strings_init(&it, perms, len) < 0 || !(s = xs_strings_next(&it, &slen)) ||
        xs_perm_parse(s, &p) < 0)
        return 0;
    return p.domid;
}

/* C xenstored 4.17 (domain_alloc_permrefs) marks an entry naming a domain that neither it
 * knows nor the hypervisor has as "ignored": for the owner (the first entry) SET_PERMS says
 * ENOENT; another such entry is kept but never matches, even for a domain that gets that id
 * later. Ours drops those entries instead (the same access; GET_PERMS does not list them, as
 * for a departed domain's entries, see vxs_domain.c), so no later domain inherits them.
 * Dom0 and DOMID_ANY always exist; exists(domid) asks for the others. */
int vxs_perms_drop_unknown(char *perms, int len, bool (*exists)(uint32_t domid))
{
    int out = 0;
    bool first = true;
    for (int i = 0; i < len;) {
        size_t l = strlen(perms + i) + 1;
        uint32_t id = (uint32_t)strtoul(perms + i + 1, NULL, 10);
        bool known = id == 0 || id == VXS_DOMID_ANY || exists(id);
        if (first && !known)
            return -ENOENT;
        if (known) {
            memmove(perms + out, perms + i, l);
            out += (int)l;
        }
        first = false;
        i += (int)l;
    }
    return out;
}

/* C 4.17's xs_perm_to_string prints "%i" of the id into 10 characters. */
void vxs_perms_build(struct xs_builder *b, const void *perms, size_t len)
{
    const char *p = perms, *end = p + len;
    while (p < end) {
        const char *nul = memchr(p, 0, (size_t)(end - p));
        size_t l = nul ? (size_t)(nul - p) + 1 : (size_t)(end - p);
        struct xs_perm e;
        char text[16];
        if (nul && xs_perm_parse(p, &e) == 0 && e.domid > 0x7FFFFFFFu) {
            /* C's buffer holds 10 characters of the number: "-2147483648" loses its last. */
            char num[16];
            snprintf(num, sizeof num, "%d", (int)e.domid);
            int k = snprintf(text, sizeof text, "%c%.10s", e.access, num);
            xs_build_raw(b, text, (size_t)k + 1);
        } else {
            xs_build_raw(b, p, l);
        }
        p += l;
    }
}
