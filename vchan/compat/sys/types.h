/*
 * Xen's <xen/io/libxenvchan.h> includes <sys/types.h>, which the guest's libc does not have
 * (the header needs nothing from it). vchan/build.mk puts this directory on the guest's
 * include path with -idirafter, i.e. after everything else, so it is only a fallback; host
 * builds never see it.
 */
#ifndef XENKIT_VCHAN_COMPAT_SYS_TYPES_H
#define XENKIT_VCHAN_COMPAT_SYS_TYPES_H
#include <stddef.h>
#include <stdint.h>
#endif
