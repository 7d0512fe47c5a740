package ip

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/ethernet"
)

// The IP, ICMP and UDP actors are tested without a link: a "wire" actor
// asserts the interface and our address, sends the frames and datagrams
// the actor under test observes, and records what it sends. Time moves
// only on the deterministic system's manual clock.

var (
	rigOurMAC   = ethernet.MAC{0x02, 0x00, 0x5e, 0x00, 0x02, 0x02}
	rigPeerMAC  = ethernet.MAC{0x02, 0x00, 0x5e, 0x00, 0x02, 0x01}
	rigGwMAC    = ethernet.MAC{0x02, 0x00, 0x5e, 0x00, 0x02, 0xfe}
	rigThirdMAC = ethernet.MAC{0x02, 0x00, 0x5e, 0x00, 0x02, 0x03}

	rigOurIP    = netip.MustParseAddr("192.0.2.2")
	rigPeerIP   = netip.MustParseAddr("192.0.2.1")
	rigThirdIP  = netip.MustParseAddr("192.0.2.3")
	rigGwIP     = netip.MustParseAddr("192.0.2.254")
	rigSubnetBC = netip.MustParseAddr("192.0.2.255")
	rigLimitBC  = netip.AddrFrom4([4]byte{255, 255, 255, 255}) // the limited broadcast (RFC 919)
	rigRemoteIP = netip.MustParseAddr("198.18.0.5")
)

// rigProto is an IP protocol number nobody implements (RFC 3692
// experimentation), so only the test listens to it.
const rigProto uint8 = 253

// ipRig is a deterministic system holding the actors under test, with
// eth0 (rigOurMAC, MTU 1500) up and rigOurIP/24 configured on it.
type ipRig struct {
	t    *testing.T
	sys  *actors.System
	wire *actors.Actor

	frames []*ethernet.Packet // frames sent on eth0
	errs   []*ICMPError       // icmp-error messages
	out    []*Packet          // ip-packet messages to send (from-wire #f)
}

// newIPRig spawns the actors under test with spawn, then the wire actor.
func newIPRig(t *testing.T, spawn func(t *actors.Turn)) *ipRig {
	t.Helper()
	r := &ipRig{t: t}
	r.sys = actors.NewSystem(actors.Deterministic())
	t.Cleanup(func() { _ = r.sys.Close(time.Second) })
	r.sys.Spawn("harness", spawn)
	r.wire = r.sys.Spawn("wire", func(t *actors.Turn) {
		t.Assert(&ethernet.Interface{Name: "eth0", MAC: rigOurMAC, MTU: 1500})
		t.Assert(&HostRoute{Addr: rigOurIP, Prefix: 24, Iface: "eth0"})
		t.Observe(ethernet.OutboundPattern("eth0"), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) { r.frames = append(r.frames, m.(*ethernet.Packet)) },
		})
		t.Observe(ds.RecordPattern(LabelICMPError, ds.Discard, ds.Discard, ds.Discard), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) { r.errs = append(r.errs, m.(*ICMPError)) },
		})
		t.Observe(OutboundPattern(), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) { r.out = append(r.out, m.(*Packet)) },
		})
	})
	r.sys.Quiesce()
	return r
}

// newIPActorRig is a rig around the IP actor alone.
func newIPActorRig(t *testing.T, cfg Config) (*ipRig, *Stats) {
	t.Helper()
	var st *Stats
	r := newIPRig(t, func(t *actors.Turn) { _, st = SpawnIP(t, cfg) })
	return r, st
}

// do runs fn as a turn of the wire actor and lets everything settle.
func (r *ipRig) do(fn func(t *actors.Turn)) {
	r.t.Helper()
	if !r.wire.Inject(fn) {
		r.t.Fatal("wire actor is gone")
	}
	r.sys.Quiesce()
}

func (r *ipRig) assert(rec ds.Record) actors.Handle {
	var h actors.Handle
	r.do(func(t *actors.Turn) { h = t.Assert(rec) })
	return h
}

func (r *ipRig) send(m ds.Record) { r.do(func(t *actors.Turn) { t.Send(m) }) }

// fromWire delivers an IPv4 frame received on eth0 from the peer.
func (r *ipRig) fromWire(body []byte) {
	r.send(&ethernet.Packet{Iface: "eth0", FromWire: true, Src: rigPeerMAC, Dst: rigOurMAC,
		Type: ethernet.EtherTypeIPv4, Body: body})
}

// neighbor asserts what ARP would assert once ip is resolved.
func (r *ipRig) neighbor(ip netip.Addr, mac ethernet.MAC) actors.Handle {
	return r.assert(&ethernet.ARPEntry{Iface: "eth0", IP: ip, MAC: mac})
}

