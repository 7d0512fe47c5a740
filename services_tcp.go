package netspace

import (
	"bytes"
	"fmt"
	"net/http"
	"net/netip"
	"sync"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/tcp"
)

// tcpService is the frame of a TCP service written as one plain actor for
// all its connections, through the tcp records — the shape to copy for a
// service of your own. It learns of connections from tcp-connection(?,
// tcp-listener(port), ?), receives their data from tcp-channel(?,
// tcp-listener(port), ?) — the interest that opens the port — and its
// send grants from tcp-writable. svcConn.send writes only what was
// granted and queues the rest; a service reports data consumed only when
// it is done with it, so a slow peer slows its sender and memory stays
// bounded by the windows.
//
// A service may run its data handlers inline (inline = true): onData and
// onSent then run on the connection actor's goroutine as part of its
// send (actors.Turn.ObserveInline), so a request and its reply wake one
// goroutine instead of three; the service's table is then guarded by mu.
type tcpService struct {
	port   uint16
	inline bool
	local  *tcp.Listener
	mu     sync.Mutex
	conns  map[netip.AddrPort]*svcConn

	onOpen       func(t sender, c *svcConn)              // established
	onData       func(t sender, c *svcConn, data []byte) // data arrived
	onSent       func(t sender, c *svcConn, n int)       // n queued bytes left on a new grant
	onPeerClosed func(t sender, c *svcConn)              // the peer half-closed
	onGone       func(t sender, c *svcConn)              // closed, reset or timed out
}

// sender sends messages: a turn, or an inline context.
type sender interface{ Send(m ds.Record) }

// svcConn is one connection of a tcpService.
type svcConn struct {
	svc        *tcpService
	remote     ds.Record
	addr       netip.AddrPort
	credit     int      // bytes we may still write
	queue      [][]byte // data waiting for credit
	queuedLen  int
	peerClosed bool
	closed     bool
	state      any // the service's own
}

// send writes data (and what was queued before it) as far as the grants
// allow, queues the rest, and returns the bytes written now.
func (c *svcConn) send(t sender, data []byte) int {
	if len(data) > 0 {
		c.queue = append(c.queue, data)
		c.queuedLen += len(data)
	}
	sent := 0
	for len(c.queue) > 0 && c.credit > 0 && !c.closed {
		d := c.queue[0]
		n := min(len(d), c.credit)
		t.Send(&tcp.Channel{Src: c.svc.local, Dst: c.remote, Data: d[:n]})
		c.credit -= n
		c.queuedLen -= n
		sent += n
		if n == len(d) {
			c.queue[0] = nil
			c.queue = c.queue[1:]
		} else {
			c.queue[0] = d[n:]
		}
	}
	return sent
}

func (c *svcConn) consume(t sender, n int) {
	if n > 0 {
		t.Send(&tcp.Consumed{Remote: c.remote, Local: c.svc.local, N: n})
	}
}

func (c *svcConn) close(t sender, how string) {
	if !c.closed {
		c.closed = true
		t.Send(&tcp.Close{Remote: c.remote, Local: c.svc.local, How: how})
	}
}

func addrOf(v ds.Value) netip.AddrPort {
	r := v.AsRecord()
	return netip.AddrPortFrom(r.Field(0).AsAddr(), uint16(r.Field(1).AsInt()))
}

