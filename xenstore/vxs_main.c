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
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "xenstore/store_pack.h"
#include "xenstore/vxs.h"
#include "xenstore/vxs_quota.h"
#include "xenstore/vxs_spin.h"
#include "xenstore/vxs_xen.h"

/* Plain sockets drop the bytes of answered requests this many at a time (vxs_conn.c,
 * drop_peeked): one recv() and at most one needless wake-up of the client per batch; and
 * all they hold before the loop sleeps, and every VXS_DROP_ROUNDS rounds. */
#define VXS_DROP_BATCH 16
#define VXS_DROP_ROUNDS 64

/* The loop's fds in its epoll set, besides the sockets (vxs_conn_epoll_add). */
enum { FD_LISTEN = 1, FD_EVTCHN = 2, FD_SYNC = 4, FD_KEPT = 8 };

static volatile sig_atomic_t got_sighup, got_sigusr1, got_sigterm;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* How the loop waits. Usually on its epoll set alone (vxs_conn.c: the batched plain sockets,
 * the listening socket, the event channel, the sync thread's eventfd, the kept sockets'
 * epoll set): one epoll_pwait per round, which returns the sockets that have new bytes. While
 * a connection needs poll() (a socket's full send buffer, a socket not in the set), ppoll on
 * those and the epoll fd instead, then a zero-timeout epoll_wait for what the set has. */
struct loop_wait {
    int epfd;
    struct pollfd *pfd; /* NULL: epoll_pwait alone; else pfd[0] is epfd, n entries */
    size_t n;
    const sigset_t *mask;
    struct epoll_event ev[64];
    int nev; /* events epoll_pwait returned (epoll alone) */
};

static int wait_once(struct loop_wait *w, int timeout)
{
    if (!w->pfd) {
        int rc = epoll_pwait(w->epfd, w->ev, 64, timeout, w->mask);
        w->nev = rc > 0 ? rc : 0;
        return rc;
    }
    struct timespec ts = {timeout / 1000, (long)(timeout % 1000) * 1000000};
    return ppoll(w->pfd, w->n, timeout >= 0 ? &ts : NULL, w->mask);
}

/* The loop's wait: poll without sleeping for as long as the spin policy says (vxs_spin.c:
 * while requests follow each other closely), then sleep. Returns the wait's result. */
static int wait_round(struct vxs_spin *spin, struct loop_wait *w, int timeout)
{
    uint64_t start = now_ns();
    vxs_spin_wait_start(spin, start);
    int prc;
    if (timeout != 0 && vxs_conn_holding()) {
        /* Before any wait, the bytes of answered requests plain sockets hold go (vxs_conn.c:
         * drop_peeked), but only if there is nothing to do at once: the drops are batched
         * for when there is. Not after a short wait instead (tried, 1 ms): a client that
         * sends many requests at once, blocked on the room our held bytes take, then waited
         * for each such wait (hostile.py's 10000 WATCHes under the fd store 2-3x slower). */
        prc = wait_once(w, 0);
        if (prc != 0) {
            vxs_spin_wait_end(spin, now_ns(), prc > 0);
            return prc;
        }
        vxs_conn_drop_batched();
    }
    uint64_t look = vxs_spin_plan(spin, timeout);
    if (look) {
        /* Yielding between looks: on a busy host the clients we wait for may need this
         * CPU (sched_yield returns at once when nothing else wants it). */
        while ((prc = wait_once(w, 0)) == 0 && now_ns() - start < look)
            sched_yield();
        if (prc != 0) {
            vxs_spin_wait_end(spin, now_ns(), prc > 0);
            return prc;
        }
        if (timeout > 0) { /* what is left of the loop's own timeout */
            uint64_t left = (uint64_t)timeout * 1000000 - look;
            timeout = (int)((left + 999999) / 1000000);
        }
    }
    prc = wait_once(w, timeout);
    vxs_spin_wait_end(spin, now_ns(), prc > 0);
    return prc;
}

/* SIGTERM/SIGINT: finish the sync in flight, send the replies it releases, then exit. */
static void on_sigterm(int sig)
{
    (void)sig;
    got_sigterm = 1;
}

static void on_sighup(int sig)
{
    (void)sig;
    got_sighup = 1;
}

static void on_sigusr1(int sig)
{
    (void)sig;
    got_sigusr1 = 1;
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
    vxs_fdstore_init(); /* before anything opens an fd: the handed-back ones are 3, 4, ... */
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
    /* SIGHUP reopens the trace file (log rotation), as C xenstored's; no SA_RESTART, so
     * that poll() returns and the loop sees it. */
    struct sigaction hup = {.sa_handler = on_sighup};
    sigemptyset(&hup.sa_mask);
    sigaction(SIGHUP, &hup, NULL);
    /* SIGUSR1 logs every ring's indexes and queues (vxs_diag.c): for a guest that hangs. */
    struct sigaction usr1 = {.sa_handler = on_sigusr1};
    sigemptyset(&usr1.sa_mask);
    sigaction(SIGUSR1, &usr1, NULL);
    /* SIGTERM and SIGINT stay blocked except inside ppoll, so that one arriving while a
     * round runs is seen at its end instead of being lost until the next wake-up. */
    struct sigaction term = {.sa_handler = on_sigterm};
    sigemptyset(&term.sa_mask);
    sigaction(SIGTERM, &term, NULL);
    sigaction(SIGINT, &term, NULL);
    sigset_t block, wait_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &wait_mask);
    sigdelset(&wait_mask, SIGTERM);
    sigdelset(&wait_mask, SIGINT);
    memcpy(vxs.spec_perms[0], "n0", 3);
    memcpy(vxs.spec_perms[1], "n0", 3);
    vxs.spec_perms_len[0] = vxs.spec_perms_len[1] = 3;
    if (vxs_store_open(db) < 0)
        return 1;
    /* The socket connections the fd store kept, before the rings' restore replays the
     * watch events they all may have missed (vxs_sock.c). */
    vxs_sock_restore();
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
    int lfd = vxs_sock_listen(sock); /* the old one if the fd store kept it (vxs_sock.c) */
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
        if (!vxs.verbose)
            vxs_log_to_syslog();
    }
    vxs_daemon_ready(ready_fd, o.pid_file);

    int efd = vxs.socket_only ? -1 : vxs_xen_evtchn_fd();
    vxs.drop_batch = VXS_DROP_BATCH; /* plain sockets' answered bytes: vxs_conn.c */
    struct loop_wait w = {.epfd = vxs_conn_epoll_fd(), .mask = &wait_mask};
    if (w.epfd < 0 || vxs_conn_epoll_add(lfd, FD_LISTEN) < 0 ||
        (efd >= 0 && vxs_conn_epoll_add(efd, FD_EVTCHN) < 0)) {
        vxs_log("epoll: %s", strerror(errno));
        return 1;
    }
    int sync_fd = -1, kept_fd = -1; /* in the set once they exist (started lazily) */
    struct vxs_spin spin;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    vxs_spin_init(&spin, o.spin_us, ncpu > 2 ? (unsigned)(ncpu - 1) : 1);
    struct pollfd *pfd = NULL;
    size_t pcap = 0;
    unsigned rounds = 0;
    for (;;) {
        int fd = vxs_durable_fd(); /* a sync ended */
        if (fd >= 0 && sync_fd < 0 && vxs_conn_epoll_add(fd, FD_SYNC) == 0)
            sync_fd = fd;
        fd = vxs_sock_epoll_fd(); /* kept sockets with new bytes (vxs_sock.c) */
        if (fd >= 0 && kept_fd < 0 && vxs_conn_epoll_add(fd, FD_KEPT) == 0)
            kept_fd = fd;
        /* The connections poll() must watch: with one, ppoll (see struct loop_wait). */
        size_t n = 1;
        for (struct vxs_conn *c = vxs.conns; c; c = c->next) {
            if (c->fd < 0)
                continue;
            short events = (short)((vxs_conn_wants_pollin(c) ? POLLIN : 0) |
                                   (vxs_conn_wants_pollout(c) ? POLLOUT : 0));
            if (!events)
                continue;
            if (n >= pcap) {
                pcap = pcap ? pcap * 2 : 16;
                struct pollfd *np = realloc(pfd, pcap * sizeof *pfd);
                if (!np)
                    return 1;
                pfd = np;
            }
            pfd[n++] = (struct pollfd){.fd = c->fd, .events = events};
        }
        if (n > 1)
            pfd[0] = (struct pollfd){.fd = w.epfd, .events = POLLIN};
        w.pfd = n > 1 ? pfd : NULL;
        w.n = n;
        w.nev = 0;
        int timeout = vxs_store_poll_timeout(); /* 0 if its batch clock released replies */
        timeout = vxs_quota_poll_timeout(timeout); /* limits that lift, events that expire */
        int wake = vxs_ring_wake_timeout(); /* ring bytes no event announces */
        if (wake >= 0 && (timeout < 0 || wake < timeout))
            timeout = wake;
        if (vxs.ring_backlog) /* requests a ring holds without an event (vxs_conn.c) */
            timeout = 0;
        vxs.ring_backlog = false;
        int prc = wait_round(&spin, &w, timeout);
        if (got_sigterm) {
            free(pfd); /* (LeakSanitizer counts it: main returns) */
            return vxs_shutdown();
        }
        if (got_sighup) {
            got_sighup = 0;
            vxs_trace_reopen();
            vxs_log("SIGHUP: trace file reopened");
        }
        if (got_sigusr1) {
            got_sigusr1 = 0;
            vxs_diag_dump();
        }
        if (prc < 0 && errno != EINTR) {
            vxs_log("poll: %s", strerror(errno));
            return 1;
        }
        /* Sockets by fd: the list may change while requests are handled. */
        unsigned served = 0; /* connections with input this round (the spin policy) */
        for (size_t i = 1; w.pfd && prc > 0 && i < w.n; i++) {
            if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            served++;
            for (struct vxs_conn *c = vxs.conns; c; c = c->next)
                if (c->fd == pfd[i].fd) {
                    vxs_conn_input(c);
                    break;
                }
        }
        unsigned fds = 0; /* FD_* bits of the loop's other fds that are readable */
        if (!w.pfd)
            served += vxs_conn_handle_events(w.ev, w.nev, &fds);
        else if (prc > 0 && (pfd[0].revents & POLLIN))
            served += vxs_conn_events(&fds); /* plain sockets with new bytes */
        if (fds & FD_KEPT)
            served += (unsigned)vxs_sock_events(); /* kept sockets with new bytes */
        if (fds & FD_EVTCHN) {
            vxs_domain_events();
            served++; /* one ring or more: a busy guest counts as one client */
        }
        vxs_spin_round(&spin, served);
        vxs_quota_tick();
        if (fds & FD_LISTEN) {
            int cfd;
            while ((cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
                vxs_conn_new_socket(cfd);
        }
        /* Group commit: what this round committed becomes durable together (--sync batch:
         * by the sync thread, while the next rounds run; vxs_server.c). */
        if (vxs_durable_round() < 0) {
            vxs_log("store flush failed");
            return 1;
        }
        vxs_conn_flush_all();
        /* And at least every VXS_DROP_ROUNDS rounds while we never sleep: a client with a
         * small send buffer could otherwise wait for room that our held bytes take. */
        if (++rounds % VXS_DROP_ROUNDS == 0)
            vxs_conn_drop_batched();
    }
}
