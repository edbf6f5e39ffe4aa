/* Finding Xen and choosing how to call it. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>

#include "arch/x86_64/cpu.h"
#include "xen/hypercall.h"

bool xen_hypercall_vmmcall;

bool xen_detect(struct xen_info *out)
{
    /* Xen's leaves move up in 0x100 steps when it also offers another hypervisor's
     * interface (e.g. Viridian at 0x40000000); the signature tells them apart. */
    for (uint32_t base = 0x40000000; base < 0x40010000; base += 0x100) {
        uint32_t eax, sig[3];
        cpuid(base, 0, &eax, &sig[0], &sig[1], &sig[2]);
        if (memcmp(sig, "XenVMMXenVMM", 12) != 0 || eax < base + 2)
            continue;

        uint32_t ver, b, c, d;
        cpuid(base + 1, 0, &ver, &b, &c, &d);

        uint32_t max, vendor[3];
        cpuid(0, 0, &max, &vendor[0], &vendor[2], &vendor[1]); /* EBX, EDX, ECX order */
        out->cpuid_base = base;
        out->version_major = (uint16_t)(ver >> 16);
        out->version_minor = (uint16_t)ver;
        out->vmmcall = memcmp(vendor, "AuthenticAMD", 12) == 0 ||
                       memcmp(vendor, "HygonGenuine", 12) == 0;
        return true;
    }
    return false;
}

void xen_hypercall_init(const struct xen_info *info)
{
    xen_hypercall_vmmcall = info->vmmcall;
}

int xen_hvm_get_param(uint32_t index, uint64_t *value)
{
    struct xen_hvm_param p = { .domid = DOMID_SELF, .index = index };
    long rc = HYPERVISOR_hvm_op(HVMOP_get_param, &p);
    if (rc == 0)
        *value = p.value;
    return (int)rc;
}
