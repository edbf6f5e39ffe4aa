/*
 * The xenbus client: the guest's connection to xenstore (HVM_PARAM_STORE_PFN / _EVTCHN).
 *
 * Every operation blocks the caller until the daemon answers, by waiting in the event loop
 * (xen/eventloop.h): other handlers, timers and watch callbacks keep running meanwhile, and
 * operations may nest (a watch callback may call them). Results are 0 (or a length or
 * count) on success and -errno on failure: the daemon's errors as it names them (-ENOENT,
 * -EACCES, -EAGAIN, ...), -EPROTO for a reply that breaks the protocol (wrong type,
 * malformed), -ERANGE if a reply does not fit the caller's buffer, -E2BIG if a request would
 * exceed the 4 KiB payload limit, -EIO if the connection was lost while the request was in
 * flight, -ENODEV without xenstore (bare QEMU). Nothing the daemon sends can crash the
 * guest: replies are matched by request id and checked before anything is copied.
 *
 * Paths not starting with '/' are relative to the domain's home, /local/domain/<domid>
 * (the daemon resolves them). Memory: only static pools and the caller's buffers.
 *
 * The daemon may restart or reset the ring: if it advertises
 * XENSTORE_SERVER_FEATURE_RECONNECTION and reports an error (or sends something
 * impossible), the client reconnects the ring, fails the requests that were in flight with
 * -EIO, registers every watch again (each fires once, so watchers re-read their state) and
 * makes transactions of the old connection end with -EAGAIN (retry helpers start over).
 */
#ifndef XENKIT_XEN_XENBUS_H
#define XENKIT_XEN_XENBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/io/xenbus.h>

#include "xenstore/xs_codec.h"

/* Connect to xenstore. Returns 0, or -ENODEV if the domain has no xenstore ring. */
int xenbus_init(void);
/* True once xenbus_init() succeeded (and the connection was not lost for good). */
bool xenbus_available(void);
/* The daemon's XENSTORE_SERVER_FEATURE_* bits, as advertised when we connected. */
uint32_t xenbus_server_features(void);

/* ---- Transactions -------------------------------------------------------------------- */

/* A transaction handle; XENBUS_TX_NONE for plain operations. `gen` ties it to one
 * connection: after a reconnection the daemon has forgotten it, and using it gives
 * -EAGAIN. */
typedef struct {
    uint32_t id;
    uint32_t gen;
} xenbus_tx_t;
#define XENBUS_TX_NONE ((xenbus_tx_t){ 0, 0 })

int xenbus_transaction_start(xenbus_tx_t *t);
/* Commit (abort = false) or abandon. -EAGAIN on commit: another writer touched what the
 * transaction read; start over. */
int xenbus_transaction_end(xenbus_tx_t t, bool abort);
/* Run fn in a transaction and commit, starting over while the commit or fn itself gives
 * -EAGAIN, at most max_tries times (0 means 20), with a short growing pause between tries so
 * that conflicting writers do not feed each other. fn returning another error aborts the
 * transaction and returns that error. Returns 0, fn's error, or -EAGAIN after max_tries.
 * *tries (if not NULL) says how many attempts were made. */
int xenbus_transaction_run(int (*fn)(xenbus_tx_t t, void *arg), void *arg,
                           unsigned max_tries, unsigned *tries);

/* ---- Nodes --------------------------------------------------------------------------- */

/* Read a value into buf and NUL-terminate it (values may contain NULs; the length tells).
 * Returns the length, or -ERANGE if buf cannot hold the value and a NUL. */
int xenbus_read(xenbus_tx_t t, const char *path, char *buf, size_t cap);
/* A strict decimal value ("42"): -EINVAL if the value is anything else. */
int xenbus_read_u64(xenbus_tx_t t, const char *path, uint64_t *out);
/* Write a string, or len raw bytes; creates missing parents. */
int xenbus_write(xenbus_tx_t t, const char *path, const char *value);
int xenbus_write_bytes(xenbus_tx_t t, const char *path, const void *value, size_t len);
/* Format a value (at most 255 characters, else -E2BIG) and write it. */
int xenbus_printf(xenbus_tx_t t, const char *path, const char *fmt, ...)
    __attribute__((__format__(__printf__, 3, 4)));
