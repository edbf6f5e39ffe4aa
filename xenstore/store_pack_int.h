/*
 * Private to the pack file's implementation (store_pack.c, store_pack_refs.c,
 * store_pack_index.c, store_pack_open.c, store_pack_gc.c): the record layout, the in-memory state and the helpers
 * more than one of them uses. The public interface is store_pack.h; docs/store-format.md is
 * the reference for the layout and the recovery rules.
 *
 *   file   := header record*
 *   header := "XKSTPAK1" u32 version(1) u32 header_len(32) u64 created_ns u32 0 u32 crc32c
 *   record := u8 type u8 kind u16 0 u32 len [hash(32) if object] payload(len) u32 crc32c
 *   refs payload := u64 seq u64 synced_upto u32 count { u8 op u8 namelen name [hash] }*
 *
 * All integers little-endian. In memory: an open-addressing index hash -> record offset
 * (rebuilt by the scan at open), the refs, a direct-mapped object cache bounded in bytes,
 * and the BATCH updates waiting for their sync.
 */
#ifndef XENKIT_XENSTORE_STORE_PACK_INT_H
#define XENKIT_XENSTORE_STORE_PACK_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "xenstore/store_pack.h"

#define PACK_MAGIC "XKSTPAK1"
#define PACK_VERSION 1
#define HDR_LEN 32
#define REC_HDR 8
#define REC_CRC 4
#define REC_OBJ 1
#define REC_REFS 2
#define REFS_DELTA 0
#define REFS_FULL 1
#define REF_SET 1
#define REF_DEL 2
#define OBJ_MAX (64u << 20)
#define REFS_MAX (16u << 20)
#define REFS_FIXED 20 /* seq, synced_upto, count */

/* ---- little-endian integers, the clock ----------------------------------------------------- */

static inline void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the index: open addressing, linear probing, off == 0 is empty ------------------------- */

/* An entry keeps the first 16 bytes of the object's hash, not all 32, and there is no
 * separate array of tags: 24 bytes a slot instead of 40 + 2. The index's growth was the
 * daemon's main source of page faults (every doubling faults in a new table), and a put
 * probed two arrays (a tag line, then the entry line it writes) where it now reads and
 * writes one line. 128 bits stay unique: two objects of one pack sharing a prefix would take
 * ~2^64 SHA-256 computations to find, and even then a put that finds the prefix checks the
 * record's full hash (store_pack.c, pack_put_added), so such an object is refused, never
 * confused with the other; a get compares the full hash in the record it reads. */
#define IX_KEY_LEN 16
struct ix_entry {
    uint64_t k0, k1; /* hash bytes 0-7 and 8-15, as loaded from memory */
    uint64_t off;    /* 0: empty slot (no record starts at offset 0: the header is there) */
};

/* Growing is incremental: the table doubles into a new one and the entries of the old one
 * move over IX_MOVE_STEP slots per insertion; until all have moved, a lookup that misses in
 * e looks in old too (old stays intact, so its probes stay valid). Rehashing a big index at
 * once stopped the commit that crossed 70% for milliseconds (1.5-8 ms at ~10^6 slots here). */
struct index {
    struct ix_entry *e;
    size_t mask, count; /* count: entries in both tables */
    size_t e_mapped;    /* bytes mmap'ed (store_pack_index.c), 0: malloc'ed */
    struct ix_entry *old; /* NULL: not growing */
    size_t old_mask, old_mapped, moved; /* moved: old's slots [0, moved) are in e */
    /* The table the next doubling takes (twice e's slots; NULL: none yet), mapped once e is
     * half full and faulted in meanwhile by next_thread (store_pack_index.c, "ahead"). */
    struct ix_entry *next;
    size_t next_mapped;
    pthread_t next_thread;
    bool next_live; /* next_thread runs or was not joined yet */
};

static inline void ix_key(const struct store_hash *h, uint64_t *k0, uint64_t *k1)
{
    memcpy(k0, h->b, sizeof(*k0));
    memcpy(k1, h->b + 8, sizeof(*k1));
}

static inline size_t ix_home_k0(const struct index *ix, uint64_t k0)
{
    return (size_t)k0 & ix->mask;
}

static inline size_t ix_home(const struct index *ix, const struct store_hash *h)
{
    uint64_t k0, k1;
    ix_key(h, &k0, &k1);
    return ix_home_k0(ix, k0);
}

/* Does e hold (the prefix of) h? */
static inline bool ix_entry_is(const struct ix_entry *e, uint64_t k0, uint64_t k1)
{
    return e->k0 == k0 && e->k1 == k1;
}

static inline void ix_entry_set(struct ix_entry *e, const struct store_hash *h, uint64_t off)
{
    ix_key(h, &e->k0, &e->k1);
    e->off = off;
}

