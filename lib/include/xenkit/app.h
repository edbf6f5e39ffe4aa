/*
 * The application's entry point. The kernel calls it once the console is up, with the
 * domain's command line (from the xl config's `cmdline=`; "" if none). When it returns the
 * domain powers off; a non-zero status is printed first. panic() and faults crash the domain.
 */
#ifndef XENKIT_APP_H
#define XENKIT_APP_H

int app_main(const char *cmdline);

#endif
