package sockapi

import (
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// Linux's values, which x/sys/unix does not name on every architecture.
const (
	pollRdNorm = 0x40
	pollWrNorm = 0x100
	fionread   = 0x541b
	fionbio    = 0x5421
)

// maxPollFds bounds the descriptors of one Poll.
const maxPollFds = 1 << 16

// foreignSlice is how often Poll looks at descriptors that are not
// sockets of the library while it waits.
const foreignSlice = 10 * time.Millisecond

// Poll waits until one of fds is ready, as poll(2): it sets each
// Revents and returns how many are non-zero. timeout < 0 waits for
// ever, 0 not at all; on the test clock it is test-clock time. Socket
// readiness follows Linux: POLLIN for data, end of stream, a failure or
// a connection to accept; POLLOUT for send space, and once a connect
// has finished either way; POLLRDHUP once the peer closed; POLLERR with
// a pending error; POLLHUP when both directions are done (and, as in
// Linux, for a socket that is not connected). Descriptors that are not
// sockets of the library are polled with poll(2), every 10 ms while the
// call waits.
func (l *Lib) Poll(fds []unix.PollFd, timeout time.Duration) (int, error) {
	if len(fds) > maxPollFds {
		return -1, unix.EINVAL
	}
	var dl time.Time
	if timeout > 0 {
		dl = l.deadline(timeout)
	}
	var foreign []unix.PollFd
	var idx []int
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		n := 0
		foreign, idx = foreign[:0], idx[:0]
		for i := range fds {
			f := &fds[i]
			f.Revents = 0
			if f.Fd < 0 {
				continue
			}
			s := l.socks[int(f.Fd)]
			if s == nil {
				foreign = append(foreign, unix.PollFd{Fd: f.Fd, Events: f.Events})
				idx = append(idx, i)
				continue
			}
			if f.Revents = s.readyMask() & (f.Events | unix.POLLERR | unix.POLLHUP); f.Revents != 0 {
				n++
			}
		}
		if len(foreign) > 0 {
			l.mu.Unlock()
			_, err := unix.Poll(foreign, 0)
			l.mu.Lock()
			if err == nil {
				for j, f := range foreign {
					if f.Revents != 0 {
						fds[idx[j]].Revents = f.Revents
						n++
					}
				}
			}
		}
		if n > 0 || timeout == 0 {
			return n, nil
		}
		slice := time.Duration(0)
		if len(foreign) > 0 {
			slice = foreignSlice
		}
		if !l.waitSlice(dl, slice) {
			return 0, nil
		}
	}
}

// Fcntl does F_GETFL and F_SETFL (O_NONBLOCK; the descriptor is always
// O_RDWR) on a socket, and F_GETFD and F_SETFD on its descriptor; other
// commands are EINVAL.
func (l *Lib) Fcntl(fd, cmd, arg int) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, err := l.get(fd)
	if err != nil {
		return -1, err
	}
	switch cmd {
	case unix.F_GETFL:
		r := unix.O_RDWR
		if s.nonblock {
			r |= unix.O_NONBLOCK
		}
		return r, nil
	case unix.F_SETFL:
		s.nonblock = arg&unix.O_NONBLOCK != 0
		return 0, nil
	case unix.F_GETFD, unix.F_SETFD:
		r, err := unix.FcntlInt(uintptr(fd), cmd, arg)
		if err != nil {
			return -1, err
		}
		return r, nil
	}
	return -1, unix.EINVAL
}

// Ioctl does FIONREAD (the bytes a read would return now; for a
// datagram socket the size of the next datagram) and FIONBIO (*v != 0:
// non-blocking); other requests are ENOTTY.
func (l *Lib) Ioctl(fd int, req uint, v *int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, err := l.get(fd)
	if err != nil {
		return err
	}
	switch req {
	case fionread:
		switch {
		case s.typ == unix.SOCK_DGRAM:
			*v = 0
			if s.udp != nil && len(s.udp.q) > 0 {
				*v = len(s.udp.q[0].data)
			}
		case s.state == stListening:
			return unix.EINVAL
		default:
			*v = s.rlen
		}
		return nil
	case fionbio:
		s.nonblock = *v != 0
		return nil
	}
	return unix.ENOTTY
}

// Getsockname returns the socket's local address. The port of an active
// open is not known to the library (the stack picks it) and reads 0.
func (l *Lib) Getsockname(fd int) (netip.AddrPort, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, err := l.get(fd)
	if err != nil {
		return netip.AddrPort{}, err
	}
	a := netip.IPv4Unspecified()
	switch {
	case s.state == stConnected || s.state == stConnecting || s.udp != nil && s.udp.peer.IsValid():
		a = l.cfg.Local.Addr()
	case s.bindAddr.IsValid():
		a = s.bindAddr
	}
	return netip.AddrPortFrom(a, s.port), nil
}

// Getpeername returns the address of the socket's peer, or ENOTCONN.
func (l *Lib) Getpeername(fd int) (netip.AddrPort, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, err := l.get(fd)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if s.typ == unix.SOCK_STREAM && s.state != stConnected || !s.remote.IsValid() {
		return netip.AddrPort{}, unix.ENOTCONN
	}
	return s.remote, nil
}
