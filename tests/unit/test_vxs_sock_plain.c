/*
 * A plain socket connection (no fd store): its request bytes are read with MSG_PEEK and taken
 * from the socket only at the end of the round, after the replies were sent (vxs_conn.c,
 * drop_peeked). Checked on a real socketpair, the daemon's rounds run in-process as
 * vxs_main.c runs them: pipelined requests and a request split across rounds are each handled
 * once, nothing stays in the socket after a round, a second read before the flush handles
 * nothing twice, and a client that sends and then shuts its side gets its reply.
 *
 * And with batched drops (vxs.drop_batch, as vxenstored's loop sets it): request bytes are
 * peeked at an advancing SO_PEEK_OFF, told of by an edge-triggered epoll, and the answered
 * ones are taken from the socket drop_batch requests at a time: held bytes do not come back
 * as new input, a batch goes once drop_batch requests are answered, an incomplete request
 * makes the held bytes go at once (its sender may wait for room) and is handled once,
 * vxs_conn_drop_batched (before the loop sleeps) takes everything and
 * vxs_conn_holding says whether there is anything to take, and a client that sends and shuts
 * its side gets its reply before the daemon sees the end. The loop's other fds in the same
 * epoll set come back as their bits, not as connections with input. And the round's first
 * reply of each such socket goes in one io_uring call (vxs_uring.c): each arrives whole and in
 * order with what follows; a full socket says -EAGAIN, a closed one -EPIPE.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/vxs_harness.h"
#include "xenstore/vxs_uring.h"

static int client = -1;
static struct vxs_conn *conn;

/* A daemon and one plain socket connection; drop_batch as the loop sets it (0: the unit
 * tests' default, each round's peeked bytes taken at its end). */
static void start(unsigned drop_batch)
{
    vh_start(NULL, NULL);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv),
                     0);
    client = sv[0];
    vxs.drop_batch = drop_batch;
    conn = vxs_conn_new_socket(sv[1]);
    assert_non_null(conn);
    assert_null(conn->rx); /* no fd store: a plain socket */
    assert_true(conn->batched == (drop_batch > 0));
}

static int setup(void **state)
{
    (void)state;
    start(0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vh_stop();
    vxs.drop_batch = 0;
    close(client);
    return 0;
}

static int setup_batched(void **state)
{
    (void)state;
    start(4); /* the daemon's loop: 16 */
    return 0;
}

static bool conn_alive(void)
{
    for (struct vxs_conn *c = vxs.conns; c; c = c->next)
        if (c == conn)
            return true;
    return false;
}

/* The bytes queued in the daemon's end, not yet taken. */
static int queued_in_daemon(void)
{
    int n = -1;
    assert_int_equal(ioctl(conn->fd, FIONREAD, &n), 0);
    return n;
}

static void input(void)
{
    vxs_conn_input(conn);
}

/* The rest of a round, as vxs_main.c: group commit, then output (dead ones freed). */
static void round_end(void)
{
    assert_int_equal(vxs_durable_round(), 0);
    for (struct vxs_conn *c = vxs.conns, *next; c; c = next) {
        next = c->next;
        if (!c->dead)
            vxs_conn_flush(c);
        if (c->dead) {
            if (c == conn)
                conn = NULL;
            vxs_conn_free(c);
        }
    }
}

/* A request's bytes (header + body) into buf; returns its length. */
static size_t request(uint8_t *buf, uint32_t type, uint32_t req_id, const char *a, const char *b)
{
    size_t la = strlen(a) + 1, lb = b ? strlen(b) : 0;
    struct xsd_sockmsg h = {.type = type, .req_id = req_id, .tx_id = 0,
                            .len = (uint32_t)(la + lb)};
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, a, la);
    if (b)
        memcpy(buf + sizeof h + la, b, lb);
    return sizeof h + la + lb;
}

