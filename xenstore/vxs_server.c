/*
 * vxenstored's state apart from its poll loop: the server (one global, see vxs.h), the log,
 * the store (opened, and given its initial tree when empty) and the durability of commits
 * (each commit gets a seq number; a reply waits until its seq is durable). Kept out of
 * vxs_main.c so that the unit tests (tests/unit/vxs_harness.c) run the daemon's request
 * handling in-process, on the same state, without its socket and poll loop.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>

#include "xenstore/store_pack.h"
#include "xenstore/vxs.h"

struct vxs_server vxs;

static bool use_syslog;

void vxs_log_to_syslog(void)
{
    openlog("vxenstored", LOG_PID, LOG_DAEMON);
    use_syslog = true;
}

void vxs_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (use_syslog) {
        vsyslog(LOG_NOTICE, fmt, ap);
    } else {
        fprintf(stderr, "vxenstored: ");
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
    va_end(ap);
}

/* ---- durability of commits ---------------------------------------------------------------- */

uint64_t vxs_seq_new(void)
{
    uint64_t seq = ++vxs.next_seq;
    size_t idx = (size_t)(seq - vxs.durable_upto - 1);
    if (idx >= vxs.done_cap) {
        size_t cap = vxs.done_cap ? vxs.done_cap * 2 : 64;
        while (cap <= idx)
            cap *= 2;
        bool *d = realloc(vxs.done, cap * sizeof *d);
        if (!d) {
            vxs_log("out of memory");
            exit(1);
        }
        memset(d + vxs.done_cap, 0, (cap - vxs.done_cap) * sizeof *d);
        vxs.done = d;
        vxs.done_cap = cap;
    }
    return seq;
}

void vxs_seq_durable(void *arg, bool ok)
{
    uint64_t seq = (uint64_t)(uintptr_t)arg;
    if (!ok) {
        /* Not durable: its reply must never leave (the loop ends the daemon on the error). */
        vxs_log("commit %llu: sync failed", (unsigned long long)seq);
        return;
    }
    if (seq <= vxs.durable_upto)
        return;
    vxs.done[seq - vxs.durable_upto - 1] = true;
    size_t k = 0;
    while (k < vxs.done_cap && vxs.done[k])
        k++;
    if (k) {
        memmove(vxs.done, vxs.done + k, (vxs.done_cap - k) * sizeof *vxs.done);
        memset(vxs.done + vxs.done_cap - k, 0, k * sizeof *vxs.done);
        vxs.durable_upto += k;
    }
}

/* --sync batch: by default each round ends with one flush in the loop (the round's commits
 * written and synced together). With VXS_SYNC_THREAD=1 it runs as a pipelined group commit:
 * the pack's sync thread flushes the device while the loop goes on, and a reply waits for the
 * sync that covers its commit (vxs_durable_round). Not the default: measured on this 2-CPU
 * machine under load, 10 closed-loop writers split into two cohorts of ~5 commits per sync
 * (inline: ~10), twice the syncs for 0.74-0.91x the writes/s (docs/ARCHITECTURE.md). The
 * thread starts on first use, i.e. in the loop after the fork (it would not survive it). */
int vxs_durable_fd(void)
{
    /* The pack's zeros ahead of the records are written by a thread of its own, not by the
     * commit that runs out of them (store_pack_fill.c). Started here, on the loop's first
     * round, for the same reason as the sync thread: after the fork. */
    static bool fill_started;
    if (!fill_started && vxs.is_pack) {
        fill_started = true;
        int rc = store_pack_fill_thread(vxs.os);
        if (rc < 0)
            vxs_log("no fill thread (%s): commits write the zeros ahead themselves",
                    strerror(-rc));
    }
    if (!vxs.sync_started && vxs.is_pack && vxs.sync == STORE_SYNC_BATCH) {
        vxs.sync_started = true;
        const char *env = getenv("VXS_SYNC_THREAD");
        vxs.sync_fd = env && strcmp(env, "1") == 0 ? store_pack_sync_thread(vxs.os) : -ENOSYS;
        if (vxs.sync_fd < 0 && vxs.sync_fd != -ENOSYS)
            vxs_log("no sync thread (%s): each round syncs in the loop",
                    strerror(-vxs.sync_fd));
    }
    return vxs.sync_started && vxs.sync_fd >= 0 ? vxs.sync_fd : -1;
}

/* The last commit's seq when the last round's vxs_durable_round ran (vxs_store_poll_timeout). */
static uint64_t round_seq;

