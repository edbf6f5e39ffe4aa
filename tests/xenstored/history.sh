#!/bin/sh
# vxs, the history CLI, against build/vxenstored on a temporary socket and database: a few
# changes made with the real xenstore-* tools, then log/show/diff/blame/at/export-git/gc
# online (XS_CONTROL "history", paged), offline on the same pack while the daemon runs (a
# read-only view: same answers, pack untouched), and offline after the daemon stopped. Every
# --json output must parse; the exported repository must satisfy git.
# Usage: tests/xenstored/history.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
U=$ROOT/.rig-cache/root/xenstore-utils/usr/bin
if [ ! -x "$U/xenstore-read" ]; then
    "$ROOT/tools/rig/fetch.sh" >/dev/null || { echo "history: cannot fetch the Xen tools" >&2; exit 1; }
fi
V=$BUILD/vxs
D=$(mktemp -d /tmp/vxs-hist.XXXXXX)
export XENSTORED_PATH=$D/socket
PID=
. "$ROOT/tests/xenstored/lib.sh"
json() { # NAME COMMAND...: the command succeeds and prints valid JSON
    name=$1; shift
    if "$@" >"$D/j.out" 2>"$D/j.err" && python3 -m json.tool "$D/j.out" >/dev/null 2>&1; then
        ok "$name"
    else
        bad "$name: $(head -c 300 "$D/j.err" "$D/j.out")"
    fi
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null; PID=; }
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT INT TERM
short() { "$V" "$@" | head -n 1 | cut -c1-12; } # the newest commit id of a log

start || exit 1
"$U/xenstore-write" /vh/a one
sleep 1.1
T1=$(date +%s)              # after "one", before "two"
ISO1=$(date -u -d "@$T1" +%Y-%m-%dT%H:%M:%SZ)
sleep 1.1
"$U/xenstore-write" /vh/a two
"$U/xenstore-write" /vh/b x
"$U/xenstore-chmod" /vh/b b0 r3
"$U/xenstore-rm" /vh/b
i=0
while [ $i -lt 150 ]; do "$U/xenstore-write" /vh/k/$i "v$i" || break; i=$((i + 1)); done
"$U/xenstore-write" /vh/big "$(python3 -c 'print("quote\" tab\t " * 250)')"

echo "online (XS_CONTROL history):"
"$V" log >"$D/log.on" 2>&1 && ok "log" || bad "log: $(head -3 "$D/log.on")"
n=$(wc -l <"$D/log.on")
[ "$n" -ge 157 ] && ok "log lists every commit ($n, paged over 4 KiB replies)" || bad "log: $n commits"
check "log PATH: the two writes of /vh/a" 2 "$("$V" log /vh/a | grep -c 'WRITE /vh/a')"
check "log -n 3" 3 "$("$V" log -n 3 | wc -l)"
A2=$(short log -n 1 /vh/a)
A1=$("$V" log /vh/a | sed -n 2p | cut -c1-12)
CHMOD=$("$V" log /vh/b | sed -n 2p | cut -c1-12)  # newest first: rm, chmod, write
has "show: a removal" '- /vh/b (was "x")' "$("$V" show "$("$V" log -n 1 /vh/b | cut -c1-12)")"
has "show: perms change" '~ /vh/b perms (b0,r3) (was (n0))' "$("$V" show "$CHMOD")"
has "show COMMIT PATH" '~ /vh/a = "two" (was "one")' "$("$V" show "$A2" /vh/a)"
has "diff A B" '~ /vh/a = "two" (was "one")' "$("$V" diff "$A1" head)"
has "diff A B: added below" '+ /vh/k/149 = "v149"' "$("$V" diff "$A1" head)"
check "blame PATH" "$A2" "$("$V" blame /vh/a | cut -c1-12)"
check "at TIME (unix) read" one "$("$V" at "$T1" read /vh/a)"
check "at TIME (ISO-8601) read" one "$("$V" at "$ISO1" read /vh/a)"
check "at COMMIT read" one "$("$V" at "$A1" read /vh/a)"
check "at head ls" 'a = "two"' "$("$V" at head ls /vh | head -n 1)"
check "a value larger than a reply page (tabs escaped)" 3251 "$("$V" at head read /vh/big | wc -c)"
"$V" show 0000ffff >/dev/null 2>"$D/err" && bad "unknown commit fails" || has "unknown commit fails" "no such commit" "$(cat "$D/err")"
json "log --json" "$V" --json log
json "show --json" "$V" --json show head
json "diff --json" "$V" --json diff "$A1" head
json "blame --json" "$V" --json blame -r /vh
json "at read --json" "$V" --json at "$T1" read /vh/a
json "at ls --json" "$V" --json at head ls /vh/k
check "log --json: every commit" "$n" "$("$V" --json log | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
check "at read --json: the value" two "$("$V" --json at head read /vh/a | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])')"
"$V" export-git "$D/git1" >/dev/null && ok "export-git" || bad "export-git"
check "git log of the export" "$n" "$(git -C "$D/git1" log --oneline 2>&1 | wc -l)"
check "git: a value at head" two "$(git -C "$D/git1" show HEAD:vh/a/.value)"
git -C "$D/git1" fsck --strict >/dev/null 2>&1 && ok "git fsck --strict" || bad "git fsck --strict"
has "memreport" "connections:" "$("$V" memreport)"

