/*
 * vxenstored's internals, shared by its files (xenstore/vxs_*.c):
 *
 *   vxs_main.c      start-up, the Unix socket, the poll loop
 *   vxs_server.c    the server's state: the log, the store, durability of commits
 *   vxs_conn.c      connections (a Unix socket or a domain's ring), their input and their
 *                   output queues (replies wait until their commit is durable)
 *   vxs_domain.c    introduced domains: INTRODUCE/RELEASE/RESUME/SET_TARGET, dom0's own ring,
 *                   @introduceDomain/@releaseDomain, domains that die (VIRQ_DOM_EXC)
 *   vxs_xen.c       the hypervisor through libxenctrl, libxenevtchn, libxengnttab and
 *                   libxenforeignmemory (nothing else calls them)
 *   vxs_ring.c      the ring page's byte queues (pure)
 *   vxs_replay_done.c  requests (a ring's, a kept socket's) committed before a kill: found
 *                   at restart, answered, not applied again
 *   vxs_persist.c   the connection table (domains, their watches) in the store
 *   vxs_persist_sock.c  its part for sockets the fd store keeps (/sock/<name>)
 *   vxs_fdstore.c   systemd's fd store protocol (FDSTORE=1, LISTEN_FDS): sockets outlive us
 *   vxs_sock.c      socket connections across restarts: the listening socket, names,
 *                   restore, requests read with MSG_PEEK until answered (the journal)
 *   vxs_opts.c      the command line (ours and C xenstored's flags)
 *   vxs_spin.c      when the poll loop looks for the next request before it sleeps (pure)
 *   vxs_daemon.c    daemonizing, pid file, sd_notify, the -T trace file
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
#include "xenstore/vxs_ring.h"
#include "xenstore/store_tree.h"
#include "xenstore/xs_codec.h"

#define VXS_BRANCH "xenstore"
#define VXS_DOM0_PATH "/local/domain/0"

/* Watch events a change causes: the changed path (it fires the watches on it and above it),
 * and for a removal also each watched node below it that existed ("exact": it fires only the
 * watches on exactly that path), as C xenstored does. */
struct vxs_events {
    char **paths;
    bool *exact;
    char **perms;       /* the node's perms (wire bytes) for the watchers' read check */
    size_t *perms_len;
    size_t n, cap;
};
void vxs_events_add(struct vxs_events *ev, const char *path, bool exact, const void *perms,
                    size_t perms_len);
void vxs_events_free(struct vxs_events *ev);

struct vxs_watch {
    struct vxs_watch *next;
    char *path;     /* absolute (or "@...") */
    char *given;    /* as the client gave it (relative paths are reported relative) */
    char *token;
    int depth;      /* -1: unlimited */
    bool relative;
    uint64_t since; /* a ring's watch: the xenstore branch's gen when it was added (its
                     * events are those of later commits; 0: unknown) */
};

struct vxs_tx {
    struct vxs_tx *next;
    uint32_t id;
    struct vs_txn *x;
    struct vxs_events ev;
    bool dirty;     /* wrote something */
};

/* An introduced domain and its ring connection. */
struct vxs_domain {
    struct vxs_domain *next;
    uint32_t domid;
    uint64_t gfn;               /* as INTRODUCE gave it (the fallback mapping) */
    uint32_t remote_port;       /* the guest's end of the event channel */
    int local_port;             /* ours, -1 if not bound */
    void *page;
    int map_kind;               /* enum vxs_map_kind */
    struct vxs_ring ring;
    struct vxs_conn *conn;
    bool shutdown;              /* @releaseDomain already fired for its shutdown */
    uint64_t incarnation;       /* tells it from an earlier domain with its domid (the wall
                                 * clock at INTRODUCE, ns; kept in the connection table) */
    uint32_t features;          /* SET_FEATURE, before INTRODUCE */
};

/* The ring features we advertise in server_features. */
#define VXS_RING_FEATURES (XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR | \
                           4u /* WATCHDEPTH */ | 8u /* DOMID_ANY */)

