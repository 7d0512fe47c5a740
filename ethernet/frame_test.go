package ethernet

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

// A broadcast ARP request as captured on a LAN: who has 24.166.173.159?
// tell 24.166.172.1, padded to the 60-byte Ethernet minimum.
var goldenARPRequest = []byte{
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x07, 0x0d, 0xaf, 0xf4, 0x54, 0x08, 0x06,
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
	0x00, 0x07, 0x0d, 0xaf, 0xf4, 0x54, 0x18, 0xa6, 0xac, 0x01,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x18, 0xa6, 0xad, 0x9f,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
}

func TestFrameGolden(t *testing.T) {
	f := Frame(goldenARPRequest)
	if err := f.Check(); err != nil {
		t.Fatal(err)
	}
	if f.Dst() != Broadcast || f.Src() != (MAC{0x00, 0x07, 0x0d, 0xaf, 0xf4, 0x54}) {
		t.Errorf("addresses: %v > %v", f.Src(), f.Dst())
	}
	if f.EtherType() != EtherTypeARP || f.HeaderLen() != HeaderLen {
		t.Errorf("type %#x hlen %d", f.EtherType(), f.HeaderLen())
	}
	if _, ok := f.VLAN(); ok {
		t.Error("untagged frame reports a VLAN")
	}
	if len(f.Payload()) != len(goldenARPRequest)-HeaderLen {
		t.Errorf("payload len %d", len(f.Payload()))
	}
	// encode → identical header bytes.
	var b [HeaderLen]byte
	if n := PutHeader(b[:], f.Dst(), f.Src(), f.EtherType()); n != HeaderLen {
		t.Fatalf("PutHeader returned %d", n)
	}
	if !bytes.Equal(b[:], goldenARPRequest[:HeaderLen]) {
		t.Errorf("PutHeader = % x", b)
	}
}

func TestFrameVLAN(t *testing.T) {
	dst := MAC{0x02, 0, 0, 0, 0, 1}
	src := MAC{0x02, 0, 0, 0, 0, 2}
	b := make([]byte, VLANHeaderLen+4)
	if n := PutVLANHeader(b, dst, src, 0x2064, EtherTypeIPv4); n != VLANHeaderLen {
		t.Fatalf("PutVLANHeader returned %d", n)
	}
	copy(b[VLANHeaderLen:], "data")
	want := []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x81, 0x00, 0x20, 0x64, 0x08, 0x00, 'd', 'a', 't', 'a'}
	if !bytes.Equal(b, want) {
		t.Fatalf("tagged header = % x", b)
	}
	f := Frame(b)
	if err := f.Check(); err != nil {
		t.Fatal(err)
	}
	tci, ok := f.VLAN()
	if !ok || tci != 0x2064 || tci&0xfff != 100 {
		t.Errorf("VLAN = %#x, %v", tci, ok)
	}
	if f.EtherType() != EtherTypeIPv4 || string(f.Payload()) != "data" || f.HeaderLen() != VLANHeaderLen {
		t.Errorf("type %#x payload %q", f.EtherType(), f.Payload())
	}
}

