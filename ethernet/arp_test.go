package ethernet

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"
)

// The ARP actor is driven purely through the dataspace: a "wire" actor
// sends the frames it would receive, asserts the facts it observes, and
// records the frames it sends and the arp-assertions it makes. Time moves
// only on the system's manual clock.

var (
	arpOurMAC  = MAC{0x02, 0x00, 0x5e, 0x00, 0x00, 0x01}
	arpPeerMAC = MAC{0x02, 0x00, 0x5e, 0x00, 0x00, 0x02}
	arpOtherMC = MAC{0x02, 0x00, 0x5e, 0x00, 0x00, 0x03}

	arpOurIP   = netip.MustParseAddr("192.0.2.2")
	arpPeerIP  = netip.MustParseAddr("192.0.2.1")
	arpOtherIP = netip.MustParseAddr("192.0.2.77")
)

// arpRig is one ARP actor on "eth0" and the wire actor around it.
type arpRig struct {
	t     *testing.T
	sys   *actors.System
	stats *ARPStats
	wire  *actors.Actor

	sent    []*Packet          // frames the ARP actor sent, oldest first
	entries map[netip.Addr]MAC // arp-assertions present now
	added   int                // arp-assertions that appeared
	removed int                // arp-assertions that went away
}

func newARPRig(t *testing.T, cfg ARPConfig) *arpRig {
	t.Helper()
	cfg.Iface, cfg.MAC = "eth0", arpOurMAC
	r := &arpRig{t: t, entries: map[netip.Addr]MAC{}}
	r.sys = actors.NewSystem(actors.Deterministic())
	t.Cleanup(func() { _ = r.sys.Close(time.Second) })
	r.sys.Spawn("harness", func(t *actors.Turn) { _, r.stats = SpawnARP(t, cfg) })
	r.wire = r.sys.Spawn("wire", func(t *actors.Turn) {
		t.Observe(OutboundPattern("eth0"), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) { r.sent = append(r.sent, m.(*Packet)) },
		})
		t.Observe(ds.RecordPattern(LabelARPEntry, ds.Lit(ds.String("eth0")), ds.CaptureAny, ds.CaptureAny), actors.Handler{
			Added: func(t *actors.Turn, c []ds.Value) {
				r.entries[c[0].AsAddr()] = MACFrom(c[1])
				r.added++
			},
			Removed: func(t *actors.Turn, c []ds.Value) {
				delete(r.entries, c[0].AsAddr())
				r.removed++
			},
		})
	})
	r.sys.Quiesce()
	return r
}

// do runs fn as a turn of the wire actor and lets everything settle.
func (r *arpRig) do(fn func(t *actors.Turn)) {
	r.t.Helper()
	if !r.wire.Inject(fn) {
		r.t.Fatal("wire actor is gone")
	}
	r.sys.Quiesce()
}

func (r *arpRig) assertLocal(ip netip.Addr) actors.Handle {
	var h actors.Handle
	r.do(func(t *actors.Turn) { h = t.Assert(&ARPLocal{Iface: "eth0", IP: ip}) })
	return h
}

func (r *arpRig) assertQuery(ip netip.Addr) actors.Handle {
	var h actors.Handle
	r.do(func(t *actors.Turn) { h = t.Assert(&ARPQuery{Iface: "eth0", IP: ip}) })
	return h
}

func (r *arpRig) retract(h actors.Handle) { r.do(func(t *actors.Turn) { t.Retract(h) }) }

// receive delivers an ARP packet from the wire, in a frame from sha.
func (r *arpRig) receive(op uint16, sha MAC, spa netip.Addr, tha MAC, tpa netip.Addr) {
	r.t.Helper()
	body := make([]byte, ARPLen)
	PutARP(body, op, sha, spa, tha, tpa)
	r.receiveBody(sha, body)
}

func (r *arpRig) receiveBody(src MAC, body []byte) {
	r.t.Helper()
	r.do(func(t *actors.Turn) {
		t.Send(&Packet{Iface: "eth0", FromWire: true, Src: src, Dst: Broadcast, Type: EtherTypeARP, Body: body})
	})
}

