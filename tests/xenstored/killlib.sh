# Shared by the SIGKILL tests (killtest.sh, killtest_fdstore.sh, killtest_ring.sh); sourced.

# wait_socket PID: until $XENSTORED_PATH is a socket (0), or PID exits or ~8 s pass (1).
wait_socket() {
    for _ in $(seq 400); do
        [ -S "$XENSTORED_PATH" ] && return 0
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.02
    done
    return 1
}

# rnd N: sets r to the next of a seeded pseudo-random sequence, in [0, N) ($SEED, else the
# shell's pid, so that a failing run can be repeated with SEED=...). It sets a variable rather
# than printing: called as $(rnd N) it ran in a subshell, the sequence never advanced, and
# every kill of a run came after the same pause.
seed=${SEED:-$$}
rnd() { seed=$(( (seed * 1103515245 + 12345) % 2147483648 )); r=$(( seed / 65536 % $1 )); }
# kill_pause: sleep before the next kill, 0.02 to 0.2 s, a tenth of the time 0.01 s (killed
# while the daemon restores its state).
kill_pause() {
    rnd 100
    if [ "$r" -lt 10 ]; then sleep 0.01; else sleep "0.$(printf %02d $((r / 5 + 2)))"; fi
}
