/* Shutdown control through xenstore's control/shutdown; see shutdown.h. */
#include <stdio.h>
#include <string.h>

#include "arch/x86_64/platform.h"
#include "xen/shutdown.h"
#include "xen/xenbus.h"

#define NODE "control/shutdown"

static struct xenbus_watch watch;
static void (*user_hook)(const char *request, void *arg);
static void *user_arg;

struct take {
    char req[32];
};

/* Read the request and clear it, atomically: two watch events for one request (the node
 * changes twice: the request, then our "") must not act twice. */
static int take_request(xenbus_tx_t t, void *arg)
{
    struct take *tk = arg;
    int n = xenbus_read(t, NODE, tk->req, sizeof(tk->req));
    if (n == -ENOENT || n == -ERANGE) {
        tk->req[0] = '\0';
        return n == -ENOENT ? 0 : n;
    }
    if (n < 0)
        return n;
    /* "suspend" stays for a kernel that can do it; clear only what we act on. */
    if (n == 0 || strcmp(tk->req, "suspend") == 0)
        return 0;
    return xenbus_write(t, NODE, "");
}

static void on_shutdown_node(struct xenbus_watch *w, const char *path, void *arg)
{
    (void)w;
    (void)path;
    (void)arg;
    struct take tk = { "" };
    int rc = xenbus_transaction_run(take_request, &tk, 0, NULL);
    if (rc != 0) {
        printf("xenkit: reading " NODE " failed: %d\n", rc);
        return;
    }
    if (tk.req[0] == '\0')
        return;
    if (strcmp(tk.req, "suspend") == 0) {
        printf("xenkit: shutdown request \"suspend\" not supported; ignored\n");
        return;
    }
    bool reboot = strcmp(tk.req, "reboot") == 0;
    if (!reboot && strcmp(tk.req, "poweroff") != 0 && strcmp(tk.req, "halt") != 0) {
        printf("xenkit: unknown shutdown request \"%s\" ignored\n", tk.req);
        return;
    }
    printf("xenkit: shutdown request \"%s\" from the toolstack\n", tk.req);
    if (user_hook != NULL)
        user_hook(reboot ? "reboot" : "poweroff", user_arg);
    if (reboot)
        platform_reboot();
    platform_poweroff();
}

void shutdown_control_set_hook(void (*fn)(const char *request, void *arg), void *arg)
{
    user_hook = fn;
    user_arg = arg;
}

int shutdown_control_init(void)
{
    /* What Linux writes: toolstacks read these to know the guest honours the requests.
     * No feature-suspend: we cannot. libxl creates these nodes writable for the guest;
     * another toolstack may not, which costs only the advertisement, not the watch. */
    static const char *const features[] = { "control/feature-poweroff",
                                            "control/feature-reboot" };
    for (unsigned i = 0; i < 2; i++) {
        int rc = xenbus_write(XENBUS_TX_NONE, features[i], "1");
        if (rc != 0)
            printf("xenkit: cannot write %s: %d\n", features[i], rc);
    }
    return xenbus_watch_add(&watch, NODE, on_shutdown_node, NULL);
}
