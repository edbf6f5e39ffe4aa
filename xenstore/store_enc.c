/*
 * The tree layer's object encodings (docs/store-format.md, "Objects"), the byte buffers they
 * are built with and a hash-keyed map (the store and its object cache: store_cache.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xenstore/store_tree_int.h"

/* ---- buffers ------------------------------------------------------------------------------ */

bool vs_buf_grow(struct vs_buf *b, size_t n)
{
    if (b->oom)
        return false;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

uint8_t vs_rd_u8(struct vs_rd *r)
{
    if (r->bad || r->p >= r->end) {
        r->bad = true;
        return 0;
    }
    return *r->p++;
}

/* Minimal encoding only (so every value has one encoding), at most 64 bits. */
uint64_t vs_rd_varint(struct vs_rd *r)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        uint8_t c = vs_rd_u8(r);
        if (r->bad)
            return 0;
        if (shift == 63 && c > 1) {
            r->bad = true;
            return 0;
        }
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            if (c == 0 && shift != 0)
                r->bad = true; /* non-minimal */
            return v;
        }
    }
    r->bad = true;
    return 0;
}

const uint8_t *vs_rd_raw(struct vs_rd *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

const uint8_t *vs_rd_bytes(struct vs_rd *r, size_t *n)
{
    uint64_t len = vs_rd_varint(r);
    if (r->bad || len > (uint64_t)(r->end - r->p)) {
        r->bad = true;
        *n = 0;
        return NULL;
    }
    *n = (size_t)len;
    return vs_rd_raw(r, (size_t)len);
}

/* ---- hash map ------------------------------------------------------------------------------ */

static size_t hslot(const struct store_hash *k, size_t cap)
{
    uint64_t x;
    memcpy(&x, k->b, sizeof(x));
    return (size_t)(x & (cap - 1));
}

struct vs_hmap_ent *vs_hmap_find(const struct vs_hmap *m, const struct store_hash *k)
{
    if (m->cap == 0)
        return NULL;
    for (size_t i = hslot(k, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (!m->e[i].used)
            return NULL;
        if (store_hash_equal(&m->e[i].k, k))
            return &m->e[i];
    }
}

struct vs_hmap_ent *vs_hmap_add(struct vs_hmap *m, const struct store_hash *k, bool *fresh)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct vs_hmap_ent *e = calloc(cap, sizeof(*e));
        if (e == NULL)
            return NULL;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->e[i].used)
                continue;
            size_t j = hslot(&m->e[i].k, cap);
            while (e[j].used)
                j = (j + 1) & (cap - 1);
            e[j] = m->e[i];
        }
        free(m->e);
        m->e = e;
        m->cap = cap;
    }
    size_t i = hslot(k, m->cap);
    while (m->e[i].used) {
        if (store_hash_equal(&m->e[i].k, k)) {
            if (fresh)
                *fresh = false;
            return &m->e[i];
        }
        i = (i + 1) & (m->cap - 1);
    }
    m->e[i].used = true;
    m->e[i].k = *k;
    m->e[i].v = 0;
    m->n++;
    if (fresh)
        *fresh = true;
    return &m->e[i];
}

void vs_hmap_free(struct vs_hmap *m)
{
    free(m->e);
    m->e = NULL;
    m->n = m->cap = 0;
}

uint64_t vs_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- names and buckets --------------------------------------------------------------------- */

static bool name_ok(const uint8_t *p, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] == '/' || p[i] == 0)
            return false;
    return true;
}

/* The last name hashed, per thread. One request looks the same path up several times (the
 * permission check, the transaction's first access, the replay's walks), and a path usually
 * crosses one split directory (/local/domain, a backend's list), so the same name comes back
 * again and again: without the memo, SHA-256 of a name was a fifth of the CPU of a write
 * outside the objects' own hashing. */
#define NAME_MEMO_MAX 64
static _Thread_local struct {
    size_t len; /* 0: empty (names are never empty) */
    char name[NAME_MEMO_MAX];
    struct store_hash h;
} name_memo;

void vs_name_hash(const char *name, struct store_hash *h)
{
    size_t len = strlen(name);
    if (len != 0 && len == name_memo.len && memcmp(name, name_memo.name, len) == 0) {
        *h = name_memo.h;
        return;
    }
    store_hash_object(STORE_KIND_BLOB, name, len, h);
    if (len <= NAME_MEMO_MAX) {
        memcpy(name_memo.name, name, len);
        name_memo.len = len;
        name_memo.h = *h;
    }
}

