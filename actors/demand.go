package actors

import (
	"fmt"
	"time"

	ds "netspace/dataspace"

	"go.uber.org/zap"
)

// DemandSpec describes a demand matcher: whenever a capture tuple of
// Demand appears that no Supply with the same captures serves, Spawn is
// called to start a supplier.
//
// The transitions, for each capture tuple k:
//   - demand(k) appears, no supply(k), no supplier pending → Spawn(k).
//   - supply(k) appears → recorded; the pending supplier has arrived.
//   - demand(k) goes → nothing is done: the supplier is expected to observe
//     its own demand and stop (logged at debug level).
//   - supply(k) goes while demand(k) remains, or a pending supplier stops
//     before asserting supply(k) → logged as a warning and Spawn(k) again,
//     at most MaxRespawns times within Window; past that, an error is
//     logged and k is left unserved until its demand goes and comes back.
type DemandSpec struct {
	// Demand and Supply must capture the same tuple, in the same order.
	Demand, Supply *ds.Pattern
	// Spawn starts the supplier for captures, with t.Spawn, and returns it.
	Spawn func(t *Turn, captures []ds.Value) *Actor
	// MaxRespawns bounds restarts per capture tuple within Window
	// (defaults 5 and 10 s).
	MaxRespawns int
	Window      time.Duration
}

type demandEntry struct {
	caps     []ds.Value
	demand   bool
	supply   bool
	pending  *Actor
	restarts []time.Time
	gaveUp   bool
}

// SpawnDemandMatcher starts a demand matcher actor for spec.
func (t *Turn) SpawnDemandMatcher(name string, spec DemandSpec) *Actor {
	return t.Spawn(name, func(t *Turn) { bootDemandMatcher(t, spec) })
}

// SpawnDemandMatcher starts a top-level demand matcher actor.
func (s *System) SpawnDemandMatcher(name string, spec DemandSpec) *Actor {
	return s.Spawn(name, func(t *Turn) { bootDemandMatcher(t, spec) })
}

func bootDemandMatcher(t *Turn, spec DemandSpec) {
	if spec.MaxRespawns == 0 {
		spec.MaxRespawns = 5
	}
	if spec.Window == 0 {
		spec.Window = 10 * time.Second
	}
	me := t.Actor()
	log := me.sys.log.With(zap.String("matcher", me.name))
	// Entries are keyed by their capture tuple with structural equality:
	// a text form such as fmt.Sprint(caps) abbreviates long bytes and
	// would merge distinct tuples.
	var entries ds.TupleMap[*demandEntry]
	get := func(caps []ds.Value) (capsText, *demandEntry) {
		e, ok := entries.Get(caps)
		if !ok {
			e = &demandEntry{caps: append([]ds.Value(nil), caps...)}
			entries.Set(e.caps, e)
		}
		return capsText(e.caps), e
	}
	tidy := func(k capsText, e *demandEntry) {
		if !e.demand && !e.supply && e.pending == nil {
			entries.Delete(k)
		}
	}
	current := func(e *demandEntry) bool {
		cur, ok := entries.Get(e.caps)
		return ok && cur == e
	}
	var spawn func(t *Turn, k capsText, e *demandEntry)
	spawn = func(t *Turn, k capsText, e *demandEntry) {
		child := spec.Spawn(t, e.caps)
		if child == nil {
			return
		}
		e.pending = child
		child.Watch(func() {
			me.Inject(func(t *Turn) {
				if e.pending != child || !current(e) {
					return
				}
				e.pending = nil
				if e.demand && !e.supply {
					log.Warn("supplier stopped before supplying", zap.Stringer("demand", k))
					respawn(t, k, e, spec, log, spawn)
				}
				tidy(k, e)
			})
		})
	}
	t.Observe(spec.Demand, Handler{
		Added: func(t *Turn, caps []ds.Value) {
			k, e := get(caps)
			e.demand, e.gaveUp, e.restarts = true, false, nil
			if !e.supply && e.pending == nil {
				log.Debug("demand without supply: spawning", zap.Stringer("demand", k))
				spawn(t, k, e)
			}
		},
		Removed: func(t *Turn, caps []ds.Value) {
			k, e := get(caps)
			e.demand = false
			log.Debug("demand gone; supplier expected to stop", zap.Stringer("demand", k))
			tidy(k, e)
		},
	})
	t.Observe(spec.Supply, Handler{
		Added: func(t *Turn, caps []ds.Value) {
			k, e := get(caps)
			e.supply, e.pending = true, nil
			tidy(k, e)
		},
		Removed: func(t *Turn, caps []ds.Value) {
			k, e := get(caps)
			e.supply = false
			if e.demand && e.pending == nil {
				log.Warn("supply vanished while demand remains", zap.Stringer("demand", k))
				respawn(t, k, e, spec, log, spawn)
			}
			tidy(k, e)
		},
	})
}

// capsText is a capture tuple as logged (formatted only when it is).
type capsText []ds.Value

func (c capsText) String() string { return fmt.Sprint([]ds.Value(c)) }

func respawn(t *Turn, k capsText, e *demandEntry, spec DemandSpec, log *zap.Logger, spawn func(*Turn, capsText, *demandEntry)) {
	if e.gaveUp {
		return
	}
	now := t.Now()
	kept := e.restarts[:0]
	for _, at := range e.restarts {
		if now.Sub(at) < spec.Window {
			kept = append(kept, at)
		}
	}
	e.restarts = kept
	if len(e.restarts) >= spec.MaxRespawns {
		e.gaveUp = true
		log.Error("supplier keeps failing: giving up until demand returns",
			zap.Stringer("demand", k), zap.Int("restarts", len(e.restarts)), zap.Duration("window", spec.Window))
		return
	}
	e.restarts = append(e.restarts, now)
	spawn(t, k, e)
}
