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
 *   replay                        the requests of a real xl create + xl destroy of a Linux
 *                                 guest with a disk and a vif (--replay FILE, recorded in the
 *                                 Xen rig), replayed for --replay-domains domains by --clients
 *                                 clients in parallel; domains/s (xenstored_replay.c)
 *
 * Files: xenstored_client.c (the wire protocol), xenstored_workloads.c (the basic tests),
 * xenstored_mix.c (the xl create + destroy mix), xenstored_replay.c (the
 * replay of a recorded one), this file (options, the table, main).
 *
 * The second form execs PROG with setrlimit(RLIMIT_NOFILE) turned into a no-op (a seccomp
 * filter answers 0): oxenstored raises its descriptor limit to 1,048,576 at start and exits
 * when it cannot (no CAP_SYS_RESOURCE in a container).
 */
#include "xenstored_bench.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* ---- measurement helpers -------------------------------------------------------------- */

double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double opt_secs = 2.0;                 /* time bound of each timed test */
long opt_ops = 50000;                  /* operation cap of each timed test */
long opt_lat = 5000;                   /* latency samples (cap) */
int opt_clients = 10;
int opt_idle = 1000;
int opt_domains = 1000;
int opt_mix = 100;
int opt_replay = 100;
/* Runs of the throughput tests (single, clients, txn) per daemon, the daemons' order reversed
 * every other run: in one pass the daemon measured later did worse here (the same vxenstored
 * twice: 1.01-1.27x C first, 0.77-1.18x second), and C is always first. */
static int opt_rounds = 2;
static const char *opt_replay_file = "bench/xl-linux-guest.replay";
int opt_verbose;
static const char *opt_only;           /* comma-separated test names, NULL: all */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double percentile(double *v, long n, double p)
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

void note(const char *daemon, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  [%s] ", daemon);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- the table's lines ----------------------------------------------------------------- */

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
    [L_REPLAY] = {"replay xl create+destroy doms/s", 0},
    [L_REPLAY_REQ] = {"  (replay requests/s)", 0},
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


static struct daemon daemons[MAX_DAEMONS];
static int ndaemons;

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
               "a speed-up: > 1 means vxenstored is faster (higher ops/s, lower us).\n"
               "single client, 10 clients, txn: the mean of %d runs per daemon, the daemons' "
               "order reversed every other run (one pass favoured the daemon measured first).\n",
               opt_rounds);
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
            "                       [--domains N] [--mix-domains N] [--replay FILE]\n"
            "                       [--replay-domains N] [--rounds N] [--quick] [-v]\n"
            "                       [--only single,clients,txn,idle,domains,mix,replay]\n"
            "                       NAME=SOCKET...\n"
            "       xenstored_bench --exec-nofile-ok PROG [ARGS...]\n"
            "Ratio columns compare daemons named vxs* with those named C and ox.\n");
}

/* One test against one daemon; the figures go to d->v. */
static void run_test(int test, struct daemon *d)
{
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
    case 6:
        t_replay(d);
        break;
    }
}

/* Is line l one of the figures test (0-2, the repeated ones) fills? */
static bool test_line(int test, int l)
{
    return (test == 0 && (l == L_WRITE || l == L_READ || l == L_WR)) ||
           (test == 1 && l == L_WRITE_N) || (test == 2 && l == L_TXN);
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
        } else if (strcmp(a, "--replay") == 0 && v) {
            opt_replay_file = v, i++;
        } else if (strcmp(a, "--replay-domains") == 0 && v) {
            opt_replay = atoi(v), i++;
        } else if (strcmp(a, "--rounds") == 0 && v) {
            opt_rounds = atoi(v), i++;
        } else if (strcmp(a, "--quick") == 0) {
            opt_secs = 0.3, opt_lat = 1000, opt_idle = 200, opt_domains = 200, opt_mix = 20;
            opt_replay = 20;
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
        opt_domains < 1 || opt_mix < 1 || opt_replay < 1 || opt_secs <= 0 ||
        opt_rounds < 1) {
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
        "xl create + destroy mix", "replay of a recorded xl create + destroy",
    };
    static const char *const names[] = {"single", "clients", "txn", "idle", "domains", "mix",
                                        "replay"};
    for (int test = 0; test < 7; test++) {
        if (opt_only && !in_list(opt_only, names[test]))
            continue;
        if (test == 6 && replay_load(opt_replay_file) < 0)
            continue;
        fprintf(stderr, "xenstored bench: %s\n", titles[test]);
        int rounds = test <= 2 ? opt_rounds : 1;
        double sum[MAX_DAEMONS][L_NLINES] = {{0}};
        for (int r = 0; r < rounds; r++) {
            for (int k = 0; k < ndaemons; k++) {
                int i = r % 2 ? ndaemons - 1 - k : k;
                struct daemon *d = &daemons[i];
                double t0 = now();
                run_test(test, d);
                if (opt_verbose)
                    note(d->name, "%.1f s", now() - t0);
                for (int l = 0; l < L_NLINES; l++)
                    sum[i][l] += d->v[l];
            }
        }
        if (rounds > 1) /* the mean of the runs (a NAN, a failed run, stays NAN) */
            for (int i = 0; i < ndaemons; i++)
                for (int l = 0; l < L_NLINES; l++)
                    if (test_line(test, l))
                        daemons[i].v[l] = sum[i][l] / rounds;
    }
    print_table();
    return 0;
}
