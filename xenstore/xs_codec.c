/* The xenstore wire codec; see xs_codec.h for the contract. */
#include <string.h>

#include "xenstore/xs_codec.h"

_Static_assert(sizeof(struct xsd_sockmsg) == 16, "xenstore header is 16 bytes");

static const char *const type_names[] = {
    [XS_CONTROL] = "CONTROL",
    [XS_DIRECTORY] = "DIRECTORY",
    [XS_READ] = "READ",
    [XS_GET_PERMS] = "GET_PERMS",
    [XS_WATCH] = "WATCH",
    [XS_UNWATCH] = "UNWATCH",
    [XS_TRANSACTION_START] = "TRANSACTION_START",
    [XS_TRANSACTION_END] = "TRANSACTION_END",
    [XS_INTRODUCE] = "INTRODUCE",
    [XS_RELEASE] = "RELEASE",
    [XS_GET_DOMAIN_PATH] = "GET_DOMAIN_PATH",
    [XS_WRITE] = "WRITE",
    [XS_MKDIR] = "MKDIR",
    [XS_RM] = "RM",
    [XS_SET_PERMS] = "SET_PERMS",
    [XS_WATCH_EVENT] = "WATCH_EVENT",
    [XS_ERROR] = "ERROR",
    [XS_IS_DOMAIN_INTRODUCED] = "IS_DOMAIN_INTRODUCED",
    [XS_RESUME] = "RESUME",
    [XS_SET_TARGET] = "SET_TARGET",
    /* 20 was XS_RESTRICT, removed from the protocol */
    [XS_RESET_WATCHES] = "RESET_WATCHES",
    [XS_DIRECTORY_PART] = "DIRECTORY_PART",
    [XS_CODEC_GET_FEATURE] = "GET_FEATURE",
    [XS_CODEC_SET_FEATURE] = "SET_FEATURE",
    [XS_CODEC_GET_QUOTA] = "GET_QUOTA",
    [XS_CODEC_SET_QUOTA] = "SET_QUOTA",
};

#define N_TYPES (sizeof(type_names) / sizeof(type_names[0]))

bool xs_type_known(uint32_t type)
{
    return type < N_TYPES && type_names[type] != NULL;
}

const char *xs_type_name(uint32_t type)
{
    return xs_type_known(type) ? type_names[type] : "?";
}

/* ---- Encoding ------------------------------------------------------------------------ */

void xs_build_begin(struct xs_builder *b, void *buf, size_t cap, uint32_t type,
                    uint32_t req_id, uint32_t tx_id)
{
    b->buf = buf;
    b->cap = cap;
    b->len = 0;
    b->err = 0;
    if (cap < XS_HDR_SIZE) {
        b->err = -E2BIG;
        return;
    }
    struct xsd_sockmsg h = { .type = type, .req_id = req_id, .tx_id = tx_id, .len = 0 };
    memcpy(b->buf, &h, sizeof(h));
    b->len = XS_HDR_SIZE;
}

void xs_build_raw(struct xs_builder *b, const void *p, size_t n)
{
    if (b->err)
        return;
    /* Both limits, written so that nothing can overflow: len >= XS_HDR_SIZE here. */
    if (n > b->cap - b->len || n > XENSTORE_PAYLOAD_MAX - (b->len - XS_HDR_SIZE)) {
        b->err = -E2BIG;
        return;
    }
    if (n > 0)
        memcpy(b->buf + b->len, p, n);
    b->len += n;
}

void xs_build_str(struct xs_builder *b, const char *s)
{
    /* One step, so that a string that fits without its NUL is still refused as a whole. */
    size_t n = strlen(s);
    if (b->err)
        return;
    if (n >= b->cap - b->len || n >= XENSTORE_PAYLOAD_MAX - (b->len - XS_HDR_SIZE)) {
        b->err = -E2BIG;
        return;
    }
    memcpy(b->buf + b->len, s, n + 1);
    b->len += n + 1;
}

void xs_build_u32(struct xs_builder *b, uint32_t v)
{
    char digits[11];
    size_t i = sizeof(digits);
    digits[--i] = '\0';
    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    xs_build_str(b, digits + i);
}

int xs_build_end(struct xs_builder *b)
{
    if (b->err)
        return b->err;
    uint32_t len = (uint32_t)(b->len - XS_HDR_SIZE);
    memcpy(b->buf + offsetof(struct xsd_sockmsg, len), &len, sizeof(len));
    return (int)b->len;
}

