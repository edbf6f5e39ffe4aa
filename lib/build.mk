# lib/: the guest's freestanding libc. Linked into every guest kernel; the host unit tests
# (tests/unit/build.mk) compile the same sources with renamed symbols.
LIBC_SRCS := lib/string.c lib/strtol.c lib/stdlib.c lib/printf.c lib/stdio.c lib/panic.c

GUEST_KERNEL_SRCS += $(LIBC_SRCS)

# Without this gcc recognises the loops of memset/memcpy as memset/memcpy and emits calls to
# them: infinite recursion.
CFLAGS_lib/string.c := -fno-tree-loop-distribute-patterns

# The heap: the buddy page allocator and the slab/large object allocator are pure cores (state
# passed in); malloc.c holds the one global heap. The kernel feeds it from arch/x86_64/mm.c.
LIBC_SRCS += lib/page_alloc.c lib/heap.c lib/malloc.c
GUEST_KERNEL_SRCS += lib/page_alloc.c lib/heap.c lib/malloc.c
