/*
 * mm.c: from the loader's view of memory to a working malloc. See mm.h.
 *
 * The map. On Xen, XENMEM_memory_map is the authority (hvm_start_info version 0 has no map;
 * version 1's table is compared with it and used only if the hypercall fails). On bare QEMU
 * the multiboot mmap (or, lacking it, mem_lower/mem_upper). Everything the loader gives us is
 * treated as hostile: memmap.c bounds and clips the entries, and we dereference loader
 * pointers only below 4 GiB (the identity map boot.S built).
 *
 * Reserved. Besides non-RAM entries: the low 1 MiB (page 0, BIOS data, where loaders put
 * their structures), the image, the start info / multiboot structures with their command
 * lines, memory maps and modules, and on Xen the console and xenstore ring pages.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <xen/arch-x86/hvm/start_info.h>
#include <xen/hvm/params.h>
#include <xen/memory.h>
#include <xenkit/malloc.h>
#include <xenkit/panic.h>

#include "arch/x86_64/boot_defs.h"
#include "arch/x86_64/memmap.h"
#include "arch/x86_64/mm.h"
#include "arch/x86_64/multiboot.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/platform.h"
#include "lib/heap.h"
#include "lib/page_alloc.h"
#include "xen/hypercall.h"

#define FOUR_GIB    (4ull << 30)
#define LOW_RESERVE (1ull << 20)
#define CMDLINE_RESERVE 1024 /* Xen's and our limit for a command line */
#define MAX_MODULES 16
#define MAX_RESERVED 128

extern char __image_start[], __image_end[];

static struct memmap map;         /* what we use */
static struct memmap other_map;   /* start info's table, for the cross-check */
static const char *map_source;
static bool other_present;
static struct page_alloc pa;
static struct pa_range reserved[MAX_RESERVED];
static unsigned nreserved;
/* Xen's e820 entries are 20 bytes, packed. */
static uint8_t e820_buf[MEMMAP_MAX * 20] __attribute__((aligned(8)));

static void reserve(uint64_t base, uint64_t len)
{
    /* Clipped like memory map entries, so later arithmetic cannot wrap. */
    if (len == 0 || base >= MEMMAP_MAX_ADDR)
        return;
    if (len > MEMMAP_MAX_ADDR - base)
        len = MEMMAP_MAX_ADDR - base;
    if (nreserved == MAX_RESERVED)
        panic("mm: more than %d reserved ranges", MAX_RESERVED);
    reserved[nreserved++] = (struct pa_range){ base, len };
}

/* A loader structure of len bytes at paddr, readable only if it lies in the identity map. */
static const void *loader_ptr(uint64_t paddr, uint64_t len)
{
    if (paddr == 0 || paddr >= FOUR_GIB || len > FOUR_GIB - paddr)
        return NULL;
    return (const void *)(uintptr_t)paddr;
}

static bool map_from_xen(void)
{
    struct xen_memory_map xm = { .nr_entries = MEMMAP_MAX };
    set_xen_guest_handle(xm.buffer, (void *)e820_buf);
    if (HYPERVISOR_memory_op(XENMEM_memory_map, &xm) != 0)
        return false;
    unsigned n = xm.nr_entries < MEMMAP_MAX ? xm.nr_entries : MEMMAP_MAX;
    memmap_from_table(&map, e820_buf, n, 20);
    map_source = "XENMEM_memory_map";
    return map.n > 0;
}

