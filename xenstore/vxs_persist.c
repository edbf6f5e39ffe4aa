/*
 * vxenstored: the connection table in the store, so that a daemon killed at any moment and
 * restarted carries on with the same domains. The branch "connections" (beside the database's
 * branch "xenstore", in the same pack) holds:
 *
 *   /dom/<domid>              "<gfn> <remote port> <incarnation>"   an introduced domain
 *                             (dom0 included); the incarnation tells a later domain with
 *                             the same domid apart (the wall clock at INTRODUCE, in ns)
 *   /dom/<domid>/ev           "<gen>"   its ring has had every watch event of the xenstore
 *                             branch's commits up to this gen (or they were dropped, as
 *                             live); older than the truth at worst (vxs_persist_marks)
 *   /dom/<domid>/w/<id>       "<depth> <since>\0<path>\0<token>"   one of its ring's watches,
 *                             added when the xenstore branch's head had gen <since>
 *   /dom/<domid>/head         "<start> <bytes>"   the head of its ring's unfinished request
 *                             larger than req[], from ring index <start> on, saved before
 *                             those bytes are consumed (vxs_persist_head); stale (ignored)
 *                             once req_cons is past its end
 *   /dom/<domid>/rsp          "<start> <pos> <req_id> <type>" or "<start> -"   a message
 *                             written into rsp[] in parts from rsp[] index <start> on, saved
 *                             before its first byte (vxs_ring_partial.c), and the reply (it,
 *                             or one before it) whose request at ring index <pos> may still
 *                             be in req[]; stale once rsp_prod is past its end and that
 *                             request consumed, removed lazily with the marks
 *   /dom/<domid>/rsp/hdr      that message's header (16 bytes), and in .../rsp/body its
 *                             payload (a node of its own: the same payload again is stored once)
 *   /sock/<name>              a Unix socket the fd store keeps (vxs_sock.c), from its first
 *                             WATCH to its close: /sock/<name>/ev and /sock/<name>/w/<id>
 *                             as a ring's
 *   /restarts                 "<n>"   how many times the table was restored (each run's
 *                                     transaction ids for reconnected rings start apart)
 *   /special/<0|1>            the perms of @introduceDomain, @releaseDomain (wire bytes)
 *
 * Every change is its own commit, made with the daemon's sync mode; the reply that depends on
 * it (INTRODUCE, WATCH, ...) waits until it is durable, like every other reply. The marks
 * are the exception: they move with every event a ring takes, so they go into the table's
 * other commits, and otherwise lazily in commits of their own (vxs_persist_marks.c); a
 * stale mark only replays events the ring already had (vxs_events_replay.c). A socket
 * connection is recorded only when the fd store
 * keeps it (else its process sees the socket close when the daemon dies).
 * Open transactions are not recorded: after a restart a ring's unknown transaction ids get
 * EAGAIN (the client retries), and the ring's own indexes live in the shared page.
 *
 * A ring request that was handled but whose reply had not reached the ring when the daemon
 * died is still in req[] (vxs_ring.h). One whose commit was made is found at restart by its
 * commit's author (which names its ring index, vxs_replay_done.c) and answered OK without
 * being applied again. A ring's TRANSACTION_END also commits with a message naming the
 * domain, the transaction and the request's ring position (vxs_persist_txn_message), and a
 * replayed one whose transaction is unknown looks for that commit among the branch's recent
 * ones (vxs_persist_txn_committed): that covers a kept socket's too.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/vxs.h"
#include "xenstore/vxs_persist_marks.h"
#include "xenstore/vxs_replay_done.h"
#include "xenstore/vxs_ring_partial.h"

#define BRANCH VXS_CONN_BRANCH

static const char perms[] = "n0";

/* Each change below is one vxs_txn_daemon_commit: its callback returns 0 to commit, 1 when
 * there is nothing to do. */

