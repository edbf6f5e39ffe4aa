/* The fixture and assertion macros of the in-process dispatch tests (test_vxs_dispatch.c,
 * test_vxs_watch.c): a fresh daemon per test on an in-memory store (tests/unit/vxs_harness.c)
 * and checks of a read, a node's perms and the next watch event. Include <cmocka.h> first. */
#ifndef XENKIT_TESTS_VXS_DISPATCH_CHECKS_H
#define XENKIT_TESTS_VXS_DISPATCH_CHECKS_H

#include "tests/unit/vxs_harness.h"

/* Reply bodies land here. */
static char buf[XENSTORE_PAYLOAD_MAX + 1];

static inline int setup(void **state)
{
    (void)state;
    vh_start(NULL, NULL);
    return 0;
}

static inline int teardown(void **state)
{
    (void)state;
    vh_stop();
    return 0;
}

#define READS(cl, tx, path, want)                                                             \
    do {                                                                                      \
        assert_int_equal(vh_read(cl, tx, path, buf), 0);                                     \
        assert_string_equal(buf, want);                                                       \
    } while (0)
#define PERMS(cl, path, want)                                                                 \
    do {                                                                                      \
        assert_int_equal(vh_get_perms(cl, 0, path, buf), 0);                                  \
        assert_string_equal(buf, want);                                                       \
    } while (0)
#define EVENT(cl, wpath, wtoken)                                                              \
    do {                                                                                      \
        char p_[XENSTORE_ABS_PATH_MAX + 1], t_[XENSTORE_ABS_PATH_MAX + 1];                    \
        assert_true(vh_event(cl, p_, t_));                                                    \
        assert_string_equal(p_, wpath);                                                       \
        assert_string_equal(t_, wtoken);                                                      \
    } while (0)
#define NO_EVENT(cl) assert_false(vh_event(cl, NULL, NULL))

#endif
