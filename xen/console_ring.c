/* Producer side of the PV console output ring; see console_ring.h for the contract. */
#include "xen/console_ring.h"

#define OUT_SIZE sizeof(((struct xencons_interface *)0)->out)

_Static_assert((OUT_SIZE & (OUT_SIZE - 1)) == 0, "console ring size is a power of two");

void console_ring_init(struct console_ring *r, struct xencons_interface *intf, bool crlf)
{
    r->intf = intf;
    r->broken = false;
    r->pending_cr = false;
    r->crlf = crlf;
}

/* Free space, from one read of the backend's index. Acquire pairs with the backend's
 * release of out_cons: its reads of the bytes it consumed are done before we overwrite. */
static size_t ring_space(struct console_ring *r, XENCONS_RING_IDX prod)
{
    XENCONS_RING_IDX cons = __atomic_load_n(&r->intf->out_cons, __ATOMIC_ACQUIRE);
    XENCONS_RING_IDX used = prod - cons; /* unsigned: correct across index wrap */
    if (used > OUT_SIZE) {
        r->broken = true;
        return 0;
    }
    return OUT_SIZE - used;
}

size_t console_ring_write(struct console_ring *r, const char *buf, size_t len)
{
    if (r->broken || r->intf == NULL)
        return 0;

    /* out_prod is ours: nobody else writes it, so reading it back is not a double fetch of
     * hostile data. */
    XENCONS_RING_IDX prod = r->intf->out_prod;
    size_t space = ring_space(r, prod);
    size_t consumed = 0;

    while (space > 0 && consumed < len) {
        char c = buf[consumed];
        if (c == '\n' && r->crlf && !r->pending_cr) {
            r->intf->out[MASK_XENCONS_IDX(prod++, r->intf->out)] = '\r';
            space--;
            r->pending_cr = true;
            continue;
        }
        r->intf->out[MASK_XENCONS_IDX(prod++, r->intf->out)] = c;
        space--;
        r->pending_cr = false;
        consumed++;
    }
    /* Release: the bytes are visible before the index that publishes them. */
    __atomic_store_n(&r->intf->out_prod, prod, __ATOMIC_RELEASE);
    return consumed;
}

size_t console_ring_write_all(struct console_ring *r, const char *buf, size_t len,
                              const struct console_ring_ops *ops)
{
    size_t done = 0;

    while (done < len && !r->broken) {
        XENCONS_RING_IDX before = r->intf->out_prod;
        done += console_ring_write(r, buf + done, len - done);
        if (r->intf->out_prod != before)
            ops->notify(ops->ctx);
        if (done < len && !r->broken && !ops->wait(ops->ctx))
            break;
    }
    return done;
}

size_t console_ring_unconsumed(struct console_ring *r)
{
    if (r->broken || r->intf == NULL)
        return 0;
    size_t space = ring_space(r, r->intf->out_prod);
    return r->broken ? 0 : OUT_SIZE - space;
}
