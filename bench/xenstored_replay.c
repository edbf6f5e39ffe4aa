/*
 * The xenstored bench's replay test: the requests a real `xl create` + `xl destroy` sent to
 * dom0's xenstored (recorded in the Xen rig with vxenstored -T, turned into a replay file by
 * bench/xenstored_trace2replay.py), replayed for many domains at once.
 *
 * Each replayed domain opens its own copy of every connection of the trace (at its first
 * request, closed after its last one, as the hotplug scripts' xenstore-* processes do), sends
 * the requests in the trace's order with $D replaced by its domid and $U by a UUID of its own,
 * and gives the daemon's transaction ids to the trace's t1, t2, ... A transaction the daemon
 * ends with EAGAIN where the trace's ended fine is run again (its own requests only), as libxl
 * would. Replies that differ from the trace's (ok vs an error, or another error) are counted:
 * the replay is the same work only if there are few of them.
 *
 * Requests that came from the guest's ring and from dom0's kernel (blkback, netback) are
 * replayed on dom0's socket like the rest: the daemons here have no rings.
 */
#include "xenstored_bench.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rrec {
    int conn;               /* index of the trace's connection */
    uint32_t type;
    int tx;                 /* 0: none; else the trace's transaction (t<tx>) */
    char expect[16];        /* "" for ok, else the error name */
    char *payload;          /* with $D and $U still in it; | already turned into NUL */
    size_t len;
    bool rm_if_empty;       /* an RM right after a DIRECTORY of the same path (see below) */
};

struct replay {
    struct rrec *r;
    int n, nconns, ntx;
    struct rrec *setup;     /* connection "setup": the store before the trace, made once */
    int nsetup;
    int *conn_last;         /* per connection: index of its last request */
    char **conn_names;
};

static struct replay rp;

static const struct {
    const char *name;
    uint32_t type;
} types[] = {
    {"DIRECTORY", XS_DIRECTORY}, {"READ", XS_READ}, {"GET_PERMS", 3}, {"WATCH", XS_WATCH},
    {"UNWATCH", XS_UNWATCH}, {"TRANSACTION_START", XS_TXN_START},
    {"TRANSACTION_END", XS_TXN_END}, {"GET_DOMAIN_PATH", XS_GET_DOMAIN_PATH},
    {"WRITE", XS_WRITE}, {"MKDIR", XS_MKDIR}, {"RM", XS_RM}, {"SET_PERMS", XS_SET_PERMS},
    {"RESET_WATCHES", 21}, {"DIRECTORY_PART", 22},
};

static int conn_index(const char *name)
{
    for (int i = 0; i < rp.nconns; i++)
        if (strcmp(rp.conn_names[i], name) == 0)
            return i;
    rp.conn_names = realloc(rp.conn_names, sizeof(char *) * (size_t)(rp.nconns + 1));
    rp.conn_last = realloc(rp.conn_last, sizeof(int) * (size_t)(rp.nconns + 1));
    rp.conn_names[rp.nconns] = strdup(name);
    return rp.nconns++;
}

/* Load the replay file; 0, or -1 after saying why on stderr. */
int replay_load(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "xenstored bench: replay file %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[8192];
    int lineno = 0, cap = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
            line[--l] = 0;
        if (!l || line[0] == '#')
            continue;
        /* CONN TYPE TX EXPECT PAYLOAD: the payload is the rest of the line (may hold spaces) */
        char *fld[4], *p = line;
        int k;
        for (k = 0; k < 4; k++) {
            fld[k] = p;
            p = strchr(p, ' ');
            if (!p)
                break;
            *p++ = 0;
        }
        if (k < 4) {
            fprintf(stderr, "xenstored bench: %s:%d: fewer than 5 fields\n", path, lineno);
            fclose(f);
            return -1;
        }
        uint32_t type = UINT32_MAX;
        for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
            if (strcmp(types[t].name, fld[1]) == 0)
                type = types[t].type;
        if (type == UINT32_MAX) {
            fprintf(stderr, "xenstored bench: %s:%d: unknown request %s\n", path, lineno, fld[1]);
            fclose(f);
            return -1;
        }
        bool setup = strcmp(fld[0], "setup") == 0;
        struct rrec *r;
        if (setup) {
            rp.setup = realloc(rp.setup, sizeof(*rp.setup) * (size_t)(rp.nsetup + 1));
            r = &rp.setup[rp.nsetup++];
            r->conn = -1;
        } else {
            if (rp.n == cap) {
                cap = cap ? 2 * cap : 1024;
                rp.r = realloc(rp.r, sizeof(*rp.r) * (size_t)cap);
            }
            r = &rp.r[rp.n];
            r->conn = conn_index(fld[0]);
        }
        r->type = type;
        r->tx = strcmp(fld[2], "-") == 0 ? 0 : atoi(fld[2] + 1);
        if (r->tx > rp.ntx)
            rp.ntx = r->tx;
        snprintf(r->expect, sizeof(r->expect), "%s", strcmp(fld[3], "ok") == 0 ? "" : fld[3]);
        r->len = strlen(p);
        r->payload = malloc(r->len + 1);
        for (size_t i = 0; i <= r->len; i++)
            r->payload[i] = p[i] == '|' ? 0 : p[i];
        /* libxl removes a device's parent directories only when they are empty (DIRECTORY,
         * then RM if it listed nothing): replayed unconditionally, that RM would remove other
         * domains' backends. Such an RM is sent only when our DIRECTORY came back empty too. */
        r->rm_if_empty = false;
        if (!setup && type == XS_RM) {
            for (int j = rp.n - 1; j >= 0; j--) {
                if (rp.r[j].conn != r->conn)
                    continue;
                r->rm_if_empty = rp.r[j].type == XS_DIRECTORY && rp.r[j].tx == r->tx &&
                                 rp.r[j].len == r->len &&
                                 memcmp(rp.r[j].payload, r->payload, r->len) == 0;
                break;
            }
        }
        if (!setup)
            rp.conn_last[r->conn] = rp.n++;
    }
    fclose(f);
    if (rp.n == 0) {
        fprintf(stderr, "xenstored bench: %s has no requests\n", path);
        return -1;
    }
    return 0;
}