int xenbus_mkdir(xenbus_tx_t t, const char *path);
/* Remove a node and everything below it. */
int xenbus_rm(xenbus_tx_t t, const char *path);
/* 1 if the node exists, 0 if not, or -errno. */
int xenbus_exists(xenbus_tx_t t, const char *path);
/* The children's names, each NUL-terminated, one after the other in buf (iterate with
 * p += strlen(p) + 1). Returns how many there are. */
int xenbus_directory(xenbus_tx_t t, const char *path, char *buf, size_t cap);
/* A node's permissions, owner first. Returns the number of entries (at most max; -ERANGE if
 * there are more). */
int xenbus_get_perms(xenbus_tx_t t, const char *path, struct xs_perm *perms, unsigned max);
int xenbus_set_perms(xenbus_tx_t t, const char *path, const struct xs_perm *perms,
                     unsigned n);

/* "/local/domain/<domid>" (as the daemon says) into buf; returns its length. */
int xenbus_get_domain_path(uint32_t domid, char *buf, size_t cap);
/* Our own domain id (the toolstack writes it to our "domid" node). */
int xenbus_get_domid(uint32_t *domid);

/* ---- Watches ------------------------------------------------------------------------- */

#define XENBUS_WATCH_PATH_MAX 256

struct xenbus_watch;
/* Called from the event loop, never from an event handler, one callback at a time (so a
 * callback that waits does not see other callbacks run meanwhile: inside a callback, wait
 * for other watches with xenbus_watch_wait()). `path` is the node that changed (the watched
 * path or one below it), valid during the call. */
typedef void (*xenbus_watch_fn)(struct xenbus_watch *w, const char *path, void *arg);

/* Owned by the caller; fields are private. It must stay valid until xenbus_watch_remove(). */
struct xenbus_watch {
    char path[XENBUS_WATCH_PATH_MAX];
    xenbus_watch_fn fn; /* NULL: events are kept for xenbus_watch_wait() */
    void *arg;
    uint32_t id;        /* the token, "xk<id>" */
    bool registered;
    bool lost;          /* events were dropped (queue full): report one for `path` */
    uint32_t gen;       /* connection generation it was registered on */
    struct xenbus_watch *next;
};

/* Watch path and everything below it. The daemon fires the watch once at once; fn NULL
 * means queue mode. -ENAMETOOLONG for paths of XENBUS_WATCH_PATH_MAX bytes or more. */
int xenbus_watch_add(struct xenbus_watch *w, const char *path, xenbus_watch_fn fn, void *arg);
/* Unregister and drop the watch's queued events. */
int xenbus_watch_remove(struct xenbus_watch *w);
/* Queue mode: take the watch's oldest event, waiting until monotonic time deadline_ns
 * (WAIT_FOREVER: no limit). Copies the changed path into path (if not NULL; truncated to
 * cap). Returns 0 or -ETIMEDOUT. */
int xenbus_watch_wait(struct xenbus_watch *w, uint64_t deadline_ns, char *path, size_t cap);

/* ---- The frontend/backend state machine (docs: xen/io/xenbus.h) ----------------------- */

const char *xenbus_state_name(XenbusState s);
/* Write "<dir>/state" = s. */
int xenbus_switch_state(xenbus_tx_t t, const char *dir, XenbusState s);
/* Read "<dir>/state". -EINVAL if it is not a state number. */
int xenbus_read_state(xenbus_tx_t t, const char *dir, XenbusState *s);
/* Wait until "<dir>/state" holds a state in `mask` (bit 1 << state), with a watch. A missing
 * node counts as XenbusStateUnknown. Returns 0 with *s set, -ETIMEDOUT, or -errno. */
int xenbus_wait_state(const char *dir, uint32_t mask, uint64_t deadline_ns, XenbusState *s);
#define XENBUS_STATE_BIT(s) (1u << (s))

/* ---- Diagnostics --------------------------------------------------------------------- */

struct xenbus_stats {
    uint64_t requests;      /* sent */
    uint64_t replies;       /* matched to a request */
    uint64_t bad_replies;   /* dropped: unknown request id, or broke the protocol */
    uint64_t watch_events;  /* received */
    uint64_t watch_dropped; /* could not be queued (reported as `lost`) */
    uint32_t reconnects;
};
void xenbus_get_stats(struct xenbus_stats *out);

#endif
