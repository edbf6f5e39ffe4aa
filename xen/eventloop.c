/* The event loop; see eventloop.h for the model. */
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/cpu.h"
#include "xen/clock.h"
#include "xen/eventloop.h"
#include "xen/events.h"

static struct loop_hook *hooks;

void eventloop_add_hook(struct loop_hook *hook)
{
    for (struct loop_hook *h = hooks; h; h = h->next)
        if (h == hook)
            return;
    hook->next = hooks;
    hooks = hook;
}

static void run_hooks(void)
{
    for (struct loop_hook *h = hooks; h; h = h->next)
        h->fn(h->arg);
}

/* One round of handlers, then the loop hooks. Returns how many handlers ran. */
static unsigned dispatch_round(void)
{
    unsigned handled = events_dispatch();
    run_hooks();
    return handled;
}

/* Block until an event or until Xen's system time reaches deadline_ns (WAIT_FOREVER: no
 * limit); returns at once if an event is already pending. */
static void block_once(uint64_t deadline_ns)
{
    /* Check, then block, with interrupts off. The block is SCHEDOP_poll on the ports
     * that have handlers: Xen wakes it on their pending bits, so an event arriving
     * after the check ends the poll at once. (Waiting with `sti; hlt` relies on the
     * upcall interrupt instead; under nested virtualization we saw it lost now and
     * then, leaving the vCPU asleep with events pending. It remains the fallback.) */
    uint64_t timeout = deadline_ns == WAIT_FOREVER ? 0 : deadline_ns;
    cpu_irq_disable();
    if (events_pending()) {
        cpu_irq_enable();
        return;
    }
    if (events_block(timeout)) {
        cpu_irq_enable(); /* take the upcall interrupt Xen raised meanwhile, if any */
        return;
    }
    clock_set_timer(timeout);
    cpu_irq_enable_and_halt();
}

bool wait_for_events(uint64_t deadline_ns)
{
    for (;;) {
        if (dispatch_round())
            return true;
        if (deadline_ns != WAIT_FOREVER && clock_monotonic_ns() >= deadline_ns)
            return false;
        block_once(deadline_ns);
    }
}

bool wait_for_wakeup(uint64_t deadline_ns)
{
    if (dispatch_round())
        return true;
    if (deadline_ns == 0)
        return false;   /* 0 would mean "no timeout" to Xen */
    block_once(deadline_ns);
    return dispatch_round() != 0;
}

void sleep_until(uint64_t deadline_ns)
{
    while (clock_monotonic_ns() < deadline_ns)
        wait_for_events(deadline_ns);
}

void sleep_ns(uint64_t ns)
{
    sleep_until(clock_monotonic_ns() + ns);
}
