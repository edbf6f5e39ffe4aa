/* stdio.c: console output. printf goes through vcbprintf, whose stack buffer hands the
 * console hook chunks of up to XENKIT_PRINTF_CHUNK bytes. */
#include <stdio.h>
#include <string.h>

#include "lib/kernel_hooks.h"

static void to_console(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    kernel_console_write(s, n);
}

int vprintf(const char *restrict fmt, va_list ap)
{
    return vcbprintf(to_console, NULL, fmt, ap);
}

int printf(const char *restrict fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int puts(const char *s)
{
    kernel_console_write(s, strlen(s));
    kernel_console_write("\n", 1);
    return 0;
}

int putchar(int c)
{
    char ch = (char)(unsigned char)c;

    kernel_console_write(&ch, 1);
    return (unsigned char)c;
}
