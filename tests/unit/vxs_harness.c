/* An in-process vxenstored for unit tests: see vxs_harness.h. Also the fake hypervisor
 * (every vxs_xen.h function), so that INTRODUCE, RELEASE and SET_TARGET run their real code
 * paths on host memory. */
#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/vxs_harness.h"
#include "xenstore/vxs_xen.h"

/* ---- the fake hypervisor -------------------------------------------------------------- */

#define VH_MAX_DOMID 256

static bool dom_exists[VH_MAX_DOMID];
static int next_port = 10;

void vh_set_domain_exists(uint32_t domid, bool exists)
{
    assert_true(domid < VH_MAX_DOMID);
    dom_exists[domid] = exists;
}

int vxs_xen_open(void)
{
    return 0;
}

bool vxs_xen_available(void)
{
    return true;
}

int vxs_xen_evtchn_fd(void)
{
    return -1;
}

/* As Xen: a guest's port can be bound by one local port at a time (EINVAL while bound). */
#define VH_MAX_BINDS 64
static struct {
    int local;
    uint32_t domid, remote;
} binds[VH_MAX_BINDS];

int vxs_xen_bind(uint32_t domid, uint32_t remote_port)
{
    int free_slot = -1;
    for (int i = 0; i < VH_MAX_BINDS; i++) {
        if (binds[i].local && binds[i].domid == domid && binds[i].remote == remote_port)
            return -EINVAL;
        if (!binds[i].local && free_slot < 0)
            free_slot = i;
    }
    if (free_slot >= 0) {
        binds[free_slot].local = next_port;
        binds[free_slot].domid = domid;
        binds[free_slot].remote = remote_port;
    }
    return next_port++;
}

void vxs_xen_unbind(int local_port)
{
    for (int i = 0; i < VH_MAX_BINDS; i++)
        if (local_port > 0 && binds[i].local == local_port)
            binds[i].local = 0;
}

static unsigned long notifies;

void vxs_xen_notify(int local_port)
{
    (void)local_port;
    notifies++;
}

unsigned long vh_notifies(void)
{
    return notifies;
}

int vxs_xen_next_pending(void)
{
    return -1;
}

int vxs_xen_bind_dom_exc(void)
{
    return next_port++;
}

/* Ring pages kept by vh_stop (vh_keep_rings): a guest's page outlives a killed daemon. */
static void *kept_page[VH_MAX_DOMID];
static bool keep_rings;
/* Ring connections' output stays queued for vh_round_output (vh_rings_keep_output). */
static bool rings_keep_output;

void vh_rings_keep_output(bool keep)
{
    rings_keep_output = keep;
}

void vh_keep_rings(bool keep)
{
    keep_rings = keep;
}

struct xenstore_domain_interface *vh_page_before_introduce(uint32_t domid)
{
    assert_true(domid < VH_MAX_DOMID);
    if (!kept_page[domid])
        kept_page[domid] = calloc(1, 4096);
    return kept_page[domid];
}

void *vxs_xen_map_ring(uint32_t domid, uint64_t gfn, enum vxs_map_kind *kind)
{
    (void)gfn;
    if (domid >= VH_MAX_DOMID || !dom_exists[domid])
        return NULL;
    *kind = VXS_MAP_GRANT;
    void *kept = kept_page[domid];
    kept_page[domid] = NULL;
    return kept ? kept : calloc(1, 4096);
}

void vxs_xen_unmap_ring(void *page, enum vxs_map_kind kind)
{
    (void)kind;
    free(page);
}

void *vxs_xen_map_dom0(int *port)
{
    (void)port;
    return NULL;
}

enum vxs_dom_state vxs_xen_domain_state(uint32_t domid)
{
    if (domid == 0)
        return VXS_DOM_RUNNING;
    return domid < VH_MAX_DOMID && dom_exists[domid] ? VXS_DOM_RUNNING : VXS_DOM_GONE;
}

/* ---- start and stop ------------------------------------------------------------------- */

static struct vh_client *clients;

