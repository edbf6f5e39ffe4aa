/* Slots of the foreign-map window (see gntmap_slots.h). A linear first-fit scan: the window
 * is small and maps are set up once per ring or device, not per packet. */
#include <stddef.h>

#include "xen/gntmap_slots.h"

void gntmap_slots_init(struct gntmap_slots *s, uint64_t base, uint32_t nr)
{
    s->base = base;
    s->nr = nr > GNTMAP_MAX_SLOTS ? GNTMAP_MAX_SLOTS : nr;
    s->used = 0;
    for (uint32_t i = 0; i < GNTMAP_MAX_SLOTS; i++)
        s->slot[i] = (struct gntmap_slot){ .state = GNTMAP_SLOT_FREE };
}

int gntmap_slots_alloc(struct gntmap_slots *s, uint32_t count, uint32_t *first)
{
    if (count == 0 || count > UINT16_MAX || first == NULL)
        return -XEN_EINVAL;
    uint32_t run = 0;
    for (uint32_t i = 0; i < s->nr; i++) {
        run = s->slot[i].state == GNTMAP_SLOT_FREE ? run + 1 : 0;
        if (run < count)
            continue;
        uint32_t start = i + 1 - count;
        for (uint32_t j = start; j <= i; j++)
            s->slot[j] = (struct gntmap_slot){ .state = GNTMAP_SLOT_RESERVED };
        s->slot[start].first = 1;
        s->slot[start].run = (uint16_t)count;
        s->used += count;
        *first = start;
        return 0;
    }
    return -XEN_ENOSPC;
}

void gntmap_slots_free(struct gntmap_slots *s, uint32_t first)
{
    if (first >= s->nr || !s->slot[first].first)
        return;
    uint32_t count = s->slot[first].run;
    for (uint32_t j = first; j < first + count; j++)
        s->slot[j] = (struct gntmap_slot){ .state = GNTMAP_SLOT_FREE };
    s->used -= count;
}

void gntmap_slots_set_mapped(struct gntmap_slots *s, uint32_t idx, domid_t domid,
                             grant_ref_t ref, grant_handle_t handle)
{
    if (idx >= s->nr || s->slot[idx].state == GNTMAP_SLOT_FREE)
        return;
    s->slot[idx].state = GNTMAP_SLOT_MAPPED;
    s->slot[idx].domid = domid;
    s->slot[idx].ref = ref;
    s->slot[idx].handle = handle;
}

void gntmap_slots_set_unmapped(struct gntmap_slots *s, uint32_t idx)
{
    if (idx >= s->nr || s->slot[idx].state != GNTMAP_SLOT_MAPPED)
        return;
    s->slot[idx].state = GNTMAP_SLOT_RESERVED;
}

uint64_t gntmap_slots_addr(const struct gntmap_slots *s, uint32_t idx)
{
    return s->base + (uint64_t)idx * GNTMAP_SLOT_SIZE;
}

int gntmap_slots_lookup(const struct gntmap_slots *s, uint64_t addr, uint32_t count,
                        uint32_t *first)
{
    if (addr < s->base || (addr - s->base) % GNTMAP_SLOT_SIZE != 0 || first == NULL)
        return -XEN_EINVAL;
    uint64_t idx = (addr - s->base) / GNTMAP_SLOT_SIZE;
    if (idx >= s->nr || !s->slot[idx].first || s->slot[idx].run != count)
        return -XEN_EINVAL;
    *first = (uint32_t)idx;
    return 0;
}
