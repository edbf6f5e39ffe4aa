/*
 * The on-disk object heap: one append-only pack file of checksummed records (objects and
 * ref updates), behind the objstore.h interface. The byte layout, the recovery rules and
 * which sync makes what durable are in docs/store-format.md.
 *
 * Thread safety: every operation takes the pack's lock, so store_pack_gc may run in one
 * thread while others put, get and set refs; apart from that the pack is used like any
 * objstore. Durable callbacks are called without the lock held.
 *
 * After a write or sync error the pack refuses every further update with -EIO (the state of
 * the unsynced writes is unknown; retrying an fsync would lie): close it and open it again,
 * which recovers to the last complete ref update on the medium.
 */
#ifndef XENKIT_XENSTORE_STORE_PACK_H
#define XENKIT_XENSTORE_STORE_PACK_H

#include "xenstore/objstore.h"
#include "xenstore/store_io.h"

struct store_pack_opts {
    bool create;  /* create the file if it does not exist */
    bool salvage; /* if committed records in the middle of the file are damaged, open anyway
                     at the last good ref update before them (the later commits are lost);
                     without it such a file is refused with -EBADMSG */
    size_t cache_bytes;          /* bound of the object cache (0: 8 MiB) */
    uint32_t batch_max_updates;  /* BATCH: sync once this many ref updates wait (0: 1024) */
    uint64_t batch_max_bytes;    /* BATCH: ... or this many bytes were appended (0: 8 MiB) */
    uint32_t batch_max_ms;       /* BATCH: ... or the oldest waits this long, checked by
                                    set_ref and store_pack_poll (0: 5 ms) */
    /* Where the pack says what it found and did (recovery, GC). May be NULL. */
    void (*log)(void *arg, const char *msg);
    void *log_arg;
};

/* What open found. */
struct store_pack_report {
    bool created;            /* a new, empty pack */
    bool truncated;          /* a torn or damaged tail was cut off */
    bool salvaged;           /* damaged committed records were cut off (opts.salvage) */
    uint64_t file_size;      /* bytes before recovery */
    uint64_t valid_size;     /* bytes after */
    uint64_t objects;        /* objects in the index */
    uint64_t ref_records;    /* ref update records replayed */
    uint64_t bad_offset;     /* where the first bad record was (if truncated) */
    char msg[200];           /* one line, also sent to opts.log */
};

/* Open (or create) the pack `name` in `dir`. The dir must outlive the store (close it after
 * the store). `opts` and `report` may be NULL. Errors: -ENOENT (missing, no create),
 * -EBADMSG (not a pack, or committed data damaged and no salvage), -EIO, -ENOMEM. */
int store_pack_open(struct store_iodir *dir, const char *name, const struct store_pack_opts *opts,
                    struct objstore **out, struct store_pack_report *report);

/* The same for a path on the POSIX backend; the store owns its directory handle. */
int store_pack_open_path(const char *path, const struct store_pack_opts *opts,
                         struct objstore **out, struct store_pack_report *report);

/* BATCH mode's clock: flush if the oldest waiting update is older than batch_max_ms. Returns
 * the number of milliseconds until it should be called again (-1: nothing waits), or -EIO. */
int store_pack_poll(struct objstore *s);

/* BATCH as a pipelined group commit: a thread of the pack runs the device flushes, so that
 * the caller goes on appending updates meanwhile. Returns an fd (eventfd) that becomes
 * readable when a sync finishes, or -errno; a second call returns the same fd. From then on
 * BATCH updates are settled only by store_pack_sync_round (and flush, close), called at the
 * end of each of the caller's rounds and when the fd is readable: it writes the round's
 * records (one write), calls the callbacks of the updates a finished sync covered (in the
 * caller's thread), and has the thread sync what waits if it is idle (else it syncs that as
 * soon as the running sync ends). Returns -EIO (or the pack's error) once a write or sync
 * failed, calling every waiting callback with ok = false. close stops the thread after the
 * sync it owes. Without the thread, store_pack_sync_round writes, syncs and answers at once
 * (as flush). */
int store_pack_sync_thread(struct objstore *s);
int store_pack_sync_round(struct objstore *s);

/* Write the zeros ahead of the records (docs/store-format.md, "Preallocated tail") in a thread
 * of the pack instead of in the update that runs out of them (0.3-1.5 ms for a 2 MiB step on
 * a VM, in the middle of a request): an append that leaves less than half a step ahead asks
 * the thread for the next one. Start it after any fork (threads do not survive one); close
 * stops it. Returns 0 (also when already running) or -errno. */
int store_pack_fill_thread(struct objstore *s);

struct store_pack_stats {
    uint64_t file_size;      /* bytes in the pack */
    uint64_t objects;        /* objects in the index */
    uint64_t cache_bytes, cache_hits, cache_misses;
    uint64_t syncs;          /* data syncs issued */
    uint64_t ref_records;    /* ref records appended since open */
    uint32_t pending;        /* BATCH updates not yet durable */
    int failed;              /* 0, or the error that stopped updates */
};
void store_pack_stats(struct objstore *s, struct store_pack_stats *st);

/* ---- garbage collection ------------------------------------------------------------------ */

/* The tree layer's live-set enumerator: calls live(larg, h) for every object that must
 * survive (the commits kept, their trees, whatever an open snapshot references), and stops
 * with the first non-zero value live returns, which it returns. It may read objects through
 * the same objstore meanwhile. */
typedef int (*store_live_fn)(void *larg, const struct store_hash *h);
typedef int (*store_enum_fn)(void *arg, store_live_fn live, void *larg);

struct store_pack_gc_stats {
    uint64_t bytes_before, bytes_after;
    uint64_t live_objects;     /* objects the enumerator named */
    uint64_t copied_objects;   /* objects in the new pack */
    uint64_t catchup_rounds;   /* passes over what writers appended meanwhile */
    uint64_t switch_us;        /* how long writers were stopped */
};

/* Rewrite the live objects and all refs into a new pack and switch to it. Writers go on
 * during the copy: what they append meanwhile is copied too (catch-up passes), and so is
 * every older object they put again, read or asked about while the GC ran (they might link
 * to it). Writers are stopped only for the last catch-up, the sync of the new file, the
 * rename and the directory sync. A ref naming an object not in the new pack aborts the GC
 * (-ESTALE) and leaves the old pack in use. Pending BATCH updates are durable after a
 * successful GC (their callbacks fire). Only one GC at a time (-EBUSY). */
int store_pack_gc(struct objstore *s, store_enum_fn enumerate, void *arg,
                  struct store_pack_gc_stats *stats);

#endif
