#!/bin/bash
# tests/interop/run.sh BUILD_DIR
#
# Our dom0 vchan binding (build/vchan-cat) against the REAL libxenvchan (tests/interop/
# lxv_peer.c linked with -lxenvchan, and Debian's vchan-socket-proxy), with no hypervisor:
# every process runs under the LD_PRELOAD shim build/tests/shim/xkshim.so (grants are files
# in a tmpfs directory, event channels AF_UNIX datagram sockets), and xenstore is Debian's C
# xenstored from the rig cache, also under the shim, serving a Unix socket (XENSTORED_PATH).
# Data is random, compared by SHA-256, for ring orders 10/11, 12, 16 and 20.
# Ends with "interop: N passed, M failed"; exits non-zero if anything failed.
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BUILD=$(cd "$BUILD" && pwd)

tools/rig/fetch.sh >/dev/null || { echo "interop: cannot fetch Debian's xen-utils (tools/rig/fetch.sh)" >&2; exit 1; }
RIG_CACHE=${RIG_CACHE:-$ROOT/.rig-cache}
XBIN=$RIG_CACHE/root/xen-utils-4.17/usr/lib/xen-4.17/bin
XSU=$RIG_CACHE/root/xenstore-utils/usr/bin
SHIM=$BUILD/tests/shim/xkshim.so
CAT=$BUILD/vchan-cat
LXV=$BUILD/tests/interop/lxv-peer
XKPOLL=$BUILD/tests/interop/xk-poll-peer
for f in "$XBIN/xenstored" "$XBIN/vchan-socket-proxy" "$SHIM" "$CAT" "$LXV" "$XKPOLL"; do
    [ -e "$f" ] || { echo "interop: missing $f" >&2; exit 1; }
done

LIB=$(readlink -f /usr/lib/x86_64-linux-gnu/libxenvchan.so)
PKG=$(dpkg -S "$LIB" 2>/dev/null | cut -d: -f1 | head -n1)
VER=$(dpkg-query -W -f '${Version}' "$PKG" 2>/dev/null)
echo "interop: real libxenvchan: $(basename "$LIB") from Debian package $PKG $VER"
echo "interop: vchan-socket-proxy from $(cat "$RIG_CACHE/root/xen-utils-4.17.stamp" 2>/dev/null)"

