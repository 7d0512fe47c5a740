package sockapi

import (
	"net/netip"
	"sync"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/tcp"

	"golang.org/x/sys/unix"
)

// sockState is where a socket is in its life, as the BSD API sees it.
type sockState uint8

const (
	stFresh      sockState = iota // created, perhaps bound; also after a failed connect
	stListening                   // listen() called
	stConnecting                  // connect() in progress
	stConnected                   // the connection was established (it may have ended since)
)

// socket is one socket. Its fields are guarded by Lib.mu, except where
// noted.
type socket struct {
	l        *Lib
	fd       int
	typ      int // SOCK_STREAM or SOCK_DGRAM
	nonblock bool
	fdClosed bool // closed by the user: the socket is out of the table
	state    sockState
	port     uint16 // local port once bound (or accepted)
	bindAddr netip.Addr
	remote   netip.AddrPort
	opts     sockOpts
	evOn     bool // the eventfd reads as readable

	// A TCP connection.
	actor               *actors.Actor // sends for it: its own actor, or its listener's
	remoteRec, localRec ds.Record
	owner               *listener            // the listener that accepted it
	lease               *actors.Subscription // owned by the listener's turns
	lastMsg             ds.Record            // the last data message taken (wildcard and lease both carry it)
	rbuf                [][]byte
	rlen                int
	unreported          int // bytes read and not yet reported consumed
	credit              int // bytes the connection lets us write
	peerClosed          bool
	finished            bool // the connection closed normally
	dead                bool // reset, refused, timed out or aborted
	rdShut, wrShut      bool
	soErr               unix.Errno // pending error (SO_ERROR)
	connectPending      bool       // a non-blocking connect's outcome is still to be told to Connect
	draining            bool       // closed by the user; its connection has not finished
	wmu                 sync.Mutex // one writer at a time (not under Lib.mu)

	ln  *listener // a listening socket's listener
	udp *udpSock  // a datagram socket
}

func (l *Lib) newSocket(typ int) *socket {
	s := &socket{l: l, fd: -1, typ: typ, opts: l.defaultOpts()}
	if typ == unix.SOCK_DGRAM {
		s.opts.rcvbuf = udpRcvbuf
	}
	return s
}

// reportAt is how many bytes a reader takes before it reports them
// consumed, unless it empties the buffer first.
const reportAt = 64 << 10

// maxChunk bounds the data of one tcp-channel message.
const maxChunk = 64 << 10

// readyMask returns the poll events the socket would report now.
func (s *socket) readyMask() int16 {
	var m int16
	if s.soErr != 0 {
		m |= unix.POLLERR
	}
	if s.typ == unix.SOCK_DGRAM {
		if u := s.udp; u != nil && len(u.q) > 0 {
			m |= unix.POLLIN | pollRdNorm
		}
		return m | unix.POLLOUT | pollWrNorm
	}
	switch s.state {
	case stFresh:
		// Linux: an unconnected stream socket is writable and hung up.
		m |= unix.POLLOUT | pollWrNorm | unix.POLLHUP
	case stListening:
		if len(s.ln.queue) > 0 {
			m |= unix.POLLIN | pollRdNorm
		}
	case stConnected:
		rdone := s.peerClosed || s.rdShut || s.dead
		if s.rlen > 0 || rdone {
			m |= unix.POLLIN | pollRdNorm
		}
		if s.peerClosed || s.rdShut {
			m |= unix.POLLRDHUP
		}
		if s.credit > 0 || s.wrShut || s.dead || s.finished {
			m |= unix.POLLOUT | pollWrNorm
		}
		if s.dead || rdone && (s.wrShut || s.finished) {
			m |= unix.POLLHUP
		}
	}
	return m
}

// refresh mirrors the socket's readability in its eventfd, so that
// poll(2) on the descriptor sees it (Lib.mu held).
func (s *socket) refresh() {
	if s.fd < 0 || s.fdClosed {
		return
	}
	on := s.readyMask()&(unix.POLLIN|unix.POLLERR|unix.POLLHUP) != 0
	if on == s.evOn {
		return
	}
	var b [8]byte
	if on {
		b[0] = 1 // little-endian 1
		if _, err := unix.Write(s.fd, b[:]); err != nil {
			return
		}
	} else if _, err := unix.Read(s.fd, b[:]); err != nil {
		return
	}
	s.evOn = on
}

// changed records that s changed: its eventfd, and every waiter (Lib.mu
// held).
func (s *socket) changed() {
	s.refresh()
	s.l.notify()
}

