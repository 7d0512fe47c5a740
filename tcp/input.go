package tcp

import "time"

// Input processes one arriving segment (RFC 9293 §3.10.7). The segment's
// payload is copied if it is kept.
func (c *Conn) Input(now time.Time, s *Segment) {
	c.stats.SegsIn++
	c.lastRecv = now
	c.keepProbes = 0
	switch c.state {
	case Closed, Listen:
		return
	case SynSent:
		c.inputSynSent(now, s)
		c.output(now)
		return
	}
	c.inputSynchronized(now, s)
	if c.state == Established || c.state == CloseWait {
		c.keepAlive(now)
	}
	c.output(now)
}

// inputSynSent is RFC 9293 §3.10.7.3.
func (c *Conn) inputSynSent(now time.Time, s *Segment) {
	ack := s.Flags.Has(FlagACK)
	if ack && (s.Ack.LessThanEq(c.iss) || s.Ack.GreaterThan(c.sndMax)) {
		if !s.Flags.Has(FlagRST) {
			c.emitRaw(now, Segment{Seq: s.Ack, Flags: FlagRST})
		}
		return
	}
	if s.Flags.Has(FlagRST) {
		if ack {
			c.finish(ErrRefused)
		}
		return
	}
	if !s.Flags.Has(FlagSYN) {
		return
	}
	c.irs = s.Seq
	c.rcvNxt = s.Seq.Add(1)
	c.rcvAdvRight = c.rcvNxt
	c.negotiate(&s.Opts, false)
	if ack {
		synTimedOut := c.retries > 0
		c.ackAdvance(now, s.Ack)
		// RFC 6298 §5.2: the SYN, all that was outstanding, is
		// acknowledged: stop its timer. The SYN's RTT is not sampled
		// here; its timing must not run on into the first data ACK.
		c.rtoAt, c.rttTiming = time.Time{}, false
		c.updateWindow(s, true)
		c.state = Established
		c.retries = 0
		if synTimedOut {
			c.rtoAfterSYNTimeout()
		}
		c.ackNow = true
		c.keepAlive(now)
		if len(s.Payload) > 0 || s.Flags.Has(FlagFIN) {
			// "If there are other controls or text in the segment,
			// then continue processing at the sixth step": the data
			// falls in the window our SYN offered, the FIN closes the
			// peer's direction.
			c.rcvAdvRight = c.rcvNxt
			c.windowField(true)
			c.inputData(now, s)
		}
		return
	}
	// Simultaneous open (RFC 9293 §3.5, figure 8): answer SYN-ACK with
	// our original ISS.
	c.state = SynReceived
	c.updateWindow(s, true)
	c.sndNxt = c.iss
	c.sendSYN(now, true)
}

// acceptable is RFC 9293 §3.10.7.4's first check: does any part of the
// segment fall in the receive window?
func (c *Conn) acceptable(s *Segment) bool {
	wnd := uint32(c.rcvAdvRight.Sub(c.rcvNxt))
	if c.rcvAdvRight.LessThan(c.rcvNxt) {
		wnd = 0
	}
	return Acceptable(s.Seq, s.Len(), c.rcvNxt, wnd)
}

