/*
 * vxs: the history of vxenstored's database, from the command line.
 *
 *   vxs [--db DIR | --socket PATH] [--json] COMMAND [ARGS]
 *
 *   log [-n N] [PATH]            commits newest first (with PATH: those that changed it)
 *   show COMMIT [PATH]           a commit and its changes
 *   diff A B [PATH]              changes from commit A to commit B
 *   blame [-r] PATH              the commit that set the node's value and perms (-r: and
 *                                every node below it)
 *   at TIME read|ls PATH         the node (ls: its children) as of TIME: a commit, a unix
 *                                timestamp or ISO-8601 UTC (2024-05-01T12:00:00Z)
 *   export-git DIR               the history as a git repository (git -C DIR log -p)
 *   gc [KEEP_COMMITS [KEEP_SECONDS]]
 *                                drop history older than both (default 1000 commits, 7 days)
 *   memreport                    the daemon's connections, watches, transactions, caches
 *
 * COMMIT is a unique prefix (4+ hex digits) of a commit id, "head" or "head~N".
 *
 * Online (the default): the running daemon answers through XS_CONTROL "history"/"gc" on its
 * socket (--socket, else $XENSTORED_PATH, else $XENSTORED_RUNDIR/socket, else
 * /var/run/xenstored/socket), one page of at most 4 KiB at a time.
 *
 * Offline (--db DIR): the CLI reads DIR/xenstore.pack itself. Opening a pack normally may
 * truncate a torn tail and deletes a leftover GC file, which would destroy the running
 * daemon's unfinished writes, so the CLI opens it through a read-only view instead: reads go
 * to the file, the size is fixed at open, writes fail, and "truncating" the tail (what
 * recovery does when it meets the daemon's half-written last commit) only shortens the view.
 * The daemon only ever appends, and replaces the file by rename in GC (the open descriptor
 * keeps the old one), so the view is a consistent snapshot at the last complete commit,
 * whether or not the daemon runs. `gc` writes: offline it refuses while any process has the
 * pack open (use the online gc then).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "xenstore/store_pack.h"
#include "xenstore/vxs_history.h"
#include "xenstore/xs_codec.h"

#define BRANCH "xenstore"
#define PACK_NAME "xenstore.pack"
#define OFFLINE_BUDGET (1u << 20)

static void usage(FILE *f)
{
    fprintf(f, "usage: vxs [--db DIR | --socket PATH] [--json] COMMAND [ARGS]\n"
               "  log [-n N] [PATH]\n"
               "  show COMMIT [PATH]\n"
               "  diff A B [PATH]\n"
               "  blame [-r] PATH\n"
               "  at TIME read|ls PATH       (TIME: commit, unix time or ISO-8601 UTC)\n"
               "  export-git DIR\n"
               "  gc [KEEP_COMMITS [KEEP_SECONDS]]\n"
               "  memreport                  (online only)\n");
}

static int out_write(const char *p, size_t n)
{
    return fwrite(p, 1, n, stdout) == n ? 0 : -EIO;
}

/* ---- online: XS_CONTROL over the daemon's socket ---------------------------------------- */

