package ip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
)

// goldenDNSQuery is a DNS query for example.com (A) from 10.0.0.1:40000
// to 10.0.0.2:53, with a correct UDP checksum (0x6d8a, as gopacket computes it too).
var goldenDNSQuery = []byte{
	0x9c, 0x40, 0x00, 0x35, 0x00, 0x25, 0x6d, 0x8a,
	0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'c', 'o', 'm', 0x00, 0x00, 0x01, 0x00, 0x01,
}

func TestUDPGolden(t *testing.T) {
	u := UDP(goldenDNSQuery)
	if err := u.Check(); err != nil {
		t.Fatal(err)
	}
	if u.SrcPort() != 40000 || u.DstPort() != 53 || u.Length() != 37 || len(u.Payload()) != 29 {
		t.Errorf("ports %d→%d len %d", u.SrcPort(), u.DstPort(), u.Length())
	}
	if !u.VerifyChecksum(addrA, addrB) {
		t.Error("golden checksum does not verify")
	}
	if u.VerifyChecksum(addrB, addrA) == false {
		// Swapping addresses keeps the sum (commutative).
		t.Error("swapped addresses should verify too")
	}
	if u.VerifyChecksum(addrA, netip.MustParseAddr("10.0.0.3")) {
		t.Error("wrong destination verifies")
	}
	// Encode from the fields: identical.
	out := make([]byte, len(u))
	n := PutUDPHeader(out, u.SrcPort(), u.DstPort(), len(u.Payload()))
	copy(out[n:], u.Payload())
	SetUDPChecksum(out, addrA, addrB)
	if !bytes.Equal(out, goldenDNSQuery) {
		t.Errorf("re-encoded % x", out)
	}
}

func TestUDPChecksumZero(t *testing.T) {
	b := bytes.Clone(goldenDNSQuery)
	b[6], b[7] = 0, 0
	if !UDP(b).VerifyChecksum(addrA, addrB) {
		t.Error("IPv4 zero checksum must be accepted")
	}
	v6 := netip.MustParseAddr("2001:db8::1")
	if UDP(b).VerifyChecksum(v6, v6) {
		t.Error("IPv6 zero checksum must be rejected")
	}
	// Find a payload whose checksum computes to 0: it must be sent as
	// 0xffff and still verify.
	p := make([]byte, UDPHeaderLen+2)
	PutUDPHeader(p, 1, 2, 2)
	SetUDPChecksum(p, addrA, addrB)
	c := binary.BigEndian.Uint16(p[6:8])
	// Adding c to the payload word makes the sum 0xffff, so the checksum
	// becomes 0.
	binary.BigEndian.PutUint16(p[8:], c)
	SetUDPChecksum(p, addrA, addrB)
	if got := binary.BigEndian.Uint16(p[6:8]); got != 0xffff {
		t.Fatalf("checksum %#x, want 0xffff", got)
	}
	if !UDP(p).VerifyChecksum(addrA, addrB) {
		t.Error("0xffff checksum does not verify")
	}
}

func TestUDPCheckErrors(t *testing.T) {
	mk := func(l uint16, n int) []byte {
		b := make([]byte, n)
		binary.BigEndian.PutUint16(b[4:], l)
		return b
	}
	for _, tt := range []struct {
		name string
		b    []byte
		want error
	}{
		{"7 bytes", make([]byte, 7), ErrTruncated},
		{"length 7", mk(7, 8), ErrBadTotalLength},
		{"length 0", mk(0, 20), ErrBadTotalLength},
		{"length past buffer", mk(21, 20), ErrBadTotalLength},
		{"length 8", mk(8, 8), nil},
		{"padding after length", mk(10, 20), nil},
	} {
		err := UDP(tt.b).Check()
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if got := UDP(mk(10, 20)).Payload(); len(got) != 2 {
		t.Errorf("payload not cut at Length: %d", len(got))
	}
}

func TestPutUDPHeaderPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	PutUDPHeader(make([]byte, 8), 1, 2, 65528)
}

func BenchmarkUDPVerify1472(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 1480)
	PutUDPHeader(buf, 1, 2, 1472)
	SetUDPChecksum(buf, addrA, addrB)
	u := UDP(buf)
	for b.Loop() {
		if u.Check() != nil || !u.VerifyChecksum(addrA, addrB) {
			b.Fatal("verify")
		}
	}
}

func TestUDPICMPDecodeAllocs(t *testing.T) {
	u := UDP(goldenDNSQuery)
	m := ICMP(IPv4(goldenPing).Payload())
	if n := testing.AllocsPerRun(100, func() {
		if u.Check() != nil || !u.VerifyChecksum(addrA, addrB) || len(u.Payload()) == 0 {
			t.Fatal("udp")
		}
		if m.Check() != nil || m.ID() == 0 || len(m.Payload()) == 0 {
			t.Fatal("icmp")
		}
	}); n != 0 {
		t.Errorf("allocs = %v", n)
	}
}
