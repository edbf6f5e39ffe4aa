/*
 * vxenstored: the events-delivered marks of the connection table (vxs_persist_marks.c), the
 * parts the table's other commits use. The rest is in vxs.h (vxs_persist_marks & co).
 */
#ifndef XENKIT_XENSTORE_VXS_PERSIST_MARKS_H
#define XENKIT_XENSTORE_VXS_PERSIST_MARKS_H

#include <stdint.h>

struct vs_txn;

/* <dir>/ev = gen in a table commit (a new entry's mark: nothing owed from before). */
int vxs_persist_set_mark(struct vs_txn *x, const char *dir, uint64_t gen);
/* In the callback of a connection-table commit the daemon makes anyway (a cut message's
 * record, a request's head, a watch): the marks that moved since they were last saved go
 * into it too, at no extra commit. Returns 0 or -errno. vxs_persist_marks_with_done, after
 * that commit, takes them as saved. */
int vxs_persist_marks_with(struct vs_txn *x);
void vxs_persist_marks_with_done(void);

#endif
