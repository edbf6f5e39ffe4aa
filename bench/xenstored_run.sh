#!/bin/bash
# bench/xenstored_run.sh BUILD_DIR [xenstored_bench options]
#
# Starts four xenstore daemons side by side, each on its own Unix socket, and runs
# BUILD_DIR/xenstored_bench against all of them in the same run:
#   C          Debian's C xenstored 4.17 (rig cache) under the LD_PRELOAD shim (tests/shim/)
#   ox         Debian's oxenstored 4.17 under the shim, in a private mount namespace (it
#              hard-codes /var/run/xenstored/socket: a tmpfs is mounted over /run there and
#              the client reaches the socket through /proc/PID/root); its setrlimit(NOFILE)
#              to 1,048,576 is turned into a no-op (xenstored_bench --exec-nofile-ok); access
#              log off (access-log-nb-files = 0; Debian's default config has it on; C xenstored logs nothing
#              by default); XSBENCH_OX_ACCESS_LOG=1 keeps it
#   vxs-batch  BUILD_DIR/vxenstored --sync batch, database on the real disk (under BUILD_DIR)
#   vxs-none   BUILD_DIR/vxenstored --sync none, database next to it
# Options are passed to xenstored_bench (--quick, --secs S, --clients N, ...; --help).
# XSBENCH_NO_OX=1 leaves oxenstored out.
set -u
BUILD=${1:-build}
shift || true
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=$(cd "$BUILD" && pwd)
tools/rig/fetch.sh >/dev/null || { echo "xenstored bench: cannot fetch Debian's xen-utils" >&2; exit 1; }
RIG_CACHE=${RIG_CACHE:-$ROOT/.rig-cache}
XBIN=$RIG_CACHE/root/xen-utils-4.17/usr/lib/xen-4.17/bin
SHIM=$BUILD/tests/shim/xkshim.so
BENCH=$BUILD/xenstored_bench
VXS=$BUILD/vxenstored
for f in "$XBIN/xenstored" "$XBIN/oxenstored" "$SHIM" "$BENCH" "$VXS"; do
    [ -e "$f" ] || { echo "xenstored bench: missing $f" >&2; exit 1; }
done

base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
D=$(mktemp -d "$base/xk-xsbench.XXXXXX")
DB=$(mktemp -d "$BUILD/xsbench-db.XXXXXX")
PIDS=()
NAMES=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$D" "$DB"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_sock NAME SOCKET PID LOG: wait up to 10 s for the socket to appear
wait_sock() {
    local i
    for i in $(seq 200); do
        [ -S "$2" ] && return 0
        kill -0 "$3" 2>/dev/null || break
        sleep 0.05
    done
    echo "xenstored bench: $1 did not start; its log:" >&2
    sed 's/^/    /' "$4" >&2
    return 1
}

ARGS=()

# Debian's C xenstored.
mkdir "$D/c"
XKSHIM_DIR=$D/c XENSTORED_RUNDIR=$D/c XENSTORED_PATH=$D/c/socket LD_PRELOAD=$SHIM \
    "$XBIN/xenstored" -N -F "$D/c/pid" >"$D/c/log" 2>&1 &
PIDS+=($!)
NAMES+=(C)
wait_sock C "$D/c/socket" $! "$D/c/log" && ARGS+=("C=$D/c/socket")

# oxenstored in its own mount namespace.
if [ "${XSBENCH_NO_OX:-0}" != 1 ]; then
    mkdir "$D/ox"
    printf 1 >"$D/ox/xsd_port"
    truncate -s 4096 "$D/ox/xsd_kva"
    cat >"$D/ox/oxenstored.conf" <<EOF
