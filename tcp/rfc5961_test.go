package tcp

import (
	"testing"
	"time"
)

// Conformance tests of RFC 5961, improving TCP's robustness to blind
// in-window attacks: RST (§3), SYN (§4) and data injection (§5)
// mitigations, and the challenge ACK rate limit (§7).

// rst is a RST from the peer at seq.
func rst(seq Seq) Segment { return Segment{Seq: seq, Flags: FlagRST} }

// RFC 5961 §3.2: a RST in the window but not exactly at RCV.NXT gets a
// challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>; the connection stays.
func TestRFC5961RSTInWindowChallenged(t *testing.T) {
	s := newScript(t, Config{})
	s.established(mss1000)
	s.c.Write(s.now, []byte("abc"))
	s.expect("PSH|ACK seq=1001 len=3")
	for _, seq := range []Seq{5002, 5001 + 30000, 5001 + 65534} {
		s.in(rst(seq))
		s.expect("ACK seq=1004 ack=5001 len=0")
		r := rst(seq)
		r.Flags |= FlagACK
		r.Ack = 1004
		s.in(r)
		s.expect("ACK seq=1004 ack=5001 len=0")
	}
	s.wantState(Established)
	if st := s.c.Stats(); st.ChallengeACKs != 6 {
		t.Fatalf("ChallengeACKs %d", st.ChallengeACKs)
	}
	// The peer, if it did reset, answers the challenge ACK with a RST at
	// exactly RCV.NXT, which is honoured.
	s.in(rst(5001))
	s.expect()
	s.wantClosed(ErrReset)
}

// RFC 5961 §3.2: a RST exactly at RCV.NXT resets the connection, with or
// without ACK; nothing is sent in reply.
func TestRFC5961RSTExact(t *testing.T) {
	s := newScript(t, Config{})
	s.established(mss1000)
	s.in(peerData(5001, 1001, 100))
	r := rst(5101)
	r.Flags |= FlagACK
	r.Ack = 1001
	s.in(r)
	s.expect()
	s.wantClosed(ErrReset)
}

// RFC 5961 §3.2 (and RFC 9293): a RST outside the window is dropped
// silently.
func TestRFC5961RSTOutOfWindow(t *testing.T) {
	s := newScript(t, Config{})
	s.established(mss1000)
	for _, seq := range []Seq{5000, Seq(5001).Add(-100000), 5001 + 65535, 5001 + 1<<30} {
		s.in(rst(seq))
		s.expect()
	}
	s.wantState(Established)
	if st := s.c.Stats(); st.ChallengeACKs != 0 || st.OutOfWindow != 4 {
		t.Fatalf("stats %+v", st)
	}
}

// The same holds in SYN-RECEIVED: a RST in the window but not at RCV.NXT
// is challenged (RFC 5961 §3.2 applies to every state but SYN-SENT).
func TestRFC5961RSTInSynReceived(t *testing.T) {
	s := newScript(t, Config{})
	syn := Segment{Seq: 5000, Flags: FlagSYN, Window: peerWin}
	s.c.AcceptSYN(s.now, &syn)
	s.expect("SYN|ACK seq=1000 ack=5001")
	s.in(rst(5100))
	s.expect("ACK seq=1001 ack=5001")
	s.wantState(SynReceived)
}