func (c *Conn) inputSynchronized(now time.Time, s *Segment) {
	rst, syn := s.Flags.Has(FlagRST), s.Flags.Has(FlagSYN)
	// RFC 9293 §3.5 figure 8, line 6: in a simultaneous open the peer's
	// SYN,ACK acknowledges our SYN and completes the open. Its SYN lies
	// just below RCV.NXT (we took it from the peer's SYN), which the
	// first check would drop: take the SYN as the duplicate it is and
	// process the rest, as Linux does.
	simOpen := syn && !rst && !c.passive && c.state == SynReceived &&
		s.Flags.Has(FlagACK) && s.Seq == c.irs
	// RFC 7323 §5.3: PAWS — a segment whose timestamp is older than the
	// last one in order is a duplicate from an earlier incarnation.
	if c.tsOK && s.Opts.HasTS && !rst && int32(s.Opts.TSVal-c.tsRecent) < 0 {
		c.stats.PAWSDropped++
		c.ackNow = true
		return
	}
	if !simOpen && !c.acceptable(s) {
		c.stats.OutOfWindow++
		if !rst {
			if c.state == TimeWait {
				if syn {
					return // a new incarnation's SYN; the 2*MSL wait stands
				}
				if c.finRetransmitted(s) {
					// RFC 9293 §3.10.7.4 eighth check, TIME-WAIT: our ACK
					// of the FIN was lost. Acknowledge it again and
					// restart the 2 MSL timeout. Its sequence number lies
					// just below RCV.NXT, so it never passes the first
					// check to reach the eighth.
					c.timeWaitAt = now.Add(c.cfg.TimeWait)
				}
			}
			c.ackNow = true
		}
		return
	}
	// RFC 5961 §3.2: a RST is honoured only at exactly rcv.nxt; elsewhere
	// in the window it gets a challenge ACK.
	if rst {
		if s.Seq != c.rcvNxt {
			c.challengeACK(now)
			return
		}
		switch c.state {
		case SynReceived:
			if c.passive {
				c.finish(nil) // back to LISTEN: the listener forgets it
			} else {
				c.finish(ErrRefused)
			}
		case TimeWait:
			// RFC 1337: TIME-WAIT assassination — ignore.
		case Closing, LastAck:
			c.finish(nil)
		default:
			c.finish(ErrReset)
		}
		return
	}
	// RFC 5961 §4: a SYN in a synchronized state gets a challenge ACK.
	if syn && !simOpen {
		if c.state == SynReceived && s.Seq == c.irs {
			c.sndNxt = c.iss // the SYN again: our SYN-ACK was lost
			c.sendSYN(now, true)
			return
		}
		c.challengeACK(now)
		return
	}
	if !s.Flags.Has(FlagACK) {
		return
	}
	if c.tsOK && s.Opts.HasTS && s.Seq.LessThanEq(c.lastAckSent) {
		c.tsRecent = s.Opts.TSVal // RFC 7323 §4.3
	}
	synTimedOut := false
	if c.state == SynReceived {
		if !s.Ack.GreaterThan(c.sndUna) || s.Ack.GreaterThan(c.sndMax) {
			c.emitRaw(now, Segment{Seq: s.Ack, Flags: FlagRST})
			return
		}
		synTimedOut = c.retries > 0
		c.state = Established
		c.retries = 0
		c.updateWindow(s, true)
		c.keepAlive(now)
		if simOpen {
			c.ackNow = true // the peer may not have our SYN,ACK
		}
	}
	more := c.inputAck(now, s)
	if synTimedOut {
		c.rtoAfterSYNTimeout() // after inputAck: its RTT sample, if any, stands
	}
	if !more {
		return
	}
	if c.state == Closed {
		return
	}
	c.inputData(now, s)
}

// finRetransmitted reports whether s is the peer's FIN again, after we
// received it in order: an ACK segment whose FIN occupies RCV.NXT-1.
func (c *Conn) finRetransmitted(s *Segment) bool {
	return c.finRcvd && s.Flags.Has(FlagFIN) && s.Flags.Has(FlagACK) &&
		s.Seq.Add(len(s.Payload)).Add(1) == c.rcvNxt
}

