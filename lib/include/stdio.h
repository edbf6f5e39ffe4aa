/* stdio.h: formatted output of the xenkit libc. There are no FILEs: printf, puts and putchar
 * write to the kernel console.
 *
 * Supported conversions: d i u x X o c s p %, flags - 0 + space #, field width and precision
 * (numbers or '*'), length modifiers hh h l ll z t j. Semantics follow C (and glibc for the
 * implementation-defined parts: %p prints like %#lx, or "(nil)" for NULL). Differences:
 *   - %s with a NULL pointer prints "(null)" (cut to the precision, if one is given);
 *   - no floating point (the kernel is built without SSE/x87): %f %e %g %a and any other
 *     unknown conversion, as well as %n, are printed literally, e.g. "%5.2f", and consume no
 *     argument; %lc and %ls print like %c and %s;
 *   - the functions return -1 if the output would exceed INT_MAX bytes. */
#ifndef XENKIT_STDIO_H
#define XENKIT_STDIO_H

#include <stdarg.h>
#include <stddef.h>

#define EOF (-1)

int printf(const char *restrict fmt, ...) __attribute__((__format__(__printf__, 1, 2)));
int vprintf(const char *restrict fmt, va_list ap) __attribute__((__format__(__printf__, 1, 0)));
int puts(const char *s);
int putchar(int c);
int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
    __attribute__((__format__(__printf__, 3, 4)));
int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt, va_list ap)
    __attribute__((__format__(__printf__, 3, 0)));

/* Non-standard: the formatting core. Formats like vprintf and hands the output to out() in
 * chunks of 1 to XENKIT_PRINTF_CHUNK bytes (vcbprintf buffers on its stack); the
 * concatenation of the chunks is the output, with no terminating NUL. ctx is passed through
 * to out(). Returns the number of bytes output, or -1 if that exceeds INT_MAX. */
#define XENKIT_PRINTF_CHUNK 256
int vcbprintf(void (*out)(void *ctx, const char *s, size_t n), void *ctx, const char *fmt,
              va_list ap) __attribute__((__format__(__printf__, 3, 0)));

#endif