/* Create a directory node unless it exists. */
static void ensure(struct vs_txn *x, const char *path)
{
    vs_txn_set(x, path, "", 0, perms, sizeof perms,
               VS_SET_VALUE | VS_SET_PERMS | VS_CREATE | VS_EXCL);
}

struct dom_arg {
    uint32_t domid;
    uint64_t gfn;
    uint32_t port;
    uint64_t incarnation;
    uint64_t mark;
};

/* Who a commit of the table is about, in its message: "dom<domid>" or "sock <name>". */
void vxs_persist_conn_who(char *buf, size_t cap, const struct vxs_conn *c)
{
    if (c->dom)
        snprintf(buf, cap, "dom%u", c->domid);
    else
        snprintf(buf, cap, "sock %s", c->name);
}

/* A connection's directory in the table: "/dom/<domid>" (a ring) or "/sock/<name>" (a socket
 * the fd store keeps, vxs_sock.c). */
void vxs_persist_conn_dir(char *buf, size_t cap, const struct vxs_conn *c)
{
    if (c->dom)
        snprintf(buf, cap, "/dom/%u", c->domid);
    else
        snprintf(buf, cap, "/sock/%s", c->name);
}

static int put_domain(struct vs_txn *x, struct vxs_events *ev, void *p)
{
    (void)ev;
    struct dom_arg *a = p;
    char path[64], val[64];
    ensure(x, "/dom");
    snprintf(path, sizeof path, "/dom/%u", a->domid);
    int n = snprintf(val, sizeof val, "%llu %u %llu", (unsigned long long)a->gfn, a->port,
                     (unsigned long long)a->incarnation);
    /* A fresh introduction starts with no watches. */
    vs_txn_rm(x, path);
    int rc = vs_txn_set(x, path, val, (size_t)n, perms, sizeof perms,
                        VS_SET_VALUE | VS_SET_PERMS | VS_CREATE);
    /* Nothing is owed to a ring from before its introduction. */
    return rc < 0 ? rc : vxs_persist_set_mark(x, path, a->mark);
}

uint64_t vxs_persist_domain(const struct vxs_domain *d)
{
    struct dom_arg a = {d->domid, d->gfn, d->remote_port, d->incarnation, vxs_head_gen()};
    if (d->conn)
        d->conn->ev_saved = a.mark;
    char what[64];
    snprintf(what, sizeof what, "INTRODUCE %u", d->domid);
    return vxs_txn_daemon_commit(BRANCH, what, put_domain, &a);
}

int vxs_persist_rm(struct vs_txn *x, struct vxs_events *ev, void *p)
{
    (void)ev;
    struct vs_stat st;
    int rc = vs_txn_stat(x, p, &st);
    if (rc == -ENOENT)
        return 1;
    return rc < 0 ? rc : vs_txn_rm(x, p);
}

uint64_t vxs_persist_domain_gone(uint32_t domid)
{
    char path[64], what[64];
    snprintf(path, sizeof path, "/dom/%u", domid);
    snprintf(what, sizeof what, "RELEASE %u", domid);
    return vxs_txn_daemon_commit(BRANCH, what, vxs_persist_rm, path);
}

/* A watch's node name: a hash of its path and token (one node per (path, token)). */
static void watch_path(char *buf, size_t cap, const char *dir, const struct vxs_watch *w)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *s = w->given; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const char *s = w->token; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    snprintf(buf, cap, "%s/w/%016llx", dir, (unsigned long long)h);
}

struct watch_arg {
    const char *dir;
    bool sock;
    uint64_t mark;
    const struct vxs_watch *w;
};

