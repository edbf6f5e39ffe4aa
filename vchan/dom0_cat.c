/*
 * vchan-cat: netcat for vchan.
 *
 *   vchan-cat [-e] [-t SECS] server DOMID XSPATH [READ_ORDER WRITE_ORDER]
 *   vchan-cat [-e] [-t SECS] client DOMID XSPATH
 *
 * Copies stdin into the vchan and the vchan to stdout. The server (for client domain DOMID)
 * publishes XSPATH with rings of READ_ORDER (client -> server) and WRITE_ORDER (server ->
 * client), 12 and 12 (4 KiB each way) by default. Exits when the peer closes (after writing out everything
 * it sent), or, with -e, once stdin reached EOF and the peer has read all of it (then it
 * closes its end; it keeps copying the peer's data to stdout while it waits). The client waits up to -t SECS (default 10) for the server to appear.
 * Exit status 0, or 1 on an error (a broken protocol, a write error).
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vchan/xkvchan.h"

static void usage(void)
{
    fprintf(stderr, "usage: vchan-cat [-e] [-t SECS] server DOMID XSPATH [READ_ORDER WRITE_ORDER]\n"
                    "       vchan-cat [-e] [-t SECS] client DOMID XSPATH\n");
    exit(2);
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int main(int argc, char **argv)
{
    bool close_on_eof = false;
    int timeout_s = 10;
    int opt;
    while ((opt = getopt(argc, argv, "et:")) != -1) {
        if (opt == 'e')
            close_on_eof = true;
        else if (opt == 't')
            timeout_s = atoi(optarg);
        else
            usage();
    }
    argc -= optind;
    argv += optind;
    if (argc != 3 && argc != 5)
        usage();
    bool server = strcmp(argv[0], "server") == 0;
    if (!server && strcmp(argv[0], "client") != 0)
        usage();
    int domid = atoi(argv[1]);
    const char *path = argv[2];
    struct xkvchan *v;
    if (server) {
        unsigned ro = 12, wo = 12;
        if (argc == 5) {
            ro = (unsigned)atoi(argv[3]);
            wo = (unsigned)atoi(argv[4]);
        }
        v = xkvchan_server_init_orders(domid, path, ro, wo);
    } else {
        if (argc != 3)
            usage();
        v = xkvchan_client_init_wait(domid, path, timeout_s * 1000);
    }
    if (!v) {
        fprintf(stderr, "vchan-cat: %s init on %s: %s\n", argv[0], path, strerror(errno));
        return 1;
    }

    static char in[65536], out[65536];
    size_t in_len = 0, in_off = 0;
    bool in_eof = false;
    int status = 0;
    for (;;) {
        /* vchan -> stdout, until nothing is there (which arms the read notification). */
        bool peer_gone = false;
        for (;;) {
            int n = xkvchan_read(v, out, sizeof(out));
            if (n > 0) {
                if (write_all(1, out, (size_t)n) < 0) {
                    perror("vchan-cat: stdout");
                    status = 1;
                    goto done;
                }
                continue;
            }
            if (n < 0) {
                if (errno != EPIPE) {
                    fprintf(stderr, "vchan-cat: read: %s\n", strerror(errno));
                    status = 1;
                }
                peer_gone = true;
            }
            break;
        }
        if (peer_gone)
            break;
        /* stdin -> vchan, until the ring is full (which arms the write notification). */
        bool blocked = false;
        while (!blocked && (in_off < in_len || !in_eof)) {
            if (in_off == in_len) {
                struct pollfd p = { .fd = 0, .events = POLLIN };
                if (poll(&p, 1, 0) <= 0)
                    break;
                ssize_t n = read(0, in, sizeof(in));
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0) {
                    in_eof = true;
                    break;
                }
                in_len = (size_t)n;
                in_off = 0;
            }
            int n = xkvchan_write(v, in + in_off, in_len - in_off);
            if (n < 0) {
                if (errno != EPIPE) {
                    fprintf(stderr, "vchan-cat: write: %s\n", strerror(errno));
                    status = 1;
                }
                goto done;
            }
            in_off += (size_t)n;
            if (n == 0)
                blocked = true;
        }
        if (in_eof && in_off == in_len && close_on_eof) {
            /* Close once the peer has read everything, but never wait for that without
             * reading: an echoing peer with a full return ring stops reading too, and both
             * would wait forever. flush(0) arms the notification; the loop goes on draining. */
            if (xkvchan_flush(v, 0) == 0)
                break;
            if (errno != ETIMEDOUT) {
                if (errno != EPIPE)
                    status = 1;
                break;
            }
        }
        struct pollfd p[2] = {
            { .fd = xkvchan_fd(v), .events = POLLIN },
            { .fd = 0, .events = POLLIN },
        };
        int np = (!in_eof && in_off == in_len) ? 2 : 1;
        if (poll(p, (nfds_t)np, -1) < 0 && errno != EINTR) {
            perror("vchan-cat: poll");
            status = 1;
            break;
        }
        if (p[0].revents & POLLIN)
            xkvchan_wait(v);
    }
done:
    xkvchan_close(v);
    return status;
}
