package tcp

import "time"

// output sends what the connection may send now: retransmissions in
// recovery, new data and FIN as the windows allow, and an ACK if one is
// owed and nothing else carried it.
func (c *Conn) output(now time.Time) {
	if c.held {
		return
	}
	switch c.state {
	case Closed, Listen, SynSent:
		return
	}
	if c.state != SynReceived && c.state != TimeWait {
		if c.inRecovery && c.sackOK {
			c.sackRecovery(now)
		}
		for c.sendNext(now, sendNormal) {
		}
	}
	if c.ackNow {
		c.emitACK(now)
	}
	if c.sndMax != c.sndUna && c.rtoAt.IsZero() {
		c.rtoAt = now.Add(c.rto)
	}
	c.armPTO(now)
	// Data waits that the peer's window keeps back. With a zero window,
	// probe (RFC 9293 §3.8.6.1). With a window too small for sender-side
	// SWS avoidance and nothing in flight to bring an ACK, the override
	// timeout sends what fits (§3.8.6.2.1 rule 4, RFC 1122 §4.2.3.4); the
	// RFC suggests combining it with the persist timer, as here.
	switch {
	case !c.state.synchronized() || c.Unsent() <= int(c.sndNxt.Sub(c.sndBase)):
		c.persistAt, c.persistBackoff = time.Time{}, 0 // nothing waits
	case c.sndWnd == 0:
		if c.persistAt.IsZero() {
			c.persistAt = now.Add(c.persistInterval())
		}
	case c.sndNxt == c.sndUna:
		if c.persistAt.IsZero() {
			c.persistAt = now.Add(swsOverride)
		}
	default:
		c.persistAt = time.Time{} // the ACK of the data in flight sends more
	}
}

// swsOverride is the SWS override timeout: RFC 1122 §4.2.3.4 puts it
// between 0.1 and 1 s; the upper end sends the fewest small segments to
// a peer that keeps its window small.
const swsOverride = time.Second

// sendMode says which of sendNext's rules a segment is sent under.
type sendMode uint8

const (
	sendNormal   sendMode = iota
	sendProbe             // a tail loss probe: ignores the congestion window (RFC 8985 §7.3)
	sendOverride          // the SWS override timeout: ignores sender-side SWS avoidance
)

// sendNext sends the next new segment if the send window, the congestion
// window, Nagle and sender-side silly window avoidance allow (RFC 9293
// §3.8.6.2.1, RFC 896, RFC 5681); mode relaxes them for probes and the
// SWS override. Data sent before (go-back-N after a timeout) is sent
// again as far as the peer's window allows, however small: it was
// offered that window once already, and holding it back would leave the
// retransmission timer nothing to send.
// It reports whether it sent a segment.
func (c *Conn) sendNext(now time.Time, mode sendMode) bool {
	data := c.sndBuf[c.sndOff:]
	off := int(c.sndNxt.Sub(c.sndBase))
	if off < 0 {
		off = 0 // snd.nxt is at the SYN; data starts after it
	}
	avail := len(data) - off
	finSeq := c.sndBase.Add(len(data))
	wantFIN := c.finQueued && avail <= c.sndMSS && c.sndNxt.LessThanEq(finSeq)
	if avail <= 0 && !(wantFIN && c.sndNxt == finSeq) {
		return false
	}
	usable := int(c.sndUna.Add(int(c.sndWnd)).Sub(c.sndNxt))
	var inFlight int
	if c.inRecovery && c.sackOK {
		inFlight = c.pipe()
	} else {
		inFlight = c.flight()
	}
	room := c.cc.Window() + c.inflation - inFlight
	cwnd := room
	lt := false
	if mode == sendProbe {
		cwnd = c.sndMSS
	} else if a := c.limitedTransmit(); a > 0 && c.sndNxt == c.sndMax {
		cwnd, lt = room+a, true
	}
	// A full-sized segment is the MSS less the options this one carries
	// (RFC 9293 §3.8.6.2.1 rule 1, §3.7.1): SACK blocks for data we hold
	// out of order make it smaller than sndMSS.
	full := c.maxPayload(now)
	n := min(avail, full, usable, cwnd)
	if avail > 0 && n <= 0 {
		return false
	}
	n = max(n, 0)
	fin := wantFIN && n == avail
	retrans := c.sndNxt.LessThan(c.sndMax)
	if n < full && !fin && mode != sendOverride && !(retrans && n == usable) {
		// A short segment: only if it is all we have and Nagle allows
		// (nothing unacknowledged, or NoDelay), or it fills half the
		// largest window the peer offered.
		allQueued := n == avail
		nagleOK := c.cfg.NoDelay || c.sndNxt == c.sndUna
		if !(allQueued && nagleOK) && uint32(n) < c.maxSndWnd/2 {
			return false
		}
	}
	if n == 0 && !fin {
		return false
	}
	flags := FlagACK
	seq := c.sndNxt
	payload := data[off : off+n]
	if fin {
		flags |= FlagFIN
	}
	if n > 0 && c.pushSeq.InRange(seq.Add(1), seq.Add(n+1)) {
		flags |= FlagPSH
	}
	if retrans {
		c.stats.Retransmits++
	} else {
		c.stats.BytesOut += uint64(n)
		if lt && n > max(room, 0) {
			c.ltSent += n - max(room, 0)
		}
		if !c.rttTiming && !c.tsOK && n > 0 {
			c.rttTiming, c.rttSeq, c.rttTime = true, seq, now
		}
	}
	c.emit(now, Segment{Seq: seq, Flags: flags, Payload: payload})
	c.sndNxt = seq.Add(n)
	if fin {
		c.sndNxt = c.sndNxt.Add(1)
		c.finSent = true
		switch c.state {
		case Established, SynReceived:
			c.state = FinWait1
		case CloseWait:
			c.state = LastAck
		}
	}
	if c.sndNxt.GreaterThan(c.sndMax) {
		c.sndMax = c.sndNxt
	}
	if c.rtoAt.IsZero() {
		c.rtoAt = now.Add(c.rto)
	}
	return !fin
}

