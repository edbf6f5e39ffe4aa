/*
 * The history queries (vxs_history.h) on a vs_store: commit names, the paged log walk, show,
 * diff, blame, reads at a past time, git export and GC. Formats are in vxs_history_fmt.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/store_pack.h"
#include "xenstore/vxs_history.h"

#define MSG(pg, ...) snprintf((pg)->msg, sizeof (pg)->msg, __VA_ARGS__)

/* ---- the pager ---------------------------------------------------------------------------- */

/* Offer the next record of the output. Records before the cursor's index are skipped (and
 * the part of the cursor's record already sent); the page stops at the first record that
 * does not fit, unless the page is still empty: then a piece of it goes out, so a record
 * bigger than a page still makes progress. Returns false once the page is full. */
static bool put(struct vxh_page *pg, const struct vxh_buf *rec)
{
    uint64_t i = pg->index++;
    if (pg->stop)
        return false;
    if (i < pg->start_index)
        return true;
    size_t off = i == pg->start_index ? (size_t)pg->start_part : 0;
    if (off > rec->len)
        off = rec->len;
    size_t rest = rec->len - off, room = pg->budget - pg->body.len;
    if (rest <= room) {
        vxh_buf_add(&pg->body, rec->p + off, rest);
        return true;
    }
    if (pg->body.len == 0) {
        vxh_buf_add(&pg->body, rec->p + off, room);
        off += room;
    }
    pg->stop = pg->more = true;
    snprintf(pg->next, sizeof pg->next, "%llu:%llu:", (unsigned long long)i,
             (unsigned long long)off);
    return false;
}

/* A record built from a string. */
static bool put_str(struct vxh_page *pg, const char *s)
{
    struct vxh_buf b = {.p = (char *)s, .len = strlen(s)};
    return put(pg, &b);
}

/* JSON list items are records that carry their separator: "[" before the first (after
 * `open`), "," before the others. */
static void item_sep(struct vxh_buf *b, enum vxh_fmt fmt, uint64_t i)
{
    if (fmt == VXH_JSON)
        vxh_buf_str(b, i == 0 ? "\n  " : ",\n  ");
}

static bool put_end(struct vxh_page *pg, uint64_t n, const char *close)
{
    if (pg->fmt != VXH_JSON)
        return true;
    char s[16];
    snprintf(s, sizeof s, "%s%s\n", n ? "\n" : "", close);
    return put_str(pg, s);
}

static int parse_cursor(struct vxh_page *pg)
{
    if (!pg->cursor || !*pg->cursor)
        return 0;
    char *e;
    unsigned long long i = strtoull(pg->cursor, &e, 10), part;
    if (*e++ != ':')
        return -EINVAL;
    part = strtoull(e, &e, 10);
    if (*e++ != ':')
        return -EINVAL;
    pg->start_index = i;
    pg->start_part = part;
    pg->pos = e;
    return 0;
}

static int check_path(struct vxh_page *pg, const char *path)
{
    if (path[0] != '/') {
        MSG(pg, "%s: paths are absolute", path);
        return -EINVAL;
    }
    return 0;
}

/* ---- naming commits ------------------------------------------------------------------------- */

struct prefix_find {
    const char *prefix;
    size_t len, found;
    struct store_hash h;
};

static int prefix_cb(void *arg, const struct store_hash *h, const struct vs_commit *c)
{
    (void)c;
    struct prefix_find *f = arg;
    char hex[65];
    store_hash_hex(h, hex);
    if (strncmp(hex, f->prefix, f->len) == 0 && f->found++ == 0)
        f->h = *h;
    return 0;
}

