package netspace

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"netspace/actors"
	"netspace/drivers"
	"netspace/ethernet"
	"netspace/ip"
	"netspace/tcp"
)

// fuzzTarget is one stack, serving echo and HTTP-less services, fed by
// the fuzzer through the raw end of an in-memory wire. It lives for the
// whole fuzzing process (each input reuses it, as a real stack would).
var fuzzTarget struct {
	once  sync.Once
	st    *Stack
	raw   *drivers.WireEnd
	clock *actors.ManualClock
	n     int
}

var fuzzPeer = ethernet.LocallyAdministered(7)

func fuzzStack(t testing.TB) (*Stack, *drivers.WireEnd) {
	f := &fuzzTarget
	f.once.Do(func() {
		f.clock = actors.NewManualClock(time.Unix(1_000_000, 0))
		raw, link := drivers.NewWire(drivers.WireConfig{Clock: f.clock})
		st, err := New(Config{Link: link, Addrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.2/24")},
			Deterministic: true, Clock: f.clock, Seed: 5})
		if err != nil {
			panic(err)
		}
		st.ServeUDPEcho(7)
		st.ServeTCPEcho(7)
		st.ServeTCPDiscard(9)
		raw.Start(func([][]byte) {}) // whatever the stack answers is dropped
		st.Sys.Quiesce()
		f.st, f.raw = st, raw
	})
	return f.st, f.raw
}

// fuzzFrame builds an Ethernet frame to the stack from the fuzzer's
// input. kind chooses the EtherType (ARP, IPv4, or body's first two
// bytes); fix asks, bit by bit, for the IPv4 destination to be ours, the
// IPv4 header checksum to be right, and the transport checksum to be
// right, so that the fuzzer gets past the front doors.
func fuzzFrame(mac ethernet.MAC, kind, fix byte, body []byte) []byte {
	typ := ethernet.EtherTypeIPv4
	switch kind % 3 {
	case 0:
		typ = ethernet.EtherTypeARP
	case 2:
		if len(body) >= 2 {
			typ, body = uint16(body[0])<<8|uint16(body[1]), body[2:]
		}
	}
	frame := make([]byte, ethernet.HeaderLen+len(body))
	dst := mac
	if fix&8 != 0 {
		dst = ethernet.Broadcast
	}
	ethernet.PutHeader(frame, dst, fuzzPeer, typ)
	p := frame[ethernet.HeaderLen:]
	copy(p, body)
	if typ != ethernet.EtherTypeIPv4 || len(p) < ip.IPv4MinHeaderLen {
		return frame
	}
	hl := int(p[0]&0x0f) * 4
	if fix&1 != 0 {
		copy(p[16:20], []byte{192, 0, 2, 2})
	}
	if fix&4 != 0 && hl >= ip.IPv4MinHeaderLen && hl <= len(p) {
		src := netip.AddrFrom4([4]byte(p[12:16]))
		dstIP := netip.AddrFrom4([4]byte(p[16:20]))
		seg := p[hl:]
		switch p[9] {
		case ip.ProtocolTCP:
			if len(seg) >= tcp.HeaderLen {
				tcp.SetChecksum(seg, src, dstIP)
			}
		case ip.ProtocolUDP:
			// SetUDPChecksum is an encoder: it wants a consistent length.
			if len(seg) >= ip.UDPHeaderLen && ip.UDP(seg).Check() == nil {
				ip.SetUDPChecksum(seg, src, dstIP)
			}
		case ip.ProtocolICMP:
			if len(seg) >= 4 {
				seg[2], seg[3] = 0, 0
				c := ip.Checksum(seg, 0)
				seg[2], seg[3] = byte(c>>8), byte(c)
			}
		}
	}
	if fix&2 != 0 && hl >= ip.IPv4MinHeaderLen && hl <= len(p) {
		p[10], p[11] = 0, 0
		c := ip.Checksum(p[:hl], 0)
		p[10], p[11] = byte(c>>8), byte(c)
	}
	return frame
}

