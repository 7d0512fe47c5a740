package tcp

import (
	"bytes"
	"net/netip"
	"testing"
)

// checkOptionsRoundTrip encodes o, parses the result and compares: every
// option survives except SACK blocks that do not fit, which are dropped
// from the end.
func checkOptionsRoundTrip(t *testing.T, o *Options) {
	t.Helper()
	n := OptionsLen(o)
	if n%4 != 0 || n > MaxOptionsLen {
		t.Fatalf("OptionsLen %d", n)
	}
	b := make([]byte, n)
	if w := PutOptions(b, o); w != n {
		t.Fatalf("PutOptions wrote %d, OptionsLen %d", w, n)
	}
	var back Options
	if err := ParseOptions(b, &back); err != nil {
		t.Fatalf("re-parse: %v (% x)", err, b)
	}
	want := *o
	base := *o
	base.NumSACK = 0
	fit := max((MaxOptionsLen-OptionsLen(&base)-4)/8, 0)
	want.NumSACK = min(max(o.NumSACK, 0), MaxSACKBlocks, fit)
	want.SACK = [MaxSACKBlocks]Block{}
	copy(want.SACK[:], o.SACK[:want.NumSACK])
	if back != want {
		t.Fatalf("round trip\n got %+v\nwant %+v", back, want)
	}
}

func FuzzOptions(f *testing.F) {
	f.Add(goldenSYN[20:40])
	f.Add([]byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4})
	f.Add([]byte{8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 3, 3, 9, 5, 26, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6, 0})
	f.Add([]byte{2, 4, 0})
	f.Add([]byte{99, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var o Options
		err := ParseOptions(b, &o)
		if o.NumSACK < 0 || o.NumSACK > MaxSACKBlocks {
			t.Fatalf("NumSACK %d", o.NumSACK)
		}
		if err != nil {
			return
		}
		checkOptionsRoundTrip(t, &o)
	})
}

func FuzzHeader(f *testing.F) {
	f.Add(goldenSYN, []byte{10, 0, 0, 1, 10, 0, 0, 2})
	seg := make([]byte, 25)
	PutHeader(seg, &HeaderFields{SrcPort: 1, DstPort: 2, Flags: FlagACK | FlagFIN, Window: 1})
	copy(seg[20:], "hello")
	SetChecksum(seg, netip.AddrFrom4([4]byte{1, 2, 3, 4}), netip.AddrFrom4([4]byte{5, 6, 7, 8}))
	f.Add(seg, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(goldenSYN[:39], []byte{})
	f.Fuzz(func(t *testing.T, b, addrs []byte) {
		var src, dst netip.Addr
		if len(addrs) >= 8 {
			src, dst = netip.AddrFrom4([4]byte(addrs[0:4])), netip.AddrFrom4([4]byte(addrs[4:8]))
		} else {
			src, dst = netip.IPv6Loopback(), netip.IPv6Unspecified()
		}
		h := Header(b)
		if err := h.Check(); err != nil {
			return
		}
		hl := h.HeaderLen()
		if hl < HeaderLen || hl > MaxHeaderLen || hl > len(b) || hl != 4*h.DataOffset() {
			t.Fatalf("header length %d", hl)
		}
		if len(h.Options()) != hl-HeaderLen || len(h.Payload()) != len(b)-hl {
			t.Fatal("options/payload lengths")
		}
		if sl := h.SegmentLen(); sl < uint32(len(h.Payload())) || sl > uint32(len(h.Payload()))+2 {
			t.Fatalf("SegmentLen %d", sl)
		}
		_ = h.Flags().String()
		verified := h.VerifyChecksum(src, dst)

		var o Options
		if ParseOptions(h.Options(), &o) == nil {
			checkOptionsRoundTrip(t, &o)
		}

		// Re-encode: identical up to the reserved bits and the checksum.
		fl := h.Fields()
		out := make([]byte, len(b))
		n := PutHeader(out, &fl)
		copy(out[n:], h.Payload())
		if n != hl {
			t.Fatalf("re-encoded header length %d, was %d", n, hl)
		}
		SetChecksum(out, src, dst)
		if !Header(out).VerifyChecksum(src, dst) {
			t.Fatal("re-encoded segment does not verify")
		}
		a, c := bytes.Clone(b), bytes.Clone(out)
		a[12] &^= 0x0f
		a[16], a[17], c[16], c[17] = 0, 0, 0, 0
		if !bytes.Equal(a, c) {
			t.Fatalf("round trip\n% x\n% x", b, out)
		}
		if verified && b[12]&0x0f == 0 && h.Checksum() != 0xffff && !bytes.Equal(b, out) {
			t.Fatal("a verified segment re-encodes to different bytes")
		}
	})
}

func FuzzSeq(f *testing.F) {
	f.Add(uint32(0), uint32(1), uint32(10))
	f.Add(uint32(0xffffffff), uint32(3), uint32(0))
	f.Fuzz(func(t *testing.T, a, b, size uint32) {
		s, u := Seq(a), Seq(b)
		d := u.Sub(s)
		if s.LessThan(u) != (d > 0) || s.LessThanEq(u) != (d >= 0) ||
			u.GreaterThan(s) != (d > 0) || u.GreaterThanEq(s) != (d >= 0) {
			t.Fatalf("comparisons disagree with Sub for %d, %d", a, b)
		}
		if s.Add(int(d)) != u {
			t.Fatal("s + (u - s) != u")
		}
		if u.InWindow(s, size) != (uint32(u-s) < size) || u.InWindow(s, size) != u.InRange(s, s.Add(int(size))) && size != 0 {
			t.Fatal("InWindow/InRange disagree")
		}
		if MaxSeq(s, u) != u && MaxSeq(s, u) != s || MinSeq(s, u) != u && MinSeq(s, u) != s {
			t.Fatal("Max/Min")
		}
	})
}
