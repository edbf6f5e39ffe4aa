/*
 * xsprobe: the xenbus client end to end against dom0's xenstored.
 *
 *  1. reads its own domid ("domid"), name ("name") and home path (GET_DOMAIN_PATH);
 *  2. measures xenstore round trips (reads and writes of its own nodes);
 *  3. writes data/xsprobe = "ready" and waits (a watch, queue mode) for dom0 to write
 *     data/command; answers "ack <command>" in data/reply;
 *  4. bumps data/counter in a transaction with retry. The first attempt is made to conflict
 *     on purpose (the node is rewritten outside the transaction after the transaction read
 *     it), so the retry path runs every time: the commit must say EAGAIN, the second try
 *     must succeed;
 *  5. writes data/xsprobe = "done", waits for dom0 to write data/command = "exit" (its nodes
 *     go with the domain) and returns (the domain powers off).
 * Every step prints one "xsprobe: ..." line; the e2e scenario tests/e2e/scenarios/xsprobe.sh
 * drives it and checks the nodes.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <xenkit/app.h>

#include "xen/clock.h"
#include "xen/eventloop.h"
#include "xen/xenbus.h"

#define ROUNDS 200
#define WRITE_ROUNDS 20
#define MEAN_ROUNDS 2000
#define COMMAND_TIMEOUT_NS (60 * NSEC_PER_SEC)

static uint64_t samples[ROUNDS];

static void sort(uint64_t *v, unsigned n)
{
    for (unsigned i = 1; i < n; i++) {
        uint64_t x = v[i];
        unsigned j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

/* Microseconds with one decimal, from nanoseconds. */
#define US(ns) (unsigned long)((ns) / 1000), (unsigned)((ns) % 1000 / 100)

static void report(const char *what, uint64_t *v, unsigned n)
{
    uint64_t sum = 0;
    unsigned ticked = 0;
    for (unsigned i = 0; i < n; i++) {
        sum += v[i];
        ticked += v[i] != 0;
    }
    /* A clock that moves in coarse steps makes single operations look free: say so rather
     * than print a distribution of zeros. */
    if (ticked < n / 2) {
        printf("xsprobe: latency %s n=%u: no per-op figures, the clock moved during only %u "
               "of them (mean %lu.%uus)\n",
               what, n, ticked, US(sum / n));
        return;
    }
    sort(v, n);
    printf("xsprobe: latency %s n=%u min=%lu.%uus median=%lu.%uus p90=%lu.%uus max=%lu.%uus "
           "mean=%lu.%uus\n",
           what, n, US(v[0]), US(v[n / 2]), US(v[n * 9 / 10]), US(v[n - 1]), US(sum / n));
}

static int measure(void)
{
    char buf[64];
    for (unsigned i = 0; i < ROUNDS; i++) {
        uint64_t t0 = clock_monotonic_ns();
        int rc = xenbus_read(XENBUS_TX_NONE, "name", buf, sizeof(buf));
        samples[i] = clock_monotonic_ns() - t0;
        if (rc < 0)
            return rc;
    }
    report("read", samples, ROUNDS);
    /* The mean over many reads, which a coarse clock measures well enough. */
    uint64_t t0 = clock_monotonic_ns();
    for (unsigned i = 0; i < MEAN_ROUNDS; i++) {
        int rc = xenbus_read(XENBUS_TX_NONE, "name", buf, sizeof(buf));
        if (rc < 0)
            return rc;
    }
    uint64_t total = clock_monotonic_ns() - t0;
    printf("xsprobe: latency read mean over %u reads: %lu.%uus (%lu ms in all)\n", MEAN_ROUNDS,
           US(total / MEAN_ROUNDS), (unsigned long)(total / NSEC_PER_MSEC));
    for (unsigned i = 0; i < WRITE_ROUNDS; i++) {
        uint64_t t0 = clock_monotonic_ns();
        int rc = xenbus_printf(XENBUS_TX_NONE, "data/xsprobe-scratch", "%u", i);
        samples[i] = clock_monotonic_ns() - t0;
        if (rc < 0)
            return rc;
    }
    report("write", samples, WRITE_ROUNDS);
    xenbus_tx_t t;
    int rc = xenbus_transaction_start(&t);
    if (rc != 0)
        return rc;
    for (unsigned i = 0; i < WRITE_ROUNDS; i++) {
        uint64_t t0 = clock_monotonic_ns();
        rc = xenbus_printf(t, "data/xsprobe-scratch", "%u", i);
        samples[i] = clock_monotonic_ns() - t0;
        if (rc < 0)
            return rc;
    }
    if ((rc = xenbus_transaction_end(t, false)) != 0)
        return rc;
    report("write-in-transaction", samples, WRITE_ROUNDS);
    return xenbus_rm(XENBUS_TX_NONE, "data/xsprobe-scratch");
}

struct bump {
    unsigned attempt;
    uint64_t old;
};

