/*
 * A guest that fails on purpose, to prove faults are reported and crash the domain:
 * cmdline `fault=pf` (NULL dereference), `de` (divide by zero), `ud` (invalid opcode),
 * `stack` (unbounded recursion into the guard page: double fault on the IST stack),
 * `panic` (panic()), `assert` (a failed assert()).
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <xenkit/app.h>
#include <xenkit/panic.h>

static volatile int zero;

static int recurse(volatile char *prev)
{
    volatile char frame[512];
    frame[0] = prev ? prev[0] + 1 : 0;
    if (zero == 0) /* always true; keeps gcc from calling the recursion infinite */
        return recurse(frame) + frame[1];
    return frame[0];
}

int app_main(const char *cmdline)
{
    const char *mode = strstr(cmdline, "fault=");
    mode = mode ? mode + 6 : "";
    printf("fault: mode %s\n", mode);

    if (strncmp(mode, "pf", 2) == 0)
        return *(volatile int *)(uintptr_t)zero;
    if (strncmp(mode, "de", 2) == 0)
        return 42 / zero;
    if (strncmp(mode, "ud", 2) == 0)
        __asm__ volatile("ud2");
    if (strncmp(mode, "stack", 5) == 0)
        return recurse(NULL);
    if (strncmp(mode, "panic", 5) == 0)
        panic("requested panic (%s)", "fault=panic");
    if (strncmp(mode, "assert", 6) == 0)
        assert(zero == 1);
    printf("fault: unknown mode, nothing happened\n");
    return 1;
}
