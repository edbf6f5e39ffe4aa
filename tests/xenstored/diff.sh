#!/bin/sh
# Differential test: vxenstored against Debian's C xenstored 4.17 (run under the LD_PRELOAD
# shim tests/shim/xkshim.so, no hypervisor), each on its own socket, fresh state; then
# tests/xenstored/difftest.py sends both the same seeded random request sequences.
# Usage: tests/xenstored/diff.sh [BUILD_DIR] [difftest.py options, e.g. --strict --seqs 2000]
# Without options it runs DIFF_SEQS (1000) sequences of the default mix, then DIFF_MIX_SEQS
# (150) of each --mix with --strict.
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
for f in "$BUILD/vxenstored" "$SHIM"; do
    [ -e "$f" ] || { echo "diff.sh: $f missing (make BUILD=$BUILD $f)" >&2; exit 1; }
done
base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
D=$(mktemp -d "$base/xk-diff.XXXXXX")
CPID= VPID=
cleanup() {
    [ -n "$CPID" ] && kill "$CPID" 2>/dev/null
    [ -n "$VPID" ] && kill "$VPID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$D/c" "$D/v"
XKSHIM_DIR=$D/c XENSTORED_RUNDIR=$D/c XENSTORED_PATH=$D/c/socket LD_PRELOAD=$SHIM \
    "$XBIN/xenstored" -N -F "$D/c/pid" >"$D/c/log" 2>&1 &
CPID=$!
XENSTORED_PATH=$D/v/socket "$BUILD/vxenstored" -N --socket-only --db "$D/v/db" --sync none \
    >"$D/v/log" 2>&1 &
VPID=$!
for _ in $(seq 100); do [ -S "$D/c/socket" ] && [ -S "$D/v/socket" ] && break; sleep 0.05; done
if [ ! -S "$D/c/socket" ] || [ ! -S "$D/v/socket" ]; then
    echo "diff.sh: a daemon did not start"; cat "$D/c/log" "$D/v/log"; exit 1
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
kill -0 "$CPID" 2>/dev/null || { echo "diff.sh: C xenstored died:"; tail -c 400 "$D/c/log"; }
kill -0 "$VPID" 2>/dev/null || { echo "diff.sh: vxenstored died:"; tail -c 400 "$D/v/log"; rc=1; }
exit $rc