struct vxs_out {
    struct vxs_out *next;
    uint64_t need;  /* the commit that must be durable before this leaves */
    uint64_t serial; /* the connection's count of queued messages, this one included */
    uint64_t expires_ms; /* a watch event for an unprivileged domain: dropped if still
                          * queued then (-w watch-event=); 0: never */
    uint64_t gen;   /* a watch event: the xenstore branch's gen of the commit that caused it
                     * (0: none, e.g. a new watch's first event); see vxs_events_replay.c */
    uint32_t req_pos; /* a ring's reply: its request's ring index (vxs_ring_partial.c) */
    struct vxs_cause *cause; /* a guest's request that caused watch events: its reply and
                              * those events (vxs_watch.c: vxs_cause_taken) */
    size_t len;
    uint8_t data[];
};

struct vxs_conn {
    struct vxs_conn *next;
    unsigned id;
    int fd;                     /* a Unix socket, or -1 */
    struct vxs_domain *dom;     /* a domain's ring, or NULL */
    uint32_t domid;
    bool priv;
    bool has_target;            /* SET_TARGET: acts for `target` too (a device model) */
    uint32_t target;
    bool dead;
    bool stalled;               /* too much output waits: stop reading requests */
    bool restored;              /* reconnected after a daemon restart: its old transaction
                                 * ids get EAGAIN */
    struct xs_reader rd;
    uint64_t partial_since_ms;  /* a ring: since when rd holds part of a request (0: not) */
    /* A ring's timers for events that never come (vxs_ring_wake.c): */
    uint64_t recheck_at_ms;     /* look at req[] again then (a consume may have raced) */
    uint64_t rsp_wait_since_ms; /* replies unread in rsp[] since then, no progress (0: none) */
    uint32_t rsp_cons_seen;     /* the guest's rsp_cons then */
    unsigned renotify_ms;       /* notify again after this long without progress */
    uint8_t body[XS_READER_BODY_SIZE];
    struct vxs_out *out_head, *out_tail;
    size_t out_off;
    size_t out_bytes;           /* queued output */
    uint64_t out_serial;        /* messages ever queued (vxs_out.serial of the last) */
    bool replay;                /* the request being handled may have been handled before a
                                 * restart (its reply never reached the ring) */
    uint32_t req_pos;           /* a ring's request being handled: its ring index */
    struct vxs_watch *watches;
    struct vxs_tx *txs;
    unsigned ntxs;
    uint32_t next_txid;
    uint32_t first_txid;        /* restored: the ids this run gives start here; another
                                 * unknown id is a transaction of an earlier run (EAGAIN) */
    uint64_t ev_saved;          /* a ring: the events-delivered mark last put in the
                                 * connection table (vxs_persist_marks) */
    uint64_t ev_mark, ev_mark_serial; /* its mark as last computed, while out_head's serial
                                 * is ev_mark_serial (vxs_persist_marks.c: mark_of) */
    uint64_t ev_catchup;        /* restored: the head its events replay started from, while
                                 * its saved mark is older (0: none; vxs_persist_marks.c) */
    /* A ring's request larger than req[]: its head up to ring index head_end is saved in the
     * connection table by commit head_need before it is consumed (vxs_persist_head). */
    bool head_saved;
    uint32_t head_end;
    uint64_t head_need;
    char name[32];              /* a socket held by the fd store: its name there (vxs_sock.c;
                                 * "": not held) */
    struct vxs_sock_rx *rx;     /* such a socket's requests kept until answered (vxs_sock.c) */
    size_t peeked;              /* a plain socket: bytes read with MSG_PEEK, still queued in it
                                 * until the round's replies have left (vxs_conn.c) */
    bool batched;               /* a plain socket polled edge-triggered, its answered bytes
                                 * dropped in batches (vxs_conn.c: drop_peeked) */
    uint64_t dropped_serial;    /* such a socket: out_serial when its bytes were last dropped */
    bool peer_shut;             /* such a socket: its peer shut its side (epoll said so) */
    bool in_table;              /* such a socket has an entry in the connection table (its
                                 * watches, its events mark: /sock/<name>, vxs_persist.c) */
};

