/*
 * I/O backends of the object heap (see store_io.h): POSIX files in a directory, and the
 * fault-injecting wrapper the tests use.
 *
 * What each POSIX call guarantees, and which claim of the store rests on it:
 *   - pwrite(2): the bytes are in the page cache; a crash may lose them, keep them, or keep
 *     any subset of their pages (and, past the old end of file, leave zeros).
 *   - fdatasync(2) (sync): every completed write to the file and the file size they produced
 *     are on stable storage when it returns 0 (the size is "metadata needed to retrieve the
 *     data", which fdatasync must flush; mtime is not, which is why it is cheaper than
 *     fsync). With the disk's write cache on, Linux issues a cache flush (FUA/PREFLUSH) as
 *     part of it. This is the call that makes a commit durable.
 *   - fsync(2) of the directory (sync_dir): a file's creation, rename or unlink is on stable
 *     storage; without it a new pack file may vanish after a crash even though its contents
 *     were synced, and a rename may be undone.
 *   - renameat(2) (rename): atomic replacement: after a crash the name refers to the old or
 *     the new file, never to neither or to a mix.
 *   - ftruncate(2) (truncate): not durable until the next fdatasync.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xenstore/store_io.h"

int store_io_write_all(struct store_io *io, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    while (len > 0) {
        int64_t n = io->ops->pwrite(io, p, len, off);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int store_io_read_all(struct store_io *io, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len > 0) {
        int64_t n = io->ops->pread(io, p, len, off);
        if (n < 0)
            return (int)n;
        if (n == 0)
            return -ENODATA;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* ---- POSIX files ------------------------------------------------------------------------ */

struct posix_io {
    struct store_io base;
    int fd;
    bool rdonly;
    uint8_t *map; /* store_io_map: NULL until asked for, MAP_FAILED if it could not be made */
    uint64_t map_len;
};

struct posix_dir {
    struct store_iodir base;
    int dirfd;
};

static int posix_fd(struct store_io *io)
{
    return ((struct posix_io *)io)->fd;
}

static int64_t posix_pread(struct store_io *io, void *buf, size_t len, uint64_t off)
{
    for (;;) {
        ssize_t n = pread(posix_fd(io), buf, len, (off_t)off);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return -errno;
    }
}

static int64_t posix_pwrite(struct store_io *io, const void *buf, size_t len, uint64_t off)
{
    for (;;) {
        ssize_t n = pwrite(posix_fd(io), buf, len, (off_t)off);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return -errno;
    }
}

static int posix_sync(struct store_io *io)
{
    /* fdatasync: the data and the file size on stable storage (see the top of the file). */
    return fdatasync(posix_fd(io)) == 0 ? 0 : -errno;
}

