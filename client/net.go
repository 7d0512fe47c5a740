package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	ds "netspace/dataspace"
	"netspace/tcp"
)

// Net gives a program the stack's TCP through the standard interfaces,
// over the link: Listen returns a net.Listener, Dial a net.Conn, and
// DialContext fits http.Transport. Underneath, remote actors speak the
// same records as tcp.Net's adapters in the stack, and the conns are
// tcp.NetConns: what they read they report consumed over the link, so a
// slow reader here closes the connection's receive window there.
type Net struct {
	c      *Conn
	nextID atomic.Uint64
	// ReportAt is how many bytes a conn reads before it reports them
	// consumed (default 64 KiB).
	ReportAt int
}

// Net returns the link's Go adapters.
func (c *Conn) Net() *Net {
	c.netOnce.Do(func() { c.net = &Net{c: c, ReportAt: 64 << 10} })
	return c.net
}

// recPattern is the pattern matching exactly r, field by field (the form
// the stack's demand matchers read).
func recPattern(r ds.Record) *ds.Pattern {
	fs := make([]*ds.Pattern, r.Arity())
	for i := range fs {
		fs[i] = ds.Lit(r.Field(i))
	}
	return ds.RecordPattern(r.Label(), fs...)
}

func remoteOf(v ds.Value) netip.AddrPort {
	r := v.AsRecord()
	if r == nil || r.Arity() != 2 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(r.Field(0).AsAddr(), uint16(r.Field(1).AsInt()))
}

// Listener is a net.Listener on a port of the stack.
type Listener struct {
	actor  *Actor
	port   uint16
	addr   *net.TCPAddr
	accept chan *tcp.NetConn
	done   chan struct{}
	once   sync.Once
	stopFn func() // set by the adapter actor's boot turn
}

// Listen opens port on the stack and returns its listener once the stack
// accepts connections there. A port the client's allow-list does not
// cover is refused at once.
func (n *Net) Listen(port uint16) (*Listener, error) {
	if port == 0 {
		return nil, errors.New("client: Listen needs a port")
	}
	l := &Listener{port: port, addr: &net.TCPAddr{Port: int(port)},
		accept: make(chan *tcp.NetConn, 128), done: make(chan struct{})}
	ready := make(chan struct{})
	var readyOnce sync.Once
	l.actor = n.c.Spawn(fmt.Sprintf("go-listener:%d", port), func(t *Turn) {
		n.bootListener(t, l, func() { readyOnce.Do(func() { close(ready) }) })
	})
	select {
	case <-ready:
		return l, nil
	case <-l.actor.Done():
		l.Close()
		return nil, fmt.Errorf("client: listen on %d: %w", port, l.actor.Err())
	case <-time.After(10 * time.Second):
		l.Close()
		return nil, fmt.Errorf("client: port %d did not open", port)
	}
}

