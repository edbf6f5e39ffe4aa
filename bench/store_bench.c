/*
 * store_bench: the versioned store's benchmark (issue 4), run by `make bench`.
 *
 * Everything goes through the real stack: the pack file (store_pack.c, POSIX backend) under
 * the tree/commit layer (vs_* in store_tree.h), in a fresh directory on the real disk
 * (default: build/, next to the binaries; --dir DIR to choose; a tmpfs is refused unless
 * --allow-tmpfs, since fsync cost is the point). It prints:
 *
 *   - commits/s for single-key writes and for 50-write transactions in each durability mode,
 *     next to SQLite doing the same writes in the same run (WAL mode, one transaction per
 *     commit; ALWAYS ~ synchronous=FULL, BATCH ~ NORMAL, NONE ~ OFF), and xenkit/SQLite;
 *   - bytes per commit: how much the pack grows, and what each engine writes (write
 *     syscalls, WAL and checkpoints included);
 *   - read ops/s (through one open tree, and opening the head for every read), also next to
 *     SQLite;
 *   - update cost in a directory of 10, 1,000 and 100,000 entries, and largest/smallest;
 *   - the time to open a store with 1,000,000 commits of history (built in NONE mode with
 *     tiny commits; the build time is printed too), cold (the file evicted from the page
 *     cache with posix_fadvise) and warm.
 *
 * Commit-rate figures are time-boxed: each engine runs R rounds of about T seconds,
 * alternating with the other engine so both see the same disk weather; the figure is the
 * total operations over the total time, and n is printed. Options:
 *
 *   --dir DIR        where to make the temporary directory (default: build)
 *   --round SECONDS  length of one round (default 1.5)
 *   --rounds N       rounds per engine and commit case (default 5; reads and directory
 *                    updates: at most 3)
 *   --history N      commits of the open test (default 1000000)
 *   --quick          --round 0.2 --rounds 2 --history 100000 (a smoke test)
 *   --only PART      commits, reads, dir or open: one part only (for profiling)
 *   --keep           keep the temporary directory
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <ftw.h>

#include <sqlite3.h>

#include "bench/store_bench.h"

/* ---- settings ------------------------------------------------------------------------------ */

static const char *opt_dir = "build";
static double opt_round = 1.5;
static int opt_rounds = 5;
static uint64_t opt_history = 1000000;
static bool opt_keep, opt_allow_tmpfs;
static const char *opt_only; /* commits, reads, dir, open: one part only (profiling) */

char g_base[4096]; /* the temporary directory */
uint64_t g_seq;    /* every value written is a different one */

/* ---- time-boxed, alternating rounds ----------------------------------------------------------- */

struct tally {
    uint64_t n;
    double secs;
    uint64_t written; /* bytes written (write syscalls) during the rounds */
    double best, worst; /* per-round rates */
};

static void tally_add(struct tally *t, uint64_t n, double secs)
{
    double r = (double)n / secs;
    if (t->n == 0 || r > t->best)
        t->best = r;
    if (t->n == 0 || r < t->worst)
        t->worst = r;
    t->n += n;
    t->secs += secs;
}

static double rate(const struct tally *t)
{
    return t->secs > 0 ? (double)t->n / t->secs : 0;
}

/* Run body until the round's time is up (checked every `every` runs), then flush (the last
 * step of a BATCH round: make everything durable, counted in the round's time), and add the
 * count, the time and the bytes written to the tally. */
#define TIMEBOX_FLUSH(tally, every, body, flush)                                           \
    do {                                                                                   \
        uint64_t n_ = 0, w0_ = wchar();                                                    \
        double t0_ = now_s(), t1_;                                                         \
        for (;;) {                                                                         \
            for (unsigned i_ = 0; i_ < (every); i_++) {                                    \
                body;                                                                      \
            }                                                                              \
            n_ += (every);                                                                 \
            if (now_s() - t0_ >= opt_round)                                                \
                break;                                                                     \
        }                                                                                  \
        flush;                                                                             \
        t1_ = now_s();                                                                     \
        tally_add(&(tally), n_, t1_ - t0_);                                                \
        (tally).written += wchar() - w0_;                                                  \
    } while (0)

