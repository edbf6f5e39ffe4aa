#!/usr/bin/env python3
"""Differential test: vxenstored against the real C xenstored (Xen 4.17). (The sequences are
made by difftest_gen.py; this file runs and compares them.)

Seeded random request sequences are sent, in lockstep, to both daemons over their Unix
sockets (raw wire protocol: header <IIII type, req_id, tx_id, len, then the payload), with
several connections per sequence, transactions, watches, permissions, relative paths,
DIRECTORY_PART and malformed requests. Replies must be identical (type, echoed req_id and
tx_id, payload), after the normalisations listed in DELIBERATE below.

Watch events are compared per connection and step: after each request, every connection
that ever asked for a watch gets a barrier request (GET_DOMAIN_PATH 0) and all the events
read on that connection until the barrier's reply form that step's list. Both daemons queue an
event before any reply to a later request of the same connection, so this catches every event
a request causes; the order of an event against the reply that caused it is compared too on
the request's own connection (how many of its events come ahead of its reply: C sends a
change's events before the reply, a WATCH's first event after its OK). The events' order
among themselves is: a connection's watches in the order they were added, a transaction's
events in the order of its first access to each node, a removed subtree's nodes children
first. An RM's events, and a
TX_END's after an RM in its transaction, are compared as multisets (DELIBERATE dir-order: the
siblings of a removed subtree come in creation order in C, by name in ours); so are all with
--sorted-events.

Each sequence works below its own names (the placeholder @B@ in a payload becomes a fresh tag
per run): /local/domain/0/@B@ (also reached by the relative path @B@), and /@B@.

DELIBERATE (documented, always tolerated; each with its normalisation):

  id           | what differs                          | why / how compared
  -------------+---------------------------------------+-----------------------------------
  dir-order    | DIRECTORY child order: C = creation   | the versioned store keeps children
               | order, ours = sorted by name (also    | sorted; compared as sorted lists
               | the order of an RM's events on the    | (an RM's events, a TX_END's after
               | removed subtree's siblings)           | an RM in it: as multisets)
  dirpart-gen  | DIRECTORY_PART generation string: C = | any decimal is a valid gencnt; only
               | global write counter, ours = node     | "is a decimal" is checked
               | version                               |
  dirpart-off  | DIRECTORY_PART at offset != 0: byte   | offsets index an order-dependent
               | offsets into differently ordered      | list; only generated as 0 and past
               | lists                                 | the end (error-vs-reply compared);
               |                                       | offset 0 children compared sorted
  watch-depth  | WATCH with a depth argument: C 4.17   | ours implements Xen 4.22's depth;
               | says EINVAL, ours OK                  | expected (EINVAL, OK); ours gets an
               |                                       | UNWATCH so both keep the same state
  c-onearg-    | READ/DIRECTORY/GET_PERMS/MKDIR/RM     | not generated: C 4.17 reads past the
  crash        | whose payload is not exactly one      | payload (random ENOENT/ENOMEM) and
  (C bug)      | NUL-terminated string                 | can die: WRITE q/c, RM it from another
               |                                       | connection, READ "q\0extra\0" ->
               |                                       | assertion `conn->in == NULL' in
               |                                       | consider_message (xenstored_core.c
               |                                       | :2118). hostile.py tests ours.
  control-help | CONTROL help: ours = C's text, then    | ours has more commands (history,
               | lines for its own commands            | gc); C's part compared exactly
  memreport-   | CONTROL memreport without a file: C   | not generated: ours answers with
  text         | appends talloc's report to the -T     | its own report (what `vxs
               | file (EINVAL without one)             | memreport` shows); with a file
               |                                       | both append and say OK
  tx-memory    | CONTROL quota 0 while a transaction is | C charges the transaction's copies
               | open: C's memory figure is higher     | of nodes it read or wrote (with its
               |                                       | generation in the key) to the
               |                                       | connection's domain; ours counts
               |                                       | at the commit (vxenstored.8). Only
               |                                       | that line is masked
  xs421-ops    | GET/SET_FEATURE, GET/SET_QUOTA (types | ours implements Xen 4.21's types;
               | 23-26): C 4.17 says ENOSYS            | expected (ENOSYS, anything); only
               |                                       | requests that change nothing are
               |                                       | generated (tests/xenstored/quota.py
               |                                       | checks ours)

  c-tx-stale-  | in a transaction the store changed    | C 4.17's view is then inconsistent
  view         | under (WRITE, MKDIR, RM or SET_PERMS  | (a DIRECTORY listing a child twice;
  (C bug)      | outside it, or another commit): a     | a child of a node it removed read
               | node request (READ, WRITE, MKDIR, RM, | from the global store; an RM that
               | DIRECTORY(_PART), GET/SET_PERMS), then| met a listed child gone says EIO
               | anything but TX_END in that tx: C and | and removes the children before it,
               | ours see different nodes              | in creation order in C, by name in
               |                                       | ours). Tolerated only if C and ours
               |                                       | then end the transaction alike and
               |                                       | C with EAGAIN (or an abort); one
               |                                       | left open is ended after the run

  abs-path-  | a path of more than 3072 characters   | ours keeps to xs_wire.h's
  max        | after CONTROL quota set path-max      | XENSTORE_ABS_PATH_MAX; tolerated
             | raised the quota: C OK, ours EINVAL   | (the sequence stops there; its
             |                                       | trees are removed after it)
  domid-any  | perms naming DOMID_ANY (32756): C 4.17| not generated (ours implements
             | does not know it (ENOENT as owner)    | newer Xen's DOMID_ANY)
  perms-     | (--guest: ours not --socket-only)     | GET_PERMS compared without such
  unknown    | SET_PERMS entries (after the owner)   | entries; the guest's SET_PERMS
             | naming a domain that does not exist:  | name only dom0 and itself (the
             | C keeps them, marked ignored; ours    | node-size quota counts C's 8
             | drops them (vxenstored.8)             | bytes per entry, ours none)
  rm-txnodes-| (--guest) an RM in a transaction that | DELIBERATE_IDS: ours keeps RM
  eio (C bug)| reaches transaction-nodes: C removes  | atomic; the sequence stops there
             | part of the subtree, says EIO; ours   | (vxenstored.8)
             | ENOSPC, nothing removed               |
  tx-memory- | (--guest) at a small memory quota     | DELIBERATE_IDS (tx-memory: C's
  quota      | while the guest has a transaction     | copies); the sequence stops there.
             | open: C refuses (EIO, ENOMEM), drops  | (C's stall then also keeps the
             | a watch event or stops reading its    | guest's TRANSACTION_END out: it
             | ring (TIMEOUT) sooner than ours       | is stuck; ours reads it)
  memory-    | (--guest) a WRITE/SET_PERMS of an     | DELIBERATE_IDS (vxenstored.8): C
  errno      | existing node refused by the owner's  | means EIO (write_node_raw) but
  (C bug)    | memory quota: C answers a stale errno | returns errno, which nothing set
             | (ENOENT, EAGAIN...), ours EIO         |
  release-   | (--guest) RELEASE of a SET_TARGET     | DELIBERATE_IDS (vxenstored.8): a
  target-ref | target (6 5, or 5 5): C says OK, only | RELEASE acknowledged but not done;
  (C bug)    | drops the talloc reference SET_TARGET | compared: the release step's
             | took, keeps the domain (no event, its | events, one list part of the
             | nodes stay) until a second RELEASE or | other; the sequence stops there
             | Xen says it is gone; ours releases it |

CONTROL quota / quota-soft (list, set to the default value, bad names and values, unknown
domains) are compared like any request: C 4.17's texts and errors. So is "quota 0", dom0's
figures (nodes, watches, transactions, outstanding, memory: C's accounting, all of it; the
memory line only while no transaction is open, see tx-memory).
So are CONTROL check, print, log on|off, live-update -a/-c/-s (never a session in either),
memreport and logfile with wrong arguments or an unwritable file, and their wrong argument
counts.

GUEST CONNECTIONS (--guest, with --c-guest/--v-guest: diff.sh runs 150 such sequences, then 150
with two guests, against a second C xenstored and a vxenstored under the shim, not
--socket-only): one connection of each sequence is domain 5 (with two proxy sockets given as
--c-guest A,B: domains 5 and 6, each other's homes among the paths, both in SET_PERMS, and
SET_TARGET 6 5 among the extras: 6 as 5's device model), over a real xenstore ring page and
event channel (tests/xenstored/ring_proxy.c relays the wire protocol between a Unix socket and
the ring, a new incarnation of the guest per connection). Before the sequence dom0 (on an extra
admin connection) makes /local/domain/5 (owned by 5, or by dom0 with read for 5, as libxl),
/@B@ with perms that let 5 in or not, sets small quotas (nodes 8/15, watches 2/4, transactions
1/2, transaction-nodes 3/6, node-size 40/300, permissions 1/2, path-max 30, memory
1500/3000/6000, outstanding 1/2, each or the default), maybe WATCHes
@introduceDomain/@releaseDomain on conn0, and INTRODUCEs 5 (setup replies and events compared);
the sequence ends with RM /local/domain/5 and RELEASE 5 from conn0 (replies and events
compared; then the guest's connection is gone; with two guests 6 is released first, or 5 first:
release-target-ref); quotas are set back after it. The guest's requests are the same
generator's (relative paths are below /local/domain/5, and its home is one of the bases),
SET_PERMS name it as owner or in the list, and extra requests ask "quota 5" (its figures: C's
accounting), SET_TARGET 5 0 or 5 5 (once a sequence), SET_QUOTA from the guest (C ENOSYS:
xs421-ops; ours EACCES), and one sequence in 7 has a burst of 12-30 WRITEs by the guest while
dom0 has a transaction open (XSA-206's write rate limit, whose rates are compile-time constants
in C: the guest's burst of 10, then a reserve of 1000 writes that the domains' unused credit
fills; past both, its ring is not read until time pays. The replies are compared; when each
daemon stalls is latency, which is not: ours stopped after 10 writes until it credited every
domain with a ring for the reserve, as C does, which a timing comparison outside this test
showed: 40 such writes took 0.1-0.3 ms each in C, some 10 ms each after the 10th in ours). So
permissions of an unprivileged domain, ownership of what it creates, the owner's rights,
quotas, its watches and what their events may show it, its transactions, GET_DOMAIN_PATH /
IS_DOMAIN_INTRODUCED and the special watches are compared with C. An oversized request from the
guest makes both daemons stop serving it (both time out: then the connection is dropped). The
guest's page is the shim's gnt.5.1, so INTRODUCE of another domain (the extras') finds no page
in either daemon. The memory quota (charged to a node's owner, whoever writes: dom0's writes to
the guest's nodes are refused too) is compared up to the guest's transactions, where C charges
more (tx-memory-quota). The outstanding-requests quota (XSA-326: replies, and requests whose
watch events are not yet written out) is set to 1 or 2 but never reached: the test sends one
request at a time and the ring proxy and the sockets take what is written at once; so it checks
only that ours, too, does not stall a guest at such a quota (and "quota N"'s outstanding 0).
Reaching it needs a reader that stops reading.
RELEASE, RESUME, SET_TARGET and INTRODUCE are generated only where both refuse them (domains
that do not exist, dom0 for RELEASE/RESUME, bad arguments) or accept them without effect
(INTRODUCE of dom0, SET_TARGET 0 0): C's texts and errors.

KNOWN_TO_FIX (real divergences of vxenstored found by this test; the table TO_FIX below gives
each one's description and matcher; tolerated unless --strict, counted at the end. A
"stateful" one may leave the two stores different, so the rest of that sequence is skipped):

  (none: those found are deliberate, DELIBERATE_IDS below, or fixed)

Fixed in vxenstored and taken out of TO_FIX (so that the default, non-strict run fails if one
comes back; none was met in 18000 sequences of other seeds, some 150 requests long):
domid-atoi, perms-lenient, txend-arg-first, dirpart-past-end, dirpart-offset-atoi,
unwatch-args, rm-watch-below, path-max-2048, watch-dup-event, perms-owner-unknown,
setperms-badpath (see git history for what each was; the last two: --socket-only now knows dom0
alone as owner, as C under the shim); and memory-owner-quota (--guest: C checks the node
owner's memory quota whoever writes, dom0 too, and a refused node write is EIO; none in some
4000 guest sequences with memory quotas since). Found and fixed without a TO_FIX entry: the
order of one change's events (watches newest first; a transaction's in the order of its
changes; a removed subtree's by watch), WATCH/UNWATCH of "@/"-like special names (EINVAL),
CONTROL quota set path-max above 2048 (capped): 127 of 1000 default sequences differed before.

Usage: difftest.py --c SOCKET --v SOCKET [--seqs 200] [--reqs 50] [--seed0 1]
                   [--mix tx|perms|watch|dirs|limits] [--conns 4]
                   [--seed N] [--strict] [--sorted-events] [--no-minimise] [-v]
Exit: 0 = no undocumented difference; 1 = undocumented difference (minimal repro printed);
2 = a daemon could not be reached.
"""
import argparse
import os
import re
import select
import socket
import struct
import sys
import time

