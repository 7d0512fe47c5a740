package netspace

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"hash"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/drivers"
	"netspace/tcp"
)

// payload returns n pseudo-random bytes from seed.
func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0xabcdef))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for k := 0; k < 8; k++ {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b
}

// transfer is one TCP connection's outcome, as seen by an actor client.
type transfer struct {
	state    string
	received hash.Hash
	got      int
	sent     int
	eof      bool
	done     bool
}

// tcpClient opens a connection from s to remote as handle id, writes data
// as it is granted, half-closes, and reads (hashing) until the peer
// closes. It is written against the tcp records only.
func tcpClient(s *Stack, id string, remote netip.AddrPort, data []byte) *transfer {
	tr := &transfer{received: sha256.New()}
	hid := ds.String(id)
	local := &tcp.Handle{ID: hid}
	raddr := &tcp.Address{Host: remote.Addr(), Port: remote.Port()}
	R, L := tcp.AddressPattern(remote), tcp.HandlePattern(hid)
	s.Spawn("client-"+id, func(t *actors.Turn) {
		credit := 0
		push := func(t *actors.Turn) {
			for credit > 0 && tr.sent < len(data) {
				n := min(credit, len(data)-tr.sent, 32<<10)
				t.Send(&tcp.Channel{Src: local, Dst: raddr, Data: data[tr.sent : tr.sent+n]})
				tr.sent += n
				credit -= n
				if tr.sent == len(data) {
					t.Send(&tcp.Close{Remote: raddr, Local: local, How: tcp.CloseWrite})
				}
			}
		}
		t.Observe(ds.RecordPattern(tcp.LabelChannel, R, L, ds.CaptureAny), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) {
				d := m.(*tcp.Channel).Data
				tr.received.Write(d)
				tr.got += len(d)
				t.Send(&tcp.Consumed{Remote: raddr, Local: local, N: len(d)})
			},
		})
		t.Observe(ds.RecordPattern(tcp.LabelWritable, R, L, ds.CaptureAny), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) {
				credit += m.(*tcp.Writable).N
				push(t)
			},
		})
		t.Observe(ds.RecordPattern(tcp.LabelConnection, R, L, ds.CaptureAny), actors.Handler{
			Removed: func(t *actors.Turn, c []ds.Value) {
				if !tr.done {
					tr.state, tr.done = "gone", true
					t.Stop()
				}
			},
			Added: func(t *actors.Turn, c []ds.Value) {
				tr.state = c[0].AsString()
				switch tr.state {
				case tcp.StateEstablished:
					if len(data) == 0 {
						t.Send(&tcp.Close{Remote: raddr, Local: local, How: tcp.CloseWrite})
					}
				case tcp.StatePeerClosed, "closed":
					tr.eof = true
					if tr.sent == len(data) {
						tr.done = true
						t.Stop()
					}
				case tcp.StateConnecting:
				default:
					tr.done = true
					t.Stop()
				}
			},
		})
	})
	return tr
}

// hashSink serves on port: it hashes what each connection sends, answers
// with reply (if any) once the peer half-closes, and closes.
func hashSink(s *Stack, port uint16, reply []byte) map[netip.AddrPort]*transfer {
	got := map[netip.AddrPort]*transfer{}
	svc := &tcpService{port: port}
	svc.onOpen = func(t sender, c *svcConn) { got[c.addr] = &transfer{received: sha256.New()} }
	svc.onData = func(t sender, c *svcConn, data []byte) {
		tr := got[c.addr]
		tr.received.Write(data)
		tr.got += len(data)
		c.consume(t, len(data))
	}
	svc.onPeerClosed = func(t sender, c *svcConn) {
		got[c.addr].eof = true
		c.send(t, reply)
		got[c.addr].sent = len(reply)
		if c.queuedLen == 0 {
			c.close(t, tcp.CloseWrite)
		}
	}
	svc.onSent = func(t sender, c *svcConn, n int) {
		if c.peerClosed && c.queuedLen == 0 {
			c.close(t, tcp.CloseWrite)
		}
	}
	svc.onGone = func(t sender, c *svcConn) { got[c.addr].done = true }
	s.Spawn(fmt.Sprintf("hash-sink:%d", port), svc.boot)
	return got
}

func sum(b []byte) []byte { h := sha256.Sum256(b); return h[:] }

