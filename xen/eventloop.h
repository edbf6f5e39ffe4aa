/*
 * The scheduling model: one thread, one event loop (like Solo5, unlike Mini-OS's threads).
 *
 * Code that has to wait for I/O calls wait_for_events() with a deadline until what it waits
 * for has happened; meanwhile event handlers of all ports (xenstore, console, devices,
 * timers) keep running, from inside that call. Nothing spins: the vCPU halts until an event
 * or the deadline. A handler may itself wait (nested loops are fine); it must not assume the
 * code it interrupted made progress.
 */
#ifndef XENKIT_XEN_EVENTLOOP_H
#define XENKIT_XEN_EVENTLOOP_H

#include <stdbool.h>
#include <stdint.h>

#define WAIT_FOREVER UINT64_MAX

/* Dispatch pending events; if there were none, halt until an event arrives or monotonic time
 * (clock_monotonic_ns) reaches deadline_ns, then dispatch. Returns true if any handler ran,
 * false on timeout. Returns at once, false, if the deadline has passed and nothing is
 * pending. Pending events are never lost between the check and the halt: the check runs
 * with interrupts disabled and `sti; hlt` is atomic. */
bool wait_for_events(uint64_t deadline_ns);

/* One wake-up: dispatch pending events; if there were none, block once, until an event
 * arrives or Xen's system time (clock_xen_ns) reaches deadline_ns (WAIT_FOREVER: no limit;
 * 0: do not block), then dispatch again. Returns true if any handler ran. It may return
 * false long before the deadline (another wake-up) and never reads clock_monotonic_ns():
 * for loops whose own checks must go on when that clock stands still (it does, for a
 * second or more, under the nested rig), which wait_for_events, deciding its deadline on
 * that clock, would hold up. */
bool wait_for_wakeup(uint64_t deadline_ns);

/* Sleep until monotonic time reaches deadline_ns, running handlers meanwhile. */
void sleep_until(uint64_t deadline_ns);
void sleep_ns(uint64_t ns);

/* Work to run from the event loop after each round of handlers, outside any handler (e.g.
 * xenbus watch callbacks). The hook struct is owned by the caller and stays registered. */
struct loop_hook {
    void (*fn)(void *arg);
    void *arg;
    struct loop_hook *next;
};
void eventloop_add_hook(struct loop_hook *hook);

#endif