from difftest_gen import GUEST_DOMID, GUESTS, MIXES, QUOTA_DEFAULTS, T, Gen, home

# ---- wire ------------------------------------------------------------------------------
HDR = struct.Struct('<IIII')
REPLY_TIMEOUT = 5.0

# ---- KNOWN_TO_FIX: divergences of vxenstored from C xenstored 4.17 --------------------
# Each entry: id, description, matcher(req, c_reply, v_reply) -> bool, stateful (True when
# the divergence can leave the two stores different: the rest of the sequence is skipped).
# A reply is (type, req_id, tx_id, payload) or a string ('TIMEOUT', 'EOF', 'DEAD').

def _err(r, name=None):
    return isinstance(r, tuple) and r[0] == T['ERROR'] and (
        name is None or r[3] == name.encode() + b'\0')


def _ok_type(r, t):
    return isinstance(r, tuple) and r[0] == t


def _submultiset(a, b):
    return all(a.count(e) <= b.count(e) for e in a)


def _nstr(payload):
    return payload.count(b'\0')


TO_FIX = [
    ('at-path-node-op',
     'a node operation (READ, WRITE, MKDIR, RM, DIRECTORY, GET_PERMS) on a path starting '
     'with "@" ("@introduceDomain", "@foo"): C does not make it relative and says EINVAL; '
     'ours resolves it as a relative path (/local/domain/0/@foo): WRITE/MKDIR create it',
     lambda q, c, v, x: q.tag == 'special' and _err(c, 'EINVAL') and not _err(v, 'EINVAL'),
     lambda q, c, v: q.type in (T['WRITE'], T['MKDIR']) and not _err(v)),
]


