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

# The dom0 binding (vchan/xkvchan.h) on the Xen user-space libraries, and vchan-cat.
VCHAN_DOM0_SRCS := vchan/dom0_vchan.c $(VCHAN_CORE_SRCS)
VCHAN_DOM0_LIBS := -lxenevtchn -lxengnttab -lxenstore
HOST_PROG_NAMES += vchan-cat
HOST_PROG_SRCS_vchan-cat := vchan/dom0_cat.c $(VCHAN_DOM0_SRCS)
HOST_PROG_LIBS_vchan-cat := $(VCHAN_DOM0_LIBS)

# The core against two endpoints sharing memory (tests/unit/test_vchan_core.c).
UNIT_TEST_NAMES += test_vchan_core
UNIT_TEST_SRCS_test_vchan_core := tests/unit/test_vchan_core.c $(VCHAN_CORE_SRCS)
UNIT_TEST_LIBS_test_vchan_core := -lcmocka
