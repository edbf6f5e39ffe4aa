/* test_printf.c: lib/printf.c and lib/stdio.c. Most results are compared with glibc's
 * snprintf on the same format and arguments: a large table, a seeded random sweep, and
 * truncation at every buffer size. Things glibc does differently on purpose (NULL with a
 * precision, no floating point) are tested against fixed expectations. */
#include "tests/unit/test_common.h"


#define OUT_SIZE 4096

/* Formats with ours and with glibc and fails, naming the format, if the output or the
 * return value differ. Not __attribute__((format)): the sweep builds formats at run time. */
static void vcheck(const char *fmt, va_list ap)
{
    static char mine[OUT_SIZE], ref[OUT_SIZE];
    va_list ap2;
    int n, rn;

    va_copy(ap2, ap);
    for (size_t i = 0; i < OUT_SIZE; i++)
        mine[i] = ref[i] = 0x5a;
    n = vsnprintf(mine, OUT_SIZE, fmt, ap);
    rn = ref_vsnprintf(ref, OUT_SIZE, fmt, ap2);
    va_end(ap2);
    assert_true(rn >= 0 && rn < OUT_SIZE);
    if (n != rn || ref_memcmp_sign(mine, ref, (size_t)rn + 1) != 0)
        fail_msg("format \"%s\": ours %d \"%s\", glibc %d \"%s\"", fmt, n, mine, rn, ref);
}

static void check(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vcheck(fmt, ap);
    va_end(ap);
}

#define CHECK check