def _abs_len(q, payload):
    """The length of the absolute path a node or watch request names (dom0's relative
    paths are below /local/domain/0/)."""
    p = payload.split(b'\0', 1)[0]
    return len(p) if p.startswith(b'/') else 16 + len(p)


TO_FIX.append(
    ('abs-path-max',
     'a path longer than XENSTORE_ABS_PATH_MAX (3072) once CONTROL quota set path-max has '
     'raised the quota beyond it: C 4.17 accepts it (it checks the quota alone), ours says '
     'EINVAL (UNWATCH: ENOENT)',
     lambda q, c, v, x: (not x.get('events') and x.get('payload') is not None and
                         q.type in (T['WRITE'], T['MKDIR'], T['RM'], T['READ'], T['WATCH'],
                                    T['UNWATCH'], T['DIRECTORY'], T['GET_PERMS'],
                                    T['SET_PERMS'], T['DIRECTORY_PART']) and
                         _abs_len(q, x['payload']) > 3072 and
                         (_err(v, 'EINVAL') or (_err(v, 'ENOENT') and
                                                q.type == T['UNWATCH'])) and
                         not _err(c, 'EINVAL')),
     True))
TO_FIX.append(
    ('rm-txnodes-eio',
     'an unprivileged RM inside a transaction that reaches the transaction-nodes quota '
     '(--guest): C 4.17 stops its walk at the node access refused, keeps the removals made '
     'so far in the transaction, and says EIO (the parent cannot be rewritten); ours refuses '
     'the RM whole with ENOSPC and the transaction is unchanged',
     lambda q, c, v, x: (not x.get('events') and q.type == T['RM'] and q.tx[0] != 'n' and
                         _err(c, 'EIO') and _err(v, 'ENOSPC')),
     True))
TO_FIX.append(
    ('tx-memory-quota',
     '(--guest) while the guest has a transaction open, C 4.17 charges it a copy of '
     'every node the transaction read or wrote (DELIBERATE tx-memory: ours counts what the '
     'transaction adds), so at a small memory quota C refuses sooner (EIO for a node write, '
     'ENOMEM for a watch or a long reply), drops a watch event for the guest sooner, or '
     'stops reading its ring sooner (no reply: TIMEOUT) where ours goes ahead',
     lambda q, c, v, x: (GUEST_MEMORY and x.get('gtx') and (
         (x.get('events') and len(c) < len(v) and all(c.count(e) <= v.count(e) for e in c))
         or (not x.get('events') and c != v and
             (c == 'TIMEOUT' or _err(c, 'EIO') or _err(c, 'ENOMEM'))))),
     True))
TO_FIX.append(
    ('memory-errno',
     '(--guest) a WRITE or SET_PERMS of an existing node refused by its owner\'s memory '
     'quota: C 4.17\'s do_write/do_set_perms answer errno, which write_node_raw did not set '
     '(it returns EIO): a stale value (ENOENT, EAGAIN, ...); ours says EIO, as C does for a '
     'new node',
     lambda q, c, v, x: (GUEST_MEMORY and not x.get('events') and
                         q.type in (T['WRITE'], T['SET_PERMS']) and _err(v, 'EIO') and
                         _err(c) and not _err(c, 'EIO')),
     False))
