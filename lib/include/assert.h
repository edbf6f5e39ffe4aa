/* assert.h: assert() panics with "assertion failed: EXPR (FILE:LINE FUNC)"; with NDEBUG
 * defined it expands to ((void)0). Like the C header, this one may be included several
 * times, and redefines assert each time according to the current NDEBUG. */
#undef assert
#ifdef NDEBUG
#define assert(expr) ((void)0)
#else
#define assert(expr) ((expr) ? (void)0 : __assert_fail(#expr, __FILE__, __LINE__, __func__))
#endif

#ifndef XENKIT_ASSERT_H
#define XENKIT_ASSERT_H

#ifndef __cplusplus
#define static_assert _Static_assert
#endif

/* Implemented in lib/panic.c. */
_Noreturn void __assert_fail(const char *expr, const char *file, unsigned int line,
                             const char *func);

#endif
