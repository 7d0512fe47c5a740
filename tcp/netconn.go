package tcp

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"
)

// NetConn is a net.Conn over a netspace TCP connection: what the
// connection delivers is buffered for Read and reported consumed as it is
// read (so a slow reader closes the window); Write waits for the
// connection's grants (so a writer cannot outrun the send buffer). It is
// safe for concurrent use, as net.Conn requires.
type NetConn struct {
	actor               *actors.Actor // the adapter actor that holds the subscriptions
	remoteRec, localRec ds.Record
	laddr, raddr        *net.TCPAddr
	release             func() // ends the subscription that keeps the connection
	reportAt            int    // consumed bytes reported in chunks of this size

	mu         sync.Mutex
	rbuf       [][]byte
	rlen       int
	eof        bool
	err        error // the connection's failure, reported by Read and Write
	credit     int
	closed     bool
	wclosed    bool
	unreported int
	rdl, wdl   time.Time
	rwake      chan struct{}
	wwake      chan struct{}

	wmu sync.Mutex // one Write at a time, so chunks keep their order
}

func newNetConn(remote, local netip.AddrPort, remoteRec, localRec ds.Record, reportAt int) *NetConn {
	return &NetConn{
		remoteRec: remoteRec, localRec: localRec,
		laddr: net.TCPAddrFromAddrPort(local), raddr: net.TCPAddrFromAddrPort(remote),
		reportAt: reportAt,
		rwake:    make(chan struct{}, 1), wwake: make(chan struct{}, 1),
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// stateGone is what an adapter makes of its connection's states being
// retracted: the connection's actor has ended.
const stateGone = "gone"

// deliver appends data from the connection (called by the adapter actor).
func (c *NetConn) deliver(data []byte) {
	c.mu.Lock()
	if !c.closed {
		c.rbuf = append(c.rbuf, data)
		c.rlen += len(data)
	}
	c.mu.Unlock()
	signal(c.rwake)
}

// grant adds send credit (called by the adapter actor).
func (c *NetConn) grant(n int) {
	c.mu.Lock()
	c.credit += n
	c.mu.Unlock()
	signal(c.wwake)
}

// setState applies a tcp-connection state (called by the adapter actor).
func (c *NetConn) setState(st string) {
	c.mu.Lock()
	switch st {
	case StatePeerClosed, "closed":
		c.eof = true
	case StateReset:
		c.err = syscall.ECONNRESET
	case StateRefused:
		c.err = syscall.ECONNREFUSED
	case StateTimeout:
		c.err = syscall.ETIMEDOUT
	case StateAborted:
		c.err = syscall.ECONNABORTED
	case stateGone:
		// The connection's actor ended: after a clean close its EOF or
		// error came first; otherwise it crashed (the peer was reset).
		if !c.eof && c.err == nil {
			c.err = syscall.ECONNABORTED
		}
	}
	c.mu.Unlock()
	signal(c.rwake)
	signal(c.wwake)
}

func (c *NetConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.laddr, Addr: c.raddr, Err: err}
}

// wait releases mu until woken or the deadline passes; it reports false
// on timeout.
func (c *NetConn) wait(wake chan struct{}, dl time.Time) bool {
	c.mu.Unlock()
	defer c.mu.Lock()
	if dl.IsZero() {
		<-wake
		return true
	}
	d := time.Until(dl)
	if d <= 0 {
		return false
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-wake:
		return true
	case <-tm.C:
		return false
	}
}

// Read implements net.Conn.
func (c *NetConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.mu.Lock()
	for {
		switch {
		case c.closed:
			c.mu.Unlock()
			return 0, c.opError("read", net.ErrClosed)
		case c.rlen > 0:
			n := 0
			for n < len(p) && len(c.rbuf) > 0 {
				k := copy(p[n:], c.rbuf[0])
				n += k
				if k == len(c.rbuf[0]) {
					c.rbuf[0] = nil
					c.rbuf = c.rbuf[1:]
				} else {
					c.rbuf[0] = c.rbuf[0][k:]
				}
			}
			c.rlen -= n
			c.unreported += n
			report := 0
			if c.unreported >= c.reportAt || c.rlen == 0 {
				report, c.unreported = c.unreported, 0
			}
			c.mu.Unlock()
			if report > 0 {
				c.actor.Send(&Consumed{Remote: c.remoteRec, Local: c.localRec, N: report})
			}
			return n, nil
		case c.eof:
			c.mu.Unlock()
			return 0, io.EOF
		case c.err != nil:
			err := c.err
			c.mu.Unlock()
			return 0, c.opError("read", err)
		}
		if !c.rdl.IsZero() && !time.Now().Before(c.rdl) || !c.wait(c.rwake, c.rdl) {
			c.mu.Unlock()
			return 0, c.opError("read", os.ErrDeadlineExceeded)
		}
	}
}

// maxChunk bounds the data of one tcp-channel message from Write.
const maxChunk = 64 << 10

// Write implements net.Conn.
func (c *NetConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	written := 0
	for written < len(p) {
		c.mu.Lock()
		for {
			if c.closed {
				c.mu.Unlock()
				return written, c.opError("write", net.ErrClosed)
			}
			if c.wclosed {
				c.mu.Unlock()
				return written, c.opError("write", syscall.EPIPE)
			}
			if c.err != nil {
				err := c.err
				c.mu.Unlock()
				return written, c.opError("write", err)
			}
			if c.credit > 0 {
				break
			}
			if !c.wdl.IsZero() && !time.Now().Before(c.wdl) || !c.wait(c.wwake, c.wdl) {
				c.mu.Unlock()
				return written, c.opError("write", os.ErrDeadlineExceeded)
			}
		}
		k := min(c.credit, len(p)-written, maxChunk)
		c.credit -= k
		c.mu.Unlock()
		chunk := append([]byte(nil), p[written:written+k]...)
		c.actor.Send(&Channel{Src: c.localRec, Dst: c.remoteRec, Data: chunk})
		written += k
	}
	return written, nil
}

// Close implements net.Conn: the connection closes (FIN), or is reset if
// received data was left unread.
func (c *NetConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opError("close", net.ErrClosed)
	}
	c.closed = true
	unread := c.rlen > 0
	c.rbuf, c.rlen = nil, 0
	c.mu.Unlock()
	signal(c.rwake)
	signal(c.wwake)
	how := CloseBoth
	if unread {
		how = CloseAbort
	}
	c.actor.Send(&Close{Remote: c.remoteRec, Local: c.localRec, How: how})
	c.release()
	return nil
}

