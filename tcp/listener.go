package tcp

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"

	"go.uber.org/zap"
)

type tuple struct{ remote, local netip.AddrPort }

// spawnListener starts the listener of port: the supplier, for the
// listener demand matcher, of tcp-listening(port). It turns SYNs to the
// port into connection actors — handing each its SYN, so none is lost —
// while fewer than Backlog are half-open, and answers with SYN cookies
// beyond that. It stops when nobody observes the port any more;
// established connections carry on.
func (l *layer) spawnListener(t *actors.Turn, port uint16) *actors.Actor {
	return t.Spawn(fmt.Sprintf("tcp-listener:%d", port), func(t *actors.Turn) {
		me, sys := t.Actor(), t.System()
		log := sys.Logger().Named("tcp").With(zap.Uint16("port", port))
		t.Assert(&Listening{Port: port})
		// The listener's table is shared by its turns and its inline
		// handler (which runs on the link's reader goroutine).
		var mu sync.Mutex
		children := map[tuple]*actors.Actor{}
		halfOpen := map[netip.AddrPort]bool{} // by remote
		t.Observe(ds.ObservePattern(ds.RecordPattern(LabelChannel, ds.Captured, ListenerPattern(port), ds.Discard)), actors.Handler{
			Removed: func(t *actors.Turn, _ []ds.Value) { t.Stop() },
		})
		t.Observe(ds.RecordPattern(LabelAccepted, ds.Lit(ds.Int(int64(port))), ds.CaptureAny), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) {
				mu.Lock()
				delete(halfOpen, m.(*Accepted).Remote)
				mu.Unlock()
			},
		})
		// spawn starts a connection actor at once, on the calling
		// goroutine: its boot turn sends the SYN-ACK.
		spawn := func(p *Packet, open func(c *Conn, now time.Time)) {
			key := tuple{p.Src, p.Dst}
			child := l.spawnConnIn(sys, connSpec{
				local: p.Dst, remote: p.Src,
				localRec: &Listener{Port: port}, remoteRec: &Address{Host: p.Src.Addr(), Port: p.Src.Port()},
				passive: true, open: open,
			})
			children[key] = child
			child.Watch(func() {
				me.Inject(func(t *actors.Turn) {
					mu.Lock()
					defer mu.Unlock()
					if children[key] == child {
						delete(children, key)
					}
					delete(halfOpen, key.remote)
				})
			})
		}
		// Segments nobody claimed: SYNs, cookie ACKs, strays. Handled
		// inline, so a SYN-ACK leaves without a hop through a mailbox.
		t.ObserveInline(ds.RecordPattern(LabelUnclaimed, ds.Lit(ds.Int(int64(port))), ds.Discard), func(in actors.Inline, m ds.Record) {
			p := m.(*Unclaimed).Packet
			s := &p.Seg
			key := tuple{p.Src, p.Dst}
			mu.Lock()
			defer mu.Unlock()
			if c := children[key]; c != nil && c.Alive() && in.SendNow(p) > 0 {
				return // its connection was not yet listening when the codec tried
			}
			switch {
			case s.Flags.Has(FlagRST):
				return
			case s.Flags.Has(FlagSYN) && !s.Flags.Has(FlagACK):
				l.stats.SYNs.Add(1)
				if len(halfOpen) < l.cfg.Backlog {
					halfOpen[p.Src] = true
					syn := copySegment(s)
					spawn(p, func(c *Conn, now time.Time) { c.AcceptSYN(now, &syn) })
					return
				}
				l.sendCookie(in, p)
			case s.Flags.Has(FlagACK) && !s.Flags.Has(FlagSYN):
				opts, ok := l.cookies.Check(p.Dst, p.Src, s.Seq.Add(-1), s.Ack.Add(-1), s.Opts.TSEcr, s.Opts.HasTS, in.Now())
				if !ok {
					l.stats.CookiesRejected.Add(1)
					l.reset(in, p)
					return
				}
				l.stats.CookiesAccepted.Add(1)
				ack := copySegment(s)
				spawn(p, func(c *Conn, now time.Time) { c.AcceptCookie(now, &ack, opts) })
			default:
				l.reset(in, p)
			}
		})
		log.Debug("listening")
	})
}

// sendCookie answers a SYN statelessly with a SYN cookie (the backlog is
// full): the handshake's state travels in our ISN (and timestamp).
func (l *layer) sendCookie(in actors.Inline, p *Packet) {
	t := in
	s := &p.Seg
	mss := uint16(536)
	if s.Opts.HasMSS {
		mss = s.Opts.MSS
	}
	mss = min(mss, uint16(l.cfg.Conn.MSS))
	opts := CookieOptions{MSS: mss, WScale: s.Opts.WScale, HasWScale: s.Opts.HasWScale, SACKPermitted: s.Opts.SACKPermitted}
	now := t.Now()
	iss := l.cookies.Make(p.Dst, p.Src, s.Seq, opts, now)
	r := Segment{Seq: iss, Ack: s.Seq.Add(1), Flags: FlagSYN | FlagACK, Window: 65535}
	r.Opts.MSS, r.Opts.HasMSS = mss, true
	if s.Opts.HasTS && !l.cfg.Conn.NoTimestamps {
		// Window scale and SACK survive only inside the timestamp.
		r.Opts.HasTS, r.Opts.TSVal, r.Opts.TSEcr = true, l.cookies.TSVal(opts, now), s.Opts.TSVal
		r.Opts.SACKPermitted = s.Opts.SACKPermitted && !l.cfg.Conn.NoSACK
		if s.Opts.HasWScale && !l.cfg.Conn.NoWindowScale {
			r.Opts.HasWScale, r.Opts.WScale = true, cookieWScale(l.cfg.Conn.RcvBuf)
		}
	}
	l.stats.CookiesSent.Add(1)
	t.Send(encode(p.Dst, p.Src, &r))
}

// cookieWScale is the window scale a cookie connection advertises.
func cookieWScale(rcvBuf int) uint8 {
	var s uint8
	for s < MaxWindowScale && rcvBuf>>s > 65535 {
		s++
	}
	return s
}

// copySegment copies s with its payload, so a connection can keep it
// beyond the message that carried it.
func copySegment(s *Segment) Segment {
	c := *s
	c.Payload = append([]byte(nil), s.Payload...)
	return c
}
