package tcp

import (
	"math"
	"time"
)

// CUBIC's constants (RFC 9438 §4.1.1, §4.6 and §5.1).
const (
	cubicC    = 0.4 // segments / second^3
	cubicBeta = 0.7 // multiplicative decrease factor β_cubic
	// cubicAlpha is α_cubic = 3 * (1 - β_cubic) / (1 + β_cubic), the
	// additive increase of the Reno-friendly estimate (RFC 9438 §4.3).
	cubicAlpha = 3 * (1 - cubicBeta) / (1 + cubicBeta)
)

// cubic is the congestion control of RFC 9438. Windows are kept in bytes,
// as §4.1 allows, so the RFC's segment-based formulas are scaled by the
// MSS: W_cubic(t) = C*MSS*(t-K)^3 + W_max, and a new ACK of N bytes counts
// N/MSS segments.
type cubic struct {
	slowStart
	// frac is the part of cwnd below one byte that the per-ACK increase
	// (target - cwnd) / cwnd accumulates: cwnd is Window() + frac.
	frac float64

	epoch     bool      // a congestion avoidance stage is under way
	tEpoch    time.Time // t_epoch, moved forward over application-limited periods
	lastAck   time.Time // the previous ACK in the stage
	cwndEpoch float64   // cwnd_epoch, bytes
	wMax      float64   // W_max, bytes; 0 before the first congestion event
	k         float64   // K, seconds
	wEst      float64   // W_est, bytes
	cwndPrior float64   // cwnd_prior, bytes; 0 before it is first set

	afterRTO   bool // the next stage follows a timeout (§4.8)
	inRecovery bool
	srtt       time.Duration // smoothed RTT for W_cubic(t+RTT)
}

// NewCubic returns RFC 9438 CUBIC congestion control for a sender MSS of
// mss bytes: C = 0.4, β_cubic = 0.7, the Reno-friendly region (§4.3) and
// fast convergence (§4.7). Slow start is RFC 5681's with byte counting
// (RFC 3465, L = 2*SMSS; §4.10 allows it); the initial window is ten
// segments (RFC 6928) and ssthresh is initially unbounded. The time now
// is when the connection starts; CUBIC's clock starts with each
// congestion avoidance stage.
func NewCubic(mss int, now time.Time) Congestion {
	return &cubic{slowStart: newSlowStart(mss), lastAck: now}
}

// Name returns "cubic".
func (c *cubic) Name() string { return "cubic" }

// setCwnd stores a fractional window.
func (c *cubic) setCwnd(w float64) {
	c.cwnd = int(w)
	c.frac = w - float64(c.cwnd)
}

// wCubic is RFC 9438 §4.2 Figure 1, in bytes, t in seconds.
func (c *cubic) wCubic(t float64) float64 {
	d := t - c.k
	return cubicC*float64(c.mss)*d*d*d + c.wMax
}

// startEpoch begins a congestion avoidance stage at now (RFC 9438 §4.2).
func (c *cubic) startEpoch(now time.Time) {
	c.epoch = true
	c.tEpoch = now
	c.lastAck = now
	c.cwndEpoch = float64(c.cwnd) + c.frac
	if c.afterRTO || c.wMax == 0 {
		// §4.8: the first stage after a timeout, and §4.10: a stage not
		// preceded by any congestion event, start with K = 0 and W_max
		// the window at the beginning of the stage.
		c.wMax = c.cwndEpoch
		c.k = 0
	} else {
		// §4.2 Figure 2: K = cubic_root((W_max - cwnd_epoch) / C).
		c.k = math.Cbrt((c.wMax - c.cwndEpoch) / (cubicC * float64(c.mss)))
	}
	if c.cwndPrior == 0 {
		c.cwndPrior = c.cwndEpoch // §4.10
	}
	// §4.3 and §4.8: W_est starts at cwnd_epoch.
	c.wEst = c.cwndEpoch
	c.afterRTO = false
}

