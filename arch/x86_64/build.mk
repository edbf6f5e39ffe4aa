# arch/x86_64/: boot stub, traps, early console, image protection, shutdown.
# boot.S comes first: its .text.multiboot must land in the first 8 KiB of the image.
GUEST_KERNEL_SRCS += arch/x86_64/boot.S arch/x86_64/elfnote.S arch/x86_64/trap_entry.S \
                     arch/x86_64/start.c arch/x86_64/traps.c arch/x86_64/early_console.c \
                     arch/x86_64/mm_early.c arch/x86_64/platform.c arch/x86_64/lapic.c
# Memory: the memory map, the page allocator and heap set-up, identity mappings above 4 GiB.
GUEST_KERNEL_SRCS += arch/x86_64/memmap.c arch/x86_64/mm.c arch/x86_64/paging.c
