package actors

import (
	"sync/atomic"
	"time"

	ds "netspace/dataspace"
)

// Handle names one assertion made by an actor, for retracting it.
type Handle uint64

// Handler receives the events of one observation. Any func may be nil.
type Handler struct {
	// Added: a capture tuple became present.
	Added func(t *Turn, captures []ds.Value)
	// Removed: a capture tuple is no longer present.
	Removed func(t *Turn, captures []ds.Value)
	// Message: a matching message arrived; t.Captures() gives its captures.
	Message func(t *Turn, m ds.Record)
}

// Subscription is one observation made with [Turn.Observe] or
// [Turn.ObserveInline].
type Subscription struct {
	actor   *Actor
	pattern *ds.Pattern
	handler Handler
	inline  func(in Inline, m ds.Record)
	obs     *ds.Observer
	assert  *ds.Observe
	dead    atomic.Bool // read by inline senders on any goroutine
}

// Pattern returns the observed pattern.
func (s *Subscription) Pattern() *ds.Pattern { return s.pattern }

type actionKind uint8

const (
	actAssert actionKind = iota
	actRetract
	actSend
	actObserve
	actUnobserve
	actSpawn
)

type action struct {
	kind  actionKind
	rec   ds.Record
	h     Handle
	sub   *Subscription
	child *Actor
	boot  func(*Turn)
}

// Turn is the context of one event handled by one actor. Its actions are
// collected while the handler runs and committed together when it
// returns: observations first, then spawns (each new actor's boot turn,
// with its own observations), then assertions, retractions and messages
// in the order they were made, and finally a stop. So interest declared in
// a turn — by the actor or by the actors it spawns — is in place before
// any message of the turn leaves: a reply can never overtake the
// subscription waiting for it. A handler that panics
// commits nothing: the actor crashes and everything it asserted is
// retracted.
type Turn struct {
	actor    *Actor
	actions  []action
	stopping bool
	// current message event, for Captures
	curSub *Subscription
	curMsg ds.Record
}

// Actor returns the actor whose turn this is.
func (t *Turn) Actor() *Actor { return t.actor }

// System returns the actor's system.
func (t *Turn) System() *System { return t.actor.sys }

// Now returns the system clock's current time.
func (t *Turn) Now() time.Time { return t.actor.sys.clock.Now() }

// Pending returns how many messages wait in the actor's mailbox behind
// this turn. An actor can use it to batch: defer costly output while more
// input is coming, and produce it once when the burst ends (the TCP
// connection actor acknowledges a burst of segments with one ACK).
func (t *Turn) Pending() int { return int(t.actor.queued.Load()) }

// Assert asserts r from the end of this turn until retracted or until the
// actor stops. r must not be changed afterwards.
func (t *Turn) Assert(r ds.Record) Handle {
	h := Handle(t.actor.sys.nextHandle.Add(1))
	t.actions = append(t.actions, action{kind: actAssert, rec: r, h: h})
	return h
}

// Retract withdraws an assertion made by this actor. Retracting a handle
// twice, or one that is not the actor's, does nothing.
func (t *Turn) Retract(h Handle) {
	t.actions = append(t.actions, action{kind: actRetract, h: h})
}

// Replace retracts h (if non-zero) and asserts r, returning r's handle: the
// usual way to update a fact.
func (t *Turn) Replace(h Handle, r ds.Record) Handle {
	if h != 0 {
		t.Retract(h)
	}
	return t.Assert(r)
}

// Send sends the message m at the end of this turn.
func (t *Turn) Send(m ds.Record) {
	t.actions = append(t.actions, action{kind: actSend, rec: m})
}

// SendNow routes the message m at once, not at the end of the turn, and
// returns how many observers it reached. It is for stateless demultiplexers
// that must know whether anybody claimed a message (the TCP codec answers
// a segment nobody claims with a reset); everything else uses Send.
func (t *Turn) SendNow(m ds.Record) int {
	c := &t.actor.committer
	c.count = 0
	c.send(m)
	return c.count
}

