//go:build cgo

// Command libnetspace is the netspace stack as a shared library with a
// BSD-socket C API (include/netspace.h), also loadable by packetdrill as
// a shared object. Build it with
//
//	go build -buildmode=c-shared -o libnetspace.so ./cmd/libnetspace
//
// (scripts/build-libnetspace.sh does, into build/). The C entry points
// ns_* live in shim.c: each calls one nsgo_* function here, which does
// the work through package sockapi, and sets errno on the calling thread
// once Go has returned — the Go runtime may run other code on the thread
// in between, so errno is never set from Go. One stack runs at a time;
// ns_init and packetdrill_interface_init replace it, stopping the old one
// (its blocked calls return EBADF), since the Go runtime cannot be
// unloaded and one process may initialise the library many times.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../include -Wall
#include <stddef.h>
#include <sys/socket.h>
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"time"
	"unsafe"

	"netspace/sockapi"

	"golang.org/x/sys/unix"
)

func main() {}

// current is the running stack, if any.
var current struct {
	sync.Mutex
	lib *sockapi.Lib
}

func lib() *sockapi.Lib {
	current.Lock()
	defer current.Unlock()
	return current.lib
}

// maxIovecs bounds the buffers of one vector call (Linux's IOV_MAX).
const maxIovecs = 1024

// sockaddrInLen is sizeof(struct sockaddr_in).
const sockaddrInLen = 16

// call runs f on the current stack and turns its outcome into a C
// return value and errno: f's result, or -1 with *errp set. A call
// before ns_init fails with ENETDOWN; a panic (never expected) with EIO,
// logged, instead of taking the program down.
func call(errp *C.int, f func(l *sockapi.Lib) (int, error)) (r int) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(os.Stderr, "libnetspace: internal error: %v\n%s", p, debug.Stack())
			*errp, r = C.int(unix.EIO), -1
		}
	}()
	l := lib()
	if l == nil {
		*errp = C.int(unix.ENETDOWN)
		return -1
	}
	n, err := f(l)
	if err != nil {
		*errp = C.int(errnoOf(err))
		return -1
	}
	return n
}

func errnoOf(err error) unix.Errno {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return unix.EIO
}

//export nsgo_init
func nsgo_init(flags *C.char, errbuf *C.char, errlen C.size_t, errp *C.int) C.int {
	fail := func(err error) C.int {
		if errbuf != nil && errlen > 0 {
			b := unsafe.Slice((*byte)(unsafe.Pointer(errbuf)), int(min(errlen, 1<<16)))
			n := copy(b[:len(b)-1], err.Error())
			b[n] = 0
		}
		*errp = C.int(unix.EINVAL)
		return -1
	}
	s := ""
	if flags != nil {
		s = C.GoStringN(flags, C.int(cStrLen(flags, 4096)))
	}
	cfg, err := sockapi.ParseFlags(s)
	if err != nil {
		stop()
		return fail(err)
	}
	stop()
	l, err := sockapi.Open(cfg)
	if err != nil {
		return fail(err)
	}
	current.Lock()
	current.lib = l
	current.Unlock()
	return 0
}

// cStrLen is strnlen.
func cStrLen(p *C.char, max int) int {
	b := unsafe.Slice((*byte)(unsafe.Pointer(p)), max)
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return max
}

// stop stops the running stack, if any.
func stop() {
	current.Lock()
	l := current.lib
	current.lib = nil
	current.Unlock()
	if l != nil {
		l.Stop()
	}
}

//export nsgo_exit
func nsgo_exit() { stop() }

//export nsgo_socket
func nsgo_socket(domain, typ, proto C.int, errp *C.int) C.int {
	return C.int(call(errp, func(l *sockapi.Lib) (int, error) { return l.Socket(int(domain), int(typ), int(proto)) }))
}

// sockaddrIn reads a struct sockaddr_in: AF_UNSPEC reads as the invalid
// address (a datagram socket's disconnect).
func sockaddrIn(p unsafe.Pointer, n C.socklen_t) (netip.AddrPort, error) {
	if p == nil {
		return netip.AddrPort{}, unix.EFAULT
	}
	if n < 2 {
		return netip.AddrPort{}, unix.EINVAL
	}
	b := unsafe.Slice((*byte)(p), int(min(n, sockaddrInLen)))
	switch binary.NativeEndian.Uint16(b[0:2]) {
	case unix.AF_INET:
	case unix.AF_UNSPEC:
		return netip.AddrPort{}, nil
	default:
		return netip.AddrPort{}, unix.EAFNOSUPPORT
	}
	if n < sockaddrInLen {
		return netip.AddrPort{}, unix.EINVAL
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:4])), nil
}

