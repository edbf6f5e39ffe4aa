/*
 * libFuzzer target for the pack file loader (xenstore/store_pack.c): the input is a pack
 * file. Opening must never crash, hang or leak; if it opens, every ref must name an object
 * that reads back and checks, and the store must accept a commit and reopen at it.
 *
 *   make fuzz   (clang -fsanitize=fuzzer,address; about 60 s; seeds a valid pack)
 *
 * The same function is replayed over deterministic mutations of a valid pack by
 * tests/unit/test_store_fuzz_replay.c, inside make test-unit.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xenstore/store_pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fuzz_pack_make_seed(const char *path);

static char fuzz_path[256];

static const char *scratch_path(void)
{
    if (fuzz_path[0] == '\0') {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fuzz_path, sizeof(fuzz_path), "%s/xk-fuzz-pack.%d", base, (int)getpid());
    }
    return fuzz_path;
}

static int check_ref(void *arg, const char *name, const struct store_hash *h)
{
    struct objstore *s = arg;
    (void)name;
    enum store_kind k;
    void *d;
    size_t len;
    int rc = s->ops->get(s, h, &k, &d, &len);
    if (rc == 0)
        free(d);
    else if (rc != -EBADMSG && rc != -EIO)
        abort(); /* a ref naming a missing object: open accepted an uncommitted state */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = scratch_path();
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return 0;
    if (size > 0 && fwrite(data, 1, size, f) != size) {
        fclose(f);
        return 0;
    }
    fclose(f);
    for (int salvage = 0; salvage < 2; salvage++) {
        struct store_pack_opts o = {.salvage = salvage, .cache_bytes = 65536};
        struct store_pack_report rep;
        struct objstore *s;
        if (store_pack_open_path(path, &o, &s, &rep) != 0)
            continue;
        s->ops->list_refs(s, check_ref, s);
        struct store_hash h, old;
        int have = s->ops->get_ref(s, "main", &old) == 0;
        if (s->ops->put(s, STORE_KIND_COMMIT, "fuzz", 4, &h) == 0 &&
            s->ops->set_ref(s, "main", have ? &old : NULL, &h, STORE_SYNC_NONE, NULL, NULL) == 0) {
            s->ops->close(s);
            if (store_pack_open_path(path, &o, &s, &rep) != 0)
                abort(); /* what we just committed must open */
            struct store_hash now;
            if (s->ops->get_ref(s, "main", &now) != 0 || !store_hash_equal(&now, &h))
                abort();
        }
        s->ops->close(s);
        break;
    }
    unlink(path);
    return 0;
}

/* A small valid pack (a few commits, two refs, a deleted ref) at path. */
int fuzz_pack_make_seed(const char *path)
{
    unlink(path);
    struct store_pack_opts o = {.create = true};
    struct objstore *s;
    int rc = store_pack_open_path(path, &o, &s, NULL);
    if (rc != 0)
        return rc;
    struct store_hash prev, h;
    for (int i = 0; i < 4 && rc == 0; i++) {
        char v[32];
        int n = snprintf(v, sizeof(v), "value %d", i);
        rc = s->ops->put(s, STORE_KIND_BLOB, v, (size_t)n, &h);
        if (rc == 0)
            rc = s->ops->put(s, STORE_KIND_COMMIT, v, (size_t)n, &h);
        if (rc == 0)
            rc = s->ops->set_ref(s, "main", i ? &prev : NULL, &h, STORE_SYNC_ALWAYS, NULL, NULL);
        prev = h;
    }
    if (rc == 0)
        rc = s->ops->set_ref(s, "tmp", NULL, &h, STORE_SYNC_NONE, NULL, NULL);
    if (rc == 0)
        rc = s->ops->del_ref(s, "tmp", NULL, STORE_SYNC_NONE);
    s->ops->close(s);
    return rc;
}

#ifdef FUZZ_SEED_MAIN
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("FUZZ_PACK_SEED_DIR");
    if (dir != NULL) {
        char p[512];
        snprintf(p, sizeof(p), "%s/seed.pack", dir);
        fuzz_pack_make_seed(p);
    }
    return 0;
}
#endif
