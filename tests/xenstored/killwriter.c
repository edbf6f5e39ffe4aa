/*
 * killwriter: a libxenstore client for tests/xenstored/killtest.sh, which kills vxenstored
 * with SIGKILL again and again while several of these write.
 *
 *   killwriter write ID plain|txn LOG   write until SIGTERM, logging each acknowledged write
 *   killwriter check ID plain|txn LOG   check that every write LOG acknowledges is present
 *
 * Writer ID writes under /kill/ID. "plain" writes /kill/ID/<n % SLOTS> = "<n>" with xs_write
 * for n = 0, 1, ...; "txn" writes /kill/ID/<slot>a and /kill/ID/<slot>b = "<n>" in one
 * transaction (retried on EAGAIN). A line "<slot> <n>" goes to LOG, flushed at once, only
 * after libxenstore returned success: that write is acknowledged. A request whose reply never
 * came (the daemon died) is unknown: it may or may not have been applied, so it is not
 * logged, and the writer reconnects with xs_open and goes on with the next n.
 *
 * The check: for every slot, the value in the store is a number at least the largest n
 * acknowledged for it (the acknowledged value, or a later write that may itself be
 * acknowledged or unknown, since n only grows), and a transaction's two keys are equal (both
 * or neither of its writes were applied). It prints "<acked writes> <slots>" on success.
 *
 * KILLWRITER_ONE_CONN=1: the writer keeps its one xs_open for its whole life and fails (exit
 * 1) when a request fails otherwise than a transaction's EAGAIN: the daemon runs under an fd
 * store (vxs-fdstore, tests/xenstored/killtest_fdstore.sh), so its death must not reach us.
 *
 *   killwriter watch ID LOG   watch /kill/ID on one connection for life, a line per event
 *                             to LOG (flushed); exit 1 if the connection is lost
 *
 * KILLWRITER_RING=1: the writer opens xenstore with xs_open(0) (with XENSTORED_PATH set to
 * /dev/xen/xenbus libxenstore 4.17 uses that device, i.e. dom0's ring): the kernel keeps
 * the request across the daemon's death, so a write only fails if the daemon loses it. The
 * rig's vxs-restart scenario uses this.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#define SLOTS 64

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Connect, waiting for the daemon to come back (its socket refuses meanwhile). */
static struct xs_handle *connect_xs(void)
{
    const char *ring = getenv("KILLWRITER_RING");
    unsigned long flags = ring && *ring == '1' ? 0 : XS_OPEN_SOCKETONLY;
    while (!stop) {
        struct xs_handle *h = xs_open(flags);
        if (h)
            return h;
        pause_ms(10);
    }
    return NULL;
}

static void key(char *buf, size_t cap, const char *id, unsigned slot, const char *suffix)
{
    snprintf(buf, cap, "/kill/%s/%u%s", id, slot, suffix);
}

/* One transaction writing both keys of a slot: 1 committed, 0 conflict (retry), -1 the
 * connection failed (unknown). */
static int txn_write(struct xs_handle *h, const char *id, unsigned slot, const char *val)
{
    xs_transaction_t t = xs_transaction_start(h);
    if (t == XBT_NULL)
        return -1;
    char ka[64], kb[64];
    key(ka, sizeof ka, id, slot, "a");
    key(kb, sizeof kb, id, slot, "b");
    if (!xs_write(h, t, ka, val, strlen(val)) || !xs_write(h, t, kb, val, strlen(val))) {
        int e = errno;
        xs_transaction_end(h, t, true);
        return e == EAGAIN ? 0 : -1;
    }
    if (xs_transaction_end(h, t, false))
        return 1;
    return errno == EAGAIN ? 0 : -1;
}

/* A writer's or watcher's start: its log opened for appending (NULL: reported), SIGTERM and
 * SIGINT ending its loop, SIGPIPE ignored (a dying daemon must not kill the client). */
static FILE *client_start(const char *log)
{
    FILE *f = fopen(log, "a");
    if (!f) {
        perror(log);
        return NULL;
    }
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return f;
}

