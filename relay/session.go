package relay

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/relay/wire"
	"netspace/tcp"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"
)

// session is one connected client: a protoactor actor on the link that
// receives its frames, and one proxy actor in the stack's dataspace per
// remote actor, which asserts, observes and sends on its behalf. When the
// session ends — the client says bye, falls silent past the heartbeat,
// its connection drops, or the stack closes — every proxy stops, and
// fate sharing retracts everything they asserted: listeners close,
// connections reset, nothing of the client stays in the stack.
type session struct {
	srv    *Server
	cred   *Credential
	id     string
	prefix string
	reply  *actor.PID
	hello  *wire.Hello
	pid    *actor.PID
	log    *zap.Logger

	lastSeen atomic.Int64 // unix nanoseconds of the last frame
	sent     atomic.Uint64
	acked    atomic.Uint64
	pending  atomic.Int64 // injected turns not yet run
	refusals atomic.Uint64
	dead     atomic.Bool
	timer    *time.Timer

	// Owned by the session's protoactor goroutine.
	partials     map[uint64]*partial
	partialBytes int

	mu      sync.Mutex // guards proxies
	proxies map[uint64]*proxy
	dropped uint64 // proxy drops of proxies that have stopped
}

// proxy is one remote actor's stand-in in the stack. Its maps belong to
// its turns; live counts the assertions and observations the session has
// let it make (kept on the session's goroutine, to bound them).
type proxy struct {
	s       *session
	id      uint64
	actor   *actors.Actor
	handles map[uint64]actors.Handle
	subs    map[uint64]*actors.Subscription
	live    int
	pending atomic.Int64 // its turns injected and not yet run
}

func newSession(srv *Server, cred *Credential, id string, reply *actor.PID, h *wire.Hello) *session {
	return &session{
		srv: srv, cred: cred, id: id, prefix: id[:12] + "/", reply: reply, hello: h,
		log:     srv.log.With(zap.String("session", id[:12]), zap.String("credential", cred.Name), zap.String("client", h.Name)),
		proxies: map[uint64]*proxy{},
	}
}

func (ss *session) start() {
	ss.lastSeen.Store(time.Now().UnixNano())
	pid, err := ss.srv.node.Sys.Root.SpawnNamed(actor.PropsFromFunc(ss.receive), ss.id)
	if err != nil {
		ss.end("spawn: "+err.Error(), nil)
		return
	}
	ss.pid = pid
	hb := ss.srv.cfg.Heartbeat
	ss.send(&wire.Welcome{Session: ss.id, Prefix: ss.prefix, Interval: hb / 4, Timeout: hb, Window: ss.srv.cfg.Window})
	ss.timer = time.AfterFunc(time.Hour, ss.beat)
	ss.timer.Reset(hb / 4)
	ss.log.Info("actor link: session opened")
}

// beat runs every quarter heartbeat: it ends a silent session and tells
// the client the stack is alive.
func (ss *session) beat() {
	if ss.dead.Load() {
		return
	}
	hb := ss.srv.cfg.Heartbeat
	if time.Since(time.Unix(0, ss.lastSeen.Load())) > hb {
		ss.end("no heartbeat", &ss.srv.c.timeouts)
		return
	}
	ss.send(&wire.Heartbeat{})
	ss.timer.Reset(hb / 4)
}

// send sends a frame to the client.
func (ss *session) send(f any) int {
	b, err := wire.Encode(f)
	if err != nil {
		ss.log.Warn("actor link: frame not encodable", zap.Error(err))
		return 0
	}
	ss.srv.node.Sys.Root.Send(ss.reply, wire.Wrap(b))
	return len(b)
}

