/*
 * Event channels for a PVH guest: shared_info mapped into our image, the upcall delivered on a
 * vector of our own, ports demultiplexed by the pure 2-level core (evtchn_2l.c) from the event
 * loop, not from the interrupt.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/memory.h>
#include <xen/sched.h>

#include "arch/x86_64/boot_defs.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/traps.h"
#include "xen/events.h"
#include "xen/evtchn_2l.h"
#include "xen/hypercall.h"

#define EVTCHN_UPCALL_VECTOR 0xf3

#define XEN_ENOSYS 38

_Static_assert(sizeof(xen_ulong_t) == 8, "2-level ABI with 64-bit words");
_Static_assert(sizeof(struct shared_info) <= PAGE_SIZE, "shared_info fits a page");

/* The page Xen's shared_info replaces (XENMAPSPACE_shared_info): part of our BSS, so the page
 * allocator never hands it out. */
static union {
    struct shared_info info;
    uint8_t page[PAGE_SIZE];
} shared_page __attribute__((aligned(PAGE_SIZE)));

static struct shared_info *shared;
static struct evtchn_2l ports;

struct port_slot {
    evtchn_handler_t fn;
    void *arg;
};
static struct port_slot slots[EVTCHN_2L_PORTS];

/* The ports that have a handler, for SCHEDOP_poll (which takes at most 128). */
#define POLL_MAX 128
static evtchn_port_t with_handler[POLL_MAX];
static unsigned nr_with_handler;
static bool too_many_handlers;

static void track_handler(evtchn_port_t port, bool has)
{
    for (unsigned i = 0; i < nr_with_handler; i++) {
        if (with_handler[i] == port) {
            if (!has)
                with_handler[i] = with_handler[--nr_with_handler];
            return;
        }
    }
    if (!has)
        return;
    if (nr_with_handler == POLL_MAX)
        too_many_handlers = true; /* sticky: events_block() falls back to halting */
    else
        with_handler[nr_with_handler++] = port;
}

static void upcall_irq(void)
{
    /* Nothing to do here but acknowledge: the vCPU woke from `hlt`, and the event loop will
     * dispatch. Keeping handlers out of interrupt context keeps them simple. */
    lapic_eoi();
}

struct shared_info *xen_shared_info(void)
{
    return shared;
}

struct vcpu_info *xen_vcpu_info(void)
{
    return shared ? &shared->vcpu_info[0] : NULL;
}

static int map_shared_info(void)
{
    struct xen_add_to_physmap xatp = {
        .domid = DOMID_SELF,
        .space = XENMAPSPACE_shared_info,
        .idx = 0,
        .gpfn = (xen_pfn_t)((uintptr_t)&shared_page / PAGE_SIZE),
    };
    long rc = HYPERVISOR_memory_op(XENMEM_add_to_physmap, &xatp);
    if (rc != 0)
        return (int)rc;
    shared = &shared_page.info;
    return 0;
}

static int setup_upcall(void)
{
    traps_set_irq_handler(EVTCHN_UPCALL_VECTOR, upcall_irq);
    lapic_enable();

    struct xen_hvm_evtchn_upcall_vector up = { .vcpu = 0, .vector = EVTCHN_UPCALL_VECTOR };
    long rc = HYPERVISOR_hvm_op(HVMOP_set_evtchn_upcall_vector, &up);
    if (rc == 0) {
        /* Also set a callback "via", as Linux does: the per-vCPU vector takes precedence, but
         * toolstacks look at HVM_PARAM_CALLBACK_IRQ to decide whether the guest has PV
         * drivers (and so will answer control/shutdown). Value 1 = GSI 1, never raised while
         * the vector is set. */
        struct xen_hvm_param p = { .domid = DOMID_SELF, .index = HVM_PARAM_CALLBACK_IRQ,
                                   .value = 1 };
        HYPERVISOR_hvm_op(HVMOP_set_param, &p);
        return 0;
    }
    if (rc != -XEN_ENOSYS)
        return (int)rc;
    /* Older Xen: the domain-wide callback, vector type (2 in bits 63:56). Delivered directly,
     * not through the local APIC; the EOI we write anyway is ignored. */
    struct xen_hvm_param p = { .domid = DOMID_SELF, .index = HVM_PARAM_CALLBACK_IRQ,
                               .value = (2ull << 56) | EVTCHN_UPCALL_VECTOR };
    return (int)HYPERVISOR_hvm_op(HVMOP_set_param, &p);
}

