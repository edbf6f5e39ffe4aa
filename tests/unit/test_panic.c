/* test_panic.c: lib/panic.c (panic, __assert_fail, abort) and lib/include/assert.h. The fake
 * kernel_crash() longjmps back into the test. */
#include "tests/unit/test_common.h"

#include "lib/include/assert.h"

/* Runs stmt, which must end in kernel_crash(). */
#define EXPECT_CRASH(stmt)                                      \
    do {                                                        \
        jmp_buf jb_;                                            \
        fake_crash_jmp = &jb_;                                  \
        if (setjmp(jb_) == 0) {                                 \
            stmt;                                               \
            fail_msg("%s returned instead of crashing", #stmt); \
        }                                                       \
        fake_crash_jmp = NULL;                                  \
    } while (0)

static int setup(void **state)
{
    (void)state;
    fake_kernel_reset();
    return 0;
}

static void test_panic_message(void **state)
{
    (void)state;
    EXPECT_CRASH(panic("x=%d, s=%s", 5, "str"));
    assert_string_equal(fake_console, "*** PANIC: x=5, s=str\n");
    assert_int_equal(fake_crash_calls, 1);
    assert_int_equal(fake_fatal_calls, 1); /* the kernel heard before the message */
}

static void test_panic_long_message(void **state)
{
    (void)state;
    char expect[1200];

    EXPECT_CRASH(panic("%1000d", 7));
    snprintf(expect, sizeof(expect), "*** PANIC: %1000d\n", 7);
    assert_string_equal(fake_console, expect);
    assert_true(fake_console_max_chunk <= XENKIT_PRINTF_CHUNK);
}

static void test_panic_again_after_reset(void **state)
{
    (void)state;
    EXPECT_CRASH(panic("first"));
    fake_kernel_reset();
    EXPECT_CRASH(panic("second"));
    assert_string_equal(fake_console, "*** PANIC: second\n");
}

/* A panic while printing a panic message goes straight to kernel_crash(). */
static void panic_from_console(void)
{
    fake_console_tap = NULL;
    panic("inner %d", 2);
}

static void test_nested_panic(void **state)
{
    (void)state;
    fake_console_tap = panic_from_console;
    EXPECT_CRASH(panic("outer %d", 1));
    assert_string_equal(fake_console, "*** PANIC: ");
    assert_int_equal(fake_crash_calls, 1);
    assert_int_equal(fake_fatal_calls, 1);
}

static void test_assert_passes(void **state)
{
    (void)state;
    int evaluated = 0;

    assert(++evaluated == 1);
    assert(1);
    assert_int_equal(evaluated, 1); /* evaluated exactly once */
    assert_int_equal(fake_console_len, 0);
    assert_int_equal(fake_crash_calls, 0);
}

static void test_assert_fails(void **state)
{
    (void)state;
    char expect[256];
    volatile int line = 0;

    EXPECT_CRASH((line = __LINE__, assert(1 + 1 == 3)));
    snprintf(expect, sizeof(expect),
             "*** PANIC: assertion failed: 1 + 1 == 3 (%s:%d test_assert_fails)\n", __FILE__,
             line);
    assert_string_equal(fake_console, expect);
    assert_int_equal(fake_crash_calls, 1);
}

static void test_assert_fail_direct(void **state)
{
    (void)state;
    EXPECT_CRASH(__assert_fail("expr", "file.c", 42, "func"));
    assert_string_equal(fake_console, "*** PANIC: assertion failed: expr (file.c:42 func)\n");
}

/* assert.h may be included again; NDEBUG decides at each inclusion. */
#define NDEBUG
#include "lib/include/assert.h"
static void test_assert_ndebug(void **state)
{
    (void)state;
    int evaluated = 0;

    assert(++evaluated == 100);
    assert(0);
    assert_int_equal(evaluated, 0); /* not even evaluated */
    assert_int_equal(fake_console_len, 0);
}
#undef NDEBUG
#include "lib/include/assert.h"

static void test_assert_back_on(void **state)
{
    (void)state;
    EXPECT_CRASH(assert(0));
    assert_int_equal(fake_crash_calls, 1);
}

static_assert(sizeof(int) == 4, "static_assert comes from our assert.h");

static void test_abort(void **state)
{
    (void)state;
    EXPECT_CRASH(abort());
    assert_string_equal(fake_console, "*** PANIC: abort() called\n");
    assert_int_equal(fake_crash_calls, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_panic_message, setup),
        cmocka_unit_test_setup(test_panic_long_message, setup),
        cmocka_unit_test_setup(test_panic_again_after_reset, setup),
        cmocka_unit_test_setup(test_nested_panic, setup),
        cmocka_unit_test_setup(test_assert_passes, setup),
        cmocka_unit_test_setup(test_assert_fails, setup),
        cmocka_unit_test_setup(test_assert_fail_direct, setup),
        cmocka_unit_test_setup(test_assert_ndebug, setup),
        cmocka_unit_test_setup(test_assert_back_on, setup),
        cmocka_unit_test_setup(test_abort, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
