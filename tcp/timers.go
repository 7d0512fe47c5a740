package tcp

import "time"

// Deadline returns when the connection next needs Tick (zero: never).
func (c *Conn) Deadline() time.Time {
	var d time.Time
	for _, t := range [...]time.Time{c.rtoAt, c.delackAt, c.persistAt, c.keepAt, c.timeWaitAt, c.ptoAt, c.finWait2At} {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

func due(t, now time.Time) bool { return !t.IsZero() && !now.Before(t) }

// Tick runs the timers that are due at now.
func (c *Conn) Tick(now time.Time) {
	if due(c.timeWaitAt, now) {
		c.finish(nil)
		return
	}
	if due(c.finWait2At, now) {
		// The peer never sent its FIN: give up on it silently, as Linux
		// does when tcp_fin_timeout expires (a later segment of the
		// peer's finds no connection and is reset).
		c.finish(ErrTimeout)
		return
	}
	if due(c.ptoAt, now) {
		c.ptoAt = time.Time{}
		c.onPTO(now)
	}
	if due(c.rtoAt, now) {
		c.rtoAt = time.Time{}
		c.ptoAt = time.Time{}
		c.onRTO(now)
		if c.state == Closed {
			return
		}
	}
	if due(c.persistAt, now) {
		c.persistAt = time.Time{}
		c.onPersist(now)
	}
	if due(c.delackAt, now) {
		c.delackAt = time.Time{}
		c.ackNow = true
	}
	if due(c.keepAt, now) {
		c.keepAt = time.Time{}
		c.onKeepAlive(now)
		if c.state == Closed {
			return
		}
	}
	c.output(now)
}

// onRTO is the retransmission timeout (RFC 6298 §5.4–5.7, RFC 5681 §3.1):
// back off, shrink the congestion window to one segment, and send again
// from snd.una (go-back-N, as SACK information is dropped).
func (c *Conn) onRTO(now time.Time) {
	if c.sndMax == c.sndUna {
		return
	}
	c.retries++
	c.stats.Timeouts++
	limit := c.cfg.MaxRetries
	if c.state == SynSent || c.state == SynReceived {
		limit = c.cfg.SynRetries
	}
	if c.retries > limit {
		if c.state == SynReceived && c.passive {
			c.finish(nil) // a half-open connection that never completed
		} else {
			c.finish(ErrTimeout)
		}
		return
	}
	c.rto = min(2*c.rto, c.cfg.MaxRTO)
	c.rttTiming = false
	switch c.state {
	case SynSent:
		c.stats.Retransmits++
		c.sendSYN(now, false)
		return
	case SynReceived:
		c.stats.Retransmits++
		c.sendSYN(now, true)
		return
	}
	c.cc.OnRTO(int(c.sndMax.Sub(c.sndUna)), now)
	c.inRecovery, c.inflation, c.dupAcks, c.ltSent = false, 0, 0, 0
	c.recover = c.sndMax
	c.score.Reset()
	c.highRxt = c.sndUna
	c.sndNxt = c.sndUna // output sends again from here, FIN included
	c.rtoAt = now.Add(c.rto)
}

// armFinWait2 starts the FIN-WAIT-2 timeout of a connection the user has
// Closed. RFC 9293 leaves FIN-WAIT-2 unbounded, but after Close nobody
// reads (see Close): the peer's FIN is all that is left to wait for, and
// Linux waits for it tcp_fin_timeout. After Shutdown alone the user may
// still read, and the connection waits for the peer as long as it takes.
func (c *Conn) armFinWait2(now time.Time) {
	if c.state == FinWait2 && c.userClosed && c.finWait2At.IsZero() {
		c.finWait2At = now.Add(c.cfg.FinWait2)
	}
}

// rtoAfterSYNTimeout is RFC 6298 §5.7: once the SYN or SYN,ACK has been
// retransmitted on a timeout, the RTO for data starts at 3 s (or the
// InitialRTO, if larger), not at the handshake's backed-off value. Like
// Linux, it applies only when the handshake gave no RTT sample: with
// timestamps the ACK of a retransmitted SYN is measured unambiguously,
// and the RTO computed from it stands.
func (c *Conn) rtoAfterSYNTimeout() {
	if c.srtt == 0 {
		c.rto = min(max(3*time.Second, c.cfg.InitialRTO), c.cfg.MaxRTO)
	}
}

// persistInterval is the zero-window probe interval: the RTO, backed off.
func (c *Conn) persistInterval() time.Duration {
	return min(c.rto<<min(c.persistBackoff, 10), c.cfg.MaxRTO)
}

// onPersist sends a zero-window probe (RFC 9293 §3.8.6.1): a segment
// below the window that the peer must acknowledge, with its window. With
// a window that is open but too small for sender-side SWS avoidance, and
// nothing in flight, it is the override timeout: what fits is sent
// (§3.8.6.2.1 rule 4).
func (c *Conn) onPersist(now time.Time) {
	if c.Unsent() <= int(c.sndNxt.Sub(c.sndBase)) || !c.state.synchronized() {
		c.persistBackoff = 0
		return
	}
	if c.sndWnd != 0 {
		c.persistBackoff = 0
		if c.sndNxt == c.sndUna {
			c.sendNext(now, sendOverride)
		}
		return
	}
	c.stats.ZeroWindowProbes++
	c.emit(now, Segment{Seq: c.sndUna.Add(-1), Flags: FlagACK})
	c.persistBackoff++
	c.persistAt = now.Add(c.persistInterval())
}

// keepAlive arms the keepalive timer after activity.
func (c *Conn) keepAlive(now time.Time) {
	if c.cfg.KeepAlive {
		c.keepAt = now.Add(c.cfg.KeepIdle)
	}
}

// SetKeepAlive switches keepalive probes on or off and sets their timing
// (zero durations and counts keep the current values).
func (c *Conn) SetKeepAlive(now time.Time, on bool, idle, interval time.Duration, count int) {
	c.cfg.KeepAlive = on
	if idle > 0 {
		c.cfg.KeepIdle = idle
	}
	if interval > 0 {
		c.cfg.KeepInterval = interval
	}
	if count > 0 {
		c.cfg.KeepCount = count
	}
	c.keepAt = time.Time{}
	if on && c.state.synchronized() {
		c.keepAt = c.lastRecv.Add(c.cfg.KeepIdle)
	}
}

// onKeepAlive sends a keepalive probe (RFC 9293 §3.8.4) after KeepIdle of
// silence, every KeepInterval, and gives up after KeepCount.
func (c *Conn) onKeepAlive(now time.Time) {
	if !c.cfg.KeepAlive || (c.state != Established && c.state != CloseWait) {
		return
	}
	if idle := now.Sub(c.lastRecv); idle < c.cfg.KeepIdle {
		c.keepAt = c.lastRecv.Add(c.cfg.KeepIdle)
		return
	}
	if c.keepProbes >= c.cfg.KeepCount {
		c.finish(ErrTimeout)
		return
	}
	c.keepProbes++
	c.stats.KeepAlives++
	c.emit(now, Segment{Seq: c.sndUna.Add(-1), Flags: FlagACK})
	c.keepAt = now.Add(c.cfg.KeepInterval)
}

// pto is the probe timeout (RFC 8985 §7.2): twice the smoothed RTT, plus
// the peer's delayed-ACK allowance when a single segment is out, at least
// 10 ms and never beyond the RTO.
func (c *Conn) pto() time.Duration {
	p := 2 * c.srtt
	if int(c.sndMax.Sub(c.sndUna)) <= c.sndMSS {
		p += 50 * time.Millisecond
	}
	return min(max(p, 10*time.Millisecond), c.rto)
}

// armPTO schedules a tail loss probe while data is outstanding, outside
// recovery, one probe per tail.
func (c *Conn) armPTO(now time.Time) {
	if c.ptoAt.IsZero() && !c.tlpOut && !c.inRecovery && c.srtt > 0 && c.sackOK &&
		c.sndMax != c.sndUna && c.state.synchronized() && c.state != TimeWait {
		c.ptoAt = now.Add(c.pto())
	}
}

// onPTO sends a tail loss probe (RFC 8985 §7.3): a new segment if the
// peer's window allows one, else the last segment again, so that the
// peer's SACK reveals a lost tail without waiting for the RTO.
func (c *Conn) onPTO(now time.Time) {
	if c.sndMax == c.sndUna || c.inRecovery {
		return
	}
	c.tlpOut = true
	c.stats.TailProbes++
	if !c.sendNext(now, sendProbe) {
		// The last segment again: the last full segment's worth of data
		// before snd.max — or before the FIN, which retransmit adds when
		// the data reaches it (the FIN occupies a sequence number but
		// carries no byte of data). With only the FIN out, the bare FIN.
		end := c.sndMax
		if c.finSent {
			end = end.Add(-1)
		}
		n := max(min(c.maxPayload(now), int(end.Sub(c.sndUna))), 0)
		c.retransmit(now, end.Add(-n), n)
	}
	c.rtoAt = now.Add(c.rto)
}
