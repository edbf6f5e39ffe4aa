/*
 * Pure helpers of the guest's vchan setup: see guest_hs.h. Built for the guest and for the
 * host unit test alike, so only <errno.h>-style constants and plain C.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <xen/xen.h>
#include <xen/event_channel.h>

#include "vchan/guest_hs.h"

static bool path_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.' || c == '@';
}

int vchan_hs_check_path(const char *path)
{
    if (path == NULL || path[0] == '\0')
        return -EINVAL;
    size_t n = strlen(path);
    if (n >= VCHAN_HS_PATH_MAX)
        return -ENAMETOOLONG;
    const char *p = path[0] == '/' ? path + 1 : path;
    unsigned components = 0;
    size_t comp_len = 0;
    for (; *p != '\0'; p++) {
        if (*p == '/') {
            if (comp_len == 0)
                return -EINVAL; /* "//" or a leading "//" */
            comp_len = 0;
            continue;
        }
        if (!path_char(*p))
            return -EINVAL;
        if (comp_len++ == 0)
            components++;
    }
    if (comp_len == 0)
        return -EINVAL;         /* trailing '/', or "/" alone */
    return components >= 2 ? 0 : -EINVAL;
}

int vchan_hs_parse_u32(const char *s, size_t len, uint32_t *out)
{
    if (s == NULL || len == 0 || len > 10 || s[0] == '0')
        return -EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > UINT32_MAX)
        return -EINVAL;
    *out = (uint32_t)v;
    return 0;
}

/* Length of the floor prefix: the part of the path cleanup never removes. */
static size_t floor_len(const char *path)
{
    static const char home[] = "/local/domain/";
    size_t skip = 0;        /* components that form the floor */
    if (strncmp(path, home, sizeof(home) - 1) == 0)
        skip = 4;           /* local, domain, N, top */
    else
        skip = 1;           /* top ("data" or "/top") */
    size_t i = path[0] == '/' ? 1 : 0;
    for (size_t c = 0; path[i] != '\0'; i++) {
        if (path[i] == '/' && ++c == skip)
            return i;
    }
    return i;
}

size_t vchan_hs_parent(const char *path, size_t len)
{
    size_t fl = floor_len(path);
    if (len > strlen(path))
        return 0;
    size_t i = len;
    while (i > 0 && path[i - 1] != '/')
        i--;
    if (i == 0)
        return 0;
    size_t parent = i - 1;  /* the '/' before the last component */
    return parent > fl ? parent : 0;
}

enum vchan_hs_peer vchan_hs_peer_state(uint32_t evtchn_status, uint16_t remote_dom,
                                       uint16_t expected_dom, bool connected)
{
    if (evtchn_status == EVTCHNSTAT_interdomain)
        return remote_dom == expected_dom ? VCHAN_HS_PEER_UP : VCHAN_HS_PEER_GONE;
    if (evtchn_status == EVTCHNSTAT_unbound && !connected)
        return VCHAN_HS_PEER_WAITING;
    return VCHAN_HS_PEER_GONE;
}
