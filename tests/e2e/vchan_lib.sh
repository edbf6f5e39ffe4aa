# Helpers for the vchan scenarios (tests/e2e/scenarios/vchan*.sh), on top of lib.sh.
# shellcheck shell=bash

VCHAN_ELF=build/guest/vchan-echo.elf
VCHAN_SCFG=examples/vchan-echo/vchan-echo-server.cfg
VCHAN_CCFG=examples/vchan-echo/vchan-echo-client.cfg

# xl_create_paused CFG NAME CMDLINE: `xl create -p` with that name and command line; prints
# the domid (status 1 if the domain did not appear).
xl_create_paused() {
    reset_console "$2"
    xl create -p "$1" "name=\"$2\"" "cmdline=\"$3\"" 'on_reboot="destroy"' ${VCHAN_XL_EXTRA:-} 2>&1 |
        sed 's/^/xl: /' >&2
    xl domid "$2" 2>/dev/null
}

# dom_gone NAME: no domain of that name.
dom_gone() { ! xl domid "$1" >/dev/null 2>&1; }
# all_gone NAME...: none of them exists.
all_gone() { local n; for n in "$@"; do dom_gone "$n" || return 1; done; }

# echo_exit NAME: the guest said "vchan-echo: exit 0".
echo_ok() { console_has "$1" 'vchan-echo: exit 0'; }
echo_done() { console_has "$1" 'vchan-echo: exit '; }

# dump NAME: its console into the serial log.
dump() { echo "---- console of $1 ----"; console_text "$1"; echo "----"; }

# check_ok NAME WHAT: soft_fail unless the guest exited 0 with no FAILED line.
check_ok() {
    dump "$1"
    echo_ok "$1" || soft_fail "$2: $1 did not end with 'vchan-echo: exit 0'"
    console_has "$1" 'FAILED' && soft_fail "$2: $1 reported a failure"
    return 0
}

# throughput NAME: the client's "N.NN MB/s" figure.
throughput() { console_text "$1" | sed -n 's/^vchan-echo: client: .* \([0-9.]* MB\/s\).*/\1/p' | tail -n 1; }
