#!/bin/bash
# vchan: two unikernels talk through vchan (vchan/guest_vchan.h, examples/vchan-echo).
# For several ring order pairs (in-page 10/11, one page each way, an in-page left ring with
# a 64 KiB right ring, 1 MiB each way), a vchan-echo server and client, created paused back
# to back (client = server + 1), unpaused: the client sends checksummed messages of varied
# sizes (1 B .. 64 KiB), checks the echo, reports throughput; both power off cleanly (the
# client closes, the server sees "closed"). (11/10 and all other pairs: tests/unit and
# tests/interop; one server with two clients: vchan-multi.sh.)
# Runs with whatever xenstored the rig starts (Debian's C xenstored by default; also in
# VXS_SCENARIOS, tests/e2e/build.mk).
# The guests are pinned to one physical CPU: in this nested rig (Xen under QEMU TCG) an event
# between vCPUs on different physical CPUs takes ~100 ms to wake the peer, which would
# measure the rig, not vchan. The amounts are small (128-256 KiB a pair) so that the whole
# scenario fits the rig's 120 s per scenario even on a busy 2-core machine, where one message
# round trip between two pinned guests can take tens of milliseconds.
# A guest of a pair that Xen reports as triple-faulted is the rig's known fault (see
# xl_create_fg in lib.sh): such a pair is run once more, visibly (INFO rig: ...).
set -u
. tests/e2e/lib.sh
. tests/e2e/vchan_lib.sh
require_file "$VCHAN_ELF" "$VCHAN_SCFG" "$VCHAN_CCFG"

both_done() { echo_done vs && echo_done vc; }

# triple_faulted DOMID...: Xen reported a triple fault for one of them.
triple_faulted() {
    local d log
    log=$(xl dmesg 2>/dev/null)
    for d in "$@"; do
        printf '%s\n' "$log" | grep -q "d${d}v0 Triple fault" && return 0
    done
    return 1
}

# pair_once ORDERS BYTES: one server/client run; status 2 if Xen reports a triple fault.
pair_once() {
    local orders=$1 bytes=$2 s c t0 t1 fails=$E2E_FAILS
    s=$(xl_create_paused "$VCHAN_SCFG" vs "role=server peer=+1 orders=$orders") || s=none
    c=$(xl_create_paused "$VCHAN_CCFG" vc "role=client peer=$s bytes=$bytes") || c=none
    if [ "$s" = none ] || [ "$c" != $((s + 1)) ]; then
        xl destroy vs 2>/dev/null; xl destroy vc 2>/dev/null
        soft_fail "orders $orders: server has domid $s, client $c (want server + 1)"
        return 1
    fi
    t0=$(now)
    xl unpause vs; xl unpause vc
    wait_until 60 both_done || {
        soft_fail "orders $orders: the pair did not finish within 60 s"
        xl destroy vs 2>/dev/null; xl destroy vc 2>/dev/null
    }
    t1=$(now)
    wait_until 10 all_gone vs vc || soft_fail "orders $orders: the pair did not power off"
    check_ok vs "orders $orders"
    check_ok vc "orders $orders"
    console_has vc 'vchan-echo: client: checksums ok' || soft_fail "orders $orders: no 'checksums ok'"
    console_has vs "vchan-echo: server: peer $c closed after" ||
        soft_fail "orders $orders: the server did not see its client close"
    if [ "$E2E_FAILS" != "$fails" ] && triple_faulted "$s" "$c"; then
        xl destroy vs 2>/dev/null; xl destroy vc 2>/dev/null
        E2E_FAILS=$fails
        return 2
    fi
    info "vchan uni<->uni orders $orders: $(console_text vc | sed -n 's/^vchan-echo: client: \([0-9]* messages, [0-9]* bytes\) echoed.* in \([0-9]* ms\): \([0-9.]* MB\/s\).*/\1 echoed in \2: \3/p') (pair done in $(seconds_between "$t0" "$t1") s)"
}

# pair ORDERS BYTES: pair_once, once more after a triple fault of the rig.
pair() {
    pair_once "$@"
    [ $? = 2 ] || return 0
    info "rig: a guest of the orders $1 pair triple-faulted under nested TCG (a known rig fault); running the pair once more"
    pair_once "$@"
    [ $? != 2 ] || soft_fail "orders $1: a guest triple-faulted twice"
}

export VCHAN_XL_EXTRA='cpus="0"'
pair 10,11 131072
pair 12,12 262144
pair 11,16 262144
pair 20,20 262144
finish