#define TIMEBOX(tally, every, body) TIMEBOX_FLUSH(tally, every, body, (void)0)

/* ---- commits/s ------------------------------------------------------------------------------ */

static const char *mode_name(enum store_sync m)
{
    return m == STORE_SYNC_ALWAYS ? "ALWAYS" : m == STORE_SYNC_BATCH ? "BATCH" : "NONE";
}

struct commit_result {
    struct tally xk, sq;
    double xk_bytes_per_commit, xk_syncs_per_commit, xk_objects_per_commit;
    uint64_t sq_disk, xk_disk;
};

static void run_commit_case(bool txn, enum store_sync mode, char **keys, struct commit_result *r)
{
    memset(r, 0, sizeof(*r));
    char name[64];
    snprintf(name, sizeof(name), "%s-%s", txn ? "txn" : "single", mode_name(mode));
    struct xk x;
    struct sq s;
    char xn[80], sn[80];
    snprintf(xn, sizeof(xn), "%s.pack", name);
    snprintf(sn, sizeof(sn), "%s.sqlite", name);
    xk_open(&x, xn, true);
    xk_populate(&x, keys, NKEYS_WRITE);
    sq_open(&s, sn, mode);
    sq_populate(&s, keys, NKEYS_WRITE);

    struct store_pack_stats before = xk_stats(&x);
    unsigned every = mode == STORE_SYNC_ALWAYS ? 1 : txn ? 4 : 32;
    for (int round = 0; round < opt_rounds; round++) {
        /* Alternate which engine goes first. */
        for (int k = 0; k < 2; k++) {
            if ((k == 0) == (round % 2 == 0)) {
                if (txn)
                    TIMEBOX_FLUSH(r->xk, every, xk_txn(&x, keys, NKEYS_WRITE, mode),
                                  CHECK(x.os->ops->flush(x.os)));
                else
                    TIMEBOX_FLUSH(r->xk, every, xk_single(&x, keys, NKEYS_WRITE, mode),
                                  CHECK(x.os->ops->flush(x.os)));
            } else {
                if (txn)
                    TIMEBOX(r->sq, every, sq_txn(&s, keys, NKEYS_WRITE));
                else
                    TIMEBOX(r->sq, every, sq_single(&s, keys, NKEYS_WRITE));
            }
        }
    }
    struct store_pack_stats after = xk_stats(&x);
    r->xk_bytes_per_commit = (double)(after.file_size - before.file_size) / (double)r->xk.n;
    r->xk_syncs_per_commit = (double)(after.syncs - before.syncs) / (double)r->xk.n;
    r->xk_objects_per_commit = (double)(after.objects - before.objects) / (double)r->xk.n;
    r->xk_disk = after.file_size;
    r->sq_disk = sq_disk(&s);
    xk_close(&x);
    sq_close(&s);
}

/* Reads and directory updates vary less than syncs: fewer rounds. */
static int minor_rounds(void)
{
    return opt_rounds < 3 ? opt_rounds : 3;
}

/* ---- reads ---------------------------------------------------------------------------------- */

struct read_result {
    struct tally xk_tree, xk_snap, sq;
};

