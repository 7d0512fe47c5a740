package ip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
)

// goldenIPv4Header is the worked example of the IPv4 header checksum
// (0xb861) found in many textbooks: UDP from 192.168.0.1 to 192.168.0.199.
var goldenIPv4Header = []byte{
	0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61,
	0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
}

// goldenPing is a Linux-style ping (56 data bytes) from 10.0.0.1 to
// 10.0.0.2, DF set, identification 0x1c46, ICMP id 0x0a3b seq 1.
var goldenPing = []byte{
	0x45, 0x00, 0x00, 0x54, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01, 0x0a, 0x61, 0x0a, 0x00, 0x00, 0x01,
	0x0a, 0x00, 0x00, 0x02, 0x08, 0x00, 0x1e, 0xdf, 0x0a, 0x3b, 0x00, 0x01, 0x6b, 0x8f, 0x5c, 0x65,
	0x00, 0x00, 0x00, 0x00, 0x3a, 0x1d, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11, 0x12, 0x13,
	0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23,
	0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33,
	0x34, 0x35, 0x36, 0x37,
}

var (
	addrA = netip.MustParseAddr("10.0.0.1")
	addrB = netip.MustParseAddr("10.0.0.2")
)

// buildIPv4 encodes h (TotalLen computed) followed by payload.
func buildIPv4(h IPv4Fields, payload []byte) []byte {
	h.TotalLen = uint16(h.HeaderLen() + len(payload))
	b := make([]byte, int(h.TotalLen))
	n := PutIPv4Header(b, &h)
	copy(b[n:], payload)
	return b
}

func TestIPv4GoldenHeader(t *testing.T) {
	if refChecksum(goldenIPv4Header, 0) != 0 {
		t.Fatal("golden header does not verify with the reference checksum")
	}
	// The header claims 115 bytes; give it a payload.
	b := append(bytes.Clone(goldenIPv4Header), make([]byte, 115-20)...)
	p := IPv4(b)
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	if p.Checksum() != 0xb861 || p.TTL() != 64 || p.Protocol() != ProtocolUDP || !p.DontFragment() ||
		p.MoreFragments() || p.IsFragment() || p.Src() != netip.MustParseAddr("192.168.0.1") ||
		p.Dst() != netip.MustParseAddr("192.168.0.199") || len(p.Payload()) != 95 || len(p.Options()) != 0 {
		t.Errorf("fields: %+v", p.Fields())
	}
	f := p.Fields()
	out := make([]byte, 20)
	PutIPv4Header(out, &f)
	if !bytes.Equal(out, goldenIPv4Header) {
		t.Errorf("re-encoded % x", out)
	}
}

func TestIPv4GoldenPing(t *testing.T) {
	p := IPv4(goldenPing)
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	if p.HeaderLen() != 20 || p.TotalLen() != 84 || p.ID() != 0x1c46 || p.Flags() != FlagDF ||
		p.FragmentOffset() != 0 || p.TTL() != 64 || p.Protocol() != ProtocolICMP || p.TOS() != 0 ||
		p.Src() != addrA || p.Dst() != addrB {
		t.Errorf("fields: %+v", p.Fields())
	}
	// decode → encode → identical bytes.
	f := p.Fields()
	out := buildIPv4(f, p.Payload())
	if !bytes.Equal(out, goldenPing) {
		t.Errorf("re-encoded\n% x\nwant\n% x", out, goldenPing)
	}
}

func TestIPv4EthernetPadding(t *testing.T) {
	// A 28-byte datagram in a minimum-size frame: 18 bytes of padding.
	b := buildIPv4(IPv4Fields{TTL: 1, Protocol: ProtocolUDP, Src: addrA, Dst: addrB}, []byte("12345678"))
	b = append(b, make([]byte, 18)...)
	p := IPv4(b)
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	if string(p.Payload()) != "12345678" {
		t.Errorf("payload %q", p.Payload())
	}
}

