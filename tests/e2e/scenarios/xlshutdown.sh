#!/bin/bash
# xlshutdown: the toolstack ends a running guest. `xl shutdown` writes "poweroff" to the
# guest's control/shutdown: the kernel's shutdown control must see it (watch), say so and
# power off (reason 0); `xl reboot` likewise with reason 1 (reboot); `xl destroy` must end
# a guest that is doing nothing to help.
set -u
. tests/e2e/lib.sh

cfg=tests/e2e/guests/idle.cfg
require_file "$cfg" build/guest/idle.elf

gone() { ! xl domid idle >/dev/null 2>&1; }

# run_case MODE: boot idle, end it with MODE (poweroff, reboot, destroy), check.
run_case() {
    local mode=$1 xl_pid reason t0 t1 want req
    reset_console idle
    xl_create_fg "$cfg" >"$E2E_TMP/reason.$mode" &
    xl_pid=$!
    if ! wait_console idle 'idle: waiting' 30; then
        soft_fail "$mode: the guest never reached its idle loop"
        wait "$xl_pid"
        return
    fi
    t0=$(now)
    case $mode in
        poweroff) xl shutdown idle >&2 2>&1 ;;
        reboot)   xl reboot idle >&2 2>&1 ;;
        destroy)  xl destroy idle >&2 2>&1 ;;
    esac
    wait "$xl_pid"
    t1=$(now)
    reason=$(cat "$E2E_TMP/reason.$mode")
    wait_until 5 gone || soft_fail "$mode: the domain still exists"
    case $mode in
        poweroff) want=0; req='xenkit: shutdown request "poweroff" from the toolstack' ;;
        reboot)   want=1; req='xenkit: shutdown request "reboot" from the toolstack' ;;
        destroy)  want=;  req= ;;
    esac
    [ -z "$req" ] || wait_console idle "$req" 5 || true
    echo "---- console of idle ($mode) ----"; console_text idle; echo "----"
    if [ -n "$want" ]; then
        [ "$reason" = "$want" ] || soft_fail "$mode: shutdown reason '$reason', want $want"
        console_has idle "$req" || soft_fail "$mode: the guest did not report the request"
    else
        # A destroyed domain does not shut down: xl reports no reason.
        [ -z "$reason" ] || soft_fail "destroy: xl reported shutdown reason '$reason'"
    fi
    info "xlshutdown: xl $mode -> domain gone in $(seconds_between "$t0" "$t1") s"
}

run_case poweroff
run_case reboot
run_case destroy
finish
