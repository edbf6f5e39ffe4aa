/*
 * The xenstore wire codec (xenstore/xs_codec.c), both directions: requests built by a client
 * and taken apart by a server, replies built by a server and decoded by a client, the
 * stream reassembler fed in every way, and hostile input (oversized headers, missing NULs,
 * unknown errors, random bytes) that must give errors, never out-of-bounds accesses (ASan).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xenstore/xs_codec.h"

static uint8_t msg[XS_MSG_MAX + 64];
static uint8_t body[XS_READER_BODY_SIZE];

static struct xsd_sockmsg hdr_of(const void *m)
{
    struct xsd_sockmsg h;
    memcpy(&h, m, sizeof(h));
    return h;
}

/* ---- encoding ------------------------------------------------------------------------ */

static void test_build_read_request(void **state)
{
    (void)state;
    struct xs_builder b;
    xs_build_begin(&b, msg, sizeof(msg), XS_READ, 7, 3);
    xs_build_str(&b, "/foo/bar");
    int n = xs_build_end(&b);
    assert_int_equal(n, 16 + 9);
    struct xsd_sockmsg h = hdr_of(msg);
    assert_int_equal(h.type, XS_READ);
    assert_int_equal(h.req_id, 7);
    assert_int_equal(h.tx_id, 3);
    assert_int_equal(h.len, 9);
    assert_memory_equal(msg + 16, "/foo/bar", 9);
}

static void test_build_write_request_raw_value(void **state)
{
    (void)state;
    struct xs_builder b;
    xs_build_begin(&b, msg, sizeof(msg), XS_WRITE, 1, 0);
    xs_build_str(&b, "/foo/bar");
    xs_build_raw(&b, "hello", 5);
    assert_int_equal(xs_build_end(&b), 16 + 14);
    assert_memory_equal(msg + 16, "/foo/bar\0hello", 14);
    assert_int_equal(hdr_of(msg).len, 14);
}

static void test_build_u32(void **state)
{
    (void)state;
    struct xs_builder b;
    xs_build_begin(&b, msg, sizeof(msg), XS_TRANSACTION_END, 1, 0);
    xs_build_u32(&b, 0);
    xs_build_u32(&b, 4294967295u);
    xs_build_u32(&b, 1234);
    assert_int_equal(xs_build_end(&b), 16 + 2 + 11 + 5);
    assert_memory_equal(msg + 16, "0\0" "4294967295\0" "1234", 18);
}

static void test_build_payload_limit(void **state)
{
    (void)state;
    static char big[XENSTORE_PAYLOAD_MAX + 2];
    struct xs_builder b;

    /* Exactly XENSTORE_PAYLOAD_MAX raw bytes fit. */
    memset(big, 'x', sizeof(big));
    xs_build_begin(&b, msg, sizeof(msg), XS_WRITE, 1, 0);
    xs_build_raw(&b, big, XENSTORE_PAYLOAD_MAX);
    assert_int_equal(xs_build_end(&b), (int)XS_MSG_MAX);
    /* One more does not. */
    xs_build_begin(&b, msg, sizeof(msg), XS_WRITE, 1, 0);
    xs_build_raw(&b, big, XENSTORE_PAYLOAD_MAX + 1);
    assert_int_equal(xs_build_end(&b), -E2BIG);
    /* A string of PAYLOAD_MAX - 1 chars plus its NUL fits; PAYLOAD_MAX chars do not. */
    big[XENSTORE_PAYLOAD_MAX - 1] = '\0';
    xs_build_begin(&b, msg, sizeof(msg), XS_READ, 1, 0);
    xs_build_str(&b, big);
    assert_int_equal(xs_build_end(&b), (int)XS_MSG_MAX);
    big[XENSTORE_PAYLOAD_MAX - 1] = 'x';
    big[XENSTORE_PAYLOAD_MAX] = '\0';
    xs_build_begin(&b, msg, sizeof(msg), XS_READ, 1, 0);
    xs_build_str(&b, big);
    assert_int_equal(xs_build_end(&b), -E2BIG);
    /* The error is sticky: later small parts do not clear it. */
    xs_build_str(&b, "a");
    assert_int_equal(xs_build_end(&b), -E2BIG);
}

