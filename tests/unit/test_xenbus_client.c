/*
 * The xenbus client (xen/xenbus*.c) on the host, against a fake xenstored that serves the
 * ring page directly. Fakes of the kernel services it uses (event channels, the event loop,
 * the clock, HVM params) are at the top: wait_for_events() runs one step of the daemon,
 * then the client's event handler, then the loop hooks (watch callbacks), like the guest's
 * event loop does.
 *
 * The daemon is deliberately small (a flat table of nodes) but speaks the real wire format
 * through the shared codec; a `mischief` setting makes it misbehave in one specific way for
 * the next reply, so that the client's reply validation, its recovery and the ring
 * reconnection can be checked.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xen/hvm/params.h>

#include <cmocka.h>

#include "xen/clock.h"
#include "xen/eventloop.h"
#include "xen/events.h"
#include "xen/hypercall.h"
#include "xen/xenbus.h"
#include "xenstore/xs_codec.h"

/* ---- fake kernel services ------------------------------------------------------------ */

static struct xenstore_domain_interface *page;
static evtchn_handler_t handler;
static void *handler_arg;
static unsigned notifies;
static uint64_t now_ns;
static struct loop_hook *hooks;
static void daemon_step(void);
static bool daemon_has_work(void);

int xen_hvm_get_param(uint32_t index, uint64_t *value)
{
    if (index == HVM_PARAM_STORE_PFN)
        *value = (uint64_t)(uintptr_t)page >> 12;
    else if (index == HVM_PARAM_STORE_EVTCHN)
        *value = 7;
    else
        return -EINVAL;
    return 0;
}

int evtchn_bind(evtchn_port_t port, evtchn_handler_t h, void *arg)
{
    assert_int_equal(port, 7);
    handler = h;
    handler_arg = arg;
    return 0;
}

int evtchn_send(evtchn_port_t port)
{
    assert_int_equal(port, 7);
    notifies++;
    return 0;
}

void eventloop_add_hook(struct loop_hook *hook)
{
    for (struct loop_hook *h = hooks; h; h = h->next)
        if (h == hook)
            return;
    hook->next = hooks;
    hooks = hook;
}

uint64_t clock_monotonic_ns(void)
{
    return now_ns;
}

/* Xen's clock, which always moves; the monotonic one (now_ns) stands still while
 * clock_frozen, as it does for a second or more now and then under the nested rig. */
static uint64_t xen_ns;
static bool clock_frozen;
/* The daemon's events never reach the client's handler. */
static bool lose_events;
/* Wake-ups in a row with nothing to do: a wait that keeps coming back for nothing is a hang
 * in the guest (it would spin or block for ever): fail the test instead. */
static unsigned idle_wakes;

uint64_t clock_xen_ns(void)
{
    return xen_ns;
}

uint64_t clock_xen_timeout(uint64_t now_xen, uint64_t ns)
{
    return now_xen + ns;
}

static void pass_time_to(uint64_t t)
{
    if (xen_ns < t)
        xen_ns = t;
    if (!clock_frozen && now_ns < t)
        now_ns = t;
}

/* One wake-up of the guest's loop: one step of the daemon, whose event runs the client's
 * handler (unless lost), then the loop hooks. With nothing to do, time passes to the
 * deadline (a Xen time). */
bool wait_for_wakeup(uint64_t deadline_ns)
{
    bool work = daemon_has_work(), ran = false;
    if (work) {
        idle_wakes = 0;
        daemon_step();
        if (!lose_events) {
            handler(7, handler_arg);
            ran = true;
        }
    }
    for (struct loop_hook *h = hooks; h; h = h->next)
        h->fn(h->arg);
    if (!work) {
        /* Nothing will ever happen: a wait for ever is a hang. */
        assert_true(deadline_ns != WAIT_FOREVER);
        assert_true(++idle_wakes < 1000);
        pass_time_to(deadline_ns);
        return false;
    }
    pass_time_to(xen_ns + 1000);
    return ran;
}

