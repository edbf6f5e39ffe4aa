/*
 * xkshim: an LD_PRELOAD library that lets Xen's user-space libraries' callers (the real
 * libxenvchan, vchan-socket-proxy, our dom0 vchan binding, Debian's C xenstored) run on a
 * machine without a hypervisor. It replaces:
 *
 *   libxenevtchn  event channels: each handle is an AF_UNIX datagram socket; a port is a file
 *                 $XKSHIM_DIR/port.N naming the socket of the handle that owns it, and
 *                 $XKSHIM_DIR/peer.N names the port at the other end. notify(port) sends the
 *                 peer's port number to the peer's socket (non-blocking: a full socket means
 *                 an event is already pending, as with Xen's pending bit); pending() reads
 *                 one and drops queued duplicates of the same port. A notify that finds
 *                 the peer's socket dead (its process killed) looks the peer up again, so
 *                 that a restarted xenstored that bound the port anew gets the event, as
 *                 under Xen (tests/xenstored/killtest_ring.sh).
 *   libxengntshr  grants: each granted page is a 4 KiB file $XKSHIM_DIR/gnt.REF mapped
 *   libxengnttab  MAP_SHARED; multi-page grants/maps get one contiguous range.
 *                 Unmap notification (share_page_notify / map_grant_ref_notify): on
 *                 unshare/unmap, or at process exit for mappings still alive, the byte at
 *                 the offset is zeroed and an event sent, as gntalloc/gntdev do. (A process
 *                 killed by a signal gets no notification.)
 *   libxenctrl    xc_interface_open/close and xc_domain_getinfo (domain 0, and domain N
 *                 while a file $XKSHIM_DIR/dom.N exists: see xc_domain_getinfo).
 *   open/fopen    /proc/xen/xsd_port and /proc/xen/xsd_kva go to files in $XKSHIM_DIR (for
 *                 xenstored, which reads them at start).
 *
 * Domain ids are otherwise ignored, but a mapper that names domain N > 0 gets the file
 * gnt.N.REF if it exists (a guest's own pages: tests/xenstored/ring_proxy.c), else gnt.REF
 * (so grant ref 1, a guest's xenstore ring, is gnt.1 for whichever domain maps it). Not thread safe (none of the users is
 * threaded). $XKSHIM_DIR must exist and be shared by all the processes (tmpfs is best);
 * default /tmp.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#define PAGE 4096u

static const char *shim_dir(void)
{
    const char *d = getenv("XKSHIM_DIR");
    return d && *d ? d : "/tmp";
}

static int read_file(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = 0;
    return (int)n;
}

/* Write a file atomically and exclusively (fails with EEXIST if `path` exists). */
static int write_excl(const char *path, const char *text)
{
    char tmp[300];
    static unsigned seq;
    snprintf(tmp, sizeof(tmp), "%s/.tmp.%d.%u", shim_dir(), (int)getpid(), seq++);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    close(fd);
    int rc = link(tmp, path);
    int e = errno;
    unlink(tmp);
    errno = e;
    return rc;
}

/* ---- event channels ----------------------------------------------------------------- */

#define MAX_PORTS 64

struct xenevtchn_handle {
    int fd;
    char path[108];
    unsigned nports;
    struct {
        evtchn_port_t port;
        evtchn_port_t peer;               /* 0: not known yet */
        struct sockaddr_un peer_addr;
    } ports[MAX_PORTS];
};

