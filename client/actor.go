package client

import (
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/relay/wire"
	"netspace/tcp"

	"go.uber.org/zap"
)

// Handle names one assertion made by a remote actor, for retracting it.
type Handle uint64

// Handler receives the events of one observation, as actors.Handler does
// for a local actor. Any func may be nil.
type Handler struct {
	// Added: a capture tuple became present.
	Added func(t *Turn, captures []ds.Value)
	// Removed: a capture tuple is no longer present.
	Removed func(t *Turn, captures []ds.Value)
	// Message: a matching message arrived; t.Captures() gives its captures.
	Message func(t *Turn, m ds.Record)
}

// Subscription is one observation made with [Turn.Observe].
type Subscription struct {
	id      uint64
	pattern *ds.Pattern
	handler Handler
	dead    bool
}

// Pattern returns the observed pattern.
func (s *Subscription) Pattern() *ds.Pattern { return s.pattern }

// Actor is an actor of this program that lives in the stack's dataspace:
// its turns run here, one at a time, on a mailbox of the client's own
// actor runtime; what they assert, observe and send is committed in the
// stack, as one turn, by the actor's proxy there.
type Actor struct {
	conn  *Conn
	id    uint64
	name  string
	local *actors.Actor

	// Owned by the actor's turns.
	subs      map[uint64]*Subscription
	nextSub   uint64
	announced bool // its proxy exists in the stack
	turn      Turn
	onStop    []func()

	mu      sync.Mutex
	err     error
	ended   bool // the stack ended it, or the link went: no stop to send
	stopped chan struct{}
}

// Name returns the name the actor was spawned with.
func (a *Actor) Name() string { return a.name }

// Err returns why the actor ended, if the stack ended it (a refused turn)
// or the link went; nil otherwise.
func (a *Actor) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// Done is closed once the actor has stopped.
func (a *Actor) Done() <-chan struct{} { return a.stopped }

// Alive reports whether the actor has not yet stopped.
func (a *Actor) Alive() bool { return a.local.Alive() }

// Inject runs fn as a turn of the actor, from any goroutine. It reports
// false if the actor has stopped.
func (a *Actor) Inject(fn func(t *Turn)) bool {
	return a.local.Inject(func(lt *actors.Turn) { a.run(lt, fn) })
}

// Send sends m from outside any turn, as a turn of its own.
func (a *Actor) Send(m ds.Record) { a.Inject(func(t *Turn) { t.Send(m) }) }

// Stop asks the actor to stop, from any goroutine.
func (a *Actor) Stop() { a.Inject(func(t *Turn) { t.Stop() }) }

// Spawn starts a top-level remote actor whose first turn runs boot.
func (c *Conn) Spawn(name string, boot func(t *Turn)) *Actor {
	a := c.newActor(name)
	c.sys.Spawn(name, func(lt *actors.Turn) { a.boot(lt, boot) }) // boot sets a.local
	return a
}

func (c *Conn) newActor(name string) *Actor {
	if name == "" {
		name = "actor"
	}
	a := &Actor{conn: c, id: c.nextID.Add(1), name: name, subs: map[uint64]*Subscription{},
		stopped: make(chan struct{})}
	a.turn.a = a
	return a
}

// boot is the actor's first turn: it joins the link's actors (so events
// and the link's end reach it) and arranges its own end.
func (a *Actor) boot(lt *actors.Turn, fn func(*Turn)) {
	a.local = lt.Actor()
	lt.OnStop(a.stoppedLocally)
	c := a.conn
	c.mu.Lock()
	if err := c.Err(); err != nil {
		a.mu.Lock()
		a.ended, a.err = true, err
		a.mu.Unlock()
	} else {
		c.actors[a.id] = a
	}
	c.mu.Unlock()
	a.mu.Lock()
	ended := a.ended
	a.mu.Unlock()
	if ended {
		lt.Stop()
		return
	}
	a.run(lt, fn)
}

