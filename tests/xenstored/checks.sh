# Sourced by the tests/xenstored/ scripts that count their checks: ok NAME, bad NAME,
# check NAME EXPECTED ACTUAL, has NAME NEEDLE HAYSTACK; $pass and $fail count them.
pass=0 fail=0
ok()   { pass=$((pass + 1)); echo "  ok   $1"; }
bad()  { fail=$((fail + 1)); echo "  FAIL $1"; }
check() { # NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (expected '$2', got '$3')"; fi
}
has() { # NAME NEEDLE HAYSTACK
    case $3 in *"$2"*) ok "$1" ;; *) bad "$1 (no '$2' in: $3)" ;; esac
}