// listen spawns a user actor observing inbound datagrams of proto; it
// returns the actor and the datagrams it gets.
func (r *ipRig) listen(proto uint8) (*actors.Actor, *[]*Packet) {
	got := &[]*Packet{}
	a := r.sys.Spawn("listener", func(t *actors.Turn) {
		t.Observe(InboundPattern(proto), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) { *got = append(*got, m.(*Packet)) },
		})
	})
	r.sys.Quiesce()
	return a, got
}

func (r *ipRig) takeFrames() []*ethernet.Packet {
	f := r.frames
	r.frames = nil
	return f
}

func (r *ipRig) takeErrs() []*ICMPError {
	e := r.errs
	r.errs = nil
	return e
}

func (r *ipRig) queried(ip netip.Addr) bool {
	return r.sys.Count(&ethernet.ARPQuery{Iface: "eth0", IP: ip}) > 0
}

// rigDatagram builds an IPv4 datagram with a correct header checksum.
func rigDatagram(src, dst netip.Addr, proto uint8, id uint16, payload []byte) []byte {
	h := IPv4Fields{ID: id, TTL: 64, Protocol: proto, Src: src, Dst: dst}
	h.TotalLen = uint16(h.HeaderLen() + len(payload))
	b := make([]byte, int(h.TotalLen))
	n := PutIPv4Header(b, &h)
	copy(b[n:], payload)
	return b
}

// rigBytes returns n bytes that differ from position to position.
func rigBytes(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7+i>>8)
	}
	return b
}

// checkFrame checks that f is an IPv4 frame from us to dstMAC with a
// valid header from src to dst, and returns the datagram.
func checkFrame(t *testing.T, what string, f *ethernet.Packet, dstMAC ethernet.MAC, src, dst netip.Addr) IPv4 {
	t.Helper()
	if f.Iface != "eth0" || f.FromWire || f.Src != rigOurMAC || f.Dst != dstMAC || f.Type != ethernet.EtherTypeIPv4 {
		t.Errorf("%s: frame %q from-wire %v %v > %v type %#x; want eth0 false %v > %v IPv4",
			what, f.Iface, f.FromWire, f.Src, f.Dst, f.Type, rigOurMAC, dstMAC)
	}
	h := IPv4(f.Body)
	if err := h.Check(); err != nil {
		t.Fatalf("%s: datagram does not check: %v", what, err)
	}
	if h.Src() != src || h.Dst() != dst {
		t.Errorf("%s: datagram %v > %v; want %v > %v", what, h.Src(), h.Dst(), src, dst)
	}
	return h
}

func TestIPNoProtocolAnswersUnreachable(t *testing.T) {
	r, st := newIPActorRig(t, Config{})
	d := rigDatagram(rigPeerIP, rigOurIP, rigProto, 1, rigBytes(40, 1))
	r.fromWire(d)
	errs := r.takeErrs()
	if len(errs) != 1 {
		t.Fatalf("%d icmp-error messages for a datagram nobody serves; want 1", len(errs))
	}
	if e := errs[0]; e.Type != ICMPTypeDestUnreach || e.Code != ICMPCodeProtocolUnreachable || !bytes.Equal(e.Original, d) {
		t.Errorf("icmp-error type %d code %d original % x; want 3, 2 and the datagram % x", e.Type, e.Code, e.Original, d)
	}
	if st.NoProtocol.Load() != 1 || st.Delivered.Load() != 0 || st.Received.Load() != 1 {
		t.Errorf("NoProtocol %d Delivered %d Received %d; want 1, 0, 1",
			st.NoProtocol.Load(), st.Delivered.Load(), st.Received.Load())
	}

	// A datagram to the subnet broadcast is not answered (RFC 1122 §3.2.2).
	r.fromWire(rigDatagram(rigPeerIP, rigSubnetBC, rigProto, 2, rigBytes(40, 2)))
	if errs := r.takeErrs(); len(errs) != 0 || st.NoProtocol.Load() != 2 {
		t.Errorf("broadcast datagram: %d icmp-errors, NoProtocol %d; want 0 and 2", len(errs), st.NoProtocol.Load())
	}
}

func TestIPDeliversToObserver(t *testing.T) {
	r, st := newIPActorRig(t, Config{})
	listener, got := r.listen(rigProto)
	payload := rigBytes(40, 3)
	d := rigDatagram(rigPeerIP, rigOurIP, rigProto, 7, payload)
	r.fromWire(d)
	if len(*got) != 1 {
		t.Fatalf("listener got %d datagrams; want 1", len(*got))
	}
	p := (*got)[0]
	if p.Iface != "eth0" || !p.FromWire || p.Src != rigPeerIP || p.Dst != rigOurIP || p.Proto != rigProto || p.TTL != 64 {
		t.Errorf("delivered %q from-wire %v %v > %v proto %d ttl %d", p.Iface, p.FromWire, p.Src, p.Dst, p.Proto, p.TTL)
	}
	if !bytes.Equal(p.Body, payload) || !bytes.Equal(p.Datagram, d) || len(p.Options) != 0 {
		t.Errorf("delivered body % x datagram % x options % x", p.Body, p.Datagram, p.Options)
	}
	if len(r.takeErrs()) != 0 || st.Delivered.Load() != 1 || st.NoProtocol.Load() != 0 {
		t.Errorf("Delivered %d NoProtocol %d; want 1 and 0", st.Delivered.Load(), st.NoProtocol.Load())
	}

	// Once the listener is gone, the protocol is unreachable again.
	listener.Stop()
	r.sys.Quiesce()
	r.fromWire(d)
	if len(*got) != 1 || len(r.takeErrs()) != 1 || st.NoProtocol.Load() != 1 {
		t.Errorf("after the listener stopped: %d delivered, NoProtocol %d; want 1 and 1", len(*got), st.NoProtocol.Load())
	}
}

