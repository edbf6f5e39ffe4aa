/* vxenstored: XS_CONTROL (xenstore-control) commands. Each command gets the request's
 * NUL-separated arguments and produces the reply payload (text, as C xenstored's; always
 * NUL-terminated so that xenstore-control prints it).
 *
 *   check, print STRING, help       as in C xenstored (help: C's list, then ours)
 *   log on|off                      the -T trace file reopened / closed, as in C
 *   logfile FILE                    the -T trace file from now on, as in C
 *   memreport [FILE]                connections, watches, transactions, commit seqs, the
 *                                   pack's and the tree cache's figures: appended to FILE
 *                                   as C does (reply OK), else the reply itself (C writes
 *                                   to the trace file, EBADF without one)
 *   live-update -a|-c CMDLINE|-s    never in a session: C xenstored's texts for that
 *   quota [set NAME VAL|DOMID], quota-soft [set NAME VAL]
 *                                   C xenstored's quota settings and a domain's figures
 *                                   (vxs_quota_req.c)
 *   history [-j] [-c CURSOR] QUERY ...
 *                                   one page of a history query (vxs_history.h: log, show,
 *                                   diff, blame, at, export-git); the `vxs` CLI pages
 *   gc [-j] [KEEP_COMMITS [KEEP_SECONDS]]
 *                                   collect the pack's garbage, keeping open transactions'
 *                                   snapshots
 *
 * All but check, print and help change or reveal the whole daemon: privileged connections
 * only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/store_pack.h"
#include "xenstore/store_tree_int.h" /* the tree cache's figures for memreport */
#include "xenstore/vxs.h"
#include "xenstore/vxs_history.h"
#include "xenstore/vxs_quota.h"

#define CONTROL_MAX_ARGS 32
/* Defaults of gc: the newest commits and the last week of history stay. */
#define GC_KEEP_COMMITS 1000
#define GC_KEEP_SECONDS (7 * 86400)

static int reply_text(const char *s, char **out, size_t *len)
{
    size_t n = strlen(s) + 1;
    *out = malloc(n);
    if (!*out)
        return -ENOMEM;
    memcpy(*out, s, n);
    *len = n;
    return 0;
}

/* A built reply: the buffer (NUL included) or its error; cut to the payload limit (the text
 * commands' outputs are bounded, this only guards against a surprise). */
static int reply_buf(struct vxh_buf *b, char **out, size_t *len)
{
    if (b->len > XENSTORE_PAYLOAD_MAX - 1) {
        b->len = XENSTORE_PAYLOAD_MAX - 1;
        b->p[b->len] = '\0';
    }
    vxh_buf_add(b, "", 1);
    if (b->err) {
        vxh_buf_free(b);
        return -ENOMEM;
    }
    *out = b->p;
    *len = b->len;
    return 0;
}

/* C 4.17's format ("command\tparameters\n") and its commands in its order, then ours. */
static const char help_text[] =
    "check\t\n"
    "log\ton|off\n"
    "live-update\t[-c <cmdline>] [-F] [-t <timeout>] <file>\n"
    "    Default timeout is 60 seconds.\n"
    "logfile\t<file>\n"
    "memreport\t[<file>]\n"
    "print\t<string>\n"
    "quota\t[set <name> <val>|<domid>]\n"
    "quota-soft\t[set <name> <val>]\n"
    "help\t\n"
    "history\t[-j] [-c <cursor>] log [-n <N>] [<path>]\n"
    "history\t[-j] [-c <cursor>] show <commit> [<path>]\n"
    "history\t[-j] [-c <cursor>] diff <commit> <commit> [<path>]\n"
    "history\t[-j] [-c <cursor>] blame [-r] <path>\n"
    "history\t[-j] [-c <cursor>] at <time|commit> read|ls <path>\n"
    "history\t[-j] export-git <absolute dir>\n"
    "gc\t[-j] [<keep commits> [<keep seconds>]]\n";

