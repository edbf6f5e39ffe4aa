/*
 * The 2-level event-channel ABI's bit twiddling, as a pure core: it works on the three bitmaps
 * Xen shares with us (the vCPU's selector word, the pending and the mask arrays) and on
 * nothing else, so the host tests can drive it with plain memory.
 *
 * 64-bit guests have 64 selector bits x 64 ports = 4096 ports (EVTCHN_2L_NR_CHANNELS).
 */
#ifndef XENKIT_XEN_EVTCHN_2L_H
#define XENKIT_XEN_EVTCHN_2L_H

#include <stdbool.h>
#include <stdint.h>

#define EVTCHN_2L_BITS 64u
#define EVTCHN_2L_PORTS (EVTCHN_2L_BITS * EVTCHN_2L_BITS)

struct evtchn_2l {
    volatile uint8_t *upcall_pending; /* vcpu_info.evtchn_upcall_pending */
    volatile uint64_t *pending_sel;   /* vcpu_info.evtchn_pending_sel */
    volatile uint64_t *pending;       /* shared_info.evtchn_pending[64] */
    volatile uint64_t *mask;          /* shared_info.evtchn_mask[64] */
    /* Where the next scan starts, so a port that fires constantly cannot starve the ports
     * after it. */
    unsigned next_word, next_bit;
    /* Selector bits a scan has taken from Xen but not yet worked through, published while it
     * is inside a handler: a handler that waits runs a nested scan, which must see these
     * ports (Xen will not flag them again: their pending bits are still set). */
    uint64_t deferred;
};

void evtchn_2l_init(struct evtchn_2l *e, volatile uint8_t *upcall_pending,
                    volatile uint64_t *pending_sel, volatile uint64_t *pending,
                    volatile uint64_t *mask);

/* Take every pending, unmasked port: clear its pending bit, then call fn(port, ctx). Ports
 * that are pending but masked stay pending (unmask delivers them). Returns how many ports
 * were taken. fn may itself scan (a handler that waits): the nested scan also takes the
 * ports the interrupted one had not reached yet. */
unsigned evtchn_2l_scan(struct evtchn_2l *e, void (*fn)(unsigned port, void *ctx), void *ctx);

/* Is a scan due: the upcall flag, or ports an interrupted scan (we are inside one of its
 * handlers) has not reached. The event loop must not block while this is true. */
bool evtchn_2l_has_work(const struct evtchn_2l *e);

void evtchn_2l_mask(struct evtchn_2l *e, unsigned port);
/* Clear the mask bit; if the port is pending, raise the selector bit and the upcall flag so
 * the next scan finds it (as Xen would have done had it not been masked). */
void evtchn_2l_unmask(struct evtchn_2l *e, unsigned port);
void evtchn_2l_clear(struct evtchn_2l *e, unsigned port);
bool evtchn_2l_is_pending(const struct evtchn_2l *e, unsigned port);

#endif
