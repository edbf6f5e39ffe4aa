/*
 * Grant tables against a real Xen (tests/e2e/scenarios/gnttab.sh). Three roles, chosen by
 * the command line:
 *
 *  (none)        grants more refs to dom0 than a few frames hold, so the table grows on
 *                demand, checks Xen's own count of our frames (GNTTABOP_query_size) follows,
 *                revokes them all; checks that Xen refuses maps of bad refs and domains.
 *  role=granter  grants NPEER pages to domain self+1 (the scenario creates the mapper right
 *                after us), the last one read-only, and checks that revoking fails while the
 *                mapper maps them and works once it has unmapped; one revoke is deferred.
 *  role=mapper   maps the granter's (self-1) refs 8.. into the map window as one range and
 *                checks their contents, that a writable map of the read-only grant fails,
 *                and answers through the first page.
 *
 * Granter and mapper talk through the first granted page: a state word the granter sets to
 * GRANTED, the mapper to MAPPED (after checking everything), the granter to SAW_BUSY (after
 * its revokes failed as they must), the mapper then unmaps. Each prints
 * "gnttest: PASS (N checks)" at the end, or FAIL lines and a non-zero status.
 *
 * Why no self-map: mapping one's own grant in an HVM/PVH guest makes Xen (4.17,
 * p2m_add_page) treat the window GFN as an alias of the page and remove the page from its
 * original GFN, so the guest loses that page of RAM. A peer is needed.
 *
 * Our domid: without xenstore we learn it from Xen by allocating an unbound event channel
 * for DOMID_SELF (Xen records the resolved id) and reading its status.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/sched.h>
#include <xen/errno.h>
#include <xenkit/app.h>

#include "xen/gnttab.h"
#include "xen/hypercall.h"

#define PAGE 4096
#define NPAGES 16
#define MANY (3 * 512)   /* grants to dom0: needs 4 frames with the 8 reserved refs */

static uint8_t pages[NPAGES][PAGE] __attribute__((aligned(PAGE)));
static grant_ref_t refs[MANY];
static uint8_t seen[16384 / 8];
static unsigned checks, failures;

#define CHECK(cond) check((cond), __LINE__, #cond)
static bool check(bool ok, int line, const char *what)
{
    checks++;
    if (!ok) {
        failures++;
        printf("gnttest: FAIL line %d: %s\n", line, what);
    }
    return ok;
}

static int own_domid(domid_t *out)
{
    struct evtchn_alloc_unbound a = { .dom = DOMID_SELF, .remote_dom = DOMID_SELF };
    if (HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &a) != 0)
        return -1;
    struct evtchn_status st = { .dom = DOMID_SELF, .port = a.port };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_status, &st);
    struct evtchn_close cl = { .port = a.port };
    HYPERVISOR_event_channel_op(EVTCHNOP_close, &cl);
    if (rc != 0 || st.status != EVTCHNSTAT_unbound || st.u.unbound.dom >= DOMID_FIRST_RESERVED)
        return -1;
    *out = st.u.unbound.dom;
    return 0;
}

static void fill(int i, uint32_t tag)
{
    for (int k = 0; k < PAGE / 4; k++)
        ((volatile uint32_t *)pages[i])[k] = tag ^ (uint32_t)k;
}

static void grow_and_revoke(void)
{
    struct gnttab_stats st;
    uint32_t nr = 0, max = 0;
    CHECK(gnttab_query_size(&nr, &max) == 0);
    gnttab_get_stats(&st);
    printf("gnttest: start: Xen says %u of %u frames, we map %u (cap %u), %u free refs\n",
           nr, max, st.nr_frames, st.max_frames, st.nr_free);
    unsigned many = MANY;
    if (st.max_frames < 4) {    /* a host with a tiny gnttab_max_frames: use what there is */
        many = st.max_frames * 512 - 8;
        printf("gnttest: only %u frames allowed; granting %u refs\n", st.max_frames, many);
    }

    unsigned granted = 0;
    for (unsigned i = 0; i < many; i++) {
        int rc = gnttab_grant_access(0, pages[i % NPAGES], i % 3 == 0, &refs[i]);
        if (!CHECK(rc == 0)) {
            printf("gnttest: grant %u failed: %d\n", i, rc);
            break;
        }
        granted++;
        /* Every ref is new, none is reserved. */
        CHECK(refs[i] >= GNTTAB_NR_RESERVED_ENTRIES && refs[i] < 16384);
        if (refs[i] < 16384) {
            CHECK(!(seen[refs[i] / 8] & (1u << (refs[i] % 8))));
            seen[refs[i] / 8] |= (uint8_t)(1u << (refs[i] % 8));
        }
    }
    gnttab_get_stats(&st);
    CHECK(gnttab_query_size(&nr, &max) == 0);
    printf("gnttest: granted %u refs to dom0: we map %u frames, Xen says %u of %u\n", granted,
           st.nr_frames, nr, max);
    CHECK(st.nr_frames == (granted + 8 + 511) / 512);
    CHECK(nr >= st.nr_frames);
    CHECK(st.nr_free == st.capacity - granted);

    unsigned ended = 0;
    for (unsigned i = 0; i < granted; i++)
        ended += CHECK(gnttab_end_access(refs[i]) == 0);
    CHECK(gnttab_end_access(refs[0]) == -XEN_EINVAL);   /* already revoked */
    gnttab_get_stats(&st);
    CHECK(st.nr_free == st.capacity);
    printf("gnttest: revoked %u grants; %u of %u refs free\n", ended, st.nr_free, st.capacity);
}

