/*
 * The versioned store's tree/commit layer: xenstore-shaped trees (every node has a value,
 * opaque permissions, an "own version" and sorted children), commits, branches,
 * transactions, merges, history and git export, on top of any objstore (objstore.h).
 *
 * Nothing here knows the xenstore protocol: permissions are opaque bytes, paths are
 * "/"-separated names ("/" is the root; a name is any non-empty byte string without '/' or
 * NUL), and the caller decides what a transaction reads. Encodings: docs/store-format.md.
 *
 * Errors are negative errno values: -ENOENT (no such node / object / ref), -EEXIST (node
 * exists with VS_EXCL; a ref's compare-and-swap lost), -EINVAL (bad path or argument),
 * -EAGAIN (a node a transaction accessed changed, or a merge conflict the policy refused),
 * -EBADMSG (an object does not decode), -ENOMEM, -EIO (from the heap).
 *
 * Single-threaded: one vs_store and everything opened from it belong to one thread.
 */
#ifndef XENKIT_XENSTORE_STORE_TREE_H
#define XENKIT_XENSTORE_STORE_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xenstore/objstore.h"

struct vs_store;
struct vs_tree;
struct vs_txn;

/* ---- the store: an objstore plus a bounded cache of objects ----------------------------- */

/* cache_bytes: budget of the object cache (0: a default of 8 MiB). The objstore stays the
 * caller's (vs_store_close does not close it). */
struct vs_store *vs_store_open(struct objstore *os, size_t cache_bytes);
void vs_store_close(struct vs_store *st);
struct objstore *vs_store_objstore(struct vs_store *st);

/* The root hash of the empty tree (a root node with an empty value, no perms, version 0). */
void vs_empty_root(struct vs_store *st, struct store_hash *out);

/* ---- commits ---------------------------------------------------------------------------- */

#define VS_MAX_PARENTS 16

struct vs_commit {
    struct store_hash root;
    size_t nparents;
    struct store_hash parents[VS_MAX_PARENTS];
    uint64_t gen;     /* 1 + the largest parent's gen (1 for a root commit) */
    uint64_t time_ns; /* wall clock, ns since the epoch */
    char *author;     /* malloc'ed, NUL-terminated */
    char *message;
};

/* Who/what/when of a new commit. time_ns 0: now (CLOCK_REALTIME). */
struct vs_commit_info {
    const char *author;
    const char *message;
    uint64_t time_ns;
};

int vs_commit_read(struct vs_store *st, const struct store_hash *h, struct vs_commit *out);
void vs_commit_free(struct vs_commit *c);

/* ---- working trees ---------------------------------------------------------------------- */

/* A working tree reads lazily through the store's cache and keeps writes in memory until
 * vs_tree_commit. Opened on a commit (NULL: the empty tree, gen 0), it stamps every node it
 * changes with own version = commit's gen + 1, the gen of the commit it will become. */
int vs_tree_open(struct vs_store *st, const struct store_hash *commit, struct vs_tree **out);
/* Opened on a bare root hash, stamping changes with `gen` (for reading old roots, merges). */
int vs_tree_open_root(struct vs_store *st, const struct store_hash *root, uint64_t gen,
                      struct vs_tree **out);
void vs_tree_close(struct vs_tree *t);

struct vs_stat {
    uint64_t version;  /* own version: changes with the node's value, perms or child list */
    size_t vlen;       /* value length */
    size_t plen;       /* perms length */
    size_t nchildren;
};

int vs_tree_stat(struct vs_tree *t, const char *path, struct vs_stat *st);
/* *val / *perms are malloc'ed with one extra NUL byte after the data (caller frees). */
int vs_tree_read(struct vs_tree *t, const char *path, void **val, size_t *len);
int vs_tree_get_perms(struct vs_tree *t, const char *path, void **perms, size_t *len);
/* Children's names, sorted bytewise: *names is a malloc'ed array of malloc'ed strings
 * (vs_names_free). */
int vs_tree_list(struct vs_tree *t, const char *path, char ***names, size_t *n);
void vs_names_free(char **names, size_t n);
/* The hash of the subtree at path as of the last commit/open (-EAGAIN if it has uncommitted
 * changes). Equal hashes: equal subtrees. */
