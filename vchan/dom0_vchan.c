/*
 * The dom0 vchan binding (API and handshake: vchan/xkvchan.h) on the Xen user-space shared
 * libraries: libxengntshr (grant our pages), libxengnttab (map the peer's), libxenevtchn,
 * libxenstore. The protocol is vchan/vchan_core.c.
 */
#include "vchan/xkvchan.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>

#include "vchan/vchan_core.h"

struct xkvchan {
    struct vchan_core core;
    bool server, blocking;
    unsigned spin_us;                /* blocking calls poll the ring up to this long before sleeping */
    unsigned spin_cur;               /* the current (adaptive) spin budget, <= spin_us */
    unsigned spin_skips;             /* blocking calls that did not spin since the budget hit 0 */
    unsigned small_reads;            /* reads in a row of < 1/8 ring, no write between (capped) */
    xenevtchn_handle *evh;
    evtchn_port_t port;
    xengntshr_handle *gntshr;        /* server */
    xengnttab_handle *gnttab;        /* client */
    struct xs_handle *xs;            /* server: kept for the cleanup on close */
    void *ctrl;
    void *left, *right;              /* separately granted rings (NULL when in-page) */
    unsigned left_pages, right_pages;
    char *xs_path;
};

/* ---- helpers ------------------------------------------------------------------------ */

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Backoff for xenstore retries: 1, 2, 4 ... 128 ms, with jitter so that many servers
 * starting together spread out. */
static void backoff(unsigned attempt)
{
    unsigned base = 1u << (attempt < 7 ? attempt : 7);
    sleep_ms(base + (unsigned)rand() % (base + 1));
}

static void notify_cb(void *ctx)
{
    struct xkvchan *v = ctx;
    xenevtchn_notify(v->evh, v->port);
}

