"""The request generator of tests/xenstored/difftest.py (its docstring says what is generated
and why): seeded random sequences of xenstore requests, with a tiny model of what is open, for
several connections, the guests' among them (--guest)."""
import random

# ---- wire ------------------------------------------------------------------------------
T = dict(CONTROL=0, DIRECTORY=1, READ=2, GET_PERMS=3, WATCH=4, UNWATCH=5, TX_START=6,
         TX_END=7, INTRODUCE=8, RELEASE=9, GET_DOMAIN_PATH=10, WRITE=11, MKDIR=12, RM=13,
         SET_PERMS=14, WATCH_EVENT=15, ERROR=16, IS_INTRODUCED=17, RESUME=18, SET_TARGET=19,
         RESET_WATCHES=21, DIRECTORY_PART=22)
TNAME = {v: k for k, v in T.items()}


def tname(t):
    return TNAME.get(t, 'TYPE%d' % t)


# ---- requests ---------------------------------------------------------------------------
class Req:
    """One request of a sequence: connection index, type, tx spec, payload with @B@."""
    __slots__ = ('conn', 'type', 'tx', 'payload', 'tag')

    def __init__(self, conn, type_, payload, tx=('n',), tag=''):
        self.conn, self.type, self.payload, self.tx, self.tag = conn, type_, payload, tx, tag

    def __repr__(self):
        tx = {'n': 'tx=0', 's': 'tx=<start #%s>', 'r': 'tx=%s'}[self.tx[0]]
        if '%s' in tx:
            tx = tx % self.tx[1]
        p = self.payload if len(self.payload) <= 120 else (
            self.payload[:100] + b'...<%d bytes>' % len(self.payload))
        return 'conn%d %-15s %-14s %r%s' % (self.conn, tname(self.type), tx, p,
                                          ' [%s]' % self.tag if self.tag else '')


COMPS = [b'a', b'b', b'c', b'd', b'e']
GOOD_PERMS = [b'b0', b'r0', b'w0', b'n0', b'r5', b'w7', b'b3', b'n12', b'r65535', b'r2147483648',
              b'w4294967295', b'n-1', b'b0x10', b'r010']
BAD_PERMS = [b'b0\0r5', b'r00\0', b'r+1\0', b'r\0', b'x1\0', b'b0\0zz\0', b'', b'\0',
             b'r-1\0', b'b4294967296\0']
BAD_PATHS = [b'', b'/@B@//a', b'/@B@/a/', b'@B@/a b', b'/@B@/\xc3\xa4', b'/@B@/\xff\xfe',
             b'/@B@/a.b', b'/@B@/a\tb', b'//', b'@B@/', b'/@B@/' + b'x' * 3100,
             b'@B@/' + b'y' * 2100, b'/local/domain/0/@B@/' + b'z' * 3060,
             b'/@B@/' + b'w' * 2500]
SPECIAL = [b'@introduceDomain', b'@releaseDomain', b'@foo']

# The guest (--c-guest/--v-guest: tests/xenstored/ring_proxy.c in front of each daemon).
GUEST_DOMID = 5
GUEST_HOME = b'/local/domain/%d' % GUEST_DOMID
GUEST_PERMS = [b'r5', b'w5', b'b5', b'n5']
# The guests' domain ids: 5, and 6 when a second proxy is given (--c-guest A,B).
GUESTS = [GUEST_DOMID]


def home(domid):
    return b'/local/domain/%d' % domid


def guest_perms():
    return [b'%s%d' % (k, d) for d in GUESTS for k in (b'r', b'w', b'b', b'n')]
# Quotas set for a guest sequence (None: left at the default), set back after it.
GUEST_QUOTAS = [(b'nodes', [None, b'8', b'15']), (b'watches', [None, b'2', b'4']),
                (b'transactions', [None, b'1', b'2']),
                (b'transaction-nodes', [None, b'3', b'6']),
                (b'node-size', [None, b'40', b'300']), (b'permissions', [None, b'1', b'2']),
                (b'path-max', [None, None, b'30']),
                (b'memory', [None, None, b'1500', b'3000', b'6000']),
                (b'outstanding', [None, b'1', b'2'])]