/* Is c's state kept in the connection table (a ring, or a socket the fd store keeps)? Its
 * watch events are then tagged with their commit's gen for the replay after a restart. */
static inline bool vxs_conn_in_table(const struct vxs_conn *c)
{
    return c->dom || c->name[0];
}

struct vxs_server {
    struct objstore *os;
    struct vs_store *st;
    bool is_pack;
    enum store_sync sync;
    struct vxs_conn *conns;
    unsigned next_conn_id;
    unsigned drop_batch;    /* > 0: plain sockets drop answered requests' bytes this many at a
                             * time (the daemon's loop sets it; vxs_conn.c: drop_peeked) */
    /* Durability of commits: seq numbers handed out in order; durable_upto = every commit
     * with seq <= it is durable. */
    uint64_t next_seq;      /* last seq handed out */
    uint64_t durable_upto;
    bool *done;             /* done[i]: seq durable_upto + 1 + i is durable */
    size_t done_cap;
    bool sync_started;      /* vxs_durable_fd looked for the pack's sync thread */
    int sync_fd;            /* its eventfd, or -errno (no thread: syncs in the loop) */
    unsigned max_txs;
    size_t path_max;            /* quota path-max (C's -Q path-max=), default 2048 */
    unsigned max_watches;       /* per unprivileged connection (-W) */
    size_t max_node_size;       /* bytes of a value written by an unprivileged domain (-S) */
    unsigned max_perms;         /* entries of a perms list set by an unprivileged domain (-A) */
    int verbose;
    bool socket_only;           /* no hypervisor: the Unix socket only */
    struct vxs_domain *domains;
    bool keep_orphans;          /* -K: a departed domain's nodes become dom0's (not removed) */
    bool ring_backlog;          /* a ring has requests to read that announced no event
                                 * (vxs_conn.c flush_ring): poll without waiting */
    /* perms of the special nodes @introduceDomain and @releaseDomain (wire bytes) */
    char spec_perms[2][64];
    size_t spec_perms_len[2];
};

extern struct vxs_server vxs;

/* vxs_server.c */
void vxs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* From now on the log goes to syslog (a daemon without -V). */
void vxs_log_to_syslog(void);
/* Log each domain's ring indexes and queues (SIGUSR1; vxs_diag.c). */
void vxs_diag_dump(void);
/* The monotonic clock in ms (timers of the poll loop: quotas, rings, events). */
uint64_t vxs_now_ms(void);
/* v in decimal at p (no NUL); returns the end. At most 10 bytes. */
char *vxs_fmt_u32(char *p, uint32_t v);
/* vxs_ring_wake.c: rings that wait for an event that never comes (part of a request read, a
 * consume that raced a request, replies left unread): the poll timeout they need (ms, -1:
 * none), after notifying again where due; and the mark flush_ring leaves after a consume. */
int vxs_ring_wake_timeout(void);
void vxs_ring_wake_consumed(struct vxs_conn *c);
/* Open the store (":memory:" or the pack DIR/xenstore.pack, created if missing) into
 * vxs.os/vxs.st and give an empty one its initial tree. */
int vxs_store_open(const char *db);
/* The same on a pack named xenstore.pack in `dir` (tests: a backend whose syncs they hold). */
struct store_iodir;
int vxs_store_open_pack(struct store_iodir *dir);
/* A seq number for a new commit and its durable callback argument. */
uint64_t vxs_seq_new(void);
void vxs_seq_durable(void *arg, bool ok);
/* The end of a poll round: commits become durable (--sync batch: the sync thread's round;
 * else a flush), their seqs marked. -errno if the store failed: no reply may leave then.
 * vxs_durable_fd: the fd that becomes readable when a sync finishes (-1: none), starting the
 * sync thread on the first call. */
int vxs_durable_round(void);
int vxs_durable_fd(void);
/* The store's timer for the loop's wait, in ms (-1: none; or the store's -errno). 0 when the
 * store's batch clock flushed here and released replies or events (they must go first), or,
 * with the sync thread, when commits were made since the last vxs_durable_round. */
int vxs_store_poll_timeout(void);
/* SIGTERM: make every commit durable, send the replies that may leave, close the store.
 * Returns the daemon's exit status. */
