package client_test

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"netspace/actors"
	"netspace/client"
	ds "netspace/dataspace"
	"netspace/tcp"
)

// benchLink is a client linked to a relay on a bare actor system whose
// stack-side actor answers every tcp-consumed with a tcp-writable and
// counts tcp-channel bytes.
func benchLink(b *testing.B) (*client.Conn, *atomic.Int64) {
	h := newHarness(b, 3*time.Second)
	var got atomic.Int64
	h.sys.Spawn("stack-side", func(t *actors.Turn) {
		t.Observe(ds.RecordPattern(tcp.LabelConsumed, ds.Discard, ds.Discard, ds.Discard), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) {
				c := m.(*tcp.Consumed)
				t.Send(&tcp.Writable{Remote: c.Remote, Local: c.Local, N: c.N})
			},
		})
		t.Observe(ds.RecordPattern(tcp.LabelChannel, tcp.ListenerPattern(8000), ds.Discard, ds.Discard), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) { got.Add(int64(len(m.(*tcp.Channel).Data))) },
		})
	})
	return h.dial(b, tokenAll), &got
}

// BenchmarkLinkRoundTrip: a remote actor's message to the stack and the
// stack's answer back, one at a time.
func BenchmarkLinkRoundTrip(b *testing.B) {
	c, _ := benchLink(b)
	defer c.Close()
	peer := &tcp.Address{Host: netip.MustParseAddr("192.0.2.1"), Port: 1}
	me := &tcp.Listener{Port: 8000}
	done := make(chan struct{})
	n := 0
	c.Spawn("pinger", func(t *client.Turn) {
		t.Observe(ds.RecordPattern(tcp.LabelWritable, ds.Discard, ds.Discard, ds.Discard), client.Handler{
			Message: func(t *client.Turn, m ds.Record) {
				if n++; n >= b.N {
					close(done)
					return
				}
				t.Send(&tcp.Consumed{Remote: peer, Local: me, N: 1})
			},
		})
		// Let the observation reach the stack before the first ping.
		t.After(50*time.Millisecond, func(t *client.Turn) {
			b.ResetTimer()
			t.Send(&tcp.Consumed{Remote: peer, Local: me, N: 1})
		})
	})
	<-done
}

// BenchmarkLinkThroughput: 32 KiB tcp-channel messages from a remote
// actor into the stack.
func BenchmarkLinkThroughput(b *testing.B) {
	c, got := benchLink(b)
	defer c.Close()
	peer := &tcp.Address{Host: netip.MustParseAddr("192.0.2.1"), Port: 1}
	me := &tcp.Listener{Port: 8000}
	data := make([]byte, 32<<10)
	b.SetBytes(int64(len(data)))
	a := c.Spawn("sender", func(t *client.Turn) {})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.Inject(func(t *client.Turn) { t.Send(&tcp.Channel{Src: me, Dst: peer, Data: data}) })
		for int64(i-64)*int64(len(data)) > got.Load() { // at most 64 messages in flight
			time.Sleep(10 * time.Microsecond)
		}
	}
	for got.Load() < int64(b.N)*int64(len(data)) {
		time.Sleep(10 * time.Microsecond)
	}
}
