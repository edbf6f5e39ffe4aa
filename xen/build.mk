# xen/: hypercalls and the PV console. console_ring.c is a pure protocol core, also built
# into the host unit tests (tests/unit/build.mk).
GUEST_KERNEL_SRCS += xen/hypercall.c xen/console_ring.c xen/console.c
