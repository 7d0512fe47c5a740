package ip

// Cross-checks against gopacket v1.1.19, an independent implementation,
// used here only as a test oracle.

import (
	"bytes"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGopacketGoldenPing(t *testing.T) {
	ip4 := &layers.IPv4{Version: 4, IHL: 5, Id: 0x1c46, Flags: layers.IPv4DontFragment, TTL: 64,
		Protocol: layers.IPProtocolICMPv4, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2}}
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 0x0a3b, Seq: 1}
	got := serialize(t, ip4, icmp, gopacket.Payload(goldenPing[28:]))
	if !bytes.Equal(got, goldenPing) {
		t.Errorf("gopacket builds\n% x", got)
	}
}

func TestGopacketGoldenDNS(t *testing.T) {
	ip4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2}}
	udp := &layers.UDP{SrcPort: 40000, DstPort: 53}
	udp.SetNetworkLayerForChecksum(ip4)
	got := serialize(t, ip4, udp, gopacket.Payload(goldenDNSQuery[8:]))
	if !bytes.Equal(got[20:], goldenDNSQuery) {
		t.Errorf("gopacket builds\n% x", got[20:])
	}
}

// TestGopacketRandomIPv4UDP encodes random datagrams with gopacket and
// decodes them here, and the other way round.
func TestGopacketRandomIPv4UDP(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for range 500 {
		src := net.IP{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}
		dst := net.IP{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}
		payload := make([]byte, r.IntN(1500))
		for i := range payload {
			payload[i] = byte(r.Uint32())
		}
		var opts []layers.IPv4Option
		if r.IntN(2) == 0 {
			opts = []layers.IPv4Option{{OptionType: 0x94, OptionLength: 4, OptionData: []byte{0, 0}}}
		}
		ip4 := &layers.IPv4{Version: 4, TOS: uint8(r.Uint32()), Id: uint16(r.Uint32()), TTL: uint8(r.Uint32()),
			Flags: layers.IPv4Flag(r.IntN(4) &^ 1), Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: dst, Options: opts}
		udp := &layers.UDP{SrcPort: layers.UDPPort(r.Uint32()), DstPort: layers.UDPPort(r.Uint32())}
		udp.SetNetworkLayerForChecksum(ip4)
		wire := serialize(t, ip4, udp, gopacket.Payload(payload))

		p := IPv4(wire)
		if err := p.Check(); err != nil {
			t.Fatalf("gopacket datagram fails Check: %v\n% x", err, wire)
		}
		u := UDP(p.Payload())
		if err := u.Check(); err != nil || !u.VerifyChecksum(p.Src(), p.Dst()) || !bytes.Equal(u.Payload(), payload) {
			t.Fatalf("UDP: %v", err)
		}
		if p.TOS() != ip4.TOS || p.ID() != ip4.Id || p.TTL() != ip4.TTL || uint8(p.Flags()) != uint8(ip4.Flags) ||
			!net.IP(p.Src().AsSlice()).Equal(src) || !net.IP(p.Dst().AsSlice()).Equal(dst) {
			t.Fatalf("fields differ: %+v vs %+v", p.Fields(), ip4)
		}

		// Our encoding of the same fields must be byte-identical.
		f := p.Fields()
		out := make([]byte, len(wire))
		n := PutIPv4Header(out, &f)
		PutUDPHeader(out[n:], u.SrcPort(), u.DstPort(), len(payload))
		copy(out[n+UDPHeaderLen:], payload)
		SetUDPChecksum(out[n:], p.Src(), p.Dst())
		if !bytes.Equal(out, wire) {
			t.Fatalf("our encoding differs:\n% x\n% x", out, wire)
		}

		// And gopacket decodes ours.
		pkt := gopacket.NewPacket(out, layers.LayerTypeIPv4, gopacket.Default)
		if pkt.ErrorLayer() != nil {
			t.Fatalf("gopacket cannot decode ours: %v", pkt.ErrorLayer().Error())
		}
	}
}

func TestGopacketICMPError(t *testing.T) {
	b := make([]byte, ICMPErrorLen(IPv4(goldenPing)))
	n := PutDestUnreachable(b, ICMPCodeFragNeeded, 1280, IPv4(goldenPing))
	pkt := gopacket.NewPacket(b[:n], layers.LayerTypeICMPv4, gopacket.Default)
	icmp, ok := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if !ok {
		t.Fatalf("gopacket: %v", pkt.ErrorLayer())
	}
	if icmp.TypeCode.Type() != 3 || icmp.TypeCode.Code() != 4 || icmp.Seq != 1280 {
		t.Errorf("gopacket sees %v seq %d", icmp.TypeCode, icmp.Seq)
	}
	// gopacket recomputes the checksum identically.
	again := serialize(t, icmp, gopacket.Payload(icmp.Payload))
	if !bytes.Equal(again, b[:n]) {
		t.Errorf("gopacket re-encodes\n% x\n% x", again, b[:n])
	}
}
