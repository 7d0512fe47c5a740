package tcp

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Congestion is a congestion control algorithm: it owns cwnd and ssthresh (bytes).
// Loss recovery (which segment to retransmit, NewReno partial ACKs, SACK pipe) is the
// connection's job; this interface only moves the window.
//
// In particular OnCongestion sets cwnd to the reduced window itself, not to
// RFC 5681's inflated ssthresh+3*SMSS: a NewReno connection that inflates
// the window by one SMSS per duplicate ACK (RFC 5681 §3.2 steps 4 and 5)
// keeps that inflation on its side and drops it at OnRecoveryEnd; a SACK
// connection compares the RFC 6675 pipe with Window().
//
// Implementations are pure: time is passed in and nothing is read from the
// environment. They are not safe for concurrent use.
type Congestion interface {
	Name() string   // "reno" or "cubic"
	Window() int    // cwnd in bytes
	Ssthresh() int  // ssthresh in bytes
	SetMSS(mss int) // sender MSS (SMSS) once known; rescales nothing already set except as sensible
	// OnAck is called for an ACK that advances snd.una outside loss recovery:
	// acked = newly acknowledged bytes, flight = bytes in flight before the ACK,
	// rtt = the latest RTT sample (0 if none), now = current time.
	OnAck(acked, flight int, rtt time.Duration, now time.Time)
	// OnCongestion: loss detected by duplicate ACKs or SACK; entering fast recovery.
	// flight = bytes in flight when loss was detected. Sets ssthresh and cwnd (RFC 5681 §3.2 / RFC 9438 §4.6).
	OnCongestion(flight int, now time.Time)
	// OnRecoveryEnd: fast recovery finished (the full ACK of RFC 6582): cwnd deflates to ssthresh.
	OnRecoveryEnd(now time.Time)
	// OnRTO: retransmission timeout: ssthresh = max(flight/2, 2*SMSS), cwnd = 1 SMSS (RFC 5681 §3.1 eq. 4, loss window).
	OnRTO(flight int, now time.Time)
	// OnIdle: the connection was idle for longer than the RTO (RFC 5681 §4.1): restart window.
	OnIdle(now time.Time)
}

// ErrUnknownCongestion is returned (wrapped) by NewCongestion for a name
// it does not know.
var ErrUnknownCongestion = errors.New("tcp: unknown congestion control")

// NewCongestion returns the congestion control algorithm called name,
// "reno" (RFC 5681) or "cubic" (RFC 9438), for a sender MSS of mss bytes.
func NewCongestion(name string, mss int, now time.Time) (Congestion, error) {
	switch name {
	case "reno":
		return NewReno(mss), nil
	case "cubic":
		return NewCubic(mss, now), nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownCongestion, name)
}

// infiniteSsthresh is the initial ssthresh: "arbitrarily high" (RFC 5681
// §3.1), so that the first slow start ends only on loss.
const infiniteSsthresh = math.MaxInt32

// initialWindow is the initial cwnd of RFC 6928 §2:
//
//	IW = min (10*MSS, max (2*MSS, 14600))
//
// that is ten segments for an MSS up to 1460 bytes, and at most 14600
// bytes (but never below two segments) for larger ones.
func initialWindow(mss int) int {
	return min(10*mss, max(2*mss, 14600))
}

// validMSS replaces a non-positive MSS with RFC 9293 §3.7.1's default of
// 536 bytes, so that a careless caller cannot zero the window for good.
func validMSS(mss int) int {
	if mss <= 0 {
		return 536
	}
	return mss
}

// cwndLimited reports whether the sender was using enough of its window
// for an ACK to justify growing it: RFC 7661 §4.3 treats cwnd as validated
// when at least half of it was in use (pipeACK >= ½cwnd), and RFC 9438
// §5.8 says CUBIC does not grow the window of an application-limited
// flow. Without this a connection that sends little would see its cwnd
// grow without bound on every ACK and later burst into the network.
func cwndLimited(flight, cwnd int) bool {
	return 2*flight >= cwnd
}

// slowStart is the common state of the window-based algorithms: cwnd and
// ssthresh in bytes, the MSS, and slow start with appropriate byte
// counting. Reno and CUBIC embed it.
type slowStart struct {
	mss      int
	cwnd     int
	ssthresh int

	// fresh is true until the first event that moves the window, while
	// cwnd is still the initial window (SetMSS then recomputes it).
	fresh bool
	// backedOff is true from an RTO until the next ACK that advances
	// snd.una: a further RTO for the same data keeps ssthresh (RFC 5681
	// §3.1: ssthresh is set only when the segment "has not yet been
	// resent by way of the retransmission timer").
	backedOff bool
}

func newSlowStart(mss int) slowStart {
	mss = validMSS(mss)
	return slowStart{mss: mss, cwnd: initialWindow(mss), ssthresh: infiniteSsthresh, fresh: true}
}

// Window returns cwnd in bytes.
func (s *slowStart) Window() int { return s.cwnd }

// Ssthresh returns ssthresh in bytes.
func (s *slowStart) Ssthresh() int { return s.ssthresh }

// SetMSS sets SMSS. While the window is still the initial one it is
// recomputed for the new MSS (RFC 6928 counts it in segments); a window
// that has since moved is kept, but never left below one segment, nor
// ssthresh below two (the floors of RFC 5681 §3.1).
func (s *slowStart) SetMSS(mss int) {
	s.mss = validMSS(mss)
	if s.fresh {
		s.cwnd = initialWindow(s.mss)
	}
	s.cwnd = max(s.cwnd, s.mss)
	s.ssthresh = max(s.ssthresh, 2*s.mss)
}

// inSlowStart reports whether the slow start algorithm is used: "when
// cwnd < ssthresh" (RFC 5681 §3.1; at equality either may be used, we use
// congestion avoidance).
func (s *slowStart) inSlowStart() bool { return s.cwnd < s.ssthresh }

// slowStartAck grows cwnd for an ACK of acked bytes in slow start and
// returns the bytes left over once cwnd reaches ssthresh, which the
// caller counts towards congestion avoidance.
//
// RFC 5681 §3.1 eq. 2 with appropriate byte counting (RFC 3465 §2.2 with
// L = 2*SMSS): cwnd += min(N, L*SMSS) on each ACK, so a delayed ACK of two
// segments counts for two.
func (s *slowStart) slowStartAck(acked int) (rest int) {
	inc := min(acked, 2*s.mss)
	room := s.ssthresh - s.cwnd
	if inc <= room {
		s.cwnd += inc
		return 0
	}
	s.cwnd = s.ssthresh
	return acked - room
}

// rto applies RFC 5681 §3.1 eq. 4 after a retransmission timeout with
// ssthresh computed by newSsthresh, unless this is a further timeout for
// data already resent by the timer: cwnd becomes the loss window, one
// SMSS.
func (s *slowStart) rto(newSsthresh int) {
	if !s.backedOff {
		s.ssthresh = max(newSsthresh, 2*s.mss)
	}
	s.backedOff = true
	s.fresh = false
	s.cwnd = s.mss
}

// idle applies RFC 5681 §4.1: after an idle period longer than the RTO,
// cwnd is reduced to the restart window RW = min(IW, cwnd) before
// transmission begins.
func (s *slowStart) idle() {
	s.cwnd = min(s.cwnd, initialWindow(s.mss))
}
