/* printf.c: the formatting core vcbprintf, and vsnprintf/snprintf on top of it. What is
 * supported is described in lib/include/stdio.h. No floating point, no %n. */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Output goes through a buffer on vcbprintf's stack, so the callback sees a few large chunks
 * rather than one call per piece of the output. */
struct sink {
    void (*out)(void *ctx, const char *s, size_t n);
    void *ctx;
    size_t used;  /* bytes in buf */
    size_t total; /* bytes output so far, including those still in buf */
    char buf[XENKIT_PRINTF_CHUNK];
};

static void flush(struct sink *k)
{
    if (k->used > 0)
        k->out(k->ctx, k->buf, k->used);
    k->used = 0;
}

static void put(struct sink *k, const char *s, size_t n)
{
    k->total += n;
    while (n > 0) {
        size_t room = sizeof(k->buf) - k->used;
        size_t m = n < room ? n : room;
        memcpy(k->buf + k->used, s, m);
        k->used += m;
        s += m;
        n -= m;
        if (k->used == sizeof(k->buf))
            flush(k);
    }
}

static void fill(struct sink *k, char c, size_t n)
{
    k->total += n;
    while (n > 0) {
        size_t room = sizeof(k->buf) - k->used;
        size_t m = n < room ? n : room;
        memset(k->buf + k->used, c, m);
        k->used += m;
        n -= m;
        if (k->used == sizeof(k->buf))
            flush(k);
    }
}

enum length { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_Z, LEN_T, LEN_J };

/* One parsed conversion specification. */
struct spec {
    bool left, zero, plus, space, alt;
    size_t width;  /* 0 if none */
    int precision; /* -1 if none */
    enum length length;
};

/* A field of n bytes of s, padded with spaces to the width. */
static void put_field(struct sink *k, const struct spec *sp, const char *s, size_t n)
{
    size_t pad = sp->width > n ? sp->width - n : 0;

    if (!sp->left)
        fill(k, ' ', pad);
    put(k, s, n);
    if (sp->left)
        fill(k, ' ', pad);
}

/* An integer conversion: mag is the absolute value, negative its sign, base 8, 10 or 16;
 * is_signed says whether a sign is printed (and so whether the + and space flags apply). */
static void put_integer(struct sink *k, const struct spec *sp, unsigned long long mag,
                        bool negative, bool is_signed, unsigned base, bool upper)
{
    const char *digit_chars = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char digits[24]; /* 22 octal digits are the most a 64-bit value needs */
    char prefix[3]; /* sign and "0x" (%+p) */
    size_t ndigits = 0, nprefix = 0, zeros = 0, len, pad;
    char *d = digits + sizeof(digits);

    /* C: a precision of 0 with the value 0 prints no digits. */
    if (!(mag == 0 && sp->precision == 0)) {
        do {
            *--d = digit_chars[mag % base];
            mag /= base;
            ndigits++;
        } while (mag > 0);
    }
    if (is_signed && negative)
        prefix[nprefix++] = '-';
    else if (is_signed && sp->plus)
        prefix[nprefix++] = '+';
    else if (is_signed && sp->space)
        prefix[nprefix++] = ' ';
    if (sp->alt && base == 16 && ndigits > 0 && !(ndigits == 1 && *d == '0')) {
        prefix[nprefix++] = '0';
        prefix[nprefix++] = upper ? 'X' : 'x';
    }
    if (sp->precision >= 0 && (size_t)sp->precision > ndigits)
        zeros = (size_t)sp->precision - ndigits;
    /* C: '#' with o raises the precision just enough for the first digit to be a 0. */
    if (sp->alt && base == 8 && zeros == 0 && (ndigits == 0 || *d != '0'))
        zeros = 1;
    len = nprefix + zeros + ndigits;
    pad = sp->width > len ? sp->width - len : 0;
    /* The 0 flag pads with zeros between the sign/prefix and the digits, unless the field is
     * left-justified or a precision was given. */
    if (sp->zero && !sp->left && sp->precision < 0) {
        zeros += pad;
        pad = 0;
    }
    if (!sp->left)
        fill(k, ' ', pad);
    put(k, prefix, nprefix);
    fill(k, '0', zeros);
    put(k, d, ndigits);
    if (sp->left)
        fill(k, ' ', pad);
}

static unsigned long long magnitude(long long v)
{
    /* Negate in unsigned arithmetic: -LLONG_MIN would overflow. */
    return v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
}

/* Parses a decimal number, saturating at INT_MAX. */
static int parse_number(const char **p)
{
    int n = 0;

    for (; **p >= '0' && **p <= '9'; (*p)++) {
        int d = **p - '0';
        n = n > (INT_MAX - d) / 10 ? INT_MAX : n * 10 + d;
    }
    return n;
}

/* Parses flags, width, precision and length of the conversion after the '%' at *p, taking
 * '*' arguments from ap. Leaves *p at the conversion character. */
