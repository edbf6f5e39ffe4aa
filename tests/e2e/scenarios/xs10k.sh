#!/bin/bash
# xs10k: a guest writes 10,000 xenstore keys and reads them back (in batches of 100: the
# daemon limits the nodes a domain owns); reports the time and the per-operation round trip.
set -u
. tests/e2e/lib.sh

cfg=tests/e2e/guests/xs10k.cfg
require_file "$cfg" build/guest/xs10k.elf
reset_console xs10k

E2E_XL_TIMEOUT=75    # 30,000 round trips under TCG (~25 s when all is well)
t0=$(now)
reason=$(xl_create_fg "$cfg") || reason=none
t1=$(now)
wait_console xs10k 'xs10k: ok' 5 || true
echo "---- console of xs10k ----"; console_text xs10k; echo "----"
[ "$reason" = 0 ] || soft_fail "xl reported shutdown reason '$reason', want 0 (poweroff)"
console_has xs10k 'xs10k: ok' || soft_fail "the guest did not write and read back all keys"
console_text xs10k | sed -n 's/^xs10k: \(wrote .*\|read back .*\|removed .*\)/INFO xs10k: \1/p'
info "xs10k: whole run (xl create to domain gone) $(seconds_between "$t0" "$t1") s"
finish
