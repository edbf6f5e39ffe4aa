/* The xenstored bench's xl create + xl destroy mix (see xenstored_bench.c). */
#include "xenstored_bench.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- xl create + xl destroy ----------------------------------------------------------- */

struct mixdom {
    int dom;
    char dp[48];          /* /local/domain/D */
    char vm[64];          /* /vm/UUID */
    char lx[32];          /* /libxl/D */
};

#define TRY(x)                  \
    do {                        \
        int rc_ = (x);          \
        if (rc_ != XR_OK)        \
            return rc_;         \
    } while (0)

static int wr(struct conn *c, uint32_t tx, const char *a, const char *b, const char *val)
{
    char p[160];
    snprintf(p, sizeof(p), "%s/%s", a, b);
    return xs_write(c, tx, p, val);
}

/* libxl__domain_make: the domain's directories and their permissions. */
static int mk_domain(struct conn *c, uint32_t tx, const void *arg)
{
    const struct mixdom *m = arg;
    char owner[16], rd[24], p[160];
    /* libxl makes the guest the owner ("b<domid>"); C xenstored refuses an owner that is not
     * a running domain (ENOENT), and without a hypervisor only dom0 runs: dom0 owns, the
     * guest gets an entry of the same size */
    snprintf(owner, sizeof(owner), "n0 b%d", m->dom);
    snprintf(rd, sizeof(rd), "n0 r%d", m->dom);
    TRY(xs_rm(c, tx, m->dp));
    TRY(xs_mkdir(c, tx, m->dp));
    TRY(xs_set_perms(c, tx, m->dp, rd));
    TRY(xs_rm(c, tx, m->vm));
    TRY(xs_mkdir(c, tx, m->vm));
    TRY(xs_set_perms(c, tx, m->vm, rd));
    TRY(xs_rm(c, tx, m->lx));
    TRY(xs_mkdir(c, tx, m->lx));
    TRY(xs_set_perms(c, tx, m->lx, "n0"));
    static const char *const ro[] = {"device", "control", "device/suspend", "memory"};
    for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", m->dp, ro[i]);
        TRY(xs_mkdir(c, tx, p));
        TRY(xs_set_perms(c, tx, p, rd));
    }
    static const char *const rw[] = {"data", "drivers", "feature", "attr", "error"};
    for (size_t i = 0; i < sizeof(rw) / sizeof(rw[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", m->dp, rw[i]);
        TRY(xs_mkdir(c, tx, p));
        TRY(xs_set_perms(c, tx, p, owner));
    }
    snprintf(p, sizeof(p), "%s/control/shutdown", m->dp);
    TRY(xs_write(c, tx, p, ""));
    TRY(xs_set_perms(c, tx, p, owner));
    TRY(wr(c, tx, m->dp, "control/platform-feature-multiprocessor-suspend", "1"));
    TRY(wr(c, tx, m->dp, "control/platform-feature-xs_reset_watches", "1"));
    TRY(wr(c, tx, m->dp, "vm", m->vm));
    TRY(wr(c, tx, m->dp, "vss", m->vm));
    snprintf(p, sizeof(p), "guest%d", m->dom);
    TRY(wr(c, tx, m->dp, "name", p));
    TRY(wr(c, tx, m->vm, "uuid", m->vm + 4));
    TRY(wr(c, tx, m->vm, "name", p));
    TRY(wr(c, tx, m->vm, "start_time", "1700000000.00"));
    TRY(wr(c, tx, m->lx, "type", "pvh"));
    return wr(c, tx, m->lx, "dm-version", "qemu_xen");
}

/* libxl__build_post: memory, store and console parameters, vcpus. */
static int build_post(struct conn *c, uint32_t tx, const void *arg)
{
    const struct mixdom *m = arg;
    static const char *const kv[][2] = {
        {"memory/static-max", "262144"}, {"memory/target", "261120"},
        {"memory/videoram", "-1"}, {"store/port", "1"}, {"store/ring-ref", "1044476"},
        {"console/port", "2"}, {"console/ring-ref", "1044479"}, {"console/limit", "1048576"},
        {"console/type", "xenconsoled"}, {"console/output", "pty"},
        {"cpu/0/availability", "online"}, {"cpu/1/availability", "online"},
        {"device/suspend/event-channel", ""}, {"image/ostype", "linux"},
    };
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        TRY(wr(c, tx, m->dp, kv[i][0], kv[i][1]));
    return XR_OK;
}

struct dev {
    const struct mixdom *m;
    const char *kind;        /* vbd, vif, console */
    int devid;
    char be[96], fe[96], lx[96];
};

static void dev_init(struct dev *v, const struct mixdom *m, const char *kind, int devid)
{
    v->m = m;
    v->kind = kind;
    v->devid = devid;
    snprintf(v->be, sizeof(v->be), "/local/domain/0/backend/%s/%d/%d", kind, m->dom, devid);
    if (strcmp(kind, "console") == 0)
        snprintf(v->fe, sizeof(v->fe), "%s/console", m->dp);
    else
        snprintf(v->fe, sizeof(v->fe), "%s/device/%s/%d", m->dp, kind, devid);
    snprintf(v->lx, sizeof(v->lx), "%s/device/%s/%d", m->lx, kind, devid);
}

/* libxl__device_generic_add: frontend, backend and libxl's copy, in one transaction. */
static int dev_add(struct conn *c, uint32_t tx, const void *arg)
{
    const struct dev *v = arg;
    int dom = v->m->dom;
    char fe_perm[24], be_perm[24], num[16];
    snprintf(fe_perm, sizeof(fe_perm), "n0 b%d", dom);   /* see mk_domain */
    snprintf(be_perm, sizeof(be_perm), "n0 r%d", dom);
    snprintf(num, sizeof(num), "%d", dom);
    static const char *const be_vbd[][2] = {
        {"frontend-id", ""}, {"online", "1"}, {"removable", "0"}, {"bootable", "1"},
        {"state", "1"}, {"dev", "xvda"}, {"type", "phy"}, {"mode", "w"},
        {"device-type", "disk"}, {"discard-enable", "1"}, {"params", "/tmp/d.img"},
        {"script", "/etc/xen/scripts/block"},
    };
    static const char *const be_vif[][2] = {
        {"frontend-id", ""}, {"online", "1"}, {"state", "1"},
        {"script", "/etc/xen/scripts/vif-bridge"}, {"mac", "00:16:3e:5a:01:02"},
        {"bridge", "xenbr0"}, {"handle", "0"}, {"type", "vif"},
    };
    static const char *const be_con[][2] = {
        {"frontend-id", ""}, {"online", "1"}, {"state", "1"}, {"protocol", "vt100"},
    };
    static const char *const fe_vbd[][2] = {
        {"backend-id", "0"}, {"state", "1"}, {"virtual-device", "51712"},
        {"device-type", "disk"}, {"trusted", "1"},
    };
    static const char *const fe_vif[][2] = {
        {"backend-id", "0"}, {"state", "1"}, {"handle", "0"}, {"mac", "00:16:3e:5a:01:02"},
        {"mtu", "1500"}, {"trusted", "1"},
    };
    static const char *const fe_con[][2] = {
        {"backend-id", "0"}, {"limit", "1048576"}, {"type", "xenconsoled"},
        {"output", "pty"}, {"tty", ""},
    };
    const char *const(*bk)[2], *const(*fk)[2];
    size_t nb, nf;
    if (strcmp(v->kind, "vbd") == 0) {
        bk = be_vbd, nb = sizeof(be_vbd) / sizeof(be_vbd[0]);
        fk = fe_vbd, nf = sizeof(fe_vbd) / sizeof(fe_vbd[0]);
    } else if (strcmp(v->kind, "vif") == 0) {
        bk = be_vif, nb = sizeof(be_vif) / sizeof(be_vif[0]);
        fk = fe_vif, nf = sizeof(fe_vif) / sizeof(fe_vif[0]);
    } else {
        bk = be_con, nb = sizeof(be_con) / sizeof(be_con[0]);
        fk = fe_con, nf = sizeof(fe_con) / sizeof(fe_con[0]);
    }
    TRY(xs_rm(c, tx, v->fe));
    TRY(xs_mkdir(c, tx, v->fe));
    TRY(xs_set_perms(c, tx, v->fe, fe_perm));
    TRY(wr(c, tx, v->fe, "backend", v->be));
    TRY(xs_rm(c, tx, v->be));
    TRY(xs_mkdir(c, tx, v->be));
    TRY(xs_set_perms(c, tx, v->be, be_perm));
    TRY(wr(c, tx, v->be, "frontend", v->fe));
    for (size_t i = 0; i < nb; i++)
        TRY(wr(c, tx, v->be, bk[i][0], bk[i][1][0] ? bk[i][1] : num));
    for (size_t i = 0; i < nf; i++)
        TRY(wr(c, tx, v->fe, fk[i][0], fk[i][1]));
    TRY(xs_rm(c, tx, v->lx));
    TRY(wr(c, tx, v->lx, "frontend", v->fe));
    TRY(wr(c, tx, v->lx, "backend", v->be));
    for (size_t i = 0; i < nb && i < 6; i++)
        TRY(wr(c, tx, v->lx, bk[i][0], bk[i][1][0] ? bk[i][1] : num));
    return XR_OK;
}

/* The backend comes up (blkback/netback InitWait) and the hotplug script runs, while libxl
 * waits on watches of the backend's state and hotplug-status. */
static int dev_hotplug(struct conn *c, const struct dev *v)
{
    char p[160], tok[64];
    snprintf(p, sizeof(p), "%s/state", v->be);
    snprintf(tok, sizeof(tok), "state-%s-%d", v->kind, v->m->dom);
    TRY(xs_watch(c, XS_WATCH, p, tok));
    TRY(xs_read(c, 0, p));
    TRY(wr(c, 0, v->be, "state", "2"));       /* the backend driver */
    TRY(xs_read(c, 0, p));
    TRY(xs_watch(c, XS_UNWATCH, p, tok));
    snprintf(p, sizeof(p), "%s/hotplug-status", v->be);
    TRY(xs_watch(c, XS_WATCH, p, tok));
    TRY(xs_read_opt(c, 0, p));                 /* ENOENT until the script has run */
    if (strcmp(v->kind, "vbd") == 0) {         /* the block script */
        snprintf(p, sizeof(p), "%s/params", v->be);
        TRY(xs_read(c, 0, p));
        TRY(wr(c, 0, v->be, "physical-device", "7:0"));
        TRY(wr(c, 0, v->be, "physical-device-path", "/dev/loop0"));
    } else {                                   /* vif-bridge */
        snprintf(p, sizeof(p), "%s/bridge", v->be);
        TRY(xs_read(c, 0, p));
        TRY(wr(c, 0, v->be, "vifname", "vif1.0"));
    }
    TRY(wr(c, 0, v->be, "hotplug-status", "connected"));
    snprintf(p, sizeof(p), "%s/hotplug-status", v->be);
    TRY(xs_read(c, 0, p));
    return xs_watch(c, XS_UNWATCH, p, tok);
}

/* libxl__initiate_device_generic_remove: read the state, switch the backend off. */
static int dev_off(struct conn *c, uint32_t tx, const void *arg)
{
    const struct dev *v = arg;
    char p[160];
    snprintf(p, sizeof(p), "%s/state", v->be);
    TRY(xs_read(c, tx, p));
    TRY(wr(c, tx, v->be, "online", "0"));
    return wr(c, tx, v->be, "state", "5");
}

static int dev_rm(struct conn *c, uint32_t tx, const void *arg)
{
    const struct dev *v = arg;
    TRY(xs_rm(c, tx, v->fe));
    TRY(xs_rm(c, tx, v->be));
    return xs_rm(c, tx, v->lx);
}

static int dev_remove(struct conn *c, const struct dev *v, uint64_t *retries)
{
    char p[160], tok[64];
    TRY(run_txn(c, dev_off, v, retries));
    snprintf(p, sizeof(p), "%s/state", v->be);
    snprintf(tok, sizeof(tok), "off-%s-%d", v->kind, v->m->dom);
    TRY(xs_watch(c, XS_WATCH, p, tok));
    TRY(wr(c, 0, v->be, "state", "6"));       /* the backend closes */
    TRY(xs_read(c, 0, p));
    TRY(xs_watch(c, XS_UNWATCH, p, tok));
    if (strcmp(v->kind, "console") != 0) {     /* the hotplug script's offline run */
        snprintf(p, sizeof(p), "%s/physical-device", v->be);
        TRY(xs_read_opt(c, 0, p));
        snprintf(p, sizeof(p), "%s/hotplug-status", v->be);
        TRY(xs_rm(c, 0, p));
    }
    return run_txn(c, dev_rm, v, retries);
}

static int rm_domain(struct conn *c, uint32_t tx, const void *arg)
{
    const struct mixdom *m = arg;
    char p[96];
    TRY(xs_rm(c, tx, m->dp));
    TRY(xs_rm(c, tx, m->vm));
    TRY(xs_rm(c, tx, m->lx));
    static const char *const kinds[] = {"vbd", "vif", "console"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "/local/domain/0/backend/%s/%d", kinds[i], m->dom);
        TRY(xs_rm(c, tx, p));
    }
    return XR_OK;
}