int vxs_durable_round(void)
{
    round_seq = vxs.next_seq;
    if (vxs.sync_started && vxs.sync_fd >= 0)
        return store_pack_sync_round(vxs.os);
    if (vxs.durable_upto < vxs.next_seq)
        return vxs.os->ops->flush(vxs.os);
    return 0;
}

/* store_pack_poll flushes a batch whose oldest commit waited batch_max_ms (5 ms) right there,
 * and the durable callbacks then release the replies and watch events that waited for it
 * (vxs.durable_upto moves), but it reports -1 ("nothing waits"). Those leave only at a
 * round's end (vxs_conn_flush_all), so the loop must not sleep first: the clients wait for
 * them and send no event, and the loop would sleep until its next timer. It happened after a
 * restart: the requests the restore read (vxs_domain_restore) committed before the loop's
 * first wait, a loaded host let 5 ms pass before it, and the next timer was the guest's
 * watch-event expiry: 20 s without a reply on either ring, then the guest's event dropped
 * (killtest_ring, "19 quiet waits" and a missing event, under load).
 * With the sync thread the pack's poll has no timer at all (-1: its eventfd wakes the loop),
 * but the thread syncs only records a round wrote (store_pack_sync_round): the commits made
 * since the last round's (the restore's, or those of requests a ring's flush read after it)
 * would wait in the write buffer for a wake-up nobody sends. So a round at once for them. */
int vxs_store_poll_timeout(void)
{
    if (!vxs.is_pack)
        return -1;
    if (vxs.sync_started && vxs.sync_fd >= 0 && vxs.next_seq != round_seq)
        return 0;
    uint64_t durable = vxs.durable_upto;
    int timeout = store_pack_poll(vxs.os);
    if (timeout >= -1 && vxs.durable_upto != durable)
        return 0;
    return timeout;
}

int vxs_shutdown(void)
{
    int rc = vxs.os->ops->flush(vxs.os); /* every commit durable, its seq marked */
    if (rc < 0)
        vxs_log("store flush failed");
    for (struct vxs_conn *c = vxs.conns; c && rc == 0; c = c->next)
        if (!c->dead)
            vxs_conn_flush(c); /* what may leave now (a full socket keeps the rest) */
    vs_store_close(vxs.st);
    vxs.os->ops->close(vxs.os); /* stops the sync thread; syncs what the flushes above added */
    if (vxs.verbose)
        vxs_log("terminated by signal");
    return rc < 0 ? 1 : 0;
}

/* ---- the store ----------------------------------------------------------------------------- */

static int store_init(void);

int vxs_store_open(const char *db)
{
    if (strcmp(db, ":memory:") == 0) {
        vxs.os = store_memobj_open();
        if (!vxs.os)
            return -ENOMEM;
    } else {
        if (mkdir(db, 0700) < 0 && errno != EEXIST) {
            vxs_log("%s: %s", db, strerror(errno));
            return -errno;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/xenstore.pack", db);
        struct store_pack_opts opts = {.create = true};
        struct store_pack_report rep;
        int rc = store_pack_open_path(path, &opts, &vxs.os, &rep);
        if (rc < 0) {
            vxs_log("%s: cannot open the store: %s", path, strerror(-rc));
            return rc;
        }
        vxs.is_pack = true;
        if (vxs.verbose)
            vxs_log("%s", rep.msg);
    }
    return store_init();
}

int vxs_store_open_pack(struct store_iodir *dir)
{
    struct store_pack_opts opts = {.create = true};
    int rc = store_pack_open(dir, "xenstore.pack", &opts, &vxs.os, NULL);
    if (rc < 0)
        return rc;
    vxs.is_pack = true;
    return store_init();
}

/* vs_store on vxs.os, with the initial tree if the branch is new. */
static int store_init(void)
{
    vxs.st = vs_store_open(vxs.os, 0);
    if (!vxs.st)
        return -ENOMEM;
    struct store_hash head;
    int rc = vs_branch_head(vxs.st, VXS_BRANCH, &head);
    if (rc == -ENOENT) {
        struct vs_txn *x;
        rc = vs_txn_begin(vxs.st, VXS_BRANCH, &x);
        if (rc < 0)
            return rc;
        rc = vxs_node_init(x);
        if (rc < 0) {
            vs_txn_abort(x);
            return rc;
        }
        struct vs_commit_info info = {.author = "vxenstored", .message = "initial tree"};
        rc = vs_txn_commit(x, &info, STORE_SYNC_ALWAYS, NULL, NULL, NULL);
    }
    return rc;
}

uint64_t vxs_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

char *vxs_fmt_u32(char *p, uint32_t v)
{
    char tmp[10];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}
