package sockapi

import (
	"net/netip"
	"time"

	"netspace/tcp"

	"golang.org/x/sys/unix"
)

// maxIO bounds the bytes one call reads or writes, as Linux's
// MAX_RW_COUNT does.
const maxIO = 1<<31 - 4096

// Read is Recv into one buffer with no flags.
func (l *Lib) Read(fd int, p []byte) (int, error) {
	n, _, err := l.Recv(fd, [][]byte{p}, 0)
	return n, err
}

// Write is Send of one buffer with no flags and no address.
func (l *Lib) Write(fd int, p []byte) (int, error) {
	return l.Send(fd, [][]byte{p}, 0, netip.AddrPort{})
}

// Recv reads into bufs in order (readv, recv, recvfrom), and returns the
// bytes read and, for a datagram socket, the sender. Flags: MSG_PEEK,
// MSG_DONTWAIT, MSG_WAITALL (stream), MSG_TRUNC (datagram: return the
// datagram's whole length). A stream returns 0 at end of stream and after
// its connection failed (once the error was reported); a blocking call
// waits up to SO_RCVTIMEO, then EAGAIN.
func (l *Lib) Recv(fd int, bufs [][]byte, flags int) (int, netip.AddrPort, error) {
	if flags&unix.MSG_OOB != 0 {
		return -1, netip.AddrPort{}, unix.EINVAL
	}
	l.mu.Lock()
	s, err := l.get(fd)
	if err != nil {
		l.mu.Unlock()
		return -1, netip.AddrPort{}, err
	}
	if s.typ == unix.SOCK_DGRAM {
		return l.udpRecv(s, bufs, flags) // unlocks
	}
	n, err := l.recvStream(s, bufs, flags) // unlocks
	return n, s.remote, err
}

// recvStream reads from a stream socket (l.mu held; released on
// return).
func (l *Lib) recvStream(s *socket, bufs [][]byte, flags int) (int, error) {
	defer l.mu.Unlock()
	total := min(buffersLen(bufs), maxIO)
	nonblock := s.nonblock || flags&unix.MSG_DONTWAIT != 0
	peek := flags&unix.MSG_PEEK != 0
	waitall := flags&unix.MSG_WAITALL != 0 && !peek && !nonblock
	dl := l.deadline(s.opts.rcvtimeo)
	n := 0
	for {
		if s.fdClosed || l.closed {
			if n > 0 {
				break
			}
			return -1, unix.EBADF
		}
		switch s.state {
		case stListening:
			return -1, unix.ENOTCONN
		case stFresh:
			if err := s.takeErr(); err != 0 {
				return -1, err
			}
			return -1, unix.ENOTCONN
		}
		if s.rlen > 0 && n < total {
			k := takeData(s, bufs, n, total, peek)
			n += k
			if peek || !waitall || n == total {
				break
			}
			continue
		}
		if total == 0 {
			return 0, nil
		}
		if s.soErr != 0 {
			if n > 0 {
				break
			}
			return -1, s.takeErr()
		}
		if s.peerClosed || s.dead || s.rdShut {
			break
		}
		if nonblock {
			if n > 0 {
				break
			}
			return -1, unix.EAGAIN
		}
		// The peer may be waiting for the window we took: report it
		// before we sleep (and look again: the report let go of l.mu).
		if l.reportConsumed(s, true) {
			continue
		}
		if !l.wait(dl) {
			if n > 0 {
				break
			}
			if l.closed {
				return -1, unix.EBADF
			}
			return -1, unix.EAGAIN
		}
	}
	l.reportConsumed(s, false)
	s.changed()
	return n, nil
}

// takeData copies buffered data into bufs from offset off, at most
// total-off bytes, consuming it unless peek (l.mu held).
func takeData(s *socket, bufs [][]byte, off, total int, peek bool) int {
	n := 0
	bi, boff := seek(bufs, off)
	ri, roff := 0, 0
	for off+n < total && ri < len(s.rbuf) && bi < len(bufs) {
		k := copy(bufs[bi][boff:], s.rbuf[ri][roff:])
		k = min(k, total-off-n)
		n += k
		boff += k
		roff += k
		if boff == len(bufs[bi]) {
			bi, boff = bi+1, 0
		}
		if roff == len(s.rbuf[ri]) {
			ri, roff = ri+1, 0
		}
	}
	if peek {
		return n
	}
	for i := 0; i < ri; i++ {
		s.rbuf[i] = nil
	}
	s.rbuf = s.rbuf[ri:]
	if len(s.rbuf) > 0 {
		s.rbuf[0] = s.rbuf[0][roff:]
	} else {
		s.rbuf = nil
	}
	s.rlen -= n
	s.unreported += n
	return n
}

// seek returns the buffer and offset where byte off of bufs falls.
func seek(bufs [][]byte, off int) (int, int) {
	for i, b := range bufs {
		if off < len(b) {
			return i, off
		}
		off -= len(b)
	}
	return len(bufs), 0
}

func buffersLen(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}

// reportConsumed tells the connection how much the user has read, once
// it is enough or the buffer is empty (or now, if force), so the window
// opens (l.mu held; released while it sends). It reports whether it
// sent, and so let go of l.mu.
func (l *Lib) reportConsumed(s *socket, force bool) bool {
	if s.unreported == 0 || s.actor == nil || !force && s.unreported < reportAt && s.rlen > 0 {
		return false
	}
	m := &tcp.Consumed{Remote: s.remoteRec, Local: s.localRec, N: s.unreported}
	s.unreported = 0
	actor := s.actor
	l.mu.Unlock()
	l.run(func() { actor.Send(m) })
	l.mu.Lock()
	return true
}

