/*
 * Private to the transactions (store_txn.c, store_txn_kids.c): a transaction, its records
 * of touched paths and its write set. Not for the daemon: it uses store_tree.h.
 */
#ifndef XENKIT_XENSTORE_STORE_TXN_INT_H
#define XENKIT_XENSTORE_STORE_TXN_INT_H

#include "xenstore/store_tree_int.h"

/* One touched path. */
struct rec {
    char *path;        /* allocated with the record */
    bool present0;     /* at the first access */
    uint64_t version0;
    bool own;          /* the state below is ours; otherwise it is live's node at path */
    bool present;
    uint64_t version;
    uint8_t *val, *perms;
    size_t vlen, plen;
    char **kids;       /* sorted bytewise; with `lazy`, the names added to live's list */
    size_t nkids, capkids;
    /* lazy: own and present, but the child list is not copied: it is live's list at path
     * (the same as at the first access while live's node there has version0), plus `kids`,
     * minus `gone` (sorted). Copying a 1,000-name /local/domain for every transaction that
     * creates a domain's node under it cost more than the rest of the transaction. */
    bool lazy;
    char **gone;
    size_t ngone, capgone;
    /* live's node at path (NULL: absent, or not looked up since live last moved). Nothing
     * frees a node of live while live stays: reads only load more. A request reads its node
     * several times (the permission check, the quota accounting, the copy a change makes);
     * each look-up used to walk the path again. */
    struct vs_node *node;
};

enum { OP_SET, OP_RM };

struct vs_op {
    int kind;
    char *path;
    void *val, *perms;
    size_t vlen, plen;
    unsigned flags;
};

struct vs_txn {
    struct vs_store *st;
    char *branch;
    struct vs_tree *live;   /* the head when last looked at; NULL once a commit used it */
    bool moved;             /* live was reopened after the first access */
    bool failed;            /* out of memory halfway through a change, or over max_recs:
                             * commit says ENOMEM */
    size_t max_recs;        /* 0: no limit */
    struct rec **recs;
    size_t nrecs, caprecs;
    uint32_t *slots;        /* open addressing by path: index + 1 into recs, 0 = empty */
    struct rec *last;       /* the record found or added last (rec_find looks there first) */
    size_t nslots;
    struct vs_op *ops;
    size_t nops, capops;
    /* A request's own transaction touches a path or two: the first records, slots and ops
     * live in the transaction itself (recs, slots and ops point here until they grow), which
     * spares each request three allocations. */
    struct rec *recs_in[4];
    uint32_t slots_in[16];
    struct vs_op ops_in[2];
    char branch_in[24];     /* branch, when its name fits */
};

/* store_txn.c: existence and own version of path in t (absent also when an ancestor is
 * missing); *node: the node, NULL if absent. */
int txn_version_at(struct vs_tree *t, const char *path, bool *present, uint64_t *version,
                   struct vs_node **node);
/* store_txn.c: live's node at r's path (-ENOENT if absent there). */
int txn_live_node(struct vs_txn *x, struct rec *r, struct vs_node **out);

/* store_txn_kids.c. Give a lazy record its own child list. */
int txn_kids_copy(struct vs_txn *x, struct rec *r);
/* Add name to an own record's children (nothing if listed already). */
int txn_kid_insert(struct vs_txn *x, struct rec *r, const char *name);
/* Remove name from an own record's children; -ENOENT if not listed. */
int txn_kid_remove(struct vs_txn *x, struct rec *r, const char *name);

#endif
