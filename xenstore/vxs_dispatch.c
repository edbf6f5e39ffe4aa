/* vxenstored: one request -> one reply (C xenstored's replies and error names). Node
 * operations run in the connection's transaction (tx_id) or in a transaction of their own,
 * committed before the reply is queued; the reply leaves once that commit is durable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/vxs.h"
#include "xenstore/vxs_quota.h"
#include "xenstore/vxs_replay_done.h"

/* atoi() as C xenstored uses it for numbers in requests, without its undefined overflow. */
static uint32_t c_atou(const char *s)
{
    while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        s++;
    bool neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    uint32_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (uint32_t)(*s - '0');
    return neg ? (uint32_t)-v : v;
}

/* The length of body up to its last NUL: C's get_strings counts and returns only
 * NUL-terminated strings, so bytes after the last NUL are ignored where C uses it (WATCH,
 * UNWATCH, DIRECTORY_PART; not where C wants exactly one string or takes the rest). */
static size_t c_strings_len(const uint8_t *body, size_t len)
{
    while (len > 0 && body[len - 1] != '\0')
        len--;
    return len;
}

struct ctx {
    struct vxs_conn *c;
    const struct xsd_sockmsg *hdr;
    struct vs_txn *x;      /* the transaction the request works in */
    struct vxs_events *ev;
    struct vxs_tx *t;      /* the connection's transaction, or NULL: a single request */
    long long mem_before;  /* in t: what its changes added to the domain's memory before */
    struct vxs_events own_ev;
    uint64_t need;
    uint8_t out[XS_MSG_MAX];
};

static void send_error(struct ctx *k, int err)
{
    if (err == -EPROTO)
        err = -EINVAL;
    int n = xs_encode_error(k->out, sizeof k->out, k->hdr->req_id, k->hdr->tx_id, err);
    if (n > 0)
        vxs_send(k->c, k->out, (size_t)n, k->need);
}

static void send_built(struct ctx *k, struct xs_builder *b)
{
    int n = xs_build_end(b);
    if (n < 0)
        send_error(k, n);
    /* C: a reply longer than its request buffer's own 16 bytes is charged to the domain
     * first, and one that reaches the hard memory quota is ENOMEM (a short one never). */
    else if ((size_t)n > sizeof(struct xsd_sockmsg) + 16 && vxs_quota_out_over(k->c, (size_t)n))
        send_error(k, -ENOMEM);
    else
        vxs_send(k->c, k->out, (size_t)n, k->need);
}

static void begin(struct ctx *k, struct xs_builder *b, uint32_t type)
{
    xs_build_begin(b, k->out, sizeof k->out, type, k->hdr->req_id, k->hdr->tx_id);
}

static void send_str(struct ctx *k, const char *s)
{
    struct xs_builder b;
    begin(k, &b, k->hdr->type);
    xs_build_str(&b, s);
    send_built(k, &b);
}

/* Open the transaction the request works in. */
static int ctx_open(struct ctx *k)
{
    if (k->hdr->tx_id) {
        k->t = vxs_txn_find(k->c, k->hdr->tx_id);
        if (!k->t)
            return -ENOENT;
        k->x = k->t->x;
        k->ev = &k->t->ev;
        k->mem_before = vxs_quota_txn_own_mem(k->x);
        /* C checks the transaction-nodes quota as it is at each access: a CONTROL quota set
         * while the transaction is open counts from its next request. */
        if (!k->c->priv)
            vs_txn_set_max_accessed(k->x,
                                    vxs_quota_limit(k->c->domid, VXS_Q_TRANSACTION_NODES));
        return 0;
    }
    k->ev = &k->own_ev;
    int rc = vs_txn_begin(vxs.st, VXS_BRANCH, &k->x);
    if (rc == 0)
        vxs_quota_txn_track(k->x, k->c, false);
    return rc;
}

/* Finish the request's work: commit a single request's transaction (if rc is 0 and it
 * changed something), abort it otherwise. */
