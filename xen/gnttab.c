/*
 * Grant tables v1 for the guest: the hypercall side of xen/gnttab_core.c (refs, entries,
 * revocation) and xen/gntmap_slots.c (the foreign-map window). See xen/gnttab.h for where
 * the frames and the window live and why.
 *
 * Everything Xen returns is checked: query_size's status and sizes, the memory map's entry
 * count, each map/unmap op's own status (a batch hypercall can return 0 with individual ops
 * failed) and the handles it gives us are only ever passed back to Xen.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/memory.h>
#include <xen/sched.h>
#include <xen/errno.h>

#include "xen/gntmap_slots.h"
#include "xen/gnttab.h"
#include "xen/gnttab_core.h"
#include "xen/hypercall.h"

/* Xen returns GNTST_eagain for a page that is paged out; it is paged back in meanwhile. */
#define EAGAIN_RETRIES 1000
/* Map/unmap ops per hypercall: bounds the stack (32 bytes per op). */
#define MAP_BATCH 16
/* Entries of the memory map we look at; libxl's PVH maps have a handful. */
#define E820_MAX 64
#define E820_RAM 1

struct e820_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
} __attribute__((packed));

static struct gnttab_core core;
static struct gntmap_slots slots;
static bool ready;

static void compiler_wmb(void *ctx)
{
    (void)ctx;
    /* x86 makes stores visible in program order; only the compiler could reorder them. */
    __asm__ volatile("" ::: "memory");
}

static const struct gnttab_core_ops core_ops = { compiler_wmb, NULL };

int gnttab_query_size(uint32_t *nr_frames, uint32_t *max_frames)
{
    struct gnttab_query_size q = { .dom = DOMID_SELF };
    long rc = HYPERVISOR_grant_table_op(GNTTABOP_query_size, &q, 1);
    if (rc != 0)
        return (int)rc;
    if (q.status != GNTST_okay)
        return q.status;
    *nr_frames = q.nr_frames;
    *max_frames = q.max_nr_frames;
    return 0;
}

/* Do [base, base + len) and Xen's memory map for us share anything? A map we cannot read is
 * treated as a conflict: we would be guessing. */
static bool range_is_free(const struct e820_entry *map, uint32_t n, uint64_t base,
                          uint64_t len)
{
    for (uint32_t i = 0; i < n; i++) {
        uint64_t a = map[i].addr, end = map[i].addr + map[i].size;
        if (end < a)   /* wraps: a nonsense entry covers everything from addr on */
            end = UINT64_MAX;
        if (a < base + len && base < end) {
            printf("gnttab: [0x%llx, 0x%llx) overlaps memory map entry [0x%llx, 0x%llx) "
                   "type %u\n", (unsigned long long)base, (unsigned long long)(base + len),
                   (unsigned long long)a, (unsigned long long)end, map[i].type);
            return false;
        }
    }
    return true;
}

static int check_memory_map(void)
{
    static struct e820_entry map[E820_MAX];
    struct xen_memory_map mm = { .nr_entries = E820_MAX };
    set_xen_guest_handle(mm.buffer, map);
    long rc = HYPERVISOR_memory_op(XENMEM_memory_map, &mm);
    if (rc != 0) {
        printf("gnttab: XENMEM_memory_map failed (%ld)\n", rc);
        return (int)rc;
    }
    if (mm.nr_entries > E820_MAX) {
        printf("gnttab: memory map claims %u entries\n", mm.nr_entries);
        return -XEN_EINVAL;
    }
    if (!range_is_free(map, mm.nr_entries, GNTTAB_FRAMES_GPA,
                       (uint64_t)GNTTAB_CORE_MAX_FRAMES * GNTTAB_PAGE_SIZE) ||
        !range_is_free(map, mm.nr_entries, GNTTAB_MAP_GPA,
                       (uint64_t)GNTMAP_MAX_SLOTS * GNTMAP_SLOT_SIZE))
        return -XEN_EEXIST;
    return 0;
}

/* Frame idx of our table appears at its place in GNTTAB_FRAMES_GPA. Xen grows the table up
 * to idx + 1 frames if needed (or fails at its maximum). */