// end ends the session once; it reports whether this call did.
func (ss *session) end(reason string, counter *atomic.Uint64) bool {
	if ss.dead.Swap(true) {
		return false
	}
	if counter != nil {
		counter.Add(1)
	}
	if ss.timer != nil {
		ss.timer.Stop()
	}
	ss.mu.Lock()
	ps := ss.proxies
	ss.proxies = map[uint64]*proxy{}
	ss.mu.Unlock()
	for _, p := range ps {
		p.actor.Stop()
	}
	ss.send(&wire.Bye{Reason: reason})
	if ss.pid != nil {
		ss.srv.node.Sys.Root.Stop(ss.pid)
	}
	ss.srv.forget(ss)
	ss.log.Info("actor link: session ended", zap.String("reason", reason), zap.Int("actors", len(ps)))
	return true
}

func (ss *session) proxyDrops() uint64 {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	n := ss.dropped
	for _, p := range ss.proxies {
		n += p.actor.Dropped()
	}
	return n
}

// receive handles the client's frames, in order, on the session's
// protoactor goroutine.
func (ss *session) receive(ctx actor.Context) {
	frame := wire.Unwrap(ctx.Message())
	if frame == nil || ss.dead.Load() {
		return
	}
	ss.lastSeen.Store(time.Now().UnixNano())
	f, err := wire.Decode(frame, wire.DefaultRegistry)
	if err != nil {
		ss.refuseTurn(0, "malformed frame: "+err.Error())
		return
	}
	switch f := f.(type) {
	case *wire.Batch:
		if f = ss.reassemble(f, len(frame)); f != nil {
			ss.batch(f)
		}
	case *wire.Heartbeat:
		if f.Acked > ss.acked.Load() && f.Acked <= ss.sent.Load() {
			ss.acked.Store(f.Acked)
		}
	case *wire.Bye:
		ss.end("client said bye: "+f.Reason, nil)
	default:
		ss.refuseTurn(0, fmt.Sprintf("unexpected %T", f))
	}
}

// refuseTurn refuses a turn of actor id (0: a frame of no actor): nothing
// of it reaches the dataspace, the actor's proxy stops (its earlier
// assertions are retracted, as when a local actor crashes), and the
// client is told.
func (ss *session) refuseTurn(id uint64, reason string) {
	ss.srv.c.refusedTurns.Add(1)
	if n := ss.refusals.Add(1); logSome(n) {
		ss.log.Warn("actor link: turn refused", zap.Uint64("actor", id), zap.String("reason", reason),
			zap.Uint64("refusals", n))
	}
	if id == 0 {
		return
	}
	ss.mu.Lock()
	p := ss.proxies[id]
	delete(ss.proxies, id)
	if p != nil {
		ss.dropped += p.actor.Dropped()
	}
	ss.mu.Unlock()
	if p != nil {
		p.actor.Stop()
	}
	ss.send(&wire.ActorEnd{Actor: id, Reason: "refused: " + reason})
}

// maxPartialBytes bounds the frames of unfinished turns a session holds.
const maxPartialBytes = 2 * wire.MaxTurnBytes

// partial is a turn whose batches have not all arrived.
type partial struct {
	name  string
	ops   []wire.Op
	bytes int
}

// reassemble collects the batches of a turn too large for one frame; it
// returns the whole turn once its last batch has arrived, else nil.
func (ss *session) reassemble(b *wire.Batch, size int) *wire.Batch {
	pt := ss.partials[b.Actor]
	if pt == nil && !b.More {
		return b
	}
	if pt == nil {
		if ss.partials == nil {
			ss.partials = map[uint64]*partial{}
		}
		pt = &partial{name: b.Name}
		ss.partials[b.Actor] = pt
	}
	pt.ops = append(pt.ops, b.Ops...)
	pt.bytes += size
	ss.partialBytes += size
	if pt.bytes > wire.MaxTurnBytes || len(pt.ops) > 16*wire.MaxOps || ss.partialBytes > maxPartialBytes {
		ss.partialBytes -= pt.bytes
		delete(ss.partials, b.Actor)
		ss.refuseTurn(b.Actor, "turn too large")
		return nil
	}
	if b.More {
		return nil
	}
	ss.partialBytes -= pt.bytes
	delete(ss.partials, b.Actor)
	return &wire.Batch{Actor: b.Actor, Name: pt.name, Ops: pt.ops}
}

