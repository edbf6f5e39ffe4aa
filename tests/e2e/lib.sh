# Helpers for the e2e scenarios. Sourced by tests/e2e/scenarios/*.sh, which the rig's dom0
# runs with bash, cwd /xenkit, E2E_NAME = the scenario's name. Everything printed goes to the
# serial log; tools/rig/run.sh shows lines starting with "INFO " to the user, and lines starting
# with "SHOW " without that prefix.
#
# A scenario passes if it exits 0: end it with `pass`, or `finish` after soft_fail checks.
# shellcheck shell=bash

E2E_NAME=${E2E_NAME:-$(basename "$0" .sh)}
E2E_TMP=$(mktemp -d /tmp/e2e-"$E2E_NAME".XXXXXX)
E2E_FAILS=0
CONSOLE_DIR=${E2E_CONSOLE_DIR:-/var/log/xen/console}   # overridable to check scenarios off-rig

# pass: the scenario passed.
pass() { echo "PASS $E2E_NAME"; exit 0; }
# fail MSG: the scenario failed; stop here.
fail() { echo "FAIL $E2E_NAME: $*"; exit 1; }
# soft_fail MSG: record a failure and go on (see finish).
soft_fail() { echo "FAIL $E2E_NAME: $*"; E2E_FAILS=$((E2E_FAILS + 1)); }
# finish: pass unless soft_fail was called.
finish() {
    [ "$E2E_FAILS" -eq 0 ] || { echo "FAIL $E2E_NAME: $E2E_FAILS check(s) failed"; exit 1; }
    pass
}
# info MSG: a line for the user's report (timings, sizes).
info() { echo "INFO $*"; }