int vxh_resolve_commit(struct vs_store *st, const struct store_hash *head, const char *spec,
                       struct store_hash *out, char *msg)
{
    char dummy[160];
    msg = msg ? msg : dummy;
    if (strncmp(spec, "head", 4) == 0 || strncmp(spec, "HEAD", 4) == 0) {
        const char *e = spec + 4;
        unsigned long back = 0;
        if (*e == '~') {
            char *end;
            back = strtoul(e + 1, &end, 10);
            e = end == e + 1 ? "?" : end; /* "head~" alone is not a commit */
        }
        if (*e) {
            snprintf(msg, 160, "%s: not a commit (head, head~N or a commit id)", spec);
            return -EINVAL;
        }
        struct store_hash h = *head;
        for (; back > 0; back--) {
            struct vs_commit c;
            int rc = vs_commit_read(st, &h, &c);
            if (rc == 0 && c.nparents == 0)
                rc = -ENOENT;
            if (rc == 0)
                h = c.parents[0];
            if (rc == 0)
                vs_commit_free(&c);
            if (rc < 0) {
                snprintf(msg, 160, "%s: history is shorter", spec);
                return rc;
            }
        }
        *out = h;
        return 0;
    }
    size_t n = strlen(spec);
    char lower[65];
    for (size_t i = 0; i < n && i < 64; i++) {
        char c = spec[i];
        lower[i] = (char)(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
        if (!((lower[i] >= '0' && lower[i] <= '9') || (lower[i] >= 'a' && lower[i] <= 'f')))
            n = 0;
    }
    if (n < 4 || n > 64) {
        snprintf(msg, 160, "%s: not a commit (head, head~N or at least 4 hex digits of an id)",
                 spec);
        return -EINVAL;
    }
    lower[n] = '\0';
    struct prefix_find f = {.prefix = lower, .len = n};
    int rc = vs_log(st, head, NULL, prefix_cb, &f);
    if (rc < 0) {
        snprintf(msg, 160, "reading history: %s", strerror(-rc));
        return rc;
    }
    if (f.found == 0 && n == 64 && store_hash_parse(lower, &f.h) == 0) {
        struct vs_commit c; /* a full id of a commit no longer reachable from head */
        if (vs_commit_read(st, &f.h, &c) == 0) {
            vs_commit_free(&c);
            f.found = 1;
        }
    }
    if (f.found != 1) {
        snprintf(msg, 160, f.found ? "%s: ambiguous commit id (%zu commits)" :
                 "%s: no such commit", spec, f.found);
        return f.found ? -EEXIST : -ENOENT;
    }
    *out = f.h;
    return 0;
}

int vxh_resolve_time(struct vs_store *st, const struct store_hash *head, const char *spec,
                     struct store_hash *out, char *msg)
{
    uint64_t t;
    if (vxh_parse_time(spec, &t) < 0)
        return vxh_resolve_commit(st, head, spec, out, msg);
    struct store_hash h = *head;
    for (;;) {
        struct vs_commit c;
        int rc = vs_commit_read(st, &h, &c);
        if (rc < 0)
            break; /* collected: history ends here */
        bool hit = c.time_ns <= t, more = c.nparents > 0;
        struct store_hash p = c.parents[0];
        vs_commit_free(&c);
        if (hit) {
            *out = h;
            return 0;
        }
        if (!more)
            break;
        h = p;
    }
    if (msg)
        snprintf(msg, 160, "%s: no commit at or before that time", spec);
    return -ENOENT;
}

/* ---- log ---------------------------------------------------------------------------------- */

/* The walk's queue (a max-heap by gen, then hash) and the set of commits ever queued. */
struct walk {
    struct ent {
        uint64_t gen;
        struct store_hash h;
    } *q;
    size_t n, cap;
    struct store_hash *seen; /* open addressing; all-zero = empty slot */
    size_t nseen, seen_cap;
};

static bool ent_less(const struct ent *a, const struct ent *b)
{
    return a->gen != b->gen ? a->gen < b->gen : memcmp(a->h.b, b->h.b, STORE_HASH_LEN) < 0;
}

static bool seen_add(struct walk *w, const struct store_hash *h, int *err)
{
    if (2 * (w->nseen + 1) > w->seen_cap) {
        size_t cap = w->seen_cap ? w->seen_cap * 2 : 64;
        struct store_hash *s = calloc(cap, sizeof *s);
        if (!s) {
            *err = -ENOMEM;
            return false;
        }
        struct store_hash *old = w->seen;
        size_t ocap = w->seen_cap;
        w->seen = s, w->seen_cap = cap, w->nseen = 0;
        for (size_t i = 0; i < ocap; i++)
            if (old[i].b[0] | old[i].b[1] | old[i].b[2] | old[i].b[3])
                seen_add(w, &old[i], err);
        free(old);
    }
    size_t i;
    memcpy(&i, h->b, sizeof i); /* a SHA-256 is uniformly spread already */
    for (i &= w->seen_cap - 1;; i = (i + 1) & (w->seen_cap - 1)) {
        struct store_hash *s = &w->seen[i];
        if (!(s->b[0] | s->b[1] | s->b[2] | s->b[3])) {
            *s = *h;
            w->nseen++;
            return true;
        }
        if (store_hash_equal(s, h))
            return false;
    }
}

/* Queue commit h unless it was queued before or cannot be read (collected). */
static int walk_push(struct vs_store *st, struct walk *w, const struct store_hash *h)
{
    int err = 0;
    struct vs_commit c;
    if (!seen_add(w, h, &err) || vs_commit_read(st, h, &c) < 0)
        return err;
    struct ent e = {c.gen, *h};
    vs_commit_free(&c);
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        struct ent *q = realloc(w->q, cap * sizeof *q);
        if (!q)
            return -ENOMEM;
        w->q = q, w->cap = cap;
    }
    size_t i = w->n++;
    for (; i > 0 && ent_less(&w->q[(i - 1) / 2], &e); i = (i - 1) / 2)
        w->q[i] = w->q[(i - 1) / 2];
    w->q[i] = e;
    return 0;
}