/* Our snprintf without format checking, for formats gcc would (rightly) reject. */
static int unchecked(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

static void test_table_basic(void **state)
{
    (void)state;
    CHECK("");
    CHECK("plain text");
    CHECK("100%%");
    CHECK("%%%d%%", 5);
    CHECK("%d", 0);
    CHECK("%d %d %d", 1, -1, 42);
    CHECK("%i|%i", INT_MAX, INT_MIN);
    CHECK("%u|%u", 0u, UINT_MAX);
    CHECK("%x|%X|%o", 0xdeadbeefu, 0xdeadbeefu, 0777u);
    CHECK("%c%c%c", 'a', 'b', 'c');
    CHECK("[%c]", 0);
    CHECK("%c", 0x141);
    CHECK("%c", -1);
    CHECK("%s", "");
    CHECK("%s|%s", "hello", "world");
    CHECK("%p", (void *)0x1234);
    CHECK("%p", (void *)UINTPTR_MAX);
    CHECK("%p", NULL);
    CHECK("%20p|%-20p|", (void *)0xabc, (void *)0xabc);
    CHECK("%10p|%-10p|", NULL, NULL);
    CHECK("%+p|% p|%020p", (void *)0x10, (void *)0x10, (void *)0x10);
}

static void test_table_flags_width_precision(void **state)
{
    (void)state;
    const int ints[] = {0, 1, -1, 7, -7, 42, 1000, -1000, INT_MAX, INT_MIN};

    for (size_t i = 0; i < ARRAY_SIZE(ints); i++) {
        int v = ints[i];
        CHECK("%d|%5d|%-5d|%05d|%+d|% d|%+5d|% 5d|%-+5d|%+05d|% 05d", v, v, v, v, v, v, v, v, v,
              v, v);
        CHECK("%.0d|%.1d|%.3d|%.12d|%8.3d|%-8.3d|%08.3d|%+.3d|% .0d|%5.0d|%-5.0d", v, v, v, v, v,
              v, v, v, v, v, v);
        CHECK("%0-5d|%-05d|%+ d|% +d|%00005d|%--5d", v, v, v, v, v, v);
        unsigned u = (unsigned)v;
        CHECK("%u|%5u|%-5u|%05u|%.3u|%8.3u|%.0u", u, u, u, u, u, u, u);
        CHECK("%x|%#x|%8x|%#8x|%-#8x|%08x|%#08x|%.5x|%#.5x|%#8.5x|%.0x|%#.0x", u, u, u, u, u, u, u,
              u, u, u, u, u);
        CHECK("%X|%#X|%#010X|%-#10X|%#.1X", u, u, u, u, u);
        CHECK("%o|%#o|%8o|%#8o|%08o|%#08o|%.5o|%#.5o|%.0o|%#.0o|%#.1o|%-#6o|", u, u, u, u, u, u,
              u, u, u, u, u, u);
    }
    CHECK("%5s|%-5s|%.2s|%5.2s|%-5.2s|%.0s|%.10s|", "abc", "abc", "abc", "abc", "abc", "abc",
          "abc");
    CHECK("%5c|%-5c|", 'x', 'y');
    CHECK("%300d|%-300x|", 1, 2u);
    CHECK("%.300d|%.300s|", -5, "short");
}

static void test_table_star(void **state)
{
    (void)state;
    CHECK("%*d|", 5, 42);
    CHECK("%-*d|", 5, 42);
    CHECK("%*d|", -5, 42); /* negative width: left-justified */
    CHECK("%0*d|", -5, 42);
    CHECK("%.*d|", 4, 42);
    CHECK("%.*d|", -1, 42); /* negative precision: as if none */
    CHECK("%.*d|", 0, 0);
    CHECK("%0.*d|", -1, 0);
    CHECK("%0*.*d|", 8, -1, -42);
    CHECK("%*.*s|", 6, 2, "hello");
    CHECK("%-*.*s|", 6, 2, "hello");
    CHECK("%*.*x|%*s|", -9, 3, 0xabu, 0, "");
    CHECK("%*c|", -3, 'z');
}

static void test_table_length(void **state)
{
    (void)state;
    CHECK("%hhd|%hhd|%hhd|%hhu|%hhx|%hho", 127, 128, -129, 511, 0x1ff, 0777);
    CHECK("%hd|%hd|%hu|%hx|%hi", 32767, 32768, 70000, 0x1ffff, -32769);
    CHECK("%ld|%ld|%lu|%lx|%lo", LONG_MAX, LONG_MIN, ULONG_MAX, ULONG_MAX, ULONG_MAX);
    CHECK("%lld|%lld|%llu|%llX|%#llo", LLONG_MAX, LLONG_MIN, ULLONG_MAX, ULLONG_MAX, ULLONG_MAX);
    CHECK("%zu|%zx|%zd|%zd", SIZE_MAX, (size_t)0x1234, (ptrdiff_t)-5, PTRDIFF_MAX);
    CHECK("%td|%td|%tu|%tx", PTRDIFF_MIN, (ptrdiff_t)-1, (size_t)7, (size_t)0xff);
    CHECK("%jd|%jd|%ju|%jx", INTMAX_MIN, INTMAX_MAX, UINTMAX_MAX, UINTMAX_MAX);
    CHECK("%+lld|% lld|%30lld|%-30lld|%030lld|%.25lld|%+.25lld", LLONG_MIN, LLONG_MIN,
          LLONG_MIN, LLONG_MIN, LLONG_MIN, LLONG_MIN, LLONG_MIN);
    CHECK("%lld|%+lld|%020lld", (long long)INT64_MIN, (long long)INT64_MAX, (long long)INT64_MIN);
    CHECK("%llx|%#llx|%llo|%#llo", (unsigned long long)INT64_MIN, (unsigned long long)INT64_MIN,
          (unsigned long long)INT64_MIN, (unsigned long long)INT64_MIN);
}

static void test_unsupported(void **state)
{
    (void)state;
    char buf[64];

    /* Floating point and %n are printed literally and consume no argument. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
    assert_int_equal(unchecked(buf, sizeof(buf), "%f"), 2);
    assert_string_equal(buf, "%f");
    assert_int_equal(unchecked(buf, sizeof(buf), "a%5.2fb%d", 7), 8);
    assert_string_equal(buf, "a%5.2fb7");
    assert_int_equal(unchecked(buf, sizeof(buf), "%e%g%a%E%G%A%n%q", 1), 16);
    assert_string_equal(buf, "%e%g%a%E%G%A%n%q");
    assert_int_equal(unchecked(buf, sizeof(buf), "%-+08.3Lf|%d", 3), 11);
    assert_string_equal(buf, "%-+08.3Lf|3");
    /* No positional arguments either. */
    assert_int_equal(unchecked(buf, sizeof(buf), "%1$d|%d", 5), 6);
    assert_string_equal(buf, "%1$d|5");
    /* A format that ends inside a conversion prints what there is. */
    assert_int_equal(unchecked(buf, sizeof(buf), "abc%"), 4);
    assert_string_equal(buf, "abc%");
    assert_int_equal(unchecked(buf, sizeof(buf), "x%-08.3ll"), 9);
    assert_string_equal(buf, "x%-08.3ll");
#pragma GCC diagnostic pop
}

static void test_null_string(void **state)
{
    (void)state;
    char buf[64];
    const char *null = NULL;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-overflow"
#pragma GCC diagnostic ignored "-Wformat"
    assert_int_equal(unchecked(buf, sizeof(buf), "%s", null), 6);
    assert_string_equal(buf, "(null)");
    unchecked(buf, sizeof(buf), "[%10s][%-8s][%.3s][%.0s]", null, null, null, null);
    assert_string_equal(buf, "[    (null)][(null)  ][(nu][]");
#pragma GCC diagnostic pop
}

/* Truncation: for every buffer size, the return value is the full length, the buffer holds
 * the longest prefix that fits plus a NUL, and nothing after that is touched. */
static void test_truncation(void **state)
{
    (void)state;
    static const struct {
        const char *fmt;
        int a;
        const char *s;
    } cases[] = {
        {"%d|%s", -12345, "hello"}, {"%08d%s", 42, ""}, {"[%-12x]%s", 0xbeef, "abc"},
        {"%d%s", 7, "a longer string that goes past a small buffer"},
        {"%.0d%s|", 0, ""}, {"%c%s", 0, "after a NUL char"},
    };
    char full[256], buf[256];

    for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
        int len = unchecked(full, sizeof(full), cases[c].fmt, cases[c].a, cases[c].s);
        assert_true(len > 0 && len < 200);
        assert_int_equal(len, unchecked(NULL, 0, cases[c].fmt, cases[c].a, cases[c].s));
        for (size_t size = 0; size <= (size_t)len + 2; size++) {
            for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = 0x5a;
            assert_int_equal(unchecked(buf, size, cases[c].fmt, cases[c].a, cases[c].s), len);
            size_t kept = size == 0 ? 0 : (size - 1 < (size_t)len ? size - 1 : (size_t)len);
            assert_int_equal(ref_memcmp_sign(buf, full, kept), 0);
            if (size > 0)
                assert_int_equal(buf[kept], 0);
            for (size_t i = size; i < sizeof(buf); i++)
                assert_int_equal(buf[i], 0x5a);
        }
    }
}

