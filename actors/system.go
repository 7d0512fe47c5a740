package actors

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	ds "netspace/dataspace"

	"go.uber.org/zap"
)

// System is one dataspace and the actors that share it.
type System struct {
	mu sync.RWMutex // guards ix
	ix *ds.Index

	exec   executor
	clock  Clock
	log    *zap.Logger
	tracer *Tracer

	nextActor  atomic.Uint64
	nextHandle atomic.Uint64
	messages   atomic.Uint64
	crashes    atomic.Uint64

	liveMu sync.Mutex
	live   map[uint64]*Actor
	gone   chan struct{} // signalled when an actor is forgotten

	closeOnce sync.Once
	closeErr  error
}

// Option configures a System.
type Option func(*config)

type config struct {
	clock         Clock
	log           *zap.Logger
	deterministic bool
	throughput    int
}

// WithClock sets the system's clock (default: the wall clock; a
// deterministic system defaults to a ManualClock at the Unix epoch).
func WithClock(c Clock) Option { return func(cf *config) { cf.clock = c } }

// WithLogger sets the logger for crashes, warnings and traces (default:
// no output).
func WithLogger(l *zap.Logger) Option { return func(cf *config) { cf.log = l } }

// Deterministic makes the system run every turn on the caller's goroutine,
// in a fixed order, when the test calls [System.Quiesce] or
// [System.Advance]: protocol tests need neither sleeps nor goroutines.
func Deterministic() Option { return func(cf *config) { cf.deterministic = true } }

// WithThroughput sets how many turns a protoactor mailbox runs before
// yielding its goroutine (default 300).
func WithThroughput(n int) Option { return func(cf *config) { cf.throughput = n } }

// NewSystem starts an actor system. By default actors run on protoactor-go
// mailboxes, one goroutine per busy actor.
func NewSystem(opts ...Option) *System {
	cf := config{throughput: 300}
	for _, o := range opts {
		o(&cf)
	}
	if cf.log == nil {
		cf.log = zap.NewNop()
	}
	if cf.clock == nil {
		if cf.deterministic {
			cf.clock = NewManualClock(time.Unix(0, 0))
		} else {
			cf.clock = RealClock()
		}
	}
	s := &System{
		ix:    ds.NewIndex(),
		clock: cf.clock,
		log:   cf.log,
		live:  map[uint64]*Actor{},
		gone:  make(chan struct{}, 1),
	}
	s.tracer = newTracer(cf.log)
	if cf.deterministic {
		s.exec = newDetExecutor()
	} else {
		s.exec = newProtoExecutor(cf.log, cf.throughput)
	}
	return s
}

// Clock returns the system's clock.
func (s *System) Clock() Clock { return s.clock }

// Logger returns the system's logger.
func (s *System) Logger() *zap.Logger { return s.log }

// Tracer returns the system's tracer, to switch tracing on per layer.
func (s *System) Tracer() *Tracer { return s.tracer }

// Spawn starts a top-level actor whose first turn runs boot.
func (s *System) Spawn(name string, boot func(t *Turn)) *Actor {
	a := s.newActor(name)
	s.start(a, nil, boot)
	return a
}

func (s *System) newActor(name string) *Actor {
	a := &Actor{
		sys:     s,
		id:      s.nextActor.Add(1),
		name:    name,
		handles: map[Handle]ds.Record{},
	}
	a.committer.actor = a
	a.turn.actor = a
	return a
}

// start registers a with the executor and runs its boot turn on the
// caller's goroutine (the parent's commit), before anything else can
// reach it.
func (s *System) start(a *Actor, parent *Actor, boot func(*Turn)) {
	s.liveMu.Lock()
	s.live[a.id] = a
	s.liveMu.Unlock()
	s.exec.spawn(a)
	if s.tracer.actorsOn() {
		s.tracer.spawn(a, parent)
	}
	a.boot(boot)
	a.mu.Lock()
	a.started = true
	for _, d := range a.early {
		s.exec.deliver(a, d)
	}
	a.early = nil
	a.mu.Unlock()
}

func (s *System) forget(a *Actor) {
	s.liveMu.Lock()
	delete(s.live, a.id)
	s.liveMu.Unlock()
	select {
	case s.gone <- struct{}{}:
	default:
	}
}

// deliver queues d for a; false if a has stopped. Deliveries that arrive
// before a's boot turn has finished wait, in order, until it has.
func (s *System) deliver(a *Actor, d *delivery) bool {
	a.mu.Lock()
	if a.dead {
		a.mu.Unlock()
		freeDelivery(d)
		return false
	}
	if !a.started {
		a.early = append(a.early, d)
		a.mu.Unlock()
		return true
	}
	a.mu.Unlock()
	s.exec.deliver(a, d)
	return true
}

