package ip

import (
	"bytes"
	"net/netip"
	"testing"

	"netspace/actors"
	ds "netspace/dataspace"
)

// newUDPRig is a rig around the UDP actor and its port allocator (see
// ipactor_test.go): datagrams it sends show up in r.out.
func newUDPRig(t *testing.T) (*ipRig, *UDPStats) {
	t.Helper()
	var st *UDPStats
	r := newIPRig(t, func(t *actors.Turn) { _, st = SpawnUDP(t, 42) })
	return r, st
}

// udpSegment builds a UDP datagram from src:sport to dst:dport with a
// correct checksum.
func udpSegment(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	u := make([]byte, UDPHeaderLen+len(payload))
	PutUDPHeader(u, sport, dport, len(payload))
	copy(u[UDPHeaderLen:], payload)
	SetUDPChecksum(u, src, dst)
	return u
}

// udpIn is the ip-packet IP would deliver for seg, received from the peer
// for dst.
func udpIn(dst netip.Addr, seg []byte) *Packet {
	d := rigDatagram(rigPeerIP, dst, ProtocolUDP, 1, seg)
	return &Packet{Iface: "eth0", FromWire: true, Src: rigPeerIP, Dst: dst, Proto: ProtocolUDP, TTL: 64,
		Body: d[IPv4MinHeaderLen:], Datagram: d}
}

// udpUser is a user actor holding one observation of udp-channel
// messages, and watching the binding of its handle if it has one.
type udpUser struct {
	a        *actors.Actor
	sub      *actors.Subscription
	got      []*UDPChannel
	port     uint16 // the handle's bound port, 0 while unbound
	bindings int    // udp-binding assertions seen
}

func (r *ipRig) udpUser(p *ds.Pattern, handle *ds.Value) *udpUser {
	u := &udpUser{}
	u.a = r.sys.Spawn("udp-user", func(t *actors.Turn) {
		u.sub = t.Observe(p, actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) { u.got = append(u.got, m.(*UDPChannel)) },
		})
		if handle != nil {
			t.Observe(ds.RecordPattern(LabelUDPBinding, ds.CaptureAny, ds.Lit(*handle)), actors.Handler{
				Added: func(t *actors.Turn, c []ds.Value) {
					u.port = uint16(c[0].AsInt())
					u.bindings++
				},
				Removed: func(t *actors.Turn, c []ds.Value) { u.port = 0 },
			})
		}
	})
	r.sys.Quiesce()
	return u
}

func (r *ipRig) udpHandle(id ds.Value) *udpUser { return r.udpUser(HandlePattern(id), &id) }

// checkUDPOut checks that p is a UDP datagram to send from our address
// and sport to the peer's dport carrying payload.
func checkUDPOut(t *testing.T, p *Packet, sport, dport uint16, payload []byte) {
	t.Helper()
	if p.FromWire || p.Proto != ProtocolUDP || p.Src != rigOurIP || p.Dst != rigPeerIP {
		t.Errorf("datagram from-wire %v proto %d %v > %v; want false 17 %v > %v", p.FromWire, p.Proto, p.Src, p.Dst, rigOurIP, rigPeerIP)
	}
	u := UDP(p.Body)
	if err := u.Check(); err != nil {
		t.Fatalf("UDP does not check: %v", err)
	}
	if u.SrcPort() != sport || u.DstPort() != dport || !bytes.Equal(u.Payload(), payload) {
		t.Errorf("UDP %d > %d payload %q; want %d > %d %q", u.SrcPort(), u.DstPort(), u.Payload(), sport, dport, payload)
	}
	if u.Checksum() == 0 || !u.VerifyChecksum(rigOurIP, rigPeerIP) {
		t.Errorf("UDP checksum %#04x does not verify", u.Checksum())
	}
	if len(p.Frame) != Headroom+len(p.Body) || !bytes.Equal(p.Frame[Headroom:], p.Body) {
		t.Errorf("Frame of %d bytes does not hold Body after %d bytes of headroom", len(p.Frame), Headroom)
	}
}