static void run_reads(struct read_result *r)
{
    memset(r, 0, sizeof(*r));
    char **keys = make_keys(NKEYS_READ);
    struct xk x;
    struct sq s;
    xk_open(&x, "reads.pack", true);
    xk_populate(&x, keys, NKEYS_READ);
    sq_open(&s, "reads.sqlite", STORE_SYNC_ALWAYS);
    sq_populate(&s, keys, NKEYS_READ);
    /* A fresh store: nothing cached but what the reads themselves bring in. */
    xk_close(&x);
    xk_open(&x, "reads.pack", false);
    struct store_hash head;
    CHECK(vs_branch_head(x.st, BRANCH, &head));

    for (int round = 0; round < minor_rounds(); round++) {
        TIMEBOX(r->xk_tree, 256, {
            void *v;
            size_t len;
            CHECK(vs_tree_read(x.t, keys[rng() % NKEYS_READ], &v, &len));
            free(v);
        });
        TIMEBOX(r->xk_snap, 256, {
            struct vs_tree *t;
            void *v;
            size_t len;
            CHECK(vs_branch_head(x.st, BRANCH, &head));
            CHECK(vs_tree_open(x.st, &head, &t));
            CHECK(vs_tree_read(t, keys[rng() % NKEYS_READ], &v, &len));
            free(v);
            vs_tree_close(t);
        });
        TIMEBOX(r->sq, 256, {
            sqlite3_bind_text(s.select, 1, keys[rng() % NKEYS_READ], -1, SQLITE_STATIC);
            if (sqlite3_step(s.select) != SQLITE_ROW)
                die("sqlite select: %s", sqlite3_errmsg(s.db));
            if (sqlite3_column_bytes(s.select, 0) <= 0)
                die("sqlite select: empty value");
            sqlite3_reset(s.select);
        });
    }
    xk_close(&x);
    sq_close(&s);
    free_keys(keys, NKEYS_READ);
}

/* ---- directory scaling ---------------------------------------------------------------------- */

struct dir_result {
    uint64_t entries;
    double build_s;
    uint64_t n;
    double us_per_update, bytes_per_commit, objects_per_commit;
};

static void run_dir(uint64_t entries, struct dir_result *r)
{
    memset(r, 0, sizeof(*r));
    r->entries = entries;
    char name[64];
    snprintf(name, sizeof(name), "dir-%" PRIu64 ".pack", entries);
    struct xk x;
    xk_open(&x, name, true);
    double t0 = now_s();
    CHECK(vs_tree_set(x.t, "/dir", "", 0, NULL, 0, VS_CREATE));
    char path[64], v[64];
    for (uint64_t i = 0; i < entries; i++) {
        snprintf(path, sizeof(path), "/dir/e%" PRIu64, i);
        int n = make_value(v, sizeof(v), g_seq++);
        CHECK(vs_tree_set(x.t, path, v, (size_t)n, NULL, 0, VS_CREATE | VS_SET_VALUE));
    }
    CHECK(vs_branch_commit(x.t, BRANCH, &g_info, STORE_SYNC_NONE, NULL, NULL, NULL));
    r->build_s = now_s() - t0;
    /* Reopen: a cold tree and store cache, as after a restart. */
    xk_close(&x);
    xk_open(&x, name, false);
    /* Warm-up (as many updates as a round does at most, capped), then the measured run. */
    for (int i = 0; i < 2000; i++) {
        snprintf(path, sizeof(path), "/dir/e%" PRIu64, rng() % entries);
        int n = make_value(v, sizeof(v), g_seq++);
        CHECK(vs_tree_set(x.t, path, v, (size_t)n, NULL, 0, VS_SET_VALUE));
        CHECK(vs_branch_commit(x.t, BRANCH, &g_info, STORE_SYNC_NONE, NULL, NULL, NULL));
    }
    struct store_pack_stats before = xk_stats(&x);
    struct tally tl = {0};
    for (int round = 0; round < minor_rounds(); round++)
        TIMEBOX(tl, 64, {
            snprintf(path, sizeof(path), "/dir/e%" PRIu64, rng() % entries);
            int n = make_value(v, sizeof(v), g_seq++);
            CHECK(vs_tree_set(x.t, path, v, (size_t)n, NULL, 0, VS_SET_VALUE));
            CHECK(vs_branch_commit(x.t, BRANCH, &g_info, STORE_SYNC_NONE, NULL, NULL, NULL));
        });
    struct store_pack_stats after = xk_stats(&x);
    r->n = tl.n;
    r->us_per_update = tl.secs * 1e6 / (double)tl.n;
    r->bytes_per_commit = (double)(after.file_size - before.file_size) / (double)tl.n;
    r->objects_per_commit = (double)(after.objects - before.objects) / (double)tl.n;
    xk_close(&x);
}

/* ---- open with a long history --------------------------------------------------------------- */

struct open_result {
    uint64_t commits, file_size, objects;
    double build_s;
    double cold_pack_s, cold_total_s;
    double warm_pack_s, warm_total_s; /* best of 3 */
    uint64_t rss_delta;
};

