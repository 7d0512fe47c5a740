package tcp

import (
	"fmt"
	"net/netip"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"

	"go.uber.org/zap"
)

// connSpec describes a connection actor to start.
type connSpec struct {
	local, remote       netip.AddrPort // active opens: local port 0, allocated at boot
	localRec, remoteRec ds.Record      // user-level names: tcp-listener/tcp-handle, tcp-address
	passive             bool
	open                func(c *Conn, now time.Time) // passive: AcceptSYN or AcceptCookie
}

// connActor is the thin actor around a Conn: it feeds it segments, user
// data and time, and publishes what it decides — segments as ip-packet
// messages, data as tcp-channel messages, its state as the tcp-connection
// assertion, send-buffer space as tcp-writable grants.
type connActor struct {
	l    *layer
	spec connSpec
	c    *Conn
	log  *zap.Logger

	localPat, remotePat *ds.Pattern
	state               string
	states              map[string]bool // states asserted
	granted             int             // send space granted to the user and not yet used
	specific            bool
	specificSeen        bool
	wildcard            bool
	accepted            bool
	tmr                 *actors.ActorTimer
	tmrAt               time.Time
	stopping            bool
	closeAsked          bool // the user sent tcp-close
	burst               int  // segments input while output is held
}

// maxBurst bounds how many segments one ACK may cover (RFC 5681 §4.2
// asks for an ACK every second full-sized segment; receive offload
// stretches that to a burst, as here, never to more than this).
const maxBurst = 16

// spawnConn starts a connection actor as a child of t's actor.
func (l *layer) spawnConn(t *actors.Turn, spec connSpec) *actors.Actor {
	a := &connActor{l: l, spec: spec}
	return t.Spawn(connName(spec), a.boot)
}

// spawnConnIn starts a connection actor in sys from any goroutine: its
// boot turn runs before this returns.
func (l *layer) spawnConnIn(sys *actors.System, spec connSpec) *actors.Actor {
	a := &connActor{l: l, spec: spec}
	return sys.Spawn(connName(spec), a.boot)
}

func connName(spec connSpec) string { return fmt.Sprintf("tcp:%v-%v", spec.remote, spec.local) }

func (a *connActor) boot(t *actors.Turn) {
	a.l.stats.Active.Add(1)
	me := t.Actor()
	t.OnStop(func() {
		if a.c != nil && !a.c.Done() && a.c.State().synchronized() && a.c.State() != TimeWait {
			// The actor ends (a crash, or the stack stopping) with the
			// connection open: reset the peer rather than leave it hanging.
			a.c.Abort(t.Now())
			for i, segs := 0, a.c.TakeSegments(); i < len(segs); i++ {
				me.Send(encode(a.spec.local, a.spec.remote, &segs[i]))
			}
			a.l.stats.ResetsOnStop.Add(1)
		}
		a.l.stats.Active.Add(-1)
		a.l.stats.MailboxDropped.Add(me.Dropped())
		if a.c != nil {
			st := a.c.Stats()
			a.l.stats.Retransmits.Add(st.Retransmits)
			a.l.stats.Timeouts.Add(st.Timeouts)
			a.l.stats.ChallengeACKs.Add(st.ChallengeACKs)
		}
	})
	t.SetMessageLimit(a.l.cfg.MessageLimit)
	a.log = t.System().Logger().Named("tcp")
	a.localPat, a.remotePat = userPattern(a.spec.localRec), userPattern(a.spec.remoteRec)
	R, L := a.remotePat, a.localPat
	t.Observe(ds.RecordPattern(LabelChannel, L, R, ds.CaptureAny), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) { a.write(t, m.(*Channel).Data) },
	})
	t.Observe(ds.RecordPattern(LabelConsumed, R, L, ds.CaptureAny), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) {
			if a.c != nil {
				a.c.Consumed(t.Now(), m.(*Consumed).N)
				a.flush(t)
			}
		},
	})
	t.Observe(ds.RecordPattern(LabelClose, R, L, ds.CaptureAny), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) {
			a.closeAsked = true
			a.close(t, m.(*Close).How)
		},
	})
	t.Observe(ds.RecordPattern(LabelSet, R, L, ds.CaptureAny, ds.CaptureAny), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) { a.set(t, m.(*Set)) },
	})
	// Is the user there? Specific interest in this connection's data...
	t.Observe(ds.ObservePattern(ds.RecordPattern(LabelChannel, R, L, ds.Discard)), actors.Handler{
		Added: func(t *actors.Turn, _ []ds.Value) {
			a.specific, a.specificSeen = true, true
			a.flush(t)
		},
		Removed: func(t *actors.Turn, _ []ds.Value) {
			a.specific = false
			// The user went away. Having asked to close, it closes as it
			// asked (RFC 9293 §3.10.4); vanishing without a word — a crash
			// — aborts, so the peer learns at once (a RST).
			if a.closeAsked {
				a.close(t, CloseBoth)
			} else {
				a.close(t, CloseAbort)
			}
		},
	})
	if a.spec.passive {
		// ... or a listener's interest in every connection on the port.
		t.Observe(ds.ObservePattern(ds.RecordPattern(LabelChannel, ds.Captured, L, ds.Discard)), actors.Handler{
			Added: func(t *actors.Turn, _ []ds.Value) {
				a.wildcard = true
				a.flush(t)
			},
			Removed: func(t *actors.Turn, _ []ds.Value) {
				a.wildcard = false
				if !a.specificSeen {
					a.close(t, CloseAbort) // nobody will ever read it
				}
			},
		})
		a.start(t, a.spec.local)
		return
	}
	// Active open: a local port first.
	a.setState(t, StateConnecting)
	if !a.spec.local.Addr().IsValid() {
		a.log.Warn("no local address to connect from", zap.Stringer("remote", a.spec.remote))
		a.setState(t, StateAborted)
		a.stopping = true
		a.maybeStop(t)
		return
	}
	id := ds.String(fmt.Sprintf("conn-%d", t.Actor().ID()))
	var sub *actors.Subscription
	sub = t.Observe(portallocReply(id), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) {
			t.Unobserve(sub)
			port := portallocPort(m)
			if port == 0 {
				a.log.Warn("no local port for a connection", zap.Stringer("remote", a.spec.remote))
				a.setState(t, StateAborted)
				a.stopping = true
				a.maybeStop(t)
				return
			}
			t.Assert(&PortInUse{Port: port})
			a.start(t, netip.AddrPortFrom(a.spec.local.Addr(), port))
		},
	})
	t.Send(portallocRequest(id))
}