func TestIPDropsDatagramsNotForUs(t *testing.T) {
	r, st := newIPActorRig(t, Config{})
	_, got := r.listen(rigProto)
	for i, dst := range []netip.Addr{rigThirdIP, rigRemoteIP} {
		r.fromWire(rigDatagram(rigPeerIP, dst, rigProto, uint16(i), rigBytes(20, 4)))
	}
	if st.NotForUs.Load() != 2 || len(*got) != 0 || len(r.takeErrs()) != 0 || len(r.takeFrames()) != 0 {
		t.Errorf("NotForUs %d, delivered %d; want 2 and 0, and nothing sent", st.NotForUs.Load(), len(*got))
	}
}

func TestIPDropsMalformed(t *testing.T) {
	r, st := newIPActorRig(t, Config{})
	_, got := r.listen(rigProto)
	good := rigDatagram(rigPeerIP, rigOurIP, rigProto, 9, rigBytes(40, 5))
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := []struct {
		name string
		body []byte
	}{
		{"bad checksum", mutate(func(b []byte) []byte { b[10] ^= 0x40; return b })},
		{"IHL 4", mutate(func(b []byte) []byte { b[0] = 0x44; return b })},
		{"total length past the frame", mutate(func(b []byte) []byte { b[3] += 8; return b })},
		{"total length inside the header", mutate(func(b []byte) []byte { b[2], b[3] = 0, 12; return b })},
		{"truncated header", good[:19]},
		{"version 6", mutate(func(b []byte) []byte { b[0] = 0x65; return b })},
	}
	for i, c := range cases {
		r.fromWire(c.body)
		if st.Malformed.Load() != uint64(i+1) {
			t.Errorf("%s: Malformed = %d; want %d", c.name, st.Malformed.Load(), i+1)
		}
	}
	if len(*got) != 0 || st.Delivered.Load() != 0 || len(r.takeErrs()) != 0 || len(r.takeFrames()) != 0 {
		t.Errorf("malformed datagrams: %d delivered, errors or frames sent", len(*got))
	}
	if st.Received.Load() != uint64(len(cases)) {
		t.Errorf("Received = %d; want %d", st.Received.Load(), len(cases))
	}
	// The good one still goes through.
	r.fromWire(good)
	if len(*got) != 1 {
		t.Errorf("the well-formed datagram was not delivered")
	}
}

func TestIPQueuesUntilResolved(t *testing.T) {
	r, st := newIPActorRig(t, Config{FirstID: 100})
	for i := 0; i < 3; i++ {
		r.send(&Packet{Dst: rigPeerIP, Proto: rigProto, Body: []byte{byte(i), 'x'}})
	}
	if len(r.takeFrames()) != 0 {
		t.Fatal("frames sent before the next hop was resolved")
	}
	if !r.queried(rigPeerIP) {
		t.Fatalf("no arp-query(eth0, %v) while datagrams wait for it", rigPeerIP)
	}
	r.neighbor(rigPeerIP, rigPeerMAC)
	frames := r.takeFrames()
	if len(frames) != 3 {
		t.Fatalf("%d frames flushed on resolution; want 3", len(frames))
	}
	for i, f := range frames {
		h := checkFrame(t, "flushed", f, rigPeerMAC, rigOurIP, rigPeerIP)
		if !bytes.Equal(h.Payload(), []byte{byte(i), 'x'}) || h.ID() != uint16(101+i) || h.Protocol() != rigProto || h.TTL() != 64 {
			t.Errorf("frame %d: payload % x id %d proto %d ttl %d; want %02x 78, id %d, %d, 64",
				i, h.Payload(), h.ID(), h.Protocol(), h.TTL(), i, 101+i, rigProto)
		}
	}
	// The neighbour is in use: its query stays, so that ARP keeps the
	// mapping fresh (see TestIPKeepsNeighbourInUseFresh).
	if !r.queried(rigPeerIP) {
		t.Error("arp-query retracted on resolution while the neighbour is in use")
	}
	// Resolved: the next datagram goes at once.
	r.send(&Packet{Dst: rigPeerIP, Proto: rigProto, Body: []byte("now")})
	if frames := r.takeFrames(); len(frames) != 1 {
		t.Fatalf("%d frames for a datagram to a resolved neighbour; want 1", len(frames))
	}
	if st.Sent.Load() != 4 || st.Unresolved.Load() != 0 {
		t.Errorf("Sent %d Unresolved %d; want 4 and 0", st.Sent.Load(), st.Unresolved.Load())
	}
}

