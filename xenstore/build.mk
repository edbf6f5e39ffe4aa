# xenstore/: the xenstore protocol shared by the guest's xenbus client and (later)
# vxenstored. xs_codec.c is pure (no I/O, no globals): it is linked into every guest kernel
# and built into the host unit tests (tests/unit/build.mk).
XS_CODEC_SRCS := xenstore/xs_codec.c

GUEST_KERNEL_SRCS += $(XS_CODEC_SRCS)

# The versioned store's object heap (host code, for vxenstored in dom0): object names
# (SHA-256 via libcrypto), the in-memory heap, the I/O backends and the pack file. Its tests
# are declared in tests/unit/build.mk.
STORE_HEAP_SRCS := xenstore/store_hash.c xenstore/store_memobj.c xenstore/store_io.c \
                   xenstore/store_pack.c
STORE_HEAP_LIBS := -lcrypto -pthread