static int ctx_close(struct ctx *k, int rc, bool modifies, const char *what)
{
    if (k->t) {
        /* The memory quota at each request that adds to the domain's memory, as C checks
         * it when it writes the transaction's copy of a node; the refused request fails
         * the transaction (C's fail_transaction). C also counts its copies of the nodes
         * the transaction only read, and a written node's copy next to the original: it
         * refuses sooner (vxenstored.8). Refused with EIO, as C's write_node_raw; the
         * commit then says ENOMEM. */
        if (rc == 0 && modifies && !k->c->priv &&
            vxs_quota_txn_own_mem(k->x) > k->mem_before &&
            vxs_quota_txn_check_memory(k->x) < 0) {
            vxs_quota_txn_fail(k->x);
            rc = -EIO;
        }
        if (rc == 0 && modifies)
            k->t->dirty = true;
        k->need = vxs.next_seq;
        return rc;
    }
    struct vs_txn *x = k->x; /* after the commit only a key for the node accounting */
    if (vxs_replay_dry(k->c))
        modifies = false; /* handled before a restart, without a commit (vxs_replay_done.c) */
    if (rc == 0 && modifies && k->own_ev.n)
        rc = vxs_quota_txn_check_memory(x);
    if (rc == 0 && modifies && k->own_ev.n) {
        uint64_t need;
        rc = vxs_txn_commit_one(k->c, k->x, &k->own_ev, true, what, &need);
        k->need = need;
        if (rc == 0)
            vxs_wrl_debit(k->c, false, vxs_quota_txn_apply(x));
    } else {
        vs_txn_abort(k->x);
        vxs_events_free(&k->own_ev);
        k->need = vxs.next_seq;
    }
    vxs_quota_txn_forget(x);
    return rc;
}

/* "TYPE path", cut to cap (by hand: on every write's path, snprintf costs ~1k instructions) */
static void describe(char *what, size_t cap, uint32_t type, const char *path)
{
    const char *t = xs_type_name(type);
    size_t tl = strlen(t), pl = strlen(path), n = 0;
    if (cap == 0)
        return;
    size_t k = tl < cap - 1 ? tl : cap - 1;
    memcpy(what, t, k);
    n = k;
    if (n < cap - 1)
        what[n++] = ' ';
    k = pl < cap - 1 - n ? pl : cap - 1 - n;
    memcpy(what + n, path, k);
    what[n + k] = 0;
}

/* GET_PERMS / SET_PERMS of @introduceDomain and @releaseDomain: their perms say which
 * unprivileged domains may watch them. */
static void do_special_perms(struct ctx *k, const char *name, const char *perms, int plen)
{
    int i = vxs_special_index(name);
    if (i < 0)
        return send_error(k, -ENOENT);
    unsigned bits = vxs_perms_for(vxs.spec_perms[i], vxs.spec_perms_len[i], k->c);
    struct xs_builder b;
    begin(k, &b, k->hdr->type);
    if (k->hdr->type == XS_GET_PERMS) {
        if (!(bits & VXS_PERM_READ))
            return send_error(k, -EACCES);
        vxs_perms_build(&b, vxs.spec_perms[i], vxs.spec_perms_len[i]);
        return send_built(k, &b);
    }
    if ((bits & (VXS_PERM_WRITE | VXS_PERM_OWNER)) != (VXS_PERM_WRITE | VXS_PERM_OWNER))
        return send_error(k, -EACCES);
    if ((size_t)plen > sizeof vxs.spec_perms[i])
        return send_error(k, -ENOSPC);
    memcpy(vxs.spec_perms[i], perms, (size_t)plen);
    vxs.spec_perms_len[i] = (size_t)plen;
    k->need = vxs_persist_special(i); /* kept across a restart */
    xs_build_str(&b, "OK");
    send_built(k, &b);
}

