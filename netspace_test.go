package netspace

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/drivers"
	"netspace/ip"
)

var (
	addrA = netip.MustParseAddr("192.0.2.1")
	addrB = netip.MustParseAddr("192.0.2.2")
)

// pair is two deterministic stacks joined by an in-memory wire.
type pair struct {
	clock *actors.ManualClock
	a, b  *Stack
	wa    *drivers.WireEnd
}

func newPair(t testing.TB, faults drivers.Faults) *pair {
	clock := actors.NewManualClock(time.Unix(1_000_000, 0))
	ab, ba := faults, faults
	ab.Seed, ba.Seed = faults.Seed, faults.Seed+1
	wa, wb := drivers.NewWire(drivers.WireConfig{Clock: clock, AtoB: ab, BtoA: ba, NameA: "wa", NameB: "wb"})
	mk := func(link drivers.Link, addr netip.Addr, seed uint64) *Stack {
		s, err := New(Config{Link: link, Addrs: []netip.Prefix{netip.PrefixFrom(addr, 24)},
			Deterministic: true, Clock: clock, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	p := &pair{clock: clock, a: mk(wa, addrA, 11), b: mk(wb, addrB, 22), wa: wa}
	p.run(0)
	t.Cleanup(func() {
		p.a.Close()
		p.b.Close()
	})
	return p
}

func (p *pair) run(d time.Duration) { actors.AdvanceAll(p.clock, d, p.a.Sys, p.b.Sys) }

// pinger sends ICMP echo requests from s to dst and records the sequence
// numbers of the replies whose payload matches.
type pinger struct {
	replies map[uint16]bool
	count   int // every matching reply, duplicates and wrapped sequence numbers included
	send    func(seq uint16)
}

func startPinger(s *Stack, dst netip.Addr, size int) *pinger {
	pg := &pinger{replies: map[uint16]bool{}}
	var self *actors.Actor
	payload := func(seq uint16) []byte {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(int(seq) + i)
		}
		return b
	}
	self = s.Spawn("pinger", func(t *actors.Turn) {
		t.Observe(ip.InboundPattern(ip.ProtocolICMP), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) {
				msg := ip.ICMP(m.(*ip.Packet).Body)
				if msg.Check() != nil || msg.Type() != ip.ICMPTypeEchoReply || msg.ID() != 0x4242 {
					return
				}
				if bytes.Equal(msg.Payload(), payload(msg.Seq())) {
					pg.replies[msg.Seq()] = true
					pg.count++
				}
			},
		})
	})
	pg.send = func(seq uint16) {
		self.Inject(func(t *actors.Turn) {
			body := make([]byte, ip.ICMPHeaderLen+size)
			ip.PutICMP(body, ip.ICMPTypeEchoRequest, 0, 0x4242<<16|uint32(seq), payload(seq))
			t.Send(&ip.Packet{Dst: dst, Proto: ip.ProtocolICMP, Body: body})
		})
	}
	return pg
}

func TestPingOverWire(t *testing.T) {
	p := newPair(t, drivers.Faults{})
	for _, size := range []int{56, 1472, 4000, 65000} {
		pg := startPinger(p.a, addrB, size)
		for seq := uint16(1); seq <= 3; seq++ {
			pg.send(seq)
			p.run(10 * time.Millisecond)
		}
		if len(pg.replies) != 3 {
			t.Fatalf("size %d: %d of 3 replies (counters A %v, B %v)", size, len(pg.replies),
				nonZero(p.a.Counters()), nonZero(p.b.Counters()))
		}
	}
	if c := p.b.Counters(); c["ip.fragments"] == 0 || c["ip.sent_fragments"] == 0 {
		t.Fatalf("large pings did not fragment and reassemble: %v", nonZero(c))
	}
	if c := p.a.Counters(); c["arp.requests_out"] != 1 {
		t.Fatalf("A resolved B %d times; the cache should answer after the first", c["arp.requests_out"])
	}
}

