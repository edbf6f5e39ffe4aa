/*
 * Unix-socket connections that survive a SIGKILL under the fd store (xenstore/vxs_sock.c,
 * vxs_fdstore.c): the journal's restart cases, deterministically.
 *
 * Each life of the daemon is a forked child running the daemon's own start-up (fd store
 * protocol, store on disk, vxs_sock_restore) and a few rounds of its loop (kept sockets'
 * epoll events, group commit, output); it ends in a real SIGKILL at a chosen point or in
 * _exit (no clean-up: a kill too). The test process is the keeper (it receives the
 * FDSTORE=1 datagrams on $NOTIFY_SOCKET and hands the fds back as 3, 4, ... with
 * LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES, as vxs-fdstore and systemd do) and the client (the
 * other end of a socketpair; the requests of a life are queued before it starts, the replies
 * read after it ends).
 *
 * The kill points inside the daemon's reads come from recv() below, which this executable
 * defines over libc's: with `kill_at` set, the child kills itself just before, or just after,
 * the first recv() that discards bytes (not a MSG_PEEK) - the window between a reply's send
 * and the discard of its request, and a discard cut before the journal records it - or just
 * before the first send() (the window the documentation leaves open).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/vxs_harness.h"

/* ---- kill points ------------------------------------------------------------------------ */

enum kill_at { KILL_NONE, KILL_BEFORE_DISCARD, KILL_AFTER_DISCARD, KILL_BEFORE_SEND };
static enum kill_at kill_at; /* only ever set in a child */

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    bool discard = !(flags & MSG_PEEK);
    if (discard && kill_at == KILL_BEFORE_DISCARD)
        raise(SIGKILL);
    ssize_t r = syscall(SYS_recvfrom, fd, buf, n, flags, NULL, NULL);
    if (discard && r > 0 && kill_at == KILL_AFTER_DISCARD)
        raise(SIGKILL);
    return r;
}

/* The daemon sends replies with send() (the keeper's datagrams go by sendmsg). */
ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    if (kill_at == KILL_BEFORE_SEND)
        raise(SIGKILL);
    return syscall(SYS_sendto, fd, buf, n, flags, NULL, 0);
}

/* ---- the keeper ------------------------------------------------------------------------- */

#define MAX_STORED 16

static char dir[64], notify_path[96];
static int keeper = -1;
static struct {
    char name[64];
    int fd;
} stored[MAX_STORED];
static size_t nstored;

static void stored_drop(const char *name)
{
    for (size_t i = 0; i < nstored; i++)
        if (strcmp(stored[i].name, name) == 0) {
            close(stored[i].fd);
            stored[i] = stored[--nstored];
            return;
        }
}

/* Read the datagrams the daemon sent: FDSTORE=1 (with an fd) and FDSTOREREMOVE=1. */
static void keeper_drain(void)
{
    for (;;) {
        char msg[256];
        union {
            struct cmsghdr h;
            char buf[CMSG_SPACE(sizeof(int))];
        } cm;
        struct iovec iov = {msg, sizeof msg - 1};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
                            .msg_controllen = sizeof cm.buf};
        ssize_t n = recvmsg(keeper, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0) {
            assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
            return;
        }
        msg[n] = 0;
        int fd = -1;
        struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
        if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
            memcpy(&fd, CMSG_DATA(h), sizeof fd);
        const char *nm = strstr(msg, "FDNAME=");
        assert_non_null(nm);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(nm + 7, "\n"), nm + 7);
        stored_drop(name);
        if (strncmp(msg, "FDSTORE=1", 9) == 0) {
            assert_true(fd >= 0);
            assert_true(nstored < MAX_STORED);
            snprintf(stored[nstored].name, sizeof stored[nstored].name, "%s", name);
            stored[nstored++].fd = fd;
        } else {
            assert_true(strncmp(msg, "FDSTOREREMOVE=1", 15) == 0);
            if (fd >= 0)
                close(fd);
        }
    }
}