int vxs_shutdown(void);

/* vxs_opts.c */
struct vxs_opts {
    const char *db, *socket, *pid_file, *trace_file;
    unsigned spin_us; /* --poll-spin: look for the next request this long before sleeping */
    bool fork, help;
};
#include <stdio.h>
void vxs_usage(FILE *f);
/* Parse into o and the server's settings; -1 on a bad command line. */
int vxs_opts_parse(int argc, char **argv, struct vxs_opts *o);

/* vxs_daemon.c */
/* Fork: the parent exits once the child calls vxs_daemon_ready. Returns the fd to pass. */
int vxs_daemonize(void);
void vxs_daemon_ready(int ready_fd, const char *pid_file);
int vxs_trace_open(const char *path);
void vxs_trace_reopen(void);
/* CONTROL log off: stop writing the trace file (log on reopens it). */
void vxs_trace_close(void);
void vxs_trace(const struct vxs_conn *c, const char *dir, const struct xsd_sockmsg *h,
               const void *payload);

/* vxs_conn.c */
/* Queue a complete message (header included) on conn, to leave once commit `need` is
 * durable. */
void vxs_send(struct vxs_conn *c, const void *msg, size_t len, uint64_t need);
struct vxs_conn *vxs_conn_new_socket(int fd);
struct vxs_conn *vxs_conn_new_ring(struct vxs_domain *d, uint32_t domid);
/* Read and handle what arrived (socket readable, or the ring's event fired). */
void vxs_conn_input(struct vxs_conn *c);
/* Send what may leave. */
void vxs_conn_flush(struct vxs_conn *c);
/* The end of a poll round, after vxs_durable_round: every connection sends what may leave,
 * and the dead ones are freed. */
void vxs_conn_flush_all(void);
/* The loop's epoll set (created on first use; -1: cannot be had): plain sockets with batched
 * drops (edge-triggered) and, added with vxs_conn_epoll_add, the loop's other fds (each a bit
 * of its choice below VXS_EV_FD). vxs_conn_handle_events handles the sockets' events (reads
 * and handles what they received; returns how many had input) and ORs the other fds' bits
 * into *fds; vxs_conn_events does it for what epoll_wait returns at once. Held bytes
 * (vxs_conn_holding) go with vxs_conn_drop_batched, before the loop sleeps. */
#define VXS_EV_FD (1ull << 32)
struct epoll_event;
int vxs_conn_epoll_fd(void);
int vxs_conn_epoll_add(int fd, unsigned bit);
unsigned vxs_conn_handle_events(const struct epoll_event *ev, int n, unsigned *fds);
unsigned vxs_conn_events(unsigned *fds);
bool vxs_conn_holding(void);
void vxs_conn_drop_batched(void);
/* Unlink the next message that may leave (its commit is durable) and hand it over, instead
 * of sending it: for the unit tests' in-process clients. NULL if none; the caller frees. */
struct vxs_out *vxs_conn_take(struct vxs_conn *c);
bool vxs_conn_wants_pollin(const struct vxs_conn *c);
bool vxs_conn_wants_pollout(const struct vxs_conn *c);
size_t vxs_conn_queued(const struct vxs_conn *c);
/* Unlink and free a connection (its watches and transactions go with it). */
void vxs_conn_free(struct vxs_conn *c);
/* Drop a connection's requests in flight, watches, transactions and queued output (ring
 * reconnection). */
void vxs_conn_reset(struct vxs_conn *c);

/* vxs_domain.c */
/* The node path of a special node ("@introduceDomain"/"@releaseDomain") -> index, or -1. */
int vxs_special_index(const char *path);
int vxs_domain_introduce(struct vxs_conn *c, uint32_t domid, uint64_t gfn, uint32_t port);
int vxs_domain_release(uint32_t domid);
int vxs_domain_resume(uint32_t domid);
int vxs_domain_set_target(uint32_t domid, uint32_t target);
bool vxs_domain_introduced(uint32_t domid);
/* Connect dom0's own ring (/proc/xen/xsd_kva, /proc/xen/xsd_port). */
int vxs_domain_init_dom0(void);
/* The event channel fd fired: handle pending ports (rings, VIRQ_DOM_EXC). */
void vxs_domain_events(void);
/* After a restart: reconnect the domains of the connection table with their watches and the
 * events they may have missed (vxs_events_replay); domains that died while we were down are
 * released (@releaseDomain, their nodes removed). */
