#!/bin/sh
# The SIGKILL restart test of issue 5 over a real ring: vxenstored (not --socket-only) runs
# under the xkshim LD_PRELOAD shim (tests/shim/xkshim.c: event channels over Unix datagram
# sockets, /proc/xen/xsd_kva and xsd_port as files in $XKSHIM_DIR), so it serves dom0's ring
# page as it would under Xen. vxs-ringkill-client (tests/xenstored/ringkill_client.c) plays
# dom0's kernel and a client on that ring: writes, slow reads of a 3 KB value (replies cut by
# kills), big writes, transactions, a watch. A second one plays a guest, domain 5: dom0's
# client gives it /local/domain/5 and INTRODUCEs it (its ring is the shim's grant ref 1, its
# port one it allocated), and it does the same work on its own ring, under the guest quotas
# (-S 4096 lets it write the 3 KB value; it makes at most 900 new keys, within the default
# node quota of 1000 and the node-size of their directory, whose children's names count as
# in C 4.17: at -S 4096 the 1035th child is ENOSPC). The daemon is killed with SIGKILL at random moments, KILLS times, each
# time restarted on the same --db: it reattaches dom0's page, maps the guest's again, binds
# both ports again and carries on. Each client checks its reply stream (well-formed, each
# reply once and in order; a duplicate of a reply that fitted whole, the leftover
# docs/vxenstored.8 RESTARTS allows, is counted), its events (whole; duplicates allowed,
# none missing) and at the end every acknowledged write.
# Usage: tests/xenstored/killtest_ring.sh [BUILD_DIR]   (KILLS=n, SEED=n, KEEP=1)
# A failing run keeps its directory (the daemon's log, the clients' output) and says where.
set -u
BUILD=${1:-build}
. "$(dirname "$0")/killlib.sh"
KILLS=${KILLS:-110}
C=$BUILD/vxs-ringkill-client
SHIM=$(cd "$(dirname "$BUILD/tests/shim/xkshim.so")" 2>/dev/null && pwd)/xkshim.so
for f in "$BUILD/vxenstored" "$C" "$SHIM"; do
    [ -e "$f" ] || { echo "killtest_ring: $f is missing (make $f)" >&2; exit 1; }
