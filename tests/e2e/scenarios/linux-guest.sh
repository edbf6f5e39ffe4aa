#!/bin/bash
# linux-guest: a stock Linux PVH domU with a disk and a vif. Its xen-blkfront and
# xen-netfront negotiate with dom0's blkback and netback through xenstore (issue 5 runs this
# with vxenstored as dom0's xenstored), then the guest (tools/rig/domu-init.sh) reads dom0's
# marker from /dev/xvda, writes its own pattern, pings dom0 on xenbr0 and prints DOMU PASS.
# dom0 checks the four devices reached state 4 (Connected); with vxenstored as dom0's
# xenstored it then SIGKILLs and restarts the daemon with the guest running; it asks for a
# shutdown (the guest kernel sees control/shutdown), then checks the pattern in the image and
# that the toolstack removed the backends, the frontends and the domain's nodes from xenstore.
#
# When dom0's xenstored writes a trace to /var/log/xen/xenstored.trace (run.sh --xenstored
# build/vxenstored --xenstored-args "... -T /var/log/xen/xenstored.trace"), the requests from
# xl create to the end of the cleanup are printed as XSTRACE lines: bench/ makes its replay
# file from them (bench/xenstored_trace2replay.py).
# rig: linux-domu   (mkinitramfs.sh adds the domU's kernel and initramfs for this line)
# rig: not-default   (~40 s under TCG on a quiet machine, minutes when loaded: in make test-e2e-vxs)
# rig: timeout 600   (a loaded machine can make the guest's boot alone take minutes)
set -u
. tests/e2e/lib.sh

kernel=/xenkit/rig/domu/vmlinuz
ramdisk=/xenkit/rig/domu/initrd.gz
require_file "$kernel" "$ramdisk"
name=linuxguest
img=/var/lib/xen/linux-guest.img
token=$RANDOM$RANDOM
marker=dom0-wrote-$token
dom0_ip=10.0.0.1
domu_ip=10.0.0.2
info "linux-guest: kernel $(file_size "$kernel") bytes, initramfs $(file_size "$ramdisk") bytes"

# The disk: 8 MiB of zeros with dom0's marker at byte 4096 (the guest reads it).
dd if=/dev/zero of="$img" bs=1M count=8 2>/dev/null || fail "cannot create $img"
printf '%s' "$marker" | dd of="$img" bs=4096 seek=1 conv=notrunc 2>/dev/null
# The image goes to the guest through a loop device attached here (target=/dev/loopN, a
# "phy" disk): the block hotplug script's file path (readlink, losetup -a | sed, losetup -f,
# losetup ...) forks about twice as often, and libxl kills a hotplug script after 40 s,
# which a loaded machine under TCG reached in about half the runs.
loopdev=$(losetup -f 2>/dev/null) && losetup "$loopdev" "$img" || fail "cannot attach $img to a loop device"
# The network: dom0's address on the bridge /init made; no forwarding delay for new ports.
ip addr add "$dom0_ip/24" dev xenbr0 2>/dev/null
brctl setfd xenbr0 0 2>/dev/null

cfg=$E2E_TMP/$name.cfg
cat >"$cfg" <<EOF
name="$name"
type="pvh"
kernel="$kernel"
ramdisk="$ramdisk"
extra="console=hvc0 loglevel=6 rig.ip=$domu_ip rig.peer=$dom0_ip rig.token=$token rig.disk_marker=$marker"
memory=192
vcpus=1
disk=['format=raw,vdev=xvda,access=rw,target=$loopdev']
vif=['bridge=xenbr0']
on_crash="destroy"
EOF

created() { xl domid "$name" >/dev/null 2>&1; }
gone() { ! created; }
# xs_is PATH VALUE: the node exists and holds VALUE.
xs_is() { [ "$(xenstore-read "$1" 2>/dev/null)" = "$2" ]; }
# The long waits poll once a second: forks are slow in dom0 under TCG, and the hotplug scripts
# (which libxl gives 40 s) and the guest need dom0's CPU more than this loop does.
slow_wait() {
    local secs=$1 end; shift
    uptime_cs; end=$((NOW_CS + secs * 100))
    until "$@"; do
        uptime_cs
        [ "$NOW_CS" -lt "$end" ] || return 1
        sleep 1
    done
}
# When vxenstored is dom0's xenstored and the guest hangs: its SIGUSR1 report (every ring's
# indexes and queues, on the serial console) shows who waits for whom.
xenstored_report() {
    local p
    p=$(pidof vxenstored 2>/dev/null) || return 0
    echo "---- vxenstored's ring report (SIGUSR1) ----"
    kill -USR1 $p; sleep 1
}
done_marker() { grep -qE 'DOMU (PASS|FAIL)' "$(console_log "$name")" 2>/dev/null; }
# verdict_or_gone: the guest gave its verdict, or xl create -F has already returned (failed).
# (a guest created once more after a triple fault is not gone: see xl_create_fg)
verdict_or_gone() { done_marker || { ! kill -0 "$xl_pid" 2>/dev/null && gone; }; }

