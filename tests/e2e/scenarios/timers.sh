#!/bin/bash
# timers: sleeping, timer accuracy and event-channel latency under real Xen, then an idle
# period during which the domain must use ~0% CPU (no busy waiting): xentop's CPU% column
# for the domain is sampled while it sleeps.
set -u
. tests/e2e/lib.sh

cfg=examples/timers/timers.cfg
require_file "$cfg" build/guest/timers.elf
reset_console timers

# Pinned to one physical CPU for clean figures: see xsprobe.sh on the nested rig's clocks.
xl_create_fg "$cfg" 'cmdline="rounds=50 idle=6"' 'cpus="0"' >"$E2E_TMP/reason" &
xl_pid=$!
wait_console timers 'timers: idle for' 40 || soft_fail "the guest never reached its idle phase"
sleep 1
# xentop -b -i 3 -d 1: three one-second samples; the first has no CPU% yet.
cpu=$(xentop -b -i 3 -d 1 2>/dev/null | awk '$1 == "timers" { v = $4 } END { print v }')
wait "$xl_pid"
reason=$(cat "$E2E_TMP/reason")
wait_console timers 'timers: done' 5 || true

echo "---- console of timers ----"; console_text timers; echo "----"
[ "$reason" = 0 ] || soft_fail "xl reported shutdown reason '$reason', want 0 (poweroff)"
console_has timers 'timers: done' || soft_fail "the guest did not finish"
console_text timers | sed -n 's/^timers: \(sleep .*\|event .*\)/INFO timers: \1/p'
if [ -n "$cpu" ]; then
    info "timers: CPU while idle (xentop) ${cpu}%"
    awk -v c="$cpu" 'BEGIN { exit !(c + 0 < 5) }' || soft_fail "idle guest uses ${cpu}% CPU"
else
    soft_fail "xentop showed no sample for the domain"
fi
finish