static unsigned handle_seq;

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger, unsigned flags)
{
    (void)logger;
    (void)flags;
    xenevtchn_handle *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (h->fd < 0) {
        free(h);
        return NULL;
    }
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(h->path, sizeof(h->path), "%s/ev.%d.%u", shim_dir(), (int)getpid(), handle_seq++);
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", h->path);
    unlink(h->path);
    if (bind(h->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(h->fd);
        free(h);
        return NULL;
    }
    int sz = 1 << 16;
    setsockopt(h->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    return h;
}

static void port_forget(evtchn_port_t port)
{
    char p[300];
    snprintf(p, sizeof(p), "%s/port.%u", shim_dir(), port);
    unlink(p);
    snprintf(p, sizeof(p), "%s/peer.%u", shim_dir(), port);
    unlink(p);
}

int xenevtchn_close(xenevtchn_handle *h)
{
    if (!h)
        return 0;
    for (unsigned i = 0; i < h->nports; i++)
        port_forget(h->ports[i].port);
    close(h->fd);
    unlink(h->path);
    free(h);
    return 0;
}

int xenevtchn_fd(xenevtchn_handle *h)
{
    return h->fd;
}

/* A new port owned by h (and, if peer != 0, connected to peer). */
static int port_alloc(xenevtchn_handle *h, evtchn_port_t peer)
{
    if (h->nports >= MAX_PORTS) {
        errno = ENOSPC;
        return -1;
    }
    static unsigned hint;
    if (!hint)
        hint = ((unsigned)getpid() * 37u) % 100000u + 1;
    for (unsigned tries = 0; tries < 200000; tries++) {
        evtchn_port_t port = hint++;
        if (hint > 1000000)
            hint = 1;
        char p[300];
        snprintf(p, sizeof(p), "%s/port.%u", shim_dir(), port);
        if (write_excl(p, h->path) < 0) {
            if (errno == EEXIST)
                continue;
            return -1;
        }
        if (peer) {
            char q[300], v[16];
            snprintf(q, sizeof(q), "%s/peer.%u", shim_dir(), port);
            snprintf(v, sizeof(v), "%u", peer);
            unlink(q);
            write_excl(q, v);
            snprintf(q, sizeof(q), "%s/peer.%u", shim_dir(), peer);
            snprintf(v, sizeof(v), "%u", port);
            unlink(q);
            write_excl(q, v);
        }
        h->ports[h->nports].port = port;
        h->ports[h->nports].peer = 0;
        h->nports++;
        return (int)port;
    }
    errno = ENOSPC;
    return -1;
}

xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *h, uint32_t domid)
{
    (void)domid;
    return port_alloc(h, 0);
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *h, uint32_t domid,
                                                     evtchn_port_t remote_port)
{
    (void)domid;
    return port_alloc(h, remote_port);
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *h, unsigned int virq)
{
    (void)virq;
    return port_alloc(h, 0);
}

int xenevtchn_unbind(xenevtchn_handle *h, evtchn_port_t port)
{
    for (unsigned i = 0; i < h->nports; i++) {
        if (h->ports[i].port == port) {
            port_forget(port);
            h->ports[i] = h->ports[--h->nports];
            return 0;
        }
    }
    errno = EINVAL;
    return -1;
}

/* Find the peer's socket address for `port`; 0 on success. */
static int peer_lookup(evtchn_port_t port, evtchn_port_t *peer, struct sockaddr_un *a)
{
    char p[300], v[100];
    snprintf(p, sizeof(p), "%s/peer.%u", shim_dir(), port);
    if (read_file(p, v, sizeof(v)) <= 0)
        return -1;
    *peer = (evtchn_port_t)strtoul(v, NULL, 10);
    snprintf(p, sizeof(p), "%s/port.%u", shim_dir(), *peer);
    if (read_file(p, v, sizeof(v)) <= 0)
        return -1;
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    snprintf(a->sun_path, sizeof(a->sun_path), "%s", v);
    return 0;
}

static int send_sock = -1;

static void send_event(evtchn_port_t peer, const struct sockaddr_un *a)
{
    if (send_sock < 0)
        send_sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    uint32_t v = peer;
    /* A full socket means an event is already pending for the peer: drop this one. */
    sendto(send_sock, &v, sizeof(v), MSG_DONTWAIT, (const struct sockaddr *)a, sizeof(*a));
}

/* Notify without a handle (unmap notifications). */
static void notify_port(evtchn_port_t port)
{
    evtchn_port_t peer;
    struct sockaddr_un a;
    if (peer_lookup(port, &peer, &a) == 0)
        send_event(peer, &a);
}

int xenevtchn_notify(xenevtchn_handle *h, evtchn_port_t port)
{
    for (unsigned i = 0; i < h->nports; i++) {
        if (h->ports[i].port != port)
            continue;
        if (!h->ports[i].peer &&
            peer_lookup(port, &h->ports[i].peer, &h->ports[i].peer_addr) < 0) {
            h->ports[i].peer = 0;
            return 0;       /* nobody bound at the other end yet: the event is lost */
        }
        for (int attempt = 0; attempt < 2; attempt++) {
            uint32_t v = h->ports[i].peer;
            ssize_t n = sendto(h->fd, &v, sizeof(v), MSG_DONTWAIT,
                               (struct sockaddr *)&h->ports[i].peer_addr,
                               sizeof(h->ports[i].peer_addr));
            if (n >= 0 || errno == EAGAIN || errno == ENOBUFS)
                break;
            /* The peer's process is gone (killed: its socket file stays, nobody reads it).
             * Someone may have bound the other end again since (a restarted xenstored):
             * as Xen does, the event goes to whoever is bound now, so look it up again. */
            if (peer_lookup(port, &h->ports[i].peer, &h->ports[i].peer_addr) < 0) {
                h->ports[i].peer = 0;
                break;
            }
        }
        return 0;
    }
    notify_port(port);
    return 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *h)
{
    uint32_t port;
    ssize_t n = recv(h->fd, &port, sizeof(port), 0);
    if (n != sizeof(port))
        return -1;
    /* Coalesce: queued events for the same port are one pending event. */
    for (;;) {
        uint32_t next;
        n = recv(h->fd, &next, sizeof(next), MSG_DONTWAIT | MSG_PEEK);
        if (n != sizeof(next) || next != port)
            break;
        (void)recv(h->fd, &next, sizeof(next), MSG_DONTWAIT);
    }
    return (int)port;
}

int xenevtchn_unmask(xenevtchn_handle *h, evtchn_port_t port)
{
    (void)h;
    (void)port;
    return 0;
}

/* ---- grants ------------------------------------------------------------------------- */

struct region {
    struct region *next;
    uint8_t *addr;
    uint32_t count;
    int has_notify;
    uint32_t notify_offset;
    evtchn_port_t notify_port;
    int owner;                /* granted by us: unlink the files on unshare */
    uint32_t refs[];
};

static struct region *regions;

struct xengntshr_handle { int dummy; };
struct xengnttab_handle { int dummy; };

xengntshr_handle *xengntshr_open(struct xentoollog_logger *logger, unsigned flags)
{
    (void)logger;
    (void)flags;
    return calloc(1, sizeof(struct xengntshr_handle));
}

int xengntshr_close(xengntshr_handle *h)
{
    free(h);
    return 0;
}

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger, unsigned flags)
{
    (void)logger;
    (void)flags;
    return calloc(1, sizeof(struct xengnttab_handle));
}