/* History queries read through a store of their own: walking old commits must not evict the
 * daemon's working set from its cache, and after a GC the collected commits must not be
 * served from a cache (it is reopened). */
#define HISTORY_CACHE_BYTES (2u << 20)
static struct vs_store *hist_st;

static struct vs_store *history_store(void)
{
    if (!hist_st)
        hist_st = vs_store_open(vxs.os, HISTORY_CACHE_BYTES);
    return hist_st;
}

static int do_history(int argc, char **argv, char **out, size_t *olen)
{
    struct vs_store *st = history_store();
    if (!st)
        return -ENOMEM;
    struct vxh_page pg = {.fmt = VXH_TEXT, .budget = VXH_CONTROL_BUDGET};
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-j") == 0)
            pg.fmt = VXH_JSON;
        else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            pg.cursor = argv[++i];
        else
            return -EINVAL;
    }
    if (i + 1 < argc && strcmp(argv[i], "export-git") == 0 && argv[i + 1][0] != '/')
        return -EINVAL; /* the daemon's working directory means nothing to the caller */
    int rc = vxh_query(st, VXS_BRANCH, argc - i, argv + i, &pg);
    rc = vxh_reply(rc, &pg, out, olen);
    vxh_page_free(&pg);
    return rc;
}

static int do_gc(int argc, char **argv, char **out, size_t *olen)
{
    if (!vxs.is_pack)
        return -ENOSYS; /* the in-memory heap has no garbage collector */
    struct vs_keep keep = {.commits = GC_KEEP_COMMITS, .seconds = GC_KEEP_SECONDS};
    enum vxh_fmt fmt = VXH_TEXT;
    int i = 1, n = 0;
    if (i < argc && strcmp(argv[i], "-j") == 0)
        fmt = VXH_JSON, i++;
    for (; i < argc; i++, n++) {
        char *e;
        unsigned long long v = strtoull(argv[i], &e, 10);
        if (!*argv[i] || *e || n > 1)
            return -EINVAL;
        if (n == 0)
            keep.commits = v ? v : 1;
        else
            keep.seconds = v;
    }
    /* Open transactions read from their snapshots and may commit them: their trees stay. */
    size_t ns = 0, cap = 0;
    struct store_hash *snaps = NULL;
    for (struct vxs_conn *c = vxs.conns; c; c = c->next)
        for (struct vxs_tx *t = c->txs; t; t = t->next) {
            if (ns == cap) {
                cap = cap ? cap * 2 : 16;
                struct store_hash *s = realloc(snaps, cap * sizeof *s);
                if (!s) {
                    free(snaps);
                    return -ENOMEM;
                }
                snaps = s;
            }
            if (vs_txn_snapshot(t->x, &snaps[ns]))
                ns++;
        }
    keep.snapshots = snaps;
    keep.nsnapshots = ns;
    struct vxh_buf b = {0};
    int rc = vxh_gc(vxs.os, &keep, fmt, &b);
    free(snaps);
    if (hist_st) {
        vs_store_close(hist_st);
        hist_st = NULL;
    }
    if (rc < 0) {
        vxs_log("gc failed: %s", strerror(-rc));
        vxh_buf_free(&b);
        return rc;
    }
    if (vxs.verbose)
        vxs_log("%s", b.p);
    return reply_buf(&b, out, olen);
}