func TestFrameCheckErrors(t *testing.T) {
	tagged := []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x81, 0x00, 0x00, 0x01, 0x08}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"13 bytes", goldenARPRequest[:13], ErrTruncated},
		{"tagged 17 bytes", tagged, ErrTruncated},
		{"14 bytes ok", goldenARPRequest[:14], nil},
		{"tagged 18 bytes ok", append(tagged[:17:17], 0x00), nil},
	}
	for _, tt := range tests {
		if err := Frame(tt.b).Check(); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestARPGolden(t *testing.T) {
	a := ARP(Frame(goldenARPRequest).Payload())
	if err := a.Check(); err != nil {
		t.Fatal(err)
	}
	if a.Op() != ARPRequest {
		t.Errorf("op %d", a.Op())
	}
	if a.SenderMAC() != (MAC{0x00, 0x07, 0x0d, 0xaf, 0xf4, 0x54}) || a.TargetMAC() != (MAC{}) {
		t.Errorf("macs %v %v", a.SenderMAC(), a.TargetMAC())
	}
	if a.SenderIP() != netip.MustParseAddr("24.166.172.1") || a.TargetIP() != netip.MustParseAddr("24.166.173.159") {
		t.Errorf("ips %v %v", a.SenderIP(), a.TargetIP())
	}
	if a.IsGratuitous() {
		t.Error("not gratuitous")
	}
	var b [ARPLen]byte
	if n := PutARP(b[:], a.Op(), a.SenderMAC(), a.SenderIP(), a.TargetMAC(), a.TargetIP()); n != ARPLen {
		t.Fatalf("PutARP returned %d", n)
	}
	if !bytes.Equal(b[:], a[:ARPLen]) {
		t.Errorf("re-encoded % x\nwant        % x", b, a[:ARPLen])
	}
}

func TestARPReplyBuild(t *testing.T) {
	me := LocallyAdministered(0xabcdef)
	them := MAC{0x00, 0x07, 0x0d, 0xaf, 0xf4, 0x54}
	var b [ARPLen]byte
	// An IPv4-mapped address is accepted and unmapped.
	PutARP(b[:], ARPReply, me, netip.MustParseAddr("::ffff:24.166.173.159"), them, netip.MustParseAddr("24.166.172.1"))
	a := ARP(b[:])
	if err := a.Check(); err != nil {
		t.Fatal(err)
	}
	if a.Op() != ARPReply || a.SenderMAC() != me || a.TargetMAC() != them ||
		a.SenderIP() != netip.MustParseAddr("24.166.173.159") || a.TargetIP() != netip.MustParseAddr("24.166.172.1") {
		t.Errorf("reply fields wrong: % x", b)
	}
	PutARP(b[:], ARPRequest, me, netip.MustParseAddr("10.0.0.1"), MAC{}, netip.MustParseAddr("10.0.0.1"))
	if !a.IsGratuitous() {
		t.Error("gratuitous announcement not detected")
	}
}

func TestARPCheckErrors(t *testing.T) {
	good := Frame(goldenARPRequest).Payload()[:ARPLen]
	mod := func(i int, v byte) []byte {
		b := bytes.Clone(good)
		b[i] = v
		return b
	}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"27 bytes", good[:27], ErrTruncated},
		{"htype 6", mod(1, 6), ErrBadHardwareType},
		{"hlen 8", mod(4, 8), ErrBadHardwareType},
		{"ptype ipv6", mod(2, 0x86), ErrBadProtocolType},
		{"plen 16", mod(5, 16), ErrBadProtocolType},
		{"op 0", mod(7, 0), ErrBadOperation},
		{"op 3 (RARP)", mod(7, 3), ErrBadOperation},
		{"op 0x0101", mod(6, 1), ErrBadOperation},
	}
	for _, tt := range tests {
		if err := ARP(tt.b).Check(); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestDecodeAllocs(t *testing.T) {
	f := Frame(goldenARPRequest)
	n := testing.AllocsPerRun(100, func() {
		if f.Check() != nil {
			t.Fatal("check")
		}
		a := ARP(f.Payload())
		if a.Check() != nil {
			t.Fatal("arp check")
		}
		_, _, _, _, _ = a.Op(), a.SenderMAC(), a.SenderIP(), a.TargetMAC(), a.TargetIP()
	})
	if n != 0 {
		t.Errorf("decode allocates %v times", n)
	}
}

func BenchmarkFrameARPDecode(b *testing.B) {
	b.ReportAllocs()
	f := Frame(goldenARPRequest)
	var sink netip.Addr
	for b.Loop() {
		if f.Check() != nil {
			b.Fatal("check")
		}
		a := ARP(f.Payload())
		if a.Check() != nil {
			b.Fatal("arp")
		}
		sink = a.TargetIP()
	}
	_ = sink
}
