/*
 * vxenstored: a ring request committed before a kill is not applied again after the restart.
 *
 * A ring request is consumed (req_cons moved past it) only once its reply is in rsp[]
 * (vxs_ring.h), so a daemon killed between the request's commit and that moment finds it in
 * req[] again. Handled again, it would be applied a second time, after whatever other clients
 * committed (and had acknowledged) in between: a WRITE would silently undo their writes to
 * the same node. So each commit a ring's request makes names the request's ring index in its
 * author ("dom<domid>/conn<id>@<index>", vxs_txn.c), in the same commit as its effect, and at
 * restart the xenstore branch's recent commits are read back for the restored rings' replay
 * windows (what req[] held at attach):
 *   - a request whose commit is found (same index, same type) is answered OK without being
 *     handled again: its effect is in the store, and OK is the only reply a commit has;
 *   - a request before such a one was handled before too (requests are handled in order),
 *     without a commit: a read, a failure, or a no-op such as MKDIR of an existing node. It
 *     is handled again, but "dry" (vxs_dispatch.c aborts its transaction): the reply is what
 *     it says now, nothing is applied. (A request that failed then and would succeed now is
 *     answered OK without effect: the one reply we cannot know.)
 *   - the others (after the last commit found) are handled again as before: reads, and
 *     requests the old daemon never reached. A no-op success among them (MKDIR of an existing
 *     node) that another client's acknowledged change (RM) followed is applied again.
 * The reply then leaves once, unless the kill came between the reply's bytes reaching rsp[]
 * and req_cons moving (a few instructions in one flush, vxs_conn.c): then the guest gets a
 * second reply with the same req_id, which Linux's xenbus drops (no request waits for it).
 *
 * A commit is this ring's if its author names the domid and it was made after the domain's
 * introduction (its incarnation, the wall clock at INTRODUCE); the walk of each ring ends at
 * its first commit outside the window (older ones are older requests) and the whole walk
 * after DONE_LOOKBACK commits.
 */
#include <stdlib.h>
#include <string.h>

#include "xenstore/vxs.h"
#include "xenstore/vxs_ring_done.h"

/* How far back the restart looks: the commits were made shortly before the kill. */
#define DONE_LOOKBACK 10000

struct pending {
    struct vxs_conn *c;
    bool finished;
};

struct scan {
    struct pending *v;
    size_t n, open;
    unsigned seen;
};

static bool parse_u32(const char **s, uint32_t *v)
{
    const char *p = *s;
    uint64_t x = 0;
    if (*p < '0' || *p > '9')
        return false;
    while (*p >= '0' && *p <= '9') {
        x = x * 10 + (uint64_t)(*p++ - '0');
        if (x > UINT32_MAX)
            return false;
    }
    *s = p;
    *v = (uint32_t)x;
    return true;
}

/* "dom<domid>/conn<id>@<index>": a ring request's commit (a socket's has no "@"). */
static bool parse_author(const char *a, uint32_t *domid, uint32_t *index)
{
    uint32_t id;
    if (!a || strncmp(a, "dom", 3) != 0)
        return false;
    a += 3;
    if (!parse_u32(&a, domid) || strncmp(a, "/conn", 5) != 0)
        return false;
    a += 5;
    if (!parse_u32(&a, &id) || *a != '@')
        return false;
    a++;
    return parse_u32(&a, index) && *a == 0;
}

/* The request type a commit message starts with ("WRITE /x", "TRANSACTION_END 3 ..."). */
static uint32_t type_of(const char *msg)
{
    size_t n = msg ? strcspn(msg, " ") : 0;
    for (uint32_t t = 0; n && t < 64; t++) {
        if (!xs_type_known(t))
            continue;
        const char *name = xs_type_name(t);
        if (strlen(name) == n && memcmp(name, msg, n) == 0)
            return t;
    }
    return UINT32_MAX;
}

static void finish(struct scan *s, struct pending *e)
{
    if (!e->finished) {
        e->finished = true;
        s->open--;
    }
}

static int scan_one(void *p, const struct store_hash *h, const struct vs_commit *cm)
{
    (void)h;
    struct scan *s = p;
    if (++s->seen > DONE_LOOKBACK)
        return 2;
    uint32_t domid = 0, index = 0;
    bool ring = parse_author(cm->author, &domid, &index);
    for (size_t i = 0; i < s->n; i++) {
        struct pending *e = &s->v[i];
        if (e->finished)
            continue;
        const struct vxs_domain *d = e->c->dom;
        if (d->incarnation && cm->time_ns < d->incarnation)
            finish(s, e); /* older than its introduction: another domain's */
        else if (ring && domid == e->c->domid &&
                 !vxs_ring_done_note(&e->c->dom->ring, index, type_of(cm->message)))
            finish(s, e); /* an older request of this ring: so are those before */
    }
    return s->open ? 0 : 1;
}

void vxs_ring_done_scan(void)
{
    struct scan s = {0};
    for (struct vxs_conn *c = vxs.conns; c; c = c->next)
        s.n += c->dom && c->restored && !c->dom->ring.broken && c->dom->ring.replay_len;
    if (!s.n || !(s.v = calloc(s.n, sizeof *s.v)))
        return;
    for (struct vxs_conn *c = vxs.conns; c; c = c->next)
        if (c->dom && c->restored && !c->dom->ring.broken && c->dom->ring.replay_len)
            s.v[s.open++].c = c;
    struct store_hash head;
    if (vs_branch_head(vxs.st, VXS_BRANCH, &head) == 0)
        vs_log(vxs.st, &head, NULL, scan_one, &s);
    for (size_t i = 0; i < s.n; i++)
        if (s.v[i].c->dom->ring.ndone)
            vxs_log("domain %u: %u request(s) committed before the restart, not applied again",
                    s.v[i].c->domid, s.v[i].c->dom->ring.ndone);
    free(s.v);
}

bool vxs_ring_done_answer(struct vxs_conn *c, const struct xsd_sockmsg *hdr)
{
    if (!c->dom)
        return false;
    struct vxs_ring *r = &c->dom->ring;
    r->dry = false;
    if (!c->replay || !r->ndone)
        return false;
    enum vxs_ring_replay kind = vxs_ring_replay_kind(r, c->req_pos, hdr->type);
    if (kind == VXS_REPLAY_NO_EFFECT) {
        r->dry = true;
        return false;
    }
    if (kind != VXS_REPLAY_DONE)
        return false;
    uint8_t out[sizeof(struct xsd_sockmsg) + 8];
    struct xs_builder b;
    xs_build_begin(&b, out, sizeof out, hdr->type, hdr->req_id, hdr->tx_id);
    xs_build_str(&b, "OK");
    int n = xs_build_end(&b);
    if (n < 0)
        return false;
    vxs_trace(c, "IN ", hdr, c->body);
    vxs_send(c, out, (size_t)n, vxs.next_seq);
    return true;
}
