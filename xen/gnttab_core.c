/*
 * Grant-table bookkeeping (see gnttab_core.h). The free list is FIFO: a revoked ref is
 * handed out again as late as possible, so a confused peer that still uses an old ref number
 * is less likely to reach a page granted for something else.
 */
#include "xen/gnttab_core.h"

static grant_entry_v1_t *entry(const struct gnttab_core *c, grant_ref_t ref)
{
    return &c->frames[ref / GNTTAB_ENTRIES_PER_FRAME][ref % GNTTAB_ENTRIES_PER_FRAME];
}

static void list_push(struct gnttab_core *c, struct gnttab_list *l, grant_ref_t ref)
{
    c->refs[ref].next = GNTTAB_NO_REF;
    if (l->count == 0)
        l->head = ref;
    else
        c->refs[l->tail].next = ref;
    l->tail = ref;
    l->count++;
}

static grant_ref_t list_pop(struct gnttab_core *c, struct gnttab_list *l)
{
    grant_ref_t ref = l->head;
    l->head = c->refs[ref].next;
    c->refs[ref].next = GNTTAB_NO_REF;
    if (--l->count == 0)
        l->head = l->tail = GNTTAB_NO_REF;
    return ref;
}

static void list_init(struct gnttab_list *l)
{
    l->head = l->tail = GNTTAB_NO_REF;
    l->count = 0;
}

void gnttab_core_init(struct gnttab_core *c, uint32_t max_frames,
                      const struct gnttab_core_ops *ops)
{
    c->ops = ops;
    for (uint32_t f = 0; f < GNTTAB_CORE_MAX_FRAMES; f++)
        c->frames[f] = NULL;
    c->nr_frames = 0;
    if (max_frames < 1)
        max_frames = 1;
    if (max_frames > GNTTAB_CORE_MAX_FRAMES)
        max_frames = GNTTAB_CORE_MAX_FRAMES;
    c->max_frames = max_frames;
    list_init(&c->free);
    list_init(&c->deferred);
    for (uint32_t r = 0; r < GNTTAB_CORE_MAX_REFS; r++)
        c->refs[r] = (struct gnttab_ref_rec){ .next = GNTTAB_NO_REF,
                                              .state = GNTTAB_REF_ABSENT };
}

int gnttab_core_add_frame(struct gnttab_core *c, grant_entry_v1_t *entries)
{
    if (entries == NULL || (uintptr_t)entries % GNTTAB_PAGE_SIZE != 0)
        return -XEN_EINVAL;
    if (c->nr_frames >= c->max_frames)
        return -XEN_ENOSPC;

    uint32_t f = c->nr_frames;
    c->frames[f] = entries;
    c->nr_frames++;
    for (uint32_t i = 0; i < GNTTAB_ENTRIES_PER_FRAME; i++) {
        grant_ref_t ref = f * GNTTAB_ENTRIES_PER_FRAME + i;
        if (ref < GNTTAB_NR_RESERVED_ENTRIES) {
            c->refs[ref].state = GNTTAB_REF_RESERVED;
            continue;
        }
        /* A fresh frame from Xen is zero; clearing it anyway costs nothing and means a
         * stale entry (say, from a frame reused after a reboot path) is never valid. */
        __atomic_store_n(&entries[i].flags, 0, __ATOMIC_RELAXED);
        entries[i].domid = 0;
        entries[i].frame = 0;
        c->refs[ref].state = GNTTAB_REF_FREE;
        list_push(c, &c->free, ref);
    }
    return 0;
}

