/*
 * xenstored_bench: xenstore daemons compared on their Unix socket, in the same run.
 *
 *   xenstored_bench [options] NAME=SOCKET...
 *   xenstored_bench --exec-nofile-ok PROG [ARGS...]
 *
 * The first form runs every test against every daemon named on the command line (one test
 * at a time, daemon after daemon, so drift of the machine hits them all alike) and prints a
 * table. bench/xenstored_run.sh starts the daemons (Debian's C xenstored and oxenstored under
 * the LD_PRELOAD shim, vxenstored with --sync batch and --sync none) and calls this.
 *
 * The client speaks the raw wire protocol (16-byte header, payload) and behaves like
 * libxenstore: one request outstanding per connection, the header and the payload in two
 * write()s, the reply read back before the next request. Watch events that arrive in between
 * are counted and skipped. Concurrency comes from several connections, one thread each.
 *
 * Tests (each bounded by --secs and an operation cap, so a slow daemon cannot stretch the run):
 *   write, read, write+read       one client, ops/s (pairs/s for write+read)
 *   write, 10 clients             --clients connections writing at once, total ops/s
 *   txn of 20 writes              one client, committed transactions/s
 *   idle conns                    p50/p99 latency of a write and a read with --idle
 *                                 connections open (each did one request, then sleeps)
 *   1,000 domains                 --domains domains of ~20 nodes each under /local/domain/N,
 *                                 then p50/p99 latency of writes and reads among them
 *   xl create+destroy mix         --mix-domains domains created and destroyed by --clients
 *                                 clients in parallel, ~240 requests per domain in the order
 *                                 libxl issues them (domain make, build info, a disk, a vif and
 *                                 a console in transactions, backend state watches and the
 *                                 hotplug writes, then the teardown); domains/s
 *
 * The second form execs PROG with setrlimit(RLIMIT_NOFILE) turned into a no-op (a seccomp
 * filter answers 0): oxenstored raises its descriptor limit to 1,048,576 at start and exits
 * when it cannot (no CAP_SYS_RESOURCE in a container).
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---- wire protocol -------------------------------------------------------------------- */

enum {
    XS_DIRECTORY = 1, XS_READ = 2, XS_WATCH = 4, XS_UNWATCH = 5, XS_TXN_START = 6,
    XS_TXN_END = 7, XS_GET_DOMAIN_PATH = 10, XS_WRITE = 11, XS_MKDIR = 12, XS_RM = 13,
    XS_SET_PERMS = 14, XS_WATCH_EVENT = 15, XS_ERROR = 16,
};

#define PAYLOAD_MAX 4096

/* Outcome of a request. */
enum { XR_OK = 0, XR_AGAIN = 1, XR_ERR = 2, XR_IO = 3 };

struct conn {
    int fd;
    uint64_t requests;      /* requests sent */
    uint64_t events;        /* watch events received */
    uint64_t errors;        /* unexpected error replies */
    char err[32];           /* the last error string */
    char last[80];          /* the last request: type and path, for error messages */
    char reply[PAYLOAD_MAX + 1];
    uint32_t rlen;
};

static int conn_open(struct conn *c, const char *path)
{
    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(a.sun_path)) {
        close(c->fd);
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(a.sun_path, path, strlen(path) + 1);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int e = errno;
        close(c->fd);
        c->fd = -1;
        errno = e;
        return -1;
    }
    return 0;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One request, one reply (watch events in between are counted and dropped). */
static int xs_req(struct conn *c, uint32_t type, uint32_t tx, const void *payload, size_t len)
{
    uint32_t hdr[4] = {type, 0, tx, (uint32_t)len};
    c->requests++;
    snprintf(c->last, sizeof(c->last), "type %u %.*s", type,
             (int)strnlen(payload, len < 64 ? len : 64), (const char *)payload);
    if (c->fd < 0 || len > PAYLOAD_MAX || write_all(c->fd, hdr, sizeof(hdr)) < 0 ||
        (len && write_all(c->fd, payload, len) < 0))
        return XR_IO;
    for (;;) {
        uint32_t r[4];
        if (read_all(c->fd, r, sizeof(r)) < 0 || r[3] > PAYLOAD_MAX ||
            read_all(c->fd, c->reply, r[3]) < 0)
            return XR_IO;
        c->reply[r[3]] = 0;
        c->rlen = r[3];
        if (r[0] == XS_WATCH_EVENT) {
            c->events++;
            continue;
        }
        if (r[0] == XS_ERROR) {
            size_t el = strnlen(c->reply, sizeof(c->err) - 1);
            memcpy(c->err, c->reply, el);
            c->err[el] = 0;
            if (strcmp(c->reply, "EAGAIN") == 0)
                return XR_AGAIN;
            c->errors++;
            return XR_ERR;
        }
        if (r[0] != type)
            return XR_IO;
        return XR_OK;
    }
}

/* Payload builder: NUL-terminated strings, the last one optionally without its NUL. */
struct pl {
    char b[PAYLOAD_MAX];
    size_t n;
};

static void pl_str(struct pl *p, const char *s, bool nul)
{
    size_t l = strlen(s) + (nul ? 1 : 0);
    if (p->n + l > sizeof(p->b))
        l = sizeof(p->b) - p->n;
    memcpy(p->b + p->n, s, l);
    p->n += l;
}

static int xs_path_op(struct conn *c, uint32_t type, uint32_t tx, const char *path)
{
    struct pl p = {.n = 0};
    pl_str(&p, path, true);
    return xs_req(c, type, tx, p.b, p.n);
}

static int xs_write(struct conn *c, uint32_t tx, const char *path, const char *val)
{
    struct pl p = {.n = 0};
    pl_str(&p, path, true);
    pl_str(&p, val, false);
    return xs_req(c, XS_WRITE, tx, p.b, p.n);
}

static int xs_read(struct conn *c, uint32_t tx, const char *path)
{
    return xs_path_op(c, XS_READ, tx, path);
}

