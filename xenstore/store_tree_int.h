/*
 * Private to the tree/commit layer (store_enc.c, store_tree.c, store_tree_dir.c,
 * store_commit.c, store_txn*.c, store_history.c, store_git.c): the object encodings, the object cache and the in-memory
 * shape of a working tree. Not for the daemon: it uses store_tree.h.
 */
#ifndef XENKIT_XENSTORE_STORE_TREE_INT_H
#define XENKIT_XENSTORE_STORE_TREE_INT_H

#include <string.h>

#include "xenstore/store_tree.h"

/* Encoding constants (docs/store-format.md, "Objects"). */
#define VS_FMT_NODE 0x4e   /* 'N' */
#define VS_FMT_INODE 0x49  /* 'I' */
#define VS_FMT_COMMIT 0x43 /* 'C' */
#define VS_INLINE_MAX 64   /* values up to this length live inside the node */
#define VS_LEAF_MAX 64     /* a directory part with more entries is split */
#define VS_FANOUT_BITS 5
#define VS_FANOUT (1u << VS_FANOUT_BITS)
#define VS_MAX_DEPTH 50    /* 5-bit chunks of a 256-bit name hash (never reached) */

/* ---- growable byte buffer --------------------------------------------------------------- */
struct vs_buf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
};
/* Room for n more bytes (false, and b->oom set, if out of memory). */
bool vs_buf_grow(struct vs_buf *b, size_t n);
/* A copy of len bytes with a NUL after them (values and perms are kept so): 0 or -ENOMEM. */
int vs_dup_bytes(const void *src, size_t len, uint8_t **out);
/* Inline: an encoding is mostly one-byte tags, varints and 32-byte hashes, and a call per
 * piece cost more than the copying. */
static inline void vs_buf_put(struct vs_buf *b, const void *d, size_t n)
{
    if (b->len + n > b->cap && !vs_buf_grow(b, n))
        return;
    if (n)
        memcpy(b->p + b->len, d, n);
    b->len += n;
}
static inline void vs_buf_u8(struct vs_buf *b, uint8_t v)
{
    if (b->len + 1 > b->cap && !vs_buf_grow(b, 1))
        return;
    b->p[b->len++] = v;
}
static inline void vs_buf_varint(struct vs_buf *b, uint64_t v)
{
    if (b->len + 10 > b->cap && !vs_buf_grow(b, 10))
        return;
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        b->p[b->len++] = c | (v ? 0x80 : 0);
    } while (v);
}
static inline void vs_buf_bytes(struct vs_buf *b, const void *d, size_t n) /* varint len + bytes */
{
    vs_buf_varint(b, n);
    vs_buf_put(b, d, n);
}

struct vs_rd {
    const uint8_t *p, *end;
    bool bad;
};
uint8_t vs_rd_u8(struct vs_rd *r);
uint64_t vs_rd_varint(struct vs_rd *r);
const uint8_t *vs_rd_raw(struct vs_rd *r, size_t n);
const uint8_t *vs_rd_bytes(struct vs_rd *r, size_t *n);

/* ---- a set/map keyed by hash ------------------------------------------------------------ */
struct vs_hmap_ent {
    struct store_hash k;
    uint64_t v;
    bool used;
};
struct vs_hmap {
    struct vs_hmap_ent *e;
    size_t n, cap;
};
/* Returns the entry (inserted with v=0 and *fresh true if new), NULL if out of memory. */
struct vs_hmap_ent *vs_hmap_add(struct vs_hmap *m, const struct store_hash *k, bool *fresh);
struct vs_hmap_ent *vs_hmap_find(const struct vs_hmap *m, const struct store_hash *k);
void vs_hmap_free(struct vs_hmap *m);

