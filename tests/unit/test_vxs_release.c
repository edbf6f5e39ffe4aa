/*
 * A domain that goes (RELEASE, or found gone when vxenstored starts again): the nodes it
 * owned are removed, and (XSA-322) the permission entries naming it are removed from every
 * other node and from the special nodes' perms, so that a new domain given the same domid
 * inherits nothing. In-process through tests/unit/vxs_harness.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/vxs_harness.h"

static char buf[XENSTORE_PAYLOAD_MAX + 1];

/* dom0 prepares: /shared (dom0's, dom5 may read, dom6 may write), /owned5 (dom5's, outside
 * its home), /deep/x (dom0's, dom5 may write); @releaseDomain readable by dom5 and dom6. */
static void prepare(struct vh_client *d0)
{
    assert_int_equal(vh_write(d0, 0, "/shared", "s"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/shared", "n0,r5,w6,b5"), 0);
    assert_int_equal(vh_write(d0, 0, "/owned5", "o"), 0);
    assert_int_equal(vh_write(d0, 0, "/owned5/child", "c"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/owned5", "b5"), 0);
    assert_int_equal(vh_write(d0, 0, "/deep/x", "d"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/deep/x", "r0,w5"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "@releaseDomain", "n5,r6,r5"), 0);
}

/* What must be true once dom5 is gone. */
static void check_released(struct vh_client *d0)
{
    assert_int_equal(vh_get_perms(d0, 0, "/shared", buf), 0);
    assert_string_equal(buf, "n0,w6");
    assert_int_equal(vh_read(d0, 0, "/owned5", buf), -ENOENT);
    assert_int_equal(vh_get_perms(d0, 0, "/deep/x", buf), 0);
    assert_string_equal(buf, "r0");
    /* The special node's owner entry became dom0's. */
    assert_int_equal(vh_get_perms(d0, 0, "@releaseDomain", buf), 0);
    assert_string_equal(buf, "n0,r6");
    /* A new domain 5 inherits nothing: no access, and no @releaseDomain events. */
    struct vh_client *d5 = vh_domain(5);
    assert_int_equal(vh_read(d5, 0, "/shared", buf), -EACCES);
    assert_int_equal(vh_write(d5, 0, "/deep/x", "mine"), -EACCES);
    vh_domain(7);
    assert_int_equal(vh_watch(d5, "@releaseDomain", "t"), 0);
    vh_events_drop(d5);
    vh_set_domain_exists(7, false);
    assert_int_equal(vh_release(d0, 7), 0);
    assert_false(vh_event(d5, NULL, NULL));
}

static void test_release_revokes_perms(void **state)
{
    (void)state;
    vh_start(NULL, NULL);
    struct vh_client *d0 = vh_dom0();
    struct vh_client *d5 = vh_domain(5);
    struct vh_client *d6 = vh_domain(6);
    prepare(d0);
    assert_int_equal(vh_read(d5, 0, "/shared", buf), 0);
    assert_int_equal(vh_write(d5, 0, "/deep/x", "w"), 0);
    assert_int_equal(vh_watch(d0, "/shared", "s"), 0);
    vh_events_drop(d0);
    vh_set_domain_exists(5, false);
    assert_int_equal(vh_release(d0, 5), 0);
    /* Revoking an entry is silent (as in C); the removal of /owned5 is not. */
    assert_false(vh_event(d0, NULL, NULL));
    /* Other domains keep their entries. */
    assert_int_equal(vh_read(d6, 0, "/shared", buf), -EACCES);
    assert_int_equal(vh_write(d6, 0, "/shared", "six"), 0);
    check_released(d0);
    vh_stop();
}

/* Domain 5 dies while vxenstored is down: at start-up it is released the same way. */
static void test_gone_while_down(void **state)
{
    (void)state;
    char dir[] = "/tmp/vxs-release.XXXXXX";
    assert_non_null(mkdtemp(dir));
    vh_start(dir, NULL);
    struct vh_client *d0 = vh_dom0();
    vh_domain(5);
    vh_domain(6);
    prepare(d0);
    vh_stop();

    vh_start(dir, NULL); /* dom6 still runs, dom5 died while we were down */
    vh_set_domain_exists(6, true);
    vxs_domain_restore();
    d0 = vh_dom0();
    check_released(d0);
    vh_stop();
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* -K (C xenstored's --keep-orphans): the departed domain's nodes stay, owned by dom0. */
static void test_keep_orphans(void **state)
{
    (void)state;
    static const char *const args[] = {"-K", NULL};
    vh_start(NULL, args);
    struct vh_client *d0 = vh_dom0();
    vh_domain(5);
    vh_domain(6);
    prepare(d0);
    vh_set_domain_exists(5, false);
    assert_int_equal(vh_release(d0, 5), 0);
    assert_int_equal(vh_read(d0, 0, "/owned5/child", buf), 0);
    assert_string_equal(buf, "c");
    assert_int_equal(vh_get_perms(d0, 0, "/owned5", buf), 0);
    assert_string_equal(buf, "b0");
    assert_int_equal(vh_get_perms(d0, 0, "/owned5/child", buf), 0); /* dom0 made it */
    assert_string_equal(buf, "n0");
    assert_int_equal(vh_get_perms(d0, 0, "/shared", buf), 0);
    assert_string_equal(buf, "n0,w6");
    vh_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_release_revokes_perms),
        cmocka_unit_test(test_gone_while_down),
        cmocka_unit_test(test_keep_orphans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