/* vcbprintf hands out chunks of at most XENKIT_PRINTF_CHUNK bytes, never empty ones. */
struct chunks {
    char out[8192];
    size_t len;
    unsigned calls;
    size_t sizes[64];
};

static void collect(void *ctx, const char *s, size_t n)
{
    struct chunks *c = ctx;

    assert_true(n > 0 && n <= XENKIT_PRINTF_CHUNK);
    assert_true(c->len + n <= sizeof(c->out));
    for (size_t i = 0; i < n; i++)
        c->out[c->len + i] = s[i];
    if (c->calls < ARRAY_SIZE(c->sizes))
        c->sizes[c->calls] = n;
    c->len += n;
    c->calls++;
}

static int cbprintf(struct chunks *c, const char *fmt, ...)
{
    va_list ap;
    int n;

    c->len = 0;
    c->calls = 0;
    va_start(ap, fmt);
    n = vcbprintf(collect, c, fmt, ap);
    va_end(ap);
    return n;
}

static void test_vcbprintf_chunks(void **state)
{
    (void)state;
    static struct chunks c;
    static char ref[8192];

    assert_int_equal(cbprintf(&c, "%s", ""), 0);
    assert_int_equal(c.calls, 0);

    assert_int_equal(cbprintf(&c, "%*s", XENKIT_PRINTF_CHUNK, "x"), XENKIT_PRINTF_CHUNK);
    assert_int_equal(c.calls, 1);

    assert_int_equal(cbprintf(&c, "%1000d", 5), 1000);
    assert_int_equal(c.calls, 4);
    assert_int_equal(c.sizes[0], 256);
    assert_int_equal(c.sizes[1], 256);
    assert_int_equal(c.sizes[2], 256);
    assert_int_equal(c.sizes[3], 1000 - 3 * 256);

    /* A mix of long pieces: the concatenation is exactly glibc's output. */
    char big[3000];
    for (size_t i = 0; i < sizeof(big) - 1; i++)
        big[i] = (char)('a' + i % 26);
    big[sizeof(big) - 1] = 0;
    const char *fmt = "start %s |%-700d|%.600d|%s| %#0900llx end";
    int n = cbprintf(&c, fmt, big, -1, 2, "mid", 0x123ULL);
    int rn2 = unchecked(ref, sizeof(ref), fmt, big, -1, 2, "mid", 0x123ULL);
    assert_int_equal(n, rn2);
    assert_int_equal(c.len, (size_t)n);
    assert_memory_equal(c.out, ref, (size_t)n);
    assert_true(c.calls >= (unsigned)(n + XENKIT_PRINTF_CHUNK - 1) / XENKIT_PRINTF_CHUNK);
    for (unsigned i = 0; i + 1 < c.calls && i < ARRAY_SIZE(c.sizes); i++)
        assert_int_equal(c.sizes[i], XENKIT_PRINTF_CHUNK); /* only the last one is short */
}

