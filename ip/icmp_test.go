package ip

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"netspace/actors"
)

// newICMPRig is a rig around the ICMP actor alone (see ipactor_test.go):
// what it sends shows up in r.out.
func newICMPRig(t *testing.T, cfg ICMPConfig) (*ipRig, *ICMPStats) {
	t.Helper()
	var st *ICMPStats
	r := newIPRig(t, func(t *actors.Turn) { _, st = SpawnICMP(t, cfg) })
	return r, st
}

func (r *ipRig) takeOut() []*Packet {
	o := r.out
	r.out = nil
	return o
}

// echoRequest builds an ICMP echo request.
func echoRequest(id, seq uint16, payload []byte) []byte {
	b := make([]byte, ICMPHeaderLen+len(payload))
	PutICMP(b, ICMPTypeEchoRequest, 0, uint32(id)<<16|uint32(seq), payload)
	return b
}

// inboundICMP is an ICMP message received from the peer for us.
func inboundICMP(body []byte) *Packet {
	return &Packet{Iface: "eth0", FromWire: true, Src: rigPeerIP, Dst: rigOurIP, Proto: ProtocolICMP, TTL: 64, Body: body}
}

// udpOriginal is a UDP datagram from the peer to dst, the subject of an
// ICMP error.
func udpOriginal(dst netip.Addr, id uint16) []byte {
	u := make([]byte, UDPHeaderLen+12)
	PutUDPHeader(u, 5353, 9, 12)
	copy(u[UDPHeaderLen:], "hello, world")
	SetUDPChecksum(u, rigPeerIP, dst)
	return rigDatagram(rigPeerIP, dst, ProtocolUDP, id, u)
}

// checkICMPError checks that p is an ICMP error of type and code about
// orig, sent back to orig's source.
func checkICMPError(t *testing.T, p *Packet, typ, code uint8, orig []byte) ICMP {
	t.Helper()
	o := IPv4(orig)
	if p.FromWire || p.Proto != ProtocolICMP || p.Src != o.Dst() || p.Dst != o.Src() {
		t.Errorf("error datagram from-wire %v proto %d %v > %v; want false 1 %v > %v",
			p.FromWire, p.Proto, p.Src, p.Dst, o.Dst(), o.Src())
	}
	m := ICMP(p.Body)
	if err := m.Check(); err != nil {
		t.Fatalf("ICMP error does not check: %v", err)
	}
	if m.Type() != typ || m.Code() != code {
		t.Errorf("ICMP type %d code %d; want %d %d", m.Type(), m.Code(), typ, code)
	}
	// RFC 792: the original header and the first 8 bytes of its payload.
	if want := orig[:o.HeaderLen()+8]; !bytes.Equal(m.Payload(), want) {
		t.Errorf("quote % x; want % x", m.Payload(), want)
	}
	return m
}

func TestICMPEchoReply(t *testing.T) {
	r, st := newICMPRig(t, ICMPConfig{})
	payload := rigBytes(56, 11)
	r.send(inboundICMP(echoRequest(0x1234, 7, payload)))
	out := r.takeOut()
	if len(out) != 1 {
		t.Fatalf("%d datagrams sent for one echo request; want 1 reply", len(out))
	}
	p := out[0]
	if p.FromWire || p.Src != rigOurIP || p.Dst != rigPeerIP || p.Proto != ProtocolICMP {
		t.Errorf("reply from-wire %v %v > %v proto %d; want false %v > %v 1", p.FromWire, p.Src, p.Dst, p.Proto, rigOurIP, rigPeerIP)
	}
	m := ICMP(p.Body)
	if err := m.Check(); err != nil {
		t.Fatalf("reply does not check: %v", err)
	}
	if m.Type() != ICMPTypeEchoReply || m.Code() != 0 || m.ID() != 0x1234 || m.Seq() != 7 || !bytes.Equal(m.Payload(), payload) {
		t.Errorf("reply type %d code %d id %#x seq %d payload equal %v; want 0 0 0x1234 7 true",
			m.Type(), m.Code(), m.ID(), m.Seq(), bytes.Equal(m.Payload(), payload))
	}
	if len(p.Frame) != Headroom+len(p.Body) || !bytes.Equal(p.Frame[Headroom:], p.Body) {
		t.Errorf("Frame of %d bytes does not hold Body after %d bytes of headroom", len(p.Frame), Headroom)
	}
	if st.EchoRequests.Load() != 1 || st.EchoReplies.Load() != 1 || st.Received.Load() != 1 {
		t.Errorf("Received %d EchoRequests %d EchoReplies %d; want 1 1 1",
			st.Received.Load(), st.EchoRequests.Load(), st.EchoReplies.Load())
	}
}

