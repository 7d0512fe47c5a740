package actors

import (
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	ds "netspace/dataspace"

	"go.uber.org/zap"
)

// Actor is one actor: a name, the assertions and observations it holds,
// and a mailbox of events it handles one turn at a time.
type Actor struct {
	sys  *System
	id   uint64
	name string

	// Owned by the actor's turns (one at a time).
	handles   map[Handle]ds.Record
	subs      map[*Subscription]struct{}
	timers    map[*ActorTimer]struct{}
	turn      Turn
	committer committer
	onStop    []func()

	mu      sync.Mutex // guards dead, started and early
	dead    bool
	started bool        // boot turn done; deliveries go to the executor
	early   []*delivery // deliveries that arrived before the boot turn ended
	watch   []func()    // run once the actor has stopped
	state   any         // executor's per-actor state, set before started

	msgLimit atomic.Int64  // 0: unbounded; else most messages queued at once
	queued   atomic.Int64  // messages queued now
	dropped  atomic.Uint64 // messages dropped at the limit
}

// ID returns the actor's unique number.
func (a *Actor) ID() uint64 { return a.id }

// Name returns the name the actor was spawned with.
func (a *Actor) Name() string { return a.name }

func (a *Actor) String() string { return fmt.Sprintf("%s#%d", a.name, a.id) }

// Alive reports whether the actor has not yet stopped.
func (a *Actor) Alive() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.dead
}

// Inject runs fn as a turn of the actor, from any goroutine. It is how
// drivers turn outside events (a frame read, a timer firing) into turns.
// It reports false if the actor has stopped.
func (a *Actor) Inject(fn func(t *Turn)) bool {
	d := deliveryPool.Get().(*delivery)
	d.kind, d.fn = evFunc, fn
	return a.sys.deliver(a, d)
}

// Send routes a message from outside any turn, attributed to this actor:
// a driver's reader goroutine uses it to hand frames straight to their
// observers without a hop through the driver's own mailbox.
func (a *Actor) Send(m ds.Record) {
	c := getCommitter(a)
	c.send(m)
	putCommitter(c)
}

// OnStop registers f to run (in the actor's last turn) when the actor
// stops or crashes. Drivers use it to close devices.
func (t *Turn) OnStop(f func()) { t.actor.onStop = append(t.actor.onStop, f) }

// Watch arranges for f to run, on some goroutine, once a has stopped
// (at once if it already has). f must not block; it typically injects a
// turn into the watching actor.
func (a *Actor) Watch(f func()) {
	a.mu.Lock()
	if a.dead {
		a.mu.Unlock()
		f()
		return
	}
	a.watch = append(a.watch, f)
	a.mu.Unlock()
}

// SetMessageLimit bounds the actor's mailbox for messages: when n
// messages are queued, further ones are dropped and counted (see
// [Actor.Dropped]) instead of growing memory without bound. Assertion
// events and injected turns are never dropped. 0 means unbounded, the
// default.
func (t *Turn) SetMessageLimit(n int) { t.actor.msgLimit.Store(int64(n)) }

// Dropped returns how many messages the actor's limit has dropped.
func (a *Actor) Dropped() uint64 { return a.dropped.Load() }

// Queued returns how many messages wait in the actor's mailbox.
func (a *Actor) Queued() int64 { return a.queued.Load() }

// Stop asks the actor to stop, from any goroutine.
func (a *Actor) Stop() { a.Inject(func(t *Turn) { t.Stop() }) }

type evKind uint8

const (
	evFunc evKind = iota
	evAdded
	evRemoved
	evMessage
)

// delivery is one event in an actor's mailbox.
type delivery struct {
	kind evKind
	sub  *Subscription
	caps []ds.Value
	rec  ds.Record
	fn   func(*Turn)
}

var deliveryPool = sync.Pool{New: func() any { return new(delivery) }}

// handle runs one delivery as a turn. It is called by the executor, one
// delivery at a time per actor.
func (a *Actor) handle(d *delivery) {
	if d.kind == evMessage {
		a.queued.Add(-1)
	}
	if a.isDead() {
		freeDelivery(d)
		return
	}
	t := &a.turn
	t.actions = t.actions[:0]
	t.stopping = false
	if d.sub != nil && d.sub.dead.Load() {
		freeDelivery(d)
		return
	}
	if reason, stack, ok := a.runTurn(t, d); !ok {
		freeDelivery(d)
		a.crash(reason, stack)
		return
	}
	freeDelivery(d)
	a.commit(t)
}

func freeDelivery(d *delivery) {
	*d = delivery{}
	deliveryPool.Put(d)
}

