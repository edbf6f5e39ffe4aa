/*
 * ringkill_client: a xenstore client on dom0's ring page, for tests/xenstored/killtest_ring.sh,
 * which kills vxenstored with SIGKILL again and again while this works through the ring.
 *
 *   vxs-ringkill-client DIR     (run under the xkshim LD_PRELOAD shim, XKSHIM_DIR=DIR/shim)
 *
 * It does what dom0's kernel does for xenstored: it allocates the event channel port
 * (unbound, as /proc/xen/xsd_port names it) and the ring page ($XKSHIM_DIR/xsd_kva, which
 * the shim hands the daemon for /proc/xen/xsd_kva), then writes DIR/shim/xsd_port and
 * creates DIR/ready. Then, until SIGTERM, one request at a time, round after round:
 *   - WRITE /ringkill/w/<i> = "v<i>" (acknowledged = its OK reply came);
 *   - READ /ringkill/big, a value of about 3 KB, checked byte for byte: its reply takes three
 *     fills of rsp[] or more, and rsp[] is read slowly (CHUNK bytes, then a pause), so that
 *     kills land in the middle of replies;
 *   - every 16th round WRITE a new /ringkill/big (a request larger than req[], written in
 *     parts as the daemon makes room);
 *   - every 8th round a transaction writing /ringkill/t/a and /ringkill/t/b, started again on
 *     EAGAIN (a restart kills open transactions);
 *   - a WATCH on /ringkill/w, set once: its events are checked whole (path and token), may
 *     come twice, and every acknowledged write must have had one.
 * The reply stream must be well-formed: every message parses, every reply comes once, in
 * order, with its request's req_id and type (or XS_ERROR). The one exception docs/vxenstored.8
 * (RESTARTS) allows: a kill between a reply that fitted whole reaching rsp[] and its
 * request's consumption gives the reply again after the restart, so a reply identical to the
 * previous request's (same req_id, type and bytes) before the current one's is counted as a
 * duplicate, not a failure. (Linux's xenbus drops a reply no request waits for.)
 * After SIGTERM: every acknowledged write is read back over the ring (the daemon is the one
 * the last restart started), the transaction's two keys checked, and one line of counts is
 * printed. Exit 0 if all is well; 1 (with the first violations on stderr) otherwise.
 *
 * DIR/gen holds the driver's kill count: a message whose first and last bytes were read
 * under different counts was cut by a kill (counted for the replies over 1 KB).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xen/io/xs_wire.h>

#define CHUNK 160          /* bytes of rsp[] read at a time */
#define SLOW_US 400        /* the pause after each CHUNK of a message not yet whole */
#define BIG_LEN 3000
#define MAX_WRITES 200000
#define GUEST_KEYS 900     /* a guest's w/<i>: within its node quota (1000) and node-size */
#define HANG_S 60          /* no byte moved for this long: the test fails */

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
    (void)sig;
    stop = 1;
    if (getenv("RK_DEBUG"))
        (void)!write(2, "got TERM\n", 9);
}

static struct xenstore_domain_interface *intf;
static xenevtchn_handle *xce;
static evtchn_port_t port;
static char gen_path[4096];
static bool slow = true;

/* Counts. */
static unsigned long n_acked, n_big_reads, n_big_writes, n_cut, n_dup, n_events, n_event_dup,
    n_txn, n_txn_eagain, n_quiet, n_violations;

static uint8_t *event_seen;    /* per write index: events seen */
static uint8_t *acked;         /* per write index: acknowledged */

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
    n_violations++;
    if (n_violations > 20)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ringkill: VIOLATION: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* The driver replaces DIR/gen (rename) at each kill: open it each time. */
static long read_gen(void)
{
    char b[32];
    int fd = open(gen_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, b, sizeof b - 1);
    close(fd);
    if (n <= 0)
        return -1;
    b[n] = 0;
    return strtol(b, NULL, 10);
}

/* The client's nodes: /ringkill (dom0) or /local/domain/<domid>/ringkill (a guest). */
static char base[64] = "/ringkill";

static const char *P(const char *suffix)
{
    static char buf[4][128];
    static unsigned k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s%s", base, suffix);
    return b;
}

static uint64_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec;
}

/* The reply stream's bytes read and not taken yet; the next request's id. */
static uint8_t in[2 * (sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX)];
static size_t inlen;
static uint32_t next_req_id = 1;