void vxs_domain_restore(void);
/* Does domain `domid` exist at all (for SET_TARGET etc.)? */
bool vxs_domain_exists(uint32_t domid);
/* Is txid (unknown to c) a transaction c had opened before a daemon restart? */
bool vxs_domain_old_txid(const struct vxs_conn *c, uint32_t txid);
/* The guest reset its ring (XENSTORE_RECONNECT): a new incarnation in the table. */
void vxs_domain_ring_reconnected(struct vxs_domain *d);

/* vxs_fdstore.c: systemd's fd store (sd_notify FDSTORE=1, LISTEN_FDS) without libsystemd.
 * init reads the fds handed back (LISTEN_PID must be ours) and whether the store is active
 * ($NOTIFY_SOCKET and $FDSTORE > 0); take/next hand a restored fd over once (-1: none);
 * put stores a copy of fd under name, remove drops the copies of name. */
#define VXS_FDNAME_MAX 255
void vxs_fdstore_init(void);
bool vxs_fdstore_active(void);
int vxs_fdstore_take(const char *name);
int vxs_fdstore_next(char *name); /* name: VXS_FDNAME_MAX + 1 bytes */
int vxs_fdstore_put(int fd, const char *name, bool pollable); /* !pollable: a memfd */
void vxs_fdstore_remove(const char *name);

/* vxs_sock.c: socket connections across restarts. listen: the listening socket (taken back
 * from the fd store, else bound and stored); name: a new connection's name in the store;
 * restore: re-create the stored connections (after the store and the rings are back). */
int vxs_sock_listen(const char *path);
void vxs_sock_name(struct vxs_conn *c);
void vxs_sock_restore(void);
struct vxs_conn *vxs_conn_new_socket_named(int fd, const char *name);
/* With the fd store, a socket's requests are read with MSG_PEEK and discarded once
 * answered, journalled so that a restart neither loses nor answers twice (vxs_sock.c):
 * rx_init (after the name; restored: the requests answered before are skipped), recv (pos:
 * the stream offset of buf[0]), replayed (may the request at that offset have been handled
 * before the restart?), hold (a request ending at `end` is answered once the message of
 * `serial` has left), sending (before a send of the message `serial`, taken to complete it;
 * again with whole=false if it did not), release (messages before `left_below` have left:
 * discard what they answer). */
struct vxs_sock_rx;
void vxs_sock_rx_init(struct vxs_conn *c, bool restored);
void vxs_sock_rx_free(struct vxs_conn *c);
long vxs_sock_recv(struct vxs_conn *c, void *buf, size_t cap, uint64_t *pos);
bool vxs_sock_replayed(const struct vxs_conn *c, uint64_t start);
/* A restored socket's replay window [from, end) in stream offsets (false: none). */
bool vxs_sock_replay_window(const struct vxs_conn *c, uint64_t *from, uint64_t *end);
void vxs_sock_hold(struct vxs_conn *c, uint64_t end, uint64_t serial);
void vxs_sock_sending(struct vxs_conn *c, uint64_t serial, bool whole);
void vxs_sock_release(struct vxs_conn *c, uint64_t left_below);
/* Discard what vxs_sock_release left answered in the socket (with vxs.drop_batch it batches
 * its discards, as plain sockets their drops: vxs_conn.c, drop_peeked). */
void vxs_sock_discard_done(struct vxs_conn *c);
/* Does it hold answered requests vxs_sock_discard_done would discard? */
bool vxs_sock_holds_done(const struct vxs_conn *c);
/* Kept sockets are watched by an edge-triggered epoll set, not polled for POLLIN (their
 * queue holds peeked bytes): wants_pollin is false for them; the loop polls epoll_fd (-1:
 * none yet) and calls events when it is readable (returns how many sockets had bytes). */
