/*
 * The pure side of the guest's vchan setup (vchan/guest_vchan.c does the I/O): checking the
 * xenstore path the caller chose, parsing what the peer wrote in the handshake, finding the
 * directories to remove on close, and the liveness rule. Ring layout and order selection
 * are the protocol core's (vchan/vchan_core.h).
 * No I/O, no globals: also built into tests/unit/test_vchan_guest_hs.c.
 */
#ifndef XENKIT_VCHAN_GUEST_HS_H
#define XENKIT_VCHAN_GUEST_HS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest xs_path we accept, so that "<xs_path>/event-channel" fits a xenbus watch
 * (XENBUS_WATCH_PATH_MAX, 256) and xenstore's own limits. */
#define VCHAN_HS_PATH_MAX 200

/* xs_path: absolute ("/local/domain/5/data/vchan/7/echo") or relative to the server's home
 * ("data/vchan/7/echo"); components of [A-Za-z0-9_.@-], no empty component, no trailing
 * '/', at least two components (so it never names a domain's home or a top node).
 * Returns 0 or -EINVAL; -ENAMETOOLONG beyond VCHAN_HS_PATH_MAX - 1 characters. */
int vchan_hs_check_path(const char *path);

/* A handshake value (ring-ref, event-channel): strict decimal, no sign, no leading zero, no
 * spaces, at most UINT32_MAX, and not 0 (libxenvchan refuses 0 for both). Returns 0 and
 * *out, or -EINVAL. `len` is the value's length (xenstore values may hold NULs). */
int vchan_hs_parse_u32(const char *s, size_t len, uint32_t *out);

/* Cleanup on close: the server removes xs_path, then each parent that became empty, from the
 * bottom up, but never the "floor": the domain's home and its top-level directories
 * (/local/domain/N/data, data, /top for other absolute paths) belong to the toolstack.
 * vchan_hs_parent(path, len) gives the length of the parent of path[0..len) if that parent
 * is strictly below the floor (a candidate for removal), else 0. Start with
 * len = strlen(path) and iterate. Needs a path that passed vchan_hs_check_path. */
size_t vchan_hs_parent(const char *path, size_t len);

/* Liveness, as seen by one side. The peer counts as gone when its live byte says so (0), or
 * when our event channel is no longer connected to it: Xen turns our end of an
 * interdomain channel back into "unbound" when the peer closes its end or its domain dies,
 * without an event, so the binding asks Xen (EVTCHNOP_status) from time to time.
 * `evtchn_status` is EVTCHNSTAT_*; `connected` says whether the peer ever connected (for
 * the server: the client bound the channel; the client is always connected). */
enum vchan_hs_peer { VCHAN_HS_PEER_WAITING, VCHAN_HS_PEER_UP, VCHAN_HS_PEER_GONE };
enum vchan_hs_peer vchan_hs_peer_state(uint32_t evtchn_status, uint16_t remote_dom,
                                       uint16_t expected_dom, bool connected);

#endif
