/*
 * The console that needs nothing: Xen's and QEMU's debug port 0xe9 (`(dN)` lines in Xen's
 * log with guest_loglvl=all; QEMU -debugcon), and the first 16550 UART when we run on bare
 * QEMU without Xen (on Xen, PVH has no emulated UART).
 */
#ifndef XENKIT_ARCH_EARLY_CONSOLE_H
#define XENKIT_ARCH_EARLY_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

void early_console_init(bool use_uart);
void early_console_write(const char *s, size_t n);

#endif
