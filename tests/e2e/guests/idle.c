/*
 * idle: boots, says so, and waits in the event loop for ever. It ends only when the
 * toolstack ends it: `xl shutdown` / `xl reboot` through control/shutdown (the kernel's
 * shutdown control, xen/shutdown.c), or `xl destroy` (tests/e2e/scenarios/xlshutdown.sh).
 */
#include <stdio.h>
#include <xenkit/app.h>

#include "xen/eventloop.h"
#include "xen/xenbus.h"

int app_main(const char *cmdline)
{
    (void)cmdline;
    printf("idle: waiting for events (xenstore %s)\n", xenbus_available() ? "up" : "down");
    for (;;)
        wait_for_events(WAIT_FOREVER);
}
