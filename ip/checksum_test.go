package ip

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// refChecksum is the textbook RFC 1071 loop: 16-bit words, 32-bit
// accumulator, carries folded at the end.
func refChecksum(b []byte, initial uint32) uint16 {
	sum := initial
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		sum = sum&0xffff + sum>>16
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// sumAdd64 is the straightforward fast loop: a carry chain of
// math/bits.Add64 over big-endian 8-byte words. It is kept as a second
// reference and as the benchmark baseline for Sum.
func sumAdd64(b []byte, acc uint64) uint64 {
	var c uint64
	for len(b) >= 32 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[0:8]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[8:16]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[16:24]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[24:32]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[0:8]), c)
		b = b[8:]
	}
	if len(b) >= 4 {
		acc, c = bits.Add64(acc, uint64(binary.BigEndian.Uint32(b[0:4])), c)
		b = b[4:]
	}
	if len(b) >= 2 {
		acc, c = bits.Add64(acc, uint64(binary.BigEndian.Uint16(b[0:2])), c)
		b = b[2:]
	}
	if len(b) == 1 {
		acc, c = bits.Add64(acc, uint64(b[0])<<8, c)
	}
	acc, c = bits.Add64(acc, 0, c)
	return acc + c
}

func TestChecksumMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 2000+8)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	for n := 0; n <= 2000; n++ {
		// Vary the alignment of the slice start too.
		off := n % 8
		b := buf[off : off+n]
		if got, want := Checksum(b, 0), refChecksum(b, 0); got != want {
			t.Fatalf("len %d off %d: got %#04x want %#04x", n, off, got, want)
		}
		if got, want := Fold(Sum(b, 0)), Fold(sumAdd64(b, 0)); got != want {
			t.Fatalf("len %d off %d: Sum %#04x, Add64 loop %#04x", n, off, got, want)
		}
	}
	// Adversarial data: all ones, all zeros and near-carry patterns.
	for _, fill := range []byte{0x00, 0xff, 0xfe, 0x80, 0x01} {
		for n := 0; n <= 300; n++ {
			b := make([]byte, n)
			for i := range b {
				b[i] = fill
			}
			if got, want := Checksum(b, 0), refChecksum(b, 0); got != want {
				t.Fatalf("fill %#x len %d: got %#04x want %#04x", fill, n, got, want)
			}
		}
	}
}

func TestSumChained(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		n := r.IntN(1600)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		cut := r.IntN(n+1) &^ 1 // even first piece
		acc := Sum(b[cut:], Sum(b[:cut], 0))
		if got, want := ^Fold(acc), refChecksum(b, 0); got != want {
			t.Fatalf("len %d cut %d: got %#04x want %#04x", n, cut, got, want)
		}
		acc2 := CombineSums(Sum(b[:cut], 0), Sum(b[cut:], 0))
		if got, want := ^Fold(acc2), refChecksum(b, 0); got != want {
			t.Fatalf("CombineSums: len %d cut %d: got %#04x want %#04x", n, cut, got, want)
		}
		init := r.Uint32() & 0xffffff
		if got, want := Checksum(b, uint64(init)), refChecksum(b, init); got != want {
			t.Fatalf("initial %#x: got %#04x want %#04x", init, got, want)
		}
	}
}

func TestChecksumVerifiesToZero(t *testing.T) {
	// RFC 1071 §3 example bytes.
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7, 0, 0}
	if got := Fold(Sum(b[:8], 0)); got != 0xddf2 {
		t.Fatalf("RFC 1071 example sum = %#04x, want 0xddf2", got)
	}
	binary.BigEndian.PutUint16(b[8:], Checksum(b, 0))
	if Checksum(b, 0) != 0 || Fold(Sum(b, 0)) != 0xffff {
		t.Fatal("data with its checksum does not verify")
	}
}

func TestPseudoHeaderSum(t *testing.T) {
	src, dst := netip.MustParseAddr("192.168.1.10"), netip.MustParseAddr("10.0.0.254")
	ph := []byte{192, 168, 1, 10, 10, 0, 0, 254, 0, 6, 0x05, 0xdc}
	if got, want := Fold(PseudoHeaderSum(src, dst, 6, 1500)), Fold(Sum(ph, 0)); got != want {
		t.Errorf("IPv4 pseudo-header: %#04x want %#04x", got, want)
	}
	s6, d6 := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fe80::1234:5678:9abc:def0")
	ph6 := make([]byte, 40)
	a, b := s6.As16(), d6.As16()
	copy(ph6, a[:])
	copy(ph6[16:], b[:])
	binary.BigEndian.PutUint32(ph6[32:], 70000)
	ph6[39] = 17
	if got, want := Fold(PseudoHeaderSum(s6, d6, 17, 70000)), Fold(Sum(ph6, 0)); got != want {
		t.Errorf("IPv6 pseudo-header: %#04x want %#04x", got, want)
	}
}

func TestUpdateChecksum(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 1000 {
		b := make([]byte, 20)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		binary.BigEndian.PutUint16(b[10:], 0)
		binary.BigEndian.PutUint16(b[10:], Checksum(b, 0))
		old := binary.BigEndian.Uint16(b[8:])
		nw := uint16(r.Uint32())
		binary.BigEndian.PutUint16(b[8:], nw)
		upd := UpdateChecksum(binary.BigEndian.Uint16(b[10:]), old, nw)
		binary.BigEndian.PutUint16(b[10:], upd)
		if Fold(Sum(b, 0)) != 0xffff {
			t.Fatalf("incremental update does not verify: % x", b)
		}
	}
}

func TestChecksumAllocs(t *testing.T) {
	b := make([]byte, 1480)
	src, dst := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	if n := testing.AllocsPerRun(100, func() {
		_ = Checksum(b, PseudoHeaderSum(src, dst, 6, len(b)))
	}); n != 0 {
		t.Errorf("allocs = %v", n)
	}
}

func benchChecksum(b *testing.B, n int, f func([]byte) uint16) {
	buf := make([]byte, n)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	var sink uint16
	for b.Loop() {
		sink += f(buf)
	}
	_ = sink
}

func BenchmarkChecksum(b *testing.B) {
	for _, n := range []int{20, 64, 576, 1480, 9000} {
		b.Run(itoa(n), func(b *testing.B) { benchChecksum(b, n, func(p []byte) uint16 { return Checksum(p, 0) }) })
	}
}

func BenchmarkChecksumAdd64Chain(b *testing.B) {
	for _, n := range []int{20, 64, 576, 1480, 9000} {
		b.Run(itoa(n), func(b *testing.B) { benchChecksum(b, n, func(p []byte) uint16 { return ^Fold(sumAdd64(p, 0)) }) })
	}
}

func BenchmarkChecksumReference16(b *testing.B) {
	for _, n := range []int{64, 1480} {
		b.Run(itoa(n), func(b *testing.B) { benchChecksum(b, n, func(p []byte) uint16 { return refChecksum(p, 0) }) })
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
