package dataspace

import (
	"fmt"
	"math/rand"
	"net/netip"
	"sort"
	"strings"
	"testing"
)

var (
	lA      = NewLabel("test-a", "test", "x", "y")
	lB      = NewLabel("test-b", "test", "x")
	lC      = NewLabel("test-c", "test")
	lPkt    = NewLabel("test-pkt", "test", "src-ip", "src-port", "dst-ip", "dst-port", "body")
	lListen = NewLabel("test-listener", "test", "port")
	lChan   = NewLabel("test-channel", "test", "src", "dst", "bytes")
)

func a(x, y Value) *Tuple { return NewTuple(lA, x, y) }
func b(x Value) *Tuple    { return NewTuple(lB, x) }

// pkt is a typed record, implemented as protocol packages do.
type pkt struct {
	src, dst     netip.Addr
	sport, dport uint16
	body         []byte
}

func (p *pkt) Label() *Label { return lPkt }
func (p *pkt) Arity() int    { return 5 }
func (p *pkt) Field(i int) Value {
	switch i {
	case 0:
		return Addr(p.src)
	case 1:
		return Uint(uint64(p.sport))
	case 2:
		return Addr(p.dst)
	case 3:
		return Uint(uint64(p.dport))
	default:
		return Bytes(p.body)
	}
}

func TestValueEqualHash(t *testing.T) {
	a4 := netip.MustParseAddr("192.0.2.1")
	a6 := netip.MustParseAddr("::ffff:192.0.2.1")
	cases := []struct {
		x, y Value
		eq   bool
	}{
		{Int(3), Uint(3), true},
		{Int(3), Int(4), false},
		{Int(1), Bool(true), false},
		{String("a"), String("a"), true},
		{String("a"), Bytes([]byte("a")), false},
		{Bytes([]byte("ab")), Bytes([]byte("ab")), true},
		{Addr(a4), Addr(netip.MustParseAddr("192.0.2.1")), true},
		{Addr(a4), Addr(a6), false},
		{Addr(netip.Addr{}), Addr(netip.Addr{}), true},
		{Rec(a(Int(1), String("x"))), Rec(a(Int(1), String("x"))), true},
		{Rec(a(Int(1), String("x"))), Rec(a(Int(1), String("y"))), false},
		{Rec(b(Int(1))), Rec(NewTuple(lListen, Int(1))), false},
		{Rec(&pkt{src: a4, sport: 1, dst: a4, dport: 2, body: []byte("hi")}),
			Rec(NewTuple(lPkt, Addr(a4), Int(1), Addr(a4), Int(2), Bytes([]byte("hi")))), true},
		{Opaque(struct{ a int }{1}), Opaque(struct{ a int }{1}), true},
		{Opaque([]int{1}), Opaque([]int{1}), false}, // uncomparable: never equal, never panics
		{Value{}, Value{}, true},
	}
	for i, c := range cases {
		if got := c.x.Equal(c.y); got != c.eq {
			t.Errorf("%d: %v.Equal(%v) = %v, want %v", i, c.x, c.y, got, c.eq)
		}
		if c.eq && c.x.Hash() != c.y.Hash() {
			t.Errorf("%d: equal values %v and %v hash differently", i, c.x, c.y)
		}
	}
	if got := Addr(a4).AsAddr(); got != a4 {
		t.Errorf("AsAddr round trip: %v", got)
	}
	if got := Addr(a6).AsAddr(); got != a6 {
		t.Errorf("AsAddr round trip v6: %v", got)
	}
}

