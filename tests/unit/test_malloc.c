/* test_malloc.c: malloc & co. (lib/malloc.c on lib/heap.c) fed by the page allocator on a
 * host buffer: sizes, alignment, calloc, realloc, a seeded random sequence against a model,
 * out of memory, and the panics (double free, foreign and interior pointers, damage). */
#include <errno.h> /* EINVAL, the same value as ours */
#include <stdio.h> /* fprintf for the throughput figure, before our libc takes the names */
#include <time.h>

#include "tests/unit/mem_arena.h"

static int report(const char *what, double ops, double secs)
{
    return fprintf(stderr, "[ INFO     ] %s: %.0f ops/s\n", what, ops / secs);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

#include "tests/unit/test_common.h"

#include "lib/include/xenkit/malloc.h"
#include "lib/heap.h"
#include "lib/page_alloc.h"

#define PG 4096u
#define ARENA_BYTES ((size_t)32 << 20)

static uint8_t *arena;
static struct page_alloc pa;

static int group_setup(void **state)
{
    (void)state;
    arena = arena_map(ARENA_BYTES);
    return arena ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    arena_unmap(arena, ARENA_BYTES);
    return 0;
}

/* A fresh page allocator and heap for every test. */
static int setup(void **state)
{
    (void)state;
    fake_kernel_reset();
    struct pa_range ram = { (uint64_t)(uintptr_t)arena, ARENA_BYTES };
    page_alloc_init(&pa, &ram, 1, NULL, 0);
    struct page_source src;
    page_alloc_source(&pa, &src);
    malloc_init(&src);
    return 0;
}

/* Everything freed and trimmed: the page allocator is back where it started. */
static void assert_all_returned(void)
{
    struct malloc_stats st;
    malloc_trim();
    malloc_get_stats(&st);
    assert_int_equal(st.live_objects, 0);
    assert_int_equal(st.slab_pages, 0);
    assert_int_equal(st.large_pages, 0);
    assert_int_equal(pa.free_pages, pa.total_pages);
    page_alloc_check(&pa);
}

static void test_sizes_and_alignment(void **state)
{
    (void)state;
    static void *ptrs[9000];
    size_t n = 0;
    for (size_t size = 0; size <= 9000; size += (size < 300 ? 1 : 37)) {
        uint8_t *p = malloc(size);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        assert_true(malloc_usable_size(p) >= size);
        memset(p, 0x5a, size);
        ptrs[n++] = p;
    }
    /* Distinct and not overlapping: sort by address and compare neighbours. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (ptrs[j] < ptrs[i]) {
                void *t = ptrs[i];
                ptrs[i] = ptrs[j];
                ptrs[j] = t;
            }
    for (size_t i = 1; i < n; i++)
        assert_true((uint8_t *)ptrs[i - 1] + malloc_usable_size(ptrs[i - 1]) <=
                    (uint8_t *)ptrs[i]);
    for (size_t i = 0; i < n; i++)
        free(ptrs[i]);
    free(NULL);
    assert_all_returned();
}

static void test_calloc_zeroes(void **state)
{
    (void)state;
    /* Dirty memory first, so calloc has to zero it. */
    for (size_t size = 1; size < 20000; size = size * 3 + 1) {
        uint8_t *d = malloc(size);
        memset(d, 0xee, size);
        free(d);
        uint8_t *z = calloc(size, 1);
        for (size_t i = 0; i < size; i++)
            assert_int_equal(z[i], 0);
        free(z);
    }
    uint32_t *v = calloc(1000, sizeof(uint32_t));
    for (size_t i = 0; i < 1000; i++)
        assert_int_equal(v[i], 0);
    free(v);
    free(calloc(0, 5));
    free(calloc(5, 0));
    EXPECT_PANIC(calloc(SIZE_MAX / 2, 3), "calloc(");
    EXPECT_PANIC(calloc((size_t)1 << 33, (size_t)1 << 33), "size overflows");
    assert_null(try_calloc(SIZE_MAX / 2, 3));
    assert_all_returned();
}

static void test_aligned_alloc(void **state)
{
    (void)state;
    for (size_t align = 1; align <= ((size_t)4 << 20); align *= 2) {
        size_t sizes[] = { 1, 24, 100, 2016, 4096, 10000 };
        for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
            uint8_t *p = aligned_alloc(align, sizes[i]);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % align, 0);
            assert_int_equal((uintptr_t)p % 16, 0);
            memset(p, 0x11, sizes[i]);
            assert_true(malloc_usable_size(p) >= sizes[i]);
            free(p);
        }
    }
    void *p;
    assert_null(aligned_alloc(0, 16));
    assert_null(try_aligned_alloc(3, 16));
    assert_null(try_aligned_alloc(4096, ARENA_BYTES));
    p = try_aligned_alloc(8192, 100);
    assert_int_equal((uintptr_t)p % 8192, 0);
    free(p);
    assert_null(aligned_alloc(48, 16));
    p = (void *)1;
    assert_int_equal(posix_memalign(&p, 4, 16), EINVAL);
    assert_int_equal(posix_memalign(&p, 24, 16), EINVAL);
    assert_int_equal(posix_memalign(&p, 256, 1000), 0);
    assert_int_equal((uintptr_t)p % 256, 0);
    free(p);
    assert_all_returned();
}