func TestIPPendingPerHopBound(t *testing.T) {
	r, st := newIPActorRig(t, Config{PendingPerHop: 4})
	for i := 0; i < 6; i++ {
		r.send(&Packet{Dst: rigPeerIP, Proto: rigProto, Body: []byte{byte(i)}})
	}
	if st.Unresolved.Load() != 2 {
		t.Fatalf("Unresolved = %d after 6 datagrams to a hop with room for 4; want 2", st.Unresolved.Load())
	}
	r.neighbor(rigPeerIP, rigPeerMAC)
	frames := r.takeFrames()
	if len(frames) != 4 {
		t.Fatalf("%d frames flushed; want the 4 queued", len(frames))
	}
	for i, f := range frames {
		if h := checkFrame(t, "flushed", f, rigPeerMAC, rigOurIP, rigPeerIP); !bytes.Equal(h.Payload(), []byte{byte(i)}) {
			t.Errorf("frame %d carries % x; want the first four in order", i, h.Payload())
		}
	}
}

func TestIPPendingTotalBound(t *testing.T) {
	r, st := newIPActorRig(t, Config{PendingTotal: 3})
	for _, dst := range []netip.Addr{rigPeerIP, rigPeerIP, rigThirdIP, rigThirdIP} {
		r.send(&Packet{Dst: dst, Proto: rigProto, Body: []byte("q")})
	}
	if st.Unresolved.Load() != 1 {
		t.Fatalf("Unresolved = %d after 4 datagrams with room for 3 in all; want 1", st.Unresolved.Load())
	}
	r.neighbor(rigPeerIP, rigPeerMAC)
	r.neighbor(rigThirdIP, rigThirdMAC)
	frames := r.takeFrames()
	if len(frames) != 3 {
		t.Fatalf("%d frames flushed; want 3", len(frames))
	}
	// The total is freed by flushing: three more fit again.
	for i := 0; i < 3; i++ {
		r.send(&Packet{Dst: rigGwIP, Proto: rigProto, Body: []byte("q")})
	}
	if st.Unresolved.Load() != 1 {
		t.Errorf("Unresolved = %d; flushed datagrams still count against the total", st.Unresolved.Load())
	}
}

func TestIPResolveTimeout(t *testing.T) {
	r, st := newIPActorRig(t, Config{ResolveTimeout: 3 * time.Second})
	for i := 0; i < 3; i++ {
		r.send(&Packet{Dst: rigPeerIP, Proto: rigProto, Body: []byte{byte(i)}})
	}
	r.sys.Advance(2999 * time.Millisecond)
	if !r.queried(rigPeerIP) || st.Unresolved.Load() != 0 {
		t.Fatalf("before the timeout: queried %v, Unresolved %d", r.queried(rigPeerIP), st.Unresolved.Load())
	}
	r.sys.Advance(time.Millisecond)
	if st.Unresolved.Load() != 3 {
		t.Fatalf("Unresolved = %d at the resolve timeout; want 3", st.Unresolved.Load())
	}
	if r.queried(rigPeerIP) {
		t.Fatal("arp-query still asserted after the timeout")
	}
	// A late answer sends nothing: the queue was dropped.
	r.neighbor(rigPeerIP, rigPeerMAC)
	if frames := r.takeFrames(); len(frames) != 0 || st.Sent.Load() != 3 {
		t.Errorf("%d frames sent after the queue timed out", len(frames))
	}
	// Sent counts datagrams handed to a next hop; Unresolved the ones lost there.
	if st.Sent.Load() != st.Unresolved.Load() {
		t.Errorf("Sent %d Unresolved %d", st.Sent.Load(), st.Unresolved.Load())
	}
}