/* As the guest's: wake-ups until a handler ran or the MONOTONIC clock passed the deadline. */
bool wait_for_events(uint64_t deadline_ns)
{
    for (;;) {
        if (wait_for_wakeup(deadline_ns))
            return true;
        if (deadline_ns != WAIT_FOREVER && now_ns >= deadline_ns)
            return false;
    }
}

void sleep_until(uint64_t deadline_ns)
{
    pass_time_to(deadline_ns);
}

void sleep_ns(uint64_t ns)
{
    pass_time_to(now_ns + ns);
}

/* ---- the fake daemon ----------------------------------------------------------------- */

#define MAX_NODES 64
#define MAX_WATCHES 8

enum mischief {
    M_NONE,
    M_WRONG_REQ_ID,   /* reply with an id nobody asked for, then the right reply */
    M_WRONG_TYPE,     /* the right id, another type */
    M_BAD_ERROR,      /* an XS_ERROR payload without its NUL */
    M_OVERSIZED,      /* a header announcing 5000 bytes */
    M_BAD_INDEX,      /* rsp_prod far ahead of anything real */
    M_ERROR_FIELD,    /* set the ring's error field instead of answering */
    M_SILENT_EAGAIN,  /* the next TRANSACTION_END commit fails with EAGAIN */
};

static struct {
    char path[MAX_NODES][128];
    char value[MAX_NODES][128];
    size_t value_len[MAX_NODES];
    bool used[MAX_NODES];
    struct {
        char path[128], token[32];
        bool used;
    } watches[MAX_WATCHES];
    struct xs_reader rd;
    uint8_t body[XS_READER_BODY_SIZE];
    uint8_t out[64 * 1024];
    size_t out_len;
    enum mischief mischief;
    unsigned eagains;         /* TRANSACTION_END commits to fail with EAGAIN */
    uint32_t next_tx;
    bool reconnection;        /* advertise XENSTORE_SERVER_FEATURE_RECONNECTION */
    unsigned reconnects;
    unsigned requests;
} d;

static int find_node(const char *path)
{
    for (int i = 0; i < MAX_NODES; i++)
        if (d.used[i] && strcmp(d.path[i], path) == 0)
            return i;
    return -1;
}

/* Relative paths resolve under our fake domain's home, like the real daemon does. */
static void abs_path(const char *in, char *out, size_t cap)
{
    if (in[0] == '/')
        snprintf(out, cap, "%s", in);
    else
        snprintf(out, cap, "/local/domain/5/%s", in);
}

static void set_node(const char *path, const void *v, size_t len)
{
    int i = find_node(path);
    for (int k = 0; i < 0 && k < MAX_NODES; k++)
        if (!d.used[k])
            i = k;
    assert_true(i >= 0 && len < sizeof(d.value[0]));
    d.used[i] = true;
    snprintf(d.path[i], sizeof(d.path[i]), "%s", path);
    memcpy(d.value[i], v, len);
    d.value_len[i] = len;
}

static void queue_out(const void *p, size_t n)
{
    assert_true(d.out_len + n <= sizeof(d.out));
    memcpy(d.out + d.out_len, p, n);
    d.out_len += n;
}

static void reply(uint32_t type, uint32_t req_id, uint32_t tx_id, const void *p, size_t n)
{
    uint8_t m[XS_MSG_MAX];
    struct xs_builder b;
    xs_build_begin(&b, m, sizeof(m), type, req_id, tx_id);
    xs_build_raw(&b, p, n);
    int len = xs_build_end(&b);
    assert_true(len > 0);
    queue_out(m, (size_t)len);
}

static void reply_error(uint32_t req_id, int err)
{
    uint8_t m[64];
    int len = xs_encode_error(m, sizeof(m), req_id, 0, err);
    queue_out(m, (size_t)len);
}