int xengnttab_close(xengnttab_handle *h)
{
    free(h);
    return 0;
}

int xengnttab_set_max_grants(xengnttab_handle *h, uint32_t n)
{
    (void)h;
    (void)n;
    return 0;
}

static void gnt_path(char *p, size_t len, uint32_t ref)
{
    snprintf(p, len, "%s/gnt.%u", shim_dir(), ref);
}

/* Map `count` grant files (creating them when `create`) into one contiguous range; domain
 * `domid`'s own files gnt.DOMID.REF first when it is not 0. */
static struct region *map_refs(uint32_t count, uint32_t *refs, int create, int prot,
                               uint32_t domid)
{
    if (count == 0 || count > 4096) {
        errno = EINVAL;
        return NULL;
    }
    struct region *r = calloc(1, sizeof(*r) + count * sizeof(uint32_t));
    if (!r)
        return NULL;
    void *base = mmap(NULL, (size_t)count * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        free(r);
        return NULL;
    }
    static uint32_t hint;
    if (!hint)
        hint = ((uint32_t)getpid() << 12) % 0x7fff0000u + 8;
    for (uint32_t i = 0; i < count; i++) {
        char p[300];
        int fd;
        if (create) {
            for (;;) {
                uint32_t ref = hint++;
                if (hint >= 0x7fff0000u)
                    hint = 8;
                gnt_path(p, sizeof(p), ref);
                fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                if (fd >= 0) {
                    refs[i] = ref;
                    break;
                }
                if (errno != EEXIST)
                    goto fail;
            }
            if (ftruncate(fd, PAGE) < 0) {
                close(fd);
                goto fail;
            }
        } else {
            fd = -1;
            if (domid != 0) {
                snprintf(p, sizeof(p), "%s/gnt.%u.%u", shim_dir(), domid, refs[i]);
                fd = open(p, O_RDWR | O_CLOEXEC);
            }
            if (fd < 0) {
                gnt_path(p, sizeof(p), refs[i]);
                fd = open(p, O_RDWR | O_CLOEXEC);
            }
            if (fd < 0)
                goto fail;
        }
        void *m = mmap((uint8_t *)base + (size_t)i * PAGE, PAGE, prot, MAP_SHARED | MAP_FIXED, fd, 0);
        close(fd);
        if (m == MAP_FAILED)
            goto fail;
        r->refs[i] = refs[i];
        r->count = i + 1;
    }
    r->addr = base;
    r->count = count;
    r->owner = create;
    r->next = regions;
    regions = r;
    return r;
fail:
    if (create) {
        for (uint32_t i = 0; i < r->count; i++) {
            char p[300];
            gnt_path(p, sizeof(p), r->refs[i]);
            unlink(p);
        }
    }
    munmap(base, (size_t)count * PAGE);
    free(r);
    return NULL;
}

