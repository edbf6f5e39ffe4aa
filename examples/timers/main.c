/*
 * Time and events on xenkit: the clocks, how precisely sleeps end (timer jitter), and how long
 * an event takes from EVTCHNOP_send to its handler, over a loopback event channel (two ends
 * of one channel in this domain).
 *
 * cmdline: `rounds=N` (default 50) sleeps and event round trips per measurement.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenkit/app.h>

#include "xen/clock.h"
#include "xen/eventloop.h"
#include "xen/events.h"

struct stats {
    uint64_t min, max, sum;
    unsigned n;
};

static void stats_add(struct stats *s, uint64_t v)
{
    if (s->n == 0 || v < s->min)
        s->min = v;
    if (v > s->max)
        s->max = v;
    s->sum += v;
    s->n++;
}

static void stats_print(const char *what, const struct stats *s)
{
    printf("timers: %-28s n=%u min=%lu.%03lu us avg=%lu.%03lu us max=%lu.%03lu us\n", what, s->n,
           (unsigned long)(s->min / 1000), (unsigned long)(s->min % 1000),
           (unsigned long)(s->sum / s->n / 1000), (unsigned long)(s->sum / s->n % 1000),
           (unsigned long)(s->max / 1000), (unsigned long)(s->max % 1000));
}

static volatile uint64_t received_at;

static void on_event(evtchn_port_t port, void *arg)
{
    (void)port;
    (void)arg;
    received_at = clock_monotonic_ns();
}

static unsigned arg_uint(const char *cmdline, const char *key, unsigned dflt)
{
    const char *p = strstr(cmdline, key);
    return p ? (unsigned)strtoul(p + strlen(key), NULL, 10) : dflt;
}

int app_main(const char *cmdline)
{
    unsigned rounds = arg_uint(cmdline, "rounds=", 50);
    uint64_t wall = clock_wall_ns();

    printf("timers: monotonic %lu ns since domain start, wall clock %lu.%09lu s since 1970\n",
           (unsigned long)clock_monotonic_ns(), (unsigned long)(wall / NSEC_PER_SEC),
           (unsigned long)(wall % NSEC_PER_SEC));

    /* Timer accuracy: how late each sleep ends, for a few lengths. */
    static const uint64_t lengths[] = { 100 * NSEC_PER_USEC, NSEC_PER_MSEC, 10 * NSEC_PER_MSEC };
    for (unsigned i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        struct stats late = { 0 };
        for (unsigned r = 0; r < rounds; r++) {
            uint64_t t0 = clock_monotonic_ns();
            sleep_ns(lengths[i]);
            stats_add(&late, clock_monotonic_ns() - t0 - lengths[i]);
        }
        char what[48];
        snprintf(what, sizeof(what), "sleep %lu us: lateness", (unsigned long)(lengths[i] / 1000));
        stats_print(what, &late);
    }

    /* Event latency over a loopback channel. */
    evtchn_port_t a, b;
    if (evtchn_alloc_unbound(DOMID_SELF, NULL, NULL, &a) != 0 ||
        evtchn_bind_interdomain(DOMID_SELF, a, on_event, NULL, &b) != 0) {
        printf("timers: cannot make a loopback event channel\n");
        return 1;
    }
    struct stats lat = { 0 };
    for (unsigned r = 0; r < rounds; r++) {
        received_at = 0;
        uint64_t t0 = clock_monotonic_ns();
        evtchn_send(a);
        while (received_at == 0)
            wait_for_events(t0 + NSEC_PER_SEC);
        stats_add(&lat, received_at - t0);
    }
    stats_print("event send -> handler", &lat);
    evtchn_close(b);
    evtchn_close(a);

    /* Idle for a while: the vCPU halts (xentop shows ~0% CPU for this domain). */
    unsigned idle = arg_uint(cmdline, "idle=", 0);
    if (idle) {
        printf("timers: idle for %u s\n", idle);
        sleep_ns(idle * NSEC_PER_SEC);
    }
    printf("timers: done\n");
    return 0;
}
