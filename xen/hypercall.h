/*
 * Xen hypercalls for a 64-bit PVH guest.
 *
 * We issue VMCALL (Intel) or VMMCALL (AMD/Hygon) directly instead of calling through a
 * hypercall page: Xen's guest guide recommends it (the page contains `ret` without `endbr` and
 * costs a page of the image), and the choice is one predictable branch. xen_hypercall_init()
 * sets xen_hypercall_vmmcall from the CPU vendor before the first hypercall.
 *
 * ABI: RAX = hypercall number (and result), arguments in RDI, RSI, RDX, R10, R8. Xen may
 * clobber the argument registers (debug builds poison them), so they are in/out operands.
 */
#ifndef XENKIT_XEN_HYPERCALL_H
#define XENKIT_XEN_HYPERCALL_H

#include <stdbool.h>
#include <stdint.h>
#include <xen/xen.h>

extern bool xen_hypercall_vmmcall;

#define XEN_HYPERCALL_INSN                                                                   \
    "cmpb $0, %[amd]\n\t"                                                                    \
    "jne 1f\n\t"                                                                             \
    "vmcall\n\t"                                                                             \
    "jmp 2f\n"                                                                               \
    "1:\tvmmcall\n"                                                                          \
    "2:"

static inline long xen_hypercall2(unsigned op, uint64_t a1, uint64_t a2)
{
    long ret;
    register uint64_t rdi __asm__("rdi") = a1;
    register uint64_t rsi __asm__("rsi") = a2;
    __asm__ volatile(XEN_HYPERCALL_INSN
                     : "=a"(ret), "+r"(rdi), "+r"(rsi)
                     : "0"((uint64_t)op), [amd] "m"(xen_hypercall_vmmcall)
                     : "memory", "cc", "rdx", "r10", "r8");
    return ret;
}

static inline long xen_hypercall3(unsigned op, uint64_t a1, uint64_t a2, uint64_t a3)
{
    long ret;
    register uint64_t rdi __asm__("rdi") = a1;
    register uint64_t rsi __asm__("rsi") = a2;
    register uint64_t rdx __asm__("rdx") = a3;
    __asm__ volatile(XEN_HYPERCALL_INSN
                     : "=a"(ret), "+r"(rdi), "+r"(rsi), "+r"(rdx)
                     : "0"((uint64_t)op), [amd] "m"(xen_hypercall_vmmcall)
                     : "memory", "cc", "r10", "r8");
    return ret;
}

static inline long xen_hypercall4(unsigned op, uint64_t a1, uint64_t a2, uint64_t a3,
                                  uint64_t a4)
{
    long ret;
    register uint64_t rdi __asm__("rdi") = a1;
    register uint64_t rsi __asm__("rsi") = a2;
    register uint64_t rdx __asm__("rdx") = a3;
    register uint64_t r10 __asm__("r10") = a4;
    __asm__ volatile(XEN_HYPERCALL_INSN
                     : "=a"(ret), "+r"(rdi), "+r"(rsi), "+r"(rdx), "+r"(r10)
                     : "0"((uint64_t)op), [amd] "m"(xen_hypercall_vmmcall)
                     : "memory", "cc", "r8");
    return ret;
}

static inline long xen_hypercall1(unsigned op, uint64_t a1)
{
    return xen_hypercall2(op, a1, 0);
}

static inline long HYPERVISOR_sched_op(int cmd, void *arg)
{
    return xen_hypercall2(__HYPERVISOR_sched_op, (uint64_t)cmd, (uint64_t)(uintptr_t)arg);
}

static inline long HYPERVISOR_event_channel_op(int cmd, void *arg)
{
    return xen_hypercall2(__HYPERVISOR_event_channel_op, (uint64_t)cmd,
                          (uint64_t)(uintptr_t)arg);
}

static inline long HYPERVISOR_hvm_op(int cmd, void *arg)
{
    return xen_hypercall2(__HYPERVISOR_hvm_op, (uint64_t)cmd, (uint64_t)(uintptr_t)arg);
}

static inline long HYPERVISOR_xen_version(int cmd, void *arg)
{
    return xen_hypercall2(__HYPERVISOR_xen_version, (uint64_t)cmd, (uint64_t)(uintptr_t)arg);
}

static inline long HYPERVISOR_memory_op(unsigned cmd, void *arg)
{
    return xen_hypercall2(__HYPERVISOR_memory_op, cmd, (uint64_t)(uintptr_t)arg);
}

static inline long HYPERVISOR_grant_table_op(unsigned cmd, void *uop, unsigned count)
{
    return xen_hypercall3(__HYPERVISOR_grant_table_op, cmd, (uint64_t)(uintptr_t)uop, count);
}

static inline long HYPERVISOR_vcpu_op(int cmd, unsigned vcpu, void *arg)
{
    return xen_hypercall3(__HYPERVISOR_vcpu_op, (uint64_t)cmd, vcpu, (uint64_t)(uintptr_t)arg);
}

static inline long HYPERVISOR_set_timer_op(uint64_t deadline_ns)
{
    return xen_hypercall1(__HYPERVISOR_set_timer_op, deadline_ns);
}

/* What xen_hypercall_init() found. */
struct xen_info {
    uint32_t cpuid_base;    /* 0x40000000 + 0x100 * n: where Xen's leaves start */
    uint16_t version_major; /* from CPUID base+1, no hypercall needed */
    uint16_t version_minor;
    bool vmmcall;           /* AMD/Hygon: VMMCALL, else VMCALL */
};

/* Look for Xen's CPUID leaves. Returns false when not running on Xen (e.g. plain QEMU), in
 * which case no hypercall may be made. */
bool xen_detect(struct xen_info *out);

/* Select the hypercall instruction. Call once, after xen_detect() succeeded. */
void xen_hypercall_init(const struct xen_info *info);

/* HVMOP_get_param for our own domain. Returns 0 or a negative Xen errno. */
int xen_hvm_get_param(uint32_t index, uint64_t *value);

#endif