func (s *tcpService) boot(t *actors.Turn) {
	s.local = &tcp.Listener{Port: s.port}
	s.conns = map[netip.AddrPort]*svcConn{}
	lp := tcp.ListenerPattern(s.port)
	t.Observe(ds.RecordPattern(tcp.LabelConnection, ds.CaptureAny, lp, ds.CaptureAny), actors.Handler{
		// States accumulate; their retraction means the connection's
		// actor is gone (closed for good, or crashed).
		Removed: func(t *actors.Turn, caps []ds.Value) {
			s.mu.Lock()
			defer s.mu.Unlock()
			a := addrOf(caps[0])
			if c := s.conns[a]; c != nil {
				delete(s.conns, a)
				if s.onGone != nil {
					s.onGone(t, c)
				}
			}
		},
		Added: func(t *actors.Turn, caps []ds.Value) {
			s.mu.Lock()
			defer s.mu.Unlock()
			a := addrOf(caps[0])
			c := s.conns[a]
			switch caps[1].AsString() {
			case tcp.StateEstablished:
				if c == nil {
					s.open(t, caps[0].AsRecord(), a)
				}
			case tcp.StatePeerClosed:
				if c != nil && !c.peerClosed {
					c.peerClosed = true
					if s.onPeerClosed != nil {
						s.onPeerClosed(t, c)
					}
				}
			default: // closed, reset, timeout, aborted
				if c != nil {
					delete(s.conns, a)
					if s.onGone != nil {
						s.onGone(t, c)
					}
				}
			}
		},
	})
	// Data and grants come only from an established connection; inline,
	// they can overtake the tcp-connection event still in this actor's
	// mailbox, so they open the connection's entry if need be.
	onData := func(t sender, m ds.Record) {
		ch := m.(*tcp.Channel)
		s.mu.Lock()
		defer s.mu.Unlock()
		if c := s.conn(t, ch.Src); s.onData != nil {
			s.onData(t, c, ch.Data)
		}
	}
	onWritable := func(t sender, m ds.Record) {
		w := m.(*tcp.Writable)
		s.mu.Lock()
		defer s.mu.Unlock()
		if c := s.conn(t, w.Remote); c != nil {
			c.credit += w.N
			if n := c.send(t, nil); s.onSent != nil {
				s.onSent(t, c, n)
			}
		}
	}
	data, writable := tcp.ChannelFrom(lp), ds.RecordPattern(tcp.LabelWritable, ds.CaptureAny, lp, ds.CaptureAny)
	if s.inline {
		t.ObserveInline(data, func(in actors.Inline, m ds.Record) { onData(in, m) })
		t.ObserveInline(writable, func(in actors.Inline, m ds.Record) { onWritable(in, m) })
		return
	}
	t.Observe(data, actors.Handler{Message: func(t *actors.Turn, m ds.Record) { onData(t, m) }})
	t.Observe(writable, actors.Handler{Message: func(t *actors.Turn, m ds.Record) { onWritable(t, m) }})
}

// open records a new connection (with mu held) and calls onOpen.
func (s *tcpService) open(t sender, remote ds.Record, a netip.AddrPort) *svcConn {
	c := &svcConn{svc: s, remote: remote, addr: a}
	s.conns[a] = c
	if s.onOpen != nil {
		s.onOpen(t, c)
	}
	return c
}

// conn returns the entry of the connection to remote, opening it if
// need be (with mu held).
func (s *tcpService) conn(t sender, remote ds.Record) *svcConn {
	a := addrOf(ds.Rec(remote))
	if c := s.conns[a]; c != nil {
		return c
	}
	return s.open(t, remote, a)
}

// ServeTCPEcho serves TCP echo (RFC 862) on port. Data is reported
// consumed only once echoed, so a peer that does not read its echoes is
// stopped by its own window; after the peer half-closes and everything is
// echoed, the connection closes. Its data handlers run inline.
func (s *Stack) ServeTCPEcho(port uint16) *actors.Actor {
	svc := &tcpService{port: port, inline: true}
	done := func(t sender, c *svcConn) {
		if c.peerClosed && c.queuedLen == 0 {
			c.close(t, tcp.CloseWrite)
		}
	}
	svc.onData = func(t sender, c *svcConn, data []byte) { c.consume(t, c.send(t, data)) }
	svc.onSent = func(t sender, c *svcConn, n int) { c.consume(t, n); done(t, c) }
	svc.onPeerClosed = done
	return s.Spawn(fmt.Sprintf("tcp-echo:%d", port), svc.boot)
}

