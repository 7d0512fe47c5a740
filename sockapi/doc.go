// Package sockapi gives a netspace stack the BSD socket API: socket,
// bind, listen, accept, connect, read and write (with their vector,
// flag and address variants), shutdown, close, getsockopt, setsockopt,
// poll, fcntl and ioctl, with Linux's errno values and semantics. It is
// the Go half of libnetspace (cmd/libnetspace), which exports it to C,
// and is tested in Go without cgo.
//
// # Layering
//
// A Lib owns one stack (package netspace) on a link — a TAP device, or
// the IP-injection link of package drivers for tests — and a table of
// sockets keyed by real file descriptors. It talks to the stack only
// through the records every user speaks (package tcp: tcp-channel,
// tcp-connection, tcp-writable, tcp-consumed, tcp-close, tcp-set;
// package ip: udp-channel, udp-binding), from a few actors of its own: one
// per active open, one per listening socket (which serves every
// connection it accepted), one per datagram socket. Received data waits in
// the socket until read and is reported consumed as it is read, so a slow
// reader closes the peer's window; writes wait for the connection's
// grants.
//
// # Descriptors
//
// Each socket's descriptor is an eventfd: a real descriptor that close(2)
// and poll(2) accept. The library keeps it readable exactly while the
// socket would poll POLLIN, POLLERR or POLLHUP, so a program may wait for
// input with poll(2), select(2) or epoll alongside its other descriptors.
// Close (ns_close) is what ends a socket; a descriptor closed with
// close(2) is forgotten once the system hands its number out again.
//
// # Blocking and concurrency
//
// One mutex guards the table and every socket; a blocking call waits on
// a broadcast channel that every change of any socket closes, so the
// calling goroutine — and, from C, its OS thread — sleeps, never spins.
// Any number of goroutines or threads may call at once. Writers of one
// socket take turns, so their writes do not interleave.
//
// # Clocks
//
// On the real clock the stack runs on its usual executor. On the test
// clock (Config.Warp, flag clock=warp) it runs deterministically: each
// call that gives the stack work runs every turn that follows before it
// returns, and time moves only in Usleep, in Gettimeofday (a microsecond
// per reading, so spinning callers progress), and in Receive, which fires
// timers in deadline order until the stack sends something. Timeouts of
// blocking calls (SO_RCVTIMEO, SO_SNDTIMEO, Poll) count test-clock time.
//
// # Behaviour profiles
//
// Conformance scripts compare packets byte for byte, so a profile
// (linux, freebsd) fixes what differs between kernels: SYN option order
// and padding, window scale, the SYN's window, initial and minimum RTO,
// delayed-ACK time, keepalive count, and the SO_RCVBUF/SO_SNDBUF values
// getsockopt reports. See newProfile for the values.
//
// # Limits
//
// IPv4 only. An active open always uses an ephemeral port, and
// Getsockname reports its port as 0. SO_RCVBUF, SO_SNDBUF and TCP_MAXSEG
// are reported but not applied (the stack's buffers and MSS are per
// stack). SO_LINGER with a non-zero time waits for the connection to
// close, not only for its FIN to be acknowledged. A write to a broken
// connection returns EPIPE without raising SIGPIPE.
package sockapi