static void read_start_info(uint32_t info)
{
    const struct hvm_start_info *si = loader_ptr(info, sizeof(*si));
    if (si == NULL)
        return;
    reserve(info, sizeof(*si));
    reserve(si->cmdline_paddr, si->cmdline_paddr ? CMDLINE_RESERVE : 0);
    if (si->version >= 1 && si->memmap_entries > 0) {
        uint64_t bytes = (uint64_t)si->memmap_entries * sizeof(struct hvm_memmap_table_entry);
        reserve(si->memmap_paddr, bytes);
        const void *table = loader_ptr(si->memmap_paddr, bytes);
        if (table) {
            memmap_from_table(&other_map, table, si->memmap_entries,
                              sizeof(struct hvm_memmap_table_entry));
            other_present = other_map.n > 0;
        }
    }
    if (si->nr_modules > 0) {
        uint32_t nmod = si->nr_modules < MAX_MODULES ? si->nr_modules : MAX_MODULES;
        reserve(si->modlist_paddr, (uint64_t)nmod * sizeof(struct hvm_modlist_entry));
        const struct hvm_modlist_entry *mods =
            loader_ptr(si->modlist_paddr, (uint64_t)nmod * sizeof(*mods));
        for (uint32_t i = 0; mods && i < nmod; i++) {
            reserve(mods[i].paddr, mods[i].size);
            reserve(mods[i].cmdline_paddr, mods[i].cmdline_paddr ? CMDLINE_RESERVE : 0);
        }
    }
}

static void read_multiboot(uint32_t info, bool want_map)
{
    const struct multiboot_info *mbi = loader_ptr(info, sizeof(*mbi));
    if (mbi == NULL)
        return;
    reserve(info, sizeof(*mbi));
    if (mbi->flags & MULTIBOOT_INFO_CMDLINE)
        reserve(mbi->cmdline, CMDLINE_RESERVE);
    if (mbi->flags & MULTIBOOT_INFO_MODS) {
        uint32_t nmod = mbi->mods_count < MAX_MODULES ? mbi->mods_count : MAX_MODULES;
        reserve(mbi->mods_addr, (uint64_t)nmod * sizeof(struct multiboot_module));
        const struct multiboot_module *mods =
            loader_ptr(mbi->mods_addr, (uint64_t)nmod * sizeof(*mods));
        for (uint32_t i = 0; mods && i < nmod; i++) {
            if (mods[i].mod_end > mods[i].mod_start)
                reserve(mods[i].mod_start, mods[i].mod_end - mods[i].mod_start);
            reserve(mods[i].string, mods[i].string ? CMDLINE_RESERVE : 0);
        }
    }
    if (mbi->flags & MULTIBOOT_INFO_MMAP) {
        reserve(mbi->mmap_addr, mbi->mmap_length);
        const void *buf = loader_ptr(mbi->mmap_addr, mbi->mmap_length);
        if (want_map && buf) {
            memmap_from_multiboot(&map, buf, mbi->mmap_length);
            map_source = "multiboot mmap";
        }
    }
    if (want_map && map.n == 0 && (mbi->flags & MULTIBOOT_INFO_MEM)) {
        memmap_add(&map, 0, (uint64_t)mbi->mem_lower << 10, MEMMAP_RAM);
        memmap_add(&map, LOW_RESERVE, (uint64_t)mbi->mem_upper << 10, MEMMAP_RAM);
        map_source = "multiboot mem_lower/mem_upper";
    }
}

static void reserve_xen_pages(void)
{
    static const uint32_t params[] = { HVM_PARAM_CONSOLE_PFN, HVM_PARAM_STORE_PFN };
    for (unsigned i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        uint64_t pfn;
        if (xen_hvm_get_param(params[i], &pfn) == 0 && pfn != 0 && pfn < (MEMMAP_MAX_ADDR >> 12))
            reserve(pfn << 12, PAGE_SIZE);
    }
}

