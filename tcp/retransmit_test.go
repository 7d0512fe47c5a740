package tcp

import (
	"fmt"
	"testing"
	"time"
)

// Conformance tests of retransmission and loss recovery: the RTO (RFC
// 6298), fast retransmit and NewReno (RFC 5681, 6582), SACK recovery (RFC
// 6675), tail loss probes (RFC 8985 §7) and early retransmit (RFC 5827).
// Segments are 1000 bytes (the peer's MSS, no timestamps) and congestion
// control is Reno, so that windows are round numbers.

// sackAck is a duplicate ACK for ack from the peer carrying SACK blocks.
func sackAck(ack Seq, blocks ...Block) Segment {
	g := peerAck(5001, ack)
	g.Opts.NumSACK = copy(g.Opts.SACK[:], blocks)
	return g
}

// segs describes n consecutive 1000-byte segments from seq.
func segs(flags string, seq Seq, n int) []string {
	var r []string
	for i := range n {
		r = append(r, fmt.Sprintf("%s seq=%d len=1000", flags, seq.Add(1000*i)))
	}
	return r
}

// mss1000 is a peer that offers MSS 1000 and nothing else.
var mss1000 = Options{MSS: 1000, HasMSS: true}

// mss1000SACK adds SACK-permitted.
var mss1000SACK = Options{MSS: 1000, HasMSS: true, SACKPermitted: true}

