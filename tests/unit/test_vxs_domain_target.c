/*
 * SET_TARGET and RELEASE: a domain another one targets (a device model stubdomain's guest,
 * or the domain itself) is released at once, as any other: its nodes go, @releaseDomain
 * fires, it is no longer introduced; the device model goes on. (C xenstored 4.17 only drops
 * the talloc reference SET_TARGET took and keeps the domain: a deliberate difference,
 * vxenstored.8.) In-process through tests/unit/vxs_harness.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/vxs_harness.h"

static char buf[XENSTORE_PAYLOAD_MAX + 1];

static int teardown(void **state)
{
    (void)state;
    vh_stop();
    return 0;
}

static bool introduced(struct vh_client *d0, uint32_t domid)
{
    char id[16];
    snprintf(id, sizeof id, "%u", domid);
    const char *strs[] = {id};
    static struct vh_msg reply;
    assert_int_equal(vh_reqv(d0, XS_IS_DOMAIN_INTRODUCED, 0, strs, 1, NULL, &reply), 0);
    return strcmp(reply.body, "T") == 0;
}

/* The guest (5) released while its device model (6) targets it. */
static void test_release_target(void **state)
{
    (void)state;
    vh_start(NULL, NULL);
    struct vh_client *d0 = vh_dom0(), *d5 = vh_domain_with_home(d0, 5);
    struct vh_client *d6 = vh_domain_with_home(d0, 6);
    assert_int_equal(vh_write(d5, 0, "dev", "x"), 0);
    assert_int_equal(vh_set_target(d0, 6, 5), 0);
    assert_int_equal(vh_write(d6, 0, "/local/domain/5/dev", "dm"), 0); /* 5's rights */
    assert_int_equal(vh_watch(d0, "@releaseDomain", "r"), 0);
    vh_events_drop(d0);
    assert_int_equal(vh_release(d0, 5), 0);
    char path[256], token[64];
    assert_true(vh_event(d0, path, token));
    assert_string_equal(path, "@releaseDomain");
    assert_false(introduced(d0, 5));
    assert_true(introduced(d0, 6));
    /* Its nodes went (the home dom0 made is 5's too: C's default, no -K). */
    assert_int_equal(vh_read(d0, 0, "/local/domain/5/dev", buf), -ENOENT);
    /* The device model is served as before; a second RELEASE of 5 finds nothing. */
    assert_int_equal(vh_write(d6, 0, "/local/domain/6/x", "y"), 0);
    assert_int_equal(vh_release(d0, 5), -ENOENT);
    assert_int_equal(vh_release(d0, 6), 0);
    assert_false(introduced(d0, 6));
}

/* The device model released first: its target is untouched. */
static void test_release_device_model_first(void **state)
{
    (void)state;
    vh_start(NULL, NULL);
    struct vh_client *d0 = vh_dom0(), *d5 = vh_domain_with_home(d0, 5);
    vh_domain_with_home(d0, 6);
    assert_int_equal(vh_set_target(d0, 6, 5), 0);
    assert_int_equal(vh_release(d0, 6), 0);
    assert_true(introduced(d0, 5));
    assert_int_equal(vh_write(d5, 0, "still", "here"), 0);
    assert_int_equal(vh_release(d0, 5), 0);
    assert_false(introduced(d0, 5));
}

/* A domain its own target (SET_TARGET 5 5: no right more) is released at once too. */
static void test_release_self_target(void **state)
{
    (void)state;
    vh_start(NULL, NULL);
    struct vh_client *d0 = vh_dom0();
    vh_domain_with_home(d0, 5);
    assert_int_equal(vh_set_target(d0, 5, 5), 0);
    assert_int_equal(vh_watch(d0, "@releaseDomain", "r"), 0);
    vh_events_drop(d0);
    assert_int_equal(vh_release(d0, 5), 0);
    assert_true(vh_event(d0, NULL, NULL));
    assert_false(introduced(d0, 5));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_release_target, teardown),
        cmocka_unit_test_teardown(test_release_device_model_first, teardown),
        cmocka_unit_test_teardown(test_release_self_target, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
