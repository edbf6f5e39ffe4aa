/*
 * The history queries (vxs_history.h) on a vs_store: the pager, show, diff, blame, reads at a
 * past time, git export and GC. Commit names and the log: vxs_history_log.c; formats:
 * vxs_history_fmt.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/store_pack.h"
#include "xenstore/vxs_history.h"


/* ---- the pager ---------------------------------------------------------------------------- */

/* Offer the next record of the output. Records before the cursor's index are skipped (and
 * the part of the cursor's record already sent); the page stops at the first record that
 * does not fit, unless the page is still empty: then a piece of it goes out, so a record
 * bigger than a page still makes progress. Returns false once the page is full. */
bool vxh_put(struct vxh_page *pg, const struct vxh_buf *rec)
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
bool vxh_put_str(struct vxh_page *pg, const char *s)
{
    struct vxh_buf b = {.p = (char *)s, .len = strlen(s)};
    return vxh_put(pg, &b);
}

/* JSON list items are records that carry their separator: "[" before the first (after
 * `open`), "," before the others. */
void vxh_item_sep(struct vxh_buf *b, enum vxh_fmt fmt, uint64_t i)
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
    return vxh_put_str(pg, s);
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

int vxh_check_path(struct vxh_page *pg, const char *path)
{
    if (path[0] != '/') {
        VXH_MSG(pg, "%s: paths are absolute", path);
        return -EINVAL;
    }
    return 0;
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
        vxh_item_sep(&rec, pg->fmt, i);
        vxh_change_record(&rec, pg->fmt, &ch);
        if (rc == 0 && (rc = rec.err) == 0)
            vxh_put(pg, &rec);
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
        VXH_MSG(pg, "usage: show COMMIT [PATH]");
        return -EINVAL;
    }
    struct store_hash h, pr;
    struct vs_commit c;
    int rc = argc == 3 ? vxh_check_path(pg, argv[2]) : 0;
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
    if (rc == 0 && vxh_put(pg, &b)) {
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
        VXH_MSG(pg, "usage: diff A B [PATH]");
        return -EINVAL;
    }
    struct store_hash h[2];
    struct vs_commit c[2];
    int rc = argc == 4 ? vxh_check_path(pg, argv[3]) : 0;
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
    if (pg->fmt == VXH_TEXT || vxh_put_str(pg, s))
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
        vxh_item_sep(&b, pg->fmt, i);
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
        vxh_put(pg, &b);
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
        VXH_MSG(pg, "usage: blame [-r] PATH");
        return -EINVAL;
    }
    const char *path = argv[1 + rec];
    struct vs_tree *t;
    uint64_t n = 0;
    int rc = vxh_check_path(pg, path);
    if (rc == 0 && (rc = vs_tree_open(st, head, &t)) == 0) {
        if (pg->fmt == VXH_TEXT || vxh_put_str(pg, "["))
            rc = blame_walk(st, head, t, path, rec, &n, pg);
        if (rc == 0 && !pg->stop)
            put_end(pg, n, "]");
        vs_tree_close(t);
    }
    if (rc == -ENOENT && !pg->msg[0])
        VXH_MSG(pg, "%s: no such node", path);
    return rc;
}

static int q_at(struct vs_store *st, const struct store_hash *head, int argc, char **argv,
                struct vxh_page *pg)
{
    bool ls = argc == 4 && strcmp(argv[2], "ls") == 0;
    if (argc != 4 || (!ls && strcmp(argv[2], "read") != 0)) {
        VXH_MSG(pg, "usage: at TIME read|ls PATH");
        return -EINVAL;
    }
    const char *path = argv[3];
    struct store_hash h;
    struct vs_commit c;
    struct vs_tree *t;
    int rc = vxh_check_path(pg, path);
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
        vxh_put(pg, &b);
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
        VXH_MSG(pg, "%s: no such node at %s", path, argv[1]);
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
        VXH_MSG(pg, "usage: export-git DIR");
        return -EINVAL;
    }
    if (pg->start_index > 0) /* the report is one short record: never a second page */
        return 0;
    int n = vs_export_git(st, head, branch, argv[1]);
    if (n < 0) {
        VXH_MSG(pg, "export to %s: %s", argv[1], strerror(-n));
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
        vxh_put(pg, &b);
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
        VXH_MSG(pg, "no query");
        return -EINVAL;
    }
    if (parse_cursor(pg) < 0) {
        VXH_MSG(pg, "bad cursor");
        return -EINVAL;
    }
    struct store_hash head;
    int rc = vs_branch_head(st, branch, &head);
    if (rc < 0) {
        VXH_MSG(pg, "branch %s: %s", branch, strerror(-rc));
        return rc;
    }
    const char *q = argv[0];
    if (strcmp(q, "log") == 0)
        rc = vxh_q_log(st, &head, argc, argv, pg);
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
        VXH_MSG(pg, "%s: unknown query (log, show, diff, blame, at, export-git)", q);
        rc = -EINVAL;
    }
    if (rc == 0 && pg->body.err)
        rc = pg->body.err;
    if (rc < 0 && !pg->msg[0])
        VXH_MSG(pg, "%s", strerror(-rc));
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
