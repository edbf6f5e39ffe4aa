#!/usr/bin/env python3
"""vxenstored's quota requests over its Unix socket (a privileged client: dom0's tools).

GET_QUOTA / SET_QUOTA and GET_FEATURE / SET_FEATURE (Xen 4.21's xs_wire.h types 23-26, with
C xenstored's payloads and errors), CONTROL quota / quota-soft / help (C 4.17's texts), the
command-line quota options (the daemon is started by quota.sh with -E 500 -Q outstanding=30
-q memory=1000000 -w watch-event=5), and the node count of dom0 (the owner of what the socket
creates) through single requests, transactions and removals, which `quota 0` shows. The
unprivileged side (ENOSPC, E2BIG, the limits that stop reading a ring) needs domains and is
in tests/unit/test_vxs_quota.c.

Usage: quota.py SOCKET [--after-restart]   Prints one line per check; exit 1 on a failure.
"""
import socket
import struct
import sys

T = dict(CONTROL=0, READ=2, TX_START=6, TX_END=7, WRITE=11, MKDIR=12, RM=13,
         ERROR=16, GET_FEATURE=23, SET_FEATURE=24, GET_QUOTA=25, SET_QUOTA=26)


class Client:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(path)
        self.rid = 0

    def _recv(self, n):
        b = b''
        while len(b) < n:
            d = self.s.recv(n - len(b))
            if not d:
                raise EOFError('daemon closed the connection')
            b += d
        return b

    def req(self, type_, payload=b'', tx=0):
        """(ok, payload): ok False for an XS_ERROR reply (payload: its name)."""
        self.rid += 1
        self.s.sendall(struct.pack('<IIII', type_, self.rid, tx, len(payload)) + payload)
        while True:
            t, rid, _, n = struct.unpack('<IIII', self._recv(16))
            body = self._recv(n)
            if t == 15:     # a watch event: not ours
                continue
            if t == T['ERROR']:
                return False, body.rstrip(b'\0').decode()
            return True, body

    def strs(self, type_, *args, tx=0):
        return self.req(type_, b''.join(a.encode() + b'\0' for a in args), tx)

    def control(self, *args):
        ok, body = self.strs(T['CONTROL'], *args)
        return (ok, body.rstrip(b'\0').decode() if ok else body)


fails = 0
count = 0


def check(name, want, got):
    global fails, count
    count += 1
    if want == got:
        print('  ok   %s' % name)
    else:
        fails += 1
        print('  FAIL %s: expected %r, got %r' % (name, want, got))


def val(r):
    ok, body = r
    return body.rstrip(b'\0').decode() if ok else 'E:' + body


def dom0_nodes(c):
    ok, text = c.control('quota', '0')
    for line in text.splitlines() if ok else []:
        if line.startswith('nodes'):
            return int(line.split(':')[1])
    return None


