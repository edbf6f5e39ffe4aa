/*
 * Object names: SHA-256 over a one-byte kind followed by the object's bytes, computed with
 * OpenSSL's libcrypto. Link with -lcrypto.
 *
 * Cost: every commit hashes each object it writes, and every lookup in a directory big
 * enough to be split hashes the name it looks for, so a single write hashes about a dozen
 * short inputs. Through OpenSSL 3.0's EVP interface each of those costs 0.5-1 us even with
 * the algorithm fetched once and the context kept: EVP_DigestInit_ex frees and allocates
 * the provider's context on every call (and cleanses it), several times the cost of
 * hashing 50 bytes. The low-level SHA256_Init/Update/Final on a stack context do the same
 * digest (the same assembly) without any of that (~0.1 us for a short input), so they are
 * used while libcrypto has them: they are deprecated in 3.0, not removed (only a library
 * built with no-deprecated lacks them; then the EVP path below is used). Names are the
 * same either way.
 *
 * On a CPU with the SHA extensions libcrypto's compression already uses them (~36 ns per
 * 64-byte block here, bound by the round instructions' latency). A hand-written SHA-NI
 * one-shot hashing the kind byte and the object straight from the caller's buffer was
 * measured at only 1-5% less per hash (40-1100 bytes) and no change in the daemon's CPU per
 * request, so it was not kept: what a write costs in hashing is its bytes.
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_*: see above */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "xenstore/objstore.h"

#if defined(OPENSSL_NO_DEPRECATED_3_0)

/* EVP: the algorithm is fetched once per process (pthread_once; the pack's GC may hash from
 * another thread), and every thread keeps one digest context of its own (thread-local),
 * reset by EVP_DigestInit_ex on each call (EVP_sha256() plus a fresh init would make
 * OpenSSL 3 look the algorithm up again on every call). */
static const EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_init(void)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    /* Kept for the life of the process (never EVP_MD_free'd). */
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
#endif
    if (sha256_md == NULL)
        sha256_md = EVP_sha256();
}

/* One context per thread, freed when the thread exits (the main thread's is left to the
 * process exit, like OpenSSL's own per-thread state). */
static pthread_key_t ctx_key;
static pthread_once_t ctx_key_once = PTHREAD_ONCE_INIT;
static _Thread_local EVP_MD_CTX *tl_ctx;

static void ctx_destroy(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void ctx_key_init(void)
{
    if (pthread_key_create(&ctx_key, ctx_destroy) != 0)
        abort();
}

static EVP_MD_CTX *thread_ctx(void)
{
    if (tl_ctx == NULL) {
        pthread_once(&ctx_key_once, ctx_key_init);
        tl_ctx = EVP_MD_CTX_new();
        if (tl_ctx == NULL || pthread_setspecific(ctx_key, tl_ctx) != 0)
            abort();
    }
    return tl_ctx;
}

void store_hash_object(enum store_kind kind, const void *data, size_t len,
                       struct store_hash *out)
{
    uint8_t k = (uint8_t)kind;
    unsigned int outlen = 0;
    pthread_once(&sha256_once, sha256_init);
    EVP_MD_CTX *ctx = thread_ctx();
    if (sha256_md == NULL || EVP_DigestInit_ex(ctx, sha256_md, NULL) != 1 ||
        EVP_DigestUpdate(ctx, &k, 1) != 1 || (len > 0 && EVP_DigestUpdate(ctx, data, len) != 1) ||
        EVP_DigestFinal_ex(ctx, out->b, &outlen) != 1 || outlen != STORE_HASH_LEN) {
        /* Only allocation failure inside libcrypto gets here; a wrong name would corrupt
         * the store silently, so stop. */
        abort();
    }
}

#else

void store_hash_object(enum store_kind kind, const void *data, size_t len,
                       struct store_hash *out)
{
    _Static_assert(SHA256_DIGEST_LENGTH == STORE_HASH_LEN, "a name is a SHA-256");
    uint8_t k = (uint8_t)kind;
    SHA256_CTX c;
    /* These only fail on a NULL argument. */
    if (SHA256_Init(&c) != 1 || SHA256_Update(&c, &k, 1) != 1 ||
        (len > 0 && SHA256_Update(&c, data, len) != 1) || SHA256_Final(out->b, &c) != 1)
        abort();
}

#endif

bool store_hash_equal(const struct store_hash *a, const struct store_hash *b)
{
    return memcmp(a->b, b->b, STORE_HASH_LEN) == 0;
}

void store_hash_hex(const struct store_hash *h, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < STORE_HASH_LEN; i++) {
        hex[2 * i] = digits[h->b[i] >> 4];
        hex[2 * i + 1] = digits[h->b[i] & 15];
    }
    hex[2 * STORE_HASH_LEN] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Exactly 64 hex digits (either case) then the end of the string; -EINVAL otherwise. */
int store_hash_parse(const char *hex, struct store_hash *out)
{
    struct store_hash h;
    if (hex == NULL)
        return -EINVAL;
    for (int i = 0; i < STORE_HASH_LEN; i++) {
        int hi = hexval(hex[2 * i]);
        if (hi < 0)
            return -EINVAL;
        int lo = hexval(hex[2 * i + 1]);
        if (lo < 0)
            return -EINVAL;
        h.b[i] = (uint8_t)(hi << 4 | lo);
    }
    if (hex[2 * STORE_HASH_LEN] != '\0')
        return -EINVAL;
    *out = h;
    return 0;
}