/* ---- the store and its object cache ------------------------------------------------------ */
struct vs_cslot;
struct vs_store {
    struct objstore *os;
    /* the object cache (store_cache.c): a ring of ring_cap bytes whose next object goes at
     * logical offset head, and a table of nslots slots */
    uint8_t *ring;
    size_t ring_cap;
    uint64_t head;
    struct vs_cslot *slots;
    size_t nslots;
    void *big; /* the last object loaded that was too big for the ring */
    struct store_hash empty_root;
    bool empty_root_known;
    struct vs_tree *spare; /* a clean tree kept by vs_tree_close for the next vs_tree_open */
    size_t trees;          /* trees open on it (not counting the spare) */
    bool closed;           /* vs_store_close came while trees were open: the last one frees */
    struct vs_buf enc;     /* where objects are encoded before vs_put_enc (reused) */
    /* The put vs_put_enc_next deferred (store_cache.c): its bytes (the previous enc buffer,
     * swapped out), kind and hash; pend: one waits. */
    struct vs_buf pend_buf;
    struct store_hash pend_h;
    enum store_kind pend_kind;
    bool pend;
};

/* The cache's live objects, the ring's bytes in use and its size (memreport). */
void vs_store_cache_stats(const struct vs_store *st, size_t *objects, size_t *bytes,
                          size_t *budget);
/* Fetch an object through the cache. The returned bytes are borrowed: valid until the next
 * vs_load/put call on the store. -EBADMSG if its kind is not `kind`. */
int vs_load(struct vs_store *st, const struct store_hash *h, enum store_kind kind,
            const uint8_t **data, size_t *len);
int vs_put(struct vs_store *st, enum store_kind kind, const void *data, size_t len,
           struct store_hash *out);
/* The store's encoding buffer, emptied: encode an object into it, then vs_put_enc puts it
 * (-ENOMEM if the encoding ran out of memory). One object at a time: a tree's children are
 * written before its own encoding starts. Saves a malloc and the buffer's regrowth per
 * object. */
struct vs_buf *vs_enc_buf(struct vs_store *st);
int vs_put_enc(struct vs_store *st, enum store_kind kind, struct store_hash *out);
/* vs_put_enc for a chain of objects (a tree written children first): hashes the encoding
 * (*out), has the heap prefetch what its put will probe, puts the object deferred before (if
 * any), and defers this one, until the next vs_put_enc_next, vs_put, vs_load or
 * vs_put_pending. So the heap's index miss for an object overlaps the encoding and hashing
 * of the next (objstore.h, prefetch). A heap without put_hashed: vs_put_enc. The deferred
 * object is in the heap only once that next call returned 0: a writer that fails must
 * vs_put_drop it and write everything it marked clean meanwhile again (vs_tree_write marks
 * the tree dirty). */
int vs_put_enc_next(struct vs_store *st, enum store_kind kind, struct store_hash *out);
int vs_put_pending(struct vs_store *st);
void vs_put_drop(struct vs_store *st);

/* ---- in-memory tree ---------------------------------------------------------------------- */
struct vs_node;
struct vs_inode;

/* A directory entry: 64 bytes, one cache line. The name's first bytes and its length are
 * kept inline (`pre`, `nlen`), so that a search compares, and an encoding copies, the short
 * names xenstore is full of (domids, device numbers, keys) without touching the separately
 * allocated name; and `dirty`, so that writing a directory part visits only the children
 * that changed instead of loading each child node to look at its flag (a 1,000-domain
 * /local/domain leaf has ~31 entries: those were most of a write's cache misses). */
#define VS_NAME_PRE 8
struct vs_entry {
    char *name;
    struct store_hash h; /* child node's hash; valid when n is NULL or n is clean */
    struct vs_node *n;   /* loaded child, or NULL */
    char pre[VS_NAME_PRE]; /* the name's first bytes, zero-padded */
    uint32_t nlen;
    /* n may be dirty. Set by vs_dir_find with `mark` (every change to a node reaches it that
     * way, or through vs_dir_insert, which sets it for a loaded node) and cleared when the
     * part is written; clean loaded nodes and unloaded ones never need it. */
    bool dirty;
};
/* Fill e's name (a copy of name[0..len)), pre and nlen; n, h and dirty are left alone.
 * -ENOMEM if the copy fails. */
int vs_entry_set_name(struct vs_entry *e, const char *name, size_t len);
/* VS_NAME_PRE zero-padded bytes as a big-endian number: such numbers compare as the names
 * do as far as they go (names hold no NUL). */