int events_init(void)
{
    int rc = map_shared_info();
    if (rc != 0) {
        printf("xenkit: cannot map shared_info: %d\n", rc);
        return rc;
    }
    /* Xen leaves ports unmasked; mask all until someone binds a handler. */
    memset((void *)shared->evtchn_mask, 0xff, sizeof(shared->evtchn_mask));
    struct vcpu_info *v = &shared->vcpu_info[0];
    evtchn_2l_init(&ports, &v->evtchn_upcall_pending, &v->evtchn_pending_sel,
                   shared->evtchn_pending, shared->evtchn_mask);
    /* Upcalls are wanted (the mask byte is for PV guests' event delivery, but keep it 0). */
    v->evtchn_upcall_mask = 0;

    rc = setup_upcall();
    if (rc != 0)
        printf("xenkit: cannot set up the event-channel upcall: %d\n", rc);
    return rc;
}

static int attach(evtchn_port_t port, evtchn_handler_t fn, void *arg)
{
    if (port >= EVTCHN_2L_PORTS)
        return -22; /* EINVAL */
    slots[port] = (struct port_slot){ fn, arg };
    track_handler(port, fn != NULL);
    evtchn_2l_unmask(&ports, port);
    return 0;
}

int evtchn_bind(evtchn_port_t port, evtchn_handler_t fn, void *arg)
{
    return attach(port, fn, arg);
}

int evtchn_bind_virq(uint32_t virq, evtchn_handler_t fn, void *arg, evtchn_port_t *port)
{
    struct evtchn_bind_virq op = { .virq = virq, .vcpu = 0 };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &op);
    if (rc != 0)
        return (int)rc;
    *port = op.port;
    return attach(op.port, fn, arg);
}

int evtchn_alloc_unbound(domid_t remote, evtchn_handler_t fn, void *arg, evtchn_port_t *port)
{
    struct evtchn_alloc_unbound op = { .dom = DOMID_SELF, .remote_dom = remote };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &op);
    if (rc != 0)
        return (int)rc;
    *port = op.port;
    return attach(op.port, fn, arg);
}

int evtchn_bind_interdomain(domid_t remote, evtchn_port_t remote_port, evtchn_handler_t fn,
                            void *arg, evtchn_port_t *local)
{
    struct evtchn_bind_interdomain op = { .remote_dom = remote, .remote_port = remote_port };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &op);
    if (rc != 0)
        return (int)rc;
    *local = op.local_port;
    return attach(op.local_port, fn, arg);
}

int evtchn_send(evtchn_port_t port)
{
    struct evtchn_send op = { .port = port };
    return (int)HYPERVISOR_event_channel_op(EVTCHNOP_send, &op);
}

int evtchn_close(evtchn_port_t port)
{
    if (port >= EVTCHN_2L_PORTS)
        return -22;
    evtchn_2l_mask(&ports, port);
    slots[port] = (struct port_slot){ NULL, NULL };
    track_handler(port, false);
    struct evtchn_close op = { .port = port };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_close, &op);
    /* A closed port may be handed out again by the next bind: leave nothing pending. */
    evtchn_2l_clear(&ports, port);
    return (int)rc;
}

void evtchn_mask(evtchn_port_t port)
{
    evtchn_2l_mask(&ports, port);
}

void evtchn_unmask(evtchn_port_t port)
{
    evtchn_2l_unmask(&ports, port);
}

bool events_block(uint64_t deadline_ns)
{
    evtchn_port_t list[POLL_MAX];
    unsigned n = 0;

    if (!shared || too_many_handlers)
        return false;
    /* Only unmasked ports: a masked pending one would end every poll at once. */
    for (unsigned i = 0; i < nr_with_handler; i++) {
        evtchn_port_t p = with_handler[i];
        if (!(shared->evtchn_mask[p / EVTCHN_2L_BITS] & (1ull << (p % EVTCHN_2L_BITS))))
            list[n++] = p;
    }
    struct sched_poll poll = { .nr_ports = n, .timeout = deadline_ns };
    set_xen_guest_handle(poll.ports, list);
    return HYPERVISOR_sched_op(SCHEDOP_poll, &poll) == 0;
}

bool events_pending(void)
{
    /* Also the ports a scan we are nested in (a handler that waits) has not reached. */
    return shared && evtchn_2l_has_work(&ports);
}

struct dispatch_count {
    unsigned handled;
};

static void dispatch_one(unsigned port, void *ctx)
{
    struct dispatch_count *c = ctx;
    struct port_slot s = slots[port];
    if (s.fn) {
        c->handled++;
        s.fn(port, s.arg);
    }
}

unsigned events_dispatch(void)
{
    struct dispatch_count c = { 0 };
    if (!shared)
        return 0;
    /* Ports that fire while their handler runs are flagged again: rescan a few times, but
     * not forever, so a port that never goes quiet cannot keep the caller from its own
     * work (the event loop comes back for the rest). */
    for (int round = 0; round < 8 && events_pending(); round++)
        evtchn_2l_scan(&ports, dispatch_one, &c);
    return c.handled;
}
