/*
 * The plumbing of test_vxs_sock_restart.c (see vxs_sock_restart_util.h): the kill points
 * (recv/send over libc's), the keeper of the fd store, a life of the daemon as a forked
 * child, the client's end, the journal as the keeper holds it.
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

#include "tests/unit/vxs_sock_restart_util.h"

#define MAX_STORED 16
#define MAX_MSGS 128

int client = -1;
static int daemon_end = -1;

/* Requests the next life's child writes on the client's end once it has restored the
 * connection (late_requests): they arrive after the restart. */
static uint8_t late_buf[8192];
static size_t late_len;
static bool late_on;


/* ---- kill points ------------------------------------------------------------------------ */

static enum sr_kill_at kill_at; /* only ever set in a child */

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    bool discard = !(flags & MSG_PEEK);
    if (discard && kill_at == SR_KILL_BEFORE_DISCARD)
        raise(SIGKILL);
    ssize_t r = syscall(SYS_recvfrom, fd, buf, n, flags, NULL, NULL);
    if (discard && r > 0 && kill_at == SR_KILL_AFTER_DISCARD)
        raise(SIGKILL);
    return r;
}

/* The daemon sends replies with send() (the keeper's datagrams go by sendmsg). */
ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    if (kill_at == SR_KILL_BEFORE_SEND)
        raise(SIGKILL);
    ssize_t r = syscall(SYS_sendto, fd, buf, n, flags, NULL, 0);
    if (kill_at == SR_KILL_AFTER_SEND)
        raise(SIGKILL);
    return r;
}

/* ---- the keeper ------------------------------------------------------------------------- */

static char dir[64], notify_path[96];
static int keeper = -1;
static struct {
    char name[64];
    int fd;
} stored[MAX_STORED];
static size_t nstored;

size_t stored_count(char first)
{
    size_t n = 0;
    for (size_t i = 0; i < nstored; i++)
        n += stored[i].name[0] == first;
    return n;
}

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

int stored_fd(const char *prefix)
{
    for (size_t i = 0; i < nstored; i++)
        if (strncmp(stored[i].name, prefix, strlen(prefix)) == 0)
            return stored[i].fd;
    return -1;
}

/* ---- a life of the daemon --------------------------------------------------------------- */

static int lives;

static void round_(bool stop_after_input)
{
    vxs_sock_events();
    if (stop_after_input)
        _exit(0);
    if (vxs_durable_round() < 0)
        _exit(4);
    vxs_conn_flush_all();
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
    if (late_len && dup2(client, 301) < 0)
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
    if (late_len && write(301, late_buf, late_len) != (ssize_t)late_len)
        _exit(2);
    kill_at = l->kill_at;
    for (int r = 0; r < l->rounds; r++)
        round_(l->stop_after_input && r + 1 == l->rounds);
    _exit(0);
}

/* Run one life; returns its log. */
const char *life(const struct life *l)
{
    lives++;
    fflush(NULL);
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0)
        child(l);
    int st;
    assert_int_equal(waitpid(p, &st, 0), p);
    late_len = 0;
    if (l->kill_at != SR_KILL_NONE) {
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

void late_requests(bool on)
{
    late_on = on;
}

/* ---- the client ------------------------------------------------------------------------- */


static struct vh_msg msgs[MAX_MSGS];
size_t nmsgs;
bool client_eof;

void setup_world(void)
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

void teardown_world(void)
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
const char *first_life(struct life l)
{
    l.new_conn = daemon_end;
    const char *log = life(&l);
    close(daemon_end); /* the keeper's copy, and the client's end, keep it open */
    daemon_end = -1;
    assert_true(stored_fd("c") >= 0);
    assert_true(stored_fd("journal") >= 0);
    return log;
}

void send_req(uint32_t type, uint32_t req_id, uint32_t tx, const char *const *strs,
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
    if (late_on) {
        assert_true(late_len + sizeof h + len <= sizeof late_buf);
        memcpy(late_buf + late_len, &h, sizeof h);
        memcpy(late_buf + late_len + sizeof h, body, len);
        late_len += sizeof h + len;
        return;
    }
    assert_int_equal(send(client, &h, sizeof h, 0), sizeof h);
    assert_int_equal(send(client, body, len, 0), (ssize_t)len);
}

/* Everything the client has been sent so far (appended to msgs). */
void client_read(void)
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
int replies_to(uint32_t req_id, const struct vh_msg **out)
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

int events_for(const char *path, const char *token)
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

void expect_reply(uint32_t req_id, uint32_t type, const char *body)
{
    const struct vh_msg *m = NULL;
    assert_int_equal(replies_to(req_id, &m), 1);
    assert_int_equal(m->type, type);
    if (body)
        assert_string_equal(m->body, body);
}

void write_(uint32_t req_id, const char *path, const char *val)
{
    const char *a[2] = {path, val};
    send_req(XS_WRITE, req_id, 0, a, 2);
}

void read_(uint32_t req_id, const char *path)
{
    send_req(XS_READ, req_id, 0, &path, 1);
}

/* ---- the journal, as the keeper holds it ------------------------------------------------ */

struct jslot *journal_map(void)
{
    int fd = stored_fd("journal");
    assert_true(fd >= 0);
    void *p = mmap(NULL, JOURNAL_SLOTS * sizeof(struct jslot), PROT_READ | PROT_WRITE,
                   MAP_SHARED, fd, 0);
    assert_true(p != MAP_FAILED);
    return p;
}

void journal_unmap(struct jslot *j)
{
    munmap(j, JOURNAL_SLOTS * sizeof(struct jslot));
}

/* The slot of the (only) connection. */
struct jslot *conn_slot(struct jslot *j)
{
    for (size_t i = 0; i < nstored; i++)
        if (stored[i].name[0] == 'c')
            for (size_t k = 0; k < JOURNAL_SLOTS; k++)
                if (strncmp(j[k].name, stored[i].name, sizeof j[k].name) == 0)
                    return &j[k];
    fail_msg("no journal slot for the connection");
    return NULL;
}