static bool walk_pop(struct walk *w, struct ent *out)
{
    if (w->n == 0)
        return false;
    *out = w->q[0];
    struct ent last = w->q[--w->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= w->n)
            break;
        if (c + 1 < w->n && ent_less(&w->q[c], &w->q[c + 1]))
            c++;
        if (!ent_less(&last, &w->q[c]))
            break;
        w->q[i] = w->q[c];
        i = c;
    }
    if (w->n)
        w->q[i] = last;
    return true;
}

/* Subtree hash at path in root; *present false if there is no such node. */
static int path_hash(struct vs_store *st, const struct store_hash *root, const char *path,
                     bool *present, struct store_hash *h)
{
    struct vs_tree *t;
    int rc = vs_tree_open_root(st, root, 0, &t);
    if (rc < 0)
        return rc;
    rc = vs_tree_subtree_hash(t, path, h);
    vs_tree_close(t);
    *present = rc == 0;
    return rc == -ENOENT ? 0 : rc;
}

/* Did commit c change the subtree at path (against its first parent)? */
static int touches(struct vs_store *st, const struct vs_commit *c, const char *path)
{
    bool p1, p2 = false;
    struct store_hash h1, h2;
    int rc = path_hash(st, &c->root, path, &p1, &h1);
    struct vs_commit pc;
    if (rc == 0 && c->nparents > 0 && vs_commit_read(st, &c->parents[0], &pc) == 0) {
        rc = path_hash(st, &pc.root, path, &p2, &h2);
        vs_commit_free(&pc);
    }
    return rc < 0 ? rc : p1 != p2 || (p1 && !store_hash_equal(&h1, &h2));
}

/* The cursor's position of a log page that stopped before commit `top`: the frontier. */
static int frontier(struct vxh_page *pg, const struct walk *w, const struct ent *top)
{
    if (w->n + 1 > VXH_MAX_FRONTIER) {
        MSG(pg, "history too branchy to page (%zu open branches)", w->n + 1);
        return -E2BIG;
    }
    size_t l = strlen(pg->next);
    for (size_t i = 0; i <= w->n; i++) {
        if (i)
            pg->next[l++] = ',';
        store_hash_hex(i == 0 ? &top->h : &w->q[i - 1].h, pg->next + l);
        l += 64;
    }
    return 0;
}

