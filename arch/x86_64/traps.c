/*
 * Exceptions are fatal in this kernel (there is no user mode and no demand paging), so the
 * handler's only job is to say as much as it can about what went wrong and crash the domain.
 * Double fault, NMI and machine check run on their own IST stack, so a stack overflow (which
 * hits the guard page below the boot stack and then cannot push the #PF frame) still reports.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "arch/x86_64/boot_defs.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/platform.h"
#include "arch/x86_64/traps.h"

extern char trap_stubs[];   /* trap_entry.S: 256 stubs, 16 bytes apart */
extern uint64_t gdt[];      /* boot.S */

struct idt_gate {
    uint16_t offset_lo;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_hi;
    uint32_t reserved;
} __attribute__((packed));

struct tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));

_Static_assert(sizeof(struct idt_gate) == 16, "IDT gate is 16 bytes");
_Static_assert(sizeof(struct tss64) == 104, "TSS is 104 bytes");

static struct idt_gate idt[256] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static uint8_t ist_stack[TRAP_STACK_SIZE] __attribute__((aligned(16)));

#define IST_FATAL 1 /* index into tss.ist[] (1-based in the gate) */

static void set_gate(unsigned vec, uint8_t ist)
{
    uint64_t addr = (uint64_t)(uintptr_t)(trap_stubs + 16 * vec);
    idt[vec] = (struct idt_gate){
        .offset_lo = (uint16_t)addr,
        .selector = GDT_CS64,
        .ist = ist,
        .type_attr = 0x8e, /* present, DPL 0, 64-bit interrupt gate (IF cleared on entry) */
        .offset_mid = (uint16_t)(addr >> 16),
        .offset_hi = (uint32_t)(addr >> 32),
    };
}

static void load_tss(void)
{
    uint64_t base = (uint64_t)(uintptr_t)&tss;
    uint64_t limit = sizeof(tss) - 1;

    tss.ist[IST_FATAL - 1] = (uint64_t)(uintptr_t)(ist_stack + sizeof(ist_stack));
    tss.iomap_base = sizeof(tss); /* no I/O permission bitmap */

    /* 64-bit available TSS descriptor (type 9, present) spans two GDT slots. */
    gdt[GDT_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
                       (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    gdt[GDT_TSS / 8 + 1] = base >> 32;
    __asm__ volatile("ltr %w0" : : "r"(GDT_TSS));
}

void traps_init(void)
{
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };

    load_tss();
    for (unsigned v = 0; v < 256; v++)
        set_gate(v, (v == 2 || v == 8 || v == 18) ? IST_FATAL : 0);
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

static const char *const exception_names[32] = {
    [0] = "#DE divide error",        [1] = "#DB debug",
    [2] = "NMI",                     [3] = "#BP breakpoint",
    [4] = "#OF overflow",            [5] = "#BR bound range",
    [6] = "#UD invalid opcode",      [7] = "#NM device not available",
    [8] = "#DF double fault",        [10] = "#TS invalid TSS",
    [11] = "#NP segment not present", [12] = "#SS stack fault",
    [13] = "#GP general protection", [14] = "#PF page fault",
    [16] = "#MF x87 error",          [17] = "#AC alignment check",
    [18] = "#MC machine check",      [19] = "#XM SIMD error",
    [20] = "#VE virtualization",     [21] = "#CP control protection",
};

/* Walk saved frame pointers. Every frame is checked to lie inside the identity-mapped image
 * and to move up the stack, so a corrupt chain ends the walk instead of faulting again. */
static void print_backtrace(uint64_t rbp)
{
    extern char __image_start[], __image_end[];
    uint64_t lo = (uint64_t)(uintptr_t)__image_start, hi = (uint64_t)(uintptr_t)__image_end;

    printf("backtrace:\n");
    for (int depth = 0; depth < 32; depth++) {
        if (rbp < lo || rbp + 16 > hi || (rbp & 7))
            break;
        const uint64_t *frame = (const uint64_t *)(uintptr_t)rbp;
        uint64_t ret = frame[1];
        if (ret == 0)
            break;
        printf("  [%2d] 0x%016lx\n", depth, (unsigned long)ret);
        if (frame[0] <= rbp)
            break;
        rbp = frame[0];
    }
}

static void (*irq_handlers[256])(void);
static uint8_t irq_reported[256];

void traps_set_irq_handler(unsigned vector, void (*fn)(void))
{
    if (vector >= 32 && vector < 256)
        irq_handlers[vector] = fn;
}

void trap_dispatch(struct trap_frame *f)
{
    if (f->vector >= 32 && f->vector < 256) {
        if (irq_handlers[f->vector]) {
            irq_handlers[f->vector]();
        } else if (!irq_reported[f->vector]) {
            irq_reported[f->vector] = 1;
            printf("xenkit: ignoring unexpected interrupt vector %lu\n",
                   (unsigned long)f->vector);
        }
        return;
    }

    platform_fatal_begin();

    const char *name = f->vector < 32 ? exception_names[f->vector] : NULL;
    printf("*** EXCEPTION vector=%lu (%s) error=0x%lx rip=0x%016lx\n", (unsigned long)f->vector,
           name ? name : "reserved",
           (unsigned long)f->error_code, (unsigned long)f->rip);
    if (f->vector == 14)
        printf("    cr2=0x%016lx (%s, %s, %s)\n", (unsigned long)read_cr2(),
               (f->error_code & 1) ? "protection" : "not present",
               (f->error_code & 2) ? "write" : "read",
               (f->error_code & 16) ? "instruction fetch" : "data");
    printf("    cs=0x%lx rflags=0x%lx rsp=0x%016lx ss=0x%lx\n", (unsigned long)f->cs,
           (unsigned long)f->rflags, (unsigned long)f->rsp, (unsigned long)f->ss);
    printf("    rax=%016lx rbx=%016lx rcx=%016lx rdx=%016lx\n", (unsigned long)f->rax,
           (unsigned long)f->rbx, (unsigned long)f->rcx, (unsigned long)f->rdx);
    printf("    rsi=%016lx rdi=%016lx rbp=%016lx r8 =%016lx\n", (unsigned long)f->rsi,
           (unsigned long)f->rdi, (unsigned long)f->rbp, (unsigned long)f->r8);
    printf("    r9 =%016lx r10=%016lx r11=%016lx r12=%016lx\n", (unsigned long)f->r9,
           (unsigned long)f->r10, (unsigned long)f->r11, (unsigned long)f->r12);
    printf("    r13=%016lx r14=%016lx r15=%016lx\n", (unsigned long)f->r13,
           (unsigned long)f->r14, (unsigned long)f->r15);
    /* The saved RIP of a double fault is undefined; its frame chain may be garbage too. */
    if (f->vector != 8)
        print_backtrace(f->rbp);

    platform_crash();
}
