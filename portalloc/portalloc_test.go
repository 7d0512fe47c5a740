package portalloc

import (
	"testing"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// labelTestInUse labels the test's in-use facts: port-in-use(port).
var labelTestInUse = ds.NewLabel("portalloc-test-port-in-use", "test", "port")

// allocRig is one allocator for proto "test" whose in-use pattern is
// portalloc-test-port-in-use(?port), and a user actor that asks it for
// ports and asserts ports in use.
type allocRig struct {
	t     *testing.T
	sys   *actors.System
	user  *actors.Actor
	logs  *observer.ObservedLogs
	stats *Stats
	inUse map[uint16]actors.Handle

	replies map[int64]uint16 // by request id
	nextID  int64
}

func newAllocRig(t *testing.T, cfg Config) *allocRig {
	t.Helper()
	core, logs := observer.New(zapcore.WarnLevel)
	r := &allocRig{t: t, logs: logs, inUse: map[uint16]actors.Handle{}, replies: map[int64]uint16{}}
	r.sys = actors.NewSystem(actors.Deterministic(), actors.WithLogger(zap.New(core)))
	t.Cleanup(func() { _ = r.sys.Close(time.Second) })
	cfg.Proto = "test"
	cfg.InUse = []*ds.Pattern{ds.RecordPattern(labelTestInUse, ds.CaptureAny)}
	r.sys.Spawn("harness", func(t *actors.Turn) { _, r.stats = Spawn(t, cfg) })
	r.user = r.sys.Spawn("user", func(t *actors.Turn) {
		t.Observe(ds.RecordPattern(LabelReply, ds.CaptureAny, ds.CaptureAny, ds.CaptureAny), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) {
				rep := m.(*Reply)
				if rep.Proto != "test" {
					r.t.Errorf("reply for proto %q", rep.Proto)
				}
				id := rep.ID.AsInt()
				if _, dup := r.replies[id]; dup {
					r.t.Errorf("two replies to request %d", id)
				}
				r.replies[id] = rep.Port
			},
		})
	})
	r.sys.Quiesce()
	return r
}

func (r *allocRig) do(fn func(t *actors.Turn)) {
	r.t.Helper()
	if !r.user.Inject(fn) {
		r.t.Fatal("user actor is gone")
	}
	r.sys.Quiesce()
}

// request asks for a port and returns the reply (0: none free).
func (r *allocRig) request() uint16 {
	r.t.Helper()
	id := r.nextID
	r.nextID++
	r.do(func(t *actors.Turn) { t.Send(&Request{Proto: "test", ID: ds.Int(id)}) })
	port, ok := r.replies[id]
	if !ok {
		r.t.Fatalf("no reply to request %d", id)
	}
	return port
}

func (r *allocRig) use(ports ...uint16) {
	r.do(func(t *actors.Turn) {
		for _, p := range ports {
			r.inUse[p] = t.Assert(ds.NewTuple(labelTestInUse, ds.Int(int64(p))))
		}
	})
}

func (r *allocRig) release(ports ...uint16) {
	r.do(func(t *actors.Turn) {
		for _, p := range ports {
			t.Retract(r.inUse[p])
			delete(r.inUse, p)
		}
	})
}

// noFreePort counts the allocator's "no free port" warnings.
func (r *allocRig) noFreePort() int { return r.logs.FilterMessage("no free port").Len() }

func TestAllocatorNeverReturnsPortInUse(t *testing.T) {
	for seed := uint64(0); seed < 16; seed++ {
		r := newAllocRig(t, Config{Low: 40000, High: 40009, Seed: seed})
		for p := uint16(40000); p <= 40006; p++ {
			r.use(p)
		}
		got := map[uint16]bool{}
		for i := 0; i < 3; i++ {
			p := r.request()
			if p < 40007 || p > 40009 || got[p] {
				t.Fatalf("seed %d: request %d got port %d; want a new one of 40007–40009 (had %v)", seed, i, p, got)
			}
			got[p] = true
		}
		if p := r.request(); p != 0 {
			t.Fatalf("seed %d: got port %d with every port in use or held; want 0", seed, p)
		}
		if n := r.noFreePort(); n != 1 {
			t.Errorf("seed %d: %d \"no free port\" warnings; want 1", seed, n)
		}
		if a, e, q := r.stats.Allocated.Load(), r.stats.Exhausted.Load(), r.stats.Requests.Load(); a != 3 || e != 1 || q != 4 {
			t.Errorf("seed %d: Allocated %d Exhausted %d Requests %d; want 3, 1, 4", seed, a, e, q)
		}
		if n := r.stats.InUse.Load(); n != 7 {
			t.Errorf("seed %d: InUse %d; want 7", seed, n)
		}
	}
}