func fuzzSeeds(f *testing.F) {
	mac := ethernet.LocallyAdministered(5) // replaced by the stack's MAC in the frame
	_ = mac
	peer := netip.MustParseAddr("192.0.2.1")
	us := netip.MustParseAddr("192.0.2.2")
	arp := make([]byte, ethernet.ARPLen)
	ethernet.PutARP(arp, ethernet.ARPRequest, fuzzPeer, peer, ethernet.MAC{}, us)
	f.Add(byte(0), byte(0), arp)
	ipv4 := func(proto uint8, payload []byte, flags ip.IPv4Flags, off int) []byte {
		b := make([]byte, ip.IPv4MinHeaderLen+len(payload))
		ip.PutIPv4Header(b, &ip.IPv4Fields{TotalLen: uint16(len(b)), ID: 9, Flags: flags, FragOffset: off,
			TTL: 64, Protocol: proto, Src: peer, Dst: us})
		copy(b[ip.IPv4MinHeaderLen:], payload)
		return b
	}
	echo := make([]byte, ip.ICMPHeaderLen+16)
	ip.PutICMP(echo, ip.ICMPTypeEchoRequest, 0, 1<<16|1, make([]byte, 16))
	f.Add(byte(1), byte(7), ipv4(ip.ProtocolICMP, echo, 0, 0))
	udp := make([]byte, ip.UDPHeaderLen+5)
	ip.PutUDPHeader(udp, 4000, 7, 5)
	f.Add(byte(1), byte(7), ipv4(ip.ProtocolUDP, udp, 0, 0))
	var ob [40]byte
	opts := tcp.Options{MSS: 1460, HasMSS: true, SACKPermitted: true, HasWScale: true, WScale: 7, HasTS: true, TSVal: 1}
	hf := tcp.HeaderFields{SrcPort: 4000, DstPort: 7, Seq: 1000, Flags: tcp.FlagSYN, Window: 65535}
	hf.Options = ob[:tcp.PutOptions(ob[:], &opts)]
	syn := make([]byte, hf.HeaderLen())
	tcp.PutHeader(syn, &hf)
	f.Add(byte(1), byte(7), ipv4(ip.ProtocolTCP, syn, 0, 0))
	f.Add(byte(1), byte(7), ipv4(ip.ProtocolUDP, udp, ip.FlagMF, 0))
	f.Add(byte(1), byte(3), ipv4(ip.ProtocolUDP, udp[:4], 0, 8))
	f.Add(byte(2), byte(0), []byte{0x86, 0xdd, 1, 2, 3})
}

// FuzzStackReceive hands arbitrary frames to a running stack: nothing may
// panic (no actor crashes), and every IPv4 frame is accounted for by
// exactly one of the IP layer's outcomes.
func FuzzStackReceive(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, kind, fix byte, body []byte) {
		if len(body) > 9000 {
			return
		}
		st, raw := fuzzStack(t)
		frame := fuzzFrame(st.MAC, kind, fix, body)
		raw.Send([][]byte{frame})
		st.Sys.Quiesce()
		if fuzzTarget.n++; fuzzTarget.n%64 == 0 {
			st.Sys.Advance(2 * time.Second) // let retransmissions and timeouts run
		}
		if c := st.Sys.Stats().Crashes; c != 0 {
			t.Fatalf("%d actor crashes after frame %x", c, frame)
		}
		c := st.Counters()
		got := c["ip.delivered"] + c["ip.fragments"] + c["ip.malformed"] + c["ip.not_for_us"] + c["ip.no_protocol"] + c["ip.reasm_dropped"]
		if got != c["ip.received"] {
			t.Fatalf("IPv4 accounting: received %d, outcomes %d (%v) after frame %x", c["ip.received"], got, nonZero(c), frame)
		}
	})
}
