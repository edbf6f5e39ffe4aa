#!/usr/bin/env python3
"""Hostile input against a xenstore daemon on a Unix socket (python3, stdlib only).

Each case abuses the wire protocol from one or many connections; after each, the daemon must
still be alive and a fresh connection must WRITE and READ back a node. Expectations (what C
xenstored 4.17 does where it is sane) are checked for the daemon under test (vxenstored);
with --info the outcomes are only printed (used to show what C xenstored does).

Usage: hostile.py --sock SOCKET [--pid PID] [--info] [--only NAME[,NAME]] [--list]
Exit: 0 all pass, 1 a failure (or, with --info, the daemon died).
"""
import argparse
import os
import random
import resource
import select
import socket
import struct
import sys
import time

HDR = struct.Struct('<IIII')
READ, WRITE, WATCH, TX_START, TX_END, GET_DOMAIN_PATH, ERROR = 2, 11, 4, 6, 7, 10, 16
WATCH_EVENT = 15


class Dead(Exception):
    pass


def msg(t, payload, rid=0, tx=0, length=None):
    return HDR.pack(t, rid, tx, len(payload) if length is None else length) + payload


class Conn:
    def __init__(self, path, timeout=5.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        end = time.monotonic() + timeout
        while True:   # a full listen backlog says EAGAIN: wait for the daemon to accept
            try:
                self.s.connect(path)
                break
            except BlockingIOError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.01)
        self.s.settimeout(timeout)
        self.buf = b''

    def send(self, data):
        self.s.sendall(data)

    def recv_msg(self, timeout=5.0):
        """One message (type, rid, tx, payload), or 'EOF' / 'TIMEOUT'."""
        end = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 16:
                t, rid, tx, ln = HDR.unpack_from(self.buf)
                if len(self.buf) >= 16 + ln:
                    m = (t, rid, tx, self.buf[16:16 + ln])
                    self.buf = self.buf[16 + ln:]
                    return m
            left = end - time.monotonic()
            if left <= 0:
                return 'TIMEOUT'
            r, _, _ = select.select([self.s], [], [], left)
            if not r:
                return 'TIMEOUT'
            try:
                d = self.s.recv(65536)
            except (ConnectionResetError, OSError):
                d = b''
            if not d:
                return 'EOF'
            self.buf += d

    def reply(self, timeout=5.0):
        """Next message that is not a watch event."""
        while True:
            m = self.recv_msg(timeout)
            if isinstance(m, tuple) and m[0] == WATCH_EVENT:
                continue
            return m

    def req(self, t, payload, rid=1, tx=0):
        self.send(msg(t, payload, rid, tx))
        return self.reply()

    def close(self):
        self.s.close()


def show(m):
    if isinstance(m, str):
        return m
    t, rid, tx, p = m
    return '%s%r' % ('ERROR ' if t == ERROR else 'type %d ' % t, p[:40])


