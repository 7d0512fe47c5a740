package tcp

import "time"

// flight is the data (and SYN/FIN) sent and not yet acknowledged.
func (c *Conn) flight() int { return int(c.sndNxt.Sub(c.sndUna)) }

// newAck handles an ACK that advances snd.una (RFC 9293 §3.10.7.4, RFC
// 5681 §3, RFC 6582 §3.2).
func (c *Conn) newAck(now time.Time, s *Segment) {
	ack := s.Ack
	acked := int(ack.Sub(c.sndUna))
	flight := int(c.sndMax.Sub(c.sndUna))
	rtt := c.rttSample(now, s)
	c.ackAdvance(now, ack)
	c.retries = 0
	c.dupAcks, c.ltSent = 0, 0
	c.tlpOut, c.ptoAt = false, time.Time{}
	if c.inRecovery {
		if ack.GreaterThanEq(c.recover) {
			// Full acknowledgment: recovery is over (RFC 6582 step 5a).
			c.inRecovery, c.inflation = false, 0
			c.cc.OnRecoveryEnd(now)
		} else {
			// Partial acknowledgment: the next hole is lost too (RFC 6582
			// step 5b); deflate by what was acked, add back one segment.
			if !c.sackOK {
				c.inflation = max(c.inflation-acked, 0) + c.sndMSS
				c.retransmit(now, c.sndUna, c.sndMSS)
			}
			c.rtoAt = now.Add(c.rto)
		}
	} else if c.state.synchronized() {
		c.cc.OnAck(acked, flight, rtt, now)
	}
	// RFC 6298 §5.2–5.3: stop the timer when everything is acknowledged,
	// else restart it.
	if c.sndMax == c.sndUna {
		c.rtoAt = time.Time{}
	} else {
		c.rtoAt = now.Add(c.rto)
	}
}

// ackAdvance moves snd.una to ack and drops acknowledged data.
func (c *Conn) ackAdvance(now time.Time, ack Seq) {
	c.sndUna = ack
	if c.sndNxt.LessThan(ack) {
		c.sndNxt = ack // after a go-back-N timeout the ACK may pass snd.nxt
	}
	if n := int(ack.Sub(c.sndBase)); n > 0 {
		n = min(n, len(c.sndBuf)-c.sndOff)
		c.sndOff += n
		c.sndBase = c.sndBase.Add(n)
		if c.sndOff == len(c.sndBuf) && len(c.out) == 0 {
			c.sndBuf, c.sndOff = c.sndBuf[:0], 0 // reuse the array (no segment aliases it)
		}
	}
	if c.highRxt.LessThan(ack) {
		c.highRxt = ack
	}
	c.score.Advance(ack)
}

// dupAck handles a duplicate ACK (RFC 5681 §3.2, RFC 6582 §3.2, RFC 6675
// §5).
func (c *Conn) dupAck(now time.Time, s *Segment) {
	c.stats.DupAcks++
	c.dupAcks++
	if c.inRecovery {
		if !c.sackOK {
			c.inflation += c.sndMSS // RFC 6582 step 4
		}
		return
	}
	lost := c.dupAcks >= c.dupThresh() || (c.sackOK && c.lost())
	// RFC 6582 §3.2 step 2: no new recovery for losses of the previous
	// window (snd.una must have passed recover).
	if lost && c.sndUna.GreaterThanEq(c.recover) {
		c.enterRecovery(now)
	}
}

// limitedTransmit is how much new data may go beyond cwnd (RFC 3042 §2,
// RFC 5681 §3.2 step 1): one segment for each of the first two duplicate
// ACKs, outside recovery; the receiver's window still applies.
func (c *Conn) limitedTransmit() int {
	if c.inRecovery || c.dupAcks == 0 {
		return 0
	}
	return min(c.dupAcks, 2) * c.sndMSS
}

func (c *Conn) enterRecovery(now time.Time) {
	c.stats.FastRetransmits++
	c.inRecovery = true
	c.recover = c.sndMax
	// RFC 5681 §3.2 step 2: the data sent by limited transmit is not
	// counted in the FlightSize that sets ssthresh.
	c.cc.OnCongestion(int(c.sndMax.Sub(c.sndUna))-c.ltSent, now)
	c.ltSent = 0
	c.highRxt = c.sndUna
	c.retransmit(now, c.sndUna, c.sndMSS)
	if !c.sackOK {
		c.inflation = 3 * c.sndMSS
	}
}

