/*
 * The pack file's CRC-32C (records' checksums; SSE4.2's crc32 instruction when the CPU has
 * it, slice-by-8 otherwise) and its index from object hash to record offset (open
 * addressing, see struct index in store_pack_int.h). Split out of store_pack.c: both are
 * self-contained, and the open scan and the GC use them too.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "xenstore/store_pack_int.h"

/* ---- CRC-32C (Castagnoli), slice-by-8 ------------------------------------------------------ */

static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
static bool crc_hw; /* use crc32c_hw (SSE4.2) */
#endif

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    crc_hw = __builtin_cpu_supports("sse4.2");
#endif
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* SSE4.2's crc32 instruction computes the same CRC-32C, 8 bytes a step, with no table: the
 * slice-by-8 tables (8 KiB) are cold at every commit on a busy machine (pack_crc32c was ~6%
 * of the daemon's user time for writes). Chosen at run time (sse4.2 is not in the baseline
 * x86-64 target). */
#define PACK_CRC_HW 1
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p,
                                                             size_t len)
{
    uint64_t c = crc;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len-- > 0)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

uint32_t pack_crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = data;
    crc = ~crc;
#ifdef PACK_CRC_HW
    if (crc_hw)
        return ~crc32c_hw(crc, p, len);
#endif
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
              crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^ crc_tab[3][p[4]] ^
              crc_tab[2][p[5]] ^ crc_tab[1][p[6]] ^ crc_tab[0][p[7]];
        p += 8;
        len -= 8;
    }
    while (len-- > 0)
        crc = (crc >> 8) ^ crc_tab[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

/* Big arrays are mapped on their own with transparent huge pages asked for: a put probes
 * the index at a random place, and with 4 KiB pages each probe of a big index also missed
 * the TLB; and growing it faulted its pages in one by one (85% of vxenstored's page faults
 * on plain writes). */
#define IX_MAP_MIN (2u << 20)

static void *ix_alloc(size_t bytes, size_t *mapped)
{
    *mapped = 0;
    if (bytes >= IX_MAP_MIN) {
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED) {
#ifdef MADV_HUGEPAGE
            madvise(p, bytes, MADV_HUGEPAGE); /* advice only: fine if refused */
#endif
            *mapped = bytes;
            return p;
        }
    }
    return calloc(1, bytes);
}

static void ix_release(void *p, size_t mapped)
{
    if (p != NULL && mapped)
        munmap(p, mapped);
    else
        free(p);
}

/* ---- the next table, faulted in ahead ------------------------------------------------------ *
 * A doubling's new table is written at random places (each insertion moves IX_MOVE_STEP old
 * slots over), so its pages used to be faulted in one at a time by the commits right after
 * the doubling: in the bench's 1,000-domain write test the ~45 writes after the doubling to a
 * 3 MB table each took ~35 us more (most of that line's p99). Faulting the new table in at
 * once would stop the commit that crosses 70% instead (measured here: 1.4 ms for 3 MB, 27 ms
 * for 12 MB, 83 ms for 48 MB). So when a table whose successor will be mapped
 * (>= IX_MAP_MIN) passes half full, the successor is mapped and a short-lived thread faults
 * its pages in (MADV_POPULATE_WRITE: page tables only, the memory stays zero, nothing else
 * touches it meanwhile); the doubling takes it, joining the thread, which is long done by
 * then (the load goes from 50% to 70% over a fifth of the table's insertions). Without the
 * thread (a kernel older than 5.14 refuses the advice, or pthread_create fails) the table is
 * used all the same and faults in lazily as before. Cost: the successor's memory is held from
 * 50% instead of 70%; the peak (both tables while entries move) is unchanged. */

struct ix_populate {
    void *p;
    size_t len;
};

static void *ix_populate_main(void *arg)
{
    struct ix_populate *a = arg;
#ifdef MADV_POPULATE_WRITE
    madvise(a->p, a->len, MADV_POPULATE_WRITE); /* advice only: fine if refused */
#endif
    free(a);
    return NULL;
}

static void ix_prepare_next(struct index *ix)
{
    size_t bytes = (ix->mask + 1) * 2 * sizeof(*ix->e);
    size_t mapped;
    ix->next = ix_alloc(bytes, &mapped);
    ix->next_mapped = mapped;
    if (ix->next == NULL || !mapped)
        return;
    struct ix_populate *a = malloc(sizeof(*a));
    if (a == NULL)
        return;
    *a = (struct ix_populate){ix->next, mapped};
    if (pthread_create(&ix->next_thread, NULL, ix_populate_main, a) == 0)
        ix->next_live = true;
    else
        free(a);
}

static void ix_join_next(struct index *ix)
{
    if (ix->next_live)
        pthread_join(ix->next_thread, NULL);
    ix->next_live = false;
}

