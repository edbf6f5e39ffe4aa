/*
 * Private to the guest binding: the xenstore side of the handshake (guest_xs.c), used by
 * the data and setup side (guest_vchan.c).
 */
#ifndef XENKIT_VCHAN_GUEST_PRIV_H
#define XENKIT_VCHAN_GUEST_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "vchan/guest_hs.h"

/* Room for "/local/domain/<domid>/" + a VCHAN_HS_PATH_MAX relative path. */
#define GVCHAN_XS_PATH_CAP (VCHAN_HS_PATH_MAX + 32)

/* Check xs_path and make it absolute: a relative path is taken relative to the home of
 * `server_domid`. Returns 0 or -errno. */
int gvchan_xs_resolve(const char *xs_path, uint32_t server_domid, char *out, size_t cap);

/* Server: write <path>/ring-ref then <path>/event-channel, each readable by `peer` only
 * (perms [n<self>, r<peer>]), without a transaction. */
int gvchan_xs_publish(const char *path, uint32_t self, uint32_t peer, uint32_t ring_ref,
                      uint32_t port);

/* Client: wait (a watch on <path>/event-channel) until both keys can be read and are valid,
 * or the deadline. -ETIMEDOUT, -EINVAL for a malformed value, or another -errno. */
int gvchan_xs_wait(const char *path, uint64_t deadline_ns, uint32_t *ring_ref,
                   uint32_t *port);

/* Server: remove <path> and the parents it leaves empty (one transaction, retried with
 * backoff on EAGAIN). */
int gvchan_xs_remove(const char *path);

#endif