bool vxs_sock_wants_pollin(const struct vxs_conn *c);
int vxs_sock_epoll_fd(void);
int vxs_sock_events(void);
/* Reconnected after a restart: its old transaction ids get EAGAIN (vxs_domain.c). */
void vxs_conn_mark_restored(struct vxs_conn *c);

/* vxs_dispatch.c */
void vxs_dispatch(struct vxs_conn *c, const struct xsd_sockmsg *hdr, const uint8_t *body);
void vxs_conn_cleanup(struct vxs_conn *c);

/* vxs_node.c: paths. `out` holds XENSTORE_ABS_PATH_MAX + 1 bytes. Node operations check
 * the permissions of `c` (NULL: the daemon itself, everything allowed) as C xenstored does:
 * EACCES when not allowed, and a missing node reports ENOENT only if the nearest existing
 * ancestor would allow the access. */
int vxs_path_resolve(const struct vxs_conn *c, const char *in, char *out, bool watch,
                     bool *relative);
int vxs_node_read(const struct vxs_conn *c, struct vs_txn *x, const char *path, void **val,
                  size_t *len);
int vxs_node_write(const struct vxs_conn *c, struct vs_txn *x, struct vxs_events *ev,
                   const char *path, const void *val, size_t len);
int vxs_node_mkdir(const struct vxs_conn *c, struct vs_txn *x, struct vxs_events *ev,
                   const char *path);
int vxs_node_rm(const struct vxs_conn *c, struct vs_txn *x, struct vxs_events *ev,
                const char *path);
int vxs_node_list(const struct vxs_conn *c, struct vs_txn *x, const char *path, char ***names,
                  size_t *n);
int vxs_node_get_perms(const struct vxs_conn *c, struct vs_txn *x, const char *path,
                       void **perms, size_t *len);
int vxs_node_set_perms(const struct vxs_conn *c, struct vs_txn *x, struct vxs_events *ev,
                       const char *path, const void *perms, size_t len);
/* Remove every node owned by domid (a released domain: C xenstored's default, no -K). */
/* The initial tree of an empty store ("/", "/tool", "/tool/xenstored"). */
int vxs_node_init(struct vs_txn *x);

/* vxs_perms.c */
#define VXS_PERM_READ  1u
#define VXS_PERM_WRITE 2u
#define VXS_PERM_OWNER 4u
/* A perms entry for DOMID_ANY (DOMID_INVALID, Xen 4.21+) applies to every domain, in its
 * place in the list (the first entry that applies counts, as for a domain's own entry). */
#define VXS_DOMID_ANY 0x7FF4u
/* What c (NULL: the daemon) may do on a node with these perms (VXS_PERM_* bits). */
unsigned vxs_perms_for(const void *perms, size_t len, const struct vxs_conn *c);
/* The owner's domid of a perms list (0 if unreadable). */
uint32_t vxs_perms_owner(const void *perms, size_t len);
/* Validate a perms payload ("b0\0r5\0", at least one entry) and normalise it into buf
 * (entries re-formatted, each NUL-terminated). Returns the length or -EINVAL. */
int vxs_perms_normalise(const void *in, size_t len, char *buf, size_t cap);
/* SET_PERMS with a hypervisor: a normalised list without its entries for domains that do not
 * exist (C 4.17 keeps those, ignored); -ENOENT if the owner's domain does not exist. */
int vxs_perms_drop_unknown(char *perms, int len, bool (*exists)(uint32_t domid));
/* Append a stored perms list to a GET_PERMS reply as C 4.17 prints it: the ids as ints
 * ("%i") cut to 10 characters, so one of 2^31 or more reads negative ("r4294967295" ->
 * "r-1", "r2147483648" -> "r-214748364"). */
void vxs_perms_build(struct xs_builder *b, const void *perms, size_t len);

/* vxs_persist.c: each returns the seq of its commit (the reply waits for it). */
#define VXS_CONN_BRANCH "connections"
/* Shared with vxs_persist_sock.c: a connection's directory in the table ("/dom/<domid>",
 * "/sock/<name>"), its name in commit messages ("dom<domid>", "sock <name>"), a daemon
 * commit's callback removing the node at path p if it exists, and the saved watches under a
 * connection's directory (the entries of dir/w), each handed to fn (path and token are valid
 * during the call). */