static int posix_truncate(struct store_io *io, uint64_t size)
{
    for (;;) {
        if (ftruncate(posix_fd(io), (off_t)size) == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

static int posix_size(struct store_io *io, uint64_t *size)
{
    struct stat st;
    if (fstat(posix_fd(io), &st) != 0)
        return -errno;
    *size = (uint64_t)st.st_size;
    return 0;
}

static void posix_close(struct store_io *io)
{
    struct posix_io *pio = (struct posix_io *)io;
    if (pio->map != NULL && pio->map != MAP_FAILED)
        munmap(pio->map, pio->map_len);
    close(pio->fd);
    free(io);
}

static const struct store_io_ops posix_io_ops = {
    .pread = posix_pread,
    .pwrite = posix_pwrite,
    .sync = posix_sync,
    .truncate = posix_truncate,
    .size = posix_size,
    .close = posix_close,
};

static int posix_open(struct store_iodir *d, const char *name, unsigned flags,
                      struct store_io **out)
{
    int oflags = O_CLOEXEC | ((flags & STORE_IO_RDONLY) ? O_RDONLY : O_RDWR);
    if (flags & STORE_IO_CREATE)
        oflags |= O_CREAT;
    if (flags & STORE_IO_TRUNC)
        oflags |= O_TRUNC;
    struct posix_io *io = malloc(sizeof(*io));
    if (io == NULL)
        return -ENOMEM;
    int fd = openat(((struct posix_dir *)d)->dirfd, name, oflags, 0644);
    if (fd < 0) {
        int e = errno;
        free(io);
        return -e;
    }
    io->base.ops = &posix_io_ops;
    io->fd = fd;
    io->rdonly = (flags & STORE_IO_RDONLY) != 0;
    io->map = NULL;
    io->map_len = 0;
    *out = &io->base;
    return 0;
}

static int posix_rename(struct store_iodir *d, const char *from, const char *to)
{
    int dfd = ((struct posix_dir *)d)->dirfd;
    return renameat(dfd, from, dfd, to) == 0 ? 0 : -errno;
}

static int posix_unlink(struct store_iodir *d, const char *name)
{
    return unlinkat(((struct posix_dir *)d)->dirfd, name, 0) == 0 ? 0 : -errno;
}

static int posix_sync_dir(struct store_iodir *d)
{
    /* fsync of the directory: creations, renames and unlinks in it are durable. */
    return fsync(((struct posix_dir *)d)->dirfd) == 0 ? 0 : -errno;
}

static void posix_dir_close(struct store_iodir *d)
{
    close(((struct posix_dir *)d)->dirfd);
    free(d);
}

/* One MAP_SHARED mapping of the file from offset 0, far longer than the file: a mapping may
 * extend past the end of its file, and the pages the file grows into become usable in it
 * without a new mmap (touching a page wholly past the end is SIGBUS: callers write only
 * below the size they made). 1 TiB of address space (64 GiB if refused, e.g. under a
 * RLIMIT_AS); no memory is committed for a shared file mapping. */
uint8_t *store_io_map(struct store_io *io, uint64_t *len)
{
    if (io == NULL || io->ops != &posix_io_ops || sizeof(void *) < 8)
        return NULL;
    struct posix_io *pio = (struct posix_io *)io;
    if (pio->map == NULL) {
        pio->map = MAP_FAILED;
        for (unsigned shift = 40; pio->map == MAP_FAILED && shift >= 36 && !pio->rdonly;
             shift -= 4) {
            pio->map_len = (uint64_t)1 << shift;
            pio->map = mmap(NULL, (size_t)pio->map_len, PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_NORESERVE, pio->fd, 0);
        }
    }
    if (pio->map == MAP_FAILED)
        return NULL;
    *len = pio->map_len;
    return pio->map;
}

void store_io_map_prefault(struct store_io *io, uint64_t off, uint64_t len)
{
#ifdef MADV_POPULATE_WRITE
    if (io == NULL || io->ops != &posix_io_ops)
        return;
    struct posix_io *pio = (struct posix_io *)io;
    if (pio->map == NULL || pio->map == MAP_FAILED || off >= pio->map_len)
        return;
    uint64_t start = off & ~(uint64_t)4095;
    if (len > pio->map_len - off)
        len = pio->map_len - off;
    (void)madvise(pio->map + start, (size_t)(off + len - start), MADV_POPULATE_WRITE);
#else
    (void)io, (void)off, (void)len;
#endif
}

static const struct store_iodir_ops posix_dir_ops = {
    .open = posix_open,
    .rename = posix_rename,
    .unlink = posix_unlink,
    .sync_dir = posix_sync_dir,
    .close = posix_dir_close,
};

int store_io_posix_dir(const char *path, struct store_iodir **out)
{
    struct posix_dir *d = malloc(sizeof(*d));
    if (d == NULL)
        return -ENOMEM;
    d->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d->dirfd < 0) {
        int e = errno;
        free(d);
        return -e;
    }
    d->base.ops = &posix_dir_ops;
    *out = &d->base;
    return 0;
}

/* ---- fault injection ---------------------------------------------------------------------- */

#define FAULT_MAX_NAMES 16
#define FAULT_NAME_MAX 256

struct fault_name {
    bool used;
    char name[FAULT_NAME_MAX];
    uint64_t synced_size; /* the file's size at its last successful sync */
};

struct fault_dir {
    struct store_iodir base;
    struct store_iodir *inner;
    struct store_fault *f;
    struct fault_name names[FAULT_MAX_NAMES];
};

struct fault_io {
    struct store_io base;
    struct store_io *inner;
    struct fault_dir *dir;
    int slot; /* in dir->names */
};

static struct fault_io *FI(struct store_io *io)
{
    return (struct fault_io *)io;
}

static int fault_slot(struct fault_dir *d, const char *name, bool create)
{
    int free_slot = -1;
    for (int i = 0; i < FAULT_MAX_NAMES; i++) {
        if (d->names[i].used && strcmp(d->names[i].name, name) == 0)
            return i;
        if (!d->names[i].used && free_slot < 0)
            free_slot = i;
    }
    if (!create || free_slot < 0 || strlen(name) >= FAULT_NAME_MAX)
        return -1;
    d->names[free_slot].used = true;
    strcpy(d->names[free_slot].name, name);
    d->names[free_slot].synced_size = 0;
    return free_slot;
}

static int64_t fault_pread(struct store_io *io, void *buf, size_t len, uint64_t off)
{
    struct fault_io *fi = FI(io);
    if (fi->dir->f->dead)
        return -EIO;
    return fi->inner->ops->pread(fi->inner, buf, len, off);
}

static int64_t fault_pwrite(struct store_io *io, const void *buf, size_t len, uint64_t off)
{
    struct fault_io *fi = FI(io);
    struct store_fault *f = fi->dir->f;
    if (f->dead)
        return -EIO;
    f->writes++;
    if (f->fail_write_at != 0 && f->writes == f->fail_write_at)
        return -EIO;
    if (f->short_write_every != 0 && len > 1 && f->writes % f->short_write_every == 0)
        len /= 2;
    if (f->crash_after_bytes >= 0 && f->bytes_written + len > (uint64_t)f->crash_after_bytes) {
        size_t keep = (size_t)((uint64_t)f->crash_after_bytes - f->bytes_written);
        if (keep > 0) {
            int64_t n = fi->inner->ops->pwrite(fi->inner, buf, keep, off);
            if (n > 0)
                f->bytes_written += (uint64_t)n;
        }
        f->dead = true;
        return -EIO;
    }
    int64_t n = fi->inner->ops->pwrite(fi->inner, buf, len, off);
    if (n > 0)
        f->bytes_written += (uint64_t)n;
    return n;
}

static int fault_sync(struct store_io *io)
{
    struct fault_io *fi = FI(io);
    struct store_fault *f = fi->dir->f;
    if (f->dead)
        return -EIO;
    f->syncs++;
    if (f->fail_sync_from != 0 && f->syncs >= f->fail_sync_from) {
        f->sync_failures++;
        return -EIO;
    }
    int rc = fi->inner->ops->sync(fi->inner);
    if (rc == 0 && fi->slot >= 0) {
        uint64_t sz;
        if (fi->inner->ops->size(fi->inner, &sz) == 0)
            fi->dir->names[fi->slot].synced_size = sz;
    }
    return rc;
}

static int fault_truncate(struct store_io *io, uint64_t size)
{
    struct fault_io *fi = FI(io);
    if (fi->dir->f->dead)
        return -EIO;
    return fi->inner->ops->truncate(fi->inner, size);
}

static int fault_size(struct store_io *io, uint64_t *size)
{
    struct fault_io *fi = FI(io);
    if (fi->dir->f->dead)
        return -EIO;
    return fi->inner->ops->size(fi->inner, size);
}

static void fault_close(struct store_io *io)
{
    struct fault_io *fi = FI(io);
    fi->inner->ops->close(fi->inner);
    free(fi);
}

static const struct store_io_ops fault_io_ops = {
    .pread = fault_pread,
    .pwrite = fault_pwrite,
    .sync = fault_sync,
    .truncate = fault_truncate,
    .size = fault_size,
    .close = fault_close,
};

static struct fault_dir *FD(struct store_iodir *d)
{
    return (struct fault_dir *)d;
}

static int fault_open(struct store_iodir *d, const char *name, unsigned flags,
                      struct store_io **out)
{
    struct fault_dir *fd = FD(d);
    if (fd->f->dead)
        return -EIO;
    struct fault_io *fi = malloc(sizeof(*fi));
    if (fi == NULL)
        return -ENOMEM;
    int rc = fd->inner->ops->open(fd->inner, name, flags, &fi->inner);
    if (rc < 0) {
        free(fi);
        return rc;
    }
    fi->base.ops = &fault_io_ops;
    fi->dir = fd;
    int existing = fault_slot(fd, name, false);
    fi->slot = fault_slot(fd, name, true);
    if (fi->slot >= 0 && (existing < 0 || (flags & STORE_IO_TRUNC))) {
        /* First sight of the file (or emptied): what is there now counts as durable. */
        uint64_t sz = 0;
        fi->inner->ops->size(fi->inner, &sz);
        fd->names[fi->slot].synced_size = sz;
    }
    *out = &fi->base;
    return 0;
}

static int fault_rename(struct store_iodir *d, const char *from, const char *to)
{
    struct fault_dir *fd = FD(d);
    if (fd->f->dead)
        return -EIO;
    int rc = fd->inner->ops->rename(fd->inner, from, to);
    if (rc == 0) {
        int t = fault_slot(fd, to, false);
        if (t >= 0)
            fd->names[t].used = false;
        int s = fault_slot(fd, from, false);
        if (s >= 0 && strlen(to) < FAULT_NAME_MAX)
            strcpy(fd->names[s].name, to);
    }
    return rc;
}

static int fault_unlink(struct store_iodir *d, const char *name)
{
    struct fault_dir *fd = FD(d);
    if (fd->f->dead)
        return -EIO;
    int rc = fd->inner->ops->unlink(fd->inner, name);
    int s = fault_slot(fd, name, false);
    if (rc == 0 && s >= 0)
        fd->names[s].used = false;
    return rc;
}

static int fault_sync_dir(struct store_iodir *d)
{
    struct fault_dir *fd = FD(d);
    struct store_fault *f = fd->f;
    if (f->dead)
        return -EIO;
    f->syncs++;
    if (f->fail_sync_from != 0 && f->syncs >= f->fail_sync_from) {
        f->sync_failures++;
        return -EIO;
    }
    return fd->inner->ops->sync_dir(fd->inner);
}

static void fault_dir_close(struct store_iodir *d)
{
    struct fault_dir *fd = FD(d);
    fd->inner->ops->close(fd->inner);
    free(fd);
}

static const struct store_iodir_ops fault_dir_ops = {
    .open = fault_open,
    .rename = fault_rename,
    .unlink = fault_unlink,
    .sync_dir = fault_sync_dir,
    .close = fault_dir_close,
};

int store_io_fault_dir(struct store_iodir *inner, struct store_fault *f, struct store_iodir **out)
{
    struct fault_dir *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return -ENOMEM;
    d->base.ops = &fault_dir_ops;
    d->inner = inner;
    d->f = f;
    *out = &d->base;
    return 0;
}

static uint64_t cut_rng(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

int store_io_fault_power_cut(struct store_iodir *faultdir, const char *name,
                             enum store_power_cut how, uint64_t seed)
{
    struct fault_dir *fd = FD(faultdir);
    fd->f->dead = false;
    fd->f->crash_after_bytes = -1;
    int s = fault_slot(fd, name, false);
    uint64_t synced = s >= 0 ? fd->names[s].synced_size : 0;
    struct store_io *io;
    int rc = fd->inner->ops->open(fd->inner, name, 0, &io);
    if (rc < 0)
        return rc;
    uint64_t size;
    rc = io->ops->size(io, &size);
    uint64_t rng = seed | 1;
    static const uint8_t zeros[4096];
    uint8_t junk[4096];
    if (rc == 0 && size > synced) {
        switch (how) {
        case STORE_CUT_KEEP_ALL:
            break;
        case STORE_CUT_LOSE_UNSYNCED:
            rc = io->ops->truncate(io, synced);
            break;
        case STORE_CUT_TORN_PAGE: {
            uint64_t page = (size - 1) & ~(uint64_t)4095;
            if (page < synced)
                page = synced;
            rc = store_io_write_all(io, zeros, (size_t)(size - page), page);
            break;
        }
        case STORE_CUT_RANDOM_PAGES: {
            uint64_t cut = synced + cut_rng(&rng) % (size - synced + 1);
            for (uint64_t p = synced & ~(uint64_t)4095; rc == 0 && p < cut; p += 4096) {
                uint64_t from = p < synced ? synced : p;
                uint64_t to = p + 4096 < cut ? p + 4096 : cut;
                switch (cut_rng(&rng) % 4) {
                case 0:
                    rc = store_io_write_all(io, zeros, (size_t)(to - from), from);
                    break;
                case 1:
                    for (size_t i = 0; i < sizeof(junk); i++)
                        junk[i] = (uint8_t)cut_rng(&rng);
                    rc = store_io_write_all(io, junk, (size_t)(to - from), from);
                    break;
                default:
                    break;
                }
            }
            if (rc == 0)
                rc = io->ops->truncate(io, cut);
            break;
        }
        }
    }
    if (rc == 0)
        rc = io->ops->sync(io);
    uint64_t now = 0;
    if (rc == 0)
        rc = io->ops->size(io, &now);
    io->ops->close(io);
    if (s >= 0 && rc == 0)
        fd->names[s].synced_size = now; /* what survived the cut is on the disk */
    return rc;
}

int store_io_fault_flip_bit(struct store_iodir *faultdir, const char *name, uint64_t bit)
{
    struct fault_dir *fd = FD(faultdir);
    struct store_io *io;
    int rc = fd->inner->ops->open(fd->inner, name, 0, &io);
    if (rc < 0)
        return rc;
    uint8_t b;
    rc = store_io_read_all(io, &b, 1, bit / 8);
    if (rc == 0) {
        b ^= (uint8_t)(1u << (bit % 8));
        rc = store_io_write_all(io, &b, 1, bit / 8);
    }
    io->ops->close(io);
    return rc;
}