TO_FIX.append(
    ('release-target-ref',
     '(--guest) RELEASE of a domain that is a target (SET_TARGET 6 5, or 5 5): C 4.17 says OK '
     'but only drops the talloc reference SET_TARGET took on its connection, so the domain '
     'stays (its connection, nodes, quotas; no @releaseDomain, no events for its removed '
     'nodes) until another RELEASE, or until Xen says it is gone (then its events come '
     'late); ours releases it at once. (Only the release step\'s events differ, one list '
     'part of the other; the sequence stops there.)',
     lambda q, c, v, x: (q.tag == 'release' and x.get('events') and c != v and
                         (_submultiset(c, v) or _submultiset(v, c))),
     True))
TO_FIX_BY_ID = {k[0]: k for k in TO_FIX}

# DELIBERATE c-tx-stale-view: the request types whose replies may differ in a transaction
# that nodes it had seen were removed under.
STALE_VIEW_TYPES = {T['READ'], T['DIRECTORY'], T['DIRECTORY_PART'], T['GET_PERMS'], T['RM'],
                    T['WRITE'], T['MKDIR'], T['SET_PERMS']}
MODIFYING_TYPES = {T['WRITE'], T['MKDIR'], T['RM'], T['SET_PERMS']}


# Entries of TO_FIX that turned out to be deliberate (tolerated even with --strict):
#  - at-path-node-op: what remains is GET_PERMS of "@..." names, which ours answers as
#    newer C xenstored does (@introduceDomain and @releaseDomain have perms, which say who
#    may watch them; another name is ENOENT); C 4.17 says EINVAL to every GET_PERMS of an
#    "@" name. (SET_PERMS of the two works in both; of another "@" name C 4.17 answers
#    whatever errno an earlier call left, often ENOENT, its intent being EINVAL: a C bug;
#    ours says ENOENT, as newer Xen.) Other node operations on "@..." paths say EINVAL in
#    both.
#  - abs-path-max: paths stay within the protocol's XENSTORE_ABS_PATH_MAX (xs_wire.h) in
#    ours whatever the path-max quota (vxenstored.8); only met after CONTROL quota set
#    path-max above ~3050 (--mix limits).
#  - rm-txnodes-eio: C 4.17 leaves a half-removed subtree in the transaction and says EIO;
#    ours keeps RM atomic (vxenstored.8). Met only with a small transaction-nodes quota.
DELIBERATE_IDS = {'at-path-node-op', 'abs-path-max', 'rm-txnodes-eio', 'tx-memory-quota',
                  'memory-errno', 'release-target-ref'}


# ---- a daemon under test ---------------------------------------------------------------
class Daemon:
    def __init__(self, name, path, guest_path=None):
        self.name, self.path, self.guest_path = name, path, guest_path
        self.admin = None
        self.parked = []    # the guest's connection after both stopped serving it
        self.socks = []
        self.bufs = []
        self.events = []
        self.rid = 0
        self.before = 0

    def open(self, n):
        self.close()
        for _ in range(n):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.path)
            self.socks.append(s)
            self.bufs.append(b'')
            self.events.append([])

    def close(self):
        for s in self.socks:
            if s is not None:
                s.close()
        self.socks, self.bufs, self.events = [], [], []
        if self.admin is not None:
            self.admin.close()
            self.admin = None
        for s in self.parked:
            s.close()
        self.parked = []

    def open_guest(self, n, setup, tagb):
        """n connections, the last one the guest's (through its ring proxy), made by the
        setup requests (on a dom0 admin connection or a numbered one). Returns the setup's
        replies and conn0's events."""
        self.open(n - len(GUESTS))
        self.admin = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.admin.connect(self.path)
        ports = []
        for path in self.guest_path.split(','):
            g = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            g.connect(path)
            g.settimeout(REPLY_TIMEOUT)
            port = b''
            while len(port) < 4:
                d = g.recv(4 - len(port))
                if not d:
                    raise ConnectionError('%s: the ring proxy closed' % path)
                port += d
            g.settimeout(None)
            self.socks.append(g)
            self.bufs.append(b'')
            self.events.append([])
            ports.append(b'%d' % struct.unpack('<I', port)[0])
        reps = []
        for i, (c, t, pl) in enumerate(setup):
            pl = pl.replace(b'@B@', tagb)
            for k, port in enumerate(ports):
                pl = pl.replace(b'@PORT%d@' % k, port)
            reps.append(self.admin_request(t, pl, 0x7ff00000 + i) if c == 'admin' else
                        self.request(c, t, 0, pl, 0x7ff00000 + i))
        if any(c == 0 for c, _, _ in setup):
            reps.append(self.request(0, T['GET_DOMAIN_PATH'], 0, b'0\0', 0x7ff0ffff))
        return reps, self.take_events(0, True)

    def admin_request(self, type_, payload, rid):
        """A request on the admin connection (no events there)."""
        self.socks.append(self.admin)
        self.bufs.append(b'')
        self.events.append([])
        try:
            return self.request(len(self.socks) - 1, type_, 0, payload, rid)
        finally:
            self.socks.pop()
            self.bufs.pop()
            self.events.pop()

    def guest_teardown(self, tagb):
        """What the sequence's own cleanup may not have done (minimised runs): the guest's
        trees removed, quotas back to the defaults, the domain released."""
        if self.admin is None:
            return
        for i, pl in enumerate([home(d) + b'\0' for d in GUESTS] +
                               [b'/' + tagb + b'\0', b'/local/domain/0/' + tagb + b'\0']):
            self.admin_request(T['RM'], pl, 0x7ff10000 + i)
        for name, v in QUOTA_DEFAULTS.items():
            self.admin_request(T['CONTROL'], b'quota\0set\0' + name + b'\0' + v + b'\0',
                               0x7ff20000)
        for d in reversed(GUESTS):
            # twice: C 4.17's first RELEASE of a domain that is its own target (SET_TARGET
            # 5 5) only drops that reference (release-target-ref), if the sequence's own
            # RELEASE did not come (its connection gone)
            self.admin_request(T['RELEASE'], b'%d\0' % d, 0x7ff30000)
            self.admin_request(T['RELEASE'], b'%d\0' % d, 0x7ff30001)

    def _read_msg(self, c, deadline):
        s = self.socks[c]
        while True:
            b = self.bufs[c]
            if len(b) >= 16:
                t, rid, tx, ln = HDR.unpack_from(b)
                if len(b) >= 16 + ln:
                    self.bufs[c] = b[16 + ln:]
                    return (t, rid, tx, b[16:16 + ln])
            left = deadline - time.monotonic()
            if left <= 0:
                return 'TIMEOUT'
            rd, _, _ = select.select([s], [], [], left)
            if not rd:
                return 'TIMEOUT'
            try:
                d = s.recv(65536)
            except OSError:
                d = b''
            if not d:
                return 'EOF'
            self.bufs[c] += d

    def request(self, c, type_, tx, payload, rid, timeout=REPLY_TIMEOUT):
        """Send one request on connection c; return its reply (events are stored)."""
        if self.socks[c] is None:
            return 'DEAD'
        try:
            self.socks[c].sendall(HDR.pack(type_, rid, tx, len(payload)) + payload)
        except OSError:
            self.socks[c].close()
            self.socks[c] = None
            return 'EOF'
        deadline = time.monotonic() + timeout
        self.before = len(self.events[c])
        while True:
            m = self._read_msg(c, deadline)
            if isinstance(m, str):
                if m == 'EOF':
                    self.socks[c].close()
                    self.socks[c] = None
                return m
            if m[0] == T['WATCH_EVENT'] and m[1] == 0:
                # an event's header says tx 0 in both: any other is shown
                self.events[c].append(m[3] if m[2] == 0 else b'<tx %d>' % m[2] + m[3])
                continue
            self.before = len(self.events[c]) - self.before  # events ahead of the reply
            return m

    def take_events(self, c, ordered=False):
        e = list(self.events[c]) if ordered else sorted(self.events[c])
        self.events[c] = []
        return e


