/*
 * xkvchan: vchan for dom0 (and any Linux domain with the Xen user-space libraries), wire
 * compatible with libxenvchan, on libxengntshr / libxengnttab / libxenevtchn / libxenstore.
 * The protocol itself is vchan/vchan_core.c; this is the binding (vchan/dom0_*.c).
 *
 * The API mirrors libxenvchan's, so porting is renaming:
 *
 *   libxenvchan_server_init(log, dom, path, read_min, write_min)  xkvchan_server_init(dom, path, read_min, write_min)
 *   libxenvchan_client_init(log, dom, path)                       xkvchan_client_init(dom, path)
 *   libxenvchan_read/write/recv/send/wait/fd_for_select/is_open/data_ready/buffer_space/close
 *                                                                  xkvchan_<same>  (fd_for_select -> xkvchan_fd)
 *   ctrl->blocking = 1                                             xkvchan_set_blocking(v, true)
 *
 * Returns follow libxenvchan: read/write/recv/send give bytes moved, 0 when nothing can move
 * now (non-blocking mode), -1 with errno on failure: EPIPE once the peer closed (read side:
 * and everything it wrote before closing has been read; we deliver it, libxenvchan may
 * not), EPROTO if the peer broke the protocol (the connection is then dead), EMSGSIZE for a
 * packet larger than the ring. Blocking write() writes everything; blocking read() waits
 * for at least one byte; recv/send move exactly `size` bytes.
 *
 * Handshake: the server grants the control page (unmap-notify on srv_live) and the ring
 * pages, allocates an unbound event channel for `domain`, then writes <path>/ring-ref and
 * then <path>/event-channel, each readable by `domain` only ([n<own>, r<domain>], own domid
 * from the relative key "domid", 0 if absent). No transaction: event-channel is written
 * last and is the "ready" signal (a client that finds only ring-ref fails and retries, as
 * with libxenvchan). Close removes <path> and then every parent left empty, down to (not
 * including) the domain's home and its top-level directories, in one transaction retried
 * with backoff (the toolstack's quota is 10 transactions per domain).
 * The client reads both keys, binds the event channel, maps the control page
 * (unmap-notify on cli_live) and the rings, and connects. xkvchan_client_init fails at once
 * if the server is not there yet (like libxenvchan); xkvchan_client_init_wait retries with
 * backoff up to a timeout.
 */
#ifndef XENKIT_VCHAN_XKVCHAN_H
#define XENKIT_VCHAN_XKVCHAN_H

#include <stdbool.h>
#include <stddef.h>

struct xkvchan;

/* Server for client `domain`: rings of at least read_min (client -> server) and write_min
 * (server -> client) bytes, orders chosen as libxenvchan does. NULL with errno on failure. */
struct xkvchan *xkvchan_server_init(int domain, const char *xs_path, size_t read_min,
                                    size_t write_min);
/* Server with exact ring orders (10..20; see vchan_check_orders for valid pairs). */
struct xkvchan *xkvchan_server_init_orders(int domain, const char *xs_path,
                                           unsigned read_order, unsigned write_order);
/* Client of the server in `domain`. */
struct xkvchan *xkvchan_client_init(int domain, const char *xs_path);
struct xkvchan *xkvchan_client_init_wait(int domain, const char *xs_path, int timeout_ms);

void xkvchan_set_blocking(struct xkvchan *v, bool blocking);

/* Blocking calls first poll the ring for up to `usec` microseconds before sleeping on the
 * event channel (default XKVCHAN_DEFAULT_SPIN_US; 0 = sleep at once, like libxenvchan).
 * Spinning trades CPU time for latency and throughput when the peer runs on another CPU;
 * the budget adapts (shrinks while spins end without the peer acting, e.g. on a busy
 * machine, and grows back when they pay). A reader that keeps getting small reads with no
 * write between them polls every ~1 us instead of continuously, so that a writer of small
 * messages is not slowed by our polls (dom0_vchan.c, spin()). */
#define XKVCHAN_DEFAULT_SPIN_US 50
void xkvchan_set_spin(struct xkvchan *v, unsigned usec);

int xkvchan_read(struct xkvchan *v, void *data, size_t size);
int xkvchan_write(struct xkvchan *v, const void *data, size_t size);
int xkvchan_recv(struct xkvchan *v, void *data, size_t size);
int xkvchan_send(struct xkvchan *v, const void *data, size_t size);

/* Wait for the next event (blocks), then unmask. 0 or -1. */
int xkvchan_wait(struct xkvchan *v);
/* The event channel's fd, for poll(): readable = call xkvchan_wait (it will not block). */
int xkvchan_fd(struct xkvchan *v);

/* 1 while the peer is connected (server: or not yet connected), else 0. Data may still be
 * readable when this says 0. */
int xkvchan_is_open(struct xkvchan *v);
/* Bytes readable / writable now. As libxenvchan's, each also asks the peer for the event
 * that changes its answer, so a 0 may be followed by poll() on xkvchan_fd. */
int xkvchan_data_ready(struct xkvchan *v);
int xkvchan_buffer_space(struct xkvchan *v);
/* Bytes we wrote that the peer has not read yet. */
int xkvchan_write_pending(struct xkvchan *v);
/* Block until the peer has read everything we wrote, the peer closed, or timeout_ms passed
 * (-1: no limit). 0 when drained, -1 (errno ETIMEDOUT or EPIPE) otherwise. Use before close
 * when the peer might be libxenvchan, which can drop data that arrives just before a close. */
int xkvchan_flush(struct xkvchan *v, int timeout_ms);

void xkvchan_close(struct xkvchan *v);

#endif