func TestMatchTable(t *testing.T) {
	x := a(Int(1), Rec(b(String("s"))))
	obs := &Observe{RecordPattern(lChan, CaptureAny, RecordPattern(lListen, Lit(Int(7))), CaptureAny)}
	cases := []struct {
		name string
		p    *Pattern
		v    Record
		ok   bool
		caps string
	}{
		{"discard", Discard, x, true, "[]"},
		{"capture all", CaptureAny, x, true, `[<test-a 1 <test-b "s">>]`},
		{"record fields", RecordPattern(lA, CaptureAny, CaptureAny), x, true, `[1 <test-b "s">]`},
		{"nested capture", RecordPattern(lA, Lit(Int(1)), RecordPattern(lB, CaptureAny)), x, true, `["s"]`},
		{"literal mismatch", RecordPattern(lA, Lit(Int(2)), Discard), x, false, ""},
		{"label mismatch", RecordPattern(lB, Discard), x, false, ""},
		{"arity mismatch", RecordPattern(lA, Discard), x, false, ""},
		{"capture with sub", RecordPattern(lA, Discard, Capture(RecordPattern(lB, Lit(String("s"))))), x, true, `[<test-b "s">]`},
		{"literal record", RecordPattern(lA, Discard, Lit(Rec(b(String("s"))))), x, true, "[]"},
		{"field is not a record", RecordPattern(lA, RecordPattern(lB, Discard), Discard), x, false, ""},
		{"observe of observe", ObservePattern(RecordPattern(lChan, Discard, RecordPattern(lListen, CaptureAny), Discard)), obs, true, "[7]"},
		{"observe needs literal", ObservePattern(RecordPattern(lChan, Discard, RecordPattern(lListen, CaptureAny), Discard)),
			&Observe{RecordPattern(lChan, CaptureAny, RecordPattern(lListen, CaptureAny), CaptureAny)}, false, ""},
		{"observe other label", ObservePattern(RecordPattern(lA, Discard, Discard)), obs, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			caps, ok := c.p.Match(Rec(c.v), nil)
			if ok != c.ok {
				t.Fatalf("Match = %v, want %v", ok, c.ok)
			}
			if ok && fmt.Sprint(caps) != c.caps {
				t.Fatalf("captures %v, want %s", caps, c.caps)
			}
			// The index must agree with the reference matcher.
			ix := NewIndex()
			rec := &recorder{}
			o := ix.AddObserver(c.p, "o", rec)
			ix.Assert(c.v, rec)
			ix.Message(c.v, rec)
			want := []string(nil)
			if c.ok {
				want = []string{"o added " + c.caps, "o message " + c.caps}
			}
			if got := rec.take(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("index events %v, want %v", got, want)
			}
			ix.RemoveObserver(o)
		})
	}
}

func TestBagSemantics(t *testing.T) {
	ix := NewIndex()
	rec := &recorder{}
	ix.AddObserver(RecordPattern(lA, CaptureAny, Discard), "o", rec)
	x, y := a(Int(1), Int(1)), a(Int(1), Int(2))
	steps := []struct {
		do   func() bool
		ret  bool
		want string
	}{
		{func() bool { return ix.Assert(x, rec) }, true, "[o added [1]]"},
		{func() bool { return ix.Assert(a(Int(1), Int(1)), rec) }, false, "[]"}, // equal value: count 2
		{func() bool { return ix.Assert(y, rec) }, true, "[]"},                  // same captures: no event
		{func() bool { return ix.Retract(x, rec) }, false, "[]"},
		{func() bool { return ix.Retract(x, rec) }, true, "[]"}, // y still holds captures [1]
		{func() bool { return ix.Retract(y, rec) }, true, "[o removed [1]]"},
		{func() bool { return ix.Retract(y, rec) }, false, "[]"}, // absent: no-op
	}
	for i, s := range steps {
		if got := s.do(); got != s.ret {
			t.Errorf("step %d returned %v, want %v", i, got, s.ret)
		}
		if got := fmt.Sprint(rec.take()); got != s.want {
			t.Errorf("step %d events %s, want %s", i, got, s.want)
		}
	}
	if ix.Len() != 0 {
		t.Errorf("Len = %d after all retractions", ix.Len())
	}
}

func TestNewObserverSeesExisting(t *testing.T) {
	ix := NewIndex()
	rec := &recorder{}
	ix.Assert(b(Int(1)), rec)
	ix.Assert(b(Int(2)), rec)
	ix.Assert(a(Int(1), Int(2)), rec)
	ix.AddObserver(RecordPattern(lB, CaptureAny), "o", rec)
	got := rec.take()
	sort.Strings(got)
	if fmt.Sprint(got) != "[o added [1] o added [2]]" {
		t.Fatalf("events %v", got)
	}
}