static void test_build_buffer_limit(void **state)
{
    (void)state;
    uint8_t small[20];
    struct xs_builder b;
    xs_build_begin(&b, small, 10, XS_READ, 1, 0);
    assert_int_equal(xs_build_end(&b), -E2BIG);
    xs_build_begin(&b, small, sizeof(small), XS_READ, 1, 0);
    xs_build_str(&b, "abc");
    assert_int_equal(xs_build_end(&b), 20);
    xs_build_begin(&b, small, sizeof(small), XS_READ, 1, 0);
    xs_build_str(&b, "abcd"); /* 5 bytes with the NUL: 21 > 20 */
    assert_int_equal(xs_build_end(&b), -E2BIG);
    xs_build_begin(&b, small, sizeof(small), XS_READ, 1, 0);
    xs_build_raw(&b, "abcde", 5);
    assert_int_equal(xs_build_end(&b), -E2BIG);
}

static void test_encode_error(void **state)
{
    (void)state;
    int n = xs_encode_error(msg, sizeof(msg), 9, 4, -ENOENT);
    assert_int_equal(n, 16 + 7);
    struct xsd_sockmsg h = hdr_of(msg);
    assert_int_equal(h.type, XS_ERROR);
    assert_int_equal(h.req_id, 9);
    assert_int_equal(h.tx_id, 4);
    assert_memory_equal(msg + 16, "ENOENT", 7);
    /* Every name of xsd_errors round-trips through the decoder. */
    for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++) {
        n = xs_encode_error(msg, sizeof(msg), 1, 0, -xsd_errors[i].errnum);
        assert_true(n > 16);
        h = hdr_of(msg);
        assert_string_equal((char *)msg + 16, xsd_errors[i].errstring);
        assert_int_equal(xs_decode_error(msg + 16, h.len), -xsd_errors[i].errnum);
    }
    /* An errno the protocol has no name for goes out as EINVAL. */
    n = xs_encode_error(msg, sizeof(msg), 1, 0, -ETIMEDOUT);
    assert_string_equal((char *)msg + 16, "EINVAL");
}

static void test_type_known(void **state)
{
    (void)state;
    for (uint32_t t = 0; t < 20; t++)
        assert_true(xs_type_known(t));
    assert_false(xs_type_known(20)); /* XS_RESTRICT was removed */
    for (uint32_t t = 21; t <= 26; t++)
        assert_true(xs_type_known(t));
    assert_false(xs_type_known(27));
    assert_false(xs_type_known(XS_INVALID));
    assert_false(xs_type_known(UINT32_MAX));
    assert_string_equal(xs_type_name(XS_WATCH_EVENT), "WATCH_EVENT");
    assert_string_equal(xs_type_name(20), "?");
}

/* ---- reassembly ---------------------------------------------------------------------- */

static int build(uint8_t *out, uint32_t type, uint32_t req_id, const void *payload,
                 size_t len)
{
    struct xs_builder b;
    xs_build_begin(&b, out, XS_MSG_MAX, type, req_id, 0);
    xs_build_raw(&b, payload, len);
    return xs_build_end(&b);
}

static void test_reader_whole_and_bytewise(void **state)
{
    (void)state;
    struct xs_reader r;
    size_t used;
    int n = build(msg, XS_READ, 5, "value", 5);

    xs_reader_init(&r, body, sizeof(body));
    assert_int_equal(xs_reader_feed(&r, msg, (size_t)n, &used), 1);
    assert_int_equal(used, (size_t)n);
    assert_int_equal(r.hdr.type, XS_READ);
    assert_int_equal(r.hdr.req_id, 5);
    assert_int_equal(r.hdr.len, 5);
    assert_string_equal((char *)r.body, "value"); /* NUL added after the payload */
    /* Feeding a complete message more bytes consumes nothing. */
    assert_int_equal(xs_reader_feed(&r, msg, (size_t)n, &used), 1);
    assert_int_equal(used, 0);
    xs_reader_next(&r);

    for (int i = 0; i < n; i++) {
        int rc = xs_reader_feed(&r, msg + i, 1, &used);
        assert_int_equal(used, 1);
        assert_int_equal(rc, i == n - 1 ? 1 : 0);
    }
    assert_string_equal((char *)r.body, "value");
}

