/* store_bench's two engines, driven the same way: xenkit (the pack file under the tree layer)
 * and SQLite in WAL mode with one transaction per commit. */
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

const struct vs_commit_info g_info = {.author = "bench", .message = "", .time_ns = 0};


void xk_open(struct xk *x, const char *name, bool create)
{
    memset(x, 0, sizeof(*x));
    snprintf(x->path, sizeof(x->path), "%s", sub_path(name));
    struct store_pack_opts o = {.create = create};
    CHECK(store_pack_open_path(x->path, &o, &x->os, NULL));
    x->st = vs_store_open(x->os, 0);
    if (x->st == NULL)
        die("vs_store_open failed");
    struct store_hash head;
    int rc = vs_branch_head(x->st, BRANCH, &head);
    if (rc < 0 && rc != -ENOENT)
        CHECK(rc);
    CHECK(vs_tree_open(x->st, rc == 0 ? &head : NULL, &x->t));
}

void xk_close(struct xk *x)
{
    if (x->t)
        vs_tree_close(x->t);
    if (x->st)
        vs_store_close(x->st);
    if (x->os) {
        CHECK(x->os->ops->flush(x->os));
        x->os->ops->close(x->os);
    }
    memset(x, 0, sizeof(*x));
}

struct store_pack_stats xk_stats(struct xk *x)
{
    struct store_pack_stats s;
    store_pack_stats(x->os, &s);
    return s;
}

/* Create parents and keys, commit once (ALWAYS: the starting state is on the disk). */
void xk_populate(struct xk *x, char **keys, size_t nkeys)
{
    xk_create_parents(x->t, nkeys);
    for (size_t i = 0; i < nkeys; i++) {
        char v[64];
        int n = make_value(v, sizeof(v), g_seq++);
        CHECK(vs_tree_set(x->t, keys[i], v, (size_t)n, NULL, 0, VS_CREATE | VS_SET_VALUE));
    }
    CHECK(vs_branch_commit(x->t, BRANCH, &g_info, STORE_SYNC_ALWAYS, NULL, NULL, NULL));
}

void xk_single(struct xk *x, char **keys, size_t nkeys, enum store_sync sync)
{
    char v[64];
    int n = make_value(v, sizeof(v), g_seq++);
    CHECK(vs_tree_set(x->t, keys[rng() % nkeys], v, (size_t)n, NULL, 0, VS_SET_VALUE));
    CHECK(vs_branch_commit(x->t, BRANCH, &g_info, sync, NULL, NULL, NULL));
}

void xk_txn(struct xk *x, char **keys, size_t nkeys, enum store_sync sync)
{
    struct vs_txn *t;
    CHECK(vs_txn_begin(x->st, BRANCH, &t));
    for (int i = 0; i < TXN_WRITES; i++) {
        char v[64];
        int n = make_value(v, sizeof(v), g_seq++);
        CHECK(vs_txn_set(t, keys[rng() % nkeys], v, (size_t)n, NULL, 0, VS_SET_VALUE));
    }
    CHECK(vs_txn_commit(t, &g_info, sync, NULL, NULL, NULL));
}

/* ---- SQLite: the same writes in WAL mode ----------------------------------------------------- */


static void sq_exec(struct sq *s, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK)
        die("sqlite: %s: %s", sql, err ? err : "?");
}

static sqlite3_stmt *sq_prep(struct sq *s, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        die("sqlite: %s: %s", sql, sqlite3_errmsg(s->db));
    return st;
}

static void sq_step_done(struct sq *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        die("sqlite step: %s", sqlite3_errmsg(s->db));
    sqlite3_reset(st);
}

const char *sync_pragma(enum store_sync m)
{
    return m == STORE_SYNC_ALWAYS ? "FULL" : m == STORE_SYNC_BATCH ? "NORMAL" : "OFF";
}

void sq_open(struct sq *s, const char *name, enum store_sync mode)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->path, sizeof(s->path), "%s", sub_path(name));
    if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK)
        die("sqlite open %s", s->path);
    sq_exec(s, "PRAGMA journal_mode=WAL");
    char p[64];
    snprintf(p, sizeof(p), "PRAGMA synchronous=%s", sync_pragma(mode));
    sq_exec(s, p);
    sq_exec(s, "CREATE TABLE IF NOT EXISTS kv(path TEXT PRIMARY KEY, value BLOB NOT NULL)");
    s->begin = sq_prep(s, "BEGIN");
    s->commit = sq_prep(s, "COMMIT");
    s->upsert = sq_prep(s, "INSERT INTO kv(path, value) VALUES(?1, ?2) "
                           "ON CONFLICT(path) DO UPDATE SET value = excluded.value");
    s->select = sq_prep(s, "SELECT value FROM kv WHERE path = ?1");
}

void sq_close(struct sq *s)
{
    sqlite3_finalize(s->begin);
    sqlite3_finalize(s->commit);
    sqlite3_finalize(s->upsert);
    sqlite3_finalize(s->select);
    if (sqlite3_close(s->db) != SQLITE_OK)
        die("sqlite close: %s", sqlite3_errmsg(s->db));
    memset(s, 0, sizeof(*s));
}

static void sq_put(struct sq *s, const char *key)
{
    char v[64];
    int n = make_value(v, sizeof(v), g_seq++);
    sqlite3_bind_text(s->upsert, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s->upsert, 2, v, n, SQLITE_TRANSIENT);
    sq_step_done(s, s->upsert);
}

void sq_populate(struct sq *s, char **keys, size_t nkeys)
{
    sq_step_done(s, s->begin);
    for (size_t i = 0; i < nkeys; i++)
        sq_put(s, keys[i]);
    sq_step_done(s, s->commit);
}

void sq_single(struct sq *s, char **keys, size_t nkeys)
{
    sq_step_done(s, s->begin);
    sq_put(s, keys[rng() % nkeys]);
    sq_step_done(s, s->commit);
}

void sq_txn(struct sq *s, char **keys, size_t nkeys)
{
    sq_step_done(s, s->begin);
    for (int i = 0; i < TXN_WRITES; i++)
        sq_put(s, keys[rng() % nkeys]);
    sq_step_done(s, s->commit);
}

uint64_t sq_disk(struct sq *s)
{
    char p[4300];
    snprintf(p, sizeof(p), "%s-wal", s->path);
    return file_size(s->path) + file_size(p);
}