// stoppedLocally runs in the actor's last turn: the stack is told (its
// proxy stops and retracts), and the OnStop functions run.
func (a *Actor) stoppedLocally() {
	a.mu.Lock()
	ended := a.ended
	a.ended = true
	a.mu.Unlock()
	if !ended && a.announced {
		a.conn.sendFrame(&wire.Batch{Actor: a.id, Ops: []wire.Op{{Kind: wire.OpStop}}})
	}
	a.conn.mu.Lock()
	delete(a.conn.actors, a.id)
	a.conn.mu.Unlock()
	for _, f := range a.onStop {
		f()
	}
	a.onStop = nil
	close(a.stopped)
}

// end stops the actor because the stack ended it or the link went.
func (a *Actor) end(err error) {
	a.mu.Lock()
	if a.ended {
		a.mu.Unlock()
		return
	}
	a.ended, a.err = true, err
	a.mu.Unlock()
	a.local.Stop()
}

// event hands one event of the stack to the actor, as a turn.
func (a *Actor) event(ev *wire.Event) {
	a.local.Inject(func(lt *actors.Turn) {
		a.run(lt, func(t *Turn) {
			s := a.subs[ev.Sub]
			if s == nil || s.dead {
				return
			}
			switch ev.Kind {
			case wire.EvAdded:
				if s.handler.Added != nil {
					s.handler.Added(t, ev.Caps)
				}
			case wire.EvRemoved:
				if s.handler.Removed != nil {
					s.handler.Removed(t, ev.Caps)
				}
			case wire.EvMessage:
				if s.handler.Message != nil {
					t.cur, t.msg = s, ev.Msg
					s.handler.Message(t, ev.Msg)
				}
			}
		})
	})
}

// run runs fn as a turn and sends what it did to the stack as one batch.
// A panic discards the turn and stops the actor (fate sharing retracts
// what it asserted in the stack).
func (a *Actor) run(lt *actors.Turn, fn func(*Turn)) {
	t := &a.turn
	t.lt, t.ops, t.stopping, t.cur, t.msg = lt, t.ops[:0], false, nil, nil
	if !a.protect(t, fn) {
		t.ops = t.ops[:0]
		lt.Stop()
		return
	}
	for i := range t.ops {
		switch op := &t.ops[i]; op.Kind {
		case wire.OpObserve:
			a.subs[op.ID] = t.pending[op.ID]
		case wire.OpUnobserve:
			delete(a.subs, op.ID)
		}
	}
	clear(t.pending)
	if t.stopping {
		t.ops = append(t.ops, wire.Op{Kind: wire.OpStop})
		a.mu.Lock()
		a.ended = true // the stop travels with this batch
		a.mu.Unlock()
	}
	if len(t.ops) > 0 {
		b := &wire.Batch{Actor: a.id, Ops: t.ops}
		if !a.announced {
			b.Name = a.name
		}
		frames, err := wire.EncodeBatch(b)
		if err != nil {
			a.conn.log.Warn("actor turn not sendable; stopping the actor", zap.String("actor", a.name), zap.Error(err))
			a.mu.Lock()
			a.err = fmt.Errorf("client: turn not sendable: %w", err)
			a.mu.Unlock()
			lt.Stop()
			return
		}
		a.announced = true
		for _, f := range frames {
			a.conn.node.Sys.Root.Send(a.conn.session, wire.Wrap(f))
		}
	}
	for i := range t.ops {
		t.ops[i] = wire.Op{}
	}
	if t.stopping {
		lt.Stop()
	}
}

func (a *Actor) protect(t *Turn, fn func(*Turn)) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			a.conn.log.Error("actor crashed", zap.String("actor", a.name), zap.Any("panic", r),
				zap.ByteString("stack", debug.Stack()))
			a.mu.Lock()
			a.err = fmt.Errorf("client: actor %s panicked: %v", a.name, r)
			a.mu.Unlock()
			ok = false
		}
	}()
	fn(t)
	return true
}

// Turn is the context of one event handled by one remote actor, with the
// API of actors.Turn: its actions are collected while the handler runs
// and committed in the stack together when it returns.
type Turn struct {
	a        *Actor
	lt       *actors.Turn
	ops      []wire.Op
	pending  map[uint64]*Subscription
	stopping bool
	cur      *Subscription
	msg      ds.Record
}

// Actor returns the actor whose turn this is.
func (t *Turn) Actor() *Actor { return t.a }

// Conn returns the link the actor lives on.
func (t *Turn) Conn() *Conn { return t.a.conn }

