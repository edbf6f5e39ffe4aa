/* store_bench's helpers: errors, clocks, files and the page cache, the keys and values. */
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

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "store_bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
uint64_t rng(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        die("out of memory");
    return p;
}

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n, sz);
    if (p == NULL)
        die("out of memory");
    return p;
}

uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, res = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &res) != 2)
            res = 0;
        fclose(f);
    }
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

char *sub_path(const char *name)
{
    static char buf[8][4200];
    static int i;
    char *p = buf[i++ & 7];
    snprintf(p, sizeof(buf[0]), "%s/%s", g_base, name);
    return p;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

void rm_tree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Bytes this process passed to write(2)/pwrite(2) so far (/proc/self/io "wchar"). */
uint64_t wchar(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    unsigned long long v = 0;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "wchar: %llu", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

/* Drop a file's pages from the page cache (it must be clean: synced). */
void evict(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        die("open %s: %s", path, strerror(errno));
    if (fdatasync(fd) != 0 || posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0)
        die("evict %s: %s", path, strerror(errno));
    close(fd);
}

/* "12,345,678" */
const char *commas(uint64_t v)
{
    static char buf[8][32];
    static int k;
    char *out = buf[k++ & 7], tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v), o = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = tmp[i];
    }
    out[o] = 0;
    return out;
}

/* ---- the keys ------------------------------------------------------------------------------ */

char **make_keys(size_t n)
{
    char **k = xcalloc(n, sizeof(*k));
    for (size_t i = 0; i < n; i++) {
        char buf[64];
        snprintf(buf, sizeof(buf), "/local/domain/%zu/data/k%zu", i / 100, i % 100);
        k[i] = xstrdup(buf);
    }
    return k;
}

void free_keys(char **k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(k[i]);
    free(k);
}

/* The parents of the keys, in creation order (for the tree layer's VS_CREATE). */
void xk_create_parents(struct vs_tree *t, size_t nkeys)
{
    CHECK(vs_tree_set(t, "/local", "", 0, NULL, 0, VS_CREATE));
    CHECK(vs_tree_set(t, "/local/domain", "", 0, NULL, 0, VS_CREATE));
    for (size_t d = 0; d < (nkeys + 99) / 100; d++) {
        char p[64];
        snprintf(p, sizeof(p), "/local/domain/%zu", d);
        CHECK(vs_tree_set(t, p, "", 0, NULL, 0, VS_CREATE));
        snprintf(p, sizeof(p), "/local/domain/%zu/data", d);
        CHECK(vs_tree_set(t, p, "", 0, NULL, 0, VS_CREATE));
    }
}

int make_value(char *buf, size_t cap, uint64_t seq)
{
    return snprintf(buf, cap, "value-%016" PRIx64, (uint64_t)(seq * 0x2545f4914f6cdd1dull));
}