static int put_watch(struct vs_txn *x, struct vxs_events *ev, void *p)
{
    (void)ev;
    struct watch_arg *a = p;
    char wdir[96], path[128];
    struct vs_stat st;
    if (a->sock && vs_txn_stat(x, a->dir, &st) < 0) {
        /* A socket's first watch: its entry, with nothing owed from before. */
        ensure(x, "/sock");
        ensure(x, a->dir);
        int rc = vxs_persist_set_mark(x, a->dir, a->mark);
        if (rc < 0)
            return rc;
    } else if (vs_txn_stat(x, a->dir, &st) < 0) {
        return 1; /* not an introduced domain's ring: nothing to record */
    }
    snprintf(wdir, sizeof wdir, "%s/w", a->dir);
    ensure(x, wdir);
    watch_path(path, sizeof path, a->dir, a->w);
    char val[XENSTORE_PAYLOAD_MAX + 48];
    int n = snprintf(val, sizeof val, "%d %llu", a->w->depth,
                     (unsigned long long)a->w->since);
    size_t gl = strlen(a->w->given) + 1, tl = strlen(a->w->token) + 1;
    if ((size_t)n + 1 + gl + tl > sizeof val)
        return -E2BIG;
    memcpy(val + n + 1, a->w->given, gl);
    memcpy(val + n + 1 + gl, a->w->token, tl);
    int rc = vs_txn_set(x, path, val, (size_t)n + 1 + gl + tl, perms, sizeof perms,
                        VS_SET_VALUE | VS_SET_PERMS | VS_CREATE);
    return rc < 0 ? rc : vxs_persist_marks_with(x); /* (free in this commit) */
}

uint64_t vxs_persist_watch(const struct vxs_conn *c, const struct vxs_watch *w, bool add)
{
    if (!vxs_conn_in_table(c))
        return vxs.next_seq;
    char what[64], dir[64], who[48];
    vxs_persist_conn_dir(dir, sizeof dir, c);
    vxs_persist_conn_who(who, sizeof who, c);
    snprintf(what, sizeof what, "%s %s", add ? "WATCH" : "UNWATCH", who);
    if (add) {
        /* Its events are those of commits after this one (the first event goes at once). */
        uint64_t head = vxs_head_gen();
        ((struct vxs_watch *)w)->since = head;
        struct watch_arg a = {dir, !c->dom, head, w};
        if (!c->dom && !c->in_table) {
            ((struct vxs_conn *)c)->in_table = true;
            ((struct vxs_conn *)c)->ev_saved = head;
        }
        uint64_t seq = vxs_txn_daemon_commit(BRANCH, what, put_watch, &a);
        vxs_persist_marks_with_done();
        return seq;
    }
    char path[128];
    watch_path(path, sizeof path, dir, w);
    return vxs_txn_daemon_commit(BRANCH, what, vxs_persist_rm, path);
}

/* A reconnected ring (its indexes back to 0) has no watches and no unfinished request: a
 * head saved before could otherwise end where the new req_cons happens to be. */
static int rm_watches_and_head(struct vs_txn *x, struct vxs_events *ev, void *p)
{
    const char *dir = p;
    char path[96];
    snprintf(path, sizeof path, "%s/w", dir);
    int rc = vxs_persist_rm(x, ev, path);
    if (rc < 0)
        return rc;
    snprintf(path, sizeof path, "%s/head", dir);
    int rc2 = vxs_persist_rm(x, ev, path);
    return rc2 < 0 ? rc2 : rc == 1 && rc2 == 1 ? 1 : 0;
}

uint64_t vxs_persist_watches_clear(const struct vxs_conn *c)
{
    if (!c->dom && !c->in_table)
        return vxs.next_seq;
    char what[80], dir[64], who[48];
    vxs_persist_conn_dir(dir, sizeof dir, c);
    vxs_persist_conn_who(who, sizeof who, c);
    snprintf(what, sizeof what, "RESET_WATCHES %s", who);
    return vxs_txn_daemon_commit(BRANCH, what, rm_watches_and_head, dir);
}

/* ---- the head of a request larger than the ring ------------------------------------------ */

struct head_arg {
    uint32_t domid, start;
    const void *bytes;
    size_t len;
};

