#define _GNU_SOURCE
#include <errno.h>
#include <sys/socket.h>
#include "CSystemShims.h"

int errata_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) { return accept4(fd, addr, len, flags); }
int errata_sock_nonblock_cloexec(void) { return SOCK_NONBLOCK | SOCK_CLOEXEC; }
int errata_sock_stream_nonblock(void) { return SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC; }
int errata_errno(void) { return errno; }
