package tcp

// Cross-checks against gopacket v1.1.19, an independent implementation,
// used here only as a test oracle.

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

func gopacketSegment(t testing.TB, tcp *layers.TCP, payload []byte) []byte {
	t.Helper()
	ip4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: net.IP(addrA.AsSlice()), DstIP: net.IP(addrB.AsSlice())}
	tcp.SetNetworkLayerForChecksum(ip4)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		tcp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGopacketGoldenSYN(t *testing.T) {
	tcp := &layers.TCP{SrcPort: 48826, DstPort: 80, Seq: 0x5b1c9f3e, SYN: true, Window: 64240,
		Options: []layers.TCPOption{
			{OptionType: 2, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
			{OptionType: 4, OptionLength: 2},
			{OptionType: 8, OptionLength: 10, OptionData: []byte{0, 0x09, 0xb2, 0xc4, 0, 0, 0, 0}},
			{OptionType: 1},
			{OptionType: 3, OptionLength: 3, OptionData: []byte{7}},
		}}
	got := gopacketSegment(t, tcp, nil)
	if !bytes.Equal(got, goldenSYN) {
		t.Errorf("gopacket builds\n% x", got)
	}
}

// TestGopacketRandomSegments builds random segments with gopacket and
// checks that they decode here, and that our encoding is identical.
func TestGopacketRandomSegments(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	for range 500 {
		var o Options
		if r.IntN(2) == 0 {
			o.MSS, o.HasMSS = uint16(r.Uint32()), true
		}
		o.SACKPermitted = r.IntN(2) == 0
		if r.IntN(2) == 0 {
			o.TSVal, o.TSEcr, o.HasTS = r.Uint32(), r.Uint32(), true
		}
		if r.IntN(2) == 0 {
			o.WScale, o.HasWScale = uint8(r.IntN(15)), true
		}
		o.NumSACK = r.IntN(5)
		for i := range o.SACK {
			o.SACK[i] = Block{Seq(r.Uint32()), Seq(r.Uint32())}
		}
		opts := make([]byte, OptionsLen(&o))
		PutOptions(opts, &o)
		// Hand our option bytes to gopacket as raw options.
		var gopts []layers.TCPOption
		for b := opts; len(b) > 0; {
			if b[0] == OptionNOP {
				gopts = append(gopts, layers.TCPOption{OptionType: 1})
				b = b[1:]
				continue
			}
			gopts = append(gopts, layers.TCPOption{OptionType: layers.TCPOptionKind(b[0]), OptionLength: b[1], OptionData: b[2:b[1]]})
			b = b[b[1]:]
		}
		f := HeaderFields{SrcPort: uint16(r.Uint32()), DstPort: uint16(r.Uint32()), Seq: Seq(r.Uint32()),
			Ack: Seq(r.Uint32()), Flags: Flags(r.Uint32()), Window: uint16(r.Uint32()), Urgent: uint16(r.Uint32()), Options: opts}
		payload := make([]byte, r.IntN(1460))
		for i := range payload {
			payload[i] = byte(r.Uint32())
		}
		tcp := &layers.TCP{SrcPort: layers.TCPPort(f.SrcPort), DstPort: layers.TCPPort(f.DstPort), Seq: uint32(f.Seq),
			Ack: uint32(f.Ack), Window: f.Window, Urgent: f.Urgent, Options: gopts,
			FIN: f.Flags&FlagFIN != 0, SYN: f.Flags&FlagSYN != 0, RST: f.Flags&FlagRST != 0, PSH: f.Flags&FlagPSH != 0,
			ACK: f.Flags&FlagACK != 0, URG: f.Flags&FlagURG != 0, ECE: f.Flags&FlagECE != 0, CWR: f.Flags&FlagCWR != 0}
		wire := gopacketSegment(t, tcp, payload)

		h := Header(wire)
		if err := h.Check(); err != nil || !h.VerifyChecksum(addrA, addrB) {
			t.Fatalf("gopacket segment: %v, checksum ok %v", err, h.VerifyChecksum(addrA, addrB))
		}
		var got Options
		if err := ParseOptions(h.Options(), &got); err != nil {
			t.Fatal(err)
		}
		want := o
		want.NumSACK = min(o.NumSACK, (MaxOptionsLen-OptionsLen(&Options{HasMSS: o.HasMSS, HasTS: o.HasTS, SACKPermitted: o.SACKPermitted, HasWScale: o.HasWScale})-4)/8)
		want.NumSACK = max(want.NumSACK, 0)
		want.SACK = [4]Block{}
		copy(want.SACK[:], o.SACK[:want.NumSACK])
		if got != want {
			t.Fatalf("options\n got %+v\nwant %+v", got, want)
		}
		out := make([]byte, len(wire))
		n := PutHeader(out, &f)
		copy(out[n:], payload)
		SetChecksum(out, addrA, addrB)
		if !bytes.Equal(out, wire) {
			t.Fatalf("our encoding\n% x\ngopacket\n% x", out, wire)
		}
		// gopacket decodes ours and sees the same fields.
		pkt := gopacket.NewPacket(out, layers.LayerTypeTCP, gopacket.Default)
		g, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok || g.Seq != uint32(f.Seq) || g.Ack != uint32(f.Ack) || g.Window != f.Window ||
			binary.BigEndian.Uint16(out[16:]) != g.Checksum {
			t.Fatalf("gopacket decodes %+v", g)
		}
	}
}