static int do_memreport(char **out, size_t *olen)
{
    struct vxh_buf b = {0};
    unsigned nconns = 0, nwatches = 0, ntxs = 0, shown = 0;
    size_t outq = 0;
    struct vxh_buf lines = {0};
    for (struct vxs_conn *c = vxs.conns; c; c = c->next) {
        unsigned w = 0, q = 0;
        size_t qb = 0;
        for (struct vxs_watch *x = c->watches; x; x = x->next)
            w++;
        for (struct vxs_out *o = c->out_head; o; o = o->next)
            q++, qb += o->len;
        nconns++, nwatches += w, ntxs += c->ntxs, outq += qb;
        /* A few dozen lines at most: the reply must stay under 4 KiB. */
        if (shown++ < 32)
            vxh_buf_printf(&lines, "  conn%u dom%u %s%s%s: %u watches, %u transactions, %u "
                           "replies queued (%zu bytes)\n", c->id, c->domid,
                           c->dom ? "ring" : "socket", c->priv ? " priv" : "",
                           c->stalled ? " stalled" : "", w, c->ntxs, q, qb);
    }
    vxh_buf_printf(&b, "connections: %u (%zu bytes of replies queued)\n", nconns, outq);
    vxh_buf_add(&b, lines.p ? lines.p : "", lines.len);
    if (shown > 32)
        vxh_buf_printf(&b, "  ... %u more\n", shown - 32);
    vxh_buf_free(&lines);
    unsigned ndoms = 0;
    for (struct vxs_domain *d = vxs.domains; d; d = d->next)
        ndoms++;
    vxh_buf_printf(&b, "domains: %u%s\nwatches: %u\ntransactions: %u\n", ndoms,
                   vxs.socket_only ? " (socket only)" : "", nwatches, ntxs);
    vxh_buf_printf(&b, "commits: %llu handed out, durable up to %llu\n",
                   (unsigned long long)vxs.next_seq, (unsigned long long)vxs.durable_upto);
    struct store_hash head;
    if (vs_branch_head(vxs.st, VXS_BRANCH, &head) == 0) {
        struct vs_commit cm;
        char hex[65];
        store_hash_hex(&head, hex);
        if (vs_commit_read(vxs.st, &head, &cm) == 0) {
            vxh_buf_printf(&b, "head: %.12s (gen %llu)\n", hex, (unsigned long long)cm.gen);
            vs_commit_free(&cm);
        }
    }
    if (vxs.is_pack) {
        struct store_pack_stats s;
        store_pack_stats(vxs.os, &s);
        vxh_buf_printf(&b,
                       "pack: %llu bytes, %llu objects, %llu syncs, %llu ref updates, %u "
                       "pending%s\n"
                       "pack cache: %llu bytes, %llu hits, %llu misses\n",
                       (unsigned long long)s.file_size, (unsigned long long)s.objects,
                       (unsigned long long)s.syncs, (unsigned long long)s.ref_records,
                       s.pending, s.failed ? ", FAILED" : "", (unsigned long long)s.cache_bytes,
                       (unsigned long long)s.cache_hits, (unsigned long long)s.cache_misses);
    } else {
        vxh_buf_str(&b, "pack: none (in-memory heap)\n");
    }
    size_t co, cb, cbud;
    vs_store_cache_stats(vxs.st, &co, &cb, &cbud);
    vxh_buf_printf(&b, "tree cache: %zu objects, %zu of %zu bytes\n", co, cb, cbud);
    if (hist_st) {
        vs_store_cache_stats(hist_st, &co, &cb, &cbud);
        vxh_buf_printf(&b, "history cache: %zu objects, %zu of %zu bytes\n", co, cb, cbud);
    }
    return reply_buf(&b, out, olen);
}

/* There is no live update (a restart keeps the state), so never a session: the steps that
 * need one get C xenstored's answer for "no session" (a text reply, which xenstore-control
 * prints as the failure), the others (-f, -b, -d: a new binary) EINVAL. As in C, only the
 * first 4 arguments count. */