static int run_writer(const char *id, bool txn, const char *log)
{
    FILE *f = client_start(log);
    if (!f)
        return 1;
    /* Resume after the last n of an earlier run of this writer, so values keep growing. */
    unsigned long n = 0;
    unsigned slot0;
    unsigned long n0;
    FILE *old = fopen(log, "r");
    if (old) {
        while (fscanf(old, "%u %lu", &slot0, &n0) == 2)
            if (n0 + 1 > n)
                n = n0 + 1;
        fclose(old);
    }
    /* KILLWRITER_PAUSE_US: a pause between writes, to bound the database's growth (every
     * restart scans the whole pack). */
    const char *pause_env = getenv("KILLWRITER_PAUSE_US");
    long pause_us = pause_env ? atol(pause_env) : 0;
    unsigned long reconnects = 0, failures = 0;
    const char *one = getenv("KILLWRITER_ONE_CONN");
    bool one_conn = one && *one == '1';
    struct xs_handle *h = connect_xs();
    while (!stop && h) {
        unsigned slot = (unsigned)(n % SLOTS);
        char val[32];
        snprintf(val, sizeof val, "%lu", n);
        int ok;
        if (txn) {
            do
                ok = txn_write(h, id, slot, val);
            while (ok == 0 && !stop);
        } else {
            char k[64];
            key(k, sizeof k, id, slot, "");
            ok = xs_write(h, XBT_NULL, k, val, strlen(val)) ? 1 : -1;
        }
        if (ok == 1) {
            fprintf(f, "%u %lu\n", slot, n);
            fflush(f);
        } else if (ok < 0 && one_conn) {
            fprintf(stderr, "killwriter %s: request %lu failed (%s) on the one connection\n",
                    id, n, strerror(errno));
            failures++;
            break;
        } else if (ok < 0) {
            /* Unknown: the daemon may have died with the request applied or not. */
            failures++;
            xs_close(h);
            reconnects++;
            h = connect_xs();
        }
        n++;
        if (pause_us > 0) {
            struct timespec ts = {pause_us / 1000000, (pause_us % 1000000) * 1000L};
            nanosleep(&ts, NULL);
        }
    }
    if (h)
        xs_close(h);
    fclose(f);
    fprintf(stderr, "killwriter %s: %lu writes tried, %lu failed, %lu reconnections\n", id, n,
            failures, reconnects);
    return one_conn && failures ? 1 : 0;
}

static int run_watcher(const char *id, const char *log)
{
    FILE *f = client_start(log);
    if (!f)
        return 1;
    struct xs_handle *h = connect_xs();
    char path[64];
    snprintf(path, sizeof path, "/kill/%s", id);
    if (!h || !xs_watch(h, path, "w")) {
        fprintf(stderr, "killwatcher %s: cannot watch %s\n", id, path);
        return 1;
    }
    unsigned long events = 0;
    int rc = 0;
    while (!stop) {
        unsigned n;
        char **ev = xs_read_watch(h, &n);
        if (!ev) {
            if (errno == EINTR && stop)
                break;
            fprintf(stderr, "killwatcher %s: connection lost after %lu events (%s)\n", id,
                    events, strerror(errno));
            rc = 1;
            break;
        }
        fprintf(f, "%s\n", ev[XS_WATCH_PATH]);
        fflush(f);
        events++;
        free(ev);
    }
    fclose(f);
    fprintf(stderr, "killwatcher %s: %lu events\n", id, events);
    return rc;
}

static bool read_num(struct xs_handle *h, const char *k, unsigned long *out)
{
    unsigned len;
    char *v = xs_read(h, XBT_NULL, k, &len);
    if (!v)
        return false;
    char *end;
    errno = 0;
    *out = strtoul(v, &end, 10);
    bool ok = len > 0 && *end == 0 && errno == 0;
    free(v);
    return ok;
}

static int run_check(const char *id, bool txn, const char *log)
{
    FILE *f = fopen(log, "r");
    if (!f) {
        perror(log);
        return 1;
    }
    long acked[SLOTS];
    for (unsigned i = 0; i < SLOTS; i++)
        acked[i] = -1;
    unsigned slot;
    unsigned long n, lines = 0;
    while (fscanf(f, "%u %lu", &slot, &n) == 2) {
        if (slot >= SLOTS) {
            fprintf(stderr, "%s: bad line\n", log);
            return 1;
        }
        if ((long)n > acked[slot])
            acked[slot] = (long)n;
        lines++;
    }
    fclose(f);
    struct xs_handle *h = xs_open(XS_OPEN_SOCKETONLY);
    if (!h) {
        perror("xs_open");
        return 1;
    }
    unsigned bad = 0, slots = 0;
    for (unsigned i = 0; i < SLOTS; i++) {
        if (acked[i] < 0)
            continue;
        slots++;
        char k[64];
        unsigned long v, v2;
        key(k, sizeof k, id, i, txn ? "a" : "");
        if (!read_num(h, k, &v) || (long)v < acked[i]) {
            fprintf(stderr, "LOST: %s acknowledged %ld, store has %s\n", k, acked[i],
                    read_num(h, k, &v) ? "an older value" : "nothing");
            bad++;
            continue;
        }
        if (txn) {
            key(k, sizeof k, id, i, "b");
            if (!read_num(h, k, &v2) || v2 != v) {
                fprintf(stderr, "TORN: transaction of %s/%u: a=%lu, b differs\n", id, i, v);
                bad++;
            }
        }
    }
    xs_close(h);
    if (bad)
        return 1;
    printf("%lu %u\n", lines, slots);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "watch") == 0)
        return run_watcher(argv[2], argv[3]);
    if (argc != 5 || (strcmp(argv[3], "plain") && strcmp(argv[3], "txn"))) {
        fprintf(stderr, "usage: killwriter write|check ID plain|txn LOG\n");
        return 2;
    }
    bool txn = strcmp(argv[3], "txn") == 0;
    if (strcmp(argv[1], "write") == 0)
        return run_writer(argv[2], txn, argv[4]);
    if (strcmp(argv[1], "check") == 0)
        return run_check(argv[2], txn, argv[4]);
    fprintf(stderr, "usage: killwriter write|check ID plain|txn LOG\n");
    return 2;
}