done
D=$(mktemp -d /tmp/vxs-ringkill.XXXXXX)
mkdir "$D/shim"
export XKSHIM_DIR=$D/shim
export XENSTORED_PATH=$D/socket
PID=
CPID=
GPID=
WPID=
cleanup() {
    [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
    [ -n "$CPID" ] && kill -9 "$CPID" 2>/dev/null
    [ -n "$GPID" ] && kill -9 "$GPID" 2>/dev/null
    [ -n "$WPID" ] && kill "$WPID" 2>/dev/null
    wait 2>/dev/null
    if [ -z "${KEEP:-}" ] && [ "${fail:-1}" -eq 0 ]; then rm -rf "$D"
    elif [ -z "${fail:-}" ]; then echo "killtest_ring: kept $D" >&2; fi
}
trap cleanup EXIT INT TERM

start() { # SYNC
    rm -f "$XENSTORED_PATH"
    LD_PRELOAD=$SHIM "$BUILD/vxenstored" -N --db "$D/db" --sync "$1" -S 4096 \
        2>>"$D/log" &
    PID=$!
    echo "$PID" >"$D/daemon.pid"
    wait_socket "$PID" && return 0
    echo "killtest_ring: vxenstored did not start"; tail -n 20 "$D/log"; return 1
}

# A client that waited STALL_REPORT_S seconds without an event from the daemon writes
# $D/stall.<who>.<n> (ringkill_client.c): record at once, without disturbing it, where the
# daemon is: each thread's state, wchan and kernel stack (a daemon asleep in its epoll_pwait
# has lost a wake-up; one in a sync, a lock or a page fault is blocked), and the receive
# queues of the shim's event channel sockets (a notification the daemon did not read, or
# none sent). Into $D/stalls.txt, printed at the end.
record_stalls() {
    while sleep 0.3; do
        for f in "$D"/stall.*; do
            case $f in *.seen) continue ;; esac
            [ -e "$f" ] && [ ! -e "$f.seen" ] || continue
            : >"$f.seen"
            p=$(cat "$D/daemon.pid" 2>/dev/null)
            {
                echo "== $(date -u +%T.%N | cut -c1-12) UTC: $(cat "$f")"
                echo "daemon pid $p (kill count $(cat "$D/gen"))"
                for t in /proc/"$p"/task/*; do
                    [ -e "$t/stat" ] || continue
                    echo "  thread $(cat "$t/comm" 2>/dev/null): state $(cut -d' ' -f3 "$t/stat" 2>/dev/null)" \
                        "wchan $(cat "$t/wchan" 2>/dev/null) syscall $(cut -d' ' -f1 "$t/syscall" 2>/dev/null)"
                    sed 's/^/      /' "$t/stack" 2>/dev/null
                done
                if command -v ss >/dev/null; then
                    echo "  event channel sockets (Recv-Q: notifications not read):"
                    ss -xa 2>/dev/null | grep -F "$D/shim/ev." | sed 's/^/    /'
                fi
                echo "  the log's last lines:"; tail -n 5 "$D/log" | sed 's/^/    /'
            } >>"$D/stalls.txt" 2>&1
        done
    done
}
record_stalls &
WPID=$!

echo 0 >"$D/gen"
LD_PRELOAD=$SHIM "$C" "$D" guest 5 >"$D/guest.out" 2>"$D/guest.err" &
GPID=$!
for _ in $(seq 200); do [ -e "$D/guest_ready" ] && break; sleep 0.02; done
[ -e "$D/guest_ready" ] || { echo "killtest_ring: the guest did not start"; cat "$D/guest.err"; exit 1; }
LD_PRELOAD=$SHIM "$C" "$D" >"$D/client.out" 2>"$D/client.err" &
CPID=$!
for _ in $(seq 200); do [ -e "$D/ready" ] && break; sleep 0.02; done
[ -e "$D/ready" ] || { echo "killtest_ring: the client did not start"; cat "$D/client.err"; exit 1; }
start batch || exit 1

kills=0 mode=batch dead=0
t0=$(date +%s)
while [ $kills -lt "$KILLS" ]; do
    kill_pause
    kill -KILL "$PID"
    wait "$PID" 2>/dev/null
    st=$?
    PID=
    # 137: our SIGKILL. Anything else: the daemon had ended on its own (a crash, an exit).
    if [ $st -ne 137 ]; then
        echo "killtest_ring: FAIL vxenstored had ended by itself (status $st) before kill $((kills + 1))"
        tail -n 20 "$D/log"; dead=1; break
    fi
    kills=$((kills + 1))
    echo $kills >"$D/gen.tmp" && mv "$D/gen.tmp" "$D/gen"
    kill -0 "$CPID" 2>/dev/null || break
    kill -0 "$GPID" 2>/dev/null || break
    case $((kills % 22)) in 3) mode=always ;; 14) mode=none ;; *) mode=batch ;; esac
    start $mode || exit 1
done
secs=$(( $(date +%s) - t0 ))
sleep 0.5
fail=$dead
[ $dead -eq 0 ] || start batch || exit 1 # (so that the clients can finish their check)
kill -TERM "$CPID" "$GPID" 2>/dev/null
# The clients read every acknowledged write back over their ring before they exit.
wait "$CPID" || { echo "  FAIL dom0's client: exit status $?"; fail=1; }
wait "$GPID" || { echo "  FAIL the guest's client: exit status $?"; fail=1; }
CPID= GPID=
kill "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null; WPID=
cat "$D/client.out" "$D/guest.out"
if [ -s "$D/stalls.txt" ]; then
    echo "killtest_ring: NOTE: a client waited 5 s or more without an event from the daemon (a lost wake-up?):"
    sed 's/^/  /' "$D/stalls.txt" | head -60
fi
for e in client guest; do
    if [ -s "$D/$e.err" ]; then sed 's/^/  /' "$D/$e.err" | head -30; fi
done
if grep -qi "sanitizer\|assert\|ring broken\|RINGIDX" "$D/log"; then
    echo "  FAIL the daemon reported:"; grep -i "sanitizer\|assert\|ring broken\|RINGIDX" "$D/log" | head; fail=1
fi
grep -q "acknowledged writes checked" "$D/client.out" || fail=1
grep -q "acknowledged writes checked" "$D/guest.out" || fail=1
echo "killtest_ring: $kills SIGKILLs in ${secs} s"
# How long the restarts' watch-event replays were (the events-delivered marks' lag: each
# replayed commit can give a watcher a duplicate event).
awk '/watch events of [0-9]+ commits replayed/ { for (i = 1; i < NF; i++) if ($i == "of") n = $(i + 1);
                                                s += n; if (n > m) m = n; r++ }
     END { printf "killtest_ring: %d restarts replayed watch events: %d commits in all, at most %d in one\n", r, s, m }' "$D/log"
if [ $fail -eq 0 ]; then echo "killtest_ring: ok"; else echo "killtest_ring: FAILED (kept: $D)"; fi
exit $fail
