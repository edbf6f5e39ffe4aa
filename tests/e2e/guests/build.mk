# Test-only guests used by the e2e scenarios (tests/e2e/scenarios/).
GUEST_APPS += fault bigout
GUEST_APP_SRCS_fault  := tests/e2e/guests/fault.c
GUEST_APP_SRCS_bigout := tests/e2e/guests/bigout.c
# gnttest: grant tables against real Xen (tests/e2e/scenarios/gnttab.sh).
GUEST_APPS += gnttest
GUEST_APP_SRCS_gnttest := tests/e2e/guests/gnttest.c
# memtest: the heap over most of RAM, and its out-of-memory / double-free panics
# (tests/e2e/scenarios/memtest.sh, tests/boot/run.sh).
GUEST_APPS += memtest
GUEST_APP_SRCS_memtest := tests/e2e/guests/memtest.c
# xs10k, idle: xenstore at volume, and a guest for xl shutdown/reboot/destroy
# (tests/e2e/scenarios/xs10k.sh, xlshutdown.sh).
GUEST_APPS += xs10k idle
GUEST_APP_SRCS_xs10k := tests/e2e/guests/xs10k.c
GUEST_APP_SRCS_idle  := tests/e2e/guests/idle.c
