/* A store_iodir for tests of the pack's sync thread: files of the POSIX backend whose sync
 * blocks, when the gate is held, until the test lets it through (or fails it). The test sees
 * how many syncs entered, so it can wait for the thread to be inside one. */
#ifndef XENKIT_TESTS_STORE_IO_GATE_H
#define XENKIT_TESTS_STORE_IO_GATE_H

#include <stdbool.h>
#include <stdint.h>

#include "xenstore/store_io.h"

struct store_io_gate;

/* Files in the directory `path`; the gate starts open (syncs pass at once). */
int store_io_gate_dir(const char *path, struct store_io_gate **gate, struct store_iodir **out);
/* Held: every sync from now on waits in it until released. Open: they pass. */
void store_io_gate_hold(struct store_io_gate *g, bool hold);
/* Wait until `n` syncs have entered the gate (counting from its creation). */
void store_io_gate_wait_entered(struct store_io_gate *g, uint64_t n);
/* Let one waiting (or the next) sync through, returning rc (0, or -EIO to fail it). */
void store_io_gate_release(struct store_io_gate *g, int rc);
uint64_t store_io_gate_entered(struct store_io_gate *g);
/* Syncs that completed (passed the gate). */
uint64_t store_io_gate_done(struct store_io_gate *g);
/* Free the gate (after the dir is closed). */
void store_io_gate_free(struct store_io_gate *g);

#endif