void vh_start(const char *db, const char *const *args)
{
    memset(&vxs, 0, sizeof vxs);
    memset(dom_exists, 0, sizeof dom_exists);
    memset(binds, 0, sizeof binds); /* a new daemon: the old one's bindings died with it */
    dom_exists[0] = true;
    clients = NULL;
    char *argv[64];
    int argc = 0;
    argv[argc++] = "vxenstored";
    for (size_t i = 0; args && args[i]; i++) {
        assert_true(argc < 63);
        argv[argc++] = (char *)args[i];
    }
    argv[argc] = NULL;
    struct vxs_opts o;
    assert_int_equal(vxs_opts_parse(argc, argv, &o), 0);
    /* As vxs_main.c: the special nodes' perms, then the store. */
    memcpy(vxs.spec_perms[0], "n0", 3);
    memcpy(vxs.spec_perms[1], "n0", 3);
    vxs.spec_perms_len[0] = vxs.spec_perms_len[1] = 3;
    assert_int_equal(vxs_store_open(db ? db : ":memory:"), 0);
}

void vh_stop(void)
{
    while (vxs.conns)
        vxs_conn_free(vxs.conns);
    for (uint32_t i = 0; i < VH_MAX_DOMID; i++) {
        free(kept_page[i]);
        kept_page[i] = NULL;
    }
    while (vxs.domains) {
        struct vxs_domain *d = vxs.domains;
        vxs.domains = d->next;
        if (keep_rings && d->domid < VH_MAX_DOMID)
            kept_page[d->domid] = d->page;
        else
            free(d->page);
        free(d);
    }
    while (clients) {
        struct vh_client *cl = clients;
        clients = cl->next;
        free(cl->events);
        free(cl);
    }
    vs_store_close(vxs.st);
    vxs.os->ops->close(vxs.os);
    free(vxs.done);
    memset(&vxs, 0, sizeof vxs);
}

static struct vh_client *client_new(struct vxs_conn *c, uint32_t domid)
{
    struct vh_client *cl = calloc(1, sizeof *cl);
    assert_non_null(cl);
    cl->events = calloc(VH_MAX_EVENTS, sizeof *cl->events);
    assert_non_null(cl->events);
    cl->c = c;
    cl->domid = domid;
    cl->next_req = 1;
    cl->next = clients;
    clients = cl;
    return cl;
}

struct vh_client *vh_dom0(void)
{
    /* A socket connection needs an fd to close when it goes: /dev/null does. */
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    struct vxs_conn *c = vxs_conn_new_socket(fd);
    assert_non_null(c);
    return client_new(c, 0);
}

/* ---- one poll round ------------------------------------------------------------------- */

static struct vh_client *client_of(const struct vxs_conn *c)
{
    for (struct vh_client *cl = clients; cl; cl = cl->next)
        if (cl->c == c)
            return cl;
    return NULL;
}

static void keep_event(struct vh_client *cl, const struct vxs_out *o)
{
    if (cl->nev == VH_MAX_EVENTS) {
        cl->lost++;
        return;
    }
    struct vh_msg *m = &cl->events[(cl->ev_first + cl->nev++) % VH_MAX_EVENTS];
    const struct xsd_sockmsg *h = (const void *)o->data;
    m->type = h->type;
    m->req_id = h->req_id;
    m->tx_id = h->tx_id;
    m->len = h->len;
    memcpy(m->body, o->data + sizeof *h, h->len);
    m->body[h->len] = 0;
}

/* The end of a poll round: flush the store (group commit), take what may leave from every
 * connection (the requester's reply into *reply, events into their clients' queues), free
 * the connections that died. Returns the number of replies found for `req`. */
static int round_end(struct vh_client *req, struct vh_msg *reply)
{
    int replies = 0;
    if (vxs.durable_upto < vxs.next_seq)
        assert_int_equal(vxs.os->ops->flush(vxs.os), 0);
    for (struct vxs_conn *c = vxs.conns, *next; c; c = next) {
        next = c->next;
        struct vh_client *cl = client_of(c);
        struct vxs_out *o;
        /* (vh_rings_keep_output: a ring's output is for its ring page) */
        while ((!rings_keep_output || !c->dom || cl == req) &&
               (o = vxs_conn_take(c)) != NULL) {
            const struct xsd_sockmsg *h = (const void *)o->data;
            assert_int_equal(o->len, sizeof *h + h->len);
            if (cl && h->type == XS_WATCH_EVENT) {
                keep_event(cl, o);
            } else if (cl && cl == req) {
                replies++;
                if (reply) {
                    reply->type = h->type;
                    reply->req_id = h->req_id;
                    reply->tx_id = h->tx_id;
                    reply->len = h->len;
                    memcpy(reply->body, o->data + sizeof *h, h->len);
                    reply->body[h->len] = 0;
                }
            }
            free(o);
        }
        if (c->dead) {
            if (cl)
                cl->c = NULL;
            vxs_conn_free(c);
        }
    }
    return replies;
}

