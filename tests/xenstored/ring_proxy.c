/*
 * ring_proxy: a guest's xenstore ring for tests/xenstored/difftest.py, so that the
 * differential test can speak as an unprivileged domain to both C xenstored and vxenstored
 * (each run under the xkshim LD_PRELOAD shim, no hypervisor).
 *
 *   vxs-ring-proxy SOCKET DOMID     (under the shim, XKSHIM_DIR = the daemon's shim dir)
 *
 * It plays the guest's kernel: the ring page is the grant file the shim hands a daemon that
 * maps the guest's xenstore grant ref for domain DOMID ($XKSHIM_DIR/gnt.DOMID.1), and it
 * listens on the Unix socket SOCKET. Each accepted client is
 * a new incarnation of the guest: $XKSHIM_DIR/dom.DOMID says the domain runs, the page is
 * created zeroed, a fresh unbound event channel port is allocated and sent to the client as 4 bytes
 * (little endian), which then INTRODUCEs the domain with that port over dom0's connection.
 * After that the client's bytes are xs_wire requests, copied into req[] as room allows, and
 * everything the daemon puts in rsp[] is copied to the client, the event channel kicked both
 * ways. The client must RELEASE the domain before it closes its connection: then the page's
 * file and dom.DOMID are removed, so that between clients the domain does not exist.
 *
 * One client at a time; exits on SIGTERM or when SOCKET cannot be served.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xen/io/xs_wire.h>

static volatile sig_atomic_t stop;
static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static struct xenstore_domain_interface *intf;
static xenevtchn_handle *xce;
static char dom_path[4200], gnt_path[4200];

static void drain_events(void)
{
    int e;
    while ((e = xenevtchn_pending(xce)) >= 0)
        xenevtchn_unmask(xce, (evtchn_port_t)e);
}

/* Copy as much of buf[0..*len) into req[] as fits; true if anything moved. */
static int push_req(uint8_t *buf, size_t *len)
{
    XENSTORE_RING_IDX cons = __atomic_load_n(&intf->req_cons, __ATOMIC_ACQUIRE);
    XENSTORE_RING_IDX prod = intf->req_prod;
    uint32_t room = XENSTORE_RING_SIZE - (prod - cons);
    if (room > XENSTORE_RING_SIZE)
        return -1;  /* the daemon broke the indexes */
    size_t n = *len < room ? *len : room;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        intf->req[MASK_XENSTORE_IDX(prod + (XENSTORE_RING_IDX)i)] = (char)buf[i];
    __atomic_store_n(&intf->req_prod, prod + (XENSTORE_RING_IDX)n, __ATOMIC_RELEASE);
    memmove(buf, buf + n, *len - n);
    *len -= n;
    return 1;
}

/* Copy everything in rsp[] to the client; 1 if anything moved, -1 on a broken client. */
static int pull_rsp(int cfd)
{
    XENSTORE_RING_IDX cons = intf->rsp_cons;
    XENSTORE_RING_IDX prod = __atomic_load_n(&intf->rsp_prod, __ATOMIC_ACQUIRE);
    uint32_t avail = prod - cons;
    if (avail == 0)
        return 0;
    if (avail > XENSTORE_RING_SIZE)
        return -1;
    uint8_t out[XENSTORE_RING_SIZE];
    for (uint32_t i = 0; i < avail; i++)
        out[i] = (uint8_t)intf->rsp[MASK_XENSTORE_IDX(cons + i)];
    __atomic_store_n(&intf->rsp_cons, cons + avail, __ATOMIC_RELEASE);
    for (size_t off = 0; off < avail;) {
        ssize_t w = write(cfd, out + off, avail - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return 1;
}

/* One incarnation of the guest, for one client. */
static void serve(int cfd)
{
    FILE *f = fopen(dom_path, "w");
    if (!f || fputs("running\n", f) < 0 || fclose(f) != 0) {
        perror(dom_path);
        return;
    }
    unlink(gnt_path);
    int fd = open(gnt_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, 4096) < 0) {
        perror(gnt_path);
        if (fd >= 0)
            close(fd);
        unlink(dom_path);
        return;
    }
    intf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (intf == MAP_FAILED) {
        perror("ring_proxy: mmap");
        unlink(gnt_path);
        unlink(dom_path);
        return;
    }
    int p = xenevtchn_bind_unbound_port(xce, 0);
    if (p < 0) {
        perror("ring_proxy: xenevtchn_bind_unbound_port");
        return;
    }
    evtchn_port_t port = (evtchn_port_t)p;
    uint8_t pb[4] = {port & 0xff, (port >> 8) & 0xff, (port >> 16) & 0xff, port >> 24};
    if (write(cfd, pb, 4) != 4)
        goto out;
    static uint8_t buf[2 * (sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX)];
    size_t len = 0;
    int client_open = 1;
    for (;;) {
        int moved = 0, r;
        if ((r = push_req(buf, &len)) < 0)
            break;
        moved |= r;
        if ((r = pull_rsp(cfd)) < 0)
            break;
        moved |= r;
        if (moved) {
            xenevtchn_notify(xce, port);
            continue;
        }
        if (!client_open || stop)
            break;
        struct pollfd pf[2] = {{.fd = xenevtchn_fd(xce), .events = POLLIN},
                               {.fd = cfd, .events = len < sizeof buf ? POLLIN : 0}};
        /* The timeout only guards against a lost kick: the rings are looked at again. */
        if (poll(pf, 2, 200) < 0 && errno != EINTR)
            break;
        if (pf[0].revents)
            drain_events();
        if (pf[1].revents) {
            ssize_t n = read(cfd, buf + len, sizeof buf - len);
            if (n > 0)
                len += (size_t)n;
            else if (n == 0 || errno != EINTR)
                client_open = 0;
        }
    }
out:
    xenevtchn_unbind(xce, port);
    munmap(intf, 4096);
    unlink(gnt_path);
    unlink(dom_path);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s SOCKET DOMID (under the xkshim shim)\n", argv[0]);
        return 2;
    }
    const char *dir = getenv("XKSHIM_DIR");
    unsigned domid = (unsigned)strtoul(argv[2], NULL, 10);
    if (!dir || !*dir || domid == 0 || domid >= 0x7ff0) {
        fprintf(stderr, "ring_proxy: needs XKSHIM_DIR and a guest DOMID\n");
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    snprintf(gnt_path, sizeof gnt_path, "%s/gnt.%u.1", dir, domid);
    snprintf(dom_path, sizeof dom_path, "%s/dom.%u", dir, domid);
    xce = xenevtchn_open(NULL, 0);
    if (!xce) {
        perror("ring_proxy: xenevtchn_open (is the shim preloaded?)");
        return 1;
    }
    int fl = fcntl(xenevtchn_fd(xce), F_GETFL);
    fcntl(xenevtchn_fd(xce), F_SETFL, fl | O_NONBLOCK);

    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (lfd < 0 || strlen(argv[1]) >= sizeof a.sun_path) {
        fprintf(stderr, "ring_proxy: bad socket path\n");
        return 1;
    }
    memcpy(a.sun_path, argv[1], strlen(argv[1]) + 1);
    unlink(argv[1]);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4) < 0) {
        perror(argv[1]);
        return 1;
    }
    while (!stop) {
        int cfd = accept(lfd, NULL, NULL);
        if (cfd < 0) {
            if (errno == EINTR)
                continue;
            perror("ring_proxy: accept");
            break;
        }
        serve(cfd);
        close(cfd);
    }
    xenevtchn_close(xce);
    unlink(argv[1]);
    return 0;
}
