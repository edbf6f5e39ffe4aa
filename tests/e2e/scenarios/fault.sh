#!/bin/bash
# fault: the kernel reports CPU exceptions and panics on its console and crashes the domain
# (shutdown reason 3). One domain per mode of tests/e2e/guests/fault.cfg's guest.
set -u
. tests/e2e/lib.sh

cfg=tests/e2e/guests/fault.cfg
require_file "$cfg" "$(sed -n 's/^kernel *= *"\(.*\)".*/\1/p' "$cfg")"

# expect_line NAME ERE: some console line of domain NAME matches the extended regexp.
expect_line() { console_text "$1" | grep -qE -- "$2"; }

for mode in pf de ud panic stack; do
    name=fault-$mode
    case $mode in
        pf)    want='\*\*\* EXCEPTION vector=14([^0-9].*)?rip=0x' ;;
        de)    want='\*\*\* EXCEPTION vector=0([^0-9x]|$)' ;;
        ud)    want='\*\*\* EXCEPTION vector=6([^0-9]|$)' ;;
        stack) want='\*\*\* EXCEPTION vector=8([^0-9]|$)' ;;   # double fault after overflow
        panic) want='\*\*\* PANIC: requested panic' ;;
    esac
    reset_console "$name"
    t0=$(now)
    reason=$(xl_create_fg "$cfg" "name=\"$name\"" "cmdline=\"fault=$mode\"") || reason=none
    t1=$(now)
    # Wait for the report line (the log may be written just after the domain is gone).
    wait_until 5 expect_line "$name" "$want" || true
    echo "---- console of $name ----"; console_text "$name"; echo "----"
    ok=1
    [ "$reason" = 3 ] || { soft_fail "$mode: shutdown reason '$reason', want 3 (crash)"; ok=0; }
    expect_line "$name" "$want" || { soft_fail "$mode: no console line matching /$want/"; ok=0; }
    [ $ok = 0 ] || info "fault: $mode ok ($(seconds_between "$t0" "$t1") s)"
done
finish