// RFC 5961 §4.2: a SYN on a synchronized connection, anywhere in the
// window, gets a challenge ACK and does not reset the connection; a
// SYN-ACK likewise. Data keeps flowing after it.
func TestRFC5961SYNChallenged(t *testing.T) {
	s := newScript(t, Config{NoDelayedAck: true})
	s.established(mss1000)
	for _, seq := range []Seq{5001, 5500} {
		s.in(Segment{Seq: seq, Flags: FlagSYN, Window: peerWin})
		s.expect("ACK seq=1001 ack=5001 len=0")
		s.in(Segment{Seq: seq, Ack: 1001, Flags: FlagSYN | FlagACK, Window: peerWin})
		s.expect("ACK seq=1001 ack=5001 len=0")
	}
	s.wantState(Established)
	if st := s.c.Stats(); st.ChallengeACKs != 4 {
		t.Fatalf("ChallengeACKs %d", st.ChallengeACKs)
	}
	// A SYN carrying data: the data is not taken.
	g := peerData(5001, 1001, 10)
	g.Flags |= FlagSYN
	s.in(g)
	s.expect("ACK seq=1001 ack=5001 len=0")
	s.read(nil)
	s.in(peerData(5001, 1001, 10))
	s.expect("ACK seq=1001 ack=5011")
	s.read(pattern(10))
}

// A SYN outside the window is acknowledged too (RFC 5961 §4.2: "irrespective
// of the sequence number"); the code answers it as any unacceptable
// segment (RFC 9293 §3.10.7.4), with an ACK not counted as a challenge.
func TestRFC5961SYNOutOfWindow(t *testing.T) {
	s := newScript(t, Config{})
	s.established(mss1000)
	s.in(Segment{Seq: 5001 + 1<<20, Flags: FlagSYN, Window: peerWin})
	s.expect("ACK seq=1001 ack=5001 len=0")
	s.wantState(Established)
}

// RFC 5961 §5.2 (RFC 9293 §3.10.7.4 fifth check): an ACK for data never
// sent is answered with an ACK and the segment dropped, its data and FIN
// not taken.
func TestRFC5961ACKForDataNeverSent(t *testing.T) {
	s := newScript(t, Config{NoDelay: true})
	s.established(mss1000)
	s.c.Write(s.now, pattern(500))
	s.expect("PSH|ACK seq=1001 len=500")
	for _, ack := range []Seq{1502, 90000} {
		g := peerData(5001, ack, 100)
		g.Flags |= FlagFIN
		s.in(g)
		s.expect("ACK seq=1501 ack=5001 len=0")
	}
	s.read(nil)
	if s.c.ReadClosed() || s.c.State() != Established {
		t.Fatalf("state %v readClosed %v", s.c.State(), s.c.ReadClosed())
	}
	if st := s.c.Stats(); st.ChallengeACKs != 2 || st.BytesIn != 0 {
		t.Fatalf("stats %+v", st)
	}
	// The data is still outstanding: the ACK did not acknowledge it.
	if s.c.Unsent() != 500 {
		t.Fatalf("Unsent %d", s.c.Unsent())
	}
	// snd.max is the limit: after a go-back-N timeout an ACK for data
	// sent before it is acceptable.
	_, rto := s.c.RTT()
	s.advance(rto)
	s.expect("PSH|ACK seq=1001 len=500")
	s.in(peerAck(5001, 1501))
	s.expect()
	if s.c.Unsent() != 0 {
		t.Fatalf("Unsent %d", s.c.Unsent())
	}
}

// pushAcked sends and has acknowledged n bytes, in 10000-byte writes,
// with the peer's window at win.
func (s *script) pushAcked(n int, win uint16) Seq {
	s.t.Helper()
	una := Seq(1001)
	for n > 0 {
		k := min(n, 10000)
		s.c.Write(s.now, pattern(k))
		s.out()
		una = una.Add(k)
		g := peerAck(5001, una)
		g.Window = win
		s.in(g)
		s.out()
		n -= k
	}
	if s.c.Unsent() != 0 {
		s.t.Fatalf("Unsent %d", s.c.Unsent())
	}
	return una
}