XS_TRACE=/var/log/xen/xenstored.trace
trace_lines() { if [ -f "$XS_TRACE" ]; then wc -l <"$XS_TRACE"; else echo 0; fi; }
trace0=$(trace_lines)

reset_console "$name"
t0=$(now)
# A Linux boot under TCG in nested Xen takes a while (~45 s when the machine is quiet, minutes
# when it is not): xl_create_fg gives up only after 500 s.
E2E_XL_TIMEOUT=500 xl_create_fg "$cfg" >"$E2E_TMP/reason" &
xl_pid=$!
slow_wait 120 created || fail "the domain was not created"
domid=$(xl domid "$name")
info "linux-guest: domid $domid"
be=/local/domain/0/backend
fe=/local/domain/$domid/device

# check_guest: wait for the guest's verdict, then count (connected) the four xenstore states
# that say the split drivers negotiated; what is wrong goes to $problems (reported below).
check_guest() {
    problems=()
    if slow_wait 450 verdict_or_gone && done_marker; then
        info "linux-guest: xl create -> guest's verdict $(seconds_between "$t0" "$(now)") s"
    else
        problems+=("no DOMU PASS/FAIL on the guest's console")
        xenstored_report
        for p in "$be/vbd/$domid" "$be/vif/$domid" "/local/domain/$domid"; do xenstore-ls -f "$p" 2>&1; done | head -n 150
        echo "---- xen-hotplug.log ----"; tail -n 40 /var/log/xen/xen-hotplug.log; echo "----"
    fi
    # xl_create_fg creates the guest once more if it triple-faulted (a rig fault): ask again.
    d=$(xl domid "$name" 2>/dev/null) && domid=$d
    fe=/local/domain/$domid/device
    connected=0
    for p in "$be/vbd/$domid/51712" "$fe/vbd/51712" "$be/vif/$domid/0" "$fe/vif/0"; do
        if xs_is "$p/state" 4; then
            echo "xenstore: $p/state = 4"
            connected=$((connected + 1))
        else
            problems+=("$p/state is '$(xenstore-read "$p/state" 2>&1)', want 4 (Connected)")
        fi
    done
}
retried() { grep -qx "$1" "$E2E_TMP/xl-retried" 2>/dev/null; }
recreated() { d=$(xl domid "$name" 2>/dev/null) && [ "$d" != "$1" ]; }

# The split drivers negotiated through xenstore: backend and frontend both Connected (4).
check_guest
# The rig's triple fault can also come after the verdict, while the states are read (seen in
# CI: the vbd and vif already Closing, 6): xl_create_fg then creates the guest once more, with
# a fresh console, and the checks are made again on the new domain.
if [ "$connected" != 4 ] && slow_wait 30 retried "$domid"; then
    old=$domid
    info "linux-guest: domain $old triple-faulted after its verdict (rig fault): checking the domain created again"
    if slow_wait 120 recreated "$old"; then
        t0=$(now)
        check_guest
    else
        problems+=("domain $old was not created again")
    fi
fi
for p in "${problems[@]}"; do soft_fail "$p"; done
# (only when something is wrong: these requests would also end up in the trace)
if [ "$connected" != 4 ]; then
    xenstored_report
    echo "---- xenstore: the vbd and vif nodes ----"
    for p in "$be/vbd/$domid" "$be/vif/$domid" "$fe"; do xenstore-ls -f "$p" 2>&1; done | head -n 80
    echo "----"
fi

# With vxenstored as dom0's xenstored: SIGKILL it while the guest runs and start it again on
# its database. The guest's xenbus must carry on: the shutdown below reaches the guest through
# its control/shutdown watch (restored by the new daemon) and Linux's shutdown handler reads
# and clears the node in a transaction; blkback/netback (dom0's kernel ring) and xl destroy's
# cleanup go through the new daemon too. Under vxs-fdstore (make test-e2e-vxs) the sockets
# survive: xl create -F keeps its connection and sees the guest's shutdown as without a kill.
# Without the holder xl create -F loses its socket with the old daemon, so xl destroy does the
# cleanup then.
restarted=false
if xenstored_is_ours && [ "$connected" = 4 ]; then
    t=$(now)
    xenstored_kill_restart
    xenstored_kept || restarted=true
    info "linux-guest: vxenstored SIGKILLed and restarted, the guest running ($(seconds_between "$t" "$(now)") s)$(xenstored_kept && echo ', sockets kept by vxs-fdstore: xl create -F goes on')"
    grep -q "domain $domid: reconnected" /tmp/vxs-restart.log ||
        soft_fail "the restarted vxenstored did not report reconnecting domain $domid"
    xs_is "$fe/vbd/51712/state" 4 || soft_fail "the frontend's state is not 4 after the restart"
