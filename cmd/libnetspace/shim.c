// The C half of libnetspace: the ns_* entry points, each a call into Go
// (the nsgo_* exports) that sets errno on this thread once Go has
// returned, and packetdrill's function table over them.

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "netspace.h"
#include "_cgo_export.h"

// ret sets errno from e when r reports a failure, and returns r.
#define RET(r, e)                   \
	do {                            \
		if ((r) < 0)                \
			errno = (e);            \
		return (r);                 \
	} while (0)

int ns_init(const char *flags, char *errbuf, size_t errlen)
{
	int e = 0;
	int r = nsgo_init((char *)flags, errbuf, errlen, &e);
	RET(r, e);
}

void ns_exit(void) { nsgo_exit(); }

int ns_socket(int domain, int type, int protocol)
{
	int e = 0;
	int r = nsgo_socket(domain, type, protocol, &e);
	RET(r, e);
}

int ns_bind(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	int e = 0;
	int r = nsgo_bind(fd, (void *)addr, addrlen, &e);
	RET(r, e);
}

int ns_listen(int fd, int backlog)
{
	int e = 0;
	int r = nsgo_listen(fd, backlog, &e);
	RET(r, e);
}

int ns_accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	int e = 0;
	int r = nsgo_accept(fd, addr, addrlen, flags, &e);
	RET(r, e);
}

int ns_accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	return ns_accept4(fd, addr, addrlen, 0);
}

int ns_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	int e = 0;
	int r = nsgo_connect(fd, (void *)addr, addrlen, &e);
	RET(r, e);
}

ssize_t ns_recvfrom(int fd, void *buf, size_t len, int flags,
		    struct sockaddr *src_addr, socklen_t *addrlen)
{
	struct iovec iov = {buf, len};
	int e = 0;
	ssize_t r = nsgo_recv(fd, &iov, 1, flags, src_addr, addrlen, &e);
	RET(r, e);
}

ssize_t ns_recv(int fd, void *buf, size_t len, int flags)
{
	return ns_recvfrom(fd, buf, len, flags, NULL, NULL);
}

ssize_t ns_read(int fd, void *buf, size_t count)
{
	return ns_recvfrom(fd, buf, count, 0, NULL, NULL);
}

ssize_t ns_readv(int fd, const struct iovec *iov, int iovcnt)
{
	int e = 0;
	ssize_t r = nsgo_recv(fd, (void *)iov, iovcnt, 0, NULL, NULL, &e);
	RET(r, e);
}

ssize_t ns_recvmsg(int fd, struct msghdr *msg, int flags)
{
	int e = 0;
	ssize_t r;
	if (msg == NULL) {
		errno = EFAULT;
		return -1;
	}
	if (msg->msg_iovlen > 1024) {
		errno = EMSGSIZE;
		return -1;
	}
	r = nsgo_recv(fd, msg->msg_iov, (int)msg->msg_iovlen, flags,
		      msg->msg_name, msg->msg_name ? &msg->msg_namelen : NULL, &e);
	if (r >= 0) {
		msg->msg_controllen = 0;
		msg->msg_flags = 0;
	}
	RET(r, e);
}

ssize_t ns_sendto(int fd, const void *buf, size_t len, int flags,
		  const struct sockaddr *dest_addr, socklen_t addrlen)
{
	struct iovec iov = {(void *)buf, len};
	int e = 0;
	ssize_t r = nsgo_send(fd, &iov, 1, flags, (void *)dest_addr, addrlen, &e);
	RET(r, e);
}

ssize_t ns_send(int fd, const void *buf, size_t len, int flags)
{
	return ns_sendto(fd, buf, len, flags, NULL, 0);
}

ssize_t ns_write(int fd, const void *buf, size_t count)
{
	return ns_sendto(fd, buf, count, 0, NULL, 0);
}

ssize_t ns_writev(int fd, const struct iovec *iov, int iovcnt)
{
	int e = 0;
	ssize_t r = nsgo_send(fd, (void *)iov, iovcnt, 0, NULL, 0, &e);
	RET(r, e);
}

ssize_t ns_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	int e = 0;
	ssize_t r;
	if (msg == NULL) {
		errno = EFAULT;
		return -1;
	}
	if (msg->msg_iovlen > 1024) {
		errno = EMSGSIZE;
		return -1;
	}
	r = nsgo_send(fd, msg->msg_iov, (int)msg->msg_iovlen, flags,
		      msg->msg_name, msg->msg_name ? msg->msg_namelen : 0, &e);
	RET(r, e);
}

int ns_close(int fd)
{
	int e = 0;
	int r = nsgo_close(fd, &e);
	RET(r, e);
}