static void open_once(const char *path, uint64_t expect_seq, double *pack_s, double *total_s,
                      uint64_t *objects, uint64_t *rss_delta)
{
    uint64_t rss0 = rss_bytes();
    double t0 = now_s();
    struct objstore *os;
    struct store_pack_report rep;
    struct store_pack_opts o = {.create = false};
    CHECK(store_pack_open_path(path, &o, &os, &rep));
    double t1 = now_s();
    struct vs_store *st = vs_store_open(os, 0);
    if (st == NULL)
        die("vs_store_open failed");
    struct store_hash head;
    struct vs_tree *t;
    void *v;
    size_t len;
    CHECK(vs_branch_head(st, BRANCH, &head));
    CHECK(vs_tree_open(st, &head, &t));
    CHECK(vs_tree_read(t, "/c", &v, &len));
    double t2 = now_s();
    char want[64];
    int n = make_value(want, sizeof(want), expect_seq);
    if (len != (size_t)n || memcmp(v, want, len) != 0)
        die("open test: /c has the wrong value after reopening");
    free(v);
    if (rss_delta)
        *rss_delta = rss_bytes() - rss0;
    *pack_s = t1 - t0;
    *total_s = t2 - t0;
    if (objects)
        *objects = rep.objects;
    vs_tree_close(t);
    vs_store_close(st);
    os->ops->close(os);
}

/* Each open runs in a fresh process (this program, exec'ed with --open-child), so its
 * memory is measured from a clean heap, as a daemon starting would have it. */