static void client_send(const void *p, size_t n)
{
    assert_int_equal(send(client, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Read the replies the client has (all whole); their req_ids into ids. */
static size_t replies(uint32_t *ids, size_t max, uint32_t type)
{
    uint8_t buf[65536];
    ssize_t n = recv(client, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) {
        assert_true(errno == EAGAIN);
        return 0;
    }
    size_t k = 0, off = 0;
    while (off < (size_t)n) {
        struct xsd_sockmsg h;
        assert_true(off + sizeof h <= (size_t)n);
        memcpy(&h, buf + off, sizeof h);
        assert_true(off + sizeof h + h.len <= (size_t)n);
        assert_int_equal(h.type, type);
        assert_true(k < max);
        ids[k++] = h.req_id;
        off += sizeof h + h.len;
    }
    return k;
}

static void test_pipelined_and_split(void **state)
{
    (void)state;
    uint8_t buf[1024];
    size_t n = request(buf, XS_WRITE, 1, "/a", "1");
    n += request(buf + n, XS_WRITE, 2, "/b", "2");
    size_t third = request(buf + n, XS_WRITE, 3, "/c", "3");
    /* Two whole requests and the head of a third (into its body). */
    size_t cut = n + sizeof(struct xsd_sockmsg) + 2;
    client_send(buf, cut);
    input();
    /* Read, not taken: the bytes stay in the socket until the replies have left. */
    assert_int_equal(queued_in_daemon(), (int)cut);
    round_end();
    assert_int_equal(queued_in_daemon(), 0);
    uint32_t ids[8];
    assert_int_equal(replies(ids, 8, XS_WRITE), 2);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 2);
    /* The rest of the third: handled once, from the reader's partial state. */
    client_send(buf + cut, n + third - cut);
    input();
    round_end();
    assert_int_equal(queued_in_daemon(), 0);
    assert_int_equal(replies(ids, 8, XS_WRITE), 1);
    assert_int_equal(ids[0], 3);
    char v[16];
    struct vh_client *d0 = vh_dom0();
    assert_int_equal(vh_read(d0, 0, "/c", v), 0);
    assert_string_equal(v, "3");
    assert_true(conn_alive());
}

/* A second read before the round's flush (a caller that reads twice) takes the bytes the
 * first one peeked first: nothing is handled twice. */
static void test_read_twice_before_flush(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = request(buf, XS_MKDIR, 7, "/d", NULL);
    client_send(buf, n);
    input();
    assert_int_equal(queued_in_daemon(), (int)n);
    n = request(buf, XS_RM, 8, "/d", NULL);
    client_send(buf, n);
    input(); /* the MKDIR's bytes go, the RM is read */
    assert_int_equal(queued_in_daemon(), (int)n);
    input(); /* nothing new */
    round_end();
    assert_int_equal(queued_in_daemon(), 0);
    uint8_t rb[1024];
    ssize_t k = recv(client, rb, sizeof rb, MSG_DONTWAIT);
    /* MKDIR's reply, then RM's: two replies, no third. */
    struct xsd_sockmsg h;
    assert_true(k >= (ssize_t)(2 * sizeof h));
    memcpy(&h, rb, sizeof h);
    assert_int_equal(h.type, XS_MKDIR);
    assert_int_equal(h.req_id, 7);
    size_t off = sizeof h + h.len;
    memcpy(&h, rb + off, sizeof h);
    assert_int_equal(h.type, XS_RM);
    assert_int_equal(h.req_id, 8);
    assert_int_equal(off + sizeof h + h.len, (size_t)k);
}

/* A client that sends a request and shuts its side: the reply reaches it, then the daemon
 * sees the end and frees the connection. */
static void test_request_then_eof(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = request(buf, XS_WRITE, 9, "/e", "x");
    client_send(buf, n);
    assert_int_equal(shutdown(client, SHUT_WR), 0);
    input();
    round_end();
    uint32_t ids[2];
    assert_int_equal(replies(ids, 2, XS_WRITE), 1);
    assert_int_equal(ids[0], 9);
    assert_true(conn_alive());
    input(); /* the end */
    round_end();
    assert_false(conn_alive());
}

/* An oversized payload ends the connection (as C), whatever was peeked. */
static void test_oversized(void **state)
{
    (void)state;
    struct xsd_sockmsg h = {.type = XS_WRITE, .req_id = 1, .len = XENSTORE_PAYLOAD_MAX + 1};
    client_send(&h, sizeof h);
    input();
    round_end();
    assert_false(conn_alive());
}

/* The loop's way in for these sockets: the epoll fd's events (edge-triggered). */
static unsigned events(void)
{
    return vxs_conn_events(NULL);
}

static void write_req(uint32_t id, const char *path, const char *val)
{
    uint8_t buf[256];
    client_send(buf, request(buf, XS_WRITE, id, path, val));
}

/* Answered requests stay in the socket until drop_batch of them are; meanwhile they are not
 * read again (no new edge, the peek offset past them). */
static void test_batch(void **state)
{
    (void)state;
    uint32_t ids[8];
    int held = 0;
    for (uint32_t id = 1; id <= 4; id++) {
        uint8_t buf[256];
        size_t n = request(buf, XS_WRITE, id, "/a", "v");
        client_send(buf, n);
        held += (int)n;
        assert_int_equal(events(), 1);
        assert_int_equal(events(), 0); /* held bytes are no new input */
        round_end();
        assert_int_equal(replies(ids, 8, XS_WRITE), 1);
        assert_int_equal(ids[0], id);
        assert_int_equal(queued_in_daemon(), id < 4 ? held : 0);
    }
    /* The next request after a drop is read from the right place. */
    write_req(5, "/b", "5");
    assert_int_equal(events(), 1);
    round_end();
    assert_int_equal(replies(ids, 8, XS_WRITE), 1);
    assert_int_equal(ids[0], 5);
    char v[16];
    assert_int_equal(vh_read(vh_dom0(), 0, "/b", v), 0);
    assert_string_equal(v, "5");
}

/* An incomplete request: what is held goes at once; the request is handled once, whole. */
static void test_partial(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t n = request(buf, XS_WRITE, 1, "/p", "1");
    size_t second = request(buf + n, XS_WRITE, 2, "/q", "2");
    size_t cut = n + sizeof(struct xsd_sockmsg) + 1;
    client_send(buf, cut);
    assert_int_equal(events(), 1);
    round_end();
    assert_int_equal(queued_in_daemon(), 0);
    uint32_t ids[8];
    assert_int_equal(replies(ids, 8, XS_WRITE), 1);
    assert_int_equal(ids[0], 1);
    client_send(buf + cut, n + second - cut);
    assert_int_equal(events(), 1);
    round_end();
    assert_int_equal(replies(ids, 8, XS_WRITE), 1);
    assert_int_equal(ids[0], 2);
    char v[16];
    assert_int_equal(vh_read(vh_dom0(), 0, "/q", v), 0);
    assert_string_equal(v, "2");
}

/* Before the loop sleeps, every held byte goes; the next request is read whole. */
static void test_drop_before_sleep(void **state)
{
    (void)state;
    write_req(1, "/s", "1");
    assert_int_equal(events(), 1);
    round_end();
    assert_true(queued_in_daemon() > 0);
    vxs_conn_drop_batched();
    assert_int_equal(queued_in_daemon(), 0);
    write_req(2, "/s", "2");
    assert_int_equal(events(), 1);
    round_end();
    uint32_t ids[8];
    assert_int_equal(replies(ids, 8, XS_WRITE), 2);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 2);
}

/* A client that sends a request and shuts its side (one edge for both): its reply reaches
 * it, and then the daemon sees the end and frees the connection. */
static void test_batched_request_then_eof(void **state)
{
    (void)state;
    write_req(9, "/e", "x");
    assert_int_equal(shutdown(client, SHUT_WR), 0);
    assert_int_equal(events(), 1);
    assert_true(conn_alive());
    round_end();
    uint32_t ids[2];
    assert_int_equal(replies(ids, 2, XS_WRITE), 1);
    assert_int_equal(ids[0], 9);
    assert_false(conn_alive());
}

/* The loop's other fds (vxs_main.c: the listening socket, the event channel, ...) share the
 * sockets' epoll set: each comes back as its bit, level-triggered, and is not a connection
 * with input. */
static void test_loop_fds(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    assert_int_equal(vxs_conn_epoll_add(p[0], 4), 0);
    unsigned fds = 0;
    assert_int_equal(vxs_conn_events(&fds), 0);
    assert_int_equal(fds, 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    write_req(1, "/l", "1");
    assert_int_equal(vxs_conn_events(&fds), 1); /* the socket, handled */
    assert_int_equal(fds, 4);
    fds = 0;
    assert_int_equal(vxs_conn_events(&fds), 0); /* the pipe is still readable; */
    assert_int_equal(fds, 4);                   /* the socket has nothing new */
    fds = 0;
    assert_int_equal(vxs_conn_events(NULL), 0); /* (no place for the bits: ignored) */
    close(p[0]);
    close(p[1]);
    assert_int_equal(vxs_conn_events(&fds), 0);
    assert_int_equal(fds, 0);
    round_end();
    uint32_t ids[2];
    assert_int_equal(replies(ids, 2, XS_WRITE), 1);
    assert_int_equal(ids[0], 1);
}

/* vxs_conn_holding: whether the loop, about to sleep, has held bytes to drop first (else it
 * sleeps at once); none after vxs_conn_drop_batched or a full batch. */
static void test_holding(void **state)
{
    (void)state;
    assert_false(vxs_conn_holding());
    write_req(1, "/h", "1");
    assert_false(vxs_conn_holding()); /* not peeked yet */
    assert_int_equal(events(), 1);
    assert_true(vxs_conn_holding());
    round_end();
    assert_true(vxs_conn_holding()); /* answered, still held (a batch of 4) */
    vxs_conn_drop_batched();
    assert_false(vxs_conn_holding());
    for (uint32_t id = 2; id <= 5; id++) {
        write_req(id, "/h", "x");
        assert_int_equal(events(), 1);
        round_end();
        assert_true(vxs_conn_holding() == (id < 5)); /* the fourth answer drops the batch */
    }
    uint32_t ids[8];
    assert_int_equal(replies(ids, 8, XS_WRITE), 5);
}

/* Several sockets' messages in one call (vxs_uring.c): each arrives whole; a full socket says
 * -EAGAIN, a closed peer -EPIPE (and no SIGPIPE). Without io_uring (an old kernel, a seccomp
 * filter refusing it) nothing is attempted and every res stays 0: the caller sends. */
static void test_uring_send(void **state)
{
    (void)state;
    int a[3][2];
    for (int i = 0; i < 3; i++)
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, a[i]),
                         0);
    static char fill[512];
    while (send(a[1][0], fill, sizeof fill, MSG_DONTWAIT) > 0)
        ;
    close(a[2][1]);
    struct vxs_uring_send v[3] = {{a[0][0], "hello", 5, 0},
                                  {a[1][0], fill, sizeof fill, 0},
                                  {a[2][0], "x", 1, 0}};
    size_t done = vxs_uring_send(v, 3);
    if (done == 0) {
        for (int i = 0; i < 3; i++)
            assert_int_equal(v[i].res, 0);
    } else {
        assert_int_equal(done, 3);
        assert_int_equal(v[0].res, 5);
        char got[8];
        assert_int_equal(recv(a[0][1], got, sizeof got, MSG_DONTWAIT), 5);
        assert_memory_equal(got, "hello", 5);
        assert_int_equal(v[1].res, -EAGAIN);
        assert_int_equal(v[2].res, -EPIPE);
    }
    for (int i = 0; i < 3; i++) {
        close(a[i][0]);
        if (i != 2)
            close(a[i][1]);
    }
}