static inline uint64_t vs_pre_key(const char pre[VS_NAME_PRE])
{
    uint64_t v;
    memcpy(&v, pre, sizeof v);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}
static inline uint64_t vs_name_key(const char *name, size_t len)
{
    char pre[VS_NAME_PRE] = {0};
    memcpy(pre, name, len < VS_NAME_PRE ? len : VS_NAME_PRE);
    return vs_pre_key(pre);
}
/* strcmp(e's name, name)'s sign, where key = vs_name_key(name, len): equal prefixes with
 * either name shorter than VS_NAME_PRE mean equal lengths, so only two long names with the
 * same first bytes need the names themselves. */
static inline int vs_entry_cmp(const struct vs_entry *e, const char *name, uint64_t key,
                               size_t len)
{
    uint64_t ek = vs_pre_key(e->pre);
    if (ek != key)
        return ek < key ? -1 : 1;
    if (e->nlen <= VS_NAME_PRE || len <= VS_NAME_PRE)
        return (e->nlen > len) - (e->nlen < len);
    return strcmp(e->name + VS_NAME_PRE, name + VS_NAME_PRE);
}

/* A sub-part of a tree part. */
struct vs_slot {
    bool present;
    struct store_hash h;
    struct vs_inode *in; /* loaded, or NULL */
};

/* One part of a directory: a leaf (sorted entries) or a tree of VS_FANOUT parts selected by
 * 5 bits of the name's hash at this depth. A node's top part (depth 0) lives in the node. */
struct vs_inode {
    bool tree;
    bool dirty;            /* differs from h (not used for the top part) */
    uint64_t count;        /* entries below */
    struct vs_entry *ents; /* leaf */
    size_t n, cap;
    /* tree: VS_FANOUT slots, allocated only while the part is a tree (NULL for a leaf).
     * Every node embeds its top part, and nearly all are leaves: inline, the 32 slots made
     * each node ~1.7 KB (a 1,000-domain tree was ~36 MB of mostly zeroes, which cost a
     * calloc of that size per node loaded or created and cache misses on every walk). */
    struct vs_slot *slot;
};

struct vs_node {
    bool dirty; /* h is stale */
    struct store_hash h;
    uint64_t version;
    uint8_t *perms;
    size_t plen;
    uint8_t *val;      /* NULL while a blob value is not loaded */
    size_t vlen;
    bool val_blob;     /* value lives in blob vh (and is loaded iff val != NULL) */
    bool val_dirty;    /* value changed since the last write (blob not written yet) */
    struct store_hash vh;
    struct vs_inode dir;
};

struct vs_tree {
    struct vs_store *st;
    struct vs_node *root;
    uint64_t gen;
    bool has_base;
    struct store_hash base;
    size_t loaded, max_loaded;
};

/* Decoders/encoders (store_enc.c). */
int vs_node_decode(const uint8_t *d, size_t len, struct vs_node *n);
int vs_inode_decode(const uint8_t *d, size_t len, unsigned depth, struct vs_inode *in);
void vs_node_encode(const struct vs_node *n, struct vs_buf *b);
void vs_inode_encode(const struct vs_inode *in, unsigned depth, struct vs_buf *b);
int vs_commit_decode(const uint8_t *d, size_t len, struct vs_commit *c);
void vs_commit_encode(const struct vs_commit *c, struct vs_buf *b);
unsigned vs_bucket(const char *name, unsigned depth);
void vs_name_hash(const char *name, struct store_hash *h);

/* "path/name" (no doubled '/'; an empty path counts as "/"), malloc'ed; NULL if out of
 * memory. */
char *vs_path_join(const char *path, const char *name);

/* A growable array of hashes. */
struct vs_hashes {
    struct store_hash *h;
    size_t n, cap;
};
/* Append; -ENOMEM if it cannot grow. */
int vs_hashes_push(struct vs_hashes *l, const struct store_hash *h);
unsigned vs_bucket_of(const struct store_hash *h, unsigned depth);

