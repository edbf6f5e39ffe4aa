/* fake_kernel.h: the kernel hooks lib/ needs, as the host unit tests provide them. The
 * console is captured into a buffer; kernel_crash() longjmps to fake_crash_jmp. */
#ifndef XENKIT_TEST_FAKE_KERNEL_H
#define XENKIT_TEST_FAKE_KERNEL_H

#include <setjmp.h>
#include <stddef.h>

#define FAKE_CONSOLE_SIZE 65536

extern char fake_console[FAKE_CONSOLE_SIZE + 1]; /* NUL-terminated capture */
extern size_t fake_console_len;
extern unsigned fake_console_calls;     /* kernel_console_write calls */
extern size_t fake_console_max_chunk;   /* largest n passed to kernel_console_write */
extern unsigned fake_crash_calls;       /* kernel_crash calls */
extern unsigned fake_fatal_calls;       /* kernel_fatal_begin calls */
extern jmp_buf *fake_crash_jmp;         /* where kernel_crash goes; NULL: abort the test */
extern void (*fake_console_tap)(void);  /* if set, called on every console write */

/* Empties the capture, zeroes the counters and resets lib/'s panic nesting depth. */
void fake_kernel_reset(void);

#endif
