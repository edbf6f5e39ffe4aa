/* The xenstored bench's basic tests: single client, several writers, transactions, latency
 * with idle connections and among many domains' nodes (see xenstored_bench.c). */
#include "xenstored_bench.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Open a connection, or say why not. */
bool open_or_note(struct conn *c, const struct daemon *d)
{
    if (conn_open(c, d->sock) == 0)
        return true;
    note(d->name, "cannot connect to %s: %s", d->sock, strerror(errno));
    return false;
}

/* Single-client timed loops. kind 0 write, 1 read, 2 write+read. */
double t_single(struct daemon *d, int kind)
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

double t_multi_write(struct daemon *d)
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

double t_txn(struct daemon *d)
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

void t_idle(struct daemon *d)
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

void t_domains(struct daemon *d)
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

void cleanup(struct daemon *d)
{
    struct conn c;
    if (conn_open(&c, d->sock) == 0) {
        xs_rm(&c, 0, "/bench");
        conn_close(&c);
    }
}
