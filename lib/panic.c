/* panic.c: panic, __assert_fail (for assert) and abort. */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <xenkit/panic.h>

#include "lib/kernel_hooks.h"

/* The one piece of global state in lib/, and an unavoidable one: if printing the message
 * panics again (a broken console, an assert in the console driver), the nested panic must not
 * print, or we would recurse until the stack overflows. Read and written only here, plus
 * reset by the host unit tests; the kernel runs a single vCPU. */
int xenkit_panic_depth;

static void to_console(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    kernel_console_write(s, n);
}

_Noreturn void panic(const char *fmt, ...)
{
    static const char prefix[] = "*** PANIC: ";
    va_list ap;

    if (xenkit_panic_depth++ == 0) {
        kernel_fatal_begin();
        kernel_console_write(prefix, sizeof(prefix) - 1);
        va_start(ap, fmt);
        vcbprintf(to_console, NULL, fmt, ap);
        va_end(ap);
        kernel_console_write("\n", 1);
    }
    kernel_crash();
}

_Noreturn void __assert_fail(const char *expr, const char *file, unsigned int line,
                             const char *func)
{
    panic("assertion failed: %s (%s:%u %s)", expr, file, line, func);
}

_Noreturn void abort(void)
{
    panic("abort() called");
}