/* The payload of r for domain dom: $D -> dom, $U -> a UUID made from dom.
 *
 * A SET_PERMS that makes the guest the owner ("n$D|...") becomes "n0|n$D|...": C xenstored
 * refuses an owner that is not a running domain (ENOENT), and without a hypervisor only dom0
 * runs; dom0 owns, the guest keeps an entry of the same size (as in the mix). */
static size_t expand(const struct rrec *r, int dom, char *out, size_t cap)
{
    if (r->type == XS_SET_PERMS) {
        size_t pl = strnlen(r->payload, r->len);
        if (pl + 3 < r->len && r->payload[pl + 2] == '$' && r->payload[pl + 3] == 'D' &&
            strchr("nrwb", r->payload[pl + 1]) && cap >= 3) {
            struct rrec t = *r;
            char *b = malloc(r->len + 3);
            memcpy(b, r->payload, pl + 1);
            memcpy(b + pl + 1, "n0", 3);
            memcpy(b + pl + 4, r->payload + pl + 1, r->len - pl - 1);
            t.payload = b;
            t.len = r->len + 3;
            t.type = 0;
            size_t n = expand(&t, dom, out, cap);
            free(b);
            return n;
        }
    }
    char d[16], u[40];
    snprintf(d, sizeof(d), "%d", dom);
    snprintf(u, sizeof(u), "5e7a1c00-0000-4000-8000-%012d", dom);
    size_t o = 0;
    for (size_t i = 0; i < r->len && o < cap; i++) {
        const char *sub = NULL;
        if (r->payload[i] == '$' && i + 1 < r->len && r->payload[i + 1] == 'D')
            sub = d;
        else if (r->payload[i] == '$' && i + 1 < r->len && r->payload[i + 1] == 'U')
            sub = u;
        if (sub) {
            size_t sl = strlen(sub);
            if (sl > cap - o)
                sl = cap - o;
            memcpy(out + o, sub, sl);
            o += sl;
            i++;
        } else {
            out[o++] = r->payload[i];
        }
    }
    return o;
}

struct rstats {
    uint64_t requests, events, retries, differ, gave_up, kept;
};

/* Send record i for domain dom on its (open) connection; the outcome as xs_req's. A reply
 * unlike the trace's is counted unless `again` (a transaction run again). */
static int send_rec(struct conn *conns, uint32_t *txid, int i, int dom, struct rstats *st,
                    bool again)
{
    const struct rrec *r = &rp.r[i];
    struct conn *c = &conns[r->conn];
    if (r->rm_if_empty && c->rlen != 0) {   /* c->reply: that DIRECTORY's, just before */
        st->kept++;
        return XR_OK;
    }
    char buf[PAYLOAD_MAX];
    size_t len = expand(r, dom, buf, sizeof(buf));
    uint32_t tx = r->type == XS_TXN_START || r->tx == 0 ? 0 : txid[r->tx];
    int rc = xs_req(c, r->type, tx, buf, len);
    st->requests++;
    if (rc == XR_OK && r->type == XS_TXN_START)
        txid[r->tx] = (uint32_t)strtoul(c->reply, NULL, 10);
    bool same = rc == XR_OK ? r->expect[0] == 0
                            : rc != XR_IO && strcmp(r->expect, c->err) == 0;
    /* a commit refused under concurrency is retried (and counted) by the caller */
    if (rc == XR_AGAIN && r->type == XS_TXN_END)
        same = true;
    if (!same && !again) {
        st->differ++;
        /* -v: show the first few, to tell a daemon's difference from a replay artefact */
        static int shown;
        if (opt_verbose && __atomic_fetch_add(&shown, 1, __ATOMIC_RELAXED) < 30)
            fprintf(stderr, "  replay: line %d (%s, dom %d): got %s, the trace had %s\n", i + 1,
                    c->last, dom, rc == XR_OK ? "ok" : rc == XR_IO ? "I/O error" : c->err,
                    r->expect[0] ? r->expect : "ok");
    }
    /* an error the trace had too is part of the work, not a failure */
    if (rc == XR_ERR)
        c->errors--;
    return rc;
}