static void fire_watches(const char *path)
{
    for (int i = 0; i < MAX_WATCHES; i++) {
        size_t n = strlen(d.watches[i].path);
        if (!d.watches[i].used || strncmp(path, d.watches[i].path, n) != 0 ||
            (path[n] != '\0' && path[n] != '/'))
            continue;
        uint8_t p[256];
        size_t a = strlen(path) + 1, t = strlen(d.watches[i].token) + 1;
        memcpy(p, path, a);
        memcpy(p + a, d.watches[i].token, t);
        reply(XS_WATCH_EVENT, 0, 0, p, a + t);
    }
}

static void serve(const struct xsd_sockmsg *h, const uint8_t *body)
{
    const char *s[2];
    const void *rest;
    size_t rest_len;
    char path[160];
    int i;

    d.requests++;
    if (d.mischief == M_WRONG_REQ_ID) {
        d.mischief = M_NONE;
        reply(h->type, h->req_id + 1000, 0, "x", 1);
    } else if (d.mischief == M_WRONG_TYPE) {
        d.mischief = M_NONE;
        reply(XS_DIRECTORY, h->req_id, 0, "a\0", 2);
        return;
    } else if (d.mischief == M_BAD_ERROR) {
        d.mischief = M_NONE;
        reply(XS_ERROR, h->req_id, 0, "ENOENT", 6);
        return;
    } else if (d.mischief == M_OVERSIZED) {
        d.mischief = M_NONE;
        struct xsd_sockmsg bad = { h->type, h->req_id, 0, 5000 };
        queue_out(&bad, sizeof(bad));
        return;
    }

    switch (h->type) {
    case XS_READ:
        assert_int_equal(xs_split(body, h->len, s, 1, NULL, NULL), 0);
        abs_path(s[0], path, sizeof(path));
        if ((i = find_node(path)) < 0)
            reply_error(h->req_id, -ENOENT);
        else
            reply(XS_READ, h->req_id, h->tx_id, d.value[i], d.value_len[i]);
        break;
    case XS_WRITE:
        assert_int_equal(xs_split(body, h->len, s, 1, &rest, &rest_len), 0);
        abs_path(s[0], path, sizeof(path));
        set_node(path, rest, rest_len);
        reply(XS_WRITE, h->req_id, h->tx_id, "OK", 3);
        fire_watches(path);
        break;
    case XS_RM:
        assert_int_equal(xs_split(body, h->len, s, 1, NULL, NULL), 0);
        abs_path(s[0], path, sizeof(path));
        for (i = 0; i < MAX_NODES; i++)
            if (d.used[i] && strncmp(d.path[i], path, strlen(path)) == 0)
                d.used[i] = false;
        reply(XS_RM, h->req_id, h->tx_id, "OK", 3);
        fire_watches(path);
        break;
    case XS_DIRECTORY: {
        char list[1024];
        size_t n = 0;
        assert_int_equal(xs_split(body, h->len, s, 1, NULL, NULL), 0);
        abs_path(s[0], path, sizeof(path));
        size_t pl = strlen(path);
        for (i = 0; i < MAX_NODES; i++) {
            if (!d.used[i] || strncmp(d.path[i], path, pl) != 0 || d.path[i][pl] != '/')
                continue;
            const char *child = d.path[i] + pl + 1;
            if (strchr(child, '/') != NULL)
                continue;
            memcpy(list + n, child, strlen(child) + 1);
            n += strlen(child) + 1;
        }
        if (n == 0 && find_node(path) < 0)
            reply_error(h->req_id, -ENOENT);
        else
            reply(XS_DIRECTORY, h->req_id, h->tx_id, list, n);
        break;
    }
    case XS_WATCH:
        assert_int_equal(xs_split(body, h->len, s, 2, NULL, NULL), 0);
        for (i = 0; i < MAX_WATCHES && d.watches[i].used; i++)
            ;
        assert_true(i < MAX_WATCHES);
        abs_path(s[0], d.watches[i].path, sizeof(d.watches[i].path));
        snprintf(d.watches[i].token, sizeof(d.watches[i].token), "%s", s[1]);
        d.watches[i].used = true;
        reply(XS_WATCH, h->req_id, 0, "OK", 3);
        /* Fires once at once, with the path as given (C xenstored does that). */
        {
            uint8_t p[256];
            size_t a = strlen(s[0]) + 1, t = strlen(s[1]) + 1;
            memcpy(p, s[0], a);
            memcpy(p + a, s[1], t);
            reply(XS_WATCH_EVENT, 0, 0, p, a + t);
        }
        break;
    case XS_UNWATCH:
        assert_int_equal(xs_split(body, h->len, s, 2, NULL, NULL), 0);
        abs_path(s[0], path, sizeof(path));
        for (i = 0; i < MAX_WATCHES; i++)
            if (d.watches[i].used && strcmp(d.watches[i].path, path) == 0 &&
                strcmp(d.watches[i].token, s[1]) == 0)
                break;
        if (i == MAX_WATCHES) {
            reply_error(h->req_id, -ENOENT);
        } else {
            d.watches[i].used = false;
            reply(XS_UNWATCH, h->req_id, 0, "OK", 3);
        }
        break;
    case XS_TRANSACTION_START: {
        char id[16];
        int n = snprintf(id, sizeof(id), "%u", (unsigned)++d.next_tx);
        reply(XS_TRANSACTION_START, h->req_id, 0, id, (size_t)n + 1);
        break;
    }
    case XS_TRANSACTION_END:
        if (d.eagains > 0 && body[0] == 'T') {
            d.eagains--;
            reply_error(h->req_id, -EAGAIN);
        } else {
            reply(XS_TRANSACTION_END, h->req_id, 0, "OK", 3);
        }
        break;
    case XS_GET_DOMAIN_PATH:
        reply(XS_GET_DOMAIN_PATH, h->req_id, 0, "/local/domain/5", 16);
        break;
    case XS_GET_PERMS:
        reply(XS_GET_PERMS, h->req_id, 0, "b5\0r0\0", 6);
        break;
    case XS_SET_PERMS:
    case XS_MKDIR:
        reply(h->type, h->req_id, 0, "OK", 3);
        break;
    default:
        reply_error(h->req_id, -ENOSYS);
        break;
    }
}

