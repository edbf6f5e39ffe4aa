/*
 * The poll loop's spin policy (xenstore/vxs_spin.c): when vxenstored looks for the next
 * request before sleeping. Clock readings are given by hand (ns).
 *   - a fresh loop, and an idle one, sleeps at once;
 *   - work that follows the end of a round within the budget arms it, later work disarms it;
 *   - a look that found nothing within the budget disarms it (the end of a burst costs one
 *     budget at most);
 *   - the loop's own timeout bounds the look, a zero timeout or a zero budget means no look;
 *   - a round that served more clients than the spare CPUs stops the looks for a few rounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "xenstore/vxs_spin.h"

#define US 1000u
#define MS 1000000u

static void test_idle_sleeps_at_once(void **state)
{
    (void)state;
    struct vxs_spin s;
    vxs_spin_init(&s, 50, 1);
    assert_int_equal(vxs_spin_plan(&s, -1), 0); /* nothing seen yet */
    /* A request after a long sleep: not a burst yet. */
    vxs_spin_wait_start(&s, 0);
    vxs_spin_wait_end(&s, 5 * MS, true);
    assert_int_equal(vxs_spin_plan(&s, -1), 0);
    /* A timeout with no work: still asleep. */
    vxs_spin_wait_start(&s, 6 * MS);
    vxs_spin_wait_end(&s, 6 * MS + 10 * US, false);
    assert_int_equal(vxs_spin_plan(&s, -1), 0);
}

static void test_burst_arms_and_end_disarms(void **state)
{
    (void)state;
    struct vxs_spin s;
    vxs_spin_init(&s, 50, 1);
    /* The next request 20 us after the reply: arm. */
    vxs_spin_wait_start(&s, 1 * MS);
    vxs_spin_wait_end(&s, 1 * MS + 20 * US, true);
    assert_int_equal(vxs_spin_plan(&s, -1), 50 * US);
    /* Exactly the budget still counts as close. */
    vxs_spin_wait_start(&s, 2 * MS);
    vxs_spin_wait_end(&s, 2 * MS + 50 * US, true);
    assert_int_equal(vxs_spin_plan(&s, -1), 50 * US);
    /* The client pauses: the look runs out, the sleep ends 3 ms later: disarmed. */
    vxs_spin_wait_start(&s, 3 * MS);
    vxs_spin_wait_end(&s, 6 * MS, true);
    assert_int_equal(vxs_spin_plan(&s, -1), 0);
    /* Armed again by the next close pair. */
    vxs_spin_wait_start(&s, 7 * MS);
    vxs_spin_wait_end(&s, 7 * MS + 1 * US, true);
    assert_int_equal(vxs_spin_plan(&s, -1), 50 * US);
    /* A wait that ends without work (a timeout) disarms even when short. */
    vxs_spin_wait_start(&s, 8 * MS);
    vxs_spin_wait_end(&s, 8 * MS + 1 * US, false);
    assert_int_equal(vxs_spin_plan(&s, -1), 0);
}

static void test_timeout_bounds_the_look(void **state)
{
    (void)state;
    struct vxs_spin s;
    vxs_spin_init(&s, 5000, 1); /* 5 ms */
    vxs_spin_wait_start(&s, 0);
    vxs_spin_wait_end(&s, 1 * MS, true);
    assert_int_equal(vxs_spin_plan(&s, -1), 5 * MS);
    assert_int_equal(vxs_spin_plan(&s, 2), 2 * MS); /* the loop must act in 2 ms */
    assert_int_equal(vxs_spin_plan(&s, 10), 5 * MS);
    assert_int_equal(vxs_spin_plan(&s, 0), 0); /* the loop does not wait at all */
}

static void test_zero_budget_never_looks(void **state)
{
    (void)state;
    struct vxs_spin s;
    vxs_spin_init(&s, 0, 1);
    vxs_spin_wait_start(&s, 100);
    vxs_spin_wait_end(&s, 100, true);
    assert_int_equal(vxs_spin_plan(&s, -1), 0);
}

static void test_clock_going_back_is_close(void **state)
{
    (void)state;
    struct vxs_spin s;
    vxs_spin_init(&s, 50, 1);
    vxs_spin_wait_start(&s, 10 * MS);
    vxs_spin_wait_end(&s, 9 * MS, true); /* no underflow into a huge wait */
    assert_int_equal(vxs_spin_plan(&s, -1), 50 * US);
}

static void arm(struct vxs_spin *s, uint64_t t)
{
    vxs_spin_wait_start(s, t);
    vxs_spin_wait_end(s, t + 1 * US, true);
}

static void test_crowded_rounds_do_not_look(void **state)
{
    (void)state;
    struct vxs_spin s;
    vxs_spin_init(&s, 50, 1); /* two CPUs: one client beside us */
    arm(&s, 0);
    vxs_spin_round(&s, 1);
    assert_int_equal(vxs_spin_plan(&s, -1), 50 * US);
    /* Three clients in one round: their CPUs, no looking for VXS_SPIN_CROWD_ROUNDS rounds. */
    vxs_spin_round(&s, 3);
    arm(&s, 1 * MS);
    assert_int_equal(vxs_spin_plan(&s, -1), 0);
    for (int i = 0; i < VXS_SPIN_CROWD_ROUNDS - 1; i++) {
        vxs_spin_round(&s, 1);
        assert_int_equal(vxs_spin_plan(&s, -1), 0);
    }
    vxs_spin_round(&s, 0);
    assert_int_equal(vxs_spin_plan(&s, -1), 50 * US);
    /* More CPUs: three clients still leave one free. */
    vxs_spin_init(&s, 50, 3);
    arm(&s, 0);
    vxs_spin_round(&s, 3);
    assert_int_equal(vxs_spin_plan(&s, -1), 50 * US);
    vxs_spin_round(&s, 4);
    assert_int_equal(vxs_spin_plan(&s, -1), 0);
    /* 0 is taken as 1. */
    vxs_spin_init(&s, 50, 0);
    arm(&s, 0);
    vxs_spin_round(&s, 2);
    assert_int_equal(vxs_spin_plan(&s, -1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_sleeps_at_once),
        cmocka_unit_test(test_burst_arms_and_end_disarms),
        cmocka_unit_test(test_timeout_bounds_the_look),
        cmocka_unit_test(test_zero_budget_never_looks),
        cmocka_unit_test(test_clock_going_back_is_close),
        cmocka_unit_test(test_crowded_rounds_do_not_look),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