// inputAck processes the ACK field (RFC 9293 §3.10.7.4 fifth check, RFC
// 5961 §5). It reports whether processing continues.
func (c *Conn) inputAck(now time.Time, s *Segment) bool {
	ack := s.Ack
	// RFC 5961 §5.2: an ACK for data never sent, or below SND.UNA -
	// MAX.SND.WND (the largest window the peer ever offered), is an
	// injection attempt.
	if ack.GreaterThan(c.sndMax) {
		c.challengeACK(now)
		return false
	}
	if ack.LessThan(c.sndUna.Add(-int(c.maxSndWnd))) {
		c.challengeACK(now)
		return false
	}
	newlySacked := 0
	if c.sackOK && s.Opts.NumSACK > 0 {
		newlySacked = c.score.Update(s.Opts.SACK[:s.Opts.NumSACK], c.sndUna, c.sndMax)
	}
	if ack.GreaterThan(c.sndUna) {
		c.newAck(now, s)
	} else if ack == c.sndUna && c.sndMax != c.sndUna {
		// RFC 5681 §2 DUPLICATE ACKNOWLEDGMENT; with SACK, any ACK that
		// brings new SACK information counts (RFC 6675 §2), also when it
		// carries data — the peer's duplicate ACKs ride on its data in a
		// two-way flow.
		pure := len(s.Payload) == 0 && !s.Flags.Has(FlagFIN) && uint32(s.Window)<<c.sndWScale == c.sndWnd
		if pure || newlySacked > 0 {
			c.dupAck(now, s)
		}
	}
	// RFC 6675 §5: loss is also detected from the scoreboard, on any ACK.
	if c.sackOK && !c.inRecovery && c.sndMax != c.sndUna && c.sndUna.GreaterThanEq(c.recover) && c.lost() {
		c.enterRecovery(now)
	}
	c.updateWindow(s, false)
	switch c.state {
	case FinWait1:
		if c.finAcked() {
			c.state = FinWait2
			c.armFinWait2(now)
		}
	case Closing:
		if c.finAcked() {
			c.enterTimeWait(now)
		}
	case LastAck:
		if c.finAcked() {
			c.finish(nil)
			return false
		}
	case TimeWait:
		if s.Flags.Has(FlagFIN) {
			c.ackNow = true
			c.timeWaitAt = now.Add(c.cfg.TimeWait) // RFC 9293: restart 2*MSL
		}
		return false
	}
	return true
}

// finAcked reports whether our FIN has been acknowledged.
func (c *Conn) finAcked() bool { return c.finSent && c.sndUna == c.sndMax }

// updateWindow is RFC 9293 §3.10.7.4's send window update. force applies
// it unconditionally (the SYN's window).
func (c *Conn) updateWindow(s *Segment, force bool) {
	scale := c.sndWScale
	if s.Flags.Has(FlagSYN) {
		scale = 0 // RFC 7323 §2.2: the SYN's window is never scaled
	}
	if force || c.sndWl1.LessThan(s.Seq) || (c.sndWl1 == s.Seq && c.sndWl2.LessThanEq(s.Ack)) {
		old := c.sndWnd
		c.sndWnd = uint32(s.Window) << scale
		c.sndWl1, c.sndWl2 = s.Seq, s.Ack
		c.maxSndWnd = max(c.maxSndWnd, c.sndWnd)
		if old == 0 && c.sndWnd > 0 {
			c.persistAt, c.persistBackoff = time.Time{}, 0
		}
	}
}