// runTurn calls the handler for d, containing a panic.
func (a *Actor) runTurn(t *Turn, d *delivery) (reason any, stack []byte, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			reason, stack, ok = r, debug.Stack(), false
			t.curSub, t.curMsg = nil, nil
		}
	}()
	switch d.kind {
	case evFunc:
		d.fn(t)
	case evAdded:
		if f := d.sub.handler.Added; f != nil {
			f(t, d.caps)
		}
	case evRemoved:
		if f := d.sub.handler.Removed; f != nil {
			f(t, d.caps)
		}
	case evMessage:
		if f := d.sub.handler.Message; f != nil {
			t.curSub, t.curMsg = d.sub, d.rec
			f(t, d.rec)
			t.curSub, t.curMsg = nil, nil
		}
	}
	return nil, nil, true
}

// boot runs the actor's first turn, synchronously, and commits it.
func (a *Actor) boot(fn func(*Turn)) {
	d := deliveryPool.Get().(*delivery)
	d.kind, d.fn = evFunc, fn
	a.handle(d)
}

func (a *Actor) isDead() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.dead
}

// commit applies the turn's actions; see [Turn].
func (a *Actor) commit(t *Turn) {
	c := &a.committer
	for i := range t.actions {
		if t.actions[i].kind == actObserve {
			c.observe(t.actions[i].sub)
		}
	}
	for i := range t.actions {
		if act := &t.actions[i]; act.kind == actSpawn {
			a.sys.start(act.child, a, act.boot)
		}
	}
	for i := range t.actions {
		act := &t.actions[i]
		switch act.kind {
		case actAssert:
			a.handles[act.h] = act.rec
			c.assert(act.rec)
		case actRetract:
			if r, ok := a.handles[act.h]; ok {
				delete(a.handles, act.h)
				c.retract(r)
			}
		case actSend:
			c.send(act.rec)
		case actUnobserve:
			c.unobserve(act.sub)
		}
		t.actions[i] = action{}
	}
	t.actions = t.actions[:0]
	if t.stopping {
		a.terminate(nil, nil)
	}
}

func (a *Actor) crash(reason any, stack []byte) {
	t := &a.turn
	for i := range t.actions {
		t.actions[i] = action{}
	}
	t.actions = t.actions[:0]
	a.terminate(reason, stack)
}

// terminate ends the actor: its observations end first (it hears nothing
// more), then its assertions are retracted (fate sharing), its timers are
// cancelled and its OnStop functions run.
func (a *Actor) terminate(reason any, stack []byte) {
	a.mu.Lock()
	if a.dead {
		a.mu.Unlock()
		return
	}
	a.dead = true
	watchers := a.watch
	a.watch = nil
	a.mu.Unlock()
	c := &a.committer
	for s := range a.subs {
		c.unobserve(s)
	}
	for h, r := range a.handles {
		delete(a.handles, h)
		c.retract(r)
	}
	for at := range a.timers {
		at.cancelled = true
		at.timer.Stop()
	}
	a.timers = nil
	for _, f := range a.onStop {
		a.safely("on-stop", f)
	}
	a.onStop = nil
	sys := a.sys
	if reason != nil {
		sys.crashes.Add(1)
		sys.log.Error("actor crashed",
			zap.Uint64("actor", a.id), zap.String("name", a.name),
			zap.Any("panic", reason), zap.ByteString("stack", stack))
	} else if sys.tracer.actorsOn() {
		sys.tracer.lifecycle("stop", a)
	}
	sys.forget(a)
	sys.exec.stop(a)
	for _, f := range watchers {
		a.safely("watcher", f)
	}
}

// safely runs f, logging instead of propagating a panic.
func (a *Actor) safely(what string, f func()) {
	defer func() {
		if r := recover(); r != nil {
			a.sys.log.Error("panic in "+what, zap.Uint64("actor", a.id), zap.String("name", a.name),
				zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
		}
	}()
	f()
}

func (a *Actor) after(d time.Duration, fn func(*Turn)) *ActorTimer {
	at := &ActorTimer{actor: a}
	if a.timers == nil {
		a.timers = map[*ActorTimer]struct{}{}
	}
	a.timers[at] = struct{}{}
	at.timer = a.sys.clock.AfterFunc(d, func() {
		a.Inject(func(t *Turn) {
			if at.cancelled {
				return
			}
			at.cancelled = true
			delete(a.timers, at)
			fn(t)
		})
	})
	return at
}

func (a *Actor) dropTimer(at *ActorTimer) { delete(a.timers, at) }