func TestAllocatorHoldsPortHandedOut(t *testing.T) {
	r := newAllocRig(t, Config{Low: 40000, High: 40002, Hold: 10 * time.Second, Seed: 7})
	got := map[uint16]bool{}
	for i := 0; i < 3; i++ {
		got[r.request()] = true
	}
	if len(got) != 3 || got[0] {
		t.Fatalf("three requests on a range of three got %v; want each port once", got)
	}
	// Nobody asserted them, but they are held.
	if p := r.request(); p != 0 {
		t.Fatalf("got port %d again within Hold", p)
	}
	r.sys.Advance(9999 * time.Millisecond)
	if p := r.request(); p != 0 {
		t.Fatalf("got port %d again 9.999 s into a 10 s hold", p)
	}
	// After Hold, unclaimed ports are free again.
	r.sys.Advance(time.Millisecond)
	again := map[uint16]bool{}
	for i := 0; i < 3; i++ {
		p := r.request()
		if p < 40000 || p > 40002 || again[p] {
			t.Fatalf("after Hold: request %d got %d; want a new port of 40000–40002 (had %v)", i, p, again)
		}
		again[p] = true
	}
	if p := r.request(); p != 0 || r.noFreePort() != 3 {
		t.Errorf("got %d with all three re-held; want 0 (warnings %d, want 3)", p, r.noFreePort())
	}
	if a, e := r.stats.Allocated.Load(), r.stats.Exhausted.Load(); a != 6 || e != 3 {
		t.Errorf("Allocated %d Exhausted %d; want 6 and 3", a, e)
	}
}

func TestAllocatorHoldDefault(t *testing.T) {
	r := newAllocRig(t, Config{Low: 40000, High: 40000})
	if p := r.request(); p != 40000 {
		t.Fatalf("got %d; want 40000", p)
	}
	r.sys.Advance(9999 * time.Millisecond)
	if p := r.request(); p != 0 {
		t.Fatalf("got %d before the default 10 s hold ended", p)
	}
	r.sys.Advance(time.Millisecond)
	if p := r.request(); p != 40000 {
		t.Fatalf("got %d after the default hold; want 40000", p)
	}
}

func TestAllocatorPortFreedByRetraction(t *testing.T) {
	r := newAllocRig(t, Config{Low: 40000, High: 40009, Seed: 3})
	for p := uint16(40000); p <= 40009; p++ {
		r.use(p)
	}
	if p := r.request(); p != 0 {
		t.Fatalf("got %d with every port in use", p)
	}
	if n := r.stats.InUse.Load(); n != 10 {
		t.Errorf("InUse %d; want 10", n)
	}
	r.release(40004)
	if n := r.stats.InUse.Load(); n != 9 {
		t.Errorf("InUse %d after a release; want 9", n)
	}
	if p := r.request(); p != 40004 {
		t.Fatalf("got %d; want 40004, the only port released", p)
	}
}

func TestAllocatorClaimedPortFreeOnRetraction(t *testing.T) {
	r := newAllocRig(t, Config{Low: 40000, High: 40003, Hold: time.Hour, Seed: 5})
	r.use(40000, 40001, 40002)
	p := r.request()
	if p != 40003 {
		t.Fatalf("got %d; want 40003, the only free port", p)
	}
	// Its user asserts it, uses it and lets it go, all within the hold:
	// the port is free at once (the hold ended when it was asserted).
	r.use(p)
	if q := r.request(); q != 0 {
		t.Fatalf("got %d while 40003 is in use", q)
	}
	r.release(p)
	if q := r.request(); q != 40003 {
		t.Fatalf("got %d after 40003 was retracted; want 40003", q)
	}
}

