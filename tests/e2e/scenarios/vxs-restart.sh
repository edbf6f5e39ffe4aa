#!/bin/bash
# rig: not-default
# vxs-restart: vxenstored, dom0's xenstored, killed with SIGKILL while a guest runs, and
# restarted on its database. Only meaningful with run.sh --xenstored build/vxenstored (make
# test-e2e-vxs). The xsprobe guest registers a watch on data/command and writes
# data/xsprobe=ready; then vxenstored is killed and started again; the guest's ring must be
# reconnected with its watch (the connection table lives in the store), so writing the
# command makes it answer in data/reply and bump the counter in a transaction, exactly as in
# the xsprobe scenario. Then the guest powers off and `xl destroy` (a new xl: with vxenstored
# alone, the one that created it lost its socket with the old daemon) must still clean up: the domain and its nodes go, and
# (XSA-322) a permission entry naming it is removed from the nodes it did not own.
# Last, a writer on dom0's ring (/dev/xen/xenbus: the kernel keeps a request across the
# daemon's death) writes while the daemon is killed at random moments: a request read but not
# answered at a kill must be answered after the restart (the writer goes on) and every
# acknowledged write must be there; and a reader of a 3 KB value on the same ring, whose
# replies kills cut, must read the right value every time.
set -u
. tests/e2e/lib.sh
. /etc/rig/rig.conf