static void do_node(struct ctx *k, const uint8_t *body, size_t len)
{
    uint32_t type = k->hdr->type;
    const char *arg[2];
    const void *rest = NULL;
    size_t rest_len = 0;
    int rc;
    bool with_rest = type == XS_WRITE || type == XS_SET_PERMS;
    unsigned nargs = type == XS_DIRECTORY_PART ? 2 : 1;
    if (type == XS_DIRECTORY_PART)
        len = c_strings_len(body, len);
    rc = xs_split(body, len, arg, nargs, with_rest ? &rest : NULL, with_rest ? &rest_len : NULL);
    if (rc < 0)
        return send_error(k, -EINVAL);
    /* SET_PERMS checks its list first (C xenstored's order): the syntax, then that every
     * domain named exists (with a hypervisor; --socket-only knows no domains). */
    char perms[XENSTORE_PAYLOAD_MAX];
    int plen = 0;
    /* C counts an unprivileged domain's perms entries (the NULs) before it parses them. */
    if (type == XS_SET_PERMS && !k->c->priv) {
        unsigned lim = vxs_quota_limit(k->c->domid, VXS_Q_PERMISSIONS);
        size_t nul = 0;
        for (size_t i = 0; i < rest_len; i++)
            nul += ((const char *)rest)[i] == '\0';
        if (lim && nul > lim)
            return send_error(k, -ENOSPC);
    }
    if (type == XS_SET_PERMS) {
        plen = vxs_perms_normalise(rest, rest_len, perms, sizeof perms);
        if (plen < 0)
            return send_error(k, plen);
        if (!vxs.socket_only && (plen = vxs_perms_drop_unknown(perms, plen,
                                                               vxs_domain_exists)) < 0)
            return send_error(k, plen);
        /* --socket-only knows dom0 alone, as C xenstored without a hypervisor (under the
         * test shim): another owner is ENOENT (before the path is looked at), the other
         * entries are kept as they are (C keeps them too, marked ignored). */
        uint32_t owner = vxs_perms_owner(perms, (size_t)plen);
        if (vxs.socket_only && owner != 0 && owner != VXS_DOMID_ANY)
            return send_error(k, -ENOENT);
    }
    /* The node-size quota is on the node's record as C stores it (vxs_quota_node_size). */
    char path[XENSTORE_ABS_PATH_MAX + 1];
    rc = vxs_path_resolve(k->c, arg[0], path, arg[0][0] == '@', NULL);
    if (rc < 0 || (path[0] == '@' && type != XS_GET_PERMS && type != XS_SET_PERMS))
        return send_error(k, rc < 0 ? rc : -EINVAL);
    if ((type == XS_GET_PERMS || type == XS_SET_PERMS) && arg[0][0] == '@')
        return do_special_perms(k, arg[0], perms, plen);
    uint32_t offset = type == XS_DIRECTORY_PART ? c_atou(arg[1]) : 0;

    rc = ctx_open(k);
    if (rc < 0)
        return send_error(k, rc);
    struct xs_builder b;
    begin(k, &b, type);
    bool modifies = false;
    void *data = NULL;
    size_t dlen = 0;
    char **names = NULL;
    size_t nnames = 0;
    switch (type) {
    case XS_READ:
        rc = vxs_node_read(k->c, k->x, path, &data, &dlen);
        if (rc == 0)
            xs_build_raw(&b, data, dlen);
        break;
    case XS_GET_PERMS:
        rc = vxs_node_get_perms(k->c, k->x, path, &data, &dlen);
        if (rc == 0)
            vxs_perms_build(&b, data, dlen);
        break;
    case XS_DIRECTORY:
        rc = vxs_node_list(k->c, k->x, path, &names, &nnames);
        for (size_t i = 0; rc == 0 && i < nnames; i++)
            xs_build_str(&b, names[i]);
        break;
    case XS_DIRECTORY_PART: {
        /* As C xenstored: the offset is a byte offset into the NUL-separated child list;
         * past its end comes an empty list; the last chunk ends with an extra NUL. */
        struct vs_stat st;
        rc = vxs_node_list(k->c, k->x, path, &names, &nnames); /* checks perms (C's order) */
        if (rc == 0)
            rc = vs_txn_stat(k->x, path, &st);
        if (rc < 0)
            break;
        char gen[24];
        snprintf(gen, sizeof gen, "%llu", (unsigned long long)st.version);
        xs_build_str(&b, gen);
        size_t childlen = 0;
        for (size_t i = 0; i < nnames; i++)
            childlen += strlen(names[i]) + 1;
        if (offset >= childlen) {
            xs_build_str(&b, "");
            break;
        }
        char *all = malloc(childlen);
        if (!all) {
            rc = -ENOMEM;
            break;
        }
        size_t pos = 0;
        for (size_t i = 0; i < nnames; i++) {
            size_t l = strlen(names[i]) + 1;
            memcpy(all + pos, names[i], l);
            pos += l;
        }
        size_t maxlen = XENSTORE_PAYLOAD_MAX - (strlen(gen) + 1) - 1, n = 0;
        const char *child = all + offset;
        while (n + strlen(child) < maxlen) {
            n += strlen(child) + 1;
            child += strlen(child) + 1;
            if (offset + n == childlen)
                break;
        }
        xs_build_raw(&b, all + offset, n);
        if (offset + n == childlen)
            xs_build_raw(&b, "", 1);
        free(all);
        break;
    }
    case XS_WRITE:
        modifies = true;
        rc = vxs_node_write(k->c, k->x, k->ev, path, rest, rest_len);
        if (rc == 0)
            xs_build_str(&b, "OK");
        break;
    case XS_MKDIR:
        modifies = true;
        rc = vxs_node_mkdir(k->c, k->x, k->ev, path);
        if (rc == 0)
            xs_build_str(&b, "OK");
        break;
    case XS_RM:
        modifies = true;
        rc = vxs_node_rm(k->c, k->x, k->ev, path);
        if (rc == 0)
            xs_build_str(&b, "OK");
        break;
    case XS_SET_PERMS:
        modifies = true;
        rc = vxs_node_set_perms(k->c, k->x, k->ev, path, perms, (size_t)plen);
        if (rc == 0)
            xs_build_str(&b, "OK");
        break;
    }
    free(data);
    vs_names_free(names, nnames);
    char what[64 + XENSTORE_ABS_PATH_MAX];
    describe(what, sizeof what, type, path);
    rc = ctx_close(k, rc, modifies, what);
    if (rc < 0)
        return send_error(k, rc);
    send_built(k, &b);
}