QUOTA_DEFAULTS = {b'outstanding': b'20', b'memory': b'2621440', b'nodes': b'1000',
                  b'watches': b'128', b'transactions': b'10', b'transaction-nodes': b'1024',
                  b'node-size': b'2048', b'permissions': b'5', b'path-max': b'2048'}


# --mix: other weights for some request kinds (CI uses the default mix).
MIXES = {
    # transactions and watches against removals and concurrent writes
    'tx': {'TX_START': 12, 'TX_END': 10, 'RM': 14, 'WATCH': 10, 'UNWATCH': 5, 'READ': 6,
           'DIRECTORY': 6, 'DIRPART': 2, 'DOMPATH': 0, 'INTRODUCED': 0, 'UNKNOWN': 0,
           'BADARGS': 1, 'SPECIAL': 0, 'GLOBAL': 0},
    # permissions and watches (events' read checks, owners, perms in transactions)
    'perms': {'SET_PERMS': 15, 'GET_PERMS': 8, 'WATCH': 10, 'RM': 10, 'DOMPATH': 0,
              'INTRODUCED': 0, 'UNKNOWN': 0},
    # watches (special names, relative paths, RESET_WATCHES) against trees that come and go
    'watch': {'WATCH': 14, 'UNWATCH': 8, 'RESET': 3, 'MKDIR': 10, 'RM': 12, 'SPECIAL': 3,
              'DOMPATH': 0, 'INTRODUCED': 0, 'UNKNOWN': 0, 'TX_START': 3, 'TX_END': 3},
    # listings: DIRECTORY(_PART) of trees built and cut down
    'dirs': {'DIRECTORY': 14, 'DIRPART': 10, 'MKDIR': 12, 'RM': 10, 'READ': 4, 'DOMPATH': 0,
             'INTRODUCED': 0, 'UNKNOWN': 0},
    # limits: paths and payloads at and one past them, odd domids, malformed perms
    'limits': {'LIMITS': 25, 'BADARGS': 6},
}


