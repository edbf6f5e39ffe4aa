/*
 * vchan_bench: our dom0 vchan (xkvchan) against the real libxenvchan, in the same run and
 * under the same LD_PRELOAD shim (bench/run.sh sets it up with xenstored), for ring orders
 * 10 (10/11: in-page rings), 12 and 16 (and 20 on request):
 *   - throughput of 64-byte, 4 KiB and 1 MiB messages (blocking write / blocking read);
 *   - ping-pong latency of a 64-byte message (send, echo, recv);
 * with two references: the machine's memcpy bandwidth on one CPU (1 MiB blocks in cache),
 * and a plain shared ring of the same size without any protocol (plain_ring below). A vchan
 * copies every byte twice (into the ring, out of it), on two CPUs in parallel, so the
 * single-CPU memcpy would be its limit if the bytes did not have to move between the two
 * CPUs' caches; the plain ring pays that move too, and is the honest ceiling.
 * The server is this process, the client a forked child; both use blocking calls.
 * VCHAN_BENCH_ORDERS="16" (a list of 10, 12, 16) runs only those rows; for profiling,
 * VCHAN_BENCH_TESTS="1m" (a list of 64, 4k, 1m, pp) only those tests, VCHAN_BENCH_ONLY=ours
 * (or lxv, or plain) only one of them (the other columns are then meaningless; the memcpy
 * reference is skipped), VCHAN_BENCH_SCALE=N moves N times the bytes.
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

/* The reference for what any shared-memory ring can do here: the same transfer as run()
 * kind 0 (the client writes `total` bytes in msg-sized writes, the server reads up to 64 KiB
 * per call into the same buffer) through a plain single-producer ring of the same size, with
 * no protocol: no liveness or notify bytes, no events (both ends only spin, with the same
 * pause/yield rhythm as xkvchan's spin), indexes in one cache line as in vchan's control page,
 * and publication in the same 16 KiB steps. It measures the cost of moving the bytes between
 * two CPUs' caches, which a single-core memcpy does not pay: vchan's ceiling. */
struct plain_idx {
    uint32_t cons, prod;
};

static void plain_wait(unsigned *spins)
{
    if ((++*spins & 63) == 0)
        sched_yield();
    __builtin_ia32_pause();
}

