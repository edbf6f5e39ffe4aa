/*
 * vxenstored's internals, shared by its files (xenstore/vxs_*.c):
 *
 *   vxs_main.c      command line, the store, the Unix socket, the poll loop, connections and
 *                   their output queues (replies wait until their commit is durable)
 *   vxs_dispatch.c  one request -> one reply: argument parsing, the message types
 *   vxs_node.c      paths and node operations (read, write, mkdir, rm, directory, perms)
 *                   inside a store transaction, recording the watch events they cause
 *   vxs_perms.c     permission lists (stored as their wire bytes) and access checks
 *   vxs_watch.c     watches: registration, matching, event delivery
 *   vxs_txn.c       xenstore transactions of a connection and commits of single requests
 *   vxs_control.c   XS_CONTROL commands (xenstore-control)
 *
 * Single-threaded: one server, one poll loop.
 */
#ifndef XENKIT_XENSTORE_VXS_H
#define XENKIT_XENSTORE_VXS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xenstore/objstore.h"
#include "xenstore/store_tree.h"
#include "xenstore/xs_codec.h"

#define VXS_BRANCH "xenstore"
#define VXS_DOM0_PATH "/local/domain/0"

/* Watch events a change causes: the changed path, and for a removal also the watches below
 * it (reported at their own path). */
struct vxs_events {
    char **paths;
    bool *rm;
    size_t n, cap;
};
void vxs_events_add(struct vxs_events *ev, const char *path, bool rm);
void vxs_events_free(struct vxs_events *ev);

struct vxs_watch {
    struct vxs_watch *next;
    char *path;     /* absolute (or "@...") */
    char *given;    /* as the client gave it (relative paths are reported relative) */
    char *token;
    int depth;      /* -1: unlimited */
    bool relative;
};

struct vxs_tx {
    struct vxs_tx *next;
    uint32_t id;
    struct vs_txn *x;
    struct vxs_events ev;
    bool dirty;     /* wrote something */
};

struct vxs_out {
    struct vxs_out *next;
    uint64_t need;  /* the commit that must be durable before this leaves */
    size_t len;
    uint8_t data[];
};

struct vxs_conn {
    struct vxs_conn *next;
    unsigned id;
    int fd;
    uint32_t domid;
    bool priv;
    bool dead;
    struct xs_reader rd;
    uint8_t body[XS_READER_BODY_SIZE];
    struct vxs_out *out_head, *out_tail;
    size_t out_off;
    struct vxs_watch *watches;
    struct vxs_tx *txs;
    unsigned ntxs;
    uint32_t next_txid;
};

struct vxs_server {
    struct objstore *os;
    struct vs_store *st;
    bool is_pack;
    enum store_sync sync;
    struct vxs_conn *conns;
    unsigned next_conn_id;
    /* Durability of commits: seq numbers handed out in order; durable_upto = every commit
     * with seq <= it is durable. */
    uint64_t next_seq;      /* last seq handed out */
    uint64_t durable_upto;
    bool *done;             /* done[i]: seq durable_upto + 1 + i is durable */
    size_t done_cap;
    unsigned max_txs;
    int verbose;
};

extern struct vxs_server vxs;

/* vxs_main.c */
void vxs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Queue a complete message (header included) on conn, to leave once commit `need` is
 * durable. */
void vxs_send(struct vxs_conn *c, const void *msg, size_t len, uint64_t need);
/* A seq number for a new commit and its durable callback argument. */
uint64_t vxs_seq_new(void);
void vxs_seq_durable(void *arg, bool ok);

/* vxs_dispatch.c */
void vxs_dispatch(struct vxs_conn *c, const struct xsd_sockmsg *hdr, const uint8_t *body);
void vxs_conn_cleanup(struct vxs_conn *c);

/* vxs_node.c: paths. `out` holds XENSTORE_ABS_PATH_MAX + 1 bytes. */
int vxs_path_resolve(const struct vxs_conn *c, const char *in, char *out, bool watch,
                     bool *relative);
int vxs_node_read(struct vs_txn *x, const char *path, void **val, size_t *len);
int vxs_node_write(struct vs_txn *x, struct vxs_events *ev, const char *path, const void *val,
                   size_t len);
int vxs_node_mkdir(struct vs_txn *x, struct vxs_events *ev, const char *path);
int vxs_node_rm(struct vs_txn *x, struct vxs_events *ev, const char *path);
int vxs_node_list(struct vs_txn *x, const char *path, char ***names, size_t *n);
int vxs_node_get_perms(struct vs_txn *x, const char *path, void **perms, size_t *len);
int vxs_node_set_perms(struct vs_txn *x, struct vxs_events *ev, const char *path,
                       const void *perms, size_t len);
/* The initial tree of an empty store ("/", "/tool", "/tool/xenstored"). */
int vxs_node_init(struct vs_txn *x);

/* vxs_perms.c */
/* Validate a perms payload ("b0\0r5\0", at least one entry) and normalise it into buf
 * (entries re-formatted, each NUL-terminated). Returns the length or -EINVAL. */
int vxs_perms_normalise(const void *in, size_t len, char *buf, size_t cap);
/* May `domid` (privileged or not) read (want 'r') or write ('w') a node with these perms? */
bool vxs_perms_allow(const void *perms, size_t len, uint32_t domid, bool priv, char want);

/* vxs_watch.c */
int vxs_watch_add(struct vxs_conn *c, const char *given, const char *token, int depth);
int vxs_watch_del(struct vxs_conn *c, const char *given, const char *token);
void vxs_watch_clear(struct vxs_conn *c);
/* Deliver events of a commit to every connection's matching watches. */
void vxs_watch_fire(const struct vxs_events *ev, uint64_t need);
/* One WATCH_EVENT message to c. */
void vxs_watch_send(struct vxs_conn *c, const char *path, const char *token, uint64_t need);

/* vxs_txn.c */
int vxs_txn_start(struct vxs_conn *c, uint32_t *id);
struct vxs_tx *vxs_txn_find(struct vxs_conn *c, uint32_t id);
/* End (commit if `commit`) and free the transaction. *need: seq of its commit (0: none). */
int vxs_txn_end(struct vxs_conn *c, struct vxs_tx *t, bool commit, const char *what,
                uint64_t *need);
void vxs_txn_clear(struct vxs_conn *c);
/* Commit a single-request transaction x with its events; frees x and ev's contents. */
int vxs_txn_commit_one(struct vxs_conn *c, struct vs_txn *x, struct vxs_events *ev, bool dirty,
                       const char *what, uint64_t *need);

/* vxs_control.c: run an XS_CONTROL request (NUL-separated command and arguments); *out is a
 * malloc'd reply payload of *len bytes. */
int vxs_control(struct vxs_conn *c, const uint8_t *body, size_t len, char **out, size_t *len_out);

#endif