static int q_log(struct vs_store *st, const struct store_hash *head, int argc, char **argv,
                 struct vxh_page *pg)
{
    unsigned long long limit = UINT64_MAX;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            limit = strtoull(argv[++i], NULL, 10);
        else if (!path && check_path(pg, argv[i]) == 0)
            path = argv[i];
        else
            return pg->msg[0] ? -EINVAL : (MSG(pg, "usage: log [-n N] [PATH]"), -EINVAL);
    }
    struct walk w = {0};
    int rc = 0;
    if (!pg->cursor || !*pg->cursor) {
        rc = walk_push(st, &w, head);
    } else {
        for (const char *p = pg->pos; rc == 0 && *p; p += *p == ',') {
            struct store_hash h;
            char hex[65];
            if (strlen(p) < 64 || (p[64] != ',' && p[64] != '\0'))
                return -EINVAL;
            memcpy(hex, p, 64);
            hex[64] = '\0';
            p += 64;
            rc = store_hash_parse(hex, &h) < 0 ? -EINVAL : walk_push(st, &w, &h);
        }
    }
    pg->index = pg->start_index;
    uint64_t count = pg->start_index;
    struct ent top;
    struct vxh_buf rec = {0};
    while (rc == 0 && count < limit && walk_pop(&w, &top)) {
        struct vs_commit c;
        if (vs_commit_read(st, &top.h, &c) < 0)
            continue;
        int show = path ? touches(st, &c, path) : 1;
        if (show > 0) {
            rec.len = 0;
            if (pg->fmt == VXH_JSON && count == 0)
                vxh_buf_str(&rec, "["); /* the list opens with its first item */
            item_sep(&rec, pg->fmt, count);
            vxh_commit_record(&rec, pg->fmt, &top.h, &c);
            rc = rec.err;
            if (rc == 0 && !put(pg, &rec))
                rc = frontier(pg, &w, &top);
            count++;
        } else {
            rc = show;
        }
        for (size_t i = 0; rc == 0 && !pg->stop && i < c.nparents; i++)
            rc = walk_push(st, &w, &c.parents[i]);
        vs_commit_free(&c);
        if (pg->stop)
            break;
    }
    if (rc == 0 && !pg->stop && pg->fmt == VXH_JSON)
        put_str(pg, count ? "\n]\n" : "[]\n");
    vxh_buf_free(&rec);
    free(w.q);
    free(w.seen);
    return rc;
}

/* ---- show, diff ------------------------------------------------------------------------------ */

struct chg {
    char *path;
    enum vs_change kind;
};
struct chgs {
    struct chg *v;
    size_t n, cap;
    const char *under; /* keep only this node and its subtree (NULL: all) */
};

