#!/bin/sh
# Differential test: vxenstored against Debian's C xenstored 4.17 (run under the LD_PRELOAD
# shim tests/shim/xkshim.so, no hypervisor), each on its own socket, fresh state; then
# tests/xenstored/difftest.py sends both the same seeded random request sequences.
# Usage: tests/xenstored/diff.sh [BUILD_DIR] [difftest.py options, e.g. --strict --seqs 2000]
# Without options it runs DIFF_SEQS (1000) sequences of the default mix, then DIFF_MIX_SEQS
# (150) of each --mix with --strict, then twice DIFF_GUEST_SEQS (150) --guest sequences with
# --strict: one connection is domain 5 (then two: 5 and 6) over a xenstore ring (vxs-ring-proxy, a guest's ring
# page and event channel under the shim, in front of a second C xenstored and of a second
# vxenstored that runs under the shim too, not --socket-only, as on a Xen host; fresh ones, so
# that dom0's figures in "quota 0" compare).
set -u
BUILD=${1:-build}
[ $# -gt 0 ] && shift
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "$BUILD" && pwd)
XBIN=${RIG_CACHE:-$ROOT/.rig-cache}/root/xen-utils-4.17/usr/lib/xen-4.17/bin
SHIM=$BUILD/tests/shim/xkshim.so
if [ ! -x "$XBIN/xenstored" ]; then
    "$ROOT/tools/rig/fetch.sh" >/dev/null || { echo "diff.sh: cannot fetch the Xen tools" >&2; exit 1; }
fi
PROXY=$BUILD/vxs-ring-proxy
for f in "$BUILD/vxenstored" "$SHIM" "$PROXY"; do
    [ -e "$f" ] || { echo "diff.sh: $f missing (make BUILD=$BUILD $f)" >&2; exit 1; }