static uint64_t last_progress;
/* A stretch of quiet seconds this long is recorded (stderr and DIR/stall.<who>.<n>, which
 * killtest_ring.sh answers with the daemon's state: its threads' wchan and stacks, whether
 * its event channel socket holds a notification it did not read). */
#define STALL_REPORT_S 5
static unsigned quiet_run, quiet_longest, n_stalls;
static const char *who = "dom0";
static char dir_path[4096];
/* A quiet second is only counted: a notification the daemon failed to send hangs the test
 * (HANG_S), as it would hang a guest. RINGKILL_NUDGE=1 notifies the daemon after each quiet
 * second (to see what else goes wrong once such a hang is known). */
static bool nudge;

static int put_file(const char *path, const char *text);

/* STALL_REPORT_S seconds without an event while we wait for the daemon: what we wait for and
 * the ring's four indexes (req_cons < req_prod: requests it did not take; rsp_cons < rsp_prod:
 * replies we did not read), when (wall clock, to match the daemon's log and the record the
 * test makes of the daemon's state). */
static void report_stall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char text[400], path[4200];
    snprintf(text, sizeof text,
             "ringkill %s: %d s without an event from the daemon at %02d:%02d:%02d.%03ld UTC, "
             "kill %ld, waiting for request %u's reply (or room): req cons %u prod %u, rsp "
             "cons %u prod %u, %zu bytes of a message read\n",
             who, STALL_REPORT_S, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
             read_gen(), next_req_id - 1, intf->req_cons, intf->req_prod, intf->rsp_cons,
             intf->rsp_prod, inlen);
    fputs(text, stderr);
    snprintf(path, sizeof path, "%s/stall.%s.%u", dir_path, who, ++n_stalls);
    put_file(path, text);
}

/* Wait for an event from the daemon (a second at a time: quiet seconds are counted). */
static void wait_event(void)
{
    struct pollfd p = {.fd = xenevtchn_fd(xce), .events = POLLIN};
    int rc = poll(&p, 1, 1000);
    if (rc > 0) {
        quiet_run = 0;
        int e;
        while ((e = xenevtchn_pending(xce)) >= 0)
            xenevtchn_unmask(xce, (evtchn_port_t)e);
        return;
    }
    if (rc == 0) {
        n_quiet++;
        if (++quiet_run > quiet_longest)
            quiet_longest = quiet_run;
        if (quiet_run == STALL_REPORT_S)
            report_stall();
        if (nudge)
            xenevtchn_notify(xce, port);
    }
    if (now_s() - last_progress > HANG_S) {
        fprintf(stderr, "ringkill: no progress for %d s (req %u/%u rsp %u/%u)\n", HANG_S,
                intf->req_cons, intf->req_prod, intf->rsp_cons, intf->rsp_prod);
        exit(1);
    }
}

/* ---- the response stream --------------------------------------------------------------- */

static long msg_gen; /* the kill count when the current message's first byte came */

/* Read up to CHUNK bytes of rsp[]; true if any. */
static bool read_some(void)
{
    XENSTORE_RING_IDX cons = intf->rsp_cons;
    XENSTORE_RING_IDX prod = __atomic_load_n(&intf->rsp_prod, __ATOMIC_ACQUIRE);
    uint32_t avail = prod - cons;
    if (avail == 0)
        return false;
    if (avail > XENSTORE_RING_SIZE) {
        violation("rsp indexes impossible: cons %u prod %u", cons, prod);
        exit(1);
    }
    size_t want = slow ? CHUNK : sizeof in;
    if (avail > want)
        avail = (uint32_t)want;
    if (avail > sizeof in - inlen)
        avail = (uint32_t)(sizeof in - inlen);
    if (avail == 0) {
        fprintf(stderr, "ringkill: input buffer full (a bug of the client)\n");
        exit(1);
    }
    if (inlen == 0)
        msg_gen = read_gen();
    for (uint32_t i = 0; i < avail; i++)
        in[inlen++] = (uint8_t)intf->rsp[MASK_XENSTORE_IDX(cons + i)];
    __atomic_store_n(&intf->rsp_cons, cons + avail, __ATOMIC_RELEASE);
    xenevtchn_notify(xce, port);
    last_progress = now_s();
    return true;
}