int xs_encode_error(void *buf, size_t cap, uint32_t req_id, uint32_t tx_id, int err)
{
    const char *name = "EINVAL";
    for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++) {
        if (xsd_errors[i].errnum == -err) {
            name = xsd_errors[i].errstring;
            break;
        }
    }
    struct xs_builder b;
    xs_build_begin(&b, buf, cap, XS_ERROR, req_id, tx_id);
    xs_build_str(&b, name);
    return xs_build_end(&b);
}

/* ---- Stream reassembly --------------------------------------------------------------- */

void xs_reader_init(struct xs_reader *r, void *body, size_t body_cap)
{
    r->body = body;
    r->body_cap = body_cap;
    xs_reader_reset(r);
}

void xs_reader_reset(struct xs_reader *r)
{
    memset(&r->hdr, 0, sizeof(r->hdr));
    r->have = 0;
    /* A buffer that cannot hold the largest payload and its NUL would let a peer make us
     * fail on a legal message: refuse to work at all instead. */
    r->err = r->body_cap < XS_READER_BODY_SIZE ? -EINVAL : 0;
}

static bool reader_complete(const struct xs_reader *r)
{
    return r->have >= XS_HDR_SIZE && r->have - XS_HDR_SIZE == r->hdr.len;
}

void *xs_reader_want(struct xs_reader *r, size_t *n)
{
    if (r->err || reader_complete(r)) {
        *n = 0;
        return NULL;
    }
    if (r->have < XS_HDR_SIZE) {
        *n = XS_HDR_SIZE - r->have;
        return (uint8_t *)&r->hdr + r->have;
    }
    size_t got = r->have - XS_HDR_SIZE;
    *n = r->hdr.len - got;
    return r->body + got;
}

int xs_reader_got(struct xs_reader *r, size_t n)
{
    size_t want;
    if (r->err)
        return r->err;
    /* More than xs_reader_want() asked for would have been written past the header or the
     * payload: a caller bug, but the stream is unusable either way. */
    if (xs_reader_want(r, &want) == NULL || n > want) {
        r->err = -EINVAL;
        return r->err;
    }
    r->have += n;
    if (r->have < XS_HDR_SIZE)
        return 0;
    if (r->have == XS_HDR_SIZE) {
        /* The header is complete: this is the one place its len is checked, and
         * xs_reader_want() never asks for more than it says. */
        if (r->hdr.len > XENSTORE_PAYLOAD_MAX) {
            r->err = -EPROTO;
            return r->err;
        }
    }
    if (!reader_complete(r))
        return 0;
    r->body[r->hdr.len] = '\0';
    return 1;
}

int xs_reader_feed(struct xs_reader *r, const void *data, size_t len, size_t *used)
{
    const uint8_t *src = data;
    size_t n;
    void *dst;
    int rc = r->err;

    *used = 0;
    if (rc == 0 && reader_complete(r))
        return 1;
    while (rc == 0 && *used < len && (dst = xs_reader_want(r, &n)) != NULL) {
        if (n > len - *used)
            n = len - *used;
        memcpy(dst, src + *used, n);
        *used += n;
        rc = xs_reader_got(r, n);
    }
    /* A header with len 0 completes without payload bytes. */
    if (rc == 0 && reader_complete(r))
        rc = 1;
    return rc;
}

void xs_reader_next(struct xs_reader *r)
{
    if (r->err)
        return;
    r->have = 0;
    memset(&r->hdr, 0, sizeof(r->hdr));
}

/* ---- Payloads ------------------------------------------------------------------------ */

int xs_strings_init(struct xs_strings *it, const void *payload, size_t len)
{
    const char *p = payload;
    it->p = it->end = p;
    if (len > 0 && p[len - 1] != '\0')
        return -EPROTO;
    it->end = p + len;
    return 0;
}

const char *xs_strings_next(struct xs_strings *it, size_t *len)
{
    if (it->p >= it->end)
        return NULL;
    const char *s = it->p;
    /* The last byte is a NUL (xs_strings_init), so memchr always finds one. */
    const char *nul = memchr(s, '\0', (size_t)(it->end - s));
    if (len)
        *len = (size_t)(nul - s);
    it->p = nul + 1;
    return s;
}