static inline uint64_t ix_find_in(const struct ix_entry *t, size_t mask, uint64_t k0,
                                  uint64_t k1)
{
    for (size_t i = (size_t)k0 & mask;; i = (i + 1) & mask) {
        const struct ix_entry *e = &t[i];
        if (e->off == 0)
            return 0;
        if (ix_entry_is(e, k0, k1))
            return e->off;
    }
}

static inline uint64_t ix_find(const struct index *ix, const struct store_hash *h)
{
    uint64_t k0, k1;
    ix_key(h, &k0, &k1);
    uint64_t off = ix_find_in(ix->e, ix->mask, k0, k1);
    if (off == 0 && ix->old != NULL)
        off = ix_find_in(ix->old, ix->old_mask, k0, k1);
    return off;
}

/* ---- the pack ------------------------------------------------------------------------------ */

struct ref {
    char name[STORE_REF_NAME_MAX + 1];
    struct store_hash h;
};

/* A BATCH or WRITE update's callback, and where its ref record ends: it may go once the
 * file is synced (sync) or written (WRITE) up to there. */
struct waiter {
    store_durable_fn fn;
    void *arg;
    uint64_t end;
    bool sync;
};

struct cache_slot {
    struct store_hash h;
    uint8_t kind;
    size_t len;
    uint8_t *data; /* NULL: empty */
};

struct gc_state {
    pthread_t thread;
    uint64_t start_off;      /* objects at or after this offset are copied by catch-up */
    struct store_hash *touched; /* older objects writers used during the GC */
    size_t ntouched, captouched;
    bool overflow;           /* out of memory recording them: the GC must fail */
};

struct pack {
    struct objstore base;
    pthread_mutex_t lock;
    struct store_iodir *dir;
    bool own_dir;
    char *name, *gcname;
    struct store_io *io;
    uint64_t end;         /* where the next record goes */
    uint64_t synced_end;  /* everything before it is known durable */
    uint64_t seq;         /* the last ref record's sequence number */
    uint64_t refs_end;    /* the end of the last ref record: objects after it are in flight */
    /* Objects put since the last refs record that sit below refs_end (a put that found the
     * object already stored, or a commit in flight across a GC switch, which copies it below
     * the new file's refs record). A GC keeps them as if touched: the ref update that will
     * name them may come after it. Cleared by every refs record. */
    struct store_hash *inflight;
    size_t ninflight, capinflight;
    bool inflight_overflow; /* out of memory recording them: a GC must wait for a refs record */
    uint64_t alloc_end;   /* the file's size: [end, alloc_end) holds zeros written ahead, so
                           * that appends overwrite allocated blocks (store_pack.c, prealloc) */
    /* The file's shared mapping (store_io_map; NULL: none, then pwrite), through which
     * records are written below sized_end: how far the file is known to extend (its zeros or
     * records were written; a store past the file's end would be SIGBUS). Records written
     * through it are in the page cache as pwrite's are (store_pack.c, write_at). */
    uint8_t *map;
    uint64_t map_len;
    uint64_t sized_end;
    int failed;
    struct index ix;
    struct ref *refs;
    size_t nrefs, caprefs;
    struct waiter *waiters;
    size_t nwaiters, capwaiters;
    size_t nsyncwait;     /* of the waiters, BATCH ones (the others, WRITE, need no sync) */
    uint64_t batch_since_ns;
    struct store_pack_opts opts;
    struct cache_slot *cache;
    size_t cache_mask, cache_used;
    uint64_t cache_hits, cache_misses, syncs, ref_records;
    uint8_t *scratch;
    size_t scratch_cap;
    /* Write buffer: records appended but not yet passed to pwrite. They sit at file offsets
     * [end - wlen, end); set_ref/del_ref/flush/sync (and a full buffer) write them out. */
    uint8_t *wbuf;
    size_t wlen, wcap;
    struct gc_state *gc;
    struct pack_syncer *syncer; /* the sync thread (store_pack_sync.c), NULL: none */
    struct pack_filler *filler; /* the thread writing zeros ahead (store_pack_fill.c), NULL: none */
    uint64_t zero_steps_inline, zero_steps_thread; /* steps of zeros written by appends, by it */
    uint64_t map_writes;  /* writes that went through the mapping (tests) */
    uint64_t sync_at_rec; /* ref_records when the last sync of the file began */
};

static inline struct pack *P(struct objstore *s)
{
    return (struct pack *)s;
}

static inline bool valid_kind(unsigned kind)
{
    return kind == STORE_KIND_BLOB || kind == STORE_KIND_NODE || kind == STORE_KIND_COMMIT;
}

/* The end of what has been passed to the file (lock held). */
static inline uint64_t written_end(const struct pack *p)
{
    return p->end - p->wlen;
}

