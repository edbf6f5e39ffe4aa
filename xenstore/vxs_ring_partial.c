/*
 * vxenstored: a ring's message cut by a kill is finished, not sent again, by the restarted
 * daemon.
 *
 * rsp[] holds XENSTORE_RING_SIZE (1024) bytes, so a reply or watch event that does not fit in
 * the room left (any message over 1 KB: a DIRECTORY of a big directory, a READ of a 4 KB
 * value; a small one when the guest is behind) goes in parts, as the guest makes room
 * (flush_ring, vxs_conn.c). A daemon killed between two parts used to leave the guest the
 * first part of a message, then after the restart the whole message again (its request was
 * still in req[], consumed only once the whole reply is in rsp[]; an event was replayed from
 * the marks, maybe with other bytes): a corrupt xenbus stream, Linux misparses everything
 * after it.
 *
 * So before the first byte of a message that does not fit whole is published, the message
 * and the rsp[] index where it starts are recorded in the connection table,
 * /dom/<domid>/rsp = "<start> <answered request: ring index, req_id, type, end | ->", its
 * header in rsp/hdr and its payload in rsp/body, and the first part waits until that commit
 * is durable (the loop's next round: its write, and with --sync batch its sync). A message
 * that fits goes as before: no store write, no syscall. Except a reply that fits but whose
 * request would stay in req[] after it, because outputs of that request queued behind it
 * (a WATCH's first event) cannot all go at once: recorded too, whole.
 *
 * At restart (vxs_ring_partial_restore_all, before anything else is queued on the ring), with
 * rsp_prod as the page says (our index, adopted once at attach; done = rsp_prod - start):
 *   - done < len: the rest of the message, from byte `done` on, is queued first, exactly
 *     those bytes (a second kill finds the same record and does the same);
 *   - done >= len: all of it is in rsp[] (a stale record: it is removed lazily);
 *   - rsp_prod before start: no daemon wrote that; the ring is broken (RINGIDX), as for any
 *     impossible index.
 * A recorded reply's request may still be in req[] (it is consumed only after its reply, and
 * what else it caused on this ring, are whole in rsp[]): replayed, it is not handled again
 * and gets no second reply (vxs_ring_partial_answers: same ring index, same req_id and type).
 * The record of a message names the last reply that went before it (or itself) while that
 * reply's request is not all consumed: its end tells, not its start (a request larger than
 * req[] is consumed in parts as it arrives, so req_cons passes its start long before its
 * end). So a reply is whole in rsp[] with its request still in req[] only between the write
 * and the consume that follows it in the same flush (a few instructions: vxs_replay_done.c,
 * the guest gets the reply twice if the kill lands there). An event's rest is sent; the
 * events replay (vxs_events_replay.c) may send it again whole, after it: a duplicate event
 * at worst.
 *
 * The record is removed once its message is whole in rsp[] and a reply's request consumed,
 * lazily, with the marks (vxs_persist_marks.c). A record whose message never started
 * (an expired watch event, dropped while its record became durable) would describe whatever
 * is written at its start next: it is replaced or removed, durably, first.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/vxs.h"
#include "xenstore/vxs_persist_marks.h"
#include "xenstore/vxs_ring_partial.h"

static const char perms[] = "n0";

/* ---- the record in the connection table --------------------------------------------------- */

struct rsp_arg {
    uint32_t domid, start;
    const struct vxs_ring_partial *p; /* its answered request (p->ans) */
    const void *msg;
    size_t len; /* 0: remove the record */
};