struct rthread {
    struct worker_span span; /* first: see workers_start */
    const struct daemon *d;
    struct rstats st;
    int fail;
    char err[160];
};

/* One domain's create + destroy: every record in order. */
static int replay_domain(const struct daemon *d, int dom, struct rstats *st, char *err, size_t errn)
{
    struct conn *conns = calloc((size_t)rp.nconns, sizeof(*conns));
    uint32_t *txid = calloc((size_t)rp.ntx + 1, sizeof(*txid));
    int *tx_start = calloc((size_t)rp.ntx + 1, sizeof(*tx_start));
    int rc = XR_OK;
    for (int k = 0; k < rp.nconns; k++)
        conns[k].fd = -1;
    for (int i = 0; i < rp.n && rc != XR_IO; i++) {
        const struct rrec *r = &rp.r[i];
        struct conn *c = &conns[r->conn];
        if (c->fd < 0 && conn_open(c, d->sock) < 0) {
            snprintf(err, errn, "connect: %s", strerror(errno));
            rc = XR_IO;
            break;
        }
        if (r->type == XS_TXN_START)
            tx_start[r->tx] = i;
        rc = send_rec(conns, txid, i, dom, st, false);
        /* The daemon refused a commit the trace made: run the transaction again. */
        for (int attempt = 0; rc == XR_AGAIN && r->type == XS_TXN_END && r->expect[0] == 0 &&
                              attempt < 1000; attempt++) {
            st->retries++;
            for (int j = tx_start[r->tx]; j <= i && rc != XR_IO; j++)
                if (rp.r[j].tx == r->tx && rp.r[j].conn == r->conn)
                    rc = send_rec(conns, txid, j, dom, st, true);
        }
        if (rc == XR_AGAIN && r->type == XS_TXN_END && r->expect[0] == 0)
            st->gave_up++;
        if (rc == XR_IO)
            snprintf(err, errn, "domain %d, request %d: connection lost after %s", dom, i, c->last);
        if (rp.conn_last[r->conn] == i)
            conn_close(c);
    }
    for (int k = 0; k < rp.nconns; k++) {
        st->events += conns[k].events;
        conn_close(&conns[k]);
    }
    free(conns);
    free(txid);
    free(tx_start);
    return rc == XR_IO ? XR_IO : XR_OK;
}

static void *replay_thread(void *arg)
{
    struct rthread *t = arg;
    pthread_barrier_wait(t->span.bar);
    for (int i = 0; i < t->span.count; i++)
        if (replay_domain(t->d, t->span.first + i, &t->st, t->err, sizeof(t->err)) != XR_OK) {
            t->fail = 1;
            break;
        }
    return NULL;
}

void t_replay(struct daemon *d)
{
    struct conn sc;
    if (!open_or_note(&sc, d))
        return;
    for (int i = 0; i < rp.nsetup; i++) {
        int rc = xs_req(&sc, rp.setup[i].type, 0, rp.setup[i].payload, rp.setup[i].len);
        if (rc != XR_OK) {
            note(d->name, "replay setup failed (%s) at %s", rc == XR_IO ? "connection" : sc.err,
                 sc.last);
            conn_close(&sc);
            return;
        }
    }
    conn_close(&sc);

    struct workers w = {.n = workers_count(opt_clients, opt_replay)};
    struct rthread *t = calloc((size_t)w.n, sizeof(*t));
    for (int i = 0; i < w.n; i++)
        t[i].d = d;
    workers_start(&w, t, sizeof(*t), replay_thread, 20001, opt_replay);
    double t0 = now();
    workers_join(&w);
    double dt = now() - t0;
    struct rstats sum = {0};
    int fail = 0;
    for (int i = 0; i < w.n; i++) {
        sum.requests += t[i].st.requests;
        sum.events += t[i].st.events;
        sum.retries += t[i].st.retries;
        sum.differ += t[i].st.differ;
        sum.gave_up += t[i].st.gave_up;
        sum.kept += t[i].st.kept;
        if (t[i].fail && !fail) {
            fail = 1;
            note(d->name, "replay failed: %s", t[i].err);
        }
    }
    free(t);
    if (fail)
        return;
    if (sum.gave_up)
        note(d->name, "replay: %llu transactions still refused (EAGAIN) after 1000 attempts",
             (unsigned long long)sum.gave_up);
    d->v[L_REPLAY] = opt_replay / dt;
    d->v[L_REPLAY_REQ] = (double)sum.requests / dt;
    note(d->name, "replay: %d domains in %.2f s, %llu requests (%d per domain in the file, "
         "%d connections), %llu watch events, %llu transactions run again (EAGAIN), "
         "%llu replies differ from the trace's, %llu non-empty directories kept", opt_replay, dt,
         (unsigned long long)sum.requests, rp.n, rp.nconns, (unsigned long long)sum.events,
         (unsigned long long)sum.retries, (unsigned long long)sum.differ,
         (unsigned long long)sum.kept);
}
