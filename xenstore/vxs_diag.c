/* SIGUSR1's report: the state of every domain's ring and connection, one line each, to the
 * log. A guest whose xenbus hangs is either waiting for bytes we never wrote, or sitting on
 * bytes it was never told about, or writing requests we do not read: the shared indexes next
 * to ours tell which (e.g. rsp_prod != rsp_cons for long: the guest missed an event;
 * req_prod != req_read: we missed one). Cheap enough to ask a live daemon for. */
#include <stdint.h>

#include "xenstore/vxs.h"
#include "xenstore/vxs_quota.h"

static XENSTORE_RING_IDX peek(const XENSTORE_RING_IDX *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

void vxs_diag_dump(void)
{
    vxs_log("state: durable_upto %llu next_seq %llu",
            (unsigned long long)vxs.durable_upto, (unsigned long long)vxs.next_seq);
    for (struct vxs_domain *d = vxs.domains; d; d = d->next) {
        struct vxs_conn *c = d->conn;
        if (!d->ring.intf) {
            vxs_log("dom%u: no ring mapped (port %d)", d->domid, d->local_port);
            continue;
        }
        const struct xenstore_domain_interface *i = d->ring.intf;
        unsigned nout = 0;
        uint64_t head_need = 0, head_serial = 0;
        if (c) {
            for (const struct vxs_out *o = c->out_head; o; o = o->next)
                nout++;
            if (c->out_head) {
                head_need = c->out_head->need;
                head_serial = c->out_head->serial;
            }
        }
        vxs_log("dom%u port %d: page req_prod %u req_cons %u rsp_prod %u rsp_cons %u "
                "conn %u err %u | ours req_cons %u req_read %u rsp_prod %u held %u%s "
                "| reader %zu bytes | out %u msgs %zu bytes off %zu head need %llu serial "
                "%llu of %llu%s%s%s",
                d->domid, d->local_port, peek(&i->req_prod), peek(&i->req_cons),
                peek(&i->rsp_prod), peek(&i->rsp_cons), i->connection, i->error,
                d->ring.req_cons, d->ring.req_read, d->ring.rsp_prod, d->ring.nheld,
                d->ring.broken ? " BROKEN" : "", c ? c->rd.have : 0, nout,
                c ? c->out_bytes : 0, c ? c->out_off : 0, (unsigned long long)head_need,
                (unsigned long long)head_serial,
                (unsigned long long)(c ? c->out_serial : 0),
                c && c->stalled ? " STALLED" : "", c && c->dead ? " DEAD" : "",
                c && !vxs_quota_may_read(c) ? " QUOTA" : "");
    }
}