static void test_reader_want_got(void **state)
{
    (void)state;
    struct xs_reader r;
    int n = build(msg, XS_DIRECTORY, 1, "a\0bb\0", 5);
    size_t off = 0, want;
    void *dst;
    int rc = 0;

    xs_reader_init(&r, body, sizeof(body));
    /* The reader asks for the header first, then exactly the payload. */
    dst = xs_reader_want(&r, &want);
    assert_non_null(dst);
    assert_int_equal(want, 16);
    memcpy(dst, msg, 10);
    assert_int_equal(xs_reader_got(&r, 10), 0);
    off = 10;
    while ((dst = xs_reader_want(&r, &want)) != NULL) {
        memcpy(dst, msg + off, want);
        off += want;
        rc = xs_reader_got(&r, want);
    }
    assert_int_equal(rc, 1);
    assert_int_equal(off, (size_t)n);
    assert_memory_equal(r.body, "a\0bb\0", 5);
    /* Claiming more than was asked for is refused and breaks the stream. */
    xs_reader_next(&r);
    dst = xs_reader_want(&r, &want);
    assert_int_equal(xs_reader_got(&r, want + 1), -EINVAL);
    assert_null(xs_reader_want(&r, &want));
}

static void test_reader_back_to_back_and_empty(void **state)
{
    (void)state;
    struct xs_reader r;
    size_t used, off = 0;
    int n1 = build(msg, XS_WRITE, 1, "OK", 3);
    int n2 = build(msg + n1, XS_DIRECTORY, 2, NULL, 0); /* empty directory: len 0 */
    int n3 = build(msg + n1 + n2, XS_WATCH_EVENT, 0, "/p\0tok", 7);
    size_t total = (size_t)(n1 + n2 + n3);
    uint32_t types[3];
    int k = 0;

    xs_reader_init(&r, body, sizeof(body));
    while (off < total) {
        int rc = xs_reader_feed(&r, msg + off, total - off, &used);
        off += used;
        assert_true(rc >= 0);
        if (rc == 1) {
            assert_true(k < 3);
            types[k++] = r.hdr.type;
            xs_reader_next(&r);
        }
    }
    assert_int_equal(k, 3);
    assert_int_equal(types[0], XS_WRITE);
    assert_int_equal(types[1], XS_DIRECTORY);
    assert_int_equal(types[2], XS_WATCH_EVENT);
}

static void test_reader_max_and_oversized(void **state)
{
    (void)state;
    static char big[XENSTORE_PAYLOAD_MAX];
    struct xs_reader r;
    size_t used;

    memset(big, 'v', sizeof(big));
    int n = build(msg, XS_READ, 1, big, sizeof(big));
    xs_reader_init(&r, body, sizeof(body));
    assert_int_equal(xs_reader_feed(&r, msg, (size_t)n, &used), 1);
    assert_int_equal(r.hdr.len, XENSTORE_PAYLOAD_MAX);
    assert_int_equal(r.body[XENSTORE_PAYLOAD_MAX], 0);

    /* A header announcing 4097 bytes breaks the stream, for good. */
    struct xsd_sockmsg h = { XS_READ, 1, 0, XENSTORE_PAYLOAD_MAX + 1 };
    xs_reader_reset(&r);
    assert_int_equal(xs_reader_feed(&r, &h, sizeof(h), &used), -EPROTO);
    assert_int_equal(xs_reader_feed(&r, msg, (size_t)n, &used), -EPROTO);
    assert_int_equal(used, 0);
    xs_reader_next(&r); /* does not clear the error */
    assert_int_equal(xs_reader_feed(&r, msg, (size_t)n, &used), -EPROTO);
    /* Only a reset does. */
    xs_reader_reset(&r);
    assert_int_equal(xs_reader_feed(&r, msg, (size_t)n, &used), 1);

    h.len = UINT32_MAX;
    xs_reader_reset(&r);
    assert_int_equal(xs_reader_feed(&r, &h, sizeof(h), &used), -EPROTO);
}

static void test_reader_small_buffer_refused(void **state)
{
    (void)state;
    struct xs_reader r;
    size_t used;
    uint8_t small[100];
    int n = build(msg, XS_READ, 1, "x", 1);
    xs_reader_init(&r, small, sizeof(small));
    assert_int_equal(xs_reader_feed(&r, msg, (size_t)n, &used), -EINVAL);
}

/* ---- payloads ------------------------------------------------------------------------ */

static void test_strings(void **state)
{
    (void)state;
    struct xs_strings it;
    size_t len;

    assert_int_equal(xs_strings_init(&it, "", 0), 0);
    assert_null(xs_strings_next(&it, &len));
    assert_int_equal(xs_strings_count("", 0), 0);

    assert_int_equal(xs_strings_init(&it, "a\0bc\0\0", 6), 0);
    assert_string_equal(xs_strings_next(&it, &len), "a");
    assert_int_equal(len, 1);
    assert_string_equal(xs_strings_next(&it, &len), "bc");
    assert_int_equal(len, 2);
    assert_string_equal(xs_strings_next(&it, &len), ""); /* an empty name is a name */
    assert_int_equal(len, 0);
    assert_null(xs_strings_next(&it, &len));
    assert_int_equal(xs_strings_count("a\0bc\0\0", 6), 3);

    /* Not NUL-terminated: an error, and nothing is iterated. */
    assert_int_equal(xs_strings_init(&it, "a\0bc", 4), -EPROTO);
    assert_null(xs_strings_next(&it, &len));
    assert_int_equal(xs_strings_count("a\0bc", 4), 0);
}

