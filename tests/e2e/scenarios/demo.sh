#!/bin/bash
# demo (for `make demo`, not run by default): create the hello guest and show its console.
set -u
. tests/e2e/lib.sh

img=build/guest/hello.elf
cfg=examples/hello/hello.cfg
require_file "$img" "$cfg"

reset_console hello
t0=$(now)
reason=$(xl_create_fg "$cfg") || reason=none
t1=$(now)
wait_console hello 'Hello from xenkit' 5 || true

echo "SHOW ======== xl create -F $cfg ($(file_size "$img") byte image) ========"
show_console hello
echo "SHOW ======== domain shut down, reason code $reason, after $(seconds_between "$t0" "$t1") s ========"
[ "$reason" = 0 ] || fail "shutdown reason '$reason', want 0 (poweroff)"
pass
