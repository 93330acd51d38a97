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

/* epoll without struct epoll_event, which glibc packs on x86_64 (Swift's layout of it is not
   to be trusted). Tokens are the 64-bit epoll_data the caller chooses. */
int errata_epoll_create(void);
/* op: 1 add, 2 del, 3 mod (EPOLL_CTL_*). Returns 0 or -1 with errno set. */
int errata_epoll_ctl(int epfd, int op, int fd, unsigned int events, unsigned long long token);
/* Waits up to timeout_ms (0: poll) for at most max events; fills tokens[i] and events[i].
   Returns the count, or -1 with errno set (EINTR is retried inside). */
int errata_epoll_wait(int epfd, unsigned long long *tokens, unsigned int *events, int max, int timeout_ms);
static const unsigned int errata_epollin = 0x001;
static const unsigned int errata_epollout = 0x004;
static const unsigned int errata_epollerr = 0x008;
static const unsigned int errata_epollhup = 0x010;
#endif
