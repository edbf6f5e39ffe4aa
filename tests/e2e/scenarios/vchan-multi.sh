#!/bin/bash
# vchan-multi: one vchan-echo server unikernel serving two unikernel clients at once (two
# vchans in one event loop). The server lingers afterwards: while it runs, dom0 checks the
# ring-ref permissions, that the first client's xenstore directory is gone while the
# second's remains, and at the end that no data/vchan directory is left.
# Guests pinned to one physical CPU, as in vchan.sh (which says why).
set -u
. tests/e2e/lib.sh
. tests/e2e/vchan_lib.sh
require_file "$VCHAN_ELF" "$VCHAN_SCFG" "$VCHAN_CCFG"
export VCHAN_XL_EXTRA='cpus="0"'

s=$(xl_create_paused "$VCHAN_SCFG" vs "role=server peer=+1,+2 orders=12,13 linger=6") || s=none
c1=$(xl_create_paused "$VCHAN_CCFG" vc1 "role=client peer=$s bytes=131072") || c1=none
c2=$(xl_create_paused "$VCHAN_CCFG" vc2 "role=client peer=$s bytes=524288") || c2=none
if [ "$s" = none ] || [ "$c1" != $((s + 1)) ] || [ "$c2" != $((s + 2)) ]; then
    xl destroy vs 2>/dev/null; xl destroy vc1 2>/dev/null; xl destroy vc2 2>/dev/null
    fail "two clients: domids $s $c1 $c2 are not consecutive"
fi
home=/local/domain/$s
xl unpause vs; xl unpause vc1; xl unpause vc2
wait_until 30 console_has vs 'vchan-echo: server: ready' || soft_fail "two clients: server never ready"
xenstore-ls -p "$home/data" >&2 2>&1 || true
perms=$(xenstore-ls -p "$home/data/vchan/$c2/echo" 2>&1 |
        sed -n 's/^ *ring-ref = .*(\(.*\))$/\1/p')
info "vchan: ring-ref permissions: $perms"
[ "$perms" = "n$s,r$c2" ] || soft_fail "ring-ref perms are '$perms', want 'n$s,r$c2'"
wait_until 60 dom_gone vc1 || soft_fail "two clients: the first client did not finish"
if dom_gone vc2; then
    info "vchan: (the second client finished first: directory checks skipped)"
else
    xenstore-ls "$home/data/vchan" >&2 2>&1
    xenstore-exists "$home/data/vchan/$c1" 2>/dev/null &&
        soft_fail "data/vchan/$c1 is still there after its client closed"
    xenstore-exists "$home/data/vchan/$c2/echo" 2>/dev/null ||
        soft_fail "data/vchan/$c2/echo vanished while its client runs"
fi
wait_until 60 dom_gone vc2 || soft_fail "two clients: the second client did not finish"
wait_until 10 console_has vs 'vchan-echo: server: lingering' || soft_fail "server did not finish"
left=$(xenstore-ls "$home/data" 2>&1)
echo "data after close: $left"
xenstore-exists "$home/data/vchan" 2>/dev/null && soft_fail "data/vchan left behind: $left"
xenstore-exists "$home/data" 2>/dev/null || soft_fail "data itself was removed"
wait_until 20 dom_gone vs || { soft_fail "server did not power off"; xl destroy vs 2>/dev/null; }
wait_until 5 echo_done vs || true
for g in vs vc1 vc2; do check_ok $g "two clients"; done
info "vchan: one server, two clients at once: $(throughput vc1), $(throughput vc2)"
finish
