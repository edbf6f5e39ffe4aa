/*
 * vxenstored: a xenstore daemon whose database lives in the versioned store.
 *
 *   vxenstored [--db DIR] [--sync always|batch|none] [--socket PATH] [-N] [-V]
 *
 * This is the first milestone: it serves the Unix socket ($XENSTORED_PATH, else
 * $XENSTORED_RUNDIR/socket, else /var/run/xenstored/socket) to privileged (dom0) clients.
 * The database is the branch "xenstore" of the pack file DIR/xenstore.pack (default
 * /var/lib/xenstored). A reply leaves only once its commit is durable in the chosen sync
 * mode: in batch mode the pack's group commit flushes at the end of each poll round.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "xenstore/store_pack.h"
#include "xenstore/vxs.h"
#include "xenstore/vxs_xen.h"

struct vxs_server vxs;

static bool use_syslog;

void vxs_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (use_syslog) {
        vsyslog(LOG_NOTICE, fmt, ap);
    } else {
        fprintf(stderr, "vxenstored: ");
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
    va_end(ap);
}

/* ---- durability of commits ---------------------------------------------------------------- */

uint64_t vxs_seq_new(void)
{
    uint64_t seq = ++vxs.next_seq;
    size_t idx = (size_t)(seq - vxs.durable_upto - 1);
    if (idx >= vxs.done_cap) {
        size_t cap = vxs.done_cap ? vxs.done_cap * 2 : 64;
        while (cap <= idx)
            cap *= 2;
        bool *d = realloc(vxs.done, cap * sizeof *d);
        if (!d) {
            vxs_log("out of memory");
            exit(1);
        }
        memset(d + vxs.done_cap, 0, (cap - vxs.done_cap) * sizeof *d);
        vxs.done = d;
        vxs.done_cap = cap;
    }
    return seq;
}

void vxs_seq_durable(void *arg, bool ok)
{
    uint64_t seq = (uint64_t)(uintptr_t)arg;
    if (!ok)
        vxs_log("commit %llu: sync failed", (unsigned long long)seq);
    if (seq <= vxs.durable_upto)
        return;
    vxs.done[seq - vxs.durable_upto - 1] = true;
    size_t k = 0;
    while (k < vxs.done_cap && vxs.done[k])
        k++;
    if (k) {
        memmove(vxs.done, vxs.done + k, (vxs.done_cap - k) * sizeof *vxs.done);
        memset(vxs.done + vxs.done_cap - k, 0, k * sizeof *vxs.done);
        vxs.durable_upto += k;
    }
}

/* ---- start-up --------------------------------------------------------------------------------- */

