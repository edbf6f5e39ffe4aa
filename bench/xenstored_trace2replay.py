#!/usr/bin/env python3
"""Turn a vxenstored -T trace of one guest's `xl create` + `xl destroy` into a replay file for
the xenstored bench's `replay` test (bench/xenstored_replay.c).

    bench/xenstored_trace2replay.py [--domid N] [--title TEXT] TRACE >bench/NAME.replay

TRACE holds vxenstored's trace lines, either as written by `-T FILE` or prefixed `XSTRACE `
as the rig's linux-guest scenario prints them on the serial log (other lines are skipped):

    IN  18:20:01.123456 dom0/conn7 WRITE req 0 tx 12 len 25 "/local/domain/1/name|guest"
    OUT 18:20:01.123789 dom0/conn7 WRITE req 0 tx 12 len 3 "OK|"

(| is a NUL byte, . any other unprintable byte; payloads over 256 bytes end in ...).

The replay file has one request per line, in the order the daemon received them:

    CONN TYPE TX EXPECT PAYLOAD

CONN names the connection it came on (d0c7: dom0's connection 7, gc2: the guest's), TYPE the
request, TX `-` or the transaction it belongs to (t1, t2, ... numbered as they were started;
on a TRANSACTION_START, the one it starts),
EXPECT the trace's answer (`ok` or the error name, e.g. ENOENT), PAYLOAD the bytes with | for
NUL. The guest's domid becomes `$D` and its UUID `$U` wherever they name it (path components
under /local/domain, /libxl, /vm and backend/KIND, permissions, the values of frontend-id and
domid, the vif name, the domid arguments of GET_DOMAIN_PATH and friends), so the bench can
replay the file for many domains at once. The guest's relative paths become absolute
(/local/domain/$D/...), since the bench replays them on dom0's socket.
"""
import argparse
import re
import sys

LINE = re.compile(r'^(IN |OUT) (?:\d\d:\d\d:\d\d\.\d+ )?dom(\d+)/conn(\d+) (\S+) req (\d+) tx (\d+) len (\d+) "(.*)"$')
UUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')
# Requests that need a hypervisor (rings, event channels) or act on a real domain: the bench
# has neither, so they are left out (and counted in the header).
SKIP = {'INTRODUCE', 'RELEASE', 'RESUME', 'SET_TARGET', 'IS_DOMAIN_INTRODUCED'}
# Requests whose whole payload starts with a domid.
DOMID_ARG = {'GET_DOMAIN_PATH'}
# Keys whose value is the guest's domid.
DOMID_KEYS = {'frontend-id', 'domid', 'target'}


def parse(path):
    recs = []
    with open(path, errors='replace') as f:
        for raw in f:
            raw = raw.rstrip('\r\n')
            i = raw.find('XSTRACE ')
            if i >= 0:
                raw = raw[i + len('XSTRACE '):]
            m = LINE.match(raw)
            if not m:
                continue
            d, dom, conn, typ, req, tx, ln, pl = m.groups()
            trunc = pl.endswith('...') and int(ln) > 256
            if trunc:
                pl = pl[:-3]
            recs.append(dict(dir=d.strip(), dom=int(dom), conn=int(conn), type=typ,
                             tx=int(tx), len=int(ln), pl=pl, trunc=trunc))
    return recs


class Renamer:
    def __init__(self, domid, uuid):
        self.d = str(domid)
        self.uuid = uuid

    def path(self, p):
        if self.uuid:
            p = p.replace(self.uuid, '$U')
        c = p.split('/')
        for i, x in enumerate(c):
            if x != self.d:
                continue
            prev = c[i - 1] if i >= 1 else ''
            if prev in ('domain', 'libxl') or (i >= 2 and c[i - 2] == 'backend'):
                c[i] = '$D'
        return '/'.join(c)

    def value(self, key, v):
        last = key.rsplit('/', 1)[-1]
        if last in DOMID_KEYS and v == self.d:
            return '$D'
        if v.startswith('/'):
            return self.path(v)
        m = re.fullmatch(r'vif' + re.escape(self.d) + r'\.(\d+)', v)
        if m:
            return 'vif$D.' + m.group(1)
        if self.uuid and self.uuid in v:
            return v.replace(self.uuid, '$U')
        return v

    def perms(self, parts):
        out = []
        for p in parts:
            if len(p) >= 2 and p[0] in 'rwbn' and p[1:] == self.d:
                p = p[0] + '$D'
            out.append(p)
        return out


PATH_TYPES = {'READ', 'DIRECTORY', 'WRITE', 'MKDIR', 'RM', 'SET_PERMS', 'GET_PERMS', 'WATCH'}


