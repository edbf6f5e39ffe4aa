/*
 * vxs-export-demo: the git export of the versioned store, standalone.
 *
 *   build/vxs-export-demo OUT                 build a small xenstore-like history in memory
 *                                             (domains created, devices added, a domain
 *                                             destroyed) and export it to the git repo OUT
 *   build/vxs-export-demo --db PACK [--branch B] OUT
 *                                             export branch B (default "main") of a pack file
 *
 * Then: git -C OUT log -p --stat. (vxs export-git, in the daemon's CLI, will call the same
 * vs_export_git.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/store_pack.h"
#include "xenstore/store_tree.h"

static int w(struct vs_tree *t, const char *path, const char *val)
{
    return vs_tree_set(t, path, val, strlen(val), NULL, 0, VS_SET_VALUE | VS_CREATE);
}

static int demo_history(struct vs_store *st)
{
    struct vs_tree *t;
    int rc = vs_tree_open(st, NULL, &t);
    if (rc < 0)
        return rc;
    uint64_t now = 1700000000ull * 1000000000u;
    struct vs_commit_info ci = {"dom0 (xen-init-dom0)", "initial tree", now};
    rc |= w(t, "/local", "");
    rc |= w(t, "/local/domain", "");
    rc |= w(t, "/local/domain/0", "");
    rc |= w(t, "/local/domain/0/name", "Domain-0");
    rc |= vs_tree_set(t, "/local/domain/0", NULL, 0, "n0", 3, VS_SET_PERMS);
    rc |= w(t, "/tool", "");
    rc |= vs_branch_commit(t, "main", &ci, STORE_SYNC_NONE, NULL, NULL, NULL);
    for (int d = 1; d <= 3 && rc == 0; d++) {
        char p[128], v[32];
        snprintf(p, sizeof(p), "/local/domain/%d", d);
        rc |= w(t, p, "");
        snprintf(v, sizeof(v), "n0%cr%d", 0, d);
        rc |= vs_tree_set(t, p, NULL, 0, v, 6, VS_SET_PERMS);
        snprintf(p, sizeof(p), "/local/domain/%d/name", d);
        snprintf(v, sizeof(v), "guest%d", d);
        rc |= w(t, p, v);
        snprintf(p, sizeof(p), "/local/domain/%d/device", d);
        rc |= w(t, p, "");
        snprintf(p, sizeof(p), "/local/domain/%d/device/vif", d);
        rc |= w(t, p, "");
        snprintf(p, sizeof(p), "/local/domain/%d/device/vif/0", d);
        rc |= w(t, p, "");
        snprintf(p, sizeof(p), "/local/domain/%d/device/vif/0/state", d);
        rc |= w(t, p, "1");
        char msg[64];
        snprintf(msg, sizeof(msg), "xl create guest%d", d);
        ci.author = "dom0 (libxl)";
        ci.message = msg;
        ci.time_ns += 60ull * 1000000000u;
        rc |= vs_branch_commit(t, "main", &ci, STORE_SYNC_NONE, NULL, NULL, NULL);
        snprintf(p, sizeof(p), "/local/domain/%d/device/vif/0/state", d);
        rc |= w(t, p, "4");
        char who[32];
        snprintf(msg, sizeof(msg), "guest%d: vif connected", d);
        snprintf(who, sizeof(who), "domain %d", d);
        ci.author = who;
        ci.time_ns += 1000000000u;
        rc |= vs_branch_commit(t, "main", &ci, STORE_SYNC_NONE, NULL, NULL, NULL);
    }
    rc |= vs_tree_rm(t, "/local/domain/2");
    ci.author = "dom0 (libxl)";
    ci.message = "xl destroy guest2";
    ci.time_ns += 60ull * 1000000000u;
    rc |= vs_branch_commit(t, "main", &ci, STORE_SYNC_NONE, NULL, NULL, NULL);
    vs_tree_close(t);
    return rc < 0 ? -EIO : 0;
}

int main(int argc, char **argv)
{
    const char *db = NULL, *branch = "main", *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            db = argv[++i];
        else if (strcmp(argv[i], "--branch") == 0 && i + 1 < argc)
            branch = argv[++i];
        else if (argv[i][0] != '-' && out == NULL)
            out = argv[i];
        else
            out = NULL, argc = 0;
    }
    if (out == NULL) {
        fprintf(stderr, "usage: vxs-export-demo [--db PACK [--branch B]] OUT\n");
        return 2;
    }
    struct objstore *os;
    int rc;
    if (db) {
        struct store_pack_opts opts = {0};
        rc = store_pack_open_path(db, &opts, &os, NULL);
    } else {
        os = store_memobj_open();
        rc = os ? 0 : -ENOMEM;
    }
    if (rc < 0) {
        fprintf(stderr, "vxs-export-demo: open %s: %s\n", db ? db : "memory", strerror(-rc));
        return 1;
    }
    struct vs_store *st = vs_store_open(os, 0);
    if (db == NULL)
        rc = demo_history(st);
    struct store_hash head;
    if (rc == 0)
        rc = vs_branch_head(st, branch, &head);
    if (rc == 0)
        rc = vs_export_git(st, &head, db ? branch : "main", out);
    if (rc < 0)
        fprintf(stderr, "vxs-export-demo: %s\n", strerror(-rc));
    else
        printf("exported %d commits to %s (git -C %s log -p)\n", rc, out, out);
    vs_store_close(st);
    os->ops->close(os);
    return rc < 0;
}
