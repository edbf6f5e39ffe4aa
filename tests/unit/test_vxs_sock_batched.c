/*
 * A plain socket with batched drops (vxs.drop_batch, as vxenstored's loop sets it): its
 * request bytes are peeked at an advancing SO_PEEK_OFF, told of by an edge-triggered epoll,
 * and the answered ones are taken from the socket drop_batch requests at a time (vxs_conn.c,
 * drop_peeked). Checked on a real socketpair with the daemon's rounds run in-process: held
 * bytes do not come back as new input, a batch goes once drop_batch requests are answered, an
 * incomplete request makes the held bytes go at once (its sender may wait for room) and is
 * handled once, vxs_conn_drop_batched (before the loop sleeps) takes everything, and a client
 * that sends and shuts its side gets its reply before the daemon sees the end.
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

static int client = -1;
static struct vxs_conn *conn;

static int setup(void **state)
{
    (void)state;
    vh_start(NULL, NULL);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv),
                     0);
    client = sv[0];
    vxs.drop_batch = 4; /* as the daemon's loop sets it (there: 16) */
    conn = vxs_conn_new_socket(sv[1]);
    assert_non_null(conn);
    assert_null(conn->rx); /* no fd store: a plain socket */
    assert_true(conn->batched);
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

/* The loop's way in for these sockets: the epoll fd's events (edge-triggered). */
static unsigned events(void)
{
    return vxs_conn_events();
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
static void test_request_then_eof(void **state)
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_before_sleep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_then_eof, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
