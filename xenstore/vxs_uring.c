/*
 * vxenstored: the end of a round sends one reply to each of several sockets; here they go
 * with one io_uring_enter instead of one send() each.
 *
 * Why: a reply wakes its client, and a client woken onto the daemon's CPU preempts the daemon
 * as the system call that woke it returns (the kernel preempts on the way back to user mode;
 * nothing preempts inside it here). With a send() per reply the daemon was preempted in the
 * middle of its round, and the replies after that one waited for the client to run: 10
 * clients writing, the daemon's context switches per write 0.6-0.7. With the round's sends in
 * one system call every wake-up happens first, and the daemon is preempted at most once,
 * after all of them: 0.26, and 1.07x the writes/s (session 8, docs/ARCHITECTURE.md).
 *
 * Raw system calls (no liburing): a ring of VXS_URING_BATCH entries made on first use (after
 * the daemon's fork); the sends are MSG_DONTWAIT, so each completes while it is submitted
 * (a full socket gives -EAGAIN, not a wait), and the call returns once all are reaped: the
 * buffers are the caller's again. Without io_uring (kernel older than 5.6, io_uring_disabled,
 * a seccomp filter) or with VXS_URING=0, nothing is attempted and the caller sends itself.
 */
#include <errno.h>
#include <linux/io_uring.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "xenstore/vxs_uring.h"

static struct {
    int state; /* 0: not tried yet, 1: usable, -1: not to be used */
    int fd;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
} ur;

static int enter(unsigned to_submit, unsigned min_complete, unsigned flags)
{
    return (int)syscall(__NR_io_uring_enter, ur.fd, to_submit, min_complete, flags, NULL, 0);
}

/* Does the kernel know IORING_OP_SEND (5.6)? An older one would fail each send -EINVAL. */
static bool send_supported(void)
{
    size_t size = sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op);
    struct io_uring_probe *p = calloc(1, size);
    if (!p)
        return false;
    bool ok = syscall(__NR_io_uring_register, ur.fd, IORING_REGISTER_PROBE, p, 256) == 0 &&
              p->last_op >= IORING_OP_SEND &&
              (p->ops[IORING_OP_SEND].flags & IO_URING_OP_SUPPORTED);
    free(p);
    return ok;
}

static bool setup(void)
{
    const char *env = getenv("VXS_URING");
    if (env && strcmp(env, "0") == 0)
        return false;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    ur.fd = (int)syscall(__NR_io_uring_setup, VXS_URING_BATCH, &p);
    if (ur.fd < 0)
        return false;
    size_t sq = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    size_t size = sq > cq ? sq : cq;
    uint8_t *q = MAP_FAILED;
    void *sqes = MAP_FAILED;
    if ((p.features & IORING_FEAT_SINGLE_MMAP) && p.sq_entries >= VXS_URING_BATCH &&
        p.cq_entries >= VXS_URING_BATCH && send_supported()) {
        q = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ur.fd,
                 IORING_OFF_SQ_RING);
        sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_POPULATE, ur.fd, IORING_OFF_SQES);
    }
    if (q == MAP_FAILED || sqes == MAP_FAILED) {
        if (q != MAP_FAILED)
            munmap(q, size);
        if (sqes != MAP_FAILED)
            munmap(sqes, p.sq_entries * sizeof(struct io_uring_sqe));
        close(ur.fd);
        return false;
    }
    ur.sq_head = (unsigned *)(q + p.sq_off.head);
    ur.sq_tail = (unsigned *)(q + p.sq_off.tail);
    ur.sq_mask = (unsigned *)(q + p.sq_off.ring_mask);
    ur.sq_array = (unsigned *)(q + p.sq_off.array);
    ur.cq_head = (unsigned *)(q + p.cq_off.head);
    ur.cq_tail = (unsigned *)(q + p.cq_off.tail);
    ur.cq_mask = (unsigned *)(q + p.cq_off.ring_mask);
    ur.cqes = (struct io_uring_cqe *)(q + p.cq_off.cqes);
    ur.sqes = sqes;
    return true;
}

/* One batch (k <= VXS_URING_BATCH): queue, submit, reap. Returns how many were submitted. */
static size_t send_batch(struct vxs_uring_send *v, unsigned k)
{
    unsigned tail = *ur.sq_tail;
    for (unsigned j = 0; j < k; j++) {
        unsigned i = (tail + j) & *ur.sq_mask;
        struct io_uring_sqe *e = &ur.sqes[i];
        memset(e, 0, sizeof *e);
        e->opcode = IORING_OP_SEND;
        e->fd = v[j].fd;
        e->addr = (uint64_t)(uintptr_t)v[j].buf;
        e->len = (uint32_t)v[j].len;
        e->msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL;
        e->user_data = j;
        ur.sq_array[i] = i;
        v[j].res = 0;
    }
    __atomic_store_n(ur.sq_tail, tail + k, __ATOMIC_RELEASE);
    unsigned submitted = 0, reaped = 0, tries = 0;
    while (submitted < k) {
        int rc = enter(k - submitted, 0, 0);
        if (rc > 0) {
            submitted += (unsigned)rc;
            continue;
        }
        if ((rc == 0 || errno == EINTR || errno == EAGAIN || errno == EBUSY) && ++tries < 8)
            continue;
        /* Given up: what the kernel did not take is taken back (res 0: the caller sends
         * it), and io_uring is not used again. */
        __atomic_store_n(ur.sq_tail, __atomic_load_n(ur.sq_head, __ATOMIC_ACQUIRE),
                         __ATOMIC_RELEASE);
        ur.state = -1;
        break;
    }
    while (reaped < submitted) {
        unsigned head = *ur.cq_head;
        if (head == __atomic_load_n(ur.cq_tail, __ATOMIC_ACQUIRE)) {
            /* (Sends that cannot wait complete as they are submitted; just in case.) */
            if (enter(0, 1, IORING_ENTER_GETEVENTS) < 0 && errno != EINTR)
                abort(); /* a buffer the kernel may still read would be freed */
            continue;
        }
        struct io_uring_cqe *c = &ur.cqes[head & *ur.cq_mask];
        if (c->user_data < k)
            v[c->user_data].res = c->res;
        __atomic_store_n(ur.cq_head, head + 1, __ATOMIC_RELEASE);
        reaped++;
    }
    return submitted;
}

size_t vxs_uring_send(struct vxs_uring_send *v, size_t n)
{
    if (ur.state == 0)
        ur.state = setup() ? 1 : -1;
    size_t done = 0;
    while (ur.state > 0 && done < n) {
        unsigned k = n - done < VXS_URING_BATCH ? (unsigned)(n - done) : VXS_URING_BATCH;
        size_t s = send_batch(v + done, k);
        done += s;
        if (s < k)
            break;
    }
    return done;
}