cfg=examples/xsprobe/xsprobe.cfg
require_file "$cfg" build/guest/xsprobe.elf
case "$RIG_XENSTORED" in
    /xenkit/*) ;;
    *) fail "dom0 runs Debian's xenstored: run with tools/rig/run.sh --xenstored build/vxenstored" ;;
esac

name=vxsrestart
node_is() { [ "$(xenstore-read "$1" 2>/dev/null)" = "$2" ]; }
domid_known() { domid=$(xl domid "$name" 2>/dev/null) && [ -n "$domid" ]; }
domain_gone() { ! xl list "$name" >/dev/null 2>&1; }

reset_console "$name"
xl create "$cfg" "name=\"$name\"" 'on_poweroff="preserve"' >"$E2E_TMP/xl.out" 2>&1 ||
    { cat "$E2E_TMP/xl.out"; fail "xl create failed"; }
domid=
wait_until 30 domid_known || fail "domain $name never appeared"
home=/local/domain/$domid
wait_until 80 node_is "$home/data/xsprobe" ready || fail "the guest never wrote data/xsprobe=ready"
xenstore-write "$home/data/counter" 41

# XSA-322: nodes the guest does not own but may read (and one it owns outside its home).
xenstore-write /vxsr/shared s /vxsr/owned o
xenstore-chmod /vxsr/shared n0 "r$domid" w0
xenstore-chmod /vxsr/owned "b$domid"

t0=$(now)
xenstored_kill_restart
info "vxs-restart: SIGKILL -> answering again after $(seconds_between "$t0" "$(now)") s"
grep -q "domain $domid: reconnected" /tmp/vxs-restart.log ||
    soft_fail "the restarted daemon did not report reconnecting domain $domid"

node_is "$home/data/counter" 41 || soft_fail "an acknowledged write was lost across the restart"
cmd="after-restart-$RANDOM"
t1=$(now)
xenstore-write "$home/data/command" "$cmd"
if wait_until 20 node_is "$home/data/xsprobe" done; then
    info "vxs-restart: command -> done seen by dom0 after $(seconds_between "$t1" "$(now)") s (the guest's watch survived)"
    reply=$(xenstore-read "$home/data/reply" 2>&1)
    [ "$reply" = "ack $cmd" ] || soft_fail "data/reply is '$reply', want 'ack $cmd'"
    counter=$(xenstore-read "$home/data/counter" 2>&1)
    [ "$counter" = 42 ] || soft_fail "data/counter is '$counter', want 42"
else
    soft_fail "the guest never answered the command written after the restart"
fi
xenstore-write "$home/data/command" exit
stopped() { xl list "$name" 2>/dev/null | awk 'NR == 2 { exit ($5 ~ /s/) ? 0 : 1 }'; }
wait_until 20 stopped || soft_fail "the guest did not power off"

xl destroy "$name" || soft_fail "xl destroy failed"
wait_until 10 domain_gone || soft_fail "the domain is still listed after xl destroy"
gone() { ! xenstore-exists "$home" 2>/dev/null; }
wait_until 10 gone || soft_fail "$home is still in xenstore after xl destroy"
console_has "$name" 'FAILED' && soft_fail "the guest reported a failure"
perms=$(xenstore-ls -p /vxsr 2>&1 | sed -n 's/^shared = .*(\(.*\))$/\1/p')
[ "$perms" = "n0,w0" ] || soft_fail "XSA-322: /vxsr/shared's perms are '$perms' after the domain went, want 'n0,w0'"
xenstore-exists /vxsr/owned 2>/dev/null && soft_fail "/vxsr/owned (owned by the released domain) is still there"

# Requests on dom0's ring across kills.
W=build/vxs-killwriter
rm -f /tmp/ring.log
# libxenstore tries XENSTORED_PATH as a socket, then as the xenbus device.
XENSTORED_PATH=/dev/xen/xenbus KILLWRITER_RING=1 KILLWRITER_PAUSE_US=20000 \
    $W write ring plain /tmp/ring.log 2>/tmp/ring.err &
wpid=$!
lines() { wc -l </tmp/ring.log 2>/dev/null || echo 0; }
grew() { [ "$(lines)" -gt "$1" ]; }
wait_until 15 grew 0 || { soft_fail "the ring writer never wrote"; cat /tmp/ring.err; }
# Beside it, a reader of a ~3 KB value on dom0's ring: its reply takes three fills of the
# ring's 1 KB rsp[], so kills land in the middle of replies; the restarted daemon must finish
# a cut reply (vxs_ring_partial.c), not send it again whole (the kernel would misparse the
# stream: a wrong value, or a reader stuck for good). One line per read: ok, or bad LEN.
big="big-$RANDOM-$(head -c 2980 /dev/zero | tr '\0' q)"
xenstore-write /vxsr/big "$big"
rm -f /tmp/big.log /tmp/big.stop
( while [ ! -e /tmp/big.stop ]; do
      v=$(XENSTORED_PATH=/dev/xen/xenbus xenstore-read /vxsr/big 2>>/tmp/big.err)
      if [ "$v" = "$big" ]; then echo ok; else echo "bad ${#v}"; fi
  done >>/tmp/big.log ) &
rpid=$!
kills=0
while [ $kills -lt 3 ]; do
    sleep "0.$((RANDOM % 9 + 1))"
    xenstored_kill_restart
    kills=$((kills + 1))
    n=$(lines)
    wait_until 15 grew "$n" ||
        { soft_fail "the dom0 ring writer is stuck after kill $kills (a request lost at the kill?)"
          tail -n 5 /tmp/vxs-restart.log; cat /tmp/ring.err; break; }
done
# SIGKILL: a writer stuck in libxenstore retries its read on EINTR.
kill -KILL $wpid 2>/dev/null
wait $wpid 2>/dev/null
touch /tmp/big.stop
reader_done() { ! kill -0 $rpid 2>/dev/null; }
wait_until 15 reader_done ||
    { soft_fail "the 3 KB reader on dom0's ring is stuck (a reply cut by a kill misparsed?)"
      kill -KILL $rpid 2>/dev/null; }
wait $rpid 2>/dev/null
nok=$(grep -c '^ok' /tmp/big.log 2>/dev/null)
nbad=$(grep -c '^bad' /tmp/big.log 2>/dev/null)
# (Only the restarts this scenario made log here; under vxs-fdstore it restarts the daemon.)
ncut=$(grep -c 'message cut by the kill' /tmp/vxs-restart.log 2>/dev/null)
info "vxs-restart: ${nok:-0} reads of a 3 KB value on dom0's ring across the kills, ${nbad:-0} wrong; messages cut by a kill and finished after it (the daemon's log): ${ncut:-0}"
[ "${nok:-0}" -gt 0 ] || { soft_fail "no 3 KB read on dom0's ring succeeded"; cat /tmp/big.err; }
[ "${nbad:-0}" -eq 0 ] || { soft_fail "3 KB reads on dom0's ring returned a wrong value: $(grep '^bad' /tmp/big.log | sort | uniq -c | head -3)"; cat /tmp/big.err; }
if out=$($W check ring plain /tmp/ring.log 2>&1); then
    info "vxs-restart: $kills kills under a dom0 ring writer; acknowledged writes, slots: $out"
else
    soft_fail "dom0 ring writer: $out"
fi
finish
