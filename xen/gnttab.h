/*
 * Grant tables, version 1: sharing our pages with other domains (grant/end access) and
 * mapping pages other domains granted to us (the vchan client side, backends).
 *
 * Where things live (guest-physical == virtual, both below 4 GiB, which boot.S identity
 * maps): the table's frames at GNTTAB_FRAMES_GPA, foreign mappings in a window at
 * GNTTAB_MAP_GPA. Both are in the MMIO hole libxl leaves between the top of low RAM (at most
 * 0xF0000000) and the ACPI area (0xFC000000); gnttab_init() checks Xen's memory map
 * (XENMEM_memory_map) and refuses to start if either range overlaps anything in it.
 *
 * Single-threaded, like the rest of the kernel: call from the application or event handlers,
 * not from an exception handler.
 */
#ifndef XENKIT_XEN_GNTTAB_H
#define XENKIT_XEN_GNTTAB_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/grant_table.h>

#define GNTTAB_FRAMES_GPA 0xF0000000ull   /* up to GNTTAB_CORE_MAX_FRAMES pages */
#define GNTTAB_MAP_GPA    0xF1000000ull   /* GNTMAP_MAX_SLOTS pages */

/* Ask Xen for the table's size (GNTTABOP_query_size), check the memory map, map the frames
 * that exist (at least one) with XENMEM_add_to_physmap. Returns 0 or a negative Xen errno;
 * everything below returns -XEN_ENODEV until this succeeded. */
int gnttab_init(void);
bool gnttab_ready(void);

/* Let `domid` map the page at `page` (page aligned), read-only if `readonly`. Grows the table
 * by one frame (add_to_physmap of the next index) when the refs run out. Returns 0 and *ref,
 * -XEN_ENOSPC when the table is at its maximum size, -XEN_EINVAL for a bad page or domid. */
int gnttab_grant_access(domid_t domid, const void *page, bool readonly, grant_ref_t *ref);

/* Revoke a grant. -XEN_EBUSY: the peer still maps the page; the grant stays and the page must
 * not be reused or freed (try again later, or use gnttab_end_access_deferred). -XEN_EINVAL: not
 * a ref we granted. 0: revoked, the page is ours again. */
int gnttab_end_access(grant_ref_t ref);

/* Revoke now (0) or, while the peer maps the page, hand the grant to the deferred list (1):
 * gnttab_retry_deferred() revokes it later and then calls `release` with the page, which
 * from then on is the caller's to free. */
typedef void (*gnttab_page_release_fn)(void *ctx, void *page);
int gnttab_end_access_deferred(grant_ref_t ref);
/* Try the deferred grants once; returns how many are still waiting. */
uint32_t gnttab_retry_deferred(gnttab_page_release_fn release, void *ctx);

/* Map `count` refs granted by `domid` into one contiguous range of the window, writable
 * unless `readonly`. All or nothing: if any ref fails, the ones that worked are unmapped.
 * Returns 0 and *addr, or a negative GNTST_* code from Xen's per-op status (e.g.
 * GNTST_bad_gntref, GNTST_permission_denied), or -XEN_ENOSPC when the window is full,
 * -XEN_EINVAL for a bad argument. */
int gnttab_map_foreign(domid_t domid, const grant_ref_t *refs, uint32_t count, bool readonly,
                       void **addr);
/* Unmap a range mapped by gnttab_map_foreign (same address and count). Returns 0, -XEN_EINVAL
 * if addr/count is not such a range, or a negative GNTST_* code if Xen refused to unmap a
 * page (that slot then stays out of use). */
int gnttab_unmap_foreign(void *addr, uint32_t count);

/* For tests and diagnostics: frames mapped / Xen's maximum for us (after our own cap),
 * free refs, foreign slots in use. */
struct gnttab_stats {
    uint32_t nr_frames, max_frames, nr_free, capacity, deferred, map_slots_used;
};
void gnttab_get_stats(struct gnttab_stats *st);

/* GNTTABOP_query_size for ourselves: Xen's own count of our frames and its maximum. */
int gnttab_query_size(uint32_t *nr_frames, uint32_t *max_frames);

#endif
