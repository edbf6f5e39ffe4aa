/*
 * SET_PERMS naming a domain that does not exist, with a hypervisor (the harness's fake one),
 * as C xenstored 4.17 (domain_alloc_permrefs): the owner entry -> ENOENT; another entry ->
 * accepted but never matching, also for a domain that gets the id later (ours drops it, so
 * GET_PERMS does not list it; C lists it, marked ignored inside).
 * With --socket-only (no hypervisor) only dom0 exists, as for C under the test shim: another
 * owner is ENOENT before the path is looked at, the other entries are kept and listed.
 * GET_PERMS prints ids as C 4.17 does: "%i" cut to 10 characters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/vxs_harness.h"

static char buf[XENSTORE_PAYLOAD_MAX + 1];

/* SET_PERMS of `set` on path by c succeeds, and GET_PERMS then lists `want`. */
static void expect_perms_after_set(struct vh_client *c, const char *path, const char *set,
                                   const char *want)
{
    assert_int_equal(vh_set_perms(c, 0, path, set), 0);
    assert_int_equal(vh_get_perms(c, 0, path, buf), 0);
    assert_string_equal(buf, want);
}

static void test_non_owner_unknown_ignored(void **state)
{
    (void)state;
    vh_start(NULL, NULL);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1);
    assert_int_equal(vh_write(d0, 0, "/n", "v"), 0);
    expect_perms_after_set(d0, "/n", "n1,r7,b0", "n1,b0");
    /* Domain 7 comes later: the entry naming it before it existed gives it nothing. */
    struct vh_client *d7 = vh_domain(7);
    assert_int_equal(vh_read(d7, 0, "/n", buf), -EACCES);
    /* By an unprivileged owner too; and the owner must exist. */
    expect_perms_after_set(d1, "/n", "n1,r9", "n1");
    assert_int_equal(vh_set_perms(d0, 0, "/n", "n42,r1"), -ENOENT);
    assert_int_equal(vh_set_perms(d0, 0, "/missing", "n42"), -ENOENT);
    /* Dom0 and DOMID_ANY always exist. */
    expect_perms_after_set(d0, "/n", "n1,r0,r32756", "n1,r0,r32756");
    /* The special nodes' perms likewise. */
    expect_perms_after_set(d0, "@releaseDomain", "n0,r7,r9", "n0,r7");
    vh_stop();
}

static void test_socket_only(void **state)
{
    (void)state;
    const char *const args[] = {"--socket-only", NULL};
    vh_start(NULL, args);
    struct vh_client *d0 = vh_dom0();
    assert_int_equal(vh_write(d0, 0, "/n", "v"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/n", "n5"), -ENOENT);
    assert_int_equal(vh_set_perms(d0, 0, "//", "n5"), -ENOENT);   /* C's order */
    assert_int_equal(vh_set_perms(d0, 0, "//", "n0"), -EINVAL);
    assert_int_equal(vh_set_perms(d0, 0, "/n", "r0x10"), -ENOENT); /* strtol base 0 */
    expect_perms_after_set(d0, "/n", "n0,r5,r2147483648,w-1,b010,r3000000000", "n0,r5,r-214748364,w-1,b8,r-129496729");
    expect_perms_after_set(d0, "@introduceDomain", "n0,r4294967294", "n0,r-2");
    vh_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_non_owner_unknown_ignored),
        cmocka_unit_test(test_socket_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
