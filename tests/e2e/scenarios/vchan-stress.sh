#!/bin/bash
# rig: not-default -- a soak for the rig itself, minutes long: run it by name
# (tools/rig/run.sh --scenario-timeout 900 vchan-stress).
# vchan-stress: vchan-echo pairs one after the other for VCHAN_STRESS_SECS (default 480 s),
# small messages at orders 11,16 and 12,12 (each pair maps and unmaps its grants many times),
# and counts the pairs that failed and the domains Xen reports as triple-faulted. It exists to
# measure how often the nested rig (Xen under QEMU TCG) kills a guest, not to test vchan.
# To compare QEMU's TCG threading, run it with QEMU=a wrapper that swaps -accel
# tcg,thread=multi for thread=single (tools/rig/run.sh takes the QEMU binary from $QEMU).
set -u
. tests/e2e/lib.sh
. tests/e2e/vchan_lib.sh
require_file "$VCHAN_ELF" "$VCHAN_SCFG" "$VCHAN_CCFG"

budget=${VCHAN_STRESS_SECS:-480}
# tsc_mode="default" (after vchan_lib's "native", so it wins): every rdtsc traps to Xen, as
# when the guests first triple-faulted; the faults struck right after such traps.
export VCHAN_XL_EXTRA='cpus="0" tsc_mode="default"'
pairs=0 bad=0
t_start=$(now)
while awk -v a="$t_start" -v b="$(now)" -v t="$budget" 'BEGIN { exit !(b - a < t) }'; do
    case $((pairs % 2)) in 0) orders=11,16 ;; 1) orders=12,12 ;; esac
    s=$(xl_create_paused "$VCHAN_SCFG" vs "role=server peer=+1 orders=$orders") || s=none
    c=$(xl_create_paused "$VCHAN_CCFG" vc "role=client peer=$s bytes=262144") || c=none
    pairs=$((pairs + 1))
    if [ "$s" = none ] || [ "$c" != $((s + 1)) ]; then
        xl destroy vs 2>/dev/null; xl destroy vc 2>/dev/null
        bad=$((bad + 1)); info "pair $pairs: domids $s $c"; continue
    fi
    xl unpause vs; xl unpause vc
    if ! wait_until 60 both_done || ! echo_ok vs || ! echo_ok vc; then
        bad=$((bad + 1))
        info "pair $pairs (orders $orders, domids $s $c) failed: $(xl dmesg | grep -a "d$s\|d$c" | grep -ai 'fault\|crash' | tail -n 3 | tr '\n' ' ')"
        dump vs; dump vc
    fi
    xl destroy vs 2>/dev/null; xl destroy vc 2>/dev/null
    wait_until 10 all_gone vs vc || true
done
tf=$(xl dmesg | grep -ac 'Triple fault')
info "vchan-stress: $pairs pairs in $(seconds_between "$t_start" "$(now)") s, $bad failed, $tf triple faults in xl dmesg"
[ "$bad" = 0 ] || fail "$bad of $pairs pairs failed"
pass
