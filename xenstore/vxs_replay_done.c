/*
 * vxenstored: a request committed before a kill is not applied again after the restart.
 *
 * A ring request is consumed (req_cons moved past it) only once its reply is in rsp[]
 * (vxs_ring.h), and a kept socket's request is discarded from the socket only once its reply
 * has left (vxs_sock.c, whose journal records the reply just before its send). So a daemon
 * killed between a request's commit and that moment finds the request again. Handled again,
 * it would be applied a second time, after whatever other clients committed (and had
 * acknowledged) in between: a WRITE would silently undo their writes to the same node. So
 * each commit a ring's or a kept socket's request makes names the request in its author, in
 * the same commit as its effect (vxs_txn.c): "dom<d>/conn<id>@<ring index>" for a ring,
 * "dom0/conn<id>@<socket name>:<stream offset>" for a socket (its name in the fd store is
 * the same across restarts; offsets as 32 bits, a window is far shorter). At restart the
 * xenstore branch's recent commits are read back for each restored connection's replay window
 * (what req[] or the socket held then: struct vxs_replay_window):
 *   - a request whose commit is found (same position, same type) is answered OK without being
 *     handled again: its effect is in the store, and OK is the only reply a commit has;
 *   - a request before such a one was handled before too (requests are handled in order),
 *     without a commit: a read, a failure, or a no-op such as MKDIR of an existing node. It
 *     is handled again "dry" (vxs_dispatch.c aborts its transaction): the reply is what it
 *     says now, nothing is applied. (One that failed then and would succeed now is answered
 *     OK without effect: the one reply we cannot know.)
 *   - the others (after the last commit found) are handled again as before: reads, and
 *     requests the old daemon never reached. A no-op success among them (MKDIR of an existing
 *     node) that another client's acknowledged change (RM) followed is applied again.
 * A ring's reply then leaves once, unless the kill came between the reply's bytes reaching
 * rsp[] and req_cons moving (a few instructions in one flush, vxs_conn.c): the guest then
 * gets it twice, and Linux's xenbus drops the second (no request waits for its id). Not a
 * reply that went in parts, nor one whose request stays in req[] after it (outputs of it
 * behind the reply): their record (vxs_ring_partial.c) says they are answered.
 *
 * A ring's walk ends at its first commit before the window (older ones are older requests)
 * or older than the ring's incarnation (the wall clock at its INTRODUCE or its last
 * reconnection, vxs_domain_ring_reconnected: a commit of an earlier domain with the same id,
 * or of the ring's earlier life, whose positions the new one reuses from 0); a socket's name
 * is never re-used (it holds the accepting daemon's start time). The whole walk stops after
 * LOOKBACK commits (a request whose commit is older is handled again, as before).
 */
#include <stdlib.h>
#include <string.h>

#include "xenstore/vxs.h"
#include "xenstore/vxs_replay_done.h"
#include "xenstore/vxs_ring_partial.h"

/* How far back the restart looks: the commits were made shortly before the kill. */
#define LOOKBACK 10000
/* A socket's window is what its receive queue held: never near this. */
#define SOCK_WINDOW_MAX (1u << 30)

struct pending {
    struct vxs_conn *c;
    struct vxs_replay_window *w; /* a ring's own, or a socket's in socks[] */
    bool finished;
};

/* The restored sockets' windows, by connection id (ids are unique within a run). */
struct sock_window {
    unsigned id;
    struct vxs_replay_window w;
};
static struct sock_window *socks;
static size_t nsocks;

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

/* A request's commit: "dom<domid>/conn<id>@<pos>" (a ring: *name NULL) or
 * "dom<domid>/conn<id>@<name>:<pos>" (a kept socket: name and its length). */
static bool parse_author(const char *a, uint32_t *domid, const char **name, size_t *nlen,
                         uint32_t *pos)
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
    *name = NULL;
    *nlen = 0;
    if (*a < '0' || *a > '9') {
        const char *colon = strrchr(a, ':');
        if (!colon || colon == a)
            return false;
        *name = a;
        *nlen = (size_t)(colon - a);
        a = colon + 1;
    }
    return parse_u32(&a, pos) && *a == 0;
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

static bool is_conn(const struct pending *e, uint32_t domid, const char *name, size_t nlen)
{
    const struct vxs_conn *c = e->c;
    if (c->dom)
        return !name && domid == c->domid;
    return name && strlen(c->name) == nlen && memcmp(c->name, name, nlen) == 0;
}

