package sockapi

import (
	"fmt"
	"net/netip"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/tcp"

	"golang.org/x/sys/unix"
)

// Connect opens a connection (SOCK_STREAM) or sets the default peer
// (SOCK_DGRAM). A blocking socket waits for the handshake (up to
// SO_SNDTIMEO, then EINPROGRESS) and returns its failure: ECONNREFUSED,
// ETIMEDOUT, ENETUNREACH. A non-blocking one returns EINPROGRESS; poll
// reports POLLOUT once the handshake is over, SO_ERROR its outcome, and
// a second Connect EALREADY while it lasts, then its outcome once. The
// local port is always an ephemeral one: a port given to Bind is not
// used by an active open.
func (l *Lib) Connect(fd int, to netip.AddrPort) error {
	l.mu.Lock()
	s, err := l.get(fd)
	if err != nil {
		l.mu.Unlock()
		return err
	}
	if s.typ == unix.SOCK_DGRAM {
		l.mu.Unlock()
		return l.udpConnect(s, to)
	}
	defer l.mu.Unlock()
	if !to.Addr().Is4() {
		return unix.EAFNOSUPPORT
	}
	switch s.state {
	case stListening:
		return unix.EISCONN
	case stConnecting:
		return unix.EALREADY
	case stConnected:
		if s.connectPending {
			s.connectPending = false
			return nil
		}
		return unix.EISCONN
	}
	if s.connectPending && s.soErr != 0 {
		s.connectPending = false
		return s.takeErr()
	}
	switch {
	case to.Addr().IsUnspecified():
		return unix.ENETUNREACH
	case to.Port() == 0:
		return unix.ECONNREFUSED
	}
	id := ds.String(fmt.Sprintf("sock-%d", l.ids.Add(1)))
	s.state, s.remote, s.soErr, s.connectPending = stConnecting, to, 0, false
	s.remoteRec, s.localRec = &tcp.Address{Host: to.Addr(), Port: to.Port()}, &tcp.Handle{ID: id}
	l.mu.Unlock()
	l.run(func() {
		l.sys.Spawn("sock-connect:"+to.String(), func(t *actors.Turn) { l.bootActive(t, s, to, id) })
	})
	l.mu.Lock()
	if s.nonblock {
		switch s.state {
		case stConnecting:
			s.connectPending = true
			return unix.EINPROGRESS
		case stConnected:
			return nil
		}
		return s.takeErr()
	}
	dl := l.deadline(s.opts.sndtimeo)
	for s.state == stConnecting {
		if s.fdClosed || l.closed {
			return unix.EBADF
		}
		if !l.wait(dl) {
			if l.closed {
				return unix.EBADF
			}
			s.connectPending = true
			return unix.EINPROGRESS
		}
	}
	if s.state == stConnected {
		return nil
	}
	if err := s.takeErr(); err != 0 {
		return err
	}
	return unix.ECONNREFUSED
}

// bootActive is an active open's actor: its interest in the
// connection's data is what opens the connection.
func (l *Lib) bootActive(t *actors.Turn, s *socket, to netip.AddrPort, id ds.Value) {
	me := t.Actor()
	l.mu.Lock()
	s.actor = me
	remoteRec, localRec := s.remoteRec, s.localRec
	l.mu.Unlock()
	R, L := tcp.AddressPattern(to), tcp.HandlePattern(id)
	t.Observe(ds.RecordPattern(tcp.LabelWritable, R, L, ds.CaptureAny), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) {
			l.mu.Lock()
			s.grant(m.(*tcp.Writable).N)
			l.mu.Unlock()
		},
	})
	t.Observe(ds.RecordPattern(tcp.LabelConnection, R, L, ds.CaptureAny), actors.Handler{
		Added: func(t *actors.Turn, caps []ds.Value) {
			st := caps[0].AsString()
			l.mu.Lock()
			was := s.state
			failed := s.setConnState(st)
			var sets []ds.Record
			if was == stConnecting && s.state == stConnected {
				s.port = 0 // the stack chose the local port
				sets = s.opts.tcpSets(remoteRec, localRec)
			}
			if failed {
				s.actor = nil
			}
			l.mu.Unlock()
			for _, m := range sets {
				t.Send(m)
			}
			if failed {
				t.Stop() // the failed connection goes with our interest
				return
			}
			l.finishDrain(t, s)
		},
	})
	// Last: interest in the data opens the connection, and the
	// observations commit in order — the grants and states must find us
	// already listening.
	t.Observe(ds.RecordPattern(tcp.LabelChannel, R, L, ds.CaptureAny), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) {
			l.mu.Lock()
			s.deliver(m, m.(*tcp.Channel).Data)
			l.mu.Unlock()
		},
	})
}
