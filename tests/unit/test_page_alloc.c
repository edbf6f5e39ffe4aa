/* test_page_alloc.c: the buddy page allocator lib/page_alloc.c on a host buffer: accounting,
 * reserved ranges, zones, a seeded random alloc/free sequence against a model, and the
 * panics (double free, foreign and misaligned pointers, a damaged free list). */
#include "tests/unit/mem_arena.h"

#include "tests/unit/test_common.h"

#include "lib/page_alloc.h"

#define PG 4096u
#define ARENA_PAGES 4096u /* 16 MiB */

static uint8_t *arena;
static struct page_alloc pa;

static uint64_t A(size_t page)
{
    return (uint64_t)(uintptr_t)(arena + (size_t)page * PG);
}

static int setup(void **state)
{
    (void)state;
    fake_kernel_reset();
    arena = arena_map((size_t)ARENA_PAGES * PG);
    return arena ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    arena_unmap(arena, (size_t)ARENA_PAGES * PG);
    return 0;
}

static void init_whole(void)
{
    struct pa_range ram = { A(0), (uint64_t)ARENA_PAGES * PG };
    page_alloc_init(&pa, &ram, 1, NULL, 0);
}

static void test_init_accounting(void **state)
{
    (void)state;
    init_whole();
    assert_int_equal(pa.nzones, 1);
    assert_int_equal(pa.meta_pages, 1); /* 4096 pages need one page of metadata */
    assert_int_equal(pa.total_pages, ARENA_PAGES - 1);
    assert_int_equal(pa.free_pages, pa.total_pages);
    assert_int_equal(pa.dropped_pages, 0);
    page_alloc_check(&pa);
    /* The metadata page is not ours to hand out or free. */
    assert_true(page_alloc_owns(&pa, arena + PG));
    assert_false(page_alloc_owns(&pa, arena));
    assert_false(page_alloc_owns(&pa, arena + (size_t)ARENA_PAGES * PG));
}

static void test_alloc_everything(void **state)
{
    (void)state;
    init_whole();
    uint64_t total = pa.free_pages;
    static void *pages[ARENA_PAGES];
    size_t n = 0;
    void *p;

    while ((p = page_alloc(&pa, 1)) != NULL) {
        assert_true(page_alloc_owns(&pa, p));
        assert_int_equal((uintptr_t)p % PG, 0);
        memset(p, (int)(n & 0xff), PG); /* must not damage the allocator */
        pages[n++] = p;
    }
    assert_int_equal(n, total);
    assert_int_equal(pa.free_pages, 0);
    assert_null(page_alloc(&pa, 1));
    page_alloc_check(&pa);
    for (size_t i = 0; i < n; i += 2)
        page_free(&pa, pages[i], 1);
    for (size_t i = 1; i < n; i += 2)
        page_free(&pa, pages[i], 1);
    assert_int_equal(pa.free_pages, total);
    page_alloc_check(&pa);
    /* Everything coalesced again: 4095 pages = 2048 + 1024 + ... + 1. */
    assert_int_equal(page_alloc_largest_free(&pa), 2048);
}

static void test_odd_sizes_and_tail(void **state)
{
    (void)state;
    init_whole();
    uint64_t total = pa.free_pages;
    /* 3 pages take a 4-page block and give one back. */
    void *a = page_alloc(&pa, 3);
    assert_non_null(a);
    assert_int_equal(pa.free_pages, total - 3);
    void *b = page_alloc(&pa, 1000);
    assert_non_null(b);
    assert_int_equal(pa.free_pages, total - 1003);
    page_alloc_check(&pa);
    /* Freeing part of a run is allowed: the middle, then the ends. */
    page_free(&pa, (uint8_t *)b + 100 * PG, 500);
    page_free(&pa, b, 100);
    page_free(&pa, (uint8_t *)b + 600 * PG, 400);
    page_free(&pa, a, 3);
    assert_int_equal(pa.free_pages, total);
    page_alloc_check(&pa);
    assert_null(page_alloc(&pa, 0));
    assert_null(page_alloc(&pa, ARENA_PAGES));        /* more than there is */
    assert_null(page_alloc(&pa, (size_t)1 << 40));   /* absurd */
    assert_null(page_alloc(&pa, SIZE_MAX));
}