int vs_tree_subtree_hash(struct vs_tree *t, const char *path, struct store_hash *out);

#define VS_SET_VALUE 1u  /* set the value */
#define VS_SET_PERMS 2u  /* set the perms */
#define VS_CREATE 4u     /* create the node if missing (parent must exist; unset parts empty) */
#define VS_EXCL 8u       /* with VS_CREATE: -EEXIST if it exists */
/* Change one node. Without VS_CREATE a missing node is -ENOENT; a missing parent is always
 * -ENOENT. Setting the root's value/perms is allowed; creating "/" is -EEXIST with VS_EXCL. */
int vs_tree_set(struct vs_tree *t, const char *path, const void *val, size_t vlen,
                const void *perms, size_t plen, unsigned flags);
/* Remove a node and its subtree (not the root: -EINVAL). */
int vs_tree_rm(struct vs_tree *t, const char *path);

/* Write the tree's new objects and a commit object (no ref is touched). parents may be
 * NULL/0; normally the commit the tree was opened on. Afterwards the tree is clean and
 * continues from the new commit (its changes will get gen + 1). */
int vs_tree_commit(struct vs_tree *t, const struct store_hash *parents, size_t nparents,
                   const struct vs_commit_info *info, struct store_hash *commit_out);
/* Write the tree's objects only and return its root hash. */
int vs_tree_write(struct vs_tree *t, struct store_hash *root_out);
/* Drop clean loaded nodes from memory (they are reloaded through the cache when needed).
 * Done automatically after a commit when more than `max_loaded` nodes are in memory. */
void vs_tree_trim(struct vs_tree *t);
void vs_tree_set_max_loaded(struct vs_tree *t, size_t max_loaded);
size_t vs_tree_loaded(const struct vs_tree *t);
/* The commit the tree was opened on or last committed (false for the empty tree). */
bool vs_tree_base(const struct vs_tree *t, struct store_hash *commit);
uint64_t vs_tree_gen(const struct vs_tree *t); /* the gen its changes are stamped with */

/* ---- branches: refs named by the caller, updated by compare-and-swap --------------------- */

/* Head of a branch (-ENOENT if it does not exist). */
int vs_branch_head(struct vs_store *st, const char *branch, struct store_hash *commit);
/* Compare-and-swap of the branch head (expect NULL: must not exist). */
int vs_branch_set(struct vs_store *st, const char *branch, const struct store_hash *expect,
                  const struct store_hash *commit, enum store_sync sync,
                  store_durable_fn done, void *done_arg);
/* Commit the tree onto the branch: parent = the tree's base; the ref moves from the base to
 * the new commit. -EEXIST if the branch moved meanwhile: the commit was still written
 * (*commit_out) and the tree now continues from it, but the branch does not name it; merge it
 * with vs_branch_merge or drop it. */
int vs_branch_commit(struct vs_tree *t, const char *branch, const struct vs_commit_info *info,
                     enum store_sync sync, store_durable_fn done, void *done_arg,
                     struct store_hash *commit_out);

/* ---- merge ------------------------------------------------------------------------------ */

/* A node's own state as the merge policy sees it. */
struct vs_own {
    bool present;
    const void *val;
    size_t vlen;
    const void *perms;
    size_t plen;
};

enum vs_merge_choice { VS_MERGE_OURS, VS_MERGE_THEIRS, VS_MERGE_FAIL };

/* Called for a conflict at `path`: both sides changed the node's value/perms differently
 * (all present), or one side removed a subtree the other changed (that side not present;
 * the choice then keeps or drops the whole subtree). NULL policy: every conflict fails. */
typedef enum vs_merge_choice (*vs_merge_policy)(void *arg, const char *path,
                                                const struct vs_own *base,
                                                const struct vs_own *ours,
                                                const struct vs_own *theirs);
enum vs_merge_choice vs_merge_prefer_ours(void *arg, const char *path, const struct vs_own *b,
                                          const struct vs_own *o, const struct vs_own *t);
enum vs_merge_choice vs_merge_prefer_theirs(void *arg, const char *path,
                                            const struct vs_own *b, const struct vs_own *o,
                                            const struct vs_own *t);

