package tcp

import (
	"testing"
	"time"
)

// Conformance tests of flow control: the receive window and its
// updates, silly window syndrome avoidance on both sides (RFC 9293
// §3.8.6), zero-window probing (§3.8.6.1), Nagle's algorithm (§3.7.4),
// the send buffer bound, delayed ACKs (§3.8.6.3, RFC 5681 §4.2) and the
// ACKs of out-of-order data with SACK blocks (RFC 2018 §4).

// smallRcv is a receiver with a 4000-byte buffer, MSS 1000 and no
// window scaling (the peer offers none), so window fields are bytes.
func smallRcv(t *testing.T) *script {
	s := newScript(t, Config{RcvBuf: 4000, MSS: 1000, NoDelayedAck: true})
	syn := Segment{Seq: 5000, Flags: FlagSYN, Window: peerWin, Opts: mss1000}
	s.c.AcceptSYN(s.now, &syn)
	s.expect("SYN|ACK seq=1000 ack=5001 win=4000")
	s.in(peerAck(5001, 1001))
	s.wantState(Established)
	return s
}

// Data held unread shrinks the window until it is zero; the right edge
// never moves left (RFC 9293 §3.8.6); data beyond it is not taken, and a
// segment when the window is zero is answered with an ACK (backpressure).
func TestWindowShrinksToZero(t *testing.T) {
	s := smallRcv(t)
	s.in(peerData(5001, 1001, 1000))
	s.expect("ACK ack=6001 win=3000")
	s.in(peerData(6001, 1001, 1000))
	s.expect("ACK ack=7001 win=2000")
	s.in(peerData(7001, 1001, 1000))
	s.expect("ACK ack=8001 win=1000")
	// 1500 bytes into a 1000-byte window: the first 1000 are taken.
	s.in(peerData(8001, 1001, 1500))
	s.expect("ACK ack=9001 win=0")
	s.in(peerData(9001, 1001, 1000))
	s.expect("ACK seq=1001 ack=9001 win=0")
	// A zero-window probe (an old byte) gets the window too.
	s.in(peerData(9000, 1001, 1))
	s.expect("ACK seq=1001 ack=9001 win=0")
	if st := s.c.Stats(); st.OutOfWindow != 2 || st.BytesIn != 4000 {
		t.Fatalf("stats %+v", st)
	}
	got := s.c.TakeReadable()
	if len(got) != 4000 {
		t.Fatalf("readable %d bytes", len(got))
	}
}

// Consumed opens the window; a window update goes out when the window
// has fallen below half the buffer and can grow by min(2*MSS, buffer/2)
// (the code's rule for "enough", RFC 9293 §3.8.6.2.2 leaves it open).
// Smaller openings are not advertised, not even on ACKs sent for other
// reasons (receiver-side SWS avoidance: by at least min(MSS, buffer/2)).
func TestWindowConsumedOpens(t *testing.T) {
	s := smallRcv(t)
	for i := range 4 {
		s.in(peerData(Seq(5001+1000*i), 1001, 1000))
	}
	s.out()
	if d := s.c.TakeReadable(); len(d) != 4000 {
		t.Fatalf("readable %d bytes", len(d))
	}
	probe := peerData(9000, 1001, 1)
	// Taken is not consumed: still zero.
	s.in(probe)
	s.expect("ACK ack=9001 win=0")
	s.c.Consumed(s.now, 500)
	s.expect()
	s.in(probe)
	s.expect("ACK ack=9001 win=0") // 500 < MSS: not advertised
	s.c.Consumed(s.now, 1000)
	s.expect()
	s.in(probe)
	s.expect("ACK ack=9001 win=1500") // >= MSS: advertised when asked
	s.c.Consumed(s.now, 500)
	s.expect() // 2000 free, but the window can only grow by 500 beyond the 1500 advertised
	s.c.Consumed(s.now, 2000)
	s.expect("ACK ack=9001 win=4000")
}

// A window update is sent unprompted when the window was closed and the
// user frees enough at once.
func TestWindowUpdateAfterZeroWindow(t *testing.T) {
	s := smallRcv(t)
	for i := range 4 {
		s.in(peerData(Seq(5001+1000*i), 1001, 1000))
	}
	s.out()
	s.c.TakeReadable()
	s.c.Consumed(s.now, 1999)
	s.expect()
	s.c.Consumed(s.now, 1)
	s.expect("ACK seq=1001 ack=9001 win=2000")
	// Data flows again into the opened window.
	s.in(peerData(9001, 1001, 1000))
	s.expect("ACK ack=10001 win=1000")
}