static void test_run_length(void **state)
{
    (void)state;
    init_whole();
    uint8_t *a = page_alloc(&pa, 5);
    uint8_t *b = page_alloc(&pa, 1);
    assert_int_equal(page_run_length(&pa, a), 5);
    assert_int_equal(page_run_length(&pa, b), 1);
    assert_int_equal(page_run_length(&pa, a + PG), 0);  /* inside a run */
    assert_int_equal(page_run_length(&pa, a + 8), 0);   /* not page aligned */
    page_free(&pa, a, 2);                                /* the head: the rest is a run */
    assert_int_equal(page_run_length(&pa, a), 0);       /* free */
    assert_int_equal(page_run_length(&pa, a + 2 * PG), 3);
    page_free(&pa, a + 4 * PG, 1);                       /* the tail */
    assert_int_equal(page_run_length(&pa, a + 2 * PG), 2);
    page_free(&pa, a + 2 * PG, 2);
    page_free(&pa, b, 1);
    assert_int_equal(page_run_length(&pa, b), 0);
    page_alloc_check(&pa);
}

static void test_reserved_ranges(void **state)
{
    (void)state;
    /* Two RAM ranges given out of order and overlapping, a zero-length one; reserved: a
     * partial page (widens to the whole page), a range spanning the gap, one past the end. */
    struct pa_range ram[] = {
        { A(1000), 3000ull * PG },
        { A(0), 1200ull * PG + 123 }, /* overlaps the first; the partial last page is unused */
        { A(50), 0 },
    };
    struct pa_range res[] = {
        { A(10) + 7, 10 },              /* page 10 */
        { A(2000) - 5, PG + 10 },       /* pages 1999..2001 */
        { A(3999), 100ull * PG },       /* page 3999 and beyond the RAM */
    };
    page_alloc_init(&pa, ram, 3, res, 3);
    page_alloc_check(&pa);
    assert_int_equal(pa.nzones, 3); /* [0,10) [11,1999) [2002,3999) */
    assert_int_equal(pa.total_pages + pa.meta_pages, 10 + 1988 + 1997);

    void *p;
    while ((p = page_alloc(&pa, 1)) != NULL) {
        size_t page = (size_t)((uint8_t *)p - arena) / PG;
        assert_true(page != 10 && (page < 1999 || page > 2001) && page < 3999);
    }
}

static void test_too_many_zones(void **state)
{
    (void)state;
    /* 40 RAM ranges of growing size, separated by one-page holes: the 32 largest are kept. */
    struct pa_range ram[40];
    size_t page = 0;
    for (unsigned i = 0; i < 40; i++) {
        ram[i] = (struct pa_range){ A(page), (uint64_t)(i + 3) * PG };
        page += i + 4;
    }
    page_alloc_init(&pa, ram, 40, NULL, 0);
    assert_int_equal(pa.nzones, PAGE_ALLOC_MAX_ZONES);
    uint64_t dropped = 0;
    for (unsigned i = 0; i < 8; i++)
        dropped += i + 3;
    assert_int_equal(pa.dropped_pages, dropped);
    page_alloc_check(&pa);
    for (unsigned i = 1; i < pa.nzones; i++)
        assert_true(pa.zones[i - 1].base < pa.zones[i].base);
}

static void test_add_later(void **state)
{
    (void)state;
    struct pa_range ram = { A(0), 1024ull * PG };
    page_alloc_init(&pa, &ram, 1, NULL, 0);
    uint64_t before = pa.total_pages;
    page_alloc_add(&pa, A(2048), 2048ull * PG);
    assert_int_equal(pa.nzones, 2);
    assert_int_equal(pa.total_pages, before + 2047);
    page_alloc_add(&pa, A(512), 1024ull * PG); /* overlaps zone 0: left out */
    assert_int_equal(pa.nzones, 2);
    assert_int_equal(pa.dropped_pages, 1024);
    void *big = page_alloc(&pa, 1000); /* needs a 1024-page block: only the new zone has one */
    assert_non_null(big);
    assert_true((uint8_t *)big >= arena + 2048 * PG);
    page_free(&pa, big, 1000);
    page_alloc_check(&pa);
}

