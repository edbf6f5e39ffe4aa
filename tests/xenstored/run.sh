#!/bin/sh
# vxenstored on the host (no hypervisor): Xen's own test-xenstore and the real xenstore-*
# tools (libxenstore) against build/vxenstored on a temporary socket and database, then a
# kill -9 and a restart on the same database: every acknowledged write must still be there.
# Usage: tests/xenstored/run.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RIG=$ROOT/.rig-cache/root
TX=$RIG/xen-utils-4.17/usr/lib/xen-4.17/bin/test-xenstore
U=$RIG/xenstore-utils/usr/bin
if [ ! -x "$TX" ] || [ ! -x "$U/xenstore-read" ]; then
    "$ROOT/tools/rig/fetch.sh" >/dev/null || { echo "xenstored: cannot fetch the Xen tools" >&2; exit 1; }
fi
D=$(mktemp -d /tmp/vxs-test.XXXXXX)
export XENSTORED_PATH=$D/socket
PID=
. "$ROOT/tests/xenstored/lib.sh"
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT INT TERM

start || exit 1

echo "test-xenstore (Xen 4.17):"
if timeout 60 "$TX" -i 3 >"$D/tx.out" 2>&1; then
    n=$(grep -c ' ns)$' "$D/tx.out")
    sed 's/^/    /' "$D/tx.out"
    check "test-xenstore: 12 tests pass" 12 "$n"
else
    sed 's/^/    /' "$D/tx.out"
    bad "test-xenstore (exit $?)"
fi

echo "xenstore-* tools:"
"$U/xenstore-write" /vt/a/b hello /vt/x 42 && ok "xenstore-write (missing parents created)" || bad "xenstore-write"
check "xenstore-read" "hello" "$("$U/xenstore-read" /vt/a/b)"
check "xenstore-read relative (under /local/domain/0)" "rel" \
    "$("$U/xenstore-write" relnode rel && "$U/xenstore-read" /local/domain/0/relnode)"
check "xenstore-ls" "$(printf 'a = ""\n b = "hello"\nx = "42"')" "$("$U/xenstore-ls" /vt)"
check "xenstore-list" "$(printf 'a\nx')" "$("$U/xenstore-list" /vt)"
"$U/xenstore-read" /vt/nope 2>/dev/null && bad "read of a missing node fails" || ok "read of a missing node fails"
"$U/xenstore-chmod" /vt/x b0 r3 && check "xenstore-chmod / perms" "(b0,r3)" "$("$U/xenstore-ls" -p /vt | sed -n 's/^x = .*\(([^)]*)\)$/\1/p')" || bad "xenstore-chmod"
timeout 10 "$U/xenstore-watch" -n 3 /vt/w >"$D/watch.out" 2>&1 &
WPID=$!
sleep 0.3
"$U/xenstore-write" /vt/w/one 1
"$U/xenstore-rm" /vt/w
wait $WPID
check "xenstore-watch: first event, write below, rm" "$(printf '/vt/w\n/vt/w/one\n/vt/w')" "$(cat "$D/watch.out")"
"$U/xenstore-rm" /vt/a && ok "xenstore-rm" || bad "xenstore-rm"
check "rm removed the subtree" "x" "$("$U/xenstore-list" /vt)"
"$U/xenstore-rm" /vt/nothing && ok "rm of a missing node with a parent: OK" || bad "rm of a missing node"

echo "kill -9 and restart on the same database:"
i=0
while [ $i -lt 200 ]; do "$U/xenstore-write" /vt/k/$i v$i || break; i=$((i + 1)); done
check "200 acknowledged writes" 200 $i
kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=
start || exit 1
check "all 200 acknowledged writes survived" 200 "$("$U/xenstore-list" /vt/k | wc -l)"
check "value after restart" "v199" "$("$U/xenstore-read" /vt/k/199)"
check "perms after restart" "(b0,r3)" "$("$U/xenstore-ls" -p /vt | sed -n 's/^x = .*\(([^)]*)\)$/\1/p')"
timeout 60 "$TX" >/dev/null 2>&1 && ok "test-xenstore after restart" || bad "test-xenstore after restart"

echo "drop-in start-up (fork, pid file, sd_notify):"
kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=
rm -f "$XENSTORED_PATH"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(20); print(s.recv(64).decode())' "$D/notify" >"$D/notify.out" &
NPID=$!
# The listener must be bound before the daemon starts (a busy machine may take its time).
for _ in $(seq 200); do [ -S "$D/notify" ] && break; sleep 0.05; done
if NOTIFY_SOCKET=$D/notify "$BUILD/vxenstored" --socket-only --db "$D/db" -F "$D/pid" 2>>"$D/log"; then
    ok "without -N: the parent exits 0 once the daemon serves"
else
    bad "without -N: the parent failed"
fi
PID=$(cat "$D/pid" 2>/dev/null)
[ -n "$PID" ] && kill -0 "$PID" 2>/dev/null && ok "pid file names the running daemon" || bad "pid file"
check "the socket answers at once" "v199" "$("$U/xenstore-read" /vt/k/199)"
wait $NPID
check "sd_notify" "READY=1" "$(cat "$D/notify.out")"

echo "SIGHUP reopens the -T trace file (log rotation):"
kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=
rm -f "$XENSTORED_PATH"
"$BUILD/vxenstored" -N --socket-only --db "$D/db" -T "$D/trace" 2>>"$D/log" &
PID=$!
for _ in $(seq 100); do [ -S "$XENSTORED_PATH" ] && break; sleep 0.05; done
"$U/xenstore-write" /vt/hup before
mv "$D/trace" "$D/trace.1"
kill -HUP "$PID"
for _ in $(seq 100); do [ -e "$D/trace" ] && break; sleep 0.05; done
"$U/xenstore-write" /vt/hup after
kill -0 "$PID" 2>/dev/null && ok "alive after SIGHUP" || bad "SIGHUP ended the daemon"
grep -q 'before' "$D/trace.1" && ! grep -q 'after' "$D/trace.1" && grep -q 'after' "$D/trace" &&
    ok "requests after SIGHUP go to a new trace file" || bad "trace file not reopened"

echo "xenstored: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
