/* xk_libc.h: how a test program sees our libc. Include it AFTER every system header (cmocka
 * needs glibc's): from here on memcpy means xk_memcpy, and so on, and the declarations come
 * from lib/include, included by explicit path because <string.h> is glibc's in a host TU. */
#ifndef XENKIT_TEST_XK_LIBC_H
#define XENKIT_TEST_XK_LIBC_H

#include "tests/unit/libc_rename.h"

#include "lib/include/ctype.h"
#include "lib/include/stdio.h"
#include "lib/include/stdlib.h"
#include "lib/include/string.h"
#include "lib/include/xenkit/panic.h"

#endif
