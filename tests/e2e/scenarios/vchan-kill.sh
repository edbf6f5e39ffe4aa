#!/bin/bash
# vchan-kill: one side of a vchan between two unikernels is destroyed mid-stream (xl destroy:
# no close, no live byte), and the other must notice (its binding sees Xen unbind the event
# channel) and exit cleanly: "peer ... died", "vchan-echo: exit 0", power off.
#  1. the client is destroyed while it streams; the server must notice;
#  2. the server is destroyed; the client must notice.
set -u
. tests/e2e/lib.sh
. tests/e2e/vchan_lib.sh
require_file "$VCHAN_ELF" "$VCHAN_SCFG" "$VCHAN_CCFG"
export VCHAN_XL_EXTRA='cpus="0"'

streaming() { console_has vc 'vchan-echo: client: connected' && console_has vs 'vchan-echo: server: ready'; }

# kill_case VICTIM SURVIVOR PATTERN
kill_case() {
    local victim=$1 survivor=$2 s c t0
    s=$(xl_create_paused "$VCHAN_SCFG" vs "role=server peer=+1 orders=12,12") || s=none
    c=$(xl_create_paused "$VCHAN_CCFG" vc "role=client peer=$s bytes=0") || c=none
    if [ "$s" = none ] || [ "$c" != $((s + 1)) ]; then
        xl destroy vs 2>/dev/null; xl destroy vc 2>/dev/null
        soft_fail "kill $victim: domids $s $c"
        return
    fi
    xl unpause vs; xl unpause vc
    wait_until 20 streaming || soft_fail "kill $victim: the pair never started streaming"
    sleep 2
    t0=$(now)
    xl destroy "$victim" >&2 2>&1
    if wait_until 20 echo_done "$survivor"; then
        info "vchan-kill: $victim destroyed -> $survivor noticed and exited $(seconds_between "$t0" "$(now)") s later"
    else
        soft_fail "kill $victim: $survivor did not exit within 20 s"
    fi
    wait_until 10 dom_gone "$survivor" || { soft_fail "kill $victim: $survivor did not power off"; xl destroy "$survivor" 2>/dev/null; }
    dump "$victim"
    check_ok "$survivor" "kill $victim"
    if [ "$survivor" = vs ]; then
        console_has vs "vchan-echo: server: peer $c died after" || soft_fail "kill vc: the server did not report its peer died"
        console_text vs | sed -n 's/^vchan-echo: server: \(peer .* died after .*\)/INFO vchan-kill: server: \1/p'
    else
        console_has vc 'vchan-echo: client: peer died after' || soft_fail "kill vs: the client did not report its peer died"
        console_text vc | sed -n 's/^vchan-echo: client: \(peer died after .*\)/INFO vchan-kill: client: \1/p'
    fi
}

kill_case vc vs
kill_case vs vc
finish
