/*
 * Git export: the history reachable from a commit, written as git loose objects (SHA-1 over
 * "TYPE LEN\0" + content, zlib-compressed, in .git/objects/xx/yyyy...) plus a branch ref, so
 * `git log -p` shows every commit's changes. Mapping (docs/store-format.md, "Git export"):
 *
 *   node          -> a git tree holding ".value" (a blob with the value), ".perms" when the
 *                    perms are not empty (NUL bytes written as newlines), and one subtree per
 *                    child, named by the child's name with bytes outside [A-Za-z0-9_@-]
 *                    written as %XX (so no child can be called ".value");
 *   commit        -> a git commit: author and committer "AUTHOR <vxenstored@localhost>" at the
 *                    commit's time (UTC), the message, then "vxs-commit: HASH" and the gen;
 *                    parents removed by GC are left out.
 *
 * Subtrees whose store hash was already exported are not walked again (a memo from store
 * hash to git id), so the export costs O(changes) per commit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "xenstore/store_tree_int.h"

struct gctx {
    struct vs_store *st;
    char *gitdir;
    struct vs_hmap memo; /* store hash -> index into ids */
    uint8_t (*ids)[20];
    size_t nids, capids;
};

static void hex20(const uint8_t *id, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < 20; i++) {
        out[2 * i] = d[id[i] >> 4];
        out[2 * i + 1] = d[id[i] & 15];
    }
    out[40] = 0;
}

static int write_file(const char *path, const void *data, size_t len)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid()) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -errno;
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return -e;
        }
        p += w;
        len -= (size_t)w;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return -e;
    }
    return 0;
}

static int git_object(struct gctx *g, const char *type, const void *data, size_t len,
                      uint8_t id[20])
{
    char hdr[64];
    int hl = snprintf(hdr, sizeof(hdr), "%s %zu", type, len) + 1; /* with the NUL */
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned idlen = 0;
    if (md == NULL || !EVP_DigestInit_ex(md, EVP_sha1(), NULL) ||
        !EVP_DigestUpdate(md, hdr, (size_t)hl) || !EVP_DigestUpdate(md, data, len) ||
        !EVP_DigestFinal_ex(md, id, &idlen) || idlen != 20) {
        EVP_MD_CTX_free(md);
        return -EIO;
    }
    EVP_MD_CTX_free(md);
    char hex[41], path[4200];
    hex20(id, hex);
    snprintf(path, sizeof(path), "%s/objects/%.2s", g->gitdir, hex);
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return -errno;
    snprintf(path, sizeof(path), "%s/objects/%.2s/%s", g->gitdir, hex, hex + 2);
    if (access(path, F_OK) == 0)
        return 0;
    size_t rawlen = (size_t)hl + len;
    uint8_t *raw = malloc(rawlen);
    uLongf zlen = compressBound(rawlen);
    uint8_t *z = malloc(zlen);
    if (raw == NULL || z == NULL) {
        free(raw);
        free(z);
        return -ENOMEM;
    }
    memcpy(raw, hdr, (size_t)hl);
    if (len)
        memcpy(raw + hl, data, len);
    int rc = compress2(z, &zlen, raw, rawlen, 6) == Z_OK ? 0 : -EIO;
    if (rc == 0)
        rc = write_file(path, z, zlen);
    free(raw);
    free(z);
    return rc;
}

static int memo_add(struct gctx *g, const struct store_hash *h, const uint8_t id[20])
{
    if (g->nids == g->capids) {
        size_t cap = g->capids ? g->capids * 2 : 256;
        uint8_t(*v)[20] = realloc(g->ids, cap * 20);
        if (v == NULL)
            return -ENOMEM;
        g->ids = v;
        g->capids = cap;
    }
    struct vs_hmap_ent *e = vs_hmap_add(&g->memo, h, NULL);
    if (e == NULL)
        return -ENOMEM;
    memcpy(g->ids[g->nids], id, 20);
    e->v = g->nids++;
    return 0;
}

static bool memo_get(struct gctx *g, const struct store_hash *h, uint8_t id[20])
{
    struct vs_hmap_ent *e = vs_hmap_find(&g->memo, h);
    if (e == NULL)
        return false;
    memcpy(id, g->ids[e->v], 20);
    return true;
}

struct gent {
    char *name; /* escaped */
    bool dir;
    uint8_t id[20];
};

/* git's order: byte order of the names, a tree's name compared as if it ended with '/'. */
static int gent_cmp(const void *pa, const void *pb)
{
    const struct gent *a = pa, *b = pb;
    size_t la = strlen(a->name), lb = strlen(b->name), n = la < lb ? la : lb;
    int c = memcmp(a->name, b->name, n);
    if (c != 0)
        return c;
    unsigned ca = la > n ? (unsigned char)a->name[n] : a->dir ? '/' : 0;
    unsigned cb = lb > n ? (unsigned char)b->name[n] : b->dir ? '/' : 0;
    return (int)ca - (int)cb;
}

