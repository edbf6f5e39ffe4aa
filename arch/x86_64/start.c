/*
 * The C half of boot: boot.S calls arch_start() in long mode on the boot stack with BSS
 * zeroed. Order matters: traps first (so anything after reports instead of triple-faulting),
 * then the boot information is copied out of the loader's memory, then the image is
 * protected, then the Xen console, then the application.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <xen/arch-x86/hvm/start_info.h>

#include <xenkit/app.h>
#include <xenkit/panic.h>
#include "arch/x86_64/boot_defs.h"
#include "arch/x86_64/early_console.h"
#include "arch/x86_64/mm.h"
#include "arch/x86_64/mm_early.h"
#include "arch/x86_64/multiboot.h"
#include "arch/x86_64/platform.h"
#include "arch/x86_64/traps.h"
#include "xen/clock.h"
#include "xen/console.h"
#include "xen/events.h"
#include "xen/gnttab.h"
#include "xen/hypercall.h"
#include "xen/shutdown.h"
#include "xen/xenbus.h"

/* Xen's own limit for a guest command line (MAX_GUEST_CMDLINE in libxl/Xen) is 1024. */
#define CMDLINE_MAX 1024

static char cmdline[CMDLINE_MAX];

/* Copy a NUL-terminated string from a loader-supplied physical address, bounded. Addresses
 * outside the identity map are ignored rather than dereferenced. */
static void copy_cmdline(uint64_t paddr)
{
    if (paddr == 0 || paddr >= (4ull << 30) - CMDLINE_MAX)
        return;
    const char *src = (const char *)(uintptr_t)paddr;
    size_t n = strnlen(src, CMDLINE_MAX - 1);
    memcpy(cmdline, src, n);
    cmdline[n] = '\0';
}

static const char *read_boot_info(uint32_t kind, uint32_t info)
{
    if (kind == BOOT_KIND_PVH) {
        const struct hvm_start_info *si = (const struct hvm_start_info *)(uintptr_t)info;
        if (si == NULL || si->magic != XEN_HVM_START_MAGIC_VALUE) {
            printf("xenkit: bad hvm_start_info magic 0x%x at 0x%x\n", si ? si->magic : 0, info);
            platform_crash();
        }
        copy_cmdline(si->cmdline_paddr);
        return "PVH";
    }
    if (kind == BOOT_KIND_MULTIBOOT) {
        const struct multiboot_info *mbi = (const struct multiboot_info *)(uintptr_t)info;
        if (mbi != NULL && (mbi->flags & MULTIBOOT_INFO_CMDLINE))
            copy_cmdline(mbi->cmdline);
        return "multiboot";
    }
    printf("xenkit: unknown boot protocol (eax=0x%x)\n", kind);
    platform_crash();
}

/* Kernel options ride on the command line as `xenkit.NAME` words; the application sees the
 * whole line. */
static bool has_word(const char *line, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = line; (p = strstr(p, word)) != NULL; p += n) {
        bool start = p == line || p[-1] == ' ';
        bool end = p[n] == '\0' || p[n] == ' ';
        if (start && end)
            return true;
    }
    return false;
}

_Noreturn void arch_start(uint32_t kind, uint32_t info);

_Noreturn void arch_start(uint32_t kind, uint32_t info)
{
    struct xen_info xen;

    platform_on_xen = xen_detect(&xen);
    if (platform_on_xen)
        xen_hypercall_init(&xen);
    early_console_init(!platform_on_xen);
    traps_init();

    const char *proto = read_boot_info(kind, info);
    bool protected = mm_protect_image();
    mm_init(kind, info);

    if (platform_on_xen && !xen_console_init())
        printf("xenkit: no PV console from Xen; output stays on port 0xe9\n");
    if (platform_on_xen && gnttab_init() != 0)
        printf("xenkit: no grant table; sharing pages with other domains will fail\n");
    console_set_mirror(has_word(cmdline, "xenkit.debugcon"));

    if (platform_on_xen)
        printf("xenkit: booted via %s on Xen %u.%u (%s)\n", proto, xen.version_major,
               xen.version_minor, xen.vmmcall ? "vmmcall" : "vmcall");
    else
        printf("xenkit: booted via %s without Xen\n", proto);
    if (!protected)
        printf("xenkit: image too large to protect; running without W^X and stack guard\n");
    mm_report();

    if (platform_on_xen) {
        if (events_init() != 0)
            panic("event channels unavailable");
        if (clock_init() != 0)
            panic("timer unavailable");
        /* xenstore needs events (its ring's event channel) and the clock (waits). */
        int rc = xenbus_init();
        if (rc != 0)
            printf("xenkit: no xenstore (%d)\n", rc);
        else if ((rc = shutdown_control_init()) != 0)
            printf("xenkit: cannot watch control/shutdown (%d)\n", rc);
    }

    int status = app_main(cmdline);
    if (status != 0)
        printf("xenkit: application exited with status %d\n", status);
    platform_poweroff();
}
