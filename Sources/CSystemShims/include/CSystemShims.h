#ifndef ERRATA_CSYSTEMSHIMS_H
#define ERRATA_CSYSTEMSHIMS_H
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>

/* accept4 is hidden from Swift without _GNU_SOURCE. Returns the fd or -1 with errno set. */
int errata_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int errata_sock_nonblock_cloexec(void);
/* The sock types with SOCK_NONBLOCK|SOCK_CLOEXEC or'ed in (macros in glibc's headers). */
int errata_sock_stream_nonblock(void);
int errata_errno(void);
#endif