# ---- comparison --------------------------------------------------------------------------
PAD_RE = re.compile(rb'@([ST])PAD(\d+)@')


def pad(payload):
    """Expand a length marker (after the tag substitution, whose length varies): @SPADn@
    grows its NUL-terminated string to n bytes, @TPADn@ the whole payload to n bytes."""
    m = PAD_RE.search(payload)
    if not m:
        return payload
    kind, n = m.group(1), int(m.group(2))
    rest = payload[:m.start()] + payload[m.end():]
    if kind == b'T':
        have = len(rest)
    else:
        start = payload.rfind(b'\0', 0, m.start()) + 1
        end = rest.find(b'\0', start)
        have = (end if end >= 0 else len(rest)) - start
    return payload[:m.start()] + b'p' * max(0, n - have) + payload[m.end():]



def is_decimal(b):
    return len(b) > 0 and b.isdigit()


KNOWN_DOMIDS = None     # with --guest: the domains that exist (perms-unknown)
GUEST_MEMORY = False    # --guest: small memory quotas among the guest's (tx-memory-quota)


def normalise(q, rep):
    """Apply the DELIBERATE normalisations to a reply of request q."""
    if not isinstance(rep, tuple):
        return rep
    t, rid, tx, p = rep
    if KNOWN_DOMIDS and t == T['GET_PERMS'] and q.type == T['GET_PERMS'] and p:
        # DELIBERATE perms-unknown: C lists entries (after the owner) of domains that do not
        # exist, marked ignored; ours drops them
        ents = p.split(b'\0')[:-1]
        keep = ents[:1] + [e for e in ents[1:] if int(e[1:]) in KNOWN_DOMIDS]
        return (t, rid, tx, b''.join(e + b'\0' for e in keep))
    if t == T['DIRECTORY'] and q.type == T['DIRECTORY']:
        kids = p.split(b'\0')[:-1] if p else []
        return (t, rid, tx, b'\0'.join(sorted(kids)) + (b'\0' if kids else b''))
    if t == T['DIRECTORY_PART'] and q.type == T['DIRECTORY_PART']:
        parts = p.split(b'\0')
        gen = parts[0]
        rest = sorted(parts[1:-1])
        return (t, rid, tx, (b'<gen>' if is_decimal(gen) else b'<badgen:' + gen + b'>') +
                b'|' + b'|'.join(rest))
    return rep