static int xs_mkdir(struct conn *c, uint32_t tx, const char *path)
{
    return xs_path_op(c, XS_MKDIR, tx, path);
}

/* ENOENT is an answer, not a failure (a read before a script has run, a cleanup rm). */
static int enoent_ok(struct conn *c, int rc)
{
    if (rc == XR_ERR && strcmp(c->err, "ENOENT") == 0) {
        c->errors--;
        return XR_OK;
    }
    return rc;
}

/* libxl's rm: a missing path (or parent) is fine */
static int xs_rm(struct conn *c, uint32_t tx, const char *path)
{
    return enoent_ok(c, xs_path_op(c, XS_RM, tx, path));
}

static int xs_read_opt(struct conn *c, uint32_t tx, const char *path)
{
    return enoent_ok(c, xs_read(c, tx, path));
}

static int xs_dir(struct conn *c, uint32_t tx, const char *path)
{
    return xs_path_op(c, XS_DIRECTORY, tx, path);
}

/* perms: space-separated entries, e.g. "n0 r5". */
static int xs_set_perms(struct conn *c, uint32_t tx, const char *path, const char *perms)
{
    struct pl p = {.n = 0};
    pl_str(&p, path, true);
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%s", perms);
    for (char *save = NULL, *t = strtok_r(tmp, " ", &save); t; t = strtok_r(NULL, " ", &save))
        pl_str(&p, t, true);
    return xs_req(c, XS_SET_PERMS, tx, p.b, p.n);
}

static int xs_watch(struct conn *c, uint32_t type, const char *path, const char *token)
{
    struct pl p = {.n = 0};
    pl_str(&p, path, true);
    pl_str(&p, token, true);
    return xs_req(c, type, 0, p.b, p.n);
}

static int xs_txn_start(struct conn *c, uint32_t *tx)
{
    int rc = xs_req(c, XS_TXN_START, 0, "", 1);
    if (rc == XR_OK)
        *tx = (uint32_t)strtoul(c->reply, NULL, 10);
    return rc;
}

static int xs_txn_end(struct conn *c, uint32_t tx, bool commit)
{
    return xs_req(c, XS_TXN_END, tx, commit ? "T" : "F", 2);
}

/* A transaction whose body is `fn`; retried on EAGAIN (counted in *retries). */
typedef int (*txn_fn)(struct conn *c, uint32_t tx, const void *arg);

static int run_txn(struct conn *c, txn_fn fn, const void *arg, uint64_t *retries)
{
    for (int attempt = 0; attempt < 1000; attempt++) {
        uint32_t tx;
        int rc = xs_txn_start(c, &tx);
        if (rc != XR_OK)
            return rc;
        rc = fn(c, tx, arg);
        if (rc == XR_IO)
            return rc;
        if (rc != XR_OK) {
            char err[sizeof(c->err)], last[sizeof(c->last)];
            memcpy(err, c->err, sizeof(err));
            memcpy(last, c->last, sizeof(last));
            xs_txn_end(c, tx, false);
            memcpy(c->err, err, sizeof(err));     /* report the body's failure */
            memcpy(c->last, last, sizeof(last));
            if (rc != XR_AGAIN)
                return rc;
        } else {
            rc = xs_txn_end(c, tx, true);
            if (rc != XR_AGAIN)
                return rc;
        }
        if (retries)
            (*retries)++;
    }
    return XR_AGAIN;
}

/* ---- measurement helpers -------------------------------------------------------------- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double opt_secs = 2.0;          /* time bound of each timed test */
static long opt_ops = 50000;           /* operation cap of each timed test */
static long opt_lat = 5000;            /* latency samples (cap) */
static int opt_clients = 10;
static int opt_idle = 1000;
static int opt_domains = 1000;
static int opt_mix = 100;
static int opt_verbose;
static const char *opt_only;           /* comma-separated test names, NULL: all */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(double *v, long n, double p)
{
    if (n <= 0)
        return NAN;
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    long i = (long)ceil(p * (double)n) - 1;
    if (i < 0)
        i = 0;
    if (i >= n)
        i = n - 1;
    return v[i];
}

