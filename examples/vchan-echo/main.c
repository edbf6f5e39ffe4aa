/*
 * vchan-echo: a vchan server that echoes, and a client that checks the echo.
 *
 * Command line (key=value words; xl's `cmdline = "..."`):
 *   role=server|client
 *   peer=N[,N...]   the other side's domid; "+K"/"-K" is relative to our own domid (for
 *                   domains created paused back to back). A server takes several peers and
 *                   serves them all at once, one vchan each.
 *   path=P          xenstore path (default data/vchan/<client domid>/echo, relative to the
 *                   server's home, the libxenvchan convention)
 *   orders=L,R      server: ring orders (10..20) for left (client->server) and right;
 *                   default 12,12. The client takes whatever the server chose.
 *   bytes=N         client: stop after about N bytes of messages (default 4 MiB);
 *                   bytes=0: run until the peer goes away
 *   wait=S          client: how long to wait for the server to appear (default 30 s)
 *   lockstep=1      client: one message in flight at a time (for peers that cannot hold
 *                   a whole ring's worth in flight, like a shell pipe loop)
 *   linger=S        server: stay up S seconds after the last peer went (so dom0 can look
 *                   at xenstore)
 *   limit=N         server: close a vchan once N bytes have been echoed on it (the peer
 *                   then reads the rest and sees the close: a complete echo for peers
 *                   that wait for the close, like `vchan-cat client` without -e)
 *   count=N         server: N vchans per peer, all set up at once before any is served
 *                   (paths <path>N, default data/vchan/<client domid>/echo0 .. echo<N-1>);
 *                   at most MAX_SESSIONS in all
 *
 * The client sends messages of varied sizes, each a 16-byte header (magic, sequence number,
 * length, CRC-32 of the payload) and a payload derived from the sequence number, reads the
 * echo back at the same time, checks every header and checksum, and prints the throughput.
 * The server is event driven: it echoes on every open vchan from one loop
 * (gvchan_wait_any), with a timer tick once a second, and ends when all its peers are gone.
 * Each side prints "vchan-echo: ..." lines that tests/e2e/scenarios/vchan*.sh check; a
 * peer that disappears is reported ("peer closed" or "peer died") and the program returns
 * normally (the domain powers off).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenkit/app.h>

#include "vchan/guest_vchan.h"
#include "xen/clock.h"
#include "xen/eventloop.h"
#include "xen/xenbus.h"

#define MAX_PEERS 8
#define MAX_SESSIONS 64
#define HDR 16
#define MAGIC 0x45484356u   /* "VCHE" */
#define MAX_MSG 65536u
#define STALL_NS (30 * NSEC_PER_SEC)

static struct {
    bool server;
    uint16_t peers[MAX_PEERS];
    unsigned npeers;
    char path[200];
    unsigned lo, ro;
    unsigned count;
    uint64_t limit;
    uint64_t bytes;
    uint64_t wait_s;
    uint64_t linger_s;
    bool lockstep;
} cfg = { .lo = 12, .ro = 12, .count = 1, .bytes = 4u << 20, .wait_s = 30 };

static uint32_t self;

/* ---- command line -------------------------------------------------------------------- */

static const char *word(const char *s, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = s; p != NULL && *p != '\0';) {
        while (*p == ' ')
            p++;
        if (strncmp(p, key, n) == 0 && p[n] == '=')
            return p + n + 1;
        p = strchr(p, ' ');
    }
    return NULL;
}

/* Copy the value (up to the next space) into buf. */
static bool value(const char *cmdline, const char *key, char *buf, size_t cap)
{
    const char *v = word(cmdline, key);
    if (v == NULL)
        return false;
    size_t n = strcspn(v, " ");
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return true;
}