static int put_rsp(struct vs_txn *x, struct vxs_events *ev, void *arg)
{
    struct rsp_arg *a = arg;
    char path[64];
    snprintf(path, sizeof path, "/dom/%" PRIu32, a->domid);
    struct vs_stat st;
    if (vs_txn_stat(x, path, &st) < 0)
        return 1; /* not in the table (released): nothing to keep */
    snprintf(path, sizeof path, "/dom/%" PRIu32 "/rsp", a->domid);
    if (a->len == 0)
        return vxs_persist_rm(x, ev, path);
    if (a->len > XS_MSG_MAX || a->len < sizeof(struct xsd_sockmsg))
        return -E2BIG;
    char val[80];
    const struct vxs_ring_partial *p = a->p;
    int n = p->ans ? snprintf(val, sizeof val,
                              "%" PRIu32 " %" PRIu32 " %" PRIu32 " %" PRIu32 " %" PRIu32,
                              a->start, p->ans_pos, p->ans_req_id, p->ans_type, p->ans_end)
                   : snprintf(val, sizeof val, "%" PRIu32 " -", a->start);
    int rc = vs_txn_set(x, path, val, (size_t)n, perms, sizeof perms,
                        VS_SET_VALUE | VS_SET_PERMS | VS_CREATE);
    /* The header (its req_id differs each time) and the payload in nodes of their own: the
     * same payload recorded again (a guest polling a large value while behind, the same
     * event) is the same stored object, not another copy in the pack. */
    const size_t hl = sizeof(struct xsd_sockmsg);
    snprintf(path, sizeof path, "/dom/%" PRIu32 "/rsp/hdr", a->domid);
    if (rc == 0)
        rc = vs_txn_set(x, path, a->msg, hl, perms, sizeof perms,
                        VS_SET_VALUE | VS_SET_PERMS | VS_CREATE);
    snprintf(path, sizeof path, "/dom/%" PRIu32 "/rsp/body", a->domid);
    if (rc == 0)
        rc = vs_txn_set(x, path, (const uint8_t *)a->msg + hl, a->len - hl, perms, sizeof perms,
                        VS_SET_VALUE | VS_SET_PERMS | VS_CREATE);
    /* The rings' marks that moved go with it (vxs_persist_marks.c): a ring that takes large
     * messages has them saved as often as it makes these. */
    return rc < 0 ? rc : vxs_persist_marks_with(x);
}

static uint64_t save(const struct rsp_arg *a)
{
    char what[64];
    if (a->len)
        snprintf(what, sizeof what, "RSP dom%" PRIu32 " @%" PRIu32 "+%zu", a->domid, a->start,
                 a->len);
    else
        snprintf(what, sizeof what, "RSP dom%" PRIu32 " done", a->domid);
    uint64_t seq = vxs_txn_daemon_commit(VXS_CONN_BRANCH, what, put_rsp, (void *)a);
    vxs_persist_marks_with_done();
    return seq;
}

/* A decimal u32 ending at a space, from *p on (within end); false if not one. */
static bool parse_u32_sp(const char **p, const char *end, uint32_t *v)
{
    const char *s = *p;
    uint64_t x = 0;
    if (s >= end || *s < '0' || *s > '9')
        return false;
    while (s < end && *s >= '0' && *s <= '9') {
        x = x * 10 + (uint64_t)(*s++ - '0');
        if (x > UINT32_MAX)
            return false;
    }
    if (s >= end || *s != ' ')
        return false;
    *p = s + 1;
    *v = (uint32_t)x;
    return true;
}

/* "<start> <ans_pos> <ans_req_id> <ans_type> <ans_end>" or "<start> -" into *p (a record
 * of an earlier version has no ans_end: its request is taken to be a bare header, the rule
 * then). */
