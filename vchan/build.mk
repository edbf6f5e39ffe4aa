# vchan/: libxenvchan-compatible inter-domain streams. vchan_core.c is the pure protocol core
# (no I/O, no globals): linked into every guest kernel, into the dom0 library and into the
# host unit tests.
VCHAN_CORE_SRCS := vchan/vchan_core.c
GUEST_KERNEL_SRCS += $(VCHAN_CORE_SRCS)

# Xen's <xen/io/libxenvchan.h> includes <sys/types.h>, which the guest libc lacks: a fallback
# copy, searched after every other include directory (see vchan/compat/sys/types.h).
GUEST_CFLAGS += -idirafter vchan/compat

# The guest binding (vchan/guest_vchan.h): server and client on grant tables, event channels
# and the xenbus client. guest_hs.c is its pure part (also in tests/unit/build.mk).
VCHAN_GUEST_SRCS := vchan/guest_vchan.c vchan/guest_xs.c vchan/guest_hs.c
GUEST_KERNEL_SRCS += $(VCHAN_GUEST_SRCS)
