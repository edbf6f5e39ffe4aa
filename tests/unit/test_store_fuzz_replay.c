/*
 * A quick deterministic replay of the pack loader's fuzz target (tests/fuzz/fuzz_pack_open.c)
 * over mutations of a valid pack: random byte changes, truncations, duplicated and deleted
 * spans, and every single-byte value at a few header and record offsets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/store_testutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fuzz_pack_make_seed(const char *path);

static void test_replay(void **state)
{
    (void)state;
    char *dir = store_test_mkdir();
    char path[4096];
    snprintf(path, sizeof(path), "%s/seed.pack", dir);
    assert_int_equal(fuzz_pack_make_seed(path), 0);
    size_t len = 0;
    uint8_t *seed = store_test_read_file(path, &len);
    assert_non_null(seed);
    LLVMFuzzerTestOneInput(seed, len);
    LLVMFuzzerTestOneInput(seed, 0);
    uint64_t rng = 99;
    uint8_t *b = malloc(len * 2 + 64);
    int runs = 0;
    for (int i = 0; i < 3000; i++) {
        size_t n = len;
        memcpy(b, seed, len);
        int muts = 1 + (int)(store_rng(&rng) % 4);
        for (int m = 0; m < muts && n > 0; m++) {
            size_t at = (size_t)(store_rng(&rng) % n);
            switch (store_rng(&rng) % 4) {
            case 0:
                b[at] = (uint8_t)store_rng(&rng);
                break;
            case 1:
                n = at;
                break;
            case 2: { /* duplicate a span */
                size_t span = 1 + (size_t)(store_rng(&rng) % 64);
                if (at + span > n)
                    span = n - at;
                if (n + span <= len * 2) {
                    memmove(b + at + span, b + at, n - at);
                    n += span;
                }
                break;
            }
            default: { /* delete a span */
                size_t span = 1 + (size_t)(store_rng(&rng) % 64);
                if (at + span > n)
                    span = n - at;
                memmove(b + at, b + at + span, n - at - span);
                n -= span;
                break;
            }
            }
        }
        LLVMFuzzerTestOneInput(b, n);
        runs++;
    }
    /* every value of the length field of the first record and of the header's version */
    size_t offs[] = {8, 32 + 4, 32 + 5, 32 + 7};
    for (size_t o = 0; o < sizeof(offs) / sizeof(offs[0]); o++) {
        for (int v = 0; v < 256; v++) {
            memcpy(b, seed, len);
            b[offs[o]] = (uint8_t)v;
            LLVMFuzzerTestOneInput(b, len);
            runs++;
        }
    }
    printf("fuzz replay: %d inputs\n", runs);
    free(b);
    free(seed);
    store_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
