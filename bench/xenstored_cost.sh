#!/bin/bash
# bench/xenstored_cost.sh BUILD_DIR [--ops N] [--clients N] [--sync MODE]...
#
# What a request costs the machine, not how fast it goes: the bench's "write ops/s, N
# clients" test (xenstored_workloads.c) run with a fixed number of writes against C xenstored
# 4.17 (rig cache, LD_PRELOAD shim) and against BUILD_DIR/vxenstored (--sync none, and any
# other --sync given), one daemon at a time, each printed per request:
#   daemon  per thread: user and system CPU (us), voluntary and involuntary context switches
#           (/proc/PID/task/*); with perf: its CPU (task-clock) and syscalls by kind
#   clients the bench process (N client threads): CPU (us) and context switches (perf stat)
#   machine inter-processor interrupts (all CPUs, so other jobs' too)
# Why: with other work on the machine (helpers, the rig) ops/s of the same binary vary by
# +-30% from run to run, while these counts move by a few percent; and the ops/s of a
# daemon that is the busy side (vxenstored with 10 writers on two CPUs) follow its CPU per
# request. Needs perf for the syscall and client columns (without it: the /proc ones).
set -u
BUILD=${1:-build}
shift || true
OPS=3000
CLIENTS=10
MODES=(none)
while [ $# -gt 0 ]; do
    case $1 in
    --ops) OPS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --sync) MODES+=("$2"); shift 2 ;;
    *) echo "usage: $0 BUILD_DIR [--ops N] [--clients N] [--sync MODE]..." >&2; exit 2 ;;
    esac
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$BUILD" && pwd)
RIG_CACHE=${RIG_CACHE:-$ROOT/.rig-cache}
[ -x "$RIG_CACHE/root/xen-utils-4.17/usr/lib/xen-4.17/bin/xenstored" ] ||
    (cd "$ROOT" && tools/rig/fetch.sh >/dev/null) ||
    { echo "xenstored cost: cannot fetch Debian's xen-utils" >&2; exit 1; }
XBIN=$RIG_CACHE/root/xen-utils-4.17/usr/lib/xen-4.17/bin
SHIM=$BUILD/tests/shim/xkshim.so
BENCH=$BUILD/xenstored_bench
for f in "$XBIN/xenstored" "$SHIM" "$BENCH" "$BUILD/vxenstored"; do
    [ -e "$f" ] || { echo "xenstored cost: missing $f" >&2; exit 1; }
done
PERF=$(command -v perf)
[ -n "$PERF" ] && ! "$PERF" stat -e task-clock true >/dev/null 2>&1 && PERF=
SC="read write recvfrom sendto ppoll poll epoll_wait epoll_pwait pwrite64 futex sched_yield"
SCEV=raw_syscalls:sys_enter
for s in $SC; do SCEV=$SCEV,syscalls:sys_enter_$s; done
[ -n "$PERF" ] && ! "$PERF" stat -e "$SCEV" true >/dev/null 2>&1 && SCEV=

D=$(mktemp -d "${TMPDIR:-/tmp}/xk-xscost.XXXXXX")
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# The daemon's threads: tid utime stime (ticks) voluntary involuntary switches.
snap() {
    local t
    for t in /proc/$PID/task/*; do
        echo "${t##*/} $(cut -d' ' -f14,15 "$t/stat") $(awk '/^voluntary_ctxt/ {v = $2}
            /^nonvoluntary_ctxt/ {n = $2} END {print v, n}' "$t/status")"
    done | sort
}