pid-file = $D/ox/pid
xenstored-kva = $D/ox/xsd_kva
xenstored-port = $D/ox/xsd_port
xenstored-log-file = $D/ox/xenstored.log
EOF
    # Debian's default config logs every request to an access log (about -40% on writes
    # here); C xenstored logs nothing unless traced. XSBENCH_OX_ACCESS_LOG=1 keeps the log.
    # Off means no log files at all (oxenstored makes no access logger then), not a log
    # at /dev/null: oxenstored rotates a log every 13,215 lines by renaming it, which
    # renamed /dev/null to /dev/null.1 .. .19 and left a regular file at /dev/null (the
    # machine's, as root) after a bench run.
    echo "access-log-file = $D/ox/access.log" >>"$D/ox/oxenstored.conf"
    if [ "${XSBENCH_OX_ACCESS_LOG:-0}" != 1 ]; then
        echo "access-log-nb-files = 0" >>"$D/ox/oxenstored.conf"
    fi
    RUN=$(readlink -f /var/run)
    US=(unshare -m --propagation private)
    [ "$(id -u)" = 0 ] || US=(unshare -r -m --propagation private)
    "${US[@]}" sh -c 'mount -t tmpfs -o mode=0755 xsbench "$1" && mkdir -p "$1/xenstored" && shift && exec "$@"' \
        sh "$RUN" env XKSHIM_DIR="$D/ox" LD_PRELOAD="$SHIM" \
        "$BENCH" --exec-nofile-ok "$XBIN/oxenstored" --no-fork --config-file "$D/ox/oxenstored.conf" \
        >"$D/ox/log" 2>&1 &
    OXPID=$!
    PIDS+=($OXPID)
    NAMES+=(ox)
    wait_sock ox "/proc/$OXPID/root$RUN/xenstored/socket" $OXPID "$D/ox/log" &&
        ARGS+=("ox=/proc/$OXPID/root$RUN/xenstored/socket")
fi

# vxenstored, group commit and no sync.
[ "$(stat -f -c %T "$DB")" = tmpfs ] && echo "xenstored bench: warning: $DB is on tmpfs (sync costs nothing)" >&2
for mode in batch none; do
    "$VXS" -N --socket-only --db "$DB/$mode" --sync "$mode" --socket "$D/vxs-$mode.sock" >"$D/vxs-$mode.log" 2>&1 &
    PIDS+=($!)
    NAMES+=("vxs-$mode")
    wait_sock "vxs-$mode" "$D/vxs-$mode.sock" $! "$D/vxs-$mode.log" && ARGS+=("vxs-$mode=$D/vxs-$mode.sock")
done

echo "xenstored bench: C = xenstored and ox = oxenstored from $(cat "$RIG_CACHE/root/xen-utils-4.17.stamp" 2>/dev/null) (LD_PRELOAD shim, no hypervisor);"
echo "  vxs = build/vxenstored $(git -C "$ROOT" describe --always --dirty 2>/dev/null), database in $(df --output=source "$DB" | tail -n1) ($(stat -f -c %T "$DB"));"
echo "  $(nproc) CPUs; clients send one request at a time per connection, like libxenstore;"
echo "  vxs runs with its defaults (--poll-spin 50: it looks ~50 us for the next request before"
echo "  sleeping while requests follow each other closely; C and ox sleep at once)"
"$BENCH" "$@" "${ARGS[@]}"
rc=$?
# --sync batch answers a lone client's write only after an fdatasync: that disk's flush
# latency bounds the single-client batch lines, whatever the daemon does. Measure it here.
python3 - "$DB" <<'PY' || true
import os, statistics, sys, time
path = os.path.join(sys.argv[1], "fdatasync-probe")
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
os.ftruncate(fd, 1 << 20)
blk, lat = b"x" * 4096, []
for i in range(200):
    os.pwrite(fd, blk, (i % 256) * 4096)
    t = time.perf_counter()
    os.fdatasync(fd)
    lat.append(time.perf_counter() - t)
os.close(fd)
os.unlink(path)
m = statistics.median(lat) * 1e6
print("\n--sync batch bound: one fdatasync per acknowledged write of a lone client; this disk's "
      "fdatasync of a 4 KiB write: median %.0f us, so at most ~%.0f writes/s for one client" % (m, 1e6 / m))
PY
for i in "${!PIDS[@]}"; do
    kill -0 "${PIDS[$i]}" 2>/dev/null || echo "xenstored bench: ${NAMES[$i]} is not running at the end" >&2
done
exit $rc