// sendSYN sends our SYN (active open) or SYN-ACK (passive or
// simultaneous open) with the options we offer.
func (c *Conn) sendSYN(now time.Time, synack bool) {
	s := Segment{Seq: c.iss, Flags: FlagSYN}
	s.Opts.MSS, s.Opts.HasMSS = uint16(c.cfg.MSS), true
	s.Opts.Layout = c.cfg.OptionLayout
	if synack {
		s.Flags |= FlagACK
		s.Opts.HasWScale, s.Opts.WScale = c.wsOK, c.rcvWScale
		s.Opts.SACKPermitted = c.sackOK
		s.Opts.HasTS = c.tsOK
	} else {
		s.Opts.HasWScale, s.Opts.WScale = !c.cfg.NoWindowScale, c.rcvWScale
		s.Opts.SACKPermitted = !c.cfg.NoSACK
		s.Opts.HasTS = !c.cfg.NoTimestamps
	}
	c.emit(now, s)
	c.sndNxt = c.iss.Add(1)
	if c.sndMax.LessThan(c.sndNxt) {
		c.sndMax = c.sndNxt
	}
	if c.retries == 0 && !c.tsOK {
		c.rttTiming, c.rttSeq, c.rttTime = true, c.iss, now
	}
	c.rtoAt = now.Add(c.rto)
}

// emitACK sends a bare ACK, <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (RFC
// 9293 §3.10.7.4).
func (c *Conn) emitACK(now time.Time) {
	c.emit(now, Segment{Seq: c.ctlSeq(), Flags: FlagACK})
}

// ctlSeq is the sequence number of a segment without text, an ACK or a
// RST: RFC 9293's SND.NXT, which is snd.max here. sndNxt falls back to
// snd.una for a go-back-N pass after a timeout, and an ACK numbered from
// there lies below the peer's RCV.NXT when it already has that data: the
// peer drops it, ACK field and all, as an old duplicate (were both ends
// retransmitting at once, neither would learn of the other's ACKs). If
// the peer has shrunk its window below snd.max, its right edge is used
// instead, as Linux does, so that the peer still finds it acceptable.
func (c *Conn) ctlSeq() Seq {
	if right := c.sndUna.Add(int(c.sndWnd)); right.LessThan(c.sndMax) && c.state.synchronized() {
		return right
	}
	return c.sndMax
}