static int put_head(struct vs_txn *x, struct vxs_events *ev, void *p)
{
    struct head_arg *a = p;
    char path[64];
    snprintf(path, sizeof path, "/dom/%u", a->domid);
    struct vs_stat st;
    if (vs_txn_stat(x, path, &st) < 0)
        return 1; /* not in the table (released): nothing to keep */
    snprintf(path, sizeof path, "/dom/%u/head", a->domid);
    if (a->len == 0)
        return vxs_persist_rm(x, ev, path);
    /* A header and at most a whole payload: "<start> " and 4112 bytes. */
    char val[16 + sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
    int n = snprintf(val, sizeof val, "%" PRIu32 " ", a->start);
    if (a->len > sizeof val - (size_t)n)
        return -E2BIG;
    memcpy(val + n, a->bytes, a->len);
    int rc = vs_txn_set(x, path, val, (size_t)n + a->len, perms, sizeof perms,
                        VS_SET_VALUE | VS_SET_PERMS | VS_CREATE);
    return rc < 0 ? rc : vxs_persist_marks_with(x); /* (free in this commit) */
}

uint64_t vxs_persist_head(uint32_t domid, uint32_t start, const void *bytes, size_t len)
{
    char what[64];
    snprintf(what, sizeof what, "HEAD dom%" PRIu32 " @%" PRIu32 "+%zu", domid, start, len);
    struct head_arg a = {domid, start, bytes, len};
    uint64_t seq = vxs_txn_daemon_commit(BRANCH, what, put_head, &a);
    vxs_persist_marks_with_done();
    return seq;
}

bool vxs_persist_head_get(uint32_t domid, uint32_t *start, void **bytes, size_t *len)
{
    struct vs_txn *x;
    if (vs_txn_begin(vxs.st, BRANCH, &x) < 0)
        return false;
    char path[64];
    snprintf(path, sizeof path, "/dom/%u/head", domid);
    void *val;
    size_t vlen;
    bool ok = false;
    if (vs_txn_read(x, path, &val, &vlen) == 0) {
        /* Checked: it is a file on disk. */
        const char *sp = memchr(val, ' ', vlen < 12 ? vlen : 12);
        size_t off = sp ? (size_t)(sp - (const char *)val) + 1 : 0;
        if (sp && off > 1 && vlen > off &&
            vlen - off <= sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX) {
            char num[12] = "";
            memcpy(num, val, off - 1);
            char *end;
            unsigned long v = strtoul(num, &end, 10);
            void *b = malloc(vlen - off);
            if (!*end && v <= UINT32_MAX && b) {
                memcpy(b, (const char *)val + off, vlen - off);
                *start = (uint32_t)v;
                *bytes = b;
                *len = vlen - off;
                ok = true;
            } else {
                free(b);
            }
        }
        free(val);
    }
    vs_txn_abort(x);
    return ok;
}

static bool parse_watch(const void *val, size_t len, const char **path, const char **token,
                             int *depth, uint64_t *since)
{
    /* "<depth> <since>\0<path>\0<token>\0" (no since: an older version's table): checked,
     * it is a file on disk */
    const char *p = val, *end = p + len;
    const char *p1 = memchr(p, 0, len);
    const char *p2 = p1 ? memchr(p1 + 1, 0, (size_t)(end - p1 - 1)) : NULL;
    const char *p3 = p2 ? memchr(p2 + 1, 0, (size_t)(end - p2 - 1)) : NULL;
    int d = 0;
    unsigned long long sn = 0;
    if (!p3 || sscanf(p, "%d %llu", &d, &sn) < 1)
        return false;
    *path = p1 + 1;
    *token = p2 + 1;
    *depth = d;
    *since = sn;
    return true;
}

void vxs_persist_each_watch(struct vs_txn *x, const char *dir,
                            void (*fn)(void *arg, const char *path, const char *token,
                                       int depth, uint64_t since),
                            void *arg)
{
    char wdir[80];
    snprintf(wdir, sizeof wdir, "%s/w", dir);
    char **ws = NULL;
    size_t nw = 0;
    if (vs_txn_list(x, wdir, &ws, &nw) < 0)
        return;
    for (size_t j = 0; j < nw; j++) {
        char wp[128];
        void *val;
        size_t len;
        snprintf(wp, sizeof wp, "%s/%s", wdir, ws[j]);
        if (vs_txn_read(x, wp, &val, &len) < 0)
            continue;
        const char *path, *token;
        int depth;
        uint64_t since;
        if (parse_watch(val, len, &path, &token, &depth, &since))
            fn(arg, path, token, depth, since);
        free(val);
    }
    vs_names_free(ws, nw);
}

/* vxs_persist_load's watches of one domain, handed to its `watch` callback. */
struct load_watch {
    void (*watch)(uint32_t domid, const char *path, const char *token, int depth,
                  uint64_t since);
    uint32_t domid;
};

static void load_watch(void *arg, const char *path, const char *token, int depth,
                       uint64_t since)
{
    struct load_watch *lw = arg;
    lw->watch(lw->domid, path, token, depth, since);
}

void vxs_persist_load(void (*domain)(uint32_t domid, uint64_t gfn, uint32_t port,
                                     uint64_t incarnation),
                      void (*watch)(uint32_t domid, const char *path, const char *token,
                                    int depth, uint64_t since))
{
    vxs_persist_marks_hold(true);
    struct vs_txn *x;
    if (vs_txn_begin(vxs.st, BRANCH, &x) < 0)
        return;
    char **doms = NULL;
    size_t nd = 0;
    if (vs_txn_list(x, "/dom", &doms, &nd) < 0) {
        vs_txn_abort(x);
        return;
    }
    for (size_t i = 0; i < nd; i++) {
        char path[64];
        snprintf(path, sizeof path, "/dom/%s", doms[i]);
        void *val;
        size_t len;
        if (vs_txn_read(x, path, &val, &len) < 0)
            continue;
        char buf[64];
        size_t n = len < sizeof buf - 1 ? len : sizeof buf - 1;
        memcpy(buf, val, n);
        buf[n] = 0;
        free(val);
        unsigned long long gfn, incarnation = 0;
        unsigned port;
        if (sscanf(buf, "%llu %u %llu", &gfn, &port, &incarnation) < 2)
            continue;
        uint32_t domid = (uint32_t)strtoul(doms[i], NULL, 10);
        domain(domid, gfn, port, incarnation);
        struct load_watch lw = {watch, domid};
        vxs_persist_each_watch(x, path, load_watch, &lw);
    }
    vs_names_free(doms, nd);
    vs_txn_abort(x);
}

/* ---- restarts and replayed requests ------------------------------------------------------- */

static int bump_restarts(struct vs_txn *x, struct vxs_events *ev, void *p)
{
    (void)ev;
    uint32_t *n = p;
    void *val;
    size_t len;
    *n = 0;
    if (vs_txn_read(x, "/restarts", &val, &len) == 0) {
        char buf[16] = "";
        memcpy(buf, val, len < sizeof buf - 1 ? len : sizeof buf - 1);
        free(val);
        *n = (uint32_t)strtoul(buf, NULL, 10);
    }
    (*n)++;
    char out[16];
    int k = snprintf(out, sizeof out, "%" PRIu32, *n);
    return vs_txn_set(x, "/restarts", out, (size_t)k, perms, sizeof perms,
                      VS_SET_VALUE | VS_SET_PERMS | VS_CREATE);
}

uint32_t vxs_persist_restart(void)
{
    uint32_t n = 0;
    vxs_txn_daemon_commit(BRANCH, "restart", bump_restarts, &n);
    return n;
}

void vxs_persist_txn_message(char *buf, size_t cap, const struct vxs_conn *c, uint32_t txid)
{
    if (c->dom)
        snprintf(buf, cap, "TRANSACTION_END %" PRIu32 " ring %" PRIu32 ".%" PRIu64 "@%" PRIu32,
                 txid, c->domid, c->dom->incarnation, (uint32_t)c->req_pos);
    else if (c->name[0]) /* a socket the fd store keeps: its name tells it apart */
        snprintf(buf, cap, "TRANSACTION_END %" PRIu32 " sock %s", txid, c->name);
    else
        snprintf(buf, cap, "TRANSACTION_END %" PRIu32, txid);
}

/* How far back a replayed TRANSACTION_END looks: its commit was made shortly before the kill
 * (its reply was waiting for the flush or for room in rsp[]). */
#define REPLAY_LOOKBACK 10000

struct find_arg {
    const char *message;
    unsigned seen;
};

static int find_message(void *p, const struct store_hash *h, const struct vs_commit *c)
{
    (void)h;
    struct find_arg *a = p;
    if (c->message && strcmp(c->message, a->message) == 0)
        return 1;
    return ++a->seen >= REPLAY_LOOKBACK ? 2 : 0;
}

bool vxs_persist_txn_committed(const struct vxs_conn *c, uint32_t txid)
{
    /* The restart's lookup by author saw every commit this request could have made, and
     * this one was not among them: no need to read 10000 commits again. */
    if (vxs_replay_done_known(c))
        return false;
    char msg[96];
    vxs_persist_txn_message(msg, sizeof msg, c, txid);
    struct store_hash head;
    if (vs_branch_head(vxs.st, VXS_BRANCH, &head) < 0)
        return false;
    struct find_arg a = {msg, 0};
    return vs_log(vxs.st, &head, NULL, find_message, &a) == 1;
}

/* ---- the special nodes' perms ------------------------------------------------------------ */

static int put_special(struct vs_txn *x, struct vxs_events *ev, void *p)
{
    (void)ev;
    int i = *(int *)p;
    char path[32];
    ensure(x, "/special");
    snprintf(path, sizeof path, "/special/%d", i);
    return vs_txn_set(x, path, vxs.spec_perms[i], vxs.spec_perms_len[i], perms, sizeof perms,
                      VS_SET_VALUE | VS_SET_PERMS | VS_CREATE);
}

uint64_t vxs_persist_special(int which)
{
    if (which < 0 || which > 1)
        return vxs.next_seq;
    return vxs_txn_daemon_commit(BRANCH, which ? "SET_PERMS @releaseDomain"
                                               : "SET_PERMS @introduceDomain",
                                 put_special, &which);
}

void vxs_persist_load_special(void)
{
    struct vs_txn *x;
    if (vs_txn_begin(vxs.st, BRANCH, &x) < 0)
        return;
    for (int i = 0; i < 2; i++) {
        char path[32];
        snprintf(path, sizeof path, "/special/%d", i);
        void *val;
        size_t len;
        if (vs_txn_read(x, path, &val, &len) < 0)
            continue;
        /* Checked as a client's SET_PERMS would be: it is a file on disk. */
        char norm[sizeof vxs.spec_perms[i]];
        int n = len <= sizeof norm ? vxs_perms_normalise(val, len, norm, sizeof norm) : -1;
        if (n > 0) {
            memcpy(vxs.spec_perms[i], norm, (size_t)n);
            vxs.spec_perms_len[i] = (size_t)n;
        }
        free(val);
    }
    vs_txn_abort(x);
}

/* ---- the xenstore branch's head (the marks' unit) ---------------------------------------- */

uint64_t vxs_head_gen(void)
{
    struct store_hash head;
    struct vs_commit c;
    if (vs_branch_head(vxs.st, VXS_BRANCH, &head) < 0 || vs_commit_read(vxs.st, &head, &c) < 0)
        return 0;
    uint64_t gen = c.gen;
    vs_commit_free(&c);
    return gen;
}