static double plain_ring(unsigned order, size_t msg, size_t total)
{
    size_t size = (size_t)1 << order, step = 16384, bufsz = msg > 65536 ? msg : 65536;
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
        uint32_t prod = 0;
        for (size_t done = 0; done < total; done += msg) {
            for (size_t off = 0; off < msg;) {
                uint32_t used = prod - __atomic_load_n(&idx->cons, __ATOMIC_ACQUIRE);
                if (used == size) {
                    plain_wait(&spins);
                    continue;
                }
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
    uint32_t cons = 0;
    size_t got = 0;
    double t0 = 0;
    while (got < total) {
        uint32_t ready = __atomic_load_n(&idx->prod, __ATOMIC_ACQUIRE) - cons;
        if (ready == 0) {
            plain_wait(&spins);
            continue;
        }
        size_t want = total - got < 65536 ? total - got : 65536;
        size_t n = ready < want ? ready : want;
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

/* VCHAN_BENCH_ONLY: 0 libxenvchan, 1 ours, 2 the plain ring; -1 all */
static int side_only = -1;

/* Median of three runs of libxenvchan (who 0) or xkvchan (1); for the plain ring (2, kind 0
 * only) the best of three, since it is a ceiling: it only spins, so a run that had to share
 * a CPU with another job measures the scheduler (and the ratio to it errs on the low side).
 * 0 when this one is left out. */
static double median3(int who, unsigned order, int kind, size_t msg, size_t total)
{
    if (side_only >= 0 && side_only != who)
        return 0;
    double v[3];
    for (int i = 0; i < 3; i++)
        v[i] = who == 2 ? plain_ring(order, msg, total) : run(who, order, kind, msg, total);
    if (v[0] > v[1]) { double t = v[0]; v[0] = v[1]; v[1] = t; }
    if (v[1] > v[2]) { double t = v[1]; v[1] = v[2]; v[2] = t; }
    if (v[0] > v[1]) { double t = v[0]; v[0] = v[1]; v[1] = t; }
    return who == 2 ? v[2] : v[1];
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

int main(void)
{
    verify = getenv("VCHAN_BENCH_VERIFY") != NULL;
    double load = load_average();
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (load >= 0 && cpus > 0 && load > 0.5 * (double)cpus)
        printf("WARNING: load average %.1f on %ld CPUs before the start: another job is "
               "running, the figures below are not representative\n", load, cpus);
    else if (load >= 0)
        printf("load average %.2f on %ld CPUs before the start\n", load, cpus);
    unsigned orders[] = { 10, 12, 16, 20 };     /* 20 only when VCHAN_BENCH_ORDERS names it */
    size_t msgs[] = { 64, 4096, 1 << 20 };
    const char *names[] = { "64 B msgs", "4 KiB msgs", "1 MiB msgs" };
    const char *keys[] = { "64", "4k", "1m" };
    const char *only = getenv("VCHAN_BENCH_ORDERS");
    const char *tests = getenv("VCHAN_BENCH_TESTS");
    const char *side = getenv("VCHAN_BENCH_ONLY");
    if (side != NULL)
        side_only = strcmp(side, "ours") == 0 ? 1 : strcmp(side, "lxv") == 0 ? 0 :
                    strcmp(side, "plain") == 0 ? 2 : -1;
    const char *sc = getenv("VCHAN_BENCH_SCALE");
    size_t scale = sc != NULL && atoi(sc) > 0 ? (size_t)atoi(sc) : 1;
    double mc = 0;
    if (side_only < 0) {
        mc = memcpy_bw(1 << 20);
        double md = memcpy_bw(64u << 20);
        printf("memcpy on one CPU (best of 5 rounds): %.0f MB/s copying 1 MiB between two "
               "1 MiB buffers (the %%memcpy column: the same message size, source and "
               "destination in that CPU's caches, as the writer's 1 MiB buffer is), %.0f MB/s "
               "with 64 MiB blocks (DRAM)\n", mc, md);
        printf("plain ring: the same transfer through a shared ring of the same size with no "
               "protocol and no events, both ends spinning (the %%ring column): the cost of "
               "moving every byte from the writer's CPU's caches to the reader's, which memcpy "
               "does not pay; no shared-memory ring can beat it\n\n");
    }
    printf("%-6s %-14s %14s %14s %8s %8s %14s %6s\n", "order", "test", "libxenvchan", "xkvchan",
           "ratio", "%memcpy", "plain ring", "%ring");
    for (unsigned oi = 0; oi < 4; oi++) {
        unsigned o = orders[oi];
        char name[8];
        snprintf(name, sizeof(name), "%u", o);
        if (!listed(only, name) || (o == 20 && only == NULL))
            continue;
        const char *oname = o == 10 ? "10/11" : name;
        size_t budget = scale * (o == 10 ? (8u << 20) : o == 12 ? (32u << 20) : (128u << 20));
        for (unsigned mi = 0; mi < 3; mi++) {
            if (!listed(tests, keys[mi]))
                continue;
            size_t total = budget;
            if (msgs[mi] == 64)
                total = budget / 8;
            double l = median3(0, o, 0, msgs[mi], total);
            double x = median3(1, o, 0, msgs[mi], total);
            double p = median3(2, o, 0, msgs[mi], total);
            printf("%-6s %-14s %9.1f MB/s %9.1f MB/s %7.2fx %7.1f%% %9.1f MB/s %5.0f%%\n",
                   oname, names[mi], l, x, l > 0 ? x / l : 0, mc > 0 ? 100.0 * x / mc : 0, p,
                   p > 0 ? 100.0 * x / p : 0);
            fflush(stdout);
        }
        if (!listed(tests, "pp"))
            continue;
        double l = median3(0, o, 1, 64, 5000 * scale);
        double x = median3(1, o, 1, 64, 5000 * scale);
        printf("%-6s %-14s %11.1f us %11.1f us %7.2fx\n", oname, "ping-pong 64 B", l, x,
               x > 0 ? l / x : 0);
        fflush(stdout);
    }
    printf("\nratio = xkvchan / libxenvchan (throughput), libxenvchan / xkvchan (latency): "
           ">1 means xkvchan is faster; %%memcpy and %%ring: xkvchan's throughput as a share "
           "of the two references; medians of 3 runs (the plain ring: best of 3)\n");
    return 0;
}
