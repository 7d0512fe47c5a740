package tcp

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

var (
	addrA = netip.MustParseAddr("10.0.0.1")
	addrB = netip.MustParseAddr("10.0.0.2")
)

// goldenSYN is a Linux SYN from 10.0.0.1:48826 to 10.0.0.2:80: MSS 1460,
// SACK permitted, timestamps, window scale 7, window 64240. Its checksum
// (0xccd9) is the one gopacket computes too.
var goldenSYN = []byte{
	0xbe, 0xba, 0x00, 0x50, 0x5b, 0x1c, 0x9f, 0x3e, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0,
	0xcc, 0xd9, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x09, 0xb2, 0xc4,
	0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
}

func TestHeaderGoldenSYN(t *testing.T) {
	h := Header(goldenSYN)
	if err := h.Check(); err != nil {
		t.Fatal(err)
	}
	if h.SrcPort() != 48826 || h.DstPort() != 80 || h.Seq() != 0x5b1c9f3e || h.Ack() != 0 ||
		h.DataOffset() != 10 || h.HeaderLen() != 40 || h.Flags() != FlagSYN || h.Window() != 64240 ||
		h.Checksum() != 0xccd9 || h.Urgent() != 0 || len(h.Options()) != 20 || len(h.Payload()) != 0 ||
		h.SegmentLen() != 1 {
		t.Errorf("fields %+v", h.Fields())
	}
	if !h.VerifyChecksum(addrA, addrB) {
		t.Error("checksum does not verify")
	}
	if h.VerifyChecksum(addrA, netip.MustParseAddr("10.0.0.3")) {
		t.Error("checksum verifies with the wrong address")
	}
	var o Options
	if err := ParseOptions(h.Options(), &o); err != nil {
		t.Fatal(err)
	}
	want := Options{MSS: 1460, HasMSS: true, SACKPermitted: true, TSVal: 0x9b2c4, HasTS: true, WScale: 7, HasWScale: true}
	if o != want {
		t.Errorf("options %+v", o)
	}
	// Encode the decoded options and header: identical bytes.
	opts := make([]byte, OptionsLen(&o))
	PutOptions(opts, &o)
	if !bytes.Equal(opts, h.Options()) {
		t.Errorf("options re-encoded % x", opts)
	}
	f := h.Fields()
	f.Options = opts
	out := make([]byte, f.HeaderLen())
	n := PutHeader(out, &f)
	SetChecksum(out[:n], addrA, addrB)
	if !bytes.Equal(out, goldenSYN) {
		t.Errorf("re-encoded\n% x\nwant\n% x", out, goldenSYN)
	}
}

func TestHeaderDataSegment(t *testing.T) {
	o := Options{HasTS: true, TSVal: 1, TSEcr: 2}
	opts := make([]byte, OptionsLen(&o))
	PutOptions(opts, &o)
	f := HeaderFields{SrcPort: 80, DstPort: 48826, Seq: 1000, Ack: 2000, Flags: FlagACK | FlagPSH | FlagFIN,
		Window: 502, Options: opts}
	seg := make([]byte, f.HeaderLen()+5)
	n := PutHeader(seg, &f)
	copy(seg[n:], "hello")
	SetChecksum(seg, addrB, addrA)
	h := Header(seg)
	if err := h.Check(); err != nil || !h.VerifyChecksum(addrB, addrA) {
		t.Fatalf("%v", err)
	}
	if string(h.Payload()) != "hello" || h.SegmentLen() != 6 || h.Flags().String() != "FIN|PSH|ACK" ||
		!h.Flags().Has(FlagACK|FlagFIN) || h.Flags().Has(FlagSYN) {
		t.Errorf("payload %q len %d flags %v", h.Payload(), h.SegmentLen(), h.Flags())
	}
	// Odd payload length, IPv6 addresses.
	v6a, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	SetChecksum(seg, v6a, v6b)
	if !h.VerifyChecksum(v6a, v6b) || h.VerifyChecksum(addrB, addrA) {
		t.Error("IPv6 checksum")
	}
}

