/*
 * The loop's store timer (vxs_store_poll_timeout, vxs_server.c) after a restart: the request
 * a guest left in req[] is read and committed by the restore (vxs_domain_restore), before the
 * loop's first wait; its commit waits for the batch (--sync batch, the default, no sync
 * thread). Once the batch's clock ran out (5 ms), the pack's poll flushes it there and then,
 * which releases the reply: the timer must be 0 (a round at once, which sends it), not -1
 * (store_pack_poll's "nothing waits"), else the loop slept until its next timer with the
 * guest waiting for the reply (killtest_ring: 20 s, until the guest's watch event expired).
 */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tests/unit/vxs_harness.h"

#define DOM 5

static void sleep_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* A daemon on disk with domain 5 (owner of /local/domain/5), killed with the guest's WRITE
 * (id, body of len bytes) in req[] (no event: nobody would get it) and restarted: the restore
 * reads and commits it; the guest reads its ring by hand. The commit waits for the batch. */
static void restart_with_request(uint32_t id, const char *body, size_t len)
{
    vh_start_disk("vxs-poll", NULL);
    struct vh_client *d0 = vh_dom0();
    vh_domain(DOM);
    assert_int_equal(vh_mkdir(d0, 0, "/local/domain/5"), 0);
    assert_int_equal(vh_set_perms(d0, 0, "/local/domain/5", "n5"), 0);
    vh_guest_send(DOM, XS_WRITE, id, body, len);
    vh_keep_rings(true); /* the guest's page outlives the killed daemon */
    vh_restart();
    vh_rings_keep_output(true);
    assert_true(vxs.durable_upto < vxs.next_seq);
}

static void restored_request_released_by_poll(void **state)
{
    (void)state;
    char buf[XENSTORE_PAYLOAD_MAX + 1];
    restart_with_request(41, "/local/domain/5/x\0v", 19);
    assert_int_equal(vh_guest_reply(DOM, buf), 0);
    sleep_ms(20); /* the batch's clock (5 ms) runs out before the loop's first wait */
    assert_int_equal(vxs_store_poll_timeout(), 0); /* flushed there: a round at once */
    assert_int_equal(vxs.durable_upto, vxs.next_seq);
    assert_int_equal(vxs_store_poll_timeout(), -1); /* nothing waits now */
    vh_round_output(); /* the round's end sends it */
    assert_int_equal(vh_guest_reply(DOM, buf), 41);
    assert_string_equal(buf, "OK");
    vh_finish_disk();
}

/* The same with the pack's sync thread (VXS_SYNC_THREAD=1): the pack's poll has no timer
 * then, and the thread syncs only what a round wrote; the restore's commit was written by no
 * round, so the loop's timer must be 0 until a round (vxs_durable_round) has run. */
static void restored_request_with_sync_thread(void **state)
{
    (void)state;
    char buf[XENSTORE_PAYLOAD_MAX + 1];
    restart_with_request(42, "/local/domain/5/y\0w", 19);
    setenv("VXS_SYNC_THREAD", "1", 1);
    int fd = vxs_durable_fd(); /* as the loop's first turn: the thread starts */
    unsetenv("VXS_SYNC_THREAD");
    assert_true(fd >= 0);
    sleep_ms(20);
    assert_int_equal(vxs_store_poll_timeout(), 0); /* the commit: a round, not a sleep */
    assert_int_equal(vxs_durable_round(), 0);      /* writes it, hands the sync to the thread */
    int t = vxs_store_poll_timeout();
    assert_true(t == -1 || t == 0);                /* (0 if its sync ended meanwhile) */
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 10000), 1);       /* the thread's sync ended */
    assert_int_equal(vxs_durable_round(), 0);
    assert_int_equal(vxs.durable_upto, vxs.next_seq);
    assert_int_equal(vxs_store_poll_timeout(), -1);
    vh_round_output();
    assert_int_equal(vh_guest_reply(DOM, buf), 42);
    assert_string_equal(buf, "OK");
    vh_finish_disk();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(restored_request_released_by_poll),
        cmocka_unit_test(restored_request_with_sync_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
