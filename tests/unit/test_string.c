/* test_string.c: lib/string.c and lib/include/ctype.h. */
#include "tests/unit/test_common.h"

/* The string functions are tested on buffers filled by these loops, not by our own memset. */
static void fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 7 + 1);
}

static void fill_byte(unsigned char *p, size_t n, unsigned char b)
{
    for (size_t i = 0; i < n; i++)
        p[i] = b;
}

static void test_memcpy(void **state)
{
    (void)state;
    unsigned char src[128], dst[128];

    for (size_t so = 0; so < 16; so++)
        for (size_t d_o = 0; d_o < 16; d_o++)
            for (size_t n = 0; n <= 80; n++) {
                fill_pattern(src, sizeof(src), (unsigned)(so + n));
                fill_byte(dst, sizeof(dst), 0xAA);
                assert_ptr_equal(memcpy(dst + d_o, src + so, n), dst + d_o);
                for (size_t i = 0; i < sizeof(dst); i++) {
                    if (i >= d_o && i < d_o + n)
                        assert_int_equal(dst[i], src[so + i - d_o]);
                    else
                        assert_int_equal(dst[i], 0xAA);
                }
            }
}

static void test_memmove(void **state)
{
    (void)state;
    unsigned char buf[160], model[160];

    /* Overlapping in both directions, disjoint, equal pointers; all alignments. */
    for (size_t so = 0; so < 24; so++)
        for (size_t d_o = 0; d_o < 24; d_o++)
            for (size_t n = 0; n <= 100; n++) {
                unsigned char tmp[100];
                fill_pattern(buf, sizeof(buf), (unsigned)n);
                for (size_t i = 0; i < sizeof(buf); i++)
                    model[i] = buf[i];
                for (size_t i = 0; i < n; i++)
                    tmp[i] = model[so + i];
                for (size_t i = 0; i < n; i++)
                    model[d_o + i] = tmp[i];
                assert_ptr_equal(memmove(buf + d_o, buf + so, n), buf + d_o);
                assert_memory_equal(buf, model, sizeof(buf));
            }
}

static void test_memset(void **state)
{
    (void)state;
    unsigned char buf[128];

    for (size_t off = 0; off < 16; off++)
        for (size_t n = 0; n <= 100; n++) {
            fill_byte(buf, sizeof(buf), 0x11);
            /* The int is converted to unsigned char: 0x1A5 sets 0xA5. */
            assert_ptr_equal(memset(buf + off, 0x1A5, n), buf + off);
            for (size_t i = 0; i < sizeof(buf); i++)
                assert_int_equal(buf[i], i >= off && i < off + n ? 0xA5 : 0x11);
        }
    fill_byte(buf, sizeof(buf), 0x11);
    memset(buf, -1, 9);
    assert_int_equal(buf[8], 0xFF);
    assert_int_equal(buf[9], 0x11);
}

static void test_memcmp(void **state)
{
    (void)state;
    unsigned char a[64], b[64];

    fill_pattern(a, sizeof(a), 3);
    fill_pattern(b, sizeof(b), 3);
    assert_int_equal(memcmp(a, b, sizeof(a)), 0);
    assert_int_equal(memcmp(a, b, 0), 0);
    assert_int_equal(memcmp("a", "b", 0), 0);
    for (size_t i = 0; i < sizeof(a); i++) {
        for (int delta = -1; delta <= 1; delta += 2) {
            fill_pattern(b, sizeof(b), 3);
            b[i] = (unsigned char)(b[i] + delta);
            for (size_t n = 0; n <= sizeof(a); n++) {
                int r = memcmp(a, b, n);
                int sign = (r > 0) - (r < 0);
                assert_int_equal(sign, ref_memcmp_sign(a, b, n));
            }
        }
    }
    /* Bytes compare as unsigned char. */
    assert_true(memcmp("\x80", "\x01", 1) > 0);
    assert_true(memcmp("\x01", "\xff", 1) < 0);
}