/* The next whole message, copied out (header in *h, payload in body); false if none yet. */
static bool next_msg(struct xsd_sockmsg *h, char *body)
{
    if (inlen < sizeof *h)
        return false;
    memcpy(h, in, sizeof *h);
    if (h->len > XENSTORE_PAYLOAD_MAX) {
        violation("message of %u bytes (type %u req_id %u): stream corrupt", h->len, h->type,
                  h->req_id);
        exit(1);
    }
    size_t total = sizeof *h + h->len;
    if (inlen < total)
        return false;
    memcpy(body, in + sizeof *h, h->len);
    body[h->len] = 0;
    if (h->len > XENSTORE_RING_SIZE && msg_gen >= 0 && read_gen() != msg_gen)
        n_cut++;
    memmove(in, in + total, inlen - total);
    inlen -= total;
    if (inlen)
        msg_gen = read_gen();
    return true;
}

static void check_event(const char *body, uint32_t len)
{
    n_events++;
    size_t plen = strnlen(body, len);
    if (plen + 1 >= len || strnlen(body + plen + 1, len - plen - 1) + plen + 2 != len ||
        strcmp(body + plen + 1, "rk") != 0) {
        violation("malformed watch event (%u bytes: %.*s)", len, (int)plen, body);
        return;
    }
    if (strcmp(body, P("/w")) == 0)
        return;
    const char *w = P("/w/");
    char *end;
    unsigned long i = strncmp(body, w, strlen(w)) == 0 && body[strlen(w)] >= '0' &&
                              body[strlen(w)] <= '9'
                          ? strtoul(body + strlen(w), &end, 10)
                          : MAX_WRITES;
    if (i >= MAX_WRITES || *end) {
        violation("watch event for %s", body);
        return;
    }
    if (event_seen[i])
        n_event_dup++;
    if (event_seen[i] < 255)
        event_seen[i]++;
}

/* ---- requests ----------------------------------------------------------------------------- */

static struct xsd_sockmsg prev_hdr;        /* the last reply taken */
static char prev_body[XENSTORE_PAYLOAD_MAX + 1];

/* Take the whole messages read so far: events are checked, a duplicate of the previous
 * reply counted. With want, true once want's reply is taken (its type in *rtype, payload in
 * body); any other reply is a violation. */
static bool take(const struct xsd_sockmsg *want, char *body, uint32_t *blen, uint32_t *rtype)
{
    struct xsd_sockmsg r;
    while (next_msg(&r, body)) {
        if (r.type == XS_WATCH_EVENT) {
            check_event(body, r.len);
            continue;
        }
        if (want && r.req_id == want->req_id) {
            if (r.type != want->type && r.type != XS_ERROR)
                violation("reply of type %u to request %u of type %u", r.type, r.req_id,
                          want->type);
            prev_hdr = r;
            memcpy(prev_body, body, r.len + 1);
            *blen = r.len;
            *rtype = r.type;
            return true;
        }
        if (r.req_id == prev_hdr.req_id && r.type == prev_hdr.type && r.len == prev_hdr.len &&
            memcmp(body, prev_body, r.len) == 0 && r.len <= XENSTORE_RING_SIZE - sizeof r) {
            n_dup++;
            continue;
        }
        violation("unexpected reply: req_id %u type %u len %u while waiting for %u "
                  "(previous %u type %u)", r.req_id, r.type, r.len, want ? want->req_id : 0,
                  prev_hdr.req_id, prev_hdr.type);
    }
    return false;
}

/* Read more of rsp[], or wait for the daemon. */
static void read_or_wait(void)
{
    bool got = read_some();
    if (got && slow && inlen)
        usleep(SLOW_US); /* a message not yet whole: keep it cut for a while */
    if (!got)
        wait_event();
}