static void note(const char *daemon, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  [%s] ", daemon);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- the tests ------------------------------------------------------------------------ */

enum {
    L_WRITE, L_READ, L_WR, L_WRITE_N, L_TXN, L_IDLE_W50, L_IDLE_W99, L_IDLE_R50, L_IDLE_R99,
    L_POP, L_DOM_W50, L_DOM_W99, L_DOM_R50, L_DOM_R99, L_MIX, L_MIX_REQ, L_NLINES
};

static const struct {
    const char *fmt;    /* label; %d gets the parameter named below */
    int lower_better;   /* latency (µs) and durations: lower is better */
} lines[L_NLINES] = {
    [L_WRITE] = {"write ops/s, 1 client", 0},
    [L_READ] = {"read ops/s, 1 client", 0},
    [L_WR] = {"write+read pairs/s, 1 client", 0},
    [L_WRITE_N] = {"write ops/s, %d clients", 0},
    [L_TXN] = {"txn of 20 writes /s, 1 client", 0},
    [L_IDLE_W50] = {"write p50 us, %d idle conns", 1},
    [L_IDLE_W99] = {"write p99 us, %d idle conns", 1},
    [L_IDLE_R50] = {"read p50 us, %d idle conns", 1},
    [L_IDLE_R99] = {"read p99 us, %d idle conns", 1},
    [L_POP] = {"populate %d domains (txn/s)", 0},
    [L_DOM_W50] = {"write p50 us, %d domains", 1},
    [L_DOM_W99] = {"write p99 us, %d domains", 1},
    [L_DOM_R50] = {"read p50 us, %d domains", 1},
    [L_DOM_R99] = {"read p99 us, %d domains", 1},
    [L_MIX] = {"xl create+destroy domains/s", 0},
    [L_MIX_REQ] = {"  (mix requests/s)", 0},
};

static int line_param(int l)
{
    switch (l) {
    case L_WRITE_N:
        return opt_clients;
    case L_IDLE_W50: case L_IDLE_W99: case L_IDLE_R50: case L_IDLE_R99:
        return opt_idle;
    case L_POP: case L_DOM_W50: case L_DOM_W99: case L_DOM_R50: case L_DOM_R99:
        return opt_domains;
    default:
        return 0;
    }
}

#define MAX_DAEMONS 8

struct daemon {
    const char *name;
    const char *sock;
    double v[L_NLINES];
};

static struct daemon daemons[MAX_DAEMONS];
static int ndaemons;

/* Open a connection, or say why not. */
static bool open_or_note(struct conn *c, const struct daemon *d)
{
    if (conn_open(c, d->sock) == 0)
        return true;
    note(d->name, "cannot connect to %s: %s", d->sock, strerror(errno));
    return false;
}

/* Single-client timed loops. kind 0 write, 1 read, 2 write+read. */
static double t_single(struct daemon *d, int kind)
{
    struct conn c;
    if (!open_or_note(&c, d))
        return NAN;
    char path[64], val[32];
    if (kind == 1) {   /* the keys read below */
        for (int k = 0; k < 100; k++) {
            snprintf(path, sizeof(path), "/bench/s/k%d", k);
            xs_write(&c, 0, path, "initial-value");
        }
    }
    long n = 0;
    double t0 = now(), t1 = t0;
    while (n < opt_ops) {
        snprintf(path, sizeof(path), "/bench/s/k%ld", n % 100);
        int rc = XR_OK;
        if (kind != 1) {
            snprintf(val, sizeof(val), "value-%ld", n);
            rc = xs_write(&c, 0, path, val);
        }
        if (rc == XR_OK && kind != 0)
            rc = xs_read(&c, 0, path);
        if (rc != XR_OK) {
            note(d->name, "request failed (%s)", rc == XR_IO ? "connection" : c.err);
            conn_close(&c);
            return NAN;
        }
        n++;
        if ((n & 63) == 0 && (t1 = now()) - t0 >= opt_secs)
            break;
    }
    t1 = now();
    conn_close(&c);
    return (double)n / (t1 - t0);
}

struct wthread {
    const struct daemon *d;
    int id;
    volatile bool *stop;
    long n;
    int fail;
    pthread_barrier_t *bar;
};

static void *writer_thread(void *arg)
{
    struct wthread *w = arg;
    struct conn c;
    bool ok = conn_open(&c, w->d->sock) == 0;
    pthread_barrier_wait(w->bar);
    if (!ok) {
        w->fail = 1;
        return NULL;
    }
    char path[64], val[32];
    while (!*w->stop && w->n < opt_ops) {
        snprintf(path, sizeof(path), "/bench/c%d/k%ld", w->id, w->n % 100);
        snprintf(val, sizeof(val), "value-%ld", w->n);
        if (xs_write(&c, 0, path, val) != XR_OK) {
            w->fail = 1;
            break;
        }
        w->n++;
    }
    conn_close(&c);
    return NULL;
}

static double t_multi_write(struct daemon *d)
{
    int n = opt_clients;
    struct wthread *w = calloc((size_t)n, sizeof(*w));
    pthread_t *th = calloc((size_t)n, sizeof(*th));
    volatile bool stop = false;
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++) {
        w[i] = (struct wthread){.d = d, .id = i, .stop = &stop, .bar = &bar};
        pthread_create(&th[i], NULL, writer_thread, &w[i]);
    }
    pthread_barrier_wait(&bar);
    double t0 = now();
    while (now() - t0 < opt_secs) {
        usleep(10000);
        long total = 0;
        for (int i = 0; i < n; i++)
            total += w[i].n;
        if (total >= opt_ops * n)
            break;
    }
    stop = true;
    long total = 0;
    int fail = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        total += w[i].n;
        fail |= w[i].fail;
    }
    double t1 = now();
    pthread_barrier_destroy(&bar);
    free(w);
    free(th);
    if (fail) {
        note(d->name, "a writer failed");
        return NAN;
    }
    return (double)total / (t1 - t0);
}

static int txn20_body(struct conn *c, uint32_t tx, const void *arg)
{
    long n = *(const long *)arg;
    char path[64], val[32];
    for (int i = 0; i < 20; i++) {
        snprintf(path, sizeof(path), "/bench/t/k%d", i);
        snprintf(val, sizeof(val), "v%ld-%d", n, i);
        int rc = xs_write(c, tx, path, val);
        if (rc != XR_OK)
            return rc;
    }
    return XR_OK;
}

static double t_txn(struct daemon *d)
{
    struct conn c;
    if (!open_or_note(&c, d))
        return NAN;
    long n = 0;
    uint64_t retries = 0;
    double t0 = now();
    while (n < opt_ops / 20) {
        int rc = run_txn(&c, txn20_body, &n, &retries);
        if (rc != XR_OK) {
            note(d->name, "transaction failed (%s)", rc == XR_IO ? "connection" : c.err);
            conn_close(&c);
            return NAN;
        }
        n++;
        if ((n & 7) == 0 && now() - t0 >= opt_secs)
            break;
    }
    double t1 = now();
    conn_close(&c);
    return (double)n / (t1 - t0);
}

