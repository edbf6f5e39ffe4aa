/* IDT, TSS and the fatal-exception reporter. */
#ifndef XENKIT_ARCH_TRAPS_H
#define XENKIT_ARCH_TRAPS_H

#include <stdint.h>

/* What trap_entry.S leaves on the stack, lowest address first. */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    /* pushed by the CPU */
    uint64_t rip, cs, rflags, rsp, ss;
};

/* Install the GDT's TSS (with IST stacks for #DF, NMI and #MC) and the IDT. After this any
 * exception is reported on the console with its vector, error code and RIP, and the domain
 * crashes: there is no silent triple fault. */
void traps_init(void);

/* Route a device vector (32..255) to fn, called with interrupts disabled. Vectors without a
 * handler are reported once and ignored; exceptions (0..31) are always fatal. */
void traps_set_irq_handler(unsigned vector, void (*fn)(void));

/* Called from trap_entry.S for every vector. */
void trap_dispatch(struct trap_frame *f);

#endif