class Gen:
    """Random sequence generator: a tiny model of what is open (txs, watches)."""

    def __init__(self, seed, nreqs, mix=None, conns=4, guest=False):
        self.r = random.Random(seed)
        self.seed = seed
        self.n = nreqs
        self.mix = MIXES[mix] if mix else {}
        self.nconn = self.r.randint(2, conns)
        self.guest = None       # the guest's connection index (the last one), if any
        self.cur = 0            # the connection of the request being generated
        self.setup = []
        self.watch_intro = False
        self.self_target = False    # SET_TARGET 5 5 generated
        self.guests = []        # the guests' connection indexes (the last ones)
        self.gdom = {}          # connection index -> domain id
        if guest:
            self.guest = self.nconn
            for d in GUESTS:
                self.guests.append(self.nconn)
                self.gdom[self.nconn] = d
                self.nconn += 1
        self.open = [[] for _ in range(self.nconn)]    # open tx slots per conn
        self.nstart = [0] * self.nconn                 # tx starts per conn so far
        self.watches = [[] for _ in range(self.nconn)]
        if guest:
            self.setup = self.guest_setup()

    def path(self, allow_bad=True):
        r = self.r
        x = r.random()
        if allow_bad and x < 0.04:
            return r.choice(BAD_PATHS)
        depth = r.choice([0, 1, 1, 2, 2, 3])
        comps = b'/'.join(r.choice(COMPS) for _ in range(depth))
        form = r.random()
        if self.guest is not None and form < 0.3:
            # the guest's home (also reached by the guest's relative paths)
            base = home(r.choice(GUESTS)) + b'/@B@'
        elif form < 0.45:
            base = b'/local/domain/0/@B@'
        elif form < 0.75:
            base = b'@B@'
        else:
            base = b'/@B@'
        return base + (b'/' + comps if comps else b'')

    def value(self):
        r = self.r
        x = r.random()
        if x < 0.1:
            return b''
        if x < 0.15:
            return bytes(r.randrange(256) for _ in range(r.randint(1, 16)))
        if x < 0.18:
            return b'v' * r.randint(1000, 3900)
        return b'v%d' % r.randrange(1000)

    def txspec(self, c):
        r = self.r
        if self.open[c] and r.random() < 0.6:
            return ('s', r.choice(self.open[c]))
        if r.random() < 0.03:
            return ('r', r.choice([7, 99, 4000000000]))
        if self.nstart[c] and r.random() < 0.03:    # maybe an ended one
            return ('s', r.randrange(self.nstart[c]))
        return ('n',)

    def one(self):
        r = self.r
        if self.guest is not None:
            c = r.choice(self.guests) if r.random() < 0.45 else \
                r.randrange(self.nconn - len(self.guests))
        else:
            c = r.randrange(self.nconn)
        self.cur = c
        ops = [('WRITE', 20), ('READ', 12), ('MKDIR', 6), ('RM', 7), ('DIRECTORY', 8),
               ('DIRPART', 4), ('GET_PERMS', 4), ('SET_PERMS', 5), ('WATCH', 6),
               ('UNWATCH', 3), ('TX_START', 5), ('TX_END', 6), ('DOMPATH', 2),
               ('INTRODUCED', 2), ('RESET', 1), ('UNKNOWN', 1), ('BADARGS', 3),
               ('SPECIAL', 1), ('GLOBAL', 1), ('LIMITS', 1)]
        op = r.choices([o for o, _ in ops], [self.mix.get(o, w) for o, w in ops])[0]
        tx = self.txspec(c)
        if op == 'WRITE':
            p = self.path()
            v = self.value()
            if len(p) + 1 + len(v) > 4096:
                v = v[:4096 - len(p) - 1]
            return Req(c, T['WRITE'], p + b'\0' + v, tx)
        if op in ('READ', 'MKDIR', 'RM', 'DIRECTORY', 'GET_PERMS'):
            return Req(c, T[op], self.path() + b'\0', tx)
        if op == 'DIRPART':
            off = r.choice([b'0', b'0', b'0', b'100000', b'4294967295'])
            return Req(c, T['DIRECTORY_PART'], self.path() + b'\0' + off + b'\0', tx)
        if op == 'SET_PERMS':
            if r.random() < 0.08:
                return Req(c, T['SET_PERMS'], self.path(False) + b'\0' + r.choice(BAD_PERMS),
                           tx, 'badperms')
            # Mostly dom0 as owner: another owner is ENOENT in both (C under the shim and
            # ours with --socket-only know no other domain).
            owner = r.choice(GOOD_PERMS[:4] * 6 + [GOOD_PERMS[4]])
            acl = GOOD_PERMS
            if self.guest is not None:
                # the guest as owner (its implicit rights) or in the list; no other domain
                # (DELIBERATE perms-unknown: ours drops entries of domains that do not exist)
                if r.random() < 0.3:
                    owner = r.choice(guest_perms())
                acl = GOOD_PERMS[:4] + guest_perms()
            perms = owner + b'\0' + b''.join(r.choice(acl) + b'\0'
                                             for _ in range(r.randint(0, 2)))
            return Req(c, T['SET_PERMS'], self.path() + b'\0' + perms, tx)
        if op == 'WATCH':
            x = r.random()
            if x < 0.1:
                p = r.choice([b'/', b'@introduceDomain', b'@releaseDomain'] * 2 +
                             [b'@foo', b'@releaseDomain/7', b'@' + b'z' * 2047,
                              b'@' + b'z' * 2048, b'@/', b'@a//b', b'@a b\xff',
                              b'@releaseDomain/', b'@' + b'/' * 2047])
            else:
                p = self.path()
            tok = r.choice([b't1', b't2', b'tok/x', b''])
            if r.random() < 0.05:
                return Req(c, T['WATCH'], p + b'\0' + tok + b'\0' + b'1\0', tx, 'depth')
            self.watches[c].append((p, tok))
            return Req(c, T['WATCH'], p + b'\0' + tok + b'\0', tx)
        if op == 'UNWATCH':
            if self.watches[c] and r.random() < 0.7:
                p, tok = r.choice(self.watches[c])
            else:
                p, tok = self.path(), b't1'
            return Req(c, T['UNWATCH'], p + b'\0' + tok + b'\0', tx)
        if op == 'TX_START':
            slot = self.nstart[c]
            self.nstart[c] += 1
            self.open[c].append(slot)
            t = ('n',) if r.random() < 0.9 else tx
            return Req(c, T['TX_START'], b'\0', t, 'start%d' % slot)
        if op == 'TX_END':
            arg = r.choice([b'T\0'] * 6 + [b'F\0'] * 3 + [b'X\0'])
            if self.open[c] and r.random() < 0.85:
                slot = r.choice(self.open[c])
                self.open[c].remove(slot)
                return Req(c, T['TX_END'], arg, ('s', slot))
            return Req(c, T['TX_END'], arg, tx)
        if op in ('DOMPATH', 'INTRODUCED'):
            t = T['GET_DOMAIN_PATH'] if op == 'DOMPATH' else T['IS_INTRODUCED']
            if r.random() < 0.2:
                return Req(c, t, r.choice([b'abc\0', b'\0', b'-1\0', b'0x10\0']), tx,
                           'baddomid')
            ids = [b'0\0', b'1\0', b'7\0', b'32767\0']
            return Req(c, t, r.choice(ids + [b'%d\0' % d for d in GUESTS] * 2
                                      if self.guest is not None else ids),
                       tx)
        if op == 'RESET':
            self.watches[c] = []
            self.open[c] = []
            return Req(c, T['RESET_WATCHES'], b'', tx)
        if op == 'UNKNOWN':
            return Req(c, r.choice([20, 27, 99, 1000, 0xffff]), self.path() + b'\0', tx)
        if op == 'BADARGS':
            # Wrong argument counts. Not for the one-path requests (READ, DIRECTORY,
            # GET_PERMS, MKDIR, RM): C 4.17 crashes or reads past the payload on those
            # (c-onearg-crash in the table); hostile.py covers them against vxenstored.
            t = r.choice(['WRITE', 'WATCH', 'UNWATCH', 'DIRECTORY_PART', 'TX_END'])
            p = self.path(False)
            # Bytes after the last NUL ("junk"): C's get_strings ignores them.
            shapes = {'WRITE': [p, b''],
                      'WATCH': [p + b'\0', p + b'\0tok\0a\0b\0', b'', p + b'\0tok\0junk'],
                      'UNWATCH': [p + b'\0', p + b'\0tok\0a\0', b'', p + b'\0tok\0junk'],
                      'DIRECTORY_PART': [p + b'\0', p + b'\0x\0', p + b'\x000\0junk'],
                      'TX_END': [b'', b'T\0extra\0', b'TT\0', b'T\0junk', b'Tjunk']}[t]
            return Req(c, T[t], r.choice(shapes), tx, 'badargs')
        if op == 'LIMITS':
            return self.limits(c, tx)
        if op == 'SPECIAL':
            t = r.choice(['READ', 'DIRECTORY', 'GET_PERMS', 'RM'] * 3 + ['WRITE', 'MKDIR'])
            p = r.choice(SPECIAL)
            return Req(c, T[t], p + b'\0' + (b'x' if t == 'WRITE' else b''), tx, 'special')
        # GLOBAL: read-only looks at fixed nodes, and attempts to remove or write "/"
        q = r.choice([(T['READ'], b'/\0'), (T['GET_PERMS'], b'/\0'),
                      (T['DIRECTORY'], b'/tool\0'), (T['READ'], b'/tool/xenstored\0'),
                      (T['RM'], b'/\0'), (T['GET_PERMS'], b'/tool\0')])
        return Req(c, q[0], q[1], tx)

    def limits(self, c, tx):
        """A request at a limit or one past it: paths of 2047-2049 and 3071-3073 characters
        (absolute, relative, below /local/domain/0: C's path-max quota counts from below a
        domain's home), names of every allowed character, payloads of 4095-4097 bytes, odd
        domids, malformed perms."""
        r = self.r
        x = r.random()
        if x < 0.06:
            # path-max changed for the rest of the sequence (Runner.run sets it back): C
            # takes any value >= 1 here, only -M caps it at 2048
            v = r.choice([b'100', b'2047', b'2049', b'3000', b'4000', b'2048'])
            return Req(c, T['CONTROL'], b'quota\0set\0path-max\0' + v + b'\0', ('n',),
                       'pathmax')
        if x < 0.45:
            base = r.choice([b'/@B@/', b'@B@/', b'/local/domain/0/@B@/', b'/@B@/Az09-_@/'])
            n = r.choice([2047, 2048, 2049, 3071, 3072, 3073])
            p = base + b'@SPAD%d@' % n
            t = r.choice(['WRITE', 'WRITE', 'READ', 'MKDIR', 'RM', 'WATCH', 'UNWATCH',
                          'DIRECTORY', 'GET_PERMS', 'SET_PERMS'])
            tail = {'WRITE': b'x', 'WATCH': b't1\0', 'UNWATCH': b't1\0',
                    'SET_PERMS': b'n0\0'}.get(t, b'')
            return Req(c, T[t], p + b'\0' + tail, tx, 'limits')
        if x < 0.65:
            # a WRITE's payload of 4095-4097 bytes (4096 = XENSTORE_PAYLOAD_MAX: one more
            # and both daemons drop the connection)
            n = r.choice([4095, 4096, 4096, 4097])
            p = r.choice([b'/@B@/big', b'@B@/big', b'/@B@/' + b'-_@Az09' * 3])
            return Req(c, T['WRITE'], p + b'\0' + b'@TPAD%d@' % n, tx, 'limits')
        if x < 0.8:
            t = r.choice(['GET_DOMAIN_PATH', 'IS_INTRODUCED'])
            return Req(c, T[t], r.choice([b'99999999999\0', b'4294967296\0', b'65535\0',
                                          b'32768\0', b' 0\0', b'+0\0', b'00\0', b'0\0x\0',
                                          b'0', b'', b'0\0\0']), tx, 'limits')
        perms = r.choice([b'n0\0r7', b'R0\0', b'n 0\0', b'n0 \0', b'n0x\0', b'n\0',
                          b'n0\0\0r7\0', b'n0\0rw5\0', b'n0\0r-5\0', b'n0\0r32768\0',
                          b'n0\0r99999999999\0', b'n0\0r7\0w7\0b7\0n7\0', b'b0\0b0\0',
                          b'n0\0' + b'r1\0' * 1300, b'r0\0n0\0', b'n0\0r0\0junk'])
        return Req(c, T['SET_PERMS'], self.path(False) + b'\0' + perms, tx, 'limits')

    def guest_setup(self):
        """dom0's requests that make the guest's world before each guest sequence: its home
        (owned by it, or by dom0 with read access for it, as libxl does), /@B@ with perms
        that let it in or not, small quotas (so that a sequence reaches them), and the
        INTRODUCE (@PORT@: the port the daemon's ring proxy allocated)."""
        r = self.r
        reqs = []
        for d in GUESTS:
            hp = r.choice([b'n%d' % d] * 4 + [b'n0\0r%d' % d])
            reqs += [(T['MKDIR'], home(d) + b'\0'), (T['SET_PERMS'], home(d) + b'\0' + hp + b'\0')]
        top = r.choice([b'n0', b'n0\0r5', b'n0\0w5', b'n0\0b5', b'r0', b'n5', b'n5\0r0'] +
                       ([b'n6\0r5', b'n0\0w6\0r5'] if len(GUESTS) > 1 else []))
        reqs += [(T['MKDIR'], b'/@B@\0'), (T['SET_PERMS'], b'/@B@\0' + top + b'\0')]
        for name, vals in GUEST_QUOTAS:
            v = r.choice(vals)
            if v is not None:
                reqs.append((T['CONTROL'], b'quota\0set\0' + name + b'\0' + v + b'\0'))
        reqs = [('admin',) + x for x in reqs]
        if r.random() < 0.5:
            # conn0 watches the special nodes first: the INTRODUCE's and the RELEASE's events
            self.watch_intro = True
            for w in (b'@introduceDomain', b'@releaseDomain'):
                reqs.append((0, T['WATCH'], w + b'\0sp\0'))
                self.watches[0].append((w, b'sp'))
        for i, d in enumerate(GUESTS):
            reqs.append(('admin', T['INTRODUCE'], b'%d\x00%d\x00@PORT%d@\0' % (d, 0x1234, i)))
        return reqs

    def extra(self, q):
        """A request about quotas or features on a random connection, outside transactions,
        drawn from q (not self.r: the other requests of a seed stay what they were)."""
        c = q.randrange(self.nconn)
        x = q.random()
        if self.guest is not None and q.random() < 0.3:
            # the guest's figures (C's accounting: nodes it owns, watches, transactions,
            # outstanding requests, memory), or SET_TARGET of it (then it may act on dom0's
            # nodes as dom0's device model would), asked by dom0 or by the guest itself
            if q.random() < 0.8:
                return Req(c, T['CONTROL'], b'quota\0%d\0' % q.choice(GUESTS), ('n',), 'quota')
            if len(GUESTS) > 1 and q.random() < 0.5:
                # the second guest as the first one's device model
                return Req(c, T['SET_TARGET'], b'%d\0%d\0' % (GUESTS[1], GUESTS[0]), ('n',),
                           'domain')
            if q.random() < 0.3 and not self.self_target:
                # the guest as its own target: no right more (C 4.17: a talloc reference of
                # its connection to itself, so that a RELEASE frees nothing: DELIBERATE
                # release-target-ref). Once a sequence: with two such references C never
                # frees the domain (talloc_unlink makes the connection its own parent).
                self.self_target = True
                return Req(c, T['SET_TARGET'], b'%d\0%d\0' % (GUESTS[0], GUESTS[0]), ('n',),
                           'domain')
            return Req(c, T['SET_TARGET'], b'%d\0' % GUEST_DOMID + b'0\0', ('n',), 'domain')
        if x < 0.15:
            # The toolstack's domain requests, on domains that do not exist (C under the shim
            # and ours with --socket-only know no other) or on dom0 (introduced from the start
            # in both: INTRODUCE and SET_TARGET 0 0 are OK and change nothing): no state.
            t, pl = q.choice([(9, b'0\0'), (9, b'7\0'), (9, b'abc\0'), (9, b'7x\0'),
                              (9, b'-1\0'), (9, b'7\0extra\0'), (9, b'7'), (18, b'0\0'),
                              (18, b'7\0'), (18, b'abc\0'), (18, b' 7\0'), (18, b''),
                              (19, b'7\0' + b'0\0'), (19, b'0\0' + b'7\0'), (19, b'7\0'),
                              (19, b'7\0' + b'0\0' + b'x\0'), (19, b'abc\0' + b'7\0'),
                              (8, b'7\0' + b'1\0' + b'0\0'), (8, b'7\0' + b'1\0'),
                              (8, b'7\0' + b'1\0' + b'5\0'), (8, b'32752\0' + b'1\0' + b'5\0'),
                              (8, b'0\0' + b'1\0' + b'5\0'), (8, b'abc\0' + b'x\0' + b'-5\0'),
                              (19, b'0\0' + b'0\0')])
            return Req(c, t, pl, ('n',), 'domain')
        if x < 0.25:
            # CONTROL commands' arguments (not memreport or logfile with a file that can be
            # written; log on|off: the -T trace, which neither has). live-update: no session
            # in either. help: C's text, then ours' own commands (DELIBERATE control-help).
            args = q.choice([[b'check'], [b'check', b'x'], [b'print', b'p'], [b'print'],
                             [b'print', b'a', b'b'], [b'help', b'x'], [b'log'],
                             [b'log', b'off'], [b'log', b'x'], [b'log', b'off', b'x'],
                             [b'log', b'on'],
                             [b'live-update'], [b'live-update', b'-a'],
                             [b'live-update', b'-a', b'x'], [b'live-update', b'-c', b'x'],
                             [b'live-update', b'-c'], [b'live-update', b'-s'],
                             [b'live-update', b'-s', b'-F', b'-t', b'5'],
                             [b'live-update', b'-s', b'-t'], [b'live-update', b'-s', b'x'],
                             [b'live-update', b'-s', b'-F', b'-F', b'-F', b'x'],
                             [b'nosuchcommand'], [b'CHECK'], [b'help'],
                             [b'memreport', b'a', b'b'], [b'memreport', b'/nonexistent/m'],
                             [b'logfile'], [b'logfile', b'a', b'b']])
            junk = b'junk' if q.random() < 0.1 else b''   # after the last NUL: ignored
            return Req(c, T['CONTROL'], b''.join(a + b'\0' for a in args) + junk, ('n',),
                       'control')
        if x < 0.55:
            # CONTROL quota: only what leaves both daemons as they were (values set to the
            # defaults, which both start with).
            args = q.choice([[b'quota'], [b'quota-soft'], [b'quota', b'7'], [b'quota', b'0'],
                             [b'quota', b'0'], [b'quota', b'0'],
                             [b'quota', b'32767'], [b'quota', b'set', b'nodes', b'1000'],
                             [b'quota', b'set', b'watches', b'128'],
                             [b'quota', b'set', b'transaction-nodes', b'1024'],
                             [b'quota', b'set', b'permissions', b'5'],
                             [b'quota', b'set', b'node-permissions', b'5'],
                             [b'quota', b'set', b'nodes', b'0'],
                             [b'quota', b'set', b'bogus', b'1'], [b'quota', b'set', b'nodes'],
                             [b'quota-soft', b'set', b'memory', b'2097152'],
                             [b'quota-soft', b'set', b'nodes', b'3'], [b'quota-soft', b'x']])
            return Req(c, T['CONTROL'], b''.join(a + b'\0' for a in args), ('n',), 'quota')
        t, pl = q.choice([(23, b''), (23, b'0\0'), (23, b'7\0'), (24, b'0\0' + b'1\0'),
                          (24, b'7\0' + b'1\0'), (25, b''), (25, b'nodes\0'),
                          (25, b'0\0soft-memory\0'), (25, b'bogus\0'),
                          (26, b'bogus\0' + b'1\0'), (26, b'7\0nodes\0' + b'1\0'),
                          (26, b'nodes\0' + b'1000\0')])
        if t == 26 and self.guest is not None:
            if c in self.guests:
                # the guest's own SET_QUOTA (of itself, of dom0, of the global value): C says
                # ENOSYS, ours EACCES (privileged only); nothing changes
                pl = q.choice([b'%d\0nodes\0' % self.gdom[c] + b'100000\0',
                               b'0\0memory\0' + b'1\0', b'nodes\0' + b'1\0'])
            else:
                # dom0's would set ours' quota (not C's, which says ENOSYS) away from the
                # small values a guest sequence runs with
                t, pl = 25, b'nodes\0'
        return Req(c, t, pl, ('n',), 'xs421')

    def wrl_burst(self, q):
        """XSA-206's write rate limit: while a transaction is open (dom0's, on conn0), a guest
        writes more than its burst (10) in a row. Both daemons then draw on the reserve that
        the domains' unused credit fills (C's rates are compile-time constants, no option),
        and stop reading the guest only past it: the replies are compared, when a daemon
        stalls is latency (not compared: timing)."""
        g = q.choice(self.guests)
        slot = self.nstart[0]
        self.nstart[0] += 1
        out = [Req(0, T['TX_START'], b'\0', ('n',), 'start%d' % slot)]
        path = home(self.gdom[g]) + b'/@B@/w'
        for i in range(q.randint(12, 30)):
            out.append(Req(g, T['WRITE'], path + b'%d\0' % (i % 3) + b'v%d' % i, ('n',),
                           'wrl'))
        out.append(Req(0, T['TX_END'], b'F\0', ('s', slot)))
        return out

    def sequence(self):
        reqs = [self.one() for _ in range(self.n)]
        q = random.Random(self.seed * 7919 + 17)
        out = []
        for req in reqs:
            if q.random() < 0.04:
                e = self.extra(q)
                out.extend(e if isinstance(e, list) else [e])
            out.append(req)
        if self.guest is not None and q.random() < 0.15:
            # a burst of the guest's writes somewhere (XSA-206's write rate limit)
            at = q.randint(0, len(out))
            out[at:at] = self.wrl_burst(q)
        if self.guest is not None:
            # the toolstack's end of the guest: its home removed, then RELEASE (the guest's
            # connection is gone after it)
            for d in GUESTS:
                out.append(Req(0, T['RM'], home(d) + b'\0', ('n',), 'cleanup'))
            # 6 (maybe 5's device model: SET_TARGET 6 5) before 5, or 5 first (then C 4.17
            # keeps 5 while 6 holds a reference: DELIBERATE release-target-ref)
            order = list(reversed(GUESTS)) if q.random() < 0.7 else list(GUESTS)
            for d in order:
                out.append(Req(0, T['RELEASE'], b'%d\0' % d, ('n',), 'release'))
        return out, self.nconn