// take returns the frames sent since the last call.
func (r *arpRig) take() []*Packet {
	s := r.sent
	r.sent = nil
	return s
}

// arpBytes spells out an Ethernet/IPv4 ARP packet field by field (RFC
// 826), independently of PutARP.
func arpBytes(op uint16, sha MAC, spa netip.Addr, tha MAC, tpa netip.Addr) []byte {
	b := []byte{0x00, 0x01, 0x08, 0x00, 6, 4, byte(op >> 8), byte(op)}
	b = append(b, sha[:]...)
	b = append(b, spa.AsSlice()...)
	b = append(b, tha[:]...)
	return append(b, tpa.AsSlice()...)
}

// checkARPFrame checks that p is a frame to transmit on eth0 from our MAC
// to dst carrying exactly the ARP packet want.
func checkARPFrame(t *testing.T, what string, p *Packet, dst MAC, want []byte) {
	t.Helper()
	if p.Iface != "eth0" || p.FromWire || p.Src != arpOurMAC || p.Dst != dst || p.Type != EtherTypeARP {
		t.Errorf("%s: frame iface %q from-wire %v %v > %v type %#x; want eth0 false %v > %v type %#x",
			what, p.Iface, p.FromWire, p.Src, p.Dst, p.Type, arpOurMAC, dst, EtherTypeARP)
	}
	if !bytes.Equal(p.Body, want) {
		t.Errorf("%s: ARP body\n got % x\nwant % x", what, p.Body, want)
	}
	if len(p.Frame) != HeaderLen+len(p.Body) || !bytes.Equal(p.Frame[HeaderLen:], p.Body) {
		t.Errorf("%s: Frame (%d bytes) does not end with Body (%d bytes) after %d bytes of headroom",
			what, len(p.Frame), len(p.Body), HeaderLen)
	}
}

func TestARPRepliesForLocalAddress(t *testing.T) {
	r := newARPRig(t, ARPConfig{})
	r.assertLocal(arpOurIP)
	r.take() // the announcement; TestARPAnnouncesLocalAddress checks it

	r.receive(ARPRequest, arpPeerMAC, arpPeerIP, MAC{}, arpOurIP)
	sent := r.take()
	if len(sent) != 1 {
		t.Fatalf("%d frames sent for one request for our address; want 1 reply", len(sent))
	}
	checkARPFrame(t, "reply", sent[0], arpPeerMAC, arpBytes(ARPReply, arpOurMAC, arpOurIP, arpPeerMAC, arpPeerIP))
	if r.stats.RequestsIn.Load() != 1 || r.stats.RepliesOut.Load() != 1 {
		t.Errorf("RequestsIn %d RepliesOut %d; want 1 and 1", r.stats.RequestsIn.Load(), r.stats.RepliesOut.Load())
	}
	// RFC 826: the host that asked us is merged into the cache.
	if got, ok := r.entries[arpPeerIP]; !ok || got != arpPeerMAC {
		t.Errorf("after the request, cache entries %v; want %v at %v", r.entries, arpPeerMAC, arpPeerIP)
	}
	if n := r.sys.Count(&ARPEntry{Iface: "eth0", IP: arpPeerIP, MAC: arpPeerMAC}); n != 1 {
		t.Errorf("arp-assertion(eth0, %v, %v) asserted %d times; want 1", arpPeerIP, arpPeerMAC, n)
	}
	if r.stats.Cached.Load() != 1 {
		t.Errorf("Cached = %d; want 1", r.stats.Cached.Load())
	}
}

