/*
 * xs10k: 10,000 xenstore keys written and read back, timed.
 *
 * An unprivileged domain may not own many nodes at once (C xenstored's node quota; in the
 * rig, Xen 4.17's daemon said ENOSPC at key 531 of a batch of 1000, and at key 1403 when
 * batches of 500 were removed in between), so the keys go in 100 batches of 100 under
 * data/xs10k/: write the batch, read every key back and compare, remove the keys one by
 * one, next batch. Prints the totals and the mean round trip per operation, then
 * "xs10k: ok" (or "xs10k: FAILED ...") and powers off. While it works it prints a line at
 * least every PROGRESS_NS (give or take a batch), so that the scenario can tell a slow run
 * (a loaded machine: two rig runs at once made round trips 10-30 times slower) from a
 * stuck one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenkit/app.h>

#include "xen/clock.h"
#include "xen/xenbus.h"

/* Defaults; the command line may say "keys=N batch=M". */
#define KEYS 10000
#define BATCH 100
/* A progress line after a batch if the last line is this old, on Xen's clock (the monotonic
 * clock may stand still for a while under the nested rig: no line would then say we move). */
#define PROGRESS_NS (2 * NSEC_PER_SEC)

static unsigned option(const char *cmdline, const char *name, unsigned dflt)
{
    const char *p = strstr(cmdline, name);
    return p != NULL ? (unsigned)strtoul(p + strlen(name), NULL, 10) : dflt;
}

static int fail(const char *what, unsigned key, int rc)
{
    printf("xs10k: FAILED %s key %u: %d\n", what, key, rc);
    return 1;
}

/* Value of key i: varied lengths (1..40 bytes) so that framing bugs show. */
static int value_of(unsigned i, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "v%u-", i);
    for (unsigned k = 0; k < i % 32; k++)
        buf[n++] = (char)('a' + (i + k) % 26);
    buf[n] = '\0';
    return n;
}

int app_main(const char *cmdline)
{
    unsigned keys = option(cmdline, "keys=", KEYS), batch = option(cmdline, "batch=", BATCH);
    char path[64], want[64], got[64];
    uint64_t write_ns = 0, read_ns = 0, rm_ns = 0;
    int rc;

    if (!xenbus_available())
        return fail("no xenstore", 0, -ENODEV);
    if (batch == 0 || keys == 0)
        return fail("options", 0, -EINVAL);
    printf("xs10k: writing and reading %u keys in batches of %u\n", keys, batch);
    uint64_t last_line = clock_xen_ns();
    for (unsigned base = 0; base < keys; base += batch) {
        unsigned end = base + batch < keys ? base + batch : keys;
        uint64_t t0 = clock_monotonic_ns();
        for (unsigned i = base; i < end; i++) {
            snprintf(path, sizeof(path), "data/xs10k/%u", i);
            value_of(i, want, sizeof(want));
            if ((rc = xenbus_write(XENBUS_TX_NONE, path, want)) != 0)
                return fail("write", i, rc);
        }
        uint64_t t1 = clock_monotonic_ns();
        for (unsigned i = base; i < end; i++) {
            snprintf(path, sizeof(path), "data/xs10k/%u", i);
            int n = value_of(i, want, sizeof(want));
            rc = xenbus_read(XENBUS_TX_NONE, path, got, sizeof(got));
            if (rc < 0)
                return fail("read", i, rc);
            if (rc != n || memcmp(got, want, (size_t)n) != 0) {
                printf("xs10k: key %u: got \"%s\", want \"%s\"\n", i, got, want);
                return fail("compare", i, -EIO);
            }
        }
        uint64_t t2 = clock_monotonic_ns();
        /* Key by key: 10,000 more round trips to measure. */
        for (unsigned i = base; i < end; i++) {
            snprintf(path, sizeof(path), "data/xs10k/%u", i);
            if ((rc = xenbus_rm(XENBUS_TX_NONE, path)) != 0)
                return fail("rm", i, rc);
        }
        if ((rc = xenbus_rm(XENBUS_TX_NONE, "data/xs10k")) != 0)
            return fail("rm", base, rc);
        uint64_t t3 = clock_monotonic_ns();
        write_ns += t1 - t0;
        read_ns += t2 - t1;
        rm_ns += t3 - t2;
        if ((base / batch) % 10 == 9 || end == keys) {
            printf("xs10k: keys %u..%u: write %lu ms, read %lu ms, rm %lu ms\n", base, end - 1,
                   (unsigned long)((t1 - t0) / NSEC_PER_MSEC),
                   (unsigned long)((t2 - t1) / NSEC_PER_MSEC),
                   (unsigned long)((t3 - t2) / NSEC_PER_MSEC));
            last_line = clock_xen_ns();
        } else if ((int64_t)(clock_xen_ns() - last_line) >= (int64_t)PROGRESS_NS) {
            printf("xs10k: progress: %u keys done\n", end);
            last_line = clock_xen_ns();
        }
    }
    printf("xs10k: wrote %u keys in %lu ms (%lu us per write)\n", keys,
           (unsigned long)(write_ns / NSEC_PER_MSEC), (unsigned long)(write_ns / keys / 1000));
    printf("xs10k: read back %u keys in %lu ms (%lu us per read)\n", keys,
           (unsigned long)(read_ns / NSEC_PER_MSEC), (unsigned long)(read_ns / keys / 1000));
    printf("xs10k: removed %u keys one by one in %lu ms\n", keys,
           (unsigned long)(rm_ns / NSEC_PER_MSEC));
    struct xenbus_stats st;
    xenbus_get_stats(&st);
    printf("xs10k: %lu requests, %lu replies, %lu bad\n", (unsigned long)st.requests,
           (unsigned long)st.replies, (unsigned long)st.bad_replies);
    printf("xs10k: ok\n");
    return 0;
}