static void daemon_reset(void)
{
    d.out_len = 0;
    for (int i = 0; i < MAX_WATCHES; i++)
        d.watches[i].used = false;
    xs_reader_reset(&d.rd);
}

static bool daemon_has_work(void)
{
    return page->req_prod != page->req_cons || d.out_len > 0 ||
           page->connection == XENSTORE_RECONNECT || d.mischief == M_BAD_INDEX ||
           d.mischief == M_ERROR_FIELD;
}

static void daemon_step(void)
{
    if (page->connection == XENSTORE_RECONNECT) {
        /* The reconnection: empty both queues, forget watches and transactions. */
        daemon_reset();
        page->req_cons = page->req_prod = 0;
        page->rsp_cons = page->rsp_prod = 0;
        page->error = XENSTORE_ERROR_NONE;
        page->connection = XENSTORE_CONNECTED;
        d.reconnects++;
        return;
    }
    if (page->error != XENSTORE_ERROR_NONE)
        return; /* a daemon that gave up on us talks no more */
    if (d.mischief == M_BAD_INDEX) {
        d.mischief = M_NONE;
        page->rsp_prod = page->rsp_cons + 5000;
        return;
    }
    if (d.mischief == M_ERROR_FIELD) {
        d.mischief = M_NONE;
        page->error = XENSTORE_ERROR_PROTO;
        return;
    }
    while (page->req_cons != page->req_prod) {
        size_t want;
        void *dst = xs_reader_want(&d.rd, &want);
        assert_non_null(dst);
        size_t n = 0;
        while (n < want && page->req_cons != page->req_prod)
            ((char *)dst)[n++] = page->req[MASK_XENSTORE_IDX(page->req_cons++)];
        int rc = xs_reader_got(&d.rd, n);
        assert_true(rc >= 0);
        if (rc == 1) {
            serve(&d.rd.hdr, d.rd.body);
            xs_reader_next(&d.rd);
        }
    }
    /* Replies go out as far as the ring has room. */
    size_t k = 0;
    while (k < d.out_len && page->rsp_prod - page->rsp_cons < XENSTORE_RING_SIZE)
        page->rsp[MASK_XENSTORE_IDX(page->rsp_prod++)] = (char)d.out[k++];
    memmove(d.out, d.out + k, d.out_len - k);
    d.out_len -= k;
}

