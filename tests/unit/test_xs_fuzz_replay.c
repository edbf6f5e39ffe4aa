/*
 * A quick deterministic replay of the request-parsing fuzz target
 * (tests/fuzz/fuzz_xs_request.c) over streams of valid requests built with the codec's
 * builder (every request type vxenstored serves, with paths, values, perms, tokens), mutated
 * by byte changes, truncations, duplicated and deleted spans and changed header lengths, fed
 * in pieces of every size class; plus hostile headers and random bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "xenstore/xs_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* One valid request of a random kind into buf; returns its size. */
static size_t one_request(uint8_t *buf, size_t cap, uint64_t *rng)
{
    static const char *paths[] = {"/", "/local/domain/0/a", "rel/b", "@releaseDomain",
                                  "/tool/xenstored", "/a-b_c@d/e"};
    static const char *perms[] = {"b0", "r5", "n12", "w4294967295"};
    struct xs_builder b;
    unsigned kind = (unsigned)(rng_next(rng) % 9);
    const char *p = paths[rng_next(rng) % 6];
    uint32_t tx = (uint32_t)(rng_next(rng) % 3);
    switch (kind) {
    case 0: case 1: /* READ / DIRECTORY / GET_PERMS / MKDIR / RM */
        xs_build_begin(&b, buf, cap, (uint32_t[]){XS_READ, XS_DIRECTORY, XS_GET_PERMS, XS_MKDIR,
                                                  XS_RM}[rng_next(rng) % 5], 7, tx);
        xs_build_str(&b, p);
        break;
    case 2: { /* WRITE with a value of 0..300 bytes, binary included */
        xs_build_begin(&b, buf, cap, XS_WRITE, 1, tx);
        xs_build_str(&b, p);
        uint8_t v[300];
        size_t n = (size_t)(rng_next(rng) % sizeof v);
        for (size_t i = 0; i < n; i++)
            v[i] = (uint8_t)rng_next(rng);
        xs_build_raw(&b, v, n);
        break;
    }
    case 3: /* SET_PERMS */
        xs_build_begin(&b, buf, cap, XS_SET_PERMS, 2, tx);
        xs_build_str(&b, p);
        for (unsigned i = 0, n = 1 + (unsigned)(rng_next(rng) % 4); i < n; i++)
            xs_build_str(&b, perms[rng_next(rng) % 4]);
        break;
    case 4: /* WATCH / UNWATCH, with a depth sometimes */
        xs_build_begin(&b, buf, cap, rng_next(rng) % 2 ? XS_WATCH : XS_UNWATCH, 3, 0);
        xs_build_str(&b, p);
        xs_build_str(&b, "token");
        if (rng_next(rng) % 3 == 0)
            xs_build_u32(&b, (uint32_t)(rng_next(rng) % 5));
        break;
    case 5:
        xs_build_begin(&b, buf, cap, XS_TRANSACTION_START, 4, 0);
        xs_build_str(&b, "");
        break;
    case 6:
        xs_build_begin(&b, buf, cap, XS_TRANSACTION_END, 5, tx);
        xs_build_str(&b, rng_next(rng) % 2 ? "T" : "F");
        break;
    case 7:
        xs_build_begin(&b, buf, cap, XS_DIRECTORY_PART, 6, tx);
        xs_build_str(&b, p);
        xs_build_u32(&b, (uint32_t)(rng_next(rng) % 100));
        break;
    default:
        xs_build_begin(&b, buf, cap, rng_next(rng) % 2 ? XS_GET_DOMAIN_PATH : XS_RESET_WATCHES,
                       8, 0);
        xs_build_u32(&b, (uint32_t)(rng_next(rng) % 10));
        break;
    }
    int n = xs_build_end(&b);
    assert_true(n > 0);
    return (size_t)n;
}

static void test_replay(void **state)
{
    (void)state;
    enum { CAP = 24 * XS_MSG_MAX };
    uint8_t *in = malloc(CAP + 1);
    assert_non_null(in);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    int runs = 0;
    for (int i = 0; i < 4000; i++) {
        size_t n = 1;
        in[0] = (uint8_t)rng_next(&rng); /* piece size */
        for (int m = 0, k = 1 + (int)(rng_next(&rng) % 6); m < k; m++)
            n += one_request(in + n, CAP - n, &rng);
        int muts = (int)(rng_next(&rng) % 4);
        for (int m = 0; m < muts && n > 1; m++) {
            size_t at = 1 + (size_t)(rng_next(&rng) % (n - 1));
            switch (rng_next(&rng) % 5) {
            case 0:
                in[at] = (uint8_t)rng_next(&rng);
                break;
            case 1:
                n = at;
                break;
            case 2: { /* duplicate a span */
                size_t span = 1 + (size_t)(rng_next(&rng) % 64);
                if (at + span > n)
                    span = n - at;
                if (n + span <= CAP) {
                    memmove(in + at + span, in + at, n - at);
                    n += span;
                }
                break;
            }
            case 3: { /* delete a span */
                size_t span = 1 + (size_t)(rng_next(&rng) % 64);
                if (at + span > n)
                    span = n - at;
                memmove(in + at, in + at + span, n - at - span);
                n -= span;
                break;
            }
            default: /* the first header's len */
                if (n >= 17) {
                    uint32_t len = (uint32_t[]){0, 1, 4095, 4096, 4097, 0xffffffffu}
                        [rng_next(&rng) % 6];
                    memcpy(in + 1 + 12, &len, 4);
                }
                break;
            }
        }
        LLVMFuzzerTestOneInput(in, n);
        runs++;
    }
    /* A 4096-byte payload (the maximum) and one byte more, in every piece size class. */
    for (int piece = 0; piece < 256; piece += 17) {
        for (uint32_t len = 4095; len <= 4097; len++) {
            in[0] = (uint8_t)piece;
            struct xsd_sockmsg h = {.type = XS_WRITE, .req_id = 1, .tx_id = 0, .len = len};
            memcpy(in + 1, &h, sizeof h);
            memset(in + 1 + sizeof h, 'x', len);
            memcpy(in + 1 + sizeof h, "/p\0", 3);
            LLVMFuzzerTestOneInput(in, 1 + sizeof h + len);
            runs++;
        }
    }
    /* Random bytes. */
    for (int i = 0; i < 500; i++) {
        size_t n = (size_t)(rng_next(&rng) % 9000);
        for (size_t j = 0; j < n; j++)
            in[j] = (uint8_t)rng_next(&rng);
        LLVMFuzzerTestOneInput(in, n);
        runs++;
    }
    LLVMFuzzerTestOneInput(in, 0);
    printf("xs request fuzz replay: %d inputs\n", runs);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
