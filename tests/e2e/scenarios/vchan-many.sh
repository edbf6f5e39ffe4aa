#!/bin/bash
# vchan-many: setup without storms (issue 6). One unikernel sets up 50 vchan servers at once
# (vchan-echo count=50: all 50 published before any is served). It is an unprivileged
# domain, so xenstored's default quota of 10 open transactions per domain applies to it: the
# handshake uses no transaction at all, and each close one, retried with backoff. Then 50
# `vchan-cat client` processes in dom0 connect at the same time and each sends 4 KiB of
# random (printable) bytes; the server echoes them and closes each vchan once it has echoed 4 KiB
# (limit=), and each client exits once it has the whole echo and has seen the close. All 50
# must connect and get exactly their bytes back; the server must report all 50 done, and
# leave no data/vchan directory behind (checked while it lingers; then it is destroyed).
set -u
. tests/e2e/lib.sh
. tests/e2e/vchan_lib.sh
require_file "$VCHAN_ELF" "$VCHAN_SCFG"
[ -x build/vchan-cat ] || fail "build/vchan-cat is missing (make host-progs)"
N=50
SIZE=4096
export VCHAN_XL_EXTRA='cpus="0"'

# The inputs, printable random bytes, made by one awk (forks are slow in dom0 under TCG;
# binary data is covered by vchan-dom0 and tests/interop).
awk -v n=$N -v size=$SIZE -v dir="$E2E_TMP" 'BEGIN {
    srand()
    for (i = 0; i < n; i++) {
        f = dir "/in" i
        for (j = 0; j < size; j++)
            printf "%c", 33 + int(rand() * 94) > f
        close(f)
    }
}'

s=$(xl_create_paused "$VCHAN_SCFG" vs "role=server peer=0 count=$N limit=$SIZE orders=12,12 linger=60") ||
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
rcs=()
for i in $(seq 0 $((N - 1))); do
    wait "${pids[$i]}"; rcs+=($?)
done
# One md5sum over all inputs and one over all outputs, compared line by line.
mapfile -t want < <(cd "$E2E_TMP" && for i in $(seq 0 $((N - 1))); do echo "in$i"; done | xargs md5sum | cut -d' ' -f1)
mapfile -t got < <(cd "$E2E_TMP" && for i in $(seq 0 $((N - 1))); do echo "out$i"; done | xargs md5sum | cut -d' ' -f1)
ok=0 bad=0
for i in $(seq 0 $((N - 1))); do
    if [ "${rcs[$i]}" = 0 ] && [ -n "${want[$i]:-}" ] && [ "${want[$i]}" = "${got[$i]:-}" ]; then
        ok=$((ok + 1))
    else
        bad=$((bad + 1))
        echo "client $i: exit ${rcs[$i]}, $(file_size "$E2E_TMP/out$i") bytes back: $(cat "$E2E_TMP/err$i")"
    fi
done
info "vchan-many: $ok of $N dom0 clients connected and got their $SIZE bytes back intact in $(seconds_between "$t0" "$(now)") s"
[ "$ok" = "$N" ] || soft_fail "$bad of $N clients failed"

wait_until 60 console_has vs 'vchan-echo: server: lingering' ||
    soft_fail "the server did not finish after its clients closed"
xenstore-exists "/local/domain/$s/data/vchan" 2>/dev/null &&
    soft_fail "data/vchan left behind: $(xenstore-ls "/local/domain/$s/data" 2>&1 | head -n 5)"
# (linger=60 gives dom0 time to look even on a busy machine; no need to wait it out.)
xl destroy vs 2>/dev/null
dump vs
console_has vs 'FAILED' && soft_fail "the server reported a failure"
done_n=$(console_text vs | grep -c '^vchan-echo: server: peer 0 reached the limit after')
[ "$done_n" = "$N" ] || soft_fail "the server finished $done_n of $N vchans at the limit"
finish
