/*
 * Object names: SHA-256 over a one-byte kind followed by the object's bytes, computed with
 * OpenSSL's libcrypto (EVP interface; the low-level SHA256_* calls are deprecated in 3.0).
 * Link with -lcrypto.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "xenstore/objstore.h"

void store_hash_object(enum store_kind kind, const void *data, size_t len,
                       struct store_hash *out)
{
    uint8_t k = (uint8_t)kind;
    unsigned int outlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, &k, 1) != 1 || (len > 0 && EVP_DigestUpdate(ctx, data, len) != 1) ||
        EVP_DigestFinal_ex(ctx, out->b, &outlen) != 1 || outlen != STORE_HASH_LEN) {
        /* Only allocation failure inside libcrypto gets here; a wrong name would corrupt
         * the store silently, so stop. */
        abort();
    }
    EVP_MD_CTX_free(ctx);
}

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
