/* string.c: memory and string functions (see lib/include/string.h).
 *
 * Built with -fno-tree-loop-distribute-patterns (lib/build.mk), otherwise gcc would turn the
 * loops of memset/memcpy into calls to memset/memcpy, i.e. into infinite recursion.
 * memcpy/memset move 8-byte words when the alignment allows; everything else goes by bytes,
 * which is plenty for a unikernel's console and configuration strings. */
#include <stdint.h>
#include <string.h>

/* An 8-byte word that may alias any object, so word-wise copies respect strict aliasing. */
typedef uint64_t __attribute__((may_alias)) word_t;
#define WORD sizeof(word_t)

static int aligned(const void *p) { return ((uintptr_t)p & (WORD - 1)) == 0; }

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;

    /* Word copies only pay off (and only stay aligned) if both pointers share alignment. */
    if ((((uintptr_t)d ^ (uintptr_t)s) & (WORD - 1)) == 0) {
        for (; n > 0 && !aligned(d); n--)
            *d++ = *s++;
        for (; n >= WORD; n -= WORD, d += WORD, s += WORD)
            *(word_t *)d = *(const word_t *)s;
    }
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;

    /* Compare as integers: relational operators on pointers into different objects are
     * undefined in C. A forward copy is safe unless dst starts inside [src, src + n). */
    if ((uintptr_t)d - (uintptr_t)s >= n) {
        while (n--)
            *d++ = *s++;
    } else {
        d += n;
        s += n;
        while (n--)
            *--d = *--s;
    }
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    unsigned char b = (unsigned char)c;
    word_t w = (word_t)b * 0x0101010101010101ULL;

    for (; n > 0 && !aligned(d); n--)
        *d++ = b;
    for (; n >= WORD; n -= WORD, d += WORD)
        *(word_t *)d = w;
    while (n--)
        *d++ = b;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *p = a, *q = b;

    for (; n > 0; n--, p++, q++)
        if (*p != *q)
            return *p < *q ? -1 : 1;
    return 0;
}

void *memchr(const void *s, int c, size_t n)
{
    const unsigned char *p = s;

    for (; n > 0; n--, p++)
        if (*p == (unsigned char)c)
            return (void *)p;
    return NULL;
}

size_t strlen(const char *s)
{
    const char *p = s;

    while (*p)
        p++;
    return (size_t)(p - s);
}

size_t strnlen(const char *s, size_t maxlen)
{
    size_t n = 0;

    while (n < maxlen && s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    return strncmp(a, b, SIZE_MAX);
}

int strncmp(const char *a, const char *b, size_t n)
{
    /* C compares the characters as unsigned char. */
    for (; n > 0; n--, a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x != y)
            return x < y ? -1 : 1;
        if (x == 0)
            break;
    }
    return 0;
}

char *strchr(const char *s, int c)
{
    /* The terminating NUL counts as part of the string: strchr(s, 0) finds it. */
    for (;; s++) {
        if (*s == (char)c)
            return (char *)s;
        if (*s == 0)
            return NULL;
    }
}

char *strrchr(const char *s, int c)
{
    const char *last = NULL;

    for (;; s++) {
        if (*s == (char)c)
            last = s;
        if (*s == 0)
            return (char *)last;
    }
}

char *strcpy(char *restrict dst, const char *restrict src)
{
    char *d = dst;

    while ((*d++ = *src++) != 0)
        ;
    return dst;
}

char *strncpy(char *restrict dst, const char *restrict src, size_t n)
{
    size_t i = 0;

    for (; i < n && src[i]; i++)
        dst[i] = src[i];
    for (; i < n; i++) /* C pads the rest with NULs (and does not terminate if src is long) */
        dst[i] = 0;
    return dst;
}

char *strcat(char *restrict dst, const char *restrict src)
{
    strcpy(dst + strlen(dst), src);
    return dst;
}

char *strncat(char *restrict dst, const char *restrict src, size_t n)
{
    char *d = dst + strlen(dst);

    for (; n > 0 && *src; n--)
        *d++ = *src++;
    *d = 0;
    return dst;
}

char *strstr(const char *haystack, const char *needle)
{
    size_t n = strlen(needle);

    for (; *haystack; haystack++)
        if (strncmp(haystack, needle, n) == 0)
            return (char *)haystack;
    return n == 0 ? (char *)haystack : NULL;
}

size_t strspn(const char *s, const char *accept)
{
    size_t n = 0;

    while (s[n] && strchr(accept, s[n]))
        n++;
    return n;
}

size_t strcspn(const char *s, const char *reject)
{
    size_t n = 0;

    while (s[n] && !strchr(reject, s[n]))
        n++;
    return n;
}

char *strtok_r(char *restrict s, const char *restrict delim, char **restrict saveptr)
{
    char *end;

    if (s == NULL)
        s = *saveptr;
    s += strspn(s, delim);
    if (*s == 0) {
        *saveptr = s;
        return NULL;
    }
    end = s + strcspn(s, delim);
    if (*end != 0)
        *end++ = 0;
    *saveptr = end;
    return s;
}

size_t strlcpy(char *restrict dst, const char *restrict src, size_t size)
{
    size_t len = strlen(src);

    if (size > 0) {
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(dst, src, n);
        dst[n] = 0;
    }
    return len;
}

size_t strlcat(char *restrict dst, const char *restrict src, size_t size)
{
    size_t used = strnlen(dst, size);

    /* dst not terminated within size: nothing can be appended (BSD semantics). */
    if (used == size)
        return size + strlen(src);
    return used + strlcpy(dst + used, src, size - used);
}