func TestIPv4Options(t *testing.T) {
	// Record Route (type 7) with room for 2 addresses, then NOP padding:
	// 3+8 = 11 bytes, padded to 12 by PutIPv4Header.
	rr := []byte{7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0}
	b := buildIPv4(IPv4Fields{TTL: 64, Protocol: ProtocolTCP, Src: addrA, Dst: addrB, Options: rr}, []byte("data"))
	p := IPv4(b)
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	if p.HeaderLen() != 32 || !bytes.Equal(p.Options(), append(bytes.Clone(rr), 0)) || string(p.Payload()) != "data" {
		t.Errorf("hl %d options % x payload %q", p.HeaderLen(), p.Options(), p.Payload())
	}
	// Round trip with the padded options is byte-identical.
	if out := buildIPv4(p.Fields(), p.Payload()); !bytes.Equal(out, b) {
		t.Errorf("re-encoded % x\nwant % x", out, b)
	}
	valid := [][]byte{
		{1, 1, 1, 1},                      // NOPs
		{0, 0xff, 0xff, 0xff},             // EOL then anything
		{0x94, 4, 0, 0},                   // Router Alert
		{1, 0x44, 2, 0},                   // empty option of length 2, EOL
		{0x83, 7, 4, 1, 2, 3, 4, 0},       // LSRR with one address, EOL
		{0x88, 4, 0xaa, 0xbb, 1, 0, 0, 0}, // Stream ID
	}
	for _, o := range valid {
		if err := checkIPv4Options(o); err != nil {
			t.Errorf("% x: %v", o, err)
		}
	}
}

func TestIPv4CheckErrors(t *testing.T) {
	base := func(opts []byte) []byte {
		return buildIPv4(IPv4Fields{TTL: 64, Protocol: ProtocolUDP, Src: addrA, Dst: addrB, Options: opts}, []byte("payload!"))
	}
	// mod changes b and fixes the checksum, so that only the intended
	// error remains.
	mod := func(b []byte, f func([]byte)) []byte {
		b = bytes.Clone(b)
		f(b)
		hl := int(b[0]&0xf) * 4
		if hl >= 20 && hl <= len(b) {
			b[10], b[11] = 0, 0
			binary.BigEndian.PutUint16(b[10:], Checksum(b[:hl], 0))
		}
		return b
	}
	opt := func(o ...byte) []byte { return base(o) }
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"19 bytes", goldenPing[:19], ErrTruncated},
		{"version 6", mod(goldenPing, func(b []byte) { b[0] = 0x65 }), ErrBadVersion},
		{"version 0", mod(goldenPing, func(b []byte) { b[0] = 0x05 }), ErrBadVersion},
		{"IHL 4", mod(goldenPing, func(b []byte) { b[0] = 0x44 }), ErrBadHeaderLength},
		{"IHL 0", mod(goldenPing, func(b []byte) { b[0] = 0x40 }), ErrBadHeaderLength},
		{"IHL past buffer", mod(goldenPing[:24], func(b []byte) { b[0] = 0x46 + 1 }), ErrBadHeaderLength},
		{"total < header", mod(goldenPing, func(b []byte) { binary.BigEndian.PutUint16(b[2:], 19) }), ErrBadTotalLength},
		{"total < IHL", mod(opt(1, 1, 1, 1), func(b []byte) { binary.BigEndian.PutUint16(b[2:], 22) }), ErrBadTotalLength},
		{"total > buffer", mod(goldenPing, func(b []byte) { binary.BigEndian.PutUint16(b[2:], 85) }), ErrBadTotalLength},
		{"bad checksum", func() []byte { b := bytes.Clone(goldenPing); b[11]++; return b }(), ErrBadChecksum},
		{"TTL changed", func() []byte { b := bytes.Clone(goldenPing); b[8]--; return b }(), ErrBadChecksum},
		{"option length 0", opt(7, 0, 0, 0), ErrBadOption},
		{"option length 1", opt(7, 1, 0, 0), ErrBadOption},
		{"option past header", opt(7, 5, 0, 0), ErrBadOption},
		{"option type without length", opt(1, 1, 1, 0x44), ErrBadOption},
		{"second option overflows", opt(0x94, 4, 0, 0, 1, 0x83, 9, 4), ErrBadOption},
	}
	for _, tt := range tests {
		err := IPv4(tt.b).Check()
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	// CheckNoChecksum ignores only the checksum.
	b := bytes.Clone(goldenPing)
	b[11]++
	if err := IPv4(b).CheckNoChecksum(); err != nil {
		t.Errorf("CheckNoChecksum: %v", err)
	}
}

