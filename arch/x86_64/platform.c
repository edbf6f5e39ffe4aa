/*
 * Ending the domain. On Xen, SCHEDOP_shutdown with the reason xl acts on (on_poweroff /
 * on_crash in the domain config). On bare QEMU (multiboot) we write to the isa-debug-exit
 * port, so tests started with `-device isa-debug-exit,iobase=0xf4,iosize=4` get an exit
 * status, and otherwise halt.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <xen/sched.h>

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/platform.h"
#include "lib/kernel_hooks.h"
#include "xen/console.h"
#include "xen/hypercall.h"

#define ISA_DEBUG_EXIT_PORT 0xf4

bool platform_on_xen;

static _Noreturn void shutdown(unsigned reason, uint32_t qemu_code)
{
    console_flush();
    if (platform_on_xen) {
        struct sched_shutdown s = { .reason = reason };
        long rc = HYPERVISOR_sched_op(SCHEDOP_shutdown, &s);
        /* Only reached if Xen refused. */
        console_set_mirror(true);
        printf("xenkit: SCHEDOP_shutdown(%u) failed: %ld\n", reason, rc);
    } else {
        outl(ISA_DEBUG_EXIT_PORT, qemu_code);
    }
    /* Xen powers a domain off when its last vCPU halts with interrupts disabled, so that is
     * only right for a poweroff. A crash must never look like a clean poweroff: block with
     * interrupts enabled instead (no interrupt source is set up, so this never wakes). */
    if (reason == SHUTDOWN_poweroff)
        cpu_halt_forever();
    for (;;)
        __asm__ volatile("sti; hlt");
}

void platform_fatal_begin(void)
{
    if (!console_enter_fatal())
        shutdown(SHUTDOWN_crash, 1);
}

_Noreturn void platform_poweroff(void)
{
    shutdown(SHUTDOWN_poweroff, 0);
}

_Noreturn void platform_reboot(void)
{
    shutdown(SHUTDOWN_reboot, 2);
}

_Noreturn void platform_crash(void)
{
    shutdown(SHUTDOWN_crash, 1);
}

/* libc hooks (lib/kernel_hooks.h): panic() and assert() end here. */
void kernel_fatal_begin(void)
{
    platform_fatal_begin();
}

_Noreturn void kernel_crash(void)
{
    platform_crash();
}