// Live returns the number of actors that have not stopped.
func (s *System) Live() int {
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	return len(s.live)
}

// Actors returns the names of the live actors, for diagnostics and leak
// tests.
func (s *System) Actors() []string {
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	names := make([]string, 0, len(s.live))
	for _, a := range s.live {
		names = append(names, a.String())
	}
	sort.Strings(names)
	return names
}

// Stats are cumulative counters of a system.
type Stats struct {
	Live       int    // actors alive now
	Spawned    uint64 // actors ever spawned
	Crashes    uint64 // actors that panicked
	Messages   uint64 // messages routed
	Assertions int    // distinct assertions present
	Observers  int    // observations registered
}

// Stats returns a snapshot of the system's counters.
func (s *System) Stats() Stats {
	st := Stats{Live: s.Live(), Spawned: s.nextActor.Load(), Crashes: s.crashes.Load(), Messages: s.messages.Load()}
	s.mu.RLock()
	st.Assertions, st.Observers = s.ix.Len(), s.ix.Observers()
	s.mu.RUnlock()
	return st
}

// Count returns how many times r is asserted right now (for tests and
// diagnostics).
func (s *System) Count(r ds.Record) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ix.Count(r)
}

// Quiesce runs queued turns until none are left (deterministic systems
// only). It panics after a million turns, which means a livelock.
func (s *System) Quiesce() {
	d, ok := s.exec.(*detExecutor)
	if !ok {
		panic("actors: Quiesce needs a Deterministic system")
	}
	d.runAll(1_000_000)
}

// Advance moves a deterministic system's ManualClock forward by dur, firing
// timers in deadline order and running the turns each one causes to
// quiescence before the next fires.
func (s *System) Advance(dur time.Duration) {
	mc, ok := s.clock.(*ManualClock)
	if !ok {
		panic("actors: Advance needs a ManualClock")
	}
	s.Quiesce()
	target := mc.Now().Add(dur)
	for {
		next, ok := mc.Next()
		if !ok || next.After(target) {
			break
		}
		mc.Set(next)
		s.Quiesce()
	}
	mc.Set(target)
	s.Quiesce()
}

// Close stops every actor (retracting everything they asserted) and shuts
// the executor down. It waits up to timeout for actors to finish their
// current turns. Closing twice returns the first result.
func (s *System) Close(timeout time.Duration) error {
	s.closeOnce.Do(func() { s.closeErr = s.close(timeout) })
	return s.closeErr
}

func (s *System) close(timeout time.Duration) error {
	s.liveMu.Lock()
	all := make([]*Actor, 0, len(s.live))
	for _, a := range s.live {
		all = append(all, a)
	}
	s.liveMu.Unlock()
	for _, a := range all {
		a.Stop()
	}
	if d, ok := s.exec.(*detExecutor); ok {
		d.runAll(1_000_000)
	} else {
		deadline := time.NewTimer(timeout)
		defer deadline.Stop()
		for s.Live() > 0 {
			select {
			case <-s.gone:
			case <-deadline.C:
				n := s.Live()
				s.exec.shutdown()
				return fmt.Errorf("actors: %d actors still running after %v", n, timeout)
			}
		}
	}
	s.exec.shutdown()
	return nil
}

// Idle reports whether a deterministic system has no turns queued.
func (s *System) Idle() bool {
	d, ok := s.exec.(*detExecutor)
	if !ok {
		panic("actors: Idle needs a Deterministic system")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.head == len(d.queue)
}

// QuiesceAll runs deterministic systems that feed each other (two stacks
// joined by an in-memory wire) until none has a turn queued.
func QuiesceAll(systems ...*System) {
	for round := 0; ; round++ {
		if round > 1_000_000 {
			panic("actors: no quiescence across systems (livelock?)")
		}
		idle := true
		for _, s := range systems {
			if !s.Idle() {
				idle = false
				s.Quiesce()
			}
		}
		if idle {
			return
		}
	}
}

// AdvanceAll moves a ManualClock shared by deterministic systems forward by
// d, firing timers in deadline order and quiescing every system after each.
func AdvanceAll(clock *ManualClock, d time.Duration, systems ...*System) {
	QuiesceAll(systems...)
	target := clock.Now().Add(d)
	for {
		next, ok := clock.Next()
		if !ok || next.After(target) {
			break
		}
		clock.Set(next)
		QuiesceAll(systems...)
	}
	clock.Set(target)
	QuiesceAll(systems...)
}