// Consumption that cannot change the advertised window sends nothing: a
// window update with the same ACK and window is an RFC 5681 duplicate ACK
// to the peer, and three of them make it retransmit.
func TestWindowNoUpdateWithoutChange(t *testing.T) {
	s := newScript(t, Config{})
	s.established(mss1000)
	s.in(peerData(5001, 1001, 1000))
	s.in(peerData(6001, 1001, 1000))
	s.expect("ACK seq=1001 ack=7001 win=65535")
	s.c.TakeReadable()
	for range 3 {
		s.c.Consumed(s.now, 500)
		s.expect()
	}
}

// Without window scaling the window field caps what a larger buffer can
// offer: once the peer has used more than half of 65535, consumption
// sends one update, to 65535, and no more.
func TestWindowUpdateCappedByField(t *testing.T) {
	s := newScript(t, Config{RcvBuf: 100000, NoDelayedAck: true})
	s.established(mss1000)
	for i := range 80 {
		s.in(peerData(Seq(5001+1000*i), 1001, 1000))
		s.out()
	}
	s.c.TakeReadable()
	s.c.Consumed(s.now, 70000)
	s.expect("ACK seq=1001 ack=85001 win=65535")
	s.c.Consumed(s.now, 10000)
	s.expect()
}

// Zero-window probing (RFC 9293 §3.8.6.1): with data queued and a zero
// send window, a probe goes out after the RTO and then with exponential
// backoff; the connection survives however long the window stays shut
// while the peer answers (RFC 1122 §4.2.2.17); data resumes when it
// opens. The probe is the code's (and Linux's) form: an ACK one below
// snd.una with no data, which the peer must answer with its window.
func TestWindowZeroWindowProbe(t *testing.T) {
	s := newScript(t, Config{NoDelay: true, MaxRTO: 2 * time.Second})
	s.established(mss1000)
	zero := peerAck(5001, 1001)
	zero.Window = 0
	s.in(zero)
	if n := s.c.Write(s.now, pattern(2500)); n != 2500 {
		t.Fatalf("Write took %d", n)
	}
	s.expect()
	_, rto := s.c.RTT()
	s.wantDeadline(rto)
	backoff := rto
	for i := range 6 {
		s.advance(backoff - time.Millisecond)
		s.expect()
		s.advance(time.Millisecond)
		s.expect("ACK seq=1000 ack=5001 len=0")
		s.in(zero) // the peer's answer: still shut
		s.expect()
		if st := s.c.Stats(); st.ZeroWindowProbes != uint64(i+1) {
			t.Fatalf("ZeroWindowProbes %d", st.ZeroWindowProbes)
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	s.wantState(Established)
	if st := s.c.Stats(); st.Timeouts != 0 || st.Retransmits != 0 {
		t.Fatalf("stats %+v", st)
	}
	// The window opens: data flows and the probes stop.
	s.in(peerAck(5001, 1001))
	s.expect("ACK seq=1001 len=1000", "ACK seq=2001 len=1000", "PSH|ACK seq=3001 len=500")
	s.in(peerAck(5001, 3501))
	if d := s.c.Deadline(); !d.IsZero() {
		t.Fatalf("a timer is left in %v", d.Sub(s.now))
	}
}

// The window closing with data in flight: the RTO retransmits (the
// window does not forbid retransmitting what was sent), and once that
// is acknowledged with a zero window, the persist timer takes over.
func TestWindowClosesWithDataInFlight(t *testing.T) {
	s := newScript(t, Config{NoDelay: true})
	s.established(mss1000)
	s.c.Write(s.now, pattern(3000))
	s.expect("ACK seq=1001 len=1000", "ACK seq=2001 len=1000", "PSH|ACK seq=3001 len=1000")
	s.c.Write(s.now, pattern(1000))
	s.expect("PSH|ACK seq=4001 len=1000")
	ack := peerAck(5001, 5001)
	ack.Window = 0
	s.in(ack)
	s.c.Write(s.now, pattern(1000))
	s.expect()
	_, rto := s.c.RTT()
	s.advance(rto)
	s.expect("ACK seq=5000 len=0")
	ack.Window = 1000
	s.in(ack)
	s.expect("PSH|ACK seq=5001 len=1000")
}

// Nagle's algorithm (RFC 9293 §3.7.4, RFC 896): a short segment waits
// while data is unacknowledged, coalescing later writes; full segments go
// out regardless. NoDelay switches it off.
func TestWindowNagle(t *testing.T) {
	s := newScript(t, Config{})
	s.established(mss1000)
	s.c.Write(s.now, pattern(100))
	s.expect("PSH|ACK seq=1001 len=100")
	s.c.Write(s.now, pattern(100))
	s.c.Write(s.now, pattern(100))
	s.expect()
	s.in(peerAck(5001, 1101))
	s.expect("PSH|ACK seq=1101 len=200")
	// Full segments are not held; the short tail is.
	s.c.Write(s.now, pattern(2300))
	s.expect("ACK seq=1301 len=1000", "ACK seq=2301 len=1000")
	s.in(peerAck(5001, 3301))
	s.expect("PSH|ACK seq=3301 len=300")

	s = newScript(t, Config{NoDelay: true})
	s.established(mss1000)
	s.c.Write(s.now, pattern(100))
	s.c.Write(s.now, pattern(100))
	s.expect("PSH|ACK seq=1001 len=100", "PSH|ACK seq=1101 len=100")
}

// Sender-side SWS avoidance (RFC 9293 §3.8.6.2.1): with a peer window
// smaller than a segment, a short segment goes out only if it is at
// least half the largest window the peer ever offered.
func TestWindowSenderSWS(t *testing.T) {
	// The peer offers 1500: 1000 + a held 500 (500 < 1500/2).
	s := newScript(t, Config{NoDelay: true})
	syn := Segment{Seq: 5000, Flags: FlagSYN, Window: 1500, Opts: mss1000}
	s.c.AcceptSYN(s.now, &syn)
	s.expect("SYN|ACK")
	ack := peerAck(5001, 1001)
	ack.Window = 1500
	s.in(ack)
	s.c.Write(s.now, pattern(5000))
	s.expect("ACK seq=1001 len=1000")
	// The peer offers 800 after its first ACK: 800 >= 1500/2, sent.
	ack = peerAck(5001, 2001)
	ack.Window = 800
	s.in(ack)
	s.expect("ACK seq=2001 len=800")
}

// RFC 9293 §3.8.6.2.1, rule 4 (RFC 1122 §4.2.3.4): a short segment held
// back by sender-side SWS avoidance goes out when the override timeout
// (0.1 to 1 s) expires, if its data was pushed.
func TestWindowSWSOverrideTimeout(t *testing.T) {
	s := newScript(t, Config{NoDelay: true})
	s.established(mss1000)
	ack := peerAck(5001, 1001)
	ack.Window = 500
	s.in(ack)
	s.c.Write(s.now, pattern(3000))
	s.expect()
	s.advance(time.Second)
	s.expect("ACK seq=1001 len=500")
}

// The override timeout runs again each time the small window holds data
// back with nothing in flight; an ACK for data in flight, not the timer,
// sends the next segment when it can.
func TestWindowSWSOverrideRepeats(t *testing.T) {
	s := newScript(t, Config{NoDelay: true})
	s.established(mss1000)
	ack := peerAck(5001, 1001)
	ack.Window = 500
	s.in(ack)
	s.c.Write(s.now, pattern(3000))
	s.expect()
	s.wantDeadline(time.Second)
	s.advance(time.Second)
	s.expect("ACK seq=1001 len=500")
	s.advance(100 * time.Millisecond)
	ack = peerAck(5001, 1501)
	ack.Window = 500
	s.in(ack)
	s.expect()
	s.wantDeadline(time.Second)
	// The window opens while the timer runs: data flows at once.
	s.advance(500 * time.Millisecond)
	s.in(peerAck(5001, 1501))
	s.expect("ACK seq=1501 len=1000", "ACK seq=2501 len=1000", "PSH|ACK seq=3501 len=500")
	s.in(peerAck(5001, 4001))
	s.expect()
	if d := s.c.Deadline(); !d.IsZero() {
		t.Fatalf("a timer is left in %v", d.Sub(s.now))
	}
}

// Data sent before is sent again after a timeout as far as the peer's
// window allows, however small (here it shrank to 500 under 1000 bytes
// in flight): sender-side SWS avoidance holds back new data, not
// retransmissions, which would otherwise never leave until the
// connection timed out.
func TestWindowRetransmitIntoSmallWindow(t *testing.T) {
	s := newScript(t, Config{NoDelay: true})
	s.established(mss1000)
	s.c.Write(s.now, pattern(1000))
	s.expect("PSH|ACK seq=1001 len=1000")
	ack := peerAck(5001, 1001)
	ack.Window = 500
	s.in(ack)
	_, rto := s.c.RTT()
	s.advance(rto)
	s.expect("ACK seq=1001 len=500")
	ack = peerAck(5001, 1501)
	ack.Window = 500
	s.in(ack)
	s.expect("PSH|ACK seq=1501 len=500")
	s.in(peerAck(5001, 2001))
	s.expect()
	if st := s.c.Stats(); st.Timeouts != 1 || st.Retransmits != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// Write takes no more than the send buffer's free space (SndBuf counts
// queued and unacknowledged data), counting the shortfall; acknowledged
// data frees space. Writes after the user closed its direction are
// refused.
func TestWindowWriteBoundedBySndBuf(t *testing.T) {
	s := newScript(t, Config{SndBuf: 3000, NoDelay: true})
	s.established(mss1000)
	if n := s.c.Write(s.now, pattern(5000)); n != 3000 {
		t.Fatalf("Write took %d, want 3000", n)
	}
	s.expect("ACK seq=1001 len=1000", "ACK seq=2001 len=1000", "PSH|ACK seq=3001 len=1000")
	if w := s.c.Writable(); w != 0 {
		t.Fatalf("Writable %d", w)
	}
	if n := s.c.Write(s.now, pattern(10)); n != 0 {
		t.Fatalf("Write into a full buffer took %d", n)
	}
	if st := s.c.Stats(); st.WindowFull != 2 {
		t.Fatalf("WindowFull %d", st.WindowFull)
	}
	s.in(peerAck(5001, 2001))
	if w := s.c.Writable(); w != 1000 {
		t.Fatalf("Writable %d after 1000 acknowledged", w)
	}
	if n := s.c.Write(s.now, pattern(1000)); n != 1000 {
		t.Fatalf("Write took %d", n)
	}
	s.c.Shutdown(s.now)
	if n := s.c.Write(s.now, pattern(10)); n != 0 || s.c.Writable() != 0 {
		t.Fatalf("Write after Shutdown took %d", n)
	}
	if st := s.c.Stats(); st.SendRefused != 1 {
		t.Fatalf("SendRefused %d", st.SendRefused)
	}
}

// Delayed ACKs (RFC 9293 §3.8.6.3, RFC 5681 §4.2): a lone segment is
// acknowledged after DelayedAck (timed from the first unacknowledged
// segment, well within the 500 ms limit), every second full-sized
// segment at once; segments under half an MSS do not count towards the
// two.
func TestWindowDelayedAck(t *testing.T) {
	s := newScript(t, Config{DelayedAck: 100 * time.Millisecond})
	s.established(mss1000)
	s.in(peerData(5001, 1001, 1000))
	s.expect()
	s.wantDeadline(100 * time.Millisecond)
	s.advance(60 * time.Millisecond)
	s.in(peerData(6001, 1001, 100)) // small: does not count, does not restart the timer
	s.expect()
	s.advance(40*time.Millisecond - time.Microsecond)
	s.expect()
	s.advance(time.Microsecond)
	s.expect("ACK seq=1001 ack=6101")
	// Two full-sized segments: at once.
	s.in(peerData(6101, 1001, 1000))
	s.expect()
	s.in(peerData(7101, 1001, 1000))
	s.expect("ACK seq=1001 ack=8101")
	if d := s.c.Deadline(); !d.IsZero() {
		t.Fatalf("delayed-ACK timer left in %v", d.Sub(s.now))
	}
	// Three small ones: one ACK, on the timer.
	for i := range 3 {
		s.in(peerData(Seq(8101+10*i), 1001, 10))
	}
	s.expect()
	s.advance(100 * time.Millisecond)
	s.expect("ACK seq=1001 ack=8131")
}

// An ACK owed rides on data we send; the delayed-ACK timer then has
// nothing to do.
func TestWindowAckPiggybacks(t *testing.T) {
	s := newScript(t, Config{})
	s.established(mss1000)
	s.in(peerData(5001, 1001, 100))
	s.expect()
	s.c.Write(s.now, []byte("reply"))
	s.expect("PSH|ACK seq=1001 ack=5101 len=5")
	s.advance(100 * time.Millisecond)
	s.expect()
}

// NoDelayedAck acknowledges every segment at once.
func TestWindowNoDelayedAck(t *testing.T) {
	s := newScript(t, Config{NoDelayedAck: true})
	s.established(mss1000)
	s.in(peerData(5001, 1001, 10))
	s.expect("ACK ack=5011")
	s.in(peerData(5011, 1001, 10))
	s.expect("ACK ack=5021")
}

// Out-of-order data is acknowledged at once with SACK blocks, the first
// holding the segment that triggered the ACK and the others the most
// recently reported first (RFC 2018 §4, RFC 5681 §4.2); the segment
// filling the hole is acknowledged at once too.
func TestWindowOutOfOrderSACK(t *testing.T) {
	s := newScript(t, Config{})
	s.established(mss1000SACK)
	blocks := func(g Segment) []Block { return g.Opts.SACK[:g.Opts.NumSACK] }
	want := func(g Segment, bs ...Block) {
		t.Helper()
		got := blocks(g)
		if len(got) != len(bs) {
			t.Fatalf("SACK blocks %v, want %v", got, bs)
		}
		for i := range bs {
			if got[i] != bs[i] {
				t.Fatalf("SACK blocks %v, want %v", got, bs)
			}
		}
	}
	s.in(peerData(6001, 1001, 1000))
	want(s.expect("ACK seq=1001 ack=5001")[0], Block{6001, 7001})
	s.in(peerData(8001, 1001, 1000))
	want(s.expect("ACK seq=1001 ack=5001")[0], Block{8001, 9001}, Block{6001, 7001})
	s.in(peerData(10001, 1001, 1000))
	want(s.expect("ACK seq=1001 ack=5001")[0], Block{10001, 11001}, Block{8001, 9001}, Block{6001, 7001})
	// A segment extending the oldest block moves it first.
	s.in(peerData(7001, 1001, 500))
	want(s.expect("ACK seq=1001 ack=5001")[0], Block{6001, 7501}, Block{10001, 11001}, Block{8001, 9001})
	// A duplicate of held data: acknowledged at once, its block first.
	s.in(peerData(8001, 1001, 1000))
	want(s.expect("ACK seq=1001 ack=5001")[0], Block{8001, 9001}, Block{6001, 7501}, Block{10001, 11001})
	if st := s.c.Stats(); st.OutOfOrder != 5 {
		t.Fatalf("OutOfOrder %d", st.OutOfOrder)
	}
	s.read(nil)
	// The hole filled: everything up to the next hole, at once.
	s.in(peerData(5001, 1001, 1000))
	want(s.expect("ACK seq=1001 ack=7501")[0], Block{8001, 9001}, Block{10001, 11001})
	s.in(peerData(7501, 1001, 500))
	want(s.expect("ACK seq=1001 ack=9001")[0], Block{10001, 11001})
	s.in(peerData(9001, 1001, 1000))
	want(s.expect("ACK seq=1001 ack=11001")[0])
	got := s.c.TakeReadable()
	if len(got) != 6000 {
		t.Fatalf("readable %d bytes, want 6000", len(got))
	}
}

// Data below RCV.NXT (a retransmission of what we have) is acknowledged
// at once; data overlapping RCV.NXT is trimmed and the new part taken.
func TestWindowDuplicateAndOverlappingData(t *testing.T) {
	s := newScript(t, Config{})
	s.established(mss1000)
	s.in(peerData(5001, 1001, 100))
	s.in(peerData(5001, 1001, 100))
	s.expect("ACK seq=1001 ack=5101")
	g := peerData(5051, 1001, 100) // 50 old, 50 new
	copy(g.Payload, pattern(150)[50:])
	s.in(g)
	s.advance(40 * time.Millisecond)
	s.expect("ACK seq=1001 ack=5151")
	s.read(pattern(150))
}
