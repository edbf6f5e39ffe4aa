/*
 * lxv-peer: a tiny program on the REAL libxenvchan (-lxenvchan), the other end of the
 * interop tests (tests/interop/run.sh).
 *
 *   lxv-peer server DOMID XSPATH READ_MIN WRITE_MIN MODE [N]
 *   lxv-peer client DOMID XSPATH MODE [N]
 *
 * MODE send: stdin into the vchan, wait until the peer has read it all, close.
 *      recv: the vchan to stdout until the peer closes.
 *      echo N: send back the first N bytes received, wait until they are read, close.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxenvchan.h>

static void drain(struct libxenvchan *c, int size)
{
    while (libxenvchan_is_open(c) && libxenvchan_buffer_space(c) < size)
        libxenvchan_wait(c);
}

int main(int argc, char **argv)
{
    if (argc < 5)
        goto usage;
    struct libxenvchan *c;
    int domid = atoi(argv[2]);
    const char *mode;
    int ai;
    if (strcmp(argv[1], "server") == 0 && argc >= 7) {
        c = libxenvchan_server_init(NULL, domid, argv[3], (size_t)atol(argv[4]),
                                    (size_t)atol(argv[5]));
        ai = 6;
    } else if (strcmp(argv[1], "client") == 0) {
        c = NULL;
        for (int i = 0; i < 500 && !c; i++) {       /* the server may not be there yet */
            c = libxenvchan_client_init(NULL, domid, argv[3]);
            if (!c)
                usleep(20000);
        }
        ai = 4;
    } else {
        goto usage;
    }
    if (!c) {
        fprintf(stderr, "lxv-peer: %s init: %s\n", argv[1], strerror(errno));
        return 1;
    }
    mode = argv[ai];
    c->blocking = 1;
    int size = libxenvchan_buffer_space(c);
    static char buf[65536];
    if (strcmp(mode, "send") == 0) {
        ssize_t n;
        while ((n = read(0, buf, sizeof(buf))) > 0) {
            if (libxenvchan_write(c, buf, (size_t)n) != n) {
                fprintf(stderr, "lxv-peer: write failed\n");
                return 1;
            }
        }
        drain(c, size);
    } else if (strcmp(mode, "recv") == 0) {
        int n;
        while ((n = libxenvchan_read(c, buf, sizeof(buf))) > 0) {
            if (write(1, buf, (size_t)n) != n)
                return 1;
        }
    } else if (strcmp(mode, "echo") == 0 && argc > ai + 1) {
        long left = atol(argv[ai + 1]);
        while (left > 0) {
            int n = libxenvchan_read(c, buf, left < (long)sizeof(buf) ? (size_t)left : sizeof(buf));
            if (n <= 0) {
                fprintf(stderr, "lxv-peer: echo: peer gone with %ld bytes to go\n", left);
                return 1;
            }
            if (libxenvchan_write(c, buf, (size_t)n) != n)
                return 1;
            left -= n;
        }
        drain(c, size);
    } else {
        goto usage;
    }
    libxenvchan_close(c);
    return 0;
usage:
    fprintf(stderr, "usage: lxv-peer server DOMID XSPATH READ_MIN WRITE_MIN send|recv|echo N\n"
                    "       lxv-peer client DOMID XSPATH send|recv|echo N\n");
    return 2;
}
