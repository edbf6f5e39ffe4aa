/* fake_kernel.c: see fake_kernel.h. Ordinary host code (glibc, not our libc). */
#include "tests/unit/fake_kernel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/kernel_hooks.h"

char fake_console[FAKE_CONSOLE_SIZE + 1];
size_t fake_console_len;
unsigned fake_console_calls;
size_t fake_console_max_chunk;
unsigned fake_crash_calls;
unsigned fake_fatal_calls;
jmp_buf *fake_crash_jmp;
void (*fake_console_tap)(void);

void fake_kernel_reset(void)
{
    fake_console_len = 0;
    fake_console[0] = 0;
    fake_console_calls = 0;
    fake_console_max_chunk = 0;
    fake_crash_calls = 0;
    fake_fatal_calls = 0;
    fake_crash_jmp = NULL;
    fake_console_tap = NULL;
    xenkit_panic_depth = 0;
}

void kernel_console_write(const char *s, size_t n)
{
    size_t room = FAKE_CONSOLE_SIZE - fake_console_len;

    fake_console_calls++;
    if (n > fake_console_max_chunk)
        fake_console_max_chunk = n;
    memcpy(fake_console + fake_console_len, s, n < room ? n : room);
    fake_console_len += n < room ? n : room;
    fake_console[fake_console_len] = 0;
    if (fake_console_tap)
        fake_console_tap();
}

void kernel_fatal_begin(void)
{
    fake_fatal_calls++;
}

_Noreturn void kernel_crash(void)
{
    fake_crash_calls++;
    if (fake_crash_jmp)
        longjmp(*fake_crash_jmp, 1);
    fprintf(stderr, "kernel_crash() called outside a test expecting it; console:\n%s\n",
            fake_console);
    abort();
}