/* 5-bit chunk `depth` (most significant bits first) of a name's hash. */
unsigned vs_bucket_of(const struct store_hash *h, unsigned depth)
{
    unsigned bit = depth * VS_FANOUT_BITS, v = 0;
    for (unsigned i = 0; i < VS_FANOUT_BITS; i++, bit++)
        v = (v << 1) | ((h->b[bit / 8] >> (7 - bit % 8)) & 1);
    return v;
}

unsigned vs_bucket(const char *name, unsigned depth)
{
    struct store_hash h;
    vs_name_hash(name, &h);
    return vs_bucket_of(&h, depth);
}

/* ---- directory parts ------------------------------------------------------------------------ */

static void inode_body_encode(const struct vs_inode *in, struct vs_buf *b)
{
    if (!in->tree) {
        vs_buf_u8(b, 0);
        vs_buf_varint(b, in->n);
        /* Room for every entry first (a varint length, the name, the hash), then plain
         * stores of fixed size: per piece, the capacity checks and memcpy calls cost more
         * than the bytes (a 1,000-domain /local/domain leaf has ~31 entries). */
        size_t need = 0;
        for (size_t i = 0; i < in->n; i++)
            need += 10 + in->ents[i].nlen + STORE_HASH_LEN;
        if (b->len + need > b->cap && !vs_buf_grow(b, need))
            return;
        uint8_t *p = b->p + b->len;
        for (size_t i = 0; i < in->n; i++) {
            const struct vs_entry *e = &in->ents[i];
            uint64_t l = e->nlen;
            for (; l >= 0x80; l >>= 7)
                *p++ = (uint8_t)(l | 0x80);
            *p++ = (uint8_t)l;
            /* A short name from the entry itself (struct vs_entry), copied whole: the bytes
             * past its end are overwritten by the hash. */
            if (e->nlen <= VS_NAME_PRE)
                memcpy(p, e->pre, VS_NAME_PRE);
            else
                memcpy(p, e->name, e->nlen);
            p += e->nlen;
            memcpy(p, e->h.b, STORE_HASH_LEN);
            p += STORE_HASH_LEN;
        }
        b->len = (size_t)(p - b->p);
        return;
    }
    vs_buf_u8(b, 1);
    vs_buf_varint(b, in->count);
    uint32_t map = 0;
    for (unsigned i = 0; i < VS_FANOUT; i++)
        if (in->slot[i].present)
            map |= 1u << i;
    uint8_t m[4] = {map & 0xff, (map >> 8) & 0xff, (map >> 16) & 0xff, map >> 24};
    vs_buf_put(b, m, 4);
    /* Room for every hash first, then fixed-size copies (as for a leaf). */
    size_t need = VS_FANOUT * STORE_HASH_LEN;
    if (b->len + need > b->cap && !vs_buf_grow(b, need))
        return;
    uint8_t *p = b->p + b->len;
    for (unsigned i = 0; i < VS_FANOUT; i++) {
        if (in->slot[i].present) {
            memcpy(p, in->slot[i].h.b, STORE_HASH_LEN);
            p += STORE_HASH_LEN;
        }
    }
    b->len = (size_t)(p - b->p);
}