fi

# The toolstack's shutdown request: the guest kernel's control/shutdown watch -> /sbin/poweroff.
t2=$(now)
touch "$E2E_TMP/xl-no-retry"
xl shutdown "$name" >&2 2>&1 || soft_fail "xl shutdown failed"
if $restarted; then
    stopped() { gone || xl list "$name" 2>/dev/null | awk 'NR == 2 { exit ($5 ~ /s/) ? 0 : 1 }'; }
    wait_until 60 stopped || soft_fail "the guest did not shut down after the restart"
    t3=$(now)
    info "linux-guest: xl shutdown after the restart -> guest shut down in $(seconds_between "$t2" "$t3") s"
    # xl create -F: still waiting on its dead socket, or gone (it says which on the log)
    kill "$xl_pid" 2>/dev/null; pkill -f "xl create -F $cfg" 2>/dev/null; wait "$xl_pid" 2>/dev/null
    gone || xl destroy "$name" >&2 2>&1 || soft_fail "xl destroy failed"
    wait_until 10 gone || soft_fail "the domain still exists after xl destroy"
else
    wait "$xl_pid"
    reason=$(cat "$E2E_TMP/reason")
    t3=$(now)
    wait_until 10 gone || soft_fail "the domain still exists after xl shutdown"
    info "linux-guest: xl shutdown -> domain gone in $(seconds_between "$t2" "$t3") s"
    # (a triple fault during the poweroff is the rig's known fault: reported below)
    if [ "$reason" != 0 ] &&
        ! { [ "$reason" = 1 ] && xl dmesg 2>/dev/null | grep -q "d${domid}v0 Triple fault"; }; then
        soft_fail "shutdown reason '$reason', want 0 (poweroff)"
    fi
fi
if ! wait_console "$name" 'DOMU shutdown requested' 5; then
    # The nested rig's known fault (issue 6's notes: a triple fault right after an instruction
    # Xen intercepts, here during the guest's poweroff) is reported, not failed.
    if xl dmesg 2>/dev/null | grep -q "d${domid}v0 Triple fault"; then
        info "linux-guest: rig fault: the guest triple-faulted under nested TCG while shutting down"
    else
        soft_fail "the guest did not report the shutdown request"
    fi
fi

echo "---- console of $name ----"; console_text "$name"; echo "----"
console_has "$name" 'DOMU PASS' || soft_fail "the guest did not print DOMU PASS"

# What the guest wrote reached the image.
sync
got=$(head -c 64 "$img" | tr -d '\0' | head -n 1)
[ "$got" = "domU-wrote-$token" ] || soft_fail "image starts with '$got', want 'domU-wrote-$token'"

# The toolstack cleaned up: backends, the domain's nodes, the backend's devices.
nodes_gone() {
    ! xenstore-exists "$be/vbd/$domid" 2>/dev/null && ! xenstore-exists "$be/vif/$domid" 2>/dev/null &&
        ! xenstore-exists "/local/domain/$domid" 2>/dev/null && ! xenstore-exists "/libxl/$domid" 2>/dev/null
}
if wait_until 10 nodes_gone; then
    echo "xenstore: backend/vbd/$domid, backend/vif/$domid, /local/domain/$domid, /libxl/$domid gone"
else
    soft_fail "xenstore nodes left behind after the domain died"
    xenstore-ls -f "$be" 2>&1 | grep -E "/(vbd|vif)/$domid/" | head -n 20
    xenstore-ls -f "/local/domain/$domid" 2>&1 | head -n 20
fi
ip link show "vif$domid.0" >/dev/null 2>&1 && soft_fail "vif$domid.0 still exists"
losetup -d "$loopdev" 2>/dev/null || soft_fail "cannot detach $loopdev (still in use?)"
rm -f "$img"
if [ -f "$XS_TRACE" ]; then
    trace1=$(trace_lines)
    info "linux-guest: xenstored trace of create..cleanup: $((trace1 - trace0)) lines"
    sed -n "$((trace0 + 1)),${trace1}p" "$XS_TRACE" | sed 's/^/XSTRACE /'
fi
finish
