/* The gated store_iodir of store_io_gate.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "tests/unit/store_io_gate.h"

struct store_io_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool hold;
    uint64_t entered, done;
    unsigned tickets; /* syncs let through while held */
    int ticket_rc[64];
    unsigned first_ticket;
};

struct gdir {
    struct store_iodir base;
    struct store_iodir *inner;
    struct store_io_gate *g;
};

struct gio {
    struct store_io base;
    struct store_io *inner;
    struct store_io_gate *g;
};

static int64_t g_pread(struct store_io *io, void *buf, size_t len, uint64_t off)
{
    struct gio *f = (struct gio *)io;
    return f->inner->ops->pread(f->inner, buf, len, off);
}

static int64_t g_pwrite(struct store_io *io, const void *buf, size_t len, uint64_t off)
{
    struct gio *f = (struct gio *)io;
    return f->inner->ops->pwrite(f->inner, buf, len, off);
}

static int g_sync(struct store_io *io)
{
    struct gio *f = (struct gio *)io;
    struct store_io_gate *g = f->g;
    int rc = 0;
    pthread_mutex_lock(&g->mu);
    g->entered++;
    pthread_cond_broadcast(&g->cv);
    while (g->hold && g->tickets == 0)
        pthread_cond_wait(&g->cv, &g->mu);
    if (g->hold) {
        rc = g->ticket_rc[g->first_ticket++ % 64];
        g->tickets--;
    }
    pthread_mutex_unlock(&g->mu);
    if (rc == 0)
        rc = f->inner->ops->sync(f->inner);
    pthread_mutex_lock(&g->mu);
    g->done++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return rc;
}

static int g_truncate(struct store_io *io, uint64_t size)
{
    struct gio *f = (struct gio *)io;
    return f->inner->ops->truncate(f->inner, size);
}

static int g_size(struct store_io *io, uint64_t *size)
{
    struct gio *f = (struct gio *)io;
    return f->inner->ops->size(f->inner, size);
}

static void g_close(struct store_io *io)
{
    struct gio *f = (struct gio *)io;
    f->inner->ops->close(f->inner);
    free(f);
}

static const struct store_io_ops gio_ops = {g_pread, g_pwrite, g_sync, g_truncate, g_size,
                                            g_close};

static int gd_open(struct store_iodir *d, const char *name, unsigned flags, struct store_io **out)
{
    struct gdir *gd = (struct gdir *)d;
    struct gio *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -ENOMEM;
    int rc = gd->inner->ops->open(gd->inner, name, flags, &f->inner);
    if (rc < 0) {
        free(f);
        return rc;
    }
    f->base.ops = &gio_ops;
    f->g = gd->g;
    *out = &f->base;
    return 0;
}

static int gd_rename(struct store_iodir *d, const char *from, const char *to)
{
    struct gdir *gd = (struct gdir *)d;
    return gd->inner->ops->rename(gd->inner, from, to);
}

static int gd_unlink(struct store_iodir *d, const char *name)
{
    struct gdir *gd = (struct gdir *)d;
    return gd->inner->ops->unlink(gd->inner, name);
}

static int gd_sync_dir(struct store_iodir *d)
{
    struct gdir *gd = (struct gdir *)d;
    return gd->inner->ops->sync_dir(gd->inner);
}

static void gd_close(struct store_iodir *d)
{
    struct gdir *gd = (struct gdir *)d;
    gd->inner->ops->close(gd->inner);
    free(gd);
}

static const struct store_iodir_ops gdir_ops = {gd_open, gd_rename, gd_unlink, gd_sync_dir,
                                                gd_close};

int store_io_gate_dir(const char *path, struct store_io_gate **gate, struct store_iodir **out)
{
    struct gdir *gd = calloc(1, sizeof *gd);
    struct store_io_gate *g = calloc(1, sizeof *g);
    int rc = gd && g ? store_io_posix_dir(path, &gd->inner) : -ENOMEM;
    if (rc < 0) {
        free(gd);
        free(g);
        return rc;
    }
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    gd->base.ops = &gdir_ops;
    gd->g = g;
    *gate = g;
    *out = &gd->base;
    return 0;
}

void store_io_gate_hold(struct store_io_gate *g, bool hold)
{
    pthread_mutex_lock(&g->mu);
    g->hold = hold;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

void store_io_gate_wait_entered(struct store_io_gate *g, uint64_t n)
{
    pthread_mutex_lock(&g->mu);
    while (g->entered < n)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

void store_io_gate_release(struct store_io_gate *g, int rc)
{
    pthread_mutex_lock(&g->mu);
    g->ticket_rc[(g->first_ticket + g->tickets) % 64] = rc;
    g->tickets++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

uint64_t store_io_gate_entered(struct store_io_gate *g)
{
    pthread_mutex_lock(&g->mu);
    uint64_t n = g->entered;
    pthread_mutex_unlock(&g->mu);
    return n;
}

uint64_t store_io_gate_done(struct store_io_gate *g)
{
    pthread_mutex_lock(&g->mu);
    uint64_t n = g->done;
    pthread_mutex_unlock(&g->mu);
    return n;
}

void store_io_gate_free(struct store_io_gate *g)
{
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g);
}