static int scan_one(void *p, const struct store_hash *h, const struct vs_commit *cm)
{
    (void)h;
    struct scan *s = p;
    if (++s->seen > LOOKBACK)
        return 2;
    uint32_t domid = 0, pos = 0;
    const char *name = NULL;
    size_t nlen = 0;
    bool req = parse_author(cm->author, &domid, &name, &nlen, &pos);
    for (size_t i = 0; i < s->n; i++) {
        struct pending *e = &s->v[i];
        if (e->finished)
            continue;
        const struct vxs_domain *d = e->c->dom;
        if (d && d->incarnation && cm->time_ns < d->incarnation)
            finish(s, e); /* older than its introduction: another domain's */
        else if (req && is_conn(e, domid, name, nlen) &&
                 !vxs_replay_note_done(e->w, pos, type_of(cm->message)))
            finish(s, e); /* an older request of this connection: so are those before */
    }
    return s->open ? 0 : 1;
}

/* The window to look up for c, or NULL. */
static struct vxs_replay_window *window_of(struct vxs_conn *c, size_t *sock_i)
{
    if (!c->restored)
        return NULL;
    if (c->dom)
        return !c->dom->ring.broken && c->dom->ring.replay.len ? &c->dom->ring.replay : NULL;
    uint64_t from, end;
    if (!vxs_sock_replay_window(c, &from, &end) || end - from > SOCK_WINDOW_MAX)
        return NULL;
    struct sock_window *sw = &socks[(*sock_i)++];
    memset(sw, 0, sizeof *sw);
    sw->id = c->id;
    sw->w.from = (uint32_t)from;
    sw->w.len = (uint32_t)(end - from);
    return &sw->w;
}

void vxs_replay_done_scan(void)
{
    size_t nconns = 0;
    for (struct vxs_conn *c = vxs.conns; c; c = c->next)
        nconns++;
    free(socks);
    nsocks = 0;
    socks = calloc(nconns + 1, sizeof *socks);
    struct scan s = {.v = calloc(nconns + 1, sizeof *s.v)};
    if (!socks || !s.v) {
        free(s.v);
        return;
    }
    for (struct vxs_conn *c = vxs.conns; c; c = c->next) {
        struct vxs_replay_window *w = window_of(c, &nsocks);
        if (w) {
            s.v[s.n].c = c;
            s.v[s.n++].w = w;
        }
    }
    s.open = s.n;
    struct store_hash head;
    int rc = -1;
    if (s.n && vs_branch_head(vxs.st, VXS_BRANCH, &head) == 0)
        rc = vs_log(vxs.st, &head, NULL, scan_one, &s);
    for (size_t i = 0; i < s.n; i++) {
        /* Complete: its walk ended (a commit before its window or its domain), or the
         * history did (0), not the lookback (2) or an error. */
        s.v[i].w->complete = (s.v[i].finished || rc == 0) && !s.v[i].w->lost;
        const struct vxs_conn *c = s.v[i].c;
        if (s.v[i].w->ndone && c->dom)
            vxs_log("restart: domain %u: %u request(s) committed before the kill, not applied "
                    "again", c->domid, s.v[i].w->ndone);
        else if (s.v[i].w->ndone)
            vxs_log("restart: %s: %u request(s) committed before the kill, not applied again",
                    c->name, s.v[i].w->ndone);
    }
    free(s.v);
}

/* The request c is handling, when the old daemon handled it without a commit. */
static const struct vxs_conn *dry_conn;

static const struct vxs_replay_window *window_now(const struct vxs_conn *c)
{
    if (c->dom)
        return &c->dom->ring.replay;
    for (size_t i = 0; i < nsocks; i++)
        if (socks[i].id == c->id)
            return &socks[i].w;
    return NULL;
}

bool vxs_replay_done_answer(struct vxs_conn *c, const struct xsd_sockmsg *hdr)
{
    dry_conn = NULL;
    if (!c->replay)
        return false;
    if (vxs_ring_partial_answers(c, hdr))
        return true; /* its reply went in parts: in rsp[], or its rest resumed */
    const struct vxs_replay_window *w = window_now(c);
    if (!w || !w->ndone)
        return false;
    enum vxs_replay kind = vxs_replay_kind(w, c->req_pos, hdr->type);
    if (kind == VXS_REPLAY_NO_EFFECT) {
        dry_conn = c;
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

bool vxs_replay_done_known(const struct vxs_conn *c)
{
    const struct vxs_replay_window *w = window_now(c);
    return c->replay && w && w->complete && vxs_replay_in_window(w, c->req_pos);
}

bool vxs_replay_dry(const struct vxs_conn *c)
{
    return c->replay && c == dry_conn;
}