static int sock_open(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (fd < 0)
        return -errno;
    if (strlen(path) >= sizeof sa.sun_path) {
        close(fd);
        return -ENAMETOOLONG;
    }
    strcpy(sa.sun_path, path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* One XS_CONTROL request with args; the reply's payload goes to body (XS_READER_BODY_SIZE
 * bytes, NUL-terminated), its length to *blen. */
static int control(int fd, char **args, int n, uint8_t *body, size_t *blen)
{
    static uint32_t req_id;
    uint8_t msg[XS_MSG_MAX];
    struct xs_builder b;
    xs_build_begin(&b, msg, sizeof msg, XS_CONTROL, ++req_id, 0);
    for (int i = 0; i < n; i++)
        xs_build_str(&b, args[i]);
    int len = xs_build_end(&b);
    if (len < 0)
        return len;
    for (size_t off = 0; off < (size_t)len;) {
        ssize_t w = send(fd, msg + off, (size_t)len - off, MSG_NOSIGNAL);
        if (w < 0 && errno != EINTR)
            return -errno;
        off += w > 0 ? (size_t)w : 0;
    }
    struct xs_reader r;
    xs_reader_init(&r, body, XS_READER_BODY_SIZE);
    int rc = 0;
    while (rc == 0) {
        size_t want;
        void *p = xs_reader_want(&r, &want);
        if (!p)
            return -EPROTO;
        ssize_t got = recv(fd, p, want, 0);
        if (got == 0)
            return -ECONNRESET;
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -errno;
        rc = xs_reader_got(&r, (size_t)got);
    }
    if (rc < 0)
        return rc;
    if (r.hdr.req_id != req_id)
        return -EPROTO;
    *blen = r.hdr.len;
    return xs_reply_status(&r.hdr, body, XS_CONTROL);
}

/* Run a paged history query through the daemon, printing every page. */
static int online_query(int fd, bool json, int argc, char **argv)
{
    char cursor[4096] = "";
    char *args[64];
    if (argc > 56)
        return -E2BIG;
    static uint8_t body[XS_READER_BODY_SIZE];
    for (bool first = true;; first = false) {
        int n = 0;
        args[n++] = "history";
        if (json)
            args[n++] = "-j";
        if (!first) {
            args[n++] = "-c";
            args[n++] = cursor;
        }
        for (int i = 0; i < argc; i++)
            args[n++] = argv[i];
        size_t blen;
        int rc = control(fd, args, n, body, &blen);
        if (rc < 0)
            return rc;
        const char *page;
        size_t plen;
        char next[sizeof cursor];
        rc = vxh_reply_parse((const char *)body, blen, next, sizeof next, &page, &plen);
        if (rc == -EIO) {
            fprintf(stderr, "vxs: %s\n", next);
            return -EIO;
        }
        if (rc < 0)
            return rc;
        if (out_write(page, plen) < 0)
            return -EIO;
        if (rc == 0)
            return 0;
        memcpy(cursor, next, sizeof cursor);
    }
}

/* ---- offline: a read-only view of the pack -------------------------------------------------- */

struct ro_dir {
    struct store_iodir base;
    struct store_iodir *inner;
};
struct ro_io {
    struct store_io base;
    struct store_io *inner;
    uint64_t size; /* fixed at open; recovery may only shorten it */
};

static int64_t ro_pread(struct store_io *io, void *buf, size_t len, uint64_t off)
{
    struct ro_io *r = (struct ro_io *)io;
    if (off >= r->size)
        return 0;
    if (len > r->size - off)
        len = (size_t)(r->size - off);
    return r->inner->ops->pread(r->inner, buf, len, off);
}

static int64_t ro_pwrite(struct store_io *io, const void *buf, size_t len, uint64_t off)
{
    (void)io, (void)buf, (void)len, (void)off;
    return -EROFS;
}

static int ro_sync(struct store_io *io)
{
    (void)io;
    return 0; /* nothing of ours to make durable */
}

static int ro_truncate(struct store_io *io, uint64_t size)
{
    struct ro_io *r = (struct ro_io *)io;
    if (size > r->size)
        return -EROFS;
    r->size = size;
    return 0;
}

static int ro_size(struct store_io *io, uint64_t *size)
{
    *size = ((struct ro_io *)io)->size;
    return 0;
}

static void ro_close(struct store_io *io)
{
    struct ro_io *r = (struct ro_io *)io;
    r->inner->ops->close(r->inner);
    free(r);
}

static const struct store_io_ops ro_io_ops = {ro_pread, ro_pwrite, ro_sync, ro_truncate,
                                              ro_size, ro_close};

static int ro_open(struct store_iodir *d, const char *name, unsigned flags, struct store_io **out)
{
    struct ro_dir *rd = (struct ro_dir *)d;
    if (flags & STORE_IO_TRUNC)
        return -EROFS;
    struct ro_io *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->base.ops = &ro_io_ops;
    int rc = rd->inner->ops->open(rd->inner, name, STORE_IO_RDONLY, &r->inner);
    if (rc == 0 && (rc = r->inner->ops->size(r->inner, &r->size)) < 0)
        r->inner->ops->close(r->inner);
    if (rc < 0) {
        free(r);
        return rc;
    }
    *out = &r->base;
    return 0;
}

static int ro_rename(struct store_iodir *d, const char *from, const char *to)
{
    (void)d, (void)from, (void)to;
    return -EROFS;
}

static int ro_unlink(struct store_iodir *d, const char *name)
{
    (void)d, (void)name;
    return -ENOENT; /* a leftover NAME.gc may be the daemon's GC at work: leave it */
}

static int ro_sync_dir(struct store_iodir *d)
{
    (void)d;
    return 0;
}

static void ro_dir_close(struct store_iodir *d)
{
    struct ro_dir *rd = (struct ro_dir *)d;
    rd->inner->ops->close(rd->inner);
    free(rd);
}

static const struct store_iodir_ops ro_dir_ops = {ro_open, ro_rename, ro_unlink, ro_sync_dir,
                                                  ro_dir_close};

static int offline_open(const char *db, bool writable, struct store_iodir **dir,
                        struct objstore **os)
{
    struct store_pack_report rep;
    struct store_pack_opts opts = {0};
    int rc = store_io_posix_dir(db, dir);
    if (rc < 0)
        return rc;
    if (!writable) {
        struct ro_dir *rd = calloc(1, sizeof *rd);
        if (!rd) {
            (*dir)->ops->close(*dir);
            return -ENOMEM;
        }
        rd->base.ops = &ro_dir_ops;
        rd->inner = *dir;
        *dir = &rd->base;
    }
    rc = store_pack_open(*dir, PACK_NAME, &opts, os, &rep);
    if (rc < 0) {
        if (rep.msg[0] && rc != -ENOENT) /* the caller names a missing pack itself */
            fprintf(stderr, "vxs: %s\n", rep.msg);
        (*dir)->ops->close(*dir);
    }
    return rc;
}

static int offline_query(struct vs_store *st, bool json, int argc, char **argv)
{
    char cursor[sizeof ((struct vxh_page *)0)->next] = "";
    for (;;) {
        struct vxh_page pg = {.fmt = json ? VXH_JSON : VXH_TEXT, .budget = OFFLINE_BUDGET,
                              .cursor = cursor};
        int rc = vxh_query(st, BRANCH, argc, argv, &pg);
        if (rc < 0)
            fprintf(stderr, "vxs: %s\n", pg.msg);
        else if (out_write(pg.body.p ? pg.body.p : "", pg.body.len) < 0)
            rc = -EIO;
        bool more = pg.more;
        memcpy(cursor, pg.next, sizeof cursor);
        vxh_page_free(&pg);
        if (rc < 0 || !more)
            return rc < 0 ? -EIO : 0;
    }
}

/* Does any other process hold the file open (Linux: /proc/PID/fd)? Used before writing a
 * pack offline: two writers would destroy it. */
static bool in_use(const char *path)
{
    struct stat want, st;
    if (stat(path, &want) < 0)
        return false;
    DIR *proc = opendir("/proc");
    if (!proc)
        return false;
    bool found = false;
    struct dirent *p;
    while (!found && (p = readdir(proc)) != NULL) {
        char dpath[300];
        if (p->d_name[0] < '0' || p->d_name[0] > '9' || atoi(p->d_name) == (int)getpid())
            continue;
        snprintf(dpath, sizeof dpath, "/proc/%s/fd", p->d_name);
        DIR *fds = opendir(dpath);
        struct dirent *f;
        while (fds && !found && (f = readdir(fds)) != NULL) {
            char fpath[600];
            snprintf(fpath, sizeof fpath, "%s/%s", dpath, f->d_name);
            found = stat(fpath, &st) == 0 && st.st_dev == want.st_dev && st.st_ino == want.st_ino;
        }
        if (fds)
            closedir(fds);
    }
    closedir(proc);
    return found;
}

static int parse_keep(int argc, char **argv, char **extra)
{
    if (argc > 3)
        return -EINVAL;
    for (int i = 1; i < argc; i++) {
        char *e;
        strtoull(argv[i], &e, 10);
        if (!*argv[i] || *e)
            return -EINVAL;
        extra[i - 1] = argv[i];
    }
    return argc - 1;
}

static int offline_gc(const char *db, bool json, int argc, char **argv)
{
    char *keepargs[2];
    int nk = parse_keep(argc, argv, keepargs);
    if (nk < 0)
        return nk;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", db, PACK_NAME);
    if (in_use(path)) {
        fprintf(stderr, "vxs: %s is open in another process (the daemon?): use the online gc\n",
                path);
        return -EBUSY;
    }
    struct vs_keep keep = {.commits = 1000, .seconds = 7 * 86400};
    if (nk > 0)
        keep.commits = strtoull(keepargs[0], NULL, 10) ? strtoull(keepargs[0], NULL, 10) : 1;
    if (nk > 1)
        keep.seconds = strtoull(keepargs[1], NULL, 10);
    struct store_iodir *dir;
    struct objstore *os;
    int rc = offline_open(db, true, &dir, &os);
    if (rc < 0)
        return rc;
    struct vxh_buf b = {0};
    rc = vxh_gc(os, &keep, json ? VXH_JSON : VXH_TEXT, &b);
    if (rc == 0)
        rc = out_write(b.p, b.len);
    vxh_buf_free(&b);
    os->ops->close(os);
    dir->ops->close(dir);
    return rc;
}

/* ---- main ------------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    const char *db = NULL, *sock = NULL;
    bool json = false;
    char **args = calloc((size_t)argc + 1, sizeof *args);
    int n = 0;
    if (!args)
        return 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
            json = true;
        else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            db = argv[++i];
        else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
            sock = argv[++i];
        else if (n == 0 && (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0))
            return usage(stdout), free(args), 0;
        else
            args[n++] = argv[i];
    }
    if (n == 0)
        return usage(stderr), free(args), 2;
    /* The daemon writes export-git's DIR itself: its working directory is not ours. */
    char absdir[4096];
    if (strcmp(args[0], "export-git") == 0 && n == 2 && args[1][0] != '/') {
        char cwd[2048];
        if (!getcwd(cwd, sizeof cwd))
            return 1;
        snprintf(absdir, sizeof absdir, "%s/%s", cwd, args[1]);
        args[1] = absdir;
    }
    int rc;
    if (db) {
        if (strcmp(args[0], "gc") == 0) {
            rc = offline_gc(db, json, n, args);
        } else if (strcmp(args[0], "memreport") == 0) {
            fprintf(stderr, "vxs: memreport needs the running daemon\n");
            rc = -EINVAL;
        } else {
            struct store_iodir *dir = NULL;
            struct objstore *os = NULL;
            rc = offline_open(db, false, &dir, &os);
            if (rc < 0) {
                fprintf(stderr, "vxs: %s/%s: %s\n", db, PACK_NAME, strerror(-rc));
            } else {
                struct vs_store *st = vs_store_open(os, 0);
                rc = st ? offline_query(st, json, n, args) : -ENOMEM;
                if (st)
                    vs_store_close(st);
                os->ops->close(os);
                dir->ops->close(dir);
            }
        }
    } else {
        char sockbuf[4096];
        if (!sock) {
            sock = getenv("XENSTORED_PATH");
            if (!sock || !*sock) {
                const char *rundir = getenv("XENSTORED_RUNDIR");
                snprintf(sockbuf, sizeof sockbuf, "%s/socket",
                         rundir && *rundir ? rundir : "/var/run/xenstored");
                sock = sockbuf;
            }
        }
        int fd = sock_open(sock);
        if (fd < 0) {
            fprintf(stderr, "vxs: %s: %s (is vxenstored running? else use --db DIR)\n", sock,
                    strerror(-fd));
            free(args);
            return 1;
        }
        static uint8_t body[XS_READER_BODY_SIZE];
        size_t blen;
        if (strcmp(args[0], "gc") == 0 || strcmp(args[0], "memreport") == 0) {
            char *cargs[4] = {args[0]};
            int k = 1, nk = 0;
            if (json && strcmp(args[0], "gc") == 0)
                cargs[k++] = "-j";
            if (strcmp(args[0], "gc") == 0)
                nk = parse_keep(n, args, cargs + k);
            rc = nk < 0 ? nk : control(fd, cargs, k + nk, body, &blen);
            if (rc == 0)
                rc = out_write((const char *)body, strnlen((const char *)body, blen));
            if (rc < 0)
                fprintf(stderr, "vxs: %s: %s\n", args[0], strerror(-rc));
        } else {
            rc = online_query(fd, json, n, args);
            if (rc < 0 && rc != -EIO)
                fprintf(stderr, "vxs: %s: %s\n", sock, strerror(-rc));
        }
        close(fd);
    }
    free(args);
    if (fflush(stdout) != 0)
        rc = -EIO;
    return rc == -EINVAL ? 2 : rc < 0;
}
