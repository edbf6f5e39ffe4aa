#!/bin/bash
# bench/run.sh BUILD_DIR: run build/vchan_bench under the LD_PRELOAD shim
# (tests/shim/xkshim.c) with Debian's xenstored on a Unix socket, as tests/interop/run.sh does.
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=$(cd "$BUILD" && pwd)
tools/rig/fetch.sh >/dev/null || { echo "bench: cannot fetch Debian's xen-utils" >&2; exit 1; }
RIG_CACHE=${RIG_CACHE:-$ROOT/.rig-cache}
XBIN=$RIG_CACHE/root/xen-utils-4.17/usr/lib/xen-4.17/bin
XSU=$RIG_CACHE/root/xenstore-utils/usr/bin
SHIM=$BUILD/tests/shim/xkshim.so
base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
D=$(mktemp -d "$base/xk-bench.XXXXXX")
XSPID=
trap '[ -n "$XSPID" ] && kill "$XSPID" 2>/dev/null; rm -rf "$D"' EXIT
trap 'exit 130' INT TERM
export XKSHIM_DIR=$D XENSTORED_RUNDIR=$D XENSTORED_PATH=$D/socket
LD_PRELOAD=$SHIM "$XBIN/xenstored" -N -F "$D/xenstored.pid" >"$D/xenstored.log" 2>&1 &
XSPID=$!
for _ in $(seq 100); do [ -S "$D/socket" ] && break; sleep 0.05; done
"$XSU/xenstore-write" /local/domain/0/domid 0 || exit 1
LIB=$(readlink -f /usr/lib/x86_64-linux-gnu/libxenvchan.so)
PKG=$(dpkg -S "$LIB" 2>/dev/null | cut -d: -f1 | head -n1)
echo "vchan bench: xkvchan vs $(basename "$LIB") ($PKG $(dpkg-query -W -f '${Version}' "$PKG" 2>/dev/null)), $(nproc) CPUs, shim: grants in $base, events over AF_UNIX"
${VCHAN_BENCH_WRAP:-} env LD_PRELOAD=$SHIM "$BUILD/vchan_bench"