/* p50/p99 of writes and reads of `path_of(i)` on one connection: out[0..3] = w50 w99 r50 r99. */
static void latency(struct daemon *d, struct conn *c, void (*path_of)(long, char *, size_t),
                    double out[4])
{
    double *wl = malloc(sizeof(double) * (size_t)opt_lat);
    double *rl = malloc(sizeof(double) * (size_t)opt_lat);
    long n = 0;
    char path[96], val[32];
    double t0 = now();
    bool failed = false;
    while (n < opt_lat) {
        path_of(n, path, sizeof(path));
        snprintf(val, sizeof(val), "%ld", n);
        double a = now();
        int rc = xs_write(c, 0, path, val);
        double b = now();
        if (rc == XR_OK)
            rc = xs_read(c, 0, path);
        double e = now();
        if (rc != XR_OK) {
            note(d->name, "latency request failed (%s)", rc == XR_IO ? "connection" : c->err);
            failed = true;
            break;
        }
        wl[n] = (b - a) * 1e6;
        rl[n] = (e - b) * 1e6;
        n++;
        if ((n & 63) == 0 && now() - t0 >= opt_secs)
            break;
    }
    if (failed)
        n = 0;
    out[0] = percentile(wl, n, 0.50);
    out[1] = percentile(wl, n, 0.99);
    out[2] = percentile(rl, n, 0.50);
    out[3] = percentile(rl, n, 0.99);
    free(wl);
    free(rl);
}

static void idle_path(long i, char *p, size_t n)
{
    snprintf(p, n, "/bench/l/k%ld", i % 100);
}

static void t_idle(struct daemon *d)
{
    struct conn *idle = calloc((size_t)opt_idle, sizeof(*idle));
    int opened = 0;
    double res[4] = {NAN, NAN, NAN, NAN};
    for (; opened < opt_idle; opened++) {
        if (conn_open(&idle[opened], d->sock) < 0) {
            note(d->name, "idle connection %d: %s", opened, strerror(errno));
            break;
        }
        /* one request, so the daemon has surely accepted and set it up */
        if (xs_req(&idle[opened], XS_GET_DOMAIN_PATH, 0, "0", 2) != XR_OK) {
            note(d->name, "idle connection %d: no reply", opened);
            opened++;
            break;
        }
    }
    struct conn c;
    if (opened == opt_idle && open_or_note(&c, d)) {
        latency(d, &c, idle_path, res);
        conn_close(&c);
    }
    for (int i = 0; i < opened; i++)
        conn_close(&idle[i]);
    free(idle);
    memcpy(&d->v[L_IDLE_W50], res, sizeof(res));
}

/* ~20 nodes per domain, the shape libxl leaves for a PVH guest with a disk and a vif. */
static int populate_body(struct conn *c, uint32_t tx, const void *arg)
{
    int dom = *(const int *)arg;
    static const char *const keys[][2] = {
        {"name", "guest"}, {"domid", ""}, {"vm", "/vm/0"}, {"memory/target", "262144"},
        {"memory/static-max", "262144"}, {"cpu/0/availability", "online"},
        {"control/shutdown", ""}, {"control/feature-poweroff", "1"},
        {"store/port", "1"}, {"store/ring-ref", "1044476"},
        {"console/port", "2"}, {"console/ring-ref", "1044479"},
        {"device/vbd/51712/backend", "/local/domain/0/backend/vbd/N/51712"},
        {"device/vbd/51712/backend-id", "0"}, {"device/vbd/51712/state", "4"},
        {"device/vbd/51712/virtual-device", "51712"}, {"device/vbd/51712/ring-ref", "8"},
        {"device/vif/0/backend", "/local/domain/0/backend/vif/N/0"},
        {"device/vif/0/state", "4"}, {"device/vif/0/mac", "00:16:3e:00:00:01"},
        {"data", ""},
    };
    char path[96];
    int rc;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        snprintf(path, sizeof(path), "/local/domain/%d/%s", dom, keys[i][0]);
        if ((rc = xs_write(c, tx, path, keys[i][1])) != XR_OK)
            return rc;
    }
    snprintf(path, sizeof(path), "/local/domain/%d", dom);
    return xs_set_perms(c, tx, path, "n0 r1");
}

static void dom_path(long i, char *p, size_t n)
{
    unsigned long x = (unsigned long)i * 2654435761u;
    snprintf(p, n, "/local/domain/%lu/device/vbd/51712/state",
             1 + (x >> 8) % (unsigned long)opt_domains);
}

static void t_domains(struct daemon *d)
{
    double res[4] = {NAN, NAN, NAN, NAN};
    struct conn c;
    if (!open_or_note(&c, d))
        return;
    double t0 = now();
    uint64_t retries = 0;
    int dom;
    for (dom = 1; dom <= opt_domains; dom++) {
        int rc = run_txn(&c, populate_body, &dom, &retries);
        if (rc != XR_OK) {
            note(d->name, "populating domain %d failed (%s)", dom,
                 rc == XR_IO ? "connection" : c.err);
            break;
        }
    }
    if (dom > opt_domains) {
        d->v[L_POP] = opt_domains / (now() - t0);
        latency(d, &c, dom_path, res);
    }
    conn_close(&c);
    memcpy(&d->v[L_DOM_W50], res, sizeof(res));
}

/* ---- xl create + xl destroy ----------------------------------------------------------- */

struct mixdom {
    int dom;
    char dp[48];          /* /local/domain/D */
    char vm[64];          /* /vm/UUID */
    char lx[32];          /* /libxl/D */
};

#define TRY(x)                  \
    do {                        \
        int rc_ = (x);          \
        if (rc_ != XR_OK)        \
            return rc_;         \
    } while (0)

static int wr(struct conn *c, uint32_t tx, const char *a, const char *b, const char *val)
{
    char p[160];
    snprintf(p, sizeof(p), "%s/%s", a, b);
    return xs_write(c, tx, p, val);
}

