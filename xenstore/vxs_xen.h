/*
 * vxenstored's only door to the hypervisor: libxenctrl (domain state), libxenevtchn (event
 * channels), libxengnttab (guest rings at grant ref 1), libxenforeignmemory (rings by gfn,
 * when the grant is missing) and dom0's /proc/xen/xsd_{kva,port}. Kept apart so that the
 * rest of the daemon never includes a libxen* header.
 */
#ifndef XENKIT_XENSTORE_VXS_XEN_H
#define XENKIT_XENSTORE_VXS_XEN_H

#include <stdbool.h>
#include <stdint.h>

enum vxs_map_kind { VXS_MAP_NONE, VXS_MAP_GRANT, VXS_MAP_FOREIGN, VXS_MAP_KVA };

enum vxs_dom_state { VXS_DOM_GONE, VXS_DOM_RUNNING, VXS_DOM_SHUTDOWN, VXS_DOM_DYING };

/* Open the handles; -errno if the hypervisor is not reachable. */
int vxs_xen_open(void);
bool vxs_xen_available(void);
int vxs_xen_evtchn_fd(void);

/* Bind our end of an interdomain channel to (domid, remote_port): our port, or -errno. */
int vxs_xen_bind(uint32_t domid, uint32_t remote_port);
void vxs_xen_unbind(int local_port);
void vxs_xen_notify(int local_port);
/* The next pending port (unmasked again), or -1. */
int vxs_xen_next_pending(void);
/* Bind VIRQ_DOM_EXC (a domain shut down, crashed or is dying): our port or -errno. */
int vxs_xen_bind_dom_exc(void);

/* Map a guest's xenstore ring page: grant ref 1 first, else the gfn. NULL on failure. */
void *vxs_xen_map_ring(uint32_t domid, uint64_t gfn, enum vxs_map_kind *kind);
void vxs_xen_unmap_ring(void *page, enum vxs_map_kind kind);
/* dom0's own ring and port (/proc/xen/xsd_kva, /proc/xen/xsd_port). */
void *vxs_xen_map_dom0(int *port);

enum vxs_dom_state vxs_xen_domain_state(uint32_t domid);

#endif