static void open_in_child(const char *path, uint64_t expect_seq, double *pack_s,
                          double *total_s, uint64_t *objects, uint64_t *rss_delta)
{
    int fds[2];
    if (pipe(fds) != 0)
        die("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        char seq[32];
        snprintf(seq, sizeof(seq), "%" PRIu64, expect_seq);
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl("/proc/self/exe", "store_bench", "--open-child", path, seq, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[256] = {0};
    size_t got = 0;
    ssize_t n;
    while (got < sizeof(buf) - 1 && (n = read(fds[0], buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("open test: the child failed");
    unsigned long long o, rd;
    if (sscanf(buf, "%lf %lf %llu %llu", pack_s, total_s, &o, &rd) != 4)
        die("open test: bad child output '%s'", buf);
    if (objects)
        *objects = o;
    if (rss_delta)
        *rss_delta = rd;
}

static void run_open(struct open_result *r)
{
    memset(r, 0, sizeof(*r));
    struct xk x;
    xk_open(&x, "history.pack", true);
    double t0 = now_s(), last = t0;
    char v[64];
    CHECK(vs_tree_set(x.t, "/c", "", 0, NULL, 0, VS_CREATE));
    for (uint64_t i = 0; i < opt_history; i++) {
        int n = make_value(v, sizeof(v), i);
        CHECK(vs_tree_set(x.t, "/c", v, (size_t)n, NULL, 0, VS_SET_VALUE));
        CHECK(vs_branch_commit(x.t, BRANCH, &g_info, STORE_SYNC_NONE, NULL, NULL, NULL));
        if ((i & 0xffff) == 0xffff && now_s() - last > 10) {
            last = now_s();
            fprintf(stderr, "  (building history: %s of %s commits, %.0f s)\n",
                    commas(i + 1), commas(opt_history), last - t0);
        }
    }
    xk_close(&x);
    r->build_s = now_s() - t0;
    r->commits = opt_history;
    char *path = sub_path("history.pack");
    r->file_size = file_size(path);
    evict(path);
    open_in_child(path, opt_history - 1, &r->cold_pack_s, &r->cold_total_s, &r->objects,
                  &r->rss_delta);
    r->warm_pack_s = r->warm_total_s = 1e9;
    for (int i = 0; i < 3; i++) {
        double p, t;
        open_in_child(path, opt_history - 1, &p, &t, NULL, NULL);
        if (t < r->warm_total_s) {
            r->warm_total_s = t;
            r->warm_pack_s = p;
        }
    }
}

/* ---- main ----------------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: store_bench [--dir DIR] [--round S] [--rounds N] [--history N] "
                    "[--quick] [--only commits|reads|dir|open] [--keep] [--allow-tmpfs]\n");
    exit(2);
}

static void describe_fs(const char *dir, char *out, size_t cap)
{
    struct statfs sf;
    if (statfs(dir, &sf) != 0)
        die("statfs %s: %s", dir, strerror(errno));
    const char *type = sf.f_type == TMPFS_MAGIC      ? "tmpfs"
                       : sf.f_type == EXT4_SUPER_MAGIC ? "ext4"
                       : sf.f_type == XFS_SUPER_MAGIC  ? "xfs"
                       : sf.f_type == BTRFS_SUPER_MAGIC ? "btrfs"
                       : sf.f_type == OVERLAYFS_SUPER_MAGIC ? "overlayfs"
                                                            : "other";
    if (sf.f_type == TMPFS_MAGIC && !opt_allow_tmpfs)
        die("%s is on tmpfs: fsync costs nothing there; use --dir on a real disk "
            "(or --allow-tmpfs)", dir);
    /* The device, from /proc/self/mountinfo (the longest mount point that prefixes dir). */
    char real[4096], dev[256] = "?";
    if (realpath(dir, real) == NULL)
        snprintf(real, sizeof(real), "%s", dir);
    FILE *f = fopen("/proc/self/mountinfo", "r");
    size_t best = 0;
    char line[2048];
    while (f && fgets(line, sizeof(line), f)) {
        char mp[1024], src[256];
        /* id parent maj:min root mountpoint opts ... - fstype source superopts */
        if (sscanf(line, "%*s %*s %*s %*s %1023s", mp) != 1)
            continue;
        char *dash = strstr(line, " - ");
        if (dash == NULL || sscanf(dash + 3, "%*s %255s", src) != 1)
            continue;
        size_t l = strlen(mp);
        bool prefix = strncmp(real, mp, l) == 0 && (real[l] == '/' || real[l] == 0 || l == 1);
        if (prefix && l >= best) {
            best = l;
            snprintf(dev, sizeof(dev), "%s", src);
        }
    }
    if (f)
        fclose(f);
    snprintf(out, cap, "%s (%s on %s)", real, type, dev);
}

/* fdatasync after writing 4 KiB: appended (the file grows: ext4 must also commit the new
 * size and block) or overwriting blocks the file already has, for the reader's calibration. */
static double fsync_latency_us(bool append)
{
    char *p = sub_path("fsync-probe");
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        die("open %s: %s", p, strerror(errno));
    char buf[4096];
    memset(buf, 0x5a, sizeof(buf));
    int n = 100;
    if (!append) {
        for (int i = 0; i < n; i++)
            if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
                die("fsync probe: %s", strerror(errno));
        if (fsync(fd) != 0)
            die("fsync probe: %s", strerror(errno));
    }
    double t0 = now_s();
    for (int i = 0; i < n; i++)
        if (pwrite(fd, buf, sizeof(buf), (off_t)i * (off_t)sizeof(buf)) != (ssize_t)sizeof(buf) ||
            fdatasync(fd) != 0)
            die("fsync probe: %s", strerror(errno));
    double us = (now_s() - t0) * 1e6 / n;
    close(fd);
    unlink(p);
    return us;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--open-child")) {
        double p, t;
        uint64_t o, rd;
        open_once(argv[2], strtoull(argv[3], NULL, 10), &p, &t, &o, &rd);
        printf("%.9f %.9f %" PRIu64 " %" PRIu64 "\n", p, t, o, rd);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--dir") && next)
            opt_dir = argv[++i];
        else if (!strcmp(a, "--round") && next)
            opt_round = atof(argv[++i]);
        else if (!strcmp(a, "--rounds") && next)
            opt_rounds = atoi(argv[++i]);
        else if (!strcmp(a, "--history") && next)
            opt_history = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(a, "--quick")) {
            opt_round = 0.2;
            opt_rounds = 2;
            opt_history = 100000;
        } else if (!strcmp(a, "--only") && next)
            opt_only = argv[++i];
        else if (!strcmp(a, "--keep"))
            opt_keep = true;
        else if (!strcmp(a, "--allow-tmpfs"))
            opt_allow_tmpfs = true;
        else
            usage();
    }
    if (opt_round <= 0 || opt_rounds < 1 || opt_history < 1)
        usage();
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (mkdir(opt_dir, 0777) != 0 && errno != EEXIST)
        die("mkdir %s: %s", opt_dir, strerror(errno));
    snprintf(g_base, sizeof(g_base), "%s/store-bench.XXXXXX", opt_dir);
    if (mkdtemp(g_base) == NULL)
        die("mkdtemp %s: %s", g_base, strerror(errno));
    char where[4400];
    describe_fs(g_base, where, sizeof(where));
    double t_start = now_s();

    printf("xenkit versioned store benchmark (pack file + tree layer) vs SQLite %s\n",
           sqlite3_libversion());
    printf("  files in %s; %ld CPUs\n", where, sysconf(_SC_NPROCESSORS_ONLN));
    double fa = fsync_latency_us(true), fo = fsync_latency_us(false);
    printf("  write 4 KiB + fdatasync there: %.0f us appending, %.0f us overwriting\n", fa, fo);
    printf("  SQLite: WAL, table kv(path TEXT PRIMARY KEY, value BLOB), prepared upsert, "
           "BEGIN..COMMIT per commit\n");
    printf("  keys /local/domain/D/data/kJ (%d of them for writes), values 22 bytes; "
           "commits: %d x %.1f s rounds per engine, alternating\n\n",
           NKEYS_WRITE, opt_rounds, opt_round);

#define PART(name) (opt_only == NULL || !strcmp(opt_only, name))
    /* Commits/s. */
    if (PART("commits")) {
    static const enum store_sync modes[] = {STORE_SYNC_ALWAYS, STORE_SYNC_BATCH, STORE_SYNC_NONE};
    struct commit_result cr[2][3];
    char **keys = make_keys(NKEYS_WRITE);
    printf("Commits/s                       xenkit         n      SQLite         n  "
           "xenkit/SQLite  (xenkit per commit: syncs, objects, bytes)\n");
    for (int txn = 0; txn < 2; txn++)
        for (int m = 0; m < 3; m++) {
            struct commit_result *r = &cr[txn][m];
            run_commit_case(txn, modes[m], keys, r);
            char label[64];
            snprintf(label, sizeof(label), "%s %s/%s", txn ? "50-write txn" : "single-key  ",
                     mode_name(modes[m]), sync_pragma(modes[m]));
            printf("  %-26s %10.0f %9s  %10.0f %9s  %8.2fx       (%.3f, %.1f, %.0f B)\n",
                   label, rate(&r->xk), commas(r->xk.n), rate(&r->sq), commas(r->sq.n),
                   rate(&r->xk) / rate(&r->sq), r->xk_syncs_per_commit,
                   r->xk_objects_per_commit, r->xk_bytes_per_commit);
        }
    printf("  (round-to-round spread, commits/s, xenkit | SQLite:");
    for (int txn = 0; txn < 2; txn++)
        for (int m = 0; m < 3; m++)
            printf("%s %s %s %.0f-%.0f | %.0f-%.0f", txn || m ? ";" : "",
                   txn ? "txn" : "single", mode_name(modes[m]), cr[txn][m].xk.worst,
                   cr[txn][m].xk.best, cr[txn][m].sq.worst, cr[txn][m].sq.best);
    printf(")\n");
    printf("  matched: ALWAYS = one fdatasync before set_ref returns ~ synchronous=FULL (WAL "
           "synced at every COMMIT);\n"
           "           BATCH = group commit, synced every 5 ms / 1024 updates, flushed at the "
           "end of each round ~ synchronous=NORMAL\n"
           "                   (WAL synced only at checkpoints; both stay consistent after a "
           "crash and may lose the last commits);\n"
           "           NONE = no sync ~ synchronous=OFF.\n\n");

    printf("Bytes per commit                on disk (xenkit)  written: xenkit    SQLite  "
           "(SQLite db+wal at the end)\n");
    for (int txn = 0; txn < 2; txn++)
        for (int m = 0; m < 3; m++) {
            struct commit_result *r = &cr[txn][m];
            char label[64];
            snprintf(label, sizeof(label), "%s %s/%s", txn ? "50-write txn" : "single-key  ",
                     mode_name(modes[m]), sync_pragma(modes[m]));
            printf("  %-26s %12.0f B %12.0f B %7.0f B  (%s B)\n", label,
                   r->xk_bytes_per_commit, (double)r->xk.written / (double)r->xk.n,
                   (double)r->sq.written / (double)r->sq.n, commas(r->sq_disk));
        }
    printf("  (on disk: how much the pack grew per commit; xenkit keeps every version until GC, "
           "SQLite updates in place.\n   written: bytes passed to write syscalls per commit, "
           "WAL frames and checkpoints included)\n\n");
    free_keys(keys, NKEYS_WRITE);
    }

    /* Reads. */
    if (PART("reads")) {
    struct read_result rr;
    run_reads(&rr);
    printf("Reads/s (random keys of %d, one value each)  ops/s         n  xenkit/SQLite\n",
           NKEYS_READ);
    printf("  xenkit, one open tree               %10.0f %9s  %8.2fx\n", rate(&rr.xk_tree),
           commas(rr.xk_tree.n), rate(&rr.xk_tree) / rate(&rr.sq));
    printf("  xenkit, head + tree opened per read %10.0f %9s  %8.2fx\n", rate(&rr.xk_snap),
           commas(rr.xk_snap.n), rate(&rr.xk_snap) / rate(&rr.sq));
    printf("  SQLite, prepared SELECT (autocommit)%10.0f %9s\n\n", rate(&rr.sq),
           commas(rr.sq.n));
    }

    /* Directory scaling. */
    if (PART("dir")) {
    static const uint64_t sizes[] = {10, 1000, 100000};
    struct dir_result dr[3];
    printf("Update cost in one directory (set one random entry + commit, NONE mode)\n");
    printf("  entries     us/update         n  objects/commit  bytes/commit  (build)\n");
    for (int i = 0; i < 3; i++) {
        run_dir(sizes[i], &dr[i]);
        printf("  %7s  %12.1f %9s  %14.1f  %12.0f  (%.2f s)\n", commas(dr[i].entries),
               dr[i].us_per_update, commas(dr[i].n), dr[i].objects_per_commit,
               dr[i].bytes_per_commit, dr[i].build_s);
    }
    printf("  largest/smallest: time %.2fx, bytes %.2fx\n\n",
           dr[2].us_per_update / dr[0].us_per_update,
           dr[2].bytes_per_commit / dr[0].bytes_per_commit);
    }

    /* Open with a long history. */
    if (PART("open")) {
    struct open_result orr;
    printf("Open a store with %s commits of history (one key, NONE mode, tiny commits)\n",
           commas(opt_history));
    run_open(&orr);
    printf("  built in %.1f s (%.0f commits/s); pack %s bytes (%.0f B/commit), %s objects\n",
           orr.build_s, (double)orr.commits / orr.build_s, commas(orr.file_size),
           (double)orr.file_size / (double)orr.commits, commas(orr.objects));
    printf("  cold (file evicted from the page cache): %.3f s (pack scan %.3f s, head + first "
           "read %.3f ms)\n",
           orr.cold_total_s, orr.cold_pack_s, (orr.cold_total_s - orr.cold_pack_s) * 1e3);
    printf("  warm (best of 3):                        %.3f s (pack scan %.3f s, head + first "
           "read %.3f ms)\n",
           orr.warm_total_s, orr.warm_pack_s, (orr.warm_total_s - orr.warm_pack_s) * 1e3);
    printf("  memory after open: +%.0f MiB RSS (%.0f B/object)\n",
           (double)orr.rss_delta / (1 << 20), (double)orr.rss_delta / (double)orr.objects);
    }

    printf("\ntotal %.0f s; %s\n", now_s() - t_start,
           opt_keep ? "kept the files" : "files removed");
    if (!opt_keep)
        rm_tree(g_base);
    return 0;
}
