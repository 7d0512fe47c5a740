package actors

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	ds "netspace/dataspace"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

var lSupply = ds.NewLabel("actors-test-supply", "actors-test", "key")

// demandRig is a demand matcher whose demand is interest in facts with a
// given key, Observe(fact(k, _)), and whose supply is supply(k).
type demandRig struct {
	sys     *System
	spawned map[string]int
	mode    string // "good", "crash" (dies before supplying)
	sups    map[string]*Actor
	logs    *observer.ObservedLogs
}

func newDemandRig(t *testing.T) *demandRig {
	core, logs := observer.New(zapcore.DebugLevel)
	r := &demandRig{spawned: map[string]int{}, mode: "good", sups: map[string]*Actor{}, logs: logs}
	r.sys = NewSystem(Deterministic(), WithLogger(zap.New(core)))
	r.sys.SpawnDemandMatcher("facts-on-demand", DemandSpec{
		Demand:      ds.ObservePattern(ds.RecordPattern(lFact, ds.CaptureAny, ds.Discard)),
		Supply:      ds.RecordPattern(lSupply, ds.CaptureAny),
		MaxRespawns: 3,
		Window:      time.Minute,
		Spawn: func(t *Turn, caps []ds.Value) *Actor {
			k := caps[0].AsString()
			r.spawned[k]++
			mode := r.mode
			a := t.Spawn("supplier-"+k, func(t *Turn) {
				if mode == "crash" {
					panic("supplier failed")
				}
				t.Assert(ds.NewTuple(lSupply, ds.String(k)))
				t.Assert(fact(k, 1))
				// Stop when nobody wants k any more.
				t.Observe(ds.ObservePattern(ds.RecordPattern(lFact, ds.Lit(ds.String(k)), ds.Discard)), Handler{
					Removed: func(t *Turn, _ []ds.Value) { t.Stop() },
				})
			})
			r.sups[k] = a
			return a
		},
	})
	r.sys.Quiesce()
	return r
}

func (r *demandRig) want(k string) *Actor {
	a := r.sys.Spawn("user-"+k, func(t *Turn) {
		t.Observe(ds.RecordPattern(lFact, ds.Lit(ds.String(k)), ds.Discard), Handler{})
	})
	r.sys.Quiesce()
	return a
}

func TestDemandSpawnsSupplierOnce(t *testing.T) {
	r := newDemandRig(t)
	u1 := r.want("a")
	if r.spawned["a"] != 1 || r.sys.Count(fact("a", 1)) != 1 {
		t.Fatalf("spawned %d, fact count %d", r.spawned["a"], r.sys.Count(fact("a", 1)))
	}
	u2 := r.want("a") // more demand for the same key: already supplied
	if r.spawned["a"] != 1 {
		t.Fatalf("second demand spawned again (%d)", r.spawned["a"])
	}
	u1.Stop()
	r.sys.Quiesce()
	if !r.sups["a"].Alive() {
		t.Fatal("supplier stopped while demand remained")
	}
	u2.Stop() // demand goes: the supplier stops itself, no respawn
	r.sys.Quiesce()
	if r.sups["a"].Alive() || r.spawned["a"] != 1 {
		t.Fatalf("after demand went: supplier alive=%v, spawned %d", r.sups["a"].Alive(), r.spawned["a"])
	}
	r.want("a") // demand returns: a new supplier
	if r.spawned["a"] != 2 {
		t.Fatalf("returning demand spawned %d", r.spawned["a"])
	}
}

func TestDemandRespawnsWhenSupplyVanishes(t *testing.T) {
	r := newDemandRig(t)
	r.want("b")
	first := r.sups["b"]
	first.Stop() // supply vanishes, demand remains
	r.sys.Quiesce()
	if r.spawned["b"] != 2 || !r.sups["b"].Alive() || r.sups["b"] == first {
		t.Fatalf("spawned %d, new supplier alive %v", r.spawned["b"], r.sups["b"].Alive())
	}
	if n := r.logs.FilterMessage("supply vanished while demand remains").Len(); n != 1 {
		t.Fatalf("%d warnings logged", n)
	}
}

func TestDemandRespawnIsBounded(t *testing.T) {
	r := newDemandRig(t)
	r.mode = "crash"
	u := r.want("c")
	// First spawn plus MaxRespawns restarts, then it gives up.
	if r.spawned["c"] != 4 {
		t.Fatalf("spawned %d times, want 1+3", r.spawned["c"])
	}
	if n := r.logs.FilterMessage("supplier keeps failing: giving up until demand returns").Len(); n != 1 {
		t.Fatalf("%d give-up errors logged", n)
	}
	if n := r.logs.FilterMessage("supplier stopped before supplying").Len(); n != 4 {
		t.Fatalf("%d supplier-stopped warnings", n)
	}
	// Demand goes and returns: served again, with a working supplier.
	u.Stop()
	r.sys.Quiesce()
	r.mode = "good"
	r.want("c")
	if r.spawned["c"] != 5 || r.sys.Count(fact("c", 1)) != 1 {
		t.Fatalf("after demand returned: spawned %d, fact %d", r.spawned["c"], r.sys.Count(fact("c", 1)))
	}
}

func TestDemandManyKeys(t *testing.T) {
	r := newDemandRig(t)
	for i := 0; i < 20; i++ {
		r.want(fmt.Sprint(i))
	}
	for i := 0; i < 20; i++ {
		if r.spawned[fmt.Sprint(i)] != 1 {
			t.Fatalf("key %d spawned %d times", i, r.spawned[fmt.Sprint(i)])
		}
	}
}

func TestDemandLongBytesCapturesAreDistinct(t *testing.T) {
	// Two keys of 40 bytes differing only in the last: their text forms
	// (which abbreviate bytes after 32) are equal.
	x, y := bytes.Repeat([]byte{7}, 40), bytes.Repeat([]byte{7}, 40)
	y[39] = 8
	sys := NewSystem(Deterministic())
	var spawned [][]ds.Value
	sys.SpawnDemandMatcher("bytes-on-demand", DemandSpec{
		Demand: ds.ObservePattern(ds.RecordPattern(lFact, ds.CaptureAny, ds.Discard)),
		Supply: ds.RecordPattern(lSupply, ds.CaptureAny),
		Spawn: func(t *Turn, caps []ds.Value) *Actor {
			spawned = append(spawned, caps)
			k := caps[0]
			return t.Spawn("supplier", func(t *Turn) { t.Assert(ds.NewTuple(lSupply, k)) })
		},
	})
	for _, k := range [][]byte{x, y} {
		sys.Spawn("user", func(t *Turn) {
			t.Observe(ds.RecordPattern(lFact, ds.Lit(ds.Bytes(k)), ds.Discard), Handler{})
		})
	}
	sys.Quiesce()
	if len(spawned) != 2 {
		t.Fatalf("%d suppliers spawned for two distinct demands; want 2", len(spawned))
	}
	if spawned[0][0].Equal(spawned[1][0]) {
		t.Errorf("both suppliers were spawned for %v", spawned[0])
	}
	for _, k := range [][]byte{x, y} {
		if n := sys.Count(ds.NewTuple(lSupply, ds.Bytes(k))); n != 1 {
			t.Errorf("supply(%x) asserted %d times; want 1", k, n)
		}
	}
}