static int xl_create_destroy(struct conn *c, int dom, uint64_t *retries)
{
    struct mixdom m = {.dom = dom};
    snprintf(m.dp, sizeof(m.dp), "/local/domain/%d", dom);
    snprintf(m.vm, sizeof(m.vm), "/vm/6a1e7f2c-0000-4000-8000-%012d", dom);
    snprintf(m.lx, sizeof(m.lx), "/libxl/%d", dom);
    char num[16], p[160];
    snprintf(num, sizeof(num), "%d", dom);
    /* create */
    TRY(xs_req(c, XS_GET_DOMAIN_PATH, 0, num, strlen(num) + 1));
    TRY(run_txn(c, mk_domain, &m, retries));
    TRY(wr(c, 0, m.dp, "domid", num));         /* after XS_INTRODUCE (not sent: no rings) */
    TRY(run_txn(c, build_post, &m, retries));
    struct dev devs[3];
    dev_init(&devs[0], &m, "console", 0);
    dev_init(&devs[1], &m, "vbd", 51712);
    dev_init(&devs[2], &m, "vif", 0);
    for (int i = 0; i < 3; i++)
        TRY(run_txn(c, dev_add, &devs[i], retries));
    for (int i = 1; i < 3; i++)
        TRY(dev_hotplug(c, &devs[i]));
    snprintf(p, sizeof(p), "%s/name", m.dp);
    TRY(xs_read(c, 0, p));
    /* destroy */
    TRY(xs_read(c, 0, p));
    snprintf(p, sizeof(p), "%s/type", m.lx);
    TRY(xs_read(c, 0, p));
    snprintf(p, sizeof(p), "%s/device", m.lx);
    TRY(xs_dir(c, 0, p));
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/device/%s", m.lx, devs[i].kind);
        TRY(xs_dir(c, 0, p));
    }
    for (int i = 2; i >= 0; i--)
        TRY(dev_remove(c, &devs[i], retries));
    return run_txn(c, rm_domain, &m, retries);
}