/* ---- requests ------------------------------------------------------------------------- */

int vh_req(struct vh_client *cl, uint32_t type, uint32_t tx, const void *body, size_t len,
           struct vh_msg *reply)
{
    static struct vh_msg scratch;
    if (!reply)
        reply = &scratch;
    assert_non_null(cl->c);
    assert_true(len <= XENSTORE_PAYLOAD_MAX);
    /* As the connection's reader hands a request over: header, payload, a NUL after it. */
    static uint8_t buf[XENSTORE_PAYLOAD_MAX + 1];
    memcpy(buf, body, len);
    buf[len] = 0;
    struct xsd_sockmsg hdr = {.type = type, .req_id = cl->next_req++, .tx_id = tx,
                              .len = (uint32_t)len};
    vxs_dispatch(cl->c, &hdr, buf);
    int n = round_end(cl, reply);
    if (n != 1)
        return -EPROTO;
    assert_int_equal(reply->req_id, hdr.req_id);
    if (reply->type == XS_ERROR)
        return xs_decode_error(reply->body, reply->len);
    if (reply->type != type)
        return -EPROTO;
    return 0;
}

int vh_reqv(struct vh_client *cl, uint32_t type, uint32_t tx, const char *const *strs,
            size_t nstrs, const char *raw, struct vh_msg *reply)
{
    static char body[XENSTORE_PAYLOAD_MAX];
    size_t len = 0;
    for (size_t i = 0; i < nstrs; i++) {
        size_t l = strlen(strs[i]) + 1;
        assert_true(len + l <= sizeof body);
        memcpy(body + len, strs[i], l);
        len += l;
    }
    if (raw) {
        size_t l = strlen(raw);
        assert_true(len + l <= sizeof body);
        memcpy(body + len, raw, l);
        len += l;
    }
    return vh_req(cl, type, tx, body, len, reply);
}

static struct vh_msg rep;

int vh_read(struct vh_client *cl, uint32_t tx, const char *path, char *out)
{
    int rc = vh_reqv(cl, XS_READ, tx, &path, 1, NULL, &rep);
    if (rc == 0 && out)
        memcpy(out, rep.body, rep.len + 1);
    return rc;
}

int vh_write(struct vh_client *cl, uint32_t tx, const char *path, const char *val)
{
    return vh_reqv(cl, XS_WRITE, tx, &path, 1, val, NULL);
}

int vh_mkdir(struct vh_client *cl, uint32_t tx, const char *path)
{
    return vh_reqv(cl, XS_MKDIR, tx, &path, 1, NULL, NULL);
}

int vh_rm(struct vh_client *cl, uint32_t tx, const char *path)
{
    return vh_reqv(cl, XS_RM, tx, &path, 1, NULL, NULL);
}

/* NUL-separated strings -> "a,b,c". */
static void join(const struct vh_msg *m, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < m->len; i++) {
        char ch = m->body[i];
        if (ch == 0 && i + 1 == m->len)
            break;
        out[o++] = ch ? ch : ',';
    }
    out[o] = 0;
}

int vh_dir(struct vh_client *cl, uint32_t tx, const char *path, char *out)
{
    int rc = vh_reqv(cl, XS_DIRECTORY, tx, &path, 1, NULL, &rep);
    if (rc == 0 && out)
        join(&rep, out);
    return rc;
}

int vh_get_perms(struct vh_client *cl, uint32_t tx, const char *path, char *out)
{
    int rc = vh_reqv(cl, XS_GET_PERMS, tx, &path, 1, NULL, &rep);
    if (rc == 0 && out)
        join(&rep, out);
    return rc;
}

int vh_set_perms(struct vh_client *cl, uint32_t tx, const char *path, const char *perms)
{
    char body[XENSTORE_PAYLOAD_MAX];
    size_t pl = strlen(path) + 1, l = strlen(perms) + 1;
    assert_true(pl + l <= sizeof body);
    memcpy(body, path, pl);
    memcpy(body + pl, perms, l);
    for (size_t i = pl; i < pl + l; i++)
        if (body[i] == ',')
            body[i] = 0;
    return vh_req(cl, XS_SET_PERMS, tx, body, pl + l, NULL);
}

