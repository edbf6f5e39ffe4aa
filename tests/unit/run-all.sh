#!/bin/sh
# run-all.sh BUILD_TESTS_DIR NAME...
#
# Runs every unit test binary, first BUILD_TESTS_DIR/unit/NAME (plain) and then
# BUILD_TESTS_DIR/unit-san/NAME (ASan+UBSan), shows cmocka's output, and ends with one line
#   unit: N passed, M failed
# where N and M count cmocka test cases over all binaries. A binary that dies before cmocka's
# summary (sanitizer report, signal) or exits non-zero despite a clean summary (e.g. a leak
# found at exit) counts its unfinished cases, and at least one, as failed. Exits non-zero if
# anything failed.
set -u

if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD_TESTS_DIR NAME..." >&2
    exit 2
fi
dir=$1
shift

passed=0
failed=0
out=$(mktemp "${TMPDIR:-/tmp}/xenkit-unit.XXXXXX") || exit 2
trap 'rm -f "$out"' EXIT
trap 'exit 130' INT TERM

# cmocka writes progress to stdout and errors and the summary to stderr; for the plain runs
# stdbuf line-buffers stdout so the captured output stays in order. Not for the sanitized
# runs: stdbuf works by LD_PRELOAD, and ASan refuses to start unless it is loaded first.
linebuf=
if command -v stdbuf >/dev/null 2>&1; then
    linebuf="stdbuf -oL"
fi

# count PATTERN: the number in the last line of $out matching the sed expression.
count() {
    n=$(sed -n "$1" "$out" | tail -n 1)
    echo "${n:-0}"
}

run_one() {
    bin=$dir/$1/$2
    echo "==> $1/$2"
    if [ ! -x "$bin" ]; then
        echo "run-all.sh: $bin: missing" >&2
        failed=$((failed + 1))
        return
    fi
    $linebuf "$bin" >"$out" 2>&1
    rc=$?
    cat "$out"
    total=$(count 's/^\[==========\] Running \([0-9][0-9]*\) test(s)\.$/\1/p')
    ok=$(grep -c '^\[       OK \]' "$out")
    if grep -q '^\[  PASSED  \] [0-9][0-9]* test(s)\.$' "$out"; then
        p=$(count 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\.$/\1/p')
        f=$(count 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s), listed below:$/\1/p')
    else
        # No summary: the binary died in the middle.
        p=$ok
        f=$((total - ok))
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
    fi
    if [ "$rc" -ne 0 ]; then
        echo "run-all.sh: $1/$2 exited with status $rc" >&2
    fi
    passed=$((passed + p))
    failed=$((failed + f))
}

for name in "$@"; do
    run_one unit "$name"
done

ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS UBSAN_OPTIONS
linebuf=
for name in "$@"; do
    run_one unit-san "$name"
done

echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