static int inode_body_decode(struct vs_rd *r, unsigned depth, struct vs_inode *in)
{
    memset(in, 0, sizeof(*in));
    uint8_t form = vs_rd_u8(r);
    if (form == 0) {
        uint64_t n = vs_rd_varint(r);
        if (r->bad || (n > VS_LEAF_MAX && depth < VS_MAX_DEPTH) ||
            n > (uint64_t)(r->end - r->p) / (STORE_HASH_LEN + 2))
            return -EBADMSG;
        in->ents = calloc(n ? n : 1, sizeof(*in->ents));
        if (in->ents == NULL)
            return -ENOMEM;
        in->cap = n ? n : 1;
        for (uint64_t i = 0; i < n; i++) {
            size_t nl;
            const uint8_t *name = vs_rd_bytes(r, &nl);
            const uint8_t *h = vs_rd_raw(r, STORE_HASH_LEN);
            if (r->bad || !name_ok(name, nl))
                goto bad;
            if (vs_entry_set_name(&in->ents[i], (const char *)name, nl) < 0) {
                vs_inode_clear(in);
                return -ENOMEM;
            }
            memcpy(in->ents[i].h.b, h, STORE_HASH_LEN);
            in->n++;
            if (i > 0 && strcmp(in->ents[i - 1].name, in->ents[i].name) >= 0)
                goto bad;
        }
        in->count = n;
        return 0;
    }
    if (form != 1 || depth >= VS_MAX_DEPTH)
        return -EBADMSG;
    in->slot = calloc(VS_FANOUT, sizeof(*in->slot));
    if (in->slot == NULL)
        return -ENOMEM;
    in->tree = true;
    in->count = vs_rd_varint(r);
    const uint8_t *m = vs_rd_raw(r, 4);
    if (r->bad || in->count <= VS_LEAF_MAX)
        goto bad;
    uint32_t map = m[0] | m[1] << 8 | m[2] << 16 | (uint32_t)m[3] << 24;
    if (map == 0)
        goto bad;
    for (unsigned i = 0; i < VS_FANOUT; i++) {
        if (!(map & (1u << i)))
            continue;
        const uint8_t *h = vs_rd_raw(r, STORE_HASH_LEN);
        if (r->bad)
            goto bad;
        in->slot[i].present = true;
        memcpy(in->slot[i].h.b, h, STORE_HASH_LEN);
    }
    return 0;
bad:
    vs_inode_clear(in);
    return -EBADMSG;
}

void vs_inode_encode(const struct vs_inode *in, unsigned depth, struct vs_buf *b)
{
    vs_buf_u8(b, VS_FMT_INODE);
    vs_buf_u8(b, (uint8_t)depth);
    inode_body_encode(in, b);
}

int vs_inode_decode(const uint8_t *d, size_t len, unsigned depth, struct vs_inode *in)
{
    struct vs_rd r = {d, d + len, false};
    if (vs_rd_u8(&r) != VS_FMT_INODE || vs_rd_u8(&r) != depth || r.bad || depth == 0)
        return -EBADMSG;
    int rc = inode_body_decode(&r, depth, in);
    if (rc == 0 && r.p != r.end) {
        vs_inode_clear(in);
        rc = -EBADMSG;
    }
    return rc;
}

/* ---- nodes ---------------------------------------------------------------------------------- */

void vs_node_encode(const struct vs_node *n, struct vs_buf *b)
{
    vs_buf_u8(b, VS_FMT_NODE);
    vs_buf_varint(b, n->version);
    vs_buf_bytes(b, n->perms, n->plen);
    if (!n->val_blob) {
        vs_buf_u8(b, 0);
        vs_buf_bytes(b, n->val, n->vlen);
    } else {
        vs_buf_u8(b, 1);
        vs_buf_varint(b, n->vlen);
        vs_buf_put(b, n->vh.b, STORE_HASH_LEN);
    }
    inode_body_encode(&n->dir, b);
}

int vs_node_decode(const uint8_t *d, size_t len, struct vs_node *n)
{
    struct vs_rd r = {d, d + len, false};
    if (vs_rd_u8(&r) != VS_FMT_NODE)
        return -EBADMSG;
    n->version = vs_rd_varint(&r);
    size_t pl, vl;
    const uint8_t *p = vs_rd_bytes(&r, &pl);
    uint8_t vform = vs_rd_u8(&r);
    if (r.bad || vform > 1)
        return -EBADMSG;
    const uint8_t *v = NULL;
    if (vform == 0) {
        v = vs_rd_bytes(&r, &vl);
        if (r.bad || vl > VS_INLINE_MAX)
            return -EBADMSG;
    } else {
        uint64_t l = vs_rd_varint(&r);
        const uint8_t *h = vs_rd_raw(&r, STORE_HASH_LEN);
        if (r.bad || l <= VS_INLINE_MAX || l > SIZE_MAX / 2)
            return -EBADMSG;
        vl = (size_t)l;
        memcpy(n->vh.b, h, STORE_HASH_LEN);
    }
    n->perms = malloc(pl + 1);
    n->val = vform == 0 ? malloc(vl + 1) : NULL;
    if (n->perms == NULL || (vform == 0 && n->val == NULL))
        goto nomem;
    memcpy(n->perms, p, pl);
    n->perms[pl] = 0;
    n->plen = pl;
    n->vlen = vl;
    n->val_blob = vform == 1;
    if (vform == 0) {
        memcpy(n->val, v, vl);
        n->val[vl] = 0;
    }
    int rc = inode_body_decode(&r, 0, &n->dir);
    if (rc == 0 && r.p != r.end) {
        vs_inode_clear(&n->dir);
        rc = -EBADMSG;
    }
    if (rc < 0) {
        free(n->perms);
        free(n->val);
        n->perms = n->val = NULL;
    }
    return rc;
nomem:
    free(n->perms);
    free(n->val);
    n->perms = n->val = NULL;
    return -ENOMEM;
}

