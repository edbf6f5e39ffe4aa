/* test_common.h: what every libc test program includes, in the right order: the system
 * headers cmocka needs, cmocka, the test support, and last our libc (see xk_libc.h). */
#ifndef XENKIT_TEST_COMMON_H
#define XENKIT_TEST_COMMON_H

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tests/unit/fake_kernel.h"
#include "tests/unit/ref_libc.h"

#include "tests/unit/xk_libc.h"

/* A small seeded PRNG (xorshift64*), so random sweeps are reproducible. */
static inline uint64_t rng_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* stmt must panic (kernel_crash, caught by longjmp) with a message containing msg. */
#define EXPECT_PANIC(stmt, msg)                                           \
    do {                                                                  \
        jmp_buf jb_;                                                      \
        fake_kernel_reset();                                              \
        fake_crash_jmp = &jb_;                                            \
        if (setjmp(jb_) == 0) {                                           \
            stmt;                                                         \
            fail_msg("%s returned instead of panicking", #stmt);          \
        }                                                                 \
        fake_crash_jmp = NULL;                                            \
        if (strstr(fake_console, msg) == NULL)                            \
            fail_msg("panic message '%s' lacks '%s'", fake_console, msg); \
    } while (0)

#endif
