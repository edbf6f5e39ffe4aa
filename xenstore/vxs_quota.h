/*
 * vxenstored's quotas and abuse limits (xenstore/vxs_quota*.c), as C xenstored has them:
 *
 *   vxs_quota.c        the quota table (global and per-domain values), memory, outstanding
 *                      requests, whether a domain's ring may be read
 *   vxs_quota_nodes.c  nodes per domain (counted per store transaction, applied at commit),
 *                      the node-size quota on C's record of a node (transaction-nodes is
 *                      counted by the store transaction: vs_txn_set_max_accessed)
 *   vxs_quota_wrl.c    the write rate limit while transactions are open (XSA-206)
 *   vxs_quota_req.c    GET/SET_QUOTA, GET/SET_FEATURE, CONTROL quota and quota-soft
 *
 * Only unprivileged domains have quotas: dom0 and the Unix socket have none (but a node dom0
 * writes counts for its owner's memory quota, as in C).
 */
#ifndef XENKIT_XENSTORE_VXS_QUOTA_H
#define XENKIT_XENSTORE_VXS_QUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vxs_conn;
struct vs_txn;

/* In C xenstored's order (its quota list and GET_QUOTA's answer). */
enum vxs_quota_id {
    VXS_Q_NODES,
    VXS_Q_WATCHES,
    VXS_Q_OUTSTANDING,
    VXS_Q_MEMORY,
    VXS_Q_TRANSACTIONS,
    VXS_Q_TRANSACTION_NODES,
    VXS_Q_PERMISSIONS,
    VXS_Q_PATH_MAX,
    VXS_Q_NODE_SIZE,
    VXS_Q_N
};

/* What the daemon keeps per domain (domid), introduced or not (SET_QUOTA and SET_FEATURE
 * may come before INTRODUCE). */
struct vxs_qdom {
    uint32_t domid;
    unsigned val[VXS_Q_N][2];   /* per-domain [hard, soft] values, UINT_MAX: the global one */
    unsigned max_seen[VXS_Q_N];
    long nodes;                 /* nodes it owns (committed) */
    long long node_mem;         /* their bytes: path + value + perms */
    unsigned outstanding;       /* replies queued, not yet taken */
    bool soft_reported, hard_reported;
    uint32_t features;          /* server_features for its ring (SET_FEATURE) */
    int32_t wrl_credit;         /* XSA-206 token bucket, in 1/1000 writes */
    uint64_t wrl_ms;
    bool wrl_logged;
    bool wrl_counted;           /* introduced: shares the write rate (C's wrl_ndomains) */
    bool blocked;               /* its ring was left unread for a limit */
};

/* vxs_quota.c */
void vxs_quota_defaults(void);
/* -Q/-q WHAT=N ("nodes", "memory", ... as C); -1 if unknown. */
int vxs_quota_set_option(const char *what_eq_n, bool soft);
/* -w watch-event=SECS; -1 if unknown. */
int vxs_quota_set_timeout(const char *what_eq_secs);
/* The global [hard (soft 0), soft (1)] value of q; UINT_MAX if it has none. */
unsigned vxs_quota_global(enum vxs_quota_id q, int soft);
void vxs_quota_set_global(enum vxs_quota_id q, int soft, unsigned v);
unsigned vxs_quota_watch_event_ms(void);
struct vxs_qdom *vxs_qdom(uint32_t domid, bool create);
/* A domain released: its per-domain values and counts go (as C frees its struct domain). */
void vxs_quota_domain_gone(uint32_t domid);
/* The value of quota q for domid (its own, else the global one); 0: unlimited. */
unsigned vxs_quota_limit(uint32_t domid, enum vxs_quota_id q);
/* Is val at or over c's quota q? Never for privileged connections. */
bool vxs_quota_exceeds(const struct vxs_conn *c, enum vxs_quota_id q, unsigned long long val);
uint32_t vxs_quota_features(uint32_t domid);
/* What domid makes the daemon hold: its nodes, and its connection's watches, queued
 * output and what its open transactions add to its nodes (that of c alone for
 * vxs_quota_conn_memory). */
unsigned long long vxs_quota_memory(uint32_t domid);
unsigned long long vxs_quota_conn_memory(const struct vxs_conn *c);
/* The connections' part of vxs_quota_memory: all of domid's connections. */
unsigned long long vxs_quota_conns_memory(uint32_t domid);
/* Note mem as domid's memory (soft/hard warnings); true: at or over the hard value. */
bool vxs_quota_memory_check(uint32_t domid, unsigned long long mem);
/* Would queueing n more bytes (a message with its header) for c take its domain to the hard
 * memory quota? C charges what it queues for a domain to it: such an event is dropped, such a
 * reply of more than 16 bytes becomes ENOMEM. Never for dom0. */
bool vxs_quota_out_over(const struct vxs_conn *c, size_t n);
/* A reply was queued (+1) or taken (-1) on c. */
void vxs_quota_outstanding(const struct vxs_conn *c, int delta);
/* The same for a domain by its id (nothing if it is not known). */
void vxs_quota_outstanding_dom(uint32_t domid, int delta);
/* May c's ring be read now (outstanding requests, memory, write rate)? */
bool vxs_quota_may_read(const struct vxs_conn *c);

/* vxs_quota_nodes.c: node accounting. A request's store transaction is tracked from its
 * start (vxs_quota_txn_track) to its end: applied if it committed, forgotten otherwise. */