/* Strict decimal, nonzero, fits 32 bits (libxenvchan refuses 0 for ring-ref and port). */
static int parse_u32(const char *s, unsigned len, uint32_t *out)
{
    if (!s || len == 0 || len > 10 || s[0] == '0')
        return -1;
    uint64_t v = 0;
    for (unsigned i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int own_domid(struct xs_handle *xs)
{
    unsigned len;
    char *s = xs_read(xs, XBT_NULL, "domid", &len);
    uint32_t d = 0;
    if (s && len == 1 && s[0] == '0')
        d = 0;
    else if (!s || parse_u32(s, len, &d) < 0 || d >= 0x7ff0)
        d = 0;
    free(s);
    return (int)d;
}

/* Components of a path that belong to the toolstack and are never removed: the domain's
 * home and its top-level directory (/local/domain/N/data), or the first component. */
static unsigned floor_components(const char *path)
{
    return strncmp(path, "/local/domain/", 14) == 0 ? 4 : 1;
}

static unsigned components(const char *path, size_t len)
{
    unsigned n = 0;
    for (size_t i = 0; i < len; i++)
        if (path[i] != '/' && (i == 0 || path[i - 1] == '/'))
            n++;
    return n;
}

/* Remove xs_path and every parent left empty above the floor, in one transaction. */
static void xs_cleanup(struct xs_handle *xs, const char *path)
{
    size_t plen = strlen(path);
    char *buf = malloc(plen + 1);
    if (!buf)
        return;
    unsigned floor = floor_components(path);
    for (unsigned attempt = 0; attempt < 30; attempt++) {
        xs_transaction_t t = xs_transaction_start(xs);
        if (t == XBT_NULL) {
            backoff(attempt);           /* quota of transactions: try again later */
            continue;
        }
        xs_rm(xs, t, path);
        memcpy(buf, path, plen + 1);
        size_t len = plen;
        for (;;) {
            while (len > 0 && buf[len - 1] != '/')
                len--;
            while (len > 1 && buf[len - 1] == '/')
                len--;
            if (len == 0 || buf[len - 1] == '/')
                break;
            buf[len] = 0;
            if (components(buf, len) <= floor)
                break;
            unsigned n = 0;
            char **dir = xs_directory(xs, t, buf, &n);
            bool empty = dir && n == 0;
            free(dir);
            if (!empty)
                break;
            xs_rm(xs, t, buf);
        }
        if (xs_transaction_end(xs, t, false))
            break;
        if (errno != EAGAIN)
            break;
        backoff(attempt);
    }
    free(buf);
}

static bool xs_write_retry(struct xs_handle *xs, const char *path, const char *val,
                           struct xs_permissions *perms, unsigned nperms)
{
    for (unsigned attempt = 0; attempt < 10; attempt++) {
        if (xs_write(xs, XBT_NULL, path, val, (unsigned)strlen(val)) &&
            xs_set_permissions(xs, XBT_NULL, path, perms, nperms))
            return true;
        if (errno != EAGAIN && errno != ENOSPC && errno != EBUSY)
            return false;
        backoff(attempt);
    }
    return false;
}

static void free_vchan(struct xkvchan *v)
{
    if (v->server) {
        if (v->left)
            xengntshr_unshare(v->gntshr, v->left, v->left_pages);
        if (v->right)
            xengntshr_unshare(v->gntshr, v->right, v->right_pages);
        if (v->ctrl)
            xengntshr_unshare(v->gntshr, v->ctrl, 1);
    } else {
        if (v->left)
            xengnttab_unmap(v->gnttab, v->left, v->left_pages);
        if (v->right)
            xengnttab_unmap(v->gnttab, v->right, v->right_pages);
        if (v->ctrl)
            xengnttab_unmap(v->gnttab, v->ctrl, 1);
    }
    if (v->evh) {
        if (v->ctrl)
            xenevtchn_notify(v->evh, v->port);
        xenevtchn_close(v->evh);
    }
    if (v->gntshr)
        xengntshr_close(v->gntshr);
    if (v->gnttab)
        xengnttab_close(v->gnttab);
    if (v->xs) {
        if (v->xs_path)
            xs_cleanup(v->xs, v->xs_path);
        xs_close(v->xs);
    }
    free(v->xs_path);
    free(v);
}

/* ---- server ------------------------------------------------------------------------- */

struct xkvchan *xkvchan_server_init_orders(int domain, const char *xs_path,
                                           unsigned read_order, unsigned write_order)
{
    if (!xs_path || !*xs_path || vchan_check_orders(read_order, write_order) != 0) {
        errno = EINVAL;
        return NULL;
    }
    struct xkvchan *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    v->server = true;
    v->spin_us = v->spin_cur = XKVCHAN_DEFAULT_SPIN_US;
    int err = EIO;
    v->xs_path = strdup(xs_path);
    v->gntshr = xengntshr_open(NULL, 0);
    v->evh = xenevtchn_open(NULL, 0);
    v->xs = xs_open(0);
    if (!v->xs_path || !v->gntshr || !v->evh || !v->xs)
        goto fail;
    int port = xenevtchn_bind_unbound_port(v->evh, (uint32_t)domain);
    if (port < 0)
        goto fail;
    v->port = (evtchn_port_t)port;

    uint32_t ctrl_ref;
    v->ctrl = xengntshr_share_page_notify(v->gntshr, (uint32_t)domain, &ctrl_ref, 1,
                                          offsetof(struct vchan_interface, srv_live), v->port);
    if (!v->ctrl)
        goto fail;
    v->left_pages = vchan_ring_pages(read_order);
    v->right_pages = vchan_ring_pages(write_order);
    uint32_t refs[512];
    if (v->left_pages) {
        v->left = xengntshr_share_pages(v->gntshr, (uint32_t)domain, (int)v->left_pages, refs, 1);
        if (!v->left)
            goto fail;
    }
    if (v->right_pages) {
        v->right = xengntshr_share_pages(v->gntshr, (uint32_t)domain, (int)v->right_pages,
                                         refs + v->left_pages, 1);
        if (!v->right)
            goto fail;
    }
    if (vchan_server_init(&v->core, v->ctrl, read_order, write_order, v->left, v->right,
                          notify_cb, v) != 0)
        goto fail;
    for (unsigned i = 0; i < v->left_pages + v->right_pages; i++)
        vchan_ctrl_set_grant(v->core.ctrl, i, refs[i]);

    struct xs_permissions perms[2] = {
        { .id = (unsigned)own_domid(v->xs), .perms = XS_PERM_NONE },
        { .id = (unsigned)domain, .perms = XS_PERM_READ },
    };
    size_t plen = strlen(xs_path);
    char *key = malloc(plen + 32), val[16];
    if (!key)
        goto fail;
    snprintf(key, plen + 32, "%s/ring-ref", xs_path);
    snprintf(val, sizeof(val), "%u", ctrl_ref);
    bool ok = xs_write_retry(v->xs, key, val, perms, 2);
    if (ok) {
        snprintf(key, plen + 32, "%s/event-channel", xs_path);
        snprintf(val, sizeof(val), "%u", v->port);
        ok = xs_write_retry(v->xs, key, val, perms, 2);
    }
    err = errno;
    free(key);
    if (!ok)
        goto fail;
    return v;
fail:
    if (err == 0)
        err = EIO;
    free_vchan(v);
    errno = err;
    return NULL;
}

struct xkvchan *xkvchan_server_init(int domain, const char *xs_path, size_t read_min,
                                    size_t write_min)
{
    unsigned lo, ro;
    if (vchan_select_orders(read_min, write_min, &lo, &ro) != 0) {
        errno = EINVAL;
        return NULL;
    }
    return xkvchan_server_init_orders(domain, xs_path, lo, ro);
}

/* ---- client ------------------------------------------------------------------------- */

static int read_key(struct xs_handle *xs, const char *path, const char *name, uint32_t *out)
{
    size_t plen = strlen(path);
    char *key = malloc(plen + 32);
    if (!key)
        return -1;
    snprintf(key, plen + 32, "%s/%s", path, name);
    unsigned len;
    char *s = xs_read(xs, XBT_NULL, key, &len);
    free(key);
    int rc = s ? parse_u32(s, len, out) : -1;
    free(s);
    if (rc < 0)
        errno = s ? EPROTO : ENOENT;
    return rc;
}

struct xkvchan *xkvchan_client_init(int domain, const char *xs_path)
{
    if (!xs_path || !*xs_path) {
        errno = EINVAL;
        return NULL;
    }
    struct xkvchan *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    v->spin_us = v->spin_cur = XKVCHAN_DEFAULT_SPIN_US;
    int err = EIO;
    uint32_t ctrl_ref, remote_port;
    struct xs_handle *xs = xs_open(0);
    if (!xs)
        goto fail;
    int rc = read_key(xs, xs_path, "ring-ref", &ctrl_ref);
    if (rc == 0)
        rc = read_key(xs, xs_path, "event-channel", &remote_port);
    err = errno;
    xs_close(xs);
    if (rc < 0)
        goto fail;
    err = EIO;
    v->gnttab = xengnttab_open(NULL, 0);
    v->evh = xenevtchn_open(NULL, 0);
    if (!v->gnttab || !v->evh)
        goto fail;
    int port = xenevtchn_bind_interdomain(v->evh, (uint32_t)domain, remote_port);
    if (port < 0)
        goto fail;
    v->port = (evtchn_port_t)port;
    v->ctrl = xengnttab_map_grant_ref_notify(v->gnttab, (uint32_t)domain, ctrl_ref,
                                             PROT_READ | PROT_WRITE,
                                             offsetof(struct vchan_interface, cli_live),
                                             v->port);
    if (!v->ctrl)
        goto fail;
    unsigned lo, ro;
    if (vchan_client_orders(v->ctrl, &lo, &ro) != 0) {
        err = EPROTO;
        goto fail;
    }
    v->left_pages = vchan_ring_pages(lo);
    v->right_pages = vchan_ring_pages(ro);
    uint32_t refs[512];
    for (unsigned i = 0; i < v->left_pages + v->right_pages; i++)
        refs[i] = vchan_ctrl_grant(v->ctrl, i);         /* copied once */
    if (v->left_pages) {
        v->left = xengnttab_map_domain_grant_refs(v->gnttab, v->left_pages, (uint32_t)domain,
                                                  refs, PROT_READ | PROT_WRITE);
        if (!v->left)
            goto fail;
    }
    if (v->right_pages) {
        v->right = xengnttab_map_domain_grant_refs(v->gnttab, v->right_pages, (uint32_t)domain,
                                                   refs + v->left_pages,
                                                   PROT_READ | PROT_WRITE);
        if (!v->right)
            goto fail;
    }
    if (vchan_client_init(&v->core, v->ctrl, lo, ro, v->left, v->right, notify_cb, v) != 0) {
        err = EPROTO;
        goto fail;
    }
    vchan_client_connect(&v->core);
    return v;
fail:
    free_vchan(v);
    errno = err;
    return NULL;
}

struct xkvchan *xkvchan_client_init_wait(int domain, const char *xs_path, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    for (unsigned attempt = 0;; attempt++) {
        struct xkvchan *v = xkvchan_client_init(domain, xs_path);
        if (v || (errno != ENOENT && errno != EACCES && errno != EPROTO))
            return v;
        if (timeout_ms >= 0 && now_ms() >= end) {
            errno = ETIMEDOUT;
            return NULL;
        }
        backoff(attempt < 5 ? attempt : 5);
    }
}

/* ---- I/O ---------------------------------------------------------------------------- */

void xkvchan_set_blocking(struct xkvchan *v, bool blocking)
{
    v->blocking = blocking;
}

void xkvchan_set_spin(struct xkvchan *v, unsigned usec)
{
    v->spin_us = usec;
    v->spin_cur = usec;
    v->spin_skips = 0;
}

int xkvchan_fd(struct xkvchan *v)
{
    return xenevtchn_fd(v->evh);
}

int xkvchan_wait(struct xkvchan *v)
{
    int port = xenevtchn_pending(v->evh);
    if (port < 0)
        return -1;
    return xenevtchn_unmask(v->evh, (evtchn_port_t)port);
}

/* Blocking calls: before an operation that would find nothing to do (and so ask the peer
 * for a notification, which costs the peer a system call per message), poll the ring for a
 * while: the peer usually runs on another CPU, and a sleep/wake-up through the event channel
 * costs far more than the copy. But spinning only pays while the peer really runs at the same
 * time: on a busy machine (or a peer sharing our CPU) it burns the time the peer needs. So
 * the budget adapts, like an adaptive mutex: a spin that had to give up halves it (down to
 * no spinning: straight to sleep, as libxenvchan does), a spin that saw the peer act doubles
 * it back up to spin_us; with no budget left, every 64th blocking call tries a short spin to
 * notice that things got better. While spinning we also yield now and then, so that a peer
 * waiting for our CPU gets it.
 *
 * A reader that only reads and each time finds little and takes all of it (SINK_READS reads
 * in a row that emptied the ring and got less than 1/8 of it or 8 KiB, no write between
 * them: count_read) waits a little before its first poll (rings of 16 KiB and more: one
 * pause per KiB of ring, at most SINK_FIRST_WAIT, ~2.4 us) and then polls every
 * SINK_POLL_GAP pauses instead of every pause. Each poll loads the control page's first line, where the writer stores prod
 * for every message and then, with a full barrier, looks at its notify byte: that barrier
 * waits until the line has come back from our cache. With 64-byte messages on two CPUs that
 * wait is most of the writer's time, and fewer polls let it write several messages per trip
 * of the line (the barrier itself must stay: a libxenvchan reader asks for a notification
 * and sleeps). The first wait matters most: a sink that polled at once after each read
 * found the few messages written meanwhile, so it still took the line every couple of
 * messages (+25-35% for 64-byte messages at order 16 with it, vchan/README.md). It is
 * scaled to the ring so that a writer cannot fill a small ring while we wait, and there is
 * none below 16 KiB (no better at order 12; unscaled, it cut order 10 to a third). Such a
 * sink sees new data up to ~2.4 us later. Request/response traffic (a write between two
 * reads) still polls at once, for latency, and so does a reader that gets large reads or
 * leaves data behind: the writer is fast, and a late poll would leave it waiting for space
 * (4 KiB rings halved their 1 MiB throughput so; a first wait after reads that were only
 * limited by the caller's buffer cut 4 KiB messages at order 16, read 4 KiB at a time, to a
 * quarter). */
#define SINK_READS    2
#define SINK_POLL_GAP 32u
#define SINK_FIRST_WAIT 96u
#define SINK_FIRST_MIN  16u
static void spin(struct xkvchan *v, bool read, size_t want)
{
    if (!v->blocking || !v->spin_us)
        return;
    unsigned budget = v->spin_cur;
    if (budget == 0) {
        if (++v->spin_skips < 64)
            return;
        v->spin_skips = 0;
        budget = v->spin_us / 8 ? v->spin_us / 8 : 1;
    }
    long long end = 0;
    unsigned gap = read && v->small_reads >= SINK_READS ? SINK_POLL_GAP : 1;
    size_t first = vchan_read_size(&v->core) >> 10;
    if (gap > 1 && first >= SINK_FIRST_MIN)
        for (size_t k = 0; k < first && k < SINK_FIRST_WAIT; k++)
            __builtin_ia32_pause();
    /* The clock, the liveness byte and sched_yield every 64 pauses, as many polls as that is;
     * not at the first poll: with a small ring the peer usually acts within a few pauses,
     * and these cost more than the wait (order 10: a wait per ring fill). */
    unsigned every = gap >= 64 ? 1 : 64 / gap;
    for (unsigned i = 0;; i++) {
        bool ok = read ? vchan_data_ready(&v->core) >= want : vchan_can_write(&v->core, want);
        if (ok || v->core.state != VCHAN_ST_OPEN) {
            if (i > 0) {            /* the peer acted while we watched: spinning paid */
                unsigned more = budget > v->spin_us / 2 ? v->spin_us : budget * 2;
                v->spin_cur = more > v->spin_cur ? more : v->spin_cur;
            }
            return;
        }
        if (i > 0 && i % every == 0) {
            if (!vchan_is_open(&v->core))
                return;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            long long t = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
            if (end == 0) {
                end = t + budget;
            } else if (t >= end) {
                v->spin_cur = budget / 2;
                return;
            } else {
                sched_yield();
            }
        }
        for (unsigned k = 0; k < gap; k++)
            __builtin_ia32_pause();
    }
}

/* Counts small reads in a row for spin(): a read of less than SINK_SMALL (1/8 of the ring,
 * at most 8 KiB) that took everything it saw adds one (a stream read that got less than
 * asked; a packet read that left nothing it had seen); a larger one, one that left data
 * behind (the caller's buffer was the limit, not the writer: waiting would only slow it
 * down), or a write starts again; a read that got nothing changes nothing. */
static void count_read(struct xkvchan *v, long r, bool took_all)
{
    size_t small = vchan_read_size(&v->core) / 8;
    if (small > 8192)
        small = 8192;
    if (r > 0 && (size_t)r < small && took_all) {
        if (v->small_reads < SINK_READS)
            v->small_reads++;
    } else if (r > 0) {
        v->small_reads = 0;
    }
}

static int result(long r)
{
    if (r >= 0)
        return (int)r;
    errno = r == -ENOTCONN ? EPIPE : (int)-r;
    return -1;
}

int xkvchan_read(struct xkvchan *v, void *data, size_t size)
{
    if (size > INT32_MAX)
        size = INT32_MAX;
    for (;;) {
        spin(v, true, 1);
        long r = vchan_read(&v->core, data, size);
        count_read(v, r, r >= 0 && (size_t)r < size);
        if (r != 0 || !v->blocking || size == 0)
            return result(r);
        if (xkvchan_wait(v) < 0)
            return -1;
    }
}

int xkvchan_recv(struct xkvchan *v, void *data, size_t size)
{
    for (;;) {
        if (size <= vchan_read_size(&v->core))
            spin(v, true, size);
        long r = vchan_recv(&v->core, data, size);
        count_read(v, r, vchan_read_known(&v->core) == 0);
        if (r != 0 || !v->blocking || size == 0)
            return result(r);
        if (xkvchan_wait(v) < 0)
            return -1;
    }
}

int xkvchan_write(struct xkvchan *v, const void *data, size_t size)
{
    if (size > INT32_MAX)
        size = INT32_MAX;
    size_t done = 0;
    v->small_reads = 0;
    while (done < size) {
        spin(v, false, 1);
        long r = vchan_write(&v->core, (const uint8_t *)data + done, size - done);
        if (r < 0)
            return done ? (int)done : result(r);
        done += (size_t)r;
        if (!v->blocking)
            break;
        if (r == 0 && xkvchan_wait(v) < 0)
            return done ? (int)done : -1;
    }
    return (int)done;
}

int xkvchan_send(struct xkvchan *v, const void *data, size_t size)
{
    v->small_reads = 0;
    for (;;) {
        if (size <= vchan_write_size(&v->core))
            spin(v, false, size);
        long r = vchan_send(&v->core, data, size);
        if (r != 0 || !v->blocking || size == 0)
            return result(r);
        if (xkvchan_wait(v) < 0)
            return -1;
    }
}

int xkvchan_is_open(struct xkvchan *v)
{
    return vchan_is_open(&v->core) ? 1 : 0;
}

/* As libxenvchan's: a caller that asks how much there is may next sleep in poll() on
 * xkvchan_fd without a read or write that returned 0, so asking also requests the peer's
 * notification (when it writes / when it reads). Not when the ring is full (data_ready) or
 * empty (buffer_space): the peer cannot move then until we do. */
int xkvchan_data_ready(struct xkvchan *v)
{
    vchan_arm_read(&v->core, vchan_read_size(&v->core));
    return (int)vchan_data_ready(&v->core);
}

int xkvchan_buffer_space(struct xkvchan *v)
{
    vchan_arm_write(&v->core, vchan_write_size(&v->core));
    return (int)vchan_buffer_space(&v->core);
}

int xkvchan_write_pending(struct xkvchan *v)
{
    return (int)vchan_write_pending(&v->core);
}

int xkvchan_flush(struct xkvchan *v, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    for (;;) {
        if (vchan_write_pending(&v->core) == 0)
            return 0;
        if (!vchan_is_open(&v->core)) {
            errno = EPIPE;
            return -1;
        }
        if (vchan_arm_write(&v->core, vchan_write_size(&v->core)))
            continue;
        int wait_ms = -1;
        if (timeout_ms >= 0) {
            long long left = end - now_ms();
            if (left <= 0) {
                errno = ETIMEDOUT;
                return -1;
            }
            wait_ms = (int)left;
        }
        struct pollfd p = { .fd = xkvchan_fd(v), .events = POLLIN };
        int n = poll(&p, 1, wait_ms);
        if (n > 0)
            xkvchan_wait(v);
        else if (n < 0 && errno != EINTR)
            return -1;
    }
}

void xkvchan_close(struct xkvchan *v)
{
    if (!v)
        return;
    vchan_close(&v->core);
    free_vchan(v);
}
