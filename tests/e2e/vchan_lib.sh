# Helpers for the vchan scenarios (tests/e2e/scenarios/vchan*.sh), on top of lib.sh.
# shellcheck shell=bash

VCHAN_ELF=build/guest/vchan-echo.elf
VCHAN_SCFG=examples/vchan-echo/vchan-echo-server.cfg
VCHAN_CCFG=examples/vchan-echo/vchan-echo-client.cfg

# xl_create_paused CFG NAME CMDLINE: `xl create -p` with that name and command line; prints
# the domid (status 1 if the domain did not appear).
# tsc_mode="native": the emulated CPU of this rig has no invariant TSC, so by default Xen
# would trap every rdtsc; our guests read the clock (pvclock, which is made for a native TSC)
# on every turn of their loops, and each trap is a world switch under TCG. The rig's rare
# guest triple faults all struck right after such a trap (rdtsc or vmmcall; issue 6's notes),
# so fewer traps also means fewer chances of it.
xl_create_paused() {
    reset_console "$2"
    xl create -p "$1" "name=\"$2\"" "cmdline=\"$3\"" 'on_reboot="destroy"' 'tsc_mode="native"' \
        ${VCHAN_XL_EXTRA:-} 2>&1 |
        sed 's/^/xl: /' >&2
    xl domid "$2" 2>/dev/null
}

# dom_gone NAME: no domain of that name.
dom_gone() { ! xl domid "$1" >/dev/null 2>&1; }
# all_gone NAME...: none of them exists.
all_gone() { local n; for n in "$@"; do dom_gone "$n" || return 1; done; }

# echo_exit NAME: the guest said "vchan-echo: exit 0".
echo_ok() { console_has "$1" 'vchan-echo: exit 0'; }
echo_done() { console_has "$1" 'vchan-echo: exit '; }

# dump NAME: its console into the serial log.
dump() { echo "---- console of $1 ----"; console_text "$1"; echo "----"; }

# check_ok NAME WHAT: soft_fail unless the guest exited 0 with no FAILED line.
check_ok() {
    dump "$1"
    echo_ok "$1" || soft_fail "$2: $1 did not end with 'vchan-echo: exit 0'"
    console_has "$1" 'FAILED' && soft_fail "$2: $1 reported a failure"
    return 0
}

# throughput NAME: the client's "N.NN MB/s" figure, as its own clock has it (client_report
# checks it against dom0's clock where a run has no pause in it).
throughput() { console_text "$1" | sed -n 's/^vchan-echo: client: .* \([0-9.]* MB\/s\).*/\1/p' | tail -n 1; }

# ---- unikernel pairs (vchan.sh, vchan-big.sh) ----------------------------------------------
# A vchan-echo server and client, created paused back to back (client = server + 1), then
# unpaused: the client sends checksummed messages of varied sizes (1 B .. 64 KiB), checks the
# echo and reports throughput; both power off cleanly (the client closes, the server sees
# "closed"). The guests are pinned to one physical CPU: in this nested rig (Xen under QEMU
# TCG) an event between vCPUs on different physical CPUs takes ~100 ms to wake the peer,
# which would measure the rig, not vchan. A guest of a pair that Xen reports as
# triple-faulted is the rig's known fault (see xl_create_fg in lib.sh): such a pair is run
# once more, visibly (INFO rig: ...).

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
    pair_report "$orders" "$t0" "$t1"
}

# client_report NAME LABEL T0 T1: the vchan-echo client NAME's figure (its own clock, from
# connected to the last byte verified), checked against dom0's view of the whole run (T0 to
# T1, boot and handshake included, so an upper bound of the transfer's time). Under the nested
# rig the guests' clock now and then stands still or leaps (CI logs: the same 264 KB echo "in
# 0 ms", "56 ms" or "1016 ms" for pairs that all took ~0.6 s; presumably Xen's per-CPU TSC
# calibration under QEMU TCG, which pvclock extrapolates between updates, and our clock never
# goes back, so it stands still until real time catches up): a client time of 0 ms, or above
# the run's, is such a glitch and is reported as one, with dom0's lower bound instead.
client_report() {
    local name=$1 label=$2 t0=$3 t1=$4 line n bytes ms mbs run_ms lb
    line=$(console_text "$name" | sed -n 's/^vchan-echo: client: \([0-9]* messages\), \([0-9]*\) bytes echoed.* in \([0-9]*\) ms: \([0-9.]*\) MB\/s.*/\1 \2 \3 \4/p' | tail -n 1)
    # shellcheck disable=SC2086 # split the four fields
    set -- $line
    [ $# -eq 5 ] || { info "$label: the client printed no figure"; return 0; }
    n="$1 $2"; bytes=$3; ms=$4; mbs=$5
    run_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", (b - a) * 1000 }')
    lb=$(awk -v b="$bytes" -v ms="$run_ms" 'BEGIN { if (ms > 0) printf "%.2f", b / ms / 1000; else print "?" }')
    if [ "$ms" -gt 0 ] && [ "$ms" -le "$run_ms" ]; then
        info "$label: $n, $bytes bytes echoed in $ms ms: $mbs MB/s (done in $(seconds_between "$t0" "$t1") s: >= $lb MB/s)"
    else
        info "$label: $n, $bytes bytes echoed; the guest's clock glitched (it says $ms ms, the whole run took $run_ms ms): >= $lb MB/s from dom0's clock"
    fi
}

# pair_report ORDERS T0 T1: client_report for a unikernel pair's client.
pair_report() { client_report vc "vchan uni<->uni orders $1" "$2" "$3"; }

# pair ORDERS BYTES: pair_once, once more after a triple fault of the rig.
pair() {
    pair_once "$@"
    [ $? = 2 ] || return 0
    info "rig: a guest of the orders $1 pair triple-faulted under nested TCG (a known rig fault); running the pair once more"
    pair_once "$@"
    [ $? != 2 ] || soft_fail "orders $1: a guest triple-faulted twice"
}