// check applies the credential's allow-list and the limits to a turn.
func (ss *session) check(b *wire.Batch, p *proxy) string {
	pol, own := ss.cred.Allow, ss.prefix
	live := 0
	if p != nil {
		live = p.live
	}
	for i := range b.Ops {
		op := &b.Ops[i]
		switch op.Kind {
		case wire.OpObserve:
			if !pol.AllowObserve(op.Pattern, own) {
				return "not allowed to observe " + op.Pattern.String()
			}
			live++
		case wire.OpAssert:
			if !pol.AllowAssert(op.Record, own) {
				return "not allowed to assert " + ds.FormatRecord(op.Record)
			}
			live++
		case wire.OpSend:
			if !wire.DefaultRegistry.Sendable(op.Record.Label()) {
				return op.Record.Label().Name + " is not a message remote actors may send"
			}
			if !pol.AllowSend(op.Record, own) {
				return "not allowed to send " + ds.FormatRecord(op.Record)
			}
		case wire.OpUnobserve, wire.OpRetract:
			live--
		}
	}
	if live > ss.srv.cfg.MaxHandles {
		return fmt.Sprintf("more than %d assertions and observations", ss.srv.cfg.MaxHandles)
	}
	if p != nil {
		p.live = max(live, 0)
	}
	return ""
}

// batch commits one remote turn through the actor's proxy, or refuses it
// whole.
func (ss *session) batch(b *wire.Batch) {
	ss.mu.Lock()
	p := ss.proxies[b.Actor]
	n := len(ss.proxies)
	ss.mu.Unlock()
	if p == nil && b.Name == "" {
		return // a late turn of an actor that has ended
	}
	if p == nil && n >= ss.srv.cfg.MaxActors {
		ss.refuseTurn(b.Actor, fmt.Sprintf("more than %d actors", ss.srv.cfg.MaxActors))
		return
	}
	if reason := ss.check(b, p); reason != "" {
		ss.refuseTurn(b.Actor, reason)
		return
	}
	if ss.pending.Add(1) > int64(ss.srv.cfg.MaxPending) {
		ss.end(fmt.Sprintf("over %d turns pending", ss.srv.cfg.MaxPending), &ss.srv.c.overloads)
		return
	}
	ss.srv.c.turns.Add(1)
	if p != nil {
		p.pending.Add(1)
		ok := p.actor.Inject(func(t *actors.Turn) {
			p.pending.Add(-1)
			ss.pending.Add(-1)
			p.apply(t, b.Ops)
		})
		if !ok {
			p.pending.Add(-1)
			ss.pending.Add(-1)
		}
		return
	}
	p = &proxy{s: ss, id: b.Actor, handles: map[uint64]actors.Handle{}, subs: map[uint64]*actors.Subscription{}}
	ss.check(b, p) // count its first turn
	ss.mu.Lock()
	ss.proxies[b.Actor] = p
	ss.mu.Unlock()
	name := fmt.Sprintf("remote:%s:%s", ss.cred.Name, b.Name)
	p.actor = ss.srv.sys.Spawn(name, func(t *actors.Turn) {
		ss.pending.Add(-1)
		t.SetMessageLimit(ss.srv.cfg.MessageLimit)
		p.apply(t, b.Ops)
	})
	p.actor.Watch(func() {
		// Turns still queued for a stopped proxy never run.
		ss.pending.Add(-p.pending.Swap(0))
		if ss.dead.Load() {
			return
		}
		ss.mu.Lock()
		gone := ss.proxies[b.Actor] == p
		if gone {
			delete(ss.proxies, b.Actor)
			ss.dropped += p.actor.Dropped()
		}
		ss.mu.Unlock()
		if gone {
			// The proxy stopped on its own (the client's actor stopped).
			ss.send(&wire.ActorEnd{Actor: b.Actor, Reason: "stopped"})
		}
	})
}