/* Maps Xen must refuse before touching our p2m: a ref past the peer's table, a ref not
 * granted to us, a domain that does not exist, a special domid; and all-or-nothing. */
static void bad_maps(domid_t self)
{
    grant_ref_t dom0ref, pair[2], huge = 0x7ffffff0;
    void *addr = NULL;
    struct gnttab_stats st0, st;
    gnttab_get_stats(&st0);

    int rc = gnttab_map_foreign(self, &huge, 1, false, &addr);
    printf("gnttest: map of ref 0x%x: %d\n", huge, rc);
    CHECK(rc == GNTST_bad_gntref);
    CHECK(gnttab_grant_access(0, pages[2], false, &dom0ref) == 0);
    rc = gnttab_map_foreign(self, &dom0ref, 1, false, &addr);
    printf("gnttest: map of our ref granted to dom0: %d\n", rc);
    CHECK(rc < 0);
    rc = gnttab_map_foreign(0x7fe0, &dom0ref, 1, false, &addr);
    printf("gnttest: map from a domain that does not exist: %d\n", rc);
    CHECK(rc == GNTST_bad_domain);
    CHECK(gnttab_map_foreign(DOMID_SELF, &dom0ref, 1, false, &addr) == -XEN_EINVAL);
    CHECK(gnttab_map_foreign(self, &dom0ref, 0, false, &addr) == -XEN_EINVAL);
    pair[0] = dom0ref;
    pair[1] = huge;
    CHECK(gnttab_map_foreign(self, pair, 2, false, &addr) < 0);
    CHECK(gnttab_end_access(dom0ref) == 0);
    gnttab_get_stats(&st);
    CHECK(st.map_slots_used == st0.map_slots_used);
    CHECK(st.nr_free == st0.nr_free);
}

/* --- granter and mapper --- */

#define NPEER 6                 /* pages granted to the mapper; the last one read-only */
#define FIRST_REF GNTTAB_NR_RESERVED_ENTRIES /* a fresh table hands out 8, 9, ... */
#define WAIT_YIELDS 3000000u    /* bounds every wait (tens of seconds under TCG) */
enum { ST_GRANTED = 0x6e710001, ST_MAPPED, ST_SAW_BUSY };
#define REPLY 0x600dcafe
/* Words of page 0 used for the handshake; the rest of every page is the pattern. */
#define W_STATE 0
#define W_REPLY 1

