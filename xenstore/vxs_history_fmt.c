/*
 * The history queries' output formats (vxs_history.h): a growable buffer, JSON strings,
 * values and perms for text, times, commit and change records, and the control reply that
 * carries a page. Pure: no store, no I/O, so the unit test checks every format exactly.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xenstore/vxs_history.h"

/* ---- buffer ------------------------------------------------------------------------------- */

static bool buf_room(struct vxh_buf *b, size_t n)
{
    if (b->err)
        return false;
    if (b->len + n + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->err = -ENOMEM;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void vxh_buf_add(struct vxh_buf *b, const void *data, size_t n)
{
    if (!buf_room(b, n))
        return;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void vxh_buf_str(struct vxh_buf *b, const char *s)
{
    vxh_buf_add(b, s, strlen(s));
}

void vxh_buf_printf(struct vxh_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_room(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void vxh_buf_free(struct vxh_buf *b)
{
    free(b->p);
    *b = (struct vxh_buf){0};
}

/* ---- strings and values ------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence (2 to 4 bytes) at s, 0 if there is none: overlong
 * forms, surrogates and values above U+10FFFF are not valid, so they get escaped. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* The bytes of a value, escaped: backslash (and '"' if esc_quote), \n and \t always; other
 * control bytes and invalid UTF-8 as JSON's \u00XX (json) or as \xXX; valid UTF-8 as is. */
static void escaped(struct vxh_buf *b, const uint8_t *p, size_t n, bool esc_quote, bool json)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        size_t u;
        if (c == '\\' || (esc_quote && c == '"')) {
            char e[2] = {'\\', (char)c};
            vxh_buf_add(b, e, 2);
        } else if (c == '\n') {
            vxh_buf_add(b, "\\n", 2);
        } else if (c == '\t') {
            vxh_buf_add(b, "\\t", 2);
        } else if (c >= 0x20 && c < 0x7f) {
            vxh_buf_add(b, &p[i], 1);
        } else if (c >= 0x80 && (u = utf8_seq(p + i, n - i)) > 0) {
            vxh_buf_add(b, p + i, u);
            i += u;
            continue;
        } else if (json) {
            vxh_buf_printf(b, "\\u%04x", c);
        } else {
            vxh_buf_printf(b, "\\x%02x", c);
        }
        i++;
    }
}

void vxh_json_str(struct vxh_buf *b, const void *s, size_t n)
{
    vxh_buf_add(b, "\"", 1);
    escaped(b, s, n, true, true);
    vxh_buf_add(b, "\"", 1);
}

void vxh_text_value(struct vxh_buf *b, const void *s, size_t n, bool quote)
{
    if (quote)
        vxh_buf_add(b, "\"", 1);
    escaped(b, s, n, quote, false);
    if (quote)
        vxh_buf_add(b, "\"", 1);
}

void vxh_perms(struct vxh_buf *b, const void *perms, size_t len, enum vxh_fmt fmt)
{
    const char *p = perms, *end = p + len;
    vxh_buf_str(b, fmt == VXH_JSON ? "[" : "(");
    for (bool first = true; p < end; first = false) {
        const char *z = memchr(p, '\0', (size_t)(end - p));
        size_t l = z ? (size_t)(z - p) : (size_t)(end - p);
        if (!first)
            vxh_buf_str(b, fmt == VXH_JSON ? ", " : ",");
        if (fmt == VXH_JSON)
            vxh_json_str(b, p, l);
        else
            vxh_text_value(b, p, l, false);
        p += l + 1;
    }
    vxh_buf_str(b, fmt == VXH_JSON ? "]" : ")");
}

/* ---- times -------------------------------------------------------------------------------- */

void vxh_time_str(uint64_t ns, char *buf, size_t cap)
{
    time_t s = (time_t)(ns / 1000000000u);
    struct tm tm;
    if (!gmtime_r(&s, &tm)) {
        snprintf(buf, cap, "?");
        return;
    }
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (unsigned)(ns % 1000000000u / 1000000u));
}

/* Digits into *v (at most `max` of them, at least one); returns the count or 0. */
static int digits(const char *s, int max, uint64_t *v)
{
    int n = 0;
    *v = 0;
    while (n < max && s[n] >= '0' && s[n] <= '9')
        *v = *v * 10 + (uint64_t)(s[n++] - '0');
    return n;
}

/* ".123": nanoseconds from a fraction of a second (any number of digits; beyond 9 ignored). */
static const char *fraction(const char *s, uint64_t *ns)
{
    *ns = 0;
    if (*s != '.')
        return s;
    s++;
    uint64_t scale = 100000000u;
    if (*s < '0' || *s > '9')
        return NULL;
    for (; *s >= '0' && *s <= '9'; s++, scale /= 10)
        *ns += (uint64_t)(*s - '0') * scale;
    return s;
}

int vxh_parse_time(const char *s, uint64_t *ns)
{
    uint64_t v, frac;
    bool at = *s == '@';
    const char *p = s + at;
    int n = digits(p, 20, &v);
    if (n > 0 && (p[n] == '\0' || p[n] == '.') && (at || n <= 11)) {
        const char *e = fraction(p + n, &frac);
        if (!e || *e || v > UINT64_MAX / 1000000000u - 1)
            return -EINVAL;
        *ns = v * 1000000000u + frac;
        return 0;
    }
    /* ISO-8601: YYYY-MM-DD[(T| )HH:MM[:SS[.frac]]][Z] */
    uint64_t y, mo, d, h = 0, mi = 0, sec = 0;
    frac = 0;
    if (at || digits(p, 4, &y) != 4 || p[4] != '-' || digits(p + 5, 2, &mo) != 2 ||
        p[7] != '-' || digits(p + 8, 2, &d) != 2)
        return -EINVAL;
    p += 10;
    if (*p == 'T' || *p == ' ') {
        if (digits(p + 1, 2, &h) != 2 || p[3] != ':' || digits(p + 4, 2, &mi) != 2)
            return -EINVAL;
        p += 6;
        if (*p == ':') {
            if (digits(p + 1, 2, &sec) != 2)
                return -EINVAL;
            p = fraction(p + 3, &frac);
            if (!p)
                return -EINVAL;
        }
    }
    if (*p == 'Z')
        p++;
    if (*p || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -EINVAL;
    struct tm tm = {.tm_year = (int)y - 1900, .tm_mon = (int)mo - 1, .tm_mday = (int)d,
                    .tm_hour = (int)h, .tm_min = (int)mi, .tm_sec = (int)sec};
    time_t t = timegm(&tm);
    if (t < 0)
        return -EINVAL;
    *ns = (uint64_t)t * 1000000000u + frac;
    return 0;
}

/* ---- records -------------------------------------------------------------------------------- */

void vxh_commit_record(struct vxh_buf *b, enum vxh_fmt fmt, const struct store_hash *h,
                       const struct vs_commit *c)
{
    char hex[65], t[40];
    store_hash_hex(h, hex);
    vxh_time_str(c->time_ns, t, sizeof t);
    if (fmt == VXH_TEXT) {
        vxh_buf_printf(b, "%.*s  %s  ", VXH_SHORT_ID, hex, t);
        vxh_text_value(b, c->author, strlen(c->author), false);
        vxh_buf_str(b, "  ");
        vxh_text_value(b, c->message, strlen(c->message), false);
        vxh_buf_str(b, "\n");
        return;
    }
    vxh_buf_printf(b, "{\"commit\": \"%s\", \"parents\": [", hex);
    for (size_t i = 0; i < c->nparents; i++) {
        store_hash_hex(&c->parents[i], hex);
        vxh_buf_printf(b, "%s\"%s\"", i ? ", " : "", hex);
    }
    vxh_buf_printf(b, "], \"gen\": %llu, \"time\": \"%s\", \"time_ns\": %llu, \"author\": ",
                   (unsigned long long)c->gen, t, (unsigned long long)c->time_ns);
    vxh_json_str(b, c->author, strlen(c->author));
    vxh_buf_str(b, ", \"message\": ");
    vxh_json_str(b, c->message, strlen(c->message));
    vxh_buf_str(b, "}");
}

static bool same(const void *a, size_t al, const void *b, size_t bl)
{
    return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

static void json_node(struct vxh_buf *b, const char *pre, const void *v, size_t vl,
                      const void *p, size_t pl)
{
    vxh_buf_printf(b, ", \"%svalue\": ", pre);
    vxh_json_str(b, v, vl);
    vxh_buf_printf(b, ", \"%sperms\": ", pre);
    vxh_perms(b, p, pl, VXH_JSON);
}

void vxh_change_record(struct vxh_buf *b, enum vxh_fmt fmt, const struct vxh_change *ch)
{
    static const char *const names[] = {[VS_ADDED] = "added", [VS_REMOVED] = "removed",
                                        [VS_CHANGED] = "changed"};
    if (fmt == VXH_JSON) {
        vxh_buf_str(b, "{\"path\": ");
        vxh_json_str(b, ch->path, strlen(ch->path));
        vxh_buf_printf(b, ", \"change\": \"%s\"", names[ch->kind]);
        if (ch->kind != VS_REMOVED)
            json_node(b, "", ch->new_val, ch->new_vlen, ch->new_perms, ch->new_plen);
        if (ch->kind != VS_ADDED)
            json_node(b, "old_", ch->old_val, ch->old_vlen, ch->old_perms, ch->old_plen);
        vxh_buf_str(b, "}");
        return;
    }
    static const char marks[] = {[VS_ADDED] = '+', [VS_REMOVED] = '-', [VS_CHANGED] = '~'};
    vxh_buf_printf(b, "%c ", marks[ch->kind]);
    vxh_text_value(b, ch->path, strlen(ch->path), false);
    if (ch->kind == VS_ADDED) {
        vxh_buf_str(b, " = ");
        vxh_text_value(b, ch->new_val, ch->new_vlen, true);
    } else if (ch->kind == VS_REMOVED) {
        vxh_buf_str(b, " (was ");
        vxh_text_value(b, ch->old_val, ch->old_vlen, true);
        vxh_buf_str(b, ")");
    } else {
        bool vdiff = !same(ch->old_val, ch->old_vlen, ch->new_val, ch->new_vlen);
        if (vdiff) {
            vxh_buf_str(b, " = ");
            vxh_text_value(b, ch->new_val, ch->new_vlen, true);
            vxh_buf_str(b, " (was ");
            vxh_text_value(b, ch->old_val, ch->old_vlen, true);
            vxh_buf_str(b, ")");
        }
        if (!same(ch->old_perms, ch->old_plen, ch->new_perms, ch->new_plen)) {
            vxh_buf_str(b, vdiff ? "; perms " : " perms ");
            vxh_perms(b, ch->new_perms, ch->new_plen, VXH_TEXT);
            vxh_buf_str(b, " (was ");
            vxh_perms(b, ch->old_perms, ch->old_plen, VXH_TEXT);
            vxh_buf_str(b, ")");
        }
    }
    vxh_buf_str(b, "\n");
}

int vxh_path_cmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned ca = (unsigned char)*a, cb = (unsigned char)*b;
        /* '/' sorts before every other byte, so a node's subtree follows it directly. */
        ca = ca == '/' ? 1 : ca;
        cb = cb == '/' ? 1 : cb;
        if (ca != cb || ca == 0)
            return (int)ca - (int)cb;
    }
}

/* ---- control replies ------------------------------------------------------------------------ */

int vxh_reply(int rc, const struct vxh_page *pg, char **out, size_t *len)
{
    struct vxh_buf b = {0};
    if (rc < 0) {
        vxh_buf_printf(&b, "error %s\n", pg->msg[0] ? pg->msg : strerror(-rc));
    } else {
        vxh_buf_printf(&b, pg->more ? "next %s\n" : "end\n", pg->next);
        vxh_buf_add(&b, pg->body.p ? pg->body.p : "", pg->body.len);
    }
    vxh_buf_add(&b, "", 1); /* the NUL, so xenstore-control prints it as a string */
    if (b.err) {
        vxh_buf_free(&b);
        return -ENOMEM;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

int vxh_reply_parse(const char *reply, size_t len, char *cursor, size_t cap, const char **body,
                    size_t *blen)
{
    if (len > 0 && reply[len - 1] == '\0')
        len--;
    const char *nl = memchr(reply, '\n', len);
    if (!nl || cap == 0)
        return -EPROTO;
    size_t l = (size_t)(nl - reply);
    *body = nl + 1;
    *blen = len - l - 1;
    int rc;
    const char *arg;
    if (l == 3 && memcmp(reply, "end", 3) == 0)
        return 0;
    if (l > 5 && memcmp(reply, "next ", 5) == 0)
        rc = 1, arg = reply + 5;
    else if (l > 6 && memcmp(reply, "error ", 6) == 0)
        rc = -EIO, arg = reply + 6;
    else
        return -EPROTO;
    size_t al = (size_t)(nl - arg);
    if (al >= cap)
        return -EPROTO;
    memcpy(cursor, arg, al);
    cursor[al] = '\0';
    return rc;
}
