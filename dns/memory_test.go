package dns_test

import (
	"net/netip"
	"sort"
	"testing"
	"time"

	"netspace"
	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/dns"
	"netspace/drivers"
	"netspace/tcp"
)

var (
	clientAddr = netip.MustParseAddr("192.0.2.1")
	serverAddr = netip.MustParseAddr("192.0.2.2")
)

// pair is two deterministic stacks on an in-memory wire: A resolves, B
// answers.
type pair struct {
	clock *actors.ManualClock
	a, b  *netspace.Stack
}

func newPair(t *testing.T) *pair {
	clock := actors.NewManualClock(time.Unix(1_000_000, 0))
	wa, wb := drivers.NewWire(drivers.WireConfig{Clock: clock, NameA: "wa", NameB: "wb"})
	mk := func(link drivers.Link, addr netip.Addr, seed uint64) *netspace.Stack {
		s, err := netspace.New(netspace.Config{Link: link, Addrs: []netip.Prefix{netip.PrefixFrom(addr, 24)},
			Deterministic: true, Clock: clock, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	p := &pair{clock: clock, a: mk(wa, clientAddr, 11), b: mk(wb, serverAddr, 22)}
	t.Cleanup(func() { p.a.Close(); p.b.Close() })
	p.run(0)
	return p
}

func (p *pair) run(d time.Duration) { actors.AdvanceAll(p.clock, d, p.a.Sys, p.b.Sys) }

// asserts spawns an actor on s asserting rs; stopping it retracts them.
func asserts(s *netspace.Stack, rs ...ds.Record) *actors.Actor {
	return s.Spawn("config", func(t *actors.Turn) {
		for _, r := range rs {
			t.Assert(r)
		}
	})
}

// watcher observes dns-answer(name, type, ?) on s and keeps the values.
type watcher struct {
	actor  *actors.Actor
	values map[string]bool
	added  int
}

func watch(s *netspace.Stack, name string, qtype uint16) *watcher {
	w := &watcher{values: map[string]bool{}}
	w.actor = s.Spawn("watch:"+name, func(t *actors.Turn) {
		t.Observe(dns.AnswerPattern(name, qtype), actors.Handler{
			Added:   func(t *actors.Turn, c []ds.Value) { w.values[c[0].String()] = true; w.added++ },
			Removed: func(t *actors.Turn, c []ds.Value) { delete(w.values, c[0].String()) },
		})
	})
	return w
}

func (w *watcher) list() []string {
	var out []string
	for v := range w.values {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func TestResolverAgainstResponder(t *testing.T) {
	p := newPair(t)
	_, rst := dns.StartResponder(p.b.Sys, dns.ResponderConfig{})
	var many []ds.Record
	for i := range 40 {
		many = append(many, &dns.Name{Name: "many.test", Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(100 + i)})})
	}
	asserts(p.b, append(many, &dns.Name{Name: "host.test", Addr: serverAddr})...)
	_, st := dns.StartResolver(p.a.Sys, dns.ResolverConfig{})
	servers := asserts(p.a, &dns.Server{Addr: serverAddr})
	p.run(0)

	host := watch(p.a, "Host.Test", dns.TypeA)
	nx := watch(p.a, "nothere.test", dns.TypeA)
	ptr := watch(p.a, dns.ReverseName(serverAddr), dns.TypePTR)
	big := watch(p.a, "many.test", dns.TypeA)
	bad := watch(p.a, "bad..name", dns.TypeA)
	p.run(time.Second)

	if got := host.list(); len(got) != 1 || got[0] != serverAddr.String() {
		t.Fatalf("host.test: %v (resolver %+v, responder %+v)", got, st, rst)
	}
	if got := nx.list(); len(got) != 1 || got[0] != "<dns-error \"nxdomain\">" {
		t.Fatalf("nothere.test: %v", got)
	}
	if got := ptr.list(); len(got) != 1 || got[0] != `"host.test"` {
		t.Fatalf("PTR: %v", got)
	}
	if got := big.list(); len(got) != 40 || st.Truncations.Load() != 1 || st.TCPQueries.Load() != 1 || rst.TCPConns.Load() != 1 {
		t.Fatalf("many.test over TCP: %d answers, %d truncations, %d TCP queries, %d TCP connections",
			len(got), st.Truncations.Load(), st.TCPQueries.Load(), rst.TCPConns.Load())
	}
	if got := bad.list(); len(got) != 1 || got[0] != "<dns-error \"bad-name\">" {
		t.Fatalf("bad name: %v", got)
	}
	if rst.Answered.Load() < 3 || rst.NXDomain.Load() != 1 {
		t.Fatalf("responder counters: %d answered, %d NXDOMAIN", rst.Answered.Load(), rst.NXDomain.Load())
	}

	// Answers stay while wanted and are asked again when their TTL (60 s)
	// runs out; when the interest goes, they are retracted.
	lookups := st.Lookups.Load()
	p.run(61 * time.Second)
	if st.Lookups.Load() <= lookups || len(host.list()) != 1 || host.added != 1 {
		t.Fatalf("refresh: lookups %d → %d, answers %v (added %d times)", lookups, st.Lookups.Load(), host.list(), host.added)
	}
	host.actor.Stop()
	p.run(0)
	if n := p.a.Sys.Count(&dns.Answer{Name: "Host.Test", Type: dns.TypeA, Value: ds.Addr(serverAddr)}); n != 0 {
		t.Fatalf("answer still asserted %d times after the interest went", n)
	}

	// Another spelling of a name being answered is answered at once,
	// without a query (the same spelling is answered by the dataspace
	// itself: the assertions are there already).
	lookups = st.Lookups.Load()
	again := watch(p.a, "NOTHERE.test.", dns.TypeA)
	p.run(0)
	if got := again.list(); len(got) != 1 || got[0] != "<dns-error \"nxdomain\">" || st.Lookups.Load() != lookups {
		t.Fatalf("other spelling: %v, lookups %d → %d", got, lookups, st.Lookups.Load())
	}
	// A name no longer wanted, but cached, is answered from the cache.
	hits := st.CacheHits.Load()
	host2 := watch(p.a, "host.test", dns.TypeA)
	p.run(0)
	if len(host2.list()) != 1 || st.CacheHits.Load() != hits+1 {
		t.Fatalf("from the cache: %v, hits %d → %d", host2.list(), hits, st.CacheHits.Load())
	}

	// No server answers: a timeout, after every try.
	servers.Stop()
	asserts(p.a, &dns.Server{Addr: netip.MustParseAddr("192.0.2.9")})
	p.run(0)
	lost := watch(p.a, "lost.test", dns.TypeA)
	p.run(10 * time.Second)
	if got := lost.list(); len(got) != 1 || got[0] != "<dns-error \"timeout\">" || st.Timeouts.Load() == 0 {
		t.Fatalf("no answer: %v, %d timeouts", got, st.Timeouts.Load())
	}
}

// TestResponderConnectionBound: past MaxConns, TCP connections are
// aborted and counted.
func TestResponderConnectionBound(t *testing.T) {
	p := newPair(t)
	_, rst := dns.StartResponder(p.b.Sys, dns.ResponderConfig{MaxConns: 1})
	states := map[string]string{}
	for _, id := range []string{"c1", "c2"} {
		R := tcp.AddressPattern(netip.AddrPortFrom(serverAddr, dns.Port))
		L := tcp.HandlePattern(ds.String(id))
		p.a.Spawn("client-"+id, func(t *actors.Turn) {
			t.Observe(ds.RecordPattern(tcp.LabelChannel, R, L, ds.CaptureAny), actors.Handler{})
			t.Observe(ds.RecordPattern(tcp.LabelConnection, R, L, ds.CaptureAny), actors.Handler{
				Added: func(t *actors.Turn, c []ds.Value) { states[id] = c[0].AsString() },
			})
		})
		p.run(100 * time.Millisecond)
	}
	if rst.TCPConns.Load() != 1 || rst.TCPRefuse.Load() != 1 || states["c1"] != tcp.StateEstablished || states["c2"] != tcp.StateReset {
		t.Fatalf("connections %d, refused %d, states %v", rst.TCPConns.Load(), rst.TCPRefuse.Load(), states)
	}
}