// CloseWrite shuts down the writing side (FIN after the data written).
func (c *NetConn) CloseWrite() error {
	c.mu.Lock()
	if c.closed || c.wclosed {
		c.mu.Unlock()
		return nil
	}
	c.wclosed = true
	c.mu.Unlock()
	signal(c.wwake)
	c.actor.Send(&Close{Remote: c.remoteRec, Local: c.localRec, How: CloseWrite})
	return nil
}

// SetNoDelay switches Nagle's algorithm off (true) or on.
func (c *NetConn) SetNoDelay(on bool) error { return c.set(SetNoDelay, on) }

// SetKeepAlive switches keepalive probes on or off.
func (c *NetConn) SetKeepAlive(on bool) error { return c.set(SetKeepAlive, on) }

// SetKeepAlivePeriod sets the idle time before probes and between them.
func (c *NetConn) SetKeepAlivePeriod(d time.Duration) error {
	c.actor.Send(&Set{Remote: c.remoteRec, Local: c.localRec, Option: SetKeepIdle, Value: d.Milliseconds()})
	c.actor.Send(&Set{Remote: c.remoteRec, Local: c.localRec, Option: SetKeepInterval, Value: d.Milliseconds()})
	return nil
}

func (c *NetConn) set(opt string, on bool) error {
	v := int64(0)
	if on {
		v = 1
	}
	c.actor.Send(&Set{Remote: c.remoteRec, Local: c.localRec, Option: opt, Value: v})
	return nil
}

// LocalAddr implements net.Conn.
func (c *NetConn) LocalAddr() net.Addr { return c.laddr }

// RemoteAddr implements net.Conn.
func (c *NetConn) RemoteAddr() net.Addr { return c.raddr }

// SetDeadline implements net.Conn.
func (c *NetConn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline implements net.Conn.
func (c *NetConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl = t
	c.mu.Unlock()
	signal(c.rwake)
	return nil
}

// SetWriteDeadline implements net.Conn.
func (c *NetConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wdl = t
	c.mu.Unlock()
	signal(c.wwake)
	return nil
}

var _ net.Conn = (*NetConn)(nil)

// errNoStack is returned when the stack's actors are gone.
var errNoStack = errors.New("tcp: the stack is not running")
