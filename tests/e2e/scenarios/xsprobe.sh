#!/bin/bash
# xsprobe: the guest's xenbus client against dom0's xenstored. The guest reads its name and
# domid, measures round trips, writes data/xsprobe=ready and waits (watch) for
# data/command; dom0 presets data/counter=41 and writes the command; the guest answers in
# data/reply and bumps the counter in a transaction whose first attempt conflicts on
# purpose (so it must take 2 tries). dom0 checks, then writes data/command=exit. Reports
# the guest's round-trip latency figures. Runs twice: with the config's memory = 32 and with
# memory = 8, the smallest domain we promise to boot and run xsprobe in.
set -u
. tests/e2e/lib.sh

cfg=examples/xsprobe/xsprobe.cfg
require_file "$cfg" build/guest/xsprobe.elf
E2E_XL_TIMEOUT=90

# probe NAME MEMORY_MB [XL_KEY=VALUE...]
probe() {
    local name=$1 mem=$2
    shift 2
    reset_console "$name"
    xl_create_fg "$cfg" "name=\"$name\"" "memory=$mem" "$@" >"$E2E_TMP/reason" &
    xl_pid=$!

    # node_is PATH VALUE: xenstore-read PATH gives VALUE.
    node_is() { [ "$(xenstore-read "$1" 2>/dev/null)" = "$2" ]; }
    domid_known() { domid=$(xl domid "$name" 2>/dev/null) && [ -n "$domid" ]; }

    domid=
    wait_until 30 domid_known || { soft_fail "domain $name never appeared"; wait "$xl_pid"; return; }
    # The domid is looked up again at each try: xl_create_fg creates the guest once more if
    # the first one hit the rig's nested-TCG triple fault, and the new one has another id.
    guest_ready() { domid_known && home=/local/domain/$domid && node_is "$home/data/xsprobe" ready; }
    home=/local/domain/$domid
    if wait_until 80 guest_ready; then
        xenstore-write "$home/data/counter" 41
        cmd="hello-$domid-$RANDOM"
        t0=$(now)
        xenstore-write "$home/data/command" "$cmd"
        if wait_until 20 node_is "$home/data/xsprobe" done; then
            info "$name (memory=$mem): command -> done seen by dom0 after $(seconds_between "$t0" "$(now)") s"
            reply=$(xenstore-read "$home/data/reply" 2>&1)
            [ "$reply" = "ack $cmd" ] || soft_fail "data/reply is '$reply', want 'ack $cmd'"
            counter=$(xenstore-read "$home/data/counter" 2>&1)
            [ "$counter" = 42 ] || soft_fail "data/counter is '$counter', want 42"
            tries=$(xenstore-read "$home/data/counter-tries" 2>&1)
            [ "$tries" = 2 ] || soft_fail "the counter transaction took '$tries' tries, want 2 (one EAGAIN)"
        else
            soft_fail "the guest never wrote data/xsprobe=done"
        fi
        xenstore-write "$home/data/command" exit
    else
        soft_fail "the guest never wrote data/xsprobe=ready"
    fi

    wait "$xl_pid"
    reason=$(cat "$E2E_TMP/reason")
    wait_console "$name" 'xsprobe: exit' 5 || true
    echo "---- console of $name ----"; console_text "$name"; echo "----"
    [ "$reason" = 0 ] || soft_fail "xl reported shutdown reason '$reason', want 0 (poweroff)"
    console_has "$name" "xsprobe: name=$name domid=$domid home=/local/domain/$domid" ||
        soft_fail "the guest did not report its own name, domid and home"
    console_has "$name" 'xsprobe: exit' || soft_fail "the guest did not finish"
    console_has "$name" 'FAILED' && soft_fail "the guest reported a failure"
    console_text "$name" | sed -n "s/^xsprobe: \\(latency .*\\)/INFO $name (memory=$mem): xenstore round trip from the guest, \\1/p"
}

# The figures come from the first run, pinned to one physical CPU: in this nested rig
# (Xen under QEMU TCG) the physical CPUs' clocks drift apart, and a guest that moves between
# them sees its pvclock step back, i.e. time stand still for up to a second (our monotonic
# clock never goes back). The memory=8 run is left unpinned.
probe xsprobe 32 'cpus="0"'
probe xsprobe8 8
finish
