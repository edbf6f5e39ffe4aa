/*
 * The slots of the foreign-map window: a range of guest-physical pages with nothing behind
 * them, where GNTTABOP_map_grant_ref puts a peer's pages (for an HVM/PVH guest Xen maps the
 * foreign page at the GFN we name as host_addr). Pure bookkeeping: which slots are in use and
 * which grant mapping (domid, ref, handle) each one holds, so that unmapping takes only an
 * address and a count, and an address that is not the start of a live mapping is refused.
 *
 * Runs of slots are contiguous, so a multi-page ring (vchan) gets one virtual range.
 */
#ifndef XENKIT_XEN_GNTMAP_SLOTS_H
#define XENKIT_XEN_GNTMAP_SLOTS_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/errno.h>

#define GNTMAP_MAX_SLOTS 2048u      /* 8 MiB of window */
#define GNTMAP_SLOT_SIZE 4096u

enum gntmap_slot_state {
    GNTMAP_SLOT_FREE = 0,
    GNTMAP_SLOT_RESERVED,   /* allocated, not (or no longer known to be) mapped yet */
    GNTMAP_SLOT_MAPPED,
};

struct gntmap_slot {
    grant_handle_t handle;
    grant_ref_t ref;
    domid_t domid;
    uint8_t state;          /* enum gntmap_slot_state */
    uint8_t first;          /* first slot of a run (where unmapping must start) */
    uint16_t run;           /* length of the run, in the first slot */
};

struct gntmap_slots {
    uint64_t base;          /* guest-physical (== virtual) address of slot 0 */
    uint32_t nr;            /* slots in the window, <= GNTMAP_MAX_SLOTS */
    uint32_t used;
    struct gntmap_slot slot[GNTMAP_MAX_SLOTS];
};

/* base must be page aligned; nr is clamped to GNTMAP_MAX_SLOTS. */
void gntmap_slots_init(struct gntmap_slots *s, uint64_t base, uint32_t nr);

/* Reserve `count` contiguous free slots (first fit). Returns 0 and *first, -XEN_EINVAL for
 * count 0 or above 65535, -XEN_ENOSPC if no run is long enough. */
int gntmap_slots_alloc(struct gntmap_slots *s, uint32_t count, uint32_t *first);

/* Release a run reserved by gntmap_slots_alloc (all its slots, whatever their state). */
void gntmap_slots_free(struct gntmap_slots *s, uint32_t first);

/* Record that slot `idx` (reserved) now holds a mapping. */
void gntmap_slots_set_mapped(struct gntmap_slots *s, uint32_t idx, domid_t domid,
                             grant_ref_t ref, grant_handle_t handle);
/* The mapping in slot idx is gone; the slot stays reserved until its run is freed. */
void gntmap_slots_set_unmapped(struct gntmap_slots *s, uint32_t idx);

uint64_t gntmap_slots_addr(const struct gntmap_slots *s, uint32_t idx);

/* Find the run that starts at addr and has exactly `count` slots. Returns 0 and *first, or
 * -XEN_EINVAL (outside the window, not slot aligned, not the start of a run, wrong count). */
int gntmap_slots_lookup(const struct gntmap_slots *s, uint64_t addr, uint32_t count,
                        uint32_t *first);

#endif
