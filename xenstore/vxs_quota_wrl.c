/*
 * vxenstored: the write rate limit of C xenstored (XSA-206). While some transaction is open
 * anywhere, a guest that writes a lot would make every open transaction fail again and
 * again; so unprivileged domains' writes then draw on a token bucket: 200 writes a second
 * shared among the domains, a domain holding at most a burst of 10, the unused rest going to
 * a reserve of at most 1000 that domains in debt draw on, and a new domain taking up to 5
 * bursts from it. A domain in debt is not read (its requests wait in its ring, no error)
 * until time has paid the debt. Credits are in thousandths of a write.
 *
 * C credits every domain with a ring (dom0's too, which is never debited) at each turn of its
 * loop, and what a domain earns over its burst goes to the reserve: after a few seconds the
 * reserve is full, so a domain in debt draws on it and is stopped only after about 1000
 * writes more than the rate, i.e. under a sustained flood, not a burst. We credit them all
 * (ring connections) whenever a domain is debited or waits, which moves the same credit:
 * gains are in proportion to the time since each domain's last credit, and capped the same.
 */
#include <limits.h>
#include <stdio.h>

#include "xenstore/vxs.h"
#include "xenstore/vxs_quota.h"

#define WRL_FACTOR 1000
#define WRL_RATE (200 * WRL_FACTOR)    /* per second, shared */
#define WRL_DBURST (10 * WRL_FACTOR)   /* a domain's credit cap */
#define WRL_GBURST (1000 * WRL_FACTOR) /* the reserve's cap */
#define WRL_NEWDOMS (WRL_DBURST * 5)   /* how far new domains may take the reserve below 0 */
#define WRL_COST WRL_FACTOR            /* one write */
#define WRL_CREDIT_MAX (1000 * 1000 * 1000)

static long ndomains;
static long ntransactions;
static int32_t reserve;
static uint64_t (*clock_ms)(void) = vxs_now_ms;

void vxs_wrl_set_clock(uint64_t (*now_ms)(void))
{
    clock_ms = now_ms ? now_ms : vxs_now_ms;
}

int32_t vxs_wrl_reserve(void)
{
    return reserve;
}

/* Move as much as possible from *from to *to, keeping *from >= floor and *to <= ceil. */
static void xfer(int32_t *from, int32_t floor, int32_t *to, int32_t ceil)
{
    int64_t a = (int64_t)*from - floor, b = (int64_t)ceil - *to;
    int64_t n = a < b ? a : b;
    if (n > 0) {
        *from -= (int32_t)n;
        *to += (int32_t)n;
    }
}

void vxs_wrl_reset(void)
{
    ndomains = 0;
    ntransactions = 0;
    reserve = 0;
}

void vxs_wrl_domain_new(struct vxs_qdom *d)
{
    d->wrl_credit = 0;
    d->wrl_ms = clock_ms();
}

/* As C's wrl_domain_new, at INTRODUCE (dom0: at start): the domain shares the rate from now,
 * and takes its burst from the reserve. Only such domains count, not every domain a quota
 * request or a node's owner named. */
void vxs_wrl_domain_introduced(struct vxs_qdom *d)
{
    if (d->wrl_counted)
        return;
    d->wrl_counted = true;
    d->wrl_credit = 0;
    d->wrl_ms = clock_ms();
    ndomains++;
    xfer(&reserve, -WRL_NEWDOMS, &d->wrl_credit, WRL_DBURST);
}

void vxs_wrl_domain_gone(struct vxs_qdom *d)
{
    if (!d->wrl_counted)
        return;
    d->wrl_counted = false;
    ndomains--;
    xfer(&d->wrl_credit, 0, &reserve, WRL_DBURST);
}

static void update(struct vxs_qdom *d, uint64_t now)
{
    uint64_t ms = now > d->wrl_ms ? now - d->wrl_ms : 0;
    if (ms > 1000ull * 1000 * 1000)
        ms = 1000ull * 1000 * 1000;
    int64_t gain = (int64_t)(ms * (uint64_t)WRL_RATE / (uint64_t)((ndomains > 0 ? ndomains : 1) * 1000));
    int64_t c = (int64_t)d->wrl_credit + gain;
    d->wrl_credit = (int32_t)(c > WRL_CREDIT_MAX ? WRL_CREDIT_MAX : c);
    xfer(&reserve, 0, &d->wrl_credit, 0); /* out of debt from the reserve if it can */
    int32_t surplus = 0;
    xfer(&d->wrl_credit, WRL_DBURST, &surplus, WRL_CREDIT_MAX);
    xfer(&surplus, 0, &reserve, WRL_GBURST);
    /* Only whole milliseconds were paid: keep the rest of the time for later. */
    d->wrl_ms = now;
}

