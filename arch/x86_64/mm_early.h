#ifndef XENKIT_ARCH_MM_EARLY_H
#define XENKIT_ARCH_MM_EARLY_H

#include <stdbool.h>

/* Remap the 2 MiB pages that hold the image with 4 KiB pages so that text is read-only,
 * rodata and data are non-executable (when the CPU has NX) and the page below the boot stack
 * and page 0 are not mapped. Returns false (and changes nothing) if the image is too large for the
 * static page tables. */
bool mm_protect_image(void);

#endif
