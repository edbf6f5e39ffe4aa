/*
 * The output half of Xen's PV console ring (struct xencons_interface, xen/io/console.h), as a
 * pure producer: no I/O, no globals. The guest kernel drives it with hypercalls
 * (xen/console.c); the unit tests drive it with a simulated backend.
 *
 * We own out_prod; the backend (xenconsoled) owns out_cons and may write anything there, so
 * its value is read once per step and checked: a consumer index that claims more than the
 * ring's size is outstanding marks the ring broken, and nothing more is written to it.
 */
#ifndef XENKIT_XEN_CONSOLE_RING_H
#define XENKIT_XEN_CONSOLE_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/io/console.h>

struct console_ring {
    struct xencons_interface *intf;
    bool broken;        /* the backend published an impossible out_cons */
    bool pending_cr;    /* "\n" became "\r\n" and the "\n" did not fit yet */
    bool crlf;          /* translate "\n" to "\r\n" (terminals attached by `xl console`) */
};

/* Callbacks for the blocking writer. */
struct console_ring_ops {
    void (*notify)(void *ctx);          /* tell the backend new data is there */
    /* Wait a little for the backend to make room; return false to give up (the rest of the
     * output is then dropped and console_ring_write_all() returns what it wrote). */
    bool (*wait)(void *ctx);
    void *ctx;
};

void console_ring_init(struct console_ring *r, struct xencons_interface *intf, bool crlf);

/* Copy as much of buf as fits without waiting; returns the number of bytes of buf consumed
 * (a "\n" counts once even when it became "\r\n"). Does not notify. */
size_t console_ring_write(struct console_ring *r, const char *buf, size_t len);

/* Write all of buf, notifying the backend after each burst and waiting for room when the
 * ring is full. Returns the number of bytes of buf consumed: less than len only if the ring
 * is broken or ops->wait gave up. */
size_t console_ring_write_all(struct console_ring *r, const char *buf, size_t len,
                              const struct console_ring_ops *ops);

/* Bytes written but not yet consumed by the backend (0 if the ring is broken). */
size_t console_ring_unconsumed(struct console_ring *r);

#endif