/* libxl__domain_make: the domain's directories and their permissions. */
static int mk_domain(struct conn *c, uint32_t tx, const void *arg)
{
    const struct mixdom *m = arg;
    char owner[16], rd[24], p[160];
    /* libxl makes the guest the owner ("b<domid>"); C xenstored refuses an owner that is not
     * a running domain (ENOENT), and without a hypervisor only dom0 runs: dom0 owns, the
     * guest gets an entry of the same size */
    snprintf(owner, sizeof(owner), "n0 b%d", m->dom);
    snprintf(rd, sizeof(rd), "n0 r%d", m->dom);
    TRY(xs_rm(c, tx, m->dp));
    TRY(xs_mkdir(c, tx, m->dp));
    TRY(xs_set_perms(c, tx, m->dp, rd));
    TRY(xs_rm(c, tx, m->vm));
    TRY(xs_mkdir(c, tx, m->vm));
    TRY(xs_set_perms(c, tx, m->vm, rd));
    TRY(xs_rm(c, tx, m->lx));
    TRY(xs_mkdir(c, tx, m->lx));
    TRY(xs_set_perms(c, tx, m->lx, "n0"));
    static const char *const ro[] = {"device", "control", "device/suspend", "memory"};
    for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", m->dp, ro[i]);
        TRY(xs_mkdir(c, tx, p));
        TRY(xs_set_perms(c, tx, p, rd));
    }
    static const char *const rw[] = {"data", "drivers", "feature", "attr", "error"};
    for (size_t i = 0; i < sizeof(rw) / sizeof(rw[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", m->dp, rw[i]);
        TRY(xs_mkdir(c, tx, p));
        TRY(xs_set_perms(c, tx, p, owner));
    }
    snprintf(p, sizeof(p), "%s/control/shutdown", m->dp);
    TRY(xs_write(c, tx, p, ""));
    TRY(xs_set_perms(c, tx, p, owner));
    TRY(wr(c, tx, m->dp, "control/platform-feature-multiprocessor-suspend", "1"));
    TRY(wr(c, tx, m->dp, "control/platform-feature-xs_reset_watches", "1"));
    TRY(wr(c, tx, m->dp, "vm", m->vm));
    TRY(wr(c, tx, m->dp, "vss", m->vm));
    snprintf(p, sizeof(p), "guest%d", m->dom);
    TRY(wr(c, tx, m->dp, "name", p));
    TRY(wr(c, tx, m->vm, "uuid", m->vm + 4));
    TRY(wr(c, tx, m->vm, "name", p));
    TRY(wr(c, tx, m->vm, "start_time", "1700000000.00"));
    TRY(wr(c, tx, m->lx, "type", "pvh"));
    return wr(c, tx, m->lx, "dm-version", "qemu_xen");
}

/* libxl__build_post: memory, store and console parameters, vcpus. */
static int build_post(struct conn *c, uint32_t tx, const void *arg)
{
    const struct mixdom *m = arg;
    static const char *const kv[][2] = {
        {"memory/static-max", "262144"}, {"memory/target", "261120"},
        {"memory/videoram", "-1"}, {"store/port", "1"}, {"store/ring-ref", "1044476"},
        {"console/port", "2"}, {"console/ring-ref", "1044479"}, {"console/limit", "1048576"},
        {"console/type", "xenconsoled"}, {"console/output", "pty"},
        {"cpu/0/availability", "online"}, {"cpu/1/availability", "online"},
        {"device/suspend/event-channel", ""}, {"image/ostype", "linux"},
    };
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        TRY(wr(c, tx, m->dp, kv[i][0], kv[i][1]));
    return XR_OK;
}

struct dev {
    const struct mixdom *m;
    const char *kind;        /* vbd, vif, console */
    int devid;
    char be[96], fe[96], lx[96];
};

static void dev_init(struct dev *v, const struct mixdom *m, const char *kind, int devid)
{
    v->m = m;
    v->kind = kind;
    v->devid = devid;
    snprintf(v->be, sizeof(v->be), "/local/domain/0/backend/%s/%d/%d", kind, m->dom, devid);
    if (strcmp(kind, "console") == 0)
        snprintf(v->fe, sizeof(v->fe), "%s/console", m->dp);
    else
        snprintf(v->fe, sizeof(v->fe), "%s/device/%s/%d", m->dp, kind, devid);
    snprintf(v->lx, sizeof(v->lx), "%s/device/%s/%d", m->lx, kind, devid);
}

/* libxl__device_generic_add: frontend, backend and libxl's copy, in one transaction. */
static int dev_add(struct conn *c, uint32_t tx, const void *arg)
{
    const struct dev *v = arg;
    int dom = v->m->dom;
    char fe_perm[24], be_perm[24], num[16];
    snprintf(fe_perm, sizeof(fe_perm), "n0 b%d", dom);   /* see mk_domain */
    snprintf(be_perm, sizeof(be_perm), "n0 r%d", dom);
    snprintf(num, sizeof(num), "%d", dom);
    static const char *const be_vbd[][2] = {
        {"frontend-id", ""}, {"online", "1"}, {"removable", "0"}, {"bootable", "1"},
        {"state", "1"}, {"dev", "xvda"}, {"type", "phy"}, {"mode", "w"},
        {"device-type", "disk"}, {"discard-enable", "1"}, {"params", "/tmp/d.img"},
        {"script", "/etc/xen/scripts/block"},
    };
    static const char *const be_vif[][2] = {
        {"frontend-id", ""}, {"online", "1"}, {"state", "1"},
        {"script", "/etc/xen/scripts/vif-bridge"}, {"mac", "00:16:3e:5a:01:02"},
        {"bridge", "xenbr0"}, {"handle", "0"}, {"type", "vif"},
    };
    static const char *const be_con[][2] = {
        {"frontend-id", ""}, {"online", "1"}, {"state", "1"}, {"protocol", "vt100"},
    };
    static const char *const fe_vbd[][2] = {
        {"backend-id", "0"}, {"state", "1"}, {"virtual-device", "51712"},
        {"device-type", "disk"}, {"trusted", "1"},
    };
    static const char *const fe_vif[][2] = {
        {"backend-id", "0"}, {"state", "1"}, {"handle", "0"}, {"mac", "00:16:3e:5a:01:02"},
        {"mtu", "1500"}, {"trusted", "1"},
    };
    static const char *const fe_con[][2] = {
        {"backend-id", "0"}, {"limit", "1048576"}, {"type", "xenconsoled"},
        {"output", "pty"}, {"tty", ""},
    };
    const char *const(*bk)[2], *const(*fk)[2];
    size_t nb, nf;
    if (strcmp(v->kind, "vbd") == 0) {
        bk = be_vbd, nb = sizeof(be_vbd) / sizeof(be_vbd[0]);
        fk = fe_vbd, nf = sizeof(fe_vbd) / sizeof(fe_vbd[0]);
    } else if (strcmp(v->kind, "vif") == 0) {
        bk = be_vif, nb = sizeof(be_vif) / sizeof(be_vif[0]);
        fk = fe_vif, nf = sizeof(fe_vif) / sizeof(fe_vif[0]);
    } else {
        bk = be_con, nb = sizeof(be_con) / sizeof(be_con[0]);
        fk = fe_con, nf = sizeof(fe_con) / sizeof(fe_con[0]);
    }
    TRY(xs_rm(c, tx, v->fe));
    TRY(xs_mkdir(c, tx, v->fe));
    TRY(xs_set_perms(c, tx, v->fe, fe_perm));
    TRY(wr(c, tx, v->fe, "backend", v->be));
    TRY(xs_rm(c, tx, v->be));
    TRY(xs_mkdir(c, tx, v->be));
    TRY(xs_set_perms(c, tx, v->be, be_perm));
    TRY(wr(c, tx, v->be, "frontend", v->fe));
    for (size_t i = 0; i < nb; i++)
        TRY(wr(c, tx, v->be, bk[i][0], bk[i][1][0] ? bk[i][1] : num));
    for (size_t i = 0; i < nf; i++)
        TRY(wr(c, tx, v->fe, fk[i][0], fk[i][1]));
    TRY(xs_rm(c, tx, v->lx));
    TRY(wr(c, tx, v->lx, "frontend", v->fe));
    TRY(wr(c, tx, v->lx, "backend", v->be));
    for (size_t i = 0; i < nb && i < 6; i++)
        TRY(wr(c, tx, v->lx, bk[i][0], bk[i][1][0] ? bk[i][1] : num));
    return XR_OK;
}

/* The backend comes up (blkback/netback InitWait) and the hotplug script runs, while libxl
 * waits on watches of the backend's state and hotplug-status. */
static int dev_hotplug(struct conn *c, const struct dev *v)
{
    char p[160], tok[64];
    snprintf(p, sizeof(p), "%s/state", v->be);
    snprintf(tok, sizeof(tok), "state-%s-%d", v->kind, v->m->dom);
    TRY(xs_watch(c, XS_WATCH, p, tok));
    TRY(xs_read(c, 0, p));
    TRY(wr(c, 0, v->be, "state", "2"));       /* the backend driver */
    TRY(xs_read(c, 0, p));
    TRY(xs_watch(c, XS_UNWATCH, p, tok));
    snprintf(p, sizeof(p), "%s/hotplug-status", v->be);
    TRY(xs_watch(c, XS_WATCH, p, tok));
    TRY(xs_read_opt(c, 0, p));                 /* ENOENT until the script has run */
    if (strcmp(v->kind, "vbd") == 0) {         /* the block script */
        snprintf(p, sizeof(p), "%s/params", v->be);
        TRY(xs_read(c, 0, p));
        TRY(wr(c, 0, v->be, "physical-device", "7:0"));
        TRY(wr(c, 0, v->be, "physical-device-path", "/dev/loop0"));
    } else {                                   /* vif-bridge */
        snprintf(p, sizeof(p), "%s/bridge", v->be);
        TRY(xs_read(c, 0, p));
        TRY(wr(c, 0, v->be, "vifname", "vif1.0"));
    }
    TRY(wr(c, 0, v->be, "hotplug-status", "connected"));
    snprintf(p, sizeof(p), "%s/hotplug-status", v->be);
    TRY(xs_read(c, 0, p));
    return xs_watch(c, XS_UNWATCH, p, tok);
}

/* libxl__initiate_device_generic_remove: read the state, switch the backend off. */
static int dev_off(struct conn *c, uint32_t tx, const void *arg)
{
    const struct dev *v = arg;
    char p[160];
    snprintf(p, sizeof(p), "%s/state", v->be);
    TRY(xs_read(c, tx, p));
    TRY(wr(c, tx, v->be, "online", "0"));
    return wr(c, tx, v->be, "state", "5");
}

static int dev_rm(struct conn *c, uint32_t tx, const void *arg)
{
    const struct dev *v = arg;
    TRY(xs_rm(c, tx, v->fe));
    TRY(xs_rm(c, tx, v->be));
    return xs_rm(c, tx, v->lx);
}

static int dev_remove(struct conn *c, const struct dev *v, uint64_t *retries)
{
    char p[160], tok[64];
    TRY(run_txn(c, dev_off, v, retries));
    snprintf(p, sizeof(p), "%s/state", v->be);
    snprintf(tok, sizeof(tok), "off-%s-%d", v->kind, v->m->dom);
    TRY(xs_watch(c, XS_WATCH, p, tok));
    TRY(wr(c, 0, v->be, "state", "6"));       /* the backend closes */
    TRY(xs_read(c, 0, p));
    TRY(xs_watch(c, XS_UNWATCH, p, tok));
    if (strcmp(v->kind, "console") != 0) {     /* the hotplug script's offline run */
        snprintf(p, sizeof(p), "%s/physical-device", v->be);
        TRY(xs_read_opt(c, 0, p));
        snprintf(p, sizeof(p), "%s/hotplug-status", v->be);
        TRY(xs_rm(c, 0, p));
    }
    return run_txn(c, dev_rm, v, retries);
}

static int rm_domain(struct conn *c, uint32_t tx, const void *arg)
{
    const struct mixdom *m = arg;
    char p[96];
    TRY(xs_rm(c, tx, m->dp));
    TRY(xs_rm(c, tx, m->vm));
    TRY(xs_rm(c, tx, m->lx));
    static const char *const kinds[] = {"vbd", "vif", "console"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "/local/domain/0/backend/%s/%d", kinds[i], m->dom);
        TRY(xs_rm(c, tx, p));
    }
    return XR_OK;
}

