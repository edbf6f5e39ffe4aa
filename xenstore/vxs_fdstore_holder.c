/*
 * vxs-fdstore: the part of systemd that keeps a daemon's sockets open across its crashes, for
 * dom0s without systemd and for tests.
 *
 *   vxs-fdstore [--max N] [--restart-delay MS] [--verbose] -- vxenstored -N ARGS...
 *
 * It runs the daemon as its child with $NOTIFY_SOCKET naming a datagram socket of its own and
 * $FDSTORE=N, and speaks that much of sd_notify(3): "FDSTORE=1\nFDNAME=x" with fds attached
 * (SCM_RIGHTS) keeps them, "FDSTOREREMOVE=1\nFDNAME=x" closes those named x. When the child
 * dies by a signal (SIGKILL, a crash) or exits non-zero, it is started again after
 * --restart-delay ms (default 100) with the kept fds as fds 3, 4, ... and $LISTEN_FDS,
 * $LISTEN_PID, $LISTEN_FDNAMES (sd_listen_fds_with_names(3)). It exits with the child when the
 * child exits 0 or ends by SIGTERM or SIGINT (systemd's Restart=on-failure: a clean stop),
 * forwards SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGUSR2 to the child, and gives up (exit 1)
 * if a child exits non-zero before it said READY=1 (a command line or set-up error would
 * otherwise loop). The daemon must not fork (-N): the child is the daemon.
 *
 * Only the child may talk to the socket: each datagram's sender (SO_PASSCRED) must be the
 * running child's pid, anything else is dropped with the fds it carried.
 *
 * Its name is not the daemon's, so `pidof vxenstored` still finds the daemon alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NAME_MAX_LEN 255
#define FDS_PER_MSG 253 /* SCM_MAX_FD */

struct kept {
    int fd;
    char name[NAME_MAX_LEN + 1];
};

static struct kept *kept;
static size_t nkept, kept_cap, max_fds = 4096;
static bool verbose;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vxs-fdstore: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* systemd's rule for FDNAME: 1-255 printable ASCII characters, no ':'. */
static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 33 || s[i] > 126 || s[i] == ':')
            return false;
    return true;
}

static void keep(int fd, const char *name)
{
    if (nkept == max_fds) {
        say("store full (%zu fds): %s not kept", max_fds, name);
        close(fd);
        return;
    }
    if (nkept == kept_cap) {
        size_t cap = kept_cap ? kept_cap * 2 : 64;
        struct kept *k = realloc(kept, cap * sizeof *k);
        if (!k) {
            close(fd);
            return;
        }
        kept = k;
        kept_cap = cap;
    }
    kept[nkept].fd = fd;
    snprintf(kept[nkept].name, sizeof kept[nkept].name, "%s", name);
    nkept++;
    if (verbose)
        say("kept %s (%zu)", name, nkept);
}

static void drop(const char *name)
{
    for (size_t i = 0; i < nkept;) {
        if (strcmp(kept[i].name, name) == 0) {
            close(kept[i].fd);
            kept[i] = kept[--nkept];
            if (verbose)
                say("dropped %s (%zu)", name, nkept);
        } else {
            i++;
        }
    }
}

/* One line's value if the datagram has "key=value" as a line, else NULL (copied to buf). */
static const char *field(const char *msg, size_t len, const char *key, char *buf, size_t cap)
{
    size_t kl = strlen(key);
    for (const char *p = msg, *end = msg + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (ll > kl && memcmp(p, key, kl) == 0 && p[kl] == '=') {
            size_t vl = ll - kl - 1;
            if (vl >= cap)
                return NULL;
            memcpy(buf, p + kl + 1, vl);
            buf[vl] = 0;
            return buf;
        }
        p += ll + 1;
    }
    return NULL;
}

/* Read every datagram waiting on the notify socket. */
static void take_messages(int s, pid_t child, bool *ready)
{
    for (;;) {
        char msg[4096];
        union {
            struct cmsghdr h;
            char buf[CMSG_SPACE(FDS_PER_MSG * sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
        } cm;
        struct iovec iov = {msg, sizeof msg - 1};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
                            .msg_controllen = sizeof cm.buf};
        ssize_t n = recvmsg(s, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        int fds[FDS_PER_MSG];
        size_t nfds = 0;
        pid_t from = 0;
        for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
            if (h->cmsg_level != SOL_SOCKET)
                continue;
            if (h->cmsg_type == SCM_RIGHTS) {
                size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < k && nfds < FDS_PER_MSG; i++)
                    memcpy(&fds[nfds++], CMSG_DATA(h) + i * sizeof(int), sizeof(int));
            } else if (h->cmsg_type == SCM_CREDENTIALS &&
                       h->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
                struct ucred uc;
                memcpy(&uc, CMSG_DATA(h), sizeof uc);
                from = uc.pid;
            }
        }
        char name[NAME_MAX_LEN + 1], v[8];
        bool ok = child > 0 && from == child && !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC));
        if (ok && field(msg, (size_t)n, "READY", v, sizeof v) && strcmp(v, "1") == 0)
            *ready = true;
        bool store = ok && field(msg, (size_t)n, "FDSTORE", v, sizeof v) && !strcmp(v, "1");
        bool remove = ok && field(msg, (size_t)n, "FDSTOREREMOVE", v, sizeof v) &&
                      !strcmp(v, "1");
        const char *nm = field(msg, (size_t)n, "FDNAME", name, sizeof name);
        if (!nm || !name_ok(nm, strlen(nm)))
            nm = "stored"; /* systemd's default name */
        if (remove && !store)
            drop(nm);
        for (size_t i = 0; i < nfds; i++) {
            if (store)
                keep(fds[i], nm);
            else
                close(fds[i]);
        }
        if (!ok && (nfds || n > 0) && verbose)
            say("datagram from pid %ld ignored", (long)from);
    }
}