func (n *Net) bootListener(t *Turn, l *Listener, ready func()) {
	me := t.Actor()
	local := tcp.ListenerPattern(l.port)
	localRec := &tcp.Listener{Port: l.port}
	type entry struct {
		c    *tcp.NetConn
		feed tcp.NetConnFeed
	}
	conns := map[netip.AddrPort]entry{}
	leases := map[netip.AddrPort]*Subscription{}
	closed := false
	t.Observe(ds.RecordPattern(tcp.LabelListening, ds.Lit(ds.Int(int64(l.port)))), Handler{
		Added: func(*Turn, []ds.Value) { ready() },
	})
	wild := t.Observe(tcp.ChannelFrom(local), Handler{
		Message: func(t *Turn, m ds.Record) {
			ch := m.(*tcp.Channel)
			if e, ok := conns[remoteOf(ds.Rec(ch.Src))]; ok {
				e.feed.Deliver(ch.Data)
			}
		},
	})
	t.Observe(ds.RecordPattern(tcp.LabelWritable, ds.CaptureAny, local, ds.CaptureAny), Handler{
		Message: func(t *Turn, m ds.Record) {
			w := m.(*tcp.Writable)
			if e, ok := conns[remoteOf(ds.Rec(w.Remote))]; ok {
				e.feed.Grant(w.N)
			}
		},
	})
	drop := func(t *Turn, r netip.AddrPort) {
		t.Unobserve(leases[r])
		delete(leases, r)
		delete(conns, r)
		if closed && len(conns) == 0 {
			t.Stop()
		}
	}
	t.Observe(ds.RecordPattern(tcp.LabelConnection, ds.CaptureAny, local, ds.CaptureAny), Handler{
		Added: func(t *Turn, caps []ds.Value) {
			r, st := remoteOf(caps[0]), caps[1].AsString()
			if e, ok := conns[r]; ok {
				e.feed.SetState(st)
				return
			}
			if st != tcp.StateEstablished || closed {
				return
			}
			remoteRec := caps[0].AsRecord()
			c, feed := tcp.NewNetConn(r, netip.AddrPortFrom(netip.Addr{}, l.port), remoteRec, localRec,
				n.ReportAt, n.c.uplink.Load().local, func() { me.Inject(func(t *Turn) { drop(t, r) }) })
			conns[r] = entry{c, feed}
			leases[r] = t.Observe(ds.RecordPattern(tcp.LabelChannel, recPattern(remoteRec), local, ds.CaptureAny), Handler{
				Message: func(t *Turn, m ds.Record) {
					if closed {
						feed.Deliver(m.(*tcp.Channel).Data)
					}
				},
			})
			select {
			case l.accept <- c:
			default:
				t.Send(&tcp.Close{Remote: remoteRec, Local: localRec, How: tcp.CloseAbort})
				drop(t, r)
			}
		},
	})
	// The link lost or the actor ended: its connections are gone.
	t.OnStop(func() {
		for _, e := range conns {
			e.feed.SetState(tcp.StateReset)
		}
		l.Close()
	})
	l.stopFn = func() {
		me.Inject(func(t *Turn) {
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
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.accept:
		return c, nil
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: net.ErrClosed}
	}
}

// Close implements net.Listener: no more connections are accepted;
// accepted ones carry on.
func (l *Listener) Close() error {
	l.once.Do(func() {
		close(l.done)
		if l.stopFn != nil {
			l.stopFn()
		} else {
			l.actor.Stop()
		}
	})
	return nil
}

// Addr implements net.Listener.
func (l *Listener) Addr() net.Addr { return l.addr }

// Dial opens a connection from the stack to remote and returns it once
// established.
func (n *Net) Dial(ctx context.Context, remote netip.AddrPort) (*tcp.NetConn, error) {
	id := ds.String(n.c.HandleID(fmt.Sprintf("go-dial-%d", n.nextID.Add(1))))
	localRec, remoteRec := &tcp.Handle{ID: id}, &tcp.Address{Host: remote.Addr(), Port: remote.Port()}
	result := make(chan error, 1)
	var once sync.Once
	settle := func(err error) { once.Do(func() { result <- err }) }
	var conn *tcp.NetConn
	var feed tcp.NetConnFeed
	a := n.c.Spawn("go-dial", func(t *Turn) {
		me := t.Actor()
		conn, feed = tcp.NewNetConn(remote, netip.AddrPort{}, remoteRec, localRec, n.ReportAt,
			n.c.uplink.Load().local, func() { me.Stop() })
		R, L := recPattern(remoteRec), recPattern(localRec)
		t.Observe(ds.RecordPattern(tcp.LabelChannel, R, L, ds.CaptureAny), Handler{
			Message: func(t *Turn, m ds.Record) { feed.Deliver(m.(*tcp.Channel).Data) },
		})
		t.Observe(ds.RecordPattern(tcp.LabelWritable, R, L, ds.CaptureAny), Handler{
			Message: func(t *Turn, m ds.Record) { feed.Grant(m.(*tcp.Writable).N) },
		})
		t.Observe(ds.RecordPattern(tcp.LabelConnection, R, L, ds.CaptureAny), Handler{
			Added: func(t *Turn, caps []ds.Value) {
				st := caps[0].AsString()
				feed.SetState(st)
				switch st {
				case tcp.StateConnecting:
				case tcp.StateEstablished, tcp.StatePeerClosed, "closed":
					settle(nil)
				case tcp.StateRefused:
					settle(syscall.ECONNREFUSED)
				case tcp.StateTimeout:
					settle(syscall.ETIMEDOUT)
				default:
					settle(syscall.ECONNRESET)
				}
			},
		})
		t.OnStop(func() {
			feed.SetState(tcp.StateReset)
			settle(errors.New("the dialling actor ended"))
		})
	})
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(remote), Err: err}
	}
	select {
	case err := <-result:
		if err != nil {
			if aerr := a.Err(); aerr != nil {
				err = aerr
			}
			a.Stop()
			return nil, opErr(err)
		}
		return conn, nil
	case <-ctx.Done():
		a.Stop()
		return nil, opErr(ctx.Err())
	}
}

// DialContext dials "host:port" (host an IP address); network must be
// "tcp" or "tcp4". It fits http.Transport.DialContext.
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
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.AddrError{Err: "not an IP address", Addr: host}}
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.AddrError{Err: "bad port", Addr: port}}
	}
	return n.Dial(ctx, netip.AddrPortFrom(ip, uint16(p)))
}
