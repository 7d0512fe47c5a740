package sockapi

import (
	"fmt"
	"net/netip"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/tcp"

	"golang.org/x/sys/unix"
)

// listener is the state of a listening socket, shared by its socket
// (under Lib.mu) and its actor. One actor serves the port and every
// connection it accepted: the wildcard interest tcp-channel(?,
// tcp-listener(p), ?) keeps the port open and receives the data of
// connections not yet leased; each connection's lease (interest in it
// alone) keeps it alive after the listening socket closes, as accepted
// BSD sockets outlive their listener.
type listener struct {
	port    uint16
	backlog int
	ready   bool // the stack accepts connections on port
	closed  bool // the listening socket closed: accepted connections carry on
	queue   []*socket
	conns   map[netip.AddrPort]*socket // every connection it serves, queued or accepted
	actor   *actors.Actor
	wild    *actors.Subscription // owned by the actor's turns
}

// Listen makes a stream socket listen, on its bound port (or an
// ephemeral one if it has none). backlog bounds the connections waiting
// for Accept (as in Linux, backlog+1 fit); a connection beyond them is
// reset. Called on a listening socket it changes the backlog.
func (l *Lib) Listen(fd, backlog int) error {
	l.mu.Lock()
	s, err := l.get(fd)
	if err != nil {
		l.mu.Unlock()
		return err
	}
	if s.typ != unix.SOCK_STREAM {
		l.mu.Unlock()
		return unix.EOPNOTSUPP
	}
	backlog = min(max(backlog, 0), 4096)
	switch s.state {
	case stListening:
		s.ln.backlog = backlog
		l.mu.Unlock()
		return nil
	case stConnecting, stConnected:
		l.mu.Unlock()
		return unix.EINVAL
	}
	if s.port == 0 {
		if s.port = l.freePort(unix.SOCK_STREAM); s.port == 0 {
			l.mu.Unlock()
			return unix.EADDRINUSE
		}
	} else if l.portTaken(s, s.port) {
		l.mu.Unlock()
		return unix.EADDRINUSE
	}
	ln := &listener{port: s.port, backlog: backlog, conns: map[netip.AddrPort]*socket{}}
	s.ln, s.state = ln, stListening
	l.mu.Unlock()
	l.run(func() {
		l.sys.Spawn(fmt.Sprintf("sock-listener:%d", ln.port), func(t *actors.Turn) { l.bootListener(t, ln, s) })
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	// On the test clock the port is open by now; on the real one it opens
	// in a few turns.
	dl := time.Now().Add(10 * time.Second)
	for !ln.ready && !l.closed && time.Now().Before(dl) {
		l.waitSlice(time.Time{}, 10*time.Millisecond)
	}
	if !ln.ready {
		return unix.EADDRINUSE
	}
	s.changed()
	return nil
}

// bootListener is the listening socket ls's actor.
func (l *Lib) bootListener(t *actors.Turn, ln *listener, ls *socket) {
	me := t.Actor()
	local := tcp.ListenerPattern(ln.port)
	localRec := &tcp.Listener{Port: ln.port}
	l.mu.Lock()
	ln.actor = me
	l.mu.Unlock()
	remoteOf := func(v ds.Value) netip.AddrPort {
		r := v.AsRecord()
		return netip.AddrPortFrom(r.Field(0).AsAddr(), uint16(r.Field(1).AsInt()))
	}
	t.Observe(ds.RecordPattern(tcp.LabelListening, ds.Lit(ds.Int(int64(ln.port)))), actors.Handler{
		Added: func(*actors.Turn, []ds.Value) {
			l.mu.Lock()
			ln.ready = true
			l.notify()
			l.mu.Unlock()
		},
	})
	data := func(t *actors.Turn, m ds.Record) {
		ch := m.(*tcp.Channel)
		l.mu.Lock()
		if c := ln.conns[remoteOf(ds.Rec(ch.Src))]; c != nil {
			c.deliver(m, ch.Data)
		}
		l.mu.Unlock()
	}
	t.Observe(ds.RecordPattern(tcp.LabelWritable, ds.CaptureAny, local, ds.CaptureAny), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) {
			w := m.(*tcp.Writable)
			l.mu.Lock()
			if c := ln.conns[remoteOf(ds.Rec(w.Remote))]; c != nil {
				c.grant(w.N)
			}
			l.mu.Unlock()
		},
	})
	t.Observe(ds.RecordPattern(tcp.LabelConnection, ds.CaptureAny, local, ds.CaptureAny), actors.Handler{
		Added: func(t *actors.Turn, caps []ds.Value) {
			r, st := remoteOf(caps[0]), caps[1].AsString()
			l.mu.Lock()
			defer l.mu.Unlock()
			if c := ln.conns[r]; c != nil {
				c.setConnState(st)
				l.mu.Unlock()
				l.finishDrain(t, c)
				l.mu.Lock()
				return
			}
			if st != tcp.StateEstablished || ln.closed {
				return
			}
			remoteRec := caps[0].AsRecord()
			c := l.newSocket(unix.SOCK_STREAM)
			c.state, c.port, c.remote = stConnected, ln.port, r
			c.actor, c.owner, c.remoteRec, c.localRec = me, ln, remoteRec, localRec
			opts := ls.opts
			c.opts = opts
			c.opts.rcvbuf = l.prof.connectedRcvbuf(opts.rcvbuf, l.prof.conn.MSS)
			if len(ln.queue) > ln.backlog {
				// The accept queue is full: refuse the connection.
				t.Send(&tcp.Close{Remote: remoteRec, Local: localRec, How: tcp.CloseAbort})
				return
			}
			ln.conns[r] = c
			ln.queue = append(ln.queue, c)
			c.lease = t.Observe(ds.RecordPattern(tcp.LabelChannel,
				tcp.AddressPattern(r), local, ds.CaptureAny), actors.Handler{Message: data})
			// Accepted sockets inherit the listener's options.
			for _, set := range opts.tcpSets(remoteRec, localRec) {
				t.Send(set)
			}
			ls.changed()
		},
	})
	// Last: the wildcard interest opens the port, and the observations
	// commit in order — connections must find us already listening.
	ln.wild = t.Observe(tcp.ChannelFrom(local), actors.Handler{Message: data})
}