done
base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
D=$(mktemp -d "$base/xk-diff.XXXXXX")
CPID= VPID= C2PID= GPID= CPPID= GPPID= CPPID6= GPPID6=
cleanup() {
    for p in $CPID $VPID $C2PID $GPID $CPPID $GPPID $CPPID6 $GPPID6; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$D/c" "$D/v" "$D/c2" "$D/g"
XKSHIM_DIR=$D/c XENSTORED_RUNDIR=$D/c XENSTORED_PATH=$D/c/socket LD_PRELOAD=$SHIM \
    "$XBIN/xenstored" -N -F "$D/c/pid" >"$D/c/log" 2>&1 &
CPID=$!
XENSTORED_PATH=$D/v/socket "$BUILD/vxenstored" -N --socket-only --db "$D/v/db" --sync none \
    >"$D/v/log" 2>&1 &
VPID=$!
# The guest's side: C xenstored and vxenstored under the shim (rings, the domains the shim
# knows), and a ring proxy (domain 5) in front of each.
XKSHIM_DIR=$D/c2 XENSTORED_RUNDIR=$D/c2 XENSTORED_PATH=$D/c2/socket LD_PRELOAD=$SHIM \
    "$XBIN/xenstored" -N -F "$D/c2/pid" >"$D/c2/log" 2>&1 &
C2PID=$!
XKSHIM_DIR=$D/g XENSTORED_PATH=$D/g/socket LD_PRELOAD=$SHIM \
    "$BUILD/vxenstored" -N --db "$D/g/db" --sync none >"$D/g/log" 2>&1 &
GPID=$!
XKSHIM_DIR=$D/c2 LD_PRELOAD=$SHIM "$PROXY" "$D/c2/guest" 5 2>"$D/c2/proxy.log" &
CPPID=$!
XKSHIM_DIR=$D/g LD_PRELOAD=$SHIM "$PROXY" "$D/g/guest" 5 2>"$D/g/proxy.log" &
GPPID=$!
XKSHIM_DIR=$D/c2 LD_PRELOAD=$SHIM "$PROXY" "$D/c2/guest6" 6 2>"$D/c2/proxy6.log" &
CPPID6=$!
XKSHIM_DIR=$D/g LD_PRELOAD=$SHIM "$PROXY" "$D/g/guest6" 6 2>"$D/g/proxy6.log" &
GPPID6=$!
for _ in $(seq 100); do
    [ -S "$D/c/socket" ] && [ -S "$D/v/socket" ] && [ -S "$D/c2/socket" ] &&
        [ -S "$D/g/socket" ] && [ -S "$D/c2/guest" ] && [ -S "$D/g/guest" ] &&
        [ -S "$D/c2/guest6" ] && [ -S "$D/g/guest6" ] && break
    sleep 0.05
done
if [ ! -S "$D/c/socket" ] || [ ! -S "$D/v/socket" ] || [ ! -S "$D/c2/socket" ] ||
   [ ! -S "$D/g/socket" ] || [ ! -S "$D/c2/guest" ] || [ ! -S "$D/g/guest" ] ||
   [ ! -S "$D/c2/guest6" ] || [ ! -S "$D/g/guest6" ]; then
    echo "diff.sh: a daemon did not start"; cat "$D"/*/log "$D"/*/proxy.log; exit 1
fi
echo "xenstored differential test: vxenstored vs C xenstored (Debian xen-utils-4.17, under xkshim)"
python3 "$ROOT/tests/xenstored/difftest.py" --c "$D/c/socket" --v "$D/v/socket" \
    --seqs "${DIFF_SEQS:-1000}" "$@"
rc=$?
# Without options (as make test-xenstored runs it): each --mix briefly too, on other seeds
# (~10 s in all; DIFF_MIX_SEQS=0 skips them).
if [ $# -eq 0 ] && [ "${DIFF_MIX_SEQS:-150}" -gt 0 ]; then
    for mix in limits tx perms watch dirs; do
        python3 "$ROOT/tests/xenstored/difftest.py" --c "$D/c/socket" --v "$D/v/socket" \
            --mix $mix --conns 6 --seqs "${DIFF_MIX_SEQS:-150}" --seed0 100001 --strict || rc=1
    done
fi
# Without options: the guests' sequences (~15-25 s; DIFF_GUEST_SEQS=0 skips them): domain 5
# alone, then domains 5 and 6 (each other's homes, SET_TARGET 6 5, RELEASE of either first);
# small quotas (memory too), SET_TARGET 5 5, the guest's SET_QUOTA, and in one sequence in 7
# a burst of the guest's writes past XSA-206's write-rate burst while dom0 has a transaction
# open.
if [ $# -eq 0 ] && [ "${DIFF_GUEST_SEQS:-150}" -gt 0 ]; then
    python3 "$ROOT/tests/xenstored/difftest.py" --c "$D/c2/socket" --v "$D/g/socket" \
        --c-guest "$D/c2/guest" --v-guest "$D/g/guest" --guest \
        --seqs "${DIFF_GUEST_SEQS:-150}" --seed0 200001 --strict || rc=1
    python3 "$ROOT/tests/xenstored/difftest.py" --c "$D/c2/socket" --v "$D/g/socket" \
        --c-guest "$D/c2/guest,$D/c2/guest6" --v-guest "$D/g/guest,$D/g/guest6" --guest \
        --seqs "${DIFF_GUEST_SEQS:-150}" --seed0 250001 --strict || rc=1
fi
kill -0 "$CPID" 2>/dev/null || { echo "diff.sh: C xenstored died:"; tail -c 400 "$D/c/log"; }
kill -0 "$VPID" 2>/dev/null || { echo "diff.sh: vxenstored died:"; tail -c 400 "$D/v/log"; rc=1; }
kill -0 "$GPID" 2>/dev/null || { echo "diff.sh: vxenstored (shim) died:"; tail -c 400 "$D/g/log"; rc=1; }
exit $rc
