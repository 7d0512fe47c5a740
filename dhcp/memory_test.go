package dhcp_test

import (
	"net/netip"
	"testing"
	"time"

	"netspace"
	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/dhcp"
	"netspace/dns"
	"netspace/drivers"
	"netspace/ip"
)

var (
	serverAddr = netip.MustParseAddr("192.0.2.1")
	pool       = []netip.Addr{netip.MustParseAddr("192.0.2.50"), netip.MustParseAddr("192.0.2.51")}
	limited    = netip.MustParseAddr("255.255.255.255")
)

// stubServer is a minimal DHCP server actor on a stack: it offers the
// pool's addresses in turn (skipping declined ones), ACKs requests for
// them, NAKs others, and records every message it gets.
type stubServer struct {
	actor    *actors.Actor
	got      []*dhcp.Message
	declined map[netip.Addr]bool
	nak      bool // NAK every REQUEST
}

func startServer(s *netspace.Stack) *stubServer {
	srv := &stubServer{declined: map[netip.Addr]bool{}}
	srv.actor = s.Spawn("dhcp-server", func(t *actors.Turn) {
		t.Observe(ip.ListenerPattern(dhcp.ServerPort), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) {
				req, err := dhcp.Parse(m.(*ip.UDPChannel).Body)
				if err != nil {
					return
				}
				srv.got = append(srv.got, req)
				srv.answer(t, req)
			},
		})
	})
	return srv
}

func (srv *stubServer) offer() netip.Addr {
	for _, a := range pool {
		if !srv.declined[a] {
			return a
		}
	}
	return netip.Addr{}
}

func (srv *stubServer) answer(t *actors.Turn, req *dhcp.Message) {
	r := &dhcp.Message{Op: 2, XID: req.XID, CHAddr: req.CHAddr, Broadcast: req.Broadcast, ServerID: serverAddr,
		SubnetBits: 24, Routers: []netip.Addr{serverAddr}, DNS: []netip.Addr{serverAddr},
		LeaseTime: 120 * time.Second, T1: 10 * time.Second, T2: 20 * time.Second}
	switch req.Type {
	case dhcp.Discover:
		r.Type, r.YIAddr = dhcp.Offer, srv.offer()
	case dhcp.Request:
		want := req.RequestedIP
		if !want.IsValid() {
			want = req.CIAddr
		}
		r.Type, r.YIAddr = dhcp.Ack, want
		if srv.nak || srv.declined[want] {
			r = &dhcp.Message{Op: 2, XID: req.XID, CHAddr: req.CHAddr, Type: dhcp.Nak, ServerID: serverAddr, SubnetBits: -1}
		}
	case dhcp.Decline:
		srv.declined[req.RequestedIP] = true
		return
	default:
		return
	}
	to := limited
	if req.CIAddr.IsValid() && !req.Broadcast {
		to = req.CIAddr // a renewal: unicast (RFC 2131 §4.1)
	}
	t.Send(&ip.UDPChannel{Src: &ip.UDPListener{Port: dhcp.ServerPort}, Dst: &ip.UDPAddress{Host: to, Port: dhcp.ClientPort},
		Body: r.Append(nil)})
}

func (srv *stubServer) count(typ dhcp.MessageType, renewal bool) int {
	n := 0
	for _, m := range srv.got {
		if m.Type == typ && m.CIAddr.IsValid() == renewal {
			n++
		}
	}
	return n
}

type pair struct {
	clock *actors.ManualClock
	a, b  *netspace.Stack
}

