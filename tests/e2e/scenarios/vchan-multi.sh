#!/bin/bash
# vchan-multi: one vchan-echo server unikernel serving two unikernel clients at once (two
# vchans in one event loop). dom0 checks the ring-ref permissions, that the first client's
# xenstore directory goes when that client closes while the second's remains, and, while the
# server lingers after both closed, that no data/vchan directory is left (but data is).
# Guests pinned to one physical CPU, as in vchan.sh (which says why).
set -u
. tests/e2e/lib.sh
. tests/e2e/vchan_lib.sh
require_file "$VCHAN_ELF" "$VCHAN_SCFG" "$VCHAN_CCFG"
export VCHAN_XL_EXTRA='cpus="0"'

# The server lingers long enough for dom0 to look at xenstore after the last close even on a
# busy machine; it is destroyed once the checks are done, so the linger costs no time.
s=$(xl_create_paused "$VCHAN_SCFG" vs "role=server peer=+1,+2 orders=12,13 linger=60") || s=none
c1=$(xl_create_paused "$VCHAN_CCFG" vc1 "role=client peer=$s bytes=131072") || c1=none
c2=$(xl_create_paused "$VCHAN_CCFG" vc2 "role=client peer=$s bytes=4194304") || c2=none
if [ "$s" = none ] || [ "$c1" != $((s + 1)) ] || [ "$c2" != $((s + 2)) ]; then
    xl destroy vs 2>/dev/null; xl destroy vc1 2>/dev/null; xl destroy vc2 2>/dev/null
    fail "two clients: domids $s $c1 $c2 are not consecutive"
fi
home=/local/domain/$s
# The permissions are checked before the clients run (a fast client is gone, with its
# directory, before dom0 gets to look).
xl unpause vs
wait_until 30 console_has vs 'vchan-echo: server: ready' || soft_fail "two clients: server never ready"
xenstore-ls -p "$home/data" >&2 2>&1 || true
perms=$(xenstore-ls -p "$home/data/vchan/$c2/echo" 2>&1 |
        sed -n 's/^ *ring-ref = .*(\(.*\))$/\1/p')
info "vchan: ring-ref permissions: $perms"
[ "$perms" = "n$s,r$c2" ] || soft_fail "ring-ref perms are '$perms', want 'n$s,r$c2'"
xl unpause vc1; xl unpause vc2
# The server removes a client's directory right after it reports that client closed; the
# second client is paused meanwhile, so that its directory must still be there.
gone1() { ! xenstore-exists "$home/data/vchan/$c1" 2>/dev/null; }
wait_until 60 console_has vs "vchan-echo: server: peer $c1 closed" ||
    soft_fail "two clients: the server did not see the first client close"
xl pause vc2 2>/dev/null
wait_until 10 gone1 || soft_fail "data/vchan/$c1 is still there after its client closed"
if console_has vs "vchan-echo: server: peer $c2 "; then
    info "vchan: (the second client finished first: its directory check skipped)"
else
    xenstore-ls "$home/data/vchan" >&2 2>&1
    xenstore-exists "$home/data/vchan/$c2/echo" 2>/dev/null ||
        soft_fail "data/vchan/$c2/echo vanished while its client runs"
fi
xl unpause vc2 2>/dev/null
wait_until 90 console_has vs 'vchan-echo: server: lingering' ||
    soft_fail "the server did not see both clients close"
left=$(xenstore-ls "$home/data" 2>&1)
echo "data after close: $left"
xenstore-exists "$home/data/vchan" 2>/dev/null && soft_fail "data/vchan left behind: $left"
xenstore-exists "$home/data" 2>/dev/null || soft_fail "data itself was removed"
xl destroy vs 2>/dev/null
dump vs
console_has vs 'FAILED' && soft_fail "two clients: the server reported a failure"
console_has vs 'vchan-echo: server: all peers gone' || soft_fail "two clients: the server did not end"
wait_until 30 all_gone vc1 vc2 || soft_fail "two clients: a client did not power off"
for g in vc1 vc2; do check_ok $g "two clients"; done
info "vchan: one server, two clients at once: $(throughput vc1), $(throughput vc2)"
finish
