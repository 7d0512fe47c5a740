package sockapi

import (
	"fmt"
	"net/netip"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/ip"

	"golang.org/x/sys/unix"
)

// udpSock is a datagram socket's state (under Lib.mu): its user-level
// name — udp-listener(port) once bound, else udp-handle(id), for which
// the stack allocates a port — and the datagrams received.
type udpSock struct {
	rec     ds.Record
	actor   *actors.Actor
	ready   bool // the stack delivers to rec
	q       []dgram
	qbytes  int
	dropped uint64         // datagrams dropped: the queue was full
	peer    netip.AddrPort // the connected peer: only its datagrams are kept
}

type dgram struct {
	from netip.AddrPort
	data []byte
}

// maxDatagram is the largest UDP payload over IPv4.
const maxDatagram = 65507

// udpOpen gives a datagram socket its stack side, once: a well-known
// port if it is bound, an ephemeral one otherwise.
func (l *Lib) udpOpen(s *socket) error {
	l.mu.Lock()
	if s.udp == nil {
		u := &udpSock{}
		var id ds.Value
		if s.port != 0 {
			u.rec, u.ready = &ip.UDPListener{Port: s.port}, true
		} else {
			id = ds.String(fmt.Sprintf("sock-udp-%d", l.ids.Add(1)))
			u.rec = &ip.UDPHandle{ID: id}
		}
		s.udp = u
		port := s.port
		l.mu.Unlock()
		l.run(func() {
			l.sys.Spawn("sock-udp", func(t *actors.Turn) { l.bootUDP(t, s, u, port, id) })
		})
		l.mu.Lock()
	}
	defer l.mu.Unlock()
	dl := time.Now().Add(10 * time.Second)
	for !s.udp.ready && !l.closed && !s.fdClosed && time.Now().Before(dl) {
		l.waitSlice(time.Time{}, 10*time.Millisecond)
	}
	if !s.udp.ready {
		return unix.EADDRINUSE // no port came
	}
	return nil
}

func (l *Lib) bootUDP(t *actors.Turn, s *socket, u *udpSock, port uint16, id ds.Value) {
	l.mu.Lock()
	u.actor = t.Actor()
	l.mu.Unlock()
	pat := ip.ListenerPattern(port)
	if port == 0 {
		pat = ip.HandlePattern(id)
		t.Observe(ds.RecordPattern(ip.LabelUDPBinding, ds.CaptureAny, ds.Lit(id)), actors.Handler{
			Added: func(t *actors.Turn, c []ds.Value) {
				l.mu.Lock()
				s.port, u.ready = uint16(c[0].AsInt()), true
				l.notify()
				l.mu.Unlock()
			},
		})
	}
	// Last: the interest that binds the port (observations commit in
	// order, so the binding finds us listening).
	t.Observe(pat, actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) {
			ch := m.(*ip.UDPChannel)
			src, ok := ch.Src.(*ip.UDPAddress)
			if !ok {
				return
			}
			from := src.AddrPort()
			l.mu.Lock()
			defer l.mu.Unlock()
			switch {
			case u.peer.IsValid() && from != u.peer, s.rdShut:
				return
			case u.qbytes+len(ch.Body) > s.opts.rcvbuf:
				u.dropped++
				return
			}
			u.q = append(u.q, dgram{from, ch.Body})
			u.qbytes += len(ch.Body)
			s.changed()
		},
	})
}

// udpRecv reads one datagram (l.mu held; released on return).
func (l *Lib) udpRecv(s *socket, bufs [][]byte, flags int) (int, netip.AddrPort, error) {
	defer l.mu.Unlock()
	nonblock := s.nonblock || flags&unix.MSG_DONTWAIT != 0
	dl := l.deadline(s.opts.rcvtimeo)
	for {
		if s.fdClosed || l.closed {
			return -1, netip.AddrPort{}, unix.EBADF
		}
		if u := s.udp; u != nil && len(u.q) > 0 {
			d := u.q[0]
			n := 0
			for _, b := range bufs {
				n += copy(b, d.data[n:])
			}
			if flags&unix.MSG_PEEK == 0 {
				u.q[0] = dgram{}
				u.q = u.q[1:]
				u.qbytes -= len(d.data)
				s.changed()
			}
			if flags&unix.MSG_TRUNC != 0 {
				n = len(d.data)
			}
			return n, d.from, nil
		}
		if err := s.takeErr(); err != 0 {
			return -1, netip.AddrPort{}, err
		}
		if s.rdShut {
			return 0, netip.AddrPort{}, nil
		}
		if nonblock || !l.wait(dl) {
			if l.closed {
				return -1, netip.AddrPort{}, unix.EBADF
			}
			return -1, netip.AddrPort{}, unix.EAGAIN
		}
	}
}

// udpSend sends one datagram of bufs to to (or the connected peer).
func (l *Lib) udpSend(s *socket, bufs [][]byte, flags int, to netip.AddrPort) (int, error) {
	l.mu.Lock()
	if s.wrShut {
		l.mu.Unlock()
		return -1, unix.EPIPE
	}
	if !to.IsValid() {
		if s.udp == nil || !s.udp.peer.IsValid() {
			l.mu.Unlock()
			return -1, unix.EDESTADDRREQ
		}
		to = s.udp.peer
	}
	l.mu.Unlock()
	switch {
	case !to.Addr().Is4():
		return -1, unix.EAFNOSUPPORT
	case to.Port() == 0:
		return -1, unix.EINVAL
	}
	total := buffersLen(bufs)
	if total > maxDatagram {
		return -1, unix.EMSGSIZE
	}
	if err := l.udpOpen(s); err != nil {
		return -1, err
	}
	l.mu.Lock()
	actor, rec := s.udp.actor, s.udp.rec
	l.mu.Unlock()
	m := &ip.UDPChannel{Src: rec, Dst: &ip.UDPAddress{Host: to.Addr(), Port: to.Port()}, Body: gather(bufs, 0, total)}
	l.run(func() { actor.Send(m) })
	return total, nil
}

// udpConnect sets (or, with the invalid address, clears) the default
// peer; the socket gets its port now if it has none.
func (l *Lib) udpConnect(s *socket, to netip.AddrPort) error {
	if to.IsValid() && !to.Addr().Is4() {
		return unix.EAFNOSUPPORT
	}
	if to.IsValid() && to.Port() == 0 {
		return unix.EINVAL
	}
	if err := l.udpOpen(s); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s.udp.peer, s.remote = to, to
	return nil
}

// udpClose ends a datagram socket's stack side.
func (l *Lib) udpClose(s *socket) {
	l.mu.Lock()
	var actor *actors.Actor
	if s.udp != nil {
		actor = s.udp.actor
		s.udp.q, s.udp.qbytes = nil, 0
	}
	l.mu.Unlock()
	if actor != nil {
		l.run(func() { actor.Stop() })
	}
}
