/*
 * Image protection on top of boot.S's 2 MiB identity map. The low 4 GiB stay identity mapped
 * (Xen's special pages and the local APIC live there); only the 2 MiB regions covering the
 * image get page tables of their own.
 */
#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/boot_defs.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/mm_early.h"

#define PTE_P   (1ull << 0)
#define PTE_W   (1ull << 1)
#define PTE_NX  (1ull << 63)
#define REGION  (2ull << 20)
#define MAX_REGIONS 8 /* image (from 1 MiB) up to 15 MiB */

extern uint64_t boot_pd[];
extern uint32_t boot_nx_enabled;
extern char __image_start[], __rodata_start[], __data_start[], __image_end[];
extern char boot_stack_guard[];

static uint64_t image_pt[MAX_REGIONS][512] __attribute__((aligned(PAGE_SIZE)));

static uint64_t page_flags(uint64_t addr, uint64_t nx)
{
    uint64_t text = (uint64_t)(uintptr_t)__image_start;
    uint64_t rodata = (uint64_t)(uintptr_t)__rodata_start;
    uint64_t data = (uint64_t)(uintptr_t)__data_start;
    uint64_t end = (uint64_t)(uintptr_t)__image_end;

    /* Unmapped: page 0, so a NULL dereference faults, and the stack guard. */
    if (addr == 0 || addr == (uint64_t)(uintptr_t)boot_stack_guard)
        return 0;
    if (addr >= text && addr < rodata)
        return PTE_P;               /* text: read-only, executable */
    if (addr >= rodata && addr < data)
        return PTE_P | nx;          /* rodata (and the notes) */
    if (addr >= data && addr < end)
        return PTE_P | PTE_W | nx;  /* data, bss, stacks, page tables */
    return PTE_P | PTE_W | nx;      /* below the image: loader data (start info, cmdline) */
}

bool mm_protect_image(void)
{
    uint64_t end = (uint64_t)(uintptr_t)__image_end;
    uint64_t regions = (end + REGION - 1) / REGION;
    uint64_t nx = boot_nx_enabled ? PTE_NX : 0;

    if (regions > MAX_REGIONS)
        return false;
    for (uint64_t r = 0; r < regions; r++) {
        for (uint64_t i = 0; i < 512; i++) {
            uint64_t addr = r * REGION + i * PAGE_SIZE;
            uint64_t f = page_flags(addr, nx);
            image_pt[r][i] = f ? (addr | f) : 0;
        }
        /* Directory entries stay writable and executable; the leaf entries decide. */
        boot_pd[r] = (uint64_t)(uintptr_t)image_pt[r] | PTE_P | PTE_W;
    }
    write_cr3(read_cr3()); /* flush the TLB */
    return true;
}
