/*
 * Monotonic and wall-clock time from shared_info, and the one-shot timer.
 *
 * The timer is VCPUOP_set_singleshot_timer (set_timer_op as fallback); its expiry raises
 * VIRQ_TIMER, whose handler does nothing: the interrupt has already woken the event loop,
 * which then sees the deadline has passed. The periodic timer Xen may run for a vCPU is
 * stopped so an idle guest really is idle.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <xen/xen.h>
#include <xen/vcpu.h>

#include "arch/x86_64/cpu.h"
#include "xen/clock.h"
#include "xen/events.h"
#include "xen/hypercall.h"
#include "xen/pvclock.h"

/* Highest time handed out so far: pvclock values from successive updates can step back a
 * little; callers are promised monotonic time. */
static uint64_t last_ns;
static int use_set_timer_op;

/* Xen's system time now, from the vCPU's time info; false if no consistent reading. */
static bool read_pvclock(uint64_t *out)
{
    struct vcpu_info *v = xen_vcpu_info();
    if (v == NULL)
        return false;
    for (unsigned tries = 0; tries < 1000; tries++) {
        struct pvclock_snapshot s;
        uint32_t ver = __atomic_load_n(&v->time.version, __ATOMIC_ACQUIRE);
        if ((ver & 1) || pvclock_snapshot(&v->time, &s, 1) != 0)
            continue;
        uint64_t tsc = rdtsc();
        /* The TSC must be read inside the same version window as the fields (pvclock's
         * rule): if Xen rewrote them in between (the vCPU moved to another physical CPU,
         * or a recalibration), old fields with a new TSC can be far off, and one value far
         * ahead would stop this clock, which never goes back, until real time caught up. */
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&v->time.version, __ATOMIC_RELAXED) != ver)
            continue;
        *out = pvclock_ns_at(&s, tsc);
        return true;
    }
    return false;
}

uint64_t clock_monotonic_ns(void)
{
    uint64_t ns;
    if (read_pvclock(&ns) && ns > last_ns)
        last_ns = ns;
    return last_ns;
}

uint64_t clock_xen_ns(void)
{
    static uint64_t last_raw;
    uint64_t ns;
    if (read_pvclock(&ns))
        last_raw = ns;
    return last_raw;
}

uint64_t clock_xen_timeout(uint64_t now_xen, uint64_t ns)
{
    /* The time info's own stamp is Xen's time when it last wrote it: never ahead of Xen's
     * clock, and behind by at most a calibration epoch (1 s) in normal operation, where an
     * extrapolated reading can run seconds ahead under the nested rig. */
    static uint64_t last_stamp;
    struct vcpu_info *v = xen_vcpu_info();
    struct pvclock_snapshot s;
    if (v != NULL && pvclock_snapshot(&v->time, &s, 1000) == 0)
        last_stamp = s.system_time;
    uint64_t t = now_xen + ns, cap = last_stamp + ns + CLOCK_STAMP_SLACK_NS;
    return t < cap ? t : cap;
}

uint64_t clock_wall_ns(void)
{
    struct shared_info *sh = xen_shared_info();
    if (sh == NULL)
        return 0;
    for (int tries = 0; tries < 1000; tries++) {
        uint32_t v1 = __atomic_load_n(&sh->wc_version, __ATOMIC_ACQUIRE);
        if (v1 & 1)
            continue;
        uint64_t sec = ((uint64_t)sh->xen_wc_sec_hi << 32) | sh->wc_sec;
        uint64_t nsec = sh->wc_nsec;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&sh->wc_version, __ATOMIC_RELAXED) == v1)
            return sec * NSEC_PER_SEC + nsec + clock_monotonic_ns();
    }
    return 0;
}

void clock_set_timer(uint64_t deadline_ns)
{
    if (xen_shared_info() == NULL)
        return; /* not on Xen (bare QEMU): no timer; callers then wait for nothing */
    if (use_set_timer_op) {
        HYPERVISOR_set_timer_op(deadline_ns);
        return;
    }
    if (deadline_ns == 0) {
        HYPERVISOR_vcpu_op(VCPUOP_stop_singleshot_timer, 0, NULL);
        return;
    }
    /* No VCPU_SSHOTTMR_future flag: a deadline already in the past fires at once. */
    struct vcpu_set_singleshot_timer t = { .timeout_abs_ns = deadline_ns, .flags = 0 };
    if (HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 0, &t) != 0) {
        use_set_timer_op = 1;
        HYPERVISOR_set_timer_op(deadline_ns);
    }
}

int clock_init(void)
{
    evtchn_port_t port;
    int rc = evtchn_bind_virq(VIRQ_TIMER, NULL, NULL, &port);
    if (rc != 0) {
        printf("xenkit: cannot bind VIRQ_TIMER: %d\n", rc);
        return rc;
    }
    HYPERVISOR_vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL);
    return 0;
}
