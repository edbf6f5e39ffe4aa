#!/bin/bash
# rig: not-default -- parked (issue 6): in a clean-clone run the orders 12,12 client
# triple-faulted right after the vmmcall of an EVTCHNOP_send (RIP evtchn_send+0x2a, IF=1: the
# upcall interrupt could not be delivered, so the IDT, TSS, GDT or their mappings were
# damaged), and once an 11,16 client hung. Run it by name: tools/rig/run.sh vchan.
# vchan: two unikernels talk through vchan (vchan/guest_vchan.h, examples/vchan-echo).
#  1. For several ring order pairs (in-page 10/11 and 11/10, one page, 64 KiB, 1 MiB), a
#     vchan-echo server and client, created paused back to back (client = server + 1), unpaused:
#     the client sends checksummed messages of varied sizes (1 B .. 64 KiB), checks the echo,
#     reports throughput; both power off cleanly (the client closes, the server sees "closed").
#  2. One server serving two clients at once (two vchans in one event loop); the server
#     lingers afterwards: while it runs, dom0 checks the first client's xenstore directory is
#     gone while the second's remains, and at the end that no data/vchan directory is left.
# Runs with whatever xenstored the rig starts (Debian's C xenstored by default).
# The guests are pinned to one physical CPU: in this nested rig (Xen under QEMU TCG) an event
# between vCPUs on different physical CPUs takes ~100 ms to wake the peer (measured: 0.26 s
# pinned vs 6.7 s unpinned for the same 512 KiB exchange), which would measure the rig, not
# vchan. One unpinned run is kept for the figure.
set -u
. tests/e2e/lib.sh
. tests/e2e/vchan_lib.sh
require_file "$VCHAN_ELF" "$VCHAN_SCFG" "$VCHAN_CCFG"

both_done() { echo_done vs && echo_done vc; }

# pair ORDERS BYTES: one server/client run.
pair() {
    local orders=$1 bytes=$2 s c t0 t1
    s=$(xl_create_paused "$VCHAN_SCFG" vs "role=server peer=+1 orders=$orders") || s=none
    c=$(xl_create_paused "$VCHAN_CCFG" vc "role=client peer=$s bytes=$bytes") || c=none
    if [ "$s" = none ] || [ "$c" != $((s + 1)) ]; then
        xl destroy vs 2>/dev/null; xl destroy vc 2>/dev/null
        soft_fail "orders $orders: server has domid $s, client $c (want server + 1)"
        return
    fi
    t0=$(now)
    xl unpause vs; xl unpause vc
    wait_until 90 both_done || {
        soft_fail "orders $orders: the pair did not finish within 90 s"
        xl destroy vs 2>/dev/null; xl destroy vc 2>/dev/null
    }
    t1=$(now)
    wait_until 10 all_gone vs vc || soft_fail "orders $orders: the pair did not power off"
    check_ok vs "orders $orders"
    check_ok vc "orders $orders"
    console_has vc 'vchan-echo: client: checksums ok' || soft_fail "orders $orders: no 'checksums ok'"
    console_has vs "vchan-echo: server: peer $c closed after" ||
        soft_fail "orders $orders: the server did not see its client close"
    info "vchan uni<->uni orders $orders: $(console_text vc | sed -n 's/^vchan-echo: client: \([0-9]* messages, [0-9]* bytes\) echoed.* in \([0-9]* ms\): \([0-9.]* MB\/s\).*/\1 echoed in \2: \3/p') (pair done in $(seconds_between "$t0" "$t1") s)"
}

export VCHAN_XL_EXTRA='cpus="0"'
pair 10,11 262144
pair 11,10 262144
pair 12,12 2097152
pair 16,16 4194304
pair 20,20 4194304
# Not yet: 11,16 (in-page left ring, 64 KiB right ring): the client hung after ~1.4 MB in
# one run (no output, server fine); under investigation.
VCHAN_XL_EXTRA= pair 12,12 524288     # unpinned, for the figure

# 2. One server, two clients; xenstore cleanup.
s=$(xl_create_paused "$VCHAN_SCFG" vs "role=server peer=+1,+2 orders=12,13 linger=6") || s=none
c1=$(xl_create_paused "$VCHAN_CCFG" vc1 "role=client peer=$s bytes=262144") || c1=none
c2=$(xl_create_paused "$VCHAN_CCFG" vc2 "role=client peer=$s bytes=4194304") || c2=none
if [ "$s" = none ] || [ "$c1" != $((s + 1)) ] || [ "$c2" != $((s + 2)) ]; then
    xl destroy vs 2>/dev/null; xl destroy vc1 2>/dev/null; xl destroy vc2 2>/dev/null
    fail "two clients: domids $s $c1 $c2 are not consecutive"
fi
home=/local/domain/$s
xl unpause vs; xl unpause vc1; xl unpause vc2
wait_until 10 console_has vs 'vchan-echo: server: ready' || soft_fail "two clients: server never ready"
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
