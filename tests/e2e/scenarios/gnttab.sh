#!/bin/bash
# gnttab: grant tables v1 under real Xen, with the gnttest guest (tests/e2e/guests/gnttest.c).
#  1. alone: the table grows on demand past several frames (Xen's query_size agrees), every
#     grant is revoked, bad maps are refused;
#  2. a pair: a granter grants pages to a mapper, which maps them into its map window; the
#     granter's revokes fail while they are mapped and work after the unmap. The guests find
#     each other by domid (granter = N, mapper = N + 1), so they are created paused back to
#     back, the domids checked, then unpaused.
# Each guest prints "gnttest: PASS (N checks)".
set -u
. tests/e2e/lib.sh

cfg=tests/e2e/guests/gnttest.cfg
require_file "$cfg" "$(sed -n 's/^kernel *= *"\(.*\)".*/\1/p' "$cfg")"

# check_guest NAME: its console says PASS and nothing failed.
check_guest() {
    echo "---- console of $1 ----"; console_text "$1"; echo "----"
    if console_text "$1" | grep -q '^gnttest: FAIL'; then
        soft_fail "$1 reported failures (see above)"
    fi
    console_has "$1" 'gnttest: PASS' || soft_fail "no 'gnttest: PASS' line on $1's console"
}
done_or_failed() { console_has "$1" 'gnttest: PASS' || console_has "$1" 'gnttest: FAILED'; }
pair_done() { done_or_failed gnt-granter && done_or_failed gnt-mapper; }
pair_gone() { ! xl domid gnt-granter >/dev/null 2>&1 && ! xl domid gnt-mapper >/dev/null 2>&1; }

# 1. Alone.
reset_console gnttest
t0=$(now)
reason=$(xl_create_fg "$cfg") || reason=none
t1=$(now)
wait_until 5 done_or_failed gnttest || true
check_guest gnttest
[ "$reason" = 0 ] || soft_fail "gnttest: xl reported shutdown reason '$reason', want 0 (poweroff)"
console_has gnttest 'gnttab: v1, ' || soft_fail "the kernel did not report its grant table"
pat='^gnttest: granted \([0-9]*\) refs to dom0: we map \([0-9]*\) frames, Xen says \([0-9]*\) of.*'
grow=$(console_text gnttest | sed -n "s/$pat/\\1 refs in \\2 frames (Xen: \\3)/p")
info "gnttab: alone: ${grow:-no growth line}, $(seconds_between "$t0" "$t1") s"

# 2. Granter and mapper.
reset_console gnt-granter
reset_console gnt-mapper
t0=$(now)
xl create -p "$cfg" 'name="gnt-granter"' 'cmdline="role=granter"' 'on_reboot="destroy"' 2>&1 |
    sed 's/^/xl: /' >&2
xl create -p "$cfg" 'name="gnt-mapper"' 'cmdline="role=mapper"' 'on_reboot="destroy"' 2>&1 |
    sed 's/^/xl: /' >&2
a=$(xl domid gnt-granter 2>/dev/null) || a=none
b=$(xl domid gnt-mapper 2>/dev/null) || b=none
if [ "$a" = none ] || [ "$b" = none ] || [ "$b" != $((a + 1)) ]; then
    xl destroy gnt-granter 2>/dev/null; xl destroy gnt-mapper 2>/dev/null
    fail "granter has domid $a, mapper $b: the mapper must be the granter's domid + 1"
fi
xl unpause gnt-granter
xl unpause gnt-mapper
wait_until 60 pair_done || soft_fail "the pair did not finish within 60 s"
wait_until 10 pair_gone || {
    soft_fail "the pair did not power off"
    xl destroy gnt-granter 2>/dev/null; xl destroy gnt-mapper 2>/dev/null
}
t1=$(now)
wait_until 5 done_or_failed gnt-granter || true
check_guest gnt-granter
check_guest gnt-mapper
info "gnttab: granter $a and mapper $b done in $(seconds_between "$t0" "$t1") s"
finish
