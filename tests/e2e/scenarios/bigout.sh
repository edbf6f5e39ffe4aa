#!/bin/bash
# bigout: 1024 lines of 80+ bytes (80+ KiB, far more than the 2 KiB console ring) reach the
# console log complete and in order: the guest must wait for xenconsoled to drain the ring.
set -u
. tests/e2e/lib.sh

cfg=tests/e2e/guests/bigout.cfg
require_file "$cfg" "$(sed -n 's/^kernel *= *"\(.*\)".*/\1/p' "$cfg")"

reset_console bigout
E2E_XL_TIMEOUT=40    # 80+ KiB through a 2 KiB ring, under TCG
t0=$(now)
reason=$(xl_create_fg "$cfg") || reason=none
t1=$(now)
wait_console bigout 'bigout done' 10 || true

[ "$reason" = 0 ] || soft_fail "xl reported shutdown reason '$reason', want 0 (poweroff)"
# Line n (0..1023) is "bigout %04d " then 72 characters chr(33 + ((n + i) % 94)), i = 0..71;
# then "bigout done". Other console lines (boot messages) are ignored.
if ! console_text bigout | awk '
    BEGIN { for (c = 33; c < 127; c++) ch[c] = sprintf("%c", c); k = 0; bad = 0 }
    /^bigout / {
        if (k < 1024) {
            want = sprintf("bigout %04d ", k)
            for (i = 0; i < 72; i++) want = want ch[33 + ((k + i) % 94)]
        } else if (k == 1024) {
            want = "bigout done"
        } else {
            want = "(nothing after bigout done)"
        }
        if ($0 != want) {
            printf "line %d: got  \"%s\"\n         want \"%s\"\n", k, substr($0, 1, 90), want
            bad = 1; exit 1
        }
        k++
    }
    END {
        if (bad) exit 1
        if (k != 1025) { printf "only %d of 1025 bigout lines\n", k; exit 1 }
    }'; then
    soft_fail "console output incomplete or corrupted (see above)"
fi
bytes=$(console_text bigout | grep -c '^bigout ') || true
info "bigout: $bytes lines in $(seconds_between "$t0" "$t1") s ($(file_size "$(console_log bigout)") bytes of log)"
finish