class Runner:
    def __init__(self, args):
        self.args = args
        self.c = Daemon('C', args.c, args.c_guest)
        self.v = Daemon('vxs', args.v, args.v_guest)
        self.gen = None     # the Gen of the sequence being run (its guest setup)
        self.nguest = 0     # requests sent on the guest's connection
        self.runs = 0
        self.nreq = 0
        self.ncmp = 0
        self.known = {}
        self.skipped_tails = 0
        self.stops = {}
        self.gtx = False    # a guest has a transaction open (C's copies: tx-memory-quota)
        # per invocation, so that reruns against the same daemons start from fresh names
        self.nonce = 'q%x' % ((os.getpid() * 7919 + int(time.time())) % 0xfffff)

    def classify(self, q, crep, vrep, badtx, events=None, payload=None):
        """The KNOWN_TO_FIX entry explaining this difference, or None."""
        x = {'badtx': badtx, 'events': events, 'payload': payload, 'gtx': self.gtx}
        for k in TO_FIX:
            if k[2](q, crep, vrep, x):
                return k
        return None

    def tolerate(self, k, q, crep, vrep):
        """Count a KNOWN_TO_FIX difference; True if the rest of the sequence must go."""
        self.known[k[0]] = self.known.get(k[0], 0) + 1
        if k[3] is True or (k[3] and k[3](q, crep, vrep)):
            self.skipped_tails += 1
            self.stops[k[0]] = self.stops.get(k[0], 0) + 1
            return True
        return False

    def guest_gone(self, g, watchers, released=True, conn=None):
        """The guest's connection is over in both daemons: later requests on it are DEAD.
        Unless it was released, the proxy's connection stays open until the teardown: the
        domain still exists (the shim's dom.5) while the daemons ignore it."""
        conn = g.guest if conn is None else conn
        watchers.discard(conn)
        for d in (self.c, self.v):
            if d.socks[conn] is not None:
                if released:
                    d.socks[conn].close()
                else:
                    d.parked.append(d.socks[conn])
                d.socks[conn] = None

    def run(self, reqs, nconn, tag):
        """Run a request list on both daemons. Returns None if all equal (or tolerated),
        else (index, description)."""
        self.runs += 1
        tagb = (tag + self.nonce).encode()
        g = self.gen if self.gen is not None and self.gen.guest is not None else None
        watchers = set()
        if g is None:
            self.c.open(nconn)
            self.v.open(nconn)
        else:
            sc, ec = self.c.open_guest(nconn, g.setup, tagb)
            sv, ev = self.v.open_guest(nconn, g.setup, tagb)
            if sc != sv or ec != ev:
                self.c.guest_teardown(tagb)
                self.v.guest_teardown(tagb)
                self.c.close()
                self.v.close()
                return (0, 'the guest setup (%r) differs: C %r events %r, vxenstored %r '
                        'events %r' % (g.setup, sc, ec, sv, ev))
            if g.watch_intro:
                watchers.add(0)
        slots = {self.c: [dict() for _ in range(nconn)], self.v: [dict() for _ in range(nconn)]}
        opentx = [set() for _ in range(nconn)]     # tx ids open on C, per connection
        stale = set()       # (conn, C tx id) open while the store changed outside them
        rm_in_tx = set()    # (conn, C tx id) that had an RM (their events' order: dir-order)
        diverged = {}       # stale transactions whose view differed (c-tx-stale-view): the
                            # index of the first difference and ours' tx id
        try:
            for i, q in enumerate(reqs):
                payload = pad(q.payload.replace(b'@B@', tagb))
                rid = 1 + 2 * i
                self.gtx = g is not None and any(opentx[w] for w in g.guests)
                reps = {}
                txids = {}
                ahead = {}
                for d in (self.c, self.v):
                    if q.tx[0] == 'n':
                        txid = 0
                    elif q.tx[0] == 'r':
                        txid = q.tx[1]
                    else:
                        txid = slots[d][q.conn].get(q.tx[1], 90000 + q.tx[1])
                    txids[d] = txid
                    # An oversized request on a ring: both stop serving that domain (C
                    # ignores it), so no reply comes; waited for a shorter while.
                    # So is C's while a guest's transaction is open (tx-memory-quota).
                    rep = d.request(q.conn, q.type, txid, payload, rid,
                                    1.0 if g is not None and q.conn in g.guests and
                                    (len(payload) > 4096 or (self.gtx and d is self.c))
                                    else REPLY_TIMEOUT)
                    ahead[d] = d.before if isinstance(rep, tuple) else None
                    if q.type == T['TX_START'] and q.tag.startswith('start'):
                        slot = int(q.tag[5:])
                        if isinstance(rep, tuple) and rep[0] == T['TX_START'] and \
                                is_decimal(rep[3].rstrip(b'\0')):
                            slots[d][q.conn][slot] = int(rep[3].rstrip(b'\0'))
                    reps[d] = rep
                ctx = txids[self.c]
                badtx = ctx != 0 and ctx not in opentx[q.conn]
                self.nreq += 1
                if g is not None and q.conn in g.guests:
                    self.nguest += 1
                if g is not None and q.conn in g.guests and reps[self.c] == 'TIMEOUT' and \
                        reps[self.v] == 'TIMEOUT':
                    if self.args.verbose:
                        print('guest TIMEOUT in both: %r' % q)
                    # both stopped serving the guest (an oversized request: C ignores the
                    # domain from then on): its later requests would only wait
                    self.guest_gone(g, watchers, False, q.conn)
                if g is not None and q.tag == 'release':
                    # the guest is gone: its connection too (the proxy sees it close)
                    rel = int(q.payload.rstrip(b'\0'))
                    for gc, gd in g.gdom.items():
                        if gd == rel:
                            self.guest_gone(g, watchers, True, gc)
                if q.type == T['WATCH']:
                    watchers.add(q.conn)
                # barriers: every connection that may receive events
                bar = {}
                for d in (self.c, self.v):
                    # (a guest's while a guest's transaction is open: C may have stopped
                    # reading its ring, tx-memory-quota; waited for a shorter while)
                    gtx = g is not None and any(opentx[x] for x in g.guests)
                    bar[d] = [(w, d.request(w, T['GET_DOMAIN_PATH'], 0, b'0\0', rid + 1,
                                            1.0 if gtx and w in g.guests and d is self.c
                                            else REPLY_TIMEOUT))
                              for w in sorted(watchers)]
                crep, vrep = reps[self.c], reps[self.v]
                if q.tag == 'control' and payload.split(b'\0')[:-1] == [b'help'] and \
                        _ok_type(crep, T['CONTROL']) and _ok_type(vrep, T['CONTROL']) and \
                        vrep[3].startswith(crep[3].rstrip(b'\0')) and crep[1:3] == vrep[1:3]:
                    # DELIBERATE control-help: ours lists C's commands as C does, then its own.
                    self.known['(deliberate) control-help'] = \
                        self.known.get('(deliberate) control-help', 0) + 1
                    continue
                if q.tag == 'quota' and payload in (b'quota\0' + b'0\0',
                                                    ) + tuple(b'quota\0%d\0' % d
                                                              for d in GUESTS) and \
                        any(opentx[w] for w in range(nconn)) and \
                        _ok_type(crep, T['CONTROL']) and _ok_type(vrep, T['CONTROL']):
                    # DELIBERATE tx-memory: C charges dom0 for its open transactions' copies
                    # of nodes; the other figures are compared.
                    crep = crep[:3] + (re.sub(rb'memory( *): *[0-9]+', rb'memory\1: <tx>',
                                              crep[3]),)
                    vrep = vrep[:3] + (re.sub(rb'memory( *): *[0-9]+', rb'memory\1: <tx>',
                                              vrep[3]),)
                    if crep == vrep:
                        self.known['(deliberate) tx-memory'] = \
                            self.known.get('(deliberate) tx-memory', 0) + 1
                if q.tag == 'xs421' and _err(crep, 'ENOSYS'):
                    # DELIBERATE xs421-ops: C 4.17 does not know the type.
                    self.known['(deliberate) xs421-ops'] = \
                        self.known.get('(deliberate) xs421-ops', 0) + 1
                    continue
                if q.tag == 'depth' and _err(crep, 'EINVAL'):
                    # DELIBERATE watch-depth: C 4.17 says EINVAL, ours registers it (or
                    # refuses it for its own reasons, e.g. EEXIST).
                    if _ok_type(vrep, T['WATCH']):
                        self.v.request(q.conn, T['UNWATCH'], 0,
                                       payload.rsplit(b'\0', 2)[0] + b'\0', 0x7fff0000)
                    self.v.request(q.conn, T['GET_DOMAIN_PATH'], 0, b'0\0', 0x7fff0001)
                    for c in range(nconn):
                        self.c.take_events(c)
                        self.v.take_events(c)
                    self.known['(deliberate) watch-depth'] = \
                        self.known.get('(deliberate) watch-depth', 0) + 1
                    continue
                self.ncmp += 1
                if (q.conn, ctx) in diverged and q.type == T['TX_END'] and not badtx and \
                        not _err(crep, 'EINVAL'):
                    # DELIBERATE c-tx-stale-view: the two views differed, which is tolerated
                    # only if C's commit fails (EAGAIN; or the transaction is aborted) and
                    # ours says the same: then no client could act on the difference.
                    first = diverged.pop((q.conn, ctx))[0]
                    if normalise(q, crep) != normalise(q, vrep) or not (
                            _err(crep, 'EAGAIN') or (payload == b'F\0' and not _err(crep))):
                        return (i, 'c-tx-stale-view not confirmed: the transaction whose '
                                'view differed at request %d ends with C %r, vxenstored %r'
                                % (first, crep, vrep))
                if normalise(q, crep) != normalise(q, vrep):
                    k = self.classify(q, crep, vrep, badtx, payload=payload)
                    if k is None and (q.conn, ctx) in stale and not badtx and \
                            q.type != T['TX_END'] and (
                                q.type in STALE_VIEW_TYPES or (q.conn, ctx) in diverged):
                        self.known['(deliberate) c-tx-stale-view'] = \
                            self.known.get('(deliberate) c-tx-stale-view', 0) + 1
                        diverged.setdefault((q.conn, ctx), (i, txids[self.v]))
                    elif k is None or (self.args.strict and k[0] not in DELIBERATE_IDS):
                        return (i, 'reply differs: C %r, vxenstored %r%s' % (
                            crep, vrep, ' (known, to fix: %s)' % k[0] if k else ''))
                    elif self.tolerate(k, q, crep, vrep):
                        return None
                if ahead[self.c] != ahead[self.v] and normalise(q, crep) == normalise(q, vrep) \
                        and not (q.tag == 'release' and
                                 self.c.events[q.conn] != self.v.events[q.conn]):
                    # (a RELEASE whose events differ: compared below, release-target-ref)
                    # the request's own connection: its events queued before the reply (C: a
                    # change's events go first, a new watch's event after the WATCH's OK)
                    return (i, 'events ahead of the reply on conn%d differ: C %r, vxenstored '
                            '%r (reply %r)' % (q.conn, ahead[self.c], ahead[self.v], crep))
                # Transactions the store changed under (c-tx-stale-view)
                if (ctx == 0 and q.type in MODIFYING_TYPES and _ok_type(crep, q.type)) or (
                        q.type == T['TX_END'] and _ok_type(crep, T['TX_END']) and ctx != 0):
                    stale.update((w, t) for w in range(nconn) for t in opentx[w]
                                 if (w, t) != (q.conn, ctx))
                if q.type == T['RM'] and ctx != 0:
                    rm_in_tx.add((q.conn, ctx))
                # C's open transactions (for "unknown tx id")
                if q.type == T['TX_START'] and _ok_type(crep, T['TX_START']):
                    opentx[q.conn].add(int(crep[3].rstrip(b'\0')))
                elif q.type == T['TX_END'] and not badtx and not _err(crep, 'EINVAL'):
                    opentx[q.conn].discard(ctx)
                elif q.type == T['RESET_WATCHES'] and _ok_type(crep, T['RESET_WATCHES']):
                    opentx[q.conn].clear()
                    for key in [key for key in diverged if key[0] == q.conn]:
                        del diverged[key]   # ended without a commit in both
                for (w, bc), (_, bv) in zip(bar[self.c], bar[self.v]):
                    if g is not None and w in g.guests and bc == bv == 'TIMEOUT':
                        self.guest_gone(g, watchers, False, w)
                    if bc != bv and bc == 'TIMEOUT' and GUEST_MEMORY and w in g.guests and \
                            any(opentx[x] for x in g.guests):
                        # tx-memory-quota: C's copies of the nodes a guest's transaction
                        # read took it to its hard memory quota, and C stopped reading its
                        # ring (its TRANSACTION_END too: it stays stuck)
                        self.tolerate(TO_FIX_BY_ID['tx-memory-quota'], q, bc, bv)
                        return None
                    if bc != bv and not (isinstance(bc, tuple) and isinstance(bv, tuple) and
                                         bc[0] == bv[0] and bc[3] == bv[3]):
                        return (i, 'barrier on conn%d differs: C %r, vxenstored %r' %
                                (w, bc, bv))
                for c in range(nconn):
                    # (RELEASE: the nodes the domain owned are given to dom0, each an
                    # event, in a walk of the tree: dir-order)
                    ordered = not self.args.sorted_events and q.type not in (
                        T['RM'], T['RELEASE']) and not (
                        q.type == T['TX_END'] and (q.conn, ctx) in rm_in_tx)
                    ec, ev = self.c.take_events(c, ordered), self.v.take_events(c, ordered)
                    if ec != ev:
                        k = self.classify(q, ec, ev, badtx, events=True)
                        if k is None or (self.args.strict and k[0] not in DELIBERATE_IDS):
                            return (i, 'watch events on conn%d differ: C %r, vxenstored %r%s' %
                                    (c, ec, ev, ' (known, to fix: %s)' % k[0] if k else ''))
                        self.tolerate(k, q, ec, ev)
            # c-tx-stale-view transactions still open: their commits must fail in C.
            for (c, ctx), (first, vtx) in sorted(diverged.items()):
                crep = self.c.request(c, T['TX_END'], ctx, b'T\0', 0x7ffe0000)
                vrep = self.v.request(c, T['TX_END'], vtx, b'T\0', 0x7ffe0000)
                if crep == vrep and crep in ('DEAD', 'EOF'):
                    continue    # both closed that connection (an oversized request): gone
                if not _err(crep, 'EAGAIN') or crep != vrep:
                    return (len(reqs) - 1, 'c-tx-stale-view not confirmed: the transaction '
                            'whose view differed at request %d ends (TX_END T after the '
                            'sequence) with C %r, vxenstored %r' % (first, crep, vrep))
            return None
        finally:
            if g is not None:
                self.c.guest_teardown(tagb)
                self.v.guest_teardown(tagb)
            self.c.close()
            self.v.close()
            if any(q.tag == 'pathmax' for q in reqs):
                # path-max back to the default, and the sequence's trees removed: C may hold
                # nodes of long paths ours refused (abs-path-max), which the quota figures of
                # later sequences would show
                for d in (self.c, self.v):
                    d.open(1)
                    d.request(0, T['CONTROL'], 0, b'quota\0set\0path-max\x002048\0', 1)
                    d.request(0, T['RM'], 0, b'/' + tagb + b'\0', 2)
                    d.request(0, T['RM'], 0, b'/local/domain/0/' + tagb + b'\0', 3)
                    d.close()

    def minimise(self, reqs, nconn, seed):
        """Greedy: drop requests one at a time while some undocumented difference stays."""
        cur = list(reqs)
        attempt = 0
        changed = True
        while changed:
            changed = False
            i = len(cur) - 2
            while i >= 0:
                cand = cur[:i] + cur[i + 1:]
                attempt += 1
                res = self.run(cand, nconn, 'm%dx%d' % (seed, attempt))
                if res is not None:
                    cur = cand[:res[0] + 1]
                    changed = True
                    i = min(i, len(cur) - 1)
                i -= 1
        res = self.run(cur, nconn, 'm%dx%d' % (seed, attempt + 1))
        return cur, res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--c', required=True, help='C xenstored socket')
    ap.add_argument('--v', required=True, help='vxenstored socket')
    ap.add_argument('--seqs', type=int, default=200)
    ap.add_argument('--reqs', type=int, default=50)
    ap.add_argument('--mix', choices=sorted(MIXES), help='other request kind weights')
    ap.add_argument('--c-guest', help="C xenstored's guest ring proxy socket")
    ap.add_argument('--v-guest', help="vxenstored's guest ring proxy socket")
    ap.add_argument('--guest', action='store_true',
                    help='one connection of each sequence is domain %d (needs the proxies)'
                    % GUEST_DOMID)
    ap.add_argument('--conns', type=int, default=4, help='at most this many connections')
    ap.add_argument('--seed0', type=int, default=1)
    ap.add_argument('--seed', type=int, help='run only this seed')
    ap.add_argument('--strict', action='store_true', help='KNOWN_TO_FIX entries fail too')
    ap.add_argument('--no-minimise', action='store_true')
    ap.add_argument('--sorted-events', action='store_true',
                    help="compare a step's events as multisets, not in order")
    ap.add_argument('--max-fail', type=int, default=3, help='stop after this many failures')
    ap.add_argument('--list', action='store_true', help='print the generated requests')
    ap.add_argument('-v', '--verbose', action='store_true')
    args = ap.parse_args()
    if args.guest and not (args.c_guest and args.v_guest):
        ap.error('--guest needs --c-guest and --v-guest')
    if args.guest:
        global KNOWN_DOMIDS, GUEST_MEMORY
        if ',' in args.c_guest:
            GUESTS.append(GUEST_DOMID + 1)
        KNOWN_DOMIDS = {0, 0x7ff4} | set(GUESTS)
        GUEST_MEMORY = True

    r = Runner(args)
    seeds = [args.seed] if args.seed is not None else range(args.seed0, args.seed0 + args.seqs)
    t0 = time.monotonic()
    failures = 0
    done = 0
    try:
        for seed in seeds:
            done += 1
            gen = Gen(seed, args.reqs, args.mix, args.conns, args.guest)
            r.gen = gen
            reqs, nconn = gen.sequence()
            if args.list:
                for i, q in enumerate(reqs):
                    print('  %3d %r' % (i, q))
            res = r.run(reqs, nconn, 's%d' % seed)
            if res is None:
                continue
            failures += 1
            print('DIFFERENCE in seed %d at request %d: %s' % (seed, res[0], res[1]))
            full = reqs[:res[0] + 1]
            if not args.no_minimise:
                mreqs, mres = r.minimise(full, nconn, seed)
                if mres is not None:
                    full, res = mreqs, mres
            print('  minimal repro (seed %d, %d connections, @B@ = a fresh name; '
                  'rerun: --seed %d --reqs %d%s%s):' % (
                      seed, nconn, seed, res[0] + 1, ' --mix ' + args.mix if args.mix else '',
                      ' --conns %d' % args.conns if args.conns != 4 else ''))
            if gen.guest is not None:
                print('  guest setup (%s): %r' % (', '.join('conn%d is domain %d' % kv for kv in
                                                         sorted(gen.gdom.items())),
                                                                  gen.setup))
            for i, q in enumerate(full):
                print('  %3d %r' % (i, q))
            print('  -> %s' % res[1])
            if failures >= args.max_fail:
                break
    except (ConnectionError, FileNotFoundError) as e:
        print('difftest: cannot talk to a daemon: %s' % e)
        return 2
    dt = time.monotonic() - t0
    print('difftest%s%s: %d sequences (%d runs with minimisation), %d requests sent to each '
          'daemon (%d by the guest), %d replies compared, %d undocumented differences, %.1f s' %
          (' --mix ' + args.mix if args.mix else '', ' --guest' if args.guest else '', done,
           r.runs, r.nreq, r.nguest, r.ncmp, failures, dt))
    if r.known:
        print('difftest: tolerated: ' + ', '.join('%s x%d' % kv for kv in sorted(r.known.items())))
        if r.skipped_tails:
            print('difftest: %d runs stopped early after a tolerated stateful divergence (%s)'
                  % (r.skipped_tails, ', '.join('%s x%d' % kv for kv in sorted(r.stops.items()))))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