// start creates the connection once both ends are known and opens it.
func (a *connActor) start(t *actors.Turn, local netip.AddrPort) {
	if a.stopping {
		return
	}
	now := t.Now()
	a.spec.local = local
	cfg := a.l.cfg.Conn
	a.c = NewConn(cfg, local, a.spec.remote, a.l.isn.ISN(local, a.spec.remote, now), now)
	t.Observe(PacketPattern(a.spec.remote, local), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) {
			now := t.Now()
			// While more segments wait behind this one, hold the output:
			// the burst gets one ACK and one delivery to the user.
			if !a.c.held && t.Pending() > 0 {
				a.c.Hold(now, true)
			}
			a.c.Input(now, &m.(*Packet).Seg)
			if a.c.held {
				if a.burst++; t.Pending() > 0 && a.burst < maxBurst {
					return
				}
			}
			a.flush(t) // releases the hold
		},
	})
	if a.spec.passive {
		a.spec.open(a.c, now)
	} else {
		a.c.Connect(now)
	}
	a.flush(t)
}

// userPattern is the pattern matching a user-level name exactly, written
// as a record pattern with literal fields so that interest in it can be
// recognised with dataspace.ObservePattern.
func userPattern(r ds.Record) *ds.Pattern {
	fs := make([]*ds.Pattern, r.Arity())
	for i := range fs {
		fs[i] = ds.Lit(r.Field(i))
	}
	return ds.RecordPattern(r.Label(), fs...)
}

func (a *connActor) userPresent() bool { return a.specific || a.wildcard }

// write queues user data; writing past the grants until the send buffer
// overflows aborts the connection (memory stays bounded).
func (a *connActor) write(t *actors.Turn, data []byte) {
	a.granted -= len(data)
	if a.c == nil || !a.c.State().canSend() || a.c.finQueued {
		return // like a write on a closed socket: dropped
	}
	if n := a.c.Write(t.Now(), data); n < len(data) {
		a.l.stats.SendOverruns.Add(1)
		a.log.Warn("user wrote past its send grants: aborting", zap.Stringer("remote", a.spec.remote),
			zap.Int("wrote", len(data)), zap.Int("taken", n))
		a.c.Abort(t.Now())
	}
	a.flush(t)
}

func (a *connActor) close(t *actors.Turn, how string) {
	if a.c == nil {
		if how != CloseWrite {
			a.stopping = true
			a.maybeStop(t)
		}
		return
	}
	now := t.Now()
	switch how {
	case CloseWrite:
		a.c.Shutdown(now)
	case CloseAbort:
		a.c.Abort(now)
	default:
		a.c.Close(now)
	}
	a.flush(t)
}

