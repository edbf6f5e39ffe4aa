/*
 * Grant-table bookkeeping, version 1 entries, access grants only (no transfers): which refs
 * are free, what each granted ref points at, and the protocol for writing and revoking an
 * entry. Pure: no globals, no hypercalls. The caller (xen/gnttab.c in the guest, a cmocka
 * test on the host) maps the shared frames and hands them in with gnttab_core_add_frame();
 * the unit tests hand in ordinary memory and play Xen by setting GTF_reading/GTF_writing.
 *
 * The shared entries are written by us and by Xen (which sets GTF_reading/GTF_writing while
 * a peer maps or copies the page). Nothing is ever read back from them to decide anything
 * except those two flags: the private per-ref records below hold the truth.
 *
 * Refs 0..GNTTAB_NR_RESERVED_ENTRIES-1 are never handed out (the toolstack may pre-fill 0
 * for the console and 1 for xenstore).
 */
#ifndef XENKIT_XEN_GNTTAB_CORE_H
#define XENKIT_XEN_GNTTAB_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/errno.h>

#define GNTTAB_PAGE_SIZE 4096u
#define GNTTAB_ENTRIES_PER_FRAME (GNTTAB_PAGE_SIZE / sizeof(grant_entry_v1_t)) /* 512 */

/* Our own cap on the table size, whatever Xen allows: 32 frames = 16384 refs (minus the
 * reserved ones), far more than a unikernel's rings and buffers need, and it bounds the
 * private bookkeeping (12 bytes per ref, 192 KiB). */
#define GNTTAB_CORE_MAX_FRAMES 32u
#define GNTTAB_CORE_MAX_REFS (GNTTAB_CORE_MAX_FRAMES * GNTTAB_ENTRIES_PER_FRAME)

#define GNTTAB_NO_REF UINT32_MAX

enum gnttab_ref_state {
    GNTTAB_REF_ABSENT = 0,  /* its frame is not mapped yet */
    GNTTAB_REF_RESERVED,    /* 0..7: never ours to hand out */
    GNTTAB_REF_FREE,        /* on the free list */
    GNTTAB_REF_GRANTED,     /* entry published, the page belongs to the grant */
    GNTTAB_REF_DEFERRED,    /* revoke failed (peer maps it); waiting on the deferred list */
};

struct gnttab_ref_rec {
    uint32_t next;          /* free or deferred list link (GNTTAB_NO_REF ends it) */
    uint32_t frame;         /* what we granted: the page's GFN */
    uint8_t state;          /* enum gnttab_ref_state */
    uint8_t readonly;
    domid_t domid;
};

struct gnttab_core_ops {
    /* Order the entry's domid/frame stores before the store of its flags, as seen by Xen
     * on another CPU (the guest passes a compiler barrier: x86 keeps stores in order). The
     * unit tests check the entry's contents at this point. */
    void (*wmb)(void *ctx);
    void *ctx;
};

struct gnttab_list {
    uint32_t head, tail, count;
};

struct gnttab_core {
    const struct gnttab_core_ops *ops;
    grant_entry_v1_t *frames[GNTTAB_CORE_MAX_FRAMES];
    uint32_t nr_frames;     /* frames added so far */
    uint32_t max_frames;    /* how many may ever be added (min of Xen's limit and ours) */
    struct gnttab_list free;
    struct gnttab_list deferred;
    struct gnttab_ref_rec refs[GNTTAB_CORE_MAX_REFS];
};

/* Start with no frames. max_frames is clamped to 1..GNTTAB_CORE_MAX_FRAMES. */
void gnttab_core_init(struct gnttab_core *c, uint32_t max_frames,
                      const struct gnttab_core_ops *ops);

/* The caller mapped frame number c->nr_frames at `entries`; its refs become free (those of
 * frame 0 from GNTTAB_NR_RESERVED_ENTRIES on). The entries are cleared first, except the
 * reserved ones, which belong to the toolstack. Returns 0, -XEN_ENOSPC at max_frames, or
 * -XEN_EINVAL for a NULL or misaligned pointer. */
int gnttab_core_add_frame(struct gnttab_core *c, grant_entry_v1_t *entries);

/* Grant `domid` access to page `frame` (a GFN). Writes domid and frame, then (after
 * ops->wmb) the flags, so Xen never sees a valid entry with stale contents. Returns 0 and
 * sets *ref, or:
 *   -XEN_EAGAIN  no free ref, but the table may grow: add a frame and call again;
 *   -XEN_ENOSPC  no free ref and the table is at its maximum size;
 *   -XEN_EINVAL  a bad argument (ref NULL, domid DOMID_SELF or another special id). */
int gnttab_core_grant(struct gnttab_core *c, domid_t domid, uint32_t frame, bool readonly,
                      grant_ref_t *ref);

/* Revoke a grant: atomically clear the entry's flags unless the peer still maps it
 * (GTF_reading or GTF_writing set by Xen). Returns:
 *   0            revoked, the ref is free again and the page is the caller's;
 *   -XEN_EBUSY   the peer still maps the page: the ref stays granted and the caller must
 *                NOT reuse or free the page (retry later, or gnttab_core_end_deferred);
 *   -XEN_EINVAL  ref out of range, reserved, free, or already deferred. */
int gnttab_core_end(struct gnttab_core *c, grant_ref_t ref);

/* Revoke, or if the peer still maps the page, put the ref on the deferred list: it is
 * revoked by a later gnttab_core_retry_deferred(), which then reports it to `release` so the
 * page can be freed. Returns 0 (revoked now: the page is the caller's), 1 (deferred: the
 * page now belongs to the deferred list), or -XEN_EINVAL as gnttab_core_end(). */
int gnttab_core_end_deferred(struct gnttab_core *c, grant_ref_t ref);

/* Try to revoke every deferred ref once. For each one revoked, the ref is freed and
 * release(ctx, ref, frame) is called (frame = the GFN that was granted; the caller may now
 * free that page). Returns the number still deferred. */
typedef void (*gnttab_release_fn)(void *ctx, grant_ref_t ref, uint32_t frame);
uint32_t gnttab_core_retry_deferred(struct gnttab_core *c, gnttab_release_fn release,
                                    void *ctx);

/* Look at a granted ref: returns false for any ref that is not currently granted (including
 * deferred ones). The outputs may be NULL. */
bool gnttab_core_query(const struct gnttab_core *c, grant_ref_t ref, domid_t *domid,
                       uint32_t *frame, bool *readonly);

/* Number of refs on the free list, and of all refs the mapped frames could ever hand out. */
uint32_t gnttab_core_nr_free(const struct gnttab_core *c);
uint32_t gnttab_core_capacity(const struct gnttab_core *c);

#endif
