/* test_strtol.c: strtol/strtoul/strtoll/strtoull, atoi, abs, labs (lib/strtol.c,
 * lib/stdlib.c), compared with glibc. We have no errno: where glibc reports ERANGE we must
 * return the same clamped value and end pointer. */
#include "tests/unit/test_common.h"


/* Compares all four functions and atoi with glibc on one input and base. */
static void check_one(const char *s, int base)
{
    char *end, *ref_end;
    int erange;

    end = (char *)1;
    ref_end = (char *)2;
    long l = strtol(s, &end, base);
    long rl = ref_strtol(s, &ref_end, base, &erange);
    if (l != rl || end != ref_end)
        fail_msg("strtol(\"%s\", %d): ours %ld end+%td, glibc %ld end+%td", s, base, l,
                 end - s, rl, ref_end - s);

    unsigned long ul = strtoul(s, &end, base);
    unsigned long rul = ref_strtoul(s, &ref_end, base, &erange);
    if (ul != rul || end != ref_end)
        fail_msg("strtoul(\"%s\", %d): ours %lu end+%td, glibc %lu end+%td", s, base, ul,
                 end - s, rul, ref_end - s);

    long long ll = strtoll(s, &end, base);
    long long rll = ref_strtoll(s, &ref_end, base, &erange);
    if (ll != rll || end != ref_end)
        fail_msg("strtoll(\"%s\", %d): ours %lld end+%td, glibc %lld end+%td", s, base, ll,
                 end - s, rll, ref_end - s);

    unsigned long long ull = strtoull(s, &end, base);
    unsigned long long rull = ref_strtoull(s, &ref_end, base, &erange);
    if (ull != rull || end != ref_end)
        fail_msg("strtoull(\"%s\", %d): ours %llu end+%td, glibc %llu end+%td", s, base, ull,
                 end - s, rull, ref_end - s);

    /* A NULL endptr is allowed. */
    assert_int_equal(strtol(s, NULL, base), l);
    assert_int_equal(strtoull(s, NULL, base), ull);
}

static const char *const inputs[] = {
    "", " ", "0", "1", "-1", "+1", "+", "-", "+-1", "--1", " \t\n\v\f\r42xyz", "  -0", "007",
    "08", "0x", "0x1f", "0X1F", "-0x1f", "0xg", "0x 1", " 0x7fffffffffffffff", "1e5", "z",
    "Z", "zz", "-zz", "10", "101", "777", "789", "ffff", "FFFF", "abc", "123abc",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808",
    "-9223372036854775809", "18446744073709551615", "18446744073709551616",
    "-18446744073709551615", "-18446744073709551616", "99999999999999999999999999999",
    "-99999999999999999999999999999", "0x8000000000000000", "-0x8000000000000000",
    "0xffffffffffffffff", "0x10000000000000000", "1777777777777777777777",
    "2000000000000000000000", "01777777777777777777777", "-01000000000000000000000",
    "3w5e11264sgsf", "3w5e11264sgsg", "-3w5e11264sgsg", "1y2p0ij32e8e7", "1y2p0ij32e8e8",
    "11111111111111111111111111111111111111111111111111111111111111111",
    "\xe9" "1", "1\xe9",
};

static const int bases[] = {0, 2, 8, 10, 16, 36, 3, 7, 35};

static void test_strto_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(inputs); i++)
        for (size_t b = 0; b < ARRAY_SIZE(bases); b++)
            check_one(inputs[i], bases[b]);
}

static void test_strto_all_bases(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(inputs); i++)
        for (int base = 2; base <= 36; base++)
            check_one(inputs[i], base);
}

static void test_strto_known_values(void **state)
{
    (void)state;
    char *end;
    const char *s;

    assert_int_equal(strtol("0x1f", NULL, 16), 31);
    assert_int_equal(strtol("0x1f", NULL, 0), 31);
    assert_int_equal(strtol("017", NULL, 0), 15);
    assert_int_equal(strtol("017", NULL, 10), 17);
    assert_int_equal(strtol("z", NULL, 36), 35);
    assert_int_equal(strtol("-101", NULL, 2), -5);
    /* Overflow clamps; end still points past all the digits. */
    s = "99999999999999999999 rest";
    assert_true(strtol(s, &end, 10) == LONG_MAX);
    assert_ptr_equal(end, s + 20);
    assert_true(strtol("-99999999999999999999", NULL, 10) == LONG_MIN);
    assert_true(strtoll("9223372036854775808", NULL, 10) == LLONG_MAX);
    assert_true(strtoll("-9223372036854775808", NULL, 10) == LLONG_MIN);
    assert_true(strtoul("18446744073709551616", NULL, 10) == ULONG_MAX);
    assert_true(strtoul("-1", NULL, 10) == ULONG_MAX);
    assert_true(strtoull("-18446744073709551616", NULL, 10) == ULLONG_MAX);
    /* No digits: 0, end = start (even after space and sign). */
    s = "  -x";
    assert_int_equal(strtol(s, &end, 10), 0);
    assert_ptr_equal(end, s);
    /* "0x" without hex digits: the number is the 0, end points at the x. */
    s = "0xg";
    assert_int_equal(strtol(s, &end, 16), 0);
    assert_ptr_equal(end, s + 1);
}

static void test_strto_bad_base(void **state)
{
    (void)state;
    const int bad[] = {-1, 1, 37, 100, INT_MIN};
    const char *s = "123";
    char *end;

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        end = NULL;
        assert_int_equal(strtol(s, &end, bad[i]), 0);
        assert_ptr_equal(end, s);
        end = NULL;
        assert_int_equal(strtoull(s, &end, bad[i]), 0);
        assert_ptr_equal(end, s);
    }
}

static void test_strto_random(void **state)
{
    (void)state;
    static const char alphabet[] = " \t+-0123456789abcdefxXzZ9999";
    uint64_t rng = 0x5eed0001;
    char buf[40];

    for (int iter = 0; iter < 200000; iter++) {
        uint64_t r = rng_next(&rng);
        size_t len = r % 30;
        for (size_t i = 0; i < len; i++)
            buf[i] = alphabet[rng_next(&rng) % (sizeof(alphabet) - 1)];
        buf[len] = 0;
        int base = (int)((r >> 8) % 37);
        if (base == 1)
            base = 0;
        check_one(buf, base);
    }
}

static void test_atoi(void **state)
{
    (void)state;
    const char *const s[] = {"0", "42", "-42", "  +7x", "", "abc", "2147483647", "-2147483648",
                             "0x10", "010"};

    for (size_t i = 0; i < ARRAY_SIZE(s); i++)
        assert_int_equal(atoi(s[i]), ref_atoi(s[i]));
    assert_int_equal(atoi("010"), 10);
}

static void test_abs(void **state)
{
    (void)state;
    assert_int_equal(abs(0), 0);
    assert_int_equal(abs(5), 5);
    assert_int_equal(abs(-5), 5);
    assert_int_equal(abs(INT_MAX), INT_MAX);
    assert_int_equal(abs(INT_MIN + 1), INT_MAX);
    assert_true(labs(-5L) == 5L);
    assert_true(labs(LONG_MAX) == LONG_MAX);
    assert_true(labs(LONG_MIN + 1) == LONG_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strto_table),   cmocka_unit_test(test_strto_all_bases),
        cmocka_unit_test(test_strto_known_values), cmocka_unit_test(test_strto_bad_base),
        cmocka_unit_test(test_strto_random),  cmocka_unit_test(test_atoi),
        cmocka_unit_test(test_abs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