/* ---- fixtures ------------------------------------------------------------------------ */

static int setup_once(void **state)
{
    (void)state;
    /* The client takes the ring's frame number from an HVM param and checks it lies in
     * the low 4 GiB (the guest's identity map): MAP_32BIT gives such an address here. */
    page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
                -1, 0);
    assert_true(page != MAP_FAILED);
    /* Indexes that do not start at zero. */
    page->req_cons = page->req_prod = 1000;
    page->rsp_cons = page->rsp_prod = 4294967000u;
    page->server_features = XENSTORE_SERVER_FEATURE_RECONNECTION |
                            XENSTORE_SERVER_FEATURE_ERROR;
    xs_reader_init(&d.rd, d.body, sizeof(d.body));
    set_node("/local/domain/5/domid", "5", 1);
    set_node("/local/domain/5/name", "guest", 5);
    assert_int_equal(xenbus_init(), 0);
    assert_true(xenbus_available());
    return 0;
}

static int setup(void **state)
{
    (void)state;
    d.mischief = M_NONE;
    d.eagains = 0;
    clock_frozen = false;
    lose_events = false;
    idle_wakes = 0;
    if (xen_ns < now_ns)
        xen_ns = now_ns;
    return 0;
}

/* ---- tests --------------------------------------------------------------------------- */

static void test_basic_ops(void **state)
{
    (void)state;
    char buf[256];
    uint32_t domid = 0;
    uint64_t v;

    assert_int_equal(xenbus_get_domid(&domid), 0);
    assert_int_equal(domid, 5);
    assert_int_equal(xenbus_read(XENBUS_TX_NONE, "name", buf, sizeof(buf)), 5);
    assert_string_equal(buf, "guest");
    assert_int_equal(xenbus_get_domain_path(5, buf, sizeof(buf)), 15);
    assert_string_equal(buf, "/local/domain/5");

    assert_int_equal(xenbus_write(XENBUS_TX_NONE, "data/a", "1"), 0);
    assert_int_equal(xenbus_printf(XENBUS_TX_NONE, "data/b", "%d", 1234), 0);
    assert_int_equal(xenbus_read_u64(XENBUS_TX_NONE, "data/b", &v), 0);
    assert_int_equal(v, 1234);
    assert_int_equal(xenbus_write_bytes(XENBUS_TX_NONE, "data/c", "x\0y", 3), 0);
    assert_int_equal(xenbus_read(XENBUS_TX_NONE, "data/c", buf, sizeof(buf)), 3);
    assert_memory_equal(buf, "x\0y", 4);
    assert_int_equal(xenbus_write(XENBUS_TX_NONE, "data/empty", ""), 0);
    assert_int_equal(xenbus_read(XENBUS_TX_NONE, "data/empty", buf, sizeof(buf)), 0);

    int n = xenbus_directory(XENBUS_TX_NONE, "data", buf, sizeof(buf));
    assert_int_equal(n, 4);
    assert_int_equal(xenbus_exists(XENBUS_TX_NONE, "data"), 1);
    assert_int_equal(xenbus_exists(XENBUS_TX_NONE, "nothing"), 0);
    assert_int_equal(xenbus_read(XENBUS_TX_NONE, "nothing", buf, sizeof(buf)), -ENOENT);
    assert_int_equal(xenbus_read_u64(XENBUS_TX_NONE, "name", &v), -EINVAL);
    /* A value that does not fit: -ERANGE, and the connection goes on. */
    assert_int_equal(xenbus_read(XENBUS_TX_NONE, "name", buf, 5), -ERANGE);
    assert_int_equal(xenbus_read(XENBUS_TX_NONE, "name", buf, 6), 5);

    struct xs_perm perms[2];
    assert_int_equal(xenbus_get_perms(XENBUS_TX_NONE, "data", perms, 2), 2);
    assert_int_equal(perms[0].domid, 5);
    assert_int_equal(perms[0].access, 'b');
    assert_int_equal(xenbus_get_perms(XENBUS_TX_NONE, "data", perms, 1), -ERANGE);
    assert_int_equal(xenbus_set_perms(XENBUS_TX_NONE, "data/a", perms, 2), 0);
    assert_int_equal(xenbus_rm(XENBUS_TX_NONE, "data"), 0);
    assert_int_equal(xenbus_exists(XENBUS_TX_NONE, "data"), 0);
    assert_int_equal(xenbus_read(XENBUS_TX_NONE, "data/a", buf, sizeof(buf)), -ENOENT);
}