func TestARPIgnoresRequestsForOthers(t *testing.T) {
	r := newARPRig(t, ARPConfig{})
	r.assertLocal(arpOurIP)
	r.take()

	r.receive(ARPRequest, arpPeerMAC, arpPeerIP, MAC{}, arpOtherIP)
	if sent := r.take(); len(sent) != 0 {
		t.Fatalf("answered a request for %v, which is not ours: %d frames", arpOtherIP, len(sent))
	}
	// Not asked and not already cached: RFC 826 does not merge the sender.
	if len(r.entries) != 0 || r.added != 0 {
		t.Errorf("cached the sender of a request for somebody else: %v", r.entries)
	}
	if r.stats.RequestsIn.Load() != 1 || r.stats.RepliesOut.Load() != 0 {
		t.Errorf("RequestsIn %d RepliesOut %d; want 1 and 0", r.stats.RequestsIn.Load(), r.stats.RepliesOut.Load())
	}

	// An address that was ours and was retracted is no longer answered.
	h := r.assertLocal(arpOtherIP)
	r.take()
	r.retract(h)
	r.receive(ARPRequest, arpPeerMAC, arpPeerIP, MAC{}, arpOtherIP)
	if sent := r.take(); len(sent) != 0 {
		t.Fatalf("answered for %v after arp-local was retracted: %d frames", arpOtherIP, len(sent))
	}
}

func TestARPAnnouncesLocalAddress(t *testing.T) {
	r := newARPRig(t, ARPConfig{})
	if sent := r.take(); len(sent) != 0 {
		t.Fatalf("%d frames sent with no address configured", len(sent))
	}
	r.assertLocal(arpOurIP)
	sent := r.take()
	if len(sent) != 1 {
		t.Fatalf("%d frames sent when arp-local appeared; want 1 announcement", len(sent))
	}
	// A gratuitous ARP: broadcast, sender IP == target IP == ours.
	checkARPFrame(t, "announcement", sent[0], Broadcast, arpBytes(ARPRequest, arpOurMAC, arpOurIP, MAC{}, arpOurIP))
	if a := ARP(sent[0].Body); a.Check() != nil || !a.IsGratuitous() {
		t.Errorf("announcement is not a gratuitous ARP: % x", sent[0].Body)
	}
	if r.stats.Announcements.Load() != 1 {
		t.Errorf("Announcements = %d; want 1", r.stats.Announcements.Load())
	}
}

func TestARPQueryResolves(t *testing.T) {
	r := newARPRig(t, ARPConfig{Retries: 3, RetryInterval: time.Second})
	r.assertLocal(arpOurIP)
	r.take()

	r.assertQuery(arpPeerIP)
	sent := r.take()
	if len(sent) != 1 {
		t.Fatalf("%d frames sent for a new arp-query; want 1 request", len(sent))
	}
	checkARPFrame(t, "request", sent[0], Broadcast, arpBytes(ARPRequest, arpOurMAC, arpOurIP, MAC{}, arpPeerIP))
	if len(r.entries) != 0 {
		t.Fatalf("an entry appeared before any answer: %v", r.entries)
	}

	r.receive(ARPReply, arpPeerMAC, arpPeerIP, arpOurMAC, arpOurIP)
	if n := r.sys.Count(&ARPEntry{Iface: "eth0", IP: arpPeerIP, MAC: arpPeerMAC}); n != 1 {
		t.Fatalf("arp-assertion(eth0, %v, %v) asserted %d times after the reply; want 1 (entries %v)",
			arpPeerIP, arpPeerMAC, n, r.entries)
	}
	// Answered: no more retries.
	r.sys.Advance(10 * time.Second)
	if sent := r.take(); len(sent) != 0 {
		t.Fatalf("%d requests sent after the query was answered", len(sent))
	}
	if r.stats.RequestsOut.Load() != 1 || r.stats.RepliesIn.Load() != 1 || r.stats.Failures.Load() != 0 {
		t.Errorf("RequestsOut %d RepliesIn %d Failures %d; want 1, 1, 0",
			r.stats.RequestsOut.Load(), r.stats.RepliesIn.Load(), r.stats.Failures.Load())
	}
}