static bool parse_head(const char *s, size_t len, struct vxs_ring_partial *p)
{
    char buf[80];
    if (len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = ' '; /* (each number ends at a space) */
    const char *q = buf, *end = buf + len + 1;
    if (!parse_u32_sp(&q, end, &p->start))
        return false;
    if (end - q == 2 && q[0] == '-')
        return true;
    p->ans = true;
    if (!parse_u32_sp(&q, end, &p->ans_pos) || !parse_u32_sp(&q, end, &p->ans_req_id) ||
        !parse_u32_sp(&q, end, &p->ans_type))
        return false;
    p->ans_end = p->ans_pos + sizeof(struct xsd_sockmsg);
    return q == end || (parse_u32_sp(&q, end, &p->ans_end) && q == end);
}

/* The record of domid's ring into *p (false: none, or unreadable). *msg is malloc'd; checked
 * as the file on disk it is: a whole message, its header's length matching. */
static bool load(uint32_t domid, struct vxs_ring_partial *p, void **msg, size_t *len)
{
    struct vs_txn *x;
    if (vs_txn_begin(vxs.st, VXS_CONN_BRANCH, &x) < 0)
        return false;
    char path[64];
    snprintf(path, sizeof path, "/dom/%" PRIu32 "/rsp", domid);
    void *val, *hv = NULL, *bv = NULL;
    size_t vlen, hl = 0, bl = 0;
    bool ok = false;
    if (vs_txn_read(x, path, &val, &vlen) == 0) {
        char hpath[64];
        snprintf(hpath, sizeof hpath, "/dom/%" PRIu32 "/rsp/hdr", domid);
        snprintf(path, sizeof path, "/dom/%" PRIu32 "/rsp/body", domid);
        struct xsd_sockmsg h;
        if (parse_head(val, vlen, p) && vs_txn_read(x, hpath, &hv, &hl) == 0 &&
            hl == sizeof h && vs_txn_read(x, path, &bv, &bl) == 0 &&
            bl <= XENSTORE_PAYLOAD_MAX) {
            memcpy(&h, hv, sizeof h);
            uint8_t *m = h.len == bl ? malloc(sizeof h + bl) : NULL;
            if (m) {
                memcpy(m, &h, sizeof h);
                if (bl)
                    memcpy(m + sizeof h, bv, bl);
                *msg = m;
                *len = sizeof h + bl;
                ok = true;
            }
        }
        if (!ok)
            vxs_log("domain %" PRIu32 ": unreadable record of a message cut in rsp[], ignored",
                    domid);
        free(hv);
        free(bv);
        free(val);
    }
    vs_txn_abort(x);
    return ok;
}

/* ---- before a message's first byte ---------------------------------------------------------- */

static bool durable(const struct vxs_ring_partial *p)
{
    return p->need <= vxs.durable_upto;
}

/* Is the request that ends at ring index `end` still in req[], whole or its tail (not all
 * consumed)? (Signed: indexes wrap.) */
static bool unconsumed(const struct vxs_ring *r, XENSTORE_RING_IDX end)
{
    return (int32_t)(end - r->req_cons) > 0;
}

/* Will the request answered by o (a reply that fits in rsp[]'s `room`) be consumed in the
 * flush that writes o: is o its last output (its hold's `mark`), or do those after it go
 * whole at once too? Else the reply would be in rsp[] while its request is still in req[]
 * (a WATCH's first event waiting for room): a kill then replays the request. */
static bool consumed_with(const struct vxs_out *o, uint64_t mark, size_t room)
{
    size_t len = o->len;
    for (const struct vxs_out *n = o->next; n && n->serial <= mark; n = n->next) {
        len += n->len;
        if (n->need > vxs.durable_upto || len > room)
            return false;
    }
    return true;
}

bool vxs_ring_partial_may_start(struct vxs_conn *c, const struct vxs_out *o)
{
    struct vxs_ring *r = &c->dom->ring;
    struct vxs_ring_partial *p = &r->partial;
    if (p->serial && p->serial == o->serial)
        return durable(p); /* recorded: it starts once the record is durable */
    const struct xsd_sockmsg *h = (const void *)o->data;
    bool reply = h->type != XS_WATCH_EVENT;
    uint64_t mark = o->serial; /* (the last output of its request, for a reply) */
    if (reply) {
        /* Every reply is noted here (in memory only): a message cut after it while its
         * request is still in req[] (a WATCH's first event) records it. Its request's end:
         * a request larger than req[] is consumed in parts, its start is no guide. */
        p->last = true;
        p->last_pos = o->req_pos;
        if (!vxs_ring_held_end(r, o->serial, &p->last_end, &mark))
            p->last_end = o->req_pos + sizeof(struct xsd_sockmsg); /* (not held: consumed) */
        p->last_req_id = h->req_id;
        p->last_type = h->type;
    }
    /* A record whose message never started and is gone (an expired event). */
    bool orphan = p->saved && p->serial && r->rsp_prod == p->start;
    size_t room = vxs_ring_space(r);
    if (room == 0 && !orphan)
        return true; /* nothing goes yet (recorded, if need be, when there is room) */
    /* Recorded: a message cut (it does not fit whole), and a whole reply whose request
     * stays in req[] after it. */
    bool whole = o->len <= room;
    bool record = !whole || (reply && !consumed_with(o, mark, room));
    if (!orphan && !record)
        return true; /* no store write */
    /* The record names the last reply (this one, or one before this event) if its request
     * is not all consumed. */
    p->ans = p->last && unconsumed(r, p->last_end);
    if (p->ans) {
        p->ans_pos = p->last_pos;
        p->ans_end = p->last_end;
        p->ans_req_id = p->last_req_id;
        p->ans_type = p->last_type;
    }
    struct rsp_arg a = {c->domid, r->rsp_prod, p, o->data, record ? o->len : 0};
    p->need = save(&a); /* (else the orphan record only goes) */
    p->saved = a.len > 0;
    p->serial = a.len ? o->serial : 0;
    p->start = a.start;
    if (durable(p))
        return true; /* (--sync none or always: written already) */
    /* The loop's next round writes the commit out (--sync batch: and syncs it, or hands it to
     * the sync thread, whose end wakes the loop): have it come at once, not at the next
     * event or the batch's time limit. */
    vxs.ring_backlog = true;
    return false;
}

/* ---- after a restart ------------------------------------------------------------------------ */

static void restore(struct vxs_conn *c)
{
    struct vxs_ring *r = &c->dom->ring;
    struct vxs_ring_partial rec = {0};
    void *msg;
    size_t len;
    /* (A guest asking to reconnect gets its rings reset, and the record goes with its old
     * table entry: vxs_domain_ring_reconnected.) */
    if (r->broken || vxs_ring_reconnect_requested(r) || !load(c->domid, &rec, &msg, &len))
        return;
    /* rsp_prod: our index, read from the page once at attach (and checked there against the
     * guest's rsp_cons). */
    XENSTORE_RING_IDX done = r->rsp_prod - rec.start, behind = rec.start - r->rsp_prod;
    if (behind != 0 && behind <= UINT32_MAX / 2) {
        vxs_log("domain %u: rsp_prod %" PRIu32 " before the cut message's start %" PRIu32
                ", ring broken", c->domid, r->rsp_prod, rec.start);
        vxs_ring_fail(r, XENSTORE_ERROR_RINGIDX);
        free(msg);
        return;
    }
    rec.saved = true;
    /* The recorded reply's request, if still in req[], has its reply in rsp[] already or
     * resumed below (and a message cut before it is consumed names it again). */
    rec.skip = rec.ans;
    rec.last = rec.ans;
    rec.last_pos = rec.ans_pos;
    rec.last_end = rec.ans_end;
    rec.last_req_id = rec.ans_req_id;
    rec.last_type = rec.ans_type;
    r->partial = rec;
    if (done < len) {
        if (c->out_head) {
            /* Cannot happen (nothing is queued on a restored ring before this); the rest
             * must be the first thing the guest gets, so nothing is resumed. */
            vxs_log("domain %u: output queued before the cut message's rest", c->domid);
            r->partial.skip = false;
        } else {
            vxs_send(c, msg, len, 0);
            if (c->out_head && c->out_head->serial == c->out_serial) {
                c->out_off = done;
                r->partial.serial = c->out_serial;
                vxs_log("restart: domain %u: %zu of a %zu-byte message cut by the kill, sent",
                        c->domid, len - (size_t)done, len);
            }
        }
    }
    free(msg);
}

void vxs_ring_partial_restore_all(void)
{
    for (struct vxs_conn *c = vxs.conns; c; c = c->next)
        if (c->dom && c->restored && !c->dead)
            restore(c);
}

bool vxs_ring_partial_answers(struct vxs_conn *c, const struct xsd_sockmsg *hdr)
{
    if (!c->dom || !c->replay)
        return false;
    struct vxs_ring_partial *p = &c->dom->ring.partial;
    if (!p->skip || c->req_pos != p->ans_pos)
        return false;
    p->skip = false;
    if (hdr->req_id != p->ans_req_id || (hdr->type != p->ans_type && p->ans_type != XS_ERROR))
        return false; /* not that request (the ring was reset since?): handled as usual */
    vxs_trace(c, "IN ", hdr, c->body);
    return true;
}

bool vxs_ring_partial_clear_due(const struct vxs_conn *c)
{
    if (!c->dom)
        return false;
    const struct vxs_ring *r = &c->dom->ring;
    const struct vxs_ring_partial *p = &r->partial;
    if (!p->saved || r->broken)
        return false;
    /* Queued still (the queue's serials grow from its head). */
    if (p->serial && c->out_head && c->out_head->serial <= p->serial)
        return false;
    /* A recorded reply's request not consumed yet: a restart still needs the record to know
     * it is answered. */
    return !p->ans || !unconsumed(r, p->ans_end);
}
