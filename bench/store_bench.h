/* What the parts of store_bench share (store_bench.c: the settings, the timed cases and main;
 * store_bench_util.c: errors, clocks, files, keys and values; store_bench_engines.c: the two
 * engines, xenkit's pack + tree layer and SQLite, driven the same way). */
#ifndef XENKIT_BENCH_STORE_BENCH_H
#define XENKIT_BENCH_STORE_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "xenstore/store_pack.h"
#include "xenstore/store_tree.h"

extern char g_base[4096]; /* the temporary directory */
extern uint64_t g_seq;    /* every value written is a different one */
extern const struct vs_commit_info g_info;

#define BRANCH "main"
#define NKEYS_WRITE 1000   /* /local/domain/D/data/kJ, D < 10, J < 100 */
#define NKEYS_READ 10000   /* D < 100 */
#define TXN_WRITES 50

/* Dies with the failing call and its errno unless expr >= 0. */
#define CHECK(expr)                                                                        \
    do {                                                                                   \
        int rc_ = (expr);                                                                  \
        if (rc_ < 0)                                                                       \
            die("%s:%d: %s: %s", __FILE__, __LINE__, #expr, strerror(-rc_));               \
    } while (0)

/* xenkit: a pack file under the tree layer. */
struct xk {
    char path[4200];
    struct objstore *os;
    struct vs_store *st;
    struct vs_tree *t; /* long-lived working tree on the branch head */
};

/* SQLite in WAL mode, one table of key/value rows. */
struct sq {
    char path[4200];
    sqlite3 *db;
    sqlite3_stmt *begin, *commit, *upsert, *select;
};

void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
double now_s(void);
uint64_t rng(void);
uint64_t file_size(const char *path);
uint64_t rss_bytes(void);
char *sub_path(const char *name);
void rm_tree(const char *path);
uint64_t wchar(void);
void evict(const char *path);
const char *commas(uint64_t v);
char **make_keys(size_t n);
void free_keys(char **k, size_t n);
void xk_create_parents(struct vs_tree *t, size_t nkeys);
int make_value(char *buf, size_t cap, uint64_t seq);

void xk_open(struct xk *x, const char *name, bool create);
void xk_close(struct xk *x);
struct store_pack_stats xk_stats(struct xk *x);
void xk_populate(struct xk *x, char **keys, size_t nkeys);
void xk_single(struct xk *x, char **keys, size_t nkeys, enum store_sync sync);
void xk_txn(struct xk *x, char **keys, size_t nkeys, enum store_sync sync);
const char *sync_pragma(enum store_sync m);
void sq_open(struct sq *s, const char *name, enum store_sync mode);
void sq_close(struct sq *s);
void sq_populate(struct sq *s, char **keys, size_t nkeys);
void sq_single(struct sq *s, char **keys, size_t nkeys);
void sq_txn(struct sq *s, char **keys, size_t nkeys);
uint64_t sq_disk(struct sq *s);

#endif