static void write_req(const void *msg, size_t len)
{
    static char scratch[XENSTORE_PAYLOAD_MAX + 1];
    const uint8_t *p = msg;
    while (len) {
        XENSTORE_RING_IDX cons = __atomic_load_n(&intf->req_cons, __ATOMIC_ACQUIRE);
        XENSTORE_RING_IDX prod = intf->req_prod;
        uint32_t room = XENSTORE_RING_SIZE - (prod - cons);
        if (prod - cons > XENSTORE_RING_SIZE) {
            violation("req indexes impossible: cons %u prod %u", cons, prod);
            exit(1);
        }
        if (room == 0) {
            /* The daemon may be sending events (or a duplicate reply) meanwhile: take
             * them, or our buffer fills and we wait on each other. */
            uint32_t blen, t;
            take(NULL, scratch, &blen, &t);
            read_or_wait();
            continue;
        }
        uint32_t n = room < len ? room : (uint32_t)len;
        for (uint32_t i = 0; i < n; i++)
            intf->req[MASK_XENSTORE_IDX(prod + i)] = (char)p[i];
        __atomic_store_n(&intf->req_prod, prod + n, __ATOMIC_RELEASE);
        xenevtchn_notify(xce, port);
        p += n;
        len -= n;
    }
}

/* Send one request and wait for its reply: the reply's type (XS_ERROR or the request's),
 * its payload in body (nul-terminated). */
static uint32_t request(uint32_t type, uint32_t tx_id, const void *payload, size_t len,
                        char *body, uint32_t *blen)
{
    static uint8_t msg[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
    struct xsd_sockmsg h = {.type = type, .req_id = next_req_id++, .tx_id = tx_id,
                            .len = (uint32_t)len};
    memcpy(msg, &h, sizeof h);
    memcpy(msg + sizeof h, payload, len);
    write_req(msg, sizeof h + len);
    uint32_t t;
    while (!take(&h, body, blen, &t))
        read_or_wait();
    return t;
}

static char big[BIG_LEN + 1];
static unsigned big_gen;

static void make_big(unsigned g)
{
    int n = snprintf(big, sizeof big, "big%u:", g);
    for (int i = n; i < BIG_LEN; i++)
        big[i] = (char)('a' + (i * 7 + g) % 26);
    big[BIG_LEN] = 0;
}

static char body[XENSTORE_PAYLOAD_MAX + 1];

/* A write outside a transaction; false (and a violation) unless OK. */
static bool do_write(uint32_t tx, const char *path, const char *val, size_t vlen)
{
    static char pl[XENSTORE_PAYLOAD_MAX];
    size_t plen = strlen(path) + 1;
    memcpy(pl, path, plen);
    memcpy(pl + plen, val, vlen);
    uint32_t blen;
    uint32_t t = request(XS_WRITE, tx, pl, plen + vlen, body, &blen);
    if (t == XS_WRITE && strcmp(body, "OK") == 0)
        return true;
    if (tx && t == XS_ERROR && strcmp(body, "EAGAIN") == 0)
        return false;
    violation("WRITE %s: %s %s", path, t == XS_ERROR ? "error" : "reply", body);
    return false;
}

/* One transaction writing t/a and t/b = "x<i>"; true when it committed. */
static bool do_txn(unsigned long i)
{
    uint32_t blen;
    uint32_t t = request(XS_TRANSACTION_START, 0, "", 1, body, &blen);
    if (t != XS_TRANSACTION_START) {
        violation("TRANSACTION_START: %s", body);
        return false;
    }
    uint32_t tx = (uint32_t)strtoul(body, NULL, 10);
    char v[32];
    int n = snprintf(v, sizeof v, "x%lu", i);
    if (!do_write(tx, P("/t/a"), v, (size_t)n) ||
        !do_write(tx, P("/t/b"), v, (size_t)n)) {
        n_txn_eagain++;
        char why[80];
        snprintf(why, sizeof why, "WRITE in %u: %.60s", tx, body);
        request(XS_TRANSACTION_END, tx, "F", 2, body, &blen); /* EAGAIN or ENOENT: fine */
        snprintf(body, sizeof body, "%s", why);
        return false;
    }
    t = request(XS_TRANSACTION_END, tx, "T", 2, body, &blen);
    if (t == XS_TRANSACTION_END && strcmp(body, "OK") == 0)
        return true;
    if (t == XS_ERROR && strcmp(body, "EAGAIN") == 0) {
        n_txn_eagain++;
        snprintf(body, sizeof body, "TRANSACTION_END %u: EAGAIN", tx);
        return false;
    }
    violation("TRANSACTION_END: %s", body);
    return false;
}

static bool read_node(const char *path, uint32_t *len)
{
    return request(XS_READ, 0, path, strlen(path) + 1, body, len) == XS_READ;
}

/* Write a small file atomically. */
static int put_file(const char *path, const char *text)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) < 0) {
        perror(path);
        return -1;
    }
    return 0;
}

