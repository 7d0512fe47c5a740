package tcp

import "time"

// reno is the congestion control of RFC 5681: slow start and congestion
// avoidance counted in bytes (RFC 3465), halving on loss.
type reno struct {
	slowStart
	// bytesAcked is RFC 3465 §2.1's count of bytes acknowledged in
	// congestion avoidance since cwnd last grew.
	bytesAcked int
	inRecovery bool
}

// NewReno returns RFC 5681 congestion control for a sender MSS of mss
// bytes: slow start and congestion avoidance with appropriate byte
// counting (RFC 3465, L = 2*SMSS), an initial window of ten segments
// (RFC 6928) and ssthresh initially unbounded.
func NewReno(mss int) Congestion {
	return &reno{slowStart: newSlowStart(mss)}
}

// Name returns "reno".
func (r *reno) Name() string { return "reno" }

// OnAck grows cwnd by slow start or congestion avoidance. The window does
// not grow when less than half of it was in flight (see cwndLimited).
func (r *reno) OnAck(acked, flight int, _ time.Duration, _ time.Time) {
	if acked <= 0 {
		return
	}
	r.backedOff = false
	if !cwndLimited(flight, r.cwnd) {
		return
	}
	r.fresh = false
	if r.inSlowStart() {
		if acked = r.slowStartAck(acked); acked == 0 {
			return
		}
	}
	// Congestion avoidance, RFC 5681 §3.1 eq. 3 counted in bytes as RFC
	// 3465 §2.1 describes: "When bytes_acked becomes greater than or
	// equal to the value of the congestion window, bytes_acked is reduced
	// by the value of cwnd. Next, cwnd is incremented by a full-sized
	// segment (SMSS)." At most one SMSS per ACK (RFC 5681 §3.1); what a
	// stretch ACK acknowledges beyond that is not carried forward past
	// one window.
	r.bytesAcked += acked
	if r.bytesAcked >= r.cwnd {
		r.bytesAcked -= r.cwnd
		r.cwnd += r.mss
		r.bytesAcked = min(r.bytesAcked, r.cwnd-1)
	}
}

// OnCongestion halves the window: RFC 5681 §3.2 step 2, eq. 4,
//
//	ssthresh = max (FlightSize / 2, 2*SMSS)
//
// and cwnd = ssthresh, without step 3's artificial inflation by three
// segments, which belongs to the connection's loss recovery (see
// Congestion).
func (r *reno) OnCongestion(flight int, _ time.Time) {
	r.ssthresh = max(flight/2, 2*r.mss)
	r.cwnd = r.ssthresh
	r.bytesAcked = 0
	r.fresh = false
	r.inRecovery = true
}

// OnRecoveryEnd deflates cwnd to ssthresh (RFC 5681 §3.2 step 6, RFC 6582
// §3.2 step 3 "Full acknowledgments"). It does nothing unless
// OnCongestion started a recovery that no RTO has since ended, so that a
// late call cannot undo the loss window.
func (r *reno) OnRecoveryEnd(_ time.Time) {
	if !r.inRecovery {
		return
	}
	r.inRecovery = false
	r.cwnd = r.ssthresh
	r.bytesAcked = 0
}

// OnRTO sets ssthresh = max(FlightSize/2, 2*SMSS) and cwnd to the loss
// window of one SMSS (RFC 5681 §3.1 eq. 4). A second timeout before any
// new data is acknowledged keeps ssthresh.
func (r *reno) OnRTO(flight int, _ time.Time) {
	r.rto(flight / 2)
	r.bytesAcked = 0
	r.inRecovery = false
}

// OnIdle reduces cwnd to the restart window (RFC 5681 §4.1).
func (r *reno) OnIdle(_ time.Time) {
	r.idle()
	r.bytesAcked = 0
}
