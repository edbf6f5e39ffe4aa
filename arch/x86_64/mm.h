/*
 * mm.h: the kernel's memory. mm_init() reads the memory map (XENMEM_memory_map on Xen,
 * checked against hvm_start_info's table; the multiboot map on bare QEMU), hands all RAM minus
 * what is in use (low 1 MiB, the image, the loader's data) to the page allocator
 * (lib/page_alloc.c), maps RAM above 4 GiB, and feeds malloc (lib/heap.c) from it.
 */
#ifndef XENKIT_ARCH_MM_H
#define XENKIT_ARCH_MM_H

#include <stddef.h>
#include <stdint.h>

/* boot_kind/boot_info as boot.S passed them to arch_start(). Panics if there is no memory map
 * or no usable RAM. Prints nothing: the console may not be up yet (see mm_report). */
void mm_init(uint32_t boot_kind, uint32_t boot_info);

/* Prints the memory map and the allocator's figures ("xenkit: memory: N MiB RAM in K ranges"). */
void mm_report(void);

/* n contiguous page-aligned pages, or NULL; and back. For page tables and other kernel users
 * that want whole pages (malloc gets its pages the same way). */
void *mm_alloc_pages(size_t n);
void mm_free_pages(void *p, size_t n);

#endif