static int chg_cb(void *arg, const char *path, enum vs_change kind)
{
    struct chgs *cs = arg;
    if (cs->under && strcmp(cs->under, "/") != 0) {
        size_t l = strlen(cs->under);
        if (strncmp(path, cs->under, l) != 0 || (path[l] != '\0' && path[l] != '/'))
            return 0;
    }
    if (cs->n == cs->cap) {
        size_t cap = cs->cap ? cs->cap * 2 : 32;
        struct chg *v = realloc(cs->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        cs->v = v, cs->cap = cap;
    }
    if (!(cs->v[cs->n].path = strdup(path)))
        return -ENOMEM;
    cs->v[cs->n++].kind = kind;
    return 0;
}

static int chg_cmp(const void *a, const void *b)
{
    return vxh_path_cmp(((const struct chg *)a)->path, ((const struct chg *)b)->path);
}

/* The changes from root a to root b (below `under`), sorted by path, as records after the
 * records already offered (a header); JSON closes the "changes" list and the object. */
static int put_changes(struct vs_store *st, const struct store_hash *a, const struct store_hash *b,
                       const char *under, struct vxh_page *pg)
{
    struct chgs cs = {.under = under};
    struct vs_tree *ta = NULL, *tb = NULL;
    int rc = vs_diff_roots(st, a, b, chg_cb, &cs);
    if (rc == 0 && cs.n > 1)
        qsort(cs.v, cs.n, sizeof *cs.v, chg_cmp);
    if (rc == 0 && (rc = vs_tree_open_root(st, a, 0, &ta)) == 0)
        rc = vs_tree_open_root(st, b, 0, &tb);
    struct vxh_buf rec = {0};
    for (size_t i = 0; rc == 0 && i < cs.n && !pg->stop; i++) {
        struct vxh_change ch = {.path = cs.v[i].path, .kind = cs.v[i].kind};
        void *ov = NULL, *nv = NULL, *op = NULL, *np = NULL;
        if (pg->index < pg->start_index) {
            pg->index++; /* before the cursor: no need to read the values */
            continue;
        }
        if (ch.kind != VS_ADDED && (rc = vs_tree_read(ta, ch.path, &ov, &ch.old_vlen)) == 0)
            rc = vs_tree_get_perms(ta, ch.path, &op, &ch.old_plen);
        if (rc == 0 && ch.kind != VS_REMOVED &&
            (rc = vs_tree_read(tb, ch.path, &nv, &ch.new_vlen)) == 0)
            rc = vs_tree_get_perms(tb, ch.path, &np, &ch.new_plen);
        ch.old_val = ov, ch.new_val = nv, ch.old_perms = op, ch.new_perms = np;
        rec.len = 0;
        item_sep(&rec, pg->fmt, i);
        vxh_change_record(&rec, pg->fmt, &ch);
        if (rc == 0 && (rc = rec.err) == 0)
            put(pg, &rec);
        free(ov), free(nv), free(op), free(np);
    }
    if (rc == 0)
        put_end(pg, cs.n, "]}");
    vxh_buf_free(&rec);
    vs_tree_close(ta);
    vs_tree_close(tb);
    for (size_t i = 0; i < cs.n; i++)
        free(cs.v[i].path);
    free(cs.v);
    return rc;
}

/* The root of a commit's first parent (the empty tree for a root commit or a collected
 * parent). */
static void parent_root(struct vs_store *st, const struct vs_commit *c, struct store_hash *out)
{
    struct vs_commit p;
    vs_empty_root(st, out);
    if (c->nparents > 0 && vs_commit_read(st, &c->parents[0], &p) == 0) {
        *out = p.root;
        vs_commit_free(&p);
    }
}

static int q_show(struct vs_store *st, const struct store_hash *head, int argc, char **argv,
                  struct vxh_page *pg)
{
    if (argc < 2 || argc > 3) {
        MSG(pg, "usage: show COMMIT [PATH]");
        return -EINVAL;
    }
    struct store_hash h, pr;
    struct vs_commit c;
    int rc = argc == 3 ? check_path(pg, argv[2]) : 0;
    if (rc == 0)
        rc = vxh_resolve_commit(st, head, argv[1], &h, pg->msg);
    if (rc < 0 || (rc = vs_commit_read(st, &h, &c)) < 0)
        return rc;
    struct vxh_buf b = {0};
    char hex[65], t[40];
    store_hash_hex(&h, hex);
    if (pg->fmt == VXH_JSON) {
        vxh_buf_str(&b, "{\"commit\": ");
        vxh_commit_record(&b, VXH_JSON, &h, &c);
        vxh_buf_str(&b, ", \"changes\": [");
    } else {
        vxh_time_str(c.time_ns, t, sizeof t);
        vxh_buf_printf(&b, "commit %s\n", hex);
        for (size_t i = 0; i < c.nparents; i++) {
            store_hash_hex(&c.parents[i], hex);
            vxh_buf_printf(&b, "parent %s\n", hex);
        }
        vxh_buf_str(&b, "author ");
        vxh_text_value(&b, c.author, strlen(c.author), false);
        vxh_buf_printf(&b, "\ndate   %s (gen %llu)\n\n    ", t, (unsigned long long)c.gen);
        vxh_text_value(&b, c.message, strlen(c.message), false);
        vxh_buf_str(&b, "\n\n");
    }
    rc = b.err;
    if (rc == 0 && put(pg, &b)) {
        parent_root(st, &c, &pr);
        rc = put_changes(st, &pr, &c.root, argc == 3 ? argv[2] : NULL, pg);
    }
    vxh_buf_free(&b);
    vs_commit_free(&c);
    return rc;
}

static int q_diff(struct vs_store *st, const struct store_hash *head, int argc, char **argv,
                  struct vxh_page *pg)
{
    if (argc < 3 || argc > 4) {
        MSG(pg, "usage: diff A B [PATH]");
        return -EINVAL;
    }
    struct store_hash h[2];
    struct vs_commit c[2];
    int rc = argc == 4 ? check_path(pg, argv[3]) : 0;
    for (int i = 0; i < 2 && rc == 0; i++)
        rc = vxh_resolve_commit(st, head, argv[1 + i], &h[i], pg->msg);
    if (rc < 0 || (rc = vs_commit_read(st, &h[0], &c[0])) < 0)
        return rc;
    if ((rc = vs_commit_read(st, &h[1], &c[1])) < 0) {
        vs_commit_free(&c[0]);
        return rc;
    }
    char ha[65], hb[65], s[200];
    store_hash_hex(&h[0], ha);
    store_hash_hex(&h[1], hb);
    snprintf(s, sizeof s, "{\"from\": \"%s\", \"to\": \"%s\", \"changes\": [", ha, hb);
    if (pg->fmt == VXH_TEXT || put_str(pg, s))
        rc = put_changes(st, &c[0].root, &c[1].root, argc == 4 ? argv[3] : NULL, pg);
    vs_commit_free(&c[0]);
    vs_commit_free(&c[1]);
    return rc;
}

/* ---- blame, at, export --------------------------------------------------------------------- */

/* One node's record for blame or ls: value, perms and (blame) the commit. */
static int node_record(struct vxh_page *pg, struct vs_tree *t, const char *path,
                       const char *name, struct vs_store *st, const struct store_hash *blame,
                       uint64_t i)
{
    if (pg->index < pg->start_index) {
        pg->index++;
        return 0;
    }
    void *v = NULL, *p = NULL;
    size_t vl, pl;
    struct vxh_buf b = {0};
    struct vs_commit c = {0};
    struct store_hash h;
    int rc = vs_tree_read(t, path, &v, &vl);
    if (rc == 0)
        rc = vs_tree_get_perms(t, path, &p, &pl);
    if (rc == 0 && blame && (rc = vs_blame(st, blame, path, &h)) == 0)
        rc = vs_commit_read(st, &h, &c);
    if (rc == 0) {
        const char *label = name ? name : path;
        item_sep(&b, pg->fmt, i);
        if (pg->fmt == VXH_JSON) {
            vxh_buf_printf(&b, "{\"%s\": ", name ? "name" : "path");
            vxh_json_str(&b, label, strlen(label));
            vxh_buf_str(&b, ", \"value\": ");
            vxh_json_str(&b, v, vl);
            vxh_buf_str(&b, ", \"perms\": ");
            vxh_perms(&b, p, pl, VXH_JSON);
            if (blame) {
                vxh_buf_str(&b, ", \"commit\": ");
                vxh_commit_record(&b, VXH_JSON, &h, &c);
            }
            vxh_buf_str(&b, "}");
        } else {
            if (blame) {
                char hex[65], tm[40];
                store_hash_hex(&h, hex);
                vxh_time_str(c.time_ns, tm, sizeof tm);
                vxh_buf_printf(&b, "%.*s (", VXH_SHORT_ID, hex);
                vxh_text_value(&b, c.author, strlen(c.author), false);
                vxh_buf_printf(&b, " %s) ", tm);
            }
            vxh_text_value(&b, label, strlen(label), false);
            vxh_buf_str(&b, " = ");
            vxh_text_value(&b, v, vl, true);
            vxh_buf_str(&b, "\n");
        }
        rc = b.err;
    }
    if (rc == 0)
        put(pg, &b);
    vs_commit_free(&c);
    vxh_buf_free(&b);
    free(v);
    free(p);
    return rc;
}

/* Blame path and, if recursive, every node below it (depth first, children sorted). */
static int blame_walk(struct vs_store *st, const struct store_hash *head, struct vs_tree *t,
                      const char *path, bool recursive, uint64_t *n, struct vxh_page *pg)
{
    int rc = node_record(pg, t, path, NULL, st, head, (*n)++);
    char **names = NULL;
    size_t k = 0;
    if (rc == 0 && recursive)
        rc = vs_tree_list(t, path, &names, &k);
    for (size_t i = 0; rc == 0 && i < k && !pg->stop; i++) {
        size_t l = strlen(path) + strlen(names[i]) + 2;
        char *cp = malloc(l);
        if (!cp) {
            rc = -ENOMEM;
            break;
        }
        snprintf(cp, l, "%s/%s", strcmp(path, "/") ? path : "", names[i]);
        rc = blame_walk(st, head, t, cp, true, n, pg);
        free(cp);
    }
    vs_names_free(names, k);
    return rc;
}

static int q_blame(struct vs_store *st, const struct store_hash *head, int argc, char **argv,
                   struct vxh_page *pg)
{
    bool rec = argc == 3 && strcmp(argv[1], "-r") == 0;
    if (argc != 2 + rec) {
        MSG(pg, "usage: blame [-r] PATH");
        return -EINVAL;
    }
    const char *path = argv[1 + rec];
    struct vs_tree *t;
    uint64_t n = 0;
    int rc = check_path(pg, path);
    if (rc == 0 && (rc = vs_tree_open(st, head, &t)) == 0) {
        if (pg->fmt == VXH_TEXT || put_str(pg, "["))
            rc = blame_walk(st, head, t, path, rec, &n, pg);
        if (rc == 0 && !pg->stop)
            put_end(pg, n, "]");
        vs_tree_close(t);
    }
    if (rc == -ENOENT && !pg->msg[0])
        MSG(pg, "%s: no such node", path);
    return rc;
}

static int q_at(struct vs_store *st, const struct store_hash *head, int argc, char **argv,
                struct vxh_page *pg)
{
    bool ls = argc == 4 && strcmp(argv[2], "ls") == 0;
    if (argc != 4 || (!ls && strcmp(argv[2], "read") != 0)) {
        MSG(pg, "usage: at TIME read|ls PATH");
        return -EINVAL;
    }
    const char *path = argv[3];
    struct store_hash h;
    struct vs_commit c;
    struct vs_tree *t;
    int rc = check_path(pg, path);
    if (rc == 0)
        rc = vxh_resolve_time(st, head, argv[1], &h, pg->msg);
    if (rc < 0 || (rc = vs_commit_read(st, &h, &c)) < 0)
        return rc;
    if ((rc = vs_tree_open(st, &h, &t)) < 0) {
        vs_commit_free(&c);
        return rc;
    }
    char **names = NULL;
    size_t k = 0;
    void *v = NULL, *p = NULL;
    size_t vl = 0, pl = 0;
    if (ls)
        rc = vs_tree_list(t, path, &names, &k);
    else if ((rc = vs_tree_read(t, path, &v, &vl)) == 0)
        rc = vs_tree_get_perms(t, path, &p, &pl);
    /* The first record: the whole answer of read; the header of ls (JSON only). */
    struct vxh_buf b = {0};
    if (rc == 0 && pg->fmt == VXH_JSON) {
        char hex[65], tm[40];
        store_hash_hex(&h, hex);
        vxh_time_str(c.time_ns, tm, sizeof tm);
        vxh_buf_printf(&b, "{\"commit\": \"%s\", \"time\": \"%s\", \"path\": ", hex, tm);
        vxh_json_str(&b, path, strlen(path));
        if (ls) {
            vxh_buf_str(&b, ", \"children\": [");
        } else {
            vxh_buf_str(&b, ", \"value\": ");
            vxh_json_str(&b, v, vl);
            vxh_buf_str(&b, ", \"perms\": ");
            vxh_perms(&b, p, pl, VXH_JSON);
            vxh_buf_str(&b, "}\n");
        }
    } else if (rc == 0 && !ls) {
        vxh_text_value(&b, v, vl, false);
        vxh_buf_str(&b, "\n");
    }
    if (rc == 0 && (rc = b.err) == 0 && b.len)
        put(pg, &b);
    for (size_t i = 0; rc == 0 && ls && i < k && !pg->stop; i++) {
        char *cp = malloc(strlen(path) + strlen(names[i]) + 2);
        if (!cp) {
            rc = -ENOMEM;
            break;
        }
        sprintf(cp, "%s/%s", strcmp(path, "/") ? path : "", names[i]);
        rc = node_record(pg, t, cp, names[i], st, NULL, i);
        free(cp);
    }
    if (rc == 0 && ls && !pg->stop)
        put_end(pg, k, "]}");
    if (rc == -ENOENT && !pg->msg[0])
        MSG(pg, "%s: no such node at %s", path, argv[1]);
    free(v);
    free(p);
    vxh_buf_free(&b);
    vs_names_free(names, k);
    vs_tree_close(t);
    vs_commit_free(&c);
    return rc;
}

static int q_export(struct vs_store *st, const struct store_hash *head, const char *branch,
                    int argc, char **argv, struct vxh_page *pg)
{
    if (argc != 2) {
        MSG(pg, "usage: export-git DIR");
        return -EINVAL;
    }
    if (pg->start_index > 0) /* the report is one short record: never a second page */
        return 0;
    int n = vs_export_git(st, head, branch, argv[1]);
    if (n < 0) {
        MSG(pg, "export to %s: %s", argv[1], strerror(-n));
        return n;
    }
    struct vxh_buf b = {0};
    if (pg->fmt == VXH_JSON) {
        vxh_buf_printf(&b, "{\"commits\": %d, \"branch\": ", n);
        vxh_json_str(&b, branch, strlen(branch));
        vxh_buf_str(&b, ", \"dir\": ");
        vxh_json_str(&b, argv[1], strlen(argv[1]));
        vxh_buf_str(&b, "}\n");
    } else {
        vxh_buf_printf(&b, "exported %d commits of branch %s to %s (git -C %s log)\n", n,
                       branch, argv[1], argv[1]);
    }
    int rc = b.err;
    if (rc == 0)
        put(pg, &b);
    vxh_buf_free(&b);
    return rc;
}

int vxh_query(struct vs_store *st, const char *branch, int argc, char **argv,
              struct vxh_page *pg)
{
    pg->body = (struct vxh_buf){0};
    pg->more = pg->stop = false;
    pg->next[0] = pg->msg[0] = '\0';
    pg->index = pg->start_index = pg->start_part = 0;
    pg->pos = "";
    if (pg->budget == 0)
        pg->budget = 1;
    if (argc < 1) {
        MSG(pg, "no query");
        return -EINVAL;
    }
    if (parse_cursor(pg) < 0) {
        MSG(pg, "bad cursor");
        return -EINVAL;
    }
    struct store_hash head;
    int rc = vs_branch_head(st, branch, &head);
    if (rc < 0) {
        MSG(pg, "branch %s: %s", branch, strerror(-rc));
        return rc;
    }
    const char *q = argv[0];
    if (strcmp(q, "log") == 0)
        rc = q_log(st, &head, argc, argv, pg);
    else if (strcmp(q, "show") == 0)
        rc = q_show(st, &head, argc, argv, pg);
    else if (strcmp(q, "diff") == 0)
        rc = q_diff(st, &head, argc, argv, pg);
    else if (strcmp(q, "blame") == 0)
        rc = q_blame(st, &head, argc, argv, pg);
    else if (strcmp(q, "at") == 0)
        rc = q_at(st, &head, argc, argv, pg);
    else if (strcmp(q, "export-git") == 0)
        rc = q_export(st, &head, branch, argc, argv, pg);
    else {
        MSG(pg, "%s: unknown query (log, show, diff, blame, at, export-git)", q);
        rc = -EINVAL;
    }
    if (rc == 0 && pg->body.err)
        rc = pg->body.err;
    if (rc < 0 && !pg->msg[0])
        MSG(pg, "%s", strerror(-rc));
    return rc;
}

void vxh_page_free(struct vxh_page *pg)
{
    vxh_buf_free(&pg->body);
}

/* ---- garbage collection ------------------------------------------------------------------- */

int vxh_gc(struct objstore *os, const struct vs_keep *keep, enum vxh_fmt fmt,
           struct vxh_buf *out)
{
    struct vs_gc_args a = {.os = os, .keep = *keep};
    struct store_pack_gc_stats s = {0};
    int rc = store_pack_gc(os, vs_gc_enumerate, &a, &s);
    if (rc < 0)
        return rc;
    if (fmt == VXH_JSON)
        vxh_buf_printf(out,
                       "{\"bytes_before\": %llu, \"bytes_after\": %llu, \"live_objects\": %llu, "
                       "\"copied_objects\": %llu, \"switch_us\": %llu}\n",
                       (unsigned long long)s.bytes_before, (unsigned long long)s.bytes_after,
                       (unsigned long long)s.live_objects, (unsigned long long)s.copied_objects,
                       (unsigned long long)s.switch_us);
    else
        vxh_buf_printf(out,
                       "gc: %llu -> %llu bytes, %llu objects kept, writers stopped %llu us\n",
                       (unsigned long long)s.bytes_before, (unsigned long long)s.bytes_after,
                       (unsigned long long)s.copied_objects, (unsigned long long)s.switch_us);
    return out->err;
}
