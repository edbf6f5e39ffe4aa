/*
 * The history queries' commit names (vxh_resolve_commit, vxh_resolve_time) and the log: a
 * walk of the commit graph newest first (by gen, then hash) that can stop after any commit
 * and resume from its frontier (the commits still queued), so each page of a long log costs
 * only its own commits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/vxs_history.h"

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
            if (rc == 0) {
                if (c.nparents == 0)
                    rc = -ENOENT; /* a root commit: history is shorter */
                else
                    h = c.parents[0];
                vs_commit_free(&c);
            }
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
        VXH_MSG(pg, "history too branchy to page (%zu open branches)", w->n + 1);
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

int vxh_q_log(struct vs_store *st, const struct store_hash *head, int argc, char **argv,
                 struct vxh_page *pg)
{
    unsigned long long limit = UINT64_MAX;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            limit = strtoull(argv[++i], NULL, 10);
        else if (!path && vxh_check_path(pg, argv[i]) == 0)
            path = argv[i];
        else
            return pg->msg[0] ? -EINVAL : (VXH_MSG(pg, "usage: log [-n N] [PATH]"), -EINVAL);
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
    unsigned visited = 0;
    while (rc == 0 && count < limit && walk_pop(&w, &top)) {
        struct vs_commit c;
        if (++visited > VXH_LOG_STEP) {
            /* A page of `log PATH` may have to pass many commits that do not touch PATH;
             * the daemon answers within bounded work and the next page goes on from here. */
            pg->stop = pg->more = true;
            snprintf(pg->next, sizeof pg->next, "%llu:0:", (unsigned long long)count);
            rc = frontier(pg, &w, &top);
            break;
        }
        if (vs_commit_read(st, &top.h, &c) < 0)
            continue;
        int show = path ? touches(st, &c, path) : 1;
        if (show > 0) {
            rec.len = 0;
            if (pg->fmt == VXH_JSON && count == 0)
                vxh_buf_str(&rec, "["); /* the list opens with its first item */
            vxh_item_sep(&rec, pg->fmt, count);
            vxh_commit_record(&rec, pg->fmt, &top.h, &c);
            rc = rec.err;
            if (rc == 0 && !vxh_put(pg, &rec))
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
        vxh_put_str(pg, count ? "\n]\n" : "[]\n");
    vxh_buf_free(&rec);
    free(w.q);
    free(w.seen);
    return rc;
}
