/*
 * netspace.h - the C API of libnetspace, the netspace userspace TCP/IP
 * stack as a shared library.
 *
 * Every ns_* call behaves like the system call of the same name on a
 * Linux socket (the same arguments, return values and errno values) and
 * sets errno when it fails. Socket descriptors are real descriptors
 * (eventfds): close(2) and poll(2) accept them, and they read as readable
 * while the socket is. Close sockets with ns_close, which is what ends
 * the connection. Blocking calls sleep until the socket changes, and any
 * number of threads may call at once.
 *
 * Start the stack with ns_init. Its flags are comma-separated key=value
 * pairs:
 *
 *   tap=NAME            attach to the TAP device NAME (else: the
 *                       IP-injection link, ns_inject/ns_receive)
 *   local=IP[/BITS]     the stack's address [192.168.0.1/24]
 *   gateway=IP          the default route's next hop
 *   mtu=N               the injection link's MTU [1500]
 *   profile=NAME        linux or freebsd: option layout, windows, RTOs,
 *                       delayed-ACK time, buffer sizes [linux]
 *   clock=warp|real     warp: a test clock that moves only in ns_usleep,
 *                       ns_gettimeofday (1 us a reading) and ns_receive
 *                       (to the stack's next timer); real: the wall
 *                       clock [real]
 *   sack=0|1 ts=0|1 ws=0|1 noopt   TCP options [all on]
 *   rxtimeout=MS        how long ns_receive waits by default [10000;
 *                       with clock=warp, 3 hours of test-clock time]
 *   drain=MS            how long ns_exit waits for closed connections to
 *                       deliver what was written to them [10000; 0 with
 *                       clock=warp]
 *   seed=N              randomness seed
 *
 * The library is also a packetdrill shared object: packetdrill
 * --so_filename=libnetspace.so --so_flags='local=192.168.0.1' SCRIPT
 * calls packetdrill_interface_init, which starts a fresh stack (it resets
 * everything on each call) and fills in struct packetdrill_interface.
 */
#ifndef NETSPACE_H
#define NETSPACE_H

#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Starting and stopping the stack. */

/* ns_init starts a stack as flags say, replacing (and stopping) any
 * running one. It returns 0, or -1 with errno set (EINVAL for bad flags)
 * and, if errbuf is not NULL, a message in errbuf (NUL-terminated,
 * truncated to errlen). */
int ns_init(const char *flags, char *errbuf, size_t errlen);
/* ns_exit closes every socket and stops the stack. The stack runs in
 * this process: connections closed with ns_close send what was queued on
 * them in the background, and ns_exit first waits (up to drain=MS) for
 * them to finish, so a program's last reply is not lost with it. */
void ns_exit(void);

/* The socket calls. Calls made before ns_init fail with ENETDOWN. */
int ns_socket(int domain, int type, int protocol);
int ns_bind(int fd, const struct sockaddr *addr, socklen_t addrlen);
int ns_listen(int fd, int backlog);
int ns_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);
int ns_accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);
int ns_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);
ssize_t ns_read(int fd, void *buf, size_t count);
ssize_t ns_readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t ns_recv(int fd, void *buf, size_t len, int flags);
ssize_t ns_recvfrom(int fd, void *buf, size_t len, int flags,
		    struct sockaddr *src_addr, socklen_t *addrlen);
ssize_t ns_recvmsg(int fd, struct msghdr *msg, int flags);
ssize_t ns_write(int fd, const void *buf, size_t count);
ssize_t ns_writev(int fd, const struct iovec *iov, int iovcnt);
ssize_t ns_send(int fd, const void *buf, size_t len, int flags);
ssize_t ns_sendto(int fd, const void *buf, size_t len, int flags,
		  const struct sockaddr *dest_addr, socklen_t addrlen);
ssize_t ns_sendmsg(int fd, const struct msghdr *msg, int flags);
int ns_close(int fd);
int ns_shutdown(int fd, int how);
int ns_getsockopt(int fd, int level, int optname, void *optval,
		  socklen_t *optlen);
int ns_setsockopt(int fd, int level, int optname, const void *optval,
		  socklen_t optlen);
int ns_getsockname(int fd, struct sockaddr *addr, socklen_t *addrlen);
int ns_getpeername(int fd, struct sockaddr *addr, socklen_t *addrlen);
/* Descriptors that are not netspace sockets are polled too. */
int ns_poll(struct pollfd *fds, nfds_t nfds, int timeout_ms);
/* F_GETFL, F_SETFL (O_NONBLOCK), F_GETFD, F_SETFD. */
int ns_fcntl(int fd, int cmd, ...);
/* FIONREAD, FIONBIO (an int *). */
int ns_ioctl(int fd, unsigned long request, ...);

/* The IP-injection link (flags without tap=) and the clock. */

/* ns_inject hands a whole IPv4 packet to the stack: 0, or -1 (EINVAL:
 * not IPv4 or longer than the MTU). With clock=warp everything the
 * packet causes has happened when it returns. */
