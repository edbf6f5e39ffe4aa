/* stdlib.c: the small stdlib.h helpers (strto* live in strtol.c, abort in panic.c). */
#include <stdlib.h>

int atoi(const char *nptr)
{
    return (int)strtol(nptr, NULL, 10);
}

int abs(int j)
{
    return j < 0 ? -j : j;
}

long labs(long j)
{
    return j < 0 ? -j : j;
}
