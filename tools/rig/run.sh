#!/bin/bash
# Boot real Xen with a busybox dom0 under QEMU (TCG), run e2e scenarios inside dom0, report.
#
# Usage: tools/rig/run.sh [--xenstored PATH] [--xenstored-args ARGS] [--timeout SECS]
#                         [--scenario-timeout SECS] [--keep-log FILE] [SCENARIO...]
#
#   SCENARIO          names of tests/e2e/scenarios/*.sh without .sh; default: all but `demo`
#   --xenstored PATH  start this xenstored in dom0 instead of Debian's (copied in with its libs)
#   --xenstored-args  its arguments (default for Debian's: --pid-file /var/run/xenstored.pid)
#   --timeout SECS    overall limit for the QEMU run (default 600, plus the time of each
#                     scenario with a line "# rig: timeout SECS")
#   --scenario-timeout SECS  limit for one scenario inside dom0 (default 120; a scenario
#                     with a line "# rig: timeout SECS" gets that much if it is more)
#   --keep-log FILE   copy the whole serial log (Xen + dom0 + (dN) guest lines) to FILE
#
# It builds nothing: run `make` first (or use `make test-e2e`). Environment: RIG_CACHE (see
# fetch.sh), BUILD (default build), RIG_HOST_PROGS (see mkinitramfs.sh), QEMU (binary).
#
# Output: one `e2e: PASS name` / `e2e: FAIL name` line per scenario (with its INFO lines),
# the serial log around each failure, then `e2e: N passed, M failed`. Exit 0 iff all passed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RIG=$ROOT/tools/rig
export RIG_CACHE=${RIG_CACHE:-$ROOT/.rig-cache}
QEMU=${QEMU:-qemu-system-x86_64}

die() { printf 'e2e: error: %s\n' "$*" >&2; exit 2; }

XENSTORED=
XENSTORED_ARGS=
TIMEOUT=
SCENARIO_TIMEOUT=120
KEEP_LOG=
SCENARIOS=()
while [ $# -gt 0 ]; do
    case $1 in
        --xenstored) XENSTORED=$(readlink -f "$2"); shift 2 ;;
        --xenstored-args) XENSTORED_ARGS=$2; shift 2 ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        --scenario-timeout) SCENARIO_TIMEOUT=$2; shift 2 ;;
        --keep-log) KEEP_LOG=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/{/^set/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) SCENARIOS+=("${1%.sh}"); shift ;;
    esac
done

