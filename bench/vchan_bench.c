/*
 * vchan_bench: our dom0 vchan (xkvchan) against the real libxenvchan, in the same run and
 * under the same LD_PRELOAD shim (bench/run.sh sets it up with xenstored), for ring orders
 * 10 (10/11: in-page rings), 12 and 16, and 20 for 1 MiB messages:
 *   - throughput of 64-byte, 4 KiB and 1 MiB messages (blocking write / blocking read);
 *   - ping-pong latency of a 64-byte message (send, echo, recv);
 * Each row runs libxenvchan, xkvchan and the plain ring (below) interleaved, A B C A B C ...
 * (5 times by default); the figures are each side's median run (the plain ring: its best),
 * the ratio the median of the ratios of run i of each side, printed with their range; the
 * end of the output lists every run, so one disturbed run can neither flip a ratio nor hide.
 * Three references:
 *   - memcpy between two 256 MiB buffers on one CPU (STREAM/mbw style, far beyond the
 *     last-level cache): the machine's memory copy bandwidth, the "memcpy bandwidth
 *     of the machine" and the denominator of the %memcpy column (the 50% target);
 *   - memcpy between two 1 MiB buffers in one CPU's caches (%in-cache): the core's cache
 *     bandwidth, printed so that nobody mistakes one for the other;
 *   - a plain shared ring of the same size without any protocol (plain_ring below, %ring).
 * A vchan copies every byte twice (into the ring, out of it), on two CPUs in parallel, and
 * the bytes move between the two CPUs' caches; the plain ring pays exactly that, and is the
 * honest ceiling of any shared-memory ring (vchan/README.md, "Throughput").
 * The server is this process, the client a forked child, pinned to two CPUs (see pin_cpus);
 * both use blocking calls.
 * VCHAN_BENCH_ORDERS="16" (a list of 10, 12, 16, 20; naming 20 runs all its tests) runs only
 * those rows; VCHAN_BENCH_RUNS=N runs each side N times (default 5, at most 9); for
 * profiling, VCHAN_BENCH_TESTS="1m" (a list of 64, 4k, 1m, pp) only those tests,
 * VCHAN_BENCH_ONLY=ours (or lxv, or plain, or a list: "ours plain") only those sides (the
 * other columns are then meaningless; the memcpy references are skipped), VCHAN_BENCH_SCALE=N moves N times the
 * bytes, VCHAN_BENCH_PIN=0 leaves the placement to the scheduler.
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

/* The server (this process) runs on CPU 0, each client on CPU 1 (VCHAN_BENCH_PIN=0: wherever
 * the scheduler puts them). Two domains' ends run on two CPUs. Left to itself, the scheduler
 * sometimes puts both ends on one CPU (it wakes a sleeper on the waker's CPU), and then the
 * writer fills the ring and the reader drains it in one go: the 64 B rows were bimodal,
 * xkvchan ~0.75 or ~3 GB/s, libxenvchan ~0.5 or ~0.04 GB/s, and the ratio measured the
 * placement. Pinned, quiet runs repeat within a few percent. */
static int pin_cpus, pin_cpu[2];

/* The first two CPUs we may run on become pin_cpu[0] and [1]; fewer than two: no pinning. */
static void pick_cpus(void)
{
    cpu_set_t set;
    int n = 0;
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
            if (CPU_ISSET(c, &set))
                pin_cpu[n++] = c;
    if (n < 2)
        pin_cpus = 0;
}