void vxs_persist_conn_dir(char *buf, size_t cap, const struct vxs_conn *c);
void vxs_persist_conn_who(char *buf, size_t cap, const struct vxs_conn *c);
int vxs_persist_rm(struct vs_txn *x, struct vxs_events *ev, void *p);
void vxs_persist_each_watch(struct vs_txn *x, const char *dir,
                            void (*fn)(void *arg, const char *path, const char *token,
                                       int depth, uint64_t since),
                            void *arg);
uint64_t vxs_persist_domain(const struct vxs_domain *d);
uint64_t vxs_persist_domain_gone(uint32_t domid);
uint64_t vxs_persist_watch(const struct vxs_conn *c, const struct vxs_watch *w, bool add);
uint64_t vxs_persist_watches_clear(const struct vxs_conn *c);
void vxs_persist_load(void (*domain)(uint32_t domid, uint64_t gfn, uint32_t port,
                                     uint64_t incarnation),
                      void (*watch)(uint32_t domid, const char *path, const char *token,
                                    int depth, uint64_t since));
/* The gen of the xenstore branch's head (0: empty or unreadable). */
uint64_t vxs_head_gen(void);
/* No mark is saved while held: vxs_persist_load holds them until vxs_events_replay has read
 * them. */
void vxs_persist_marks_hold(bool hold);
/* Each ring's "watch events delivered up to gen X" mark into the connection table, in one
 * commit, if one changed and (unless force) a second has passed since the last look, so it
 * costs no store write per request. A stale mark only means duplicate events after a
 * restart. vxs_persist_marks_flushed, after c's flush: the same, and after a restart, while c
 * takes the events the restart replayed, its mark saved as soon as it moves
 * (vxs_persist_marks.c). */
void vxs_persist_marks(bool force);
void vxs_persist_marks_flushed(struct vxs_conn *c);
/* A domain's (a connection's) saved mark (false: none, e.g. a table of an older version). */
bool vxs_persist_mark_get(uint32_t domid, uint64_t *gen);
bool vxs_persist_conn_mark_get(const struct vxs_conn *c, uint64_t *gen);
/* A socket the fd store keeps (vxs_sock.c): at restart its watches back from /sock/<name>
 * (and in_table), the entries of sockets not handed back removed (prune); when it closes, its
 * entry removed (sock_gone). */
void vxs_persist_sock_load(struct vxs_conn *c);
void vxs_persist_sock_prune(void);
void vxs_persist_sock_gone(const struct vxs_conn *c);
/* At start-up: count this restart of the connection table; returns the count (>= 1). */
uint32_t vxs_persist_restart(void);
/* The commit message of a TRANSACTION_END of c (a ring's names the domain, its incarnation
 * and the request's ring position), and whether such a commit is among the recent ones (a
 * replayed TRANSACTION_END whose commit was made before the restart). */
void vxs_persist_txn_message(char *buf, size_t cap, const struct vxs_conn *c, uint32_t txid);
bool vxs_persist_txn_committed(const struct vxs_conn *c, uint32_t txid);
/* The special nodes' perms (vxs.spec_perms[which]) into the table; at start-up, back. */
uint64_t vxs_persist_special(int which);
void vxs_persist_load_special(void);
/* The head of a ring's unfinished request larger than req[] (its bytes from the request's
 * ring index `start` on), saved before it is consumed; at start-up, the saved one (false:
 * none; *bytes is malloc'd). vxs_conn_restore_head gives it to a restored ring's reader if
 * it ends where req[] now starts. */
uint64_t vxs_persist_head(uint32_t domid, uint32_t start, const void *bytes, size_t len);
bool vxs_persist_head_get(uint32_t domid, uint32_t *start, void **bytes, size_t *len);
void vxs_conn_restore_head(struct vxs_conn *c);

/* vxs_events_replay.c: after the restored rings' watches are back, queue the events of the
 * commits since each ring's mark (those it may not have received before the daemon died),
 * in commit order; watches whose history is gone, and the special ones, fire once. */
