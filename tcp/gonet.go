package tcp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"
)

// Net gives Go programs a stack's TCP through the standard interfaces:
// Listen returns a net.Listener, Dial a net.Conn, and DialContext fits
// http.Transport. Underneath they are actors speaking the same records
// as every other user of the stack.
type Net struct {
	sys    *actors.System
	nextID atomic.Uint64
	// ReportAt is how many bytes a NetConn reads before it reports them
	// consumed (default 64 KiB).
	ReportAt int
}

// NewNet returns the Go adapters of the stack running in sys.
func NewNet(sys *actors.System) *Net { return &Net{sys: sys, ReportAt: 64 << 10} }

// NetListener is a net.Listener over a stack's TCP port.
type NetListener struct {
	actor  *actors.Actor
	port   uint16
	addr   *net.TCPAddr
	accept chan *NetConn
	done   chan struct{}
	once   sync.Once
	stop   func() // set by the adapter actor's boot turn
}

// Listen opens port and returns its listener once the stack accepts
// connections on it.
func (n *Net) Listen(port uint16) (*NetListener, error) {
	if port == 0 {
		return nil, fmt.Errorf("tcp: Listen needs a port")
	}
	l := &NetListener{port: port, addr: &net.TCPAddr{Port: int(port)},
		accept: make(chan *NetConn, 128), done: make(chan struct{})}
	ready := make(chan struct{})
	var readyOnce sync.Once
	l.actor = n.sys.Spawn(fmt.Sprintf("go-listener:%d", port), func(t *actors.Turn) {
		n.bootListener(t, l, func() { readyOnce.Do(func() { close(ready) }) })
	})
	select {
	case <-ready:
		return l, nil
	case <-time.After(10 * time.Second):
		l.Close()
		return nil, fmt.Errorf("tcp: port %d did not open: %w", port, errNoStack)
	}
}

func (n *Net) bootListener(t *actors.Turn, l *NetListener, ready func()) {
	me := t.Actor()
	local := ListenerPattern(l.port)
	localRec := &Listener{Port: l.port}
	conns := map[netip.AddrPort]*NetConn{}
	leases := map[netip.AddrPort]*actors.Subscription{}
	closed := false // the net.Listener is closed: accepted connections read through their leases
	remoteOf := func(v ds.Value) netip.AddrPort {
		r := v.AsRecord()
		return netip.AddrPortFrom(r.Field(0).AsAddr(), uint16(r.Field(1).AsInt()))
	}
	t.Observe(ds.RecordPattern(LabelListening, ds.Lit(ds.Int(int64(l.port)))), actors.Handler{
		Added: func(*actors.Turn, []ds.Value) { ready() },
	})
	wild := t.Observe(ChannelFrom(local), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) {
			ch := m.(*Channel)
			if c := conns[remoteOf(ds.Rec(ch.Src))]; c != nil {
				c.deliver(ch.Data)
			}
		},
	})
	t.Observe(ds.RecordPattern(LabelWritable, ds.CaptureAny, local, ds.CaptureAny), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) {
			w := m.(*Writable)
			if c := conns[remoteOf(ds.Rec(w.Remote))]; c != nil {
				c.grant(w.N)
			}
		},
	})
	drop := func(t *actors.Turn, r netip.AddrPort) {
		t.Unobserve(leases[r])
		delete(leases, r)
		delete(conns, r)
		if closed && len(conns) == 0 {
			t.Stop()
		}
	}
	t.Observe(ds.RecordPattern(LabelConnection, ds.CaptureAny, local, ds.CaptureAny), actors.Handler{
		Removed: func(t *actors.Turn, caps []ds.Value) {
			if c := conns[remoteOf(caps[0])]; c != nil {
				c.setState(stateGone)
			}
		},
		Added: func(t *actors.Turn, caps []ds.Value) {
			r, st := remoteOf(caps[0]), caps[1].AsString()
			if c := conns[r]; c != nil {
				c.setState(st)
				return
			}
			if st != StateEstablished || closed {
				return
			}
			lp := netip.AddrPortFrom(netip.Addr{}, l.port)
			remoteRec := caps[0].AsRecord()
			c := newNetConn(r, lp, remoteRec, localRec, n.ReportAt)
			c.actor = me
			c.release = func() { me.Inject(func(t *actors.Turn) { drop(t, r) }) }
			conns[r] = c
			// A lease: specific interest keeps the connection ours after
			// the listener closes; its data arrives here only then.
			leases[r] = t.Observe(ds.RecordPattern(LabelChannel, userPattern(remoteRec), local, ds.CaptureAny), actors.Handler{
				Message: func(t *actors.Turn, m ds.Record) {
					if closed {
						c.deliver(m.(*Channel).Data)
					}
				},
			})
			select {
			case l.accept <- c:
			default:
				// The accept queue is full: refuse the connection.
				t.Send(&Close{Remote: remoteRec, Local: localRec, How: CloseAbort})
				drop(t, r)
			}
		},
	})
	l.stop = func() {
		me.Inject(func(t *actors.Turn) {
			closed = true
			t.Unobserve(wild)
			for {
				select {
				case c := <-l.accept:
					c.Close()
					continue
				default:
				}
				break
			}
			if len(conns) == 0 {
				t.Stop()
			}
		})
	}
}

