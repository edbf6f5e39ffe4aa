/* The part of the multiboot v1 information structure we read: the command line, the memory
 * sizes and map, the modules (to keep the page allocator off them). */
#ifndef XENKIT_ARCH_MULTIBOOT_H
#define XENKIT_ARCH_MULTIBOOT_H

#include <stdint.h>

#define MULTIBOOT_INFO_MEM     (1u << 0)
#define MULTIBOOT_INFO_CMDLINE (1u << 2)
#define MULTIBOOT_INFO_MODS    (1u << 3)
#define MULTIBOOT_INFO_MMAP    (1u << 6)

struct multiboot_info {
    uint32_t flags;
    uint32_t mem_lower;
    uint32_t mem_upper;
    uint32_t boot_device;
    uint32_t cmdline;
    uint32_t mods_count;
    uint32_t mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length;
    uint32_t mmap_addr;
};

struct multiboot_module {
    uint32_t mod_start;
    uint32_t mod_end;
    uint32_t string;
    uint32_t reserved;
};

#endif