/* Credit every domain with a ring, as C does at each turn of its loop (and d, if it has
 * none). */
static void update_all(struct vxs_qdom *d, uint64_t now)
{
    bool seen = false;
    for (const struct vxs_conn *c = vxs.conns; c; c = c->next) {
        if (!c->dom || c->dead)
            continue;
        struct vxs_qdom *q = vxs_qdom(c->domid, true);
        if (q) {
            update(q, now);
            seen |= q == d;
        }
    }
    if (!seen)
        update(d, now);
}

bool vxs_wrl_may_read(struct vxs_qdom *d)
{
    if (d->wrl_credit >= 0)
        return true;
    update_all(d, clock_ms());
    return d->wrl_credit >= 0;
}

void vxs_wrl_transactions(int delta)
{
    ntransactions += delta;
    if (ntransactions < 0)
        ntransactions = 0;
}

void vxs_wrl_debit(const struct vxs_conn *c, bool in_tx, unsigned writes)
{
    if (!c || c->priv || !c->dom)
        return;
    /* A single write only matters while transactions are open; a transaction's commit only
     * when others are open (its own is still counted). */
    if (ntransactions <= (in_tx ? 1 : 0))
        return;
    struct vxs_qdom *d = vxs_qdom(c->domid, true);
    if (!d)
        return;
    update_all(d, clock_ms());
    /* C debits each node write as it makes it; the debt is bounded as its is (a request
     * writes at most a path's nodes, or a removed subtree's). */
    int64_t debt = (int64_t)(in_tx ? 1 : writes) * WRL_COST;
    int64_t cr = (int64_t)d->wrl_credit - debt;
    d->wrl_credit = (int32_t)(cr < -WRL_CREDIT_MAX ? -WRL_CREDIT_MAX : cr);
    if (d->wrl_credit < 0 && !d->wrl_logged) {
        d->wrl_logged = true;
        vxs_log("write rate limit: domain %u is affected", c->domid);
    }
}

/* ms until a ring left unread for a limit may be read again: 0 if one may be now (a reply
 * left, a debt is paid), the time its write-rate debt takes to pay, -1 if none waits for
 * time (the others wait for their guest to take replies, which it notifies). */
static int blocked_timeout(void)
{
    int best = -1;
    for (struct vxs_conn *c = vxs.conns; c; c = c->next) {
        if (c->priv || !c->dom || c->dead)
            continue;
        struct vxs_qdom *d = vxs_qdom(c->domid, false);
        if (!d || !d->blocked)
            continue;
        if (vxs_quota_may_read(c))
            return 0;
        if (d->wrl_credit >= 0)
            continue;
        uint64_t ms = (uint64_t)(-(int64_t)d->wrl_credit) * 1000 *
                      (uint64_t)(ndomains > 0 ? ndomains : 1) / WRL_RATE;
        int w = ms > INT_MAX - 1 ? INT_MAX : (int)ms + 1;
        if (best < 0 || w < best)
            best = w;
    }
    return best;
}

int vxs_quota_poll_timeout(int timeout)
{
    int w = blocked_timeout();
    int e = vxs_conn_event_timeout();
    if (e >= 0 && (w < 0 || e < w))
        w = e;
    if (w >= 0 && (timeout < 0 || w < timeout))
        timeout = w;
    return timeout;
}

void vxs_quota_tick(void)
{
    vxs_conn_expire_events();
    /* Rings whose domain may be read again: requests may be waiting in them. */
    for (struct vxs_conn *c = vxs.conns; c; c = c->next) {
        if (!c->dom || c->priv || c->dead)
            continue;
        struct vxs_qdom *d = vxs_qdom(c->domid, false);
        if (d && d->blocked && vxs_quota_may_read(c))
            vxs_conn_input(c);
    }
}
