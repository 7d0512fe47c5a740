package netspace

import (
	"net/netip"
	"testing"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/drivers"
	"netspace/ethernet"
	"netspace/ip"
)

// BenchmarkInboundUDP measures one received frame's way up the stack:
// Ethernet filter and copy, the ethernet-packet message, IPv4 validation,
// the ip-packet message, UDP validation and checksum, and the udp-channel
// message to a user actor — on the deterministic executor, so the figure
// is the work itself, without goroutine wake-ups.
func BenchmarkInboundUDP(b *testing.B) {
	clock := actors.NewManualClock(time.Unix(0, 0))
	raw, wb := drivers.NewWire(drivers.WireConfig{Clock: clock})
	st, err := New(Config{Link: wb, Addrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.2/24")},
		Deterministic: true, Clock: clock, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	got := 0
	st.Spawn("sink", func(t *actors.Turn) {
		t.Observe(ip.ListenerPattern(9), actors.Handler{Message: func(*actors.Turn, ds.Record) { got++ }})
	})
	st.Sys.Quiesce()
	frame := udpFrame(st.MAC, 1024)
	batch := [][]byte{frame}
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		raw.Send(batch)
		st.Sys.Quiesce()
	}
	if got != b.N {
		b.Fatalf("delivered %d of %d (counters %v)", got, b.N, nonZero(st.Counters()))
	}
}

// udpFrame builds a frame from 192.0.2.1:5000 to 192.0.2.2:9 with n bytes
// of payload.
func udpFrame(dst ethernet.MAC, n int) []byte {
	src := netip.MustParseAddr("192.0.2.1")
	to := netip.MustParseAddr("192.0.2.2")
	frame := make([]byte, ethernet.HeaderLen+ip.IPv4MinHeaderLen+ip.UDPHeaderLen+n)
	ethernet.PutHeader(frame, dst, ethernet.LocallyAdministered(99), ethernet.EtherTypeIPv4)
	seg := frame[ethernet.HeaderLen+ip.IPv4MinHeaderLen:]
	ip.PutUDPHeader(seg, 5000, 9, n)
	ip.SetUDPChecksum(seg, src, to)
	ip.PutIPv4Header(frame[ethernet.HeaderLen:], &ip.IPv4Fields{TotalLen: uint16(ip.IPv4MinHeaderLen + len(seg)),
		TTL: 64, Protocol: ip.ProtocolUDP, Src: src, Dst: to})
	return frame
}

// BenchmarkPingWire measures ICMP echo round trips between two stacks on
// the in-memory wire (deterministic executor), reported as round trips
// per second.
func BenchmarkPingWire(b *testing.B) {
	p := newPair(b, drivers.Faults{})
	pg := startPinger(p.a, addrB, 56)
	pg.send(0)
	p.run(0) // resolve ARP first
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pg.send(uint16(i + 1))
		actors.QuiesceAll(p.a.Sys, p.b.Sys)
	}
	b.StopTimer()
	if pg.count != b.N+1 {
		b.Fatalf("%d replies for %d pings", pg.count, b.N+1)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rt/s")
}