static void parse_spec(const char **p, struct spec *sp, va_list *ap)
{
    const char *s = *p;

    *sp = (struct spec){.precision = -1};
    for (;; s++) {
        if (*s == '-')
            sp->left = true;
        else if (*s == '0')
            sp->zero = true;
        else if (*s == '+')
            sp->plus = true;
        else if (*s == ' ')
            sp->space = true;
        else if (*s == '#')
            sp->alt = true;
        else
            break;
    }
    if (*s == '*') {
        int w = va_arg(*ap, int);
        s++;
        /* C: a negative width argument means the '-' flag and a positive width. */
        if (w < 0) {
            sp->left = true;
            sp->width = (size_t)0 - (size_t)(long long)w;
        } else {
            sp->width = (size_t)w;
        }
    } else {
        sp->width = (size_t)parse_number(&s);
    }
    if (*s == '.') {
        s++;
        if (*s == '*') {
            int prec = va_arg(*ap, int);
            s++;
            sp->precision = prec < 0 ? -1 : prec; /* negative: as if omitted */
        } else {
            sp->precision = parse_number(&s);
        }
    }
    switch (*s) {
    case 'h':
        sp->length = s[1] == 'h' ? LEN_HH : LEN_H;
        s += s[1] == 'h' ? 2 : 1;
        break;
    case 'l':
        sp->length = s[1] == 'l' ? LEN_LL : LEN_L;
        s += s[1] == 'l' ? 2 : 1;
        break;
    case 'z': sp->length = LEN_Z; s++; break;
    case 't': sp->length = LEN_T; s++; break;
    case 'j': sp->length = LEN_J; s++; break;
    default: break;
    }
    *p = s;
}

static long long signed_arg(enum length length, va_list *ap)
{
    switch (length) {
    case LEN_HH: return (signed char)va_arg(*ap, int);
    case LEN_H:  return (short)va_arg(*ap, int);
    case LEN_L:  return va_arg(*ap, long);
    case LEN_LL: return va_arg(*ap, long long);
    case LEN_Z:  return (long long)va_arg(*ap, size_t); /* the signed type of size_t */
    case LEN_T:  return va_arg(*ap, ptrdiff_t);
    case LEN_J:  return va_arg(*ap, intmax_t);
    default:     return va_arg(*ap, int);
    }
}

static unsigned long long unsigned_arg(enum length length, va_list *ap)
{
    switch (length) {
    case LEN_HH: return (unsigned char)va_arg(*ap, unsigned int);
    case LEN_H:  return (unsigned short)va_arg(*ap, unsigned int);
    case LEN_L:  return va_arg(*ap, unsigned long);
    case LEN_LL: return va_arg(*ap, unsigned long long);
    case LEN_Z:  return va_arg(*ap, size_t);
    case LEN_T:  return (unsigned long long)va_arg(*ap, ptrdiff_t);
    case LEN_J:  return va_arg(*ap, uintmax_t);
    default:     return va_arg(*ap, unsigned int);
    }
}

int vcbprintf(void (*out)(void *ctx, const char *s, size_t n), void *ctx, const char *fmt,
              va_list ap)
{
    struct sink k = {.out = out, .ctx = ctx};
    va_list args;
    const char *p = fmt;

    /* A copy we can pass by address: va_list may be an array type, so &ap of a parameter
     * would not have type va_list *. */
    va_copy(args, ap);
    while (*p) {
        const char *start = p;
        struct spec sp;

        if (*p != '%') {
            while (*p && *p != '%')
                p++;
            put(&k, start, (size_t)(p - start));
            continue;
        }
        p++;
        parse_spec(&p, &sp, &args);
        switch (*p) {
        case 'd':
        case 'i': {
            long long v = signed_arg(sp.length, &args);
            put_integer(&k, &sp, magnitude(v), v < 0, true, 10, false);
            break;
        }
        case 'u':
            put_integer(&k, &sp, unsigned_arg(sp.length, &args), false, false, 10, false);
            break;
        case 'o':
            put_integer(&k, &sp, unsigned_arg(sp.length, &args), false, false, 8, false);
            break;
        case 'x':
        case 'X':
            put_integer(&k, &sp, unsigned_arg(sp.length, &args), false, false, 16, *p == 'X');
            break;
        case 'p': {
            const void *ptr = va_arg(args, const void *);
            if (ptr == NULL) {
                put_field(&k, &sp, "(nil)", 5);
            } else {
                /* Like glibc: %#lx, honouring the + and space flags too. */
                sp.alt = true;
                put_integer(&k, &sp, (uintptr_t)ptr, false, true, 16, false);
            }
            break;
        }
        case 'c': {
            char c = (char)(unsigned char)va_arg(args, int);
            put_field(&k, &sp, &c, 1);
            break;
        }
        case 's': {
            const char *s = va_arg(args, const char *);
            if (s == NULL)
                s = "(null)";
            put_field(&k, &sp, s,
                      sp.precision >= 0 ? strnlen(s, (size_t)sp.precision) : strlen(s));
            break;
        }
        case '%':
            put(&k, "%", 1);
            break;
        case '\0':
            /* The format ends inside a conversion: print what there is. */
            put(&k, start, (size_t)(p - start));
            continue;
        default:
            /* Unsupported (floating point, %n, ...): print the specification literally. */
            put(&k, start, (size_t)(p + 1 - start));
            break;
        }
        p++;
    }
    va_end(args);
    flush(&k);
    return k.total > INT_MAX ? -1 : (int)k.total;
}

/* vsnprintf's sink: keeps what fits, leaving room for the NUL. */
struct bounded {
    char *buf;
    size_t size;
    size_t pos;
};

static void to_buffer(void *ctx, const char *s, size_t n)
{
    struct bounded *b = ctx;
    size_t room, m;

    if (b->size == 0)
        return;
    room = b->size - 1 - b->pos;
    m = n < room ? n : room;
    memcpy(b->buf + b->pos, s, m);
    b->pos += m;
}

int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt, va_list ap)
{
    struct bounded b = {.buf = buf, .size = size};
    int n = vcbprintf(to_buffer, &b, fmt, ap);

    if (size > 0)
        buf[b.pos] = 0;
    return n;
}

int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
