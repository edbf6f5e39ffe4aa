/*
 * vxenstored: Unix-socket connections that outlive the daemon. With the fd store active
 * (vxs_fdstore.c) the listening socket and every accepted connection are also held by the
 * keeper, under a name: "listen", and "c<run>-<id>" for a connection (<run>: the start time of
 * the daemon that accepted it, in hex ms, so that names are never re-used). A restarted daemon
 * takes the listening socket back instead of binding a new one (a client that connects
 * meanwhile waits in its backlog) and re-creates each connection under its old name, as
 * `restored`: its transaction ids from before are answered EAGAIN (vxs_domain_old_txid), its
 * watches and events-delivered mark come back from the connection table (vxs_persist.c,
 * /sock/<name>), and the requests it had sent but not had answered are read again
 * (vxs_conn.c's socket read path, see vxs_sock_discard).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "xenstore/vxs.h"

static int bind_socket(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        close(fd);
        return -ENAMETOOLONG;
    }
    strcpy(sa.sun_path, path);
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 128) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    chmod(path, 0600);
    return fd;
}

/* Is fd a listening Unix socket bound to path, and is path still there? */
static bool listens_at(int fd, const char *path)
{
    int acc = 0;
    socklen_t l = sizeof acc;
    struct sockaddr_un sa;
    socklen_t sl = sizeof sa;
    struct stat st;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l) < 0 || !acc ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0 || sa.sun_family != AF_UNIX ||
        sl <= offsetof(struct sockaddr_un, sun_path))
        return false;
    size_t n = sl - offsetof(struct sockaddr_un, sun_path);
    return strnlen(sa.sun_path, n) == strlen(path) && memcmp(sa.sun_path, path, strlen(path)) == 0 &&
           stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

int vxs_sock_listen(const char *path)
{
    int fd = vxs_fdstore_take("listen");
    if (fd >= 0) {
        if (listens_at(fd, path)) {
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
            if (vxs.verbose)
                vxs_log("fd store: listening socket %s taken back", path);
            return fd;
        }
        /* Another path this time, or the file was removed: a new socket. */
        vxs_fdstore_remove("listen");
        close(fd);
    }
    fd = bind_socket(path);
    if (fd >= 0)
        vxs_fdstore_put(fd, "listen");
    return fd;
}

void vxs_sock_name(struct vxs_conn *c)
{
    static unsigned long long run;
    if (!run) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        run = (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
    }
    snprintf(c->name, sizeof c->name, "c%llx-%u", run, c->id);
}

void vxs_sock_restore(void)
{
    char name[VXS_FDNAME_MAX + 1];
    int fd;
    unsigned n = 0;
    while ((fd = vxs_fdstore_next(name)) >= 0) {
        int type = 0;
        socklen_t l = sizeof type;
        if (name[0] != 'c' || strlen(name) >= sizeof ((struct vxs_conn *)0)->name ||
            getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0 || type != SOCK_STREAM) {
            /* Not one of ours (or a listening socket we no longer use): let it go. */
            vxs_log("fd store: %s is not a connection, closed", name);
            vxs_fdstore_remove(name);
            close(fd);
            continue;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        struct vxs_conn *c = vxs_conn_new_socket_named(fd, name);
        if (!c) {
            vxs_fdstore_remove(name);
            continue;
        }
        vxs_conn_mark_restored(c);
        n++;
    }
    if (n)
        vxs_log("restart: %u socket connections taken back", n);
}