func TestAllocatorIgnoresOtherProtocols(t *testing.T) {
	r := newAllocRig(t, Config{Low: 40000, High: 40009})
	r.do(func(t *actors.Turn) { t.Send(&Request{Proto: "other", ID: ds.Int(99)}) })
	if len(r.replies) != 0 {
		t.Fatalf("replied to a request for another protocol: %v", r.replies)
	}
}

// sequence returns the ports handed out for n requests by an allocator
// on the default range with seed.
func sequence(t *testing.T, seed uint64, n int) []uint16 {
	r := newAllocRig(t, Config{Seed: seed})
	out := make([]uint16, n)
	for i := range out {
		out[i] = r.request()
	}
	return out
}

func TestAllocatorDeterministicWithSeed(t *testing.T) {
	a, b, c := sequence(t, 1234, 50), sequence(t, 1234, 50), sequence(t, 1235, 50)
	seen := map[uint16]bool{}
	same := true
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, request %d: %d vs %d", i, a[i], b[i])
		}
		if a[i] < 49152 || seen[a[i]] {
			t.Fatalf("request %d: port %d; want a new port in 49152–65535", i, a[i])
		}
		seen[a[i]] = true
		same = same && a[i] == c[i]
	}
	if same {
		t.Errorf("seeds 1234 and 1235 gave the same 50 ports")
	}
}

func TestAllocatorRangeDefaultsIndependently(t *testing.T) {
	// Only Low set: High defaults to 65535 (this used to panic).
	r := newAllocRig(t, Config{Low: 65530, Seed: 1})
	got := map[uint16]bool{}
	for i := 0; i < 6; i++ {
		p := r.request()
		if p < 65530 || got[p] {
			t.Fatalf("Low 65530 alone: request %d got %d; want a new port of 65530–65535", i, p)
		}
		got[p] = true
	}
	if p := r.request(); p != 0 || r.stats.Exhausted.Load() != 1 {
		t.Errorf("got %d past the range (Exhausted %d); want 0 and 1", p, r.stats.Exhausted.Load())
	}
	// Only High set: Low defaults to 49152, so port 0 is never handed out.
	r = newAllocRig(t, Config{High: 49153, Seed: 1})
	for i := 0; i < 2; i++ {
		if p := r.request(); p != 49152 && p != 49153 {
			t.Fatalf("High 49153 alone: got %d; want 49152 or 49153", p)
		}
	}
	if p := r.request(); p != 0 {
		t.Errorf("got %d past the range; want 0", p)
	}
}

func TestAllocatorInvalidRange(t *testing.T) {
	for _, cfg := range []Config{
		{Low: 50000, High: 40000},
		{High: 1024}, // below the default Low
	} {
		r := newAllocRig(t, cfg)
		if n := r.logs.FilterMessage("invalid configuration: every request will get port 0").Len(); n != 1 {
			t.Errorf("%+v: %d configuration errors logged; want 1", cfg, n)
		}
		for i := 0; i < 3; i++ {
			if p := r.request(); p != 0 {
				t.Fatalf("%+v: got port %d from an invalid range; want 0", cfg, p)
			}
		}
		if a, e, q := r.stats.Allocated.Load(), r.stats.Exhausted.Load(), r.stats.Requests.Load(); a != 0 || e != 3 || q != 3 {
			t.Errorf("%+v: Allocated %d Exhausted %d Requests %d; want 0, 3, 3", cfg, a, e, q)
		}
	}
	for _, c := range []struct {
		low, high uint16
		ok        bool
	}{{1, 1, true}, {49152, 65535, true}, {2, 1, false}, {0, 10, false}} {
		if err := checkRange(c.low, c.high); (err == nil) != c.ok {
			t.Errorf("checkRange(%d, %d) = %v; want ok %v", c.low, c.high, err, c.ok)
		}
	}
}