static void pin(int which)
{
    if (!pin_cpus)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(pin_cpu[which], &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0)
        perror("sched_setaffinity");
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
        pin(1);
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
                int w = ch_send(&c, buf, msg), r = w == (int)msg ? ch_recv(&c, buf, msg) : 0;
                if (w != (int)msg || r != (int)msg) {
                    fprintf(stderr, "ping-pong client: %s round %zu: %s returned %d (%s)\n",
                            ours ? "xkvchan" : "libxenvchan", i, w != (int)msg ? "send" : "recv",
                            w != (int)msg ? w : r, strerror(errno));
                    _exit(4);
                }
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
            int r = ch_recv(&s, buf, msg), w = r == (int)msg ? ch_send(&s, buf, msg) : 0;
            if (r != (int)msg || w != (int)msg) {
                /* say which side, where and how: a rare failure must be diagnosable */
                fprintf(stderr, "ping-pong failed: %s order %u round %zu: %s returned %d (%s)\n",
                        ours ? "xkvchan" : "libxenvchan", order, i,
                        r != (int)msg ? "recv" : "send", r != (int)msg ? r : w, strerror(errno));
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

/* Bytes copied per second by memcpy between two n-byte buffers (memset first, so every page
 * is mapped): best of `passes` passes, each copying at least 256 MiB (n at a time, in
 * alternating directions). With n = 256 MiB it is the classic STREAM / mbw copy figure
 * (buffers far larger than the last-level cache, so DRAM speed); with n = 1 MiB both buffers
 * stay in one CPU's caches. */
static double memcpy_bw(size_t n, int passes)
{
    uint8_t *a = malloc(n), *b = malloc(n);
    if (a == NULL || b == NULL) {
        free(a);
        free(b);
        return 0;
    }
    memset(a, 1, n);
    memset(b, 2, n);
    size_t reps = n >= (256u << 20) ? 1 : (256u << 20) / n;
    double best = 0;
    for (int pass = 0; pass < passes; pass++) {
        double t0 = now();
        for (size_t i = 0; i < reps; i++) {
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

/* The reference for what any shared-memory ring can do here: the same transfer as run()
 * kind 0 (the client writes `total` bytes in msg-sized writes, the server reads up to 64 KiB
 * per call into the same buffer) through a plain single-producer single-consumer ring of the
 * same size, with no protocol: no liveness or notify bytes, no events, no barrier beyond
 * acquire/release (both ends only spin, with the same pause/yield rhythm as xkvchan's spin),
 * the two indexes in one cache line as in vchan's control page. Each end keeps the other's
 * index and loads it again only when the ring looks full / empty, and publishes its own
 * every `step` bytes. It measures the cost of moving the bytes between two CPUs' caches
 * through a ring of that size, which a single-core memcpy does not pay: vchan's ceiling. */
struct plain_idx {
    uint32_t cons, prod;
};

static void plain_wait(unsigned *spins)
{
    if ((++*spins & 63) == 0)
        sched_yield();
    __builtin_ia32_pause();
}

static double plain_ring(unsigned order, size_t msg, size_t total, size_t step)
{
    size_t size = (size_t)1 << order, bufsz = msg > 65536 ? msg : 65536;
    uint8_t *shm = mmap(NULL, 4096 + size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                        -1, 0);
    if (shm == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    struct plain_idx *idx = (struct plain_idx *)shm;
    uint8_t *ring = shm + 4096, *buf = malloc(bufsz);
    memset(buf, 0x3c, bufsz);
    unsigned spins = 0;
    pid_t pid = fork();
    if (pid == 0) {
        pin(1);
        uint32_t prod = 0, cons = 0;
        for (size_t done = 0; done < total; done += msg) {
            for (size_t off = 0; off < msg;) {
                if (prod - cons == size) {
                    cons = __atomic_load_n(&idx->cons, __ATOMIC_ACQUIRE);
                    if (prod - cons == size) {
                        plain_wait(&spins);
                        continue;
                    }
                }
                uint32_t used = prod - cons;
                size_t n = msg - off < size - used ? msg - off : size - used;
                n = n < step ? n : step;
                size_t at = prod & (size - 1), first = size - at < n ? size - at : n;
                memcpy(ring + at, buf + off, first);
                memcpy(ring, buf + off + first, n - first);
                prod += (uint32_t)n;
                __atomic_store_n(&idx->prod, prod, __ATOMIC_RELEASE);
                off += n;
            }
        }
        _exit(0);
    }
    uint32_t cons = 0, prod = 0;
    size_t got = 0;
    double t0 = 0;
    while (got < total) {
        if (prod == cons) {
            prod = __atomic_load_n(&idx->prod, __ATOMIC_ACQUIRE);
            if (prod == cons) {
                plain_wait(&spins);
                continue;
            }
        }
        size_t want = total - got < 65536 ? total - got : 65536;
        size_t n = prod - cons < want ? prod - cons : want;
        for (size_t off = 0; off < n;) {
            size_t k = n - off < step ? n - off : step;
            size_t at = cons & (size - 1), first = size - at < k ? size - at : k;
            memcpy(buf + off, ring + at, first);
            memcpy(buf + off + first, ring, k - first);
            cons += (uint32_t)k;
            __atomic_store_n(&idx->cons, cons, __ATOMIC_RELEASE);
            off += k;
        }
        if (got == 0)
            t0 = now();     /* as run(): the clock starts when the first read returns */
        got += n;
    }
    double t1 = now();
    waitpid(pid, NULL, 0);
    munmap(shm, 4096 + size);
    free(buf);
    return (double)total / (t1 - t0) / 1e6;
}

/* The plain ring's best over publication steps of 1/16 to all of the ring (at most 16 KiB,
 * at least a cache line): how often to hand the bytes over pays differently with each ring
 * size, and a ceiling is the best any of them reaches. *best_step gets the step. */
static double plain_best(unsigned order, size_t msg, size_t total, size_t *best_step)
{
    size_t size = (size_t)1 << order, last = 0;
    double top = 0;
    for (unsigned div = 16; div >= 1; div /= 2) {
        size_t step = size / div;
        step = step > 16384 ? 16384 : step < 64 ? 64 : step;
        if (step == last)
            continue;
        last = step;
        double bw = plain_ring(order, msg, total, step);
        if (bw > top) {
            top = bw;
            *best_step = step;
        }
    }
    return top;
}

/* VCHAN_BENCH_ONLY: the sides run, a bit each (1 libxenvchan, 2 ours, 4 the plain ring);
 * 7: all */
static int side_only = 7;

/* VCHAN_BENCH_RUNS: runs of each side per row (at most MAX_RUNS). 5 by default: a median
 * then ignores two disturbed runs. */
#define MAX_RUNS 9
static int runs = 5;

/* One row of the table: every run of libxenvchan (who 0), xkvchan (1) and the plain ring
 * (2; throughput rows only), in the order they ran. 0 where a side was left out. */
struct row {
    const char *order, *test;
    int kind;                       /* 0 throughput (MB/s), 1 ping-pong (us per round trip) */
    double v[3][MAX_RUNS];
    size_t step[MAX_RUNS];          /* the plain ring's best publication step in run i */
};

/* The sides run interleaved, libxenvchan, xkvchan, plain ring, then again (A B C A B C ...),
 * so that run i of each side sees the same machine. On this 2-CPU machine shared with other
 * jobs a side's runs are often bimodal (the two ends on two CPUs or squeezed onto one, the
 * host's placement of the vCPUs), and the modes come and go for both sides alike: runs of
 * one side after the other's could compare two different machines. */
static void measure(struct row *r, unsigned order, size_t msg, size_t total)
{
    for (int i = 0; i < runs; i++)
        for (int who = 0; who < 3; who++) {
            if (!(side_only & 1 << who) || (who == 2 && r->kind == 1))
                continue;
            r->v[who][i] = who == 2 ? plain_best(order, msg, total, &r->step[i])
                                    : run(who, order, r->kind, msg, total);
        }
}

/* The median of the n > 0 values of v (the mean of the middle two for even n); 0 if none. */
static double median(const double *v, int n)
{
    double s[MAX_RUNS];
    int k = 0;
    for (int i = 0; i < n; i++)
        if (v[i] > 0) {
            int j = k++;
            for (; j > 0 && s[j - 1] > v[i]; j--)
                s[j] = s[j - 1];
            s[j] = v[i];
        }
    if (k == 0)
        return 0;
    return k & 1 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
}

/* Best run of a side: the highest throughput, the lowest latency (0 if left out). Used for
 * the plain ring, a ceiling: it only spins, so any disturbance only lowers it. */
static double best(const struct row *r, int who)
{
    double b = 0;
    for (int i = 0; i < runs; i++) {
        double x = r->v[who][i];
        if (x > 0 && (b == 0 || (r->kind == 0 ? x > b : x < b)))
            b = x;
    }
    return b;
}

/* xkvchan's speed-up over libxenvchan (> 1: ours faster) from two figures of a row. */
static double speedup(const struct row *r, double lxv, double ours)
{
    if (lxv <= 0 || ours <= 0)
        return 0;
    return r->kind == 0 ? ours / lxv : lxv / ours;
}

/* The speed-up of the runs taken pairwise (run i of each side, one right after the other):
 * the median is the table's ratio (a transient load spoils a pair, the median drops it; a
 * ratio of two per-side medians or bests could pair a fast mode of one side with a slow mode
 * of the other), lo and hi how far a single A/B comparison can be off. */
static double pair_ratio(const struct row *r, double *lo, double *hi)
{
    double s[MAX_RUNS];
    *lo = *hi = 0;
    for (int i = 0; i < runs; i++) {
        s[i] = speedup(r, r->v[0][i], r->v[1][i]);
        if (s[i] <= 0)
            continue;
        if (*lo == 0 || s[i] < *lo)
            *lo = s[i];
        if (s[i] > *hi)
            *hi = s[i];
    }
    return median(s, runs);
}

/* Whether `word` is in the space/comma separated list `list` (NULL: everything). */
static int listed(const char *list, const char *word)
{
    if (list == NULL)
        return 1;
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
        if ((p == list || p[-1] == ' ' || p[-1] == ',') && (p[n] == 0 || p[n] == ' ' || p[n] == ','))
            return 1;
    return 0;
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

static void print_row(const struct row *r, double mc_dram, double mc_cache)
{
    double l = median(r->v[0], runs), x = median(r->v[1], runs), lo, hi;
    double ratio = pair_ratio(r, &lo, &hi);
    char pairs[32] = "";
    if (lo > 0)
        snprintf(pairs, sizeof(pairs), "%.3g-%.3g", lo, hi);
    if (r->kind == 1) {
        printf("%-6s %-14s %11.1f us %11.1f us %7.2fx %10s\n", r->order, r->test, l, x,
               ratio, pairs);
    } else {
        double p = best(r, 2);
        printf("%-6s %-14s %9.1f MB/s %9.1f MB/s %7.2fx %10s %7.0f%% %8.1f%% %9.1f MB/s %7.0f%% "
               "%5.0f%%\n", r->order, r->test, l, x, ratio, pairs,
               mc_dram > 0 ? 100.0 * x / mc_dram : 0, mc_cache > 0 ? 100.0 * x / mc_cache : 0,
               p, mc_dram > 0 ? 100.0 * p / mc_dram : 0, p > 0 ? 100.0 * x / p : 0);
    }
    fflush(stdout);
}

/* Every run of a row, in the order they ran, so a reader can see the spread. */
static void print_runs(const struct row *r)
{
    static const char *side[] = { "libxenvchan", "xkvchan", "plain" };
    printf("%-6s %-14s", r->order, r->test);
    for (int who = 0; who < 3; who++) {
        if (median(r->v[who], runs) == 0)
            continue;
        printf(" %s", side[who]);
        for (int i = 0; i < runs; i++) {
            printf(r->kind == 0 ? " %.0f" : " %.1f", r->v[who][i]);
            if (who == 2 && r->step[i] > 0)
                printf(" (step %zu)", r->step[i]);
        }
        printf(";");
    }
    printf("\n");
}

/* The two targets, checked on the table: >= 1.2x libxenvchan with 64 KiB rings
 * (order 16, every row) and >= 50% of the machine's memcpy (the DRAM figure) for 1 MiB
 * messages. Printed as figures with "met"/"NOT met", never asserted. */
static void print_targets(const struct row *rows, int n, double mc_dram)
{
    double worst = 0, worst_pair = 0;
    const char *worst_test = NULL;
    for (int i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        if (strcmp(r->order, "16") != 0)
            continue;
        double lo, hi, s = pair_ratio(r, &lo, &hi);
        if (s > 0 && (worst_test == NULL || s < worst)) {
            worst = s;
            worst_test = r->test;
        }
        if (lo > 0 && (worst_pair == 0 || lo < worst_pair))
            worst_pair = lo;
    }
    if (worst_test != NULL)
        printf("target >= 1.2x libxenvchan at order 16 (64 KiB rings): lowest ratio %.2fx "
               "(%s): %s; lowest single pair of runs %.2fx\n", worst, worst_test,
               worst >= 1.2 ? "met" : "NOT met", worst_pair);
    for (int i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        double x = median(r->v[1], runs);
        if (r->kind != 0 || strcmp(r->test, "1 MiB msgs") != 0 || mc_dram <= 0 || x == 0)
            continue;
        double pc = 100.0 * x / mc_dram, p = best(r, 2);
        printf("target >= 50%% of memcpy (DRAM) for 1 MiB messages, order %s: %.0f%%: %s",
               r->order, pc, pc >= 50 ? "met" : "NOT met");
        if (p > 0)
            printf(" (the plain ring of that size, no protocol: %.0f%%; libxenvchan %.1f%%)",
                   100.0 * p / mc_dram, 100.0 * median(r->v[0], runs) / mc_dram);
        printf("\n");
    }
}

int main(void)
{
    verify = getenv("VCHAN_BENCH_VERIFY") != NULL;
    pin_cpus = getenv("VCHAN_BENCH_PIN") == NULL || atoi(getenv("VCHAN_BENCH_PIN")) > 0;
    if (pin_cpus)
        pick_cpus();
    pin(0);
    if (pin_cpus)
        printf("server pinned to CPU %d, client to CPU %d (VCHAN_BENCH_PIN=0: unpinned)\n",
               pin_cpu[0], pin_cpu[1]);
    else
        printf("not pinned: the scheduler places server and client\n");
    double load = load_average();
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (load >= 0 && cpus > 0 && load > 0.5 * (double)cpus)
        printf("WARNING: load average %.1f on %ld CPUs before the start: another job is "
               "running, the figures below are not representative\n", load, cpus);
    else if (load >= 0)
        printf("load average %.2f on %ld CPUs before the start\n", load, cpus);
    unsigned orders[] = { 10, 12, 16, 20 };
    size_t msgs[] = { 64, 4096, 1 << 20 };
    const char *names[] = { "64 B msgs", "4 KiB msgs", "1 MiB msgs" };
    const char *keys[] = { "64", "4k", "1m" };
    const char *only = getenv("VCHAN_BENCH_ORDERS");
    const char *tests = getenv("VCHAN_BENCH_TESTS");
    const char *side = getenv("VCHAN_BENCH_ONLY");
    if (side != NULL)
        side_only = listed(side, "lxv") | listed(side, "ours") << 1 | listed(side, "plain") << 2;
    const char *sc = getenv("VCHAN_BENCH_SCALE");
    size_t scale = sc != NULL && atoi(sc) > 0 ? (size_t)atoi(sc) : 1;
    const char *rs = getenv("VCHAN_BENCH_RUNS");
    if (rs != NULL && atoi(rs) > 0)
        runs = atoi(rs) < MAX_RUNS ? atoi(rs) : MAX_RUNS;
    double mc_dram = 0, mc_cache = 0;
    if (side_only == 7) {
        mc_dram = memcpy_bw(256u << 20, 5);
        mc_cache = memcpy_bw(1u << 20, 5);
        printf("memcpy reference, bytes copied per second, best of 5 passes on one CPU:\n"
               "  %.0f MB/s between two 256 MiB buffers (far larger than the last-level "
               "cache: the machine's memory copy bandwidth, as STREAM/mbw measure it; the "
               "%%memcpy column and the issue's 50%% target)\n"
               "  %.0f MB/s between two 1 MiB buffers in that CPU's caches (the core's cache "
               "bandwidth; the %%in-cache column)\n", mc_dram, mc_cache);
        printf("plain ring: the same transfer through a shared ring of the same size with no "
               "protocol and no events, both ends spinning, indexes in one cache line, the "
               "best of publication steps of 1/16 to all of the ring (<= 16 KiB): the cost of "
               "moving every byte from the writer's CPU's caches to the reader's, which a "
               "one-CPU memcpy does not pay; ring%%mc: its share of memcpy (the ceiling of "
               "%%memcpy for that ring size), %%ring: xkvchan's share of it\n\n");
    }
    printf("%-6s %-14s %14s %14s %8s %10s %8s %9s %14s %8s %6s\n", "order", "test",
           "libxenvchan", "xkvchan", "ratio", "pairs", "%memcpy", "%in-cache", "plain ring",
           "ring%mc", "%ring");
    struct row rows[16];
    int nrows = 0;
    for (unsigned oi = 0; oi < 4; oi++) {
        unsigned o = orders[oi];
        char name[8];
        snprintf(name, sizeof(name), "%u", o);
        if (!listed(only, name))
            continue;
        /* Order 20 (1 MiB rings) by default only for the large messages it is meant for. */
        const char *otests = o == 20 && only == NULL ? "1m" : tests;
        const char *oname = o == 10 ? "10/11" : o == 12 ? "12" : o == 16 ? "16" : "20";
        size_t budget = scale * (o == 10 ? (8u << 20) : o == 12 ? (32u << 20) :
                                 o == 16 ? (128u << 20) : (256u << 20));
        for (unsigned mi = 0; mi < 4; mi++) {
            const char *key = mi < 3 ? keys[mi] : "pp";
            if (!listed(otests, key) || (otests != tests && !listed(tests, key)))
                continue;
            struct row *r = &rows[nrows++];
            memset(r, 0, sizeof(*r));
            r->order = oname;
            if (mi < 3) {
                r->test = names[mi];
                measure(r, o, msgs[mi], msgs[mi] == 64 ? budget / 8 : budget);
            } else {
                r->test = "ping-pong 64 B";
                r->kind = 1;
                measure(r, o, 64, 5000 * scale);
            }
            print_row(r, mc_dram, mc_cache);
        }
    }
    printf("\nlibxenvchan, xkvchan: median of %d runs each, the sides interleaved (libxenvchan, "
           "xkvchan, plain ring, again ...); ratio: xkvchan's speed-up, >1 means xkvchan is "
           "faster (throughput: xkvchan / libxenvchan; latency: libxenvchan / xkvchan), the "
           "median over the pairs of runs (run i of each side, one right after the other), "
           "pairs: the lowest and highest of them; %%memcpy, %%in-cache, %%ring: xkvchan's "
           "median as a share of the references above (the plain ring: its best run; "
           "ring%%mc: the plain ring's best as a share of memcpy)\n\n",
           runs);
    print_targets(rows, nrows, mc_dram);
    printf("\nevery run, in the order run (MB/s; ping-pong: us per round trip):\n");
    for (int i = 0; i < nrows; i++)
        print_runs(&rows[i]);
    load = load_average();
    if (load >= 0)
        printf("load average %.2f at the end\n", load);
    return 0;
}