/* 3-way merge of trees (roots; base NULL: the empty tree). Nodes of the result whose own
 * state differs from ours get own version `gen`. -EAGAIN when the policy fails. */
int vs_merge_roots(struct vs_store *st, const struct store_hash *base,
                   const struct store_hash *ours, const struct store_hash *theirs, uint64_t gen,
                   vs_merge_policy policy, void *arg, struct store_hash *out_root);
/* Best common ancestor of two commits (-ENOENT if none). */
int vs_merge_base(struct vs_store *st, const struct store_hash *a, const struct store_hash *b,
                  struct store_hash *out);
/* Merge commit `theirs` into `branch`: fast-forward when possible, otherwise a commit with
 * parents (head, theirs). */
int vs_branch_merge(struct vs_store *st, const char *branch, const struct store_hash *theirs,
                    vs_merge_policy policy, void *arg, const struct vs_commit_info *info,
                    enum store_sync sync, struct store_hash *commit_out);

/* ---- transactions (C xenstored 4.17's semantics) ------------------------------------------ */

/* A transaction sees each node it has not touched yet in the live store (the branch head at
 * the moment of the access) and each node it has touched as it was at its first access, plus
 * its own changes. Every access (read, stat, list, get_perms, note_read, and the nodes a
 * change touches: the node; when creating it, its parent; when removing it, its parent and
 * its whole subtree) is recorded once, with the node's existence and own version at that
 * first access. Nothing is copied while nobody else changes what the transaction touched. */
int vs_txn_begin(struct vs_store *st, const char *branch, struct vs_txn **out);
void vs_txn_abort(struct vs_txn *x);
/* Reads: like vs_tree_*, on the transaction's view; each records its path. */
int vs_txn_stat(struct vs_txn *x, const char *path, struct vs_stat *st);
int vs_txn_read(struct vs_txn *x, const char *path, void **val, size_t *len);
int vs_txn_get_perms(struct vs_txn *x, const char *path, void **perms, size_t *len);
/* vs_txn_get_perms without the copy: *perms is borrowed, valid until the transaction's next
 * call (a permission check reads a node's perms on every request, and used to copy and free
 * them each time). */
int vs_txn_perms_ref(struct vs_txn *x, const char *path, const void **perms, size_t *len);
int vs_txn_list(struct vs_txn *x, const char *path, char ***names, size_t *n);
/* Record path as accessed without reading it. */
int vs_txn_note_read(struct vs_txn *x, const char *path);
/* Changes, like vs_tree_set/vs_tree_rm on the view. vs_txn_rm also says -EINVAL when the
 * node is there but its parent is not, and -EIO when its parent (or a node of its subtree)
 * does not list a child that is there (as C: possible only when others changed them since the
 * transaction first looked; such a transaction cannot commit). */
int vs_txn_set(struct vs_txn *x, const char *path, const void *val, size_t vlen,
               const void *perms, size_t plen, unsigned flags);
int vs_txn_rm(struct vs_txn *x, const char *path);
/* Validate and commit: -EAGAIN iff a recorded node has another existence or own version in
 * the current head than at its first access; otherwise the changes are replayed onto the
 * head and the branch moved by compare-and-swap (retried if it loses to a commit that does
 * not touch what was accessed). A transaction with no changes commits nothing (commit_out =
 * the head). -ENOMEM if a change failed halfway for lack of memory. The transaction is freed
 * in every case. */
int vs_txn_commit(struct vs_txn *x, const struct vs_commit_info *info, enum store_sync sync,
                  store_durable_fn done, void *done_arg, struct store_hash *commit_out);
/* The commit the transaction's view of untouched nodes comes from (false if the branch was
 * empty), e.g. to keep it alive in GC while the transaction is open. */
bool vs_txn_snapshot(const struct vs_txn *x, struct store_hash *commit);
/* How many nodes the transaction has accessed (C's "transaction-nodes" quota counts these). */
size_t vs_txn_accessed(const struct vs_txn *x);
/* Whether the transaction accessed path; then *then: it existed at the first access, *now: it
 * exists in the transaction's view (records nothing). */
bool vs_txn_was_accessed(const struct vs_txn *x, const char *path, bool *then, bool *now);
/* Where path comes in the order of the transaction's first accesses (1: the first node it
 * accessed), 0 if it did not access it. */