// emit completes a segment of this connection — acknowledgment, window,
// timestamps, SACK blocks — and queues it.
func (c *Conn) emit(now time.Time, s Segment) {
	syn := s.Flags.Has(FlagSYN)
	if s.Flags.Has(FlagACK) {
		s.Ack = c.rcvNxt
		c.lastAckSent = c.rcvNxt
		c.ackNow, c.delackAt, c.unackedSegs = false, time.Time{}, 0
	}
	if !s.Flags.Has(FlagRST) {
		s.Window = c.windowField(syn)
		if syn {
			if s.Opts.HasTS {
				s.Opts.TSVal, s.Opts.TSEcr = c.tsNow(now), c.tsRecent
				if !s.Flags.Has(FlagACK) {
					s.Opts.TSEcr = 0
				}
			}
		} else {
			c.dataOptions(now, &s.Opts)
		}
	}
	c.emitRaw(now, s)
}

// dataOptions fills in the options of a segment after the handshake:
// timestamps (RFC 7323 §3) and SACK blocks for data held out of order
// (RFC 2018 §4).
func (c *Conn) dataOptions(now time.Time, o *Options) {
	if c.tsOK {
		o.HasTS, o.TSVal, o.TSEcr = true, c.tsNow(now), c.tsRecent
	}
	if c.sackOK && c.reasm.Len() > 0 {
		o.NumSACK = c.reasm.SACKBlocks(o.SACK[:maxSACKWithTS(c.tsOK)])
	}
}

// maxPayload is the most payload the next segment can carry: the MSS
// less the options it will carry, so that SACK blocks never push a
// segment past the MTU.
func (c *Conn) maxPayload(now time.Time) int {
	var o Options
	c.dataOptions(now, &o)
	return c.mssLimit - OptionsLen(&o)
}

// maxSACKWithTS is how many SACK blocks fit beside timestamps (RFC 2018
// §3: three with timestamps, four without).
func maxSACKWithTS(ts bool) int {
	if ts {
		return 3
	}
	return MaxSACKBlocks
}

// emitRaw queues a segment as it is (also used for resets answering
// segments that do not belong to the connection's sequence space).
func (c *Conn) emitRaw(now time.Time, s Segment) {
	c.stats.SegsOut++
	c.lastSend = now
	c.out = append(c.out, s)
}

// windowField computes the window to advertise (unscaled, for the wire)
// and records its right edge: the free receive buffer, never moving the
// right edge left (RFC 9293 §3.8.6), and not opening it by less than
// min(MSS, buffer/2) (receiver-side silly window avoidance, RFC 9293
// §3.8.6.2.2).
func (c *Conn) windowField(syn bool) uint16 {
	free := max(c.cfg.RcvBuf-len(c.rcvReady)-c.rcvHeld, 0)
	cur := MaxSeq(c.rcvAdvRight, c.rcvNxt)
	right := cur
	if cand := c.rcvNxt.Add(free); cand.GreaterThan(cur) && int(cand.Sub(cur)) >= min(c.cfg.MSS, c.cfg.RcvBuf/2) {
		right = cand
	}
	shift := c.rcvWScale
	if syn {
		shift = 0 // RFC 7323 §2.2
	}
	field := min(int(right.Sub(c.rcvNxt))>>shift, 65535)
	if syn && c.cfg.SYNWindow > 0 {
		field = min(field, c.cfg.SYNWindow)
	}
	if r := c.rcvNxt.Add(field << shift); r.GreaterThan(c.rcvAdvRight) {
		c.rcvAdvRight = r
	}
	return uint16(field)
}

// windowUpdateDue reports whether consumption has opened the window
// enough to tell the peer: the advertised window has fallen below half
// the largest window we can advertise, and the window an ACK would now
// advertise moves the right edge by two segments or more. Both are
// measured in what the window field can say (65535 << our scale, which
// is less than the buffer without window scaling): an update that could
// not change the window would repeat the last ACK exactly, and the peer
// would count it as a duplicate (RFC 5681 §2).
func (c *Conn) windowUpdateDue() bool {
	if !c.state.canReceive() {
		return false
	}
	shift := c.rcvWScale
	free := max(c.cfg.RcvBuf-len(c.rcvReady)-c.rcvHeld, 0)
	wnd := min(free>>shift, 65535) << shift
	maxWnd := min(c.cfg.RcvBuf, 65535<<shift)
	adv := int(c.rcvAdvRight.Sub(c.rcvNxt))
	gain := int(c.rcvNxt.Add(wnd).Sub(c.rcvAdvRight))
	return adv < maxWnd/2 && gain >= min(2*c.cfg.MSS, maxWnd/2)
}
