package netspace

import (
	"bytes"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/drivers"
	"netspace/tcp"
)

// perConnEcho serves echo on port with one user actor per connection, the
// shape of a per-client handler: a listener actor observes every
// connection's data and grants on the port (which opens it) and forwards
// them to the connection's own actor, which holds the connection with a
// specific-interest lease and echoes. (Forwarding, as NetListener does,
// covers what arrives before the connection's actor exists.) The actor of
// the connection from panicFrom panics once it has echoed over 64 KiB.
func perConnEcho(s *Stack, port uint16, panicFrom *netip.AddrPort) {
	local := &tcp.Listener{Port: port}
	L := tcp.ListenerPattern(port)
	type conn struct {
		actor  *actors.Actor
		remote ds.Record
		echoed int
		credit int
		queue  [][]byte
	}
	flush := func(t *actors.Turn, c *conn, a netip.AddrPort) {
		for len(c.queue) > 0 && c.credit > 0 {
			d := c.queue[0]
			n := min(len(d), c.credit)
			t.Send(&tcp.Channel{Src: local, Dst: c.remote, Data: d[:n]})
			t.Send(&tcp.Consumed{Remote: c.remote, Local: local, N: n})
			c.credit -= n
			c.echoed += n
			if n == len(d) {
				c.queue = c.queue[1:]
			} else {
				c.queue[0] = d[n:]
			}
		}
		if panicFrom != nil && a == *panicFrom && c.echoed > 64<<10 {
			panic("user actor bug")
		}
	}
	s.Spawn(fmt.Sprintf("per-conn-echo:%d", port), func(t *actors.Turn) {
		conns := map[netip.AddrPort]*conn{}
		get := func(t *actors.Turn, remote ds.Record) *conn {
			a := addrOf(ds.Rec(remote))
			if c := conns[a]; c != nil {
				return c
			}
			c := &conn{remote: remote}
			conns[a] = c
			c.actor = t.Spawn(fmt.Sprint("conn-", a), func(t *actors.Turn) {
				R := ds.RecordPattern(tcp.LabelAddress, ds.Lit(ds.Addr(a.Addr())), ds.Lit(ds.Int(int64(a.Port()))))
				t.Observe(ds.RecordPattern(tcp.LabelChannel, R, L, ds.Discard), actors.Handler{}) // the lease
			})
			return c
		}
		// Everything the listener hears for a connection runs as a turn of
		// the connection's actor: a panic there is that actor's alone.
		forward := func(t *actors.Turn, remote ds.Record, f func(c *conn)) {
			c := get(t, remote)
			a := addrOf(ds.Rec(remote))
			c.actor.Inject(func(t *actors.Turn) {
				f(c)
				flush(t, c, a)
			})
		}
		t.Observe(tcp.ChannelFrom(L), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) {
				ch := m.(*tcp.Channel)
				forward(t, ch.Src, func(c *conn) { c.queue = append(c.queue, ch.Data) })
			},
		})
		t.Observe(ds.RecordPattern(tcp.LabelWritable, ds.CaptureAny, L, ds.CaptureAny), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) {
				w := m.(*tcp.Writable)
				forward(t, w.Remote, func(c *conn) { c.credit += w.N })
			},
		})
		t.Observe(ds.RecordPattern(tcp.LabelConnection, ds.CaptureAny, L, ds.CaptureAny), actors.Handler{
			Added: func(t *actors.Turn, c []ds.Value) {
				if c[1].AsString() == tcp.StatePeerClosed {
					if cn := conns[addrOf(c[0])]; cn != nil {
						remote := cn.remote
						cn.actor.Inject(func(t *actors.Turn) {
							t.Send(&tcp.Close{Remote: remote, Local: local, How: tcp.CloseBoth})
							t.Stop()
						})
					}
				}
			},
			Removed: func(t *actors.Turn, c []ds.Value) {
				if cn := conns[addrOf(c[0])]; cn != nil {
					delete(conns, addrOf(c[0]))
					cn.actor.Stop()
				}
			},
		})
	})
}

// warmUp starts the listeners and resolves ARP both ways, so that the
// baseline holds the neighbour caches the transfers would create anyway.
func warmUp(p *pair) {
	pa, pb := startPinger(p.a, addrB, 8), startPinger(p.b, addrA, 8)
	pa.send(1)
	pb.send(1)
	p.run(10 * time.Millisecond)
}

type baseline struct {
	live, assertions, goroutines int
}

func measure(ps ...*Stack) baseline {
	var b baseline
	for _, s := range ps {
		st := s.Sys.Stats()
		b.live += st.Live
		b.assertions += st.Assertions
	}
	b.goroutines = runtime.NumGoroutine()
	return b
}

// checkReclaimed waits out TIME-WAIT and checks that every connection's
// actor, assertion and goroutine is gone.
func checkReclaimed(t *testing.T, p *pair, base baseline) {
	t.Helper()
	p.run(2 * time.Minute) // past TIME-WAIT (60 s)
	for _, s := range []*Stack{p.a, p.b} {
		if n := s.Counters()["tcp.active"]; n != 0 {
			t.Errorf("%d connection actors left", n)
		}
	}
	after := measure(p.a, p.b)
	if after.live > base.live || after.assertions > base.assertions {
		t.Errorf("not reclaimed: %d actors, %d assertions; baseline %d, %d\nA: %v\nB: %v", after.live, after.assertions,
			base.live, base.assertions, p.a.Sys.Actors(), p.b.Sys.Actors())
	}
	if after.goroutines > base.goroutines+2 {
		t.Errorf("goroutines %d, baseline %d", after.goroutines, base.goroutines)
	}
}

