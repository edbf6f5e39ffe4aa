/*
 * Time: Xen's pvclock (vcpu_time_info in shared_info) for monotonic time, plus the
 * wall-clock base in shared_info. Needs events_init() (which maps shared_info) first.
 */
#ifndef XENKIT_XEN_CLOCK_H
#define XENKIT_XEN_CLOCK_H

#include <stdint.h>

#define NSEC_PER_SEC 1000000000ull
#define NSEC_PER_MSEC 1000000ull
#define NSEC_PER_USEC 1000ull

/* Bind VIRQ_TIMER. Returns 0 or -errno. */
int clock_init(void);

/* Nanoseconds since the domain was created (Xen's system time); never goes back. */
uint64_t clock_monotonic_ns(void);

/* Xen's system time as the vCPU's time info says it is now, not held monotonic: what Xen's
 * timers (SCHEDOP_poll's timeout, the one-shot timer) count in. It may step back a little
 * where clock_monotonic_ns() would stand still: under the nested rig a reading now and then
 * runs ahead of Xen's own clock, and the monotonic clock then stops until Xen's time catches
 * up (a second or more). Periodic work that must go on meanwhile (vchan's liveness checks)
 * is scheduled on this clock. */
uint64_t clock_xen_ns(void);

/* A Xen time `ns` from now, for a block's timeout, that a reading running ahead cannot push
 * far out: now_xen (a clock_xen_ns() reading) + ns, but no later than the time info's stamp (Xen's own time when
 * it last rewrote the time info, never ahead of Xen's clock) + ns + CLOCK_STAMP_SLACK_NS.
 * So a block ends within about ns + 2 s of Xen's real time whatever the readings say (at
 * once if the stamp is older than the slack: a spin, not a hang, until Xen rewrites it). */
#define CLOCK_STAMP_SLACK_NS (2 * NSEC_PER_SEC)
uint64_t clock_xen_timeout(uint64_t now_xen, uint64_t ns);

/* Nanoseconds since 1970-01-01 UTC, as Xen's wall clock says. */
uint64_t clock_wall_ns(void);

/* Arm the one-shot timer: VIRQ_TIMER fires at monotonic time `deadline_ns` (or at once if it
 * has passed). 0 disarms. Used by the event loop; applications use wait_for_events(). */
void clock_set_timer(uint64_t deadline_ns);

#endif
