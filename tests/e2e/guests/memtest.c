/*
 * The memtest guest: exercises the heap over most of the domain's RAM.
 *
 * Default: three rounds of allocating objects of mixed sizes (the try_ variants of malloc,
 * calloc, aligned_alloc: they return NULL instead of panicking)
 * until less than 1/16 of the pages are left, each filled with a pattern derived from its
 * address; then every object is verified, half are freed, a quarter are resized with realloc
 * (contents checked), everything is verified and freed, and the free page count must be back
 * where it started. Prints "memtest ok: N rounds, peak X of Y MiB" and powers off.
 *
 * Command-line words select the failure modes the tests expect to crash:
 *   memtest.oom          malloc 1 MiB at a time until the heap panics "out of memory"
 *   memtest.double-free  free an object twice (panics "double free")
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenkit/app.h>
#include <xenkit/malloc.h>
#include <xenkit/panic.h>

struct obj {
    uint64_t *p;
    size_t size; /* bytes, a multiple of 8 */
    size_t align;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Each word holds its own address, mixed with the round: an object written at the wrong
 * place, or overwritten by a neighbour, shows up. */
static uint64_t pattern(const uint64_t *w, unsigned round)
{
    return (uint64_t)(uintptr_t)w * 0x9E3779B97F4A7C15ull + round;
}

static void fill(const struct obj *o, unsigned round)
{
    for (size_t i = 0; i < o->size / 8; i++)
        o->p[i] = pattern(&o->p[i], round);
}

static void verify(const struct obj *o, unsigned round, const uint64_t *was, size_t words)
{
    /* was: where the object lived when it was filled (realloc may move it). */
    for (size_t i = 0; i < words; i++)
        if (o->p[i] != pattern(&was[i], round))
            panic("memtest: object %p (%zu bytes) damaged at word %zu", (void *)o->p, o->size, i);
}

static size_t random_size(void)
{
    uint64_t r = rng();
    switch (r % 10) {
    case 0:
        return 32768 + (r >> 8) % (256 * 1024);
    case 1:
    case 2:
    case 3:
        return 1024 + (r >> 8) % (16 * 1024);
    default:
        return 8 + (r >> 8) % 1000;
    }
}

static bool has_word(const char *line, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = line; (p = strstr(p, word)) != NULL; p += n)
        if ((p == line || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
            return true;
    return false;
}

static int oom(void)
{
    /* Bounded only so the function can return: malloc panics long before. */
    for (size_t mib = 1; mib < ((size_t)1 << 20); mib++) {
        char *p = malloc(1 << 20);
        memset(p, 0xa5, 1 << 20);
        printf("memtest: %zu MiB allocated\n", mib);
    }
    return 1;
}

static int double_free(void)
{
    char *p = malloc(100);
    char *q = malloc(100);
    free(p);
    printf("memtest: freeing %p a second time\n", (void *)p);
    free(p);
    free(q);
    return 1;
}

int app_main(const char *cmdline)
{
    if (has_word(cmdline, "memtest.oom"))
        return oom();
    if (has_word(cmdline, "memtest.double-free"))
        return double_free();

    struct malloc_stats st0, st;
    malloc_trim();
    malloc_get_stats(&st0);
    size_t total_pages = st0.free_pages;
    size_t max_objs = 16384;
    struct obj *objs = calloc(max_objs, sizeof(*objs));
    size_t peak = 0;
    const unsigned rounds = 3;
    struct malloc_stats base; /* with objs allocated: every round must come back to this */
    malloc_trim();
    malloc_get_stats(&base);

    for (unsigned round = 1; round <= rounds; round++) {
        size_t n = 0, bytes = 0;
        unsigned failures = 0;
        malloc_get_stats(&st);
        while (n < max_objs && failures < 20 && st.free_pages > total_pages / 16) {
            struct obj o = { NULL, random_size() & ~(size_t)7, 16 };
            uint64_t kind = rng() % 8;
            if (kind == 0) {
                o.p = try_calloc(1, o.size);
                if (o.p)
                    for (size_t i = 0; i < o.size / 8; i++)
                        if (o.p[i] != 0)
                            panic("memtest: calloc(%zu) not zeroed at word %zu", o.size, i);
            } else if (kind == 1) {
                o.align = (size_t)1 << (4 + rng() % 10); /* 16 .. 8192 */
                o.p = try_aligned_alloc(o.align, o.size);
                if (o.p && (uintptr_t)o.p % o.align)
                    panic("memtest: aligned_alloc(%zu, %zu) = %p", o.align, o.size, (void *)o.p);
            } else {
                o.p = try_malloc(o.size);
            }
            if (o.p == NULL) {
                failures++;
                continue;
            }
            if ((uintptr_t)o.p % 16)
                panic("memtest: %p is not 16-byte aligned", (void *)o.p);
            fill(&o, round);
            objs[n++] = o;
            bytes += o.size;
            malloc_get_stats(&st);
        }
        size_t used = total_pages - st.free_pages;
        if (used > peak)
            peak = used;
        for (size_t i = 0; i < n; i++)
            verify(&objs[i], round, objs[i].p, objs[i].size / 8);
        /* Free every other object, resize a quarter of the rest. */
        for (size_t i = 0; i < n; i += 2) {
            free(objs[i].p);
            objs[i].p = NULL;
        }
        for (size_t i = 1; i < n; i += 4) {
            struct obj *o = &objs[i];
            size_t old_words = o->size / 8;
            uint64_t *before = o->p;
            uint64_t saved_first = o->p[0];
            size_t size = (rng() % 2 ? o->size * 2 : o->size / 2 + 8) & ~(size_t)7;
            uint64_t *q = try_realloc(o->p, size);
            if (q == NULL)
                continue;
            size_t keep = size / 8 < old_words ? size / 8 : old_words;
            if (q[0] != saved_first)
                panic("memtest: realloc lost the contents of %p", (void *)before);
            o->p = q;
            /* The words kept must still be the pattern of where they were written. */
            struct obj moved = { q, keep * 8, o->align };
            verify(&moved, round, before, keep);
            o->size = size;
            fill(o, round);
        }
        for (size_t i = 1; i < n; i += 2) {
            verify(&objs[i], round, objs[i].p, objs[i].size / 8);
            free(objs[i].p);
        }
        malloc_trim();
        malloc_get_stats(&st);
        if (st.free_pages != base.free_pages || st.live_objects != base.live_objects)
            panic("memtest: round %u leaked: %zu pages free (was %zu), %zu objects live (was %zu)",
                  round, st.free_pages, base.free_pages, st.live_objects, base.live_objects);
        printf("memtest: round %u: %zu objects, %zu KiB in objects, %zu of %zu KiB pages used\n",
               round, n, bytes >> 10, used * 4, total_pages * 4);
    }
    free(objs);
    printf("memtest ok: %u rounds, peak %zu of %zu MiB\n", rounds, peak / 256,
           total_pages / 256);
    return 0;
}
