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
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
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

/* The listening socket handed back, set aside by vxs_sock_restore for vxs_sock_listen. */
static int kept_listen = -1;

int vxs_sock_listen(const char *path)
{
    int fd = kept_listen >= 0 ? kept_listen : vxs_fdstore_take("listen");
    kept_listen = -1;
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
        vxs_fdstore_put(fd, "listen", true);
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

static void journal_open(void);
static void journal_prune(void);

void vxs_sock_restore(void)
{
    char name[VXS_FDNAME_MAX + 1];
    int fd;
    unsigned n = 0;
    /* Ours but not connections: the journal now, the listening socket for vxs_sock_listen. */
    journal_open();
    kept_listen = vxs_fdstore_take("listen");
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
        vxs_sock_rx_init(c, true);
        vxs_persist_sock_load(c); /* its watches */
        n++;
    }
    if (n)
        vxs_log("restart: %u socket connections taken back", n);
    journal_prune();
    vxs_persist_sock_prune();
    /* With rings, vxs_domain_restore replays the events of all (vxs_events_replay.c). */
    if (vxs.socket_only)
        vxs_events_replay();
}

/* ---- requests in flight: read with MSG_PEEK, discarded once answered -------------------- *
 *
 * A request read from a socket and not yet answered would die with the daemon (the client
 * then waits for ever). With the fd store active, a connection's bytes are read with MSG_PEEK
 * (SO_PEEK_OFF: each peek goes on where the last one ended) and discarded from the socket
 * only once the replies to them have left: a restarted daemon reads them again and handles
 * them again (a replayed WRITE is applied again, a replayed TRANSACTION_END finds its commit,
 * vxs_persist_txn_committed). Cost: one more recv (the discard) per poll round that answered
 * something on the connection.
 *
 * That alone would send a reply twice when the daemon dies between sending it and discarding
 * its request, and libxenstore takes a reply of the wrong type as a broken connection. So each
 * connection has a slot in a journal, a memfd kept in the fd store as "journal" (mapped
 * shared: its stores outlive the process): `answered` is the stream offset up to which
 * replies have left, written just *before* the send() that completes them (a kill inside the
 * send() ends the process only once the send is done; the window left is the few
 * instructions between that store and the system call, plus a send cut short by a full
 * socket); `head` is how far the socket has been discarded, with `pend_head`/`pend_peek` to
 * tell, after a kill in the middle of a discard, whether it happened (the socket's peek offset
 * is then smaller by the bytes discarded). At restart the requests up to `answered` are
 * discarded unhandled; those after are replays. Offsets count bytes since the connection
 * began. */

#define JOURNAL_SLOTS 4096
#define HOLDS 64

struct jslot {
    char name[32];
    uint64_t head, answered, pend_head;
    int64_t pend_peek;
};
_Static_assert(sizeof(struct jslot) == 64, "journal slot layout");

static struct jslot *journal;

struct vxs_sock_rx {
    uint64_t head;      /* offset of the socket's first byte (discarded before it) */
    uint64_t peeked;    /* offset of the next byte to peek */
    uint64_t replay_from, replay_end; /* restored: requests that start in between may have
                                       * been handled before (vxs_replay_done.c) */
    struct jslot *slot; /* NULL: no journal (a reply may then go twice after a restart) */
    size_t nholds;
    struct {
        uint64_t end, serial;
    } hold[HOLDS];      /* requests handled, not discarded: end offset, last message serial */
    uint64_t done_end;  /* requests answered up to here, not yet discarded (batched) */
    unsigned done_reqs; /* how many */
};

/* poll() reports a socket readable while its queue holds bytes, peeked or not: polling a
 * kept socket for POLLIN would wake every round while a peeked request waits for its reply,
 * and spin while part of a request is peeked (libxenstore writes the header and the payload
 * separately), taking the CPU from the very client that is to write the rest. So kept
 * sockets are watched by an epoll set, edge-triggered: it fires when new bytes arrive, and
 * each such event peeks everything there is (vxs_conn.c's input loop). The epoll fd is
 * polled by the loop (vxs_main.c). */
static int epfd = -1;

int vxs_sock_epoll_fd(void)
{
    return epfd;
}

static void epoll_add(struct vxs_conn *c)
{
    if (epfd < 0)
        epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.u32 = c->id};
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        vxs_log("epoll: %s: %s", c->name, strerror(errno));
        c->dead = true;
    }
}

int vxs_sock_events(void)
{
    struct epoll_event ev[64];
    int n = epfd < 0 ? 0 : epoll_wait(epfd, ev, 64, 0);
    for (int i = 0; i < n; i++)
        for (struct vxs_conn *c = vxs.conns; c; c = c->next)
            if (c->id == ev[i].data.u32 && c->rx) {
                vxs_conn_input(c);
                break;
            }
    return n > 0 ? n : 0;
}

bool vxs_sock_wants_pollin(const struct vxs_conn *c)
{
    return !c->rx;
}