/* Adds [b, e) above 4 GiB minus the reserved ranges, once it is mapped. */
static void add_high_ram(uint64_t b, uint64_t e)
{
    if (paging_map_identity(b, e - b) != 0)
        return; /* no page tables left: that RAM stays unused (and is counted as dropped) */
    while (b < e) {
        uint64_t rb = e, re = e;
        for (unsigned i = 0; i < nreserved; i++) {
            uint64_t lo = reserved[i].base & ~(uint64_t)(PAGE_SIZE - 1);
            uint64_t hi = reserved[i].base + reserved[i].len; /* <= 2^52 (see reserve) */
            hi = (hi + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
            if (hi > b && lo < e && lo < rb) {
                rb = lo > b ? lo : b;
                re = hi;
            }
        }
        if (rb > b)
            page_alloc_add(&pa, b, rb - b);
        b = re > b ? re : e;
    }
}

void mm_init(uint32_t boot_kind, uint32_t boot_info)
{
    memmap_init(&map);
    memmap_init(&other_map);
    reserve(0, LOW_RESERVE);
    reserve((uint64_t)(uintptr_t)__image_start,
            (uint64_t)(uintptr_t)__image_end - (uint64_t)(uintptr_t)__image_start);

    bool have_map = platform_on_xen && map_from_xen();
    if (boot_kind == BOOT_KIND_PVH) {
        read_start_info(boot_info);
        if (!have_map && other_present) {
            map = other_map;
            map_source = "hvm_start_info memmap";
            have_map = true;
        }
    } else if (boot_kind == BOOT_KIND_MULTIBOOT) {
        read_multiboot(boot_info, !have_map);
        have_map = map.n > 0;
    }
    if (!have_map)
        panic("mm: no memory map (XENMEM_memory_map failed and the loader gave none)");
    if (platform_on_xen)
        reserve_xen_pages();

    /* Everything that is not RAM is off limits, whatever RAM entries overlap it. */
    struct pa_range low[MEMMAP_MAX];
    unsigned nlow = 0;
    for (unsigned i = 0; i < map.n; i++) {
        const struct memmap_entry *e = &map.e[i];
        if (e->type != MEMMAP_RAM)
            reserve(e->base, e->len);
        else if (e->base < FOUR_GIB)
            low[nlow++] = (struct pa_range){ e->base,
                                             e->len < FOUR_GIB - e->base ? e->len
                                                                         : FOUR_GIB - e->base };
    }
    page_alloc_init(&pa, low, nlow, reserved, nreserved);
    if (pa.free_pages == 0)
        panic("mm: no usable RAM below 4 GiB (%lu KiB in the map from %s)",
              (unsigned long)(memmap_ram_bytes(&map) >> 10), map_source);

    /* RAM above 4 GiB needs page tables first, which come from the RAM below. */
    for (unsigned i = 0; i < map.n; i++) {
        const struct memmap_entry *e = &map.e[i];
        uint64_t end = e->base + e->len;
        if (e->type == MEMMAP_RAM && end > FOUR_GIB)
            add_high_ram(e->base > FOUR_GIB ? e->base : FOUR_GIB, end);
    }

    struct page_source src;
    page_alloc_source(&pa, &src);
    malloc_init(&src);
}

void *mm_alloc_pages(size_t n)
{
    return page_alloc(&pa, n);
}

void mm_free_pages(void *p, size_t n)
{
    page_free(&pa, p, n);
}

void mm_report(void)
{
    unsigned ranges = memmap_ram_ranges(&map);
    printf("xenkit: memory: %lu MiB RAM in %u range%s (from %s)\n",
           (unsigned long)(memmap_ram_bytes(&map) >> 20), ranges, ranges == 1 ? "" : "s",
           map_source);
    for (unsigned i = 0; i < map.n; i++)
        printf("xenkit:   %016lx-%016lx %s\n", (unsigned long)map.e[i].base,
               (unsigned long)(map.e[i].base + map.e[i].len - 1), memmap_type_name(map.e[i].type));
    if (map.ignored)
        printf("xenkit:   (%u map entries ignored: empty, out of range or too many)\n",
               map.ignored);
    if (other_present && map_source != NULL && strcmp(map_source, "XENMEM_memory_map") == 0 &&
        memmap_ram_bytes(&other_map) != memmap_ram_bytes(&map))
        printf("xenkit:   hvm_start_info's map differs: %lu KiB RAM there, %lu KiB here\n",
               (unsigned long)(memmap_ram_bytes(&other_map) >> 10),
               (unsigned long)(memmap_ram_bytes(&map) >> 10));
    printf("xenkit: pages: %lu KiB free in %u zone%s (%lu KiB allocator metadata",
           (unsigned long)(pa.free_pages * 4), pa.nzones, pa.nzones == 1 ? "" : "s",
           (unsigned long)(pa.meta_pages * 4));
    if (pa.dropped_pages)
        printf(", %lu KiB of RAM left out", (unsigned long)(pa.dropped_pages * 4));
    printf(")\n");
}