struct mixthread {
    struct worker_span span; /* first: see workers_start */
    const struct daemon *d;
    uint64_t requests, events, retries;
    int fail;
    char err[160];
};

static void *mix_thread(void *arg)
{
    struct mixthread *t = arg;
    struct conn c;
    bool ok = conn_open(&c, t->d->sock) == 0;
    pthread_barrier_wait(t->span.bar);
    if (!ok) {
        t->fail = 1;
        snprintf(t->err, sizeof(t->err), "connect");
        return NULL;
    }
    for (int i = 0; i < t->span.count; i++) {
        int rc = xl_create_destroy(&c, t->span.first + i, &t->retries);
        if (rc != XR_OK) {
            t->fail = 1;
            snprintf(t->err, sizeof(t->err), "domain %d: %s after %s", t->span.first + i,
                     rc == XR_IO ? "connection" : c.err, c.last);
            break;
        }
    }
    t->requests = c.requests;
    t->events = c.events;
    conn_close(&c);
    return NULL;
}

void t_mix(struct daemon *d)
{
    struct workers w = {.n = workers_count(opt_clients, opt_mix)};
    struct mixthread *t = calloc((size_t)w.n, sizeof(*t));
    for (int i = 0; i < w.n; i++)
        t[i].d = d;
    workers_start(&w, t, sizeof(*t), mix_thread, 10001, opt_mix);
    double t0 = now();
    workers_join(&w);
    double dt = now() - t0;
    uint64_t req = 0, ev = 0, retries = 0;
    int fail = 0;
    for (int i = 0; i < w.n; i++) {
        req += t[i].requests;
        ev += t[i].events;
        retries += t[i].retries;
        if (t[i].fail && !fail) {
            fail = 1;
            note(d->name, "xl mix failed: %s", t[i].err);
        }
    }
    free(t);
    if (fail)
        return;
    d->v[L_MIX] = opt_mix / dt;
    d->v[L_MIX_REQ] = (double)req / dt;
    note(d->name, "xl mix: %d domains in %.2f s, %.0f requests/domain, %llu watch events, "
         "%llu transaction retries (EAGAIN)", opt_mix, dt, (double)req / opt_mix,
         (unsigned long long)ev, (unsigned long long)retries);
}
