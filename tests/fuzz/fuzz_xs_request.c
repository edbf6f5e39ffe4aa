/*
 * libFuzzer target for the xenstore request path of xenstore/xs_codec.c, as vxenstored uses
 * it: the input is a byte stream from a client. It is reassembled into messages by the
 * reader (in pieces whose sizes come from the input's first byte, through both
 * xs_reader_feed() and xs_reader_want()/xs_reader_got(), which must agree), and each message
 * goes through every payload decoder: string lists, xs_split() with and without a raw tail,
 * decimals, permissions (parse/format round trip), error names, watch events, and a rebuild
 * with the builder that must reproduce the payload byte for byte.
 *
 *   make fuzz   (clang -fsanitize=fuzzer,address,undefined; ~30 s, FUZZ_XS_TIME)
 *
 * tests/unit/test_xs_fuzz_replay.c replays it over deterministic mutations of valid requests
 * inside make test-unit.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/xs_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static uint8_t body_a[XS_READER_BODY_SIZE], body_b[XS_READER_BODY_SIZE];
static uint8_t rebuilt[XS_MSG_MAX];

static bool inside(const void *p, const void *base, size_t len)
{
    return (const uint8_t *)p >= (const uint8_t *)base &&
           (const uint8_t *)p <= (const uint8_t *)base + len;
}

static void check_payload(const struct xsd_sockmsg *hdr, const uint8_t *body)
{
    size_t len = hdr->len;
    CHECK(len <= XENSTORE_PAYLOAD_MAX);
    CHECK(body[len] == '\0');

    /* The string list: count agrees with iteration, every string is inside and its
     * length matches strlen (no embedded NULs beyond the terminator). */
    struct xs_strings it;
    size_t n = 0, slen;
    const char *s;
    int wellformed = xs_strings_init(&it, body, len) == 0;
    if (wellformed) {
        while ((s = xs_strings_next(&it, &slen)) != NULL) {
            CHECK(inside(s, body, len) && inside(s + slen, body, len));
            CHECK(strlen(s) == slen);
            n++;
            uint32_t v;
            if (xs_parse_u32(s, &v) == 0) {
                struct xs_builder b;
                xs_build_begin(&b, rebuilt, sizeof rebuilt, 0, 0, 0);
                xs_build_u32(&b, v);
                CHECK(xs_build_end(&b) > 0);
                CHECK(strcmp((const char *)rebuilt + XS_HDR_SIZE, s) == 0);
            }
            struct xs_perm p;
            if (xs_perm_parse(s, &p) == 0) {
                char f[32];
                struct xs_perm q;
                CHECK(xs_perm_format(&p, f, sizeof f) > 0);
                CHECK(xs_perm_parse(f, &q) == 0 && q.domid == p.domid && q.access == p.access);
                CHECK(strcmp(f, s) == 0); /* strict: only canonical spellings parse */
            }
        }
        CHECK(n == xs_strings_count(body, len));
    } else {
        CHECK(len > 0 && body[len - 1] != '\0');
    }

    /* xs_split for 1..4 strings, with and without a raw tail (WRITE, SET_PERMS). */
    for (unsigned k = 1; k <= 4; k++) {
        const char *strs[4];
        const void *rest;
        size_t rest_len;
        int rc = xs_split(body, len, strs, k, &rest, &rest_len);
        if (rc == 0) {
            size_t used = 0;
            for (unsigned i = 0; i < k; i++) {
                CHECK(inside(strs[i], body, len));
                CHECK((const uint8_t *)strs[i] == body + used);
                used += strlen(strs[i]) + 1;
            }
            CHECK(used <= len && rest == body + used && rest_len == len - used);
            /* rebuild: k strings then the raw tail give the same payload */
            struct xs_builder b;
            xs_build_begin(&b, rebuilt, sizeof rebuilt, hdr->type, hdr->req_id, hdr->tx_id);
            for (unsigned i = 0; i < k; i++)
                xs_build_str(&b, strs[i]);
            xs_build_raw(&b, rest, rest_len);
            int total = xs_build_end(&b);
            CHECK(total == (int)(XS_HDR_SIZE + len));
            CHECK(memcmp(rebuilt + XS_HDR_SIZE, body, len) == 0);
            struct xsd_sockmsg h2;
            memcpy(&h2, rebuilt, sizeof h2);
            CHECK(h2.type == hdr->type && h2.req_id == hdr->req_id && h2.tx_id == hdr->tx_id &&
                  h2.len == hdr->len);
        } else {
            CHECK(rc == -EPROTO);
        }
        rc = xs_split(body, len, strs, k, NULL, NULL);
        CHECK(rc == 0 ? (wellformed && n == k) : rc == -EPROTO);
    }

    /* The reply decoders must cope with anything too. */
    uint32_t v;
    int rc = xs_decode_u32(body, len, &v);
    CHECK(rc == 0 || rc == -EPROTO || rc == -EINVAL);
    rc = xs_decode_error(body, len);
    CHECK(rc < 0);
    rc = xs_reply_status(hdr, body, hdr->type);
    CHECK(rc <= 0);
    (void)xs_decode_ok(body, len);
    const char *path, *token;
    if (xs_decode_watch_event(body, len, &path, &token) == 0)
        CHECK(inside(path, body, len) && inside(token, body, len));
    (void)xs_type_known(hdr->type);
    CHECK(xs_type_name(hdr->type) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* The first byte chooses the piece sizes (1..256); the rest is the stream. */
    size_t piece = (size_t)data[0] + 1;
    data++;
    size--;

    struct xs_reader a, b;
    xs_reader_init(&a, body_a, sizeof body_a);
    xs_reader_init(&b, body_b, sizeof body_b);
    size_t pos_a = 0, pos_b = 0;
    for (;;) {
        /* reader a: xs_reader_feed over pieces */
        int ra = 0;
        while (pos_a < size) {
            size_t chunk = size - pos_a < piece ? size - pos_a : piece, used;
            ra = xs_reader_feed(&a, data + pos_a, chunk, &used);
            CHECK(used <= chunk);
            pos_a += used;
            if (ra != 0)
                break;
        }
        if (pos_a >= size && ra == 0) {
            size_t used;
            ra = xs_reader_feed(&a, data + size, 0, &used); /* a len-0 message completes */
        }
        /* reader b: want/got, one byte at a time when piece is odd */
        int rb = 0;
        for (;;) {
            size_t n;
            void *dst = xs_reader_want(&b, &n);
            if (dst == NULL) {
                rb = b.err ? b.err : 1;
                break;
            }
            if (pos_b >= size)
                break;
            if ((piece & 1) && n > 1)
                n = 1;
            if (n > size - pos_b)
                n = size - pos_b;
            memcpy(dst, data + pos_b, n);
            pos_b += n;
            rb = xs_reader_got(&b, n);
            if (rb != 0)
                break;
        }
        CHECK(ra == rb);
        CHECK(pos_a == pos_b);
        if (ra != 1) {
            CHECK(ra == 0 || ra == -EPROTO);
            break;
        }
        CHECK(memcmp(&a.hdr, &b.hdr, sizeof a.hdr) == 0);
        CHECK(memcmp(body_a, body_b, a.hdr.len + 1) == 0);
        check_payload(&a.hdr, body_a);
        xs_reader_next(&a);
        xs_reader_next(&b);
    }
    return 0;
}
