# xen/: hypercalls and the PV console. console_ring.c is a pure protocol core, also built
# into the host unit tests (tests/unit/build.mk).
GUEST_KERNEL_SRCS += xen/hypercall.c xen/console_ring.c xen/console.c \
                     xen/evtchn_2l.c xen/events.c xen/pvclock.c xen/clock.c xen/eventloop.c
# Grant tables v1: gnttab_core.c and gntmap_slots.c are pure (also in tests/unit/build.mk),
# gnttab.c does the hypercalls.
GUEST_KERNEL_SRCS += xen/gnttab_core.c xen/gntmap_slots.c xen/gnttab.c
# The xenbus client (xenstore): xenbus_ring.c is pure (also in tests/unit/build.mk); the
# wire codec it uses is xenstore/xs_codec.c. shutdown.c honours control/shutdown.
GUEST_KERNEL_SRCS += xen/xenbus_ring.c xen/xenbus.c xen/xenbus_watch.c xen/xenbus_nodes.c \
                     xen/xenbus_xact.c xen/xenbus_state.c xen/shutdown.c
