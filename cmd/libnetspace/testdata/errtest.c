// errtest: the C API's answers to bad input — errno values, never a
// crash — and its descriptors' reality, linked with -lnetspace and run on
// the IP-injection link (no privileges needed).
//
// usage: errtest
// Exit status 0 when every check passes; the first failure is printed.

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "netspace.h"

#define EXPECT_ERR(call, e)                                                          \
	do {                                                                         \
		errno = 0;                                                           \
		long r_ = (long)(call);                                              \
		if (r_ != -1 || errno != (e)) {                                      \
			fprintf(stderr, "errtest.c:%d: %s = %ld, errno %d (%s); want -1, %s\n", \
				__LINE__, #call, r_, errno, strerror(errno), #e);    \
			exit(1);                                                     \
		}                                                                    \
	} while (0)

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "errtest.c:%d: %s: %s\n", __LINE__, #cond, strerror(errno)); \
			exit(1);                                             \
		}                                                            \
	} while (0)

int main(void)
{
	char msg[256], buf[64];
	// Before ns_init, and with bad flags, calls fail with ENETDOWN.
	EXPECT_ERR(ns_socket(AF_INET, SOCK_STREAM, 0), ENETDOWN);
	EXPECT_ERR(ns_init("mtu=12", msg, sizeof msg), EINVAL);
	CHECK(strstr(msg, "mtu") != NULL);
	EXPECT_ERR(ns_init("nonsense", NULL, 0), EINVAL);
	CHECK(ns_init("local=192.0.2.2/24,gateway=192.0.2.1,clock=warp", msg, sizeof msg) == 0);

	EXPECT_ERR(ns_socket(AF_INET6, SOCK_STREAM, 0), EAFNOSUPPORT);
	EXPECT_ERR(ns_socket(AF_INET, SOCK_RAW, 0), ESOCKTNOSUPPORT);
	int fd = ns_socket(AF_INET, SOCK_STREAM, 0);
	CHECK(fd >= 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons(80);
	EXPECT_ERR(ns_bind(fd, NULL, sizeof a), EFAULT);
	EXPECT_ERR(ns_bind(fd, (struct sockaddr *)&a, 8), EINVAL);
	a.sin_family = AF_INET6;
	EXPECT_ERR(ns_bind(fd, (struct sockaddr *)&a, sizeof a), EAFNOSUPPORT);
	a.sin_family = AF_INET;
	inet_pton(AF_INET, "198.18.0.1", &a.sin_addr);
	EXPECT_ERR(ns_bind(fd, (struct sockaddr *)&a, sizeof a), EADDRNOTAVAIL);
	a.sin_addr.s_addr = INADDR_ANY;
	CHECK(ns_bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
	struct sockaddr_in me;
	socklen_t ml = 4; // too short: truncated, and told the real length
	memset(&me, 0xaa, sizeof me);
	CHECK(ns_getsockname(fd, (struct sockaddr *)&me, &ml) == 0 && ml == sizeof me && me.sin_family == AF_INET);
	EXPECT_ERR(ns_getsockname(fd, NULL, &ml), EFAULT);
	EXPECT_ERR(ns_getpeername(fd, (struct sockaddr *)&me, &ml), ENOTCONN);

	EXPECT_ERR(ns_read(fd, buf, sizeof buf), ENOTCONN);
	EXPECT_ERR(ns_write(fd, buf, sizeof buf), EPIPE);
	EXPECT_ERR(ns_read(fd, NULL, 10), EFAULT);
	struct iovec iov = {buf, sizeof buf};
	EXPECT_ERR(ns_readv(fd, &iov, -1), EINVAL);
	EXPECT_ERR(ns_readv(fd, &iov, 5000), EINVAL);
	EXPECT_ERR(ns_recvmsg(fd, NULL, 0), EFAULT);
	EXPECT_ERR(ns_recv(fd, buf, sizeof buf, MSG_OOB), EINVAL);
	EXPECT_ERR(ns_shutdown(fd, 9), EINVAL);
	EXPECT_ERR(ns_getsockopt(fd, SOL_SOCKET, SO_ERROR, NULL, NULL), EFAULT);
	int v = 1;
	EXPECT_ERR(ns_setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, 2), EINVAL);
	EXPECT_ERR(ns_setsockopt(fd, SOL_SOCKET, 9999, &v, sizeof v), ENOPROTOOPT);
	EXPECT_ERR(ns_setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &v, sizeof v), EINVAL);
	EXPECT_ERR(ns_fcntl(fd, F_DUPFD, 0), EINVAL);
	EXPECT_ERR(ns_ioctl(fd, FIONREAD, NULL), EFAULT);
	EXPECT_ERR(ns_ioctl(fd, TIOCGWINSZ, &v), ENOTTY);
	EXPECT_ERR(ns_poll(NULL, 1, 0), EFAULT);
	EXPECT_ERR(ns_inject("\x60", 1), EINVAL);
	EXPECT_ERR(ns_inject(NULL, 20), EINVAL);
	size_t n = sizeof buf;
	EXPECT_ERR(ns_receive(NULL, &n, NULL, 0), EFAULT);
	EXPECT_ERR(ns_gettimeofday(NULL, NULL), EFAULT);
	EXPECT_ERR(ns_listen(0, 1), ENOTSOCK); // stdin: a descriptor, not a socket
	EXPECT_ERR(ns_close(-1), EBADF);

	// The descriptor is real: the kernel knows it, poll(2) takes it.
	CHECK(fcntl(fd, F_GETFD) >= 0);
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	CHECK(ns_poll(&p, 1, 0) == 1 && p.revents == (POLLOUT | POLLHUP));
	CHECK(ns_close(fd) == 0);
	EXPECT_ERR(ns_close(fd), EBADF);
	ns_exit();
	EXPECT_ERR(ns_socket(AF_INET, SOCK_STREAM, 0), ENETDOWN);
	printf("errtest: all checks passed\n");
	return 0;
}