static void journal_open(void)
{
    if (journal || !vxs_fdstore_active())
        return;
    size_t size = JOURNAL_SLOTS * sizeof(struct jslot);
    int fd = vxs_fdstore_take("journal");
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) < 0 || (size_t)st.st_size != size)) {
        close(fd);
        vxs_fdstore_remove("journal");
        fd = -1;
    }
    bool fresh = fd < 0;
    if (fresh) {
        fd = memfd_create("vxs-journal", MFD_CLOEXEC);
        if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
            vxs_log("fd store: no journal (%s): a reply may go twice after a restart",
                    strerror(errno));
            if (fd >= 0)
                close(fd);
            return;
        }
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED || (fresh && vxs_fdstore_put(fd, "journal", false) < 0)) {
        if (p != MAP_FAILED)
            munmap(p, size);
        close(fd);
        return;
    }
    close(fd);
    journal = p;
}

static struct jslot *slot_find(const char *name)
{
    for (size_t i = 0; journal && i < JOURNAL_SLOTS; i++)
        if (strncmp(journal[i].name, name, sizeof journal[i].name) == 0)
            return &journal[i];
    return NULL;
}

/* Slots of connections that were not handed back (closed while no daemon ran) are free. */
static void journal_prune(void)
{
    for (size_t i = 0; journal && i < JOURNAL_SLOTS; i++) {
        if (!journal[i].name[0])
            continue;
        bool live = false;
        for (const struct vxs_conn *c = vxs.conns; c && !live; c = c->next)
            live = c->rx && c->rx->slot == &journal[i];
        if (!live)
            memset(&journal[i], 0, sizeof journal[i]);
    }
}

void vxs_sock_rx_init(struct vxs_conn *c, bool restored)
{
    if (!vxs_fdstore_active() || !c->name[0])
        return;
    journal_open();
    struct vxs_sock_rx *rx = calloc(1, sizeof *rx);
    if (!rx)
        return;
    int peek = -1;
    socklen_t pl = sizeof peek;
    if (restored && getsockopt(c->fd, SOL_SOCKET, SO_PEEK_OFF, &peek, &pl) < 0)
        peek = -1;
    int zero = 0;
    if (setsockopt(c->fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof zero) < 0) {
        free(rx); /* no peek offsets here: plain reads, nothing kept for a restart */
        return;
    }
    struct jslot *s = restored ? slot_find(c->name) : NULL;
    if (s) {
        /* A discard cut by the kill: done if the peek offset moved back by its size.
         * Unsigned (wrapping) arithmetic: the slot's fields may be anything. */
        if (s->pend_head > s->head && peek >= 0 &&
            (uint64_t)peek + (s->pend_head - s->head) == (uint64_t)s->pend_peek) {
            vxs_log("restart: %s: the discard cut by the kill had happened", c->name);
            s->head = s->pend_head;
        }
        s->pend_head = s->head;
        rx->head = s->head;
        /* Requests answered before the kill (their reply has left): gone unhandled. */
        if (s->answered > rx->head) {
            uint64_t skip = s->answered - rx->head, want = skip;
            uint8_t scratch[4096];
            while (skip > 0) {
                ssize_t n = recv(c->fd, scratch, skip < sizeof scratch ? skip : sizeof scratch,
                                 MSG_DONTWAIT);
                if (n <= 0)
                    break;
                skip -= (uint64_t)n;
                rx->head += (uint64_t)n;
            }
            s->head = s->pend_head = rx->head;
            setsockopt(c->fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof zero);
            vxs_log("restart: %s: %llu bytes of requests answered before the kill skipped",
                    c->name, (unsigned long long)(want - skip));
        }
        s->answered = rx->head;
    } else if (!restored) {
        s = slot_find("");
        if (s) {
            memset(s, 0, sizeof *s);
            snprintf(s->name, sizeof s->name, "%s", c->name);
        }
    }
    rx->slot = s;
    rx->peeked = rx->head;
    if (restored) {
        /* What is queued now may have been handled before the kill (all of it without a
         * slot to say what was answered); what arrives later is new, slot or not. */
        int inq = 0;
        rx->replay_from = rx->head;
        if (ioctl(c->fd, FIONREAD, &inq) < 0)
            rx->replay_end = UINT64_MAX; /* unknown */
        else
            rx->replay_end = rx->head + (uint64_t)(inq > 0 ? inq : 0);
    }
    c->rx = rx;
    epoll_add(c);
}

void vxs_sock_rx_free(struct vxs_conn *c)
{
    if (c->rx && epfd >= 0)
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->rx && c->rx->slot)
        memset(c->rx->slot, 0, sizeof *c->rx->slot);
    free(c->rx);
    c->rx = NULL;
}