// ServeTCPDiscard serves TCP discard (RFC 863) on port: data is consumed
// and dropped; the connection closes after the peer half-closes.
func (s *Stack) ServeTCPDiscard(port uint16) *actors.Actor {
	svc := &tcpService{port: port, inline: true}
	svc.onData = func(t sender, c *svcConn, data []byte) { c.consume(t, len(data)) }
	svc.onPeerClosed = func(t sender, c *svcConn) { c.close(t, tcp.CloseWrite) }
	return s.Spawn(fmt.Sprintf("tcp-discard:%d", port), svc.boot)
}

// sourceChunk is what the source service writes, over and over.
var sourceChunk = bytes.Repeat([]byte("netspace source: 0123456789abcdefghijklmnopqrstuvwxyz\n"), 1200)

// ServeTCPSource serves an endless stream on port (like chargen, RFC 864,
// without its line pattern) until the peer closes.
func (s *Stack) ServeTCPSource(port uint16) *actors.Actor {
	svc := &tcpService{port: port, inline: true}
	fill := func(t sender, c *svcConn) {
		for c.credit > 0 && !c.closed {
			c.send(t, sourceChunk[:min(len(sourceChunk), c.credit)])
		}
	}
	svc.onData = func(t sender, c *svcConn, data []byte) { c.consume(t, len(data)) }
	svc.onSent = func(t sender, c *svcConn, _ int) { fill(t, c) }
	svc.onPeerClosed = func(t sender, c *svcConn) { c.close(t, tcp.CloseBoth) }
	return s.Spawn(fmt.Sprintf("tcp-source:%d", port), svc.boot)
}

// ServeChat serves a line-based chat room on port: every line a
// connection sends goes to all the others, prefixed with its address.
// Lines longer than 4 KiB are cut. It is a plain user actor on the tcp
// records, meant to be read.
func (s *Stack) ServeChat(port uint16) *actors.Actor {
	svc := &tcpService{port: port}
	broadcast := func(t sender, from *svcConn, line string) {
		for _, c := range svc.conns {
			if c != from && !c.closed {
				c.send(t, []byte(line))
			}
		}
	}
	svc.onOpen = func(t sender, c *svcConn) {
		c.state = new(bytes.Buffer)
		c.send(t, []byte(fmt.Sprintf("welcome, %v; %d here\n", c.addr, len(svc.conns))))
		broadcast(t, c, fmt.Sprintf("* %v joined\n", c.addr))
	}
	svc.onData = func(t sender, c *svcConn, data []byte) {
		buf := c.state.(*bytes.Buffer)
		buf.Write(data)
		for {
			i := bytes.IndexByte(buf.Bytes(), '\n')
			if i < 0 {
				if buf.Len() > 4096 {
					broadcast(t, c, fmt.Sprintf("%v: %s\n", c.addr, buf.Next(4096)))
					continue
				}
				break
			}
			line := buf.Next(i + 1)
			broadcast(t, c, fmt.Sprintf("%v: %s", c.addr, line))
		}
		c.consume(t, len(data))
	}
	svc.onPeerClosed = func(t sender, c *svcConn) { c.close(t, tcp.CloseBoth) }
	svc.onGone = func(t sender, c *svcConn) { broadcast(t, c, fmt.Sprintf("* %v left\n", c.addr)) }
	return s.Spawn(fmt.Sprintf("chat:%d", port), svc.boot)
}

// ServeHTTP serves h with net/http on port, over the stack's
// net.Listener adapter. The server stops with the stack.
func (s *Stack) ServeHTTP(port uint16, h http.Handler) error {
	l, err := s.Net.Listen(port)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h}
	s.onClose = append(s.onClose, func() { srv.Close() })
	go srv.Serve(l)
	return nil
}

// HelloHandler answers every GET with "hello\n" (the netbench contract).
func HelloHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("hello\n"))
	})
}
