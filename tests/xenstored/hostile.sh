#!/bin/sh
# Hostile input against build/vxenstored (tests/xenstored/hostile.py): oversized and partial
# messages, unknown types, bad paths, missing NULs, 20k watches, 2k transactions, a 100k
# request flood, 1000 connections, random bytes; after each case the daemon must be alive
# and serve a fresh connection. HOSTILE_C=1 also runs the cases against Debian's C xenstored
# 4.17 under the shim, for information only.
# Usage: tests/xenstored/hostile.sh [BUILD_DIR] [hostile.py options]
set -u
BUILD=${1:-build}
[ $# -gt 0 ] && shift
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "$BUILD" && pwd)
base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
D=$(mktemp -d "$base/xk-hostile.XXXXXX")
VPID= CPID=
cleanup() {
    [ -n "$VPID" ] && kill "$VPID" 2>/dev/null
    [ -n "$CPID" ] && kill "$CPID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$D/v" "$D/c"
XENSTORED_PATH=$D/v/socket "$BUILD/vxenstored" -N --socket-only --db "$D/v/db" --sync batch \
    >"$D/v/log" 2>&1 &
VPID=$!
for _ in $(seq 100); do [ -S "$D/v/socket" ] && break; sleep 0.05; done
echo "xenstored hostile input: vxenstored"
python3 "$ROOT/tests/xenstored/hostile.py" --sock "$D/v/socket" --pid "$VPID" "$@"
rc=$?
[ $rc -ne 0 ] && tail -c 600 "$D/v/log"
if [ "${HOSTILE_C:-0}" = 1 ]; then
    XBIN=${RIG_CACHE:-$ROOT/.rig-cache}/root/xen-utils-4.17/usr/lib/xen-4.17/bin
    XKSHIM_DIR=$D/c XENSTORED_RUNDIR=$D/c XENSTORED_PATH=$D/c/socket \
        LD_PRELOAD=$BUILD/tests/shim/xkshim.so "$XBIN/xenstored" -N -F "$D/c/pid" >"$D/c/log" 2>&1 &
    CPID=$!
    for _ in $(seq 100); do [ -S "$D/c/socket" ] && break; sleep 0.05; done
    echo "for information, the same against C xenstored 4.17:"
    python3 "$ROOT/tests/xenstored/hostile.py" --sock "$D/c/socket" --pid "$CPID" --info "$@"
fi
exit $rc
