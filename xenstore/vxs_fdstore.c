/*
 * vxenstored's side of systemd's file-descriptor store (sd_notify FDSTORE=1, LISTEN_FDS), with
 * no libsystemd: the kernel closes a killed daemon's sockets, so every socket a client holds
 * open to us (and the listening socket) is also handed to a keeper that outlives us - systemd
 * (xenstored.service with FileDescriptorStoreMax= and Restart=), or the bundled vxs-fdstore
 * (xenstore/vxs_fdstore_holder.c). The restarted daemon gets them back as fds 3, 4, ... and
 * carries on with the same connections: the clients see no EOF.
 *
 * The store is active when $NOTIFY_SOCKET names the keeper and $FDSTORE (the keeper's limit,
 * which systemd >= 254 and vxs-fdstore set) is positive: only then do we pay for it (one
 * datagram per accepted and per closed connection, and the socket read path's replay safety,
 * vxs_sock.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "xenstore/vxs.h"

static int notify_fd = -1;
static bool active;

/* The fds handed back at start-up (LISTEN_FDS), by name, until taken. */
struct restored {
    int fd;
    char name[VXS_FDNAME_MAX + 1];
};
static struct restored *restored;
static size_t nrestored;

bool vxs_fdstore_active(void)
{
    return active;
}

/* A connected datagram socket to $NOTIFY_SOCKET ("/path" or "@abstract"), or -1. */
static int notify_open(void)
{
    const char *ns = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!ns || (ns[0] != '/' && ns[0] != '@') || strlen(ns) >= sizeof sa.sun_path)
        return -1;
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    memcpy(sa.sun_path, ns, strlen(ns));
    if (ns[0] == '@')
        sa.sun_path[0] = 0;
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(ns));
    if (connect(s, (struct sockaddr *)&sa, len) < 0) {
        close(s);
        return -1;
    }
    return s;
}

static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > VXS_FDNAME_MAX)
        return false;
    for (const char *p = name; *p; p++)
        if (*p < 33 || *p > 126 || *p == ':')
            return false;
    return true;
}

void vxs_fdstore_init(void)
{
    const char *max = getenv("FDSTORE");
    if (max && strtol(max, NULL, 10) > 0)
        notify_fd = notify_open();
    active = notify_fd >= 0;
    /* sd_listen_fds(): the fds are ours only if LISTEN_PID says so; the variables go, so
     * that nothing we start takes them for its own. */
    const char *pid = getenv("LISTEN_PID"), *nfds = getenv("LISTEN_FDS");
    const char *names = getenv("LISTEN_FDNAMES");
    long n = nfds ? strtol(nfds, NULL, 10) : 0;
    if (pid && strtol(pid, NULL, 10) == (long)getpid() && n > 0 && n < 1000000) {
        restored = calloc((size_t)n, sizeof *restored);
        const char *p = names ? names : "";
        for (long i = 0; restored && i < n; i++) {
            int fd = 3 + (int)i;
            fcntl(fd, F_SETFD, FD_CLOEXEC);
            const char *end = strchr(p, ':');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            struct restored *r = &restored[nrestored++];
            r->fd = fd;
            if (len <= VXS_FDNAME_MAX) {
                memcpy(r->name, p, len);
                r->name[len] = 0;
            }
            p = end ? end + 1 : p + len;
        }
        if (vxs.verbose)
            vxs_log("fd store: %zu fds handed back", nrestored);
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
}

int vxs_fdstore_take(const char *name)
{
    for (size_t i = 0; i < nrestored; i++)
        if (restored[i].fd >= 0 && strcmp(restored[i].name, name) == 0) {
            int fd = restored[i].fd;
            restored[i].fd = -1;
            return fd;
        }
    return -1;
}

int vxs_fdstore_next(char *name)
{
    for (size_t i = 0; i < nrestored; i++)
        if (restored[i].fd >= 0) {
            memcpy(name, restored[i].name, sizeof restored[i].name);
            int fd = restored[i].fd;
            restored[i].fd = -1;
            return fd;
        }
    free(restored);
    restored = NULL;
    nrestored = 0;
    return -1;
}

/* One notify datagram, with fd attached unless fd < 0. Blocking: the keeper reads at once,
 * and a datagram lost would be a connection lost at the next restart. */
static int notify(const char *msg, int fd)
{
    if (notify_fd < 0)
        return -ENOTCONN;
    struct iovec iov = {(void *)msg, strlen(msg)};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(&cm, 0, sizeof cm);
        mh.msg_control = cm.buf;
        mh.msg_controllen = sizeof cm.buf;
        struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(h), &fd, sizeof fd);
    }
    while (sendmsg(notify_fd, &mh, MSG_NOSIGNAL) < 0)
        if (errno != EINTR)
            return -errno;
    return 0;
}

int vxs_fdstore_put(int fd, const char *name, bool pollable)
{
    if (!active)
        return -ENOTCONN;
    if (!name_ok(name))
        return -EINVAL;
    /* systemd watches a stored fd for POLLHUP (and drops it then) unless told FDPOLL=0,
     * and refuses an fd epoll cannot watch, such as a memfd. */
    char msg[48 + VXS_FDNAME_MAX];
    snprintf(msg, sizeof msg, "FDSTORE=1\nFDNAME=%s%s", name, pollable ? "" : "\nFDPOLL=0");
    int rc = notify(msg, fd);
    if (rc < 0) {
        static bool told;
        if (!told)
            vxs_log("fd store: cannot store %s (%s): connections will not survive a restart",
                    name, strerror(-rc));
        told = true;
    }
    return rc;
}

void vxs_fdstore_remove(const char *name)
{
    if (!active || !name_ok(name))
        return;
    char msg[32 + VXS_FDNAME_MAX];
    snprintf(msg, sizeof msg, "FDSTOREREMOVE=1\nFDNAME=%s", name);
    notify(msg, -1);
}