func TestUDPListenerDelivery(t *testing.T) {
	r, st := newUDPRig(t)
	u := r.udpUser(ListenerPattern(7), nil)
	r.send(udpIn(rigOurIP, udpSegment(rigPeerIP, rigOurIP, 5353, 7, []byte("ping"))))
	if len(u.got) != 1 {
		t.Fatalf("listener got %d datagrams; want 1", len(u.got))
	}
	c := u.got[0]
	src, ok := c.Src.(*UDPAddress)
	if !ok || src.Host != rigPeerIP || src.Port != 5353 {
		t.Errorf("udp-channel source %v; want udp-address(%v, 5353)", c.Src, rigPeerIP)
	}
	if dst, ok := c.Dst.(*UDPListener); !ok || dst.Port != 7 {
		t.Errorf("udp-channel destination %v; want udp-listener(7)", c.Dst)
	}
	if string(c.Body) != "ping" {
		t.Errorf("body %q; want ping", c.Body)
	}
	if st.Received.Load() != 1 || st.Delivered.Load() != 1 || st.NoPort.Load() != 0 {
		t.Errorf("Received %d Delivered %d NoPort %d; want 1 1 0", st.Received.Load(), st.Delivered.Load(), st.NoPort.Load())
	}

	// A zero checksum (none computed) is accepted over IPv4.
	seg := udpSegment(rigPeerIP, rigOurIP, 5353, 7, []byte("none"))
	seg[6], seg[7] = 0, 0
	r.send(udpIn(rigOurIP, seg))
	if len(u.got) != 2 || string(u.got[1].Body) != "none" {
		t.Errorf("datagram without checksum not delivered (%d delivered)", len(u.got))
	}

	// The listener answers from its port.
	r.send(&UDPChannel{Src: &UDPListener{Port: 7}, Dst: &UDPAddress{Host: rigPeerIP, Port: 5353}, Body: []byte("pong")})
	out := r.takeOut()
	if len(out) != 1 {
		t.Fatalf("%d datagrams sent for one udp-channel from the listener; want 1", len(out))
	}
	checkUDPOut(t, out[0], 7, 5353, []byte("pong"))
}

func TestUDPBadChecksumDropped(t *testing.T) {
	r, st := newUDPRig(t)
	u := r.udpUser(ListenerPattern(7), nil)
	seg := udpSegment(rigPeerIP, rigOurIP, 5353, 7, []byte("ping"))
	seg[UDPHeaderLen] ^= 0x20 // "ping" → "Ping" after the checksum was computed
	r.send(udpIn(rigOurIP, seg))
	if len(u.got) != 0 || st.BadChecksum.Load() != 1 || st.Delivered.Load() != 0 {
		t.Fatalf("corrupted datagram: delivered %d, BadChecksum %d; want 0 and 1", len(u.got), st.BadChecksum.Load())
	}
	if errs := r.takeErrs(); len(errs) != 0 {
		t.Errorf("%d icmp-errors for a corrupted datagram; want none", len(errs))
	}

	// Length field past the data: malformed.
	seg = udpSegment(rigPeerIP, rigOurIP, 5353, 7, []byte("ping"))
	seg[5] += 4
	r.send(udpIn(rigOurIP, seg))
	if len(u.got) != 0 || st.Malformed.Load() != 1 {
		t.Errorf("bad length: delivered %d, Malformed %d; want 0 and 1", len(u.got), st.Malformed.Load())
	}
}

func TestUDPClosedPortUnreachable(t *testing.T) {
	r, st := newUDPRig(t)
	in := udpIn(rigOurIP, udpSegment(rigPeerIP, rigOurIP, 5353, 9999, []byte("anyone?")))
	r.send(in)
	errs := r.takeErrs()
	if len(errs) != 1 {
		t.Fatalf("%d icmp-errors for a closed port; want 1", len(errs))
	}
	if e := errs[0]; e.Type != ICMPTypeDestUnreach || e.Code != ICMPCodePortUnreachable || !bytes.Equal(e.Original, in.Datagram) {
		t.Errorf("icmp-error type %d code %d original % x; want 3 3 and the datagram", e.Type, e.Code, e.Original)
	}
	if st.NoPort.Load() != 1 || st.Delivered.Load() != 0 {
		t.Errorf("NoPort %d Delivered %d; want 1 0", st.NoPort.Load(), st.Delivered.Load())
	}
	// A listener on another port changes nothing.
	r.udpUser(ListenerPattern(7), nil)
	r.send(in)
	if len(r.takeErrs()) != 1 || st.NoPort.Load() != 2 {
		t.Errorf("NoPort %d; want 2", st.NoPort.Load())
	}
}