func TestRemoveObserverPrunes(t *testing.T) {
	ix := NewIndex()
	var os []*Observer
	for i := 0; i < 10; i++ {
		os = append(os, ix.AddObserver(RecordPattern(lA, Lit(Int(int64(i))), RecordPattern(lB, CaptureAny)), i, nil))
	}
	for _, o := range os {
		ix.RemoveObserver(o)
	}
	if ix.Observers() != 0 || len(ix.root.edges) != 0 || len(ix.root.cont.groups) != 0 {
		t.Fatalf("index not pruned: %d observers, %d edges, %d groups", ix.Observers(), len(ix.root.edges), len(ix.root.cont.groups))
	}
}

// recorder is a Sink that writes events as strings.
type recorder struct{ events []string }

func (r *recorder) Added(o *Observer, caps []Value) {
	r.events = append(r.events, fmt.Sprintf("%v added %v", o.Target, caps))
}
func (r *recorder) Removed(o *Observer, caps []Value) {
	r.events = append(r.events, fmt.Sprintf("%v removed %v", o.Target, caps))
}
func (r *recorder) Message(o *Observer, m Record) {
	r.events = append(r.events, fmt.Sprintf("%v message %v", o.Target, o.Captures(m)))
}
func (r *recorder) take() []string {
	e := r.events
	r.events = nil
	if e == nil {
		e = []string{}
	}
	return e
}

// naive is the reference: it scans every observer and assertion.
type naive struct {
	bag  map[string]*naiveEntry
	obs  map[int]*naiveObs
	recs []string
}

type naiveEntry struct {
	rec   Record
	count int
}

type naiveObs struct {
	p    *Pattern
	caps map[string]int
}

func (n *naive) emit(id int, kind string, caps []Value) {
	n.recs = append(n.recs, fmt.Sprintf("%d %s %v", id, kind, caps))
}

func (n *naive) assert(r Record) {
	k := FormatRecord(r)
	e := n.bag[k]
	if e == nil {
		e = &naiveEntry{rec: r}
		n.bag[k] = e
	}
	e.count++
	if e.count != 1 {
		return
	}
	for id, o := range n.obs {
		if caps, ok := o.p.Match(Rec(r), nil); ok {
			ck := fmt.Sprint(caps)
			o.caps[ck]++
			if o.caps[ck] == 1 {
				n.emit(id, "added", caps)
			}
		}
	}
}

func (n *naive) retract(r Record) {
	k := FormatRecord(r)
	e := n.bag[k]
	if e == nil {
		return
	}
	e.count--
	if e.count > 0 {
		return
	}
	delete(n.bag, k)
	for id, o := range n.obs {
		if caps, ok := o.p.Match(Rec(r), nil); ok {
			ck := fmt.Sprint(caps)
			o.caps[ck]--
			if o.caps[ck] == 0 {
				delete(o.caps, ck)
				n.emit(id, "removed", caps)
			}
		}
	}
}

func (n *naive) message(r Record) {
	for id, o := range n.obs {
		if caps, ok := o.p.Match(Rec(r), nil); ok {
			n.emit(id, "message", caps)
		}
	}
}

func (n *naive) addObserver(id int, p *Pattern) {
	o := &naiveObs{p: p, caps: map[string]int{}}
	n.obs[id] = o
	seen := map[string]bool{}
	for _, e := range n.bag {
		if caps, ok := p.Match(Rec(e.rec), nil); ok {
			ck := fmt.Sprint(caps)
			o.caps[ck]++
			if !seen[ck] {
				seen[ck] = true
				n.emit(id, "added", caps)
			}
		}
	}
}

// idRecorder is a Sink writing events in naive's format.
type idRecorder struct{ recs []string }

func (r *idRecorder) Added(o *Observer, caps []Value) {
	r.recs = append(r.recs, fmt.Sprintf("%d added %v", o.Target, caps))
}
func (r *idRecorder) Removed(o *Observer, caps []Value) {
	r.recs = append(r.recs, fmt.Sprintf("%d removed %v", o.Target, caps))
}
func (r *idRecorder) Message(o *Observer, m Record) {
	r.recs = append(r.recs, fmt.Sprintf("%d message %v", o.Target, o.Captures(m)))
}

type gen struct{ r *rand.Rand }

