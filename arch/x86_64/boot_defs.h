/*
 * Constants shared by the boot assembly and the C code that continues it.
 * Kept free of C declarations so boot.S can include it.
 */
#ifndef XENKIT_ARCH_BOOT_DEFS_H
#define XENKIT_ARCH_BOOT_DEFS_H

/* Where the image is linked and loaded (physical == virtual: identity mapped). */
#define KERNEL_LOAD_ADDR 0x100000

/* GDT selectors (boot.S lays the GDT out in this order). */
#define GDT_CS64 0x08
#define GDT_DS   0x10
#define GDT_TSS  0x18 /* 16-byte system descriptor, filled in by traps.c */

/* How we were entered: boot.S passes one of these to arch_start() as `kind`. */
#define BOOT_KIND_PVH       1          /* Xen PVH: info = struct hvm_start_info  */
#define BOOT_KIND_MULTIBOOT 0x2BADB002 /* multiboot v1 magic: info = multiboot_info */

/* Multiboot v1 header. Bit 16 = the address fields are valid ("a.out kludge"),
 * which QEMU requires for an ELF64 image and grub-pvh accepts. */
#define MULTIBOOT_HEADER_MAGIC 0x1BADB002
#define MULTIBOOT_HEADER_FLAGS 0x00010000

#define BOOT_STACK_SIZE  (16 * 1024)
#define TRAP_STACK_SIZE  (8 * 1024) /* IST stack for #DF, #NMI, #MC */
#define PAGE_SIZE        4096

/* Number of 2 MiB page directories boot.S fills: 4 x 1 GiB = identity map of 4 GiB,
 * enough for the image, the Xen special pages (console/xenstore rings, just below 4 GiB)
 * and the local APIC. */
#define BOOT_IDENTITY_GIB 4

/* Control register and MSR bits used by boot.S. */
#define CR0_PG     (1u << 31)
#define CR0_WP     (1u << 16)
#define CR4_PAE    (1u << 5)
#define MSR_EFER   0xC0000080
#define EFER_LME   (1u << 8)
#define EFER_NXE   (1u << 11)

#endif