static int map_frame(uint32_t idx)
{
    uint64_t gpa = GNTTAB_FRAMES_GPA + (uint64_t)idx * GNTTAB_PAGE_SIZE;
    struct xen_add_to_physmap xatp = {
        .domid = DOMID_SELF,
        .space = XENMAPSPACE_grant_table,
        .idx = idx,
        .gpfn = gpa / GNTTAB_PAGE_SIZE,
    };
    long rc = HYPERVISOR_memory_op(XENMEM_add_to_physmap, &xatp);
    if (rc != 0) {
        printf("gnttab: add_to_physmap of frame %u failed (%ld)\n", idx, rc);
        return (int)rc;
    }
    return gnttab_core_add_frame(&core, (grant_entry_v1_t *)(uintptr_t)gpa);
}

int gnttab_init(void)
{
    uint32_t nr = 0, max = 0;

    if (ready)
        return 0;
    int rc = gnttab_query_size(&nr, &max);
    if (rc != 0) {
        printf("gnttab: GNTTABOP_query_size failed (%d)\n", rc);
        return rc;
    }
    if (max == 0 || nr > max) {
        printf("gnttab: impossible table size %u of %u frames\n", nr, max);
        return -XEN_EINVAL;
    }
    rc = check_memory_map();
    if (rc != 0)
        return rc;

    gnttab_core_init(&core, max, &core_ops);
    gntmap_slots_init(&slots, GNTTAB_MAP_GPA, GNTMAP_MAX_SLOTS);
    /* Map what Xen already has (at least frame 0, where the reserved entries are); more
     * frames come on demand. Xen's count may exceed our cap: we just use fewer. */
    uint32_t want = nr == 0 ? 1 : nr;
    if (want > core.max_frames)
        want = core.max_frames;
    for (uint32_t i = 0; i < want; i++) {
        rc = map_frame(i);
        if (rc != 0)
            return rc;
    }
    ready = true;
    printf("gnttab: v1, %u of %u frames mapped at 0x%llx, map window 0x%llx (%u pages)\n",
           core.nr_frames, core.max_frames, (unsigned long long)GNTTAB_FRAMES_GPA,
           (unsigned long long)GNTTAB_MAP_GPA, slots.nr);
    return 0;
}

bool gnttab_ready(void)
{
    return ready;
}

int gnttab_grant_access(domid_t domid, const void *page, bool readonly, grant_ref_t *ref)
{
    if (!ready)
        return -XEN_ENODEV;
    uint64_t addr = (uint64_t)(uintptr_t)page;
    /* v1 entries hold a 32-bit GFN; we are identity mapped, so GFN = address / 4096. */
    if (page == NULL || addr % GNTTAB_PAGE_SIZE != 0 || addr / GNTTAB_PAGE_SIZE > UINT32_MAX)
        return -XEN_EINVAL;

    for (;;) {
        int rc = gnttab_core_grant(&core, domid, (uint32_t)(addr / GNTTAB_PAGE_SIZE), readonly,
                                   ref);
        if (rc != -XEN_EAGAIN)
            return rc;
        rc = map_frame(core.nr_frames);
        if (rc != 0)
            return -XEN_ENOSPC;
    }
}

int gnttab_end_access(grant_ref_t ref)
{
    if (!ready)
        return -XEN_ENODEV;
    return gnttab_core_end(&core, ref);
}

int gnttab_end_access_deferred(grant_ref_t ref)
{
    if (!ready)
        return -XEN_ENODEV;
    return gnttab_core_end_deferred(&core, ref);
}

struct release_ctx {
    gnttab_page_release_fn fn;
    void *ctx;
};

static void release_frame(void *ctx, grant_ref_t ref, uint32_t frame)
{
    struct release_ctx *r = ctx;
    (void)ref;
    if (r->fn != NULL)
        r->fn(r->ctx, (void *)(uintptr_t)((uint64_t)frame * GNTTAB_PAGE_SIZE));
}

uint32_t gnttab_retry_deferred(gnttab_page_release_fn release, void *ctx)
{
    if (!ready)
        return 0;
    struct release_ctx r = { release, ctx };
    return gnttab_core_retry_deferred(&core, release_frame, &r);
}

/* Unmap slots [first, first + count) that hold mappings. Returns 0 or the first failing
 * op's GNTST_* status; slots Xen refused to unmap stay marked mapped. */