int vh_tx_start(struct vh_client *cl, uint32_t *tx)
{
    const char *empty = "";
    int rc = vh_reqv(cl, XS_TRANSACTION_START, 0, &empty, 1, NULL, &rep);
    if (rc == 0)
        assert_int_equal(xs_decode_u32(rep.body, rep.len, tx), 0);
    return rc;
}

int vh_tx_end(struct vh_client *cl, uint32_t tx, bool commit)
{
    const char *arg = commit ? "T" : "F";
    return vh_reqv(cl, XS_TRANSACTION_END, tx, &arg, 1, NULL, NULL);
}

int vh_watch(struct vh_client *cl, const char *path, const char *token)
{
    const char *a[2] = {path, token};
    return vh_reqv(cl, XS_WATCH, 0, a, 2, NULL, NULL);
}

int vh_unwatch(struct vh_client *cl, const char *path, const char *token)
{
    const char *a[2] = {path, token};
    return vh_reqv(cl, XS_UNWATCH, 0, a, 2, NULL, NULL);
}

bool vh_event(struct vh_client *cl, char *path, char *token)
{
    if (cl->nev == 0)
        return false;
    struct vh_msg *m = &cl->events[cl->ev_first];
    cl->ev_first = (cl->ev_first + 1) % VH_MAX_EVENTS;
    cl->nev--;
    const char *p, *t;
    assert_int_equal(xs_decode_watch_event(m->body, m->len, &p, &t), 0);
    if (path)
        strcpy(path, p);
    if (token)
        strcpy(token, t);
    return true;
}

size_t vh_events_drop(struct vh_client *cl)
{
    size_t n = cl->nev;
    cl->nev = 0;
    cl->ev_first = 0;
    return n;
}

int vh_set_target(struct vh_client *dom0, uint32_t domid, uint32_t target)
{
    char a[16], b[16];
    snprintf(a, sizeof a, "%u", domid);
    snprintf(b, sizeof b, "%u", target);
    const char *args[2] = {a, b};
    return vh_reqv(dom0, XS_SET_TARGET, 0, args, 2, NULL, NULL);
}

int vh_release(struct vh_client *dom0, uint32_t domid)
{
    char a[16];
    snprintf(a, sizeof a, "%u", domid);
    const char *args[1] = {a};
    return vh_reqv(dom0, XS_RELEASE, 0, args, 1, NULL, NULL);
}

struct vh_client *vh_domain(uint32_t domid)
{
    vh_set_domain_exists(domid, true);
    struct vh_client *d0 = NULL;
    for (struct vh_client *cl = clients; cl; cl = cl->next)
        if (cl->domid == 0 && cl->c && cl->c->priv)
            d0 = cl;
    if (!d0)
        d0 = vh_dom0();
    char id[16], gfn[16], port[16];
    snprintf(id, sizeof id, "%u", domid);
    snprintf(gfn, sizeof gfn, "%u", 0x1000u + domid);
    snprintf(port, sizeof port, "%u", 100u + domid);
    const char *args[3] = {id, gfn, port};
    assert_int_equal(vh_reqv(d0, XS_INTRODUCE, 0, args, 3, NULL, NULL), 0);
    for (struct vxs_domain *d = vxs.domains; d; d = d->next)
        if (d->domid == domid && d->conn) {
            struct vh_client *cl = client_of(d->conn);
            return cl ? cl : client_new(d->conn, domid);
        }
    fail_msg("domain %u introduced but has no connection", domid);
    return NULL;
}

struct vh_client *vh_domain_with_home(struct vh_client *d0, uint32_t domid)
{
    struct vh_client *d = vh_domain(domid);
    char home[32], owner[16];
    snprintf(home, sizeof home, "/local/domain/%u", domid);
    snprintf(owner, sizeof owner, "n%u", domid);
    assert_int_equal(vh_mkdir(d0, 0, home), 0);
    assert_int_equal(vh_set_perms(d0, 0, home, owner), 0);
    return d;
}

/* ---- a guest's side of its ring, by hand ---------------------------------------------- */