static int xl_create_destroy(struct conn *c, int dom, uint64_t *retries)
{
    struct mixdom m = {.dom = dom};
    snprintf(m.dp, sizeof(m.dp), "/local/domain/%d", dom);
    snprintf(m.vm, sizeof(m.vm), "/vm/6a1e7f2c-0000-4000-8000-%012d", dom);
    snprintf(m.lx, sizeof(m.lx), "/libxl/%d", dom);
    char num[16], p[160];
    snprintf(num, sizeof(num), "%d", dom);
    /* create */
    TRY(xs_req(c, XS_GET_DOMAIN_PATH, 0, num, strlen(num) + 1));
    TRY(run_txn(c, mk_domain, &m, retries));
    TRY(wr(c, 0, m.dp, "domid", num));         /* after XS_INTRODUCE (not sent: no rings) */
    TRY(run_txn(c, build_post, &m, retries));
    struct dev devs[3];
    dev_init(&devs[0], &m, "console", 0);
    dev_init(&devs[1], &m, "vbd", 51712);
    dev_init(&devs[2], &m, "vif", 0);
    for (int i = 0; i < 3; i++)
        TRY(run_txn(c, dev_add, &devs[i], retries));
    for (int i = 1; i < 3; i++)
        TRY(dev_hotplug(c, &devs[i]));
    snprintf(p, sizeof(p), "%s/name", m.dp);
    TRY(xs_read(c, 0, p));
    /* destroy */
    TRY(xs_read(c, 0, p));
    snprintf(p, sizeof(p), "%s/type", m.lx);
    TRY(xs_read(c, 0, p));
    snprintf(p, sizeof(p), "%s/device", m.lx);
    TRY(xs_dir(c, 0, p));
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/device/%s", m.lx, devs[i].kind);
        TRY(xs_dir(c, 0, p));
    }
    for (int i = 2; i >= 0; i--)
        TRY(dev_remove(c, &devs[i], retries));
    return run_txn(c, rm_domain, &m, retries);
}

