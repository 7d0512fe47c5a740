package dns

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

var (
	rt0  = time.Unix(2_000_000, 0)
	srv1 = netip.MustParseAddr("192.0.2.1")
	srv2 = netip.MustParseAddr("192.0.2.3")
	addr = netip.MustParseAddr("192.0.2.77")
)

func newTestResolver(cfg ResolverConfig) *Resolver {
	r := NewResolver(cfg)
	r.SetServers([]netip.Addr{srv1, srv2})
	return r
}

// answerTo builds the response to q with the given rcode and records.
func answerTo(t *testing.T, q Query, rcode uint8, tc bool, answers []RR, authority ...RR) []byte {
	t.Helper()
	m, err := Parse(q.Payload)
	if err != nil {
		t.Fatal(err)
	}
	r := &Message{ID: m.ID, Response: true, RCode: rcode, Truncated: tc, Questions: m.Questions, Answers: answers, Authority: authority}
	b, err := r.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func a(name string, ttl uint32, ip netip.Addr) RR {
	return RR{Name: name, Type: TypeA, Class: ClassIN, TTL: ttl, Addr: ip}
}

func oneQuery(t *testing.T, out Output) Query {
	t.Helper()
	if len(out.Send) != 1 {
		t.Fatalf("%d queries sent, want 1 (%+v)", len(out.Send), out)
	}
	return out.Send[0]
}

func done(t *testing.T, out Output) Result {
	t.Helper()
	if len(out.Done) != 1 {
		t.Fatalf("%d lookups done, want 1 (%+v)", len(out.Done), out)
	}
	return out.Done[0].Result
}

func TestResolverAnswersAndCaches(t *testing.T) {
	r := newTestResolver(ResolverConfig{})
	k := Key{"www.test", TypeA}
	q := oneQuery(t, r.Resolve(rt0, k))
	if q.Server != srv1 || q.TCP {
		t.Fatalf("query %+v", q)
	}
	// A second interest joins the lookup in progress.
	if out := r.Resolve(rt0, k); len(out.Send)+len(out.Done) != 0 {
		t.Fatalf("second Resolve: %+v", out)
	}
	res := done(t, r.Input(rt0.Add(time.Millisecond), srv1, false, answerTo(t, q, 0, false, []RR{a("www.test", 30, addr)})))
	if len(res.Addrs) != 1 || res.Addrs[0] != addr || res.Err != "" || !res.Expires.Equal(rt0.Add(time.Millisecond+30*time.Second)) {
		t.Fatalf("result %+v", res)
	}
	// From the cache until the TTL runs out, then asked again.
	if res := done(t, r.Resolve(rt0.Add(29*time.Second), k)); res.Addrs[0] != addr || r.Stats.CacheHits.Load() != 1 {
		t.Fatalf("cache: %+v", res)
	}
	if out := r.Resolve(rt0.Add(31*time.Second), k); len(out.Send) != 1 || len(out.Done) != 0 {
		t.Fatalf("after the TTL: %+v", out)
	}
}

func TestResolverRetriesAndTimesOut(t *testing.T) {
	r := newTestResolver(ResolverConfig{Timeout: time.Second, Attempts: 2})
	k := Key{"slow.test", TypeA}
	now := rt0
	var servers []netip.Addr
	q := oneQuery(t, r.Resolve(now, k))
	first := q
	servers = append(servers, q.Server)
	for range 3 {
		if !r.Deadline().Equal(now.Add(time.Second)) {
			t.Fatalf("deadline %v", r.Deadline())
		}
		now = r.Deadline()
		q2 := oneQuery(t, r.Tick(now))
		if q2.ID == q.ID {
			t.Fatal("a retry reused the query ID")
		}
		q = q2
		servers = append(servers, q.Server)
	}
	if fmt.Sprint(servers) != fmt.Sprint([]netip.Addr{srv1, srv2, srv1, srv2}) {
		t.Fatalf("servers asked in turn: %v", servers)
	}
	// A late answer to an old try is not taken.
	if out := r.Input(now, srv1, false, answerTo(t, first, 0, false, []RR{a("slow.test", 60, addr)})); len(out.Done) != 0 {
		t.Fatal("took the answer to a try that had timed out")
	}
	res := done(t, r.Tick(r.Deadline()))
	if res.Err != ErrTimeout || r.Stats.Timeouts.Load() != 4 || r.Stats.Failures.Load() != 1 || r.CacheLen() != 0 {
		t.Fatalf("timeout: %+v, stats %d %d", res, r.Stats.Timeouts.Load(), r.Stats.Failures.Load())
	}
	if !r.Deadline().IsZero() {
		t.Fatal("deadline left after the lookup ended")
	}
}

func TestResolverServFailMovesOn(t *testing.T) {
	r := newTestResolver(ResolverConfig{})
	q := oneQuery(t, r.Resolve(rt0, Key{"x.test", TypeA}))
	q2 := oneQuery(t, r.Input(rt0, srv1, false, answerTo(t, q, RCodeServFail, false, nil)))
	if q2.Server != srv2 {
		t.Fatalf("after SERVFAIL asked %v", q2.Server)
	}
	// Spoofing: the right ID from the wrong server, a wrong question, junk.
	good := answerTo(t, q2, 0, false, []RR{a("x.test", 60, addr)})
	if out := r.Input(rt0, srv1, false, good); len(out.Done) != 0 {
		t.Fatal("took an answer from the wrong server")
	}
	if out := r.Input(rt0, srv2, false, []byte{1, 2, 3}); len(out.Done) != 0 || r.Stats.Malformed.Load() != 1 {
		t.Fatal("junk")
	}
	if res := done(t, r.Input(rt0, srv2, false, good)); res.Addrs[0] != addr || r.Stats.Unexpected.Load() != 1 {
		t.Fatalf("answer from the second server: %+v", res)
	}
}

func TestResolverNegative(t *testing.T) {
	r := newTestResolver(ResolverConfig{})
	k := Key{"gone.test", TypeA}
	q := oneQuery(t, r.Resolve(rt0, k))
	soa := RR{Name: "test", Type: TypeSOA, Class: ClassIN, TTL: 300, Data: append([]byte{0, 0}, make([]byte, 20)...)}
	soa.Data[2+19] = 30 // MINIMUM 30 s
	res := done(t, r.Input(rt0, srv1, false, answerTo(t, q, RCodeNXDomain, false, nil, soa)))
	if res.Err != ErrNXDomain || !res.Expires.Equal(rt0.Add(30*time.Second)) {
		t.Fatalf("NXDOMAIN: %+v", res)
	}
	if res := done(t, r.Resolve(rt0.Add(time.Second), k)); res.Err != ErrNXDomain {
		t.Fatalf("negative answer not cached: %+v", res)
	}
	// No data: the default negative TTL.
	q = oneQuery(t, r.Resolve(rt0, Key{"nodata.test", TypeA}))
	res = done(t, r.Input(rt0, srv1, false, answerTo(t, q, 0, false, nil)))
	if res.Err != ErrNoData || !res.Expires.Equal(rt0.Add(time.Minute)) {
		t.Fatalf("no data: %+v", res)
	}
}

func TestResolverCNAME(t *testing.T) {
	r := newTestResolver(ResolverConfig{MaxCNAME: 3})
	// The whole chain in one answer.
	q := oneQuery(t, r.Resolve(rt0, Key{"alias.test", TypeA}))
	res := done(t, r.Input(rt0, srv1, false, answerTo(t, q, 0, false, []RR{
		{Name: "alias.test", Type: TypeCNAME, Class: ClassIN, TTL: 10, Target: "real.test"},
		a("real.test", 100, addr)})))
	if len(res.Addrs) != 1 || !res.Expires.Equal(rt0.Add(10*time.Second)) {
		t.Fatalf("chain in one answer: %+v (the TTL is the chain's least)", res)
	}
	// A chain that ends without its records: asked again from its end.
	q = oneQuery(t, r.Resolve(rt0, Key{"far.test", TypeA}))
	q2 := oneQuery(t, r.Input(rt0, srv1, false, answerTo(t, q, 0, false, []RR{
		{Name: "far.test", Type: TypeCNAME, Class: ClassIN, TTL: 60, Target: "elsewhere.example"}})))
	if m, _ := Parse(q2.Payload); m.Questions[0].Name != "elsewhere.example" || r.Stats.CNAMEs.Load() != 1 {
		t.Fatalf("follow-up question %+v", m.Questions)
	}
	res = done(t, r.Input(rt0, q2.Server, false, answerTo(t, q2, 0, false, []RR{a("elsewhere.example", 60, addr)})))
	if len(res.Addrs) != 1 || res.Addrs[0] != addr {
		t.Fatalf("after the follow-up: %+v", res)
	}
	// A loop is cut at MaxCNAME.
	q = oneQuery(t, r.Resolve(rt0, Key{"loop.test", TypeA}))
	res = done(t, r.Input(rt0, srv1, false, answerTo(t, q, 0, false, []RR{
		{Name: "loop.test", Type: TypeCNAME, Class: ClassIN, TTL: 60, Target: "pool.test"},
		{Name: "pool.test", Type: TypeCNAME, Class: ClassIN, TTL: 60, Target: "loop.test"}})))
	if res.Err != ErrLoop {
		t.Fatalf("loop: %+v", res)
	}
}

func TestResolverTruncationGoesTCP(t *testing.T) {
	r := newTestResolver(ResolverConfig{})
	q := oneQuery(t, r.Resolve(rt0, Key{"big.test", TypeA}))
	qt := oneQuery(t, r.Input(rt0, srv1, false, answerTo(t, q, 0, true, nil)))
	if !qt.TCP || qt.Server != srv1 || qt.ID != q.ID || r.Stats.TCPQueries.Load() != 1 {
		t.Fatalf("TCP query %+v", qt)
	}
	// Only the TCP answer counts now.
	ans := answerTo(t, qt, 0, false, []RR{a("big.test", 60, addr)})
	if out := r.Input(rt0, srv1, false, ans); len(out.Done) != 0 {
		t.Fatal("took a UDP answer after switching to TCP")
	}
	if res := done(t, r.Input(rt0, srv1, true, ans)); len(res.Addrs) != 1 {
		t.Fatalf("TCP answer: %+v", res)
	}
}

func TestResolverBounds(t *testing.T) {
	r := newTestResolver(ResolverConfig{CacheSize: 4, MaxInflight: 2})
	var qs []Query
	for i := range 2 {
		qs = append(qs, oneQuery(t, r.Resolve(rt0, Key{fmt.Sprintf("n%d.test", i), TypeA})))
	}
	if res := done(t, r.Resolve(rt0, Key{"n9.test", TypeA})); res.Err != ErrBusy || r.Stats.Busy.Load() != 1 {
		t.Fatalf("past MaxInflight: %+v", res)
	}
	for i, q := range qs {
		done(t, r.Input(rt0, srv1, false, answerTo(t, q, 0, false, []RR{a(fmt.Sprintf("n%d.test", i), 600, addr)})))
	}
	for i := 2; i < 10; i++ {
		q := oneQuery(t, r.Resolve(rt0, Key{fmt.Sprintf("n%d.test", i), TypeA}))
		done(t, r.Input(rt0, srv1, false, answerTo(t, q, 0, false, []RR{a(fmt.Sprintf("n%d.test", i), 600, addr)})))
	}
	if r.CacheLen() != 4 || r.Stats.Evictions.Load() != 6 {
		t.Fatalf("cache %d entries, %d evictions", r.CacheLen(), r.Stats.Evictions.Load())
	}
	// The least recently used went: n0 is asked again, n9 is cached.
	if out := r.Resolve(rt0, Key{"n0.test", TypeA}); len(out.Send) != 1 {
		t.Fatal("n0 still cached")
	}
	if out := r.Resolve(rt0, Key{"n9.test", TypeA}); len(out.Done) != 1 {
		t.Fatal("n9 not cached")
	}
	// No servers: an immediate failure.
	r.SetServers(nil)
	if res := done(t, r.Resolve(rt0, Key{"other.test", TypeA})); res.Err != ErrNoServer {
		t.Fatalf("no servers: %+v", res)
	}
}