// putSockaddrIn writes ap as a struct sockaddr_in into p, truncated to
// *n bytes, and sets *n to its full length (as accept(2) does). Nothing
// is written if p or n is NULL.
func putSockaddrIn(p unsafe.Pointer, n *C.socklen_t, ap netip.AddrPort) {
	if p == nil || n == nil {
		return
	}
	var b [sockaddrInLen]byte
	binary.NativeEndian.PutUint16(b[0:2], unix.AF_INET)
	binary.BigEndian.PutUint16(b[2:4], ap.Port())
	if ap.Addr().Is4() {
		a := ap.Addr().As4()
		copy(b[4:8], a[:])
	}
	copy(unsafe.Slice((*byte)(p), int(min(*n, sockaddrInLen))), b[:])
	*n = sockaddrInLen
}

//export nsgo_bind
func nsgo_bind(fd C.int, addr unsafe.Pointer, n C.socklen_t, errp *C.int) C.int {
	return C.int(call(errp, func(l *sockapi.Lib) (int, error) {
		ap, err := sockaddrIn(addr, n)
		if err != nil {
			return -1, err
		}
		if !ap.IsValid() {
			ap = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
		}
		return 0, l.Bind(int(fd), ap)
	}))
}

//export nsgo_listen
func nsgo_listen(fd, backlog C.int, errp *C.int) C.int {
	return C.int(call(errp, func(l *sockapi.Lib) (int, error) { return 0, l.Listen(int(fd), int(backlog)) }))
}

//export nsgo_accept
func nsgo_accept(fd C.int, addr unsafe.Pointer, n *C.socklen_t, flags C.int, errp *C.int) C.int {
	return C.int(call(errp, func(l *sockapi.Lib) (int, error) {
		nfd, from, err := l.Accept(int(fd), int(flags))
		if err == nil {
			putSockaddrIn(addr, n, from)
		}
		return nfd, err
	}))
}

//export nsgo_connect
func nsgo_connect(fd C.int, addr unsafe.Pointer, n C.socklen_t, errp *C.int) C.int {
	return C.int(call(errp, func(l *sockapi.Lib) (int, error) {
		ap, err := sockaddrIn(addr, n)
		if err != nil {
			return -1, err
		}
		return 0, l.Connect(int(fd), ap)
	}))
}

// iovecs views a struct iovec array as Go slices over the same memory.
func iovecs(p unsafe.Pointer, n C.int) ([][]byte, error) {
	if n < 0 || n > maxIovecs {
		return nil, unix.EINVAL
	}
	if n == 0 {
		return nil, nil
	}
	if p == nil {
		return nil, unix.EFAULT
	}
	type iovec struct {
		base unsafe.Pointer
		len  uintptr
	}
	out := make([][]byte, 0, n)
	total := uintptr(0)
	for _, v := range unsafe.Slice((*iovec)(p), int(n)) {
		if v.len == 0 {
			continue
		}
		if v.base == nil {
			return nil, unix.EFAULT
		}
		if total += v.len; v.len > 1<<31 || total > 1<<31 {
			return nil, unix.EINVAL
		}
		out = append(out, unsafe.Slice((*byte)(v.base), int(v.len)))
	}
	return out, nil
}

//export nsgo_recv
func nsgo_recv(fd C.int, iov unsafe.Pointer, iovcnt, flags C.int, addr unsafe.Pointer, n *C.socklen_t, errp *C.int) C.long {
	return C.long(call(errp, func(l *sockapi.Lib) (int, error) {
		bufs, err := iovecs(iov, iovcnt)
		if err != nil {
			return -1, err
		}
		k, from, err := l.Recv(int(fd), bufs, int(flags))
		if err == nil {
			putSockaddrIn(addr, n, from)
		}
		return k, err
	}))
}

//export nsgo_send
func nsgo_send(fd C.int, iov unsafe.Pointer, iovcnt, flags C.int, addr unsafe.Pointer, n C.socklen_t, errp *C.int) C.long {
	return C.long(call(errp, func(l *sockapi.Lib) (int, error) {
		bufs, err := iovecs(iov, iovcnt)
		if err != nil {
			return -1, err
		}
		var to netip.AddrPort
		if addr != nil {
			if to, err = sockaddrIn(addr, n); err != nil {
				return -1, err
			}
		}
		return l.Send(int(fd), bufs, int(flags), to)
	}))
}

//export nsgo_close
func nsgo_close(fd C.int, errp *C.int) C.int {
	return C.int(call(errp, func(l *sockapi.Lib) (int, error) { return 0, l.Close(int(fd)) }))
}

//export nsgo_shutdown
func nsgo_shutdown(fd, how C.int, errp *C.int) C.int {
	return C.int(call(errp, func(l *sockapi.Lib) (int, error) { return 0, l.Shutdown(int(fd), int(how)) }))
}

