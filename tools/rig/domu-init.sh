#!/bin/sh
# /init of the rig's Linux domU (busybox sh), for scenarios marked "# rig: linux-domu".
#
# The guest checks its stock Xen frontends end to end: it loads xen-blkfront and
# xen-netfront (they negotiate with dom0's blkback/netback through xenstore), then
#   - reads the marker dom0 wrote into the disk image (rig.disk_marker=, at byte 4096) from
#     /dev/xvda, past the page cache;
#   - writes "domU-wrote-<rig.token>" at byte 0 of /dev/xvda (dom0 checks the image after);
#   - gives eth0 the address rig.ip= (/24) and pings dom0's bridge address rig.peer=.
# Every result is a line "DOMU ..." on hvc0 (xenconsoled logs it in dom0); the last one is
# "DOMU PASS" or "DOMU FAIL <n> check(s)". Then it waits for the toolstack's shutdown
# request: the kernel runs /sbin/poweroff (a script in this initramfs, see mkinitramfs.sh),
# which says so and powers off.

export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

say() { echo "DOMU $*"; }
FAILS=0
bad() { say "FAIL: $*"; FAILS=$((FAILS + 1)); }

# Settings from the kernel command line (rig.key=value words).
for w in $(cat /proc/cmdline); do
    case $w in
        rig.ip=*) IP=${w#rig.ip=} ;;
        rig.peer=*) PEER=${w#rig.peer=} ;;
        rig.token=*) TOKEN=${w#rig.token=} ;;
        rig.disk_marker=*) MARKER=${w#rig.disk_marker=} ;;
    esac
done
read -r up _ </proc/uptime
say "init at ${up} s: ip=${IP:-?} peer=${PEER:-?} token=${TOKEN:-?}"

while read -r m; do
    insmod "/modules/$m" || bad "insmod $m"
    read -r up _ </proc/uptime
    say "insmod $m done at ${up} s"
done </modules/order

# wait_for SECS CMD...: run CMD every 0.1 s until it succeeds or SECS pass.
wait_for() {
    local n=$(($1 * 10)); shift
    until "$@"; do
        n=$((n - 1))
        [ $n -gt 0 ] || return 1
        sleep 0.1
    done
}

# --- the disk ---
if wait_for 30 test -b /dev/xvda; then
    say "xvda: $(cat /sys/block/xvda/size) sectors"
    # O_DIRECT: the bytes come from blkback, not from this kernel's page cache.
    got=$(dd if=/dev/xvda bs=4096 skip=1 count=1 iflag=direct 2>/dev/null | head -c ${#MARKER})
    if [ -n "$MARKER" ] && [ "$got" = "$MARKER" ]; then
        say "xvda: read dom0's marker"
    else
        bad "xvda: read '$got' at byte 4096, want '$MARKER'"
    fi
    # One 4 KiB block: the pattern, padded with zeros (O_DIRECT wants whole blocks).
    printf 'domU-wrote-%s\n' "$TOKEN" >/tmp/pattern
    dd if=/dev/zero bs=1 count=$((4096 - $(wc -c </tmp/pattern))) 2>/dev/null >>/tmp/pattern
    if dd if=/tmp/pattern of=/dev/xvda bs=4096 count=1 oflag=direct conv=fsync 2>/dev/null &&
        dd if=/dev/xvda bs=4096 count=1 iflag=direct 2>/dev/null | cmp -s - /tmp/pattern; then
        say "xvda: wrote and read back the pattern"
    else
        bad "xvda: pattern write/read-back"
    fi
else
    bad "no /dev/xvda after 30 s"
fi

# --- the network ---
if wait_for 30 test -d /sys/class/net/eth0; then
    ip link set eth0 up
    ip addr add "$IP/24" dev eth0
    # The bridge port may need a moment before it forwards: retry for up to ~40 s.
    ok=0 i=0
    while [ $i -lt 20 ]; do
        if ping -c 1 -W 2 "$PEER" >/tmp/ping 2>&1; then ok=1; break; fi
        i=$((i + 1))
    done
    if [ $ok = 1 ]; then
        say "eth0: ping $PEER ok after $((i + 1)) attempt(s): $(grep -o 'time=[0-9.]* ms' /tmp/ping)"
    else
        bad "eth0: no answer from $PEER"
    fi
else
    bad "no eth0 after 30 s"
fi

read -r up _ </proc/uptime
if [ $FAILS = 0 ]; then say "PASS at ${up} s"; else say "FAIL $FAILS check(s)"; fi

# Wait for the toolstack (xl shutdown -> /sbin/poweroff); a shell as init ignores signals it
# does not trap, so nothing else can end this loop.
while :; do sleep 1; done
