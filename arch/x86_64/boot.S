/*
 * The boot stub: both entry points start in 32-bit protected mode with paging off.
 *
 *   pvh_start  - Xen PVH (XEN_ELFNOTE_PHYS32_ENTRY, see elfnote.S); %ebx = struct hvm_start_info
 *   _start     - multiboot v1 (QEMU -kernel, grub); %eax = 0x2BADB002, %ebx = multiboot_info
 *
 * Both continue in common32, which zeroes BSS, builds an identity map of the low 4 GiB with
 * 2 MiB pages, loads our GDT, enters long mode and calls
 *     arch_start(uint32_t kind, uint32_t info)   (arch/x86_64/start.c)
 * on the boot stack. Nothing here touches memory outside our own image before C runs, so the
 * structures Xen or the loader left us (start info, command line) stay intact.
 */
#include "arch/x86_64/boot_defs.h"

/* ------------------------------------------------------------------------------------------ */
        .section .text.multiboot, "ax"
        .code32
        .balign 4
multiboot_header:
        .long MULTIBOOT_HEADER_MAGIC
        .long MULTIBOOT_HEADER_FLAGS
        .long -(MULTIBOOT_HEADER_MAGIC + MULTIBOOT_HEADER_FLAGS)
        .long multiboot_header /* header_addr   */
        .long __image_start    /* load_addr     */
        .long __data_end       /* load_end_addr */
        .long __bss_end        /* bss_end_addr  */
        .long _start           /* entry_addr    */

/* ------------------------------------------------------------------------------------------ */
        .section .text.boot, "ax"
        .code32

        .globl _start
_start:
        cli
        cld
        movl %eax, boot_kind
        movl %ebx, boot_info
        jmp common32

        .globl pvh_start
pvh_start:
        cli
        cld
        movl $BOOT_KIND_PVH, boot_kind
        movl %ebx, boot_info
        /* fall through */

common32:
        /* Zero BSS first: the page tables and stacks live there. */
        movl $__bss_start, %edi
        movl $__bss_end, %ecx
        subl %edi, %ecx
        shrl $2, %ecx
        xorl %eax, %eax
        rep stosl

        /* PML4[0] -> PDPT; PDPT[0..3] -> four page directories of 2 MiB pages. */
        movl $boot_pdpt, %eax
        orl $0x3, %eax                  /* present, writable */
        movl %eax, boot_pml4

        movl $boot_pd, %eax
        orl $0x3, %eax
        xorl %ecx, %ecx
1:      movl %eax, boot_pdpt(, %ecx, 8)
        addl $PAGE_SIZE, %eax
        incl %ecx
        cmpl $BOOT_IDENTITY_GIB, %ecx
        jb 1b

        /* 512 entries per directory; entry i maps i * 2 MiB. Above 4 GiB the high dword
         * would matter, but we stop at 4 GiB so it stays zero (BSS). */
        movl $0x83, %eax                /* present, writable, 2 MiB page */
        xorl %ecx, %ecx
2:      movl %eax, boot_pd(, %ecx, 8)
        addl $0x200000, %eax
        incl %ecx
        cmpl $(512 * BOOT_IDENTITY_GIB), %ecx
        jb 2b

        lgdt gdt_desc

        movl %cr4, %eax
        orl $CR4_PAE, %eax
        movl %eax, %cr4

        movl $boot_pml4, %eax
        movl %eax, %cr3

        /* EFER.LME, plus EFER.NXE when the CPU has NX (CPUID 0x80000001 EDX bit 20), so
         * start.c can make data non-executable. */
        movl $0x80000000, %eax
        cpuid
        movl $0, %esi
        cmpl $0x80000001, %eax
        jb 3f
        movl $0x80000001, %eax
        cpuid
        testl $(1 << 20), %edx
        jz 3f
        movl $EFER_NXE, %esi
3:      movl $MSR_EFER, %ecx
        rdmsr
        orl $EFER_LME, %eax
        orl %esi, %eax
        wrmsr
        movl %esi, boot_nx_enabled

        movl %cr0, %eax
        orl $(CR0_PG | CR0_WP), %eax
        movl %eax, %cr0

        ljmp $GDT_CS64, $long_mode

        .code64
long_mode:
        movl $GDT_DS, %eax
        movl %eax, %ds
        movl %eax, %es
        movl %eax, %ss
        xorl %eax, %eax
        movl %eax, %fs
        movl %eax, %gs

        movq $boot_stack_top, %rsp
        xorl %ebp, %ebp                 /* terminates frame-pointer backtraces */
        movl boot_kind, %edi
        movl boot_info, %esi
        call arch_start

        /* arch_start does not return; if it ever does, stop quietly. */
4:      cli
        hlt
        jmp 4b

/* ------------------------------------------------------------------------------------------ */
        .section .data, "aw"
        .balign 8
        .globl gdt
gdt:
        .quad 0                         /* null */
        .quad 0x00af9a000000ffff        /* 0x08: 64-bit code, DPL 0 */
        .quad 0x00cf92000000ffff        /* 0x10: data, DPL 0 */
        .quad 0, 0                      /* 0x18: TSS (16 bytes), filled in by traps.c */
gdt_end:

        .balign 8
        .globl gdt_desc
gdt_desc:
        .word gdt_end - gdt - 1
        .quad gdt                       /* lgdt in 32-bit mode reads only the low 4 bytes */

        .balign 4
        .globl boot_nx_enabled
boot_kind:       .long 0
boot_info:       .long 0
boot_nx_enabled: .long 0

/* ------------------------------------------------------------------------------------------ */
        .section .bss, "aw", @nobits
        .balign PAGE_SIZE
        .globl boot_pml4, boot_pdpt, boot_pd
boot_pml4:      .skip PAGE_SIZE
boot_pdpt:      .skip PAGE_SIZE
boot_pd:        .skip PAGE_SIZE * BOOT_IDENTITY_GIB

        /* One unmapped guard page below the boot stack (start.c removes its mapping), so an
         * overflow faults instead of silently eating the page tables above. */
        .globl boot_stack_guard, boot_stack_top
boot_stack_guard:
        .skip PAGE_SIZE
boot_stack:
        .skip BOOT_STACK_SIZE
boot_stack_top:

        .section .note.GNU-stack, "", @progbits