func TestIPGatewayRoute(t *testing.T) {
	r, st := newIPActorRig(t, Config{})
	r.assert(&GatewayRoute{Net: netip.IPv4Unspecified(), Prefix: 0, Gateway: rigGwIP, Iface: "eth0"})
	r.neighbor(rigGwIP, rigGwMAC)
	r.neighbor(rigThirdIP, rigThirdMAC)

	r.send(&Packet{Dst: rigRemoteIP, Proto: rigProto, Body: []byte("off-link")})
	frames := r.takeFrames()
	if len(frames) != 1 {
		t.Fatalf("%d frames for one off-link datagram; want 1", len(frames))
	}
	// Through the gateway's MAC, still addressed to the remote host.
	checkFrame(t, "off-link", frames[0], rigGwMAC, rigOurIP, rigRemoteIP)

	r.send(&Packet{Dst: rigThirdIP, Proto: rigProto, Body: []byte("on-link")})
	frames = r.takeFrames()
	if len(frames) != 1 {
		t.Fatalf("%d frames for one on-link datagram; want 1", len(frames))
	}
	checkFrame(t, "on-link", frames[0], rigThirdMAC, rigOurIP, rigThirdIP)

	// A more specific gateway route wins over the default.
	r.assert(&GatewayRoute{Net: netip.MustParseAddr("198.18.0.0"), Prefix: 15, Gateway: rigPeerIP, Iface: "eth0"})
	r.neighbor(rigPeerIP, rigPeerMAC)
	r.send(&Packet{Dst: rigRemoteIP, Proto: rigProto, Body: []byte("specific")})
	frames = r.takeFrames()
	if len(frames) != 1 {
		t.Fatalf("%d frames with two matching routes; want 1", len(frames))
	}
	checkFrame(t, "specific", frames[0], rigPeerMAC, rigOurIP, rigRemoteIP)
	if st.Sent.Load() != 3 || st.NoRoute.Load() != 0 {
		t.Errorf("Sent %d NoRoute %d; want 3 and 0", st.Sent.Load(), st.NoRoute.Load())
	}
}

func TestIPGatewayResolvedNotDestination(t *testing.T) {
	r, _ := newIPActorRig(t, Config{})
	r.assert(&GatewayRoute{Net: netip.IPv4Unspecified(), Prefix: 0, Gateway: rigGwIP, Iface: "eth0"})
	r.send(&Packet{Dst: rigRemoteIP, Proto: rigProto, Body: []byte("x")})
	if !r.queried(rigGwIP) || r.queried(rigRemoteIP) {
		t.Fatalf("queried gateway %v, remote %v; want the gateway only", r.queried(rigGwIP), r.queried(rigRemoteIP))
	}
	r.neighbor(rigGwIP, rigGwMAC)
	if frames := r.takeFrames(); len(frames) != 1 {
		t.Fatalf("%d frames; want 1", len(frames))
	} else {
		checkFrame(t, "via gateway", frames[0], rigGwMAC, rigOurIP, rigRemoteIP)
	}
}

func TestIPNoRoute(t *testing.T) {
	r, st := newIPActorRig(t, Config{})
	r.send(&Packet{Dst: rigRemoteIP, Proto: rigProto, Body: []byte("x")})
	if st.NoRoute.Load() != 1 || len(r.takeFrames()) != 0 || r.queried(rigRemoteIP) {
		t.Errorf("NoRoute = %d; want 1 and nothing sent or queried", st.NoRoute.Load())
	}
}

func TestIPFragmentsToMTU(t *testing.T) {
	r, st := newIPActorRig(t, Config{FirstID: 0x4000})
	r.neighbor(rigPeerIP, rigPeerMAC)
	body := rigBytes(4000-IPv4MinHeaderLen, 6)
	r.send(&Packet{Dst: rigPeerIP, Proto: rigProto, Body: body})
	frames := r.takeFrames()
	if len(frames) != 3 {
		t.Fatalf("a 4000-byte datagram left as %d frames on a 1500-byte MTU; want 3", len(frames))
	}
	reasm := NewReassembler(ReassemblyConfig{})
	var whole IPv4
	for i, f := range frames {
		h := checkFrame(t, "fragment", f, rigPeerMAC, rigOurIP, rigPeerIP)
		if len(f.Body) > 1500 {
			t.Errorf("fragment %d is %d bytes, over the MTU", i, len(f.Body))
		}
		if h.ID() != 0x4001 || h.DontFragment() || h.MoreFragments() != (i < 2) {
			t.Errorf("fragment %d: id %#x DF %v MF %v", i, h.ID(), h.DontFragment(), h.MoreFragments())
		}
		p, done, err := reasm.Add(time.Unix(0, 0), h)
		if err != nil {
			t.Fatalf("fragment %d: %v", i, err)
		}
		if done != (i == 2) {
			t.Fatalf("fragment %d: done %v", i, done)
		}
		whole = p
	}
	if err := whole.Check(); err != nil {
		t.Fatalf("reassembled datagram: %v", err)
	}
	if whole.TotalLen() != 4000 || !bytes.Equal(whole.Payload(), body) || whole.Protocol() != rigProto ||
		whole.Src() != rigOurIP || whole.Dst() != rigPeerIP {
		t.Errorf("reassembled %d bytes, proto %d, %v > %v; payload equal %v",
			whole.TotalLen(), whole.Protocol(), whole.Src(), whole.Dst(), bytes.Equal(whole.Payload(), body))
	}
	if st.Sent.Load() != 1 || st.SentFragments.Load() != 3 || st.TooBig.Load() != 0 {
		t.Errorf("Sent %d SentFragments %d TooBig %d; want 1, 3, 0", st.Sent.Load(), st.SentFragments.Load(), st.TooBig.Load())
	}
}