static void test_split(void **state)
{
    (void)state;
    const char *s[3];
    const void *rest;
    size_t rest_len;

    /* A WRITE request as a server sees it. */
    assert_int_equal(xs_split("/foo\0hello", 10, s, 1, &rest, &rest_len), 0);
    assert_string_equal(s[0], "/foo");
    assert_int_equal(rest_len, 5);
    assert_memory_equal(rest, "hello", 5);
    /* An empty value. */
    assert_int_equal(xs_split("/foo\0", 5, s, 1, &rest, &rest_len), 0);
    assert_int_equal(rest_len, 0);
    /* A WATCH request: exactly two strings. */
    assert_int_equal(xs_split("/p\0tok\0", 7, s, 2, NULL, NULL), 0);
    assert_string_equal(s[1], "tok");
    /* Too few strings, a missing NUL, or trailing bytes when none are allowed. */
    assert_int_equal(xs_split("/p\0tok", 6, s, 2, NULL, NULL), -EPROTO);
    assert_int_equal(xs_split("/p\0", 3, s, 2, NULL, NULL), -EPROTO);
    assert_int_equal(xs_split("", 0, s, 1, NULL, NULL), -EPROTO);
    assert_int_equal(xs_split("/p\0tok\0x", 8, s, 2, NULL, NULL), -EPROTO);
    assert_int_equal(xs_split("", 0, s, 0, NULL, NULL), 0);
}

static void test_decode_error(void **state)
{
    (void)state;
    assert_int_equal(xs_decode_error("EACCES", 7), -EACCES);
    assert_int_equal(xs_decode_error("EAGAIN", 7), -EAGAIN);
    assert_int_equal(xs_decode_error("E2BIG", 6), -E2BIG);
    assert_int_equal(xs_decode_error("EQUOTA", 7), -ENOSPC);
    assert_int_equal(xs_decode_error("EWHATEVER", 10), -EIO);
    assert_int_equal(xs_decode_error("", 1), -EIO);
    /* Malformed: no NUL, no bytes, an embedded NUL, a prefix of a known name. */
    assert_int_equal(xs_decode_error("EACCES", 6), -EPROTO);
    assert_int_equal(xs_decode_error("", 0), -EPROTO);
    assert_int_equal(xs_decode_error("EIO\0X", 6), -EPROTO);
    assert_int_equal(xs_decode_error("EACCE", 6), -EIO);
}

static void test_reply_status(void **state)
{
    (void)state;
    struct xsd_sockmsg h = { XS_READ, 1, 0, 3 };
    assert_int_equal(xs_reply_status(&h, "abc", XS_READ), 0);
    assert_int_equal(xs_reply_status(&h, "abc", XS_WRITE), -EPROTO);
    h.type = XS_ERROR;
    h.len = 7;
    assert_int_equal(xs_reply_status(&h, "ENOENT", XS_READ), -ENOENT);
    h.len = 6;
    assert_int_equal(xs_reply_status(&h, "ENOENT", XS_READ), -EPROTO);
    h.type = XS_WATCH_EVENT;
    assert_int_equal(xs_reply_status(&h, "a\0b\0", XS_READ), -EPROTO);
}