struct mixthread {
    const struct daemon *d;
    int first, count;
    uint64_t requests, events, retries;
    int fail;
    char err[160];
    pthread_barrier_t *bar;
};

static void *mix_thread(void *arg)
{
    struct mixthread *t = arg;
    struct conn c;
    bool ok = conn_open(&c, t->d->sock) == 0;
    pthread_barrier_wait(t->bar);
    if (!ok) {
        t->fail = 1;
        snprintf(t->err, sizeof(t->err), "connect");
        return NULL;
    }
    for (int i = 0; i < t->count; i++) {
        int rc = xl_create_destroy(&c, t->first + i, &t->retries);
        if (rc != XR_OK) {
            t->fail = 1;
            snprintf(t->err, sizeof(t->err), "domain %d: %s after %s", t->first + i,
                     rc == XR_IO ? "connection" : c.err, c.last);
            break;
        }
    }
    t->requests = c.requests;
    t->events = c.events;
    conn_close(&c);
    return NULL;
}

static void t_mix(struct daemon *d)
{
    int n = opt_clients < opt_mix ? opt_clients : opt_mix;
    struct mixthread *t = calloc((size_t)n, sizeof(*t));
    pthread_t *th = calloc((size_t)n, sizeof(*th));
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)n + 1);
    int next = 0;
    for (int i = 0; i < n; i++) {
        int cnt = opt_mix / n + (i < opt_mix % n);
        t[i] = (struct mixthread){.d = d, .first = 10001 + next, .count = cnt, .bar = &bar};
        next += cnt;
        pthread_create(&th[i], NULL, mix_thread, &t[i]);
    }
    pthread_barrier_wait(&bar);
    double t0 = now();
    uint64_t req = 0, ev = 0, retries = 0;
    int fail = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        req += t[i].requests;
        ev += t[i].events;
        retries += t[i].retries;
        if (t[i].fail && !fail) {
            fail = 1;
            note(d->name, "xl mix failed: %s", t[i].err);
        }
    }
    double dt = now() - t0;
    pthread_barrier_destroy(&bar);
    free(t);
    free(th);
    if (fail)
        return;
    d->v[L_MIX] = opt_mix / dt;
    d->v[L_MIX_REQ] = (double)req / dt;
    note(d->name, "xl mix: %d domains in %.2f s, %.0f requests/domain, %llu watch events, "
         "%llu transaction retries (EAGAIN)", opt_mix, dt, (double)req / opt_mix,
         (unsigned long long)ev, (unsigned long long)retries);
}

static void cleanup(struct daemon *d)
{
    struct conn c;
    if (conn_open(&c, d->sock) == 0) {
        xs_rm(&c, 0, "/bench");
        conn_close(&c);
    }
}

/* ---- the table ------------------------------------------------------------------------ */

static int find_daemon(const char *name)
{
    for (int i = 0; i < ndaemons; i++)
        if (strcmp(daemons[i].name, name) == 0)
            return i;
    return -1;
}

static void fmt_val(char *buf, size_t n, double v)
{
    if (isnan(v))
        snprintf(buf, n, "-");
    else if (v >= 100)
        snprintf(buf, n, "%.0f", v);
    else
        snprintf(buf, n, "%.1f", v);
}

