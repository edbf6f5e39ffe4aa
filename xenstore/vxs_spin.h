/* vxenstored: whether the poll loop looks for the next request a while before it sleeps
 * (vxs_spin.c has the why). Pure: the caller reads the clock and does the polling. */
#ifndef XENKIT_XENSTORE_VXS_SPIN_H
#define XENKIT_XENSTORE_VXS_SPIN_H

#include <stdbool.h>
#include <stdint.h>

/* --poll-spin's default, in us: the ~10-25 us a client here takes to get a reply and send its
 * next request, with room to spare (vxs_spin.c). */
#define VXS_POLL_SPIN_DEFAULT_US 50

struct vxs_spin {
    uint64_t budget_ns; /* 0: never look, sleep at once (C xenstored's way) */
    uint64_t started_ns;
    unsigned max_clients; /* more clients served in a round than this: the CPUs are theirs */
    unsigned crowded;     /* rounds to go before looking again after a crowded one */
    bool armed;           /* the last wait ended with work within the budget */
};

/* How many rounds a crowded round keeps the loop from looking. */
#define VXS_SPIN_CROWD_ROUNDS 8

/* max_clients: how many connections may be served in one round for the loop still to look
 * (the CPUs left beside ours: the host's CPUs minus one, at least one). */
void vxs_spin_init(struct vxs_spin *s, unsigned budget_us, unsigned max_clients);
/* A round served `clients` connections (sockets or rings with requests). */
void vxs_spin_round(struct vxs_spin *s, unsigned clients);
/* How long to keep looking (polling without sleeping) before sleeping, in ns: 0 = sleep at
 * once. timeout_ms is the loop's poll timeout (-1: none, 0: do not wait at all). */
uint64_t vxs_spin_plan(const struct vxs_spin *s, int timeout_ms);
/* A wait (looking, then maybe sleeping) begins at the end of a round ... */
void vxs_spin_wait_start(struct vxs_spin *s, uint64_t now_ns);
/* ... and ends, with work to do (a connection readable, an event) or not (a timeout). */
void vxs_spin_wait_end(struct vxs_spin *s, uint64_t now_ns, bool work);

#endif