// slowWire is a wire with 500 us of delay each way, so that transfers take
// simulated time and a fault can land in the middle of one.
var slowWire = drivers.Faults{Delay: 500 * time.Microsecond}

func TestUserActorCrashIsContained(t *testing.T) {
	p := newPair(t, slowWire)
	p.b.ServeTCPEcho(7)
	// The victim is the first connection to port 8: once it is up, learn
	// its address at B and arm the panic, then start the others.
	victim := new(netip.AddrPort)
	perConnEcho(p.b, 8, victim)
	warmUp(p)
	base := measure(p.a, p.b)
	var trs []*transfer
	vt := tcpClient(p.a, "victim", netip.AddrPortFrom(addrB, 8), payload(1<<20, 99))
	p.runUntil(t, time.Second, func() bool { return vt.state == tcp.StateEstablished })
	p.b.Spawn("find-victim", func(t *actors.Turn) {
		t.Observe(ds.RecordPattern(tcp.LabelConnection, ds.CaptureAny, tcp.ListenerPattern(8), ds.Discard), actors.Handler{
			Added: func(t *actors.Turn, c []ds.Value) { *victim = addrOf(c[0]); t.Stop() },
		})
	})
	for i := 0; i < 4; i++ {
		trs = append(trs, tcpClient(p.a, fmt.Sprint("ok8-", i), netip.AddrPortFrom(addrB, 8), payload(256<<10, uint64(i))))
		trs = append(trs, tcpClient(p.a, fmt.Sprint("ok7-", i), netip.AddrPortFrom(addrB, 7), payload(256<<10, uint64(10+i))))
	}
	p.runUntil(t, 5*time.Minute, func() bool {
		for _, tr := range append(trs, vt) {
			if !tr.done {
				return false
			}
		}
		return true
	})
	if vt.state != tcp.StateReset {
		t.Fatalf("the crashed user's peer ended %q, want reset", vt.state)
	}
	for i, tr := range trs {
		want := payload(256<<10, uint64(i/2+10*(i%2)))
		if tr.got != len(want) || !bytes.Equal(tr.received.Sum(nil), sum(want)) {
			t.Fatalf("connection %d beside the crash: %d of %d bytes back, state %q", i, tr.got, len(want), tr.state)
		}
	}
	if p.b.Sys.Stats().Crashes != 1 {
		t.Fatalf("%d crashes", p.b.Sys.Stats().Crashes)
	}
	checkReclaimed(t, p, base)
}

func TestConnectionActorCrashIsContained(t *testing.T) {
	p := newPair(t, slowWire)
	p.b.ServeTCPEcho(7)
	warmUp(p)
	base := measure(p.a, p.b)
	victim := tcpClient(p.a, "victim", netip.AddrPortFrom(addrB, 7), payload(4<<20, 1))
	var others []*transfer
	for i := 0; i < 4; i++ {
		others = append(others, tcpClient(p.a, fmt.Sprint("other-", i), netip.AddrPortFrom(addrB, 7), payload(512<<10, uint64(20+i))))
	}
	p.runUntil(t, time.Second, func() bool { return victim.got > 0 }) // data flowing
	// A buggy user sends the victim's connection a tcp-channel message of
	// the wrong Go type: the connection actor's handler panics.
	p.a.Spawn("buggy", func(t *actors.Turn) {
		defer t.Stop()
		t.Send(ds.NewTuple(tcp.LabelChannel,
			ds.Rec(&tcp.Handle{ID: ds.String("victim")}),
			ds.Rec(&tcp.Address{Host: addrB, Port: 7}),
			ds.Bytes([]byte("boom"))))
	})
	p.runUntil(t, 5*time.Minute, func() bool {
		for _, tr := range append(others, victim) {
			if !tr.done {
				return false
			}
		}
		return true
	})
	if p.a.Sys.Stats().Crashes != 1 || p.a.Counters()["tcp.resets_on_stop"] != 1 {
		t.Fatalf("crashes %d, resets on stop %d", p.a.Sys.Stats().Crashes, p.a.Counters()["tcp.resets_on_stop"])
	}
	// The peer (B's side) was reset; the victim's user heard the end.
	if victim.state == tcp.StateEstablished || victim.got == 4<<20 {
		t.Fatalf("victim ended %q with %d bytes: the crash went unnoticed", victim.state, victim.got)
	}
	for i, tr := range others {
		want := payload(512<<10, uint64(20+i))
		if tr.got != len(want) || !bytes.Equal(tr.received.Sum(nil), sum(want)) {
			t.Fatalf("connection %d beside the crash: %d of %d bytes, state %q", i, tr.got, len(want), tr.state)
		}
	}
	checkReclaimed(t, p, base)
}