base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
D=$(mktemp -d "$base/xk-interop.XXXXXX")
XSPID=
cleanup() {
    [ -n "$XSPID" ] && kill "$XSPID" 2>/dev/null
    jobs -p | xargs -r kill 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export XKSHIM_DIR=$D XENSTORED_RUNDIR=$D XENSTORED_PATH=$D/socket
LD_PRELOAD=$SHIM "$XBIN/xenstored" -N -F "$D/xenstored.pid" >"$D/xenstored.log" 2>&1 &
XSPID=$!
for _ in $(seq 100); do [ -S "$D/socket" ] && break; sleep 0.05; done
[ -S "$D/socket" ] || { echo "interop: xenstored did not start" >&2; cat "$D/xenstored.log" >&2; exit 1; }
"$XSU/xenstore-write" /local/domain/0/domid 0 || exit 1

passed=0
failed=0
ok()   { echo "  PASS  $*"; passed=$((passed + 1)); }
bad()  { echo "  FAIL  $*"; failed=$((failed + 1)); }
sum()  { sha256sum <"$1" | cut -c1-16; }
pre()  { LD_PRELOAD=$SHIM timeout 60 "$@"; }

head -c $((3 * 1048576 + 12345)) /dev/urandom >"$D/data"
head -c $((2 * 1048576 + 777)) /dev/urandom >"$D/data2"
N=$(stat -c %s "$D/data")
N2=$(stat -c %s "$D/data2")
REF=$(sum "$D/data")
REF2=$(sum "$D/data2")
echo "interop: payload $N bytes, sha256 $REF..."

check() {   # check NAME FILE REF [status...]
    local name=$1 file=$2 ref=$3
    shift 3
    local st
    for st in "$@"; do
        [ "$st" = 0 ] || { bad "$name (exit status $*)"; return; }
    done
    local got
    got=$(sum "$file")
    if [ "$got" = "$ref" ]; then ok "$name ($(stat -c %s "$file") bytes, sha256 $got)"; else bad "$name (sha256 $got, want $ref)"; fi
}

# xenstore must hold nothing of a closed vchan: no node, no empty parent.
check_clean() {
    local left
    left=$("$XSU/xenstore-ls" /local/domain/0/data 2>/dev/null)
    if [ -z "$left" ]; then ok "$1: xenstore cleaned up"; else bad "$1: left in xenstore: $left"; fi
}

i=0
for pair in "10 11 1024 2048" "12 12 4096 4096" "16 16 65536 65536" "20 20 1048576 1048576"; do
    set -- $pair
    lo=$1 ro=$2 lmin=$3 rmin=$4
    tag="orders $lo/$ro"
    i=$((i + 1))
    P=/local/domain/0/data/vchan/0/t$i

    # ours server -> libxenvchan client
    pre "$CAT" -e server 0 "$P/a" "$lo" "$ro" <"$D/data" & s=$!
    pre "$LXV" client 0 "$P/a" recv >"$D/out" </dev/null; c=$?
    wait $s; s=$?
    check "$tag: xkvchan server -> libxenvchan client" "$D/out" "$REF" $s $c
    check_clean "$tag: xkvchan server"

    # libxenvchan server -> ours client
    pre "$LXV" server 0 "$P/b" "$lmin" "$rmin" send <"$D/data" & s=$!
    pre "$CAT" client 0 "$P/b" </dev/null >"$D/out"; c=$?
    wait $s; s=$?
    check "$tag: libxenvchan server -> xkvchan client" "$D/out" "$REF" $s $c

    # libxenvchan server echoes what ours (client) sends
    pre "$LXV" server 0 "$P/c" "$lmin" "$rmin" echo "$N" </dev/null & s=$!
    pre "$CAT" client 0 "$P/c" <"$D/data" >"$D/out"; c=$?
    wait $s; s=$?
    check "$tag: xkvchan client -> libxenvchan server echo -> xkvchan" "$D/out" "$REF" $s $c

    # ours server, libxenvchan client echoes
    pre "$CAT" server 0 "$P/d" "$lo" "$ro" <"$D/data2" >"$D/out" & s=$!
    pre "$LXV" client 0 "$P/d" echo "$N2" </dev/null; c=$?
    wait $s; s=$?
    check "$tag: xkvchan server -> libxenvchan client echo -> xkvchan" "$D/out" "$REF2" $s $c
    check_clean "$tag: xkvchan server (echo)"

    # ours server -> vchan-socket-proxy (client mode, stdin/stdout)
    pre "$CAT" -e server 0 "$P/e" "$lo" "$ro" <"$D/data" & s=$!
    sleep 0.2
    # (the proxy stops at EOF on its stdin: hold it open with a FIFO)
    rm -f "$D/hold"; mkfifo "$D/hold"
    sleep 120 >"$D/hold" & h=$!
    pre "$XBIN/vchan-socket-proxy" 0 "$P/e" - <"$D/hold" >"$D/out" 2>"$D/proxy.log"; c=$?
    kill $h 2>/dev/null; wait $h 2>/dev/null
    wait $s; s=$?
    check "$tag: xkvchan server -> vchan-socket-proxy client" "$D/out" "$REF" $s $c
done

# Ours used in libxenvchan's polling style (xkvchan_data_ready / xkvchan_buffer_space, and
# poll() on the fd when they say 0), against libxenvchan both ways: asking must request the
# peer's notification, or the poll waits forever (xk-poll-peer gives up after 10 s).
for pair in "10 11 1024 2048" "16 16 65536 65536"; do
    set -- $pair
    lo=$1 ro=$2 lmin=$3 rmin=$4
    tag="orders $lo/$ro"
    i=$((i + 1))
    P=/local/domain/0/data/vchan/0/t$i
    pre "$LXV" server 0 "$P/a" "$lmin" "$rmin" send <"$D/data" & s=$!
    pre "$XKPOLL" client 0 "$P/a" recv >"$D/out"; c=$?
    wait $s; s=$?
    check "$tag: libxenvchan server -> xkvchan client polling on data_ready" "$D/out" "$REF" $s $c
    pre "$XKPOLL" server 0 "$P/b" "$lo" "$ro" send <"$D/data" & s=$!
    pre "$LXV" client 0 "$P/b" recv >"$D/out" </dev/null; c=$?
    wait $s; s=$?
    check "$tag: xkvchan server polling on buffer_space -> libxenvchan client" "$D/out" "$REF" $s $c
    check_clean "$tag: polling xkvchan server"
done

# vchan-socket-proxy as the server, relaying to a Unix socket: a listener sends data, then
# reads data2 back from our client, then closes.
cat >"$D/listener.py" <<'PY'
import socket, sys
path, send_file, recv_file, want = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path); s.listen(1)
open(path + ".ready", "w").close()
c, _ = s.accept()
c.sendall(open(send_file, "rb").read())
got = bytearray()
while len(got) < want:
    b = c.recv(65536)
    if not b:
        break
    got += b
open(recv_file, "wb").write(got)
c.close()
PY
python3 "$D/listener.py" "$D/proxy.sock" "$D/data" "$D/out2" "$N2" & l=$!
for _ in $(seq 100); do [ -e "$D/proxy.sock.ready" ] && break; sleep 0.05; done
pre "$XBIN/vchan-socket-proxy" -m server 0 /local/domain/0/data/vchan/0/proxy "$D/proxy.sock" 2>"$D/proxy.log" & p=$!
pre "$CAT" client 0 /local/domain/0/data/vchan/0/proxy <"$D/data2" >"$D/out"; c=$?
wait $l; ls=$?
kill $p 2>/dev/null; wait $p 2>/dev/null
check "vchan-socket-proxy server -> xkvchan client" "$D/out" "$REF" $c
check "xkvchan client -> vchan-socket-proxy server" "$D/out2" "$REF2" $ls

echo "interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