static char *escape(const char *name)
{
    size_t n = strlen(name);
    char *s = malloc(3 * n + 1), *o = s;
    if (s == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '@' || c == '-') {
            *o++ = (char)c;
        } else {
            o += sprintf(o, "%%%02X", c);
        }
    }
    *o = 0;
    return s;
}

static int git_tree(struct gctx *g, struct vs_tree *t, struct vs_node *n, uint8_t id[20])
{
    if (!n->dirty && memo_get(g, &n->h, id))
        return 0;
    int rc = vs_node_value(t, n);
    if (rc < 0)
        return rc;
    struct vs_entry **ents = NULL;
    size_t k = 0;
    rc = vs_dir_entries(t, &n->dir, 0, &ents, &k);
    if (rc < 0)
        return rc;
    struct gent *ge = calloc(k + 2, sizeof(*ge));
    size_t m = 0;
    if (ge == NULL) {
        free(ents);
        return -ENOMEM;
    }
    ge[m].name = strdup(".value");
    rc = ge[m].name ? git_object(g, "blob", n->val, n->vlen, ge[m].id) : -ENOMEM;
    m++;
    if (rc == 0 && n->plen > 0) {
        uint8_t *p = malloc(n->plen);
        rc = p ? 0 : -ENOMEM;
        if (p) {
            for (size_t i = 0; i < n->plen; i++)
                p[i] = n->perms[i] ? n->perms[i] : '\n';
            ge[m].name = strdup(".perms");
            rc = ge[m].name ? git_object(g, "blob", p, n->plen, ge[m].id) : -ENOMEM;
            m++;
            free(p);
        }
    }
    for (size_t i = 0; rc == 0 && i < k; i++) {
        ge[m].dir = true;
        ge[m].name = escape(ents[i]->name);
        if (ge[m].name == NULL) {
            rc = -ENOMEM;
            break;
        }
        struct store_hash ch;
        if (!(vs_entry_hash(ents[i], &ch) && memo_get(g, &ch, ge[m].id))) {
            struct vs_node *c;
            rc = vs_entry_node(t, ents[i], &c);
            if (rc == 0)
                rc = git_tree(g, t, c, ge[m].id);
            /* Drop the loaded child again: the export streams through the history. */
            if (rc == 0 && !c->dirty) {
                ents[i]->h = c->h;
                vs_node_free(c);
                ents[i]->n = NULL;
            }
        }
        m++;
    }
    free(ents);
    struct vs_buf b = {0};
    if (rc == 0) {
        qsort(ge, m, sizeof(*ge), gent_cmp);
        for (size_t i = 0; i < m; i++) {
            char mode[16];
            int ml = snprintf(mode, sizeof(mode), "%s ", ge[i].dir ? "40000" : "100644");
            vs_buf_put(&b, mode, (size_t)ml);
            vs_buf_put(&b, ge[i].name, strlen(ge[i].name) + 1);
            vs_buf_put(&b, ge[i].id, 20);
        }
        rc = b.oom ? -ENOMEM : git_object(g, "tree", b.p, b.len, id);
    }
    free(b.p);
    for (size_t i = 0; i < m; i++)
        free(ge[i].name);
    free(ge);
    if (rc == 0 && !n->dirty)
        rc = memo_add(g, &n->h, id);
    return rc;
}

static int collect_fn(void *arg, const struct store_hash *h, const struct vs_commit *c)
{
    (void)c;
    return vs_hashes_push(arg, h);
}

static void clean_line(struct vs_buf *b, const char *s)
{
    for (; *s; s++)
        if (*s != '<' && *s != '>' && *s != '\n')
            vs_buf_put(b, s, 1);
}