func TestARPQueryRetriesThenFails(t *testing.T) {
	r := newARPRig(t, ARPConfig{Retries: 3, RetryInterval: time.Second})
	r.assertLocal(arpOurIP)
	r.take()

	r.assertQuery(arpPeerIP)
	want := arpBytes(ARPRequest, arpOurMAC, arpOurIP, MAC{}, arpPeerIP)
	requests := 0
	count := func() {
		for _, p := range r.take() {
			checkARPFrame(t, "retry", p, Broadcast, want)
			requests++
		}
	}
	count()
	if requests != 1 {
		t.Fatalf("%d requests at t=0; want 1", requests)
	}
	// One more request each RetryInterval, up to Retries in all.
	for i, step := range []struct {
		d    time.Duration
		want int
	}{
		{999 * time.Millisecond, 1},
		{time.Millisecond, 2},
		{999 * time.Millisecond, 2},
		{time.Millisecond, 3},
	} {
		r.sys.Advance(step.d)
		count()
		if requests != step.want {
			t.Fatalf("step %d (+%v): %d requests; want %d", i, step.d, requests, step.want)
		}
	}
	if r.stats.Failures.Load() != 0 {
		t.Fatalf("Failures = %d before the last retry timed out", r.stats.Failures.Load())
	}
	r.sys.Advance(time.Second)
	if r.stats.Failures.Load() != 1 {
		t.Fatalf("Failures = %d after %d unanswered requests; want 1", r.stats.Failures.Load(), requests)
	}
	r.sys.Advance(time.Minute)
	count()
	if requests != 3 || r.stats.RequestsOut.Load() != 3 {
		t.Errorf("%d requests sent (RequestsOut %d) after the query failed; want 3", requests, r.stats.RequestsOut.Load())
	}
	if len(r.entries) != 0 {
		t.Errorf("entries after a failed query: %v", r.entries)
	}
}

func TestARPQueryWithoutLocalAddressAsksFromZero(t *testing.T) {
	r := newARPRig(t, ARPConfig{})
	r.assertQuery(arpPeerIP)
	sent := r.take()
	if len(sent) != 1 {
		t.Fatalf("%d frames sent; want 1 request", len(sent))
	}
	checkARPFrame(t, "request", sent[0], Broadcast, arpBytes(ARPRequest, arpOurMAC, netip.IPv4Unspecified(), MAC{}, arpPeerIP))
	// The answer is addressed to 0.0.0.0; it still resolves the query.
	r.receive(ARPReply, arpPeerMAC, arpPeerIP, arpOurMAC, netip.IPv4Unspecified())
	if got, ok := r.entries[arpPeerIP]; !ok || got != arpPeerMAC {
		t.Fatalf("entries %v; want %v at %v", r.entries, arpPeerMAC, arpPeerIP)
	}
}

func TestARPConflictDefendsAtMostEvery10s(t *testing.T) {
	r := newARPRig(t, ARPConfig{})
	r.assertLocal(arpOurIP)
	r.take()
	announce := arpBytes(ARPRequest, arpOurMAC, arpOurIP, MAC{}, arpOurIP)

	// Another host announces our address.
	r.receive(ARPRequest, arpOtherMC, arpOurIP, MAC{}, arpOurIP)
	if r.stats.Conflicts.Load() != 1 {
		t.Fatalf("Conflicts = %d; want 1", r.stats.Conflicts.Load())
	}
	sent := r.take()
	if len(sent) != 1 {
		t.Fatalf("%d frames after the first conflict; want 1 defending announcement", len(sent))
	}
	checkARPFrame(t, "defence", sent[0], Broadcast, announce)

	// Again 9.999 s later, as a reply this time: counted, not defended.
	r.sys.Advance(9999 * time.Millisecond)
	r.receive(ARPReply, arpOtherMC, arpOurIP, arpOurMAC, arpOurIP)
	if r.stats.Conflicts.Load() != 2 {
		t.Fatalf("Conflicts = %d; want 2", r.stats.Conflicts.Load())
	}
	if sent := r.take(); len(sent) != 0 {
		t.Fatalf("defended again within 10 s: %d frames", len(sent))
	}

	// 10 s after the first defence: defended again.
	r.sys.Advance(time.Millisecond)
	r.receive(ARPRequest, arpOtherMC, arpOurIP, MAC{}, arpPeerIP)
	sent = r.take()
	if len(sent) != 1 {
		t.Fatalf("%d frames for a conflict 10 s after the last defence; want 1", len(sent))
	}
	checkARPFrame(t, "second defence", sent[0], Broadcast, announce)
	if r.stats.Conflicts.Load() != 3 || r.stats.Announcements.Load() != 3 {
		t.Errorf("Conflicts %d Announcements %d; want 3 and 3 (one on assert, two defences)",
			r.stats.Conflicts.Load(), r.stats.Announcements.Load())
	}
	// Never cached, never answered as if it were a request for us.
	if r.added != 0 || len(r.entries) != 0 {
		t.Errorf("the conflicting claim was cached: %v", r.entries)
	}
	if r.stats.RepliesOut.Load() != 0 {
		t.Errorf("RepliesOut = %d; a conflicting packet must not be answered", r.stats.RepliesOut.Load())
	}
}