def main():
    path = sys.argv[1]
    after_restart = '--after-restart' in sys.argv
    c = Client(path)
    G, S = T['GET_QUOTA'], T['SET_QUOTA']
    if after_restart:
        # quota.sh wrote /qt/a and /qt/b (dom0's) before the kill: the counts were rebuilt
        # from the tree at start-up.
        before = int(sys.argv[sys.argv.index('--after-restart') + 1])
        check('dom0 node count rebuilt after a restart', before, dom0_nodes(c))
        c.strs(T['RM'], '/qt')
        check('and kept up to date after it', before - 3, dom0_nodes(c))
        return

    print('GET_QUOTA / SET_QUOTA:')
    check('GET_QUOTA lists the quotas',
          'nodes watches outstanding memory soft-memory transactions transaction-nodes '
          'node-permissions path-max node-size', val(c.req(G)))
    check('-E 500 sets nodes', '500', val(c.strs(G, 'nodes')))
    check('-Q outstanding=30', '30', val(c.strs(G, 'outstanding')))
    check('-q memory=1000000 sets soft-memory', '1000000', val(c.strs(G, 'soft-memory')))
    check('memory keeps its default', '2621440', val(c.strs(G, 'memory')))
    check('defaults: watches', '128', val(c.strs(G, 'watches')))
    check('defaults: transactions', '10', val(c.strs(G, 'transactions')))
    check('defaults: transaction-nodes', '1024', val(c.strs(G, 'transaction-nodes')))
    check('defaults: node-permissions', '5', val(c.strs(G, 'node-permissions')))
    check('defaults: path-max', '2048', val(c.strs(G, 'path-max')))
    check('defaults: node-size', '2048', val(c.strs(G, 'node-size')))
    check('unknown quota: EINVAL', 'E:EINVAL', val(c.strs(G, 'bogus')))
    check('soft value of a hard-only quota: EINVAL', 'E:EINVAL', val(c.strs(G, 'soft-nodes')))
    check('three arguments: EINVAL', 'E:EINVAL', val(c.strs(G, '0', 'nodes', 'x')))
    check('bad domid: EINVAL', 'E:EINVAL', val(c.strs(G, '1x', 'nodes')))
    check('domid over 65535: EINVAL', 'E:EINVAL', val(c.strs(G, '70000', 'nodes')))
    check('unknown domain: ENOENT', 'E:ENOENT', val(c.strs(G, '7', 'nodes')))
    check('SET_QUOTA nodes 700', 'OK', val(c.strs(S, 'nodes', '700')))
    check('GET_QUOTA nodes sees it', '700', val(c.strs(G, 'nodes')))
    check('a domain without its own value has the global one', '700',
          val(c.strs(G, '0', 'nodes')))
    check('SET_QUOTA for domain 0', 'OK', val(c.strs(S, '0', 'watches', '9')))
    check('domain 0 has its own value', '9', val(c.strs(G, '0', 'watches')))
    check('the global one is unchanged', '128', val(c.strs(G, 'watches')))
    check('SET_QUOTA soft-memory', 'OK', val(c.strs(S, 'soft-memory', '1500000')))
    check('GET_QUOTA soft-memory sees it', '1500000', val(c.strs(G, 'soft-memory')))
    check('SET_QUOTA unknown name: EINVAL', 'E:EINVAL', val(c.strs(S, 'bogus', '1')))
    check('SET_QUOTA one argument: EINVAL', 'E:EINVAL', val(c.strs(S, 'nodes')))
    check('SET_QUOTA four arguments: EINVAL', 'E:EINVAL',
          val(c.strs(S, '0', 'nodes', '1', '2')))
    check('SET_QUOTA unknown domain: ENOENT', 'E:ENOENT', val(c.strs(S, '7', 'nodes', '1')))

    print('GET_FEATURE / SET_FEATURE:')
    check('GET_FEATURE: what the server offers (RECONNECTION ERROR WATCHDEPTH DOMID_ANY)',
          '15', val(c.req(T['GET_FEATURE'])))
    check('GET_FEATURE 0', '15', val(c.strs(T['GET_FEATURE'], '0')))
    check('GET_FEATURE unknown domain: ENOENT', 'E:ENOENT',
          val(c.strs(T['GET_FEATURE'], '7')))
    check('GET_FEATURE two arguments: EINVAL', 'E:EINVAL',
          val(c.strs(T['GET_FEATURE'], '0', '1')))
    check('SET_FEATURE dom0 (connected): EBUSY', 'E:EBUSY',
          val(c.strs(T['SET_FEATURE'], '0', '1')))
    check('SET_FEATURE unknown domain: ENOENT', 'E:ENOENT',
          val(c.strs(T['SET_FEATURE'], '7', '1')))
    check('SET_FEATURE one argument: EINVAL', 'E:EINVAL', val(c.strs(T['SET_FEATURE'], '0')))

    print('CONTROL quota / quota-soft / help:')
    ok, text = c.control('quota')
    lines = text.splitlines() if ok else []
    check('quota: header', 'Quota settings:', lines[0] if lines else text)
    check('quota: nodes line (C format)',
          'nodes            :      700 Nodes per domain', lines[1] if len(lines) > 1 else '')
    check('quota: the 9 quotas of C 4.17, in its order',
          ['nodes', 'watches', 'transactions', 'outstanding', 'transaction-nodes', 'memory',
           'node-size', 'path-max', 'permissions'],
          [l.split(':')[0].strip() for l in lines[1:]])
    check('quota set nodes 900', (True, 'OK'), c.control('quota', 'set', 'nodes', '900'))
    check('GET_QUOTA sees it', '900', val(c.strs(G, 'nodes')))
    check('quota set permissions 6 (C 4.17 name)', (True, 'OK'),
          c.control('quota', 'set', 'permissions', '6'))
    check('GET_QUOTA node-permissions sees it', '6', val(c.strs(G, 'node-permissions')))
    check('quota set nodes 0: EINVAL', (False, 'EINVAL'), c.control('quota', 'set', 'nodes', '0'))
    check('quota set unknown: EINVAL', (False, 'EINVAL'), c.control('quota', 'set', 'foo', '3'))
    check('quota set without a value: EINVAL', (False, 'EINVAL'),
          c.control('quota', 'set', 'nodes'))
    ok, text = c.control('quota-soft')
    check('quota-soft lists memory', 'Quota settings:\nmemory           :  1500000 Total '
          'Xenstore memory per domain (warning level)\n', text)
    check('quota-soft set memory 123', (True, 'OK'), c.control('quota-soft', 'set', 'memory', '123'))
    check('GET_QUOTA soft-memory sees it', '123', val(c.strs(G, 'soft-memory')))
    check('quota-soft set nodes: EINVAL', (False, 'EINVAL'),
          c.control('quota-soft', 'set', 'nodes', '5'))
    check('quota-soft DOMID: EINVAL', (False, 'EINVAL'), c.control('quota-soft', '0'))
    check('quota of an unknown domain: ENOENT', (False, 'ENOENT'), c.control('quota', '7'))
    ok, text = c.control('quota', '0')
    check('quota 0: C\'s figures', ['Domain 0:', 'nodes', 'watches', 'transactions',
                                    'outstanding', 'memory'],
          [text.splitlines()[0]] + [l.split(':')[0].strip() for l in text.splitlines()[1:]]
          if ok else text)
    ok, text = c.control('help')
    check('help lists quota and quota-soft', True,
          ok and '\nquota\t' in text and '\nquota-soft\t' in text)

    print('node accounting (dom0 owns what the socket creates):')
    n0 = dom0_nodes(c)
    c.strs(T['RM'], '/qt')
    n0 = dom0_nodes(c)
    c.strs(T['WRITE'], '/qt/a', 'v')
    check('WRITE /qt/a creates 2 nodes', n0 + 2, dom0_nodes(c))
    c.strs(T['WRITE'], '/qt/a', 'longer value')
    check('rewriting a node adds none', n0 + 2, dom0_nodes(c))
    ok, tx = c.req(T['TX_START'], b'\0')
    tx = int(tx.rstrip(b'\0'))
    c.strs(T['WRITE'], '/qt/b', 'v', tx=tx)
    c.strs(T['MKDIR'], '/qt/c', tx=tx)
    check('a transaction\'s nodes count only at its commit', n0 + 2, dom0_nodes(c))
    check('commit', (True, b'OK\0'), c.req(T['TX_END'], b'T\0', tx))
    check('after the commit', n0 + 4, dom0_nodes(c))
    ok, tx = c.req(T['TX_START'], b'\0')
    tx = int(tx.rstrip(b'\0'))
    c.strs(T['WRITE'], '/qt/d/e', 'v', tx=tx)
    c.req(T['TX_END'], b'F\0', tx)
    check('an aborted transaction counts nothing', n0 + 4, dom0_nodes(c))
    c.strs(T['RM'], '/qt/c')
    check('RM of one node', n0 + 3, dom0_nodes(c))
    print('DOM0_NODES %d' % dom0_nodes(c))


if __name__ == '__main__':
    main()
    print('quota.py: %d checks, %d failed' % (count, fails))
    sys.exit(1 if fails else 0)