// Accept implements net.Listener.
func (l *NetListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.accept:
		return c, nil
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: net.ErrClosed}
	}
}

// Close implements net.Listener: no more connections are accepted;
// accepted ones carry on.
func (l *NetListener) Close() error {
	l.once.Do(func() {
		close(l.done)
		if l.stop != nil {
			l.stop()
		}
	})
	return nil
}

// Addr implements net.Listener.
func (l *NetListener) Addr() net.Addr { return l.addr }

// Dial opens a connection to remote and returns it once established.
func (n *Net) Dial(ctx context.Context, remote netip.AddrPort) (*NetConn, error) {
	id := ds.String(fmt.Sprintf("go-dial-%d", n.nextID.Add(1)))
	localRec, remoteRec := &Handle{ID: id}, &Address{Host: remote.Addr(), Port: remote.Port()}
	c := newNetConn(remote, netip.AddrPort{}, remoteRec, localRec, n.ReportAt)
	result := make(chan error, 1)
	var once sync.Once
	settle := func(err error) { once.Do(func() { result <- err }) }
	c.actor = n.sys.Spawn("go-dial", func(t *actors.Turn) {
		R, L := userPattern(remoteRec), userPattern(localRec)
		// Observing the connection's data is what opens it.
		t.Observe(ds.RecordPattern(LabelChannel, R, L, ds.CaptureAny), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) { c.deliver(m.(*Channel).Data) },
		})
		t.Observe(ds.RecordPattern(LabelWritable, R, L, ds.CaptureAny), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) { c.grant(m.(*Writable).N) },
		})
		t.Observe(ds.RecordPattern(LabelConnection, R, L, ds.CaptureAny), actors.Handler{
			Removed: func(t *actors.Turn, _ []ds.Value) {
				c.setState(stateGone)
				settle(c.opError("dial", syscall.ECONNABORTED))
			},
			Added: func(t *actors.Turn, caps []ds.Value) {
				st := caps[0].AsString()
				c.setState(st)
				switch st {
				case StateConnecting:
				case StateEstablished, StatePeerClosed, "closed":
					settle(nil)
				default:
					settle(c.opError("dial", c.err))
				}
			},
		})
	})
	c.release = func() { c.actor.Stop() }
	select {
	case err := <-result:
		if err != nil {
			c.actor.Stop()
			return nil, err
		}
		return c, nil
	case <-ctx.Done():
		c.actor.Stop()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: c.raddr, Err: ctx.Err()}
	}
}

// DialContext dials "host:port" where host is an IP address (names come
// with the resolver); network must be "tcp" or "tcp4". It fits
// http.Transport.DialContext.
func (n *Net) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" {
		return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.AddrError{Err: "not an IP address (no resolver)", Addr: host}}
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.AddrError{Err: "bad port", Addr: port}}
	}
	return n.Dial(ctx, netip.AddrPortFrom(ip, uint16(p)))
}