func TestARPIgnoresOwnFrames(t *testing.T) {
	r := newARPRig(t, ARPConfig{})
	r.assertLocal(arpOurIP)
	r.take()
	// Our own announcement looped back is not a conflict.
	r.receive(ARPRequest, arpOurMAC, arpOurIP, MAC{}, arpOurIP)
	if r.stats.Conflicts.Load() != 0 || len(r.take()) != 0 || r.added != 0 {
		t.Fatalf("own frame: Conflicts %d, entries %v", r.stats.Conflicts.Load(), r.entries)
	}
}

// senderIP returns 192.0.2.(10+i).
func senderIP(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}) }

func senderMAC(i int) MAC { return MAC{0x02, 0x00, 0x5e, 0x00, 0x01, byte(i)} }

func TestARPCacheBoundEvictsOldest(t *testing.T) {
	r := newARPRig(t, ARPConfig{CacheSize: 4})
	r.assertLocal(arpOurIP)
	for i := 0; i < 4; i++ {
		r.receive(ARPRequest, senderMAC(i), senderIP(i), MAC{}, arpOurIP)
	}
	if r.stats.Cached.Load() != 4 || len(r.entries) != 4 || r.stats.Evictions.Load() != 0 {
		t.Fatalf("after 4 senders: Cached %d, entries %d, Evictions %d; want 4, 4, 0",
			r.stats.Cached.Load(), len(r.entries), r.stats.Evictions.Load())
	}
	for i := 4; i < 7; i++ {
		r.receive(ARPRequest, senderMAC(i), senderIP(i), MAC{}, arpOurIP)
		if c := r.stats.Cached.Load(); c > 4 || len(r.entries) > 4 {
			t.Fatalf("sender %d: Cached %d, %d entries asserted; bound is 4", i, c, len(r.entries))
		}
	}
	if r.stats.Evictions.Load() != 3 || r.stats.Cached.Load() != 4 {
		t.Fatalf("Evictions %d Cached %d; want 3 and 4", r.stats.Evictions.Load(), r.stats.Cached.Load())
	}
	// The three oldest went, and their assertions with them.
	for i := 0; i < 7; i++ {
		n := r.sys.Count(&ARPEntry{Iface: "eth0", IP: senderIP(i), MAC: senderMAC(i)})
		if want := map[bool]int{true: 0, false: 1}[i < 3]; n != want {
			t.Errorf("arp-assertion for sender %d asserted %d times; want %d", i, n, want)
		}
	}
	if r.added != 7 || r.removed != 3 {
		t.Errorf("%d assertions appeared and %d went; want 7 and 3", r.added, r.removed)
	}
	// Every request was still answered.
	if r.stats.RepliesOut.Load() != 7 {
		t.Errorf("RepliesOut = %d; want 7", r.stats.RepliesOut.Load())
	}
}