// deliver appends data from the connection (a turn, Lib.mu held). m is
// the message carrying it: the same message reaching us twice, through a
// listener's wildcard interest and a connection's lease, counts once.
func (s *socket) deliver(m ds.Record, data []byte) {
	if m == s.lastMsg || len(data) == 0 {
		return
	}
	s.lastMsg = m
	s.rbuf = append(s.rbuf, data)
	s.rlen += len(data)
	s.changed()
}

// grant adds send credit (a turn, Lib.mu held).
func (s *socket) grant(n int) {
	s.credit += n
	s.changed()
}

// setConnState applies a tcp-connection state (a turn, Lib.mu held). It
// reports whether an active open has just failed.
func (s *socket) setConnState(st string) (failed bool) {
	defer s.changed()
	connecting := s.state == stConnecting
	var err unix.Errno
	switch st {
	case tcp.StateConnecting:
		return false
	case tcp.StateEstablished:
		if connecting {
			s.state = stConnected
			s.opts.rcvbuf = s.l.prof.connectedRcvbuf(s.opts.rcvbuf, s.l.prof.conn.MSS)
		}
		return false
	case tcp.StatePeerClosed:
		s.peerClosed = true
		return false
	case "closed":
		s.peerClosed, s.finished = true, true
		if connecting {
			s.state = stConnected
		}
		return false
	case tcp.StateReset:
		err = unix.ECONNRESET
		if connecting {
			err = unix.ECONNREFUSED
		}
	case tcp.StateRefused:
		err = unix.ECONNREFUSED
	case tcp.StateTimeout:
		err = unix.ETIMEDOUT
	default: // aborted
		err = unix.ECONNABORTED
		if connecting {
			err = unix.ENETUNREACH // no local address or port to connect from
		}
	}
	if connecting {
		s.state = stFresh // a failed connect leaves the socket unconnected
		s.soErr = err
		return true
	}
	if !s.dead {
		s.dead = true
		s.soErr = err
	}
	return false
}

// takeErr returns and clears the pending error.
func (s *socket) takeErr() unix.Errno {
	err := s.soErr
	s.soErr = 0
	return err
}

// release ends the stack side of a socket whose descriptor is gone
// (without Lib.mu). The connection closes as close(2) closes it, and
// drains in the background: it lets go of the connection once it has
// finished (see finishDrain), as a kernel goes on sending what a closed
// socket left queued. discard skips lingering: the socket was forgotten
// (its descriptor closed with close(2)), not closed with Close.
func (l *Lib) release(s *socket, discard bool) {
	if s.typ == unix.SOCK_DGRAM {
		l.udpClose(s)
		return
	}
	l.mu.Lock()
	state, actor := s.state, s.actor
	unread := s.rlen > 0
	s.rbuf, s.rlen = nil, 0
	lg, nonblock := s.opts.linger, s.nonblock
	remoteRec, localRec := s.remoteRec, s.localRec
	s.changed()
	l.mu.Unlock()
	switch {
	case state == stListening:
		l.stopListening(s)
		return
	case actor == nil:
		return // never connected, or its connect failed
	}
	// Say how to close before letting go: a connection whose user
	// vanishes without a word is reset.
	how := tcp.CloseBoth
	if unread || lg.Onoff != 0 && lg.Linger == 0 {
		how = tcp.CloseAbort
	}
	l.run(func() { actor.Send(&tcp.Close{Remote: remoteRec, Local: localRec, How: how}) })
	l.mu.Lock()
	defer l.mu.Unlock()
	if how == tcp.CloseBoth && lg.Onoff != 0 && !nonblock && !discard && state == stConnected {
		// SO_LINGER: wait (up to the linger time) for the connection to
		// finish.
		dl := l.deadline(time.Duration(lg.Linger) * time.Second)
		for !s.finished && !s.dead && l.wait(dl) {
		}
	}
	if !s.draining {
		s.draining = true
		l.draining++
	}
	if s.finished || s.dead {
		l.mu.Unlock()
		l.run(func() { s.actor.Inject(func(t *actors.Turn) { l.finishDrain(t, s) }) })
		l.mu.Lock()
	}
}

// finishDrain lets go of a closed socket's connection once it has
// finished (a turn of the actor that holds it). It is called for every
// state change of a connection; it does nothing until the socket is
// closed and the connection over.
func (l *Lib) finishDrain(t *actors.Turn, s *socket) {
	l.mu.Lock()
	if !s.draining || !s.finished && !s.dead {
		l.mu.Unlock()
		return
	}
	s.draining = false
	l.draining--
	l.notify()
	ln := s.owner
	l.mu.Unlock()
	if ln == nil {
		t.Stop() // an active open's own actor
		return
	}
	l.forgetConn(t, ln, s)
}