func TestUDPHandleBinding(t *testing.T) {
	r, st := newUDPRig(t)
	id1, id2 := ds.String("h1"), ds.String("h2")
	u1, u2 := r.udpHandle(id1), r.udpHandle(id2)
	for i, u := range []*udpUser{u1, u2} {
		if u.port < 49152 || u.bindings != 1 {
			t.Fatalf("handle %d: bound to port %d (%d bindings); want one port in 49152–65535", i+1, u.port, u.bindings)
		}
	}
	if u1.port == u2.port {
		t.Fatalf("both handles bound to port %d", u1.port)
	}
	if n := r.sys.Count(&UDPBinding{Port: u1.port, Handle: id1}); n != 1 {
		t.Errorf("udp-binding(%d, h1) asserted %d times; want 1", u1.port, n)
	}

	// Sending from the handle uses its port.
	r.send(&UDPChannel{Src: &UDPHandle{ID: id1}, Dst: &UDPAddress{Host: rigPeerIP, Port: 53}, Body: []byte("query")})
	out := r.takeOut()
	if len(out) != 1 {
		t.Fatalf("%d datagrams sent from the handle; want 1", len(out))
	}
	checkUDPOut(t, out[0], u1.port, 53, []byte("query"))

	// Datagrams to the port reach the handle, from the sender's address.
	r.send(udpIn(rigOurIP, udpSegment(rigPeerIP, rigOurIP, 53, u1.port, []byte("answer"))))
	if len(u1.got) != 1 || len(u2.got) != 0 {
		t.Fatalf("handle 1 got %d, handle 2 got %d; want 1 and 0", len(u1.got), len(u2.got))
	}
	c := u1.got[0]
	if src, ok := c.Src.(*UDPAddress); !ok || src.Host != rigPeerIP || src.Port != 53 || string(c.Body) != "answer" {
		t.Errorf("delivered from %v body %q; want udp-address(%v, 53) answer", c.Src, c.Body, rigPeerIP)
	}
	if dst, ok := c.Dst.(*UDPHandle); !ok || !dst.ID.Equal(id1) {
		t.Errorf("delivered to %v; want udp-handle(\"h1\")", c.Dst)
	}

	// Dropping the observation retracts the binding; the port is closed.
	port := u1.port
	u1.a.Inject(func(t *actors.Turn) { t.Unobserve(u1.sub) })
	r.sys.Quiesce()
	if n := r.sys.Count(&UDPBinding{Port: port, Handle: id1}); n != 0 || u1.port != 0 {
		t.Fatalf("udp-binding(%d, h1) still asserted %d times after the observation ended", port, n)
	}
	r.send(udpIn(rigOurIP, udpSegment(rigPeerIP, rigOurIP, 53, port, []byte("late"))))
	if len(u1.got) != 1 || st.NoPort.Load() != 1 || len(r.takeErrs()) != 1 {
		t.Errorf("to the released port: delivered %d, NoPort %d; want 1 (unchanged) and 1", len(u1.got), st.NoPort.Load())
	}
	// Sending from the unbound handle is refused and counted.
	r.send(&UDPChannel{Src: &UDPHandle{ID: id1}, Dst: &UDPAddress{Host: rigPeerIP, Port: 53}, Body: []byte("x")})
	if out := r.takeOut(); len(out) != 0 || st.SendNoSource.Load() != 1 {
		t.Errorf("unbound handle: %d sent, SendNoSource %d; want 0 and 1", len(out), st.SendNoSource.Load())
	}
	// The other handle keeps its port.
	if n := r.sys.Count(&UDPBinding{Port: u2.port, Handle: id2}); n != 1 {
		t.Errorf("udp-binding(%d, h2) asserted %d times; want 1", u2.port, n)
	}
}

func TestUDPHandlesWithLongBytesIDs(t *testing.T) {
	r, _ := newUDPRig(t)
	a, b := bytes.Repeat([]byte{7}, 40), bytes.Repeat([]byte{7}, 40)
	b[39] = 8
	idA, idB := ds.Bytes(a), ds.Bytes(b)
	ua, ub := r.udpHandle(idA), r.udpHandle(idB)
	if ua.port == 0 || ub.port == 0 || ua.port == ub.port {
		t.Fatalf("handles with distinct ids bound to ports %d and %d; want two different ports", ua.port, ub.port)
	}
	r.send(&UDPChannel{Src: &UDPHandle{ID: idA}, Dst: &UDPAddress{Host: rigPeerIP, Port: 53}, Body: []byte("from a")})
	out := r.takeOut()
	if len(out) != 1 {
		t.Fatalf("%d datagrams sent from handle a; want 1", len(out))
	}
	checkUDPOut(t, out[0], ua.port, 53, []byte("from a"))
	ua.a.Inject(func(t *actors.Turn) { t.Unobserve(ua.sub) })
	r.sys.Quiesce()
	if r.sys.Count(&UDPBinding{Port: ua.port, Handle: idA}) != 0 || r.sys.Count(&UDPBinding{Port: ub.port, Handle: idB}) != 1 {
		t.Errorf("after handle a went: binding a asserted %d times, binding b %d; want 0 and 1",
			r.sys.Count(&UDPBinding{Port: ua.port, Handle: idA}), r.sys.Count(&UDPBinding{Port: ub.port, Handle: idB}))
	}
}

func TestUDPNoPortReplyToSubnetBroadcast(t *testing.T) {
	var icmpSt *ICMPStats
	r := newIPRig(t, func(t *actors.Turn) {
		SpawnIP(t, Config{})
		SpawnUDP(t, 1)
		_, icmpSt = SpawnICMP(t, ICMPConfig{})
	})
	r.neighbor(rigPeerIP, rigPeerMAC)
	r.fromWire(rigDatagram(rigPeerIP, rigSubnetBC, ProtocolUDP, 1, udpSegment(rigPeerIP, rigSubnetBC, 5353, 9999, []byte("all"))))
	if frames := r.takeFrames(); len(frames) != 0 || icmpSt.ErrorsSent.Load() != 0 {
		t.Fatalf("%d frames sent (ErrorsSent %d) in answer to a broadcast datagram; want none", len(frames), icmpSt.ErrorsSent.Load())
	}
}
