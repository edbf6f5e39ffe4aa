/*
 * What the xenbus client's files share (xenbus.c: connection and requests; xenbus_watch.c:
 * watch registration and events; xenbus_xact.c, xenbus_nodes.c, xenbus_state.c: the
 * operations). Not part of the API.
 */
#ifndef XENKIT_XEN_XENBUS_PRIV_H
#define XENKIT_XEN_XENBUS_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xen/xenbus.h"

/* One request: type, transaction, up to 4 NUL-terminated strings, then optional raw bytes
 * (a WRITE's value). */
struct xb_req {
    uint32_t type;
    xenbus_tx_t tx;
    const char *strs[4];
    unsigned nstr;
    const void *raw;
    size_t raw_len;
};

/* Send rq and wait for its reply. The reply's payload (when its type is rq->type) goes to
 * reply (at most cap bytes, else -ERANGE); *reply_len gets its length. Returns 0 or -errno,
 * an error reply already decoded. */
int xb_request(const struct xb_req *rq, void *reply, size_t cap, size_t *reply_len);

/* Send rq without waiting; its reply is checked and dropped (logged if an error). For
 * re-registering watches from the event handler after a reconnection. -EAGAIN if it does
 * not fit now. */
int xb_send_detached(const struct xb_req *rq);

/* Wait for the next wake-up (at most half a second of Xen's clock, or until deadline_ns on
 * the monotonic clock), then read the ring directly: the wait of every xenbus caller, so a
 * lost event costs half a second at most. */
void xb_wait_daemon(uint64_t deadline_ns);

/* The connection's generation: bumped by every reconnection. */
uint32_t xb_generation(void);

/* xenbus_watch.c, called by xenbus.c. */
void xb_watch_init(void);
/* A WATCH_EVENT payload arrived (from the event handler: only queues it). */
void xb_watch_event(const void *payload, size_t len);
/* After a reconnection: send WATCH again for every registered watch (as many as txq
 * takes now; xb_watch_resend() sends the rest as room appears and returns true if it
 * queued anything). */
void xb_watch_reregister(void);
bool xb_watch_resend(void);

/* Statistics, kept by xenbus.c and xenbus_watch.c. */
extern struct xenbus_stats xb_stats;

#endif
