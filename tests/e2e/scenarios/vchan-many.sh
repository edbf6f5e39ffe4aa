#!/bin/bash
# vchan-many: setup without storms (issue 6). One unikernel sets up 50 vchan servers at once
# (vchan-echo count=50: all 50 published before any is served). It is an unprivileged
# domain, so xenstored's default quota of 10 open transactions per domain applies to it: the
# handshake uses no transaction at all, and each close one, retried with backoff. Then 50
# `vchan-cat client` processes in dom0 connect at the same time and each sends 4 KiB of
# random bytes; the server echoes them and closes each vchan once it has echoed 4 KiB
# (limit=), and each client exits once it has the whole echo and has seen the close. All 50
# must connect and get exactly their bytes back; the server must report all 50 done, and
# leave no data/vchan directory behind (checked while it lingers).
set -u
. tests/e2e/lib.sh
. tests/e2e/vchan_lib.sh
require_file "$VCHAN_ELF" "$VCHAN_SCFG"
[ -x build/vchan-cat ] || fail "build/vchan-cat is missing (make host-progs)"
N=50
SIZE=4096
export VCHAN_XL_EXTRA='cpus="0"'

head -c $((N * SIZE)) /dev/urandom >"$E2E_TMP/all"
for i in $(seq 0 $((N - 1))); do
    dd if="$E2E_TMP/all" of="$E2E_TMP/in$i" bs=$SIZE skip="$i" count=1 2>/dev/null
done

s=$(xl_create_paused "$VCHAN_SCFG" vs "role=server peer=0 count=$N limit=$SIZE orders=12,12 linger=5") ||
    fail "server not created"
xl unpause vs
wait_until 60 console_has vs 'vchan-echo: server: ready' || { dump vs; fail "the server never got ready"; }
info "vchan-many: server $(console_text vs | sed -n 's/^vchan-echo: server: \(ready .*\)/\1/p')"
n=$(xenstore-list "/local/domain/$s/data/vchan/0" 2>/dev/null | wc -l)
[ "$n" = "$N" ] || soft_fail "$n of $N vchans published in xenstore"

pids=()
t0=$(now)
for i in $(seq 0 $((N - 1))); do
    build/vchan-cat -t 60 client "$s" "/local/domain/$s/data/vchan/0/echo$i" \
        <"$E2E_TMP/in$i" >"$E2E_TMP/out$i" 2>"$E2E_TMP/err$i" &
    pids+=($!)
done
ok=0 bad=0
for i in $(seq 0 $((N - 1))); do
    wait "${pids[$i]}"; rc=$?
    if [ "$rc" = 0 ] && cmp -s "$E2E_TMP/in$i" "$E2E_TMP/out$i"; then
        ok=$((ok + 1))
    else
        bad=$((bad + 1))
        echo "client $i: exit $rc, $(file_size "$E2E_TMP/out$i") bytes back: $(cat "$E2E_TMP/err$i")"
    fi
done
info "vchan-many: $ok of $N dom0 clients connected and got their $SIZE bytes back intact in $(seconds_between "$t0" "$(now)") s"
[ "$ok" = "$N" ] || soft_fail "$bad of $N clients failed"

wait_until 60 console_has vs 'vchan-echo: server: lingering' ||
    soft_fail "the server did not finish after its clients closed"
xenstore-exists "/local/domain/$s/data/vchan" 2>/dev/null &&
    soft_fail "data/vchan left behind: $(xenstore-ls "/local/domain/$s/data" 2>&1 | head -n 5)"
wait_until 30 echo_done vs || soft_fail "the server did not exit"
wait_until 10 dom_gone vs || xl destroy vs 2>/dev/null
check_ok vs "50 servers"
done_n=$(console_text vs | grep -c '^vchan-echo: server: peer 0 reached the limit after')
[ "$done_n" = "$N" ] || soft_fail "the server finished $done_n of $N vchans at the limit"
finish
