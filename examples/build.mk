# examples/: one directory per guest application; each becomes build/guest/NAME.elf.
GUEST_APPS += hello
GUEST_APP_SRCS_hello := examples/hello/main.c