func (a *connActor) set(t *actors.Turn, s *Set) {
	if a.c == nil {
		return
	}
	c, now := a.c, t.Now()
	switch s.Option {
	case SetNoDelay:
		c.cfg.NoDelay = s.Value != 0
	case SetDelayedAck:
		c.cfg.NoDelayedAck = s.Value == 0
	case SetKeepAlive:
		c.SetKeepAlive(now, s.Value != 0, 0, 0, 0)
	case SetKeepIdle:
		c.SetKeepAlive(now, c.cfg.KeepAlive, time.Duration(s.Value)*time.Millisecond, 0, 0)
	case SetKeepInterval:
		c.SetKeepAlive(now, c.cfg.KeepAlive, 0, time.Duration(s.Value)*time.Millisecond, 0)
	case SetKeepCount:
		c.SetKeepAlive(now, c.cfg.KeepAlive, 0, 0, int(s.Value))
	}
	a.flush(t)
}

// flush publishes what the connection decided.
func (a *connActor) flush(t *actors.Turn) {
	c := a.c
	if c == nil {
		a.maybeStop(t)
		return
	}
	if c.held {
		// Whatever turn flushes ends a burst of held segments.
		a.burst = 0
		c.Hold(t.Now(), false)
	}
	for i, segs := 0, c.TakeSegments(); i < len(segs); i++ {
		t.Send(encode(a.spec.local, a.spec.remote, &segs[i]))
	}
	// A user learns of the connection before its first data, and of its
	// end after its last: "established" is published first, every later
	// state after the data.
	st := a.userState()
	if st == StateEstablished {
		a.setState(t, st)
	}
	if a.userPresent() {
		if d := c.TakeReadable(); len(d) > 0 {
			t.Send(&Channel{Src: a.spec.remoteRec, Dst: a.spec.localRec, Data: d})
		}
	}
	if st != "" && !a.accepted && a.spec.passive && c.State().synchronized() {
		a.accepted = true
		a.l.stats.Opened.Add(1)
		t.Send(&Accepted{Port: a.spec.local.Port(), Remote: a.spec.remote})
	} else if !a.spec.passive && !a.accepted && c.State().synchronized() {
		a.accepted = true
		a.l.stats.Opened.Add(1)
	}
	a.setState(t, st)
	// Grant send space as it frees (in chunks, to keep messages few).
	if c.State().canSend() && !c.finQueued && c.State().synchronized() {
		if free := c.Writable() - max(a.granted, 0); free > 0 && (a.granted <= 0 || free >= c.cfg.SndBuf/4) {
			a.granted = max(a.granted, 0) + free
			t.Send(&Writable{Remote: a.spec.remoteRec, Local: a.spec.localRec, N: free})
		}
	}
	if c.Done() {
		a.stopping = true
	} else if d := c.Deadline(); !d.IsZero() && (a.tmr == nil || d.Before(a.tmrAt)) {
		a.tmr.Stop()
		a.tmrAt = d
		a.tmr = t.After(max(d.Sub(t.Now()), 0), a.tick)
	}
	a.maybeStop(t)
}

func (a *connActor) tick(t *actors.Turn) {
	a.tmr = nil
	a.c.Tick(t.Now())
	a.flush(t)
}

// userState maps the connection to its tcp-connection state ("" for
// none yet: a passive open shows itself once established).
func (a *connActor) userState() string {
	c := a.c
	switch c.State() {
	case Closed:
		switch c.Err() {
		case nil:
			return "closed"
		case ErrReset:
			return StateReset
		case ErrRefused:
			return StateRefused
		case ErrTimeout:
			return StateTimeout
		default:
			return StateAborted
		}
	case SynSent:
		return StateConnecting
	case SynReceived:
		return ""
	case TimeWait:
		return "closed"
	}
	if c.ReadClosed() {
		return StatePeerClosed
	}
	return StateEstablished
}

// setState publishes a state the connection reached. States accumulate:
// each is asserted once and stays until the actor ends, so a user sees
// every state arrive (Added) and, when the actor is gone — closed for
// good, or crashed — all of them retracted (Removed).
func (a *connActor) setState(t *actors.Turn, st string) {
	if st == a.state || st == "" {
		return
	}
	a.state = st
	if a.states == nil {
		a.states = map[string]bool{}
	}
	if !a.states[st] {
		a.states[st] = true
		t.Assert(&Connection{Remote: a.spec.remoteRec, Local: a.spec.localRec, State: st})
	}
}

// maybeStop ends the actor once the connection is over and nobody holds
// on to it: a user that observes this connection specifically keeps it
// (and its final state) until it lets go.
func (a *connActor) maybeStop(t *actors.Turn) {
	if a.stopping && !a.specific {
		t.Stop()
	}
}