// RFC 6298 §2.1: before any RTT sample the RTO is 1 second.
func TestRTOInitial(t *testing.T) {
	s := newScript(t, Config{NoDelay: true})
	s.activeOpen(mss1000, peerWin)
	if srtt, rto := s.c.RTT(); srtt != 0 || rto != time.Second {
		t.Fatalf("srtt %v rto %v, want 0 and 1s", srtt, rto)
	}
	s.c.Write(s.now, pattern(100))
	s.expect("PSH|ACK seq=1001 len=100")
	s.advance(time.Second - time.Millisecond)
	s.expect()
	s.advance(time.Millisecond)
	s.expect("PSH|ACK seq=1001 len=100")
	if st := s.c.Stats(); st.Timeouts != 1 || st.Retransmits != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// RFC 6298 §5.2: when all outstanding data (here the SYN) is
// acknowledged, the retransmission timer is turned off; §5.1: data sent
// later starts it afresh.
func TestRTOActiveOpenStopsSYNTimer(t *testing.T) {
	s := newScript(t, Config{NoDelay: true})
	s.c.Connect(s.now)
	s.expect("SYN seq=1000")
	s.advance(900 * time.Millisecond)
	s.in(Segment{Seq: 5000, Ack: 1001, Flags: FlagSYN | FlagACK, Window: peerWin, Opts: mss1000})
	s.expect("ACK seq=1001 ack=5001")
	if d := s.c.Deadline(); !d.IsZero() {
		t.Fatalf("a timer is left %v after the handshake", d.Sub(s.now))
	}
	s.c.Write(s.now, pattern(100))
	s.expect("PSH|ACK seq=1001 len=100")
	_, rto := s.c.RTT()
	s.wantDeadline(rto)
	s.advance(200 * time.Millisecond)
	s.expect()
	if st := s.c.Stats(); st.Timeouts != 0 {
		t.Fatalf("spurious timeout: %+v", st)
	}
}

// The SYN's RTT timing ends with the handshake: the first data ACK is
// timed from the data, not from the SYN (which would add the time the
// SYN-ACK took and the time before the first write).
func TestRTOActiveOpenFirstSampleFromData(t *testing.T) {
	s := newScript(t, Config{NoDelay: true})
	s.c.Connect(s.now)
	s.expect("SYN seq=1000")
	s.advance(900 * time.Millisecond)
	s.in(Segment{Seq: 5000, Ack: 1001, Flags: FlagSYN | FlagACK, Window: peerWin, Opts: mss1000})
	s.expect("ACK seq=1001 ack=5001")
	s.advance(time.Second)
	s.c.Write(s.now, pattern(100))
	s.expect("PSH|ACK seq=1001 len=100")
	s.advance(100 * time.Millisecond)
	s.in(peerAck(5001, 1101))
	if srtt, rto := s.c.RTT(); srtt != 100*time.Millisecond || rto != 300*time.Millisecond {
		t.Fatalf("srtt %v rto %v, want 100ms and 300ms", srtt, rto)
	}
}

// RFC 6298 §5.7: after the SYN (or SYN-ACK) timed out, an RTO below 3 s
// is re-initialized to 3 s when data transmission begins.
func TestRTOThreeSecondsAfterSYNTimeout(t *testing.T) {
	s := newScript(t, Config{})
	s.c.Connect(s.now)
	s.expect("SYN seq=1000")
	s.advance(time.Second)
	s.expect("SYN seq=1000")
	s.in(Segment{Seq: 5000, Ack: 1001, Flags: FlagSYN | FlagACK, Window: peerWin, Opts: mss1000})
	s.expect("ACK seq=1001 ack=5001")
	if _, rto := s.c.RTT(); rto != 3*time.Second {
		t.Fatalf("active open: rto %v, want 3s", rto)
	}

	s = newScript(t, Config{})
	syn := Segment{Seq: 5000, Flags: FlagSYN, Window: peerWin, Opts: mss1000}
	s.c.AcceptSYN(s.now, &syn)
	s.expect("SYN|ACK seq=1000")
	s.advance(time.Second)
	s.expect("SYN|ACK seq=1000")
	s.in(peerAck(5001, 1001))
	if _, rto := s.c.RTT(); rto != 3*time.Second {
		t.Fatalf("passive open: rto %v, want 3s", rto)
	}
}

// RFC 6298 §2.2–2.3: SRTT, RTTVAR and RTO from successive samples, K = 4,
// alpha = 1/8, beta = 1/4; the timer then fires after exactly the RTO.
func TestRTOComputation(t *testing.T) {
	s := newScript(t, Config{NoDelay: true})
	s.open(mss1000, 100*time.Millisecond, peerWin) // the SYN-ACK is timed
	check := func(srtt, rto time.Duration) {
		t.Helper()
		if gs, gr := s.c.RTT(); gs != srtt || gr != rto {
			t.Fatalf("srtt %v rto %v, want %v and %v", gs, gr, srtt, rto)
		}
	}
	// First sample R = 100ms: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4*RTTVAR.
	check(100*time.Millisecond, 300*time.Millisecond)
	// R' = 200ms: RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5, SRTT = 112.5.
	s.c.Write(s.now, pattern(100))
	s.expect("PSH|ACK seq=1001 len=100")
	s.advance(200 * time.Millisecond)
	s.in(peerAck(5001, 1101))
	check(112500*time.Microsecond, 362500*time.Microsecond)
	// R' = 50ms: RTTVAR = 3/4*62.5 + 1/4*62.5 = 62.5, SRTT = 104.6875.
	s.c.Write(s.now, pattern(100))
	s.expect("PSH|ACK seq=1101 len=100")
	s.advance(50 * time.Millisecond)
	s.in(peerAck(5001, 1201))
	check(104687500*time.Nanosecond, 354687500*time.Nanosecond)
	// The timer runs for exactly the RTO.
	s.c.Write(s.now, pattern(100))
	s.expect("PSH|ACK seq=1201 len=100")
	s.advance(354687500*time.Nanosecond - time.Microsecond)
	s.expect()
	s.advance(time.Microsecond)
	s.expect("PSH|ACK seq=1201 len=100")
}

// RFC 6298 §2.4 asks for an RTO of at least 1 s (SHOULD); the code's
// floor is MinRTO, 200 ms by default as in Linux, and MaxRTO caps it.
func TestRTOBounds(t *testing.T) {
	s := newScript(t, Config{})
	s.open(mss1000, 10*time.Millisecond, peerWin)
	if _, rto := s.c.RTT(); rto != 200*time.Millisecond {
		t.Fatalf("rto %v, want the 200ms floor", rto)
	}
	s = newScript(t, Config{MinRTO: time.Second})
	s.open(mss1000, 10*time.Millisecond, peerWin)
	if _, rto := s.c.RTT(); rto != time.Second {
		t.Fatalf("rto %v, want MinRTO 1s", rto)
	}
	s = newScript(t, Config{MaxRTO: 2 * time.Second})
	s.open(mss1000, 900*time.Millisecond, peerWin)
	if _, rto := s.c.RTT(); rto != 2*time.Second {
		t.Fatalf("rto %v, want MaxRTO 2s (900ms + 4*450ms capped)", rto)
	}
}

// Karn's algorithm (RFC 6298 §3): without timestamps, the ACK of a
// retransmitted segment gives no RTT sample, and the backed-off RTO is
// kept until a segment sent once is acknowledged.
func TestRTOKarn(t *testing.T) {
	s := newScript(t, Config{NoDelay: true})
	s.open(mss1000, 100*time.Millisecond, peerWin) // srtt 100ms, rto 300ms
	s.c.Write(s.now, pattern(100))
	s.expect("PSH|ACK seq=1001 len=100")
	s.advance(300 * time.Millisecond)
	s.expect("PSH|ACK seq=1001 len=100")
	s.advance(100 * time.Millisecond)
	s.in(peerAck(5001, 1101)) // 400ms after the first copy, 100ms after the second
	if srtt, rto := s.c.RTT(); srtt != 100*time.Millisecond || rto != 600*time.Millisecond {
		t.Fatalf("srtt %v rto %v, want 100ms unchanged and the backed-off 600ms", srtt, rto)
	}
	// New data, sent once: sampled (R = 100ms: RTTVAR 37.5ms).
	s.c.Write(s.now, pattern(100))
	s.expect("PSH|ACK seq=1101 len=100")
	s.advance(100 * time.Millisecond)
	s.in(peerAck(5001, 1201))
	if srtt, rto := s.c.RTT(); srtt != 100*time.Millisecond || rto != 250*time.Millisecond {
		t.Fatalf("srtt %v rto %v, want 100ms and 250ms", srtt, rto)
	}
}

// RFC 6298 §5.5: the RTO doubles on each expiry, up to MaxRTO (§2.5), and
// the connection gives up after MaxRetries expiries in a row.
func TestRTOBackoffAndGiveUp(t *testing.T) {
	s := newScript(t, Config{NoDelay: true, MinRTO: time.Second, MaxRTO: 4 * time.Second, MaxRetries: 5})
	s.established(mss1000)
	if _, rto := s.c.RTT(); rto != time.Second {
		t.Fatalf("rto %v", rto)
	}
	s.c.Write(s.now, pattern(100))
	s.expect("PSH|ACK seq=1001 len=100")
	for i, wait := range []time.Duration{1, 2, 4, 4, 4} {
		s.advance(wait*time.Second - time.Millisecond)
		s.expect()
		s.advance(time.Millisecond)
		s.expect("PSH|ACK seq=1001 len=100")
		if _, rto := s.c.RTT(); rto != min(wait*2, 4)*time.Second {
			t.Fatalf("after expiry %d: rto %v", i+1, rto)
		}
	}
	s.advance(4*time.Second - time.Millisecond)
	s.wantState(Established)
	s.advance(time.Millisecond)
	s.expect()
	s.wantClosed(ErrTimeout)
	if st := s.c.Stats(); st.Retransmits != 5 {
		t.Fatalf("Retransmits %d, want 5", st.Retransmits)
	}
}

// An ACK of new data resets the retry count (RFC 6298 §5.3 restarts the
// timer; MaxRetries counts expiries in a row).
func TestRTORetriesResetByProgress(t *testing.T) {
	s := newScript(t, Config{NoDelay: true, MinRTO: time.Second, MaxRTO: time.Second, MaxRetries: 2})
	s.established(mss1000)
	s.c.Write(s.now, pattern(2000))
	s.expect("ACK seq=1001 len=1000", "PSH|ACK seq=2001 len=1000")
	s.advance(2 * time.Second)
	s.expect("ACK seq=1001 len=1000", "ACK seq=1001 len=1000")
	s.in(peerAck(5001, 2001))
	s.expect("PSH|ACK seq=2001 len=1000")
	s.advance(2 * time.Second)
	s.expect("PSH|ACK seq=2001 len=1000", "PSH|ACK seq=2001 len=1000")
	s.wantState(Established)
	s.advance(time.Second)
	s.wantClosed(ErrTimeout)
}

// RFC 5681 §3.1 and RFC 6298 §5.4: after an RTO, cwnd is one segment,
// ssthresh max(FlightSize/2, 2*SMSS), and sending resumes from snd.una
// (go-back-N: SACK information is not kept, RFC 6675 §5.1), growing in
// slow start.
func TestRTOGoBackN(t *testing.T) {
	s := newScript(t, Config{NoDelay: true, Congestion: "reno"})
	s.established(mss1000)
	s.c.Write(s.now, pattern(6000))
	s.expect(append(segs("ACK", 1001, 5), "PSH|ACK seq=6001 len=1000")...)
	_, rto := s.c.RTT()
	s.advance(rto)
	s.expect("ACK seq=1001 len=1000")
	cc := s.c.Congestion()
	if cc.Window() != 1000 || cc.Ssthresh() != 3000 {
		t.Fatalf("cwnd %d ssthresh %d, want 1000 and 3000", cc.Window(), cc.Ssthresh())
	}
	s.in(peerAck(5001, 2001))
	s.expect("ACK seq=2001 len=1000", "ACK seq=3001 len=1000")
	s.in(peerAck(5001, 4001))
	s.expect("ACK seq=4001 len=1000", "ACK seq=5001 len=1000", "PSH|ACK seq=6001 len=1000")
	// The receiver had more than the retransmissions: an ACK beyond
	// snd.nxt of the go-back-N pass is acceptable (it is below snd.max).
	s.in(peerAck(5001, 7001))
	s.expect()
	if st := s.c.Stats(); st.Retransmits != 6 || st.Timeouts != 1 || s.c.Unsent() != 0 {
		t.Fatalf("stats %+v unsent %d", st, s.c.Unsent())
	}
	if d := s.c.Deadline(); !d.IsZero() {
		t.Fatalf("a timer is left in %v", d.Sub(s.now))
	}
}

// RFC 5681 §3.2 and RFC 6582 (NewReno, no SACK): the third duplicate ACK
// retransmits the first segment, ssthresh = FlightSize/2, cwnd inflates
// by one segment per further duplicate ACK and lets new data out; a
// partial ACK retransmits the next hole at once and deflates; the full
// ACK (covering recover) ends recovery with cwnd = ssthresh.
func TestFastRetransmitNewReno(t *testing.T) {
	s := newScript(t, Config{NoDelay: true, Congestion: "reno"})
	s.established(mss1000)
	s.c.Write(s.now, pattern(10000))
	s.expect(append(segs("ACK", 1001, 9), "PSH|ACK seq=10001 len=1000")...) // the initial window: 10 segments
	// Segments 1001 and 5001 are lost. (Nothing more is queued yet, so
	// limited transmit sends nothing on the first two duplicate ACKs.)
	dup := peerAck(5001, 1001)
	s.in(dup)
	s.in(dup)
	s.expect()
	s.in(dup)
	s.expect("ACK seq=1001 len=1000")
	cc := s.c.Congestion()
	if cc.Ssthresh() != 5000 {
		t.Fatalf("ssthresh %d, want 5000", cc.Ssthresh())
	}
	s.c.Write(s.now, pattern(5000))
	s.expect()
	// cwnd 5000 + 3 segments of inflation: 8000 < 10000 in flight.
	s.in(dup)
	s.in(dup)
	s.expect()
	s.in(dup) // 11000 >= 10000 + 1000
	s.expect("ACK seq=11001 len=1000")
	s.in(dup)
	s.expect("ACK seq=12001 len=1000")
	s.in(dup)
	s.expect("ACK seq=13001 len=1000")
	if st := s.c.Stats(); st.FastRetransmits != 1 || st.DupAcks != 8 {
		t.Fatalf("stats %+v", st)
	}
	// Partial ACK: 5001 is the next hole. cwnd deflates by the 4000
	// acknowledged, gains one segment: 10000 against 9000 in flight.
	s.in(peerAck(5001, 5001))
	s.expect("ACK seq=5001 len=1000", "ACK seq=14001 len=1000")
	// Full ACK: recovery ends, cwnd = ssthresh.
	s.in(peerAck(5001, 15001))
	s.expect("PSH|ACK seq=15001 len=1000")
	if cc.Window() != 5000 {
		t.Fatalf("cwnd %d after recovery, want ssthresh 5000", cc.Window())
	}
	if st := s.c.Stats(); st.FastRetransmits != 1 || st.Retransmits != 2 || st.Timeouts != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// Duplicate ACKs count only when they carry no data and do not change
// the window (RFC 5681 §2).
func TestFastRetransmitDupAckDefinition(t *testing.T) {
	s := newScript(t, Config{NoDelay: true, NoDelayedAck: true, Congestion: "reno"})
	s.established(mss1000)
	s.c.Write(s.now, pattern(6000))
	s.expect(append(segs("ACK", 1001, 5), "PSH|ACK seq=6001 len=1000")...)
	s.in(peerAck(5001, 1001))
	g := peerAck(5001, 1001)
	g.Window = 60000 // a window update
	s.in(g)
	s.in(peerData(5001, 1001, 10)) // data
	s.expect("ACK seq=7001 ack=5011")
	s.read(pattern(10))
	if st := s.c.Stats(); st.DupAcks != 1 || st.FastRetransmits != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// RFC 6582 §3.2 step 2 ("recover"): after an RTO, duplicate ACKs for data
// below recover (the highest sequence sent before it) do not start a
// fast retransmission.
func TestFastRetransmitNotForSameWindow(t *testing.T) {
	s := newScript(t, Config{NoDelay: true, Congestion: "reno"})
	s.established(mss1000)
	s.c.Write(s.now, pattern(10000))
	s.expect(append(segs("ACK", 1001, 9), "PSH|ACK seq=10001 len=1000")...)
	_, rto := s.c.RTT()
	s.advance(rto)
	s.expect("ACK seq=1001 len=1000")
	s.in(peerAck(5001, 2001))
	s.expect("ACK seq=2001 len=1000", "ACK seq=3001 len=1000")
	dup := peerAck(5001, 2001)
	for range 4 {
		s.in(dup)
	}
	s.expect()
	if st := s.c.Stats(); st.FastRetransmits != 0 || st.DupAcks != 4 {
		t.Fatalf("stats %+v", st)
	}
	// Past recover, a new loss is recovered again.
	s.in(peerAck(5001, 11001))
	s.c.Write(s.now, pattern(8000))
	s.out()
	dup = peerAck(5001, 11001)
	for range 2 {
		s.in(dup)
	}
	s.out() // limited transmit: new segments
	s.in(dup)
	if got := s.out(); len(got) == 0 || got[0].Seq != 11001 || len(got[0].Payload) != 1000 {
		t.Fatalf("sent %v, want 11001 retransmitted first", fmtSegs(got))
	}
	if st := s.c.Stats(); st.FastRetransmits != 1 {
		t.Fatalf("FastRetransmits %d", st.FastRetransmits)
	}
}

// RFC 5681 §3.2 (a SHOULD) and RFC 3042: on the first and second
// duplicate ACKs, limited transmit sends a new segment each, if the
// receiver's window allows.
func TestFastRetransmitLimitedTransmit(t *testing.T) {
	s := newScript(t, Config{NoDelay: true, Congestion: "reno"})
	s.established(mss1000)
	s.c.Write(s.now, pattern(15000))
	s.expect(segs("ACK", 1001, 10)...)
	dup := peerAck(5001, 1001)
	s.in(dup)
	s.expect("ACK seq=11001 len=1000")
	s.in(dup)
	s.expect("ACK seq=12001 len=1000")
}

// Limited transmit's rules (RFC 3042 §2, RFC 5681 §3.2 steps 1–2): at
// most two segments beyond cwnd, only within the receiver's window, cwnd
// unchanged, and the segments so sent left out of the FlightSize that
// sets ssthresh on the third duplicate ACK. With SACK, an ACK bringing
// new SACK information counts as a duplicate for it too (RFC 6675 §5).
func TestFastRetransmitLimitedTransmitRules(t *testing.T) {
	s := newScript(t, Config{NoDelay: true, Congestion: "reno"})
	s.established(mss1000)
	s.c.Write(s.now, pattern(15000))
	s.expect(segs("ACK", 1001, 10)...)
	dup := peerAck(5001, 1001)
	s.in(dup)
	s.in(dup)
	s.expect("ACK seq=11001 len=1000", "ACK seq=12001 len=1000")
	if w := s.c.Congestion().Window(); w != 10000 {
		t.Fatalf("cwnd %d after limited transmit, want 10000", w)
	}
	s.in(dup)
	s.expect("ACK seq=1001 len=1000")
	if th := s.c.Congestion().Ssthresh(); th != 5000 {
		t.Fatalf("ssthresh %d, want 5000: FlightSize 10000 without the two limited-transmit segments", th)
	}

	// The receiver's window (10000) is full: nothing new.
	s = newScript(t, Config{NoDelay: true, Congestion: "reno"})
	s.established(mss1000)
	dup = peerAck(5001, 1001)
	dup.Window = 10000
	s.in(dup)
	s.c.Write(s.now, pattern(15000))
	s.expect(segs("ACK", 1001, 10)...)
	s.in(dup)
	s.in(dup)
	s.expect()

	s = newScript(t, Config{NoDelay: true, Congestion: "reno"})
	s.established(mss1000SACK)
	s.c.Write(s.now, pattern(15000))
	s.expect(segs("ACK", 1001, 10)...)
	s.in(sackAck(1001, Block{2001, 3001}))
	s.expect("ACK seq=11001 len=1000")
	s.in(sackAck(1001, Block{2001, 4001}))
	s.expect("ACK seq=12001 len=1000")
}

// RFC 6675 SACK recovery: loss is declared when IsLost holds (three
// segments SACKed above), holes are retransmitted only when IsLost holds
// for them and the pipe leaves room in cwnd, new data follows (NextSeg
// rule 2), partial ACKs keep recovery going and the full ACK ends it.
func TestSACKRecovery(t *testing.T) {
	s := newScript(t, Config{NoDelay: true, Congestion: "reno"})
	s.established(mss1000SACK)
	s.c.Write(s.now, pattern(10000))
	s.expect(append(segs("ACK", 1001, 9), "PSH|ACK seq=10001 len=1000")...)
	// 1001 and 3001 are lost. (Nothing more is queued yet, so limited
	// transmit sends nothing on the first two duplicate ACKs.)
	s.in(sackAck(1001, Block{2001, 3001}))
	s.in(sackAck(1001, Block{4001, 5001}, Block{2001, 3001}))
	s.expect()
	s.in(sackAck(1001, Block{4001, 6001}, Block{2001, 3001}))
	s.expect("ACK seq=1001 len=1000")
	cc := s.c.Congestion()
	if cc.Window() != 5000 || cc.Ssthresh() != 5000 {
		t.Fatalf("cwnd %d ssthresh %d", cc.Window(), cc.Ssthresh())
	}
	// New data, for NextSeg rule 2 below; the pipe (9000) holds it.
	s.c.Write(s.now, pattern(2000))
	s.expect()
	// 3001 is lost now (three segments above it SACKed), but the pipe
	// (7000 - 1000 SACKed - 1000 lost = 5000) leaves no room.
	s.in(sackAck(1001, Block{4001, 7001}, Block{2001, 3001}))
	s.expect()
	// pipe 4000: room for the hole.
	s.in(sackAck(1001, Block{4001, 8001}, Block{2001, 3001}))
	s.expect("ACK seq=3001 len=1000")
	// pipe 4000 again, no hole left below the highest SACK: new data.
	s.in(sackAck(1001, Block{4001, 9001}, Block{2001, 3001}))
	s.expect("ACK seq=11001 len=1000")
	// Partial ACK (the retransmitted 1001 arrived): still recovering, and
	// nothing is retransmitted again.
	s.in(sackAck(3001, Block{4001, 9001}))
	s.expect("PSH|ACK seq=12001 len=1000")
	s.in(peerAck(5001, 9001))
	s.expect()
	// The full ACK ends recovery.
	s.in(peerAck(5001, 13001))
	s.expect()
	if cc.Window() != 5000 {
		t.Fatalf("cwnd %d after recovery, want 5000", cc.Window())
	}
	if st := s.c.Stats(); st.FastRetransmits != 1 || st.Retransmits != 2 || st.Timeouts != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// SACK blocks for data never sent (RFC 2018 §3: blocks report received
// data) or below snd.una are ignored: were the block above snd.max
// believed, four segments would be SACKed and IsLost would start
// recovery on this one ACK. (The ACK still counts as an RFC 5681
// duplicate ACK.)
func TestSACKBogusBlocksIgnored(t *testing.T) {
	s := newScript(t, Config{NoDelay: true, Congestion: "reno"})
	s.established(mss1000SACK)
	s.c.Write(s.now, pattern(5000))
	s.expect(append(segs("ACK", 1001, 4), "PSH|ACK seq=5001 len=1000")...)
	s.in(sackAck(1001, Block{6001, 10001}, Block{100, 900}))
	s.expect()
	if st := s.c.Stats(); st.FastRetransmits != 0 || s.c.score.SackedBytes() != 0 {
		t.Fatalf("bogus SACK blocks believed: %+v, %d bytes SACKed", st, s.c.score.SackedBytes())
	}
}

// RFC 8985 §7: with SACK and an RTT estimate, a tail loss probe goes out
// after PTO = 2*SRTT (less than the RTO): new data if the peer's window
// allows, ignoring cwnd. One probe per tail; then the RTO.
func TestTailLossProbeNewData(t *testing.T) {
	s := newScript(t, Config{NoDelay: true, Congestion: "reno"})
	s.open(mss1000SACK, 100*time.Millisecond, peerWin) // srtt 100ms, rto 300ms
	s.c.Write(s.now, pattern(12000))
	s.expect(segs("ACK", 1001, 10)...)
	s.wantDeadline(200 * time.Millisecond)
	s.advance(200 * time.Millisecond)
	s.expect("ACK seq=11001 len=1000")
	if st := s.c.Stats(); st.TailProbes != 1 || st.Retransmits != 0 {
		t.Fatalf("stats %+v", st)
	}
	// No second probe: the RTO, restarted by the probe, comes next.
	s.wantDeadline(300 * time.Millisecond)
	s.advance(300 * time.Millisecond)
	s.expect("ACK seq=1001 len=1000")
	if st := s.c.Stats(); st.TailProbes != 1 || st.Timeouts != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// Without new data to send, the probe is the last segment again; its
// SACK then reveals the loss and recovery starts without an RTO.
func TestTailLossProbeLastSegment(t *testing.T) {
	s := newScript(t, Config{NoDelay: true, Congestion: "reno"})
	s.open(mss1000SACK, 100*time.Millisecond, peerWin)
	s.c.Write(s.now, pattern(5000))
	s.expect(append(segs("ACK", 1001, 4), "PSH|ACK seq=5001 len=1000")...)
	s.advance(200 * time.Millisecond)
	s.expect("PSH|ACK seq=5001 len=1000")
	// The tail 3001..5000 was lost; the probe's SACK arrives with the
	// earlier segments' ACK and, with three segments out and nothing new
	// to send, early retransmit's SACK rule (RFC 5827 §3.2) starts
	// recovery at once.
	s.in(sackAck(3001, Block{5001, 6001}))
	s.expect("ACK seq=3001 len=1000")
	if st := s.c.Stats(); st.TailProbes != 1 || st.FastRetransmits != 1 || st.Timeouts != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// The PTO of a single outstanding segment allows for the peer's delayed
// ACK: RFC 8985 §7.2 recommends adding 200 ms (capped by the RTO); the
// code adds 50 ms (its own delayed-ACK timer is 40 ms).
func TestTailLossProbeSingleSegment(t *testing.T) {
	s := newScript(t, Config{NoDelay: true})
	s.open(mss1000SACK, 100*time.Millisecond, peerWin)
	s.c.Write(s.now, pattern(100))
	s.expect("PSH|ACK seq=1001 len=100")
	s.wantDeadline(250 * time.Millisecond)
	s.advance(250 * time.Millisecond)
	s.expect("PSH|ACK seq=1001 len=100")
	if st := s.c.Stats(); st.TailProbes != 1 {
		t.Fatalf("TailProbes %d", st.TailProbes)
	}
}

// No tail loss probe without SACK (the probe could not reveal the loss)
// or before an RTT sample: the RTO alone.
func TestTailLossProbeNeedsSACKAndRTT(t *testing.T) {
	s := newScript(t, Config{NoDelay: true})
	s.open(mss1000, 100*time.Millisecond, peerWin)
	s.c.Write(s.now, pattern(3000))
	s.out()
	s.wantDeadline(300 * time.Millisecond)

	s = newScript(t, Config{NoDelay: true})
	s.activeOpen(mss1000SACK, peerWin)
	s.c.Write(s.now, pattern(3000))
	s.out()
	s.advance(999 * time.Millisecond)
	s.expect()
	if st := s.c.Stats(); st.TailProbes != 0 {
		t.Fatalf("TailProbes %d", st.TailProbes)
	}
}

// RFC 5827 §3.1: with fewer than four segments outstanding and nothing
// new to send, the duplicate-ACK threshold is one less than the number
// of segments outstanding.
func TestEarlyRetransmit(t *testing.T) {
	for _, n := range []int{2, 3} {
		s := newScript(t, Config{NoDelay: true, Congestion: "reno"})
		s.established(mss1000)
		s.c.Write(s.now, pattern(1000*n))
		s.out()
		dup := peerAck(5001, 1001)
		for range n - 2 {
			s.in(dup)
			s.expect()
		}
		s.in(dup)
		s.expect("ACK seq=1001 len=1000")
		if st := s.c.Stats(); st.FastRetransmits != 1 {
			t.Fatalf("%d segments: FastRetransmits %d", n, st.FastRetransmits)
		}
	}
}

// With SACK, the byte-based test: with three segments out, two SACKed
// segments above snd.una are enough; with two, one.
func TestEarlyRetransmitSACK(t *testing.T) {
	s := newScript(t, Config{NoDelay: true, Congestion: "reno"})
	s.established(mss1000SACK)
	s.c.Write(s.now, pattern(2000))
	s.out()
	s.in(sackAck(1001, Block{2001, 3001}))
	s.expect("ACK seq=1001 len=1000")

	s = newScript(t, Config{NoDelay: true, Congestion: "reno"})
	s.established(mss1000SACK)
	s.c.Write(s.now, pattern(3000))
	s.out()
	s.in(sackAck(1001, Block{2001, 3001}))
	s.out()
	s.in(sackAck(1001, Block{2001, 4001}))
	s.out()
	if st := s.c.Stats(); st.FastRetransmits != 1 || st.Retransmits != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// Early retransmit does not apply when new data waits (here for the
// peer's window): three duplicate ACKs are needed.
func TestEarlyRetransmitNotWithNewData(t *testing.T) {
	s := newScript(t, Config{NoDelay: true, Congestion: "reno"})
	s.established(mss1000)
	s.in(Segment{Seq: 5001, Ack: 1001, Flags: FlagACK, Window: 3000})
	s.c.Write(s.now, pattern(5000))
	s.expect(segs("ACK", 1001, 3)...)
	dup := Segment{Seq: 5001, Ack: 1001, Flags: FlagACK, Window: 3000}
	s.in(dup)
	s.in(dup)
	s.expect()
	s.in(dup)
	s.expect("ACK seq=1001 len=1000")
}

// A tail loss probe after the FIN is the last segment sent again (RFC
// 8985 §7.3): the bare FIN, or the last segment of data with the FIN.
func TestTailLossProbeAfterFIN(t *testing.T) {
	s := newScript(t, Config{NoDelay: true, Congestion: "reno"})
	s.open(mss1000SACK, 100*time.Millisecond, peerWin)
	s.c.Write(s.now, pattern(3000))
	s.c.Shutdown(s.now)
	s.expect("ACK seq=1001 len=1000", "ACK seq=2001 len=1000", "PSH|ACK seq=3001 len=1000", "FIN|ACK seq=4001 len=0")
	s.advance(200 * time.Millisecond)
	got := s.out()
	if len(got) != 1 || !got[0].Flags.Has(FlagFIN) ||
		!(segMatches(&got[0], "FIN|PSH|ACK seq=3001 len=1000") || segMatches(&got[0], "FIN|ACK seq=4001 len=0")) {
		t.Fatalf("probe %v, want the FIN alone or with the last 1000 bytes", fmtSegs(got))
	}
}

// With only the FIN unacknowledged, the tail loss probe is the bare FIN
// (RFC 8985 §7.3: the last segment sent). With SACK blocks on our
// segments the probe is the last segment's worth of data, the MSS less
// those options, and still ends with the FIN.
func TestTailLossProbeBareFIN(t *testing.T) {
	s := newScript(t, Config{NoDelay: true, Congestion: "reno"})
	s.open(mss1000SACK, 100*time.Millisecond, peerWin)
	s.c.Write(s.now, pattern(3000))
	s.c.Shutdown(s.now)
	s.out()
	s.in(peerAck(5001, 4001))
	s.expect()
	s.advance(300 * time.Millisecond)
	s.expect("FIN|ACK seq=4001 len=0")

	s = newScript(t, Config{NoDelay: true, Congestion: "reno"})
	s.open(mss1000SACK, 100*time.Millisecond, peerWin)
	s.in(peerData(5101, 1001, 100)) // a hole at 5001: our segments carry a SACK block
	s.out()
	s.c.Write(s.now, pattern(3000))
	s.c.Shutdown(s.now)
	s.out()
	s.advance(200 * time.Millisecond)
	s.expect("FIN|PSH|ACK seq=3013 len=988")
}

// After a timeout, go-back-N sends again from SND.UNA, but an ACK still
// carries SND.NXT, the highest sequence number sent (RFC 9293
// §3.10.7.4): the peer may hold all of it, and would drop an ACK
// numbered below its RCV.NXT as an old duplicate, its ACK field unread.
// With both ends retransmitting, each dropping the other's ACKs, the
// connection stalled until it timed out.
func TestRTOGoBackNAckCarriesSndMax(t *testing.T) {
	s := newScript(t, Config{NoDelay: true, NoDelayedAck: true, Congestion: "reno"})
	s.established(mss1000)
	s.c.Write(s.now, pattern(3000))
	s.expect("ACK seq=1001 len=1000", "ACK seq=2001 len=1000", "PSH|ACK seq=3001 len=1000")
	_, rto := s.c.RTT()
	s.advance(rto)
	s.expect("ACK seq=1001 len=1000")
	s.in(peerData(5001, 1001, 10))
	s.expect("ACK seq=4001 ack=5011 len=0")
	s.in(peerAck(5011, 4001))
	s.expect()
	if s.c.Unsent() != 0 {
		t.Fatalf("Unsent %d", s.c.Unsent())
	}
	// An abort after the timeout: the RST carries SND.NXT too, so that
	// a peer holding all the data takes it (RFC 5961 §3.2).
	s.c.Write(s.now, pattern(2000))
	s.expect("ACK seq=4001 len=1000", "PSH|ACK seq=5001 len=1000")
	s.advance(2 * rto)
	s.expect("ACK seq=4001 len=1000")
	s.c.Abort(s.now)
	s.expect("RST seq=6001")

	// A peer that shrank its window below SND.NXT: the ACK carries its
	// right edge, which it still finds acceptable (as Linux does).
	s = newScript(t, Config{NoDelay: true, NoDelayedAck: true, Congestion: "reno"})
	s.established(mss1000)
	s.c.Write(s.now, pattern(3000))
	s.out()
	shrunk := peerData(5001, 2001, 10)
	shrunk.Window = 500
	s.in(shrunk)
	s.expect("ACK seq=2501 ack=5011 len=0")
}
