/* stdlib.h: number parsing and a few utilities of the xenkit libc.
 *
 * There is no errno: on overflow the strto* functions clamp like C does (LONG_MAX/LONG_MIN,
 * ULONG_MAX, ...) and still set *endptr past all the digits; with no digits they return 0
 * and set *endptr = nptr; an invalid base (not 0 and not 2..36) returns 0 with
 * *endptr = nptr.
 *
 * Memory (lib/malloc.c, see lib/heap.h): every object is 16-byte aligned. Running out of
 * memory is a panic ("out of memory: malloc(N) with K KiB free"), never NULL; so is a calloc
 * whose n * size overflows, and a free() of anything that is not a live heap object (double
 * free, foreign pointer, damaged header). malloc(0) returns a unique pointer; realloc(p, 0)
 * frees p and returns NULL; aligned_alloc with an alignment that is not a power of two
 * returns NULL. <xenkit/malloc.h> has the try_ variants that return NULL. */
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

void *malloc(size_t size);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t size);
void *aligned_alloc(size_t align, size_t size);
void free(void *p);
/* EINVAL if align is not a power of two multiple of sizeof(void *); else 0 (or a panic). */
int posix_memalign(void **out, size_t align, size_t size);

/* As in C, abs(INT_MIN) and labs(LONG_MIN) are undefined. */
int abs(int j);
long labs(long j);

/* Panics with "abort() called". */
_Noreturn void abort(void);

#endif
