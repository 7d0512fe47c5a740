package dns

import (
	"context"
	"net"
	"net/netip"
	"strconv"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/tcp"
)

// GoResolver resolves names for Go programs through a stack's dataspace:
// a lookup is an actor observing dns-answer(name, A, ?) until the first
// answer arrives. DialContext takes host names, so it fits
// http.Transport.DialContext.
type GoResolver struct {
	sys *actors.System
	net *tcp.Net
}

// NewGoResolver returns the resolver of the stack running in sys, dialing
// with n.
func NewGoResolver(sys *actors.System, n *tcp.Net) *GoResolver { return &GoResolver{sys: sys, net: n} }

// LookupAddr returns one IPv4 address of host (host itself if it is an
// address). A negative answer is a *net.DNSError (IsNotFound for
// NXDOMAIN and no data, IsTimeout when no server answered).
func (r *GoResolver) LookupAddr(ctx context.Context, host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a, nil
	}
	type result struct {
		addr netip.Addr
		err  error
	}
	got := make(chan result, 1)
	settle := func(x result) {
		select {
		case got <- x:
		default:
		}
	}
	w := r.sys.Spawn("dns-lookup", func(t *actors.Turn) {
		t.Observe(AnswerPattern(host, TypeA), actors.Handler{
			Added: func(t *actors.Turn, c []ds.Value) {
				if code := ErrorCode(c[0]); code != "" {
					settle(result{err: &net.DNSError{Err: code, Name: host,
						IsNotFound: code == ErrNXDomain || code == ErrNoData, IsTimeout: code == ErrTimeout}})
				} else if a := c[0].AsAddr(); a.Is4() {
					settle(result{addr: a})
				} else {
					return
				}
				t.Stop()
			},
		})
	})
	select {
	case x := <-got:
		return x.addr, x.err
	case <-ctx.Done():
		w.Stop()
		return netip.Addr{}, &net.DNSError{Err: ctx.Err().Error(), Name: host, IsTimeout: true}
	}
}

// DialContext dials "host:port" over the stack's TCP, resolving host
// first; network must be "tcp" or "tcp4".
func (r *GoResolver) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" {
		return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.AddrError{Err: "bad port", Addr: port}}
	}
	a, err := r.LookupAddr(ctx, host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	return r.net.Dial(ctx, netip.AddrPortFrom(a, uint16(p)))
}
