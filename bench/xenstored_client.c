/* The xenstored bench's client: see xenstored_client.h. */
#include "xenstored_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int conn_open(struct conn *c, const char *path)
{
    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(a.sun_path)) {
        close(c->fd);
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(a.sun_path, path, strlen(path) + 1);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int e = errno;
        close(c->fd);
        c->fd = -1;
        errno = e;
        return -1;
    }
    return 0;
}

void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* All of len bytes written (write) or read (!write), despite EINTR and short transfers. */
static int transfer_all(int fd, void *buf, size_t len, bool write_)
{
    char *p = buf;
    while (len) {
        ssize_t n = write_ ? write(fd, p, len) : read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
    return transfer_all(fd, (void *)buf, len, true);
}

static int read_all(int fd, void *buf, size_t len)
{
    return transfer_all(fd, buf, len, false);
}

/* One request, one reply (watch events in between are counted and dropped). */
int xs_req(struct conn *c, uint32_t type, uint32_t tx, const void *payload, size_t len)
{
    uint32_t hdr[4] = {type, 0, tx, (uint32_t)len};
    c->requests++;
    snprintf(c->last, sizeof(c->last), "type %u %.*s", type,
             (int)strnlen(payload, len < 64 ? len : 64), (const char *)payload);
    if (c->fd < 0 || len > PAYLOAD_MAX || write_all(c->fd, hdr, sizeof(hdr)) < 0 ||
        (len && write_all(c->fd, payload, len) < 0))
        return XR_IO;
    for (;;) {
        uint32_t r[4];
        if (read_all(c->fd, r, sizeof(r)) < 0 || r[3] > PAYLOAD_MAX ||
            read_all(c->fd, c->reply, r[3]) < 0)
            return XR_IO;
        c->reply[r[3]] = 0;
        c->rlen = r[3];
        if (r[0] == XS_WATCH_EVENT) {
            c->events++;
            continue;
        }
        if (r[0] == XS_ERROR) {
            size_t el = strnlen(c->reply, sizeof(c->err) - 1);
            memcpy(c->err, c->reply, el);
            c->err[el] = 0;
            if (strcmp(c->reply, "EAGAIN") == 0)
                return XR_AGAIN;
            c->errors++;
            return XR_ERR;
        }
        if (r[0] != type)
            return XR_IO;
        return XR_OK;
    }
}

/* Payload builder: NUL-terminated strings, the last one optionally without its NUL. */
struct pl {
    char b[PAYLOAD_MAX];
    size_t n;
};

static void pl_str(struct pl *p, const char *s, bool nul)
{
    size_t l = strlen(s) + (nul ? 1 : 0);
    if (p->n + l > sizeof(p->b))
        l = sizeof(p->b) - p->n;
    memcpy(p->b + p->n, s, l);
    p->n += l;
}

int xs_path_op(struct conn *c, uint32_t type, uint32_t tx, const char *path)
{
    struct pl p = {.n = 0};
    pl_str(&p, path, true);
    return xs_req(c, type, tx, p.b, p.n);
}

int xs_write(struct conn *c, uint32_t tx, const char *path, const char *val)
{
    struct pl p = {.n = 0};
    pl_str(&p, path, true);
    pl_str(&p, val, false);
    return xs_req(c, XS_WRITE, tx, p.b, p.n);
}

int xs_read(struct conn *c, uint32_t tx, const char *path)
{
    return xs_path_op(c, XS_READ, tx, path);
}

int xs_mkdir(struct conn *c, uint32_t tx, const char *path)
{
    return xs_path_op(c, XS_MKDIR, tx, path);
}

/* ENOENT is an answer, not a failure (a read before a script has run, a cleanup rm). */
int enoent_ok(struct conn *c, int rc)
{
    if (rc == XR_ERR && strcmp(c->err, "ENOENT") == 0) {
        c->errors--;
        return XR_OK;
    }
    return rc;
}

/* libxl's rm: a missing path (or parent) is fine */
int xs_rm(struct conn *c, uint32_t tx, const char *path)
{
    return enoent_ok(c, xs_path_op(c, XS_RM, tx, path));
}

int xs_read_opt(struct conn *c, uint32_t tx, const char *path)
{
    return enoent_ok(c, xs_read(c, tx, path));
}

int xs_dir(struct conn *c, uint32_t tx, const char *path)
{
    return xs_path_op(c, XS_DIRECTORY, tx, path);
}

/* perms: space-separated entries, e.g. "n0 r5". */
int xs_set_perms(struct conn *c, uint32_t tx, const char *path, const char *perms)
{
    struct pl p = {.n = 0};
    pl_str(&p, path, true);
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%s", perms);
    for (char *save = NULL, *t = strtok_r(tmp, " ", &save); t; t = strtok_r(NULL, " ", &save))
        pl_str(&p, t, true);
    return xs_req(c, XS_SET_PERMS, tx, p.b, p.n);
}

int xs_watch(struct conn *c, uint32_t type, const char *path, const char *token)
{
    struct pl p = {.n = 0};
    pl_str(&p, path, true);
    pl_str(&p, token, true);
    return xs_req(c, type, 0, p.b, p.n);
}

int xs_txn_start(struct conn *c, uint32_t *tx)
{
    int rc = xs_req(c, XS_TXN_START, 0, "", 1);
    if (rc == XR_OK)
        *tx = (uint32_t)strtoul(c->reply, NULL, 10);
    return rc;
}

int xs_txn_end(struct conn *c, uint32_t tx, bool commit)
{
    return xs_req(c, XS_TXN_END, tx, commit ? "T" : "F", 2);
}

int run_txn(struct conn *c, txn_fn fn, const void *arg, uint64_t *retries)
{
    for (int attempt = 0; attempt < 1000; attempt++) {
        uint32_t tx;
        int rc = xs_txn_start(c, &tx);
        if (rc != XR_OK)
            return rc;
        rc = fn(c, tx, arg);
        if (rc == XR_IO)
            return rc;
        if (rc != XR_OK) {
            char err[sizeof(c->err)], last[sizeof(c->last)];
            memcpy(err, c->err, sizeof(err));
            memcpy(last, c->last, sizeof(last));
            xs_txn_end(c, tx, false);
            memcpy(c->err, err, sizeof(err));     /* report the body's failure */
            memcpy(c->last, last, sizeof(last));
            if (rc != XR_AGAIN)
                return rc;
        } else {
            rc = xs_txn_end(c, tx, true);
            if (rc != XR_AGAIN)
                return rc;
        }
        if (retries)
            (*retries)++;
    }
    return XR_AGAIN;
}

void workers_start(struct workers *w, void *args, size_t size, void *(*fn)(void *), int first,
                   int total)
{
    w->th = calloc((size_t)w->n, sizeof(*w->th));
    pthread_barrier_init(&w->bar, NULL, (unsigned)w->n + 1);
    int next = 0;
    for (int i = 0; i < w->n; i++) {
        struct worker_span *sp = (struct worker_span *)((char *)args + (size_t)i * size);
        sp->first = first + next;
        sp->count = total / w->n + (i < total % w->n);
        sp->bar = &w->bar;
        next += sp->count;
        pthread_create(&w->th[i], NULL, fn, sp);
    }
    pthread_barrier_wait(&w->bar);
}

void workers_join(struct workers *w)
{
    for (int i = 0; i < w->n; i++)
        pthread_join(w->th[i], NULL);
    pthread_barrier_destroy(&w->bar);
    free(w->th);
}