static void test_decode_ok_and_u32(void **state)
{
    (void)state;
    uint32_t v = 99;
    assert_int_equal(xs_decode_ok("OK", 3), 0);
    assert_int_equal(xs_decode_ok("OK", 2), 0);
    assert_int_equal(xs_decode_ok("OKX", 3), -EPROTO);
    assert_int_equal(xs_decode_ok("O", 1), -EPROTO);
    assert_int_equal(xs_decode_ok("", 0), -EPROTO);
    assert_int_equal(xs_decode_ok("OK\0\0", 4), -EPROTO);

    assert_int_equal(xs_decode_u32("17", 3, &v), 0);
    assert_int_equal(v, 17);
    assert_int_equal(xs_decode_u32("0", 2, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(xs_decode_u32("4294967295", 11, &v), 0);
    assert_int_equal(v, 4294967295u);
    v = 5;
    assert_int_equal(xs_decode_u32("4294967296", 11, &v), -EPROTO);
    assert_int_equal(xs_decode_u32("99999999999999999999", 21, &v), -EPROTO);
    assert_int_equal(xs_decode_u32("017", 4, &v), -EPROTO);
    assert_int_equal(xs_decode_u32("-1", 3, &v), -EPROTO);
    assert_int_equal(xs_decode_u32("+1", 3, &v), -EPROTO);
    assert_int_equal(xs_decode_u32(" 1", 3, &v), -EPROTO);
    assert_int_equal(xs_decode_u32("12a", 4, &v), -EPROTO);
    assert_int_equal(xs_decode_u32("", 1, &v), -EPROTO);
    assert_int_equal(xs_decode_u32("17", 2, &v), -EPROTO);
    assert_int_equal(xs_decode_u32("1\0" "2", 4, &v), -EPROTO);
    assert_int_equal(v, 5); /* untouched on error */
}

static void test_decode_watch_event(void **state)
{
    (void)state;
    const char *path, *token;
    assert_int_equal(xs_decode_watch_event("/a/b\0tok\0", 9, &path, &token), 0);
    assert_string_equal(path, "/a/b");
    assert_string_equal(token, "tok");
    assert_int_equal(xs_decode_watch_event("/a/b\0tok\0extra\0", 15, &path, &token), 0);
    assert_int_equal(xs_decode_watch_event("/a/b\0tok", 8, &path, &token), -EPROTO);
    assert_int_equal(xs_decode_watch_event("/a/b\0", 5, &path, &token), -EPROTO);
    assert_int_equal(xs_decode_watch_event("/a/b\0tok\0junk", 13, &path, &token), -EPROTO);
    assert_int_equal(xs_decode_watch_event("", 0, &path, &token), -EPROTO);
}

static void test_perms(void **state)
{
    (void)state;
    struct xs_perm p;
    char buf[16];
    assert_int_equal(xs_perm_parse("b0", &p), 0);
    assert_int_equal(p.domid, 0);
    assert_int_equal(p.access, 'b');
    assert_int_equal(xs_perm_parse("r32767", &p), 0);
    assert_int_equal(p.domid, 32767);
    assert_int_equal(p.access, XS_PERM_READ);
    assert_int_equal(xs_perm_parse("x1", &p), -EINVAL);
    assert_int_equal(xs_perm_parse("r", &p), -EINVAL);
    assert_int_equal(xs_perm_parse("r-1", &p), -EINVAL);
    assert_int_equal(xs_perm_parse("", &p), -EINVAL);
    assert_int_equal(xs_perm_parse("w01", &p), -EINVAL);

    p = (struct xs_perm){ 4294967295u, XS_PERM_WRITE };
    assert_int_equal(xs_perm_format(&p, buf, sizeof(buf)), 11);
    assert_string_equal(buf, "w4294967295");
    p = (struct xs_perm){ 7, XS_PERM_NONE };
    assert_int_equal(xs_perm_format(&p, buf, 3), 2);
    assert_string_equal(buf, "n7");
    assert_int_equal(xs_perm_format(&p, buf, 2), -E2BIG);
    p.access = 'q';
    assert_int_equal(xs_perm_format(&p, buf, sizeof(buf)), -EINVAL);
}

/* A client request through the reader as a server would take it apart, and the server's
 * reply back through a reader as the client would. */
static void test_round_trip_both_directions(void **state)
{
    (void)state;
    struct xs_builder b;
    struct xs_reader r;
    size_t used;
    const char *s[2];
    const void *rest;
    size_t rest_len;

    xs_build_begin(&b, msg, sizeof(msg), XS_WRITE, 42, 6);
    xs_build_str(&b, "data/key");
    xs_build_raw(&b, "v\0bin", 5);
    int n = xs_build_end(&b);
    xs_reader_init(&r, body, sizeof(body));
    assert_int_equal(xs_reader_feed(&r, msg, (size_t)n, &used), 1);
    assert_int_equal(r.hdr.tx_id, 6);
    assert_int_equal(xs_split(r.body, r.hdr.len, s, 1, &rest, &rest_len), 0);
    assert_string_equal(s[0], "data/key");
    assert_int_equal(rest_len, 5);
    assert_memory_equal(rest, "v\0bin", 5);

    /* Reply to it. */
    xs_build_begin(&b, msg, sizeof(msg), r.hdr.type, r.hdr.req_id, r.hdr.tx_id);
    xs_build_str(&b, "OK");
    n = xs_build_end(&b);
    xs_reader_reset(&r);
    assert_int_equal(xs_reader_feed(&r, msg, (size_t)n, &used), 1);
    assert_int_equal(r.hdr.req_id, 42);
    assert_int_equal(xs_reply_status(&r.hdr, r.body, XS_WRITE), 0);
    assert_int_equal(xs_decode_ok(r.body, r.hdr.len), 0);

    /* A watch request and its event. */
    xs_build_begin(&b, msg, sizeof(msg), XS_WATCH_EVENT, 0, 0);
    xs_build_str(&b, "/local/domain/3/control/shutdown");
    xs_build_str(&b, "w1");
    n = xs_build_end(&b);
    xs_reader_reset(&r);
    assert_int_equal(xs_reader_feed(&r, msg, (size_t)n, &used), 1);
    assert_int_equal(xs_decode_watch_event(r.body, r.hdr.len, &s[0], &s[1]), 0);
    assert_string_equal(s[0], "/local/domain/3/control/shutdown");
    assert_string_equal(s[1], "w1");
}

/* Random bytes into the reader and every decoder: only error codes, no crash (ASan and
 * UBSan watch the accesses). Payloads are copied into exact-size heap blocks so that any
 * read past their end is caught. */
static void test_hostile_random(void **state)
{
    (void)state;
    static uint8_t junk[8192];
    unsigned seed = 12345;
    struct xs_reader r;
    size_t used;
    unsigned complete = 0;

    for (unsigned round = 0; round < 2000; round++) {
        size_t len = 0;
        for (size_t i = 0; i < sizeof(junk); i++) {
            seed = seed * 1103515245u + 12345u;
            junk[i] = (uint8_t)(seed >> 16);
        }
        /* Make some headers plausible so that payload decoders see data too. */
        if (round % 2 == 0) {
            struct xsd_sockmsg h = { round % 28, round, 0, (seed >> 4) % 64 };
            memcpy(junk, &h, sizeof(h));
            for (size_t i = 16; i < 16 + h.len; i++)
                if (junk[i] % 5 == 0)
                    junk[i] = 0;
        }
        xs_reader_init(&r, body, sizeof(body));
        size_t off = 0;
        while (off < sizeof(junk)) {
            int rc = xs_reader_feed(&r, junk + off, sizeof(junk) - off, &used);
            off += used;
            if (rc < 0) {
                assert_int_equal(rc, -EPROTO);
                break;
            }
            if (rc == 0)
                break;
            complete++;
            len = r.hdr.len;
            assert_true(len <= XENSTORE_PAYLOAD_MAX);
            uint8_t *p = malloc(len ? len : 1);
            memcpy(p, r.body, len);
            const char *a, *b2, *s[4];
            const void *rest;
            size_t rest_len;
            uint32_t v;
            struct xs_strings it;
            (void)xs_reply_status(&r.hdr, p, XS_READ);
            (void)xs_decode_ok(p, len);
            (void)xs_decode_u32(p, len, &v);
            (void)xs_decode_watch_event(p, len, &a, &b2);
            (void)xs_split(p, len, s, 4, &rest, &rest_len);
            (void)xs_split(p, len, s, 2, NULL, NULL);
            if (xs_strings_init(&it, p, len) == 0)
                while (xs_strings_next(&it, NULL) != NULL)
                    ;
            free(p);
            xs_reader_next(&r);
        }
    }
    assert_true(complete > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_read_request),
        cmocka_unit_test(test_build_write_request_raw_value),
        cmocka_unit_test(test_build_u32),
        cmocka_unit_test(test_build_payload_limit),
        cmocka_unit_test(test_build_buffer_limit),
        cmocka_unit_test(test_encode_error),
        cmocka_unit_test(test_type_known),
        cmocka_unit_test(test_reader_whole_and_bytewise),
        cmocka_unit_test(test_reader_want_got),
        cmocka_unit_test(test_reader_back_to_back_and_empty),
        cmocka_unit_test(test_reader_max_and_oversized),
        cmocka_unit_test(test_reader_small_buffer_refused),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_decode_error),
        cmocka_unit_test(test_reply_status),
        cmocka_unit_test(test_decode_ok_and_u32),
        cmocka_unit_test(test_decode_watch_event),
        cmocka_unit_test(test_perms),
        cmocka_unit_test(test_round_trip_both_directions),
        cmocka_unit_test(test_hostile_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
