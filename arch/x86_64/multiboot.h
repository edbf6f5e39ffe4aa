/* The part of the multiboot v1 information structure we read (the command line). */
#ifndef XENKIT_ARCH_MULTIBOOT_H
#define XENKIT_ARCH_MULTIBOOT_H

#include <stdint.h>

#define MULTIBOOT_INFO_CMDLINE (1u << 2)

struct multiboot_info {
    uint32_t flags;
    uint32_t mem_lower;
    uint32_t mem_upper;
    uint32_t boot_device;
    uint32_t cmdline;
};

#endif