static int parse(const char *cmdline)
{
    char buf[200];
    if (!value(cmdline, "role", buf, sizeof(buf)) ||
        (strcmp(buf, "server") != 0 && strcmp(buf, "client") != 0))
        return -EINVAL;
    cfg.server = strcmp(buf, "server") == 0;
    if (!value(cmdline, "peer", buf, sizeof(buf)))
        return -EINVAL;
    for (char *p = buf; *p != '\0' && cfg.npeers < MAX_PEERS;) {
        char *end;
        long d = strtol(p, &end, 10);
        if (end == p)
            return -EINVAL;
        if (*p == '+' || *p == '-')
            d += (long)self;
        if (d < 0 || d >= 0x7ff0)
            return -EINVAL;
        cfg.peers[cfg.npeers++] = (uint16_t)d;
        p = *end == ',' ? end + 1 : end;
        if (*end != ',' && *end != '\0')
            return -EINVAL;
    }
    if (cfg.npeers == 0 || (!cfg.server && cfg.npeers != 1))
        return -EINVAL;
    if (value(cmdline, "path", buf, sizeof(buf)))
        strcpy(cfg.path, buf);
    if (value(cmdline, "orders", buf, sizeof(buf))) {
        char *end;
        cfg.lo = (unsigned)strtoul(buf, &end, 10);
        if (*end != ',')
            return -EINVAL;
        cfg.ro = (unsigned)strtoul(end + 1, &end, 10);
    }
    if (value(cmdline, "bytes", buf, sizeof(buf)))
        cfg.bytes = strtoull(buf, NULL, 10);
    if (value(cmdline, "wait", buf, sizeof(buf)))
        cfg.wait_s = strtoull(buf, NULL, 10);
    if (value(cmdline, "lockstep", buf, sizeof(buf)))
        cfg.lockstep = strcmp(buf, "1") == 0;
    if (value(cmdline, "linger", buf, sizeof(buf)))
        cfg.linger_s = strtoull(buf, NULL, 10);
    if (value(cmdline, "limit", buf, sizeof(buf)))
        cfg.limit = strtoull(buf, NULL, 10);
    if (value(cmdline, "count", buf, sizeof(buf))) {
        char *end;
        unsigned long n = strtoul(buf, &end, 10);
        if (*end != '\0' || n == 0 || n > MAX_SESSIONS || n * cfg.npeers > MAX_SESSIONS ||
            !cfg.server)
            return -EINVAL;
        cfg.count = (unsigned)n;
    }
    return 0;
}

/* The path of the client's `index`th vchan: with count=1 exactly path= (or the default). */
static void path_for(uint16_t client, unsigned index, char *buf, size_t cap)
{
    const char *base = cfg.path;
    char def[64];
    if (base[0] == '\0') {
        snprintf(def, sizeof(def), "data/vchan/%u/echo", (unsigned)client);
        base = def;
    }
    if (cfg.count > 1)
        snprintf(buf, cap, "%s%u", base, index);
    else
        snprintf(buf, cap, "%s", base);
}

/* ---- server -------------------------------------------------------------------------- */

struct session {
    struct gvchan *v;
    uint16_t peer;
    bool done;
    bool limited;           /* closed by us at cfg.limit */
    uint64_t echoed;
};

static uint8_t echo_buf[MAX_MSG];

/* Echo what can be echoed without waiting. Returns true when the session is over. */
static bool echo_step(struct session *s)
{
    for (;;) {
        if (cfg.limit != 0 && s->echoed >= cfg.limit) {
            s->limited = true;
            return true;
        }
        size_t n = gvchan_data_ready(s->v), space = gvchan_buffer_space(s->v);
        if (cfg.limit != 0 && n > cfg.limit - s->echoed)
            n = (size_t)(cfg.limit - s->echoed);
        if (n > space)
            n = space;
        if (n > sizeof(echo_buf))
            n = sizeof(echo_buf);
        if (n == 0) {
            if (!gvchan_is_open(s->v))
                return true;
            /* Nothing to read, or no room: ask for the event that unblocks us. */
            if (!gvchan_arm(s->v, gvchan_data_ready(s->v) == 0,
                            gvchan_buffer_space(s->v) == 0))
                return false;
            continue;
        }
        long r = gvchan_read(s->v, echo_buf, n, GVCHAN_NOWAIT);
        if (r < 0)
            return true;
        long w = gvchan_write(s->v, echo_buf, (size_t)r, GVCHAN_NOWAIT);
        if (w != r) {
            printf("vchan-echo: server: peer %u: write of %ld bytes gave %ld\n", s->peer, r, w);
            return true;
        }
        s->echoed += (uint64_t)r;
    }
}