/* A domid argument read as C xenstored reads it (atoi: "abc" is 0): clients rely on the
 * replies, not on the strictness. */
static int parse_domid(const uint8_t *body, size_t len, uint32_t *domid)
{
    const char *arg[1];
    if (xs_split(body, len, arg, 1, NULL, NULL) < 0)
        return -EINVAL;
    *domid = c_atou(arg[0]);
    return 0;
}

/* INTRODUCE, RELEASE, RESUME, SET_TARGET: the toolstack's (privileged) business. */
static void do_domain(struct ctx *k, const uint8_t *body, size_t len)
{
    uint32_t type = k->hdr->type;
    const char *arg[3];
    unsigned nargs = type == XS_INTRODUCE ? 3 : type == XS_SET_TARGET ? 2 : 1;
    if (!k->c->priv)
        return send_error(k, -EACCES);
    /* INTRODUCE and SET_TARGET ignore what follows their arguments, as C's get_strings. */
    const void *rest;
    size_t rest_len;
    if (xs_split(body, len, arg, nargs, nargs > 1 ? &rest : NULL, &rest_len) < 0)
        return send_error(k, -EINVAL);
    /* Domids are read with C's atoi ("abc" is 0, which RELEASE and RESUME refuse). */
    uint32_t domid = c_atou(arg[0]), v = 0;
    int rc;
    if (type == XS_INTRODUCE) {
        /* C 4.17 ignores the gfn (ours is only a fallback: the ring is granted at ref 1)
         * and reads the port with atoi; only port 0 is refused here. */
        unsigned long long gfn = strtoull(arg[1], NULL, 10);
        v = c_atou(arg[2]);
        if (v == 0)
            return send_error(k, -EINVAL);
        rc = vxs_domain_introduce(k->c, domid, gfn, v);
    } else if (type == XS_RELEASE) {
        rc = vxs_domain_release(domid);
    } else if (type == XS_RESUME) {
        rc = vxs_domain_resume(domid);
    } else {
        rc = vxs_domain_set_target(domid, c_atou(arg[1]));
    }
    k->need = vxs.next_seq;
    if (rc < 0)
        return send_error(k, rc);
    send_str(k, "OK");
}

