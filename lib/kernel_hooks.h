/* kernel_hooks.h: what lib/ needs from the kernel (internal to lib/; the kernel, or on the
 * host the unit tests, provide the definitions). */
#ifndef XENKIT_LIB_KERNEL_HOOKS_H
#define XENKIT_LIB_KERNEL_HOOKS_H

#include <stddef.h>

/* Write n bytes to the console. Must work at any time, including inside panic(). */
void kernel_console_write(const char *s, size_t n);

/* A panic is starting: the kernel switches its console to the fatal path (mirrored to the
 * debug port, bounded waits) so the message gets out even if the console backend is gone. */
void kernel_fatal_begin(void);

/* Stop the domain after a panic; never returns. */
_Noreturn void kernel_crash(void);

/* How many panics are under way (lib/panic.c). Only the host unit tests touch it, to reset
 * it after a test panic that they escaped from with longjmp. */
extern int xenkit_panic_depth;

#endif