static int server(void)
{
    static struct session ss[MAX_SESSIONS];
    static struct gvchan *vs[MAX_SESSIONS];
    unsigned n = cfg.npeers * cfg.count;
    uint64_t t0 = clock_monotonic_ns();
    for (unsigned i = 0; i < n; i++) {
        char path[256];
        uint16_t peer = cfg.peers[i / cfg.count];
        path_for(peer, i % cfg.count, path, sizeof(path));
        ss[i] = (struct session){ .peer = peer };
        int rc = gvchan_server_init_orders(&ss[i].v, peer, path, cfg.lo, cfg.ro);
        if (rc < 0) {
            printf("vchan-echo: server: FAILED: init for peer %u at %s: error %d\n",
                   peer, path, rc);
            return 1;
        }
        unsigned lo, ro;
        gvchan_orders(ss[i].v, &lo, &ro);
        printf("vchan-echo: server: listening for domain %u at %s (orders %u,%u, port %u)\n",
               peer, path, lo, ro, gvchan_port(ss[i].v));
    }
    printf("vchan-echo: server: ready (%u vchans set up in %llu ms)\n", n,
           (unsigned long long)((clock_monotonic_ns() - t0) / 1000000));
    unsigned open = n, ticks = 0;
    uint64_t next_tick = clock_monotonic_ns() + NSEC_PER_SEC;
    while (open > 0) {
        unsigned k = 0;
        for (unsigned i = 0; i < n; i++) {
            if (ss[i].done)
                continue;
            if (echo_step(&ss[i])) {
                struct gvchan_stats st;
                gvchan_get_stats(ss[i].v, &st);
                printf("vchan-echo: server: peer %u %s after %llu bytes echoed "
                       "(%llu events, %llu liveness checks)\n",
                       ss[i].peer,
                       ss[i].limited ? "reached the limit" : st.peer_died ? "died" : "closed",
                       (unsigned long long)ss[i].echoed, (unsigned long long)st.events,
                       (unsigned long long)st.liveness_checks);
                gvchan_close(ss[i].v);
                ss[i].done = true;
                open--;
                continue;
            }
            vs[k++] = ss[i].v;
        }
        if (open == 0)
            break;
        if (gvchan_wait_any(vs, k, next_tick) == -ETIMEDOUT) {
            ticks++;
            next_tick += NSEC_PER_SEC;
            if (ticks % 10 == 0) {
                uint64_t total = 0;
                for (unsigned i = 0; i < n; i++)
                    total += ss[i].echoed;
                printf("vchan-echo: server: tick %u, %u open, %llu bytes echoed\n", ticks,
                       open, (unsigned long long)total);
            }
        }
    }
    printf("vchan-echo: server: all peers gone\n");
    if (cfg.linger_s != 0) {
        printf("vchan-echo: server: lingering %llu s\n", (unsigned long long)cfg.linger_s);
        sleep_ns(cfg.linger_s * NSEC_PER_SEC);
    }
    return 0;
}

/* ---- client -------------------------------------------------------------------------- */

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static const uint32_t sizes[] = { 1, 7, 64, 255, 1000, 1024, 4096, 4097, 100, 10000, 3,
                                  32768, 65536 - HDR, 500, 2048, 16 };

static uint32_t msg_len(uint32_t seq) { return sizes[seq % (sizeof(sizes) / sizeof(sizes[0]))]; }

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static uint32_t get32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t tx[HDR + MAX_MSG], rx[HDR + MAX_MSG];

static uint32_t build(uint32_t seq)
{
    uint32_t len = msg_len(seq), x = seq * 2654435761u + 1;
    for (uint32_t i = 0; i < len; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        tx[HDR + i] = (uint8_t)x;
    }
    put32(tx, MAGIC);
    put32(tx + 4, seq);
    put32(tx + 8, len);
    put32(tx + 12, crc32(tx + HDR, len));
    return HDR + len;
}