void vxs_events_replay(void);

/* vxs_watch.c */
int vxs_watch_add(struct vxs_conn *c, const char *given, const char *token, int depth);
/* The same without the quotas, for a watch the daemon had before a restart (as C's restore). */
int vxs_watch_restore(struct vxs_conn *c, const char *given, const char *token, int depth);
int vxs_watch_del(struct vxs_conn *c, const char *given, const char *token);
/* The watch vxs_watch_add added last (c's list keeps the order they were added in). */
struct vxs_watch *vxs_watch_newest(struct vxs_conn *c);
void vxs_watch_clear(struct vxs_conn *c);
/* Deliver events of a commit to every connection's matching watches that may read the
 * node. */
void vxs_watch_fire(const struct vxs_events *ev, uint64_t need);
/* A special event: "@introduceDomain", or "@releaseDomain" for domid (watches on
 * "@releaseDomain/<domid>", and those on "@releaseDomain" with a depth, see the domid). */
void vxs_watch_fire_special(int which, uint32_t domid, uint64_t need);
/* XSA-326, as C 4.17: a guest's request stays outstanding for its domain until its reply
 * and the watch events it caused (to any connection) have all left their queues, so that a
 * guest cannot pile events up on a slow watcher. vxs_dispatch brackets each request with
 * vxs_cause_begin/end; every message leaving a queue (taken, expired, dropped) goes through
 * vxs_cause_taken, which says whether a reply's outstanding count drops now. */
void vxs_cause_begin(struct vxs_conn *c);
void vxs_cause_end(struct vxs_conn *c, uint64_t serial_before);
bool vxs_cause_taken(const struct vxs_out *o);
/* Before path is removed in x: an exact event for every watched node strictly below it. */
void vxs_watch_note_removal(struct vs_txn *x, struct vxs_events *ev, const char *path);
/* One WATCH_EVENT message to c. */
void vxs_watch_send(struct vxs_conn *c, const char *path, const char *token, uint64_t need);
/* A new watch's first event (its own path). */
void vxs_watch_first_event(struct vxs_conn *c, const struct vxs_watch *w, uint64_t need);
/* Does w see an event for p (not a special watch; depth counted)? */
bool vxs_watch_matches(const struct vxs_watch *w, const char *p, bool exact);
/* The event for absolute path abs to w of c (relative watches get a relative path), caused
 * by the commit of xenstore-branch gen `gen`. */
void vxs_watch_report(struct vxs_conn *c, const struct vxs_watch *w, const char *abs,
                      uint64_t gen, uint64_t need);

/* vxs_txn.c */
int vxs_txn_start(struct vxs_conn *c, uint32_t *id);
struct vxs_tx *vxs_txn_find(struct vxs_conn *c, uint32_t id);
/* End (commit if `commit`) and free the transaction. *need: seq of its commit (0: none). */
int vxs_txn_end(struct vxs_conn *c, struct vxs_tx *t, bool commit, const char *what,
                uint64_t *need);
void vxs_txn_clear(struct vxs_conn *c);
/* A change the daemon makes on its own (not a client's request), in its own commit on
 * `branch`, retried on EAGAIN. fn makes it in x, recording watch events in ev (fired at
 * commit); it returns 0 to commit, > 0 if there is nothing to change, < 0 on error. Returns
 * the seq a reply depending on it must wait for. */
uint64_t vxs_txn_daemon_commit(const char *branch, const char *what,
                               int (*fn)(struct vs_txn *x, struct vxs_events *ev, void *arg),
                               void *arg);
/* Commit a single-request transaction x with its events; frees x and ev's contents. */
int vxs_txn_commit_one(struct vxs_conn *c, struct vs_txn *x, struct vxs_events *ev, bool dirty,
                       const char *what, uint64_t *need);

/* vxs_control.c: run an XS_CONTROL request (NUL-separated command and arguments); *out is a
 * malloc'd reply payload of *len bytes. */
int vxs_control(struct vxs_conn *c, const uint8_t *body, size_t len, char **out, size_t *len_out);

#endif