# Inter-processor interrupts so far, all CPUs (rescheduling + function call): a wake-up of a
# task onto another, idle CPU sends one, which on a VM costs the waker a VM exit (~7 us here,
# under nested virtualization, against ~1 us for a send nobody waits on). System-wide: other
# jobs on the machine add theirs.
ipis() { awk '$1 == "RES:" || $1 == "CAL:" {for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i}
    END {print s + 0}' /proc/interrupts; }

# run NAME SOCKET: the test against the daemon $PID serving SOCKET.
run() {
    local name=$1 sock=$2 i
    for i in $(seq 200); do [ -S "$sock" ] && break; sleep 0.05; done
    [ -S "$sock" ] || { echo "$name: did not start" >&2; return; }
    local n=$((OPS * CLIENTS)) hz
    hz=$(getconf CLK_TCK)
    snap >"$D/s1"
    local ipi1 ipi2
    ipi1=$(ipis)
    local wrap=()
    if [ -n "$PERF" ]; then
        [ -n "$SCEV" ] && { "$PERF" stat -x, -e "task-clock,$SCEV" -p "$PID" -o "$D/sys" & }
        local pp=$!
        wrap=("$PERF" stat -x, -e task-clock,context-switches -o "$D/cli")
    fi
    "${wrap[@]}" "$BENCH" --only clients --rounds 1 --clients "$CLIENTS" --ops "$OPS" \
        --secs 100000 "$name=$sock" >"$D/out" 2>&1
    snap >"$D/s2"
    ipi2=$(ipis)
    [ -n "$PERF" ] && [ -n "$SCEV" ] && { kill -INT $pp; wait $pp 2>/dev/null; }
    printf '%-10s %7.0f writes/s (%d writes, load %s)\n' "$name" \
        "$(awk '/write ops\/s, [0-9]+ clients/ {print $NF}' "$D/out")" $n "$(cut -d' ' -f1 /proc/loadavg)"
    awk -v a="$ipi1" -v b="$ipi2" -v n=$n 'BEGIN {printf "  machine       IPIs %.2f\n", (b - a) / n}'
    join "$D/s1" "$D/s2" | awk -v n=$n -v hz=$hz '{u = ($6 - $2) * 1e6 / hz / n;
        s = ($7 - $3) * 1e6 / hz / n; if (u + s == 0 && $8 == $4) next;
        printf "  daemon thread %-7s user %5.2f us  sys %5.2f us  switches %.3f vol %.3f invol\n",
            $1, u, s, ($8 - $4) / n, ($9 - $5) / n}'
    if [ -n "$PERF" ]; then
        awk -F, -v n=$n '$1 ~ /^[0-9.]+$/ && $3 == "task-clock" {c = $1 * 1000 / n}
            $1 ~ /^[0-9.]+$/ && $3 == "context-switches" {k = $1 / n}
            END {printf "  clients       CPU %5.2f us  switches %.3f\n", c, k}' "$D/cli"
        # (task-clock: exact, where the per-thread ticks above are sampled)
        [ -n "$SCEV" ] && awk -F, -v n=$n '$1 ~ /^[0-9.]+$/ && $3 == "task-clock" {
                printf "  daemon        CPU %5.2f us (task-clock, all threads)\n", $1 * 1000 / n; next}
            $1 ~ /^[0-9.]+$/ && $1 > 0 {e = $3;
            sub(/.*sys_enter_?/, "", e); if (e == "") e = "all";
            s = s sprintf(" %s %.2f", e, $1 / n)} END {print "  daemon syscalls" s}' "$D/sys"
    fi
}

echo "xenstored cost: $CLIENTS clients x $OPS writes each, per write; $(nproc) CPUs"
mkdir "$D/c"
XKSHIM_DIR=$D/c XENSTORED_RUNDIR=$D/c XENSTORED_PATH=$D/c/socket LD_PRELOAD=$SHIM \
    "$XBIN/xenstored" -N -F "$D/c/pid" >"$D/c/log" 2>&1 &
PID=$!
run C "$D/c/socket"
kill $PID; wait $PID 2>/dev/null; PID=
for mode in "${MODES[@]}"; do
    DB=$(mktemp -d "$BUILD/xscost-db.XXXXXX")
    "$BUILD/vxenstored" -N --socket-only --db "$DB" --sync "$mode" --socket "$D/vxs.sock" \
        >"$D/vxs.log" 2>&1 &
    PID=$!
    run "vxs-$mode" "$D/vxs.sock"
    kill $PID; wait $PID 2>/dev/null; PID=
    rm -rf "$DB" "$D/vxs.sock"
done