func TestIPDontFragmentTooBig(t *testing.T) {
	r, st := newIPActorRig(t, Config{})
	r.neighbor(rigPeerIP, rigPeerMAC)
	r.send(&Packet{Dst: rigPeerIP, Proto: rigProto, Body: rigBytes(4000-IPv4MinHeaderLen, 7), DontFragment: true})
	if frames := r.takeFrames(); len(frames) != 0 {
		t.Fatalf("%d frames for a DF datagram over the MTU; want 0", len(frames))
	}
	if st.TooBig.Load() != 1 || st.Sent.Load() != 0 || st.SentFragments.Load() != 0 {
		t.Errorf("TooBig %d Sent %d SentFragments %d; want 1, 0, 0", st.TooBig.Load(), st.Sent.Load(), st.SentFragments.Load())
	}
	// Exactly the MTU with DF goes out whole, with DF set.
	r.send(&Packet{Dst: rigPeerIP, Proto: rigProto, Body: rigBytes(1500-IPv4MinHeaderLen, 8), DontFragment: true})
	frames := r.takeFrames()
	if len(frames) != 1 {
		t.Fatalf("%d frames for a DF datagram of exactly the MTU; want 1", len(frames))
	}
	if h := checkFrame(t, "DF", frames[0], rigPeerMAC, rigOurIP, rigPeerIP); !h.DontFragment() || h.IsFragment() || len(h) != 1500 {
		t.Errorf("DF %v fragment %v len %d", h.DontFragment(), h.IsFragment(), len(h))
	}
}

func TestIPReassemblyTimeout(t *testing.T) {
	r, st := newIPActorRig(t, Config{})
	_, got := r.listen(rigProto)
	h := IPv4Fields{ID: 0x77, TTL: 64, Protocol: rigProto, Src: rigPeerIP, Dst: rigOurIP, Flags: FlagMF}
	payload := rigBytes(64, 9)
	h.TotalLen = uint16(IPv4MinHeaderLen + len(payload))
	first := make([]byte, h.TotalLen)
	PutIPv4Header(first, &h)
	copy(first[IPv4MinHeaderLen:], payload)
	r.fromWire(first)
	if st.Fragments.Load() != 1 || len(*got) != 0 {
		t.Fatalf("Fragments %d, delivered %d; want 1 and 0", st.Fragments.Load(), len(*got))
	}
	r.sys.Advance(29999 * time.Millisecond)
	if errs := r.takeErrs(); len(errs) != 0 {
		t.Fatalf("%d icmp-errors before the 30 s reassembly timeout", len(errs))
	}
	r.sys.Advance(time.Millisecond)
	errs := r.takeErrs()
	if len(errs) != 1 {
		t.Fatalf("%d icmp-errors at the reassembly timeout; want 1", len(errs))
	}
	if e := errs[0]; e.Type != ICMPTypeTimeExceeded || e.Code != ICMPCodeReassemblyExceeded || !bytes.Equal(e.Original, first) {
		t.Errorf("icmp-error type %d code %d original % x; want 11, 1 and the first fragment", e.Type, e.Code, e.Original)
	}
	// The rest arriving later starts afresh and does not complete.
	h.Flags, h.FragOffset = 0, len(payload)
	rest := make([]byte, IPv4MinHeaderLen+8)
	h.TotalLen = uint16(len(rest))
	PutIPv4Header(rest, &h)
	r.fromWire(rest)
	if len(*got) != 0 {
		t.Errorf("a datagram completed from a fragment that timed out")
	}
	// Only a datagram whose first fragment arrived is reported.
	r.sys.Advance(30 * time.Second)
	if errs := r.takeErrs(); len(errs) != 0 {
		t.Errorf("%d icmp-errors for a timed-out datagram without its first fragment", len(errs))
	}
}

func TestIPReassemblesInbound(t *testing.T) {
	r, st := newIPActorRig(t, Config{})
	_, got := r.listen(rigProto)
	payload := rigBytes(3000, 10)
	var frags [][]byte
	for off := 0; off < len(payload); off += 1480 {
		end := min(off+1480, len(payload))
		h := IPv4Fields{ID: 0x99, TTL: 64, Protocol: rigProto, Src: rigPeerIP, Dst: rigOurIP, FragOffset: off}
		if end < len(payload) {
			h.Flags = FlagMF
		}
		h.TotalLen = uint16(IPv4MinHeaderLen + end - off)
		f := make([]byte, h.TotalLen)
		PutIPv4Header(f, &h)
		copy(f[IPv4MinHeaderLen:], payload[off:end])
		frags = append(frags, f)
	}
	for i := len(frags) - 1; i >= 0; i-- { // last first
		r.fromWire(frags[i])
	}
	if len(*got) != 1 || !bytes.Equal((*got)[0].Body, payload) {
		t.Fatalf("delivered %d datagrams; want the reassembled one", len(*got))
	}
	if st.Fragments.Load() != uint64(len(frags)) || st.Delivered.Load() != 1 {
		t.Errorf("Fragments %d Delivered %d; want %d and 1", st.Fragments.Load(), st.Delivered.Load(), len(frags))
	}
}

