/*
 * Shutdown control: the toolstack asks a guest to shut down by writing "poweroff", "reboot"
 * (or "halt", "suspend") to its control/shutdown node (`xl shutdown`, `xl reboot`). We
 * watch that node, acknowledge a request by writing "" back (as Linux does; xl sees the
 * guest has taken it) and shut the domain down with the matching SCHEDOP_shutdown reason.
 * "suspend" is not supported yet: it is logged and left in place, so the toolstack's
 * suspend times out rather than believing it worked.
 */
#ifndef XENKIT_XEN_SHUTDOWN_H
#define XENKIT_XEN_SHUTDOWN_H

/* Advertise control/feature-poweroff and feature-reboot and start watching
 * control/shutdown. Needs xenbus. Requests are acted on from the event loop: an
 * application that never waits in it (wait_for_events) never sees them. Returns 0 or
 * -errno. */
int shutdown_control_init(void);

/* Optional: called with "poweroff" or "reboot" before the kernel shuts the domain down
 * (e.g. to flush or close devices). Runs from the event loop and may wait. */
void shutdown_control_set_hook(void (*fn)(const char *request, void *arg), void *arg);

#endif
