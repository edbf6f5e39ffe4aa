/*
 * The plumbing of test_vxs_sock_restart.c: Unix-socket connections kept by the fd store
 * across a SIGKILL, each life of the daemon a forked child, the test process its keeper and
 * its client.
 *
 *   setup_world();                      // a store directory, the keeper, one socketpair
 *   write_(1, "/a", "1");               // queued on the client's end before the life
 *   first_life((struct life){.rounds = 1, .kill_at = SR_KILL_BEFORE_DISCARD});
 *   client_read();                      // what the daemon sent, appended to the messages
 *   expect_reply(1, XS_WRITE, "OK");    // exactly one reply to req 1, of that type and body
 *   life(&(struct life){.new_conn = -1, .rounds = 2});   // a restart on the kept fds
 *   teardown_world();
 *
 * A life runs the daemon's own start-up (fd store protocol, store on disk, vxs_sock_restore)
 * and `rounds` rounds of its loop, and ends in _exit or in a real SIGKILL at a kill point:
 * the util defines recv() and send() over libc's, so the child kills itself just before or
 * just after its first discarding recv(), or just before or just after its first send().
 */
#ifndef XENKIT_TESTS_UNIT_VXS_SOCK_RESTART_UTIL_H
#define XENKIT_TESTS_UNIT_VXS_SOCK_RESTART_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/unit/vxs_harness.h"

enum sr_kill_at {
    SR_KILL_NONE,
    SR_KILL_BEFORE_DISCARD,
    SR_KILL_AFTER_DISCARD,
    SR_KILL_BEFORE_SEND,
    SR_KILL_AFTER_SEND, /* the first send() done: the next reply is not journalled yet */
};

struct life {
    int new_conn;          /* the daemon's end of a new connection (accepted), or -1 */
    int rounds;            /* loop rounds after the start */
    bool stop_after_input; /* the last round is killed after handling its input */
    enum sr_kill_at kill_at;
};

/* ---- the world: a store directory, the keeper, the client's socketpair ---- */
void setup_world(void);
void teardown_world(void);
/* Run one life; returns its log (stderr). */
const char *life(const struct life *l);
/* The first life: the connection is accepted (and handed to the keeper). */
const char *first_life(struct life l);
/* The keeper's fd whose name starts with prefix, or -1; how many names start with `first`. */
int stored_fd(const char *prefix);
size_t stored_count(char first);

/* ---- the client ---- */
extern int client;      /* the client's end of the connection (a test may swap in another) */
extern size_t nmsgs;    /* messages received so far (a test may reset it to 0) */
extern bool client_eof; /* the daemon closed the connection */
/* A request from strings (a WRITE's last one without its NUL). */
void send_req(uint32_t type, uint32_t req_id, uint32_t tx, const char *const *strs,
              size_t nstrs);
void write_(uint32_t req_id, const char *path, const char *val);
void read_(uint32_t req_id, const char *path);
/* on: the requests sent until late_requests(false) reach the socket during the next life,
 * after its restart (the child writes them once it has restored the connection). */
void late_requests(bool on);
/* Everything the client has been sent so far, appended to the messages. */
void client_read(void);
/* How many replies (not events) to req_id; the last one in *out (out may be NULL). */
int replies_to(uint32_t req_id, const struct vh_msg **out);
int events_for(const char *path, const char *token);
/* Exactly one reply to req_id, of that type (and body, unless NULL). */
void expect_reply(uint32_t req_id, uint32_t type, const char *body);

/* ---- the journal, as the keeper holds it ---- */
struct jslot { /* vxs_sock.c's layout */
    char name[32];
    uint64_t head, answered, pend_head;
    int64_t pend_peek;
};
#define JOURNAL_SLOTS 4096
struct jslot *journal_map(void);
void journal_unmap(struct jslot *j);
/* The slot of the (only) connection. */
struct jslot *conn_slot(struct jslot *j);

#endif