func TestIPSubnetBroadcastLeavesOnWire(t *testing.T) {
	r, st := newIPActorRig(t, Config{})
	r.send(&Packet{Dst: rigSubnetBC, Proto: rigProto, Body: []byte("all")})
	frames := r.takeFrames()
	if len(frames) != 1 {
		t.Fatalf("%d frames for a datagram to the subnet broadcast (Local %d, NoProtocol %d); want 1",
			len(frames), st.Local.Load(), st.NoProtocol.Load())
	}
	checkFrame(t, "subnet broadcast", frames[0], ethernet.Broadcast, rigOurIP, rigSubnetBC)
}

func TestIPLimitedBroadcastNotSentToGateway(t *testing.T) {
	r, _ := newIPActorRig(t, Config{})
	r.assert(&GatewayRoute{Net: netip.IPv4Unspecified(), Prefix: 0, Gateway: rigGwIP, Iface: "eth0"})
	r.neighbor(rigGwIP, rigGwMAC)
	r.send(&Packet{Dst: rigLimitBC, Proto: rigProto, Body: []byte("all")})
	frames := r.takeFrames()
	if len(frames) != 1 {
		t.Fatalf("%d frames for a datagram to the limited broadcast; want 1", len(frames))
	}
	checkFrame(t, "limited broadcast", frames[0], ethernet.Broadcast, rigOurIP, rigLimitBC)
}

func TestIPBroadcastLoopedBackAndNeverQueried(t *testing.T) {
	r, st := newIPActorRig(t, Config{})
	_, got := r.listen(rigProto)
	// No default route: the limited broadcast still leaves on eth0.
	for _, dst := range []netip.Addr{rigLimitBC, rigSubnetBC} {
		r.send(&Packet{Dst: dst, Proto: rigProto, Body: []byte("all")})
		frames := r.takeFrames()
		if len(frames) != 1 {
			t.Fatalf("to %v: %d frames (NoRoute %d); want 1", dst, len(frames), st.NoRoute.Load())
		}
		checkFrame(t, dst.String(), frames[0], ethernet.Broadcast, rigOurIP, dst)
		if r.queried(dst) {
			t.Errorf("arp-query for the broadcast address %v", dst)
		}
	}
	// As on Linux, our own listeners get a copy, marked as a broadcast.
	if len(*got) != 2 {
		t.Fatalf("%d local copies of 2 broadcasts; want 2", len(*got))
	}
	for _, p := range *got {
		if p.Src != rigOurIP || !p.Broadcast || p.Iface != "lo" {
			t.Errorf("local copy %v > %v on %q broadcast %v; want from %v on lo, marked broadcast", p.Src, p.Dst, p.Iface, p.Broadcast, rigOurIP)
		}
	}
	// An explicit source is kept.
	r.send(&Packet{Src: rigOurIP, Dst: rigLimitBC, Proto: rigProto, Body: []byte("all")})
	if frames := r.takeFrames(); len(frames) != 1 {
		t.Fatalf("%d frames; want 1", len(frames))
	} else {
		checkFrame(t, "explicit source", frames[0], ethernet.Broadcast, rigOurIP, rigLimitBC)
	}
}

func TestIPBroadcastFlagOnDelivery(t *testing.T) {
	r, _ := newIPActorRig(t, Config{})
	_, got := r.listen(rigProto)
	for _, dst := range []netip.Addr{rigOurIP, rigSubnetBC, rigLimitBC} {
		r.fromWire(rigDatagram(rigPeerIP, dst, rigProto, 1, rigBytes(8, 5)))
	}
	if len(*got) != 3 {
		t.Fatalf("%d datagrams delivered; want 3", len(*got))
	}
	for i, want := range []bool{false, true, true} {
		if p := (*got)[i]; p.Broadcast != want {
			t.Errorf("datagram to %v delivered with Broadcast %v; want %v", p.Dst, p.Broadcast, want)
		}
	}
}

func TestIPReassemblyTimeoutOfBroadcastNotReported(t *testing.T) {
	r, st := newIPActorRig(t, Config{})
	h := IPv4Fields{ID: 0x78, TTL: 64, Protocol: rigProto, Src: rigPeerIP, Dst: rigSubnetBC, Flags: FlagMF}
	h.TotalLen = uint16(IPv4MinHeaderLen + 64)
	first := make([]byte, h.TotalLen)
	PutIPv4Header(first, &h)
	r.fromWire(first)
	if st.Fragments.Load() != 1 {
		t.Fatalf("Fragments %d; want 1", st.Fragments.Load())
	}
	r.sys.Advance(30 * time.Second)
	if errs := r.takeErrs(); len(errs) != 0 {
		t.Errorf("%d icmp-errors about a timed-out broadcast datagram; want none (RFC 1122 §3.2.2)", len(errs))
	}
}

