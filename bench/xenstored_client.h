/*
 * The xenstored bench's client: the raw xenstore wire protocol over a Unix socket, one request
 * outstanding per connection like libxenstore (header and payload in two write()s, the reply
 * read back before the next request; watch events in between are counted and dropped).
 */
#ifndef XENSTORED_CLIENT_H
#define XENSTORED_CLIENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    XS_DIRECTORY = 1, XS_READ = 2, XS_WATCH = 4, XS_UNWATCH = 5, XS_TXN_START = 6,
    XS_TXN_END = 7, XS_GET_DOMAIN_PATH = 10, XS_WRITE = 11, XS_MKDIR = 12, XS_RM = 13,
    XS_SET_PERMS = 14, XS_WATCH_EVENT = 15, XS_ERROR = 16,
};

#define PAYLOAD_MAX 4096

/* Outcome of a request. */
enum { XR_OK = 0, XR_AGAIN = 1, XR_ERR = 2, XR_IO = 3 };

struct conn {
    int fd;
    uint64_t requests;      /* requests sent */
    uint64_t events;        /* watch events received */
    uint64_t errors;        /* unexpected error replies */
    char err[32];           /* the last error string */
    char last[80];          /* the last request: type and path, for error messages */
    char reply[PAYLOAD_MAX + 1];
    uint32_t rlen;
};

int conn_open(struct conn *c, const char *path);
void conn_close(struct conn *c);
/* One request, one reply: XR_OK, XR_AGAIN (EAGAIN), XR_ERR (c->err says which) or XR_IO. */
int xs_req(struct conn *c, uint32_t type, uint32_t tx, const void *payload, size_t len);
int xs_path_op(struct conn *c, uint32_t type, uint32_t tx, const char *path);
int xs_write(struct conn *c, uint32_t tx, const char *path, const char *val);
int xs_read(struct conn *c, uint32_t tx, const char *path);
int xs_mkdir(struct conn *c, uint32_t tx, const char *path);
/* ENOENT is an answer, not a failure: turns it into XR_OK. */
int enoent_ok(struct conn *c, int rc);
int xs_rm(struct conn *c, uint32_t tx, const char *path);
int xs_read_opt(struct conn *c, uint32_t tx, const char *path);
int xs_dir(struct conn *c, uint32_t tx, const char *path);
/* perms: space-separated entries, e.g. "n0 r5". */
int xs_set_perms(struct conn *c, uint32_t tx, const char *path, const char *perms);
int xs_watch(struct conn *c, uint32_t type, const char *path, const char *token);
int xs_txn_start(struct conn *c, uint32_t *tx);
int xs_txn_end(struct conn *c, uint32_t tx, bool commit);

/* A transaction whose body is `fn`; retried on EAGAIN (counted in *retries). */
typedef int (*txn_fn)(struct conn *c, uint32_t tx, const void *arg);
int run_txn(struct conn *c, txn_fn fn, const void *arg, uint64_t *retries);

/* Workers that share out a run of domains and start together. Each worker's arguments (an
 * element of an array) begin with a struct worker_span, which workers_start fills in; the
 * worker waits on span.bar before it starts its domains span.first .. first + count - 1. */
struct worker_span {
    int first, count;
    pthread_barrier_t *bar;
};
struct workers {
    int n; /* threads: workers_count() */
    pthread_t *th;
    pthread_barrier_t bar;
};
static inline int workers_count(int threads, int total)
{
    return threads < total ? threads : total;
}
/* Shares domains first .. first + total - 1 out over w->n workers running fn on the w->n
 * elements of args (size bytes each) and returns once they all start. */
void workers_start(struct workers *w, void *args, size_t size, void *(*fn)(void *), int first,
                   int total);
void workers_join(struct workers *w);

#endif