def need_before(setup, typ, path, reply, first_rm, ok):
    """Record in setup (payload -> request type) what must exist before a request on path
    succeeds: a node read outside the guest's subtrees with the value it had, a directory
    listed, or the parent of the guest's subtree a successful RM needs (/local/domain, ...:
    a missing parent makes RM fail with ENOENT; WRITE and MKDIR make parents)."""
    if not path.startswith('/'):
        return
    if '$D' in path or '$U' in path:
        c = path.split('/')
        i = next(k for k, x in enumerate(c) if '$D' in x or '$U' in x)
        parent = '/'.join(c[:i])
        # Decided by the first RM under it: /vm or /libxl may only appear during the window.
        if typ == 'RM' and parent and first_rm.setdefault(parent, ok):
            setup.setdefault(parent + '|', 'MKDIR')
        return
    if not ok:
        return
    if typ == 'READ':
        setup.setdefault(path + '|' + reply, 'WRITE')
    elif typ == 'DIRECTORY' and path + '|' not in setup:
        setup.setdefault(path + '|', 'MKDIR')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('trace')
    ap.add_argument('--domid', type=int, help="the guest's domid (default: the only domU in the trace)")
    ap.add_argument('--title', default="xl create + xl destroy of one guest")
    ap.add_argument('--drop', default='', metavar='CONN,...',
                    help="leave out these connections (as named in the output, e.g. d0c28): "
                         "requests that were not the toolstack's, like a test's own checks")
    a = ap.parse_args()
    recs = parse(a.trace)
    if not recs:
        sys.exit('no trace lines in ' + a.trace)
    domid = a.domid
    if domid is None:
        doms = sorted({r['dom'] for r in recs if r['dom'] != 0})
        if len(doms) != 1:
            sys.exit('guest domids in the trace: %s; say which with --domid' % doms)
        domid = doms[0]
    uuid = None
    for r in recs:
        m = re.search(r'/vm/(' + UUID.pattern + ')', r['pl'])
        if m:
            uuid = m.group(1)
            break
    rn = Renamer(domid, uuid)

    # Pair each request with its reply: one request at a time per connection, so the next
    # non-event OUT on the same connection answers the pending IN.
    pending = {}
    txmap = {}          # (dom, conn, the daemon's tx id) -> t1, t2, ... (ids are per connection)
    ntx = 0
    out = []
    skipped = {}
    truncated = 0
    for r in recs:
        key = (r['dom'], r['conn'])
        if r['dir'] == 'IN':
            pending[key] = r
            continue
        if r['type'] == 'WATCH_EVENT' or key not in pending:
            continue
        q = pending.pop(key)
        q['reply'] = r
        out.append(q)

    drop = set(c for c in a.drop.split(',') if c)
    dropped = 0
    lines = []
    setup = {}
    first_rm = {}
    for q in out:
        r = q['reply']
        typ = q['type']
        if typ in SKIP:
            skipped[typ] = skipped.get(typ, 0) + 1
            continue
        expect = 'ok' if r['type'] != 'ERROR' else r['pl'].rstrip('|')
        if typ == 'TRANSACTION_START':
            if expect != 'ok':
                continue
            # Its TX column names the transaction it starts (it is sent outside any).
            ntx += 1
            tx = txmap[(q['dom'], q['conn'], int(r['pl'].rstrip('|')))] = 't%d' % ntx
        elif q['tx'] == 0:
            tx = '-'
        elif (q['dom'], q['conn'], q['tx']) in txmap:
            tx = txmap[(q['dom'], q['conn'], q['tx'])]
        else:
            continue    # a transaction started before the trace's window
        truncated += q['trunc']
        parts = q['pl'].split('|')
        guest = q['dom'] != 0
        if typ in DOMID_ARG:
            if parts[0] == rn.d:
                parts[0] = '$D'
        elif typ in ('TRANSACTION_START', 'TRANSACTION_END'):
            pass
        else:
            p0 = parts[0]
            if guest and p0 and not p0.startswith('/') and not p0.startswith('@'):
                p0 = '/local/domain/%d/%s' % (domid, p0)
            parts[0] = rn.path(p0)
            if typ == 'WRITE' and len(parts) >= 2:
                parts[1:] = [rn.value(parts[0], '|'.join(parts[1:]))]
            elif typ == 'SET_PERMS':
                parts[1:] = rn.perms(parts[1:])
        conn = ('gc%d' if guest else 'd0c%d') % q['conn']
        if conn in drop:
            dropped += 1
            continue
        lines.append('%s %s %s %s %s' % (conn, typ, tx, expect, '|'.join(parts)))
        if typ in PATH_TYPES:
            # dom0's relative paths name nodes under /local/domain/0 (the guest's were made
            # absolute above)
            p0 = parts[0]
            if p0 and not p0.startswith('/') and not p0.startswith('@'):
                p0 = '/local/domain/0/' + p0
            need_before(setup, typ, p0, r['pl'], first_rm, expect == 'ok')

    conns = {l.split(' ', 1)[0] for l in lines}
    # The store as the trace found it (dom0's nodes, the backend directories): what the
    # requests that succeeded needed to exist before the first one.
    setup_lines = ['setup %s - ok %s' % (t, pl) for pl, t in setup.items()]
    print('# xenstored replay: %s' % a.title)
    print('# made by bench/xenstored_trace2replay.py from a vxenstored -T trace (rig, real Xen 4.17);')
    print('# %d requests on %d connections; guest domid %d -> $D, UUID -> $U' % (len(lines), len(conns), domid))
    if skipped:
        print('# left out (need a hypervisor): %s' % ', '.join('%s x%d' % kv for kv in sorted(skipped.items())))
    if dropped:
        print('# %d requests of connections %s left out (not the toolstack\'s)' % (dropped, a.drop))
    if truncated:
        print('# %d payloads were cut at 256 bytes by the trace' % truncated)
    print('# CONN TYPE TX EXPECT PAYLOAD (| = NUL); CONN "setup": the state before, made once')
    for l in setup_lines + lines:
        print(l)


if __name__ == '__main__':
    main()
