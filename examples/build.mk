# examples/: one directory per guest application; each becomes build/guest/NAME.elf.
GUEST_APPS += hello
GUEST_APP_SRCS_hello := examples/hello/main.c

GUEST_APPS += timers
GUEST_APP_SRCS_timers := examples/timers/main.c

# xsprobe: the xenbus client against dom0's xenstored (tests/e2e/scenarios/xsprobe.sh).
GUEST_APPS += xsprobe
GUEST_APP_SRCS_xsprobe := examples/xsprobe/main.c