int ns_shutdown(int fd, int how)
{
	int e = 0;
	int r = nsgo_shutdown(fd, how, &e);
	RET(r, e);
}

int ns_getsockopt(int fd, int level, int optname, void *optval,
		  socklen_t *optlen)
{
	int e = 0;
	int r = nsgo_getsockopt(fd, level, optname, optval, optlen, &e);
	RET(r, e);
}

int ns_setsockopt(int fd, int level, int optname, const void *optval,
		  socklen_t optlen)
{
	int e = 0;
	int r = nsgo_setsockopt(fd, level, optname, (void *)optval, optlen, &e);
	RET(r, e);
}

int ns_getsockname(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	int e = 0;
	int r = nsgo_sockname(fd, addr, addrlen, 0, &e);
	RET(r, e);
}

int ns_getpeername(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	int e = 0;
	int r = nsgo_sockname(fd, addr, addrlen, 1, &e);
	RET(r, e);
}

int ns_poll(struct pollfd *fds, nfds_t nfds, int timeout_ms)
{
	int e = 0;
	int r = nsgo_poll(fds, nfds, timeout_ms, &e);
	RET(r, e);
}

static int fcntl3(int fd, int cmd, long arg)
{
	int e = 0;
	int r = nsgo_fcntl(fd, cmd, arg, &e);
	RET(r, e);
}

int ns_fcntl(int fd, int cmd, ...)
{
	va_list ap;
	long arg;
	// Every command we take has an int argument or none; reading one
	// that was not passed reads a register, as libc's fcntl does.
	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	return fcntl3(fd, cmd, arg);
}

static int ioctl3(int fd, unsigned long request, void *arg)
{
	int e = 0;
	int r = nsgo_ioctl(fd, request, arg, &e);
	RET(r, e);
}

int ns_ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;
	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	return ioctl3(fd, request, arg);
}

int ns_inject(const void *packet, size_t len)
{
	int e = 0;
	int r = nsgo_inject((void *)packet, len, &e);
	RET(r, e);
}

int ns_receive(void *buf, size_t *len, long long *emit_time_us, int timeout_ms)
{
	int e = 0;
	int r = nsgo_receive(buf, len, emit_time_us, timeout_ms, &e);
	RET(r, e);
}

int ns_usleep(useconds_t usec)
{
	int e = 0;
	int r = nsgo_usleep(usec, &e);
	RET(r, e);
}

int ns_gettimeofday(struct timeval *tv, void *tz)
{
	int e = 0;
	long long sec = 0, usec = 0;
	int r;
	(void)tz;
	if (tv == NULL) {
		errno = EFAULT;
		return -1;
	}
	r = nsgo_gettimeofday(&sec, &usec, &e);
	if (r == 0) {
		tv->tv_sec = (time_t)sec;
		tv->tv_usec = (suseconds_t)usec;
	}
	RET(r, e);
}

// packetdrill's table: the same calls, with its userdata first.