func TestICMPIgnoresOtherAndMalformed(t *testing.T) {
	r, st := newICMPRig(t, ICMPConfig{})
	bad := echoRequest(1, 1, []byte("data"))
	bad[2] ^= 0xff // checksum
	r.send(inboundICMP(bad))
	r.send(inboundICMP([]byte{8, 0, 0}))
	if st.Malformed.Load() != 2 {
		t.Errorf("Malformed = %d; want 2", st.Malformed.Load())
	}
	reply := make([]byte, ICMPHeaderLen+4)
	PutICMP(reply, ICMPTypeEchoReply, 0, 1<<16|1, []byte("data"))
	r.send(inboundICMP(reply))
	if out := r.takeOut(); len(out) != 0 || st.EchoRequests.Load() != 0 || st.EchoReplies.Load() != 0 {
		t.Errorf("%d datagrams sent for malformed requests and an echo reply; want 0", len(out))
	}
	if st.Received.Load() != 3 {
		t.Errorf("Received = %d; want 3", st.Received.Load())
	}
}

func TestICMPErrorRateLimitBurst(t *testing.T) {
	r, st := newICMPRig(t, ICMPConfig{})
	orig := udpOriginal(rigOurIP, 1)
	burst := func() {
		r.do(func(t *actors.Turn) {
			for i := 0; i < 100; i++ {
				t.Send(&ICMPError{Type: ICMPTypeDestUnreach, Code: ICMPCodePortUnreachable, Original: orig})
			}
		})
	}
	burst()
	out := r.takeOut()
	if len(out) != 20 {
		t.Fatalf("%d errors sent out of 100 at one instant; want the burst of 20", len(out))
	}
	for _, p := range out {
		checkICMPError(t, p, ICMPTypeDestUnreach, ICMPCodePortUnreachable, orig)
	}
	if st.ErrorsSent.Load() != 20 || st.RateLimited.Load() != 80 {
		t.Fatalf("ErrorsSent %d RateLimited %d; want 20 and 80", st.ErrorsSent.Load(), st.RateLimited.Load())
	}
	// A second later the bucket (100/s) is full again, but holds no more
	// than the burst.
	r.sys.Advance(time.Second)
	burst()
	if out := r.takeOut(); len(out) != 20 || st.RateLimited.Load() != 160 {
		t.Fatalf("after 1 s: %d sent, RateLimited %d; want 20 and 160", len(out), st.RateLimited.Load())
	}
}

func TestICMPErrorRateRefill(t *testing.T) {
	// Rates that are exact in binary: 4 tokens a second, a burst of 10.
	r, st := newICMPRig(t, ICMPConfig{ErrorRate: 4, ErrorBurst: 10})
	orig := udpOriginal(rigOurIP, 2)
	n := func(count int) int {
		r.do(func(t *actors.Turn) {
			for i := 0; i < count; i++ {
				t.Send(&ICMPError{Type: ICMPTypeDestUnreach, Code: ICMPCodePortUnreachable, Original: orig})
			}
		})
		return len(r.takeOut())
	}
	if got := n(100); got != 10 {
		t.Fatalf("%d sent at once; want the burst of 10", got)
	}
	for i, step := range []struct {
		d    time.Duration
		want int
	}{
		{time.Second, 4},            // ErrorRate more after a second
		{250 * time.Millisecond, 1}, // a quarter second earns one
		{125 * time.Millisecond, 0}, // half a token is not enough
		{125 * time.Millisecond, 1}, // but two halves are
		{10 * time.Second, 10},      // never more than the burst
		{0, 0},                      // and none more at the same instant
	} {
		r.sys.Advance(step.d)
		if got := n(100); got != step.want {
			t.Fatalf("step %d (+%v): %d sent; want %d", i, step.d, got, step.want)
		}
	}
	if st.ErrorsSent.Load()+st.RateLimited.Load() != 700 || st.ErrorsSent.Load() != 26 {
		t.Errorf("ErrorsSent %d RateLimited %d; want 26 and 674", st.ErrorsSent.Load(), st.RateLimited.Load())
	}
}

func TestICMPErrorFragNeededCarriesMTU(t *testing.T) {
	r, _ := newICMPRig(t, ICMPConfig{})
	orig := udpOriginal(rigOurIP, 3)
	r.send(&ICMPError{Type: ICMPTypeDestUnreach, Code: ICMPCodeFragNeeded, Original: orig, MTU: 1400})
	out := r.takeOut()
	if len(out) != 1 {
		t.Fatalf("%d errors sent; want 1", len(out))
	}
	if m := checkICMPError(t, out[0], ICMPTypeDestUnreach, ICMPCodeFragNeeded, orig); m.MTU() != 1400 {
		t.Errorf("next-hop MTU %d; want 1400", m.MTU())
	}
}