/* The child's fds 3, 4, ... are the kept ones: first each is moved above that range (it may
 * sit where another goes), then into place; the copies go at exec (close-on-exec). */
static void exec_child(char **argv, const char *notify_name)
{
    int top = 3 + (int)nkept;
    for (size_t i = 0; i < nkept; i++) {
        int fd = fcntl(kept[i].fd, F_DUPFD_CLOEXEC, top);
        if (fd < 0)
            _exit(127);
        kept[i].fd = fd;
    }
    size_t namelen = 1;
    for (size_t i = 0; i < nkept; i++) {
        if (dup2(kept[i].fd, 3 + (int)i) < 0)
            _exit(127);
        namelen += strlen(kept[i].name) + 1;
    }
    setenv("NOTIFY_SOCKET", notify_name, 1);
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", max_fds);
    setenv("FDSTORE", buf, 1);
    if (nkept) {
        char *names = malloc(namelen);
        if (!names)
            _exit(127);
        names[0] = 0;
        for (size_t i = 0; i < nkept; i++) {
            if (i)
                strcat(names, ":");
            strcat(names, kept[i].name);
        }
        setenv("LISTEN_FDNAMES", names, 1);
        snprintf(buf, sizeof buf, "%zu", nkept);
        setenv("LISTEN_FDS", buf, 1);
        snprintf(buf, sizeof buf, "%ld", (long)getpid());
        setenv("LISTEN_PID", buf, 1);
    } else {
        unsetenv("LISTEN_FDNAMES");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_PID");
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execvp(argv[0], argv);
    fprintf(stderr, "vxs-fdstore: %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: vxs-fdstore [--max N] [--restart-delay MS] [--verbose] -- "
               "DAEMON [ARGS...]\n"
               "Runs DAEMON (which must not fork), keeps the fds it stores with sd_notify\n"
               "FDSTORE=1 and restarts it with them (LISTEN_FDS) when it dies.\n");
}

int main(int argc, char **argv)
{
    long delay_ms = 100;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (strcmp(argv[i], "--max") == 0 && i + 1 < argc) {
            max_fds = strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--restart-delay") == 0 && i + 1 < argc) {
            delay_ms = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--verbose") == 0) {
            verbose = true;
        } else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] != '-') {
            break;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc || max_fds == 0 || delay_ms < 0) {
        usage(stderr);
        return 2;
    }
    char **child_argv = argv + i;
    /* Each kept fd is open here: room for max_fds of them and a few of our own. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < max_fds + 64) {
        rl.rlim_cur = rl.rlim_max < max_fds + 64 ? rl.rlim_max : max_fds + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int on = 1;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char notify_name[64];
    snprintf(notify_name, sizeof notify_name, "@vxs-fdstore/%ld", (long)getpid());
    memcpy(sa.sun_path, notify_name, strlen(notify_name));
    sa.sun_path[0] = 0; /* abstract: nothing to clean up, gone with us */
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(notify_name));
    /* Room for many datagrams: a burst of accepts must not block the daemon. */
    int rcvbuf = 4 << 20;
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0 ||
        bind(s, (struct sockaddr *)&sa, salen) < 0) {
        say("notify socket: %s", strerror(errno));
        return 1;
    }
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sigset_t set;
    sigemptyset(&set);
    int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};
    for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++)
        sigaddset(&set, sigs[k]);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    if (sfd < 0) {
        say("signalfd: %s", strerror(errno));
        return 1;
    }
    bool stopping = false;
    unsigned starts = 0;
    for (;;) {
        bool ready = false;
        pid_t child = fork();
        if (child < 0) {
            say("fork: %s", strerror(errno));
            return 1;
        }
        if (child == 0)
            exec_child(child_argv, notify_name);
        starts++;
        if (verbose || starts > 1)
            say("started %s (pid %ld, %zu fds handed over)", child_argv[0], (long)child, nkept);
        int status = 0;
        for (;;) {
            struct pollfd p[2] = {{s, POLLIN, 0}, {sfd, POLLIN, 0}};
            if (poll(p, 2, -1) < 0 && errno != EINTR)
                return 1;
            if (p[0].revents & POLLIN)
                take_messages(s, child, &ready);
            if (!(p[1].revents & POLLIN))
                continue;
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) != sizeof si)
                continue;
            if (si.ssi_signo != SIGCHLD) {
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
                    stopping = true;
                kill(child, (int)si.ssi_signo);
                continue;
            }
            /* What it sent before it died counts (an fd stored just before a kill): read
             * while its pid is still its own (a zombie's, not yet reaped). */
            take_messages(s, child, &ready);
            if (waitpid(child, &status, WNOHANG) == child)
                break;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            return 0;
        if (WIFSIGNALED(status) && (WTERMSIG(status) == SIGTERM || WTERMSIG(status) == SIGINT))
            return 0;
        if (stopping)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
        if (WIFEXITED(status) && !ready) {
            say("%s exited with %d before it was ready: not restarted", child_argv[0],
                WEXITSTATUS(status));
            return 1;
        }
        if (WIFSIGNALED(status))
            say("%s (pid %ld) killed by signal %d: restarting", child_argv[0], (long)child,
                WTERMSIG(status));
        else
            say("%s (pid %ld) exited with %d: restarting", child_argv[0], (long)child,
                WEXITSTATUS(status));
        struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
        /* A stop asked for during the delay. */
        struct signalfd_siginfo si;
        struct pollfd p = {sfd, POLLIN, 0};
        while (poll(&p, 1, 0) == 1 && read(sfd, &si, sizeof si) == sizeof si)
            if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
                return 0;
    }
}