static int git_commit(struct gctx *g, struct vs_hmap *done, const struct store_hash *h,
                      uint8_t id[20])
{
    struct vs_commit c;
    int rc = vs_commit_read(g->st, h, &c);
    if (rc < 0)
        return rc;
    struct vs_tree *t;
    uint8_t tid[20];
    rc = vs_tree_open_root(g->st, &c.root, 0, &t);
    if (rc == 0) {
        rc = git_tree(g, t, t->root, tid);
        vs_tree_close(t);
    }
    struct vs_buf b = {0};
    char hex[65], line[128];
    if (rc == 0) {
        hex20(tid, hex);
        vs_buf_put(&b, line, (size_t)snprintf(line, sizeof(line), "tree %s\n", hex));
        for (size_t i = 0; i < c.nparents; i++) {
            struct vs_hmap_ent *e = vs_hmap_find(done, &c.parents[i]);
            if (e == NULL)
                continue; /* collected */
            hex20(g->ids[e->v], hex);
            vs_buf_put(&b, line, (size_t)snprintf(line, sizeof(line), "parent %s\n", hex));
        }
        const char *who[2] = {"author ", "committer "};
        for (int i = 0; i < 2; i++) {
            vs_buf_put(&b, who[i], strlen(who[i]));
            if (c.author[0])
                clean_line(&b, c.author);
            else
                vs_buf_put(&b, "vxenstored", 10);
            vs_buf_put(&b, line,
                       (size_t)snprintf(line, sizeof(line), " <vxenstored@localhost> %llu +0000\n",
                                        (unsigned long long)(c.time_ns / 1000000000u)));
        }
        vs_buf_u8(&b, '\n');
        const char *msg = c.message[0] ? c.message : "(no message)";
        vs_buf_put(&b, msg, strlen(msg));
        if (msg[strlen(msg) - 1] != '\n')
            vs_buf_u8(&b, '\n');
        store_hash_hex(h, hex);
        vs_buf_put(&b, line,
                   (size_t)snprintf(line, sizeof(line), "\nvxs-commit: %s\nvxs-gen: %llu\n", hex,
                                    (unsigned long long)c.gen));
        rc = b.oom ? -ENOMEM : git_object(g, "commit", b.p, b.len, id);
    }
    free(b.p);
    vs_commit_free(&c);
    return rc;
}

static int mkdirs(const char *base, const char *sub)
{
    char p[4200];
    snprintf(p, sizeof(p), "%s/%s", base, sub);
    if (mkdir(p, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int vs_export_git(struct vs_store *st, const struct store_hash *head, const char *branch,
                  const char *dir)
{
    if (strlen(dir) > 4000 || strlen(branch) > 200 || strchr(branch, '/') || branch[0] == '.' ||
        branch[0] == 0)
        return -EINVAL;
    struct gctx g = {.st = st};
    g.gitdir = malloc(strlen(dir) + 8);
    if (g.gitdir == NULL)
        return -ENOMEM;
    sprintf(g.gitdir, "%s/.git", dir);
    int rc = 0;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        rc = -errno;
    const char *subs[] = {"", "objects", "refs", "refs/heads", "refs/tags"};
    for (size_t i = 0; rc == 0 && i < sizeof(subs) / sizeof(subs[0]); i++)
        rc = mkdirs(g.gitdir, subs[i]);
    struct vs_hashes l = {0};
    if (rc == 0)
        rc = vs_log(st, head, NULL, collect_fn, &l);
    struct vs_hmap done = {0}; /* commit -> index into g.ids */
    int count = 0;
    uint8_t id[20];
    for (size_t i = l.n; rc == 0 && i-- > 0;) { /* oldest first: parents before children */
        rc = git_commit(&g, &done, &l.h[i], id);
        if (rc == 0) {
            /* the commit's id lives in ids too (not in the tree memo) */
            if (g.nids == g.capids) {
                size_t cap = g.capids ? g.capids * 2 : 256;
                uint8_t(*v)[20] = realloc(g.ids, cap * 20);
                if (v == NULL) {
                    rc = -ENOMEM;
                    break;
                }
                g.ids = v;
                g.capids = cap;
            }
            struct vs_hmap_ent *e = vs_hmap_add(&done, &l.h[i], NULL);
            if (e == NULL) {
                rc = -ENOMEM;
                break;
            }
            memcpy(g.ids[g.nids], id, 20);
            e->v = g.nids++;
            count++;
        }
    }
    if (rc == 0 && count > 0) {
        char path[4400], hex[41], txt[300];
        hex20(id, hex);
        snprintf(path, sizeof(path), "%s/refs/heads/%s", g.gitdir, branch);
        int n = snprintf(txt, sizeof(txt), "%s\n", hex);
        rc = write_file(path, txt, (size_t)n);
        snprintf(path, sizeof(path), "%s/HEAD", g.gitdir);
        n = snprintf(txt, sizeof(txt), "ref: refs/heads/%s\n", branch);
        if (rc == 0)
            rc = write_file(path, txt, (size_t)n);
        static const char cfg[] = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n"
                                  "\tbare = false\n";
        snprintf(path, sizeof(path), "%s/config", g.gitdir);
        if (rc == 0)
            rc = write_file(path, cfg, sizeof(cfg) - 1);
    }
    free(l.h);
    vs_hmap_free(&done);
    vs_hmap_free(&g.memo);
    free(g.ids);
    free(g.gitdir);
    return rc < 0 ? rc : count;
}