static int do_live_update(int argc, char **argv, char **out, size_t *olen)
{
    int n = argc - 1 > 4 ? 4 : argc - 1;
    char **v = argv + 1;
    if (n == 1 && strcmp(v[0], "-a") == 0)
        return reply_text("No live-update session active.", out, olen);
    if (n == 2 && strcmp(v[0], "-c") == 0)
        return reply_text("Not in live-update session.", out, olen);
    if (n >= 1 && strcmp(v[0], "-s") == 0) {
        for (int i = 1; i < n; i++) {
            if (strcmp(v[i], "-t") == 0 && i < n - 1)
                i++;
            else if (strcmp(v[i], "-F") != 0)
                return -EINVAL;
        }
        return reply_text("Not in live-update session.", out, olen);
    }
    return -EINVAL;
}

int vxs_control(struct vxs_conn *c, const uint8_t *body, size_t len, char **out, size_t *olen)
{
    char *argv[CONTROL_MAX_ARGS + 1];
    int argc = 0;
    /* As C (xs_count_strings): bytes after the last NUL are no argument, and ignored. */
    while (len > 0 && body[len - 1] != '\0')
        len--;
    size_t n = xs_strings_count(body, len);
    struct xs_strings it;
    if (n < 1 || n > CONTROL_MAX_ARGS || xs_strings_init(&it, body, len) < 0)
        return -EINVAL;
    size_t l;
    const char *s;
    while ((s = xs_strings_next(&it, &l)) != NULL)
        argv[argc++] = (char *)s;
    argv[argc] = NULL;
    const char *cmd = argv[0];
    /* check, print, help and log take exactly the arguments C xenstored's do: anything else
     * is EINVAL, on which xenstore-control lists the commands (from help). */
    if (strcmp(cmd, "check") == 0)
        return argc == 1 ? reply_text("OK", out, olen) : -EINVAL;
    if (strcmp(cmd, "print") == 0) {
        if (argc != 2)
            return -EINVAL;
        vxs_log("print: %s", argv[1]);
        return reply_text("OK", out, olen);
    }
    if (strcmp(cmd, "help") == 0)
        return argc == 1 ? reply_text(help_text, out, olen) : -EINVAL;
    if (!c->priv)
        return -EACCES;
    if (strcmp(cmd, "memreport") == 0) {
        if (argc > 2)
            return -EINVAL;
        int rc = do_memreport(out, olen);
        if (rc < 0 || argc == 1)
            return rc;
        /* To the file, appended, as C's memreport FILE (EBADF if it cannot be opened,
         * which goes out as EINVAL: not one of xsd_errors, as in C). */
        FILE *f = fopen(argv[1], "a");
        size_t n = *olen - 1;
        bool ok = f && fwrite(*out, 1, n, f) == n;
        if (f && fclose(f) != 0)
            ok = false;
        free(*out);
        *out = NULL;
        return ok ? reply_text("OK", out, olen) : -EBADF;
    }
    if (strcmp(cmd, "logfile") == 0) {
        if (argc != 2)
            return -EINVAL;
        /* C answers OK also when the file cannot be opened (it logs that). */
        int rc = vxs_trace_open(argv[1]);
        if (rc < 0)
            vxs_log("logfile %s: %s", argv[1], strerror(-rc));
        return reply_text("OK", out, olen);
    }
    if (strcmp(cmd, "log") == 0) {
        if (argc != 2 || (strcmp(argv[1], "on") && strcmp(argv[1], "off")))
            return -EINVAL;
        /* C's: "on" reopens the trace file (nothing without -T), "off" closes it. */
        if (strcmp(argv[1], "on") == 0)
            vxs_trace_reopen();
        else
            vxs_trace_close();
        return reply_text("OK", out, olen);
    }
    if (strcmp(cmd, "live-update") == 0)
        return do_live_update(argc, argv, out, olen);
    if (strcmp(cmd, "quota") == 0 || strcmp(cmd, "quota-soft") == 0)
        return vxs_quota_control(cmd[5] == '-', argc - 1, argv + 1, out, olen);
    if (strcmp(cmd, "history") == 0)
        return do_history(argc, argv, out, olen);
    if (strcmp(cmd, "gc") == 0)
        return do_gc(argc, argv, out, olen);
    return -EINVAL;
}