static void test_memchr(void **state)
{
    (void)state;
    const char s[] = "hello\0world\xff!";

    assert_ptr_equal(memchr(s, 'l', sizeof(s)), s + 2);
    assert_ptr_equal(memchr(s, 'w', sizeof(s)), s + 6);
    assert_ptr_equal(memchr(s, 0, sizeof(s)), s + 5);
    assert_ptr_equal(memchr(s, 'w', 6), NULL);
    assert_ptr_equal(memchr(s, 'w', 7), s + 6);
    assert_ptr_equal(memchr(s, 'h', 0), NULL);
    assert_ptr_equal(memchr(s, 'z', sizeof(s)), NULL);
    /* c is converted to unsigned char. */
    assert_ptr_equal(memchr(s, 0x100 + 'o', sizeof(s)), s + 4);
    assert_ptr_equal(memchr(s, -1, sizeof(s)), s + 11);
    assert_ptr_equal(memchr(s, 0xff, sizeof(s)), s + 11);
}

static void test_strlen(void **state)
{
    (void)state;
    char buf[80];

    assert_int_equal(strlen(""), 0);
    assert_int_equal(strlen("a"), 1);
    assert_int_equal(strlen("hello\0world"), 5);
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n < 64; n++) {
            fill_byte((unsigned char *)buf, sizeof(buf), 'x');
            buf[off + n] = 0;
            assert_int_equal(strlen(buf + off), n);
        }
    assert_int_equal(strnlen("hello", 0), 0);
    assert_int_equal(strnlen("hello", 3), 3);
    assert_int_equal(strnlen("hello", 5), 5);
    assert_int_equal(strnlen("hello", 6), 5);
    assert_int_equal(strnlen("hello", SIZE_MAX), 5);
    assert_int_equal(strnlen("", 10), 0);
    /* strnlen must not read past maxlen: an unterminated array. */
    char unterminated[4] = {'a', 'b', 'c', 'd'};
    assert_int_equal(strnlen(unterminated, 4), 4);
}

static const char *const cmp_strings[] = {
    "", "a", "b", "ab", "abc", "abd", "abcd", "ABC", "\x80", "\x7f", "\xff", "a\xff", "a\x01", "zz",
};

static void test_strcmp(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(cmp_strings); i++)
        for (size_t j = 0; j < ARRAY_SIZE(cmp_strings); j++) {
            const char *a = cmp_strings[i], *b = cmp_strings[j];
            int r = strcmp(a, b);
            assert_int_equal((r > 0) - (r < 0), ref_strncmp_sign(a, b, SIZE_MAX));
            for (size_t n = 0; n <= 6; n++) {
                r = strncmp(a, b, n);
                assert_int_equal((r > 0) - (r < 0), ref_strncmp_sign(a, b, n));
            }
        }
    assert_int_equal(strncmp("abcX", "abcY", 3), 0);
    /* strncmp stops at the NUL even if n is larger. */
    assert_int_equal(strncmp("ab\0X", "ab\0Y", 10), 0);
}

static void test_strchr(void **state)
{
    (void)state;
    const char *s = "hello, w\xe9rld";
    const int cs[] = {'h', 'l', 'o', 'd', 'z', 0, ',', 0xe9, (char)0xe9, 'l' + 0x100};

    for (size_t i = 0; i < ARRAY_SIZE(cs); i++) {
        char *r = strchr(s, cs[i]);
        assert_int_equal(r ? r - s : -1, ref_strchr_off(s, cs[i]));
        r = strrchr(s, cs[i]);
        assert_int_equal(r ? r - s : -1, ref_strrchr_off(s, cs[i]));
    }
    assert_ptr_equal(strchr("", 0), strchr("", 0)); /* the NUL is found */
    assert_non_null(strchr("", 0));
    assert_null(strchr("", 'a'));
    assert_null(strrchr("", 'a'));
    const char *e = "";
    assert_ptr_equal(strrchr(e, 0), e);
}