class Hostile:
    def __init__(self, args):
        self.a = args
        self.path = args.sock
        self.n = 0
        self.fails = []
        self.notes = []

    # -- the health check after every case --------------------------------------------
    def healthy(self):
        if self.a.pid:
            try:
                os.kill(self.a.pid, 0)
                with open('/proc/%d/stat' % self.a.pid) as f:
                    if f.read().split(')')[-1].split()[0] == 'Z':
                        return 'daemon died'
            except (OSError, IndexError):
                return 'daemon died'
        try:
            c = Conn(self.path, 10)
            self.n += 1
            key = b'/hostile/check%d' % self.n
            r1 = c.req(WRITE, key + b'\0v%d' % self.n)
            r2 = c.req(READ, key + b'\0')
            c.close()
        except OSError as e:
            return 'fresh connection failed: %s' % e
        if r1 != (WRITE, 1, 0, b'OK\0') or r2 != (READ, 1, 0, b'v%d' % self.n):
            return 'fresh connection: write %s, read %s' % (show(r1), show(r2))
        return None

    def expect(self, name, what, ok):
        """Record an expectation on the daemon's behaviour (not fatal with --info)."""
        if ok:
            return
        if self.a.info:
            self.notes.append('%s: %s' % (name, what))
        else:
            self.fails.append('%s: %s' % (name, what))

    # -- the cases --------------------------------------------------------------------
    def c_oversized(self):
        """Header announcing 5000 and 0xffffffff bytes: the connection is dropped."""
        for ln in (4097, 5000, 0xffffffff):
            c = Conn(self.path)
            c.send(msg(READ, b'/x\0', length=ln) + b'A' * 100)
            m = c.recv_msg(3)
            self.expect('oversized', 'len %d: got %s, want the connection closed' % (ln, show(m)),
                        m == 'EOF')
            self.result('oversized len %d' % ln, m)
            c.close()

    def c_partial_header(self):
        for n in (1, 8, 15):
            c = Conn(self.path)
            c.send(msg(READ, b'/x\0')[:n])
            c.close()

    def c_partial_payload(self):
        for n in (17, 20, 1000):
            c = Conn(self.path)
            c.send(msg(WRITE, b'/hostile/p\0' + b'v' * 2000)[:n])
            c.close()
        # a partial message then silence: other connections are still served
        c = Conn(self.path)
        c.send(msg(WRITE, b'/hostile/p\0' + b'v' * 2000)[:100])
        err = self.healthy()
        self.expect('partial payload', 'others not served while one message is half sent: %s'
                    % err, err is None)
        c.close()

    def c_unknown_types(self):
        c = Conn(self.path)
        for t in (99, 20, 0xffff, 27, 1000, 0x7fffffff, 15, 16):
            m = c.req(t, b'/x\0')
            self.result('type %d' % t, m)
            if t not in (15, 16):
                self.expect('unknown type', 'type %d: %s, want ENOSYS' % (t, show(m)),
                            m == (ERROR, 1, 0, b'ENOSYS\0'))
        c.close()

    def c_bad_paths(self):
        c = Conn(self.path)
        bad = [b'/a b', b'/a\tb', b'/\xc3\xa4', b'/\xff\xfe\xfd', b'/a//b', b'/a/', b'//',
               b'/a\x01', b'rel/../x', b'/' + b'x' * 3072, b'/' + b'x' * 4000,
               b'rel' + b'y' * 2100, b'/a.b', b'/a*', b'/\x7f']
        for p in bad:
            for t, pl in ((READ, p + b'\0'), (WRITE, p + b'\0v'), (WATCH, p + b'\0tok\0')):
                if len(pl) > 4096:
                    continue
                m = c.req(t, pl)
                self.expect('bad path', '%d %r...: %s, want EINVAL' % (t, p[:20], show(m)),
                            m == (ERROR, 1, 0, b'EINVAL\0'))
        # over XENSTORE_ABS_PATH_MAX (3072) is refused (C 4.17 already refuses more than
        # 2048 bytes below /local/domain/N/, or in all, see difftest.py path-max-2048)
        ok = b'/hostile/' + b'z' * (3072 - 9)
        m = c.req(WRITE, ok + b'\0v')
        self.result('write of a 3072-byte path', m)
        m = c.req(WRITE, ok + b'z\0v')
        self.expect('path 3073', 'write of a 3073-byte path: %s' % show(m),
                    m == (ERROR, 1, 0, b'EINVAL\0'))
        c.close()

    def c_missing_nuls(self):
        c = Conn(self.path)
        cases = [(READ, b'/hostile'), (READ, b''), (READ, b'/a\0b\0'), (WRITE, b'/hostile/n'),
                 (WRITE, b''), (WATCH, b'/hostile'), (WATCH, b'/hostile\0tok'), (WATCH, b''),
                 (TX_END, b'T'), (TX_END, b''), (GET_DOMAIN_PATH, b'0'),
                 (GET_DOMAIN_PATH, b''), (TX_START, b''), (1, b''), (12, b'/m'), (13, b''),
                 (14, b'/hostile\0b0'), (14, b'/hostile'), (22, b'/hostile\0')]
        for t, p in cases:
            m = c.req(t, p)
            self.result('type %d %r' % (t, p), m)
            self.expect('missing NUL', 'type %d %r: %s, want an ERROR reply' % (t, p, show(m)),
                        isinstance(m, tuple) and (m[0] == ERROR or t in (TX_START, 14)))
        c.close()

    def c_many_watches(self):
        c = Conn(self.path, 30)
        n = self.a.watches
        data = b''.join(msg(WATCH, b'/hostile/w/%d\0t\0' % i, rid=i + 1) for i in range(n))
        c.send(data)
        got = errs = 0
        while got < n:
            m = c.reply(20)
            if isinstance(m, str):
                break
            got += 1
            errs += m[0] == ERROR
        self.result('%d watches' % n, 'replies %d, errors %d' % (got, errs))
        self.expect('many watches', 'only %d of %d replies' % (got, n), got == n)
        # a write under all of them, from another connection
        d = Conn(self.path)
        d.req(WRITE, b'/hostile/w\0x')
        d.close()
        c.close()

    def c_many_transactions(self):
        c = Conn(self.path, 30)
        n = self.a.txs
        c.send(b''.join(msg(TX_START, b'\0', rid=i + 1) for i in range(n)))
        got = errs = 0
        ids = []
        while got < n:
            m = c.reply(20)
            if isinstance(m, str):
                break
            got += 1
            if m[0] == ERROR:
                errs += 1
            else:
                ids.append(int(m[3].rstrip(b'\0')))
        self.result('%d transactions' % n, 'replies %d, errors %d' % (got, errs))
        self.expect('many transactions', 'only %d of %d replies' % (got, n), got == n)
        # write in a few of them, leave all open and close the connection
        for i in ids[:50]:
            c.req(WRITE, b'/hostile/tx/%d\0v' % i, tx=i)
        c.close()

    def c_flood(self):
        """100k requests without reading a reply; others must still be served."""
        c = Conn(self.path)
        c.s.setblocking(False)
        one = msg(READ, b'/hostile/flood\0')
        data = one * self.a.flood
        sent = 0
        end = time.monotonic() + 20
        stalled_at = None
        while sent < len(data) and time.monotonic() < end:
            try:
                sent += c.s.send(data[sent:sent + 65536])
            except BlockingIOError:
                if stalled_at is None:
                    stalled_at = sent // len(one)
                    err = self.healthy()
                    self.expect('flood', 'daemon not serving others while one client floods: '
                                '%s' % err, err is None)
                _, w, _ = select.select([], [c.s], [], 0.5)
                if not w:
                    break
        self.result('flood', '%d of %d requests written%s' % (
            sent // len(one), self.a.flood,
            '' if stalled_at is None else ' (socket full after %d)' % stalled_at))
        err = self.healthy()
        self.expect('flood', 'others not served during the flood: %s' % err, err is None)
        c.close()

    def c_many_connections(self):
        n = self.a.conns
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < n + 100:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 200), hard))
        cs = []
        try:
            for _ in range(n):
                cs.append(Conn(self.path, 10))
        except OSError as e:
            self.result('connections', 'connect failed after %d: %s' % (len(cs), e))
        for i, c in enumerate(cs):
            try:
                c.send(msg(GET_DOMAIN_PATH, b'0\0', rid=i))
            except OSError:
                pass
        ok = 0
        for i, c in enumerate(cs):
            m = c.reply(10)
            ok += m == (GET_DOMAIN_PATH, i, 0, b'/local/domain/0\0')
        self.result('%d connections' % n, '%d answered' % ok)
        err = self.healthy()
        self.expect('many connections', '%d connections open: %s' % (len(cs), err), err is None)
        self.expect('many connections', 'only %d of %d answered' % (ok, n), ok == n)
        for c in cs:
            c.close()

    def c_random_bytes(self):
        r = random.Random(5)
        for i in range(self.a.random):
            c = Conn(self.path)
            n = r.choice([1, 7, 16, 17, 100, 1000, 5000])
            data = bytes(r.randrange(256) for _ in range(n))
            if i % 3 == 0:   # a plausible header with a random body
                data = msg(r.randrange(30), data[:r.randrange(200)]) + data
            try:
                c.send(data)
                if i % 2:
                    c.recv_msg(0.05)
            except OSError:
                pass
            c.close()

    def c_half_close(self):
        """A request then shutdown(SHUT_WR): the reply must still come, then nothing."""
        c = Conn(self.path)
        c.send(msg(GET_DOMAIN_PATH, b'0\0'))
        c.s.shutdown(socket.SHUT_WR)
        m = c.recv_msg(3)
        self.result('half close', m)
        c.close()

    CASES = ['oversized', 'partial_header', 'partial_payload', 'unknown_types', 'bad_paths',
             'missing_nuls', 'many_watches', 'many_transactions', 'flood', 'many_connections',
             'random_bytes', 'half_close']

    def result(self, what, m):
        if self.a.verbose or self.a.info:
            print('    %s: %s' % (what, show(m) if not isinstance(m, str) or m in
                                   ('EOF', 'TIMEOUT') else m))

    def run(self):
        only = self.a.only.split(',') if self.a.only else self.CASES
        err = self.healthy()
        if err:
            print('hostile: daemon not usable before the first case: %s' % err)
            return 1
        for name in only:
            t0 = time.monotonic()
            nf = len(self.fails) + len(self.notes)
            try:
                getattr(self, 'c_' + name)()
            except OSError as e:
                self.expect(name, 'client error %s' % e, False)
            err = self.healthy()
            dt = time.monotonic() - t0
            if err:
                print('  FAIL %-18s %s (%.1f s)' % (name, err, dt))
                self.fails.append('%s: after the case: %s' % (name, err))
                if 'died' in err:
                    break
                continue
            new = (self.fails + self.notes)[nf:] if not self.a.info else self.notes[nf:]
            word = 'note' if self.a.info else 'FAIL'
            print('  %-4s %-18s alive, fresh read ok (%.1f s)%s' % (
                'ok' if not new else word, name, dt,
                ''.join('\n         ' + x for x in new)))
        print('hostile: %d cases, %d failures' % (len(only), len(self.fails)))
        return 1 if self.fails else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--sock', required=True)
    ap.add_argument('--pid', type=int, default=0)
    ap.add_argument('--info', action='store_true', help='report, do not judge, behaviour')
    ap.add_argument('--only', default='')
    ap.add_argument('--watches', type=int, default=20000)
    ap.add_argument('--txs', type=int, default=2000)
    ap.add_argument('--flood', type=int, default=100000)
    ap.add_argument('--conns', type=int, default=1000)
    ap.add_argument('--random', type=int, default=300)
    ap.add_argument('--list', action='store_true')
    ap.add_argument('-v', '--verbose', action='store_true')
    a = ap.parse_args()
    if a.list:
        print('\n'.join(Hostile.CASES))
        return 0
    return Hostile(a).run()


if __name__ == '__main__':
    sys.exit(main())