func (g gen) value(depth int) Value {
	switch k := g.r.Intn(7); {
	case k < 2:
		return Int(int64(g.r.Intn(3)))
	case k < 3:
		return String([]string{"x", "y"}[g.r.Intn(2)])
	case k < 4 && depth > 0:
		return Rec(g.record(depth - 1))
	case k < 5:
		return Addr(netip.AddrFrom4([4]byte{192, 0, 2, byte(g.r.Intn(2))}))
	default:
		return Int(int64(g.r.Intn(2)))
	}
}

func (g gen) record(depth int) Record {
	switch g.r.Intn(3) {
	case 0:
		return a(g.value(depth), g.value(depth))
	case 1:
		return b(g.value(depth))
	default:
		return NewTuple(lC)
	}
}

func (g gen) pattern(depth int) *Pattern {
	switch k := g.r.Intn(10); {
	case k < 2:
		return Discard
	case k < 4:
		if depth > 0 && g.r.Intn(2) == 0 {
			return Capture(g.pattern(depth - 1))
		}
		return CaptureAny
	case k < 6:
		return Lit(g.value(1))
	default:
		if depth <= 0 {
			return CaptureAny
		}
		switch g.r.Intn(3) {
		case 0:
			return RecordPattern(lA, g.pattern(depth-1), g.pattern(depth-1))
		case 1:
			return RecordPattern(lB, g.pattern(depth-1))
		default:
			return RecordPattern(lC)
		}
	}
}

// TestDifferential drives the index and the naive matcher with the same
// random operations and requires the same events after every operation.
func TestDifferential(t *testing.T) {
	for seed := int64(1); seed <= 40; seed++ {
		g := gen{rand.New(rand.NewSource(seed))}
		ix := NewIndex()
		nv := &naive{bag: map[string]*naiveEntry{}, obs: map[int]*naiveObs{}}
		rec := &idRecorder{}
		observers := map[int]*Observer{}
		var asserted []Record
		nextID := 0
		for step := 0; step < 600; step++ {
			var what string
			switch op := g.r.Intn(10); {
			case op < 3:
				var r Record
				if g.r.Intn(5) == 0 {
					r = &Observe{g.pattern(2)}
				} else {
					r = g.record(2)
				}
				what = "assert " + FormatRecord(r)
				ix.Assert(r, rec)
				nv.assert(r)
				asserted = append(asserted, r)
			case op < 5 && len(asserted) > 0:
				i := g.r.Intn(len(asserted))
				r := asserted[i]
				asserted = append(asserted[:i], asserted[i+1:]...)
				what = "retract " + FormatRecord(r)
				ix.Retract(r, rec)
				nv.retract(r)
			case op < 7:
				r := g.record(2)
				what = "message " + FormatRecord(r)
				ix.Message(r, rec)
				nv.message(r)
			case op < 9:
				var p *Pattern
				if g.r.Intn(4) == 0 {
					p = ObservePattern(g.pattern(2))
				} else {
					p = g.pattern(3)
				}
				what = "observe " + p.String()
				observers[nextID] = ix.AddObserver(p, nextID, rec)
				nv.addObserver(nextID, p)
				nextID++
			default:
				for id, o := range observers {
					what = "unobserve " + o.Pattern.String()
					ix.RemoveObserver(o)
					delete(nv.obs, id)
					delete(observers, id)
					break
				}
			}
			sort.Strings(rec.recs)
			sort.Strings(nv.recs)
			if strings.Join(rec.recs, "\n") != strings.Join(nv.recs, "\n") {
				t.Fatalf("seed %d step %d (%s):\nindex: %v\nnaive: %v", seed, step, what, rec.recs, nv.recs)
			}
			if ix.Len() != len(nv.bag) {
				t.Fatalf("seed %d step %d: Len %d, naive %d", seed, step, ix.Len(), len(nv.bag))
			}
			rec.recs, nv.recs = nil, nil
		}
	}
}

type countSink struct{ n int }

func (c *countSink) Added(*Observer, []Value)   {}
func (c *countSink) Removed(*Observer, []Value) {}
func (c *countSink) Message(*Observer, Record)  { c.n++ }

