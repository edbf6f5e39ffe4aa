# xen/: hypercalls and the PV console. console_ring.c is a pure protocol core, also built
# into the host unit tests (tests/unit/build.mk).
GUEST_KERNEL_SRCS += xen/hypercall.c xen/console_ring.c xen/console.c \
                     xen/evtchn_2l.c xen/events.c xen/pvclock.c xen/clock.c xen/eventloop.c