void vxs_quota_txn_track(struct vs_txn *x, const struct vxs_conn *c, bool xs_transaction);
void vxs_quota_txn_forget(struct vs_txn *x);
/* Returns how many node writes and deletions it made (C debits each against the write rate
 * limit). */
unsigned vxs_quota_txn_apply(struct vs_txn *x);
/* At TRANSACTION_END T: -ENOSPC if it would take a domain over its node quota (C checks only
 * when the transaction created nodes and the connection is unprivileged). */
int vxs_quota_txn_check(struct vs_txn *x);
/* Before a request's changes commit (or, in an xenstore transaction, stay in it): -EIO (as
 * C's write_node_raw) if they would take an unprivileged owner of what they add (or, in an
 * xenstore transaction, the connection's own domain) to its hard memory quota. */
int vxs_quota_txn_check_memory(struct vs_txn *x);
/* The bytes x's changes so far add to its connection's domain (its own nodes'). */
long long vxs_quota_txn_own_mem(struct vs_txn *x);
/* The same while x may still commit, 0 once it failed: the refused request's bytes (still
 * in the store transaction) must not keep the domain over its quota, or its ring would not
 * be read and the TRANSACTION_END that ends it never come. */
long long vxs_quota_txn_open_mem(struct vs_txn *x);
/* A request inside a xenstore transaction failed (ENOMEM over the memory quota): its
 * TRANSACTION_END T says ENOMEM, as C's failed transaction. */
void vxs_quota_txn_fail(struct vs_txn *x);
/* Hooks of vxs_node.c, inside x. */
/* Creating path (absent; its nearest existing ancestor allows c to write) with a value of
 * vlen bytes: -ENOSPC over the nodes or node-size quota. */
int vxs_quota_may_create(const struct vxs_conn *c, struct vs_txn *x, const char *path,
                         size_t vlen);
/* Writing an existing node's value (vlen; (size_t)-1: unchanged) or perms (NULL:
 * unchanged): -ENOSPC if its record, as C stores it (a 24-byte header, 8 bytes a perms
 * entry, the value, the children's names), reaches the node-size quota. */
int vxs_quota_node_size(const struct vxs_conn *c, struct vs_txn *x, const char *path,
                        size_t vlen, const void *perms, size_t plen);
void vxs_quota_node_created(struct vs_txn *x, const char *path, size_t vlen, const void *perms,
                            size_t plen);
void vxs_quota_node_removing(struct vs_txn *x, const char *path);
/* path's value (new_vlen; (size_t)-1: unchanged) or perms (new_perms; NULL: unchanged) are
 * about to change. */
void vxs_quota_node_changing(struct vs_txn *x, const char *path, size_t new_vlen,
                             const void *new_perms, size_t new_plen);
/* The tree changed behind the accounting's back (the daemon's own commits, a restart): the
 * counts are rebuilt from the tree when next needed. */
void vxs_quota_tree_changed(void);
/* A fresh daemon's state: no store transaction tracked. */
void vxs_quota_txn_forget_all(void);
/* Rebuild the counts now if stale. */
void vxs_quota_recount(void);

/* vxs_quota_wrl.c */
void vxs_wrl_reset(void);
void vxs_wrl_domain_new(struct vxs_qdom *d);
void vxs_wrl_domain_introduced(struct vxs_qdom *d);
/* domid was introduced (dom0: at start): its qdom, sharing the write rate from now. */
void vxs_quota_domain_introduced(uint32_t domid);
void vxs_wrl_domain_gone(struct vxs_qdom *d);
bool vxs_wrl_may_read(struct vxs_qdom *d);
/* A transaction opened (+1) or ended (-1) somewhere. */
void vxs_wrl_transactions(int delta);
/* c wrote: a single request's `writes` node writes and deletions (in_tx false), or a
 * transaction's commit (in_tx true, one debit). */
void vxs_wrl_debit(const struct vxs_conn *c, bool in_tx, unsigned writes);
/* Tests: the clock the write rate limit runs on (ms; NULL: vxs_now_ms), and its reserve (in
 * thousandths of a write). */
void vxs_wrl_set_clock(uint64_t (*now_ms)(void));
int32_t vxs_wrl_reserve(void);

/* The poll loop: how long until a limit lifts or a watch event expires (ms, -1: never;
 * `timeout` is the loop's own), and what to do when it does. */
int vxs_quota_poll_timeout(int timeout);
void vxs_quota_tick(void);
/* vxs_conn.c: watch events queued for unprivileged domains expire (-w watch-event=). */
int vxs_conn_event_timeout(void);
void vxs_conn_expire_events(void);

/* vxs_quota_req.c: the requests. Each fills *out (malloc'd payload, *len bytes) or returns
 * a negative errno. */
int vxs_quota_get_feature(const struct vxs_conn *c, const void *body, size_t len, char **out,
                          size_t *olen);
int vxs_quota_set_feature(const struct vxs_conn *c, const void *body, size_t len);
int vxs_quota_get_quota(const struct vxs_conn *c, const void *body, size_t len, char **out,
                        size_t *olen);
int vxs_quota_set_quota(const struct vxs_conn *c, const void *body, size_t len);
/* CONTROL quota [set NAME VAL|DOMID] and quota-soft [set NAME VAL] (argv after the
 * command). */
int vxs_quota_control(bool soft, int argc, char **argv, char **out, size_t *olen);

#endif