echo "offline while the daemon runs (read-only view):"
sum=$(cksum <"$D/db/xenstore.pack")
"$V" --db "$D/db" log >"$D/log.off" 2>&1
cmp -s "$D/log.on" "$D/log.off" && ok "log: same as online" || bad "log differs from online"
for q in "show head" "diff $A1 head" "blame -r /vh" "at $T1 ls /vh"; do
    # shellcheck disable=SC2086
    check "$q: same as online" "$("$V" $q | cksum)" "$("$V" --db "$D/db" $q | cksum)"
    # shellcheck disable=SC2086
    check "$q --json: same as online" "$("$V" --json $q | cksum)" "$("$V" --json --db "$D/db" $q | cksum)"
done
check "the pack was not written" "$sum" "$(cksum <"$D/db/xenstore.pack")"
"$V" --db "$D/db" gc >/dev/null 2>&1 && bad "offline gc refused while the daemon runs" || ok "offline gc refused while the daemon runs"

echo "offline after the daemon stopped:"
stop
sum=$(cksum <"$D/db/xenstore.pack")
"$V" --db "$D/db" log >"$D/log.off2" 2>&1
cmp -s "$D/log.on" "$D/log.off2" && ok "log" || bad "log differs"
check "blame" "$A2" "$("$V" --db "$D/db" blame /vh/a | cut -c1-12)"
check "at TIME read" one "$("$V" --db "$D/db" at "$T1" read /vh/a)"
has "show" '~ /vh/a = "two" (was "one")' "$("$V" --db "$D/db" show "$A2")"
has "diff" '- /vh/b (was "x")' "$("$V" --db "$D/db" diff "$CHMOD" head)"
json "log --json" "$V" --db "$D/db" --json log /vh/a
json "show --json" "$V" --db "$D/db" --json show "$A2"
json "at --json" "$V" --db "$D/db" --json at "$ISO1" ls /vh
"$V" --db "$D/db" export-git "$D/git2" >/dev/null && ok "export-git" || bad "export-git"
check "git log of the export" "$n" "$(git -C "$D/git2" log --oneline 2>&1 | wc -l)"
check "same git history online and offline" "$(git -C "$D/git1" rev-parse HEAD)" "$(git -C "$D/git2" rev-parse HEAD)"
check "reads left the pack alone" "$sum" "$(cksum <"$D/db/xenstore.pack")"
json "gc --json (keep 100 commits)" "$V" --db "$D/db" --json gc 100 0
check "gc kept 100 commits" 100 "$("$V" --db "$D/db" log | wc -l)"

echo "online gc:"
start || exit 1
check "the daemon reads its database after the GC" two "$("$U/xenstore-read" /vh/a)"
has "gc" "gc: " "$("$V" gc 20 0)"
check "gc kept 20 commits" 20 "$("$V" log | wc -l)"
"$U/xenstore-write" /vh/after gc && ok "writes after the GC" || bad "writes after the GC"
check "history continues" "WRITE /vh/after" "$("$V" log -n 1 | sed 's/.*  //')"

echo "history: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