void *xengntshr_share_pages(xengntshr_handle *h, uint32_t domid, int count, uint32_t *refs,
                            int writable)
{
    (void)h;
    (void)domid;
    (void)writable;
    if (count <= 0) {
        errno = EINVAL;
        return NULL;
    }
    struct region *r = map_refs((uint32_t)count, refs, 1, PROT_READ | PROT_WRITE, 0);
    return r ? r->addr : NULL;
}

void *xengntshr_share_page_notify(xengntshr_handle *h, uint32_t domid, uint32_t *ref,
                                  int writable, uint32_t notify_offset,
                                  evtchn_port_t notify_port)
{
    (void)h;
    (void)domid;
    (void)writable;
    struct region *r = map_refs(1, ref, 1, PROT_READ | PROT_WRITE, 0);
    if (!r)
        return NULL;
    if (notify_offset < PAGE) {
        r->has_notify = 1;
        r->notify_offset = notify_offset;
        r->notify_port = notify_port;
    }
    return r->addr;
}

void *xengnttab_map_grant_ref_notify(xengnttab_handle *h, uint32_t domid, uint32_t ref,
                                     int prot, uint32_t notify_offset,
                                     evtchn_port_t notify_port)
{
    (void)h;
    struct region *r = map_refs(1, &ref, 0, prot, domid);
    if (!r)
        return NULL;
    if (notify_offset < PAGE) {
        r->has_notify = 1;
        r->notify_offset = notify_offset;
        r->notify_port = notify_port;
    }
    return r->addr;
}

void *xengnttab_map_grant_ref(xengnttab_handle *h, uint32_t domid, uint32_t ref, int prot)
{
    (void)h;
    struct region *r = map_refs(1, &ref, 0, prot, domid);
    return r ? r->addr : NULL;
}

void *xengnttab_map_domain_grant_refs(xengnttab_handle *h, uint32_t count, uint32_t domid,
                                      uint32_t *refs, int prot)
{
    (void)h;
    struct region *r = map_refs(count, refs, 0, prot, domid);
    return r ? r->addr : NULL;
}

static void region_release(struct region *r)
{
    if (r->has_notify) {
        r->addr[r->notify_offset] = 0;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        notify_port(r->notify_port);
    }
    munmap(r->addr, (size_t)r->count * PAGE);
    if (r->owner) {
        for (uint32_t i = 0; i < r->count; i++) {
            char p[300];
            gnt_path(p, sizeof(p), r->refs[i]);
            unlink(p);
        }
    }
}

