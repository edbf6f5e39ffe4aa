# Sourced by the tests/xenstored/ scripts: ok NAME, bad NAME, check NAME EXPECTED ACTUAL,
# has NAME NEEDLE HAYSTACK ($pass and $fail count them), and start: $BUILD/vxenstored on
# $XENSTORED_PATH with its database and log in $D, its pid in $PID.
pass=0 fail=0
ok()   { pass=$((pass + 1)); echo "  ok   $1"; }
bad()  { fail=$((fail + 1)); echo "  FAIL $1"; }
check() { # NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (expected '$2', got '$3')"; fi
}
has() { # NAME NEEDLE HAYSTACK
    case $3 in *"$2"*) ok "$1" ;; *) bad "$1 (no '$2' in: $3)" ;; esac
}
start() {
    rm -f "$XENSTORED_PATH"
    "$BUILD/vxenstored" -N --socket-only --db "$D/db" --sync batch 2>>"$D/log" &
    PID=$!
    for _ in $(seq 100); do [ -S "$XENSTORED_PATH" ] && return 0; sleep 0.05; done
    echo "vxenstored did not start"; cat "$D/log"; return 1
}
