package drivers

import (
	"io"
	"testing"
)

// benchFrames returns n 1514-byte frames.
func benchFrames(n int) [][]byte {
	frames := make([][]byte, n)
	for i := range frames {
		frames[i] = frame(uint32(i), 1514)
	}
	return frames
}

// BenchmarkWireSend measures a frame's trip from Send to the other end's
// rx: fault checks, the copy into the receiver's buffer, delivery.
func BenchmarkWireSend(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(map[int]string{1: "single", 64: "batch64"}[batch], func(b *testing.B) {
			a, z := NewWire(WireConfig{})
			got := 0
			z.Start(func(f [][]byte) { got += len(f) })
			frames := benchFrames(batch)
			b.SetBytes(int64(1514 * batch))
			b.ReportAllocs()
			for b.Loop() {
				a.Send(frames)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(got), "ns/frame")
		})
	}
}

// BenchmarkWireSendFaults is BenchmarkWireSend with every fault but delay
// enabled at 1%.
func BenchmarkWireSendFaults(b *testing.B) {
	a, z := NewWire(WireConfig{AtoB: Faults{Seed: 1, Drop: 0.01, Corrupt: 0.01, Duplicate: 0.01, Reorder: 0.01, ReorderTimeout: -1}})
	z.Start(func([][]byte) {})
	frames := benchFrames(64)
	b.SetBytes(1514 * 64)
	b.ReportAllocs()
	for b.Loop() {
		a.Send(frames)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(64*b.N), "ns/frame")
}

// nullLink is a Link that does nothing, to measure a wrapper alone.
type nullLink struct{ lifecycle }

func (*nullLink) Name() string                      { return "null" }
func (*nullLink) MTU() int                          { return DefaultMTU }
func (*nullLink) HardwareAddr() [6]byte             { return [6]byte{} }
func (*nullLink) Start(func(frames [][]byte)) error { return nil }
func (*nullLink) Send([][]byte) error               { return nil }
func (*nullLink) Stats() LinkStats                  { return LinkStats{} }
func (*nullLink) Close() error                      { return nil }

// BenchmarkCapture measures writing a 1514-byte frame to a pcap stream
// (BUDGET.md: pcapgo WritePacket ≈ 232 ns), including the timestamp, the
// lock and the per-batch flush.
func BenchmarkCapture(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(map[int]string{1: "single", 64: "batch64"}[batch], func(b *testing.B) {
			c := Capture(new(nullLink), io.Discard, 0)
			frames := benchFrames(batch)
			b.SetBytes(int64(1514 * batch))
			b.ReportAllocs()
			for b.Loop() {
				c.Send(frames)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(batch*b.N), "ns/frame")
			if st := c.CaptureStats(); st.Errors != 0 {
				b.Fatalf("capture errors: %+v", st)
			}
		})
	}
}
