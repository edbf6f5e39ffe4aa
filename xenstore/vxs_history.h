/*
 * The history queries of vxenstored's database (log, show, diff, blame, reads at a past
 * time, git export, GC), formatted as readable text or as JSON. One implementation serves
 * both sides: the `vxs` CLI runs it on a pack it opened itself (offline, --db) and
 * vxenstored runs it for XS_CONTROL "history ..." requests (online, vxs_control.c).
 *
 * Paging. A control reply holds at most 4096 bytes, so every query's output is a sequence of
 * records (one log entry, one change, ...) produced in a fixed order, and a query runs one
 * *page* at a time: as many records as fit in a byte budget (a record larger than a whole
 * page is cut, and the rest follows on the next page). A page ends with a cursor that the
 * next request hands back; concatenating the pages' bodies gives exactly the output of one
 * unlimited run. The cursor is "INDEX:PART:POS": the index of the first record not (fully)
 * sent, how many of its bytes were sent, and for log the walk's frontier (the commits still
 * queued, comma-separated hex), so that a page of a long log costs only its own commits.
 * Other queries regenerate and skip the records before INDEX (their outputs are small).
 *
 * The control reply carrying a page is text: a first line "next CURSOR", "end" or
 * "error MESSAGE", then the page's body (see vxh_reply / vxh_reply_parse).
 */
#ifndef XENKIT_XENSTORE_VXS_HISTORY_H
#define XENKIT_XENSTORE_VXS_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xenstore/objstore.h"
#include "xenstore/store_tree.h"

enum vxh_fmt { VXH_TEXT, VXH_JSON };

/* Characters of a commit id in text output (JSON always has all 64). */
#define VXH_SHORT_ID 12
/* The body budget of a page sent in a control reply: the 4096-byte payload minus the NUL,
 * the "next" line and a log frontier of up to VXH_MAX_FRONTIER commits. */
#define VXH_MAX_FRONTIER 16
#define VXH_CONTROL_BUDGET (4096 - 1 - 64 - VXH_MAX_FRONTIER * 65)
/* A log page visits at most this many commits (it may then be empty but for its cursor), so
 * that one request never stalls the daemon for long. */
#define VXH_LOG_STEP 2000

/* ---- a growable byte buffer (errors are sticky: check .err once at the end) -------------- */