static void test_strcpy_strcat(void **state)
{
    (void)state;
    char buf[32];

    fill_byte((unsigned char *)buf, sizeof(buf), 'x');
    assert_ptr_equal(strcpy(buf, "hello"), buf);
    assert_memory_equal(buf, "hello\0x", 7);
    assert_ptr_equal(strcpy(buf, ""), buf);
    assert_memory_equal(buf, "\0ello\0x", 7);

    strcpy(buf, "abc");
    assert_ptr_equal(strcat(buf, "def"), buf);
    assert_string_equal(buf, "abcdef");
    strcat(buf, "");
    assert_string_equal(buf, "abcdef");

    strcpy(buf, "abc");
    buf[4] = 'x';
    assert_ptr_equal(strncat(buf, "defgh", 2), buf);
    assert_string_equal(buf, "abcde");
    strncat(buf, "XY", 10);
    assert_string_equal(buf, "abcdeXY");
    strncat(buf, "Q", 0);
    assert_string_equal(buf, "abcdeXY");
    /* strncat copies at most n characters and always terminates. */
    fill_byte((unsigned char *)buf, sizeof(buf), 'x');
    buf[0] = 0;
    strncat(buf, "12345", 3);
    assert_memory_equal(buf, "123\0x", 5);
}

static void test_strncpy(void **state)
{
    (void)state;
    char buf[16];

    fill_byte((unsigned char *)buf, sizeof(buf), 'x');
    assert_ptr_equal(strncpy(buf, "abc", 8), buf);
    assert_memory_equal(buf, "abc\0\0\0\0\0xx", 10); /* padded with NULs to n */

    fill_byte((unsigned char *)buf, sizeof(buf), 'x');
    strncpy(buf, "abcdef", 3);
    assert_memory_equal(buf, "abcxx", 5); /* not terminated */

    fill_byte((unsigned char *)buf, sizeof(buf), 'x');
    strncpy(buf, "abc", 0);
    assert_int_equal(buf[0], 'x');

    fill_byte((unsigned char *)buf, sizeof(buf), 'x');
    strncpy(buf, "abc", 4);
    assert_memory_equal(buf, "abc\0x", 5);
}

static void test_strstr(void **state)
{
    (void)state;
    static const char *const hay[] = {"", "a", "hello world", "aaab", "abababc", "mississippi"};
    static const char *const needles[] = {"", "a", "b", "ab", "abc", "ababc", "world", "ssi",
                                          "issip", "ippi", "mississippix", "o w", "x"};

    for (size_t i = 0; i < ARRAY_SIZE(hay); i++)
        for (size_t j = 0; j < ARRAY_SIZE(needles); j++) {
            char *r = strstr(hay[i], needles[j]);
            assert_int_equal(r ? r - hay[i] : -1, ref_strstr_off(hay[i], needles[j]));
        }
}

static void test_strspn(void **state)
{
    (void)state;
    static const char *const s[] = {"", "abc", "  \tx y", "123abc", "xyz"};
    static const char *const sets[] = {"", "a", "abc", " \t", "0123456789", "zyx"};

    for (size_t i = 0; i < ARRAY_SIZE(s); i++)
        for (size_t j = 0; j < ARRAY_SIZE(sets); j++) {
            assert_int_equal(strspn(s[i], sets[j]), ref_strspn(s[i], sets[j]));
            assert_int_equal(strcspn(s[i], sets[j]), ref_strcspn(s[i], sets[j]));
        }
}

