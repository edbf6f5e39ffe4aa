/* stdlib.h: number parsing and a few utilities of the xenkit libc.
 *
 * There is no errno: on overflow the strto* functions clamp like C does (LONG_MAX/LONG_MIN,
 * ULONG_MAX, ...) and still set *endptr past all the digits; with no digits they return 0
 * and set *endptr = nptr; an invalid base (not 0 and not 2..36) returns 0 with
 * *endptr = nptr. No memory allocation yet (malloc comes with the heap). */
#ifndef XENKIT_STDLIB_H
#define XENKIT_STDLIB_H

#include <stddef.h>

#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1

long strtol(const char *restrict nptr, char **restrict endptr, int base);
unsigned long strtoul(const char *restrict nptr, char **restrict endptr, int base);
long long strtoll(const char *restrict nptr, char **restrict endptr, int base);
unsigned long long strtoull(const char *restrict nptr, char **restrict endptr, int base);
int atoi(const char *nptr);

/* As in C, abs(INT_MIN) and labs(LONG_MIN) are undefined. */
int abs(int j);
long labs(long j);

/* Panics with "abort() called". */
_Noreturn void abort(void);

#endif
