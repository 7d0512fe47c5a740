package tcp

import (
	"testing"
	"time"
)

// Benchmarks of the connection state vector's per-segment path, with
// the options Linux negotiates (MSS 1460, timestamps, SACK, window
// scale 7), so that data segments carry 1448 bytes.

// benchConn returns an established connection (passive open, peer ISN
// 5000, our ISS 1000) and the time.
func benchConn(tb testing.TB, cfg Config) (*Conn, time.Time) {
	now := time.Unix(1_000_000, 0)
	c := NewConn(cfg, scriptLocal, scriptRemote, 1000, now)
	syn := Segment{Seq: 5000, Flags: FlagSYN, Window: 65535, Opts: linuxSYN}
	c.AcceptSYN(now, &syn)
	synack := c.TakeSegments()
	if len(synack) != 1 {
		tb.Fatalf("handshake: %v", fmtSegs(synack))
	}
	now = now.Add(time.Millisecond)
	ack := Segment{Seq: 5001, Ack: 1001, Flags: FlagACK, Window: 65535,
		Opts: Options{HasTS: true, TSVal: 101, TSEcr: synack[0].Opts.TSVal}}
	c.Input(now, &ack)
	c.TakeSegments()
	if c.State() != Established {
		tb.Fatalf("state %v", c.State())
	}
	return c, now
}

// BenchmarkConnReceiveInOrder is the receiving side of a bulk transfer:
// per operation one 1448-byte segment in order is input, the data taken
// and consumed, and what the connection sends (an ACK every other
// segment) taken.
func BenchmarkConnReceiveInOrder(b *testing.B) {
	c, now := benchConn(b, Config{})
	seg := Segment{Seq: 5001, Ack: 1001, Flags: FlagACK, Window: 65535, Payload: pattern(1448),
		Opts: Options{HasTS: true, TSVal: 200, TSEcr: 1}}
	acks := 0
	b.SetBytes(int64(len(seg.Payload)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		now = now.Add(10 * time.Microsecond)
		c.Input(now, &seg)
		d := c.TakeReadable()
		c.Consumed(now, len(d))
		acks += len(c.TakeSegments())
		seg.Seq = seg.Seq.Add(len(seg.Payload))
	}
	b.StopTimer()
	if c.State() != Established || c.Stats().BytesIn != uint64(b.N*len(seg.Payload)) {
		b.Fatalf("state %v stats %+v", c.State(), c.Stats())
	}
	b.ReportMetric(float64(acks)/float64(b.N), "acks/seg")
}

// BenchmarkConnSendAcks is the sending side of a bulk transfer: per
// operation one pure ACK acknowledging two segments (a delayed ACK, with
// a timestamp echo for an RTT sample) is input and the two new segments
// it releases taken; the send buffer is kept topped up by writes of 64
// KiB, written ahead.
func BenchmarkConnSendAcks(b *testing.B) {
	c, now := benchConn(b, Config{})
	chunk := pattern(64 << 10)
	for c.Writable() >= len(chunk) {
		c.Write(now, chunk)
	}
	sent := len(c.TakeSegments())
	ack := Segment{Seq: 5001, Ack: 1001, Flags: FlagACK, Window: 65535, Opts: Options{HasTS: true, TSVal: 200}}
	b.SetBytes(2 * 1448)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		now = now.Add(10 * time.Microsecond)
		ack.Ack = ack.Ack.Add(2 * 1448)
		ack.Opts.TSEcr = c.tsNow(now)
		c.Input(now, &ack)
		sent += len(c.TakeSegments())
		if c.Writable() >= len(chunk) {
			c.Write(now, chunk)
			sent += len(c.TakeSegments())
		}
	}
	b.StopTimer()
	if c.State() != Established || c.Stats().Retransmits != 0 {
		b.Fatalf("state %v stats %+v", c.State(), c.Stats())
	}
	b.ReportMetric(float64(sent)/float64(b.N), "segs/ack")
}

// The sending side's steady state allocates nothing per ACK.
func TestConnSendAcksAllocs(t *testing.T) {
	c, now := benchConn(t, Config{})
	chunk := pattern(64 << 10)
	for c.Writable() >= len(chunk) {
		c.Write(now, chunk)
	}
	c.TakeSegments()
	ack := Segment{Seq: 5001, Ack: 1001, Flags: FlagACK, Window: 65535, Opts: Options{HasTS: true, TSVal: 200}}
	step := func() {
		now = now.Add(10 * time.Microsecond)
		ack.Ack = ack.Ack.Add(2 * 1448)
		ack.Opts.TSEcr = c.tsNow(now)
		c.Input(now, &ack)
		c.TakeSegments()
		if c.Writable() >= len(chunk) {
			c.Write(now, chunk)
			c.TakeSegments()
		}
	}
	for range 1000 { // warm up: past slow start's first windows and the buffer's growth
		step()
	}
	if n := testing.AllocsPerRun(1000, step); n != 0 {
		t.Fatalf("%v allocations per ACK, want 0", n)
	}
}