int gnttab_core_grant(struct gnttab_core *c, domid_t domid, uint32_t frame, bool readonly,
                      grant_ref_t *ref)
{
    if (ref == NULL || domid >= DOMID_FIRST_RESERVED)
        return -XEN_EINVAL;
    if (c->free.count == 0)
        return c->nr_frames < c->max_frames ? -XEN_EAGAIN : -XEN_ENOSPC;

    grant_ref_t r = list_pop(c, &c->free);
    struct gnttab_ref_rec *rec = &c->refs[r];
    rec->state = GNTTAB_REF_GRANTED;
    rec->frame = frame;
    rec->domid = domid;
    rec->readonly = readonly;

    /* Xen may read the entry the moment the flags say GTF_permit_access (a peer can try a
     * ref before we tell it about it), so domid and frame must be visible first. */
    grant_entry_v1_t *e = entry(c, r);
    e->domid = domid;
    e->frame = frame;
    if (c->ops != NULL && c->ops->wmb != NULL)
        c->ops->wmb(c->ops->ctx);
    uint16_t flags = GTF_permit_access | (readonly ? GTF_readonly : 0);
    __atomic_store_n(&e->flags, flags, __ATOMIC_RELEASE);
    *ref = r;
    return 0;
}

/* The revoke itself: clear the flags only if Xen has not marked the entry in use. A compare-
 * and-exchange, because Xen sets GTF_reading/GTF_writing with one too: whichever of us comes
 * second sees the other's change (Xen then refuses the map, or we see the peer's mapping). */
static bool try_revoke(struct gnttab_core *c, grant_ref_t ref)
{
    uint16_t *flags = &entry(c, ref)->flags;
    uint16_t seen = __atomic_load_n(flags, __ATOMIC_ACQUIRE);
    for (;;) {
        if (seen & (GTF_reading | GTF_writing))
            return false;
        if (__atomic_compare_exchange_n(flags, &seen, 0, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return true;
    }
}

static void release_ref(struct gnttab_core *c, grant_ref_t ref)
{
    struct gnttab_ref_rec *rec = &c->refs[ref];
    rec->state = GNTTAB_REF_FREE;
    rec->frame = 0;
    rec->domid = 0;
    rec->readonly = 0;
    list_push(c, &c->free, ref);
}

static bool is_granted(const struct gnttab_core *c, grant_ref_t ref)
{
    return ref < c->nr_frames * GNTTAB_ENTRIES_PER_FRAME &&
           c->refs[ref].state == GNTTAB_REF_GRANTED;
}

int gnttab_core_end(struct gnttab_core *c, grant_ref_t ref)
{
    if (!is_granted(c, ref))
        return -XEN_EINVAL;
    if (!try_revoke(c, ref))
        return -XEN_EBUSY;
    release_ref(c, ref);
    return 0;
}

int gnttab_core_end_deferred(struct gnttab_core *c, grant_ref_t ref)
{
    int rc = gnttab_core_end(c, ref);
    if (rc != -XEN_EBUSY)
        return rc;
    c->refs[ref].state = GNTTAB_REF_DEFERRED;
    list_push(c, &c->deferred, ref);
    return 1;
}

uint32_t gnttab_core_retry_deferred(struct gnttab_core *c, gnttab_release_fn release,
                                    void *ctx)
{
    /* Each deferred ref is looked at once: those still busy go back to the tail. */
    for (uint32_t n = c->deferred.count; n > 0; n--) {
        grant_ref_t ref = list_pop(c, &c->deferred);
        if (!try_revoke(c, ref)) {
            list_push(c, &c->deferred, ref);
            continue;
        }
        uint32_t frame = c->refs[ref].frame;
        release_ref(c, ref);
        if (release != NULL)
            release(ctx, ref, frame);
    }
    return c->deferred.count;
}

bool gnttab_core_query(const struct gnttab_core *c, grant_ref_t ref, domid_t *domid,
                       uint32_t *frame, bool *readonly)
{
    if (!is_granted(c, ref))
        return false;
    const struct gnttab_ref_rec *rec = &c->refs[ref];
    if (domid != NULL)
        *domid = rec->domid;
    if (frame != NULL)
        *frame = rec->frame;
    if (readonly != NULL)
        *readonly = rec->readonly;
    return true;
}

uint32_t gnttab_core_nr_free(const struct gnttab_core *c)
{
    return c->free.count;
}

uint32_t gnttab_core_capacity(const struct gnttab_core *c)
{
    if (c->nr_frames == 0)
        return 0;
    return c->nr_frames * GNTTAB_ENTRIES_PER_FRAME - GNTTAB_NR_RESERVED_ENTRIES;
}