/* Tree internals (store_tree.c; the vs_dir_* and comparisons: store_tree_dir.c). */
struct vs_node *vs_node_new(void);
void vs_node_free(struct vs_node *n);
void vs_inode_clear(struct vs_inode *in);
int vs_node_load(struct vs_tree *t, const struct store_hash *h, struct vs_node **out);
/* The tree kept for reuse (NULL if none); the store no longer holds it. */
struct vs_tree *vs_tree_take_spare(struct vs_store *st);
int vs_node_value(struct vs_tree *t, struct vs_node *n);          /* load a blob value */
int vs_inode_slot(struct vs_tree *t, struct vs_inode *in, unsigned i, unsigned depth);
int vs_entry_node(struct vs_tree *t, struct vs_entry *e, struct vs_node **out);
int vs_lookup(struct vs_tree *t, const char *path, struct vs_node **out);
/* vs_tree_list of a node already found. */
int vs_node_list(struct vs_tree *t, struct vs_node *node, char ***names, size_t *n);
int vs_lookup_entry(struct vs_tree *t, const char *path, struct vs_entry **out);
/* All entries of a directory (borrowed pointers, in no particular order). */
int vs_dir_entries(struct vs_tree *t, struct vs_inode *in, unsigned depth,
                   struct vs_entry ***out, size_t *n);
int vs_dir_insert(struct vs_tree *t, struct vs_inode *in, unsigned depth, struct vs_entry *e);
int vs_node_write(struct vs_tree *t, struct vs_node *n);
int vs_path_split(const char *path, char ***comps, size_t *n);
void vs_node_mark_dirty(struct vs_tree *t, struct vs_node *n);
uint64_t vs_now_ns(void);
/* Set value and/or perms (VS_SET_VALUE/VS_SET_PERMS), stamp the node with the tree's gen. */
int vs_node_set_fields(struct vs_tree *t, struct vs_node *n, const void *val, size_t vlen,
                       const void *perms, size_t plen, unsigned flags);
/* Find name in a directory; with `mark`, every part on the way becomes dirty. */
int vs_dir_find(struct vs_tree *t, struct vs_inode *in, unsigned depth, const char *name,
                bool mark, struct vs_entry **out);
/* What a walk without `mark` went through (nodes, directory parts, entries), so that a change
 * found possible marks them dirty without walking the path again: vs_tree_set checks its
 * path first, so a failing call leaves nothing dirty, and the second walk was a tenth of a
 * write. `full`: too deep to record, walk again. */
#define VS_TRAIL_MAX 64
struct vs_trail {
    size_t nnodes, nparts, nents;
    bool full;
    struct vs_node *nodes[VS_TRAIL_MAX];
    struct vs_inode *parts[VS_TRAIL_MAX];
    struct vs_entry *ents[VS_TRAIL_MAX];
};
/* vs_dir_find without mark, recording in tr. */
int vs_dir_find_trail(struct vs_tree *t, struct vs_inode *in, unsigned depth, const char *name,
                      struct vs_trail *tr, struct vs_entry **out);
int vs_dir_remove(struct vs_tree *t, struct vs_inode *in, unsigned depth, const char *name);
/* The entry's subtree hash, false if it has unwritten changes. */
bool vs_entry_hash(const struct vs_entry *e, struct store_hash *out);
/* Do a and b (from any trees of the same store) have the same value and perms? */
int vs_own_equal(struct vs_tree *ta, struct vs_node *a, struct vs_tree *tb, struct vs_node *b);

/* Names present in only one of two directories, or in both with different (or unwritten)
 * subtree hashes. Equal sub-parts are skipped. *names: malloc'ed array of malloc'ed strings;
 * in[i] bit 0: in a, bit 1: in b. */
int vs_dir_changed(struct vs_tree *ta, struct vs_inode *a, struct vs_tree *tb,
                   struct vs_inode *b, char ***names, uint8_t **in, size_t *n);

/* A max-heap of commits by (gen, hash), for history walks. */
struct vs_cq_ent {
    uint64_t gen;
    struct store_hash h;
};
struct vs_cq {
    struct vs_cq_ent *e;
    size_t n, cap;
};
int vs_cq_push(struct vs_cq *q, uint64_t gen, const struct store_hash *h);
bool vs_cq_pop(struct vs_cq *q, struct vs_cq_ent *out);
void vs_cq_free(struct vs_cq *q);

#endif
