/*
 * Page-table management beyond boot.S's identity map of the low 4 GiB: everything is
 * identity mapped (virtual == guest physical), so mapping a range means adding entries for it.
 */
#ifndef XENKIT_ARCH_PAGING_H
#define XENKIT_ARCH_PAGING_H

#include <stdint.h>

/* Identity-map [paddr, paddr + len) read-write and non-executable, wherever it is (RAM above
 * 4 GiB, the grant-map window). Ranges already mapped are left as they are. Page-table pages
 * come from the page allocator (never freed). Returns 0, -ENOMEM (out of pages: part of the
 * range may be mapped) or -EINVAL (the range reaches 2^47, beyond what can be identity mapped). */
int paging_map_identity(uint64_t paddr, uint64_t len);

#endif
