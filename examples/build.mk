# examples/: one directory per guest application; each becomes build/guest/NAME.elf.
GUEST_APPS += hello
GUEST_APP_SRCS_hello := examples/hello/main.c

GUEST_APPS += timers
GUEST_APP_SRCS_timers := examples/timers/main.c

# xsprobe: the xenbus client against dom0's xenstored (tests/e2e/scenarios/xsprobe.sh).
GUEST_APPS += xsprobe
GUEST_APP_SRCS_xsprobe := examples/xsprobe/main.c

# vchan-echo: a vchan echo server and a checking client (tests/e2e/scenarios/vchan*.sh).
GUEST_APPS += vchan-echo
GUEST_APP_SRCS_vchan-echo := examples/vchan-echo/main.c