// RFC 5961 §5.2: an ACK below SND.UNA - MAX.SND.WND is answered with an
// ACK and the segment dropped; at or above it, it is an old duplicate,
// ignored, and the segment's data is taken.
func TestRFC5961ACKTooOld(t *testing.T) {
	s := newScript(t, Config{NoDelay: true, NoDelayedAck: true})
	s.established(mss1000)
	una := s.pushAcked(100000, peerWin)
	s.in(peerData(5001, una.Add(-65536), 10))
	s.expect("ACK seq=101001 ack=5001 len=0")
	s.read(nil)
	if st := s.c.Stats(); st.ChallengeACKs != 1 {
		t.Fatalf("ChallengeACKs %d", st.ChallengeACKs)
	}
	s.in(peerData(5001, una.Add(-65535), 10))
	s.expect("ACK seq=101001 ack=5011 len=0")
	s.read(pattern(10))
	s.wantState(Established)
}

// MAX.SND.WND is "the largest window that the local sender has ever
// received from its peer" (RFC 5961 §5.2): with a peer that never offers
// more than 4000 bytes, an ACK 5000 below SND.UNA is challenged.
func TestRFC5961ACKTooOldSmallWindow(t *testing.T) {
	s := newScript(t, Config{NoDelay: true, NoDelayedAck: true})
	syn := Segment{Seq: 5000, Flags: FlagSYN, Window: 4000, Opts: mss1000}
	s.c.AcceptSYN(s.now, &syn)
	s.expect("SYN|ACK")
	ack := peerAck(5001, 1001)
	ack.Window = 4000
	s.in(ack)
	una := Seq(1001)
	for range 5 {
		s.c.Write(s.now, pattern(4000))
		s.out()
		una = una.Add(4000)
		ack = peerAck(5001, una)
		ack.Window = 4000
		s.in(ack)
	}
	s.out()
	g := peerData(5001, una.Add(-5000), 10)
	g.Window = 4000
	s.in(g)
	s.expect("ACK seq=21001 ack=5001 len=0")
	s.read(nil)
}

// RFC 5961 §7: at most ChallengeACKs challenge ACKs a second, whatever
// provoked them; those not sent are counted; the allowance refills with
// time, up to ChallengeACKs.
func TestRFC5961ChallengeRateLimit(t *testing.T) {
	s := newScript(t, Config{ChallengeACKs: 4})
	s.established(mss1000)
	provoke := []Segment{
		rst(5100),
		{Seq: 5001, Flags: FlagSYN, Window: peerWin},
		peerAck(5001, 50000),
		rst(5200),
	}
	for _, g := range provoke {
		s.in(g)
		s.expect("ACK seq=1001 ack=5001")
	}
	for _, g := range provoke {
		s.in(g)
		s.expect()
	}
	if st := s.c.Stats(); st.ChallengeACKs != 4 || st.ChallengeLimited != 4 {
		t.Fatalf("stats %+v", st)
	}
	// A quarter of a second buys one.
	s.advance(250 * time.Millisecond)
	s.in(rst(5100))
	s.expect("ACK seq=1001 ack=5001")
	s.in(rst(5100))
	s.expect()
	// A long pause refills the allowance, but not beyond 4.
	s.advance(10 * time.Second)
	for range 4 {
		s.in(rst(5100))
		s.expect("ACK seq=1001 ack=5001")
	}
	s.in(rst(5100))
	s.expect()
	if st := s.c.Stats(); st.ChallengeACKs != 9 || st.ChallengeLimited != 6 {
		t.Fatalf("stats %+v", st)
	}
	// The connection is unharmed throughout.
	s.wantState(Established)
	s.in(rst(5001))
	s.wantClosed(ErrReset)
}

// The default allowance is 10 a second.
func TestRFC5961ChallengeDefault(t *testing.T) {
	s := newScript(t, Config{})
	s.established(mss1000)
	for range 12 {
		s.in(rst(5100))
	}
	if got := len(s.out()); got != 10 {
		t.Fatalf("%d challenge ACKs, want 10", got)
	}
	if st := s.c.Stats(); st.ChallengeACKs != 10 || st.ChallengeLimited != 2 {
		t.Fatalf("stats %+v", st)
	}
}
