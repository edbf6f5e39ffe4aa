#!/bin/sh
# The SIGKILL restart test of issue 5: vxenstored (--socket-only, a --db directory) serves
# several libxenstore writers (vxs-killwriter: plain xs_write, and transactions retried on
# EAGAIN) and is killed with SIGKILL at random moments, KILLS times, each time restarted on the
# same database; the writers reconnect and go on. Most runs use --sync batch, some always and
# some none (none promises survival of a process kill, which is what SIGKILL tests; not of a
# power loss). At the end every write a writer logged as acknowledged (libxenstore returned
# success) must be in the store with its value or a later one of the same key, and each
# transaction's two keys must be equal. Every other batch run uses the pipelined group commit
# (VXS_SYNC_THREAD=1: the fdatasync in a thread while the loop goes on).
# Usage: tests/xenstored/killtest.sh [BUILD_DIR]   (KILLS=n to change the number of kills)
set -u
BUILD=${1:-build}
. "$(dirname "$0")/killlib.sh"
KILLS=${KILLS:-110}
PLAIN=${PLAIN:-3}
TXN=${TXN:-2}
W=$BUILD/vxs-killwriter
for f in "$BUILD/vxenstored" "$W"; do
    [ -x "$f" ] || { echo "killtest: $f is missing (make $f)" >&2; exit 1; }
done
D=$(mktemp -d /tmp/vxs-kill.XXXXXX)
export XENSTORED_PATH=$D/socket
PID=
WPIDS=
cleanup() {
    [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
    for p in $WPIDS; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "${KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT INT TERM

start() { # SYNC (always, batch, none, or thread: batch with the sync thread)
    rm -f "$XENSTORED_PATH"
    th=0 sync=$1
    [ "$1" = thread ] && th=1 sync=batch
    VXS_SYNC_THREAD=$th "$BUILD/vxenstored" -N --socket-only --db "$D/db" --sync "$sync" \
        2>>"$D/log" &
    PID=$!
    wait_socket "$PID" && return 0
    echo "killtest: vxenstored did not start"; tail -n 20 "$D/log"; return 1
}

# A pseudo-random delay before each kill: 0.02 to 0.2 s, a tenth of them right after the start
# (the daemon is killed while it replays or the writers reconnect).

# Each writer pauses between writes so that the pack (which every restart scans) stays
# within tens of MB; the load is still several hundred writes a second.
export KILLWRITER_PAUSE_US=${KILLWRITER_PAUSE_US:-4000}
start batch || exit 1
i=0
while [ $i -lt "$PLAIN" ]; do
    "$W" write p$i plain "$D/p$i.log" 2>>"$D/writers" & WPIDS="$WPIDS $!"
    i=$((i + 1))
done
i=0
while [ $i -lt "$TXN" ]; do
    "$W" write t$i txn "$D/t$i.log" 2>>"$D/writers" & WPIDS="$WPIDS $!"
    i=$((i + 1))
done

kills=0 batch=0 thread=0 always=0 none=0 mode=batch
t0=$(date +%s)
while [ $kills -lt "$KILLS" ]; do
    kill_pause
    kill -KILL "$PID"
    wait "$PID" 2>/dev/null
    PID=
    kills=$((kills + 1))
    # Count the kill against the mode of the run it ended; choose the next run's mode.
    case $mode in
    always) always=$((always + 1)) ;; none) none=$((none + 1)) ;;
    thread) batch=$((batch + 1)) thread=$((thread + 1)) ;; *) batch=$((batch + 1)) ;;
    esac
    case $((kills % 22)) in
    3) mode=always ;; 14) mode=none ;; *) mode=batch; [ $((kills % 2)) = 1 ] && mode=thread ;;
    esac
    start $mode || exit 1
done
secs=$(( $(date +%s) - t0 ))
# Let the writers make progress on the last run, then stop them.
sleep 0.5
for p in $WPIDS; do kill -TERM "$p"; done
for p in $WPIDS; do wait "$p"; done
WPIDS=

fail=0 acked=0 keys=0
for l in "$D"/p*.log "$D"/t*.log; do
    name=$(basename "$l" .log)
    case $name in p*) kind=plain ;; *) kind=txn ;; esac
    if out=$("$W" check "$name" $kind "$l" 2>"$D/check.err"); then
        set -- $out
        acked=$((acked + $1)); keys=$((keys + $2))
    else
        echo "  FAIL writer $name:"; sed 's/^/    /' "$D/check.err"; fail=1
    fi
done
sed 's/^/  /' "$D/writers"
if grep -qi "sanitizer\|assert" "$D/log"; then
    echo "  FAIL the daemon reported:"; grep -i "sanitizer\|assert" "$D/log" | head; fail=1
fi
echo "killtest: $kills SIGKILLs in ${secs} s (of runs in --sync batch: $batch ($thread with" \
     "the sync thread), always: $always," \
     "none: $none); $acked acknowledged writes checked over $keys keys"
[ $acked -gt 0 ] || { echo "  FAIL no write was acknowledged"; fail=1; }
if [ $fail -eq 0 ]; then echo "killtest: ok"; else echo "killtest: FAILED"; fi
exit $fail