# now: seconds since dom0 booted, with centiseconds (from /proc/uptime).
now() { local up _; read -r up _ </proc/uptime; echo "$up"; }
# uptime_cs: set NOW_CS to the uptime in centiseconds (no fork: for polling loops, which must
# count wall time, as forks are slow in dom0 under TCG).
uptime_cs() { local up _; read -r up _ </proc/uptime; NOW_CS=$((10#${up/./})); }
# wait_until SECS CMD [ARG...]: run CMD every ~50 ms until it succeeds (status 0) or SECS
# seconds have passed (status 1).
wait_until() {
    local secs=$1 end; shift
    uptime_cs; end=$((NOW_CS + secs * 100))
    until "$@"; do
        uptime_cs
        [ "$NOW_CS" -lt "$end" ] || return 1
        sleep 0.05
    done
}
# seconds_between T0 T1: T1 - T0 formatted as seconds with two decimals.
seconds_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# console_log NAME: path of the console log xenconsoled writes for domain NAME.
console_log() { echo "$CONSOLE_DIR/guest-$1.log"; }
# console_text NAME: that log without the \r of its \r\n line ends.
console_text() { tr -d '\r' 2>/dev/null <"$(console_log "$1")"; }
# reset_console NAME: remove an old log (xenconsoled appends to it for a domain of the same name).
reset_console() { rm -f "$(console_log "$1")"; }
# console_has NAME STRING: the log contains STRING (a fixed string).
console_has() { console_text "$1" | grep -qF -- "$2"; }
# console_has_line NAME LINE: the log contains LINE as a whole line.
console_has_line() { console_text "$1" | grep -qxF -- "$2"; }
# wait_console NAME STRING [SECS]: wait until the log contains STRING; status 1 after SECS
# (default 5). xenconsoled may write the log just after the domain is gone.
wait_console() { wait_until "${3:-5}" console_has "$1" "$2"; }

# stamp_when NAME STRING FILE: poll the log every ~20 ms and write `now` to FILE as soon as it
# contains STRING. Run it in the background (&) around an `xl create`; kill it afterwards.
stamp_when() {
    local log
    log=$(console_log "$1")
    while :; do
        if [ -f "$log" ] && grep -qF -- "$2" "$log"; then
            now >"$3"
            return 0
        fi
        sleep 0.02
    done
}
# show_console NAME: print the domain's console log as SHOW lines (shown verbatim to the user).
show_console() { console_text "$1" | sed 's/^/SHOW /'; }

# xl_create_fg CFG [KEY=VALUE...]: `xl create -F CFG KEY=VALUE...` (foreground: returns when the
# domain is gone). xl's own output goes to stderr (and thus to the serial log) prefixed "xl: ".
# Prints the shutdown reason code (0 poweroff, 1 reboot, 2 suspend, 3 crash, 4 watchdog) from
# xl's "has shut down, reason code N"; status 1 (and prints nothing) if xl reported none.
# A domain still running after E2E_XL_TIMEOUT seconds (default 30) is destroyed, so one hung
# guest does not eat the whole scenario's time. on_reboot="destroy" is added (a later KEY=VALUE
# may override it): a triple-faulting PVH guest "reboots", and xl -F would restart it forever.
E2E_XL_TIMEOUT=${E2E_XL_TIMEOUT:-30}
xl_create_fg_once() {
    local out=$E2E_TMP/xl-create.out code pid domid end t0
    local cfg=$1; shift
    t0=$(now)
    xl create -F "$cfg" 'on_reboot="destroy"' "$@" >"$out" 2>&1 &
    pid=$!
    uptime_cs; end=$((NOW_CS + E2E_XL_TIMEOUT * 100))
    while kill -0 "$pid" 2>/dev/null; do
        uptime_cs
        if [ "$NOW_CS" -ge "$end" ]; then
            domid=$(sed -n 's/.*Waiting for domain .* (domid \([0-9][0-9]*\)).*/\1/p' "$out" | tail -n 1)
            echo "xl_create_fg: domain ${domid:-?} still running after $E2E_XL_TIMEOUT s: destroying it" >&2
            [ -z "$domid" ] || xl destroy "$domid" >&2 2>&1
            sleep 1
            kill -KILL "$pid" 2>/dev/null
            break
        fi
        sleep 0.05
    done
    wait "$pid" 2>/dev/null
    sed 's/^/xl: /' "$out" >&2
    echo "xl_create_fg: xl create -F $cfg $* took $(seconds_between "$t0" "$(now)") s" >&2
    code=$(sed -n 's/.*has shut down, reason code \([0-9][0-9]*\).*/\1/p' "$out" | tail -n 1)
    [ -n "$code" ] || return 1
    echo "$code"
}

# file_size FILE: size in bytes.
file_size() { wc -c 2>/dev/null <"$1" | tr -d ' '; }

# require_file FILE...: fail (clearly) if something the scenario needs was not built.
require_file() {
    local f
    for f in "$@"; do
        [ -f "$f" ] || fail "$f is missing (did the build produce it? make guests)"
    done
}

# xl_create_fg CFG [KEY=VALUE...]: xl_create_fg_once, again (up to twice) if Xen reports that
# the domain triple-faulted. Our kernel cannot triple-fault by itself (every exception is
# reported and crashes the domain, #DF on its own stack); under this nested rig (Xen under QEMU
# TCG) a guest now and then finds its own page tables "not present" right after an intercepted
# instruction, which ends in a triple fault (issue 6's notes). That is the rig's fault, so it
# is retried, visibly, instead of failing whatever scenario it hit (twice: a CI run saw xs10k
# fault twice in a row); unless the scenario created $E2E_TMP/xl-no-retry (e.g. once it has
# asked the guest to shut down, when a fault during the shutdown is reported, not retried).
xl_create_fg() {
    local code domid name try
    for try in 1 2 3; do
        code=$(xl_create_fg_once "$@") || return 1
        domid=$(sed -n 's/.*Waiting for domain .* (domid \([0-9][0-9]*\)).*/\1/p' \
                "$E2E_TMP/xl-create.out" | tail -n 1)
        if [ "$try" -lt 3 ] && [ "$code" = 1 ] && [ -n "$domid" ] && [ ! -e "$E2E_TMP/xl-no-retry" ] &&
            xl dmesg 2>/dev/null | grep -q "d${domid}v0 Triple fault"; then
            name=$(sed -n 's/.*Waiting for domain \(.*\) (domid .*/\1/p' "$E2E_TMP/xl-create.out" | tail -n 1)
            echo "INFO rig: domain $domid ($name) triple-faulted under nested TCG (a known rig fault); creating it once more" >&2
            echo "$domid" >>"$E2E_TMP/xl-retried" # (a scenario waiting on it can tell)
            [ -z "$name" ] || rm -f "$(console_log "$name")"
            continue
        fi
        break
    done
    echo "$code"
    return 0
}

# With vxenstored as dom0's xenstored (run.sh --xenstored build/vxenstored): true.
xenstored_is_ours() {
    . /etc/rig/rig.conf
    case "$RIG_XENSTORED" in /xenkit/*) return 0 ;; *) return 1 ;; esac
}

xenstored_answers() { xenstore-exists / 2>/dev/null; }

# xenstored_kept: dom0's vxenstored runs under its fd store, vxs-fdstore (run.sh --xenstored
# build/vxs-fdstore --xenstored-args "-- /xenkit/build/vxenstored ..."): the holder keeps the
# listening socket and every client's connection, and restarts the daemon when it dies.
xenstored_kept() {
    . /etc/rig/rig.conf
    case " $RIG_XENSTORED_ARGS " in *" -- "*vxenstored*) return 0 ;; *) return 1 ;; esac
}

# xenstored_kill_restart: SIGKILL the running xenstored and have it start again, with the same
# arguments, on its database; wait until it answers. Its output goes to /tmp/vxs-restart.log
# (dom0-init.sh sends vxenstored's there too). Under vxs-fdstore the holder restarts it and
# no client loses its connection. Without it, xenconsoled's xenstore connection dies with the
# daemon (libxenstore does not reconnect): it may exit or go on without xenstore, and then
# never sees a new domain (xl create's wait for the console tty times out). So a new one is
# started either way; it takes over the running domains' consoles and appends to their logs.
xenstored_kill_restart() {
    . /etc/rig/rig.conf
    local pid
    if xenstored_kept; then
        pid=$(pidof vxenstored)
        [ -n "$pid" ] || fail "cannot find the running vxenstored (under vxs-fdstore)"
        kill -KILL $pid
        while kill -0 $pid 2>/dev/null; do sleep 0.05; done
        XS_OLD_PID=$pid
        restarted_by_holder() {
            local p
            p=$(pidof vxenstored) && [ "$p" != "$XS_OLD_PID" ] && xenstored_answers
        }
        wait_until 10 restarted_by_holder ||
            { tail -n 20 /tmp/vxs-restart.log; fail "vxs-fdstore did not restart vxenstored"; }
        return 0
    fi
    pid=$(pidof xenstored || pgrep -f "$RIG_XENSTORED" | head -n 1)
    [ -n "$pid" ] || fail "cannot find the running xenstored"
    kill -KILL $pid
    while kill -0 $pid 2>/dev/null; do sleep 0.05; done
    # shellcheck disable=SC2086 # the args are a word list on purpose
    "$RIG_XENSTORED" $RIG_XENSTORED_ARGS >>/tmp/vxs-restart.log 2>&1 &
    wait_until 10 xenstored_answers ||
        { cat /tmp/vxs-restart.log; fail "xenstored did not answer after a restart"; }
    killall -KILL xenconsoled 2>/dev/null
    wait_until 5 sh -c '! pidof xenconsoled >/dev/null'
    xenconsoled --log=guest --log-dir=/var/log/xen/console
}
