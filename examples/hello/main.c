/* The smallest xenkit application: greet, show the command line the domain was given, and
 * return (the kernel then powers the domain off). */
#include <stdio.h>
#include <xenkit/app.h>

int app_main(const char *cmdline)
{
    printf("Hello from xenkit!\n");
    printf("cmdline: %s\n", cmdline);
    return 0;
}