static void test_strtok_r(void **state)
{
    (void)state;
    char buf[] = "  a,b;;c  ";
    char *save = NULL;

    assert_string_equal(strtok_r(buf, ", ;", &save), "a");
    assert_string_equal(strtok_r(NULL, ", ;", &save), "b");
    assert_string_equal(strtok_r(NULL, ", ;", &save), "c");
    assert_null(strtok_r(NULL, ", ;", &save));
    assert_null(strtok_r(NULL, ", ;", &save));

    char empty[] = "";
    assert_null(strtok_r(empty, ",", &save));
    char delims[] = ",,,";
    assert_null(strtok_r(delims, ",", &save));
    assert_null(strtok_r(NULL, ",", &save));
    char one[] = "token";
    assert_string_equal(strtok_r(one, ",", &save), "token");
    assert_null(strtok_r(NULL, ",", &save));

    /* The delimiters may change between calls; two tokenizers can run interleaved. */
    char x[] = "k1=v1&k2=v2", y[] = "p q";
    char *sx, *sy;
    assert_string_equal(strtok_r(x, "=", &sx), "k1");
    assert_string_equal(strtok_r(y, " ", &sy), "p");
    assert_string_equal(strtok_r(NULL, "&", &sx), "v1");
    assert_string_equal(strtok_r(NULL, " ", &sy), "q");
    assert_string_equal(strtok_r(NULL, "=", &sx), "k2");
    assert_string_equal(strtok_r(NULL, "&", &sx), "v2");
    assert_null(strtok_r(NULL, "&", &sx));
    assert_null(strtok_r(NULL, " ", &sy));
}

static void test_strlcpy(void **state)
{
    (void)state;
    const char *src = "abcdef";
    char buf[16];

    for (size_t size = 0; size <= 9; size++) {
        fill_byte((unsigned char *)buf, sizeof(buf), 'x');
        assert_int_equal(strlcpy(buf, src, size), 6);
        if (size == 0) {
            assert_int_equal(buf[0], 'x');
            continue;
        }
        size_t n = size - 1 < 6 ? size - 1 : 6;
        assert_memory_equal(buf, src, n);
        assert_int_equal(buf[n], 0);
        assert_int_equal(buf[n + 1], 'x');
    }
    assert_int_equal(strlcpy(buf, "", sizeof(buf)), 0);
    assert_string_equal(buf, "");
}

static void test_strlcat(void **state)
{
    (void)state;
    char buf[16];

    for (size_t size = 0; size <= 10; size++) {
        fill_byte((unsigned char *)buf, sizeof(buf), 'x');
        buf[0] = 'a';
        buf[1] = 'b';
        buf[2] = 0;
        size_t r = strlcat(buf, "cdef", size);
        if (size <= 2) {
            /* No NUL within size: nothing appended, returns size + strlen(src). */
            assert_int_equal(r, size + 4);
            assert_memory_equal(buf, "ab\0x", 4);
        } else {
            size_t n = size - 1 < 6 ? size - 1 : 6;
            assert_int_equal(r, 6);
            assert_memory_equal(buf, "abcdef", n);
            assert_int_equal(buf[n], 0);
            assert_int_equal(buf[n + 1], 'x');
        }
    }
}

static void test_ctype(void **state)
{
    (void)state;
    static const char *const names[] = {REF_CTYPE_NAMES};
    int (*const ours[])(int) = {isalnum, isalpha, isblank, iscntrl, isdigit, isgraph, islower,
                                isprint, ispunct, isspace, isupper, isxdigit, tolower, toupper};

    _Static_assert(ARRAY_SIZE(ours) == REF_CTYPE_COUNT, "one of ours per glibc function");
    for (int i = 0; i < REF_CTYPE_COUNT; i++)
        for (int c = -1; c <= 255; c++) {
            int mine = ours[i](c), ref = ref_ctype(i, c);
            if (i < 12)
                mine = mine != 0;
            if (mine != ref)
                fail_msg("%s(%d): ours %d, glibc %d", names[i], c, mine, ref);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memcpy),  cmocka_unit_test(test_memmove),
        cmocka_unit_test(test_memset),  cmocka_unit_test(test_memcmp),
        cmocka_unit_test(test_memchr),  cmocka_unit_test(test_strlen),
        cmocka_unit_test(test_strcmp),  cmocka_unit_test(test_strchr),
        cmocka_unit_test(test_strcpy_strcat), cmocka_unit_test(test_strncpy),
        cmocka_unit_test(test_strstr),  cmocka_unit_test(test_strspn),
        cmocka_unit_test(test_strtok_r), cmocka_unit_test(test_strlcpy),
        cmocka_unit_test(test_strlcat), cmocka_unit_test(test_ctype),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
