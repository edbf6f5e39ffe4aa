/* How the kernel ends, and what it knows about the machine it booted on. */
#ifndef XENKIT_ARCH_PLATFORM_H
#define XENKIT_ARCH_PLATFORM_H

#include <stdbool.h>

/* True once Xen's CPUID leaves were found (hypercalls are usable). */
extern bool platform_on_xen;

/* Start the fatal path (console mirrored to 0xe9, bounded waits). If we were already on it
 * (a fault while reporting a fault), crash at once without printing more. */
void platform_fatal_begin(void);

/* SCHEDOP_shutdown(poweroff) on Xen; isa-debug-exit (exit code 1) or halt on bare QEMU. */
_Noreturn void platform_poweroff(void);

/* SCHEDOP_shutdown(reboot) on Xen (xl then acts on on_reboot); isa-debug-exit (exit code 5)
 * or halt on bare QEMU. */
_Noreturn void platform_reboot(void);

/* SCHEDOP_shutdown(crash) on Xen; isa-debug-exit (exit code 3) or halt on bare QEMU. */
_Noreturn void platform_crash(void);

#endif