static int unmap_slots(uint32_t first, uint32_t count)
{
    int result = 0;

    for (uint32_t done = 0; done < count;) {
        struct gnttab_unmap_grant_ref op[MAP_BATCH];
        uint32_t idx[MAP_BATCH];
        uint32_t n = 0;
        for (; done < count && n < MAP_BATCH; done++) {
            uint32_t i = first + done;
            if (slots.slot[i].state != GNTMAP_SLOT_MAPPED)
                continue;
            op[n] = (struct gnttab_unmap_grant_ref){
                .host_addr = gntmap_slots_addr(&slots, i),
                .handle = slots.slot[i].handle,
                .status = GNTST_general_error,
            };
            idx[n++] = i;
        }
        if (n == 0)
            continue;
        /* As for maps: statuses start as errors, only Xen can turn one into okay. */
        HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, op, n);
        for (uint32_t k = 0; k < n; k++) {
            int16_t st = op[k].status;
            if (st == GNTST_okay)
                gntmap_slots_set_unmapped(&slots, idx[k]);
            else if (result == 0)
                result = st;
        }
    }
    return result;
}

static void map_op_fill(struct gnttab_map_grant_ref *op, domid_t domid, grant_ref_t ref,
                        uint32_t slot, bool readonly)
{
    *op = (struct gnttab_map_grant_ref){
        .host_addr = gntmap_slots_addr(&slots, slot),
        .flags = GNTMAP_host_map | (readonly ? GNTMAP_readonly : 0),
        .ref = ref,
        .dom = domid,
        .status = GNTST_general_error,
    };
}

/* One batch of map ops into consecutive slots, in one hypercall; ops that report
 * GNTST_eagain (Xen is paging the page in) are retried one by one. Returns 0 or the first
 * failing op's status; the slots of the ops that worked are marked mapped either way. */
static int map_batch(domid_t domid, const grant_ref_t *refs, uint32_t first, uint32_t n,
                     bool readonly)
{
    struct gnttab_map_grant_ref op[MAP_BATCH];
    int result = 0;

    for (uint32_t k = 0; k < n; k++)
        map_op_fill(&op[k], domid, refs[k], first + k, readonly);
    /* Each status starts as an error, so whatever the hypercall returns, an op's status says
     * okay only if Xen did map it (a batch can fail part-way, with earlier ops done). */
    HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, op, n);
    for (uint32_t k = 0; k < n; k++) {
        int16_t st = op[k].status;
        for (uint32_t tries = 0; st == GNTST_eagain && tries < EAGAIN_RETRIES; tries++) {
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
            map_op_fill(&op[k], domid, refs[k], first + k, readonly);
            HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &op[k], 1);
            st = op[k].status;
        }
        if (st == GNTST_okay)
            gntmap_slots_set_mapped(&slots, first + k, domid, refs[k], op[k].handle);
        else if (result == 0)
            result = st;
    }
    return result;
}

int gnttab_map_foreign(domid_t domid, const grant_ref_t *refs, uint32_t count, bool readonly,
                       void **addr)
{
    if (!ready)
        return -XEN_ENODEV;
    if (refs == NULL || addr == NULL || count == 0 || domid >= DOMID_FIRST_RESERVED)
        return -XEN_EINVAL;
    uint32_t first;
    int rc = gntmap_slots_alloc(&slots, count, &first);
    if (rc != 0)
        return rc;

    for (uint32_t done = 0; done < count && rc == 0; done += MAP_BATCH) {
        uint32_t n = count - done < MAP_BATCH ? count - done : MAP_BATCH;
        rc = map_batch(domid, refs + done, first + done, n, readonly);
    }
    if (rc != 0) {
        /* All or nothing. If an unmap fails too, the run stays reserved: we must not put
         * another mapping where Xen may still have this one. */
        if (unmap_slots(first, count) == 0)
            gntmap_slots_free(&slots, first);
        return rc;
    }
    *addr = (void *)(uintptr_t)gntmap_slots_addr(&slots, first);
    return 0;
}

int gnttab_unmap_foreign(void *addr, uint32_t count)
{
    if (!ready)
        return -XEN_ENODEV;
    uint32_t first;
    if (gntmap_slots_lookup(&slots, (uint64_t)(uintptr_t)addr, count, &first) != 0)
        return -XEN_EINVAL;
    int rc = unmap_slots(first, count);
    if (rc == 0)
        gntmap_slots_free(&slots, first);
    return rc;
}

void gnttab_get_stats(struct gnttab_stats *st)
{
    *st = (struct gnttab_stats){
        .nr_frames = core.nr_frames,
        .max_frames = core.max_frames,
        .nr_free = gnttab_core_nr_free(&core),
        .capacity = gnttab_core_capacity(&core),
        .deferred = core.deferred.count,
        .map_slots_used = slots.used,
    };
}
