/* vxenstored and the hypervisor, through Xen's libraries; see vxs_xen.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xengnttab.h>
#include <xen/grant_table.h>

#include "xenstore/vxs_xen.h"

#define PAGE 4096

static xc_interface *xch;
static xenevtchn_handle *xce;
static xengnttab_handle *xgt;
static xenforeignmemory_handle *xfm;

int vxs_xen_open(void)
{
    xch = xc_interface_open(NULL, NULL, 0);
    if (!xch)
        return -errno ? -errno : -ENODEV;
    xce = xenevtchn_open(NULL, 0);
    if (!xce)
        return -errno ? -errno : -ENODEV;
    /* Non-blocking, so that the poll loop can drain every pending port and stop. */
    int fd = xenevtchn_fd(xce);
    if (fd >= 0)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    xgt = xengnttab_open(NULL, 0);
    /* Foreign mapping by gfn is only the fallback for a domain without the grant. */
    xfm = xenforeignmemory_open(NULL, 0);
    return xgt ? 0 : (-errno ? -errno : -ENODEV);
}

bool vxs_xen_available(void)
{
    return xce != NULL;
}

int vxs_xen_evtchn_fd(void)
{
    return xce ? xenevtchn_fd(xce) : -1;
}

int vxs_xen_bind(uint32_t domid, uint32_t remote_port)
{
    xenevtchn_port_or_error_t p = xenevtchn_bind_interdomain(xce, domid, remote_port);
    return p < 0 ? (errno ? -errno : -EINVAL) : (int)p;
}

void vxs_xen_unbind(int local_port)
{
    if (local_port >= 0)
        xenevtchn_unbind(xce, (evtchn_port_t)local_port);
}

void vxs_xen_notify(int local_port)
{
    if (local_port >= 0)
        xenevtchn_notify(xce, (evtchn_port_t)local_port);
}

int vxs_xen_next_pending(void)
{
    xenevtchn_port_or_error_t p = xenevtchn_pending(xce);
    if (p < 0)
        return -1;
    xenevtchn_unmask(xce, (evtchn_port_t)p);
    return (int)p;
}

int vxs_xen_bind_dom_exc(void)
{
    xenevtchn_port_or_error_t p = xenevtchn_bind_virq(xce, VIRQ_DOM_EXC);
    return p < 0 ? (errno ? -errno : -EINVAL) : (int)p;
}

void *vxs_xen_map_ring(uint32_t domid, uint64_t gfn, enum vxs_map_kind *kind)
{
    void *p = NULL;
    if (xgt) {
        p = xengnttab_map_grant_ref(xgt, domid, GNTTAB_RESERVED_XENSTORE,
                                    PROT_READ | PROT_WRITE);
        if (p) {
            *kind = VXS_MAP_GRANT;
            return p;
        }
    }
    if (xfm) {
        xen_pfn_t pfn = (xen_pfn_t)gfn;
        int err = 0;
        p = xenforeignmemory_map(xfm, domid, PROT_READ | PROT_WRITE, 1, &pfn, &err);
        if (p && !err) {
            *kind = VXS_MAP_FOREIGN;
            return p;
        }
        if (p)
            xenforeignmemory_unmap(xfm, p, 1);
    }
    *kind = VXS_MAP_NONE;
    return NULL;
}

void vxs_xen_unmap_ring(void *page, enum vxs_map_kind kind)
{
    switch (kind) {
    case VXS_MAP_GRANT:
        xengnttab_unmap(xgt, page, 1);
        break;
    case VXS_MAP_FOREIGN:
        xenforeignmemory_unmap(xfm, page, 1);
        break;
    case VXS_MAP_KVA:
        munmap(page, PAGE);
        break;
    case VXS_MAP_NONE:
        break;
    }
}

void *vxs_xen_map_dom0(int *port)
{
    char buf[32];
    int fd = open("/proc/xen/xsd_port", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return NULL;
    buf[n] = 0;
    char *end;
    long v = strtol(buf, &end, 10);
    if (end == buf || v <= 0 || v > 0xfffff)
        return NULL;
    *port = (int)v;
    fd = open("/proc/xen/xsd_kva", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

enum vxs_dom_state vxs_xen_domain_state(uint32_t domid)
{
    xc_dominfo_t info;
    if (!xch || xc_domain_getinfo(xch, domid, 1, &info) != 1 || info.domid != domid)
        return VXS_DOM_GONE;
    if (info.dying)
        return VXS_DOM_DYING;
    if (info.shutdown || info.crashed)
        return VXS_DOM_SHUTDOWN;
    return VXS_DOM_RUNNING;
}