static int bump_counter(xenbus_tx_t t, void *arg)
{
    struct bump *b = arg;
    char buf[24];
    b->attempt++;
    int rc = xenbus_read_u64(t, "data/counter", &b->old);
    if (rc == -ENOENT)
        b->old = 0;
    else if (rc != 0)
        return rc;
    if (b->attempt == 1) {
        /* The deliberate conflict: rewrite (even with the same value) what the transaction
         * read, from outside it. The daemon must then refuse the commit with EAGAIN. */
        snprintf(buf, sizeof(buf), "%lu", (unsigned long)b->old);
        if (rc == 0 && (rc = xenbus_write(XENBUS_TX_NONE, "data/counter", buf)) != 0)
            return rc;
    }
    return xenbus_printf(t, "data/counter", "%lu", (unsigned long)(b->old + 1));
}

static int fail(const char *what, int rc)
{
    printf("xsprobe: FAILED %s: %d\n", what, rc);
    return 1;
}

int app_main(const char *cmdline)
{
    (void)cmdline;
    char name[128], home[128], cmd[256], path[XENBUS_WATCH_PATH_MAX];
    uint32_t domid;
    int rc;

    if (!xenbus_available())
        return fail("no xenstore", -ENODEV);
    if ((rc = xenbus_get_domid(&domid)) != 0)
        return fail("read domid", rc);
    if ((rc = xenbus_read(XENBUS_TX_NONE, "name", name, sizeof(name))) < 0)
        return fail("read name", rc);
    if ((rc = xenbus_get_domain_path(domid, home, sizeof(home))) < 0)
        return fail("get_domain_path", rc);
    printf("xsprobe: name=%s domid=%u home=%s features=0x%x\n", name, (unsigned)domid, home,
           (unsigned)xenbus_server_features());

    if ((rc = measure()) != 0)
        return fail("latency rounds", rc);

    struct xs_perm perms[4];
    int n = xenbus_get_perms(XENBUS_TX_NONE, "data", perms, 4);
    if (n < 0)
        return fail("get_perms data", n);
    printf("xsprobe: data perms owner=%u access=%c entries=%d\n", (unsigned)perms[0].domid,
           perms[0].access, n);

    /* Watch first, then announce: dom0 writes the command only after "ready". */
    struct xenbus_watch w;
    if ((rc = xenbus_watch_add(&w, "data/command", NULL, NULL)) != 0)
        return fail("watch data/command", rc);
    if ((rc = xenbus_write(XENBUS_TX_NONE, "data/xsprobe", "ready")) != 0)
        return fail("write data/xsprobe", rc);
    printf("xsprobe: ready, waiting for data/command\n");

    uint64_t deadline = clock_monotonic_ns() + COMMAND_TIMEOUT_NS;
    unsigned events = 0;
    for (;;) {
        rc = xenbus_watch_wait(&w, deadline, path, sizeof(path));
        if (rc != 0)
            return fail("waiting for data/command", rc);
        events++;
        rc = xenbus_read(XENBUS_TX_NONE, "data/command", cmd, sizeof(cmd));
        if (rc > 0)
            break;
        if (rc < 0 && rc != -ENOENT)
            return fail("read data/command", rc);
    }
    printf("xsprobe: command \"%s\" (after %u watch events, last %s)\n", cmd, events, path);
    if ((rc = xenbus_printf(XENBUS_TX_NONE, "data/reply", "ack %s", cmd)) != 0)
        return fail("write data/reply", rc);

    struct bump b = { 0, 0 };
    unsigned tries;
    rc = xenbus_transaction_run(bump_counter, &b, 0, &tries);
    if (rc != 0)
        return fail("counter transaction", rc);
    printf("xsprobe: counter %lu -> %lu in %u tries\n", (unsigned long)b.old,
           (unsigned long)(b.old + 1), tries);
    if ((rc = xenbus_printf(XENBUS_TX_NONE, "data/counter-tries", "%u", tries)) != 0)
        return fail("write data/counter-tries", rc);

    struct xenbus_stats st;
    xenbus_get_stats(&st);
    printf("xsprobe: %lu requests, %lu replies, %lu bad, %lu watch events\n",
           (unsigned long)st.requests, (unsigned long)st.replies,
           (unsigned long)st.bad_replies, (unsigned long)st.watch_events);
    if ((rc = xenbus_write(XENBUS_TX_NONE, "data/xsprobe", "done")) != 0)
        return fail("write done", rc);
    printf("xsprobe: done\n");

    /* Our nodes vanish with the domain: stay until dom0 has checked them and says "exit". */
    deadline = clock_monotonic_ns() + COMMAND_TIMEOUT_NS;
    while (strcmp(cmd, "exit") != 0) {
        if ((rc = xenbus_watch_wait(&w, deadline, NULL, 0)) != 0)
            return fail("waiting for exit", rc);
        if ((rc = xenbus_read(XENBUS_TX_NONE, "data/command", cmd, sizeof(cmd))) < 0)
            return fail("read data/command", rc);
    }
    xenbus_watch_remove(&w);
    printf("xsprobe: exit\n");
    return 0;
}