// forgetConn forgets an accepted connection (a turn of its listener's
// actor): its lease ends, and the actor with the last one once the
// listening socket has closed.
func (l *Lib) forgetConn(t *actors.Turn, ln *listener, c *socket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ln.conns[c.remote] == c {
		delete(ln.conns, c.remote)
	}
	if c.lease != nil {
		t.Unobserve(c.lease)
		c.lease = nil
	}
	if ln.closed && len(ln.conns) == 0 {
		t.Stop()
	}
}

// stopListening closes the port of a listening socket: connections not
// yet accepted are reset; accepted ones carry on.
func (l *Lib) stopListening(s *socket) {
	l.mu.Lock()
	ln := s.ln
	if ln.closed {
		l.mu.Unlock()
		return
	}
	ln.closed = true
	ln.ready = false
	l.mu.Unlock()
	l.run(func() {
		ln.actor.Inject(func(t *actors.Turn) {
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Unobserve(ln.wild)
			for _, c := range ln.queue {
				t.Send(&tcp.Close{Remote: c.remoteRec, Local: c.localRec, How: tcp.CloseAbort})
				if c.lease != nil {
					t.Unobserve(c.lease)
					c.lease = nil
				}
				delete(ln.conns, c.remote)
			}
			ln.queue = nil
			if len(ln.conns) == 0 {
				t.Stop()
			}
			s.changed()
		})
	})
}

// Accept takes a connection from a listening socket's queue, waiting for
// one unless the socket (or flags, SOCK_NONBLOCK) is non-blocking; flags
// may also hold SOCK_CLOEXEC. It returns the new socket and the peer's
// address. Accepted sockets inherit the listener's options.
func (l *Lib) Accept(fd, flags int) (int, netip.AddrPort, error) {
	if flags&^(unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) != 0 {
		return -1, netip.AddrPort{}, unix.EINVAL
	}
	l.mu.Lock()
	s, err := l.get(fd)
	if err != nil {
		l.mu.Unlock()
		return -1, netip.AddrPort{}, err
	}
	if s.typ != unix.SOCK_STREAM {
		l.mu.Unlock()
		return -1, netip.AddrPort{}, unix.EOPNOTSUPP
	}
	dl := l.deadline(s.opts.rcvtimeo)
	for {
		switch {
		case s.fdClosed || l.closed:
			l.mu.Unlock()
			return -1, netip.AddrPort{}, unix.EBADF
		case s.state != stListening || s.ln.closed:
			l.mu.Unlock()
			return -1, netip.AddrPort{}, unix.EINVAL
		}
		if len(s.ln.queue) > 0 {
			break
		}
		if s.nonblock || !l.wait(dl) {
			l.mu.Unlock()
			if l.isClosed() {
				return -1, netip.AddrPort{}, unix.EBADF
			}
			return -1, netip.AddrPort{}, unix.EAGAIN
		}
	}
	c := s.ln.queue[0]
	stale, err := l.install(c, flags&unix.SOCK_CLOEXEC != 0)
	if err != nil {
		l.mu.Unlock()
		return -1, netip.AddrPort{}, err
	}
	s.ln.queue[0] = nil
	s.ln.queue = s.ln.queue[1:]
	c.nonblock = flags&unix.SOCK_NONBLOCK != 0
	s.changed()
	c.changed()
	l.mu.Unlock()
	if stale != nil {
		l.release(stale, true)
	}
	return c.fd, c.remote, nil
}

func (l *Lib) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}