static void pd_free(void *u) { (void)u; ns_exit(); }
static int pd_socket(void *u, int d, int t, int p) { (void)u; return ns_socket(d, t, p); }
static int pd_bind(void *u, int fd, const struct sockaddr *a, socklen_t n) { (void)u; return ns_bind(fd, a, n); }
static int pd_listen(void *u, int fd, int b) { (void)u; return ns_listen(fd, b); }
static int pd_accept(void *u, int fd, struct sockaddr *a, socklen_t *n) { (void)u; return ns_accept(fd, a, n); }
static int pd_connect(void *u, int fd, const struct sockaddr *a, socklen_t n) { (void)u; return ns_connect(fd, a, n); }
static ssize_t pd_read(void *u, int fd, void *b, size_t n) { (void)u; return ns_read(fd, b, n); }
static ssize_t pd_readv(void *u, int fd, const struct iovec *v, int n) { (void)u; return ns_readv(fd, v, n); }
static ssize_t pd_recv(void *u, int fd, void *b, size_t n, int f) { (void)u; return ns_recv(fd, b, n, f); }
static ssize_t pd_recvfrom(void *u, int fd, void *b, size_t n, int f, struct sockaddr *a, socklen_t *al)
{
	(void)u;
	return ns_recvfrom(fd, b, n, f, a, al);
}
static ssize_t pd_recvmsg(void *u, int fd, struct msghdr *m, int f) { (void)u; return ns_recvmsg(fd, m, f); }
static ssize_t pd_write(void *u, int fd, const void *b, size_t n) { (void)u; return ns_write(fd, b, n); }
static ssize_t pd_writev(void *u, int fd, const struct iovec *v, int n) { (void)u; return ns_writev(fd, v, n); }
static ssize_t pd_send(void *u, int fd, const void *b, size_t n, int f) { (void)u; return ns_send(fd, b, n, f); }
static ssize_t pd_sendto(void *u, int fd, const void *b, size_t n, int f, const struct sockaddr *a, socklen_t al)
{
	(void)u;
	return ns_sendto(fd, b, n, f, a, al);
}
static ssize_t pd_sendmsg(void *u, int fd, const struct msghdr *m, int f) { (void)u; return ns_sendmsg(fd, m, f); }
static int pd_fcntl(void *u, int fd, int cmd, ...)
{
	va_list ap;
	long arg;
	(void)u;
	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	return fcntl3(fd, cmd, arg);
}
static int pd_ioctl(void *u, int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;
	(void)u;
	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	return ioctl3(fd, request, arg);
}
static int pd_close(void *u, int fd) { (void)u; return ns_close(fd); }
static int pd_shutdown(void *u, int fd, int how) { (void)u; return ns_shutdown(fd, how); }
static int pd_getsockopt(void *u, int fd, int l, int o, void *v, socklen_t *n) { (void)u; return ns_getsockopt(fd, l, o, v, n); }
static int pd_setsockopt(void *u, int fd, int l, int o, const void *v, socklen_t n) { (void)u; return ns_setsockopt(fd, l, o, v, n); }
static int pd_poll(void *u, struct pollfd *f, nfds_t n, int t) { (void)u; return ns_poll(f, n, t); }
static int pd_netdev_send(void *u, const void *b, size_t n) { (void)u; return ns_inject(b, n); }
static int pd_netdev_receive(void *u, void *b, size_t *n, long long *t) { (void)u; return ns_receive(b, n, t, -1); }
static int pd_usleep(void *u, useconds_t us) { (void)u; return ns_usleep(us); }
static int pd_gettimeofday(void *u, struct timeval *tv, void *tz) { (void)u; return ns_gettimeofday(tv, tz); }

static int unsupported(void)
{
	errno = ENOTSUP;
	return -1;
}
static int pd_epoll_create(void *u, int n) { (void)u; (void)n; return unsupported(); }
static int pd_epoll_ctl(void *u, int ep, int op, int fd, struct epoll_event *ev)
{
	(void)u; (void)ep; (void)op; (void)fd; (void)ev;
	return unsupported();
}
static int pd_epoll_wait(void *u, int ep, struct epoll_event *ev, int n, int t)
{
	(void)u; (void)ep; (void)ev; (void)n; (void)t;
	return unsupported();
}
static int pd_pipe(void *u, int fds[2]) { (void)u; (void)fds; return unsupported(); }
static int pd_splice(void *u, int fi, long long *oi, int fo, long long *oo, size_t n, unsigned int f)
{
	(void)u; (void)fi; (void)oi; (void)fo; (void)oo; (void)n; (void)f;
	return unsupported();
}

void packetdrill_interface_init(const char *flags, struct packetdrill_interface *iface)
{
	char msg[512];
	if (ns_init(flags ? flags : "", msg, sizeof msg) < 0)
		fprintf(stderr, "libnetspace: %s\n", msg);
	if (iface == NULL)
		return;
	memset(iface, 0, sizeof *iface);
	iface->userdata = NULL;
	iface->free = pd_free;
	iface->socket = pd_socket;
	iface->bind = pd_bind;
	iface->listen = pd_listen;
	iface->accept = pd_accept;
	iface->connect = pd_connect;
	iface->read = pd_read;
	iface->readv = pd_readv;
	iface->recv = pd_recv;
	iface->recvfrom = pd_recvfrom;
	iface->recvmsg = pd_recvmsg;
	iface->write = pd_write;
	iface->writev = pd_writev;
	iface->send = pd_send;
	iface->sendto = pd_sendto;
	iface->sendmsg = pd_sendmsg;
	iface->fcntl = pd_fcntl;
	iface->ioctl = pd_ioctl;
	iface->close = pd_close;
	iface->shutdown = pd_shutdown;
	iface->getsockopt = pd_getsockopt;
	iface->setsockopt = pd_setsockopt;
	iface->poll = pd_poll;
	iface->netdev_send = pd_netdev_send;
	iface->netdev_receive = pd_netdev_receive;
	iface->usleep = pd_usleep;
	iface->gettimeofday = pd_gettimeofday;
	iface->epoll_create = pd_epoll_create;
	iface->epoll_ctl = pd_epoll_ctl;
	iface->epoll_wait = pd_epoll_wait;
	iface->pipe = pd_pipe;
	iface->splice = pd_splice;
}
