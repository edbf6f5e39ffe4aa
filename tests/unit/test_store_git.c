/*
 * Git export of the versioned store (vs_export_git), checked with real git when it is
 * installed: git fsck --strict, the log, file contents at commits, merges, escaping, a split
 * directory, and a second export into the same repository.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/store_tree_fixture.h"

static char dir[64];

static int sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* Output of a shell command (first 4 KiB). */
static char *out(const char *fmt, ...)
{
    static char buf[4096];
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = 0;
    pclose(f);
    return buf;
}

static void test_export(void **state)
{
    (void)state;
    if (sh("git --version >/dev/null 2>&1") != 0) {
        print_message("      git not installed: skipped\n");
        skip();
    }
    snprintf(dir, sizeof(dir), "/tmp/xk-git-XXXXXX");
    assert_non_null(mkdtemp(dir));
    struct objstore *os = store_memobj_open();
    struct vs_store *st = vs_store_open(os, 0);
    struct vs_tree *t;
    struct store_hash c1, c2, side, m;
    assert_int_equal(vs_tree_open(st, NULL, &t), 0);
    set(t, "/local", "");
    set(t, "/local/domain", "");
    set(t, "/local/domain/7", "");
    set(t, "/local/domain/7/name", "guest7");
    assert_int_equal(vs_tree_set(t, "/local/domain/7", NULL, 0, "n7\0r0", 5, VS_SET_PERMS), 0);
    set(t, "/odd", "");
    set(t, "/odd/.value", "not the value");  /* escaped: %2Evalue */
    set(t, "/odd/a b%c", "spaced");
    struct vs_commit_info ci = {"dom0 <evil>\nname", "first\n\nbody", 1700000000ull * 1000000000u};
    assert_int_equal(vs_branch_commit(t, "main", &ci, STORE_SYNC_NONE, NULL, NULL, &c1), 0);
    set(t, "/big", "");
    for (int i = 0; i < 300; i++) { /* a split directory */
        char p[32];
        snprintf(p, sizeof(p), "/big/k%03d", i);
        set(t, p, "v");
    }
    char bigv[3000];
    memset(bigv, 'z', sizeof(bigv));
    bigv[sizeof(bigv) - 1] = 0;
    set(t, "/blob", bigv);
    ci.author = "domain 7";
    ci.message = "second";
    ci.time_ns += 1000000000u;
    assert_int_equal(vs_branch_commit(t, "main", &ci, STORE_SYNC_NONE, NULL, NULL, &c2), 0);
    vs_tree_close(t);
    /* a side branch and a merge */
    assert_int_equal(vs_tree_open(st, &c2, &t), 0);
    set(t, "/side", "s");
    ci.message = "on side";
    assert_int_equal(vs_tree_commit(t, &c2, 1, &ci, &side), 0);
    vs_tree_close(t);
    assert_int_equal(vs_tree_open(st, &c2, &t), 0);
    set(t, "/local/domain/7/name", "renamed");
    assert_int_equal(vs_branch_commit(t, "main", &ci, STORE_SYNC_NONE, NULL, NULL, NULL), 0);
    vs_tree_close(t);
    ci.message = "merge side";
    assert_int_equal(vs_branch_merge(st, "main", &side, NULL, NULL, &ci, STORE_SYNC_NONE, &m), 0);

    assert_int_equal(vs_export_git(st, &c2, "main", dir), 2);
    assert_int_equal(sh("git -C %s fsck --strict --no-progress 2>&1", dir), 0);
    assert_int_equal(vs_export_git(st, &m, "main", dir), 5); /* again, with the rest */
    assert_int_equal(sh("git -C %s fsck --strict --no-progress 2>&1", dir), 0);
    assert_string_equal(out("git -C %s rev-list --count main", dir), "5\n");
    assert_string_equal(out("git -C %s log -1 --format=%%p main | wc -w", dir), "2\n");
    assert_string_equal(out("git -C %s show main:local/domain/7/name/.value", dir), "renamed");
    assert_string_equal(out("git -C %s show main~2:local/domain/7/name/.value", dir), "guest7");
    assert_string_equal(out("git -C %s show main:local/domain/7/.perms", dir), "n7\nr0");
    assert_string_equal(out("git -C %s show main:odd/%%2Evalue/.value", dir), "not the value");
    assert_string_equal(out("git -C %s show 'main:odd/a%%20b%%25c/.value'", dir), "spaced");
    assert_string_equal(out("git -C %s show main:side/.value", dir), "s");
    assert_string_equal(out("git -C %s ls-tree main:big | wc -l", dir), "301\n");
    assert_int_equal(strlen(out("git -C %s show main:blob/.value", dir)), 2999);
    assert_string_equal(out("git -C %s log --reverse --format='%%an|%%at|%%s' main | head -2", dir),
                        "dom0 evilname|1700000000|first\n"
                        "domain 7|1700000001|second\n");
    /* git log -p shows a commit's changes as file changes. */
    char *p = out("git -C %s log -p -1 main~1 --format=%%s", dir);
    assert_non_null(strstr(p, "-guest7"));
    assert_non_null(strstr(p, "+renamed"));
    vs_store_close(st);
    os->ops->close(os);
    sh("rm -rf %s", dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_export),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
