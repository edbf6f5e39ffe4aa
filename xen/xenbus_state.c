/* The frontend/backend handshake helpers: "<dir>/state" holds a XenbusState number. */
#include <stdio.h>

#include "xen/clock.h"
#include "xen/eventloop.h"
#include "xen/xenbus.h"

#define STATE_PATH_MAX XENBUS_WATCH_PATH_MAX

const char *xenbus_state_name(XenbusState s)
{
    static const char *const names[] = {
        [XenbusStateUnknown] = "Unknown",
        [XenbusStateInitialising] = "Initialising",
        [XenbusStateInitWait] = "InitWait",
        [XenbusStateInitialised] = "Initialised",
        [XenbusStateConnected] = "Connected",
        [XenbusStateClosing] = "Closing",
        [XenbusStateClosed] = "Closed",
        [XenbusStateReconfiguring] = "Reconfiguring",
        [XenbusStateReconfigured] = "Reconfigured",
    };
    if ((unsigned)s < sizeof(names) / sizeof(names[0]))
        return names[s];
    return "?";
}

static int state_path(const char *dir, char *buf)
{
    int n = snprintf(buf, STATE_PATH_MAX, "%s/state", dir);
    return n < 0 || n >= STATE_PATH_MAX ? -ENAMETOOLONG : 0;
}

int xenbus_switch_state(xenbus_tx_t t, const char *dir, XenbusState s)
{
    char path[STATE_PATH_MAX];
    int rc = state_path(dir, path);
    return rc != 0 ? rc : xenbus_printf(t, path, "%d", (int)s);
}

int xenbus_read_state(xenbus_tx_t t, const char *dir, XenbusState *s)
{
    char path[STATE_PATH_MAX];
    uint64_t v;
    int rc = state_path(dir, path);
    if (rc == 0)
        rc = xenbus_read_u64(t, path, &v);
    if (rc != 0)
        return rc;
    if (v > XenbusStateReconfigured)
        return -EINVAL;
    *s = (XenbusState)v;
    return 0;
}

int xenbus_wait_state(const char *dir, uint32_t mask, uint64_t deadline_ns, XenbusState *s)
{
    char path[STATE_PATH_MAX];
    struct xenbus_watch w;
    int rc = state_path(dir, path);
    if (rc != 0)
        return rc;
    /* Queue mode, so this also works inside a watch callback. */
    rc = xenbus_watch_add(&w, path, NULL, NULL);
    if (rc != 0)
        return rc;
    for (;;) {
        /* Read after every event (the first fires on registration): an event says only
         * that something changed. */
        XenbusState cur = XenbusStateUnknown;
        rc = xenbus_read_state(XENBUS_TX_NONE, dir, &cur);
        if (rc == -ENOENT) {
            cur = XenbusStateUnknown;
            rc = 0;
        }
        if (rc != 0)
            break;
        if (mask & XENBUS_STATE_BIT(cur)) {
            *s = cur;
            break;
        }
        rc = xenbus_watch_wait(&w, deadline_ns, NULL, 0);
        if (rc != 0)
            break;
    }
    (void)xenbus_watch_remove(&w);
    return rc;
}
