/* errno.h: error numbers of the xenkit libc, with Linux's values (which are also Xen's
 * hypercall error numbers and what xenstore's error strings name). There is no `errno`
 * variable: kernel and library functions return -E<name> instead. Keep this list to names
 * something uses; add more as needed, always with Linux's value. */
#ifndef XENKIT_ERRNO_H
#define XENKIT_ERRNO_H

#define EPERM         1
#define ENOENT        2
#define EIO           5
#define E2BIG         7
#define EAGAIN       11
#define ENOMEM       12
#define EACCES       13
#define EFAULT       14
#define EBUSY        16
#define EEXIST       17
#define ENODEV       19
#define EISDIR       21
#define EINVAL       22
#define ENOSPC       28
#define EROFS        30
#define ERANGE       34
#define ENAMETOOLONG 36
#define ENOSYS       38
#define ENOTEMPTY    39
#define EPROTO       71
#define EBADMSG      74
#define EOVERFLOW    75
#define EMSGSIZE     90
#define ENOTSUP      95
#define ECONNRESET  104
#define EISCONN     106
#define ENOTCONN    107
#define ETIMEDOUT   110
#define ECANCELED   125

#endif
