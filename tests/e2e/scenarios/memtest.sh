#!/bin/bash
# memtest: the heap under real Xen. The memtest guest fills most of its RAM with heap objects
# and checks them, with memory=32 and with memory=8 (the smallest domain we promise to boot);
# its memory map must come from XENMEM_memory_map; running out of memory is a clean panic
# (crash), not corruption or a hang.
set -u
. tests/e2e/lib.sh

cfg=tests/e2e/guests/memtest.cfg
require_file "$cfg" build/guest/memtest.elf
E2E_XL_TIMEOUT=60 # filling 30 MiB three times under TCG

# run NAME MEMORY CMDLINE WANT_REASON PATTERN...: create the guest, check the shutdown reason
# and that each PATTERN is on its console.
run() {
    local name=$1 mem=$2 cmdline=$3 want=$4 reason t0 t1 p
    shift 4
    reset_console "$name"
    t0=$(now)
    reason=$(xl_create_fg "$cfg" "name=\"$name\"" "memory=$mem" "cmdline=\"$cmdline\"") || reason=none
    t1=$(now)
    wait_console "$name" "$1" 5 || true
    echo "---- console of $name ----"; console_text "$name"; echo "----"
    [ "$reason" = "$want" ] || soft_fail "$name: shutdown reason '$reason', want $want"
    for p in "$@"; do
        console_has "$name" "$p" || soft_fail "$name: no '$p' on the console"
    done
    info "$name (memory=$mem): $(console_text "$name" | grep -m1 -o 'memtest ok.*\|PANIC: out of memory.*') in $(seconds_between "$t0" "$t1") s"
}

run memtest32 32 "" 0 "memtest ok: 3 rounds" "(from XENMEM_memory_map)"
run memtest8 8 "" 0 "memtest ok: 3 rounds" "xenkit: memory: "
run memtest-oom 8 "memtest.oom" 3 "*** PANIC: out of memory: malloc(1048576) with"
finish
