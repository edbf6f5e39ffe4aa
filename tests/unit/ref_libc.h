/* ref_libc.h: glibc's versions of the functions we test, for reference results. Declared
 * with their own names (ref_*) because in a test program the standard names mean ours. */
#ifndef XENKIT_TEST_REF_LIBC_H
#define XENKIT_TEST_REF_LIBC_H

#include <stdarg.h>
#include <stddef.h>

int ref_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

/* glibc's strto*; *erange is set to whether glibc reported ERANGE. */
long ref_strtol(const char *s, char **end, int base, int *erange);
unsigned long ref_strtoul(const char *s, char **end, int base, int *erange);
long long ref_strtoll(const char *s, char **end, int base, int *erange);
unsigned long long ref_strtoull(const char *s, char **end, int base, int *erange);
int ref_atoi(const char *s);

/* glibc's ctype function number i (0..13, in the order of REF_CTYPE_NAMES), in the C
 * locale, applied to c. */
#define REF_CTYPE_COUNT 14
#define REF_CTYPE_NAMES                                                                    \
    "isalnum", "isalpha", "isblank", "iscntrl", "isdigit", "isgraph", "islower", "isprint", \
        "ispunct", "isspace", "isupper", "isxdigit", "tolower", "toupper"
int ref_ctype(int i, int c);

/* Sign (-1, 0, 1) of glibc's memcmp/strcmp/strncmp. */
int ref_memcmp_sign(const void *a, const void *b, size_t n);
int ref_strncmp_sign(const char *a, const char *b, size_t n);
/* Offsets (or -1 for NULL) of glibc's strstr/strchr/strrchr results; lengths of strspn. */
long ref_strstr_off(const char *h, const char *n);
long ref_strchr_off(const char *s, int c);
long ref_strrchr_off(const char *s, int c);
size_t ref_strspn(const char *s, const char *accept);
size_t ref_strcspn(const char *s, const char *reject);

#endif