static void test_realloc_keeps_contents(void **state)
{
    (void)state;
    assert_null(realloc(malloc(10), 0)); /* frees */
    uint8_t *p = realloc(NULL, 5);
    assert_non_null(p);
    size_t size = 5;
    for (size_t i = 0; i < size; i++)
        p[i] = (uint8_t)(i * 31);
    /* Grow through every class and into page runs, then shrink: contents survive. */
    while (size < 300000) {
        size_t next = size * 2 + 3;
        p = realloc(p, next);
        for (size_t i = 0; i < size; i++)
            assert_int_equal(p[i], (uint8_t)(i * 31));
        for (size_t i = 0; i < next; i++)
            p[i] = (uint8_t)(i * 31);
        size = next;
    }
    struct malloc_stats before, after;
    malloc_get_stats(&before);
    uint8_t *q = realloc(p, 10000); /* large shrink: in place, surplus pages given back */
    assert_ptr_equal(q, p);
    malloc_get_stats(&after);
    assert_true(after.large_pages < before.large_pages);
    for (size_t i = 0; i < 10000; i++)
        assert_int_equal(q[i], (uint8_t)(i * 31));
    q = realloc(q, 100); /* into a slab */
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(q[i], (uint8_t)(i * 31));
    free(q);
    assert_all_returned();
}

static void test_out_of_memory(void **state)
{
    (void)state;
    EXPECT_PANIC(malloc(SIZE_MAX), "out of memory: malloc(18446744073709551615) with");
    EXPECT_PANIC(malloc(ARENA_BYTES), "KiB free");
    assert_null(try_malloc(ARENA_BYTES));
    assert_null(try_malloc(SIZE_MAX - 10));
    EXPECT_PANIC(aligned_alloc((size_t)1 << 62, 16), "out of memory: aligned_alloc(16)");
    /* Fill memory with try_malloc, then the panicking malloc reports how little is left. */
    static void *blocks[20000];
    size_t n = 0;
    void *p;
    while (n < ARRAY_SIZE(blocks) && (p = try_malloc(n % 2 ? 3000 : 100000)) != NULL)
        blocks[n++] = p;
    assert_true(n < ARRAY_SIZE(blocks));
    while (n < ARRAY_SIZE(blocks) && (p = try_malloc(4000)) != NULL)
        blocks[n++] = p; /* the single pages left */
    while (n < ARRAY_SIZE(blocks) && (p = try_malloc(16)) != NULL)
        blocks[n++] = p; /* the crumbs */
    assert_true(n < ARRAY_SIZE(blocks));
    EXPECT_PANIC(malloc(16), "out of memory: malloc(16) with 0 KiB free");
    uint8_t *keep = blocks[0];
    assert_null(try_realloc(keep, 200000)); /* fails, keep untouched */
    for (size_t i = 0; i < n; i++)
        free(blocks[i]);
    assert_all_returned();
}

