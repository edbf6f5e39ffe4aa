/* libc_rename.h: host unit tests only. Renames every function of our libc that glibc also
 * has, so that the lib/ sources built for the host defines xk_memcpy instead of memcpy, and so on.
 * Without this the test binaries would carry two memcpy definitions, and glibc, cmocka and
 * the sanitizer runtimes (which intercept memcpy, strlen, ...) would end up calling ours.
 *
 * Force-included (-include) into the lib/ sources by tests/unit/build.mk; the test programs
 * include it through tests/unit/xk_libc.h. The kernel build never sees it. */
#ifndef XENKIT_LIBC_RENAME_H
#define XENKIT_LIBC_RENAME_H

/* string.h */
#define memcpy   xk_memcpy
#define memmove  xk_memmove
#define memset   xk_memset
#define memcmp   xk_memcmp
#define memchr   xk_memchr
#define strlen   xk_strlen
#define strnlen  xk_strnlen
#define strcmp   xk_strcmp
#define strncmp  xk_strncmp
#define strchr   xk_strchr
#define strrchr  xk_strrchr
#define strcpy   xk_strcpy
#define strncpy  xk_strncpy
#define strcat   xk_strcat
#define strncat  xk_strncat
#define strstr   xk_strstr
#define strspn   xk_strspn
#define strcspn  xk_strcspn
#define strtok_r xk_strtok_r
#define strlcpy  xk_strlcpy
#define strlcat  xk_strlcat

/* ctype.h (static inline, renamed only so they cannot collide with glibc's declarations) */
#define isalnum  xk_isalnum
#define isalpha  xk_isalpha
#define isblank  xk_isblank
#define iscntrl  xk_iscntrl
#define isdigit  xk_isdigit
#define isgraph  xk_isgraph
#define islower  xk_islower
#define isprint  xk_isprint
#define ispunct  xk_ispunct
#define isspace  xk_isspace
#define isupper  xk_isupper
#define isxdigit xk_isxdigit
#define tolower  xk_tolower
#define toupper  xk_toupper

/* stdlib.h */
#define strtol   xk_strtol
#define strtoul  xk_strtoul
#define strtoll  xk_strtoll
#define strtoull xk_strtoull
#define atoi     xk_atoi
#define abs      xk_abs
#define labs     xk_labs
#define abort    xk_abort
#define malloc         xk_malloc
#define calloc         xk_calloc
#define realloc        xk_realloc
#define free           xk_free
#define aligned_alloc  xk_aligned_alloc
#define posix_memalign xk_posix_memalign
#define malloc_usable_size xk_malloc_usable_size
#define malloc_trim    xk_malloc_trim

/* stdio.h */
#define printf    xk_printf
#define vprintf   xk_vprintf
#define puts      xk_puts
#define putchar   xk_putchar
#define snprintf  xk_snprintf
#define vsnprintf xk_vsnprintf

/* assert.h */
#define __assert_fail xk___assert_fail

#endif
