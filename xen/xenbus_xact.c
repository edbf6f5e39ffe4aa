/* Transactions and the retry helper. */
#include "xen/clock.h"
#include "xen/eventloop.h"
#include "xen/xenbus.h"
#include "xen/xenbus_priv.h"

#define DEFAULT_TRIES 20
/* Pause before try n (n >= 2): n-1 times this, at most BACKOFF_MAX. Conflicts come from
 * other writers of the same nodes; retrying at once makes storms (every client retrying
 * in lockstep), a short, growing pause lets one of them finish. */
#define BACKOFF_STEP_NS (200 * NSEC_PER_USEC)
#define BACKOFF_MAX_NS  (10 * NSEC_PER_MSEC)

int xenbus_transaction_start(xenbus_tx_t *t)
{
    char reply[16];
    size_t len;
    /* The request's payload is one empty string. */
    struct xb_req rq = { .type = XS_TRANSACTION_START, .strs = { "" }, .nstr = 1 };
    uint32_t gen = xb_generation();
    int rc = xb_request(&rq, reply, sizeof(reply), &len);
    if (rc == -ERANGE)
        return -EPROTO;
    if (rc != 0)
        return rc;
    uint32_t id;
    /* 0 would mean "no transaction": a daemon that hands it out is broken. */
    if (xs_decode_u32(reply, len, &id) != 0 || id == 0)
        return -EPROTO;
    if (gen != xb_generation())
        return -EAGAIN; /* reconnected meanwhile: the id belongs to nobody now */
    t->id = id;
    t->gen = gen;
    return 0;
}

int xenbus_transaction_end(xenbus_tx_t t, bool abort)
{
    char reply[4];
    size_t len;
    if (t.id == 0)
        return -EINVAL;
    struct xb_req rq = { .type = XS_TRANSACTION_END, .tx = t, .strs = { abort ? "F" : "T" },
                         .nstr = 1 };
    int rc = xb_request(&rq, reply, sizeof(reply), &len);
    if (rc == -ERANGE)
        return -EPROTO;
    return rc != 0 ? rc : xs_decode_ok(reply, len);
}

int xenbus_transaction_run(int (*fn)(xenbus_tx_t t, void *arg), void *arg,
                           unsigned max_tries, unsigned *tries)
{
    int rc = -EAGAIN;
    unsigned n;
    if (max_tries == 0)
        max_tries = DEFAULT_TRIES;
    for (n = 1; n <= max_tries; n++) {
        if (n > 1) {
            uint64_t pause = (uint64_t)(n - 1) * BACKOFF_STEP_NS;
            sleep_ns(pause < BACKOFF_MAX_NS ? pause : BACKOFF_MAX_NS);
        }
        xenbus_tx_t t;
        rc = xenbus_transaction_start(&t);
        if (rc == -EAGAIN)
            continue;
        if (rc != 0)
            break;
        rc = fn(t, arg);
        if (rc != 0) {
            (void)xenbus_transaction_end(t, true);
            if (rc == -EAGAIN)
                continue;
            break;
        }
        rc = xenbus_transaction_end(t, false);
        if (rc != -EAGAIN)
            break;
    }
    if (tries != NULL)
        *tries = n > max_tries ? max_tries : n;
    return rc;
}