/* Seeded random allocations and frees of 1..300 pages; every live run is filled with its own
 * tag and checked before it is freed (overlapping runs would damage each other's tags). */
struct run {
    uint8_t *p;
    size_t n;
    uint8_t tag;
};

static void fill(const struct run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        r->p[i * PG] = r->tag;
        r->p[i * PG + PG - 1] = (uint8_t)(255 - r->tag);
    }
}

static void verify(const struct run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        int first = r->p[i * PG], last = r->p[i * PG + PG - 1];
        if (first != r->tag || last != 255 - r->tag)
            fail_msg("run %p page %zu damaged", (void *)r->p, i);
    }
}

static void test_random_against_model(void **state)
{
    (void)state;
    init_whole();
    uint64_t total = pa.free_pages;
    static struct run live[512];
    size_t nlive = 0, used = 0;
    uint64_t rng = 0x5eed1234;

    for (int op = 0; op < 40000; op++) {
        uint64_t r = rng_next(&rng);
        if (nlive < 512 && (r & 1)) {
            /* Mostly small, sometimes large. */
            size_t n = (r >> 8) % 8 == 0 ? 1 + (r >> 16) % 300 : 1 + (r >> 16) % 4;
            uint8_t *p = page_alloc(&pa, n);
            if (p == NULL) {
                assert_true(n > pa.free_pages || page_alloc_largest_free(&pa) < n);
                continue;
            }
            live[nlive] = (struct run){ p, n, (uint8_t)(op * 7 + 1) };
            fill(&live[nlive]);
            nlive++;
            used += n;
        } else if (nlive > 0) {
            size_t i = (r >> 8) % nlive;
            verify(&live[i]);
            page_free(&pa, live[i].p, live[i].n);
            used -= live[i].n;
            live[i] = live[--nlive];
        }
        assert_int_equal(pa.free_pages, total - used);
        if (op % 5000 == 0)
            page_alloc_check(&pa);
    }
    while (nlive > 0) {
        verify(&live[nlive - 1]);
        page_free(&pa, live[nlive - 1].p, live[nlive - 1].n);
        nlive--;
    }
    assert_int_equal(pa.free_pages, total);
    page_alloc_check(&pa);
}

static void test_double_free_panics(void **state)
{
    (void)state;
    init_whole();
    void *p = page_alloc(&pa, 4);
    page_free(&pa, p, 4);
    EXPECT_PANIC(page_free(&pa, p, 4), "double free");
    void *q = page_alloc(&pa, 2);
    EXPECT_PANIC(page_free(&pa, q, 3), "double free"); /* one page too many */
}

static void test_foreign_pointers_panic(void **state)
{
    (void)state;
    init_whole();
    int local;
    EXPECT_PANIC(page_free(&pa, &local, 1), "page_free(");
    EXPECT_PANIC(page_free(&pa, arena, 1), "not a page of the allocator"); /* metadata */
    EXPECT_PANIC(page_free(&pa, arena + 5 * PG + 8, 1), "not page aligned");
    EXPECT_PANIC(page_free(&pa, arena + (ARENA_PAGES - 2) * PG, 5), "past the end");
}

static void test_damaged_free_list_panics(void **state)
{
    (void)state;
    init_whole();
    void *p = page_alloc(&pa, 1);
    void *q = page_alloc(&pa, 1);
    (void)q;
    page_free(&pa, p, 1); /* p is now the head of the order-0 list (its buddy q is in use) */
    /* A use-after-free write over p's links: the list now points into the middle of memory. */
    ((void **)p)[0] = arena + 77 * PG + 16;
    void *again = page_alloc(&pa, 1);
    assert_ptr_equal(again, p);
    EXPECT_PANIC(page_alloc(&pa, 1), "free list of order 0 corrupt");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_accounting),
        cmocka_unit_test(test_alloc_everything),
        cmocka_unit_test(test_odd_sizes_and_tail),
        cmocka_unit_test(test_run_length),
        cmocka_unit_test(test_reserved_ranges),
        cmocka_unit_test(test_too_many_zones),
        cmocka_unit_test(test_add_later),
        cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_double_free_panics),
        cmocka_unit_test(test_foreign_pointers_panic),
        cmocka_unit_test(test_damaged_free_list_panics),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
