/* A naive model of the versioned store's trees for the property tests (test_store_prop.c):
 * a plain tree of nodes with own versions stamped by gen as store_tree.h documents, deep
 * copies for snapshots, and store_tree.h's merge rule. Uses cmocka's asserts. */
#ifndef XENKIT_TESTS_STORE_MODEL_H
#define XENKIT_TESTS_STORE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mn {
    char *name;
    char *val, *perms;
    size_t vlen, plen;
    uint64_t ver;
    struct mn **kids; /* sorted by name */
    size_t nk;
};

struct mn *mn_new(const char *name, uint64_t ver);
void mn_free(struct mn *n);
struct mn *mn_clone(const struct mn *n);
struct mn *mn_kid(struct mn *n, const char *name, size_t *pos);
/* Walk "/a/b": the node, or NULL; *parent the parent when it exists. */
struct mn *mn_find(struct mn *root, const char *path, struct mn **parent, char *last);
/* mn_set, mn_rm: as vs_tree_set and vs_tree_rm, stamping what changes with gen. */
int mn_set(struct mn *root, const char *path, const char *val, size_t vlen, const char *perms,
           size_t plen, unsigned flags, uint64_t gen);
int mn_rm(struct mn *root, const char *path, uint64_t gen);
bool own_eq(const struct mn *a, const struct mn *b);
/* Equal subtrees, versions included (what equal hashes mean). */
bool deep_eq(const struct mn *a, const struct mn *b);
/* The merge rule of store_tree.h (policy: fixed side); -EAGAIN on a refused conflict. */
int mn_merge(struct mn *b, struct mn *o, struct mn *t, uint64_t gen, int policy, int *nconf);

#endif
