/*
 * SET_PERMS naming a domain that does not exist, with a hypervisor (the harness's fake one),
 * as C xenstored 4.17 (domain_alloc_permrefs): the owner entry -> ENOENT; another entry ->
 * accepted but never matching, also for a domain that gets the id later (ours drops it, so
 * GET_PERMS does not list it; C lists it, marked ignored inside).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/vxs_harness.h"

static char buf[XENSTORE_PAYLOAD_MAX + 1];

static void test_non_owner_unknown_ignored(void **state)
{
    (void)state;
    vh_start(NULL, NULL);
    struct vh_client *d0 = vh_dom0(), *d1 = vh_domain(1);
    assert_int_equal(vh_write(d0, 0, "/n", "v"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/n", "n1,r7,b0"), 0);
    assert_int_equal(vh_get_perms(d0, 0, "/n", buf), 0);
    assert_string_equal(buf, "n1,b0");
    /* Domain 7 comes later: the entry naming it before it existed gives it nothing. */
    struct vh_client *d7 = vh_domain(7);
    assert_int_equal(vh_read(d7, 0, "/n", buf), -EACCES);
    /* By an unprivileged owner too; and the owner must exist. */
    assert_int_equal(vh_set_perms(d1, 0, "/n", "n1,r9"), 0);
    assert_int_equal(vh_get_perms(d1, 0, "/n", buf), 0);
    assert_string_equal(buf, "n1");
    assert_int_equal(vh_set_perms(d0, 0, "/n", "n42,r1"), -ENOENT);
    assert_int_equal(vh_set_perms(d0, 0, "/missing", "n42"), -ENOENT);
    /* Dom0 and DOMID_ANY always exist. */
    assert_int_equal(vh_set_perms(d0, 0, "/n", "n1,r0,r32756"), 0);
    assert_int_equal(vh_get_perms(d0, 0, "/n", buf), 0);
    assert_string_equal(buf, "n1,r0,r32756");
    /* The special nodes' perms likewise. */
    assert_int_equal(vh_set_perms(d0, 0, "@releaseDomain", "n0,r7,r9"), 0);
    assert_int_equal(vh_get_perms(d0, 0, "@releaseDomain", buf), 0);
    assert_string_equal(buf, "n0,r7");
    vh_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_non_owner_unknown_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
