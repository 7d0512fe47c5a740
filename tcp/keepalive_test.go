package tcp

import (
	"testing"
	"time"
)

// Conformance tests of TCP keep-alives (RFC 9293 §3.8.4, RFC 1122
// §4.2.3.6): off unless asked for, a probe after KeepIdle without a
// segment from the peer, then every KeepInterval, and the connection
// dropped with ErrTimeout after KeepCount probes go unanswered. The probe
// is <SEQ=SND.UNA-1><ACK=RCV.NXT><CTL=ACK> with no data, which the peer
// must answer with an ACK.

// keepCfg is a keep-alive configuration with short, round times.
var keepCfg = Config{KeepAlive: true, KeepIdle: 10 * time.Second, KeepInterval: 2 * time.Second, KeepCount: 3}

// RFC 1122 §4.2.3.6: keep-alives MUST default to off; when on, the idle
// time defaults to no less than two hours.
func TestKeepAliveOffByDefault(t *testing.T) {
	s := newScript(t, Config{})
	s.established(mss1000)
	if d := s.c.Deadline(); !d.IsZero() {
		t.Fatalf("an idle connection wants a timer in %v", d.Sub(s.now))
	}
	s.advance(24 * time.Hour)
	s.expect()
	s.wantState(Established)
	if st := s.c.Stats(); st.KeepAlives != 0 {
		t.Fatalf("KeepAlives %d", st.KeepAlives)
	}

	s = newScript(t, Config{KeepAlive: true})
	s.established(mss1000)
	s.wantDeadline(2 * time.Hour)
}

// Probes after KeepIdle of silence and every KeepInterval; after
// KeepCount unanswered probes, the connection is dropped with ErrTimeout
// and nothing more is sent.
func TestKeepAliveProbesAndGivesUp(t *testing.T) {
	s := newScript(t, keepCfg)
	s.established(mss1000)
	s.wantDeadline(10 * time.Second)
	s.advance(10*time.Second - time.Millisecond)
	s.expect()
	s.advance(time.Millisecond)
	s.expect("ACK seq=1000 ack=5001 len=0")
	for range 2 {
		s.advance(2*time.Second - time.Millisecond)
		s.expect()
		s.advance(time.Millisecond)
		s.expect("ACK seq=1000 ack=5001 len=0")
	}
	s.wantState(Established)
	if st := s.c.Stats(); st.KeepAlives != 3 {
		t.Fatalf("KeepAlives %d", st.KeepAlives)
	}
	s.advance(2 * time.Second)
	s.expect()
	s.wantClosed(ErrTimeout)
}

// Any segment from the peer — the answer to a probe, data, even an
// unacceptable one — shows it alive: the count starts over and the next
// probe waits KeepIdle from that segment.
func TestKeepAliveResetByAnySegment(t *testing.T) {
	s := newScript(t, keepCfg)
	s.established(mss1000)
	s.advance(12 * time.Second)
	s.expect("ACK seq=1000 ack=5001", "ACK seq=1000 ack=5001")
	s.in(peerAck(5001, 1001)) // the answer
	s.expect()
	s.wantDeadline(10 * time.Second)
	s.advance(3 * time.Second)
	s.in(peerData(5001, 1001, 10)) // data
	s.wantDeadline(40 * time.Millisecond)
	s.advance(40 * time.Millisecond)
	s.expect("ACK ack=5011")
	s.wantDeadline(10*time.Second - 40*time.Millisecond)
	s.advance(10*time.Second - 40*time.Millisecond)
	s.expect("ACK seq=1000 ack=5011")
	s.in(peerData(90000, 1001, 10)) // out of the window: answered, and alive
	s.expect("ACK seq=1001 ack=5011")
	s.wantDeadline(10 * time.Second)
	// Three unanswered probes from here, then the end.
	s.advance(10*time.Second + 4*time.Second)
	s.expect("ACK seq=1000 ack=5011", "ACK seq=1000 ack=5011", "ACK seq=1000 ack=5011")
	s.wantState(Established)
	s.advance(2 * time.Second)
	s.wantClosed(ErrTimeout)
}

// Our own sending does not count as activity: only the peer's segments
// prove it alive.
func TestKeepAliveOwnDataIsNotActivity(t *testing.T) {
	s := newScript(t, keepCfg)
	s.established(mss1000)
	s.advance(9 * time.Second)
	s.c.Write(s.now, []byte("x"))
	s.expect("PSH|ACK seq=1001 len=1")
	s.in(peerAck(5001, 1002))
	s.wantDeadline(10 * time.Second)
}

// SetKeepAlive switches probes on with new timing on an open connection
// (timed from the last segment received), and off again.
func TestKeepAliveSetKeepAlive(t *testing.T) {
	s := newScript(t, Config{})
	s.established(mss1000)
	s.advance(time.Minute)
	s.c.SetKeepAlive(s.now, true, 30*time.Second, time.Second, 2)
	if d := s.c.Deadline(); d.After(s.now) {
		t.Fatalf("idle for a minute, keep-alive due in %v", d.Sub(s.now))
	}
	s.c.Tick(s.now)
	s.expect("ACK seq=1000 ack=5001 len=0")
	s.wantDeadline(time.Second)
	s.c.SetKeepAlive(s.now, false, 0, 0, 0)
	if d := s.c.Deadline(); !d.IsZero() {
		t.Fatalf("keep-alive off, timer in %v", d.Sub(s.now))
	}
	s.advance(time.Hour)
	s.expect()
	s.wantState(Established)
	// On again with the timing kept from before.
	s.in(peerAck(5001, 1001))
	s.c.SetKeepAlive(s.now, true, 0, 0, 0)
	s.wantDeadline(30 * time.Second)
	s.advance(30*time.Second + time.Second)
	s.expect("ACK seq=1000 ack=5001", "ACK seq=1000 ack=5001") // KeepCount 2
	s.wantState(Established)
	s.advance(time.Second)
	s.wantClosed(ErrTimeout)
}

// Keep-alives run in CLOSE-WAIT too (the connection is still open our
// way) and after an active open.
func TestKeepAliveCloseWaitAndActiveOpen(t *testing.T) {
	s := newScript(t, keepCfg)
	s.established(mss1000)
	s.in(peerFIN(5001, 1001))
	s.expect("ACK seq=1001 ack=5002")
	s.wantState(CloseWait)
	s.advance(10 * time.Second)
	s.expect("ACK seq=1000 ack=5002")

	s = newScript(t, keepCfg)
	s.activeOpen(mss1000, peerWin)
	s.advance(10 * time.Second)
	s.expect("ACK seq=1000 ack=5001")
}