// runUntil advances the pair's clock in steps until cond holds, failing
// after limit of simulated time.
func (p *pair) runUntil(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	for elapsed := time.Duration(0); !cond(); elapsed += 10 * time.Millisecond {
		if elapsed > limit {
			t.Fatalf("not done after %v of simulated time\nA: %v\nB: %v", limit, nonZero(p.a.Counters()), nonZero(p.b.Counters()))
		}
		p.run(10 * time.Millisecond)
	}
}

func testBulk(t *testing.T, faults drivers.Faults, size int, limit time.Duration) {
	p := newPair(t, faults)
	up, down := payload(size, 1), payload(size, 2)
	sink := hashSink(p.b, 5001, down)
	tr := tcpClient(p.a, "bulk", netip.AddrPortFrom(addrB, 5001), up)
	p.runUntil(t, limit, func() bool { return tr.done })
	if tr.state != "closed" && tr.state != tcp.StatePeerClosed {
		t.Fatalf("client ended in state %q", tr.state)
	}
	if len(sink) != 1 {
		t.Fatalf("%d connections at the sink", len(sink))
	}
	for _, s := range sink {
		if s.got != size || !bytes.Equal(s.received.Sum(nil), sum(up)) {
			t.Fatalf("upload: %d of %d bytes, hash match %v", s.got, size, bytes.Equal(s.received.Sum(nil), sum(up)))
		}
	}
	if tr.got != size || !bytes.Equal(tr.received.Sum(nil), sum(down)) {
		t.Fatalf("download: %d of %d bytes, hash match %v", tr.got, size, bytes.Equal(tr.received.Sum(nil), sum(down)))
	}
	for _, st := range []*Stack{p.a, p.b} {
		if c := st.Counters(); c["ip.too_big"] != 0 || c["ip.mailbox_dropped"] != 0 || c["tcp.send_overruns"] != 0 {
			t.Fatalf("segments lost inside the stack: %v", nonZero(c))
		}
	}
	t.Logf("A: %v", nonZero(p.a.Counters()))
	t.Logf("wire a→b faults: %+v", p.wa.Faults())
}

func TestTCPBulkClean(t *testing.T) {
	testBulk(t, drivers.Faults{}, 4<<20, time.Minute)
}

func TestTCPBulkUnderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("16 MiB each way under loss: skipped in -short")
	}
	testBulk(t, drivers.Faults{Seed: 42, Drop: 0.05, Reorder: 0.05, Duplicate: 0.05}, 16<<20, 20*time.Minute)
}

func TestTCPManyConnections(t *testing.T) {
	p := newPair(t, drivers.Faults{Seed: 3, Drop: 0.01})
	sink := hashSink(p.b, 5002, []byte("bye\n"))
	var trs []*transfer
	for i := 0; i < 200; i++ {
		trs = append(trs, tcpClient(p.a, fmt.Sprint("c", i), netip.AddrPortFrom(addrB, 5002), payload(10000+i, uint64(i))))
	}
	p.runUntil(t, 5*time.Minute, func() bool {
		for _, tr := range trs {
			if !tr.done {
				return false
			}
		}
		return true
	})
	if len(sink) != 200 {
		t.Fatalf("%d connections at the sink", len(sink))
	}
	for _, tr := range trs {
		if tr.got != 4 {
			t.Fatalf("a client got %d bytes back", tr.got)
		}
	}
	want := map[string]bool{}
	for i := 0; i < 200; i++ {
		want[string(sum(payload(10000+i, uint64(i))))] = true
	}
	for _, s := range sink {
		if !s.eof || !want[string(s.received.Sum(nil))] {
			t.Fatalf("a connection at the sink got %d bytes that match no client's (eof %v)", s.got, s.eof)
		}
		delete(want, string(s.received.Sum(nil)))
	}
}

// TestTCPEchoUnderLoss runs the stack's own echo service (inline data
// handlers) under loss: what comes back must be what was sent.
func TestTCPEchoUnderLoss(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		p := newPair(t, drivers.Faults{Seed: seed, Drop: 0.02, Reorder: 0.02})
		p.b.ServeTCPEcho(7)
		data := payload(2<<20, seed)
		tr := tcpClient(p.a, "echo", netip.AddrPortFrom(addrB, 7), data)
		p.runUntil(t, 10*time.Minute, func() bool { return tr.done })
		if tr.got != len(data) || !bytes.Equal(tr.received.Sum(nil), sum(data)) {
			t.Fatalf("seed %d: echo of %d bytes came back as %d bytes, hash match %v", seed, len(data), tr.got, bytes.Equal(tr.received.Sum(nil), sum(data)))
		}
	}
}