static void test_request_too_large(void **state)
{
    (void)state;
    static char big[XENSTORE_PAYLOAD_MAX + 1];
    memset(big, 'x', sizeof(big) - 1);
    unsigned before = d.requests;
    assert_int_equal(xenbus_write(XENBUS_TX_NONE, "data/big", big), -E2BIG);
    assert_int_equal(d.requests, before); /* nothing was sent */
}

static void test_hostile_replies(void **state)
{
    (void)state;
    char buf[64];
    struct xenbus_stats st0, st1;
    xenbus_get_stats(&st0);

    d.mischief = M_WRONG_REQ_ID; /* dropped, then the real reply is used */
    assert_int_equal(xenbus_read(XENBUS_TX_NONE, "name", buf, sizeof(buf)), 5);
    d.mischief = M_WRONG_TYPE;
    assert_int_equal(xenbus_read(XENBUS_TX_NONE, "name", buf, sizeof(buf)), -EPROTO);
    d.mischief = M_BAD_ERROR;
    assert_int_equal(xenbus_read(XENBUS_TX_NONE, "name", buf, sizeof(buf)), -EPROTO);
    xenbus_get_stats(&st1);
    assert_int_equal(st1.bad_replies - st0.bad_replies, 3);
    assert_int_equal(st1.reconnects, st0.reconnects);
    /* The connection is still fine. */
    assert_int_equal(xenbus_read(XENBUS_TX_NONE, "name", buf, sizeof(buf)), 5);
}

/* Something that breaks the stream: the request in flight fails with -EIO, the client
 * reconnects the ring, and the next request works. */
static void check_reconnect(enum mischief m)
{
    char buf[64];
    struct xenbus_stats st0, st1;
    unsigned r0 = d.reconnects;
    xenbus_get_stats(&st0);
    d.mischief = m;
    assert_int_equal(xenbus_read(XENBUS_TX_NONE, "name", buf, sizeof(buf)), -EIO);
    assert_int_equal(xenbus_read(XENBUS_TX_NONE, "name", buf, sizeof(buf)), 5);
    xenbus_get_stats(&st1);
    assert_int_equal(st1.reconnects, st0.reconnects + 1);
    assert_int_equal(d.reconnects, r0 + 1);
}

static void test_reconnect_oversized(void **state)
{
    (void)state;
    check_reconnect(M_OVERSIZED);
}

static void test_reconnect_bad_index(void **state)
{
    (void)state;
    check_reconnect(M_BAD_INDEX);
}

static void test_reconnect_error_field(void **state)
{
    (void)state;
    check_reconnect(M_ERROR_FIELD);
}

static unsigned cb_calls;
static char cb_last[128];

static void on_watch(struct xenbus_watch *w, const char *path, void *arg)
{
    (void)w;
    (void)arg;
    cb_calls++;
    snprintf(cb_last, sizeof(cb_last), "%s", path);
    /* A callback may itself make blocking requests. */
    char buf[16];
    assert_int_equal(xenbus_read(XENBUS_TX_NONE, "name", buf, sizeof(buf)), 5);
}