func TestARPCacheBoundKeepsQueriedEntries(t *testing.T) {
	r := newARPRig(t, ARPConfig{CacheSize: 4})
	r.assertLocal(arpOurIP)
	for i := 0; i < 4; i++ {
		r.receive(ARPRequest, senderMAC(i), senderIP(i), MAC{}, arpOurIP)
	}
	// Somebody uses the two oldest entries.
	r.assertQuery(senderIP(0))
	r.assertQuery(senderIP(1))
	r.take()
	if r.stats.RequestsOut.Load() != 0 {
		t.Fatalf("queried a cached address: RequestsOut %d", r.stats.RequestsOut.Load())
	}
	for i := 4; i < 6; i++ {
		r.receive(ARPRequest, senderMAC(i), senderIP(i), MAC{}, arpOurIP)
	}
	if r.stats.Evictions.Load() != 2 || r.stats.Cached.Load() != 4 {
		t.Fatalf("Evictions %d Cached %d; want 2 and 4", r.stats.Evictions.Load(), r.stats.Cached.Load())
	}
	// The unqueried 2 and 3 were evicted although 0 and 1 are older.
	for i, want := range []bool{true, true, false, false, true, true} {
		if _, ok := r.entries[senderIP(i)]; ok != want {
			t.Errorf("entry for sender %d present %v; want %v (entries %v)", i, ok, want, r.entries)
		}
	}
	// With every entry in use, the oldest of all goes.
	r.assertQuery(senderIP(4))
	r.assertQuery(senderIP(5))
	r.take()
	r.receive(ARPRequest, senderMAC(6), senderIP(6), MAC{}, arpOurIP)
	if _, ok := r.entries[senderIP(0)]; ok || r.stats.Evictions.Load() != 3 {
		t.Errorf("all entries queried: Evictions %d, entries %v; want sender 0 evicted", r.stats.Evictions.Load(), r.entries)
	}
}

func TestARPEvictedQueriedEntryIsResolvedAgain(t *testing.T) {
	r := newARPRig(t, ARPConfig{CacheSize: 2})
	r.assertLocal(arpOurIP)
	for i := 0; i < 2; i++ {
		r.assertQuery(senderIP(i))
		r.receive(ARPReply, senderMAC(i), senderIP(i), arpOurMAC, arpOurIP)
	}
	r.take()
	r.receive(ARPRequest, senderMAC(2), senderIP(2), MAC{}, arpOurIP)
	if _, ok := r.entries[senderIP(0)]; ok {
		t.Fatalf("sender 0 was not evicted: %v", r.entries)
	}
	// arp-query(eth0, sender 0) is still asserted: ARP must resolve it.
	r.sys.Advance(5 * time.Second)
	asked := 0
	for _, p := range r.take() {
		if a := ARP(p.Body); a.Check() == nil && a.Op() == ARPRequest && a.TargetIP() == senderIP(0) {
			asked++
		}
	}
	if asked == 0 {
		t.Fatalf("no request for %v after its queried entry was evicted", senderIP(0))
	}
}

func TestARPExpiresUnqueriedEntry(t *testing.T) {
	r := newARPRig(t, ARPConfig{Lifetime: 10 * time.Second})
	r.assertLocal(arpOurIP)
	r.receive(ARPRequest, arpPeerMAC, arpPeerIP, MAC{}, arpOurIP)
	r.take()
	r.sys.Advance(9999 * time.Millisecond)
	if _, ok := r.entries[arpPeerIP]; !ok {
		t.Fatalf("entry gone before its lifetime")
	}
	r.sys.Advance(time.Millisecond)
	if _, ok := r.entries[arpPeerIP]; ok || r.stats.Cached.Load() != 0 {
		t.Fatalf("entry still asserted after its lifetime (Cached %d)", r.stats.Cached.Load())
	}
	if sent := r.take(); len(sent) != 0 {
		t.Errorf("%d frames sent to expire an entry nobody queries", len(sent))
	}
}