# Default: every scenario except demo (which only shows output, for `make demo`); toolstack
# first, since when it fails the rig itself is broken and nothing else can pass.
if [ ${#SCENARIOS[@]} -eq 0 ]; then
    [ ! -f "$ROOT/tests/e2e/scenarios/toolstack.sh" ] || SCENARIOS+=(toolstack)
    for f in "$ROOT"/tests/e2e/scenarios/*.sh; do
        [ -e "$f" ] || continue
        n=$(basename "$f" .sh)
        # A scenario whose file says "# rig: not-default" runs only when named (demo shows
        # output; others are parked with the reason written next to that line).
        grep -q '^# rig: not-default' "$f" && continue
        case $n in demo|toolstack) ;; *) SCENARIOS+=("$n") ;; esac
    done
fi
for s in "${SCENARIOS[@]}"; do
    [ -f "$ROOT/tests/e2e/scenarios/$s.sh" ] || die "no scenario tests/e2e/scenarios/$s.sh"
done
[ ${#SCENARIOS[@]} -gt 0 ] || die "no scenarios in tests/e2e/scenarios/"
# Default QEMU limit: 600 s, plus the time of each scenario that asks for more than the
# default scenario limit ("# rig: timeout SECS", which dom0's /init honours too).
if [ -z "$TIMEOUT" ]; then
    TIMEOUT=600
    for s in "${SCENARIOS[@]}"; do
        own=$(awk '/^# rig: timeout [0-9]/ { print $4; exit }' "$ROOT/tests/e2e/scenarios/$s.sh")
        [ -z "$own" ] || TIMEOUT=$((TIMEOUT + own))
    done
fi
command -v "$QEMU" >/dev/null || die "$QEMU not found (install qemu-system-x86)"

mkdir -p "$RIG_CACHE"
RIG_CACHE=$(cd "$RIG_CACHE" && pwd)

RUNDIR=$(mktemp -d "${TMPDIR:-/tmp}/xenkit-rig.XXXXXX")
QPID=
cleanup() {
    # Never leave QEMU behind (it is our child: kill it by its pid).
    if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
        kill "$QPID" 2>/dev/null || true
        sleep 0.5
        kill -9 "$QPID" 2>/dev/null || true
    fi
    rm -rf "$RUNDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Two runs may share the cache (e.g. two developers' make test-e2e): fetching and (re)building
# the base archive happen under a lock; the QEMU runs themselves are independent.
exec 9>"$RIG_CACHE/.lock"
flock 9
"$RIG/fetch.sh"
mk_args=(--out "$RUNDIR/dom0.cpio.gz" --scenario-timeout "$SCENARIO_TIMEOUT")
[ -z "$XENSTORED" ] || mk_args+=(--xenstored "$XENSTORED")
[ -z "$XENSTORED_ARGS" ] || mk_args+=(--xenstored-args "$XENSTORED_ARGS")
"$RIG/mkinitramfs.sh" "${mk_args[@]}" "${SCENARIOS[@]}"
flock -u 9
exec 9>&-

XEN=$RIG_CACHE/xen.elf
VMLINUZ=$(readlink -f "$RIG_CACHE/vmlinuz")
INITRD=$RUNDIR/dom0.cpio.gz
LOG=$RUNDIR/serial.log
# QEMU's multiboot loader splits -initrd on commas (one module each) and the module's command
# line on spaces: the paths must have neither, and dom0's arguments no commas.
for p in "$VMLINUZ" "$INITRD"; do
    case $p in *[,\ ]*) die "path '$p' contains a comma or space; QEMU cannot pass it as a module (set RIG_CACHE/TMPDIR)" ;; esac
done
XEN_ARGS="console=com1 com1=115200,8n1 dom0_mem=512M,max:512M loglvl=all guest_loglvl=all noreboot"
# quiet: only kernel warnings on the console, so they rarely interleave with scenario output.
DOM0_ARGS="console=hvc0 earlyprintk=xen quiet"

start_qemu() {
    : >"$LOG"
    T0=$(date +%s.%N)
    "$QEMU" -machine q35 -accel tcg,thread=multi -cpu qemu64,+svm,+npt -m 2048 -smp 2 \
        -display none -monitor none -serial "file:$LOG" -no-reboot -nodefaults \
        -device virtio-rng-pci \
        -kernel "$XEN" -append "$XEN_ARGS" -initrd "$VMLINUZ $DOM0_ARGS,$INITRD" \
        </dev/null >"$RUNDIR/qemu.out" 2>&1 &
    QPID=$!
}
# dom0 is normally ready 9-25 s after QEMU starts. Once in a while (seen once in about a
# dozen runs) the emulated machine hangs early in dom0's kernel boot, before any scenario:
# that is the rig, not what it tests, so such a boot is abandoned and started once more.
BOOT_LIMIT=${RIG_BOOT_LIMIT:-150}
BOOTS=1
start_qemu

elapsed() { awk -v t0="$T0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.1f", t1 - t0 }'; }
# clean_log: the serial log without CRs (Xen writes \r\n).
clean_log() { tr -d '\r' <"$LOG"; }

# Stream the results while QEMU runs: print each scenario's verdict as its END marker appears.
declare -A RC=()
PASSED=0 FAILED=0
FAILED_NAMES=()
READY_AT=
report() {  # report NAME RC SECS: print verdict + INFO/SHOW lines of the scenario
    local name=$1 rc=$2 secs=$3 section
    section=$(clean_log | awk -v n="$name" '$0 ~ "@@E2E BEGIN " n "$" {on=1; next}
                                           $0 ~ "@@E2E END " n " " {on=0} on')
    if [ "$rc" = 0 ]; then
        echo "e2e: PASS $name"; PASSED=$((PASSED + 1))
        echo "  ($secs s)"
    else
        echo "e2e: FAIL $name"
        echo "  (exit status $rc$([ "$rc" != 137 ] || echo ", killed by the scenario timeout") after $secs s)"
        FAILED=$((FAILED + 1)); FAILED_NAMES+=("$name")
    fi
    # INFO lines go to the user as they are; SHOW lines (a guest's console for `demo`) without
    # their prefix.
    printf '%s\n' "$section" | sed -n -e 's/^INFO /  INFO /p' -e 's/^SHOW \{0,1\}//p'
}
# report_ended: report every scenario whose END marker appeared since the last call.
report_ended() {
    local line name rc secs
    while IFS= read -r line; do
        set -- $line
        name=$3 rc=${4#rc=} secs=${5#secs=}
        [ -z "${RC[$name]:-}" ] || continue
        RC[$name]=$rc
        report "$name" "$rc" "${secs:-?}"
    done < <(clean_log | grep -a '^.*@@E2E END ' | sed 's/^.*@@E2E END/@@E2E END/')
}
while :; do
    report_ended
    if [ -z "$READY_AT" ] && clean_log | grep -aq '@@E2E READY'; then
        READY_AT=$(elapsed)
        echo "e2e: dom0 ready after ${READY_AT} s"
    fi
    if [ -z "$READY_AT" ] && [ "$BOOTS" -lt 2 ] &&
        awk -v e="$(elapsed)" -v t="$BOOT_LIMIT" 'BEGIN { exit !(e > t) }'; then
        echo "e2e: dom0 not ready after $BOOT_LIMIT s; last serial line: $(clean_log | tail -n 1)"
        echo "e2e: booting the rig once more"
        kill "$QPID" 2>/dev/null || true
        wait "$QPID" 2>/dev/null || true
        BOOTS=2
        start_qemu
        continue
    fi
    kill -0 "$QPID" 2>/dev/null || break
    if clean_log | grep -aq '@@E2E DONE'; then
        # poweroff -f follows: give QEMU a moment to exit by itself.
        for _ in $(seq 50); do kill -0 "$QPID" 2>/dev/null || break; sleep 0.1; done
        break
    fi
    if awk -v e="$(elapsed)" -v t="$TIMEOUT" 'BEGIN { exit !(e > t) }'; then
        echo "e2e: QEMU run timed out after $TIMEOUT s"
        break
    fi
    sleep 0.5
done
if kill -0 "$QPID" 2>/dev/null; then
    kill "$QPID" 2>/dev/null || true
fi
wait "$QPID" 2>/dev/null || true
QPID=
TOTAL=$(elapsed)

[ -z "$KEEP_LOG" ] || { clean_log >"$KEEP_LOG"; echo "e2e: serial log kept in $KEEP_LOG"; }
# The last END marker may have been written together with DONE, after the loop's last look.
report_ended

# Scenarios that never ended: dom0 died, hung or QEMU timed out.
NOT_RUN=()
for s in "${SCENARIOS[@]}"; do
    if [ -z "${RC[$s]:-}" ]; then
        echo "e2e: FAIL $s"
        echo "  (did not finish: dom0 died or hung, or QEMU timed out)"
        FAILED=$((FAILED + 1)); FAILED_NAMES+=("$s"); NOT_RUN+=("$s")
    fi
done

# Details for failures: the scenario's part of the serial log (its output interleaved with the
# guests' (dN) lines), at most the last 150 lines of it, without the ~20 lines of HVM context
# save/restore Xen logs for every domain it builds (loglvl=all).
for s in "${FAILED_NAMES[@]}"; do
    if clean_log | grep -aq "@@E2E BEGIN $s\$"; then
        echo "---- e2e: serial log of $s ----"
        clean_log | awk -v n="$s" '$0 ~ "@@E2E BEGIN " n "$" {on=1}
                                   on {print}
                                   $0 ~ "@@E2E END " n " " {on=0}' |
            grep -avE '^\(XEN\) HVM ?[0-9d]+.* (save|restore): ' | tail -n 150
        echo "---- end of $s ----"
    fi
done
if [ ${#NOT_RUN[@]} -gt 0 ]; then
    if grep -aq '@@E2E FATAL' "$LOG"; then
        clean_log | grep -a '@@E2E FATAL' | sed 's/^.*@@E2E /e2e: dom0 /'
    fi
    echo "---- e2e: last 80 lines of the serial log ----"
    clean_log | tail -n 80
    echo "---- end of serial log ----"
    if [ -s "$RUNDIR/qemu.out" ]; then
        echo "---- QEMU's output ----"; cat "$RUNDIR/qemu.out"; echo "----"
    fi
fi

echo "e2e: QEMU run ${TOTAL} s (dom0 ready after ${READY_AT:-never} s)"
echo "e2e: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