size_t xs_strings_count(const void *payload, size_t len)
{
    struct xs_strings it;
    size_t n = 0;
    if (xs_strings_init(&it, payload, len) != 0)
        return 0;
    while (xs_strings_next(&it, NULL) != NULL)
        n++;
    return n;
}

int xs_split(const void *payload, size_t len, const char **strs, unsigned n,
             const void **rest, size_t *rest_len)
{
    const char *p = payload, *end = p + len;
    for (unsigned i = 0; i < n; i++) {
        const char *nul = p < end ? memchr(p, '\0', (size_t)(end - p)) : NULL;
        if (nul == NULL)
            return -EPROTO;
        strs[i] = p;
        p = nul + 1;
    }
    if (rest == NULL)
        return p == end ? 0 : -EPROTO;
    *rest = p;
    *rest_len = (size_t)(end - p);
    return 0;
}

/* The payload is exactly one NUL-terminated string (a single trailing NUL). */
static const char *one_string(const void *payload, size_t len)
{
    const char *p = payload;
    if (len == 0 || p[len - 1] != '\0' || memchr(p, '\0', len) != p + len - 1)
        return NULL;
    return p;
}

int xs_decode_error(const void *payload, size_t len)
{
    const char *s = one_string(payload, len);
    if (s == NULL)
        return -EPROTO;
    for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
        if (strcmp(s, xsd_errors[i].errstring) == 0)
            return -xsd_errors[i].errnum;
    if (strcmp(s, "EQUOTA") == 0)
        return -ENOSPC;
    return -EIO;
}

int xs_reply_status(const struct xsd_sockmsg *hdr, const void *payload, uint32_t expected)
{
    if (hdr->type == XS_ERROR) {
        int rc = xs_decode_error(payload, hdr->len);
        /* An error reply must carry an error: "0" or garbage is a protocol violation. */
        return rc < 0 ? rc : -EPROTO;
    }
    return hdr->type == expected ? 0 : -EPROTO;
}

int xs_decode_ok(const void *payload, size_t len)
{
    const char *p = payload;
    if ((len == 3 && memcmp(p, "OK", 3) == 0) || (len == 2 && memcmp(p, "OK", 2) == 0))
        return 0;
    return -EPROTO;
}

int xs_parse_u32(const char *s, uint32_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
        return -EINVAL;
    for (; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > UINT32_MAX)
            return -EINVAL;
    }
    *out = (uint32_t)v;
    return 0;
}

int xs_decode_u32(const void *payload, size_t len, uint32_t *out)
{
    const char *s = one_string(payload, len);
    if (s == NULL || xs_parse_u32(s, out) != 0)
        return -EPROTO;
    return 0;
}

int xs_decode_watch_event(const void *payload, size_t len, const char **path,
                          const char **token)
{
    const char *strs[2];
    const void *rest;
    size_t rest_len;
    int rc = xs_split(payload, len, strs, 2, &rest, &rest_len);
    if (rc != 0)
        return rc;
    /* Extra strings are tolerated (room for future extensions); trailing raw bytes are not. */
    if (rest_len > 0 && ((const char *)rest)[rest_len - 1] != '\0')
        return -EPROTO;
    *path = strs[0];
    *token = strs[1];
    return 0;
}

/* ---- Permissions --------------------------------------------------------------------- */

int xs_perm_parse(const char *s, struct xs_perm *out)
{
    switch (s[0]) {
    case XS_PERM_NONE:
    case XS_PERM_READ:
    case XS_PERM_WRITE:
    case XS_PERM_BOTH:
        break;
    default:
        return -EINVAL;
    }
    if (xs_parse_u32(s + 1, &out->domid) != 0)
        return -EINVAL;
    out->access = s[0];
    return 0;
}

int xs_perm_format(const struct xs_perm *p, char *buf, size_t cap)
{
    char tmp[12];
    size_t i = sizeof(tmp);
    uint32_t v = p->domid;

    if (p->access != XS_PERM_NONE && p->access != XS_PERM_READ &&
        p->access != XS_PERM_WRITE && p->access != XS_PERM_BOTH)
        return -EINVAL;
    tmp[--i] = '\0';
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    tmp[--i] = p->access;
    size_t n = sizeof(tmp) - 1 - i;
    if (n + 1 > cap)
        return -E2BIG;
    memcpy(buf, tmp + i, n + 1);
    return (int)n;
}
