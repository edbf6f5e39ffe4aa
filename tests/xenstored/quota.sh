#!/bin/sh
# vxenstored's quotas on the host (--socket-only): the command-line options, GET/SET_QUOTA,
# GET/SET_FEATURE, CONTROL quota/quota-soft and dom0's node count (tests/xenstored/quota.py),
# then a kill -9 and a restart on the same database: the counts are rebuilt from the tree.
# Bad quota options must make the daemon refuse to start. The unprivileged side (ENOSPC and
# the limits that stop reading a ring) is in tests/unit/test_vxs_quota.c.
# Usage: tests/xenstored/quota.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=$(mktemp -d /tmp/vxs-quota.XXXXXX)
export XENSTORED_PATH=$D/socket
PID=
fail=0
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT INT TERM
start() {
    rm -f "$XENSTORED_PATH"
    "$BUILD/vxenstored" -N --socket-only --db "$D/db" -E 500 -Q outstanding=30 \
        -q memory=1000000 -w watch-event=5 2>>"$D/log" &
    PID=$!
    for _ in $(seq 100); do [ -S "$XENSTORED_PATH" ] && return 0; sleep 0.05; done
    echo "vxenstored did not start"; cat "$D/log"; return 1
}

echo "quota options refused:"
for bad in "-Q bogus=1" "-Q nodes" "-Q nodes=x" "-q nodes=5" "-w bogus=1" "-w watch-event=" \
           "-E" "-E x"; do
    # shellcheck disable=SC2086
    if "$BUILD/vxenstored" -N --socket-only --db :memory: --socket "$D/bad" $bad \
           >/dev/null 2>&1 </dev/null; then
        echo "  FAIL vxenstored $bad started"; fail=1
    else
        echo "  ok   vxenstored $bad refused"
    fi
done

start || exit 1
python3 "$ROOT/tests/xenstored/quota.py" "$XENSTORED_PATH" >"$D/out" 2>&1 || fail=1
sed 's/^/  /' "$D/out"
n=$(sed -n 's/^DOM0_NODES //p' "$D/out")
kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=
echo "after kill -9 and a restart:"
start || exit 1
python3 "$ROOT/tests/xenstored/quota.py" "$XENSTORED_PATH" --after-restart "${n:-0}" || fail=1
kill "$PID"; wait "$PID" 2>/dev/null; PID=
[ $fail = 0 ] && echo "quota.sh: all passed" || echo "quota.sh: FAILED"
exit $fail
