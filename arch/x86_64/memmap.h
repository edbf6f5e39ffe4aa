/*
 * memmap.h: the machine's memory map, sanitized. Pure (no hypercalls, no globals), so the host
 * unit tests feed it hostile tables. mm.c fills it from XENMEM_memory_map, hvm_start_info's
 * table or the multiboot mmap.
 *
 * Every entry is checked: zero-length entries and entries starting at or above
 * MEMMAP_MAX_ADDR (x86's architectural physical limit, 2^52) are dropped, ends that would
 * wrap or pass that limit are clipped, and at most MEMMAP_MAX entries are kept (the rest are
 * counted in `ignored`). Entries are kept as given otherwise (sorted by base); overlaps are
 * resolved by the page allocator, which excludes everything that is not RAM.
 */
#ifndef XENKIT_ARCH_MEMMAP_H
#define XENKIT_ARCH_MEMMAP_H

#include <stddef.h>
#include <stdint.h>

#define MEMMAP_MAX      64
#define MEMMAP_MAX_ADDR (1ull << 52)

/* E820 types (the same numbers in Xen's e820, hvm_start_info's table and multiboot). */
#define MEMMAP_RAM      1
#define MEMMAP_RESERVED 2
#define MEMMAP_ACPI     3
#define MEMMAP_NVS      4
#define MEMMAP_UNUSABLE 5

struct memmap_entry {
    uint64_t base;
    uint64_t len;
    uint32_t type;
};

struct memmap {
    unsigned n;
    unsigned ignored; /* entries dropped: empty, out of range, or past MEMMAP_MAX */
    struct memmap_entry e[MEMMAP_MAX];
};

void memmap_init(struct memmap *m);

/* Adds one entry after the checks above; returns 1 if kept, 0 if dropped. */
int memmap_add(struct memmap *m, uint64_t base, uint64_t len, uint32_t type);

/* An array of `count` entries `stride` bytes apart, each starting with uint64 addr, uint64
 * size, uint32 type: Xen's packed e820 entries (stride 20) and hvm_memmap_table_entry
 * (stride 24). Reads with memcpy, so the table need not be aligned. */
void memmap_from_table(struct memmap *m, const void *table, size_t count, size_t stride);

/* The multiboot v1 mmap buffer: entries of uint32 size (not counting itself), uint64 base,
 * uint64 length, uint32 type, walked by `size`; a size too small to hold an entry or one
 * running past the buffer ends the walk. */
void memmap_from_multiboot(struct memmap *m, const void *buf, size_t len);

/* Bytes and ranges of type RAM. */
uint64_t memmap_ram_bytes(const struct memmap *m);
unsigned memmap_ram_ranges(const struct memmap *m);

/* A short name for an entry type ("ram", "reserved", "acpi", "nvs", "unusable", "type?"). */
const char *memmap_type_name(uint32_t type);

#endif
