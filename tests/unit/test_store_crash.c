/*
 * Crash test of the pack file: a child process runs random commits (objects + ref update)
 * in ALWAYS mode (NONE in every other pair of runs), with a GC now and then, and reports each acknowledged commit to the
 * parent over a pipe; the parent SIGKILLs it at a random moment, reopens the pack, and
 * checks that every commit acknowledged before the kill is there (the chain from the head
 * back to the previously verified head, every object checked) and that the head is the last
 * acknowledged commit or the one in flight. Then the next child continues from there.
 *
 * STORE_CRASH_KILLS sets the number of kills (default 250; `make soak` runs many more).
 * SIGKILL tests the process dying at any instruction; what a power cut does to unsynced data
 * is tested with the fault backend in test_store_pack.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/store_testutil.h"
#include "xenstore/store_pack.h"

#define KEEP 2000 /* commits the child's GC keeps */

struct cobj {
    uint64_t n;
    struct store_hash prev, blob;
};

static size_t value_of(uint64_t n, uint8_t *buf)
{
    uint64_t r = n * 0x9E3779B97F4A7C15ULL + 1;
    size_t len = 1 + (size_t)(store_rng(&r) % 300);
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)store_rng(&r);
    return len;
}

static int read_commit(struct objstore *s, const struct store_hash *h, struct cobj *c)
{
    enum store_kind k;
    void *d;
    size_t len;
    int rc = s->ops->get(s, h, &k, &d, &len);
    if (rc != 0)
        return rc;
    if (k != STORE_KIND_COMMIT || len != sizeof(*c)) {
        free(d);
        return -EBADMSG;
    }
    memcpy(c, d, sizeof(*c));
    free(d);
    return 0;
}

static int enum_recent(void *arg, store_live_fn live, void *larg)
{
    struct objstore *s = arg;
    struct store_hash h;
    if (s->ops->get_ref(s, "main", &h) != 0)
        return 0;
    for (int i = 0; i < KEEP; i++) {
        struct cobj c;
        int rc = read_commit(s, &h, &c);
        if (rc == 0)
            rc = live(larg, &h);
        if (rc == 0)
            rc = live(larg, &c.blob);
        if (rc != 0)
            return rc;
        if (c.n == 0)
            break;
        h = c.prev;
    }
    return 0;
}

static void child(const char *path, int fd, uint64_t seed, bool fill, enum store_sync sync)
{
    struct store_pack_opts o = {.create = true};
    struct objstore *s;
    if (store_pack_open_path(path, &o, &s, NULL) != 0)
        _exit(3);
    if (fill && store_pack_fill_thread(s) != 0) /* zeros ahead written by a thread */
        _exit(8);
    struct store_hash head;
    bool have = s->ops->get_ref(s, "main", &head) == 0;
    uint64_t n = 0;
    if (have) {
        struct cobj c;
        if (read_commit(s, &head, &c) != 0)
            _exit(4);
        n = c.n + 1;
    }
    uint64_t rng = seed;
    for (;; n++) {
        uint8_t val[400];
        struct cobj c = {.n = n};
        if (have)
            c.prev = head;
        struct store_hash h;
        if (s->ops->put(s, STORE_KIND_BLOB, val, value_of(n, val), &c.blob) != 0 ||
            s->ops->put(s, STORE_KIND_COMMIT, &c, sizeof(c), &h) != 0 ||
            s->ops->set_ref(s, "main", have ? &head : NULL, &h, sync, NULL, NULL) != 0)
            _exit(5);
        head = h;
        have = true;
        if (write(fd, &n, sizeof(n)) != sizeof(n))
            _exit(6);
        if (store_rng(&rng) % 300 == 0 && store_pack_gc(s, enum_recent, s, NULL) != 0)
            _exit(7);
    }
}

static void test_crash_kill_reopen(void **state)
{
    (void)state;
    char *dir = store_test_mkdir();
    char path[4096];
    snprintf(path, sizeof(path), "%s/crash.pack", dir);
    int kills = getenv("STORE_CRASH_KILLS") ? atoi(getenv("STORE_CRASH_KILLS")) : 250;
    uint64_t rng = 12345;
    uint64_t verified = 0, recovered = 0;
    struct store_hash vhead;
    bool have_vhead = false;
    int64_t vn = -1; /* the verified head's number */
    for (int k = 0; k < kills; k++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            /* NONE as well as ALWAYS: a kill keeps the page cache, so NONE loses nothing
             * acknowledged either; its records go through the file's mapping (store_pack.c,
             * write_at) once a few follow the open's sync. */
            child(path, p[1], store_rng(&rng) + (uint64_t)k, k % 2 == 1,
                  k % 4 >= 2 ? STORE_SYNC_NONE : STORE_SYNC_ALWAYS);
        }
        close(p[1]);
        struct timespec ts = {0, (long)(store_rng(&rng) % 4000000)};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status))
            fail_msg("child exited with status %d before the kill", WEXITSTATUS(status));
        int64_t acked = vn;
        uint64_t a;
        ssize_t r;
        while ((r = read(p[0], &a, sizeof(a))) == sizeof(a))
            acked = (int64_t)a;
        close(p[0]);

        struct store_pack_opts o = {0};
        struct store_pack_report rep;
        struct objstore *s;
        int rc = store_pack_open_path(path, &o, &s, &rep);
        if (rc == -ENOENT && acked < 0)
            continue; /* killed before the file existed */
        if (rc != 0)
            fail_msg("kill %d: open: %d %s", k, rc, rep.msg);
        recovered += rep.truncated;
        struct store_hash h;
        if (s->ops->get_ref(s, "main", &h) != 0) {
            assert_true(acked < 0);
            s->ops->close(s);
            continue;
        }
        struct cobj c;
        assert_int_equal(read_commit(s, &h, &c), 0);
        int64_t head = (int64_t)c.n;
        if (head < acked || head > acked + 1)
            fail_msg("kill %d: head %lld but %lld acknowledged", k, (long long)head,
                     (long long)acked);
        struct store_hash newhead = h;
        /* walk back to the previously verified head: every commit and value is there */
        for (;;) {
            uint8_t val[400];
            size_t vl = value_of(c.n, val);
            enum store_kind kind;
            void *d;
            size_t len;
            assert_int_equal(s->ops->get(s, &c.blob, &kind, &d, &len), 0);
            assert_int_equal(len, vl);
            assert_memory_equal(d, val, vl);
            free(d);
            if ((int64_t)c.n == vn) {
                assert_true(have_vhead && store_hash_equal(&h, &vhead));
                break;
            }
            verified++;
            if (c.n == 0) {
                assert_true(vn < 0);
                break;
            }
            assert_true((int64_t)c.n > vn);
            h = c.prev;
            assert_int_equal(read_commit(s, &h, &c), 0);
        }
        vhead = newhead;
        have_vhead = true;
        vn = head;
        s->ops->close(s);
    }
    printf("crash test: %d kills, %llu commits verified (%llu opens cut a tail)\n", kills,
           (unsigned long long)verified, (unsigned long long)recovered);
    assert_true(verified > 0);
    store_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_kill_reopen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