static void print_table(void)
{
    int ref[2] = {find_daemon("C"), find_daemon("ox")};
    const char *refname[2] = {"C", "ox"};
    /* ratio columns: each daemon whose name starts with "vxs", against C and ox */
    int rc_d[2 * MAX_DAEMONS], rc_r[2 * MAX_DAEMONS], nr = 0;
    for (int i = 0; i < ndaemons; i++) {
        if (strncmp(daemons[i].name, "vxs", 3) != 0)
            continue;
        for (int r = 0; r < 2; r++)
            if (ref[r] >= 0) {
                rc_d[nr] = i;
                rc_r[nr] = r;
                nr++;
            }
    }
    printf("\n%-34s", "");
    for (int i = 0; i < ndaemons; i++)
        printf(" %10s", daemons[i].name);
    for (int k = 0; k < nr; k++) {
        char h[32];
        const char *s = daemons[rc_d[k]].name;
        if (strncmp(s, "vxs-", 4) == 0)
            s += 4;
        snprintf(h, sizeof(h), "%s/%s", s, refname[rc_r[k]]);
        printf(" %9s", h);
    }
    printf("\n");
    for (int l = 0; l < L_NLINES; l++) {
        char label[64], v[32];
        snprintf(label, sizeof(label), lines[l].fmt, line_param(l));
        printf("%-34s", label);
        for (int i = 0; i < ndaemons; i++) {
            fmt_val(v, sizeof(v), daemons[i].v[l]);
            printf(" %10s", v);
        }
        for (int k = 0; k < nr; k++) {
            double a = daemons[rc_d[k]].v[l], b = daemons[ref[rc_r[k]]].v[l];
            double r = lines[l].lower_better ? b / a : a / b;
            if (isnan(r) || isinf(r))
                printf(" %9s", "-");
            else
                printf(" %8.2fx", r);
        }
        printf("\n");
    }
    if (nr)
        printf("\nratio columns: vxenstored (batch, none) against C xenstored and oxenstored, as "
               "a speed-up: > 1 means vxenstored is faster (higher ops/s, lower us).\n");
}

/* ---- exec with setrlimit(RLIMIT_NOFILE) ignored ---------------------------------------- */

static int exec_nofile_ok(char **argv)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_setrlimit, 7, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_prlimit64, 0, 9),
        /* prlimit64(pid, resource, new, old): only a NOFILE change with new != NULL */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2]) + 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 0),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
        BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, RLIMIT_NOFILE, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
        perror("xenstored_bench: seccomp");
        return 1;
    }
    execvp(argv[0], argv);
    fprintf(stderr, "xenstored_bench: %s: %s\n", argv[0], strerror(errno));
    return 127;
}

/* ---- main ----------------------------------------------------------------------------- */

static bool in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == 0))
            return true;
    return false;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: xenstored_bench [--secs S] [--ops N] [--lat N] [--clients N] [--idle N]\n"
            "                       [--domains N] [--mix-domains N] [--quick] [-v]\n"
            "                       [--only single,clients,txn,idle,domains,mix] NAME=SOCKET...\n"
            "       xenstored_bench --exec-nofile-ok PROG [ARGS...]\n"
            "Ratio columns compare daemons named vxs* with those named C and ox.\n");
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "--exec-nofile-ok") == 0)
        return exec_nofile_ok(argv + 2);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--secs") == 0 && v) {
            opt_secs = atof(v), i++;
        } else if (strcmp(a, "--ops") == 0 && v) {
            opt_ops = atol(v), i++;
        } else if (strcmp(a, "--lat") == 0 && v) {
            opt_lat = atol(v), i++;
        } else if (strcmp(a, "--clients") == 0 && v) {
            opt_clients = atoi(v), i++;
        } else if (strcmp(a, "--idle") == 0 && v) {
            opt_idle = atoi(v), i++;
        } else if (strcmp(a, "--domains") == 0 && v) {
            opt_domains = atoi(v), i++;
        } else if (strcmp(a, "--mix-domains") == 0 && v) {
            opt_mix = atoi(v), i++;
        } else if (strcmp(a, "--quick") == 0) {
            opt_secs = 0.3, opt_lat = 1000, opt_idle = 200, opt_domains = 200, opt_mix = 20;
        } else if (strcmp(a, "--only") == 0 && v) {
            opt_only = v, i++;
        } else if (strcmp(a, "-v") == 0) {
            opt_verbose = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (a[0] != '-' && strchr(a, '=') && ndaemons < MAX_DAEMONS) {
            char *s = strdup(a), *eq = strchr(s, '=');
            *eq = 0;
            daemons[ndaemons].name = s;
            daemons[ndaemons].sock = eq + 1;
            for (int l = 0; l < L_NLINES; l++)
                daemons[ndaemons].v[l] = NAN;
            ndaemons++;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (ndaemons == 0 || opt_clients < 1 || opt_ops < 1 || opt_lat < 1 || opt_idle < 0 ||
        opt_domains < 1 || opt_mix < 1 || opt_secs <= 0) {
        usage(stderr);
        return 2;
    }
    /* the idle connections need descriptors */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)opt_idle + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    static const char *const titles[] = {
        "single client: write, read, write+read", "10 clients writing",
        "transactions of 20 writes", "idle connections", "1,000 domains of nodes",
        "xl create + destroy mix",
    };
    static const char *const names[] = {"single", "clients", "txn", "idle", "domains", "mix"};
    for (int test = 0; test < 6; test++) {
        if (opt_only && !in_list(opt_only, names[test]))
            continue;
        fprintf(stderr, "xenstored bench: %s\n", titles[test]);
        for (int i = 0; i < ndaemons; i++) {
            struct daemon *d = &daemons[i];
            double t0 = now();
            switch (test) {
            case 0:
                d->v[L_WRITE] = t_single(d, 0);
                d->v[L_READ] = t_single(d, 1);
                d->v[L_WR] = t_single(d, 2);
                break;
            case 1:
                d->v[L_WRITE_N] = t_multi_write(d);
                break;
            case 2:
                d->v[L_TXN] = t_txn(d);
                cleanup(d);
                break;
            case 3:
                t_idle(d);
                cleanup(d);
                break;
            case 4:
                t_domains(d);
                break;
            case 5:
                t_mix(d);
                break;
            }
            if (opt_verbose)
                note(d->name, "%.1f s", now() - t0);
        }
    }
    print_table();
    return 0;
}