// udpClient sends n numbered datagrams from an ephemeral port on s to dst,
// resending each every 50 ms until its echo arrives.
func udpClient(s *Stack, dst netip.AddrPort, n int) map[uint32]bool {
	got := map[uint32]bool{}
	id := ds.String("client")
	s.Spawn("udp-client", func(t *actors.Turn) {
		t.Observe(ip.HandlePattern(id), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) {
				b := m.(*ip.UDPChannel).Body
				if len(b) == 100 {
					got[binary.BigEndian.Uint32(b)] = true
				}
			},
		})
		var send func(t *actors.Turn, i uint32)
		send = func(t *actors.Turn, i uint32) {
			if got[i] {
				return
			}
			b := make([]byte, 100)
			binary.BigEndian.PutUint32(b, i)
			t.Send(&ip.UDPChannel{Src: &ip.UDPHandle{ID: id}, Dst: &ip.UDPAddress{Host: dst.Addr(), Port: dst.Port()}, Body: b})
			t.After(50*time.Millisecond, func(t *actors.Turn) { send(t, i) })
		}
		// Wait for the port binding before the first send.
		t.Observe(ds.RecordPattern(ip.LabelUDPBinding, ds.Discard, ds.Lit(id)), actors.Handler{
			Added: func(t *actors.Turn, _ []ds.Value) {
				for i := 0; i < n; i++ {
					send(t, uint32(i))
				}
			},
		})
	})
	return got
}

func TestUDPOverWire(t *testing.T) {
	p := newPair(t, drivers.Faults{})
	p.b.ServeUDPEcho(7)
	got := udpClient(p.a, netip.AddrPortFrom(addrB, 7), 20)
	p.run(time.Second)
	if len(got) != 20 {
		t.Fatalf("%d of 20 echoes", len(got))
	}
	if c := p.b.Counters(); c["udp.delivered"] != 20 {
		t.Fatalf("B delivered %d datagrams for 20 sends on a perfect wire", c["udp.delivered"])
	}
}

func TestUnderLossAndReorder(t *testing.T) {
	p := newPair(t, drivers.Faults{Seed: 7, Drop: 0.10, Reorder: 0.10, Duplicate: 0.02})
	p.b.ServeUDPEcho(7)
	got := udpClient(p.a, netip.AddrPortFrom(addrB, 7), 200)
	// Let ARP settle first: a lost ARP request costs its 1 s retry, and
	// pings sent meanwhile would be lost for that reason, not the wire's.
	p.run(3 * time.Second)
	pg := startPinger(p.a, addrB, 1000)
	for seq := uint16(1); seq <= 100; seq++ {
		pg.send(seq)
		p.run(20 * time.Millisecond)
	}
	p.run(10 * time.Second)
	if len(got) != 200 {
		t.Fatalf("%d of 200 UDP echoes despite retries", len(got))
	}
	if n := len(pg.replies); n < 70 || n == 100 {
		t.Fatalf("%d of 100 pings answered: with 10%% loss each way expect about 81", n)
	}
	if f := p.wa.Faults(); f.Dropped == 0 || f.Reordered == 0 {
		t.Fatalf("no faults injected: %+v", f)
	}
}

func TestPortUnreachable(t *testing.T) {
	p := newPair(t, drivers.Faults{})
	var errs []string
	p.a.Spawn("icmp-watch", func(t *actors.Turn) {
		t.Observe(ip.InboundPattern(ip.ProtocolICMP), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) {
				msg := ip.ICMP(m.(*ip.Packet).Body)
				if msg.Check() == nil && msg.IsError() {
					q, err := msg.Quote()
					if err == nil {
						errs = append(errs, fmt.Sprintf("type %d code %d about %v proto %d", msg.Type(), msg.Code(), q.Dst, q.Protocol))
					}
				}
			},
		})
	})
	udpClient(p.a, netip.AddrPortFrom(addrB, 9999), 1)
	p.run(30 * time.Millisecond)
	if len(errs) == 0 || errs[0] != "type 3 code 3 about 192.0.2.2 proto 17" {
		t.Fatalf("ICMP errors seen by A: %v", errs)
	}
	if c := p.b.Counters(); c["udp.no_port"] == 0 || c["icmp.errors_sent"] == 0 {
		t.Fatalf("B counters: %v", nonZero(c))
	}
}

func nonZero(c map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range c {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}
