/* vxenstored: a round's replies to several sockets sent with one system call (io_uring), so
 * that the daemon is preempted at most once by the clients those replies wake (vxs_uring.c
 * has the why). */
#ifndef XENKIT_XENSTORE_VXS_URING_H
#define XENKIT_XENSTORE_VXS_URING_H

#include <stddef.h>

/* One send: len bytes of buf on socket fd. res: 0 if not attempted (no io_uring: the caller
 * sends it itself), else what send(2) would return (bytes sent) or -errno. */
struct vxs_uring_send {
    int fd;
    const void *buf;
    size_t len;
    long res;
};

/* Send each of v[0..n) with MSG_DONTWAIT | MSG_NOSIGNAL, in one io_uring_enter per
 * VXS_URING_BATCH of them, and wait until all are done (buf may be freed on return). Entries
 * it could not submit keep res 0. Returns how many were attempted: 0 when io_uring cannot be
 * had (old kernel, io_uring_disabled, seccomp) or the environment says VXS_URING=0. */
size_t vxs_uring_send(struct vxs_uring_send *v, size_t n);

#define VXS_URING_BATCH 64

#endif