//export nsgo_getsockopt
func nsgo_getsockopt(fd, level, opt C.int, val unsafe.Pointer, n *C.socklen_t, errp *C.int) C.int {
	return C.int(call(errp, func(l *sockapi.Lib) (int, error) {
		if n == nil || val == nil && *n > 0 {
			return -1, unix.EFAULT
		}
		if int32(*n) < 0 {
			return -1, unix.EINVAL
		}
		buf := unsafe.Slice((*byte)(val), int(min(*n, 256)))
		k, err := l.Getsockopt(int(fd), int(level), int(opt), buf)
		if err == nil {
			*n = C.socklen_t(k)
		}
		return 0, err
	}))
}

//export nsgo_setsockopt
func nsgo_setsockopt(fd, level, opt C.int, val unsafe.Pointer, n C.socklen_t, errp *C.int) C.int {
	return C.int(call(errp, func(l *sockapi.Lib) (int, error) {
		if val == nil && n > 0 {
			return -1, unix.EFAULT
		}
		if int32(n) < 0 {
			return -1, unix.EINVAL
		}
		return 0, l.Setsockopt(int(fd), int(level), int(opt), unsafe.Slice((*byte)(val), int(min(n, 256))))
	}))
}

//export nsgo_sockname
func nsgo_sockname(fd C.int, addr unsafe.Pointer, n *C.socklen_t, peer C.int, errp *C.int) C.int {
	return C.int(call(errp, func(l *sockapi.Lib) (int, error) {
		if addr == nil || n == nil {
			return -1, unix.EFAULT
		}
		get := l.Getsockname
		if peer != 0 {
			get = l.Getpeername
		}
		ap, err := get(int(fd))
		if err == nil {
			putSockaddrIn(addr, n, ap)
		}
		return 0, err
	}))
}

//export nsgo_poll
func nsgo_poll(fds unsafe.Pointer, nfds C.ulong, timeoutMs C.int, errp *C.int) C.int {
	return C.int(call(errp, func(l *sockapi.Lib) (int, error) {
		if nfds > 1<<16 {
			return -1, unix.EINVAL
		}
		if fds == nil && nfds > 0 {
			return -1, unix.EFAULT
		}
		var pf []unix.PollFd
		if nfds > 0 {
			pf = unsafe.Slice((*unix.PollFd)(fds), int(nfds))
		}
		timeout := time.Duration(timeoutMs) * time.Millisecond
		if timeoutMs < 0 {
			timeout = -1
		}
		return l.Poll(pf, timeout)
	}))
}

//export nsgo_fcntl
func nsgo_fcntl(fd, cmd C.int, arg C.long, errp *C.int) C.int {
	return C.int(call(errp, func(l *sockapi.Lib) (int, error) { return l.Fcntl(int(fd), int(cmd), int(arg)) }))
}

//export nsgo_ioctl
func nsgo_ioctl(fd C.int, req C.ulong, arg unsafe.Pointer, errp *C.int) C.int {
	return C.int(call(errp, func(l *sockapi.Lib) (int, error) {
		if arg == nil {
			return -1, unix.EFAULT
		}
		p := (*C.int)(arg)
		v := int(*p)
		err := l.Ioctl(int(fd), uint(req), &v)
		if err == nil {
			*p = C.int(v)
		}
		return 0, err
	}))
}

//export nsgo_inject
func nsgo_inject(pkt unsafe.Pointer, n C.size_t, errp *C.int) C.int {
	return C.int(call(errp, func(l *sockapi.Lib) (int, error) {
		if pkt == nil || n > 1<<16 {
			return -1, unix.EINVAL
		}
		return 0, l.Inject(unsafe.Slice((*byte)(pkt), int(n)))
	}))
}

//export nsgo_receive
func nsgo_receive(buf unsafe.Pointer, n *C.size_t, tp *C.longlong, timeoutMs C.int, errp *C.int) C.int {
	return C.int(call(errp, func(l *sockapi.Lib) (int, error) {
		if buf == nil || n == nil {
			return -1, unix.EFAULT
		}
		timeout := time.Duration(timeoutMs) * time.Millisecond
		if timeoutMs < 0 {
			timeout = -1
		}
		k, at, err := l.Receive(unsafe.Slice((*byte)(buf), int(min(*n, 1<<20))), timeout)
		if err != nil {
			return -1, err
		}
		*n = C.size_t(k)
		if tp != nil {
			*tp = 0
			if k > 0 {
				*tp = C.longlong(at.UnixMicro())
			}
		}
		return 0, nil
	}))
}

//export nsgo_usleep
func nsgo_usleep(us C.uint, errp *C.int) C.int {
	return C.int(call(errp, func(l *sockapi.Lib) (int, error) {
		l.Usleep(time.Duration(us) * time.Microsecond)
		return 0, nil
	}))
}

//export nsgo_gettimeofday
func nsgo_gettimeofday(sec, usec *C.longlong, errp *C.int) C.int {
	return C.int(call(errp, func(l *sockapi.Lib) (int, error) {
		now := l.Gettimeofday().UnixMicro()
		*sec, *usec = C.longlong(now/1e6), C.longlong(now%1e6)
		return 0, nil
	}))
}
