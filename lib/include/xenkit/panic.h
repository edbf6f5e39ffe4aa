/* xenkit/panic.h: stop the kernel with a message. Implemented in lib/panic.c. */
#ifndef XENKIT_PANIC_H
#define XENKIT_PANIC_H

/* Prints "*** PANIC: <formatted message>\n" on the console, then crashes the domain. */
_Noreturn void panic(const char *fmt, ...) __attribute__((__format__(__printf__, 1, 2)));

#endif
