/*
 * The object heap's I/O backend: everything durable goes through these two small interfaces,
 * so the pack file can run on a POSIX file today and on a raw block device (blkfront in a
 * unikernel) later.
 *
 *   struct store_io     one open "file": positional reads and writes, sync, truncate, size.
 *   struct store_iodir  the namespace the files live in: open/create, rename, unlink, and a
 *                       sync of the namespace itself (the directory entry of a new or renamed
 *                       file). A block-device backend would offer a fixed set of names mapped
 *                       to regions of the disk and make rename an atomic switch of a
 *                       superblock slot; nothing above this header assumes a real directory.
 *
 * Backends here:
 *   store_io_posix_dir()  files in a directory (the claims of each call are in store_io.c);
 *   store_io_fault_dir()  a wrapper for tests that injects short writes, failed syncs, a
 *                         crash after N bytes, and afterwards loses unsynced data, tears the
 *                         last page or flips bits, the way a power cut and a bad disk do.
 *
 * Errors are negative errno values.
 */
#ifndef XENKIT_XENSTORE_STORE_IO_H
#define XENKIT_XENSTORE_STORE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_io;

struct store_io_ops {
    /* Read up to len bytes at off: the number read (less than len only at the end of the
     * file) or -errno. */
    int64_t (*pread)(struct store_io *io, void *buf, size_t len, uint64_t off);
    /* Write len bytes at off: the number written (may be short, never 0 for len > 0) or
     * -errno. Not durable until sync returns 0. */
    int64_t (*pwrite)(struct store_io *io, const void *buf, size_t len, uint64_t off);
    /* Make every write that completed before the call durable, with the file size they
     * produced. After a failed sync the state of the unsynced writes is unknown, and a
     * later successful sync does not make them durable (Linux forgets the error): callers
     * must not retry but treat the file as failed. */
    int (*sync)(struct store_io *io);
    /* Set the size (shrinking only, in practice); not durable until sync. */
    int (*truncate)(struct store_io *io, uint64_t size);
    int (*size)(struct store_io *io, uint64_t *size);
    void (*close)(struct store_io *io);
};

struct store_io {
    const struct store_io_ops *ops;
};

#define STORE_IO_CREATE 1u /* create if missing */
#define STORE_IO_TRUNC 2u  /* empty it */
#define STORE_IO_RDONLY 4u /* no writes */

struct store_iodir;

struct store_iodir_ops {
    int (*open)(struct store_iodir *d, const char *name, unsigned flags, struct store_io **out);
    /* Atomically replace `to` with `from`; durable after sync_dir. */
    int (*rename)(struct store_iodir *d, const char *from, const char *to);
    int (*unlink)(struct store_iodir *d, const char *name);
    /* Make creations, renames and unlinks durable (POSIX: fsync of the directory). */
    int (*sync_dir)(struct store_iodir *d);
    void (*close)(struct store_iodir *d);
};

struct store_iodir {
    const struct store_iodir_ops *ops;
};

/* Loops over short writes; -EIO if the backend makes no progress. */
int store_io_write_all(struct store_io *io, const void *buf, size_t len, uint64_t off);
/* Reads exactly len bytes: 0, -ENODATA if the file ends first, or -errno. */
int store_io_read_all(struct store_io *io, void *buf, size_t len, uint64_t off);

/* Files in the directory `path` (which must exist). */
int store_io_posix_dir(const char *path, struct store_iodir **out);

/* A writable MAP_SHARED mapping of a POSIX file from offset 0 (made at the first call, kept
 * until close; *len: the bytes of offsets it spans, beyond the file's end), or NULL (another
 * backend, a read-only file, no address space). Bytes stored through it are written to the
 * file as by pwrite: in the page cache (they survive the process), durable after sync (an
 * fdatasync covers pages dirtied through a shared mapping). Store only below the file's
 * size: a page past it is SIGBUS. */
uint8_t *store_io_map(struct store_io *io, uint64_t *len);
/* Fault in the pages of [off, off + len) of that mapping, writable (MADV_POPULATE_WRITE;
 * best effort, nothing without a mapping), so that a later store does not fault. Only
 * below the file's size. */
void store_io_map_prefault(struct store_io *io, uint64_t off, uint64_t len);

/* ---- fault injection (tests) ------------------------------------------------------------ */

/* The knobs and counters of a fault wrapper. The test owns this structure and may change the
 * knobs at any time; the wrapper only reads them and updates the counters. */
struct store_fault {
    /* Writes through the wrapper stop after this many bytes in total (< 0: never): the write
     * that crosses the limit is cut at it, and from then on every operation of every file
     * fails with -EIO, as if the machine had died. `dead` tells. */
    int64_t crash_after_bytes;
    /* Every Nth write (0: none) returns a short count (half the length, at least 1). */
    uint32_t short_write_every;
    /* Fail the sync number N (counting from 1 over all files; 0: none) and every sync after
     * it with -EIO. */
    uint32_t fail_sync_from;
    /* Fail the write number N (counting from 1; 0: none) with -EIO (one write only). */
    uint32_t fail_write_at;

    /* Counters. */
    uint64_t bytes_written, writes, syncs, sync_failures;
    bool dead;
};

/* Wraps `inner` (which the wrapper then owns). The wrapper remembers, per file name, the size
 * at the last successful sync, so that store_io_fault_power_cut can model what a power cut
 * leaves of the writes that were never synced. */
int store_io_fault_dir(struct store_iodir *inner, struct store_fault *f, struct store_iodir **out);

enum store_power_cut {
    STORE_CUT_KEEP_ALL,     /* the page cache happened to reach the disk */
    STORE_CUT_LOSE_UNSYNCED, /* everything after the last sync is gone */
    STORE_CUT_TORN_PAGE,    /* unsynced data kept, but its last 4 KiB page is zeros */
    STORE_CUT_RANDOM_PAGES, /* each unsynced 4 KiB page kept, zeroed or filled with garbage,
                               and the file cut at a random point in the unsynced part */
};

/* Apply a power cut to the file `name` (through the inner backend; no file of the wrapper
 * may be open). `seed` drives the random choices. Then clears `dead` and the crash limit. */
int store_io_fault_power_cut(struct store_iodir *faultdir, const char *name,
                             enum store_power_cut how, uint64_t seed);

/* Flip one bit of the file `name` at bit offset `bit` (through the inner backend). */
int store_io_fault_flip_bit(struct store_iodir *faultdir, const char *name, uint64_t bit);

#endif