size_t vs_txn_access_rank(const struct vs_txn *x, const char *path);
/* At most max accessed nodes (0: no limit): an access to one more says -ENOSPC and fails the
 * transaction (its commit says -ENOMEM), as C's transaction-nodes quota. */
void vs_txn_set_max_accessed(struct vs_txn *x, size_t max);
/* Has the transaction failed (its commit will say -ENOMEM)? */
bool vs_txn_failed(const struct vs_txn *x);

/* ---- history ---------------------------------------------------------------------------- */

/* Every commit reachable from head, newest first (by gen, then hash); with path non-NULL only
 * the commits whose subtree at path differs from their first parent's. Commits removed by
 * GC end the walk quietly. fn returning non-zero stops the walk and is returned. */
typedef int (*vs_log_fn)(void *arg, const struct store_hash *h, const struct vs_commit *c);
int vs_log(struct vs_store *st, const struct store_hash *head, const char *path, vs_log_fn fn,
           void *arg);

enum vs_change { VS_ADDED, VS_REMOVED, VS_CHANGED };
/* Node-level differences from a to b: a node only in b is ADDED, only in a REMOVED (every
 * node of an added/removed subtree is reported), in both with another value or perms
 * CHANGED. Subtrees with equal hashes are skipped. Order: unspecified. */
typedef int (*vs_diff_fn)(void *arg, const char *path, enum vs_change c);
int vs_diff_roots(struct vs_store *st, const struct store_hash *a, const struct store_hash *b,
                  vs_diff_fn fn, void *arg);
int vs_diff_commits(struct vs_store *st, const struct store_hash *a,
                    const struct store_hash *b, vs_diff_fn fn, void *arg);
/* The newest commit on head's first-parent chain in which the node at path got its current
 * value and perms (created, or value/perms changed). -ENOENT if path is absent at head. */
int vs_blame(struct vs_store *st, const struct store_hash *head, const char *path,
             struct store_hash *out);

/* ---- reachability (for the heap's garbage collector) ------------------------------------ */

struct vs_keep {
    uint64_t commits;      /* keep this many newest commits of each head's history */
    uint64_t seconds;      /* and every commit younger than this (0: none by age) */
    uint64_t now_ns;       /* 0: now */
    const struct store_hash *snapshots; /* commits an open snapshot uses (tree kept) */
    size_t nsnapshots;
};
#define VS_KEEP_ALL UINT64_MAX

/* Call fn once for every object reachable from the kept commits: the commits themselves,
 * their trees (nodes, inodes, blobs). A head is always kept; a commit's ancestry is walked
 * newest first and stops at the first commit that is neither among the newest `commits` nor
 * younger than `seconds`. Kept commits may name parents that are not kept. */
typedef int (*vs_reach_fn)(void *arg, const struct store_hash *h, enum store_kind kind);
int vs_reachable(struct vs_store *st, const struct store_hash *heads, size_t nheads,
                 const struct vs_keep *keep, vs_reach_fn fn, void *arg);

/* Adapter for the heap's garbage collector (the `enumerate` argument of store_pack_gc, type
 * store_enum_fn in store_pack.h): arg is a struct vs_gc_args. The heads are every ref of the
 * objstore: a ref naming a commit keeps history per `keep`; one naming a node or blob keeps
 * that tree or blob. Reads go through a private cache, so it may run in the GC's thread while
 * the owner of the store goes on. */
struct vs_gc_args {
    struct objstore *os;
    struct vs_keep keep;
};
int vs_gc_enumerate(void *arg, int (*live)(void *larg, const struct store_hash *h), void *larg);

/* ---- git export ------------------------------------------------------------------------- */

/* Write the history reachable from head as a git repository in dir (created if needed; a
 * ".git" inside it), branch `branch` (refs/heads/NAME, and HEAD points to it). Mapping: every
 * node is a git directory holding ".value" (its value) and, if it has perms, ".perms" (NUL
 * bytes shown as newlines); children are subdirectories; names outside [A-Za-z0-9_@-] bytes
 * are %XX-escaped. Commits keep author, time and message. Returns the number of commits. */
int vs_export_git(struct vs_store *st, const struct store_hash *head, const char *branch,
                  const char *dir);

#endif
