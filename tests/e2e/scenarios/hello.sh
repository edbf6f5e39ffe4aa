#!/bin/bash
# hello: the hello example boots, prints its greeting and command line on the PV console and
# powers off. Reports the image size and the time from `xl create` to the greeting.
set -u
. tests/e2e/lib.sh

img=build/guest/hello.elf
cfg=examples/hello/hello.cfg
require_file "$img" "$cfg"
greeting='Hello from xenkit'

reset_console hello
t0=$(now)
stamp_when hello "$greeting" "$E2E_TMP/greeted" &
poller=$!
reason=$(xl_create_fg "$cfg") || reason=none
# The log may be written just after the domain is gone.
wait_console hello "$greeting" 5 || true
# Let the poller see it too (it polls every 20 ms), then stop it.
for _ in 1 2 3 4 5 6 7 8 9 10; do [ ! -s "$E2E_TMP/greeted" ] || break; sleep 0.05; done
kill "$poller" 2>/dev/null; wait "$poller" 2>/dev/null

echo "---- console of hello ----"; console_text hello; echo "----"
[ "$reason" = 0 ] || soft_fail "xl reported shutdown reason '$reason', want 0 (poweroff)"
console_has hello "$greeting" || soft_fail "no '$greeting' on the console"
console_has_line hello 'cmdline: greeting=world answer=42' ||
    soft_fail "no line 'cmdline: greeting=world answer=42' on the console"

if [ -s "$E2E_TMP/greeted" ]; then
    info "hello: image $(file_size "$img") bytes, xl create -> greeting $(seconds_between "$t0" "$(cat "$E2E_TMP/greeted")") s"
else
    info "hello: image $(file_size "$img") bytes, no greeting seen"
fi
finish
