#!/bin/sh
# SIGKILL under the fd store (issue 5, item 5): vxenstored runs under vxs-fdstore, which keeps
# its listening socket and every client's socket across its deaths (sd_notify FDSTORE=1,
# LISTEN_FDS). Long-lived libxenstore clients - writers that keep ONE xs_open for their whole
# life (vxs-killwriter with KILLWRITER_ONE_CONN=1: plain writes, and transactions retried on
# EAGAIN) and a watcher on one writer's keys - run while the daemon is SIGKILLed KILLS times.
# Passes when no client lost its connection or had a request fail (a lost connection, a
# request never answered, a reply sent twice all show as a writer's failure or hang), every
# acknowledged write is in the store, and after every restart the watcher got new events;
# then tests/xenstored/hostile.py runs against the daemon under the fd store.
# Usage: tests/xenstored/killtest_fdstore.sh [BUILD_DIR]   (KILLS=n, SYNC=batch|always|none)
set -u
BUILD=${1:-build}
. "$(dirname "$0")/killlib.sh"
KILLS=${KILLS:-25}
SYNC=${SYNC:-batch}
W=$BUILD/vxs-killwriter
for f in "$BUILD/vxenstored" "$BUILD/vxs-fdstore" "$W"; do
    [ -x "$f" ] || { echo "killtest_fdstore: $f is missing (make $f)" >&2; exit 1; }
done
D=$(mktemp -d /tmp/vxs-fdkill.XXXXXX)
export XENSTORED_PATH=$D/socket
HPID=
WPIDS=
WATCHER=
cleanup() {
    if [ -n "$HPID" ]; then
        d=$(daemon_pid)
        kill -9 "$HPID" $d 2>/dev/null
    fi
    for p in $WPIDS $WATCHER; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT INT TERM

# The daemon: the holder's child.
daemon_pid() { pgrep -P "$HPID" -x vxenstored | head -n 1; }

"$BUILD/vxs-fdstore" -- "$BUILD/vxenstored" -N --socket-only --db "$D/db" --sync "$SYNC" \
    2>>"$D/log" &
HPID=$!
for _ in $(seq 400); do
    [ -S "$XENSTORED_PATH" ] && [ -n "$(daemon_pid)" ] && break
    sleep 0.02
done
[ -S "$XENSTORED_PATH" ] || { echo "killtest_fdstore: vxenstored did not start"; cat "$D/log"; exit 1; }


export KILLWRITER_ONE_CONN=1 KILLWRITER_PAUSE_US=${KILLWRITER_PAUSE_US:-2000}
"$BUILD/vxs-killwriter" watch p0 "$D/watch.log" 2>>"$D/writers" & WATCHER=$!
for w in p0 p1; do
    "$W" write $w plain "$D/$w.log" 2>>"$D/writers" & WPIDS="$WPIDS $!"
done
"$W" write t0 txn "$D/t0.log" 2>>"$D/writers" & WPIDS="$WPIDS $!"

lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

fail=0 kills=0 fed=0
# The listening socket is kept too: the same one serves after every restart.
sock_ino=$(stat -c %i "$XENSTORED_PATH")
t0=$(date +%s)
while [ $kills -lt "$KILLS" ]; do
    kill_pause
    old=$(daemon_pid)
    [ -n "$old" ] || { echo "  FAIL no daemon under the holder"; cat "$D/log"; exit 1; }
    kill -KILL "$old"
    kills=$((kills + 1))
    ev=$(lines "$D/watch.log")
    # The holder starts a new one (100 ms later); the watcher must hear of new writes.
    for _ in $(seq 250); do
        new=$(daemon_pid)
        [ -n "$new" ] && [ "$new" != "$old" ] && [ "$(lines "$D/watch.log")" -gt "$ev" ] && break
        sleep 0.02
    done
    if [ "$(lines "$D/watch.log")" -gt "$ev" ]; then fed=$((fed + 1)); else
        echo "  FAIL no watch event within 5 s of restart $kills"; fail=1; break
    fi
done
secs=$(( $(date +%s) - t0 ))
[ "$(stat -c %i "$XENSTORED_PATH")" = "$sock_ino" ] ||
    { echo "  FAIL the listening socket was bound anew (not taken back from the fd store)"; fail=1; }
if grep -q "not a connection" "$D/log"; then
    echo "  FAIL the daemon closed a stored fd:"; grep "not a connection" "$D/log" | head -3; fail=1
fi
sleep 0.3
for p in $WPIDS; do
    if ! kill -0 "$p" 2>/dev/null; then echo "  FAIL a writer ended early"; fail=1; fi
    kill -TERM "$p" 2>/dev/null
done
# A writer still waiting for a reply (a request lost at a kill) does not see the SIGTERM.
for p in $WPIDS; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$p" 2>/dev/null; then
        echo "  FAIL a writer hangs (a request never answered)"; fail=1; kill -9 "$p"
    fi
    wait "$p" || { echo "  FAIL a writer failed"; fail=1; }
done
WPIDS=
kill -0 "$WATCHER" 2>/dev/null || { echo "  FAIL the watcher lost its connection"; fail=1; }
kill -9 "$WATCHER" 2>/dev/null
wait "$WATCHER" 2>/dev/null
WATCHER=

acked=0 keys=0
for w in p0 p1 t0; do
    case $w in p*) kind=plain ;; *) kind=txn ;; esac
    if out=$("$W" check $w $kind "$D/$w.log" 2>"$D/check.err"); then
        set -- $out
        acked=$((acked + $1)); keys=$((keys + $2))
    else
        echo "  FAIL writer $w:"; sed 's/^/    /' "$D/check.err"; fail=1
    fi
done
sed 's/^/  /' "$D/writers"
# Hostile clients against the daemon under the fd store (its read path peeks and holds
# requests: a client that sends without reading, partial requests, floods). 10000 watches
# sent at once (not hostile.py's 20000: each WATCH of a kept socket is a commit, ~15 s under
# load) still overflow the socket's buffer, which deadlocked before 6a34940.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if python3 "$ROOT/tests/xenstored/hostile.py" --sock "$XENSTORED_PATH" --pid "$(daemon_pid)" \
        --watches 10000 >"$D/hostile" 2>&1; then
    tail -n 1 "$D/hostile" | sed 's/^/  /'
else
    echo "  FAIL hostile input under the fd store:"; sed 's/^/    /' "$D/hostile"; fail=1
fi
# A clean stop: SIGTERM to the holder ends the daemon and the holder (exit 0).
kill -TERM "$HPID"
wait "$HPID" || { echo "  FAIL vxs-fdstore did not stop cleanly on SIGTERM"; fail=1; }
HPID=
if grep -qi "sanitizer\|assert" "$D/log"; then
    echo "  FAIL the daemon reported:"; grep -i "sanitizer\|assert" "$D/log" | head; fail=1
fi
restored=$(grep -c "socket connections taken back" "$D/log")
echo "killtest_fdstore: $kills SIGKILLs in ${secs} s (--sync $SYNC), $restored restarts took" \
     "the sockets back; $acked acknowledged writes checked over $keys keys;" \
     "$(lines "$D/watch.log") watch events, new ones after $fed of $kills restarts"
[ $acked -gt 0 ] || { echo "  FAIL no write was acknowledged"; fail=1; }
if [ $fail -eq 0 ]; then echo "killtest_fdstore: ok"; else echo "killtest_fdstore: FAILED"; fi
exit $fail