long vxs_sock_recv(struct vxs_conn *c, void *buf, size_t cap, uint64_t *pos)
{
    struct vxs_sock_rx *rx = c->rx;
    if (!rx) {
        *pos = 0;
        return recv(c->fd, buf, cap, 0);
    }
    *pos = rx->peeked;
    ssize_t n = recv(c->fd, buf, cap, MSG_PEEK);
    if (n > 0)
        rx->peeked += (uint64_t)n;
    return n;
}

bool vxs_sock_replayed(const struct vxs_conn *c, uint64_t start)
{
    return c->rx && c->restored && start < c->rx->replay_end;
}

bool vxs_sock_replay_window(const struct vxs_conn *c, uint64_t *from, uint64_t *end)
{
    if (!c->rx || !c->restored || c->rx->replay_end <= c->rx->replay_from)
        return false;
    *from = c->rx->replay_from;
    *end = c->rx->replay_end;
    return true;
}

/* Discard the first n bytes of the socket (answered requests), journalled. */
static void discard(struct vxs_conn *c, uint64_t n)
{
    struct vxs_sock_rx *rx = c->rx;
    struct jslot *s = rx->slot;
    if (s) {
        /* The kernel's peek offset: what we peeked beyond the head (it was 0 at rx_init). */
        s->pend_peek = (int64_t)(rx->peeked - rx->head);
        s->pend_head = rx->head + n;
    }
    uint8_t scratch[8192];
    while (n > 0) {
        ssize_t k = recv(c->fd, scratch, n < sizeof scratch ? n : sizeof scratch, MSG_DONTWAIT);
        if (k <= 0) {
            if (k < 0 && errno == EINTR)
                continue;
            c->dead = true;
            break;
        }
        n -= (uint64_t)k;
        rx->head += (uint64_t)k;
    }
    if (s)
        s->head = s->pend_head = rx->head;
}

void vxs_sock_hold(struct vxs_conn *c, uint64_t end, uint64_t serial)
{
    struct vxs_sock_rx *rx = c->rx;
    if (!rx)
        return;
    if (rx->nholds == HOLDS) {
        /* A client that sends without reading its replies: the oldest request goes
         * now (a restart would lose it), rather than its writes blocking on our unread
         * bytes while we wait for it to read. */
        uint64_t oldest = rx->hold[0].end;
        memmove(&rx->hold[0], &rx->hold[1], (HOLDS - 1) * sizeof rx->hold[0]);
        rx->nholds--;
        if (rx->slot && rx->slot->answered < oldest)
            rx->slot->answered = oldest;
        discard(c, oldest - rx->head);
    }
    rx->hold[rx->nholds].end = end;
    rx->hold[rx->nholds++].serial = serial;
}

/* The offset up to which requests are answered once messages up to `serial` have left. */
static uint64_t answered_by(const struct vxs_sock_rx *rx, uint64_t serial)
{
    uint64_t a = rx->head;
    for (size_t i = 0; i < rx->nholds && rx->hold[i].serial <= serial; i++)
        a = rx->hold[i].end;
    return a;
}

void vxs_sock_sending(struct vxs_conn *c, uint64_t serial, bool whole)
{
    struct vxs_sock_rx *rx = c->rx;
    if (!rx || !rx->slot)
        return;
    /* Before the send: it is taken to have happened (see above). After one cut short, back
     * to what the messages before it answered. */
    uint64_t a = answered_by(rx, whole ? serial : serial - 1);
    if (a > rx->slot->answered || !whole)
        rx->slot->answered = a > rx->head ? a : rx->head;
}

void vxs_sock_release(struct vxs_conn *c, uint64_t left_below)
{
    struct vxs_sock_rx *rx = c->rx;
    if (!rx)
        return;
    size_t k = 0;
    while (k < rx->nholds && rx->hold[k].serial < left_below)
        k++;
    if (!k)
        return;
    uint64_t end = rx->hold[k - 1].end;
    memmove(&rx->hold[0], &rx->hold[k], (rx->nholds - k) * sizeof rx->hold[0]);
    rx->nholds -= k;
    if (rx->slot && rx->slot->answered < end)
        rx->slot->answered = end;
    /* Discarding wakes the client if it already sleeps again for its next reply, so with
     * vxs.drop_batch the answered requests go that many at a time (the journal's `answered`
     * says already that they are answered; a restart skips them), as a plain socket's drops
     * (vxs_conn.c, drop_peeked, which has the bounds). */
    rx->done_end = end;
    rx->done_reqs += (unsigned)k;
    if (!vxs.drop_batch || rx->done_reqs >= vxs.drop_batch ||
        end - rx->head >= 16u * 1024 || c->rd.have)
        vxs_sock_discard_done(c);
}

bool vxs_sock_holds_done(const struct vxs_conn *c)
{
    return c->rx && c->rx->done_end > c->rx->head;
}

void vxs_sock_discard_done(struct vxs_conn *c)
{
    struct vxs_sock_rx *rx = c->rx;
    if (!rx)
        return;
    if (rx->done_end > rx->head)
        discard(c, rx->done_end - rx->head);
    rx->done_reqs = 0;
}