// retransmit sends up to n bytes again from seq (and the FIN, if it
// fits and was sent before).
func (c *Conn) retransmit(now time.Time, seq Seq, n int) {
	off := int(seq.Sub(c.sndBase))
	if off < 0 {
		return
	}
	data := c.sndBuf[c.sndOff:]
	end := min(off+min(n, c.maxPayload(now)), len(data))
	if off > len(data) {
		return
	}
	flags := FlagACK
	payload := data[off:end]
	if c.finSent && end == len(data) && seq.Add(len(payload)).LessThan(c.sndMax) {
		flags |= FlagFIN
	}
	if len(payload) == 0 && !flags.Has(FlagFIN) {
		return
	}
	if c.pushSeq.InRange(seq.Add(1), seq.Add(len(payload)+1)) {
		flags |= FlagPSH
	}
	c.stats.Retransmits++
	c.rttTiming = false // Karn: never time a retransmitted segment
	c.emit(now, Segment{Seq: seq, Flags: flags, Payload: payload})
	if e := seq.Add(len(payload)); c.highRxt.LessThan(e) {
		c.highRxt = e
	}
	if c.rtoAt.IsZero() {
		c.rtoAt = now.Add(c.rto)
	}
}

// pipe estimates the data in the network during SACK recovery (RFC 6675
// §4 SetPipe): outstanding data, less what is SACKed, less the holes
// below the highest SACK that are deemed lost and not yet retransmitted.
func (c *Conn) pipe() int {
	out := int(c.sndMax.Sub(c.sndUna)) - c.score.SackedBytes()
	high, ok := c.score.HighSacked()
	if !ok {
		return out
	}
	from := MaxSeq(c.highRxt, c.sndUna)
	for i := 0; i < 256; i++ {
		start, end, ok := c.score.NextHole(from, high)
		if !ok {
			break
		}
		if c.score.IsLost(start, c.sndMSS) {
			out -= int(end.Sub(start))
		}
		from = end
	}
	return max(out, 0)
}

// sackRecovery retransmits lost holes while the pipe allows (RFC 6675 §5
// NextSeg rule 1); it reports whether it sent anything.
func (c *Conn) sackRecovery(now time.Time) bool {
	sent := false
	high, ok := c.score.HighSacked()
	if !ok {
		return false
	}
	for i := 0; i < 64 && c.pipe()+c.sndMSS <= c.cc.Window(); i++ {
		from := MaxSeq(c.highRxt, c.sndUna)
		start, end, ok := c.score.NextHole(from, high)
		if !ok || !c.score.IsLost(start, c.sndMSS) {
			break
		}
		c.retransmit(now, start, min(int(end.Sub(start)), c.sndMSS))
		sent = true
	}
	return sent
}

// rttSample takes an RTT measurement from an ACK (RFC 7323 §4.1 with
// timestamps, else RFC 6298 with Karn's rule) and updates SRTT, RTTVAR and
// RTO (RFC 6298 §2). It returns the sample, or 0.
func (c *Conn) rttSample(now time.Time, s *Segment) time.Duration {
	var r time.Duration
	switch {
	case c.tsOK && s.Opts.HasTS && s.Opts.TSEcr != 0:
		r = time.Duration(c.tsNow(now)-s.Opts.TSEcr) * time.Millisecond
		if r <= 0 {
			r = time.Millisecond / 2
		}
	case c.rttTiming && s.Ack.GreaterThan(c.rttSeq):
		r = now.Sub(c.rttTime)
		c.rttTiming = false
	default:
		return 0
	}
	if r > 5*time.Minute {
		return 0 // a stale or hostile echo
	}
	if c.srtt == 0 {
		c.srtt, c.rttvar = r, r/2
	} else {
		d := c.srtt - r
		if d < 0 {
			d = -d
		}
		c.rttvar = (3*c.rttvar + d) / 4
		c.srtt = (7*c.srtt + r) / 8
	}
	c.rto = min(max(c.srtt+max(4*c.rttvar, time.Millisecond), c.cfg.MinRTO), c.cfg.MaxRTO)
	return r
}

// dupThresh is the duplicate-ACK threshold: 3, lowered by early
// retransmit (RFC 5827 §3.1) when fewer than four segments are out and no
// new data can be sent, so that a short flight still recovers without an
// RTO.
func (c *Conn) dupThresh() int {
	segs := (int(c.sndMax.Sub(c.sndUna)) + c.sndMSS - 1) / c.sndMSS
	if segs < 4 && c.Unsent() <= int(c.sndMax.Sub(c.sndBase)) {
		return max(segs-1, 1)
	}
	return 3
}

// lost reports whether the segment at snd.una is deemed lost from the SACK
// scoreboard (RFC 6675 IsLost), with early retransmit's lower threshold
// for short flights (RFC 5827 §3.2).
func (c *Conn) lost() bool {
	if c.score.IsLost(c.sndUna, c.sndMSS) {
		return true
	}
	if c.dupThresh() < 3 && c.score.SackedBytes() > 0 {
		return true
	}
	return false
}
