/*
 * paging.c: identity mappings beyond boot.S's low 4 GiB (see paging.h). The tables boot.S
 * built are extended in place: new page directories and page tables come from the page
 * allocator and are never freed (mappings are never removed).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "arch/x86_64/boot_defs.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/mm.h"
#include "arch/x86_64/paging.h"

#define PTE_P     (1ull << 0)
#define PTE_W     (1ull << 1)
#define PTE_PS    (1ull << 7)
#define PTE_NX    (1ull << 63)
#define ADDR_MASK 0x000ffffffffff000ull
#define SIZE_2M   (1ull << 21)
#define SIZE_1G   (1ull << 30)
/* Identity mapping needs canonical lower-half addresses: below 2^47. */
#define MAP_LIMIT (1ull << 47)

extern uint32_t boot_nx_enabled;

/* The table an entry points to, creating an empty one if the entry is not present. NULL when
 * out of pages. Intermediate entries are writable and executable: the leaves decide. */
static uint64_t *table_at(uint64_t *entry)
{
    if (!(*entry & PTE_P)) {
        uint64_t *t = mm_alloc_pages(1);
        if (t == NULL)
            return NULL;
        memset(t, 0, PAGE_SIZE);
        *entry = (uint64_t)(uintptr_t)t | PTE_P | PTE_W;
    }
    return (uint64_t *)(uintptr_t)(*entry & ADDR_MASK);
}

int paging_map_identity(uint64_t paddr, uint64_t len)
{
    if (len == 0)
        return 0;
    if (paddr >= MAP_LIMIT || len > MAP_LIMIT - paddr)
        return -EINVAL;
    uint64_t a = paddr & ~(uint64_t)(PAGE_SIZE - 1);
    uint64_t end = (paddr + len + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
    uint64_t leaf = PTE_P | PTE_W | (boot_nx_enabled ? PTE_NX : 0);
    uint64_t *pml4 = (uint64_t *)(uintptr_t)(read_cr3() & ADDR_MASK);
    int rc = 0;

    while (a < end) {
        uint64_t *pdpt = table_at(&pml4[(a >> 39) & 511]);
        if (pdpt == NULL) {
            rc = -ENOMEM;
            break;
        }
        uint64_t *pdpte = &pdpt[(a >> 30) & 511];
        if ((*pdpte & PTE_P) && (*pdpte & PTE_PS)) { /* a 1 GiB page is there already */
            a = (a | (SIZE_1G - 1)) + 1;
            continue;
        }
        uint64_t *pd = table_at(pdpte);
        if (pd == NULL) {
            rc = -ENOMEM;
            break;
        }
        uint64_t *pde = &pd[(a >> 21) & 511];
        if ((*pde & PTE_P) && (*pde & PTE_PS)) { /* a 2 MiB page is there already */
            a = (a | (SIZE_2M - 1)) + 1;
            continue;
        }
        if (!(*pde & PTE_P) && (a & (SIZE_2M - 1)) == 0 && end - a >= SIZE_2M) {
            *pde = a | leaf | PTE_PS;
            a += SIZE_2M;
            continue;
        }
        uint64_t *pt = table_at(pde);
        if (pt == NULL) {
            rc = -ENOMEM;
            break;
        }
        uint64_t *pte = &pt[(a >> 12) & 511];
        if (!(*pte & PTE_P))
            *pte = a | leaf;
        a += PAGE_SIZE;
    }
    /* Only not-present entries changed, which the TLB does not cache; flush anyway, cheaply
     * compared to what the caller is about to do with the memory. */
    write_cr3(read_cr3());
    return rc;
}