/* The end of a round (vxs_conn_flush_all) with two batched sockets, one with two replies: the
 * first reply of each goes in one call, the second by send(); each client gets its replies
 * whole and in order. */
static void test_flush_all_heads(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    struct vxs_conn *c2 = vxs_conn_new_socket(sv[1]);
    assert_non_null(c2);
    assert_true(c2->batched);
    uint8_t buf[256];
    size_t n = request(buf, XS_WRITE, 1, "/f", "1");
    n += request(buf + n, XS_WRITE, 2, "/f", "2");
    client_send(buf, n);
    n = request(buf, XS_WRITE, 7, "/g", "7");
    assert_int_equal(send(sv[0], buf, n, MSG_NOSIGNAL), (ssize_t)n);
    assert_int_equal(events(), 2);
    assert_int_equal(vxs_durable_round(), 0);
    vxs_conn_flush_all();
    uint32_t ids[4];
    assert_int_equal(replies(ids, 4, XS_WRITE), 2);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 2);
    uint8_t r[256];
    struct xsd_sockmsg h;
    ssize_t k = recv(sv[0], r, sizeof r, MSG_DONTWAIT);
    assert_true(k >= (ssize_t)sizeof h);
    memcpy(&h, r, sizeof h);
    assert_int_equal(k, (ssize_t)(sizeof h + h.len));
    assert_int_equal(h.req_id, 7);
    assert_int_equal(h.type, XS_WRITE);
    close(sv[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipelined_and_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_twice_before_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_then_eof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup_batched, teardown),
        cmocka_unit_test_setup_teardown(test_partial, setup_batched, teardown),
        cmocka_unit_test_setup_teardown(test_drop_before_sleep, setup_batched, teardown),
        cmocka_unit_test_setup_teardown(test_batched_request_then_eof, setup_batched, teardown),
        cmocka_unit_test_setup_teardown(test_loop_fds, setup_batched, teardown),
        cmocka_unit_test_setup_teardown(test_holding, setup_batched, teardown),
        cmocka_unit_test(test_uring_send),
        cmocka_unit_test_setup_teardown(test_flush_all_heads, setup_batched, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
