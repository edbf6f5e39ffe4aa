/* 2-level event-channel scanning; see evtchn_2l.h. */
#include "xen/evtchn_2l.h"

void evtchn_2l_init(struct evtchn_2l *e, volatile uint8_t *upcall_pending,
                    volatile uint64_t *pending_sel, volatile uint64_t *pending,
                    volatile uint64_t *mask)
{
    e->upcall_pending = upcall_pending;
    e->pending_sel = pending_sel;
    e->pending = pending;
    e->mask = mask;
    e->next_word = 0;
    e->next_bit = 0;
    e->deferred = 0;
}

static uint64_t bit(unsigned n)
{
    return 1ull << (n % EVTCHN_2L_BITS);
}

unsigned evtchn_2l_scan(struct evtchn_2l *e, void (*fn)(unsigned port, void *ctx), void *ctx)
{
    unsigned taken = 0;
    const unsigned start_word = e->next_word, start_bit = e->next_bit;

    /* Clear the upcall flag before taking the selector: an event Xen posts after this sets
     * both again, so it is either seen by this scan or flagged for the next one. */
    __atomic_store_n(e->upcall_pending, 0, __ATOMIC_SEQ_CST);
    uint64_t sel = __atomic_exchange_n(e->pending_sel, 0, __ATOMIC_SEQ_CST);
    /* Inside a handler of another scan: take over the words it has not finished. Their
     * pending bits are set, so Xen raises neither selector nor upcall flag for them again;
     * without this a handler waiting for one of those ports would wait for nothing. */
    sel |= e->deferred;
    e->deferred = 0;

    /* Words from next_word round to next_word again (the start word twice: its bits below
     * next_bit come last). */
    for (unsigned i = 0; i <= EVTCHN_2L_BITS && sel; i++) {
        unsigned w = (start_word + i) % EVTCHN_2L_BITS;
        if (!(sel & bit(w)))
            continue;
        uint64_t ready = e->pending[w] & ~e->mask[w];
        if (i == 0 && start_bit)
            ready &= ~(bit(start_bit) - 1);   /* this pass: bits from start_bit up */
        else
            sel &= ~bit(w);                   /* last visit of this word */
        while (ready) {
            unsigned b = (unsigned)__builtin_ctzll(ready);
            ready &= ready - 1;
            uint64_t old = __atomic_fetch_and(&e->pending[w], ~bit(b), __ATOMIC_SEQ_CST);
            if (!(old & bit(b)))
                continue; /* someone cleared it meanwhile */
            e->next_word = (b + 1 == EVTCHN_2L_BITS) ? (w + 1) % EVTCHN_2L_BITS : w;
            e->next_bit = (b + 1) % EVTCHN_2L_BITS;
            taken++;
            /* What is left of this scan, for a nested one (the current word if it has more
             * bits; sel still holds it if it is to be visited again). */
            e->deferred = sel | (ready ? bit(w) : 0);
            fn(w * EVTCHN_2L_BITS + b, ctx);
        }
    }
    /* Every deferred word has been visited, by a nested scan or by this one. */
    e->deferred = 0;
    return taken;
}

bool evtchn_2l_has_work(const struct evtchn_2l *e)
{
    return __atomic_load_n(e->upcall_pending, __ATOMIC_SEQ_CST) != 0 || e->deferred != 0;
}

void evtchn_2l_mask(struct evtchn_2l *e, unsigned port)
{
    if (port >= EVTCHN_2L_PORTS)
        return;
    __atomic_fetch_or(&e->mask[port / EVTCHN_2L_BITS], bit(port), __ATOMIC_SEQ_CST);
}

void evtchn_2l_unmask(struct evtchn_2l *e, unsigned port)
{
    if (port >= EVTCHN_2L_PORTS)
        return;
    unsigned w = port / EVTCHN_2L_BITS;
    __atomic_fetch_and(&e->mask[w], ~bit(port), __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&e->pending[w], __ATOMIC_SEQ_CST) & bit(port)) {
        __atomic_fetch_or(e->pending_sel, bit(w), __ATOMIC_SEQ_CST);
        __atomic_store_n(e->upcall_pending, 1, __ATOMIC_SEQ_CST);
    }
}

void evtchn_2l_clear(struct evtchn_2l *e, unsigned port)
{
    if (port >= EVTCHN_2L_PORTS)
        return;
    __atomic_fetch_and(&e->pending[port / EVTCHN_2L_BITS], ~bit(port), __ATOMIC_SEQ_CST);
}

bool evtchn_2l_is_pending(const struct evtchn_2l *e, unsigned port)
{
    if (port >= EVTCHN_2L_PORTS)
        return false;
    return (e->pending[port / EVTCHN_2L_BITS] & bit(port)) != 0;
}