int pack_ix_init(struct index *ix, size_t cap)
{
    ix->old = NULL;
    ix->old_mask = ix->old_mapped = ix->moved = 0;
    ix->next = NULL;
    ix->next_mapped = 0;
    ix->next_live = false;
    size_t n = 1024;
    while (n < cap * 2)
        n *= 2;
    ix->e = ix_alloc(n * sizeof(*ix->e), &ix->e_mapped);
    if (ix->e == NULL)
        return -ENOMEM;
    ix->mask = n - 1;
    ix->count = 0;
    return 0;
}

void pack_ix_free(struct index *ix)
{
    ix_join_next(ix);
    ix_release(ix->next, ix->next_mapped);
    ix->next = NULL;
    ix->next_mapped = 0;
    ix_release(ix->e, ix->e_mapped);
    ix_release(ix->old, ix->old_mapped);
    ix->e = ix->old = NULL;
    ix->e_mapped = ix->old_mapped = 0;
}

/* Put into e (not counted: the caller counts new entries). false: it was there. */
static bool ix_put_nogrow(struct index *ix, uint64_t k0, uint64_t k1, uint64_t off)
{
    size_t i = ix_home_k0(ix, k0);
    while (ix->e[i].off != 0) {
        if (ix_entry_is(&ix->e[i], k0, k1))
            return false;
        i = (i + 1) & ix->mask;
    }
    ix->e[i] = (struct ix_entry){k0, k1, off};
    return true;
}

/* Old slots moved per insertion: a growth ends after old/IX_MOVE_STEP insertions, while e
 * goes from 35% to ~41% full, well before its own 70%. */
#define IX_MOVE_STEP 16

static void ix_move(struct index *ix, size_t slots)
{
    size_t n = ix->old_mask + 1;
    size_t end = ix->moved + slots < n ? ix->moved + slots : n;
    for (size_t i = ix->moved; i < end; i++)
        if (ix->old[i].off != 0)
            ix_put_nogrow(ix, ix->old[i].k0, ix->old[i].k1, ix->old[i].off);
    ix->moved = end;
    if (end == n) {
        ix_release(ix->old, ix->old_mapped);
        ix->old = NULL;
        ix->old_mapped = 0;
    }
}

void pack_ix_settle(struct index *ix)
{
    if (ix->old != NULL)
        ix_move(ix, ix->old_mask + 1);
}

int pack_ix_reserve(struct index *ix)
{
    if (ix->old != NULL)
        ix_move(ix, IX_MOVE_STEP);
    if ((ix->count + 1) * 10 <= (ix->mask + 1) * 7) {
        if (ix->next == NULL && ix->old == NULL && (ix->count + 1) * 2 > ix->mask + 1 &&
            (ix->mask + 1) * 2 * sizeof(*ix->e) >= IX_MAP_MIN)
            ix_prepare_next(ix); /* see "ahead" above */
        return 0;
    }
    pack_ix_settle(ix); /* (cannot happen: a growth ends long before) */
    struct index n = {0};
    if (ix->next != NULL) {
        ix_join_next(ix);
        n.e = ix->next;
        n.e_mapped = ix->next_mapped;
        n.mask = (ix->mask + 1) * 2 - 1;
        ix->next = NULL;
        ix->next_mapped = 0;
    } else if (pack_ix_init(&n, ix->mask + 1) < 0) {
        return -ENOMEM;
    }
    n.count = ix->count;
    n.old = ix->e;
    n.old_mask = ix->mask;
    n.old_mapped = ix->e_mapped;
    n.moved = 0;
    *ix = n;
    ix_move(ix, IX_MOVE_STEP);
    return 0;
}

int pack_ix_put(struct index *ix, const struct store_hash *h, uint64_t off)
{
    if (pack_ix_reserve(ix) < 0)
        return -ENOMEM;
    uint64_t k0, k1;
    ix_key(h, &k0, &k1);
    if (ix->old != NULL && ix_find_in(ix->old, ix->old_mask, k0, k1) != 0)
        return 0;
    if (ix_put_nogrow(ix, k0, k1, off))
        ix->count++;
    return 0;
}

size_t pack_ix_slot(const struct index *ix, const struct store_hash *h, bool *found,
                    uint64_t *off)
{
    uint64_t k0, k1;
    ix_key(h, &k0, &k1);
    size_t i = ix_home_k0(ix, k0);
    for (; ix->e[i].off != 0; i = (i + 1) & ix->mask) {
        if (ix_entry_is(&ix->e[i], k0, k1)) {
            *found = true;
            *off = ix->e[i].off;
            return i;
        }
    }
    *off = ix->old != NULL ? ix_find_in(ix->old, ix->old_mask, k0, k1) : 0;
    *found = *off != 0;
    return i;
}