// newPair joins a stack with no address (A, the client) and one at
// 192.0.2.1 plus extra addresses (B, the server).
func newPair(t *testing.T, extra ...netip.Addr) *pair {
	clock := actors.NewManualClock(time.Unix(1_000_000, 0))
	wa, wb := drivers.NewWire(drivers.WireConfig{Clock: clock, NameA: "wa", NameB: "wb"})
	a, err := netspace.New(netspace.Config{Link: wa, Deterministic: true, Clock: clock, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	addrs := []netip.Prefix{netip.PrefixFrom(serverAddr, 24)}
	for _, x := range extra {
		addrs = append(addrs, netip.PrefixFrom(x, 24))
	}
	b, err := netspace.New(netspace.Config{Link: wb, Addrs: addrs, Deterministic: true, Clock: clock, Seed: 22})
	if err != nil {
		t.Fatal(err)
	}
	p := &pair{clock: clock, a: a, b: b}
	t.Cleanup(func() { a.Close(); b.Close() })
	p.run(0)
	return p
}

func (p *pair) run(d time.Duration) { actors.AdvanceAll(p.clock, d, p.a.Sys, p.b.Sys) }

func (p *pair) client() *dhcp.Agent {
	return dhcp.Start(p.a.Sys, dhcp.AgentConfig{Iface: "wa", MAC: p.a.MAC, Seed: 5})
}

func (p *pair) leased(addr netip.Addr) bool {
	return p.a.Sys.Count(&ip.HostRoute{Addr: addr, Prefix: 24, Iface: "wa"}) == 1 &&
		p.a.Sys.Count(&ip.GatewayRoute{Net: netip.IPv4Unspecified(), Gateway: serverAddr, Iface: "wa"}) == 1 &&
		p.a.Sys.Count(&dns.Server{Addr: serverAddr}) == 1 &&
		p.a.Sys.Count(&dhcp.LeaseRecord{Iface: "wa", Addr: addr, Prefix: 24, Router: serverAddr, Server: serverAddr}) == 1
}

func TestLeaseRenewExpire(t *testing.T) {
	p := newPair(t)
	srv := startServer(p.b)
	ag := p.client()
	p.run(2 * time.Second) // DISCOVER, OFFER, REQUEST, ACK, 1 s of ARP probe
	if !p.leased(pool[0]) {
		t.Fatalf("no lease after 2 s: server got %d messages, client %+v", len(srv.got), ag.Stats)
	}
	// The address works: B reaches A's UDP echo.
	p.a.ServeUDPEcho(7)
	echoed := 0
	p.b.Spawn("ping", func(t *actors.Turn) {
		t.Observe(ip.ListenerPattern(4000), actors.Handler{Message: func(*actors.Turn, ds.Record) { echoed++ }})
		t.Send(&ip.UDPChannel{Src: &ip.UDPListener{Port: 4000}, Dst: &ip.UDPAddress{Host: pool[0], Port: 7}, Body: []byte("x")})
	})
	p.run(time.Second)
	if echoed != 1 {
		t.Fatal("no echo from the leased address")
	}
	// Junk on port 68 is dropped and counted; the lease stays.
	p.b.Spawn("junk", func(t *actors.Turn) {
		for _, body := range [][]byte{nil, []byte("not dhcp"), make([]byte, 300)} {
			t.Send(&ip.UDPChannel{Src: &ip.UDPListener{Port: dhcp.ServerPort}, Dst: &ip.UDPAddress{Host: limited, Port: dhcp.ClientPort}, Body: body})
		}
	})
	p.run(0)
	if ag.Stats.Malformed.Load() != 3 || !p.leased(pool[0]) {
		t.Fatalf("junk: %d malformed", ag.Stats.Malformed.Load())
	}
	// Renewal at T1 (10 s after the REQUEST): unicast, ACKed unicast.
	p.run(10 * time.Second)
	if srv.count(dhcp.Request, true) != 1 || ag.Stats.Renewals.Load() != 1 || !p.leased(pool[0]) {
		t.Fatalf("renewal: %d renewing REQUESTs, %d renewals", srv.count(dhcp.Request, true), ag.Stats.Renewals.Load())
	}
	// The server goes: renewals and rebinding fail, the lease runs out
	// 120 s after the last ACK, and everything it asserted goes with it.
	srv.actor.Stop()
	p.run(100 * time.Second)
	if !p.leased(pool[0]) {
		t.Fatal("lease gone before its end")
	}
	p.run(25 * time.Second)
	if p.leased(pool[0]) || p.a.Sys.Count(&dns.Server{Addr: serverAddr}) != 0 || ag.Stats.Expired.Load() != 1 {
		t.Fatalf("lease still held after expiry (expired %d)", ag.Stats.Expired.Load())
	}
	if ag.Stats.Retransmits.Load() == 0 || ag.Stats.Discovers.Load() < 2 {
		t.Fatalf("no retransmissions or rediscovery: %+v", ag.Stats)
	}
}

func TestDeclineOnConflict(t *testing.T) {
	// B also holds 192.0.2.50, so it answers A's probe of the first offer.
	p := newPair(t, pool[0])
	srv := startServer(p.b)
	ag := p.client()
	p.run(2 * time.Second)
	if srv.count(dhcp.Decline, false) != 1 || ag.Stats.Declines.Load() != 1 || p.leased(pool[0]) {
		t.Fatalf("no DECLINE: server got %d DECLINEs, client %d", srv.count(dhcp.Decline, false), ag.Stats.Declines.Load())
	}
	p.run(12 * time.Second) // 10 s wait, then the next offer
	if !p.leased(pool[1]) {
		t.Fatalf("no lease of the second address; server got %d messages", len(srv.got))
	}
}

func TestNakAndRelease(t *testing.T) {
	p := newPair(t)
	srv := startServer(p.b)
	srv.nak = true
	ag := p.client()
	p.run(time.Second)
	if ag.Stats.Naks.Load() < 1 || p.leased(pool[0]) {
		t.Fatalf("NAK: %d NAKs", ag.Stats.Naks.Load())
	}
	srv.nak = false
	p.run(20 * time.Second)
	if !p.leased(pool[0]) {
		t.Fatalf("no lease after NAKs stopped: %+v", ag.Stats)
	}
	p.a.Spawn("release", func(t *actors.Turn) { t.Send(&dhcp.ReleaseMsg{Iface: "wa"}); t.Stop() })
	p.run(time.Second)
	if srv.count(dhcp.Release, true) != 1 || p.leased(pool[0]) || ag.Actor.Alive() {
		t.Fatalf("release: server got %d RELEASEs, client alive %v", srv.count(dhcp.Release, true), ag.Actor.Alive())
	}
}
