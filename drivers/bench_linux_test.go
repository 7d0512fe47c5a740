//go:build linux

package drivers_test

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"netspace/test/nettest"
)

// benchFrames returns n 1514-byte frames from src to dst with a local
// experimental EtherType, which the kernel drops without a reply.
func benchFrames(n int, src, dst [6]byte) [][]byte {
	frames := make([][]byte, n)
	for i := range frames {
		f := make([]byte, 1514)
		copy(f[0:6], dst[:])
		copy(f[6:12], src[:])
		f[12], f[13] = 0x88, 0xb5
		frames[i] = f
	}
	return frames
}

// BenchmarkTAPSend measures Send on a TAP: one write(2) per frame into the
// kernel, which drops the frames (unknown EtherType).
func BenchmarkTAPSend(b *testing.B) {
	ns := nettest.NewNamespace(b)
	ns.CreateTAP("tap0", "192.0.2.1/24")
	tap, err := ns.OpenTAP("tap0")
	if err != nil {
		b.Fatal(err)
	}
	frames := benchFrames(64, madeUp, [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	b.SetBytes(1514 * 64)
	b.ReportAllocs()
	for b.Loop() {
		if err := tap.Send(frames); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(64*b.N), "ns/frame")
}

// BenchmarkPacketVeth sends 1514-byte frames on one end of a veth pair
// through a packet socket and receives them on the other end through
// another: the read loop's cost per frame, batching included.
func BenchmarkPacketVeth(b *testing.B) {
	ns := nettest.NewNamespace(b)
	ns.CreateVeth("veth-a", "veth-b")
	// No IPv6 chatter: only the benchmark's frames cross the pair.
	ns.MustRun(b, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1")
	pa, err := ns.OpenPacket("veth-a")
	if err != nil {
		b.Fatal(err)
	}
	pb, err := ns.OpenPacket("veth-b")
	if err != nil {
		b.Fatal(err)
	}
	var got, bursts atomic.Int64
	if err := pb.Start(func(f [][]byte) {
		got.Add(int64(len(f)))
		bursts.Add(1)
	}); err != nil {
		b.Fatal(err)
	}
	frames := benchFrames(64, pa.HardwareAddr(), pb.HardwareAddr())
	b.SetBytes(1514 * 64)
	b.ReportAllocs()
	// At most window frames in flight, so that the receiver's queues do
	// not overflow and the figure is the reader's pace. Frames the kernel
	// drops elsewhere (the veth backlog) are never seen: wait for them at
	// most 100 ms.
	const window = 256
	sent := int64(0)
	for b.Loop() {
		for deadline := time.Now().Add(100 * time.Millisecond); sent-got.Load() > window && time.Now().Before(deadline); {
			runtime.Gosched()
		}
		if err := pa.Send(frames); err != nil {
			b.Fatal(err)
		}
		sent += int64(len(frames))
	}
	// Let the reader catch up: until it has everything or stops
	// advancing, 5 s at most.
	deadline := time.Now().Add(5 * time.Second)
	for last := int64(-1); got.Load() < sent && got.Load() != last && time.Now().Before(deadline); {
		last = got.Load()
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := b.Elapsed()
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(sent), "ns/frame")
	b.ReportMetric(float64(sent-got.Load())/float64(sent)*100, "%lost")
	if n := bursts.Load(); n > 0 {
		b.ReportMetric(float64(got.Load())/float64(n), "frames/burst")
	}
}

// BenchmarkTAPRead has the kernel send small UDP datagrams into a TAP (from
// another thread, as fast as it can) and measures the pace at which the
// read loop delivers them: the slower of the kernel sender and the reader.
func BenchmarkTAPRead(b *testing.B) {
	ns := nettest.NewNamespace(b)
	ns.CreateTAP("tap0", "192.0.2.1/24")
	ns.MustRun(b, "ip", "neigh", "add", absentIP.String(), "lladdr", "02:00:5e:00:02:09", "dev", "tap0")
	tap, err := ns.OpenTAP("tap0")
	if err != nil {
		b.Fatal(err)
	}
	var got, bursts atomic.Int64
	if err := tap.Start(func(f [][]byte) {
		got.Add(int64(len(f)))
		bursts.Add(1)
	}); err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	sent := make(chan error, 1)
	b.ResetTimer()
	go func() { sent <- ns.Do(func() error { return flood(stop, absentIP, 50_000_000) }) }()
	for deadline := time.Now().Add(30 * time.Second); got.Load() < int64(b.N) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	close(stop)
	if err := <-sent; err != nil {
		b.Fatal(err)
	}
	n := got.Load()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/frame")
	b.ReportMetric(float64(n)/float64(max(bursts.Load(), 1)), "frames/burst")
	b.ReportMetric(0, "ns/op")
}