static void do_watch(struct ctx *k, const uint8_t *body, size_t len)
{
    len = c_strings_len(body, len);
    size_t n = xs_strings_count(body, len);
    const char *arg[3];
    if ((n != 2 && !(n == 3 && k->hdr->type == XS_WATCH)) ||
        xs_split(body, len, arg, (unsigned)n, NULL, NULL) < 0)
        return send_error(k, -EINVAL);
    int rc;
    k->need = vxs.next_seq;
    if (k->hdr->type == XS_WATCH) {
        uint32_t depth = 0;
        if (n == 3 && xs_parse_u32(arg[2], &depth) < 0)
            return send_error(k, -EINVAL);
        rc = vxs_watch_add(k->c, arg[0], arg[1], n == 3 ? (int)(depth > 1000 ? 1000 : depth) : -1);
        if (rc == -EEXIST && k->c->replay) {
            /* Added before a restart, restored since (vxs_ring.h); its first event may have
             * died with the reply, so it goes again. */
            send_str(k, "OK");
            return vxs_watch_send(k->c, arg[0], arg[1], k->need);
        }
        if (rc < 0)
            return send_error(k, rc);
        struct vxs_watch *w = vxs_watch_newest(k->c);
        k->need = vxs_persist_watch(k->c, w, true);
        send_str(k, "OK");
        vxs_watch_first_event(k->c, w, k->need);
    } else {
        rc = vxs_watch_del(k->c, arg[0], arg[1]);
        if (rc == -ENOENT && k->c->replay)
            return send_str(k, "OK"); /* removed before a restart (vxs_ring.h) */
        if (rc < 0)
            return send_error(k, rc);
        struct vxs_watch gone = {.given = (char *)arg[0], .token = (char *)arg[1]};
        k->need = vxs_persist_watch(k->c, &gone, false);
        send_str(k, "OK");
    }
}

/* Drop c's transactions, and what the quotas noted about them. */
static void txn_clear(struct vxs_conn *c)
{
    for (struct vxs_tx *t = c->txs; t; t = t->next) {
        vxs_quota_txn_forget(t->x);
        vxs_wrl_transactions(-1);
    }
    vxs_txn_clear(c);
}

/* GET/SET_FEATURE, GET/SET_QUOTA (vxs_quota_req.c). */
static void do_quota(struct ctx *k, const uint8_t *body, size_t len)
{
    char *text = NULL;
    size_t tlen = 0;
    int rc;
    switch (k->hdr->type) {
    case XS_CODEC_GET_FEATURE:
        rc = vxs_quota_get_feature(k->c, body, len, &text, &tlen);
        break;
    case XS_CODEC_SET_FEATURE:
        rc = vxs_quota_set_feature(k->c, body, len);
        break;
    case XS_CODEC_GET_QUOTA:
        rc = vxs_quota_get_quota(k->c, body, len, &text, &tlen);
        break;
    default:
        rc = vxs_quota_set_quota(k->c, body, len);
        break;
    }
    if (rc < 0)
        return send_error(k, rc);
    if (!text)
        return send_str(k, "OK");
    struct xs_builder b;
    begin(k, &b, k->hdr->type);
    xs_build_raw(&b, text, tlen);
    free(text);
    send_built(k, &b);
}