// apply runs a remote turn's actions in the proxy's turn.
func (p *proxy) apply(t *actors.Turn, ops []wire.Op) {
	for i := range ops {
		op := &ops[i]
		switch op.Kind {
		case wire.OpObserve:
			if old := p.subs[op.ID]; old != nil {
				t.Unobserve(old)
			}
			p.subs[op.ID] = t.Observe(op.Pattern, p.handler(op.ID))
		case wire.OpUnobserve:
			t.Unobserve(p.subs[op.ID])
			delete(p.subs, op.ID)
		case wire.OpAssert:
			p.handles[op.ID] = t.Replace(p.handles[op.ID], op.Record)
		case wire.OpRetract:
			if h, ok := p.handles[op.ID]; ok {
				t.Retract(h)
				delete(p.handles, op.ID)
			}
		case wire.OpSend:
			t.Send(op.Record)
		case wire.OpStop:
			t.Stop()
		}
	}
}

// handler forwards the events of one subscription to the client.
func (p *proxy) handler(sub uint64) actors.Handler {
	return actors.Handler{
		Added: func(t *actors.Turn, caps []ds.Value) {
			p.s.event(t, &wire.Event{Actor: p.id, Sub: sub, Kind: wire.EvAdded, Caps: caps})
		},
		Removed: func(t *actors.Turn, caps []ds.Value) {
			p.s.event(t, &wire.Event{Actor: p.id, Sub: sub, Kind: wire.EvRemoved, Caps: caps})
		},
		Message: func(t *actors.Turn, m ds.Record) {
			p.s.event(t, &wire.Event{Actor: p.id, Sub: sub, Kind: wire.EvMessage, Msg: m})
		},
	}
}

// eventChunk is the most stream data one event carries.
const eventChunk = 128 << 10

// event sends one event to the client. Messages count against the
// client's window: past it they are dropped and counted, and a TCP
// connection whose data is dropped is aborted rather than left with a
// hole in its stream. Assertion events are never dropped (they are few,
// and bounded by what the dataspace holds).
func (ss *session) event(t *actors.Turn, ev *wire.Event) {
	if ss.dead.Load() {
		return
	}
	// A connection hands its user all it has read in one message (up to
	// its receive buffer); a stream may be cut anywhere, so it crosses
	// in pieces that fit a frame.
	if ch, ok := ev.Msg.(*tcp.Channel); ok && len(ch.Data) > eventChunk {
		for off := 0; off < len(ch.Data); off += eventChunk {
			piece := &tcp.Channel{Src: ch.Src, Dst: ch.Dst, Data: ch.Data[off:min(off+eventChunk, len(ch.Data))]}
			ss.event(t, &wire.Event{Actor: ev.Actor, Sub: ev.Sub, Kind: ev.Kind, Msg: piece})
		}
		return
	}
	b, err := wire.Encode(ev)
	if err != nil {
		ss.log.Warn("actor link: event not encodable", zap.Error(err))
		return
	}
	if ev.Kind == wire.EvMessage && ss.sent.Load()-ss.acked.Load()+uint64(len(b)) > uint64(ss.srv.cfg.Window) {
		ss.srv.c.windowDrops.Add(1)
		if ch, ok := ev.Msg.(*tcp.Channel); ok {
			ss.srv.c.windowAborts.Add(1)
			t.Send(&tcp.Close{Remote: ch.Src, Local: ch.Dst, How: tcp.CloseAbort})
		}
		return
	}
	ss.sent.Add(uint64(len(b)))
	ss.srv.c.events.Add(1)
	ss.srv.c.eventBytes.Add(uint64(len(b)))
	ss.srv.node.Sys.Root.Send(ss.reply, wire.Wrap(b))
}
