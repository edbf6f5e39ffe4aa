/*
 * An in-process vxenstored for unit tests: the daemon's own request handling
 * (vxs_dispatch and everything below it, on a real store) with fake clients instead of
 * sockets and rings, and a fake hypervisor (vxs_xen.h) whose domains the test creates.
 *
 *   vh_start(NULL, NULL);                    // a store in memory, default options
 *   struct vh_client *d0 = vh_dom0();        // privileged, like a dom0 socket client
 *   struct vh_client *d1 = vh_domain(1);     // INTRODUCEd by dom0: an unprivileged ring
 *   assert_int_equal(vh_write(d1, 0, "data/x", "v"), 0);
 *   assert_int_equal(vh_read(d0, 0, "/local/domain/1/data/x", buf), 0);
 *   vh_stop();
 *
 * A request is handed to vxs_dispatch as the connection's input would hand it, then the
 * store is flushed as the poll loop does at the end of a round, and the reply is taken off
 * the connection's output queue (vxs_conn_take: only what may leave, i.e. whose commit is
 * durable). Watch events found on any connection's queue are kept per client, in order, for
 * vh_event. The helpers return 0 or the reply's error as -errno (-ENOENT, -EACCES, ...).
 *
 * Used by test_vxs_dispatch.c (permissions, transactions, watches) and test_vxs_quota.c.
 *
 * vh_stop resets the server (`vxs`) and the harness, not the daemon files' own statics: the
 * quota module rebuilds its figures itself, but vxs_control.c keeps the history store it
 * opened on the first XS_CONTROL "history"/"gc" (on the objstore of that time), so a test
 * that sends those must do so in one vh_start..vh_stop only, or run in its own process.
 */
#ifndef XENKIT_TESTS_UNIT_VXS_HARNESS_H
#define XENKIT_TESTS_UNIT_VXS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xenstore/vxs.h"

#define VH_MAX_EVENTS 256

struct vh_msg {
    uint32_t type, req_id, tx_id, len;
    char body[XENSTORE_PAYLOAD_MAX + 1]; /* NUL-terminated after len bytes */
};

struct vh_client {
    struct vh_client *next;
    struct vxs_conn *c;         /* NULL once the daemon has freed the connection */
    uint32_t domid;
    uint32_t next_req;
    struct vh_msg *events;      /* watch events received, oldest first */
    size_t nev, ev_first;
    size_t lost;                /* events beyond VH_MAX_EVENTS (a test bug) */
};

/* Start the daemon's state: db is a directory for a pack file, or NULL for ":memory:";
 * args are command-line options as vxenstored takes them (NULL-terminated; NULL for none),
 * e.g. {"-W", "3", NULL}. The store flushes as in the daemon's sync mode (default batch). */
void vh_start(const char *db, const char *const *args);
/* Free every client, connection, domain and the store. */
void vh_stop(void);

/* A privileged socket-like client (domid 0). */
struct vh_client *vh_dom0(void);
/* Make domid exist in the fake hypervisor and INTRODUCE it through a dom0 client: the
 * client of its ring connection. Fails the test if INTRODUCE fails. */
struct vh_client *vh_domain(uint32_t domid);
/* vh_domain, after d0 made its home /local/domain/<domid>, owned by domid (one node of its
 * own for the quotas). */
struct vh_client *vh_domain_with_home(struct vh_client *d0, uint32_t domid);
/* The fake hypervisor's view: does domid exist (SET_PERMS, SET_TARGET check this)? Dom0
 * always does. */
void vh_set_domain_exists(uint32_t domid, bool exists);

/* One request; the reply in *reply (may be NULL). Returns 0, or -errno for an XS_ERROR
 * reply, or -EPROTO if no reply came or it has the wrong type. */
int vh_req(struct vh_client *cl, uint32_t type, uint32_t tx, const void *body, size_t len,
           struct vh_msg *reply);
/* Same with the payload given as strings, each sent with its NUL, then `raw` without one
 * (NULL: nothing). */
int vh_reqv(struct vh_client *cl, uint32_t type, uint32_t tx, const char *const *strs,
            size_t nstrs, const char *raw, struct vh_msg *reply);