// packetIndex builds an index with n observers of 4-tuples that differ only
// in the source port, like n TCP connections to one server port.
func packetIndex(n int) (*Index, *pkt) {
	ix := NewIndex()
	src := netip.MustParseAddr("192.0.2.1")
	dst := netip.MustParseAddr("192.0.2.2")
	for i := 0; i < n; i++ {
		p := RecordPattern(lPkt, Lit(Addr(src)), Lit(Uint(uint64(1024+i))), Lit(Addr(dst)), Lit(Int(80)), CaptureAny)
		ix.AddObserver(p, i, nil)
	}
	return ix, &pkt{src: src, sport: uint16(1024 + n/2), dst: dst, dport: 80, body: make([]byte, 1460)}
}

func TestRoutingAllocatesNothing(t *testing.T) {
	for _, n := range []int{10, 1000} {
		ix, m := packetIndex(n)
		sink := &countSink{}
		allocs := testing.AllocsPerRun(1000, func() { ix.Message(m, sink) })
		if allocs != 0 {
			t.Errorf("%d observers: %.1f allocs per routed message, want 0", n, allocs)
		}
		if sink.n != 1001 {
			t.Errorf("%d observers: delivered %d times in 1001 runs", n, sink.n)
		}
	}
}

func BenchmarkRouteMessage(b *testing.B) {
	for _, n := range []int{10, 1000, 100000} {
		b.Run(fmt.Sprintf("observers=%d", n), func(b *testing.B) {
			ix, m := packetIndex(n)
			sink := &countSink{}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ix.Message(m, sink)
			}
			if sink.n != b.N {
				b.Fatalf("delivered %d of %d", sink.n, b.N)
			}
		})
	}
}

func BenchmarkAssertRetract(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("observers=%d", n), func(b *testing.B) {
			ix := NewIndex()
			for i := 0; i < n; i++ {
				ix.AddObserver(RecordPattern(lListen, Lit(Int(int64(i)))), i, nil)
			}
			ix.AddObserver(RecordPattern(lListen, CaptureAny), "all", nil)
			r := NewTuple(lListen, Int(int64(n/2)))
			sink := &countSink{}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ix.Assert(r, sink)
				ix.Retract(r, sink)
			}
		})
	}
}

func TestCapturedMarker(t *testing.T) {
	wild := &Observe{RecordPattern(lChan, CaptureAny, RecordPattern(lListen, Lit(Int(7))), CaptureAny)}
	lease := &Observe{RecordPattern(lChan, RecordPattern(lA, Lit(Int(1)), Lit(Int(2))), RecordPattern(lListen, Lit(Int(7))), CaptureAny)}
	onlyWild := ObservePattern(RecordPattern(lChan, Captured, RecordPattern(lListen, CaptureAny), Discard))
	any := ObservePattern(RecordPattern(lChan, Discard, RecordPattern(lListen, CaptureAny), Discard))
	for _, c := range []struct {
		p    *Pattern
		r    Record
		want bool
	}{{onlyWild, wild, true}, {onlyWild, lease, false}, {any, wild, true}, {any, lease, true}} {
		caps, ok := c.p.Match(Rec(c.r), nil)
		if ok != c.want || (ok && caps[0].AsInt() != 7) {
			t.Errorf("%v on %v: %v %v, want %v", c.p, c.r, ok, caps, c.want)
		}
		ix := NewIndex()
		rec := &recorder{}
		ix.AddObserver(c.p, "o", rec)
		ix.Assert(c.r, rec)
		if got := len(rec.take()) == 1; got != c.want {
			t.Errorf("index disagrees for %v on %v", c.p, c.r)
		}
	}
	// Outside ObservePattern it is a discard.
	if _, ok := RecordPattern(lB, Captured).Match(Rec(b(Int(3))), nil); !ok {
		t.Error("Captured should match anything in an ordinary pattern")
	}
}

// BenchmarkObserverChurn adds and removes an observer of one specific
// record while n others of the same shape are asserted — a connection
// actor starting and stopping beside n others. It must not grow with n.
func BenchmarkObserverChurn(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("assertions=%d", n), func(b *testing.B) {
			ix := NewIndex()
			sink := &countSink{}
			ix.AddObserver(RecordPattern(lA, CaptureAny, Discard), "any", sink) // the shape exists
			for i := 0; i < n; i++ {
				ix.Assert(a(Int(int64(i)), String("x")), sink)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				o := ix.AddObserver(RecordPattern(lA, Lit(Int(int64(i%n))), CaptureAny), i, sink)
				ix.RemoveObserver(o)
			}
		})
	}
}