static int stored_fd(const char *prefix)
{
    for (size_t i = 0; i < nstored; i++)
        if (strncmp(stored[i].name, prefix, strlen(prefix)) == 0)
            return stored[i].fd;
    return -1;
}

/* ---- a life of the daemon --------------------------------------------------------------- */

struct life {
    int new_conn;        /* the daemon's end of a new connection (accepted), or -1 */
    int rounds;          /* loop rounds after the start */
    bool stop_after_input; /* the last round is killed after handling its input */
    enum kill_at kill_at;
};

static int lives;

static void round_(bool stop_after_input)
{
    vxs_sock_events();
    if (stop_after_input)
        _exit(0);
    if (vxs_durable_round() < 0)
        _exit(4);
    for (struct vxs_conn *c = vxs.conns, *next; c; c = next) {
        next = c->next;
        if (!c->dead)
            vxs_conn_flush(c);
        if (c->dead)
            vxs_conn_free(c);
    }
}

static void child(const struct life *l)
{
    char log[160];
    snprintf(log, sizeof log, "%s/life%d.log", dir, lives);
    int lf = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (lf < 0 || dup2(lf, 2) < 0)
        _exit(2);
    /* The handed-back fds at 3, 4, ... as the keeper passes them; nothing else open. */
    char names[MAX_STORED * 65] = "";
    for (size_t i = 0; i < nstored; i++) {
        if (dup2(stored[i].fd, 200 + (int)i) < 0)
            _exit(2);
        strcat(names, i ? ":" : "");
        strcat(names, stored[i].name);
    }
    if (l->new_conn >= 0 && dup2(l->new_conn, 300) < 0)
        _exit(2);
    for (int fd = 3; fd < 200; fd++)
        close(fd);
    for (size_t i = 0; i < nstored; i++) {
        dup2(200 + (int)i, 3 + (int)i);
        close(200 + (int)i);
    }
    char n[16], pid[16];
    snprintf(n, sizeof n, "%zu", nstored);
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    setenv("FDSTORE", "64", 1);
    setenv("NOTIFY_SOCKET", notify_path, 1);
    setenv("LISTEN_FDS", n, 1);
    setenv("LISTEN_PID", pid, 1);
    setenv("LISTEN_FDNAMES", names, 1);

    /* As vxs_main.c's start-up. */
    vxs_fdstore_init();
    if (!vxs_fdstore_active())
        _exit(3);
    char *argv[] = {"vxenstored", "--socket-only", NULL};
    struct vxs_opts o;
    if (vxs_opts_parse(2, argv, &o) != 0)
        _exit(3);
    memcpy(vxs.spec_perms[0], "n0", 3);
    memcpy(vxs.spec_perms[1], "n0", 3);
    vxs.spec_perms_len[0] = vxs.spec_perms_len[1] = 3;
    if (vxs_store_open(dir) < 0)
        _exit(3);
    vxs_sock_restore();
    if (l->new_conn >= 0)
        vxs_conn_new_socket(300);
    kill_at = l->kill_at;
    for (int r = 0; r < l->rounds; r++)
        round_(l->stop_after_input && r + 1 == l->rounds);
    _exit(0);
}

/* Run one life; returns its log. */
static const char *life(const struct life *l)
{
    lives++;
    fflush(NULL);
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0)
        child(l);
    int st;
    assert_int_equal(waitpid(p, &st, 0), p);
    if (l->kill_at != KILL_NONE) {
        assert_true(WIFSIGNALED(st));
        assert_int_equal(WTERMSIG(st), SIGKILL);
    } else {
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    keeper_drain();
    static char text[8192];
    char path[160];
    snprintf(path, sizeof path, "%s/life%d.log", dir, lives);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t k = fread(text, 1, sizeof text - 1, f);
    text[k] = 0;
    fclose(f);
    return text;
}

/* ---- the client ------------------------------------------------------------------------- */

static int client = -1, daemon_end = -1;

#define MAX_MSGS 128
static struct vh_msg msgs[MAX_MSGS];
static size_t nmsgs;
static bool client_eof; /* the daemon closed the connection */

