/*
 * xk-poll-peer: our dom0 binding (xkvchan) used the way libxenvchan programs usually use
 * libxenvchan: non-blocking, asking xkvchan_data_ready / xkvchan_buffer_space how much
 * there is, and sleeping in poll() on xkvchan_fd when the answer is 0, without first
 * calling a read or write that returns 0. That only works if asking also requests the
 * peer's notification, as libxenvchan_data_ready / libxenvchan_buffer_space do
 * (tests/interop/run.sh; a port of such a program must not hang).
 *
 *   xk-poll-peer server DOMID XSPATH READ_ORDER WRITE_ORDER send
 *   xk-poll-peer client DOMID XSPATH recv
 *
 * send: stdin into the vchan, wait until the peer has read it all, close.
 * recv: the vchan to stdout until the peer closes.
 * A wait of more than 10 s for an event is a failure (exit 3): the notification was lost.
 * Either way the vchan is closed (its xenstore nodes removed) before exiting.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vchan/xkvchan.h"

/* Sleeps until the event channel fires, as a libxenvchan program's poll loop does. 0, or
 * 3 after 10 s without an event (the notification was lost), 1 on an error. */
static int wait_event(struct xkvchan *v)
{
    struct pollfd p = { .fd = xkvchan_fd(v), .events = POLLIN };
    int r;
    while ((r = poll(&p, 1, 10000)) < 0 && errno == EINTR)
        ;
    if (r == 0) {
        fprintf(stderr, "xk-poll-peer: no event for 10 s (lost notification)\n");
        return 3;
    }
    if (r < 0 || xkvchan_wait(v) < 0) {
        perror("xk-poll-peer: wait");
        return 1;
    }
    return 0;
}

static int send_all(struct xkvchan *v)
{
    static char buf[65536];
    int ring = xkvchan_buffer_space(v);     /* empty now: the whole ring */
    ssize_t n;
    while ((n = read(0, buf, sizeof(buf))) > 0) {
        for (ssize_t off = 0; off < n;) {
            int space = xkvchan_buffer_space(v);
            if (space <= 0) {
                if (!xkvchan_is_open(v))
                    return 1;
                int rc = wait_event(v);
                if (rc)
                    return rc;
                continue;
            }
            size_t len = (size_t)(n - off) < (size_t)space ? (size_t)(n - off) : (size_t)space;
            int w = xkvchan_write(v, buf + off, len);
            if (w < 0)
                return 1;
            off += w;
        }
    }
    while (xkvchan_is_open(v) && xkvchan_buffer_space(v) < ring) {
        int rc = wait_event(v);
        if (rc)
            return rc;
    }
    return 0;
}

static int recv_all(struct xkvchan *v)
{
    static char buf[65536];
    for (;;) {
        int ready = xkvchan_data_ready(v);
        if (ready == 0) {
            if (!xkvchan_is_open(v) && xkvchan_data_ready(v) == 0)
                return 0;
            int rc = wait_event(v);
            if (rc)
                return rc;
            continue;
        }
        int n = xkvchan_read(v, buf, (size_t)ready < sizeof(buf) ? (size_t)ready : sizeof(buf));
        if (n < 0)
            return 1;
        if (write(1, buf, (size_t)n) != n)
            return 1;
    }
}

int main(int argc, char **argv)
{
    struct xkvchan *v;
    const char *mode;
    if (argc == 7 && strcmp(argv[1], "server") == 0) {
        v = xkvchan_server_init_orders(atoi(argv[2]), argv[3], (unsigned)atoi(argv[4]),
                                       (unsigned)atoi(argv[5]));
        mode = argv[6];
    } else if (argc == 5 && strcmp(argv[1], "client") == 0) {
        v = xkvchan_client_init_wait(atoi(argv[2]), argv[3], 10000);
        mode = argv[4];
    } else {
        fprintf(stderr, "usage: xk-poll-peer server DOMID XSPATH READ_ORDER WRITE_ORDER send\n"
                        "       xk-poll-peer client DOMID XSPATH recv\n");
        return 2;
    }
    if (!v) {
        fprintf(stderr, "xk-poll-peer: %s init: %s\n", argv[1], strerror(errno));
        return 1;
    }
    xkvchan_set_blocking(v, false);
    int rc = strcmp(mode, "send") == 0 ? send_all(v) : strcmp(mode, "recv") == 0 ? recv_all(v) : 2;
    xkvchan_close(v);
    return rc;
}