// OnAck grows cwnd: slow start below ssthresh, otherwise the larger of
// the cubic function and the Reno-friendly estimate (RFC 9438 §4.2–4.5).
// An ACK that finds less than half the window in flight does not grow it,
// and the time since the previous ACK is left out of t (§5.8).
func (c *cubic) OnAck(acked, flight int, rtt time.Duration, now time.Time) {
	if acked <= 0 {
		return
	}
	c.backedOff = false
	if rtt > 0 {
		// RFC 6298 §2.3's smoothing, α = 1/8.
		if c.srtt == 0 {
			c.srtt = rtt
		} else {
			c.srtt += (rtt - c.srtt) / 8
		}
	}
	if !cwndLimited(flight, c.cwnd) {
		if c.epoch && now.After(c.lastAck) {
			// §4.2: t "MUST NOT include periods during which cwnd has
			// not been updated due to application-limited behavior".
			c.tEpoch = c.tEpoch.Add(now.Sub(c.lastAck))
		}
		c.lastAck = now
		return
	}
	c.fresh = false
	if c.inSlowStart() {
		c.frac = 0
		if acked = c.slowStartAck(acked); acked == 0 {
			return
		}
	}
	if !c.epoch {
		c.startEpoch(now)
	}
	c.lastAck = now

	mss := float64(c.mss)
	cwnd := float64(c.cwnd) + c.frac
	n := float64(acked)

	// §4.3 Figure 4: W_est += α_cubic * segments_acked / cwnd, with α
	// raised to 1 once W_est reaches cwnd_prior.
	alpha := cubicAlpha
	if c.wEst >= c.cwndPrior {
		alpha = 1
	}
	c.wEst += alpha * n * mss / cwnd

	t := now.Sub(c.tEpoch).Seconds()
	if c.wCubic(t) < c.wEst {
		// Reno-friendly region: cwnd = W_est (never shrinking it).
		c.setCwnd(max(cwnd, c.wEst))
		return
	}
	// §4.4 and §4.5, concave and convex regions: cwnd grows by
	// (target - cwnd) / cwnd per segment acknowledged, with target =
	// W_cubic(t + RTT) bounded to [cwnd, 1.5*cwnd] (§4.2).
	target := min(max(c.wCubic(t+c.srtt.Seconds()), cwnd), 1.5*cwnd)
	c.setCwnd(cwnd + (target-cwnd)/cwnd*n)
}

// OnCongestion applies fast convergence (RFC 9438 §4.7) and the
// multiplicative decrease of §4.6 Figure 5:
//
//	ssthresh = max(flight_size * β_cubic, 2*SMSS)
//	cwnd     = max(flight_size * β_cubic, 2*SMSS)
func (c *cubic) OnCongestion(flight int, _ time.Time) {
	cwnd := float64(c.cwnd) + c.frac
	// §4.7: W_max = cwnd * (1 + β_cubic) / 2 if cwnd < W_max, else cwnd.
	if cwnd < c.wMax {
		c.wMax = cwnd * (1 + cubicBeta) / 2
	} else {
		c.wMax = cwnd
	}
	c.cwndPrior = cwnd
	ss := max(int(float64(flight)*cubicBeta), 2*c.mss)
	c.ssthresh = ss
	c.setCwnd(float64(ss))
	c.epoch = false
	c.fresh = false
	c.inRecovery = true
}

// OnRecoveryEnd sets cwnd to ssthresh, which OnCongestion already did
// unless the window was changed since; like Reno's it does nothing
// outside a recovery that OnCongestion started.
func (c *cubic) OnRecoveryEnd(_ time.Time) {
	if !c.inRecovery {
		return
	}
	c.inRecovery = false
	c.setCwnd(float64(c.ssthresh))
	c.epoch = false
}

// OnRTO follows RFC 9438 §4.8: cwnd becomes one SMSS as in RFC 5681, but
// ssthresh = max(flight_size * β_cubic, 2*SMSS), CUBIC's decrease, not
// Reno's half. A second timeout before new data is acknowledged keeps
// ssthresh. The next congestion avoidance stage starts with K = 0.
func (c *cubic) OnRTO(flight int, _ time.Time) {
	if !c.backedOff {
		c.cwndPrior = float64(c.cwnd) + c.frac
	}
	c.rto(int(float64(flight) * cubicBeta))
	c.frac = 0
	c.epoch = false
	c.afterRTO = true
	c.inRecovery = false
}

// OnIdle reduces cwnd to the restart window (RFC 5681 §4.1) and ends the
// congestion avoidance stage, so that the idle time does not count in t
// (RFC 9438 §5.8).
func (c *cubic) OnIdle(now time.Time) {
	c.idle()
	c.frac = 0
	c.epoch = false
	c.lastAck = now
}
