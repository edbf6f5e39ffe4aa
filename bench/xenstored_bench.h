/*
 * The xenstored bench: what its parts share (see xenstored_bench.c for the whole picture).
 * xenstored_client.c speaks the protocol, xenstored_workloads.c and xenstored_mix.c measure,
 * xenstored_bench.c parses the options, runs the tests daemon after daemon, prints the table.
 */
#ifndef XENSTORED_BENCH_H
#define XENSTORED_BENCH_H

#include "xenstored_client.h"

/* The table's lines: each test stores its figures in daemon.v[L_...]. */
enum {
    L_WRITE, L_READ, L_WR, L_WRITE_N, L_TXN, L_IDLE_W50, L_IDLE_W99, L_IDLE_R50, L_IDLE_R99,
    L_POP, L_DOM_W50, L_DOM_W99, L_DOM_R50, L_DOM_R99, L_MIX, L_MIX_REQ, L_REPLAY,
    L_REPLAY_REQ, L_NLINES
};

#define MAX_DAEMONS 8

struct daemon {
    const char *name;
    const char *sock;
    double v[L_NLINES];
};


/* Options (xenstored_bench.c). */
extern double opt_secs;         /* time bound of each timed test */
extern long opt_ops;            /* operation cap of each timed test */
extern long opt_lat;            /* latency samples (cap) */
extern int opt_clients;
extern int opt_idle;
extern int opt_domains;
extern int opt_mix;
extern int opt_verbose;
extern int opt_replay;          /* domains the replay test replays */

/* Measurement helpers (xenstored_bench.c). */
double now(void);
double percentile(double *v, long n, double p);
void note(const char *daemon, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The tests (xenstored_workloads.c): figures in ops/s, NAN when the daemon failed. */
bool open_or_note(struct conn *c, const struct daemon *d);
double t_single(struct daemon *d, int kind);     /* 0 write, 1 read, 2 write+read */
double t_multi_write(struct daemon *d);
double t_txn(struct daemon *d);
void t_idle(struct daemon *d);
void t_domains(struct daemon *d);
void cleanup(struct daemon *d);                  /* removes /bench */
/* xl create + xl destroy (xenstored_mix.c). */
void t_mix(struct daemon *d);
/* The replay of a recorded xl create + destroy (xenstored_replay.c): load the file once. */
int replay_load(const char *path);
void t_replay(struct daemon *d);

#endif