static int unmap_region(void *start)
{
    for (struct region **pp = &regions; *pp; pp = &(*pp)->next) {
        struct region *r = *pp;
        if (r->addr == start) {
            *pp = r->next;
            region_release(r);
            free(r);
            return 0;
        }
    }
    errno = EINVAL;
    return -1;
}

int xengntshr_unshare(xengntshr_handle *h, void *start, uint32_t count)
{
    (void)h;
    (void)count;
    return unmap_region(start);
}

int xengnttab_unmap(xengnttab_handle *h, void *start, uint32_t count)
{
    (void)h;
    (void)count;
    return unmap_region(start);
}

/* The kernel releases a dying process's grants (and sends the unmap notifications). */
__attribute__((destructor)) static void shim_exit(void)
{
    while (regions) {
        struct region *r = regions;
        regions = r->next;
        region_release(r);
        free(r);
    }
}

/* ---- libxenctrl --------------------------------------------------------------------- */

xc_interface *xc_interface_open(struct xentoollog_logger *l, struct xentoollog_logger *dl,
                                unsigned flags)
{
    (void)l;
    (void)dl;
    (void)flags;
    return calloc(1, 64);
}

int xc_interface_close(xc_interface *xch)
{
    free(xch);
    return 0;
}

/* Domain 0 always exists; domain N > 0 while $XKSHIM_DIR/dom.N does (a test that introduces
 * a guest ring creates it), in the state its first word says: "running" (or empty),
 * "shutdown", "crashed" or "dying". Only an exact match of `first` is reported (the callers,
 * xenstored's among them, ask for one domain and check its id). */
int xc_domain_getinfo(xc_interface *xch, uint32_t first, unsigned int max, xc_dominfo_t *info)
{
    (void)xch;
    if (max == 0)
        return 0;
    char state[32] = "running";
    if (first != 0) {
        char p[300];
        snprintf(p, sizeof(p), "%s/dom.%u", shim_dir(), first);
        if (read_file(p, state, sizeof(state)) < 0)
            return 0;
    }
    memset(info, 0, sizeof(*info));
    info->domid = first;
    info->running = 1;
    if (strncmp(state, "shutdown", 8) == 0) {
        info->running = 0;
        info->shutdown = 1;
    } else if (strncmp(state, "crashed", 7) == 0) {
        info->running = 0;
        info->crashed = 1;
    } else if (strncmp(state, "dying", 5) == 0) {
        info->running = 0;
        info->dying = 1;
    }
    info->max_vcpu_id = 0;
    info->nr_online_vcpus = 1;
    return 1;
}

/* ---- /proc/xen for xenstored ---------------------------------------------------------- */

typedef int (*open_fn)(const char *, int, ...);
typedef FILE *(*fopen_fn)(const char *, const char *);

static int real_open(const char *path, int flags, mode_t mode)
{
    static open_fn fn;
    if (!fn)
        fn = (open_fn)dlsym(RTLD_NEXT, "open");
    return fn(path, flags, mode);
}

/* /proc/xen/xsd_port -> $XKSHIM_DIR/xsd_port ("1"), /proc/xen/xsd_kva -> a zeroed page. */
static const char *redirect(const char *path, char *buf, size_t len)
{
    if (!path || strncmp(path, "/proc/xen/xsd_", 14) != 0)
        return path;
    snprintf(buf, len, "%s/%s", shim_dir(), path + 10);
    int fd = real_open(buf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        if (strcmp(path + 10, "xsd_port") == 0) {
            if (write(fd, "1\n", 2) != 2)
                unlink(buf);
        } else if (ftruncate(fd, PAGE) < 0) {
            unlink(buf);
        }
        close(fd);
    }
    return buf;
}

int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    char buf[300];
    return real_open(redirect(path, buf, sizeof(buf)), flags, mode);
}

FILE *fopen(const char *path, const char *mode)
{
    static fopen_fn fn;
    if (!fn)
        fn = (fopen_fn)dlsym(RTLD_NEXT, "fopen");
    char buf[300];
    return fn(redirect(path, buf, sizeof(buf)), mode);
}
