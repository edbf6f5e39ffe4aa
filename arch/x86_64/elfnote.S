/*
 * ELF notes read by Xen's domain builder (libelf). Only PHYS32_ENTRY is required for a PVH
 * guest; the others name us in `xl` logs and match what Linux and Mini-OS publish. The linker
 * script puts .note.xen into its own PT_NOTE program header.
 */
#include <xen/elfnote.h>

#define ELFNOTE(type, desc_directive)                   \
        .balign 4;                                      \
        .long 2f - 1f;          /* name size */         \
        .long 4f - 3f;          /* desc size */         \
        .long type;                                     \
1:      .asciz "Xen";                                   \
2:      .balign 4;                                      \
3:      desc_directive;                                 \
4:      .balign 4

        .section .note.xen, "a", @note
        ELFNOTE(XEN_ELFNOTE_GUEST_OS,      .asciz "xenkit")
        ELFNOTE(XEN_ELFNOTE_GUEST_VERSION, .asciz "0.1")
        ELFNOTE(XEN_ELFNOTE_XEN_VERSION,   .asciz "xen-3.0")
        ELFNOTE(XEN_ELFNOTE_LOADER,        .asciz "generic")
        ELFNOTE(XEN_ELFNOTE_PHYS32_ENTRY,  .long pvh_start)

        .section .note.GNU-stack, "", @progbits
