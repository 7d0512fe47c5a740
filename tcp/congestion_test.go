package tcp

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

var ccEpoch = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// ackRound simulates one round trip in which the sender keeps its whole
// window in flight: the window's bytes are acknowledged by ACKs of
// perAck segments each, spread evenly over rtt from start. It returns the
// time at the end of the round.
func ackRound(cc Congestion, mss, perAck int, rtt time.Duration, start time.Time) time.Time {
	w := cc.Window()
	n := (w + perAck*mss - 1) / (perAck * mss)
	left := w
	for i := range n {
		a := min(perAck*mss, left)
		left -= a
		cc.OnAck(a, cc.Window(), rtt, start.Add(rtt*time.Duration(i+1)/time.Duration(n)))
	}
	return start.Add(rtt)
}

func newCC(t testing.TB, name string, mss int) Congestion {
	t.Helper()
	cc, err := NewCongestion(name, mss, ccEpoch)
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

var ccNames = []string{"reno", "cubic"}

func TestNewCongestion(t *testing.T) {
	for _, name := range ccNames {
		if cc := newCC(t, name, 1460); cc.Name() != name {
			t.Errorf("NewCongestion(%q).Name() = %q", name, cc.Name())
		}
	}
	if _, err := NewCongestion("bbr", 1460, ccEpoch); !errors.Is(err, ErrUnknownCongestion) {
		t.Errorf("unknown name: err %v", err)
	}
}

func TestInitialWindow(t *testing.T) {
	for _, tc := range []struct{ mss, iw int }{
		{536, 5360},
		{1000, 10000},
		{1220, 12200},
		{1460, 14600},
		{4000, 14600}, // RFC 6928: min(10*MSS, max(2*MSS, 14600))
		{8960, 17920},
		{0, 5360}, // invalid MSS: RFC 9293's default 536
	} {
		for _, name := range ccNames {
			cc := newCC(t, name, tc.mss)
			if cc.Window() != tc.iw || cc.Ssthresh() != math.MaxInt32 {
				t.Errorf("%s mss %d: cwnd %d ssthresh %d, want %d and MaxInt32", name, tc.mss, cc.Window(), cc.Ssthresh(), tc.iw)
			}
		}
	}
}

func TestSetMSS(t *testing.T) {
	for _, name := range ccNames {
		cc := newCC(t, name, 536)
		cc.SetMSS(1460) // MSS learned before any data: the initial window follows
		if cc.Window() != 14600 {
			t.Errorf("%s: window after SetMSS %d", name, cc.Window())
		}
		now := ackRound(cc, 1460, 1, 100*time.Millisecond, ccEpoch)
		ackRound(cc, 1460, 1, 100*time.Millisecond, now)
		w := cc.Window()
		cc.SetMSS(1000) // a window that has moved is kept
		if cc.Window() != w {
			t.Errorf("%s: SetMSS changed a grown window %d to %d", name, w, cc.Window())
		}
		cc.OnRTO(w, now)
		cc.SetMSS(1200) // but never left below one segment
		if cc.Window() != 1200 {
			t.Errorf("%s: loss window %d after SetMSS(1200)", name, cc.Window())
		}
	}
}

// TestSlowStartDoubles checks that slow start doubles cwnd every round
// trip, with an ACK per segment and with delayed ACKs (byte counting with
// L = 2*SMSS makes them equivalent).
func TestSlowStartDoubles(t *testing.T) {
	const mss = 1000
	for _, name := range ccNames {
		for _, perAck := range []int{1, 2} {
			cc := newCC(t, name, mss)
			now := ccEpoch
			want := 10 * mss
			for round := range 10 {
				if cc.Window() != want {
					t.Fatalf("%s, %d segments per ACK, round %d: cwnd %d, want %d", name, perAck, round, cc.Window(), want)
				}
				now = ackRound(cc, mss, perAck, 50*time.Millisecond, now)
				want *= 2
			}
		}
	}
}

// TestSlowStartStretchACK checks RFC 3465's limit: an ACK of many
// segments grows cwnd by at most 2*SMSS in slow start.
func TestSlowStartStretchACK(t *testing.T) {
	for _, name := range ccNames {
		cc := newCC(t, name, 1000)
		cc.OnAck(8000, 10000, 0, ccEpoch)
		if cc.Window() != 12000 {
			t.Errorf("%s: cwnd %d after an 8-segment ACK, want 12000", name, cc.Window())
		}
	}
}

func TestSlowStartStopsAtSsthresh(t *testing.T) {
	const mss = 1000
	cc := NewReno(mss)
	cc.OnRTO(40*mss, ccEpoch) // ssthresh 20 segments, cwnd 1
	now := ccEpoch
	for _, want := range []int{1, 2, 4, 8, 16, 20, 21, 22} {
		if cc.Window() != want*mss {
			t.Fatalf("cwnd %d, want %d segments", cc.Window(), want)
		}
		now = ackRound(cc, mss, 1, 100*time.Millisecond, now)
	}
}

// TestRenoCongestionAvoidance checks about one SMSS of growth per round
// trip above ssthresh, whatever the ACK pattern.
func TestRenoCongestionAvoidance(t *testing.T) {
	const mss = 1460
	for _, perAck := range []int{1, 2, 3} {
		cc := NewReno(mss)
		cc.OnCongestion(40*mss, ccEpoch)
		cc.OnRecoveryEnd(ccEpoch)
		if cc.Window() != 20*mss || cc.Ssthresh() != 20*mss {
			t.Fatalf("after loss: cwnd %d ssthresh %d", cc.Window(), cc.Ssthresh())
		}
		now := ccEpoch
		for round := range 30 {
			before := cc.Window()
			now = ackRound(cc, mss, perAck, 100*time.Millisecond, now)
			if d := cc.Window() - before; d < 0 || d > mss {
				t.Fatalf("%d per ACK, round %d: cwnd grew by %d", perAck, round, d)
			}
		}
		// Byte counting loses at most a partial window per round.
		if got := cc.Window() / mss; got < 20+30-2 || got > 20+30 {
			t.Errorf("%d per ACK: %d segments after 30 rounds, want about 50", perAck, got)
		}
	}
}

func TestOnCongestion(t *testing.T) {
	const mss = 1000
	for _, tc := range []struct {
		name   string
		flight int
		want   int
	}{
		{"reno", 100 * mss, 50 * mss},
		{"reno", 101 * mss, 50*mss + 500},
		{"reno", 3 * mss, 2 * mss}, // floor of 2*SMSS
		{"cubic", 100 * mss, 70 * mss},
		{"cubic", 10 * mss, 7 * mss},
		{"cubic", 2 * mss, 2 * mss},
	} {
		cc := newCC(t, tc.name, mss)
		cc.OnCongestion(tc.flight, ccEpoch)
		if cc.Ssthresh() != tc.want || cc.Window() != tc.want {
			t.Errorf("%s flight %d: ssthresh %d cwnd %d, want %d", tc.name, tc.flight, cc.Ssthresh(), cc.Window(), tc.want)
		}
		cc.OnRecoveryEnd(ccEpoch)
		if cc.Window() != tc.want {
			t.Errorf("%s: cwnd %d after recovery, want %d", tc.name, cc.Window(), tc.want)
		}
	}
}

func TestOnRTO(t *testing.T) {
	const mss = 1000
	for _, tc := range []struct {
		name     string
		ssthresh int
	}{{"reno", 30 * mss}, {"cubic", 42 * mss}} {
		cc := newCC(t, tc.name, mss)
		cc.OnCongestion(60*mss, ccEpoch) // a recovery the timeout interrupts
		cc.OnRTO(60*mss, ccEpoch)
		if cc.Window() != mss || cc.Ssthresh() != tc.ssthresh {
			t.Fatalf("%s: cwnd %d ssthresh %d after RTO", tc.name, cc.Window(), cc.Ssthresh())
		}
		// A backed-off second timeout for the same data keeps ssthresh.
		cc.OnRTO(mss, ccEpoch.Add(time.Second))
		if cc.Window() != mss || cc.Ssthresh() != tc.ssthresh {
			t.Fatalf("%s: cwnd %d ssthresh %d after second RTO", tc.name, cc.Window(), cc.Ssthresh())
		}
		// The interrupted recovery's end does not restore the window.
		cc.OnRecoveryEnd(ccEpoch.Add(time.Second))
		if cc.Window() != mss {
			t.Fatalf("%s: OnRecoveryEnd after RTO set cwnd %d", tc.name, cc.Window())
		}
		// Slow start again up to ssthresh.
		now := ccEpoch.Add(2 * time.Second)
		for cc.Window() < cc.Ssthresh() {
			now = ackRound(cc, mss, 1, 100*time.Millisecond, now)
		}
		// (The round that reaches ssthresh ends in congestion avoidance.)
		if cc.Window() < tc.ssthresh || cc.Window() > tc.ssthresh+2*mss {
			t.Errorf("%s: slow start ended at %d", tc.name, cc.Window())
		}
		// New data was acknowledged: the next timeout sets ssthresh again.
		cc.OnRTO(10*mss, now)
		if want := max(2*mss, tc.ssthresh*10/60); cc.Ssthresh() != want {
			t.Errorf("%s: ssthresh %d after a later RTO, want %d", tc.name, cc.Ssthresh(), want)
		}
	}
}

func TestOnIdle(t *testing.T) {
	const mss = 1000
	for _, name := range ccNames {
		cc := newCC(t, name, mss)
		now := ccEpoch
		for range 3 {
			now = ackRound(cc, mss, 1, 10*time.Millisecond, now)
		}
		ss := cc.Ssthresh()
		cc.OnIdle(now.Add(time.Minute))
		if cc.Window() != 10*mss || cc.Ssthresh() != ss {
			t.Errorf("%s: after idle cwnd %d ssthresh %d", name, cc.Window(), cc.Ssthresh())
		}
		cc.OnRTO(4*mss, now) // cwnd 1 SMSS: below the restart window, kept
		cc.OnIdle(now.Add(2 * time.Minute))
		if cc.Window() != mss {
			t.Errorf("%s: idle raised cwnd to %d", name, cc.Window())
		}
	}
}

// TestApplicationLimited checks that the window does not grow while less
// than half of it is in use.
func TestApplicationLimited(t *testing.T) {
	const mss = 1000
	for _, name := range ccNames {
		cc := newCC(t, name, mss)
		now := ccEpoch
		for i := range 1000 {
			now = now.Add(10 * time.Millisecond)
			cc.OnAck(mss, 4*mss, 10*time.Millisecond, now)
			if i == 0 {
				cc.OnAck(1, 1, 0, now) // the ACK of a SYN
			}
		}
		if cc.Window() != 10*mss {
			t.Errorf("%s: application-limited flow grew cwnd to %d", name, cc.Window())
		}
		cc.OnAck(mss, 5*mss, 10*time.Millisecond, now) // half the window: grows
		if cc.Window() != 11*mss {
			t.Errorf("%s: cwnd %d with half the window in flight", name, cc.Window())
		}
	}
}

// cubicAfterLoss returns a CUBIC instance that grew to wmax segments in
// slow start, lost a segment with the whole window in flight and ended
// its recovery, and the time.
func cubicAfterLoss(t *testing.T, mss, wmax int) (*cubic, time.Time) {
	t.Helper()
	cc := NewCubic(mss, ccEpoch).(*cubic)
	now := ccEpoch
	for cc.Window() < wmax*mss {
		w := cc.Window()
		cc.OnAck(min(mss, wmax*mss-w), w, 100*time.Millisecond, now)
		now = now.Add(time.Millisecond)
	}
	cc.OnCongestion(cc.Window(), now)
	cc.OnRecoveryEnd(now)
	return cc, now
}

// TestCubicFunction follows the window over simulated time after a loss
// and compares it with RFC 9438 Figures 1 and 2 computed here.
func TestCubicFunction(t *testing.T) {
	const (
		mss  = 1000
		wmax = 100 // segments
		rtt  = 100 * time.Millisecond
	)
	cc, now := cubicAfterLoss(t, mss, wmax)
	if cc.Window() != 70*mss || cc.wMax != wmax*mss {
		t.Fatalf("after loss: cwnd %d W_max %v", cc.Window(), cc.wMax)
	}
	// Figure 2: K = cubic_root((W_max - cwnd_epoch) / C) = cbrt(75) s.
	wantK := math.Cbrt((100.0 - 70.0) / 0.4)
	wCubic := func(t float64) float64 { return 0.4*math.Pow(t-wantK, 3) + wmax }
	if math.Abs(wantK-4.2172) > 1e-4 {
		t.Fatalf("test's K = %v", wantK)
	}
	start := now
	est := 70.0 // the Reno-friendly estimate, which takes over late
	for round := range 90 {
		now = ackRound(cc, mss, 1, rtt, now)
		if round == 0 && math.Abs(cc.k-wantK) > 1e-9 {
			t.Fatalf("K = %v, want %v", cc.k, wantK)
		}
		if est < wmax {
			est += cubicAlpha
		} else {
			est++
		}
		// The first ACK started the stage.
		el := now.Sub(start.Add(rtt / time.Duration(70))).Seconds()
		got := float64(cc.Window()) / mss
		// cwnd chases W_cubic(t+RTT) one ACK at a time, so it lies between
		// the function one RTT ago and one RTT ahead, unless the
		// Reno-friendly estimate is larger.
		lo, hi := wCubic(el-rtt.Seconds())-0.5, max(wCubic(el+rtt.Seconds()), est)+0.5
		if got < lo || got > hi {
			t.Fatalf("t = %.2fs: cwnd %.2f segments, W_cubic in [%.2f, %.2f], W_est %.2f", el, got, lo, hi, est)
		}
		if el < 5 && est > wCubic(el) {
			t.Fatalf("t = %.2fs: test expects the cubic region", el)
		}
		if el > wantK-0.05 && el < wantK+0.05 && math.Abs(got-wmax) > 1 {
			t.Errorf("t = K: cwnd %.2f, want W_max = %d", got, wmax)
		}
	}
	// Nine seconds in, well into the convex region: W_cubic(9) ≈ 143.8.
	if got := float64(cc.Window()) / mss; got < 135 || got > 150 {
		t.Errorf("convex region: cwnd %.1f segments", got)
	}
}

// TestCubicRenoFriendly checks that on a short path, where the cubic
// function grows slowly per round trip, the window follows the Reno
// estimate W_est: α_cubic ≈ 0.53 segments per round trip up to
// cwnd_prior, then 1.
func TestCubicRenoFriendly(t *testing.T) {
	const (
		mss = 1000
		rtt = 2 * time.Millisecond
	)
	cc, now := cubicAfterLoss(t, mss, 100)
	est := 70.0
	for round := range 200 {
		now = ackRound(cc, mss, 1, rtt, now)
		inc := cubicAlpha
		if est >= 100 {
			inc = 1
		}
		est += inc
		got := float64(cc.Window()) / mss
		el := float64(round+1) * rtt.Seconds()
		if w := 0.4*math.Pow(el-cc.k, 3) + 100; got < w {
			t.Fatalf("round %d: cwnd %.2f below W_cubic %.2f", round, got, w)
		}
		if math.Abs(got-est) > 1.5 {
			t.Fatalf("round %d: cwnd %.2f segments, Reno-friendly estimate %.2f", round, got, est)
		}
	}
	if math.Abs(cubicAlpha-0.5294) > 1e-4 {
		t.Errorf("α_cubic = %v", cubicAlpha)
	}
}

func TestCubicFastConvergence(t *testing.T) {
	const mss = 1000
	cc, now := cubicAfterLoss(t, mss, 100)
	if cc.wMax != 100*mss {
		t.Fatalf("W_max %v", cc.wMax)
	}
	// Grow a little (below W_max) and lose again: W_max shrinks to
	// cwnd * (1 + β) / 2.
	for range 3 {
		now = ackRound(cc, mss, 1, 100*time.Millisecond, now)
	}
	w := float64(cc.Window()) + cc.frac
	if w >= 100*mss {
		t.Fatalf("cwnd %v", w)
	}
	cc.OnCongestion(cc.Window(), now)
	if want := w * 0.85; math.Abs(cc.wMax-want) > 1e-6 {
		t.Errorf("fast convergence: W_max %v, want %v", cc.wMax, want)
	}
	if cc.cwndPrior != w {
		t.Errorf("cwnd_prior %v, want %v", cc.cwndPrior, w)
	}
	// Above W_max, a loss sets W_max to cwnd.
	cc.OnRecoveryEnd(now)
	for cc.Window() < int(cc.wMax)+10*mss {
		now = ackRound(cc, mss, 1, 100*time.Millisecond, now)
	}
	w = float64(cc.Window()) + cc.frac
	cc.OnCongestion(cc.Window(), now)
	if cc.wMax != w {
		t.Errorf("W_max %v, want cwnd %v", cc.wMax, w)
	}
}

// TestCubicAfterRTO checks RFC 9438 §4.8: the first stage after a
// timeout starts with K = 0 and W_max = cwnd at its start.
func TestCubicAfterRTO(t *testing.T) {
	const mss = 1000
	cc, now := cubicAfterLoss(t, mss, 100)
	cc.OnRTO(80*mss, now)
	if cc.Ssthresh() != 56*mss || cc.Window() != mss {
		t.Fatalf("RTO: ssthresh %d cwnd %d", cc.Ssthresh(), cc.Window())
	}
	for cc.Window() < cc.Ssthresh() {
		now = ackRound(cc, mss, 1, 100*time.Millisecond, now)
	}
	cc.OnAck(mss, cc.Window(), 100*time.Millisecond, now)
	if cc.k != 0 || cc.wMax != cc.cwndEpoch || cc.wEst < cc.cwndEpoch {
		t.Errorf("after RTO: K %v W_max %v cwnd_epoch %v W_est %v", cc.k, cc.wMax, cc.cwndEpoch, cc.wEst)
	}
}

// TestCubicApplicationLimitedTime checks that time spent
// application-limited does not count in t (RFC 9438 §5.8): after a long
// application-limited spell the window resumes from where it was.
func TestCubicApplicationLimitedTime(t *testing.T) {
	const mss = 1000
	cc, now := cubicAfterLoss(t, mss, 100)
	now = ackRound(cc, mss, 1, 100*time.Millisecond, now)
	before := cc.Window()
	for range 100 { // 10 s of ACKs with little in flight
		now = now.Add(100 * time.Millisecond)
		cc.OnAck(mss, 5*mss, 100*time.Millisecond, now)
	}
	if cc.Window() != before {
		t.Fatalf("application-limited ACKs moved cwnd %d → %d", before, cc.Window())
	}
	ackRound(cc, mss, 1, 100*time.Millisecond, now)
	if d := cc.Window() - before; d > 5*mss {
		t.Errorf("cwnd jumped by %d bytes after an application-limited spell", d)
	}
}

// TestCongestionRandom drives both algorithms with random events and
// checks invariants: cwnd at least one SMSS, ssthresh at least two once
// set, no ACK shrinks the window, windows stay finite.
func TestCongestionRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, name := range ccNames {
		for run := range 50 {
			mss := 500 + rng.IntN(9000)
			cc := newCC(t, name, mss)
			now := ccEpoch
			for step := range 2000 {
				now = now.Add(time.Duration(rng.IntN(50_000)) * time.Microsecond)
				w := cc.Window()
				switch r := rng.IntN(100); {
				case r < 85:
					flight := rng.IntN(2*w + 1)
					cc.OnAck(rng.IntN(3*mss)+1, flight, time.Duration(rng.IntN(200))*time.Millisecond, now)
					if cc.Window() < w {
						t.Fatalf("%s run %d step %d: ACK shrank cwnd %d → %d", name, run, step, w, cc.Window())
					}
				case r < 92:
					cc.OnCongestion(rng.IntN(2*w+1), now)
				case r < 95:
					cc.OnRecoveryEnd(now)
				case r < 97:
					cc.OnRTO(rng.IntN(2*w+1), now)
				case r < 99:
					cc.OnIdle(now)
				default:
					mss = 500 + rng.IntN(9000)
					cc.SetMSS(mss)
				}
				if cc.Window() < mss || cc.Window() > 1<<40 {
					t.Fatalf("%s run %d step %d: cwnd %d (mss %d)", name, run, step, cc.Window(), mss)
				}
				if ss := cc.Ssthresh(); ss != math.MaxInt32 && ss < 2*500 {
					t.Fatalf("%s run %d step %d: ssthresh %d", name, run, step, ss)
				}
			}
		}
	}
}

func TestCongestionAllocs(t *testing.T) {
	for _, name := range ccNames {
		cc := newCC(t, name, 1460)
		cc.OnCongestion(100*1460, ccEpoch)
		cc.OnRecoveryEnd(ccEpoch)
		now := ccEpoch
		n := testing.AllocsPerRun(1000, func() {
			now = now.Add(time.Millisecond)
			cc.OnAck(1460, cc.Window(), 50*time.Millisecond, now)
		})
		if n != 0 {
			t.Errorf("%s: OnAck allocates %v", name, n)
		}
	}
}

func BenchmarkCongestionOnAck(b *testing.B) {
	for _, name := range ccNames {
		b.Run(name, func(b *testing.B) {
			cc := newCC(b, name, 1460)
			cc.OnCongestion(100*1460, ccEpoch)
			cc.OnRecoveryEnd(ccEpoch)
			now := ccEpoch
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				now = now.Add(10 * time.Microsecond)
				cc.OnAck(1460, cc.Window(), 50*time.Millisecond, now)
				if i%100_000 == 99_999 { // stay in a realistic range
					cc.OnCongestion(cc.Window(), now)
					cc.OnRecoveryEnd(now)
				}
			}
		})
	}
}