/* dom0, as a toolstack: give the guest its directory and introduce it. */
static void introduce_guest(const char *dir)
{
    char path[4096], line[64];
    snprintf(path, sizeof path, "%s/guest_port", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    unsigned d = 0, gport = 0;
    int ok = fgets(line, sizeof line, f) && sscanf(line, "%u %u", &d, &gport) == 2;
    fclose(f);
    if (!ok) {
        violation("%s: unreadable", path);
        return;
    }
    char pl[128];
    uint32_t blen;
    int n = snprintf(pl, sizeof pl, "/local/domain/%u", d);
    if (!do_write(0, pl, "", 0))
        return;
    int m = snprintf(pl + n + 1, sizeof pl - (size_t)n - 1, "n%u", d);
    if (request(XS_SET_PERMS, 0, pl, (size_t)n + (size_t)m + 2, body, &blen) != XS_SET_PERMS)
        violation("SET_PERMS /local/domain/%u: %s", d, body);
    /* domid, the ring's gfn (unused: the shim maps grant ref 1), the guest's port. */
    n = snprintf(pl, sizeof pl, "%u%c%u%c%u", d, 0, 0x1234u, 0, gport);
    if (request(XS_INTRODUCE, 0, pl, (size_t)n + 1, body, &blen) != XS_INTRODUCE)
        violation("INTRODUCE %u: %s", d, body);
    snprintf(path, sizeof path, "%s/introduced", dir);
    put_file(path, "1\n");
}

int main(int argc, char **argv)
{
    bool guest = argc == 4 && strcmp(argv[2], "guest") == 0;
    if (argc != 2 && !guest) {
        fprintf(stderr, "usage: %s DIR [guest DOMID]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    unsigned domid = guest ? (unsigned)strtoul(argv[3], NULL, 10) : 0;
    if (guest) {
        snprintf(base, sizeof base, "/local/domain/%u/ringkill", domid);
        who = "guest";
    }
    snprintf(dir_path, sizeof dir_path, "%s", dir);
    char path[4096], text[64];
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    event_seen = calloc(MAX_WRITES, 1);
    acked = calloc(MAX_WRITES, 1);
    if (!event_seen || !acked)
        return 1;
    snprintf(gen_path, sizeof gen_path, "%s/gen", dir);
    nudge = getenv("RINGKILL_NUDGE") != NULL;

    /* The ring page: dom0's as its kernel has it, or a guest's at grant ref 1. */
    snprintf(path, sizeof path, "%s/shim/%s", dir, guest ? "gnt.1" : "xsd_kva");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, 4096) < 0) {
        perror(path);
        return 1;
    }
    intf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (intf == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    xce = xenevtchn_open(NULL, 0);
    if (!xce) {
        perror("xenevtchn_open (is the shim preloaded?)");
        return 1;
    }
    int fl = fcntl(xenevtchn_fd(xce), F_GETFL);
    fcntl(xenevtchn_fd(xce), F_SETFL, fl | O_NONBLOCK);
    int p = xenevtchn_bind_unbound_port(xce, 0);
    if (p < 0) {
        perror("xenevtchn_bind_unbound_port");
        return 1;
    }
    port = (evtchn_port_t)p;
    if (guest) {
        /* The domain exists (for the shim's xc_domain_getinfo), its port is known. */
        snprintf(path, sizeof path, "%s/shim/dom.%u", dir, domid);
        snprintf(text, sizeof text, "running\n");
        if (put_file(path, text) < 0)
            return 1;
        snprintf(path, sizeof path, "%s/guest_port", dir);
        snprintf(text, sizeof text, "%u %u\n", domid, port);
    } else {
        snprintf(path, sizeof path, "%s/shim/xsd_port", dir);
        snprintf(text, sizeof text, "%u\n", port);
    }
    if (put_file(path, text) < 0)
        return 1;
    snprintf(path, sizeof path, "%s/%s", dir, guest ? "guest_ready" : "ready");
    put_file(path, "1\n");
    last_progress = now_s();

    uint32_t blen;
    if (guest) {
        /* Wait for dom0 to introduce us. */
        snprintf(path, sizeof path, "%s/introduced", dir);
        while (access(path, F_OK) != 0) {
            if (stop || now_s() - last_progress > HANG_S) {
                fprintf(stderr, "ringkill guest: never introduced\n");
                return 1;
            }
            usleep(20000);
        }
        last_progress = now_s();
    } else {
        introduce_guest(dir); /* (the daemon may not run yet: the requests wait in req[]) */
    }
    make_big(0);
    if (!do_write(0, P("/big"), big, BIG_LEN))
        return 1;
    {
        char wt[200];
        int n = snprintf(wt, sizeof wt, "%s/w", base);
        memcpy(wt + n + 1, "rk", 3);
        if (request(XS_WATCH, 0, wt, (size_t)n + 4, body, &blen) != XS_WATCH)
            violation("WATCH: %s", body);
    }

    unsigned long i = 0, txn_last = 0;
    bool txn_any = false;
    while (!stop && i < MAX_WRITES) {
        char key[128], v[32];
        snprintf(key, sizeof key, "%s/w/%lu", base, i);
        int n = snprintf(v, sizeof v, "v%lu", i);
        /* A guest writes new keys up to its node quota's reach only (see killtest_ring.sh),
         * then goes on with the rest of the round. */
        if ((!guest || i < GUEST_KEYS) && do_write(0, key, v, (size_t)n)) {
            acked[i] = 1;
            n_acked++;
        }
        if (read_node(P("/big"), &blen)) {
            n_big_reads++;
            if (blen != BIG_LEN || memcmp(body, big, BIG_LEN) != 0)
                violation("READ %s/big: %u bytes, not generation %u's value (%.12s)", base,
                          blen, big_gen, body);
        } else {
            violation("READ %s/big: %s", base, body);
        }
        if (i % 16 == 15) {
            make_big(big_gen + 1);
            if (do_write(0, P("/big"), big, BIG_LEN)) {
                big_gen++;
                n_big_writes++;
            }
        }
        if (i % 8 == 3) {
            /* EAGAIN only comes from a restart (nobody else writes these nodes), so a
             * few retries at most. */
            unsigned tries = 0;
            while (!do_txn(i) && n_violations == 0)
                if (++tries == 100)
                    violation("transaction %lu: EAGAIN 100 times in a row (last: %s)", i,
                              body);
            n_txn++;
            txn_last = i;
            txn_any = true;
        }
        i++;
    }

    /* The check, at full speed. */
    slow = false;
    unsigned long checked = 0, missing_events = 0;
    for (unsigned long k = 0; k < i; k++) {
        if (!acked[k])
            continue;
        char key[128], v[32];
        snprintf(key, sizeof key, "%s/w/%lu", base, k);
        snprintf(v, sizeof v, "v%lu", k);
        if (!read_node(key, &blen) || strcmp(body, v) != 0)
            violation("acknowledged write %s = %s: read back %s", key, v, body);
        checked++;
    }
    /* A WRITE's events go before its reply: all are here by now. */
    for (unsigned long k = 0; k < i; k++)
        if (acked[k] && !event_seen[k]) {
            if (missing_events++ < 5)
                violation("no watch event for acknowledged write %s/w/%lu", base, k);
        }
    if (txn_any) {
        char a[64] = "", b[64] = "", want[32];
        snprintf(want, sizeof want, "x%lu", txn_last);
        if (read_node(P("/t/a"), &blen))
            snprintf(a, sizeof a, "%.40s", body);
        if (read_node(P("/t/b"), &blen))
            snprintf(b, sizeof b, "%.40s", body);
        if (strcmp(a, want) != 0 || strcmp(b, want) != 0)
            violation("transaction keys: a=%s b=%s, last committed %s", a, b, want);
    }
    printf("ringkill %s: %lu acknowledged writes checked (%lu rounds), %lu big reads "
           "(%lu cut by a kill), %lu big writes, %lu transactions (%lu EAGAIN), %lu duplicate "
           "replies, %lu events (%lu duplicates, %lu missing), %lu quiet waits (longest %u s, %u "
           "stalls of %d s recorded), %lu violations\n",
           guest ? base : "dom0", checked, i, n_big_reads, n_cut, n_big_writes, n_txn, n_txn_eagain, n_dup, n_events,
           n_event_dup, missing_events, n_quiet, quiet_longest, n_stalls, STALL_REPORT_S,
           n_violations);
    return n_violations ? 1 : 0;
}
