#!/bin/sh
# make install / make uninstall into a staging root: `make install DESTDIR=$tmp PREFIX=/usr`
# puts vxenstored and vxs-fdstore in sbin, vxs and vchan-cat in bin, the man pages in share/man, each
# installed program runs, the man pages render and name every option --help lists, and make
# uninstall takes it all back.
# Usage: tests/xenstored/install.sh [BUILD_DIR]
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
D=$(mktemp -d /tmp/vxs-install.XXXXXX)
trap 'rm -rf "$D"' EXIT INT TERM
. "$ROOT/tests/xenstored/lib.sh"

echo "make install / uninstall:"
if make -s -C "$ROOT" BUILD="$BUILD" install DESTDIR="$D/root" PREFIX=/usr >"$D/make.log" 2>&1
then ok "make install DESTDIR=... PREFIX=/usr"
else bad "make install"; sed 's/^/    /' "$D/make.log"; fi

P=$D/root/usr
for f in sbin/vxenstored sbin/vxs-fdstore bin/vxs bin/vchan-cat; do
    if [ -f "$P/$f" ] && [ -x "$P/$f" ]; then ok "$f installed, executable"
    else bad "$f missing or not executable"; fi
done
for f in share/man/man8/vxenstored.8 share/man/man1/vxs.1; do
    if [ -f "$P/$f" ] && cmp -s "$P/$f" "$ROOT/docs/$(basename "$f")"; then ok "$f installed"
    else bad "$f missing or different"; fi
done
# Nothing else, and nothing outside PREFIX.
n=$(find "$D/root" -type f | wc -l)
if [ "$n" -eq 6 ]; then ok "6 files, all under PREFIX"; else bad "$n files installed"; find "$D/root"; fi

if "$P/sbin/vxenstored" --help >"$D/help" 2>&1 && grep -q -- '--socket-only' "$D/help"
then ok "installed vxenstored --help"
else bad "installed vxenstored --help"; sed 's/^/    /' "$D/help"; fi
"$P/sbin/vxs-fdstore" --help >"$D/help2" 2>&1
if grep -q 'FDSTORE=1' "$D/help2"; then ok "installed vxs-fdstore --help"
else bad "installed vxs-fdstore --help"; sed 's/^/    /' "$D/help2"; fi
if "$P/bin/vxs" --help >"$D/help" 2>&1 && grep -q 'export-git' "$D/help"
then ok "installed vxs --help"
else bad "installed vxs --help"; sed 's/^/    /' "$D/help"; fi
# Every option --help lists is in the man page (a new option needs its description).
missing=
for o in $("$P/sbin/vxenstored" --help 2>&1 | grep -o -- '--[a-z][a-z-]*\|^  -[A-Za-z]\|, -[A-Za-z]' |
           sed 's/^, //; s/^ *//' | sort -u); do
    sed 's/\\//g' "$P/share/man/man8/vxenstored.8" | grep -qw -- "$o" || missing="$missing $o"
done
for o in $("$P/bin/vxs" --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    sed 's/\\//g' "$P/share/man/man1/vxs.1" | grep -qw -- "$o" || missing="$missing vxs:$o"
done
if [ -z "$missing" ]; then ok "every option of --help is in the man pages"
else bad "options missing from the man pages:$missing"; fi
# The installed daemon serves: a socket-only instance answers a history query.
"$P/sbin/vxenstored" -N --socket-only --db "$D/db" --socket "$D/sock" 2>"$D/log" &
pid=$!
for _ in $(seq 100); do [ -S "$D/sock" ] && break; sleep 0.05; done
if "$P/bin/vxs" --socket "$D/sock" log >"$D/out" 2>&1 && grep -q 'initial tree' "$D/out"
then ok "installed vxenstored serves installed vxs"
else bad "installed vxenstored and vxs"; sed 's/^/    /' "$D/out" "$D/log"; fi
kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null

# The pages render without warnings (man if present, else groff; CI may have neither).
for m in share/man/man8/vxenstored.8 share/man/man1/vxs.1; do
    if command -v groff >/dev/null 2>&1; then
        w=$(LC_ALL=C groff -man -ww -z "$P/$m" 2>&1)
        if [ -z "$w" ]; then ok "$m: groff -man -ww: no warnings"
        else bad "$m: groff warnings"; echo "$w" | sed 's/^/    /'; fi
    fi
    if command -v man >/dev/null 2>&1; then
        if MANWIDTH=80 man -l "$P/$m" 2>/dev/null | grep -q 'SEE ALSO'
        then ok "$m: man -l renders"; else bad "$m: man -l"; fi
    fi
done

if make -s -C "$ROOT" BUILD="$BUILD" uninstall DESTDIR="$D/root" PREFIX=/usr >"$D/make.log" 2>&1 &&
   [ "$(find "$D/root" -type f | wc -l)" -eq 0 ]
then ok "make uninstall removes every file"
else bad "make uninstall"; cat "$D/make.log"; find "$D/root" -type f; fi

echo "install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