static void dispatch(struct vxs_conn *c, const struct xsd_sockmsg *hdr, const uint8_t *body);

void vxs_dispatch(struct vxs_conn *c, const struct xsd_sockmsg *hdr, const uint8_t *body)
{
    uint64_t serial = c->out_serial;
    vxs_cause_begin(c);
    dispatch(c, hdr, body);
    vxs_cause_end(c, serial);
}

static void dispatch(struct vxs_conn *c, const struct xsd_sockmsg *hdr, const uint8_t *body)
{
    static struct ctx k;
    memset(&k, 0, offsetof(struct ctx, out));
    k.c = c;
    k.hdr = hdr;
    k.need = vxs.next_seq;
    size_t len = hdr->len;
    uint32_t domid;
    int rc;
    if (vxs.verbose)
        vxs_log("conn%u: %s tx %u len %u", c->id, xs_type_name(hdr->type), hdr->tx_id,
                hdr->len);
    /* C xenstored's order: unknown type (ENOSYS), privileged-only type (EACCES), unknown
     * transaction (ENOENT), then the request itself. */
    bool priv_only = hdr->type == XS_CONTROL || hdr->type == XS_INTRODUCE ||
                     hdr->type == XS_RELEASE || hdr->type == XS_IS_DOMAIN_INTRODUCED ||
                     hdr->type == XS_RESUME || hdr->type == XS_SET_TARGET ||
                     hdr->type == XS_CODEC_SET_FEATURE || hdr->type == XS_CODEC_GET_QUOTA ||
                     hdr->type == XS_CODEC_SET_QUOTA;
    if (priv_only && !c->priv && xs_type_known(hdr->type) && hdr->type != XS_ERROR &&
        hdr->type != XS_WATCH_EVENT)
        return send_error(&k, -EACCES);
    if (hdr->tx_id && hdr->type != XS_WATCH && hdr->type != XS_UNWATCH &&
        xs_type_known(hdr->type) && hdr->type != XS_ERROR && hdr->type != XS_WATCH_EVENT &&
        hdr->type != XS_TRANSACTION_END && !vxs_txn_find(c, hdr->tx_id))
        /* A ring reconnected after our restart may still use a transaction of the old
         * daemon: it failed, and EAGAIN makes the client start it again. */
        return send_error(&k, vxs_domain_old_txid(c, hdr->tx_id) ? -EAGAIN : -ENOENT);
    switch (hdr->type) {
    case XS_READ:
    case XS_WRITE:
    case XS_MKDIR:
    case XS_RM:
    case XS_DIRECTORY:
    case XS_DIRECTORY_PART:
    case XS_GET_PERMS:
    case XS_SET_PERMS:
        return do_node(&k, body, len);
    case XS_WATCH:
    case XS_UNWATCH:
        return do_watch(&k, body, len);
    case XS_TRANSACTION_START: {
        if (hdr->tx_id)
            return send_error(&k, vxs_txn_find(c, hdr->tx_id) ? -EBUSY : -ENOENT);
        uint32_t id;
        /* A per-domain transactions quota (SET_QUOTA) applies on top of -t; as C 4.17,
         * ENOSPC only with more open than the limit (one beyond it opens). */
        if (c->ntxs > 0 && vxs_quota_exceeds(c, VXS_Q_TRANSACTIONS, c->ntxs - 1))
            return send_error(&k, -ENOSPC);
        rc = vxs_txn_start(c, &id);
        if (rc < 0)
            return send_error(&k, rc);
        vxs_quota_txn_track(vxs_txn_find(c, id)->x, c, true);
        vxs_wrl_transactions(1);
        struct xs_builder b;
        begin(&k, &b, hdr->type);
        xs_build_u32(&b, id);
        return send_built(&k, &b);
    }
    case XS_TRANSACTION_END: {
        /* C's order: an unknown transaction id first (ENOENT, before the request is looked
         * at), then the argument (EINVAL), then tx_id 0 (ENOENT). */
        struct vxs_tx *t = vxs_txn_find(c, hdr->tx_id);
        const char *arg[1];
        if (hdr->tx_id && !t) {
            /* Handled again after a restart (vxs_ring.h): if its commit was made before, that
             * is the answer; otherwise the transaction died with the old daemon (EAGAIN). */
            bool old = vxs_domain_old_txid(c, hdr->tx_id);
            if (old && c->replay && len >= 1 && body[0] == 'T' &&
                vxs_persist_txn_committed(c, hdr->tx_id))
                return send_str(&k, "OK");
            return send_error(&k, old ? -EAGAIN : -ENOENT);
        }
        if (xs_split(body, len, arg, 1, NULL, NULL) < 0 ||
            (strcmp(arg[0], "T") != 0 && strcmp(arg[0], "F") != 0))
            return send_error(&k, -EINVAL);
        if (!t)
            return send_error(&k, -ENOENT);
        char what[96];
        vxs_persist_txn_message(what, sizeof what, c, t->id);
        uint64_t need;
        struct vs_txn *x = t->x; /* after the end only a key for the node accounting */
        bool commit = arg[0][0] == 'T';
        /* C's order: a failed transaction (ENOMEM), then the node quota (ENOSPC), then
         * the conflict check; the transaction is over in every case. */
        int qrc = commit ? vxs_quota_txn_check(x) : 0;
        rc = vxs_txn_end(c, t, commit && qrc == 0, what, &need);
        if (commit && qrc == 0 && rc == 0) {
            vxs_quota_txn_apply(x);
            vxs_wrl_debit(c, true, 1);
        }
        vxs_quota_txn_forget(x);
        vxs_wrl_transactions(-1);
        k.need = need ? need : vxs.next_seq;
        if (qrc < 0 || rc < 0)
            return send_error(&k, qrc < 0 ? qrc : rc);
        return send_str(&k, "OK");
    }
    case XS_GET_DOMAIN_PATH: {
        if (parse_domid(body, len, &domid) < 0)
            return send_error(&k, -EINVAL);
        char p[40];
        snprintf(p, sizeof p, "/local/domain/%u", domid);
        return send_str(&k, p);
    }
    case XS_IS_DOMAIN_INTRODUCED:
        if (parse_domid(body, len, &domid) < 0)
            return send_error(&k, -EINVAL);
        /* dom0 always is, even with --socket-only (C xenstored connects it at start). */
        return send_str(&k, domid == 0 || domid == 0x7FF0u /* DOMID_SELF */ ||
                                    vxs_domain_introduced(domid)
                                ? "T"
                                : "F");
    case XS_INTRODUCE:
    case XS_RELEASE:
    case XS_RESUME:
    case XS_SET_TARGET:
        return do_domain(&k, body, len);
    case XS_CONTROL: {
        char *text = NULL;
        size_t tlen = 0;
        rc = vxs_control(c, body, len, &text, &tlen);
        if (rc < 0)
            return send_error(&k, rc);
        struct xs_builder b;
        begin(&k, &b, hdr->type);
        xs_build_raw(&b, text, tlen);
        free(text);
        return send_built(&k, &b);
    }
    case XS_RESET_WATCHES:
        vxs_watch_clear(c);
        txn_clear(c);
        k.need = vxs_persist_watches_clear(c);
        return send_str(&k, "OK");
    case XS_CODEC_GET_FEATURE:
    case XS_CODEC_SET_FEATURE:
    case XS_CODEC_GET_QUOTA:
    case XS_CODEC_SET_QUOTA:
        return do_quota(&k, body, len);
    default:
        return send_error(&k, -ENOSYS);
    }
}

void vxs_conn_cleanup(struct vxs_conn *c)
{
    vxs_watch_clear(c);
    txn_clear(c);
}