func TestIPv4DecrementTTL(t *testing.T) {
	b := bytes.Clone(goldenPing)
	p := IPv4(b)
	for want := 63; want >= 0; want-- {
		if got := p.DecrementTTL(); int(got) != want {
			t.Fatalf("DecrementTTL = %d, want %d", got, want)
		}
		if err := p.Check(); err != nil {
			t.Fatalf("TTL %d: %v", want, err)
		}
	}
	if p.DecrementTTL() != 0 || p.Check() != nil {
		t.Fatal("decrementing TTL 0 changed the packet")
	}
}

func TestIPv4FlagsAndOffset(t *testing.T) {
	for _, tc := range []struct {
		flags IPv4Flags
		off   int
	}{{FlagMF, 0}, {FlagMF, 8}, {0, 65528}, {FlagDF | FlagReserved, 0}, {FlagMF | FlagReserved, 1480}} {
		b := buildIPv4(IPv4Fields{TTL: 9, Protocol: ProtocolUDP, Src: addrA, Dst: addrB, Flags: tc.flags, FragOffset: tc.off}, nil)
		p := IPv4(b)
		if err := p.Check(); err != nil {
			t.Fatal(err)
		}
		if p.Flags() != tc.flags || p.FragmentOffset() != tc.off || p.IsFragment() != (tc.flags&FlagMF != 0 || tc.off != 0) {
			t.Errorf("%+v: flags %v off %d", tc, p.Flags(), p.FragmentOffset())
		}
	}
}

func TestPutIPv4HeaderPanics(t *testing.T) {
	for name, f := range map[string]IPv4Fields{
		"offset not multiple of 8": {FragOffset: 7, Src: addrA, Dst: addrB},
		"offset too large":         {FragOffset: 65536, Src: addrA, Dst: addrB},
		"options too long":         {Options: make([]byte, 41), Src: addrA, Dst: addrB},
		"IPv6 source":              {Src: netip.MustParseAddr("::1"), Dst: addrB},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			PutIPv4Header(make([]byte, 60), &f)
		}()
	}
}

func TestIPv4DecodeAllocs(t *testing.T) {
	p := IPv4(goldenPing)
	if n := testing.AllocsPerRun(100, func() { ipv4Accessors(p) }); n != 0 {
		t.Errorf("allocs = %v", n)
	}
}

var sinkAddr netip.Addr

func ipv4Accessors(p IPv4) int {
	if p.Check() != nil {
		panic("check")
	}
	sinkAddr = p.Src()
	sinkAddr = p.Dst()
	return int(p.TTL()) + int(p.Protocol()) + int(p.ID()) + p.FragmentOffset() + len(p.Payload()) + len(p.Options())
}

func BenchmarkIPv4CheckAccessors(b *testing.B) {
	b.ReportAllocs()
	p := IPv4(goldenPing)
	n := 0
	for b.Loop() {
		n += ipv4Accessors(p)
	}
	_ = n
}

func BenchmarkPutIPv4Header(b *testing.B) {
	b.ReportAllocs()
	f := IPv4(goldenPing).Fields()
	buf := make([]byte, 60)
	for b.Loop() {
		PutIPv4Header(buf, &f)
	}
}