func TestHeaderCheckErrors(t *testing.T) {
	mk := func(n int, off byte) []byte {
		b := make([]byte, n)
		b[12] = off << 4
		return b
	}
	for _, tt := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"19 bytes", mk(20, 5)[:19], ErrTruncated},
		{"offset 0", mk(20, 0), ErrBadDataOffset},
		{"offset 4", mk(40, 4), ErrBadDataOffset},
		{"offset past segment", mk(23, 6), ErrBadDataOffset},
		{"offset 15 in 59 bytes", mk(59, 15), ErrBadDataOffset},
		{"offset 15 in 60 bytes", mk(60, 15), nil},
		{"offset 5", mk(20, 5), nil},
	} {
		err := Header(tt.b).Check()
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestFlagsString(t *testing.T) {
	for f, want := range map[Flags]string{
		0:                 "0",
		FlagSYN:           "SYN",
		FlagSYN | FlagACK: "SYN|ACK",
		FlagRST | FlagACK: "RST|ACK",
		0xff:              "FIN|SYN|RST|PSH|ACK|URG|ECE|CWR",
		FlagECE | FlagCWR: "ECE|CWR",
		FlagFIN | FlagURG: "FIN|URG",
	} {
		if got := f.String(); got != want {
			t.Errorf("%#x: %q, want %q", uint8(f), got, want)
		}
	}
}

func TestPutHeaderPadsAndPanics(t *testing.T) {
	f := HeaderFields{Options: []byte{OptionWindowScale, 3, 7}}
	b := bytes.Repeat([]byte{0xee}, 24)
	if n := PutHeader(b, &f); n != 24 || b[23] != 0 || Header(b).DataOffset() != 6 {
		t.Errorf("padding: n=%d % x", n, b)
	}
	defer func() {
		if recover() == nil {
			t.Error("41 bytes of options did not panic")
		}
	}()
	PutHeader(make([]byte, 64), &HeaderFields{Options: make([]byte, 41)})
}

func TestDecodeAllocs(t *testing.T) {
	h := Header(goldenSYN)
	var o Options
	if n := testing.AllocsPerRun(100, func() {
		if h.Check() != nil || ParseOptions(h.Options(), &o) != nil {
			t.Fatal("decode")
		}
		_ = h.Seq() + h.Ack()
		_ = h.Flags()
		if !h.VerifyChecksum(addrA, addrB) {
			t.Fatal("checksum")
		}
	}); n != 0 {
		t.Errorf("decode allocates %v times", n)
	}
	bad := []byte{OptionMSS, 3, 0}
	if n := testing.AllocsPerRun(100, func() { _ = ParseOptions(bad, &o) }); n != 0 {
		t.Errorf("malformed options allocate %v times", n)
	}
}

func BenchmarkHeaderCheckParseOptions(b *testing.B) {
	b.ReportAllocs()
	h := Header(goldenSYN)
	var o Options
	var sum Seq
	for b.Loop() {
		if h.Check() != nil || ParseOptions(h.Options(), &o) != nil {
			b.Fatal("decode")
		}
		sum += h.Seq() + h.Ack() + Seq(h.Window()) + Seq(o.MSS)
	}
	_ = sum
}

func BenchmarkVerifyChecksum1460(b *testing.B) {
	b.ReportAllocs()
	seg := make([]byte, HeaderLen+1460)
	PutHeader(seg, &HeaderFields{SrcPort: 1, DstPort: 2, Flags: FlagACK})
	SetChecksum(seg, addrA, addrB)
	h := Header(seg)
	for b.Loop() {
		if h.Check() != nil || !h.VerifyChecksum(addrA, addrB) {
			b.Fatal("verify")
		}
	}
}

func BenchmarkBuildSegment1460(b *testing.B) {
	b.ReportAllocs()
	seg := make([]byte, MaxHeaderLen+1460)
	o := Options{HasTS: true, TSVal: 1, TSEcr: 2}
	var opts [MaxOptionsLen]byte
	for b.Loop() {
		n := PutOptions(opts[:], &o)
		f := HeaderFields{SrcPort: 1, DstPort: 2, Seq: 3, Ack: 4, Flags: FlagACK, Window: 5, Options: opts[:n]}
		hl := PutHeader(seg, &f)
		SetChecksum(seg[:hl+1460], addrA, addrB)
	}
}
