/* The local APIC, as far as event-channel upcalls need it: on, and acknowledged. */
#ifndef XENKIT_ARCH_LAPIC_H
#define XENKIT_ARCH_LAPIC_H

#define LAPIC_SPURIOUS_VECTOR 0xff

/* Software-enable the local APIC (xAPIC MMIO, identity mapped) with LAPIC_SPURIOUS_VECTOR. */
void lapic_enable(void);
/* End of interrupt for the vector being serviced; harmless when none is in service. */
void lapic_eoi(void);

#endif