// Observe asserts interest in p (as Observe{p}) and routes matching events
// to h in later turns of this actor. A new observation is first told
// Added for every matching assertion already present.
func (t *Turn) Observe(p *ds.Pattern, h Handler) *Subscription {
	s := &Subscription{actor: t.actor, pattern: p, handler: h}
	t.actions = append(t.actions, action{kind: actObserve, sub: s})
	return s
}

// ObserveInline asserts interest in p, as Observe does, but hands every
// matching message to fn synchronously, on the sending goroutine, as part
// of the send: no mailbox, no turn. It is for the stateless stages of a
// pipeline — decode a header, look a route up in a snapshot, write a
// frame — so that a packet crosses layers without waking a goroutine per
// layer. fn may run on many goroutines at once; it must not block, must
// not touch its actor's turn state (publish what it needs through an
// atomic snapshot), and may only send messages, or hand work to its actor
// with Actor.Inject. Assertions are not delivered to inline observers. A
// panic in fn is contained: logged, and the actor is stopped.
func (t *Turn) ObserveInline(p *ds.Pattern, fn func(in Inline, m ds.Record)) *Subscription {
	s := &Subscription{actor: t.actor, pattern: p, inline: fn}
	t.actions = append(t.actions, action{kind: actObserve, sub: s})
	return s
}

// Inline is what an inline observer may do: send messages, at once.
type Inline struct{ c *committer }

// Send routes m now, on the calling goroutine.
func (in Inline) Send(m ds.Record) { in.c.send(m) }

// SendNow routes m now and returns how many observers it reached.
func (in Inline) SendNow(m ds.Record) int {
	before := in.c.count
	in.c.count = 0
	in.c.send(m)
	n := in.c.count
	in.c.count = before
	return n
}

// Now returns the system clock's time.
func (in Inline) Now() time.Time { return in.c.actor.sys.clock.Now() }

// Unobserve ends an observation: no event for it is handled after this
// turn, and its Observe assertion is retracted.
func (t *Turn) Unobserve(s *Subscription) {
	if s == nil || s.actor != t.actor {
		return
	}
	t.actions = append(t.actions, action{kind: actUnobserve, sub: s})
}

// Spawn creates an actor whose first turn runs boot when this turn
// commits, before any other event can reach it: whatever boot asserts and
// observes is in place at once, and values handed to boot (such as the
// packet that caused the spawn) cannot be lost.
func (t *Turn) Spawn(name string, boot func(t *Turn)) *Actor {
	child := t.actor.sys.newActor(name)
	t.actions = append(t.actions, action{kind: actSpawn, child: child, boot: boot})
	return child
}

// Stop stops the actor at the end of this turn, after its other actions:
// its observations end and its assertions are retracted.
func (t *Turn) Stop() { t.stopping = true }

// Captures returns the captures of the message being handled (nil outside
// a Message handler).
func (t *Turn) Captures() []ds.Value {
	if t.curSub == nil || t.curSub.obs == nil {
		return nil
	}
	return t.curSub.obs.Captures(t.curMsg)
}

// After runs fn as a turn of this actor once d has passed on the system
// clock, unless the returned timer is stopped first. Timers end with the
// actor. This is the per-actor timer that protocol state machines use for
// retransmission; package timer offers the same service as records.
func (t *Turn) After(d time.Duration, fn func(t *Turn)) *ActorTimer {
	return t.actor.after(d, fn)
}

// ActorTimer is a pending [Turn.After] call.
type ActorTimer struct {
	actor     *Actor
	timer     Timer
	cancelled bool
}

// Stop cancels the timer. Called from a turn of the owning actor, it
// guarantees fn will not run, even if the clock has already fired.
func (at *ActorTimer) Stop() {
	if at == nil || at.cancelled {
		return
	}
	at.cancelled = true
	at.timer.Stop()
	at.actor.dropTimer(at)
}
