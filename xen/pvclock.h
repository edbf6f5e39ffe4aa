/*
 * Xen's pvclock arithmetic (vcpu_time_info), pure: a consistent snapshot via the version
 * protocol, and TSC-to-nanoseconds scaling. The TSC reader is a parameter so the host tests
 * can replay recorded samples.
 */
#ifndef XENKIT_XEN_PVCLOCK_H
#define XENKIT_XEN_PVCLOCK_H

#include <stdint.h>
#include <xen/xen.h>

struct pvclock_snapshot {
    uint64_t tsc_timestamp;
    uint64_t system_time;
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
};

/* (delta << shift or >> -shift) * mul / 2^32, with a 128-bit intermediate: exact for any
 * 64-bit delta. */
uint64_t pvclock_scale(uint64_t delta, uint32_t mul, int8_t shift);

/* Copy the time fields out of `ti` consistently: retry while Xen is updating them (odd
 * version) or updated them during the copy (version changed). Gives up after max_tries and
 * returns -1 (only a hostile or broken writer can cause that); 0 on success. */
int pvclock_snapshot(const volatile struct vcpu_time_info *ti, struct pvclock_snapshot *out,
                     unsigned max_tries);

/* System time at TSC value `tsc` according to the snapshot. A TSC below the snapshot's stamp
 * (read on another CPU, or before the update) counts as no time passed. */
uint64_t pvclock_ns_at(const struct pvclock_snapshot *s, uint64_t tsc);

#endif