/* Page-multiple buffers take exactly their pages (no header page that would double the
 * buddy block): 1 MiB allocations fill all but the last MiB of the arena. */
static void test_big_buffers_fill_memory(void **state)
{
    (void)state;
    static void *bufs[64];
    size_t n = 0;
    while (n < ARRAY_SIZE(bufs) && (bufs[n] = try_malloc((size_t)1 << 20)) != NULL) {
        assert_int_equal((uintptr_t)bufs[n] % PG, 0);
        assert_int_equal(malloc_usable_size(bufs[n]), (size_t)1 << 20);
        n++;
    }
    assert_int_equal(n, ARENA_BYTES / (1 << 20) - 1); /* the metadata page costs one */
    for (size_t i = 0; i < n; i++)
        free(bufs[i]);
    assert_all_returned();
}

static void test_double_free_panics(void **state)
{
    (void)state;
    void *small = malloc(40);
    void *other = malloc(40); /* keeps the slab alive */
    free(small);
    EXPECT_PANIC(free(small), "double free");
    void *large = malloc(50000);
    free(large);
    EXPECT_PANIC(free(large), "free(");
    free(other);
}

static void test_bad_pointers_panic(void **state)
{
    (void)state;
    int local;
    EXPECT_PANIC(free(&local), "not a heap pointer");
    uint8_t *p = malloc(100);
    EXPECT_PANIC(free(p + 16), "not the start of a heap object");
    uint8_t *l = malloc(100000);
    EXPECT_PANIC(free(l + 4096), "not a live heap object"); /* page aligned, inside the run */
    EXPECT_PANIC(free(l + 4096 + 16), "not a live heap object");
    EXPECT_PANIC(realloc(l + 8, 10), "realloc(");
    /* An overflow backwards over the slab header. */
    uint8_t *page = (uint8_t *)((uintptr_t)p & ~(uintptr_t)4095);
    uint32_t saved;
    memcpy(&saved, page, 4);
    memset(page, 0x41, 4);
    EXPECT_PANIC(free(p), "bad magic");
    memcpy(page, &saved, 4);
    free(p);
    free(l);
}

static void test_empty_page_source(void **state)
{
    (void)state;
    /* A fresh heap with a page source that has nothing: every request is out of memory. */
    struct page_alloc empty;
    page_alloc_init(&empty, NULL, 0, NULL, 0);
    struct page_source src;
    page_alloc_source(&empty, &src);
    malloc_init(&src);
    EXPECT_PANIC(malloc(1), "out of memory: malloc(1) with 0 KiB free");
    assert_null(try_malloc(1));
}

/* Seeded random malloc/calloc/realloc/aligned_alloc/free against a model: every live object
 * is filled with its own byte, checked whole before it is freed or after it moves. */
struct obj {
    uint8_t *p;
    size_t size;
    uint8_t tag;
};

static void check_obj(const struct obj *o)
{
    for (size_t i = 0; i < o->size; i++)
        if (o->p[i] != o->tag)
            fail_msg("object %p (%zu bytes) damaged at %zu", (void *)o->p, o->size, i);
}

static size_t random_size(uint64_t r)
{
    switch (r % 10) {
    case 0:
        return (r >> 8) % 70000;            /* large */
    case 1:
    case 2:
        return (r >> 8) % 4000;
    default:
        return (r >> 8) % 300;              /* small, the common case */
    }
}

