# xenstore/: the xenstore protocol shared by the guest's xenbus client and (later)
# vxenstored. xs_codec.c is pure (no I/O, no globals): it is linked into every guest kernel
# and built into the host unit tests (tests/unit/build.mk).
XS_CODEC_SRCS := xenstore/xs_codec.c

GUEST_KERNEL_SRCS += $(XS_CODEC_SRCS)