static void test_watch_queue_and_callback(void **state)
{
    (void)state;
    struct xenbus_watch q, c;
    char path[128];

    assert_int_equal(xenbus_watch_add(&q, "data/q", NULL, NULL), 0);
    /* The initial event. */
    assert_int_equal(xenbus_watch_wait(&q, now_ns + 1000000, path, sizeof(path)), 0);
    assert_string_equal(path, "data/q");
    assert_int_equal(xenbus_watch_wait(&q, now_ns + 1000000, path, sizeof(path)), -ETIMEDOUT);
    assert_int_equal(xenbus_write(XENBUS_TX_NONE, "data/q/x", "1"), 0);
    assert_int_equal(xenbus_watch_wait(&q, now_ns + 1000000, path, sizeof(path)), 0);
    assert_string_equal(path, "/local/domain/5/data/q/x");

    cb_calls = 0;
    assert_int_equal(xenbus_watch_add(&c, "data/c", on_watch, NULL), 0);
    wait_for_events(now_ns + 1000); /* lets the hook deliver */
    assert_int_equal(cb_calls, 1);
    assert_int_equal(xenbus_write(XENBUS_TX_NONE, "data/c", "1"), 0);
    wait_for_events(now_ns + 1000);
    assert_int_equal(cb_calls, 2);
    assert_string_equal(cb_last, "/local/domain/5/data/c");

    /* After a reconnection the daemon has forgotten both; the client registers them again
     * and each fires once more. */
    check_reconnect(M_ERROR_FIELD);
    for (int i = 0; i < 5; i++)
        wait_for_events(now_ns + 1000);
    assert_int_equal(cb_calls, 3);
    assert_int_equal(xenbus_watch_wait(&q, now_ns + 1000000, path, sizeof(path)), 0);
    assert_string_equal(path, "data/q");
    assert_int_equal(xenbus_write(XENBUS_TX_NONE, "data/q", "2"), 0);
    assert_int_equal(xenbus_watch_wait(&q, now_ns + 1000000, path, sizeof(path)), 0);

    assert_int_equal(xenbus_watch_remove(&q), 0);
    assert_int_equal(xenbus_watch_remove(&c), 0);
    assert_int_equal(xenbus_watch_remove(&c), -ENOENT);
    assert_int_equal(xenbus_write(XENBUS_TX_NONE, "data/c", "3"), 0);
    wait_for_events(now_ns + 1000);
    assert_int_equal(cb_calls, 3);
}

/* Both rig glitches at once: every event from the daemon is lost and the guest's monotonic
 * clock stands still. Requests and watch waits still complete (each wait looks at the ring
 * itself after every wake-up, and its longest block is counted on Xen's clock), and without
 * endless wake-ups (idle_wakes). Before, a request waited for a handler or for its 5 s
 * report on the monotonic clock: for ever here. */
static void test_lost_events_clock_stuck(void **state)
{
    (void)state;
    struct xenbus_watch q;
    char buf[64], path[128];
    uint64_t t0 = now_ns, x0 = xen_ns;

    lose_events = true;
    clock_frozen = true;
    for (int i = 0; i < 20; i++) {
        snprintf(path, sizeof(path), "data/lost/%d", i);
        assert_int_equal(xenbus_write(XENBUS_TX_NONE, path, "v"), 0);
        assert_int_equal(xenbus_read(XENBUS_TX_NONE, path, buf, sizeof(buf)), 1);
    }
    assert_int_equal(xenbus_watch_add(&q, "data/lost", NULL, NULL), 0);
    assert_int_equal(xenbus_watch_wait(&q, WAIT_FOREVER, path, sizeof(path)), 0);
    assert_string_equal(path, "data/lost");
    assert_int_equal(xenbus_rm(XENBUS_TX_NONE, "data/lost"), 0);
    assert_int_equal(xenbus_watch_wait(&q, WAIT_FOREVER, path, sizeof(path)), 0);
    assert_int_equal(xenbus_watch_remove(&q), 0);
    assert_int_equal(now_ns, t0);      /* the guest's clock really stood still */
    assert_true(xen_ns > x0);
    lose_events = false;
    clock_frozen = false;
}

static int bump(xenbus_tx_t t, void *arg)
{
    unsigned *calls = arg;
    (*calls)++;
    return xenbus_write(t, "data/counter", "1");
}

