/*
 * Event channels, 2-level ABI (all 4096 ports of a 64-bit guest).
 *
 * Handlers never run in interrupt context: the upcall interrupt only wakes the vCPU, and
 * pending ports are dispatched by events_dispatch(), which the event loop
 * (xen/eventloop.h) calls. A handler may therefore call anything, including functions that
 * wait (they re-enter the event loop); a port's pending bit is cleared before its handler
 * runs, so an event that arrives during the handler calls it again later, never loses it.
 */
#ifndef XENKIT_XEN_EVENTS_H
#define XENKIT_XEN_EVENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>

typedef void (*evtchn_handler_t)(evtchn_port_t port, void *arg);

/* Map shared_info, set up the upcall vector (HVMOP_set_evtchn_upcall_vector, falling back to
 * HVM_PARAM_CALLBACK_IRQ's vector type) and enable the local APIC. Returns 0 or -errno. */
int events_init(void);

/* Attach a handler to a port we already have (e.g. from an HVM param) and unmask it. */
int evtchn_bind(evtchn_port_t port, evtchn_handler_t h, void *arg);
/* Bind a VIRQ on vCPU 0. */
int evtchn_bind_virq(uint32_t virq, evtchn_handler_t h, void *arg, evtchn_port_t *port);
/* A new port that `remote` may bind to. */
int evtchn_alloc_unbound(domid_t remote, evtchn_handler_t h, void *arg, evtchn_port_t *port);
/* Connect to `remote`'s unbound port. */
int evtchn_bind_interdomain(domid_t remote, evtchn_port_t remote_port, evtchn_handler_t h,
                            void *arg, evtchn_port_t *local);
int evtchn_send(evtchn_port_t port);
/* Close the port and forget its handler. */
int evtchn_close(evtchn_port_t port);
void evtchn_mask(evtchn_port_t port);
void evtchn_unmask(evtchn_port_t port);

/* Block the vCPU (SCHEDOP_poll) until one of the unmasked ports that have a handler is
 * pending, or Xen's system time reaches deadline_ns (0: no deadline). Returns false, without
 * blocking, if the ports do not fit one poll (more than 128): the caller then halts instead.
 * Waking on the pending bits themselves, not on the upcall interrupt, leaves no window
 * between the event loop's last check and the block. */
bool events_block(uint64_t deadline_ns);

/* Any port pending (vcpu_info's upcall flag, or ports an interrupted dispatch has not reached
 * when called from inside a handler)? Cheap; used by the event loop before halting. */
bool events_pending(void);
/* Run the handlers of all pending, unmasked ports. Returns the number of handlers called. */
unsigned events_dispatch(void);

/* The shared_info page (mapped by events_init) and vCPU 0's vcpu_info in it; NULL before. */
struct shared_info *xen_shared_info(void);
struct vcpu_info *xen_vcpu_info(void);

#endif