// inputData handles the segment's payload and FIN (RFC 9293 §3.10.7.4,
// seventh and eighth checks).
func (c *Conn) inputData(now time.Time, s *Segment) {
	start := s.Seq
	if s.Flags.Has(FlagSYN) {
		start = start.Add(1) // the text follows the SYN (a SYN,ACK's data)
	}
	payload, seq := s.Payload, start
	if len(payload) > 0 {
		if !c.state.canReceive() {
			return
		}
		if c.userClosed {
			// Nobody will read it: reset (RFC 9293 §3.10.4, RFC 2525 §2.17).
			c.emit(now, Segment{Seq: c.ctlSeq(), Flags: FlagRST})
			c.finish(ErrAborted)
			return
		}
		// Trim what lies before rcv.nxt or beyond the window.
		if d := c.rcvNxt.Sub(seq); d > 0 {
			if int(d) >= len(payload) {
				payload = nil
			} else {
				payload = payload[d:]
			}
			seq = c.rcvNxt
		}
		if right := c.rcvAdvRight; seq.Add(len(payload)).GreaterThan(right) {
			payload = payload[:max(int(right.Sub(seq)), 0)]
		}
	}
	if len(payload) > 0 {
		if seq == c.rcvNxt {
			c.rcvReady = append(c.rcvReady, payload...)
			c.rcvNxt = c.rcvNxt.Add(len(payload))
			c.stats.BytesIn += uint64(len(payload))
			if c.reasm.Len() > 0 {
				if more := c.reasm.Pop(c.rcvNxt); len(more) > 0 {
					c.rcvReady = append(c.rcvReady, more...)
					c.rcvNxt = c.rcvNxt.Add(len(more))
					c.stats.BytesIn += uint64(len(more))
				}
				c.ackNow = true // RFC 5681 §4.2: ACK at once when a hole fills
			}
			c.scheduleAck(now, len(payload))
		} else {
			c.stats.OutOfOrder++
			c.reasm.Insert(seq, payload, c.rcvNxt, c.rcvAdvRight)
			c.ackNow = true // RFC 5681 §4.2: out-of-order data is acknowledged at once
		}
	}
	if s.Flags.Has(FlagFIN) {
		fin := start.Add(len(s.Payload))
		if fin == c.rcvNxt {
			c.receiveFIN(now)
		} else if fin.GreaterThan(c.rcvNxt) {
			c.finSeq, c.finPending = fin, true
			c.ackNow = true
		}
	} else if c.finPending && c.finSeq == c.rcvNxt {
		c.receiveFIN(now)
	}
}

// receiveFIN is RFC 9293 §3.10.7.4's eighth check, for a FIN in order.
func (c *Conn) receiveFIN(now time.Time) {
	if c.finRcvd {
		c.ackNow = true
		return
	}
	c.finRcvd, c.finPending = true, false
	c.rcvNxt = c.rcvNxt.Add(1)
	c.ackNow = true
	switch c.state {
	case SynReceived, Established:
		c.state = CloseWait
	case FinWait1:
		if c.finAcked() {
			c.enterTimeWait(now)
		} else {
			c.state = Closing
		}
	case FinWait2:
		c.enterTimeWait(now)
	}
}

func (c *Conn) enterTimeWait(now time.Time) {
	c.state = TimeWait
	c.rtoAt, c.persistAt, c.keepAt, c.delackAt, c.finWait2At = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	c.timeWaitAt = now.Add(c.cfg.TimeWait)
}

// scheduleAck applies delayed ACKs (RFC 9293 §3.8.6.3, RFC 5681 §4.2): an
// ACK for at least every second full-sized segment, and within
// DelayedAck.
func (c *Conn) scheduleAck(now time.Time, n int) {
	if c.cfg.NoDelayedAck {
		c.ackNow = true
		return
	}
	if n >= c.sndMSS/2 {
		c.unackedSegs++
	}
	if c.unackedSegs >= 2 {
		c.ackNow = true
		return
	}
	if c.delackAt.IsZero() {
		c.delackAt = now.Add(c.cfg.DelayedAck)
	}
}

// challengeACK sends an RFC 5961 challenge ACK, at most ChallengeACKs per
// second.
func (c *Conn) challengeACK(now time.Time) {
	c.chTokens += now.Sub(c.chLast).Seconds() * float64(c.cfg.ChallengeACKs)
	c.chLast = now
	if lim := float64(c.cfg.ChallengeACKs); c.chTokens > lim {
		c.chTokens = lim
	}
	if c.chTokens < 1 {
		c.stats.ChallengeLimited++
		return
	}
	c.chTokens--
	c.stats.ChallengeACKs++
	c.emitACK(now)
}