static void test_transaction_retry(void **state)
{
    (void)state;
    unsigned calls = 0, tries = 0;
    d.eagains = 2;
    assert_int_equal(xenbus_transaction_run(bump, &calls, 0, &tries), 0);
    assert_int_equal(calls, 3);
    assert_int_equal(tries, 3);
    d.eagains = 100;
    calls = 0;
    assert_int_equal(xenbus_transaction_run(bump, &calls, 4, &tries), -EAGAIN);
    assert_int_equal(calls, 4);
    assert_int_equal(tries, 4);
    d.eagains = 0;

    /* A transaction from before a reconnection is dead: -EAGAIN, nothing sent. */
    xenbus_tx_t t;
    assert_int_equal(xenbus_transaction_start(&t), 0);
    check_reconnect(M_ERROR_FIELD);
    unsigned before = d.requests;
    assert_int_equal(xenbus_write(t, "data/x", "1"), -EAGAIN);
    assert_int_equal(xenbus_transaction_end(t, false), -EAGAIN);
    assert_int_equal(d.requests, before);
}

static void test_state_helpers(void **state)
{
    (void)state;
    XenbusState s;
    assert_int_equal(xenbus_switch_state(XENBUS_TX_NONE, "device/vif/0", XenbusStateInitialising), 0);
    assert_int_equal(xenbus_read_state(XENBUS_TX_NONE, "device/vif/0", &s), 0);
    assert_int_equal(s, XenbusStateInitialising);
    assert_string_equal(xenbus_state_name(s), "Initialising");
    /* Not there yet: times out. */
    assert_int_equal(xenbus_wait_state("device/vif/0", XENBUS_STATE_BIT(XenbusStateConnected),
                                       now_ns + 1000000, &s),
                     -ETIMEDOUT);
    assert_int_equal(xenbus_wait_state("device/vif/0",
                                       XENBUS_STATE_BIT(XenbusStateInitialising) |
                                           XENBUS_STATE_BIT(XenbusStateConnected),
                                       now_ns + 1000000, &s),
                     0);
    assert_int_equal(s, XenbusStateInitialising);
    assert_int_equal(xenbus_write(XENBUS_TX_NONE, "device/vif/0/state", "junk"), 0);
    assert_int_equal(xenbus_read_state(XENBUS_TX_NONE, "device/vif/0", &s), -EINVAL);
}

/* Many requests through the 1 KiB ring: large values (multi-chunk messages both ways)
 * and the outgoing queue. */
static void test_volume(void **state)
{
    (void)state;
    static char v[100], buf[128], path[32];
    for (unsigned i = 0; i < 2000; i++) {
        snprintf(path, sizeof(path), "data/v%u", i % 40);
        int n = snprintf(v, sizeof(v), "%u-%0*u", i, (int)(i % 80), i);
        assert_int_equal(xenbus_write(XENBUS_TX_NONE, path, v), 0);
        assert_int_equal(xenbus_read(XENBUS_TX_NONE, path, buf, sizeof(buf)), n);
        assert_string_equal(buf, v);
    }
    assert_int_equal(xenbus_rm(XENBUS_TX_NONE, "data"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_basic_ops, setup),
        cmocka_unit_test_setup(test_request_too_large, setup),
        cmocka_unit_test_setup(test_hostile_replies, setup),
        cmocka_unit_test_setup(test_reconnect_oversized, setup),
        cmocka_unit_test_setup(test_reconnect_bad_index, setup),
        cmocka_unit_test_setup(test_reconnect_error_field, setup),
        cmocka_unit_test_setup(test_watch_queue_and_callback, setup),
        cmocka_unit_test_setup(test_transaction_retry, setup),
        cmocka_unit_test_setup(test_state_helpers, setup),
        cmocka_unit_test_setup(test_volume, setup),
        cmocka_unit_test_setup(test_lost_events_clock_stuck, setup),
    };
    return cmocka_run_group_tests(tests, setup_once, NULL);
}
