/*
 * The pure part of the guest's vchan setup (vchan/guest_hs.c): xenstore path checks, the
 * strict parsing of the handshake values the peer writes, the parents removed on close
 * (never the domain's home or its top-level directories) and the liveness rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>

#include <cmocka.h>
#include <xen/xen.h>
#include <xen/event_channel.h>

#include "vchan/guest_hs.h"

static void test_check_path(void **state)
{
    (void)state;
    assert_int_equal(vchan_hs_check_path("data/vchan/7/echo"), 0);
    assert_int_equal(vchan_hs_check_path("/local/domain/5/data/vchan/7/echo"), 0);
    assert_int_equal(vchan_hs_check_path("/vchan/x"), 0);
    assert_int_equal(vchan_hs_check_path("device-model/3/qmp-vchan"), 0);
    assert_int_equal(vchan_hs_check_path("a.b@c_d-e/f"), 0);
    const char *bad[] = { "", "/", "data", "/data", "data/", "/a//b", "//a/b", "a b/c",
                          "a/b\n", "a/b/", "a/\xc3\xa9", "a/b*" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(vchan_hs_check_path(bad[i]), -EINVAL);
    assert_int_equal(vchan_hs_check_path(NULL), -EINVAL);
    char longp[VCHAN_HS_PATH_MAX + 1];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    longp[3] = '/';
    assert_int_equal(vchan_hs_check_path(longp), -ENAMETOOLONG);
    longp[VCHAN_HS_PATH_MAX - 1] = '\0';
    assert_int_equal(vchan_hs_check_path(longp), 0);
}

static void test_parse(void **state)
{
    (void)state;
    uint32_t v = 0;
    assert_int_equal(vchan_hs_parse_u32("8", 1, &v), 0);
    assert_int_equal(v, 8);
    assert_int_equal(vchan_hs_parse_u32("4294967295", 10, &v), 0);
    assert_int_equal(v, UINT32_MAX);
    assert_int_equal(vchan_hs_parse_u32("12345", 3, &v), 0);   /* length decides */
    assert_int_equal(v, 123);
    const char *bad[] = { "0", "00", "07", "-1", "+1", " 1", "1 ", "4294967296",
                          "99999999999", "1a", "0x10", "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 77;
        assert_int_equal(vchan_hs_parse_u32(bad[i], strlen(bad[i]), &v), -EINVAL);
        assert_int_equal(v, 77);
    }
    assert_int_equal(vchan_hs_parse_u32("1\0002", 3, &v), -EINVAL);   /* embedded NUL */
    assert_int_equal(vchan_hs_parse_u32(NULL, 1, &v), -EINVAL);
}

/* All parents vchan_hs_parent offers for removal, joined with '|'. */
static void parents(const char *path, char *out)
{
    out[0] = '\0';
    size_t len = strlen(path);
    while ((len = vchan_hs_parent(path, len)) != 0) {
        if (out[0] != '\0')
            strcat(out, "|");
        strncat(out, path, len);
    }
}

static void test_parents(void **state)
{
    (void)state;
    char got[512];
    parents("/local/domain/5/data/vchan/7/echo", got);
    assert_string_equal(got, "/local/domain/5/data/vchan/7|/local/domain/5/data/vchan");
    parents("data/vchan/7/echo", got);
    assert_string_equal(got, "data/vchan/7|data/vchan");
    parents("/local/domain/5/data/x", got);
    assert_string_equal(got, "");
    parents("data/x", got);
    assert_string_equal(got, "");
    parents("/vchan/a/b", got);
    assert_string_equal(got, "/vchan/a");
    parents("/local/domain/0/device-model/3/qmp-vchan", got);
    assert_string_equal(got, "/local/domain/0/device-model/3");
    parents("/local/x/y/z", got);    /* not a domain's home: only the top level is kept */
    assert_string_equal(got, "/local/x/y|/local/x");
    assert_int_equal(vchan_hs_parent("data/a/b", 100), 0);     /* len beyond the path */
}

static void test_peer_state(void **state)
{
    (void)state;
    assert_int_equal(vchan_hs_peer_state(EVTCHNSTAT_interdomain, 7, 7, false),
                     VCHAN_HS_PEER_UP);
    assert_int_equal(vchan_hs_peer_state(EVTCHNSTAT_interdomain, 7, 7, true), VCHAN_HS_PEER_UP);
    assert_int_equal(vchan_hs_peer_state(EVTCHNSTAT_interdomain, 8, 7, true),
                     VCHAN_HS_PEER_GONE);
    /* Server before the client bound: waiting. After: the port fell back to unbound. */
    assert_int_equal(vchan_hs_peer_state(EVTCHNSTAT_unbound, 7, 7, false),
                     VCHAN_HS_PEER_WAITING);
    assert_int_equal(vchan_hs_peer_state(EVTCHNSTAT_unbound, 7, 7, true), VCHAN_HS_PEER_GONE);
    assert_int_equal(vchan_hs_peer_state(EVTCHNSTAT_closed, 0, 7, false), VCHAN_HS_PEER_GONE);
    assert_int_equal(vchan_hs_peer_state(EVTCHNSTAT_virq, 0, 7, true), VCHAN_HS_PEER_GONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_path),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parents),
        cmocka_unit_test(test_peer_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