// Send writes bufs in order (writev, send, sendto) and returns the bytes
// written. A blocking stream socket writes everything (waiting for the
// connection's send space, up to SO_SNDTIMEO); a non-blocking one as much
// as fits, or EAGAIN. Writing to a closed or failed connection is EPIPE
// (the pending error first); no signal is raised. Flags: MSG_DONTWAIT;
// MSG_NOSIGNAL and MSG_MORE are accepted and change nothing. to is the
// destination of a datagram (ignored by a stream socket).
func (l *Lib) Send(fd int, bufs [][]byte, flags int, to netip.AddrPort) (int, error) {
	if flags&unix.MSG_OOB != 0 {
		return -1, unix.EOPNOTSUPP
	}
	l.mu.Lock()
	s, err := l.get(fd)
	if err != nil {
		l.mu.Unlock()
		return -1, err
	}
	if s.typ == unix.SOCK_DGRAM {
		l.mu.Unlock()
		return l.udpSend(s, bufs, flags, to)
	}
	l.mu.Unlock()
	return l.sendStream(s, bufs, flags)
}

func (l *Lib) sendStream(s *socket, bufs [][]byte, flags int) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	total := min(buffersLen(bufs), maxIO)
	l.mu.Lock()
	nonblock := s.nonblock || flags&unix.MSG_DONTWAIT != 0
	dl := l.deadline(s.opts.sndtimeo)
	l.mu.Unlock()
	if total == 0 {
		l.mu.Lock()
		_, err := l.awaitCredit(s, true, dl)
		l.mu.Unlock()
		if err != nil && err != unix.EAGAIN {
			return -1, err
		}
		return 0, nil
	}
	written := 0
	for written < total {
		l.mu.Lock()
		k, err := l.awaitCredit(s, nonblock, dl)
		if err != nil {
			l.mu.Unlock()
			if written > 0 {
				return written, nil
			}
			return -1, err
		}
		k = min(k, total-written, maxChunk)
		s.credit -= k
		s.changed()
		actor, m := s.actor, &tcp.Channel{Src: s.localRec, Dst: s.remoteRec, Data: gather(bufs, written, k)}
		l.mu.Unlock()
		l.run(func() { actor.Send(m) })
		written += k
	}
	return written, nil
}

// awaitCredit waits until the stream may be written and returns the send
// space, or the error that stops a writer (l.mu held).
func (l *Lib) awaitCredit(s *socket, nonblock bool, dl time.Time) (int, error) {
	for {
		if s.fdClosed || l.closed {
			return 0, unix.EBADF
		}
		switch s.state {
		case stFresh, stListening:
			if err := s.takeErr(); err != 0 {
				return 0, err
			}
			return 0, unix.EPIPE
		case stConnected:
			if s.wrShut || s.finished {
				return 0, unix.EPIPE
			}
			if s.dead {
				if err := s.takeErr(); err != 0 {
					return 0, err
				}
				return 0, unix.EPIPE
			}
			if s.credit > 0 {
				return s.credit, nil
			}
		}
		if nonblock {
			return 0, unix.EAGAIN
		}
		if !l.wait(dl) {
			if l.closed {
				return 0, unix.EBADF
			}
			return 0, unix.EAGAIN
		}
	}
}

// gather copies n bytes of bufs from offset off.
func gather(bufs [][]byte, off, n int) []byte {
	out := make([]byte, 0, n)
	bi, boff := seek(bufs, off)
	for len(out) < n && bi < len(bufs) {
		k := min(len(bufs[bi])-boff, n-len(out))
		out = append(out, bufs[bi][boff:boff+k]...)
		bi, boff = bi+1, 0
	}
	return out
}

// Shutdown closes one or both directions of a connection: SHUT_WR sends
// a FIN after the data written; SHUT_RD makes reads return end of stream
// once the data received is read. On a listening socket SHUT_RD stops
// listening (Accept then fails with EINVAL).
func (l *Lib) Shutdown(fd, how int) error {
	if how != unix.SHUT_RD && how != unix.SHUT_WR && how != unix.SHUT_RDWR {
		return unix.EINVAL
	}
	rd, wr := how != unix.SHUT_WR, how != unix.SHUT_RD
	l.mu.Lock()
	s, err := l.get(fd)
	if err != nil {
		l.mu.Unlock()
		return err
	}
	if s.typ == unix.SOCK_DGRAM {
		defer l.mu.Unlock()
		if s.udp == nil || !s.udp.peer.IsValid() {
			return unix.ENOTCONN
		}
		s.rdShut, s.wrShut = s.rdShut || rd, s.wrShut || wr
		s.changed()
		return nil
	}
	switch s.state {
	case stListening:
		l.mu.Unlock()
		if rd {
			l.stopListening(s)
		}
		return nil
	case stFresh, stConnecting:
		l.mu.Unlock()
		return unix.ENOTCONN
	}
	s.rdShut = s.rdShut || rd
	fin := wr && !s.wrShut && !s.dead && !s.finished
	s.wrShut = s.wrShut || wr
	s.changed()
	actor, m := s.actor, &tcp.Close{Remote: s.remoteRec, Local: s.localRec, How: tcp.CloseWrite}
	l.mu.Unlock()
	if fin && actor != nil {
		l.run(func() { actor.Send(m) })
	}
	return nil
}
