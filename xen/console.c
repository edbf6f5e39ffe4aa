/*
 * Kernel console glue: routes kernel_console_write() (the libc hook behind printf) to the PV
 * console ring and/or the early debug console, and supplies the ring's notify/wait
 * callbacks with hypercalls.
 *
 * Waiting for room uses SCHEDOP_yield, like Linux's hvc_xen for its boot console: it needs no
 * event-channel machinery and gives the backend's vCPU time to run. Outside the fatal path
 * the wait is unbounded: output is never dropped while xenconsoled is alive.
 */
#include <stddef.h>
#include <stdint.h>
#include <xen/event_channel.h>
#include <xen/hvm/params.h>
#include <xen/sched.h>

#include "arch/x86_64/early_console.h"
#include "lib/kernel_hooks.h"
#include "xen/console.h"
#include "xen/console_ring.h"
#include "xen/hypercall.h"

/* Roughly how long the fatal path and console_flush() keep yielding for the backend. */
#define FATAL_WAIT_YIELDS 20000

/* While we wait, re-send the notification every this many yields. xenconsoled reads the ring
 * only when the event channel fires; if it connected after our last notification (the guest
 * can fill the ring before xenconsoled has even bound the port) nobody would ever wake it.
 * Not every yield: xenconsoled stops listening to a domain that sends more than 30 events
 * per 200 ms until the period ends. */
#define RENOTIFY_EVERY 16

static struct console_ring ring;
static bool ring_up;
static bool mirror;
static bool fatal;
static uint32_t evtchn;
static unsigned waits_left;

static void ring_notify(void *ctx)
{
    (void)ctx;
    struct evtchn_send send = { .port = evtchn };
    HYPERVISOR_event_channel_op(EVTCHNOP_send, &send);
}

static void yield_and_renotify(unsigned *count)
{
    if (++*count % RENOTIFY_EVERY == 0)
        ring_notify(NULL);
    HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
}

static bool ring_wait(void *ctx)
{
    static unsigned waits;

    (void)ctx;
    if (fatal) {
        if (waits_left == 0)
            return false;
        waits_left--;
    }
    yield_and_renotify(&waits);
    return true;
}

static const struct console_ring_ops ring_ops = { ring_notify, ring_wait, NULL };

bool xen_console_init(void)
{
    uint64_t pfn = 0, port = 0;

    if (xen_hvm_get_param(HVM_PARAM_CONSOLE_PFN, &pfn) != 0 ||
        xen_hvm_get_param(HVM_PARAM_CONSOLE_EVTCHN, &port) != 0 || pfn == 0)
        return false;
    /* boot.S identity-maps the low 4 GiB, where Xen puts its special pages. */
    if (pfn >= (4ull << 30) / 4096 || port > UINT32_MAX)
        return false;

    evtchn = (uint32_t)port;
    console_ring_init(&ring, (struct xencons_interface *)(uintptr_t)(pfn * 4096), true);
    ring_up = true;
    return true;
}

void console_set_mirror(bool on)
{
    mirror = on;
}

bool console_enter_fatal(void)
{
    if (fatal)
        return false;
    fatal = true;
    waits_left = FATAL_WAIT_YIELDS;
    return true;
}

void kernel_console_write(const char *s, size_t n)
{
    if (!ring_up || mirror || fatal || ring.broken)
        early_console_write(s, n);
    if (ring_up)
        console_ring_write_all(&ring, s, n, &ring_ops);
}

void console_flush(void)
{
    unsigned waits = 0;

    if (!ring_up)
        return;
    ring_notify(NULL);
    while (waits < FATAL_WAIT_YIELDS && console_ring_unconsumed(&ring) > 0)
        yield_and_renotify(&waits);
}
