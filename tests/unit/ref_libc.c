/* ref_libc.c: see ref_libc.h. Ordinary host code: everything here is glibc's. */
#include "tests/unit/ref_libc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ref_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    return vsnprintf(buf, size, fmt, ap);
}

#define REF_STRTO(name, type)                                       \
    type ref_##name(const char *s, char **end, int base, int *erange) \
    {                                                               \
        type v;                                                     \
        errno = 0;                                                  \
        v = name(s, end, base);                                     \
        *erange = errno == ERANGE;                                  \
        return v;                                                   \
    }
REF_STRTO(strtol, long)
REF_STRTO(strtoul, unsigned long)
REF_STRTO(strtoll, long long)
REF_STRTO(strtoull, unsigned long long)

int ref_atoi(const char *s)
{
    return atoi(s);
}

int ref_ctype(int i, int c)
{
    switch (i) {
    case 0: return isalnum(c) != 0;
    case 1: return isalpha(c) != 0;
    case 2: return isblank(c) != 0;
    case 3: return iscntrl(c) != 0;
    case 4: return isdigit(c) != 0;
    case 5: return isgraph(c) != 0;
    case 6: return islower(c) != 0;
    case 7: return isprint(c) != 0;
    case 8: return ispunct(c) != 0;
    case 9: return isspace(c) != 0;
    case 10: return isupper(c) != 0;
    case 11: return isxdigit(c) != 0;
    case 12: return tolower(c);
    default: return toupper(c);
    }
}

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

int ref_memcmp_sign(const void *a, const void *b, size_t n)
{
    return sign(memcmp(a, b, n));
}

int ref_strncmp_sign(const char *a, const char *b, size_t n)
{
    return sign(strncmp(a, b, n));
}

long ref_strstr_off(const char *h, const char *n)
{
    const char *r = strstr(h, n);
    return r ? r - h : -1;
}

long ref_strchr_off(const char *s, int c)
{
    const char *r = strchr(s, c);
    return r ? r - s : -1;
}

long ref_strrchr_off(const char *s, int c)
{
    const char *r = strrchr(s, c);
    return r ? r - s : -1;
}

size_t ref_strspn(const char *s, const char *accept)
{
    return strspn(s, accept);
}

size_t ref_strcspn(const char *s, const char *reject)
{
    return strcspn(s, reject);
}