func TestARPExpiryRefreshesQueriedEntry(t *testing.T) {
	r := newARPRig(t, ARPConfig{Lifetime: 10 * time.Second, Retries: 3, RetryInterval: time.Second})
	r.assertLocal(arpOurIP)
	r.assertQuery(arpPeerIP)
	r.receive(ARPReply, arpPeerMAC, arpPeerIP, arpOurMAC, arpOurIP)
	r.take()
	refresh := arpBytes(ARPRequest, arpOurMAC, arpOurIP, MAC{}, arpPeerIP)

	// At the lifetime: a unicast request to the cached MAC; entry kept.
	r.sys.Advance(10 * time.Second)
	sent := r.take()
	if len(sent) != 1 {
		t.Fatalf("%d frames at expiry of a queried entry; want 1 unicast request", len(sent))
	}
	checkARPFrame(t, "refresh", sent[0], arpPeerMAC, refresh)
	if _, ok := r.entries[arpPeerIP]; !ok {
		t.Fatal("queried entry dropped while being re-confirmed")
	}

	// Answered: kept, for another full lifetime.
	r.sys.Advance(time.Second)
	r.receive(ARPReply, arpPeerMAC, arpPeerIP, arpOurMAC, arpOurIP)
	r.sys.Advance(9999 * time.Millisecond)
	if _, ok := r.entries[arpPeerIP]; !ok || r.removed != 0 {
		t.Fatalf("answered entry dropped (removed %d)", r.removed)
	}
	if sent := r.take(); len(sent) != 0 {
		t.Fatalf("%d frames before the confirmed entry's new lifetime ended", len(sent))
	}

	// Second expiry, unanswered: dropped after Retries×RetryInterval, and
	// since the query is still asserted, resolution starts over.
	r.sys.Advance(time.Millisecond)
	sent = r.take()
	if len(sent) != 1 {
		t.Fatalf("%d frames at the second expiry; want 1 unicast request", len(sent))
	}
	checkARPFrame(t, "second refresh", sent[0], arpPeerMAC, refresh)
	r.sys.Advance(2999 * time.Millisecond)
	if _, ok := r.entries[arpPeerIP]; !ok {
		t.Fatal("entry dropped before the refresh had Retries×RetryInterval to succeed")
	}
	r.sys.Advance(time.Millisecond)
	if _, ok := r.entries[arpPeerIP]; ok || r.removed != 1 || r.stats.Cached.Load() != 0 {
		t.Fatalf("unconfirmed entry kept (removed %d, Cached %d)", r.removed, r.stats.Cached.Load())
	}
	sent = r.take()
	if len(sent) != 1 {
		t.Fatalf("%d frames after dropping a still-queried entry; want 1 broadcast request", len(sent))
	}
	checkARPFrame(t, "re-resolve", sent[0], Broadcast, refresh)
}

func TestARPMalformed(t *testing.T) {
	r := newARPRig(t, ARPConfig{})
	r.assertLocal(arpOurIP)
	r.take()
	good := make([]byte, ARPLen)
	PutARP(good, ARPRequest, arpPeerMAC, arpPeerIP, MAC{}, arpOurIP)
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := []struct {
		name string
		body []byte
	}{
		{"hlen 5", mutate(func(b []byte) []byte { b[4] = 5; return b })},
		{"truncated", good[:ARPLen-1]},
		{"empty", nil},
		{"htype 6", mutate(func(b []byte) []byte { b[1] = 6; return b })},
		{"ptype IPv6", mutate(func(b []byte) []byte { b[2], b[3] = 0x86, 0xdd; return b })},
		{"plen 16", mutate(func(b []byte) []byte { b[5] = 16; return b })},
		{"op 3", mutate(func(b []byte) []byte { b[7] = 3; return b })},
	}
	for i, c := range cases {
		r.receiveBody(arpPeerMAC, c.body)
		if got := r.stats.Malformed.Load(); got != uint64(i+1) {
			t.Errorf("%s: Malformed = %d; want %d", c.name, got, i+1)
		}
		if sent := r.take(); len(sent) != 0 {
			t.Errorf("%s: %d frames sent in answer to a malformed packet", c.name, len(sent))
		}
	}
	if r.added != 0 || r.stats.RequestsIn.Load() != 0 || r.stats.RepliesIn.Load() != 0 {
		t.Errorf("malformed packets reached the cache (%v) or the counters (in %d/%d)",
			r.entries, r.stats.RequestsIn.Load(), r.stats.RepliesIn.Load())
	}
	// Trailing padding is not malformed: a padded request is answered.
	r.receiveBody(arpPeerMAC, append(append([]byte(nil), good...), make([]byte, 18)...))
	if sent := r.take(); len(sent) != 1 || r.stats.Malformed.Load() != uint64(len(cases)) {
		t.Errorf("padded request: %d frames, Malformed %d; want 1 reply, %d", len(sent), r.stats.Malformed.Load(), len(cases))
	}
}
