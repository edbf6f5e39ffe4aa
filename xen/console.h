/*
 * The kernel console: Xen's PV console ring once it is up, and the early debug console
 * (port 0xe9, plus COM1 when not on Xen) before that, on fatal paths, and always when the
 * command line holds `xenkit.debugcon`.
 */
#ifndef XENKIT_XEN_CONSOLE_H
#define XENKIT_XEN_CONSOLE_H

#include <stdbool.h>

/* Map the console ring from HVM_PARAM_CONSOLE_PFN / _EVTCHN. Returns false (and output stays
 * on the early console) if Xen gives us none. */
bool xen_console_init(void);

/* Mirror all output to the early console too. */
void console_set_mirror(bool on);

/* Enter the fatal path: from now on output is mirrored to the early console and waits for the
 * backend are bounded, so a dead console backend cannot turn a crash into a hang. Returns
 * false if we were already on the fatal path (a fault while reporting a fault). */
bool console_enter_fatal(void);

/* Give the backend a bounded time to drain what we wrote, before the domain goes away. */
void console_flush(void);

#endif