static void setup_world(void)
{
    snprintf(dir, sizeof dir, "/tmp/vxs-sockrestart.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(notify_path, sizeof notify_path, "%s/notify", dir);
    keeper = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(keeper >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", notify_path);
    assert_int_equal(bind(keeper, (struct sockaddr *)&sa, sizeof sa), 0);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    client = sv[0];
    daemon_end = sv[1];
    nstored = 0;
    lives = 0;
    nmsgs = 0;
    client_eof = false;
}

static void teardown_world(void)
{
    while (nstored)
        stored_drop(stored[0].name);
    close(keeper);
    close(client);
    if (daemon_end >= 0)
        close(daemon_end);
    daemon_end = -1;
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* The first life: the connection is accepted (and handed to the keeper). */
static const char *first_life(struct life l)
{
    l.new_conn = daemon_end;
    const char *log = life(&l);
    close(daemon_end); /* the keeper's copy, and the client's end, keep it open */
    daemon_end = -1;
    assert_true(stored_fd("c") >= 0);
    assert_true(stored_fd("journal") >= 0);
    return log;
}

static void send_req(uint32_t type, uint32_t req_id, uint32_t tx, const char *const *strs,
                     size_t nstrs)
{
    char body[512];
    size_t len = 0;
    for (size_t i = 0; i < nstrs; i++) {
        size_t sl = strlen(strs[i]) + (i + 1 < nstrs || type != XS_WRITE ? 1 : 0);
        memcpy(body + len, strs[i], sl);
        len += sl;
    }
    struct xsd_sockmsg h = {.type = type, .req_id = req_id, .tx_id = tx, .len = (uint32_t)len};
    assert_int_equal(send(client, &h, sizeof h, 0), sizeof h);
    assert_int_equal(send(client, body, len, 0), (ssize_t)len);
}

/* Everything the client has been sent so far (appended to msgs). */
static void client_read(void)
{
    static uint8_t buf[65536];
    static size_t have;
    for (;;) {
        ssize_t n = recv(client, buf + have, sizeof buf - have, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            client_eof = true;
            break;
        }
        if (n < 0) {
            assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
            break;
        }
        have += (size_t)n;
    }
    size_t off = 0;
    while (have - off >= sizeof(struct xsd_sockmsg)) {
        struct xsd_sockmsg h;
        memcpy(&h, buf + off, sizeof h);
        assert_true(h.len <= XENSTORE_PAYLOAD_MAX);
        if (have - off < sizeof h + h.len)
            break;
        assert_true(nmsgs < MAX_MSGS);
        struct vh_msg *m = &msgs[nmsgs++];
        m->type = h.type;
        m->req_id = h.req_id;
        m->tx_id = h.tx_id;
        m->len = h.len;
        memcpy(m->body, buf + off + sizeof h, h.len);
        m->body[h.len] = 0;
        off += sizeof h + h.len;
    }
    assert_int_equal(have, off); /* no reply cut in two */
    have = 0;
}

/* How many replies (not events) to req_id the client got; the last one in *out. */
static int replies_to(uint32_t req_id, const struct vh_msg **out)
{
    int n = 0;
    for (size_t i = 0; i < nmsgs; i++)
        if (msgs[i].type != XS_WATCH_EVENT && msgs[i].req_id == req_id) {
            n++;
            if (out)
                *out = &msgs[i];
        }
    return n;
}

static int events_for(const char *path, const char *token)
{
    int n = 0;
    for (size_t i = 0; i < nmsgs; i++) {
        const char *p, *t;
        if (msgs[i].type == XS_WATCH_EVENT &&
            xs_decode_watch_event(msgs[i].body, msgs[i].len, &p, &t) == 0 &&
            strcmp(p, path) == 0 && strcmp(t, token) == 0)
            n++;
    }
    return n;
}

static void expect_reply(uint32_t req_id, uint32_t type, const char *body)
{
    const struct vh_msg *m = NULL;
    assert_int_equal(replies_to(req_id, &m), 1);
    assert_int_equal(m->type, type);
    if (body)
        assert_string_equal(m->body, body);
}

static void write_(uint32_t req_id, const char *path, const char *val)
{
    const char *a[2] = {path, val};
    send_req(XS_WRITE, req_id, 0, a, 2);
}

static void read_(uint32_t req_id, const char *path)
{
    send_req(XS_READ, req_id, 0, &path, 1);
}

/* ---- the journal, as the keeper holds it ------------------------------------------------ */

struct jslot { /* vxs_sock.c's layout */
    char name[32];
    uint64_t head, answered, pend_head;
    int64_t pend_peek;
};
#define JOURNAL_SLOTS 4096

static struct jslot *journal_map(void)
{
    int fd = stored_fd("journal");
    assert_true(fd >= 0);
    void *p = mmap(NULL, JOURNAL_SLOTS * sizeof(struct jslot), PROT_READ | PROT_WRITE,
                   MAP_SHARED, fd, 0);
    assert_true(p != MAP_FAILED);
    return p;
}

static void journal_unmap(struct jslot *j)
{
    munmap(j, JOURNAL_SLOTS * sizeof(struct jslot));
}

/* The slot of the (only) connection. */
static struct jslot *conn_slot(struct jslot *j)
{
    for (size_t i = 0; i < nstored; i++)
        if (stored[i].name[0] == 'c')
            for (size_t k = 0; k < JOURNAL_SLOTS; k++)
                if (strncmp(j[k].name, stored[i].name, sizeof j[k].name) == 0)
                    return &j[k];
    fail_msg("no journal slot for the connection");
    return NULL;
}

/* ---- the cases -------------------------------------------------------------------------- */

/* Killed after the reply left and before its request was discarded: the journal says it is
 * answered, its bytes are still in the socket. The restarted daemon skips it: one reply. */
static void test_answered_before_kill_skipped(void **state)
{
    (void)state;
    setup_world();
    write_(1, "/a", "1");
    first_life((struct life){.rounds = 1, .kill_at = KILL_BEFORE_DISCARD});
    client_read();
    expect_reply(1, XS_WRITE, "OK");
    struct jslot *j = journal_map();
    struct jslot *s = conn_slot(j);
    assert_int_equal(s->head, 0);
    assert_int_equal(s->answered, sizeof(struct xsd_sockmsg) + 4);
    journal_unmap(j);

    read_(2, "/a");
    const char *log = life(&(struct life){.new_conn = -1, .rounds = 2});
    assert_non_null(strstr(log, "bytes of requests answered before the kill skipped"));
    client_read();
    expect_reply(1, XS_WRITE, "OK"); /* still one */
    assert_false(client_eof);
    expect_reply(2, XS_READ, "1");

    /* Again, the stream's offsets no longer starting at 0, the journal handed back twice. */
    write_(3, "/b", "2");
    life(&(struct life){.new_conn = -1, .rounds = 1, .kill_at = KILL_BEFORE_DISCARD});
    read_(4, "/b");
    log = life(&(struct life){.new_conn = -1, .rounds = 2});
    assert_non_null(strstr(log, "bytes of requests answered before the kill skipped"));
    client_read();
    expect_reply(3, XS_WRITE, "OK");
    expect_reply(4, XS_READ, "2");
    assert_false(client_eof);
    teardown_world();
}

/* Killed inside the discard: the bytes are gone from the socket, the journal's head not yet
 * moved. The restarted daemon sees that the peek offset moved back by the discard's size,
 * takes the discard as done, and does not skip (lose) the next request. */
static void test_discard_cut_found_done(void **state)
{
    (void)state;
    setup_world();
    write_(1, "/a", "1");
    first_life((struct life){.rounds = 1, .kill_at = KILL_AFTER_DISCARD});
    client_read();
    expect_reply(1, XS_WRITE, "OK");
    struct jslot *j = journal_map();
    struct jslot *s = conn_slot(j);
    assert_int_equal(s->head, 0); /* not recorded: the kill came first */
    assert_int_equal(s->pend_head, sizeof(struct xsd_sockmsg) + 4);
    journal_unmap(j);

    read_(2, "/a");
    const char *log = life(&(struct life){.new_conn = -1, .rounds = 2});
    assert_non_null(strstr(log, "the discard cut by the kill had happened"));
    assert_null(strstr(log, "answered before the kill skipped"));
    client_read();
    expect_reply(1, XS_WRITE, "OK");
    expect_reply(2, XS_READ, "1");
    teardown_world();
}

/* Read (peeked) and handled, killed before its reply left: the restarted daemon reads it
 * again, applies the WRITE again and answers it once. */
static void test_unanswered_request_replayed(void **state)
{
    (void)state;
    setup_world();
    write_(1, "/a", "1");
    first_life((struct life){.rounds = 1, .stop_after_input = true});
    client_read();
    assert_int_equal(nmsgs, 0);

    read_(2, "/a");
    life(&(struct life){.new_conn = -1, .rounds = 2});
    client_read();
    expect_reply(1, XS_WRITE, "OK");
    expect_reply(2, XS_READ, "1");
    teardown_world();
}

/* A watch set before the kill comes back: a write after the restart fires it. A transaction
 * open at the kill answers EAGAIN at its end. */
static void test_watch_and_transaction_across_kill(void **state)
{
    (void)state;
    setup_world();
    const char *w[2] = {"/w", "tok"};
    send_req(XS_WATCH, 1, 0, w, 2);
    const char *empty = "";
    send_req(XS_TRANSACTION_START, 2, 0, &empty, 1);
    first_life((struct life){.rounds = 2});
    client_read();
    expect_reply(1, XS_WATCH, "OK");
    const struct vh_msg *m = NULL;
    assert_int_equal(replies_to(2, &m), 1);
    assert_int_equal(m->type, XS_TRANSACTION_START);
    uint32_t tx = (uint32_t)strtoul(m->body, NULL, 10);
    assert_true(tx != 0);
    assert_int_equal(events_for("/w", "tok"), 1);

    write_(3, "/w/x", "v");
    const char *commit = "T";
    send_req(XS_TRANSACTION_END, 4, tx, &commit, 1);
    life(&(struct life){.new_conn = -1, .rounds = 2});
    client_read();
    expect_reply(3, XS_WRITE, "OK");
    expect_reply(4, XS_ERROR, "EAGAIN");
    assert_true(events_for("/w/x", "tok") >= 1);
    teardown_world();
}

/* The journal cases' start: a fresh world whose first life answered WRITE /a 1 (req 1). */
static void world_with_answered_write(void)
{
    setup_world();
    write_(1, "/a", "1");
    first_life((struct life){.rounds = 2});
    client_read();
    expect_reply(1, XS_WRITE, "OK");
}

/* A journal slot that says more is answered than the socket holds (garbage, or a keeper's
 * fault): no crash; the queued bytes are dropped as answered (logged); requests sent after
 * the restart are answered. */
static void test_journal_answered_beyond_stream(void **state)
{
    (void)state;
    world_with_answered_write();
    struct jslot *j = journal_map();
    struct jslot *s = conn_slot(j);
    assert_int_equal(s->head, sizeof(struct xsd_sockmsg) + 4);
    s->answered = UINT64_MAX - 7;
    journal_unmap(j);

    read_(2, "/a");
    const char *log = life(&(struct life){.new_conn = -1, .rounds = 2});
    assert_non_null(strstr(log, "bytes of requests answered before the kill skipped"));
    client_read();
    assert_int_equal(replies_to(2, NULL), 0); /* dropped as answered */
    read_(3, "/a");
    life(&(struct life){.new_conn = -1, .rounds = 2});
    client_read();
    expect_reply(3, XS_READ, "1");
    teardown_world();
}

/* A slot whose `answered` falls inside a queued request (garbage): the restarted daemon
 * skips up to there, so the stream it reads starts mid-header. It must not crash; what it
 * reads is garbage, answered with the protocol's rules (here: a payload length beyond the
 * limit, so the connection is closed, as for any client that breaks the framing). */
static void test_journal_answered_mid_request(void **state)
{
    (void)state;
    world_with_answered_write();
    struct jslot *j = journal_map();
    struct jslot *s = conn_slot(j);
    s->answered = s->head + 12; /* the next request's header cut after 12 of 16 bytes */
    journal_unmap(j);

    /* Its len field (the skipped part ends before it) is what the daemon's reader takes for
     * the type: the bytes that follow make a header whose len is far beyond the limit. */
    const char *path = "/a";
    send_req(XS_READ, 2, 0, &path, 1);
    struct xsd_sockmsg bogus = {.type = 0, .req_id = 0, .tx_id = 0x7fffffff, .len = 0x7fffffff};
    assert_int_equal(send(client, &bogus, sizeof bogus, 0), sizeof bogus);
    const char *log = life(&(struct life){.new_conn = -1, .rounds = 2});
    assert_non_null(strstr(log, "12 bytes of requests answered before the kill skipped"));
    client_read();
    assert_int_equal(replies_to(2, NULL), 0);
    assert_true(client_eof); /* the connection was closed */
    teardown_world();
}

/* The window docs/vxenstored.8 leaves open: killed after the journal recorded the reply as
 * sent and before send() ran. The restarted daemon skips the request (its WRITE was applied),
 * and the client never gets that reply; the next request is answered. */
static void test_kill_before_send_window(void **state)
{
    (void)state;
    setup_world();
    write_(1, "/a", "1");
    first_life((struct life){.rounds = 1, .kill_at = KILL_BEFORE_SEND});
    client_read();
    assert_int_equal(nmsgs, 0);

    read_(2, "/a");
    const char *log = life(&(struct life){.new_conn = -1, .rounds = 2});
    assert_non_null(strstr(log, "bytes of requests answered before the kill skipped"));
    client_read();
    assert_int_equal(replies_to(1, NULL), 0);
    expect_reply(2, XS_READ, "1");
    assert_false(client_eof);
    teardown_world();
}

/* A slot whose pending discard fields are hostile (the arithmetic on them must not
 * overflow): the restart goes on and the queued request is answered. */
static void test_journal_pending_garbage(void **state)
{
    (void)state;
    world_with_answered_write();
    struct jslot *j = journal_map();
    struct jslot *s = conn_slot(j);
    s->pend_head = s->head + 1;
    s->pend_peek = INT64_MIN;
    journal_unmap(j);

    read_(2, "/a");
    life(&(struct life){.new_conn = -1, .rounds = 2});
    client_read();
    expect_reply(2, XS_READ, "1");
    teardown_world();
}

/* A client that pipelines more requests than vxs_sock.c keeps unanswered (HOLDS, 64): the
 * oldest are discarded before their replies left (marked answered), so a kill then loses
 * their replies - as vxs_sock_hold's comment says, a limit the manual page does not state.
 * Pinned here: 70 requests read, killed before any reply left; the restarted daemon answers
 * the last 64 once each, the first 6 never. */
#define PIPELINED 70
#define HOLDS 64
static void test_pipelined_beyond_holds(void **state)
{
    (void)state;
    setup_world();
    for (uint32_t i = 1; i <= PIPELINED; i++) {
        char path[16];
        snprintf(path, sizeof path, "/p/%u", i);
        write_(i, path, "v");
    }
    first_life((struct life){.rounds = 1, .stop_after_input = true});
    client_read();
    assert_int_equal(nmsgs, 0);

    life(&(struct life){.new_conn = -1, .rounds = 2});
    client_read();
    for (uint32_t i = 1; i <= PIPELINED; i++)
        assert_int_equal(replies_to(i, NULL), i <= PIPELINED - HOLDS ? 0 : 1);
    assert_false(client_eof);
    teardown_world();
}

/* Every other slot garbage (names without a NUL, huge offsets): the restart does not crash,
 * frees them (not a connection handed back), and the connection's own slot still works. */
static void test_journal_other_slots_garbage(void **state)
{
    (void)state;
    setup_world();
    write_(1, "/a", "1");
    first_life((struct life){.rounds = 1, .kill_at = KILL_BEFORE_DISCARD});
    struct jslot *j = journal_map();
    struct jslot *own = conn_slot(j);
    for (size_t k = 0; k < JOURNAL_SLOTS; k++)
        if (&j[k] != own)
            memset(&j[k], 0xa5, sizeof j[k]);
    journal_unmap(j);

    read_(2, "/a");
    life(&(struct life){.new_conn = -1, .rounds = 2});
    client_read();
    expect_reply(1, XS_WRITE, "OK"); /* skipped as answered: still one */
    expect_reply(2, XS_READ, "1");
    j = journal_map();
    own = conn_slot(j);
    static const struct jslot zero;
    for (size_t k = 0; k < JOURNAL_SLOTS; k++)
        if (&j[k] != own)
            assert_memory_equal(&j[k], &zero, sizeof zero);
    journal_unmap(j);
    teardown_world();
}

/* A connection without a journal slot (the slot lost, e.g. the keeper lost the journal):
 * everything queued is taken as a replay and handled again, so a request answered before
 * the kill is answered twice - vxs_sock.c's stated fallback (nothing is lost). */
static void test_no_slot_answers_again(void **state)
{
    (void)state;
    setup_world();
    write_(1, "/a", "1");
    first_life((struct life){.rounds = 1, .kill_at = KILL_BEFORE_DISCARD});
    struct jslot *j = journal_map();
    memset(conn_slot(j), 0, sizeof(struct jslot));
    journal_unmap(j);

    read_(2, "/a");
    life(&(struct life){.new_conn = -1, .rounds = 2});
    client_read();
    assert_int_equal(replies_to(1, NULL), 2);
    expect_reply(2, XS_READ, "1");
    teardown_world();
}

/* Two connections: A from the first life, B accepted by the second (a new journal slot next
 * to A's restored one). The second life is killed at its first discard, whichever
 * connection that is: after the third, every request has had exactly one reply. */
static void test_two_connections(void **state)
{
    (void)state;
    setup_world();
    int a = client;
    write_(1, "/a", "1");
    first_life((struct life){.rounds = 1, .kill_at = KILL_BEFORE_DISCARD});
    client_read();
    expect_reply(1, XS_WRITE, "OK");

    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    int b = sv[0];
    read_(2, "/a");  /* on A */
    client = b;
    write_(1, "/b", "2");
    life(&(struct life){.new_conn = sv[1], .rounds = 2, .kill_at = KILL_BEFORE_DISCARD});
    close(sv[1]);
    size_t conns = 0;
    for (size_t i = 0; i < nstored; i++)
        conns += stored[i].name[0] == 'c';
    assert_int_equal(conns, 2);

    read_(2, "/b"); /* on B */
    life(&(struct life){.new_conn = -1, .rounds = 2});
    nmsgs = 0;
    client_read();
    expect_reply(1, XS_WRITE, "OK");
    expect_reply(2, XS_READ, "2");
    assert_false(client_eof);
    close(b);
    client = a;
    nmsgs = 0;
    client_read();
    assert_int_equal(replies_to(1, NULL), 0); /* read after the first life */
    expect_reply(2, XS_READ, "1");
    assert_false(client_eof);
    teardown_world();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answered_before_kill_skipped),
        cmocka_unit_test(test_discard_cut_found_done),
        cmocka_unit_test(test_unanswered_request_replayed),
        cmocka_unit_test(test_watch_and_transaction_across_kill),
        cmocka_unit_test(test_journal_answered_beyond_stream),
        cmocka_unit_test(test_journal_answered_mid_request),
        cmocka_unit_test(test_journal_pending_garbage),
        cmocka_unit_test(test_kill_before_send_window),
        cmocka_unit_test(test_pipelined_beyond_holds),
        cmocka_unit_test(test_journal_other_slots_garbage),
        cmocka_unit_test(test_no_slot_answers_again),
        cmocka_unit_test(test_two_connections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
