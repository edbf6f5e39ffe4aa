/* strtol.c: strtol, strtoul, strtoll, strtoull (see lib/include/stdlib.h for the overflow
 * rules: we have no errno, the results clamp as in C). */
#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>

/* Value of digit character c in bases up to 36, or 36 if c is not a digit. */
static int digit_value(int c)
{
    if (isdigit(c))
        return c - '0';
    if (isalpha(c))
        return tolower(c) - 'a' + 10;
    return 36;
}

/* The common part: parses [space][sign][prefix]digits, returns the magnitude (saturated at
 * ULLONG_MAX, with *overflow set) and the sign in *negative; sets *endptr as C says. */
static unsigned long long parse(const char *nptr, char **endptr, int base, bool *negative,
                                bool *overflow)
{
    const char *s = nptr;
    unsigned long long value = 0;
    bool any = false;

    *negative = false;
    *overflow = false;
    if (base != 0 && (base < 2 || base > 36)) {
        if (endptr)
            *endptr = (char *)nptr;
        return 0;
    }
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '+' || *s == '-')
        *negative = *s++ == '-';
    /* A "0x" prefix only counts if a hex digit follows; otherwise "0" is the number and
     * *endptr points at the 'x'. */
    if ((base == 0 || base == 16) && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
        digit_value((unsigned char)s[2]) < 16) {
        s += 2;
        base = 16;
    } else if (base == 0) {
        base = s[0] == '0' ? 8 : 10;
    }
    for (;; s++) {
        int d = digit_value((unsigned char)*s);
        if (d >= base)
            break;
        any = true;
        if (value > (ULLONG_MAX - (unsigned)d) / (unsigned)base)
            *overflow = true;
        else
            value = value * (unsigned)base + (unsigned)d;
    }
    if (endptr)
        *endptr = (char *)(any ? s : nptr);
    return *overflow ? ULLONG_MAX : value;
}

/* Signed result in [-max - 1, max], clamped. Written without signed overflow. */
static long long to_signed(unsigned long long mag, bool negative, bool overflow,
                           long long max)
{
    if (negative) {
        if (overflow || mag > (unsigned long long)max + 1)
            return -max - 1;
        return mag == 0 ? 0 : -(long long)(mag - 1) - 1;
    }
    if (overflow || mag > (unsigned long long)max)
        return max;
    return (long long)mag;
}

/* Unsigned result: as in C, a '-' negates in the unsigned type; overflow gives max. */
static unsigned long long to_unsigned(unsigned long long mag, bool negative, bool overflow,
                                      unsigned long long max)
{
    if (overflow || mag > max)
        return max;
    return negative ? (max - mag + 1) & max : mag;
}

long strtol(const char *restrict nptr, char **restrict endptr, int base)
{
    bool neg, ovf;
    unsigned long long mag = parse(nptr, endptr, base, &neg, &ovf);
    return (long)to_signed(mag, neg, ovf, LONG_MAX);
}

long long strtoll(const char *restrict nptr, char **restrict endptr, int base)
{
    bool neg, ovf;
    unsigned long long mag = parse(nptr, endptr, base, &neg, &ovf);
    return to_signed(mag, neg, ovf, LLONG_MAX);
}

unsigned long strtoul(const char *restrict nptr, char **restrict endptr, int base)
{
    bool neg, ovf;
    unsigned long long mag = parse(nptr, endptr, base, &neg, &ovf);
    return (unsigned long)to_unsigned(mag, neg, ovf, ULONG_MAX);
}

unsigned long long strtoull(const char *restrict nptr, char **restrict endptr, int base)
{
    bool neg, ovf;
    unsigned long long mag = parse(nptr, endptr, base, &neg, &ovf);
    return to_unsigned(mag, neg, ovf, ULLONG_MAX);
}
