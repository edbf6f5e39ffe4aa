/* pvclock arithmetic; see pvclock.h. */
#include "xen/pvclock.h"

uint64_t pvclock_scale(uint64_t delta, uint32_t mul, int8_t shift)
{
    if (shift < 0)
        delta >>= -shift;
    else
        delta <<= shift;
    return (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

int pvclock_snapshot(const volatile struct vcpu_time_info *ti, struct pvclock_snapshot *out,
                     unsigned max_tries)
{
    for (unsigned i = 0; i < max_tries; i++) {
        uint32_t v1 = __atomic_load_n(&ti->version, __ATOMIC_ACQUIRE);
        if (v1 & 1)
            continue; /* update in progress */
        out->tsc_timestamp = ti->tsc_timestamp;
        out->system_time = ti->system_time;
        out->tsc_to_system_mul = ti->tsc_to_system_mul;
        out->tsc_shift = ti->tsc_shift;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&ti->version, __ATOMIC_RELAXED) == v1)
            return 0;
    }
    return -1;
}

uint64_t pvclock_ns_at(const struct pvclock_snapshot *s, uint64_t tsc)
{
    uint64_t delta = tsc > s->tsc_timestamp ? tsc - s->tsc_timestamp : 0;
    return s->system_time + pvclock_scale(delta, s->tsc_to_system_mul, s->tsc_shift);
}