static int open_store(const char *db)
{
    if (strcmp(db, ":memory:") == 0) {
        vxs.os = store_memobj_open();
        if (!vxs.os)
            return -ENOMEM;
    } else {
        if (mkdir(db, 0700) < 0 && errno != EEXIST) {
            vxs_log("%s: %s", db, strerror(errno));
            return -errno;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/xenstore.pack", db);
        struct store_pack_opts opts = {.create = true};
        struct store_pack_report rep;
        int rc = store_pack_open_path(path, &opts, &vxs.os, &rep);
        if (rc < 0) {
            vxs_log("%s: cannot open the store: %s", path, strerror(-rc));
            return rc;
        }
        vxs.is_pack = true;
        if (vxs.verbose)
            vxs_log("%s", rep.msg);
    }
    vxs.st = vs_store_open(vxs.os, 0);
    if (!vxs.st)
        return -ENOMEM;
    struct store_hash head;
    int rc = vs_branch_head(vxs.st, VXS_BRANCH, &head);
    if (rc == -ENOENT) {
        struct vs_txn *x;
        rc = vs_txn_begin(vxs.st, VXS_BRANCH, &x);
        if (rc < 0)
            return rc;
        rc = vxs_node_init(x);
        if (rc < 0) {
            vs_txn_abort(x);
            return rc;
        }
        struct vs_commit_info info = {.author = "vxenstored", .message = "initial tree"};
        rc = vs_txn_commit(x, &info, STORE_SYNC_ALWAYS, NULL, NULL, NULL);
    }
    return rc;
}

static int open_socket(const char *path)
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

int main(int argc, char **argv)
{
    struct vxs_opts o;
    if (vxs_opts_parse(argc, argv, &o) < 0) {
        vxs_usage(stderr);
        return 2;
    }
    if (o.help) {
        vxs_usage(stdout);
        return 0;
    }
    const char *db = o.db, *sock = o.socket;
    if (o.trace_file && vxs_trace_open(o.trace_file) < 0) {
        vxs_log("%s: %s", o.trace_file, strerror(errno));
        return 1;
    }
    char sockbuf[4096];
    if (!sock) {
        sock = getenv("XENSTORED_PATH");
        if (!sock || !*sock) {
            const char *rundir = getenv("XENSTORED_RUNDIR");
            snprintf(sockbuf, sizeof sockbuf, "%s/socket",
                     rundir && *rundir ? rundir : "/var/run/xenstored");
            sock = sockbuf;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    memcpy(vxs.spec_perms[0], "n0", 3);
    memcpy(vxs.spec_perms[1], "n0", 3);
    vxs.spec_perms_len[0] = vxs.spec_perms_len[1] = 3;
    if (open_store(db) < 0)
        return 1;
    if (!vxs.socket_only) {
        int rc = vxs_xen_open();
        if (rc < 0) {
            vxs_log("cannot reach the hypervisor (%s); use --socket-only to serve the Unix "
                    "socket alone", strerror(-rc));
            return 1;
        }
        rc = vxs_domain_init_dom0();
        if (rc < 0) {
            vxs_log("cannot connect dom0's ring (/proc/xen/xsd_kva, xsd_port): %s",
                    strerror(-rc));
            return 1;
        }
        vxs_domain_restore();
    }
    int lfd = open_socket(sock);
    if (lfd < 0) {
        vxs_log("%s: %s", sock, strerror(-lfd));
        return 1;
    }
    if (vxs.verbose)
        vxs_log("serving %s, database %s", sock, db);
    /* Fork only now: the store, the socket and the rings are ready, so the parent's exit
     * tells the init scripts that xenstored serves. (The store has no threads to lose.)
     * From here on, without -V, the log goes to syslog. */
    int ready_fd = -1;
    if (o.fork) {
        ready_fd = vxs_daemonize();
        if (ready_fd < 0) {
            vxs_log("fork: %s", strerror(-ready_fd));
            return 1;
        }
        if (!vxs.verbose) {
            openlog("vxenstored", LOG_PID, LOG_DAEMON);
            use_syslog = true;
        }
    }
    vxs_daemon_ready(ready_fd, o.pid_file);

    int efd = vxs.socket_only ? -1 : vxs_xen_evtchn_fd();
    struct pollfd *pfd = NULL;
    size_t pcap = 0;
    for (;;) {
        size_t n = 2;
        for (struct vxs_conn *c = vxs.conns; c; c = c->next)
            n++;
        if (n > pcap) {
            pcap = n * 2;
            pfd = realloc(pfd, pcap * sizeof *pfd);
            if (!pfd)
                return 1;
        }
        pfd[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = efd, .events = POLLIN};
        size_t i = 2;
        for (struct vxs_conn *c = vxs.conns; c; c = c->next) {
            if (c->fd < 0)
                continue;
            pfd[i++] = (struct pollfd){
                .fd = c->fd,
                .events = (c->stalled ? 0 : POLLIN) |
                          (vxs_conn_wants_pollout(c) ? POLLOUT : 0)};
        }
        n = i;
        int timeout = -1;
        if (vxs.is_pack)
            timeout = store_pack_poll(vxs.os);
        if (poll(pfd, n, timeout) < 0 && errno != EINTR) {
            vxs_log("poll: %s", strerror(errno));
            return 1;
        }
        /* Sockets by fd: the list may change while requests are handled. */
        for (i = 2; i < n; i++) {
            if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            for (struct vxs_conn *c = vxs.conns; c; c = c->next)
                if (c->fd == pfd[i].fd) {
                    vxs_conn_input(c);
                    break;
                }
        }
        if (pfd[1].revents & POLLIN)
            vxs_domain_events();
        if (pfd[0].revents & POLLIN) {
            int fd;
            while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
                vxs_conn_new_socket(fd);
        }
        /* Group commit: everything this round committed becomes durable together. */
        if (vxs.durable_upto < vxs.next_seq && vxs.os->ops->flush(vxs.os) < 0) {
            vxs_log("store flush failed");
            return 1;
        }
        for (struct vxs_conn *c = vxs.conns, *next; c; c = next) {
            next = c->next;
            if (!c->dead)
                vxs_conn_flush(c);
            if (c->dead)
                vxs_conn_free(c);
        }
    }
}
