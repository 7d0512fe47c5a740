package actors

import (
	"runtime/debug"
	"sync"

	ds "netspace/dataspace"

	"go.uber.org/zap"
)

// committer applies one actor's effects to the shared index and turns the
// index's events into deliveries. Assertion changes take the index's write
// lock; messages are routed under the read lock, on the sender's
// goroutine, straight into the observers' mailboxes — many senders route
// concurrently and no goroutine sits in the middle. Deliveries are made
// while the lock is held, so every observer sees events in the order the
// index produced them.
type committer struct {
	actor   *Actor
	count   int          // messages delivered by the last send (for SendNow)
	inlineQ []inlineItem // inline deliveries of the sends in progress
}

// inlineItem is a message for an inline observer, run once the routing
// that found it has released the index.
type inlineItem struct {
	sub *Subscription
	rec ds.Record
}

var committerPool = sync.Pool{New: func() any { return new(committer) }}

func getCommitter(a *Actor) *committer {
	c := committerPool.Get().(*committer)
	c.actor = a
	return c
}

func putCommitter(c *committer) {
	c.actor = nil
	committerPool.Put(c)
}

func (c *committer) assert(r ds.Record) {
	sys := c.actor.sys
	if sys.tracer.on(r) {
		sys.tracer.record("assert", c.actor, r)
	}
	sys.mu.Lock()
	defer sys.mu.Unlock()
	sys.ix.Assert(r, c)
}

func (c *committer) retract(r ds.Record) {
	sys := c.actor.sys
	if sys.tracer.on(r) {
		sys.tracer.record("retract", c.actor, r)
	}
	sys.mu.Lock()
	defer sys.mu.Unlock()
	sys.ix.Retract(r, c)
}

func (c *committer) send(m ds.Record) {
	sys := c.actor.sys
	if sys.tracer.on(m) {
		sys.tracer.record("message", c.actor, m)
	}
	sys.messages.Add(1)
	mark, start := len(c.inlineQ), c.count
	sys.mu.RLock()
	sys.ix.Message(m, c)
	sys.mu.RUnlock()
	mine := c.count - start
	defer func() { c.count = start + mine }() // nested inline sends do not count here
	if end := len(c.inlineQ); end > mark {
		// Inline observers run outside the index lock, in order; their
		// own sends append beyond end and drain before returning.
		for i := mark; i < end; i++ {
			it := c.inlineQ[i]
			c.runInline(it.sub, it.rec)
		}
		clear(c.inlineQ[mark:end])
		c.inlineQ = c.inlineQ[:mark]
	}
}

// runInline calls an inline observer, containing a panic.
func (c *committer) runInline(s *Subscription, m ds.Record) {
	if s.dead.Load() {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			a := s.actor
			a.sys.crashes.Add(1)
			a.sys.log.Error("inline observer crashed",
				zap.Uint64("actor", a.id), zap.String("name", a.name),
				zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
			s.dead.Store(true)
			a.Stop()
		}
	}()
	s.inline(Inline{c}, m)
}

func (c *committer) observe(s *Subscription) {
	a := c.actor
	sys := a.sys
	s.assert = &ds.Observe{Pattern: s.pattern}
	if sys.tracer.on(s.assert) {
		sys.tracer.record("assert", a, s.assert)
	}
	if a.subs == nil {
		a.subs = map[*Subscription]struct{}{}
	}
	a.subs[s] = struct{}{}
	sys.mu.Lock()
	defer sys.mu.Unlock()
	s.obs = sys.ix.AddObserver(s.pattern, s, c)
	sys.ix.Assert(s.assert, c)
}

func (c *committer) unobserve(s *Subscription) {
	if s.dead.Load() {
		return
	}
	s.dead.Store(true)
	a := c.actor
	sys := a.sys
	delete(a.subs, s)
	if sys.tracer.on(s.assert) {
		sys.tracer.record("retract", a, s.assert)
	}
	sys.mu.Lock()
	defer sys.mu.Unlock()
	sys.ix.RemoveObserver(s.obs)
	sys.ix.Retract(s.assert, c)
}

// Added implements dataspace.Sink.
func (c *committer) Added(o *ds.Observer, caps []ds.Value) {
	c.event(o, evAdded, caps, nil)
}

// Removed implements dataspace.Sink.
func (c *committer) Removed(o *ds.Observer, caps []ds.Value) {
	c.event(o, evRemoved, caps, nil)
}

// Message implements dataspace.Sink.
func (c *committer) Message(o *ds.Observer, m ds.Record) {
	c.event(o, evMessage, nil, m)
}

func (c *committer) event(o *ds.Observer, kind evKind, caps []ds.Value, m ds.Record) {
	s := o.Target.(*Subscription)
	a := s.actor
	if s.inline != nil {
		if kind == evMessage {
			c.count++
			c.inlineQ = append(c.inlineQ, inlineItem{s, m})
		}
		return
	}
	if kind == evMessage {
		c.count++
		if lim := a.msgLimit.Load(); lim > 0 && a.queued.Load() >= lim {
			a.dropped.Add(1)
			return
		}
		a.queued.Add(1)
	}
	d := deliveryPool.Get().(*delivery)
	d.kind, d.sub, d.caps, d.rec = kind, s, caps, m
	if !a.sys.deliver(a, d) && kind == evMessage {
		a.queued.Add(-1)
	}
}