/* Node requests. Results into `out` (XENSTORE_PAYLOAD_MAX + 1 bytes): a value as read; a
 * directory as "a,b,c" (sorted, as the store lists); perms as "b0,r1". */
int vh_read(struct vh_client *cl, uint32_t tx, const char *path, char *out);
int vh_write(struct vh_client *cl, uint32_t tx, const char *path, const char *val);
int vh_mkdir(struct vh_client *cl, uint32_t tx, const char *path);
int vh_rm(struct vh_client *cl, uint32_t tx, const char *path);
int vh_dir(struct vh_client *cl, uint32_t tx, const char *path, char *out);
int vh_get_perms(struct vh_client *cl, uint32_t tx, const char *path, char *out);
/* perms as "b0,r1" (commas become the NULs of the wire format). */
int vh_set_perms(struct vh_client *cl, uint32_t tx, const char *path, const char *perms);

int vh_tx_start(struct vh_client *cl, uint32_t *tx);
int vh_tx_end(struct vh_client *cl, uint32_t tx, bool commit);

/* WATCH (its first event is left in the event queue) and UNWATCH. */
int vh_watch(struct vh_client *cl, const char *path, const char *token);
int vh_unwatch(struct vh_client *cl, const char *path, const char *token);
/* Take the oldest watch event: true and its path and token (each up to
 * XENSTORE_ABS_PATH_MAX + 1 bytes; either may be NULL), or false if none is waiting. */
bool vh_event(struct vh_client *cl, char *path, char *token);
/* Forget the waiting events; returns how many there were. */
size_t vh_events_drop(struct vh_client *cl);

/* The control requests of dom0's toolstack. */
int vh_set_target(struct vh_client *dom0, uint32_t domid, uint32_t target);
int vh_release(struct vh_client *dom0, uint32_t domid);

/* A guest's side of its ring, by hand (for tests of the ring's rules): */
struct xenstore_domain_interface *vh_ring(uint32_t domid);
/* Put bytes into req[] (no event: call vh_guest_event for one). */
void vh_guest_put(uint32_t domid, const void *bytes, size_t len);
/* Put a whole request into req[] (no event). */
void vh_guest_send(uint32_t domid, uint32_t type, uint32_t req_id, const void *body,
                   size_t len);
/* Take one reply or event out of rsp[]: its req_id, or 0 if none is complete. */
uint32_t vh_guest_reply(uint32_t domid, char *body);
/* The guest's event reaches the daemon: its connection reads req[]. */
void vh_guest_event(uint32_t domid);
/* The rest of a poll round: the group commit, then every ring connection's output (which
 * also looks at req[] again, as the daemon's round does). */
void vh_round_output(void);
/* keep: vh_stop keeps the domains' ring pages, and the next run's daemon maps the same
 * bytes again (a restart: the guest's page outlives the killed daemon). Off by default. */
void vh_keep_rings(bool keep);
/* keep: the requests of other clients leave a ring connection's output queued, for
 * vh_round_output to write into its page (tests whose guest reads its ring by hand). Off by
 * default (their events are taken as every client's are); vh_finish_disk turns it off. */
void vh_rings_keep_output(bool keep);
/* A daemon whose store is a pack in a new directory /tmp/PREFIX.XXXXXX (args as vh_start),
 * for restart tests; vh_restart: a SIGKILL and a start on the same pack with the same args,
 * the domains that existed still existing, the rings restored (vxs_domain_restore);
 * vh_finish_disk: stop and remove the directory (and vh_keep_rings(false)). */
void vh_start_disk(const char *prefix, const char *const *args);
void vh_restart(void);
/* vh_restart as SIGKILL does it: the pack keeps only what reached its file, not the records
 * it still buffered for the round's write (vh_restart's stop writes them). */
void vh_kill(void);
void vh_finish_disk(void);
/* The page domid's next INTRODUCE maps (a guest's ring before the daemon knows it), for the
 * test to fill first. */
struct xenstore_domain_interface *vh_page_before_introduce(uint32_t domid);
/* Events the daemon sent to guests so far (all ports). */
unsigned long vh_notifies(void);

#endif
