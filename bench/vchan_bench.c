/*
 * vchan_bench: our dom0 vchan (xkvchan) against the real libxenvchan, in the same run and
 * under the same LD_PRELOAD shim (bench/run.sh sets it up with xenstored), for ring orders
 * 10 (10/11: in-page rings), 12 and 16:
 *   - throughput of 64-byte, 4 KiB and 1 MiB messages (blocking write / blocking read);
 *   - ping-pong latency of a 64-byte message (send, echo, recv);
 * and the machine's memcpy bandwidth (1 MiB blocks) as the limit: a vchan copies every byte
 * twice (into the ring, out of it), on two CPUs in parallel.
 * The server is this process, the client a forked child; both use blocking calls.
 * VCHAN_BENCH_ORDERS="16" (a list of 10, 12, 16) runs only those rows.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libxenvchan.h>

#include "vchan/xkvchan.h"

struct chan {
    int ours;
    struct xkvchan *x;
    struct libxenvchan *l;
};

static int ch_read(struct chan *c, void *b, size_t n)
{
    return c->ours ? xkvchan_read(c->x, b, n) : libxenvchan_read(c->l, b, n);
}

static int ch_write(struct chan *c, const void *b, size_t n)
{
    return c->ours ? xkvchan_write(c->x, b, n) : libxenvchan_write(c->l, b, n);
}

static int ch_recv(struct chan *c, void *b, size_t n)
{
    return c->ours ? xkvchan_recv(c->x, b, n) : libxenvchan_recv(c->l, b, n);
}

static int ch_send(struct chan *c, const void *b, size_t n)
{
    return c->ours ? xkvchan_send(c->x, b, n) : libxenvchan_send(c->l, b, n);
}

static void ch_close(struct chan *c)
{
    if (c->ours)
        xkvchan_close(c->x);
    else
        libxenvchan_close(c->l);
}

static int ch_server(struct chan *c, int ours, const char *path, unsigned order)
{
    memset(c, 0, sizeof(*c));
    c->ours = ours;
    size_t lmin = order == 10 ? 1024 : (size_t)1 << order;
    size_t rmin = order == 10 ? 2048 : (size_t)1 << order;
    if (ours) {
        c->x = xkvchan_server_init(0, path, lmin, rmin);
        if (c->x)
            xkvchan_set_blocking(c->x, true);
        return c->x ? 0 : -1;
    }
    c->l = libxenvchan_server_init(NULL, 0, path, lmin, rmin);
    if (c->l)
        c->l->blocking = 1;
    return c->l ? 0 : -1;
}

static int ch_client(struct chan *c, int ours, const char *path)
{
    memset(c, 0, sizeof(*c));
    c->ours = ours;
    if (ours) {
        c->x = xkvchan_client_init(0, path);
        if (c->x)
            xkvchan_set_blocking(c->x, true);
        return c->x ? 0 : -1;
    }
    c->l = libxenvchan_client_init(NULL, 0, path);
    if (c->l)
        c->l->blocking = 1;
    return c->l ? 0 : -1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static unsigned run_id;
static int verify;      /* VCHAN_BENCH_VERIFY=1: check every byte (slow) */

/* kind 0: throughput (client sends total bytes in msg-sized writes, server reads);
 * kind 1: ping-pong (rounds of msg bytes). Returns MB/s or us per round trip. */
static double run(int ours, unsigned order, int kind, size_t msg, size_t total)
{
    char path[128];
    snprintf(path, sizeof(path), "/local/domain/0/data/vchan/0/bench%d-%u", (int)getpid(), run_id++);
    struct chan s;
    if (ch_server(&s, ours, path, order) < 0) {
        perror("server init");
        exit(1);
    }
    uint8_t *buf = malloc(msg > 65536 ? msg : 65536);
    memset(buf, 0x3c, msg > 65536 ? msg : 65536);
    pid_t pid = fork();
    if (pid == 0) {
        struct chan c;
        if (ch_client(&c, ours, path) < 0) {
            perror("client init");
            _exit(1);
        }
        if (kind == 0) {
            for (size_t done = 0; done < total; done += msg) {
                if (verify)
                    for (size_t i = 0; i < msg; i++)
                        buf[i] = (uint8_t)((done + i) * 2654435761u >> 13);
                if (ch_write(&c, buf, msg) != (int)msg)
                    _exit(2);
            }
            /* wait for the last byte to be read (the server answers with one byte) */
            if (ch_read(&c, buf, 1) != 1)
                _exit(3);
        } else {
            for (size_t i = 0; i < total; i++) {
                if (ch_send(&c, buf, msg) != (int)msg || ch_recv(&c, buf, msg) != (int)msg)
                    _exit(4);
            }
        }
        ch_close(&c);
        _exit(0);
    }
    double t0 = 0, t1;
    if (kind == 0) {
        size_t got = 0;
        while (got < total) {
            size_t want = total - got < 65536 ? total - got : 65536;
            if (want > msg && msg >= 4096)
                want = msg;
            int n = ch_read(&s, buf, want);
            if (n <= 0) {
                fprintf(stderr, "read failed\n");
                exit(1);
            }
            if (got == 0)
                t0 = now();
            if (verify)
                for (int i = 0; i < n; i++)
                    if (buf[i] != (uint8_t)((got + (size_t)i) * 2654435761u >> 13)) {
                        fprintf(stderr, "data mismatch at byte %zu\n", got + (size_t)i);
                        exit(1);
                    }
            got += (size_t)n;
        }
        t1 = now();
        ch_write(&s, buf, 1);
    } else {
        for (size_t i = 0; i < total; i++) {
            if (ch_recv(&s, buf, msg) != (int)msg || ch_send(&s, buf, msg) != (int)msg) {
                fprintf(stderr, "ping-pong failed\n");
                exit(1);
            }
            if (i == 0)
                t0 = now();     /* the first round includes the connection: skip it */
        }
        t1 = now();
    }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "client failed (%d)\n", st);
        exit(1);
    }
    ch_close(&s);
    free(buf);
    if (kind == 0)
        return (double)total / (t1 - t0) / 1e6;
    return (t1 - t0) / (double)(total - 1) * 1e6;
}

