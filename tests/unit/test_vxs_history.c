/*
 * The history queries of vxs and vxenstored's XS_CONTROL "history" (xenstore/vxs_history*.c):
 * every output format exactly (JSON strings, text values, perms, times, commit and change
 * records, control replies), time and commit-name parsing, and the queries on an in-memory
 * store with a fixed history. Paging is checked as a property: for every query and format,
 * the pages of any budget (down to 1 byte) concatenate to the output of one unlimited run,
 * also for a merge history, a record larger than a page, and the control reply round trip.
 * GC on a pack in a temporary directory keeps what it was told to.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "xenstore/store_pack.h"
#include "xenstore/vxs_history.h"

#define T0 1714564800000000000ull /* 2024-05-01T12:00:00Z */
#define SEC 1000000000ull

static char *fmt_str(void (*f)(struct vxh_buf *, const void *, size_t, bool), const char *s,
                     size_t n, bool q)
{
    static char out[512];
    struct vxh_buf b = {0};
    f(&b, s, n, q);
    assert_int_equal(b.err, 0);
    snprintf(out, sizeof out, "%s", b.p);
    vxh_buf_free(&b);
    return out;
}

static void json_str_q(struct vxh_buf *b, const void *s, size_t n, bool q)
{
    (void)q;
    vxh_json_str(b, s, n);
}

static void test_json_str(void **state)
{
    (void)state;
    assert_string_equal(fmt_str(json_str_q, "plain", 5, 0), "\"plain\"");
    assert_string_equal(fmt_str(json_str_q, "a\"b\\c\nd\te", 9, 0), "\"a\\\"b\\\\c\\nd\\te\"");
    assert_string_equal(fmt_str(json_str_q, "\x01\x7f", 2, 0), "\"\\u0001\\u007f\"");
    assert_string_equal(fmt_str(json_str_q, "z\0z", 3, 0), "\"z\\u0000z\"");
    /* valid UTF-8 stays, broken sequences, overlongs and surrogates are escaped bytes */
    assert_string_equal(fmt_str(json_str_q, "\xc3\xa9\xe2\x82\xac", 5, 0), "\"\xc3\xa9\xe2\x82\xac\"");
    assert_string_equal(fmt_str(json_str_q, "\xc3", 1, 0), "\"\\u00c3\"");
    assert_string_equal(fmt_str(json_str_q, "\xc0\xaf", 2, 0), "\"\\u00c0\\u00af\"");
    assert_string_equal(fmt_str(json_str_q, "\xed\xa0\x80", 3, 0), "\"\\u00ed\\u00a0\\u0080\"");
    assert_string_equal(fmt_str(json_str_q, "\xf0\x9f\x98\x80", 4, 0), "\"\xf0\x9f\x98\x80\"");
    assert_string_equal(fmt_str(json_str_q, "", 0, 0), "\"\"");
}

static void test_text_value(void **state)
{
    (void)state;
    assert_string_equal(fmt_str(vxh_text_value, "hello", 5, false), "hello");
    assert_string_equal(fmt_str(vxh_text_value, "hello", 5, true), "\"hello\"");
    assert_string_equal(fmt_str(vxh_text_value, "a\"b\\", 4, true), "\"a\\\"b\\\\\"");
    assert_string_equal(fmt_str(vxh_text_value, "a\"b", 3, false), "a\"b");
    assert_string_equal(fmt_str(vxh_text_value, "x\n\t\x01\0", 5, false), "x\\n\\t\\x01\\x00");
    assert_string_equal(fmt_str(vxh_text_value, "\xc3\xa9\xff", 3, true), "\"\xc3\xa9\\xff\"");
}

static void test_perms(void **state)
{
    (void)state;
    struct vxh_buf b = {0};
    vxh_perms(&b, "n0\0r3\0", 6, VXH_TEXT);
    vxh_buf_str(&b, " ");
    vxh_perms(&b, "n0\0r3\0", 6, VXH_JSON);
    vxh_buf_str(&b, " ");
    vxh_perms(&b, "", 0, VXH_TEXT);
    vxh_perms(&b, "", 0, VXH_JSON);
    vxh_buf_str(&b, " ");
    vxh_perms(&b, "b0", 2, VXH_TEXT); /* no final NUL: the last entry still counts */
    assert_string_equal(b.p, "(n0,r3) [\"n0\", \"r3\"] ()[] (b0)");
    vxh_buf_free(&b);
}

