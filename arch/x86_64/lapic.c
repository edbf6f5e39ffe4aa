/*
 * Xen delivers the per-vCPU event-channel upcall vector through the guest's (emulated) local
 * APIC, so the vector sits in the APIC's in-service register until we write EOI; without it
 * no further upcall of the same or lower priority would be delivered.
 */
#include <stdint.h>

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/lapic.h"

#define MSR_APIC_BASE      0x1b
#define APIC_BASE_ENABLE   (1u << 11)
#define APIC_BASE_X2APIC   (1u << 10)
#define APIC_REG_EOI       0xb0
#define APIC_REG_SVR       0xf0
#define APIC_SVR_ENABLE    0x100
#define MSR_X2APIC_EOI     0x80b
#define MSR_X2APIC_SVR     0x80f

static volatile uint32_t *lapic_mmio;
static int x2apic;

void lapic_enable(void)
{
    uint64_t base = rdmsr(MSR_APIC_BASE);

    if (!(base & APIC_BASE_ENABLE)) {
        base |= APIC_BASE_ENABLE;
        wrmsr(MSR_APIC_BASE, base);
    }
    if (base & APIC_BASE_X2APIC) {
        x2apic = 1;
        wrmsr(MSR_X2APIC_SVR, APIC_SVR_ENABLE | LAPIC_SPURIOUS_VECTOR);
        return;
    }
    /* The xAPIC page lies below 4 GiB, inside boot.S's identity map. */
    lapic_mmio = (volatile uint32_t *)(uintptr_t)(base & 0xfffff000u);
    lapic_mmio[APIC_REG_SVR / 4] = APIC_SVR_ENABLE | LAPIC_SPURIOUS_VECTOR;
}

void lapic_eoi(void)
{
    if (x2apic)
        wrmsr(MSR_X2APIC_EOI, 0);
    else if (lapic_mmio)
        lapic_mmio[APIC_REG_EOI / 4] = 0;
}