static double memcpy_bw(size_t n)
{
    uint8_t *a = malloc(n), *b = malloc(n);
    memset(a, 1, n);
    memset(b, 2, n);
    double best = 0;
    for (int round = 0; round < 5; round++) {
        double t0 = now();
        int reps = n > (8u << 20) ? 10 : 200;
        for (int i = 0; i < reps; i++) {
            memcpy(i & 1 ? a : b, i & 1 ? b : a, n);
            __asm__ volatile("" ::: "memory");
        }
        double bw = (double)reps * (double)n / (now() - t0) / 1e6;
        if (bw > best)
            best = bw;
    }
    free(a);
    free(b);
    return best;
}

/* Median of three runs. */
static double median3(int ours, unsigned order, int kind, size_t msg, size_t total)
{
    double v[3];
    for (int i = 0; i < 3; i++)
        v[i] = run(ours, order, kind, msg, total);
    if (v[0] > v[1]) { double t = v[0]; v[0] = v[1]; v[1] = t; }
    if (v[1] > v[2]) { double t = v[1]; v[1] = v[2]; v[2] = t; }
    if (v[0] > v[1]) { double t = v[0]; v[0] = v[1]; v[1] = t; }
    return v[1];
}

/* The 1-minute load average, or -1. The two ends need a CPU each (and spin before they
 * sleep): on a busy machine the figures measure the scheduler, so the table says so. */
static double load_average(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double l = -1;
    if (f != NULL) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

int main(void)
{
    verify = getenv("VCHAN_BENCH_VERIFY") != NULL;
    double load = load_average();
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (load >= 0 && cpus > 0 && load > 0.5 * (double)cpus)
        printf("WARNING: load average %.1f on %ld CPUs before the start: another job is "
               "running, the figures below are not representative\n", load, cpus);
    double mc = memcpy_bw(1 << 20);
    double md = memcpy_bw(64u << 20);
    printf("memcpy: %.0f MB/s with 1 MiB blocks (in cache; the %%memcpy column), %.0f MB/s with "
           "64 MiB blocks (DRAM)\n\n", mc, md);
    printf("%-6s %-18s %14s %14s %8s %10s\n", "order", "test", "libxenvchan", "xkvchan", "ratio",
           "%memcpy");
    unsigned orders[] = { 10, 12, 16 };
    size_t msgs[] = { 64, 4096, 1 << 20 };
    const char *names[] = { "64 B msgs", "4 KiB msgs", "1 MiB msgs" };
    const char *only = getenv("VCHAN_BENCH_ORDERS");
    for (unsigned oi = 0; oi < 3; oi++) {
        unsigned o = orders[oi];
        char name[8];
        snprintf(name, sizeof(name), "%u", o);
        if (only != NULL && strstr(only, name) == NULL)
            continue;
        size_t budget = o == 10 ? (8u << 20) : o == 12 ? (32u << 20) : (128u << 20);
        for (unsigned mi = 0; mi < 3; mi++) {
            size_t total = budget;
            if (msgs[mi] == 64)
                total = budget / 8;
            double l = median3(0, o, 0, msgs[mi], total);
            double x = median3(1, o, 0, msgs[mi], total);
            printf("%-6s %-18s %9.1f MB/s %9.1f MB/s %7.2fx %9.2f%%\n",
                   o == 10 ? "10/11" : o == 12 ? "12" : "16", names[mi], l, x, x / l,
                   100.0 * x / mc);
            fflush(stdout);
        }
        double l = median3(0, o, 1, 64, 5000);
        double x = median3(1, o, 1, 64, 5000);
        printf("%-6s %-18s %11.1f us %11.1f us %7.2fx\n", o == 10 ? "10/11" : o == 12 ? "12" : "16",
               "ping-pong 64 B", l, x, l / x);
        fflush(stdout);
    }
    printf("\nratio = xkvchan / libxenvchan (throughput), libxenvchan / xkvchan (latency): "
           ">1 means xkvchan is faster\n");
    return 0;
}