func TestICMPErrorSuppressed(t *testing.T) {
	r, st := newICMPRig(t, ICMPConfig{ErrorBurst: 2})

	// An ICMP error (port unreachable) as the original.
	errMsg := make([]byte, ICMPHeaderLen+28)
	PutICMPError(errMsg, ICMPTypeDestUnreach, ICMPCodePortUnreachable, 0, udpOriginal(rigPeerIP, 4))
	aboutError := rigDatagram(rigPeerIP, rigOurIP, ProtocolICMP, 5, errMsg)

	// A later fragment: offset 8.
	h := IPv4Fields{ID: 6, TTL: 64, Protocol: ProtocolUDP, Src: rigPeerIP, Dst: rigOurIP, FragOffset: 8}
	later := make([]byte, IPv4MinHeaderLen+16)
	h.TotalLen = uint16(len(later))
	PutIPv4Header(later, &h)

	suppressed := []struct {
		name string
		orig []byte
	}{
		{"about an ICMP error", aboutError},
		{"to the limited broadcast", udpOriginal(rigLimitBC, 7)},
		{"to our subnet's broadcast", udpOriginal(rigSubnetBC, 11)},
		{"a non-first fragment", later},
		{"not an IPv4 datagram", []byte{0x45, 0, 0}},
		{"from 0.0.0.0", rigDatagram(netip.IPv4Unspecified(), rigOurIP, ProtocolUDP, 8, rigBytes(8, 1))},
	}
	for i, c := range suppressed {
		r.send(&ICMPError{Type: ICMPTypeDestUnreach, Code: ICMPCodePortUnreachable, Original: c.orig})
		if out := r.takeOut(); len(out) != 0 {
			t.Errorf("%s: %d errors sent; want none", c.name, len(out))
		}
		if st.Suppressed.Load() != uint64(i+1) {
			t.Errorf("%s: Suppressed = %d; want %d", c.name, st.Suppressed.Load(), i+1)
		}
	}
	if st.RateLimited.Load() != 0 || st.ErrorsSent.Load() != 0 {
		t.Errorf("RateLimited %d ErrorsSent %d; want 0 0", st.RateLimited.Load(), st.ErrorsSent.Load())
	}

	// Suppressed errors spent no tokens; errors about an echo request and
	// about a first fragment are allowed.
	echo := rigDatagram(rigPeerIP, rigOurIP, ProtocolICMP, 9, echoRequest(1, 1, rigBytes(16, 2)))
	h = IPv4Fields{ID: 10, TTL: 64, Protocol: ProtocolUDP, Src: rigPeerIP, Dst: rigOurIP, Flags: FlagMF}
	first := make([]byte, IPv4MinHeaderLen+16)
	h.TotalLen = uint16(len(first))
	PutIPv4Header(first, &h)
	for _, orig := range [][]byte{echo, first} {
		r.send(&ICMPError{Type: ICMPTypeTimeExceeded, Code: ICMPCodeReassemblyExceeded, Original: orig})
		out := r.takeOut()
		if len(out) != 1 {
			t.Fatalf("%d errors sent about % x; want 1", len(out), orig[:20])
		}
		checkICMPError(t, out[0], ICMPTypeTimeExceeded, ICMPCodeReassemblyExceeded, orig)
	}
}

func TestICMPEchoToBroadcastNotAnsweredFromBroadcast(t *testing.T) {
	var ipSt *Stats
	r := newIPRig(t, func(t *actors.Turn) {
		_, ipSt = SpawnIP(t, Config{})
		SpawnICMP(t, ICMPConfig{})
	})
	r.neighbor(rigPeerIP, rigPeerMAC)
	r.fromWire(rigDatagram(rigPeerIP, rigSubnetBC, ProtocolICMP, 1, echoRequest(1, 1, rigBytes(8, 3))))
	if ipSt.Delivered.Load() != 1 {
		t.Fatalf("the broadcast echo request was not delivered to ICMP (Delivered %d)", ipSt.Delivered.Load())
	}
	for _, f := range r.takeFrames() {
		if h := IPv4(f.Body); h.Check() == nil && h.Src() != rigOurIP {
			t.Errorf("sent a datagram from %v (to %v); only %v is ours to send from", h.Src(), h.Dst(), rigOurIP)
		}
	}
}

func TestICMPIgnoresBroadcastEcho(t *testing.T) {
	r, st := newICMPRig(t, ICMPConfig{})
	p := inboundICMP(echoRequest(1, 2, rigBytes(8, 4)))
	p.Dst, p.Broadcast = rigSubnetBC, true
	r.send(p)
	if out := r.takeOut(); len(out) != 0 || st.EchoReplies.Load() != 0 {
		t.Errorf("%d datagrams sent (EchoReplies %d) for an echo request to a broadcast; want none", len(out), st.EchoReplies.Load())
	}
}
