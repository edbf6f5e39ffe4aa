/*
 * Console stress: 1024 lines of 80 bytes (80 KiB, forty times the 2 KiB ring) in one go.
 * Line N is "bigout NNNN " plus 72 characters chr(33 + (N + i) % 94), so the e2e scenario can
 * check every byte arrived, complete and in order.
 */
#include <stdio.h>
#include <xenkit/app.h>

int app_main(const char *cmdline)
{
    (void)cmdline;
    char pattern[73];

    for (int n = 0; n < 1024; n++) {
        for (int i = 0; i < 72; i++)
            pattern[i] = (char)(33 + (n + i) % 94);
        pattern[72] = '\0';
        printf("bigout %04d %s\n", n, pattern);
    }
    printf("bigout done\n");
    return 0;
}
