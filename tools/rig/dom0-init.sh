#!/bin/sh
# /init of the rig's dom0 (busybox sh). Brings up the Xen toolstack, runs the selected e2e
# scenarios one by one and powers the machine off.
#
# Everything it prints goes to hvc0 -> Xen -> QEMU's serial log, which tools/rig/run.sh reads.
# Lines starting with "@@E2E " are the markers run.sh parses:
#   @@E2E READY <uptime>          toolstack up, scenarios start
#   @@E2E BEGIN <name>            a scenario starts (its output follows)
#   @@E2E END <name> rc=<N> secs=<T>  it ended with exit status N (137: killed by the timeout)
#   @@E2E DONE                    all scenarios ran; poweroff follows
#   @@E2E FATAL <message>         dom0 could not set up; no scenario ran
# Settings come from /etc/rig/rig.conf, written by mkinitramfs.sh.

export PATH=/usr/sbin:/usr/bin:/usr/lib/xen-4.17/bin
export HOME=/root TERM=dumb LANG=C

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# The kernel may have started us without a console (no /dev/console in the archive).
exec </dev/console >/dev/console 2>&1

fatal() {
    echo "@@E2E FATAL $*"
    poweroff -f
    sleep 60
}

# /dev/fd and /dev/std*: devtmpfs lacks them and the hotplug scripts need them.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
hostname dom0
ip link set lo up

. /etc/rig/rig.conf

# Modules, in dependency order (computed by mkinitramfs.sh).
while read -r m; do
    insmod "/lib/modules/rig/$m" || echo "rig: insmod $m failed"
done </lib/modules/rig/order

mount -t xenfs xenfs /proc/xen || fatal "cannot mount xenfs (is this dom0 under Xen?)"

# xenstored: Debian's (daemonizes) or the one given to run.sh --xenstored (may stay in the
# foreground): start it in the background either way and wait for its socket to answer.
echo "rig: starting xenstored: $RIG_XENSTORED $RIG_XENSTORED_ARGS"
# Ours (/xenkit/...) also logs to /tmp/vxs-restart.log, where the restart scenarios look for
# what a restarted daemon reported (under vxs-fdstore the holder restarts it with this output).
case "$RIG_XENSTORED" in
    /xenkit/*)
        # shellcheck disable=SC2086 # the args are a word list on purpose
        ("$RIG_XENSTORED" $RIG_XENSTORED_ARGS 2>&1 | tee -a /tmp/vxs-restart.log) & ;;
    *)
        # shellcheck disable=SC2086
        "$RIG_XENSTORED" $RIG_XENSTORED_ARGS & ;;
esac
i=0
until xenstore-exists / 2>/dev/null; do
    i=$((i + 1))
    [ $i -lt 200 ] || fatal "xenstored did not answer within 10 s"
    sleep 0.05
done

xen-init-dom0 || fatal "xen-init-dom0 failed"
xenconsoled --log=guest --log-dir=/var/log/xen/console || fatal "xenconsoled failed"

brctl addbr xenbr0 && ip link set xenbr0 up || echo "rig: cannot set up bridge xenbr0"

# Wait (briefly) for the crng: until it is initialised the toolstack blocks on random bytes.
# virtio-rng normally gets it done within a second of loading.
i=0
while [ $i -lt 50 ] && ! dmesg | grep -q 'crng init done'; do
    i=$((i + 1)); sleep 0.1
done

crng=no
! dmesg | grep -q 'crng init done' || crng=yes
set -- $(cat /proc/uptime)
echo "@@E2E READY $1 crng=$crng"

# destroy_all: remove domains a scenario left behind (e.g. killed by the timeout).
destroy_all() {
    xl list 2>/dev/null | awk 'NR > 2 { print $2 }' | while read -r d; do
        echo "rig: destroying leftover domain $d"
        xl destroy "$d" 2>&1
    done
}

for s in $RIG_SCENARIOS; do
    echo "@@E2E BEGIN $s"
    read -r t0 _ </proc/uptime
    # A scenario may ask for more time than the default: a line "# rig: timeout SECS".
    limit=$RIG_SCENARIO_TIMEOUT
    own=$(awk '/^# rig: timeout [0-9]/ { print $4; exit }' "/xenkit/tests/e2e/scenarios/$s.sh" 2>/dev/null)
    [ -z "$own" ] || [ "$own" -le "$limit" ] || limit=$own
    if [ -f "/xenkit/tests/e2e/scenarios/$s.sh" ]; then
        # A subshell so a scenario cannot change init's state; the timeout kills a hung one
        # (an xl it left waiting goes away when destroy_all removes the domain).
        (cd /xenkit && E2E_NAME=$s exec timeout -s KILL "$limit" \
             bash "tests/e2e/scenarios/$s.sh")
        rc=$?
    else
        echo "rig: no scenario tests/e2e/scenarios/$s.sh"
        rc=127
    fi
    [ $rc -ne 137 ] || echo "rig: scenario $s killed after ${limit} s"
    destroy_all
    read -r t1 _ </proc/uptime
    echo "@@E2E END $s rc=$rc secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')"
done

echo "@@E2E DONE"
sync
poweroff -f
sleep 60