static bool wait_word(volatile uint32_t *w, uint32_t want)
{
    for (uint32_t i = 0; i < WAIT_YIELDS; i++) {
        if (*w == want)
            return true;
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    return false;
}

static bool pattern_ok(const volatile uint32_t *p, uint32_t tag, int from)
{
    for (int k = from; k < PAGE / 4; k++)
        if (p[k] != (tag ^ (uint32_t)k))
            return false;
    return true;
}

static int granter(domid_t self)
{
    domid_t peer = (domid_t)(self + 1);
    grant_ref_t r[NPEER];
    volatile uint32_t *w = (volatile uint32_t *)pages[0];

    printf("gnttest: granter %u, mapper should be %u\n", self, peer);
    for (int i = 0; i < NPEER; i++) {
        fill(i, 0x9a9e0000u + (uint32_t)i);
        CHECK(gnttab_grant_access(peer, pages[i], i == NPEER - 1, &r[i]) == 0);
        CHECK(r[i] == FIRST_REF + (grant_ref_t)i);
    }
    w[W_REPLY] = 0;
    __asm__ volatile("" ::: "memory");
    w[W_STATE] = ST_GRANTED;
    if (!CHECK(wait_word(&w[W_STATE], ST_MAPPED)))
        return 1;
    CHECK(w[W_REPLY] == REPLY);
    /* Every page is mapped by the peer now: revoking must fail and change nothing. */
    for (int i = 0; i < NPEER - 1; i++)
        CHECK(gnttab_end_access(r[i]) == -XEN_EBUSY);
    CHECK(gnttab_end_access_deferred(r[1]) == 1);
    CHECK(gnttab_retry_deferred(NULL, NULL) == 1);
    printf("gnttest: revoking while the mapper maps: busy, as it must be\n");
    w[W_STATE] = ST_SAW_BUSY;

    /* The mapper unmaps its pages (one by one) and exits; every revoke then succeeds. Wait
     * for each page separately: the first one coming free says nothing about the others. */
    for (int k = 0; k < NPEER; k++) {
        if (k == 1)
            continue; /* revoked through the deferred list above */
        uint32_t i;
        for (i = 0; i < WAIT_YIELDS && gnttab_end_access(r[k]) != 0; i++)
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
        CHECK(i < WAIT_YIELDS);
    }
    uint32_t i;
    for (i = 0; i < WAIT_YIELDS && gnttab_retry_deferred(NULL, NULL) != 0; i++)
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    CHECK(i < WAIT_YIELDS);
    printf("gnttest: all grants revoked after the mapper unmapped\n");
    return 0;
}

static int mapper(domid_t self)
{
    domid_t peer = (domid_t)(self - 1);
    grant_ref_t r[NPEER];
    void *addr = NULL, *ro = NULL;
    int rc = -1;

    printf("gnttest: mapper %u, granter should be %u\n", self, peer);
    for (int i = 0; i < NPEER; i++)
        r[i] = FIRST_REF + (grant_ref_t)i;
    /* The granter may not have granted yet: retry until the map works, but not at every
     * yield (each refusal is a line in Xen's log). */
    for (uint32_t i = 0; i < WAIT_YIELDS && rc != 0; i++) {
        if (i % 1000 == 0)
            rc = gnttab_map_foreign(peer, r, NPEER - 1, false, &addr);
        if (rc != 0)
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    if (!CHECK(rc == 0)) {
        printf("gnttest: could not map the granter's refs: %d\n", rc);
        return 1;
    }
    volatile uint32_t *w = addr;
    CHECK(wait_word(&w[W_STATE], ST_GRANTED));
    for (int i = 0; i < NPEER - 1; i++)
        CHECK(pattern_ok((volatile uint32_t *)((uint8_t *)addr + i * PAGE),
                         0x9a9e0000u + (uint32_t)i, i == 0 ? 2 : 0));
    /* The read-only grant: a writable map must fail, a read-only one works. */
    rc = gnttab_map_foreign(peer, &r[NPEER - 1], 1, false, &ro);
    printf("gnttest: writable map of a read-only grant: %d\n", rc);
    CHECK(rc < 0);
    if (CHECK(gnttab_map_foreign(peer, &r[NPEER - 1], 1, true, &ro) == 0))
        CHECK(pattern_ok(ro, 0x9a9e0000u + NPEER - 1, 0));
    struct gnttab_stats st;
    gnttab_get_stats(&st);
    CHECK(st.map_slots_used == NPEER);
    printf("gnttest: mapped %u of the granter's pages at %p (the last read-only), as granted\n",
           NPEER, addr);

    w[W_REPLY] = REPLY;
    __asm__ volatile("" ::: "memory");
    w[W_STATE] = ST_MAPPED;
    CHECK(wait_word(&w[W_STATE], ST_SAW_BUSY));
    CHECK(gnttab_unmap_foreign(addr, NPEER - 2) == -XEN_EINVAL); /* wrong count */
    CHECK(gnttab_unmap_foreign(addr, NPEER - 1) == 0);
    if (ro != NULL)
        CHECK(gnttab_unmap_foreign(ro, 1) == 0);
    gnttab_get_stats(&st);
    CHECK(st.map_slots_used == 0);
    printf("gnttest: unmapped\n");
    return 0;
}

static int finish_checks(void)
{
    struct gnttab_stats st;
    gnttab_get_stats(&st);
    CHECK(st.nr_free == st.capacity && st.deferred == 0 && st.map_slots_used == 0);
    if (failures != 0) {
        printf("gnttest: FAILED %u of %u checks\n", failures, checks);
        return 1;
    }
    printf("gnttest: PASS (%u checks)\n", checks);
    return 0;
}

int app_main(const char *cmdline)
{
    domid_t self = 0;

    if (!CHECK(gnttab_ready()) || !CHECK(own_domid(&self) == 0))
        return finish_checks();
    printf("gnttest: our domid is %u\n", self);
    if (strstr(cmdline, "role=granter") != NULL)
        granter(self);
    else if (strstr(cmdline, "role=mapper") != NULL)
        mapper(self);
    else {
        grow_and_revoke();
        bad_maps(self);
    }
    return finish_checks();
}