// Now returns the time.
func (t *Turn) Now() time.Time { return t.lt.Now() }

// Assert asserts r in the stack from the end of this turn until retracted
// or until the actor stops. r must not be changed afterwards.
func (t *Turn) Assert(r ds.Record) Handle {
	h := Handle(t.a.conn.handles.Add(1))
	t.ops = append(t.ops, wire.Op{Kind: wire.OpAssert, ID: uint64(h), Record: r})
	return h
}

// Retract withdraws an assertion made by this actor.
func (t *Turn) Retract(h Handle) {
	if h != 0 {
		t.ops = append(t.ops, wire.Op{Kind: wire.OpRetract, ID: uint64(h)})
	}
}

// Replace retracts h (if non-zero) and asserts r in its place, returning
// the handle of r.
func (t *Turn) Replace(h Handle, r ds.Record) Handle {
	if h == 0 {
		return t.Assert(r)
	}
	t.ops = append(t.ops, wire.Op{Kind: wire.OpAssert, ID: uint64(h), Record: r})
	return h
}

// Send sends the message m in the stack at the end of this turn. Only
// the user-level messages of tcp and udp may be sent, as the stack's
// allow-list for this client permits.
//
// A tcp-channel message larger than a link frame holds crosses as several
// (a byte stream may be cut anywhere), in the same turn.
func (t *Turn) Send(m ds.Record) {
	if ch, ok := m.(*tcp.Channel); ok && len(ch.Data) > sendChunk {
		for off := 0; off < len(ch.Data); off += sendChunk {
			piece := &tcp.Channel{Src: ch.Src, Dst: ch.Dst, Data: ch.Data[off:min(off+sendChunk, len(ch.Data))]}
			t.ops = append(t.ops, wire.Op{Kind: wire.OpSend, Record: piece})
		}
		return
	}
	t.ops = append(t.ops, wire.Op{Kind: wire.OpSend, Record: m})
}

// sendChunk is the most stream data one action carries.
const sendChunk = 128 << 10

// Observe asserts interest in p in the stack and routes matching events
// to h in later turns of this actor; a new observation is first told
// Added for every matching assertion already present.
func (t *Turn) Observe(p *ds.Pattern, h Handler) *Subscription {
	t.a.nextSub++
	s := &Subscription{id: t.a.nextSub, pattern: p, handler: h}
	if t.pending == nil {
		t.pending = map[uint64]*Subscription{}
	}
	t.pending[s.id] = s
	t.ops = append(t.ops, wire.Op{Kind: wire.OpObserve, ID: s.id, Pattern: p})
	return s
}

// Unobserve ends an observation: no event for it is handled after this
// turn.
func (t *Turn) Unobserve(s *Subscription) {
	if s == nil || s.dead {
		return
	}
	s.dead = true
	t.ops = append(t.ops, wire.Op{Kind: wire.OpUnobserve, ID: s.id})
}

// Spawn creates a remote actor whose first turn runs boot when this turn
// has committed. Unlike a local spawn, the child's first turn reaches the
// stack after this turn's batch: interest the child declares is not yet
// in place when this turn's messages arrive there.
func (t *Turn) Spawn(name string, boot func(t *Turn)) *Actor {
	child := t.a.conn.newActor(name)
	child.local = t.lt.Spawn(name, func(lt *actors.Turn) { child.boot(lt, boot) })
	return child
}

// Stop stops the actor at the end of this turn, after its other actions.
func (t *Turn) Stop() { t.stopping = true }

// OnStop registers f to run when the actor stops, for whatever reason.
func (t *Turn) OnStop(f func()) { t.a.onStop = append(t.a.onStop, f) }

// After runs fn as a turn of this actor once d has passed, unless the
// returned timer is stopped first. Timers end with the actor.
func (t *Turn) After(d time.Duration, fn func(t *Turn)) *actors.ActorTimer {
	a := t.a
	return t.lt.After(d, func(lt *actors.Turn) { a.run(lt, fn) })
}

// Captures returns the captures of the message being handled (nil outside
// a Message handler).
func (t *Turn) Captures() []ds.Value {
	if t.cur == nil {
		return nil
	}
	caps, _ := t.cur.pattern.Match(ds.Rec(t.msg), nil)
	return caps
}