static void discard(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    (void)s;
    (void)n;
}

static int cb_discard(const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vcbprintf(discard, NULL, fmt, ap);
    va_end(ap);
    return n;
}

static void test_overflow_int_max(void **state)
{
    (void)state;
    /* Exactly INT_MAX bytes is fine; one more makes the result -1. */
    assert_int_equal(cb_discard("%*d", INT_MAX, 1), INT_MAX);
    assert_int_equal(cb_discard("%*d%c", INT_MAX, 1, 'x'), -1);
}

static void test_console(void **state)
{
    (void)state;
    char big[1001];

    fake_kernel_reset();
    assert_int_equal(printf("x=%d %s\n", 5, "ok"), 7);
    assert_string_equal(fake_console, "x=5 ok\n");
    assert_int_equal(fake_console_calls, 1);

    fake_kernel_reset();
    for (size_t i = 0; i < 1000; i++)
        big[i] = (char)('0' + i % 10);
    big[1000] = 0;
    assert_int_equal(printf("<%s>", big), 1002);
    assert_int_equal(fake_console_len, 1002);
    assert_int_equal(fake_console[0], '<');
    assert_int_equal(ref_memcmp_sign(fake_console + 1, big, 1000), 0);
    assert_int_equal(fake_console[1001], '>');
    assert_int_equal(fake_console_calls, 4); /* buffered, not one call per piece */
    assert_true(fake_console_max_chunk <= XENKIT_PRINTF_CHUNK);

    fake_kernel_reset();
    assert_int_equal(printf("%s", ""), 0);
    assert_int_equal(fake_console_len, 0);

    fake_kernel_reset();
    assert_true(puts("line") >= 0);
    assert_true(puts("") >= 0);
    assert_string_equal(fake_console, "line\n\n");

    fake_kernel_reset();
    assert_int_equal(putchar('A'), 'A');
    assert_int_equal(putchar(0x142), 0x42);
    assert_int_equal(putchar(-1), 0xff);
    assert_int_equal(fake_console_len, 3);
    assert_memory_equal(fake_console, "AB\xff", 3);
}

