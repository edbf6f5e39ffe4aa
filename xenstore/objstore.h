/*
 * The boundary between the versioned store's two halves:
 *
 *   - below: an object heap (store_pack.c on a file, store_memobj.c in memory for tests) that
 *     keeps immutable byte strings under their hash, plus a few named refs (branch heads),
 *     and makes them durable;
 *   - above: the tree/commit layer (store_tree.c, store_commit.c, ...) that encodes blobs,
 *     directory nodes (and their inode splits) and commits as such byte strings.
 *
 * The heap does not interpret objects beyond a one-byte kind it stores next to them; the
 * tree layer does not know about files, syncs or recovery. Both halves are host code (the
 * store runs in dom0), but neither does I/O except through store_io.h.
 *
 * Errors are negative errno values (-ENOENT: no such object/ref, -EIO: the medium failed,
 * -EBADMSG: an object failed its checksum or does not decode, -ENOMEM, -EEXIST: a ref's
 * compare-and-swap lost).
 */
#ifndef XENKIT_XENSTORE_OBJSTORE_H
#define XENKIT_XENSTORE_OBJSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_HASH_LEN 32 /* SHA-256 */

struct store_hash {
    uint8_t b[STORE_HASH_LEN];
};

/* The kinds of object the tree layer stores (the heap only records them). */
enum store_kind {
    STORE_KIND_BLOB = 1,   /* a value */
    STORE_KIND_NODE = 2,   /* a directory node (or one inode of a split directory) */
    STORE_KIND_COMMIT = 3, /* a commit */
};

/* Hash of (kind, bytes): the object's name. SHA-256 over a one-byte kind then the bytes, so
 * a blob and a node with the same bytes differ. */
void store_hash_object(enum store_kind kind, const void *data, size_t len,
                       struct store_hash *out);
bool store_hash_equal(const struct store_hash *a, const struct store_hash *b);
/* 64 lowercase hex digits and a NUL (hex must hold 65 bytes). */
void store_hash_hex(const struct store_hash *h, char *hex);
int store_hash_parse(const char *hex, struct store_hash *out);

/* Durability of a ref update (store_objstore_ops.set_ref). */
enum store_sync {
    STORE_SYNC_NONE,   /* no sync at all (tests, tmpfs) */
    STORE_SYNC_BATCH,  /* group commit: durable at the next flush; the callback says when */
    STORE_SYNC_ALWAYS, /* durable when set_ref returns */
    STORE_SYNC_WRITE,  /* group write: in the file (not through the device's flush) at the
                        * next flush, like BATCH without the sync; the callback says when. A
                        * process killed after it loses nothing; a power cut may lose it. */
};

/* Called (from set_ref or from flush) once the ref update it was given with is durable;
 * `ok` false if the sync failed (the update may be lost after a crash). */
typedef void (*store_durable_fn)(void *arg, bool ok);

struct objstore;

struct objstore_ops {
    /* Add an object; returns 0 and its hash (adding an existing object is a no-op).
     * New objects are not durable until a later set_ref is. */
    int (*put)(struct objstore *s, enum store_kind kind, const void *data, size_t len,
               struct store_hash *out);
    /* Read an object: *data is malloc'ed (caller frees), *kind and *len filled in. The heap
     * verifies the bytes against the hash before returning them. */
    int (*get)(struct objstore *s, const struct store_hash *h, enum store_kind *kind,
               void **data, size_t *len);
    bool (*has)(struct objstore *s, const struct store_hash *h);

    /* Refs: named hashes (branch heads), at most STORE_REF_NAME_MAX bytes of name.
     * set_ref is a compare-and-swap: it succeeds only if the ref currently equals *expect
     * (expect NULL: the ref must not exist); then, in the given sync mode, every object put
     * so far and the new ref value become durable together (objects first, then the ref:
     * after a crash a ref never names a missing object). `done` (may be NULL) is called
     * when durable — before set_ref returns for ALWAYS and NONE, at a later flush for
     * BATCH and WRITE (WRITE: when written to the file; a heap with no file, at once). */
    int (*get_ref)(struct objstore *s, const char *name, struct store_hash *out);
    int (*set_ref)(struct objstore *s, const char *name, const struct store_hash *expect,
                   const struct store_hash *value, enum store_sync sync, store_durable_fn done,
                   void *done_arg);
    int (*del_ref)(struct objstore *s, const char *name, const struct store_hash *expect,
                   enum store_sync sync);
    /* Call fn for every ref (order unspecified); stops early if fn returns non-zero. */
    int (*list_refs)(struct objstore *s,
                     int (*fn)(void *arg, const char *name, const struct store_hash *h),
                     void *arg);
    /* Make every pending BATCH update durable now and call their callbacks. */
    int (*flush)(struct objstore *s);
    void (*close)(struct objstore *s);
    /* Optional (NULL: callers use put): put, and say whether the object was added (*added
     * false: it was there already). A cache in front of the heap then need not look for a
     * new object, which it cannot hold. */
    int (*put_added)(struct objstore *s, enum store_kind kind, const void *data, size_t len,
                     struct store_hash *out, bool *added);
    /* Optional, both or neither (NULL: callers use put_added or put). A writer that puts a
     * chain of objects (each naming the one before) hashes each itself, calls prefetch, and
     * puts it with put_hashed only after hashing the next: the heap's index lookup, a cache
     * miss in a big heap, then overlaps that work instead of stalling the put.
     * prefetch is a hint (no effect on the heap's state). put_hashed is put_added with
     * *h = store_hash_object(kind, data, len) already computed by the caller: not checked
     * (that would hash again), so a wrong h stores the object under a wrong name. */
    void (*prefetch)(struct objstore *s, const struct store_hash *h);
    int (*put_hashed)(struct objstore *s, enum store_kind kind, const void *data, size_t len,
                      const struct store_hash *h, bool *added);
};

#define STORE_REF_NAME_MAX 255

struct objstore {
    const struct objstore_ops *ops;
};

/* An in-memory heap (store_memobj.c): same semantics, no durability. For tests and for
 * running without --db. */
struct objstore *store_memobj_open(void);

#endif