struct vxh_buf {
    char *p; /* NUL-terminated when len > 0 */
    size_t len, cap;
    int err; /* 0 or -ENOMEM */
};
void vxh_buf_add(struct vxh_buf *b, const void *data, size_t n);
void vxh_buf_str(struct vxh_buf *b, const char *s);
void vxh_buf_printf(struct vxh_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vxh_buf_free(struct vxh_buf *b);

/* ---- formatting helpers (pure) ------------------------------------------------------------ */

/* A JSON string literal: quotes, escapes for '"', '\\' and control bytes, valid UTF-8 kept,
 * any other byte as \u00XX (JSON strings cannot hold raw bytes). */
void vxh_json_str(struct vxh_buf *b, const void *s, size_t n);
/* A value for text output: printable ASCII and valid UTF-8 as is, '\\' and (if quoted) '"'
 * escaped, other bytes as \n, \t or \xNN; inside quotes if `quote`. */
void vxh_text_value(struct vxh_buf *b, const void *s, size_t n, bool quote);
/* Perms as stored by vxenstored (NUL-terminated entries, "n0\0r3\0"): text "(n0,r3)", JSON
 * ["n0","r3"]. */
void vxh_perms(struct vxh_buf *b, const void *perms, size_t len, enum vxh_fmt fmt);
/* ISO-8601 UTC with milliseconds ("2024-05-01T12:00:00.123Z"); buf of at least 32 bytes. */
void vxh_time_str(uint64_t ns, char *buf, size_t cap);
/* A time given by a user: a unix timestamp ("1714564800", "@1714564800", with an optional
 * ".fraction"; digits only means a timestamp when it has at most 11 digits) or ISO-8601 UTC
 * ("2024-05-01", "2024-05-01T12:00", "2024-05-01 12:00:00.5Z"). 0, or -EINVAL if it is
 * neither (then it may be a commit id). */
int vxh_parse_time(const char *s, uint64_t *ns);
/* One log record of a commit: text "ID  TIME  AUTHOR  MESSAGE\n" (short id), JSON an object
 * with commit, parents, gen, time, time_ns, author, message. */
void vxh_commit_record(struct vxh_buf *b, enum vxh_fmt fmt, const struct store_hash *h,
                       const struct vs_commit *c);

/* A change of one node between two trees, as show/diff print it. The old_* fields describe
 * the node in the first tree (unused for added), the new_* ones in the second (unused for
 * removed). */
struct vxh_change {
    const char *path;
    enum vs_change kind;
    const void *old_val, *new_val, *old_perms, *new_perms;
    size_t old_vlen, new_vlen, old_plen, new_plen;
};
void vxh_change_record(struct vxh_buf *b, enum vxh_fmt fmt, const struct vxh_change *ch);

/* Order of paths in listings: component by component ("/a" < "/a/b" < "/a-b"). */
int vxh_path_cmp(const char *a, const char *b);

/* ---- commits named by the user ------------------------------------------------------------ */

/* "head" / "HEAD" with an optional "~N" (N first parents back), or a unique prefix of at
 * least 4 hex digits of a commit reachable from head. Errors: -ENOENT (none), -EEXIST
 * (ambiguous prefix), -EINVAL. msg (if not NULL, 160 bytes) says what went wrong. */
int vxh_resolve_commit(struct vs_store *st, const struct store_hash *head, const char *spec,
                       struct store_hash *out, char *msg);
/* TIME for `at`: a commit as above, or the newest commit on head's first-parent chain made
 * at or before a time (vxh_parse_time). */
int vxh_resolve_time(struct vs_store *st, const struct store_hash *head, const char *spec,
                     struct store_hash *out, char *msg);

/* ---- paged queries -------------------------------------------------------------------------- */

struct vxh_page {
    /* in */
    enum vxh_fmt fmt;
    size_t budget;       /* body bytes this page may hold (>= 1) */
    const char *cursor;  /* NULL or "": from the start */
    /* out */
    struct vxh_buf body;
    bool more;           /* another page follows: its cursor is in .next */
    char next[64 + VXH_MAX_FRONTIER * 65];
    char msg[200];       /* why it failed */
    /* private: the pager's state */
    uint64_t index, start_index, start_part;
    const char *pos;     /* the log frontier of the cursor */
    char *cur_pos;       /* the frontier before the record being emitted (log) */
    bool stop;
};

/* Run one page of a query on branch `branch` of st. argv (argc >= 1) is the subcommand and
 * its arguments:
 *
 *   log [-n N] [PATH]          commits newest first; with PATH only those that changed it
 *   show COMMIT [PATH]         a commit and its changes against its first parent
 *   diff A B [PATH]            the changes from commit A to commit B
 *   blame [-r] PATH            the commit that gave the node (-r: and each below it) its
 *                              current value and perms
 *   at TIME read PATH          a value as of TIME
 *   at TIME ls PATH            the children and their values as of TIME
 *   export-git DIR             the branch's history as a git repository in DIR
 *
 * Returns 0 (the page is in pg->body; pg->more and pg->next say whether another follows)
 * or a negative errno with pg->msg set. The caller frees pg->body (vxh_page_free). */
int vxh_query(struct vs_store *st, const char *branch, int argc, char **argv,
              struct vxh_page *pg);
void vxh_page_free(struct vxh_page *pg);

/* The control reply of a page: "next CURSOR\n" or "end\n" then the body, or (rc < 0)
 * "error MESSAGE\n"; NUL-terminated. *out is malloc'd; returns its length with the NUL or
 * -ENOMEM. */
int vxh_reply(int rc, const struct vxh_page *pg, char **out, size_t *len);
/* Split a reply: 1 and the cursor (cap bytes) if more follows, 0 if it was the last page,
 * -EIO with the message in cursor if it reports an error, -EPROTO if malformed. *body and
 * *blen point into reply. */
int vxh_reply_parse(const char *reply, size_t len, char *cursor, size_t cap,
                    const char **body, size_t *blen);

/* ---- shared by the query files (vxs_history.c, vxs_history_log.c) ------------------------- */

#define VXH_MSG(pg, ...) snprintf((pg)->msg, sizeof (pg)->msg, __VA_ARGS__)
/* Offer the next record of a page's output (false: the page is full, stop). */
bool vxh_put(struct vxh_page *pg, const struct vxh_buf *rec);
bool vxh_put_str(struct vxh_page *pg, const char *s);
/* The separator a JSON list item starts with (nothing in text). */
void vxh_item_sep(struct vxh_buf *b, enum vxh_fmt fmt, uint64_t i);
/* 0 if path is absolute, else -EINVAL with the message set. */
int vxh_check_path(struct vxh_page *pg, const char *path);
int vxh_q_log(struct vs_store *st, const struct store_hash *head, int argc, char **argv,
              struct vxh_page *pg);

/* ---- garbage collection --------------------------------------------------------------------- */

/* Collect the pack's garbage: keep the newest `keep->commits` of every branch's history and
 * every commit younger than keep->seconds (plus keep->snapshots); the rest goes. The result
 * (sizes before and after, objects kept, time writers were stopped) is appended to out as
 * text or JSON. os must be a pack (store_pack.h). */
int vxh_gc(struct objstore *os, const struct vs_keep *keep, enum vxh_fmt fmt,
           struct vxh_buf *out);

#endif