static void test_random_against_model(void **state)
{
    (void)state;
    enum { MAXLIVE = 600 };
    static struct obj live[MAXLIVE];
    size_t nlive = 0;
    uint64_t rng = 0xfeedbeef;

    for (int op = 0; op < 30000; op++) {
        uint64_t r = rng_next(&rng);
        unsigned kind = (unsigned)(r >> 60);
        if (nlive < MAXLIVE && kind < 7) {
            struct obj o = { NULL, random_size(r >> 4), (uint8_t)(1 + op % 251) };
            size_t align = 16;
            if (kind == 0) {
                o.p = calloc(1, o.size);
                for (size_t i = 0; i < o.size; i++)
                    assert_int_equal(o.p[i], 0);
            } else if (kind == 1) {
                align = (size_t)1 << ((r >> 40) % 14);
                o.p = aligned_alloc(align, o.size);
            } else {
                o.p = malloc(o.size);
            }
            assert_non_null(o.p);
            assert_int_equal((uintptr_t)o.p % (align > 16 ? align : 16), 0);
            assert_true(malloc_usable_size(o.p) >= o.size);
            memset(o.p, o.tag, o.size);
            live[nlive++] = o;
        } else if (nlive > 0 && kind < 10) {
            size_t i = (r >> 8) % nlive;
            struct obj *o = &live[i];
            size_t size = random_size(r >> 20);
            check_obj(o);
            uint8_t *q = realloc(o->p, size);
            if (size == 0) {
                assert_null(q);
                live[i] = live[--nlive];
                continue;
            }
            assert_non_null(q);
            for (size_t k = 0; k < (size < o->size ? size : o->size); k++)
                assert_int_equal(q[k], o->tag);
            memset(q, o->tag, size);
            o->p = q;
            o->size = size;
        } else if (nlive > 0) {
            size_t i = (r >> 8) % nlive;
            check_obj(&live[i]);
            free(live[i].p);
            live[i] = live[--nlive];
        }
        if (op % 3000 == 0) {
            for (size_t i = 0; i < nlive; i++)
                check_obj(&live[i]);
            page_alloc_check(&pa);
            struct malloc_stats st;
            malloc_get_stats(&st);
            assert_int_equal(st.live_objects, nlive);
            assert_int_equal(st.free_pages + st.slab_pages + st.large_pages, pa.total_pages);
        }
    }
    for (size_t i = 0; i < nlive; i++) {
        check_obj(&live[i]);
        free(live[i].p);
    }
    assert_all_returned();
}

/* Not a correctness test: the rate of small malloc/free pairs with 256 objects live. */
static void test_throughput(void **state)
{
    (void)state;
    static void *slot[256];
    uint64_t rng = 42;
    const int ops = 2000000;
    double t0 = now_s();
    for (int i = 0; i < ops; i++) {
        uint64_t r = rng_next(&rng);
        unsigned s = (unsigned)(r % 256);
        free(slot[s]);
        slot[s] = malloc((r >> 8) % 512);
    }
    double t1 = now_s();
    for (int i = 0; i < 256; i++)
        free(slot[i]);
    report("malloc+free (0..511 bytes)", ops, t1 - t0);
    assert_all_returned();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_sizes_and_alignment, setup),
        cmocka_unit_test_setup(test_calloc_zeroes, setup),
        cmocka_unit_test_setup(test_aligned_alloc, setup),
        cmocka_unit_test_setup(test_realloc_keeps_contents, setup),
        cmocka_unit_test_setup(test_out_of_memory, setup),
        cmocka_unit_test_setup(test_big_buffers_fill_memory, setup),
        cmocka_unit_test_setup(test_double_free_panics, setup),
        cmocka_unit_test_setup(test_bad_pointers_panic, setup),
        cmocka_unit_test_setup(test_empty_page_source, setup),
        cmocka_unit_test_setup(test_random_against_model, setup),
        cmocka_unit_test_setup(test_throughput, setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
