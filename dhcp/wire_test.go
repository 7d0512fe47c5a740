package dhcp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"netspace/ip"
)

var testMAC = [6]byte{0x02, 0, 0, 0, 0, 0x42}

// golden returns a 300-byte BOOTP message: the fixed part given as
// (offset, bytes) pairs, the cookie, then options.
func golden(t *testing.T, fixed map[int]string, opts string) []byte {
	t.Helper()
	b := make([]byte, HeaderLen)
	for off, h := range fixed {
		v, err := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
		if err != nil {
			t.Fatal(err)
		}
		copy(b[off:], v)
	}
	b = append(b, 99, 130, 83, 99)
	o, err := hex.DecodeString(strings.ReplaceAll(opts, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, o...)
	for len(b) < 300 {
		b = append(b, 0)
	}
	return b
}

func TestDiscoverGolden(t *testing.T) {
	m := &Message{Op: 1, XID: 0x11223344, Secs: 3, Broadcast: true, CHAddr: testMAC, Type: Discover, SubnetBits: -1,
		ClientID: append([]byte{1}, testMAC[:]...), ParamRequest: []byte{1, 3, 6, 15, 51, 58, 59}}
	want := golden(t, map[int]string{
		0:  "01 01 06 00  11 22 33 44  00 03 80 00",
		28: "02 00 00 00 00 42",
	}, "35 01 01  3d 07 01 02 00 00 00 00 42  37 07 01 03 06 0f 33 3a 3b  ff")
	got := m.Append(nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("DISCOVER:\n got % x\nwant % x", got, want)
	}
}

// offerBytes is an OFFER as dnsmasq sends it: yiaddr 192.0.2.50, server
// 192.0.2.1, mask /24, router, DNS, lease 120 s, T1 10 s, T2 20 s.
func offerBytes(t *testing.T, typ byte) []byte {
	return golden(t, map[int]string{
		0:  "02 01 06 00  11 22 33 44  00 00 80 00",
		16: "c0 00 02 32  c0 00 02 01",
		28: "02 00 00 00 00 42",
	}, "35 01 "+hex.EncodeToString([]byte{typ})+
		" 36 04 c0 00 02 01  33 04 00 00 00 78  3a 04 00 00 00 0a  3b 04 00 00 00 14"+
		" 01 04 ff ff ff 00  03 04 c0 00 02 01  06 08 c0 00 02 01 c0 00 02 02  0f 04 74 65 73 74  ff")
}

func TestParseOfferGolden(t *testing.T) {
	m, err := Parse(offerBytes(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	if m.Op != 2 || m.XID != 0x11223344 || !m.Broadcast || m.Type != Offer || m.CHAddr != testMAC {
		t.Fatalf("header: %+v", m)
	}
	if m.YIAddr != a("192.0.2.50") || m.SIAddr != a("192.0.2.1") || m.CIAddr.IsValid() || m.ServerID != a("192.0.2.1") {
		t.Fatalf("addresses: %+v", m)
	}
	if m.SubnetBits != 24 || len(m.Routers) != 1 || m.Routers[0] != a("192.0.2.1") ||
		len(m.DNS) != 2 || m.DNS[1] != a("192.0.2.2") || m.DomainName != "test" {
		t.Fatalf("options: %+v", m)
	}
	if m.LeaseTime != 120*time.Second || m.T1 != 10*time.Second || m.T2 != 20*time.Second {
		t.Fatalf("times: %v %v %v", m.LeaseTime, m.T1, m.T2)
	}
	// Round trip: what Append writes, Parse reads back the same.
	m2, err := Parse(m.Append(nil))
	if err != nil {
		t.Fatal(err)
	}
	if m2.YIAddr != m.YIAddr || m2.SubnetBits != 24 || m2.LeaseTime != m.LeaseTime || m2.DomainName != "test" ||
		len(m2.DNS) != 2 || m2.T2 != m.T2 {
		t.Fatalf("round trip: %+v", m2)
	}
}

func TestParseErrors(t *testing.T) {
	good := offerBytes(t, 2)
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"short", good[:239], ErrShort},
		{"cookie", append(append(append([]byte{}, good[:236]...), 1, 2, 3, 4), good[240:]...), ErrCookie},
		{"no type", golden(t, map[int]string{1: "01 06"}, "ff"), ErrNoType},
		{"option past end", golden(t, map[int]string{1: "01 06"}, "35 01 02 06 40")[:246], ErrOption},
		{"bad type length", golden(t, map[int]string{1: "01 06"}, "35 02 02 02 ff"), ErrOption},
		{"bad router length", golden(t, map[int]string{1: "01 06"}, "35 01 02 03 03 01 02 03 ff"), ErrOption},
		{"token ring", golden(t, map[int]string{1: "06 06"}, "35 01 02 ff"), ErrHardware},
	}
	for _, c := range cases {
		if _, err := Parse(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestMaskBits(t *testing.T) {
	for mask, want := range map[uint32]int{0: 0, 0xff000000: 8, 0xffffff00: 24, 0xffffffff: 32, 0xff00ff00: -1} {
		if got := maskBits(mask); got != want {
			t.Errorf("maskBits(%08x) = %d, want %d", mask, got, want)
		}
	}
}

func TestBuildFrame(t *testing.T) {
	m := &Message{Op: 1, XID: 7, CHAddr: testMAC, Type: Discover, SubnetBits: -1}
	frame := BuildFrame(m, netip.IPv4Unspecified(), netip.MustParseAddr("255.255.255.255"), 99)
	h := ip.IPv4(frame[14:])
	if err := h.Check(); err != nil {
		t.Fatal(err)
	}
	if h.Src() != netip.IPv4Unspecified() || h.Dst() != netip.MustParseAddr("255.255.255.255") || h.Protocol() != ip.ProtocolUDP || h.ID() != 99 {
		t.Fatalf("IPv4 header: %v → %v proto %d", h.Src(), h.Dst(), h.Protocol())
	}
	u := ip.UDP(h.Payload())
	if err := u.Check(); err != nil {
		t.Fatal(err)
	}
	if u.SrcPort() != 68 || u.DstPort() != 67 || !u.VerifyChecksum(h.Src(), h.Dst()) {
		t.Fatalf("UDP %d → %d, checksum ok %v", u.SrcPort(), u.DstPort(), u.VerifyChecksum(h.Src(), h.Dst()))
	}
	if got, err := Parse(u.Payload()); err != nil || got.XID != 7 || got.Type != Discover {
		t.Fatalf("payload: %+v, %v", got, err)
	}
}

func TestParseBoundsAddressLists(t *testing.T) {
	opts := "35 01 05 06 28"
	for i := range 10 {
		opts += fmt.Sprintf(" c0 00 02 %02x", i+1)
	}
	m, err := Parse(golden(t, map[int]string{0: "02 01 06"}, opts+" ff"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.DNS) != maxAddrList || m.DNS[maxAddrList-1] != netip.MustParseAddr("192.0.2.8") {
		t.Fatalf("kept %d of 10 DNS servers: %v", len(m.DNS), m.DNS)
	}
}