struct xenstore_domain_interface *vh_ring(uint32_t domid)
{
    for (struct vxs_domain *d = vxs.domains; d; d = d->next)
        if (d->domid == domid && d->page)
            return d->page;
    fail_msg("domain %u has no ring", domid);
    return NULL;
}

void vh_guest_put(uint32_t domid, const void *bytes, size_t len)
{
    struct xenstore_domain_interface *i = vh_ring(domid);
    assert_true(len <= XENSTORE_RING_SIZE - (i->req_prod - i->req_cons));
    for (size_t k = 0; k < len; k++)
        i->req[MASK_XENSTORE_IDX(i->req_prod + k)] = ((const char *)bytes)[k];
    i->req_prod += (XENSTORE_RING_IDX)len;
}

void vh_guest_send(uint32_t domid, uint32_t type, uint32_t req_id, const void *body,
                   size_t len)
{
    struct xsd_sockmsg h = {.type = type, .req_id = req_id, .len = (uint32_t)len};
    vh_guest_put(domid, &h, sizeof h);
    vh_guest_put(domid, body, len);
}

uint32_t vh_guest_reply(uint32_t domid, char *body)
{
    struct xenstore_domain_interface *i = vh_ring(domid);
    struct xsd_sockmsg h;
    if (i->rsp_prod - i->rsp_cons < sizeof h)
        return 0;
    for (size_t k = 0; k < sizeof h; k++)
        ((uint8_t *)&h)[k] = (uint8_t)i->rsp[MASK_XENSTORE_IDX(i->rsp_cons + k)];
    if (i->rsp_prod - i->rsp_cons < sizeof h + h.len)
        return 0;
    for (size_t k = 0; k < h.len; k++)
        body[k] = i->rsp[MASK_XENSTORE_IDX(i->rsp_cons + sizeof h + k)];
    body[h.len] = 0;
    i->rsp_cons += (XENSTORE_RING_IDX)(sizeof h + h.len);
    return h.req_id;
}

void vh_guest_event(uint32_t domid)
{
    for (struct vxs_domain *d = vxs.domains; d; d = d->next)
        if (d->domid == domid && d->conn) {
            vxs_conn_input(d->conn);
            return;
        }
    fail_msg("domain %u has no connection", domid);
}

void vh_round_output(void)
{
    if (vxs.durable_upto < vxs.next_seq)
        assert_int_equal(vxs.os->ops->flush(vxs.os), 0);
    for (struct vxs_conn *c = vxs.conns; c; c = c->next)
        if (!c->dead && c->dom)
            vxs_conn_flush(c);
}

/* ---- a daemon on disk, killed and started again --------------------------------------- */

static char disk_dir[64];
static const char *const *disk_args;

void vh_start_disk(const char *prefix, const char *const *args)
{
    snprintf(disk_dir, sizeof disk_dir, "/tmp/%s.XXXXXX", prefix);
    assert_non_null(mkdtemp(disk_dir));
    disk_args = args;
    vh_start(disk_dir, args);
}

void vh_restart(void)
{
    bool exists[VH_MAX_DOMID];
    memcpy(exists, dom_exists, sizeof exists);
    vh_stop();
    vh_start(disk_dir, disk_args);
    memcpy(dom_exists, exists, sizeof exists);
    vxs_domain_restore();
}

/* The bytes of the pack's file now (what a SIGKILL leaves: the records the pack still
 * buffers are not in it), written back after vh_stop's close has flushed those. */
void vh_kill(void)
{
    char path[96];
    snprintf(path, sizeof path, "%s/xenstore.pack", disk_dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size >= 0);
    rewind(f);
    uint8_t *bytes = malloc((size_t)size + 1);
    assert_non_null(bytes);
    assert_int_equal(fread(bytes, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    bool exists[VH_MAX_DOMID];
    memcpy(exists, dom_exists, sizeof exists);
    vh_stop();
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, (size_t)size, f), (size_t)size);
    assert_int_equal(fclose(f), 0);
    free(bytes);
    vh_start(disk_dir, disk_args);
    memcpy(dom_exists, exists, sizeof exists);
    vxs_domain_restore();
}

void vh_finish_disk(void)
{
    vh_keep_rings(false);
    vh_rings_keep_output(false);
    vh_stop();
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", disk_dir);
    assert_int_equal(system(cmd), 0);
}