/* ---- commits -------------------------------------------------------------------------------- */

void vs_commit_encode(const struct vs_commit *c, struct vs_buf *b)
{
    vs_buf_u8(b, VS_FMT_COMMIT);
    vs_buf_put(b, c->root.b, STORE_HASH_LEN);
    vs_buf_varint(b, c->nparents);
    for (size_t i = 0; i < c->nparents; i++)
        vs_buf_put(b, c->parents[i].b, STORE_HASH_LEN);
    vs_buf_varint(b, c->gen);
    vs_buf_varint(b, c->time_ns);
    vs_buf_bytes(b, c->author ? c->author : "", c->author ? strlen(c->author) : 0);
    vs_buf_bytes(b, c->message ? c->message : "", c->message ? strlen(c->message) : 0);
}

static char *dup_bytes(const uint8_t *p, size_t n)
{
    if (memchr(p, 0, n))
        return NULL;
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

int vs_commit_decode(const uint8_t *d, size_t len, struct vs_commit *c)
{
    struct vs_rd r = {d, d + len, false};
    memset(c, 0, sizeof(*c));
    if (vs_rd_u8(&r) != VS_FMT_COMMIT)
        return -EBADMSG;
    const uint8_t *root = vs_rd_raw(&r, STORE_HASH_LEN);
    uint64_t np = vs_rd_varint(&r);
    if (r.bad || np > VS_MAX_PARENTS)
        return -EBADMSG;
    memcpy(c->root.b, root, STORE_HASH_LEN);
    c->nparents = (size_t)np;
    for (size_t i = 0; i < c->nparents; i++) {
        const uint8_t *p = vs_rd_raw(&r, STORE_HASH_LEN);
        if (r.bad)
            return -EBADMSG;
        memcpy(c->parents[i].b, p, STORE_HASH_LEN);
    }
    c->gen = vs_rd_varint(&r);
    c->time_ns = vs_rd_varint(&r);
    size_t al, ml;
    const uint8_t *a = vs_rd_bytes(&r, &al);
    const uint8_t *m = vs_rd_bytes(&r, &ml);
    if (r.bad || r.p != r.end)
        return -EBADMSG;
    c->author = dup_bytes(a, al);
    c->message = dup_bytes(m, ml);
    if (c->author == NULL || c->message == NULL) {
        vs_commit_free(c);
        return -EBADMSG;
    }
    return 0;
}

void vs_commit_free(struct vs_commit *c)
{
    if (c == NULL)
        return;
    free(c->author);
    free(c->message);
    c->author = c->message = NULL;
}

int vs_commit_read(struct vs_store *st, const struct store_hash *h, struct vs_commit *out)
{
    const uint8_t *d;
    size_t len;
    int rc = vs_load(st, h, STORE_KIND_COMMIT, &d, &len);
    if (rc < 0)
        return rc;
    return vs_commit_decode(d, len, out);
}

char *vs_path_join(const char *path, const char *name)
{
    size_t a = strlen(path), b = strlen(name);
    char *s = malloc(a + b + 2);
    if (s == NULL)
        return NULL;
    memcpy(s, path, a);
    size_t k = a;
    if (a == 0 || path[a - 1] != '/')
        s[k++] = '/';
    memcpy(s + k, name, b + 1);
    return s;
}

int vs_hashes_push(struct vs_hashes *l, const struct store_hash *h)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct store_hash *v = realloc(l->h, cap * sizeof(*v));
        if (v == NULL)
            return -ENOMEM;
        l->h = v;
        l->cap = cap;
    }
    l->h[l->n++] = *h;
    return 0;
}
