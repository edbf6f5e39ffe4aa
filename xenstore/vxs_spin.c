/*
 * vxenstored's poll loop: when to look for the next request a little longer before going to
 * sleep (pure: the loop gives the clock readings, this file only decides).
 *
 * Why: a xenstore client sends one request at a time (libxenstore waits for each reply), so
 * a burst of requests - xl create, a guest's xenbus probe, a toolstack's transaction - is a
 * chain of round trips, and each round trip pays for the daemon falling asleep and being
 * woken again. On a virtual machine that is most of the cost: here an echo server over a Unix
 * socket manages ~19k round trips/s when it sleeps between requests and ~50-60k when it keeps
 * looking for ~30 us first (the reply's wake-up of the client and the client's next request
 * take ~10-25 us). C xenstored always sleeps at once.
 *
 * The policy keeps the cost bounded and away from idle periods: the loop looks again only
 * while requests have been following each other closely - the last wait (looking or asleep)
 * ended with work within the budget. A wait that lasted longer than the budget disarms it, so
 * an idle daemon never looks (it sleeps at once), and the end of a burst costs one budget of
 * CPU at most. The first request after a quiet spell re-arms it when the one after it follows
 * within the budget.
 *
 * And it looks only while the clients it serves leave a CPU free: with more clients busy at
 * once than the other CPUs, a looking daemon takes CPU time they need (10 clients writing on
 * two CPUs: ~10-30% fewer writes/s looking than sleeping), and it hardly ever has to wait for
 * a request anyway. A round that served more connections than that keeps the loop from
 * looking for the next VXS_SPIN_CROWD_ROUNDS rounds.
 */
#include "xenstore/vxs_spin.h"

void vxs_spin_init(struct vxs_spin *s, unsigned budget_us, unsigned max_clients)
{
    s->budget_ns = (uint64_t)budget_us * 1000;
    s->max_clients = max_clients ? max_clients : 1;
    s->crowded = 0;
    s->armed = false;
    s->started_ns = 0;
}

void vxs_spin_round(struct vxs_spin *s, unsigned clients)
{
    if (clients > s->max_clients)
        s->crowded = VXS_SPIN_CROWD_ROUNDS;
    else if (s->crowded)
        s->crowded--;
}

uint64_t vxs_spin_plan(const struct vxs_spin *s, int timeout_ms)
{
    if (!s->armed || s->crowded || s->budget_ns == 0 || timeout_ms == 0)
        return 0;
    uint64_t ns = s->budget_ns;
    /* Never look past the loop's own deadline (a sync to finish, a quota to lift). */
    if (timeout_ms > 0 && (uint64_t)timeout_ms * 1000000 < ns)
        ns = (uint64_t)timeout_ms * 1000000;
    return ns;
}

void vxs_spin_wait_start(struct vxs_spin *s, uint64_t now_ns)
{
    s->started_ns = now_ns;
}

void vxs_spin_wait_end(struct vxs_spin *s, uint64_t now_ns, bool work)
{
    uint64_t waited = now_ns >= s->started_ns ? now_ns - s->started_ns : 0;
    /* Armed only by work that came within the budget of the end of the last round. */
    s->armed = work && waited <= s->budget_ns;
}