int ns_inject(const void *packet, size_t len);
/* ns_receive copies the next IPv4 packet the stack sent into buf (at
 * most *len bytes), sets *len to its length and *emit_time_us to when
 * it was sent (microseconds since the epoch, by the stack's clock), and
 * returns 0. It waits up to timeout_ms (< 0: rxtimeout) and sets *len to
 * 0 if nothing came. With clock=warp, waiting moves the clock from timer
 * to timer until the stack sends something. */
int ns_receive(void *buf, size_t *len, long long *emit_time_us,
	       int timeout_ms);
/* ns_usleep lets usec microseconds pass (warp: moves the clock, running
 * the timers due). */
int ns_usleep(useconds_t usec);
/* ns_gettimeofday reads the stack's clock (tz is ignored). */
int ns_gettimeofday(struct timeval *tv, void *tz);

/* packetdrill's shared-object interface. Every function takes the
 * userdata pointer first; calls the stack does not support (recvmsg and
 * sendmsg excepted, which are supported, and ioctl beyond FIONREAD and
 * FIONBIO) return -1 with errno ENOTSUP. */
struct epoll_event;
struct packetdrill_interface {
	void *userdata;
	void (*free)(void *userdata);
	int (*socket)(void *userdata, int domain, int type, int protocol);
	int (*bind)(void *userdata, int fd, const struct sockaddr *addr,
		    socklen_t addrlen);
	int (*listen)(void *userdata, int fd, int backlog);
	int (*accept)(void *userdata, int fd, struct sockaddr *addr,
		      socklen_t *addrlen);
	int (*connect)(void *userdata, int fd, const struct sockaddr *addr,
		       socklen_t addrlen);
	ssize_t (*read)(void *userdata, int fd, void *buf, size_t count);
	ssize_t (*readv)(void *userdata, int fd, const struct iovec *iov,
			 int iovcnt);
	ssize_t (*recv)(void *userdata, int fd, void *buf, size_t len,
			int flags);
	ssize_t (*recvfrom)(void *userdata, int fd, void *buf, size_t len,
			    int flags, struct sockaddr *src_addr,
			    socklen_t *addrlen);
	ssize_t (*recvmsg)(void *userdata, int fd, struct msghdr *msg,
			   int flags);
	ssize_t (*write)(void *userdata, int fd, const void *buf,
			 size_t count);
	ssize_t (*writev)(void *userdata, int fd, const struct iovec *iov,
			  int iovcnt);
	ssize_t (*send)(void *userdata, int fd, const void *buf, size_t len,
			int flags);
	ssize_t (*sendto)(void *userdata, int fd, const void *buf, size_t len,
			  int flags, const struct sockaddr *dest_addr,
			  socklen_t addrlen);
	ssize_t (*sendmsg)(void *userdata, int fd, const struct msghdr *msg,
			   int flags);
	int (*fcntl)(void *userdata, int fd, int cmd, ...);
	int (*ioctl)(void *userdata, int fd, unsigned long request, ...);
	int (*close)(void *userdata, int fd);
	int (*shutdown)(void *userdata, int fd, int how);
	int (*getsockopt)(void *userdata, int fd, int level, int optname,
			  void *optval, socklen_t *optlen);
	int (*setsockopt)(void *userdata, int fd, int level, int optname,
			  const void *optval, socklen_t optlen);
	int (*poll)(void *userdata, struct pollfd *fds, nfds_t nfds,
		    int timeout_ms);
	/* Inject the IPv4 packet buf[0:count]: 0, or -1. */
	int (*netdev_send)(void *userdata, const void *buf, size_t count);
	/* The next packet the stack sent: *count in, buffer size; out, the
	 * packet's length (0 if none came in time); *time_usecs its emission
	 * time. 0, or -1. */
	int (*netdev_receive)(void *userdata, void *buf, size_t *count,
			      long long *time_usecs);
	int (*usleep)(void *userdata, useconds_t usec);
	int (*gettimeofday)(void *userdata, struct timeval *tv, void *tz);
	int (*epoll_create)(void *userdata, int size);
	int (*epoll_ctl)(void *userdata, int epfd, int op, int fd,
			 struct epoll_event *event);
	int (*epoll_wait)(void *userdata, int epfd, struct epoll_event *events,
			  int maxevents, int timeout_ms);
	int (*pipe)(void *userdata, int pipefd[2]);
	int (*splice)(void *userdata, int fd_in, long long *off_in, int fd_out,
		      long long *off_out, size_t len, unsigned int flags);
};

/* packetdrill_interface_init stops any running stack, starts one as
 * flags say (on failure it prints why to stderr, and every call then
 * fails with ENETDOWN) and fills in *iface. */
void packetdrill_interface_init(const char *flags,
				struct packetdrill_interface *iface);

#ifdef __cplusplus
}
#endif

#endif /* NETSPACE_H */