static int call_vprintf(const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

static void test_vprintf(void **state)
{
    (void)state;
    fake_kernel_reset();
    assert_int_equal(call_vprintf("%05d|%-3s|%c", -42, "a", 'z'), 11);
    assert_string_equal(fake_console, "-0042|a  |z");
}

/* The random sweep: formats built from the parts C defines for each conversion, with
 * matching argument types, compared with glibc. */
enum { NUM_SWEEP = 100000 };

static uint64_t interesting(uint64_t *rng)
{
    static const uint64_t special[] = {0, 1, UINT64_MAX, INT64_MAX, (uint64_t)INT64_MIN,
                                       INT32_MAX, (uint64_t)INT32_MIN, UINT32_MAX, 0x80, 0xff,
                                       0x7fff, 0x8000, 0xffff, 10, 100, 1000000};
    uint64_t r = rng_next(rng);

    switch (r % 5) {
    case 0: return special[(r >> 8) % ARRAY_SIZE(special)];
    case 1: return (uint64_t)((int64_t)((r >> 8) % 601) - 300);
    case 2: return rng_next(rng) >> ((r >> 8) % 64);
    case 3: return (uint64_t)-(int64_t)(rng_next(rng) >> ((r >> 8) % 64));
    default: return rng_next(rng);
    }
}

static const char *const sweep_strings[] = {
    "", "a", "hello", "hello, world", "\x7f\x80\xff",
    "a string long enough to need more than one chunk of the vcbprintf buffer when it is "
    "printed with a wide field and a precision that does not cut it short..................",
};

#define CALL_STARS(val)                                     \
    do {                                                    \
        if (has_w && has_p)                                 \
            check(fmt, w, p, val);                          \
        else if (has_w)                                     \
            check(fmt, w, val);                             \
        else if (has_p)                                     \
            check(fmt, p, val);                             \
        else                                                \
            check(fmt, val);                                \
    } while (0)

static void test_random_sweep(void **state)
{
    (void)state;
    static const char convs[] = "diuxXocsp";
    static const char *const lengths[] = {"", "hh", "h", "l", "ll", "z", "t", "j"};
    uint64_t rng = 0xC0FFEE;
    char fmt[64];

    for (int iter = 0; iter < NUM_SWEEP; iter++) {
        char conv = convs[rng_next(&rng) % (sizeof(convs) - 1)];
        bool integer = conv != 'c' && conv != 's' && conv != 'p';
        bool is_signed = conv == 'd' || conv == 'i';
        const char *flag_set = integer ? (is_signed ? "-0+ " : "-0+ #")
                                       : (conv == 'p' ? "-+ " : "-");
        size_t len = 0;
        int w = 0, p = 0;
        bool has_w = false, has_p = false;

        fmt[len++] = '<';
        fmt[len++] = '%';
        for (const char *f = flag_set; *f; f++)
            if (rng_next(&rng) % 3 == 0)
                fmt[len++] = *f;
        switch (rng_next(&rng) % 3) {
        case 0: break;
        case 1: len += (size_t)unchecked(fmt + len, 8, "%d", (int)(rng_next(&rng) % 40)); break;
        default:
            fmt[len++] = '*';
            has_w = true;
            w = (int)(rng_next(&rng) % 81) - 40;
        }
        if (conv != 'c' && conv != 'p') {
            switch (rng_next(&rng) % 4) {
            case 0: break;
            case 1: fmt[len++] = '.'; break;
            case 2:
                len += (size_t)unchecked(fmt + len, 8, ".%d", (int)(rng_next(&rng) % 30));
                break;
            default:
                fmt[len++] = '.';
                fmt[len++] = '*';
                has_p = true;
                p = (int)(rng_next(&rng) % 40) - 8;
            }
        }
        const char *lm = integer ? lengths[rng_next(&rng) % ARRAY_SIZE(lengths)] : "";
        for (; *lm; lm++)
            fmt[len++] = *lm;
        fmt[len++] = conv;
        fmt[len++] = '>';
        fmt[len] = 0;

        uint64_t v = interesting(&rng);
        const char *l = fmt + len - 2; /* the length modifier ends just before conv */
        int size_class = l[0] == 'h' ? (l[-1] == 'h' ? 1 : 2)
                       : (l[0] == 'l' || l[0] == 'z' || l[0] == 't' || l[0] == 'j') ? 8 : 4;
        if (conv == 's')
            CALL_STARS(sweep_strings[v % ARRAY_SIZE(sweep_strings)]);
        else if (conv == 'p')
            CALL_STARS((void *)(uintptr_t)(v % 3 == 0 ? 0 : v));
        else if (conv == 'c')
            CALL_STARS((int)(v & 0xff) == 0 ? 'x' : (int)v);
        else if (is_signed && size_class == 8)
            CALL_STARS((long long)v);
        else if (is_signed)
            CALL_STARS((int)v);
        else if (size_class == 8)
            CALL_STARS((unsigned long long)v);
        else
            CALL_STARS((unsigned)v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_basic),
        cmocka_unit_test(test_table_flags_width_precision),
        cmocka_unit_test(test_table_star),
        cmocka_unit_test(test_table_length),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_null_string),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_vcbprintf_chunks),
        cmocka_unit_test(test_overflow_int_max),
        cmocka_unit_test(test_console),
        cmocka_unit_test(test_vprintf),
        cmocka_unit_test(test_random_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
