/* vxenstored: XS_CONTROL (xenstore-control) commands. Each command gets the request's
 * NUL-separated arguments and produces the reply payload (text, as C xenstored's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/vxs.h"

static int reply_text(const char *s, char **out, size_t *len)
{
    size_t n = strlen(s) + 1;
    *out = malloc(n);
    if (!*out)
        return -ENOMEM;
    memcpy(*out, s, n);
    *len = n;
    return 0;
}

int vxs_control(struct vxs_conn *c, const uint8_t *body, size_t len, char **out, size_t *olen)
{
    (void)c;
    const char *cmd[2];
    size_t n = xs_strings_count(body, len);
    struct xs_strings it;
    if (n < 1 || xs_strings_init(&it, body, len) < 0)
        return -EINVAL;
    size_t l;
    cmd[0] = xs_strings_next(&it, &l);
    cmd[1] = xs_strings_next(&it, &l);
    if (strcmp(cmd[0], "check") == 0)
        return reply_text("OK", out, olen);
    if (strcmp(cmd[0], "print") == 0) {
        if (!cmd[1])
            return -EINVAL;
        vxs_log("print: %s", cmd[1]);
        return reply_text("OK", out, olen);
    }
    if (strcmp(cmd[0], "help") == 0)
        return reply_text("Supported commands:\ncheck\nprint <string>\nhelp\n", out, olen);
    return -EINVAL;
}
