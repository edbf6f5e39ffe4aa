/*
 * vxenstored: the connection table's part for Unix sockets the fd store keeps (vxs_sock.c).
 * /sock/<name> appears with the socket's first WATCH (vxs_persist_watch, in that request's
 * commit) and holds its watches and events-delivered mark as /dom/<domid> does a ring's
 * (vxs_persist.c); it goes when the socket closes, and at start-up for every socket that was
 * not handed back (closed while no daemon ran).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/vxs.h"

void vxs_persist_sock_gone(const struct vxs_conn *c)
{
    if (!c->in_table)
        return;
    char dir[64], what[80], who[48];
    vxs_persist_conn_dir(dir, sizeof dir, c);
    vxs_persist_conn_who(who, sizeof who, c);
    snprintf(what, sizeof what, "CLOSE %s", who);
    vxs_txn_daemon_commit(VXS_CONN_BRANCH, what, vxs_persist_rm, dir);
}

static void restore_watch(void *arg, const char *path, const char *token, int depth,
                          uint64_t since)
{
    struct vxs_conn *c = arg;
    if (vxs_watch_add(c, path, token, depth) == 0)
        vxs_watch_newest(c)->since = since;
}

void vxs_persist_sock_load(struct vxs_conn *c)
{
    struct vs_txn *x;
    if (vs_txn_begin(vxs.st, VXS_CONN_BRANCH, &x) < 0)
        return;
    char dir[64];
    vxs_persist_conn_dir(dir, sizeof dir, c);
    struct vs_stat st;
    c->in_table = vs_txn_stat(x, dir, &st) == 0;
    if (c->in_table)
        vxs_persist_each_watch(x, dir, restore_watch, c);
    vs_txn_abort(x);
}

/* Entries of sockets that are gone (closed while no daemon ran, or not handed back). */
static int rm_stale_socks(struct vs_txn *x, struct vxs_events *ev, void *p)
{
    (void)ev;
    (void)p;
    char **names = NULL;
    size_t n = 0;
    if (vs_txn_list(x, "/sock", &names, &n) < 0)
        return 1;
    int done = 0;
    for (size_t i = 0; i < n; i++) {
        bool live = false;
        for (const struct vxs_conn *c = vxs.conns; c && !live; c = c->next)
            live = !c->dom && c->in_table && strcmp(c->name, names[i]) == 0;
        char path[300];
        snprintf(path, sizeof path, "/sock/%s", names[i]);
        if (!live && vs_txn_rm(x, path) == 0)
            done++;
    }
    vs_names_free(names, n);
    return done ? 0 : 1;
}

void vxs_persist_sock_prune(void)
{
    vxs_txn_daemon_commit(VXS_CONN_BRANCH, "CLOSE stale sockets", rm_stale_socks, NULL);
}