func TestIPKeepsNeighbourInUseFresh(t *testing.T) {
	var st *Stats
	var arpSt *ethernet.ARPStats
	r := newIPRig(t, func(t *actors.Turn) {
		_, st = SpawnIP(t, Config{NeighborIdle: 5 * time.Minute})
		_, arpSt = ethernet.SpawnARP(t, ethernet.ARPConfig{Iface: "eth0", MAC: rigOurMAC, Lifetime: time.Minute})
	})
	r.takeFrames() // the gratuitous ARP for our address
	var bcastReqs, unicastReqs int
	// settle answers, as the peer, every ARP request for it that was sent,
	// and returns the IPv4 frames sent before the answers.
	settle := func() (ipv4 int) {
		t.Helper()
		for _, f := range r.takeFrames() {
			switch f.Type {
			case ethernet.EtherTypeIPv4:
				ipv4++
			case ethernet.EtherTypeARP:
				a := ethernet.ARP(f.Body)
				if a.Check() != nil || a.Op() != ethernet.ARPRequest || a.TargetIP() != rigPeerIP {
					continue
				}
				switch f.Dst {
				case ethernet.Broadcast:
					bcastReqs++
				case rigPeerMAC:
					unicastReqs++
				default:
					t.Fatalf("ARP request to %v", f.Dst)
				}
				body := make([]byte, ethernet.ARPLen)
				ethernet.PutARP(body, ethernet.ARPReply, rigPeerMAC, rigPeerIP, rigOurMAC, rigOurIP)
				r.send(&ethernet.Packet{Iface: "eth0", FromWire: true, Src: rigPeerMAC, Dst: rigOurMAC,
					Type: ethernet.EtherTypeARP, Body: body})
			}
		}
		return ipv4
	}
	entry := &ethernet.ARPEntry{Iface: "eth0", IP: rigPeerIP, MAC: rigPeerMAC}

	// The first datagram waits for one broadcast resolution.
	r.send(&Packet{Dst: rigPeerIP, Proto: rigProto, Body: []byte("0")})
	if n := settle(); n != 0 || bcastReqs != 1 {
		t.Fatalf("first datagram: %d IPv4 frames before resolution, %d broadcast requests; want 0 and 1", n, bcastReqs)
	}
	if n := settle(); n != 1 {
		t.Fatalf("%d frames flushed on resolution; want 1", n)
	}
	// Used every second for 3 minutes (three ARP lifetimes): every
	// datagram leaves at once, the mapping never goes, and ARP
	// re-confirms it with unicast requests.
	for s := 1; s <= 180; s++ {
		r.sys.Advance(time.Second)
		r.send(&Packet{Dst: rigPeerIP, Proto: rigProto, Body: []byte("x")})
		if n := settle(); n != 1 {
			t.Fatalf("at %d s: %d frames for a datagram to a neighbour in use; want 1 at once", s, n)
		}
		if r.sys.Count(entry) != 1 {
			t.Fatalf("at %d s: the mapping of a neighbour in use is gone", s)
		}
	}
	if bcastReqs != 1 || unicastReqs < 2 {
		t.Errorf("%d broadcast and %d unicast requests in 3 minutes; want 1 and at least 2", bcastReqs, unicastReqs)
	}
	if st.Unresolved.Load() != 0 || arpSt.Failures.Load() != 0 || st.Sent.Load() != 181 {
		t.Errorf("Unresolved %d ARP failures %d Sent %d; want 0, 0, 181", st.Unresolved.Load(), arpSt.Failures.Load(), st.Sent.Load())
	}

	// Unused: the query stays for the idle period, then goes, and with
	// it ARP's reason to keep the mapping.
	for s := 10; s < 5*60; s += 10 {
		r.sys.Advance(10 * time.Second)
		settle()
		if !r.queried(rigPeerIP) {
			t.Fatalf("arp-query retracted %d s after the last use; want it kept for 5 minutes", s)
		}
	}
	// The fast path marks a hop used without reading the clock; the sweep,
	// every NeighborIdle/8, dates the use. So the query goes between 5
	// minutes and one sweep interval later.
	r.sys.Advance(5*time.Minute/8 + 10*time.Second)
	settle()
	if r.queried(rigPeerIP) {
		t.Fatal("arp-query still asserted 5 minutes and a sweep interval after the last use")
	}
	r.sys.Advance(time.Minute)
	if settle(); r.sys.Count(entry) != 0 {
		t.Error("mapping still asserted a lifetime after its query went")
	}
}