static int client(void)
{
    char path[256];
    path_for((uint16_t)self, 0, path, sizeof(path));
    crc_init();
    struct gvchan *v;
    uint64_t t0 = clock_monotonic_ns();
    int rc = gvchan_client_init(&v, cfg.peers[0], path, t0 + cfg.wait_s * NSEC_PER_SEC);
    if (rc < 0) {
        printf("vchan-echo: client: FAILED: connecting to domain %u at %s: error %d\n",
               cfg.peers[0], path, rc);
        return 1;
    }
    unsigned lo, ro;
    gvchan_orders(v, &lo, &ro);
    uint64_t t1 = clock_monotonic_ns();
    printf("vchan-echo: client: connected to domain %u at %s (orders %u,%u) in %llu us\n",
           cfg.peers[0], path, lo, ro, (unsigned long long)((t1 - t0) / 1000));

    uint32_t tx_seq = 0, rx_seq = 0, tx_len = 0, tx_off = 0, rx_have = 0;
    uint64_t sent = 0, verified = 0, bad = 0;
    bool sending = true, gone = false;
    uint64_t last_progress = t1;
    while (!gone) {
        bool progress = false;
        if (sending && tx_off == tx_len && !(cfg.lockstep && rx_seq != tx_seq)) {
            if (cfg.bytes != 0 && sent >= cfg.bytes) {
                sending = false;
            } else {
                tx_len = build(tx_seq++);
                tx_off = 0;
            }
        }
        if (!sending && rx_seq == tx_seq)
            break;          /* everything came back */
        if (tx_off < tx_len) {
            long w = gvchan_write(v, tx + tx_off, tx_len - tx_off, GVCHAN_NOWAIT);
            if (w < 0) {
                gone = true;
                break;
            }
            tx_off += (uint32_t)w;
            sent += (uint64_t)w;
            progress |= w > 0;
        }
        /* Read the current message: its header, then its payload. */
        uint32_t want = rx_have < HDR ? HDR : HDR + get32(rx + 8);
        if (rx_have >= HDR && (get32(rx) != MAGIC || get32(rx + 8) > MAX_MSG)) {
            printf("vchan-echo: client: FAILED: bad header at message %u\n", rx_seq);
            bad++;
            break;
        }
        long r = gvchan_read(v, rx + rx_have, want - rx_have, GVCHAN_NOWAIT);
        if (r < 0) {
            gone = true;
            break;
        }
        rx_have += (uint32_t)r;
        progress |= r > 0;
        if (rx_have >= HDR && rx_have == HDR + get32(rx + 8)) {
            uint32_t len = get32(rx + 8);
            if (get32(rx + 4) != rx_seq || len != msg_len(rx_seq) ||
                crc32(rx + HDR, len) != get32(rx + 12)) {
                printf("vchan-echo: client: FAILED: message %u: seq %u len %u crc mismatch\n",
                       rx_seq, get32(rx + 4), len);
                bad++;
                break;
            }
            verified += HDR + len;
            rx_seq++;
            rx_have = 0;
        }
        uint64_t now = clock_monotonic_ns();
        if (progress) {
            last_progress = now;
            continue;
        }
        if (now - last_progress > STALL_NS) {
            printf("vchan-echo: client: FAILED: no progress for 30 s\n");
            bad++;
            break;
        }
        if (gvchan_arm(v, true, tx_off < tx_len))
            continue;
        gvchan_wait_any(&v, 1, now + NSEC_PER_SEC);
    }
    uint64_t t2 = clock_monotonic_ns(), ns = t2 - t1 ? t2 - t1 : 1;
    struct gvchan_stats st;
    gvchan_get_stats(v, &st);
    /* MB/s with two decimals, of the bytes echoed back and verified. */
    uint64_t centi = verified * 100 * 1000 / ns;   /* bytes/ns * 1e3 = MB/s, times 100 */
    printf("vchan-echo: client: %u messages, %llu bytes echoed and verified in %llu ms: "
           "%llu.%02llu MB/s (orders %u,%u, %llu events, %llu waits)\n",
           rx_seq, (unsigned long long)verified, (unsigned long long)(ns / 1000000),
           (unsigned long long)(centi / 100), (unsigned long long)(centi % 100), lo, ro,
           (unsigned long long)st.events, (unsigned long long)st.waits);
    if (gone)
        printf("vchan-echo: client: peer %s after %u messages verified\n",
               st.peer_died ? "died" : "closed", rx_seq);
    else if (bad == 0)
        printf("vchan-echo: client: checksums ok\n");
    gvchan_close(v);
    return bad == 0 ? 0 : 1;
}

int app_main(const char *cmdline)
{
    int rc = xenbus_get_domid(&self);
    if (rc < 0) {
        printf("vchan-echo: FAILED: no xenstore (error %d)\n", rc);
        return 1;
    }
    if (parse(cmdline) < 0) {
        printf("vchan-echo: FAILED: bad command line '%s' (want role=server|client "
               "peer=N[,N...] [path=P] [orders=L,R] [count=N] [limit=N] [bytes=N] [wait=S] [lockstep=1] "
               "[linger=S])\n", cmdline);
        return 1;
    }
    printf("vchan-echo: domain %u, %s\n", self, cfg.server ? "server" : "client");
    int ret = cfg.server ? server() : client();
    printf("vchan-echo: exit %d\n", ret);
    return ret;
}