/* A buffered sequential reader over the file. */
struct reader {
    struct store_io *io;
    uint64_t size;
    uint8_t *buf;
    size_t cap;
    uint64_t boff; /* file offset of buf[0] */
    size_t blen;
};

/* ---- shared helpers ---------------------------------------------------------------------- */

/* store_pack_index.c: CRC-32C and the index. */
uint32_t pack_crc32c(uint32_t crc, const void *data, size_t len);
int pack_ix_init(struct index *ix, size_t cap);
void pack_ix_free(struct index *ix);
int pack_ix_put(struct index *ix, const struct store_hash *h, uint64_t off);
/* Make room for one more entry (at most 70% full; a growth under way moves on); -ENOMEM. */
int pack_ix_reserve(struct index *ix);
/* Where h is (*found, its offset in *off) or the slot of e where it would go. */
size_t pack_ix_slot(const struct index *ix, const struct store_hash *h, bool *found,
                    uint64_t *off);
/* Move what is left of a growth (before a deletion, which only works in one table). */
void pack_ix_settle(struct index *ix);

/* store_pack.c: records, the write buffer, objects, the ops. */
void pack_log(struct pack *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool pack_valid_name(const char *name);
/* Append a record (lock held); `now`: write the buffer out with it. */
int pack_append(struct pack *p, const uint8_t *rec, size_t total, uint64_t *at, bool now);
/* Write out the buffer and sync the file (lock held). */
int pack_do_sync(struct pack *p);
/* Note an older object a writer used while a GC runs (lock held). */
void pack_gc_touch(struct pack *p, const struct store_hash *h, uint64_t off);

/* store_pack_refs.c: refs, their records, sync modes and waiters (the objstore ops). */
int pack_get_ref(struct objstore *s, const char *name, struct store_hash *out);
int pack_set_ref(struct objstore *s, const char *name, const struct store_hash *expect,
                 const struct store_hash *value, enum store_sync sync, store_durable_fn done,
                 void *done_arg);
int pack_del_ref(struct objstore *s, const char *name, const struct store_hash *expect,
                 enum store_sync sync);
int pack_list_refs(struct objstore *s,
                   int (*fn)(void *arg, const char *name, const struct store_hash *h), void *arg);
int pack_flush(struct objstore *s);
int pack_ref_apply(struct pack *p, unsigned op, const char *name, const struct store_hash *h);
int64_t pack_encode_record(struct pack *p, unsigned type, unsigned kind,
                           const struct store_hash *h, const void *payload, size_t len);
int pack_wbuf_write(struct pack *p);
/* How many bytes of zeros the file grows by ahead of its records (lock held). */
uint64_t pack_prealloc_step(const struct pack *p);
void pack_trim_prealloc(struct pack *p);
/* Take the mapping of p->io (after open and a GC's switch of files); sized_end: the size. */
void pack_map_file(struct pack *p, uint64_t size);
/* Are records written through the mapping now? (lock held; store_pack.c, write_at) */
bool pack_map_writes(const struct pack *p);
void pack_inflight_add(struct pack *p, const struct store_hash *h);
size_t pack_encode_ref_entry(uint8_t *b, unsigned op, const char *name,
                             const struct store_hash *h);
struct waiter *pack_take_waiters(struct pack *p, size_t *n);
void pack_call_waiters(struct waiter *w, size_t n, bool ok);
void pack_free(struct pack *p);
extern const struct objstore_ops pack_ops;

/* store_pack_sync.c: the sync thread. Stop it (the sync it owes is finished first; lock not
 * held); wait until no sync runs (lock held: a GC about to switch files); is there one? */
void pack_syncer_stop(struct pack *p);
void pack_syncer_wait_idle(struct pack *p);
bool pack_syncer_running(const struct pack *p);

/* store_pack_fill.c: the thread writing the zeros ahead (lock held, except stop). Before an
 * append that needs the file's zeros to reach `need`: true if they do (the thread asked for
 * the next step when less than half of `step` is left), false if the caller must write them
 * (no thread, or it is idle and the zeros end before `need`). Wait until it is idle (a GC
 * about to switch files); stop it (close). */
bool pack_filler_prealloc(struct pack *p, uint64_t need, uint64_t step);
void pack_filler_wait_idle(struct pack *p);
void pack_filler_stop(struct pack *p);
/* Wait until the thread wrote what it was asked for (tests: a deterministic point). */
void pack_filler_settle(struct pack *p);

/* store_pack_open.c: the header and the record check the open scan and the GC share. */
void pack_encode_header(uint8_t *h);
int64_t pack_check_record(struct reader *r, uint64_t off, unsigned *type, unsigned *kind,
                          const uint8_t **rec);

#endif