static void test_times(void **state)
{
    (void)state;
    char s[40];
    vxh_time_str(T0 + 123456789, s, sizeof s);
    assert_string_equal(s, "2024-05-01T12:00:00.123Z");
    vxh_time_str(0, s, sizeof s);
    assert_string_equal(s, "1970-01-01T00:00:00.000Z");
    uint64_t ns;
    struct { const char *in; uint64_t ns; } ok[] = {
        {"1714564800", T0}, {"@1714564800", T0}, {"1714564800.5", T0 + SEC / 2},
        {"0", 0}, {"@0001714564800", T0},
        {"2024-05-01", T0 - 12 * 3600 * SEC}, {"2024-05-01T12:00", T0},
        {"2024-05-01T12:00:00Z", T0}, {"2024-05-01 12:00:01.25Z", T0 + SEC + SEC / 4},
        {"2024-05-01T12:00:00.000000001", T0 + 1},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(vxh_parse_time(ok[i].in, &ns), 0);
        assert_true(ns == ok[i].ns);
    }
    const char *bad[] = {"", "abc", "1a2b", "123456789012", "2024-13-01", "2024-05-01T25:00",
                         "2024-05-01X", "2024-5-1", "1.", "@", "2024-05-01T12:00:00.Z",
                         "1969-12-31", "deadbeef"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(vxh_parse_time(bad[i], &ns), -EINVAL);
}

static void hash_of(int seed, struct store_hash *h)
{
    for (int i = 0; i < STORE_HASH_LEN; i++)
        h->b[i] = (uint8_t)(seed * 16 + i);
}

static void test_commit_record(void **state)
{
    (void)state;
    struct store_hash h, p;
    hash_of(1, &h);
    hash_of(2, &p);
    struct vs_commit c = {.nparents = 1, .gen = 7, .time_ns = T0 + 5 * SEC,
                          .author = "dom0/conn3", .message = "WRITE /vt/\"a\""};
    c.parents[0] = p;
    struct vxh_buf b = {0};
    vxh_commit_record(&b, VXH_TEXT, &h, &c);
    assert_string_equal(b.p, "101112131415  2024-05-01T12:00:05.000Z  dom0/conn3  WRITE /vt/\"a\"\n");
    b.len = 0;
    vxh_commit_record(&b, VXH_JSON, &h, &c);
    assert_string_equal(b.p,
        "{\"commit\": \"101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f\", "
        "\"parents\": [\"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\"], "
        "\"gen\": 7, \"time\": \"2024-05-01T12:00:05.000Z\", \"time_ns\": 1714564805000000000, "
        "\"author\": \"dom0/conn3\", \"message\": \"WRITE /vt/\\\"a\\\"\"}");
    vxh_buf_free(&b);
}

static void test_change_record(void **state)
{
    (void)state;
    struct vxh_buf b = {0};
    struct vxh_change add = {.path = "/vt/a", .kind = VS_ADDED, .new_val = "hi", .new_vlen = 2,
                             .new_perms = "n0\0", .new_plen = 3};
    struct vxh_change rm = {.path = "/vt/a", .kind = VS_REMOVED, .old_val = "hi", .old_vlen = 2,
                            .old_perms = "n0\0", .old_plen = 3};
    struct vxh_change val = {.path = "/x", .kind = VS_CHANGED, .old_val = "1", .old_vlen = 1,
                             .new_val = "2", .new_vlen = 1, .old_perms = "n0\0", .old_plen = 3,
                             .new_perms = "n0\0", .new_plen = 3};
    struct vxh_change per = val, both = val;
    per.new_val = "1";
    per.new_perms = both.new_perms = "b0\0r3\0";
    per.new_plen = both.new_plen = 6;
    vxh_change_record(&b, VXH_TEXT, &add);
    vxh_change_record(&b, VXH_TEXT, &rm);
    vxh_change_record(&b, VXH_TEXT, &val);
    vxh_change_record(&b, VXH_TEXT, &per);
    vxh_change_record(&b, VXH_TEXT, &both);
    assert_string_equal(b.p, "+ /vt/a = \"hi\"\n"
                             "- /vt/a (was \"hi\")\n"
                             "~ /x = \"2\" (was \"1\")\n"
                             "~ /x perms (b0,r3) (was (n0))\n"
                             "~ /x = \"2\" (was \"1\"); perms (b0,r3) (was (n0))\n");
    b.len = 0;
    vxh_change_record(&b, VXH_JSON, &add);
    vxh_change_record(&b, VXH_JSON, &rm);
    vxh_change_record(&b, VXH_JSON, &both);
    assert_string_equal(b.p,
        "{\"path\": \"/vt/a\", \"change\": \"added\", \"value\": \"hi\", \"perms\": [\"n0\"]}"
        "{\"path\": \"/vt/a\", \"change\": \"removed\", \"old_value\": \"hi\", \"old_perms\": [\"n0\"]}"
        "{\"path\": \"/x\", \"change\": \"changed\", \"value\": \"2\", \"perms\": [\"b0\", \"r3\"], "
        "\"old_value\": \"1\", \"old_perms\": [\"n0\"]}");
    vxh_buf_free(&b);
}

static void test_path_cmp(void **state)
{
    (void)state;
    assert_true(vxh_path_cmp("/a", "/a/b") < 0);
    assert_true(vxh_path_cmp("/a/b", "/a-b") < 0);
    assert_true(vxh_path_cmp("/a/z", "/a0") < 0);
    assert_true(vxh_path_cmp("/b", "/a/b") > 0);
    assert_int_equal(vxh_path_cmp("/a/b", "/a/b"), 0);
}

static void test_reply(void **state)
{
    (void)state;
    struct vxh_page pg = {.more = true};
    strcpy(pg.next, "3:0:abc");
    vxh_buf_str(&pg.body, "body\nlines\n");
    char *r, cur[64];
    size_t len, blen;
    const char *body;
    assert_int_equal(vxh_reply(0, &pg, &r, &len), 0);
    assert_int_equal(len, strlen("next 3:0:abc\nbody\nlines\n") + 1);
    assert_string_equal(r, "next 3:0:abc\nbody\nlines\n");
    assert_int_equal(vxh_reply_parse(r, len, cur, sizeof cur, &body, &blen), 1);
    assert_string_equal(cur, "3:0:abc");
    assert_int_equal(blen, 11);
    assert_memory_equal(body, "body\nlines\n", 11);
    free(r);
    pg.more = false;
    assert_int_equal(vxh_reply(0, &pg, &r, &len), 0);
    assert_int_equal(vxh_reply_parse(r, len, cur, sizeof cur, &body, &blen), 0);
    assert_int_equal(blen, 11);
    free(r);
    strcpy(pg.msg, "x: no such commit");
    assert_int_equal(vxh_reply(-ENOENT, &pg, &r, &len), 0);
    assert_string_equal(r, "error x: no such commit\n");
    assert_int_equal(vxh_reply_parse(r, len, cur, sizeof cur, &body, &blen), -EIO);
    assert_string_equal(cur, "x: no such commit");
    free(r);
    assert_int_equal(vxh_reply_parse("junk", 4, cur, sizeof cur, &body, &blen), -EPROTO);
    assert_int_equal(vxh_reply_parse("more x\n", 7, cur, sizeof cur, &body, &blen), -EPROTO);
    assert_int_equal(vxh_reply_parse("next 12345\n", 11, cur, 4, &body, &blen), -EPROTO);
    vxh_buf_free(&pg.body);
}

/* ---- queries on a fixed history ------------------------------------------------------------- */

struct fix {
    struct objstore *os;
    struct vs_store *st;
    struct store_hash c[8]; /* the commits, oldest first */
    int n;
};

static void commit(struct fix *f, struct vs_tree *t, const char *msg)
{
    struct vs_commit_info ci = {.author = "dom0/conn1", .message = msg,
                                .time_ns = T0 + (uint64_t)f->n * 60 * SEC};
    assert_int_equal(vs_branch_commit(t, "xenstore", &ci, STORE_SYNC_NONE, NULL, NULL,
                                      &f->c[f->n]), 0);
    f->n++;
}

static void w(struct vs_tree *t, const char *path, const char *val)
{
    assert_int_equal(vs_tree_set(t, path, val, strlen(val), "n0", 3, VS_SET_VALUE | VS_SET_PERMS |
                                 VS_CREATE), 0);
}

static struct fix *fixture(void)
{
    struct fix *f = calloc(1, sizeof *f);
    f->os = store_memobj_open();
    f->st = vs_store_open(f->os, 0);
    struct vs_tree *t;
    assert_int_equal(vs_tree_open(f->st, NULL, &t), 0);
    w(t, "/tool", "");
    commit(f, t, "initial tree");                 /* 0: 12:00 */
    w(t, "/vt", "");
    w(t, "/vt/a", "hello");
    w(t, "/vt/b", "world");
    commit(f, t, "WRITE /vt/a");                  /* 1: 12:01 */
    w(t, "/vt/a", "hello2");
    commit(f, t, "WRITE /vt/a");                  /* 2: 12:02 */
    assert_int_equal(vs_tree_set(t, "/vt/b", NULL, 0, "b0\0r3", 6, VS_SET_PERMS), 0);
    commit(f, t, "SET_PERMS /vt/b");              /* 3: 12:03 */
    assert_int_equal(vs_tree_rm(t, "/vt/b"), 0);
    w(t, "/vt/c\"q", "line\nbreak");
    commit(f, t, "RM /vt/b");                     /* 4: 12:04 */
    vs_tree_close(t);
    return f;
}

static void fixture_free(struct fix *f)
{
    vs_store_close(f->st);
    f->os->ops->close(f->os);
    free(f);
}

static char *hex(const struct store_hash *h, int n)
{
    static char s[8][65];
    static int k;
    char *o = s[k++ % 8];
    store_hash_hex(h, o);
    o[n] = '\0';
    return o;
}

/* Run a query to the end with pages of `budget` bytes; returns the concatenated output (and
 * the number of pages), or NULL with the error in *rc. */
static char *run(struct vs_store *st, enum vxh_fmt fmt, size_t budget, int *rc, int *pages,
                 const char *q, ...)
{
    char *argv[16];
    int argc = 0;
    va_list ap;
    va_start(ap, q);
    for (const char *a = q; a; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    struct vxh_buf all = {0};
    char cursor[sizeof ((struct vxh_page *)0)->next] = "";
    int np = 0;
    for (;;) {
        struct vxh_page pg = {.fmt = fmt, .budget = budget, .cursor = cursor};
        *rc = vxh_query(st, "xenstore", argc, argv, &pg);
        np++;
        if (*rc < 0) {
            vxh_page_free(&pg);
            vxh_buf_free(&all);
            return NULL;
        }
        assert_true(pg.body.len <= budget);
        vxh_buf_add(&all, pg.body.p ? pg.body.p : "", pg.body.len);
        bool more = pg.more;
        memcpy(cursor, pg.next, sizeof cursor);
        vxh_page_free(&pg);
        if (!more)
            break;
        assert_true(np < 100000);
    }
    if (pages)
        *pages = np;
    vxh_buf_add(&all, "", 0);
    return all.p ? all.p : strdup("");
}

static void test_log(void **state)
{
    (void)state;
    struct fix *f = fixture();
    int rc;
    char *o = run(f->st, VXH_TEXT, 1 << 20, &rc, NULL, "log", NULL);
    char want[1024];
    snprintf(want, sizeof want,
             "%s  2024-05-01T12:04:00.000Z  dom0/conn1  RM /vt/b\n"
             "%s  2024-05-01T12:03:00.000Z  dom0/conn1  SET_PERMS /vt/b\n"
             "%s  2024-05-01T12:02:00.000Z  dom0/conn1  WRITE /vt/a\n"
             "%s  2024-05-01T12:01:00.000Z  dom0/conn1  WRITE /vt/a\n"
             "%s  2024-05-01T12:00:00.000Z  dom0/conn1  initial tree\n",
             hex(&f->c[4], 12), hex(&f->c[3], 12), hex(&f->c[2], 12), hex(&f->c[1], 12),
             hex(&f->c[0], 12));
    assert_string_equal(o, want);
    free(o);
    o = run(f->st, VXH_TEXT, 1 << 20, &rc, NULL, "log", "/vt/a", NULL);
    snprintf(want, sizeof want,
             "%s  2024-05-01T12:02:00.000Z  dom0/conn1  WRITE /vt/a\n"
             "%s  2024-05-01T12:01:00.000Z  dom0/conn1  WRITE /vt/a\n",
             hex(&f->c[2], 12), hex(&f->c[1], 12));
    assert_string_equal(o, want);
    free(o);
    o = run(f->st, VXH_TEXT, 1 << 20, &rc, NULL, "log", "-n", "1", "/vt", NULL);
    assert_non_null(strstr(o, "RM /vt/b"));
    assert_ptr_equal(strchr(o, '\n') + 1, o + strlen(o)); /* one line */
    free(o);
    o = run(f->st, VXH_JSON, 1 << 20, &rc, NULL, "log", "-n", "2", NULL);
    assert_true(strncmp(o, "[\n  {\"commit\": \"", 16) == 0);
    assert_non_null(strstr(o, "},\n  {\"commit\""));
    assert_string_equal(o + strlen(o) - 4, "}\n]\n");
    free(o);
    o = run(f->st, VXH_JSON, 1 << 20, &rc, NULL, "log", "/nope", NULL);
    assert_string_equal(o, "[]\n");
    free(o);
    assert_null(run(f->st, VXH_TEXT, 100, &rc, NULL, "log", "relative", NULL));
    assert_int_equal(rc, -EINVAL);
    fixture_free(f);
}

static void test_show_diff(void **state)
{
    (void)state;
    struct fix *f = fixture();
    int rc;
    char *o = run(f->st, VXH_TEXT, 1 << 20, &rc, NULL, "show", hex(&f->c[4], 8), NULL);
    char want[1024];
    /* /vt's child list changed, but not its value or perms: no line for it */
    snprintf(want, sizeof want,
             "commit %s\nparent %s\nauthor dom0/conn1\ndate   2024-05-01T12:04:00.000Z (gen 5)\n\n"
             "    RM /vt/b\n\n"
             "- /vt/b (was \"world\")\n"
             "+ /vt/c\"q = \"line\\nbreak\"\n", hex(&f->c[4], 64), hex(&f->c[3], 64));
    assert_string_equal(o, want);
    assert_non_null(strstr(o, "- /vt/b (was \"world\")\n"));
    assert_non_null(strstr(o, "+ /vt/c\"q = \"line\\nbreak\"\n"));
    assert_true(strstr(o, "- /vt/b") < strstr(o, "+ /vt/c"));
    assert_non_null(strstr(o, "    RM /vt/b\n\n"));
    free(o);
    o = run(f->st, VXH_TEXT, 1 << 20, &rc, NULL, "show", "head~1", NULL);
    assert_non_null(strstr(o, "~ /vt/b perms (b0,r3) (was (n0))\n"));
    free(o);
    o = run(f->st, VXH_TEXT, 1 << 20, &rc, NULL, "show", "head~4", NULL);
    assert_non_null(strstr(o, "+ /tool = \"\"\n"));
    free(o);
    o = run(f->st, VXH_JSON, 1 << 20, &rc, NULL, "show", "head", "/vt/b", NULL);
    snprintf(want, sizeof want, "{\"commit\": {\"commit\": \"%s\"", hex(&f->c[4], 64));
    assert_true(strncmp(o, want, strlen(want)) == 0);
    assert_non_null(strstr(o, ", \"changes\": [\n  {\"path\": \"/vt/b\", \"change\": \"removed\", "
                              "\"old_value\": \"world\", \"old_perms\": [\"b0\", \"r3\"]}\n]}\n"));
    free(o);
    o = run(f->st, VXH_TEXT, 1 << 20, &rc, NULL, "diff", "head~3", "head", NULL);
    assert_string_equal(o, "~ /vt/a = \"hello2\" (was \"hello\")\n"
                           "- /vt/b (was \"world\")\n"
                           "+ /vt/c\"q = \"line\\nbreak\"\n");
    free(o);
    o = run(f->st, VXH_JSON, 1 << 20, &rc, NULL, "diff", "head", "head", NULL);
    snprintf(want, sizeof want, "{\"from\": \"%s\", \"to\": \"%s\", \"changes\": []}\n",
             hex(&f->c[4], 64), hex(&f->c[4], 64));
    assert_string_equal(o, want);
    free(o);
    assert_null(run(f->st, VXH_TEXT, 100, &rc, NULL, "show", "ffff", NULL));
    assert_int_equal(rc, -ENOENT);
    assert_null(run(f->st, VXH_TEXT, 100, &rc, NULL, "diff", "head", NULL));
    assert_int_equal(rc, -EINVAL);
    fixture_free(f);
}

static void test_blame_at(void **state)
{
    (void)state;
    struct fix *f = fixture();
    int rc;
    char want[1024];
    char *o = run(f->st, VXH_TEXT, 1 << 20, &rc, NULL, "blame", "-r", "/vt", NULL);
    snprintf(want, sizeof want,
             "%s (dom0/conn1 2024-05-01T12:01:00.000Z) /vt = \"\"\n"
             "%s (dom0/conn1 2024-05-01T12:02:00.000Z) /vt/a = \"hello2\"\n"
             "%s (dom0/conn1 2024-05-01T12:04:00.000Z) /vt/c\"q = \"line\\nbreak\"\n",
             hex(&f->c[1], 12), hex(&f->c[2], 12), hex(&f->c[4], 12));
    /* /vt's child list changed later, but blame is about value and perms */
    assert_string_equal(o, want);
    free(o);
    o = run(f->st, VXH_JSON, 1 << 20, &rc, NULL, "blame", "/vt/a", NULL);
    snprintf(want, sizeof want, "[\n  {\"path\": \"/vt/a\", \"value\": \"hello2\", \"perms\": "
             "[\"n0\"], \"commit\": {\"commit\": \"%s\"", hex(&f->c[2], 64));
    assert_true(strncmp(o, want, strlen(want)) == 0);
    assert_string_equal(o + strlen(o) - 5, "}}\n]\n");
    free(o);
    assert_null(run(f->st, VXH_TEXT, 100, &rc, NULL, "blame", "/vt/b", NULL));
    assert_int_equal(rc, -ENOENT);

    /* at: by time (between commits, exactly at one), by commit, by ISO time */
    o = run(f->st, VXH_TEXT, 1 << 20, &rc, NULL, "at", "1714564930", "read", "/vt/a", NULL);
    assert_string_equal(o, "hello2\n"); /* 12:02:10 */
    free(o);
    o = run(f->st, VXH_TEXT, 1 << 20, &rc, NULL, "at", "2024-05-01T12:01:00Z", "read", "/vt/a",
            NULL);
    assert_string_equal(o, "hello\n");
    free(o);
    o = run(f->st, VXH_TEXT, 1 << 20, &rc, NULL, "at", hex(&f->c[3], 10), "ls", "/vt", NULL);
    assert_string_equal(o, "a = \"hello2\"\nb = \"world\"\n");
    free(o);
    o = run(f->st, VXH_JSON, 1 << 20, &rc, NULL, "at", "head", "ls", "/", NULL);
    snprintf(want, sizeof want, "{\"commit\": \"%s\", \"time\": \"2024-05-01T12:04:00.000Z\", "
             "\"path\": \"/\", \"children\": [\n  {\"name\": \"tool\", \"value\": \"\", \"perms\": "
             "[\"n0\"]},\n  {\"name\": \"vt\", \"value\": \"\", \"perms\": [\"n0\"]}\n]}\n",
             hex(&f->c[4], 64));
    assert_string_equal(o, want);
    free(o);
    o = run(f->st, VXH_JSON, 1 << 20, &rc, NULL, "at", "head", "read", "/vt/c\"q", NULL);
    snprintf(want, sizeof want, "{\"commit\": \"%s\", \"time\": \"2024-05-01T12:04:00.000Z\", "
             "\"path\": \"/vt/c\\\"q\", \"value\": \"line\\nbreak\", \"perms\": [\"n0\"]}\n",
             hex(&f->c[4], 64));
    assert_string_equal(o, want);
    free(o);
    assert_null(run(f->st, VXH_TEXT, 100, &rc, NULL, "at", "2024-05-01T11:00", "read", "/", NULL));
    assert_int_equal(rc, -ENOENT);
    assert_null(run(f->st, VXH_TEXT, 100, &rc, NULL, "at", "1714564800", "read", "/vt", NULL));
    assert_int_equal(rc, -ENOENT); /* /vt did not exist yet */
    assert_null(run(f->st, VXH_TEXT, 100, &rc, NULL, "at", "head", "cat", "/vt", NULL));
    assert_int_equal(rc, -EINVAL);
    fixture_free(f);
}

static void test_resolve(void **state)
{
    (void)state;
    struct fix *f = fixture();
    struct store_hash head = f->c[4], h;
    char msg[160];
    assert_int_equal(vxh_resolve_commit(f->st, &head, "HEAD~2", &h, msg), 0);
    assert_true(store_hash_equal(&h, &f->c[2]));
    assert_int_equal(vxh_resolve_commit(f->st, &head, "head~5", &h, msg), -ENOENT);
    assert_int_equal(vxh_resolve_commit(f->st, &head, "head~", &h, msg), -EINVAL);
    assert_int_equal(vxh_resolve_commit(f->st, &head, hex(&f->c[1], 64), &h, msg), 0);
    assert_true(store_hash_equal(&h, &f->c[1]));
    char up[65];
    strcpy(up, hex(&f->c[3], 6));
    for (char *p = up; *p; p++)
        *p = (char)(*p >= 'a' ? *p - 32 : *p);
    assert_int_equal(vxh_resolve_commit(f->st, &head, up, &h, msg), 0);
    assert_true(store_hash_equal(&h, &f->c[3]));
    assert_int_equal(vxh_resolve_commit(f->st, &head, "abc", &h, msg), -EINVAL);
    assert_int_equal(vxh_resolve_commit(f->st, &head, "xyz0", &h, msg), -EINVAL);
    assert_int_equal(vxh_resolve_commit(f->st, &head, "0000000000", &h, msg), -ENOENT);
    assert_non_null(strstr(msg, "no such commit"));
    assert_int_equal(vxh_resolve_time(f->st, &head, "@1714564859", &h, msg), 0);
    assert_true(store_hash_equal(&h, &f->c[0]));
    assert_int_equal(vxh_resolve_time(f->st, &head, "1714564860", &h, msg), 0);
    assert_true(store_hash_equal(&h, &f->c[1]));
    assert_int_equal(vxh_resolve_time(f->st, &head, "2030-01-01", &h, msg), 0);
    assert_true(store_hash_equal(&h, &f->c[4]));
    fixture_free(f);
}

/* Commits until two share their first 4 hex digits (a few hundred, by the birthday bound):
 * that prefix is ambiguous, a longer one is not. */
static void test_ambiguous(void **state)
{
    (void)state;
    struct fix *f = fixture();
    struct vs_tree *t;
    assert_int_equal(vs_tree_open(f->st, &f->c[4], &t), 0);
    static uint8_t seen[65536];
    static struct store_hash first[65536];
    memset(seen, 0, sizeof seen);
    struct store_hash h, clash[2];
    bool found = false;
    for (int i = 0; i < 20000 && !found; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        w(t, "/n", v);
        struct vs_commit_info ci = {"t", "w", T0 + 1000 * SEC};
        assert_int_equal(vs_branch_commit(t, "xenstore", &ci, STORE_SYNC_NONE, NULL, NULL, &h),
                         0);
        unsigned k = (unsigned)h.b[0] << 8 | h.b[1];
        if (seen[k]) {
            clash[0] = first[k], clash[1] = h, found = true;
        }
        seen[k] = 1, first[k] = h;
    }
    vs_tree_close(t);
    assert_true(found);
    char msg[160];
    struct store_hash out;
    assert_int_equal(vxh_resolve_commit(f->st, &h, hex(&clash[0], 4), &out, msg), -EEXIST);
    assert_non_null(strstr(msg, "ambiguous"));
    assert_int_equal(vxh_resolve_commit(f->st, &h, hex(&clash[0], 64), &out, msg), 0);
    assert_true(store_hash_equal(&out, &clash[0]));
    fixture_free(f);
}

/* log PATH over a long stretch of commits that do not touch PATH: pages stop after
 * VXH_LOG_STEP commits (maybe empty) and the next one goes on from there. */
static void test_log_step(void **state)
{
    (void)state;
    struct fix *f = fixture();
    struct vs_tree *t;
    assert_int_equal(vs_tree_open(f->st, &f->c[4], &t), 0);
    int total = 2 * VXH_LOG_STEP + 500;
    for (int i = 0; i < total; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        w(t, i == 10 || i == total - 100 ? "/rare" : "/n", v);
        struct vs_commit_info ci = {"t", i == 10 || i == total - 100 ? "rare" : "n",
                                    T0 + 1000 * SEC};
        assert_int_equal(vs_branch_commit(t, "xenstore", &ci, STORE_SYNC_NONE, NULL, NULL, NULL),
                         0);
    }
    vs_tree_close(t);
    int rc, pages;
    char *o = run(f->st, VXH_TEXT, 1 << 20, &rc, &pages, "log", "/rare", NULL);
    assert_non_null(o);
    assert_int_equal(pages, 3);
    int lines = 0;
    for (char *p = o; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 2);
    free(o);
    o = run(f->st, VXH_JSON, 1 << 20, &rc, &pages, "log", "/rare", NULL);
    assert_true(strncmp(o, "[\n  {", 5) == 0);
    assert_string_equal(o + strlen(o) - 4, "}\n]\n");
    free(o);
    o = run(f->st, VXH_TEXT, 1 << 20, &rc, &pages, "log", "/nope", NULL);
    assert_string_equal(o, "");
    free(o);
    fixture_free(f);
}

/* Every query, both formats, pages of many sizes: same bytes as one unlimited run. */
static void test_paging(void **state)
{
    (void)state;
    struct fix *f = fixture();
    /* a merge (two parents) and a value much larger than the small pages */
    struct vs_tree *t;
    assert_int_equal(vs_tree_open(f->st, &f->c[2], &t), 0);
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[100] = '\x01';
    w(t, "/side", big);
    struct vs_commit_info ci = {"dom1", "side", T0 + 600 * SEC};
    struct store_hash side, merged;
    assert_int_equal(vs_tree_commit(t, &f->c[2], 1, &ci, &side), 0);
    vs_tree_close(t);
    ci.message = "merge";
    assert_int_equal(vs_branch_merge(f->st, "xenstore", &side, vs_merge_prefer_ours, NULL, &ci,
                                     STORE_SYNC_NONE, &merged), 0);
    const char *qs[][5] = {
        {"log", NULL}, {"log", "/vt", NULL}, {"log", "-n", "3", NULL}, {"show", "head", NULL},
        {"show", "head~4", NULL}, {"diff", "head~5", "head", NULL}, {"blame", "-r", "/", NULL},
        {"at", "head", "ls", "/", NULL}, {"at", "head", "read", "/side", NULL},
    };
    size_t budgets[] = {1, 2, 7, 64, 200, 1000, VXH_CONTROL_BUDGET};
    for (size_t q = 0; q < sizeof qs / sizeof qs[0]; q++)
        for (int fmt = 0; fmt < 2; fmt++) {
            int rc, pages;
            char *ref = run(f->st, fmt, 1 << 20, &rc, &pages, qs[q][0], qs[q][1], qs[q][2],
                            qs[q][3], qs[q][4]);
            assert_non_null(ref);
            assert_int_equal(pages, 1);
            for (size_t b = 0; b < sizeof budgets / sizeof budgets[0]; b++) {
                char *o = run(f->st, fmt, budgets[b], &rc, &pages, qs[q][0], qs[q][1],
                              qs[q][2], qs[q][3], qs[q][4]);
                assert_non_null(o);
                assert_string_equal(o, ref);
                assert_true((size_t)pages >= strlen(ref) / budgets[b]);
                free(o);
            }
            free(ref);
        }
    /* the merge history is walked once, every commit exactly once */
    int rc;
    char *o = run(f->st, VXH_TEXT, 50, &rc, NULL, "log", NULL);
    int lines = 0;
    for (char *p = o; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 7);
    assert_non_null(strstr(o, "side\n"));
    assert_non_null(strstr(o, "merge\n"));
    free(o);
    o = run(f->st, VXH_TEXT, 1 << 20, &rc, NULL, "at", "head", "read", "/side", NULL);
    assert_int_equal(strlen(o), 2999 + 3 + 1); /* \x01 takes 4 bytes */
    free(o);
    fixture_free(f);
}

static void test_gc(void **state)
{
    (void)state;
    char dir[] = "/tmp/vxh-gc.XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/xenstore.pack", dir);
    struct store_pack_opts opts = {.create = true};
    struct objstore *os;
    assert_int_equal(store_pack_open_path(path, &opts, &os, NULL), 0);
    struct vs_store *st = vs_store_open(os, 0);
    struct vs_tree *t;
    assert_int_equal(vs_tree_open(st, NULL, &t), 0);
    for (int i = 0; i < 20; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        w(t, "/k", v);
        struct vs_commit_info ci = {"t", "w", T0 + (uint64_t)i * SEC};
        assert_int_equal(vs_branch_commit(t, "xenstore", &ci, STORE_SYNC_NONE, NULL, NULL, NULL),
                         0);
    }
    vs_tree_close(t);
    vs_store_close(st);
    struct vs_keep keep = {.commits = 5, .now_ns = T0 + 100 * SEC};
    struct vxh_buf b = {0};
    assert_int_equal(vxh_gc(os, &keep, VXH_JSON, &b), 0);
    assert_true(strncmp(b.p, "{\"bytes_before\": ", 17) == 0);
    b.len = 0;
    assert_int_equal(vxh_gc(os, &keep, VXH_TEXT, &b), 0);
    assert_true(strncmp(b.p, "gc: ", 4) == 0);
    vxh_buf_free(&b);
    st = vs_store_open(os, 0); /* a fresh cache: the collected commits are gone */
    int rc;
    char *o = run(st, VXH_TEXT, 1 << 20, &rc, NULL, "log", NULL);
    int lines = 0;
    for (char *p = o; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, 5);
    free(o);
    o = run(st, VXH_TEXT, 1 << 20, &rc, NULL, "at", "head~4", "read", "/k", NULL);
    assert_string_equal(o, "15\n");
    free(o);
    vs_store_close(st);
    os->ops->close(os);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_str),     cmocka_unit_test(test_text_value),
        cmocka_unit_test(test_perms),        cmocka_unit_test(test_times),
        cmocka_unit_test(test_commit_record), cmocka_unit_test(test_change_record),
        cmocka_unit_test(test_path_cmp),     cmocka_unit_test(test_reply),
        cmocka_unit_test(test_log),          cmocka_unit_test(test_show_diff),
        cmocka_unit_test(test_blame_at),     cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_ambiguous),    cmocka_unit_test(test_log_step),
        cmocka_unit_test(test_paging),       cmocka_unit_test(test_gc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
