package tcp

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// script drives one Conn segment by segment on a manual clock, in the
// manner of packetdrill: feed a segment, expect exactly the segments it
// sends back, or nothing.
type script struct {
	t   *testing.T
	c   *Conn
	now time.Time
}

var (
	scriptLocal  = netip.MustParseAddrPort("192.0.2.2:80")
	scriptRemote = netip.MustParseAddrPort("192.0.2.1:40000")
)

const scriptISS Seq = 1000

func newScript(t *testing.T, cfg Config) *script {
	t.Helper()
	now := time.Unix(1_000_000, 0)
	return &script{t: t, c: NewConn(cfg, scriptLocal, scriptRemote, scriptISS, now), now: now}
}

// in feeds a segment.
func (s *script) in(seg Segment) {
	s.t.Helper()
	s.c.Input(s.now, &seg)
}

// out returns what the connection sent since the last call, copied.
func (s *script) out() []Segment {
	segs := s.c.TakeSegments()
	cp := make([]Segment, len(segs))
	for i, g := range segs {
		cp[i] = g
		cp[i].Payload = append([]byte(nil), g.Payload...)
	}
	return cp
}

// expect checks that exactly the described segments were sent: each
// description is "FLAGS seq=N ack=N len=N", with fields left out not
// checked.
func (s *script) expect(want ...string) []Segment {
	s.t.Helper()
	got := s.out()
	if len(got) != len(want) {
		s.t.Fatalf("sent %d segments %v, want %d %v", len(got), fmtSegs(got), len(want), want)
	}
	for i, w := range want {
		if !segMatches(&got[i], w) {
			s.t.Fatalf("segment %d is %v, want %s (all: %v)", i, &got[i], w, fmtSegs(got))
		}
	}
	return got
}

func fmtSegs(ss []Segment) string {
	var b strings.Builder
	for i := range ss {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(ss[i].String())
	}
	return b.String()
}

func segMatches(g *Segment, w string) bool {
	fs := strings.Fields(w)
	if fs[0] != g.Flags.String() {
		return false
	}
	for _, f := range fs[1:] {
		k, v, _ := strings.Cut(f, "=")
		var n uint64
		fmt.Sscan(v, &n)
		switch k {
		case "seq":
			if uint64(g.Seq) != n {
				return false
			}
		case "ack":
			if uint64(g.Ack) != n {
				return false
			}
		case "len":
			if uint64(len(g.Payload)) != n {
				return false
			}
		case "win":
			if uint64(g.Window) != n {
				return false
			}
		}
	}
	return true
}

// advance moves the clock, running every timer that falls due on the way.
func (s *script) advance(d time.Duration) {
	end := s.now.Add(d)
	for {
		dl := s.c.Deadline()
		if dl.IsZero() || dl.After(end) {
			break
		}
		s.now = dl
		s.c.Tick(s.now)
	}
	s.now = end
}

// established runs a passive open with the given peer options and
// returns after the handshake; the peer's ISN is 5000.
func (s *script) established(opts Options) {
	s.t.Helper()
	syn := Segment{Seq: 5000, Flags: FlagSYN, Window: 65535, Opts: opts}
	s.c.AcceptSYN(s.now, &syn)
	s.expect("SYN|ACK seq=1000 ack=5001")
	s.in(Segment{Seq: 5001, Ack: 1001, Flags: FlagACK, Window: 65535})
	s.expect()
	if s.c.State() != Established {
		s.t.Fatalf("state %v after the handshake", s.c.State())
	}
}

var linuxSYN = Options{MSS: 1460, HasMSS: true, SACKPermitted: true, HasTS: true, TSVal: 100, WScale: 7, HasWScale: true}

func TestPassiveOpenNegotiates(t *testing.T) {
	s := newScript(t, Config{})
	syn := Segment{Seq: 5000, Flags: FlagSYN, Window: 64240, Opts: linuxSYN}
	s.c.AcceptSYN(s.now, &syn)
	got := s.expect("SYN|ACK seq=1000 ack=5001")[0]
	o := got.Opts
	if !o.HasMSS || o.MSS != 1460 || !o.HasWScale || !o.SACKPermitted || !o.HasTS || o.TSEcr != 100 {
		t.Fatalf("SYN-ACK options %+v", o)
	}
	if got.Window != 65535 {
		t.Fatalf("SYN-ACK window %d: a SYN's window is never scaled", got.Window)
	}
	s.in(Segment{Seq: 5001, Ack: 1001, Flags: FlagACK, Window: 502, Opts: Options{HasTS: true, TSVal: 101, TSEcr: got.Opts.TSVal}})
	mss, sws, rws, sack, ts := s.c.Negotiated()
	if mss != 1460-12 || sws != 7 || rws == 0 || !sack || !ts {
		t.Fatalf("negotiated mss %d scales %d/%d sack %v ts %v", mss, sws, rws, sack, ts)
	}
	if s.c.sndWnd != 502<<7 {
		t.Fatalf("send window %d, want %d (scaled)", s.c.sndWnd, 502<<7)
	}
}

func TestPassiveOpenWithoutOptions(t *testing.T) {
	s := newScript(t, Config{})
	s.established(Options{})
	mss, sws, rws, sack, ts := s.c.Negotiated()
	if mss != 536 || sws != 0 || rws != 0 || sack || ts {
		t.Fatalf("negotiated mss %d scales %d/%d sack %v ts %v; want RFC defaults", mss, sws, rws, sack, ts)
	}
}

func TestActiveOpenAndRefusal(t *testing.T) {
	s := newScript(t, Config{})
	s.c.Connect(s.now)
	syn := s.expect("SYN seq=1000")[0]
	if !syn.Opts.HasMSS || !syn.Opts.SACKPermitted || !syn.Opts.HasTS || !syn.Opts.HasWScale {
		t.Fatalf("SYN offers %+v", syn.Opts)
	}
	s.in(Segment{Seq: 7000, Ack: 1001, Flags: FlagSYN | FlagACK, Window: 65535, Opts: Options{MSS: 1400, HasMSS: true}})
	s.expect("ACK seq=1001 ack=7001")
	if s.c.State() != Established {
		t.Fatalf("state %v", s.c.State())
	}

	r := newScript(t, Config{})
	r.c.Connect(r.now)
	r.expect("SYN seq=1000")
	r.in(Segment{Seq: 0, Ack: 1001, Flags: FlagRST | FlagACK})
	if r.c.State() != Closed || r.c.Err() != ErrRefused {
		t.Fatalf("after RST: %v %v", r.c.State(), r.c.Err())
	}
}

func TestSYNRetransmissionAndGiveUp(t *testing.T) {
	s := newScript(t, Config{SynRetries: 3})
	s.c.Connect(s.now)
	s.expect("SYN seq=1000")
	for i, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		s.advance(wait - time.Millisecond)
		s.expect()
		s.advance(time.Millisecond)
		s.expect("SYN seq=1000")
		_ = i
	}
	s.advance(8 * time.Second)
	s.expect()
	if s.c.State() != Closed || s.c.Err() != ErrTimeout {
		t.Fatalf("after retries: %v %v", s.c.State(), s.c.Err())
	}
}

func TestDataDelayedAckAndEveryOtherSegment(t *testing.T) {
	s := newScript(t, Config{})
	s.established(Options{MSS: 1000, HasMSS: true})
	s.in(Segment{Seq: 5001, Ack: 1001, Flags: FlagACK | FlagPSH, Window: 65535, Payload: bytes.Repeat([]byte("a"), 1000)})
	s.expect()
	s.advance(39 * time.Millisecond)
	s.expect()
	s.advance(time.Millisecond)
	s.expect("ACK seq=1001 ack=6001")
	if d := s.c.TakeReadable(); len(d) != 1000 {
		t.Fatalf("readable %d bytes", len(d))
	}
	// Two full segments: an ACK at once.
	s.in(Segment{Seq: 6001, Ack: 1001, Flags: FlagACK, Window: 65535, Payload: make([]byte, 1000)})
	s.expect()
	s.in(Segment{Seq: 7001, Ack: 1001, Flags: FlagACK, Window: 65535, Payload: make([]byte, 1000)})
	s.expect("ACK seq=1001 ack=8001")
}

func TestPassiveClose(t *testing.T) {
	s := newScript(t, Config{})
	s.established(Options{})
	s.in(Segment{Seq: 5001, Ack: 1001, Flags: FlagACK | FlagFIN, Window: 65535})
	s.expect("ACK seq=1001 ack=5002")
	if s.c.State() != CloseWait || !s.c.ReadClosed() {
		t.Fatalf("state %v readClosed %v", s.c.State(), s.c.ReadClosed())
	}
	s.c.Write(s.now, []byte("bye"))
	s.expect("PSH|ACK seq=1001 ack=5002 len=3")
	s.c.Shutdown(s.now)
	s.expect("FIN|ACK seq=1004 ack=5002 len=0")
	if s.c.State() != LastAck {
		t.Fatalf("state %v", s.c.State())
	}
	s.in(Segment{Seq: 5002, Ack: 1005, Flags: FlagACK, Window: 65535})
	if s.c.State() != Closed || s.c.Err() != nil {
		t.Fatalf("state %v err %v", s.c.State(), s.c.Err())
	}
}

func TestActiveCloseAndTimeWait(t *testing.T) {
	s := newScript(t, Config{TimeWait: 10 * time.Second})
	s.established(Options{})
	s.c.Shutdown(s.now)
	s.expect("FIN|ACK seq=1001 ack=5001")
	if s.c.State() != FinWait1 {
		t.Fatalf("state %v", s.c.State())
	}
	s.in(Segment{Seq: 5001, Ack: 1002, Flags: FlagACK, Window: 65535})
	if s.c.State() != FinWait2 {
		t.Fatalf("state %v", s.c.State())
	}
	s.in(Segment{Seq: 5001, Ack: 1002, Flags: FlagACK | FlagFIN, Window: 65535})
	s.expect("ACK seq=1002 ack=5002")
	if s.c.State() != TimeWait {
		t.Fatalf("state %v", s.c.State())
	}
	// RFC 1337: a RST does not end TIME-WAIT early.
	s.in(Segment{Seq: 5002, Flags: FlagRST})
	if s.c.State() != TimeWait {
		t.Fatalf("RST ended TIME-WAIT")
	}
	// A retransmitted FIN is acknowledged again.
	s.in(Segment{Seq: 5001, Ack: 1002, Flags: FlagACK | FlagFIN, Window: 65535})
	s.expect("ACK seq=1002 ack=5002")
	s.advance(10 * time.Second)
	if s.c.State() != Closed || s.c.Err() != nil {
		t.Fatalf("after 2*MSL: %v %v", s.c.State(), s.c.Err())
	}
}

func TestRFC5961(t *testing.T) {
	s := newScript(t, Config{ChallengeACKs: 2})
	s.established(Options{})
	// A RST inside the window but not at rcv.nxt: challenge ACK.
	s.in(Segment{Seq: 5100, Flags: FlagRST})
	s.expect("ACK seq=1001 ack=5001")
	// A SYN on an established connection: challenge ACK.
	s.in(Segment{Seq: 5001, Flags: FlagSYN, Window: 100})
	s.expect("ACK seq=1001 ack=5001")
	// Rate limit: the third within the second is not sent.
	s.in(Segment{Seq: 5200, Flags: FlagRST})
	s.expect()
	if st := s.c.Stats(); st.ChallengeACKs != 2 || st.ChallengeLimited != 1 {
		t.Fatalf("stats %+v", st)
	}
	// An ACK for data never sent: challenge (after the bucket refills).
	s.advance(time.Second)
	s.in(Segment{Seq: 5001, Ack: 90000, Flags: FlagACK, Window: 100, Payload: []byte("x")})
	s.expect("ACK seq=1001 ack=5001")
	if d := s.c.TakeReadable(); len(d) != 0 {
		t.Fatalf("data with a forged ACK was accepted")
	}
	// A RST exactly at rcv.nxt resets.
	s.in(Segment{Seq: 5001, Flags: FlagRST})
	if s.c.State() != Closed || s.c.Err() != ErrReset {
		t.Fatalf("state %v err %v", s.c.State(), s.c.Err())
	}
}

// TestHeldSegmentsKeepTheirBytes: segments queued while output is held
// (a retransmission triggered by duplicate ACKs in a burst) alias the send
// buffer until they are taken; a Write in the same burst must not move
// the bytes under them.
func TestHeldSegmentsKeepTheirBytes(t *testing.T) {
	s := newScript(t, Config{SndBuf: 64 << 10})
	s.established(Options{MSS: 1000, HasMSS: true})
	data := make([]byte, 10000)
	for i := range data {
		data[i] = byte(i / 1000)
	}
	s.c.Write(s.now, data)
	s.out() // ten segments out
	// The peer acknowledges the first half (the buffer may now compact),
	// then sends three duplicate ACKs for 6001: that segment is lost.
	s.in(Segment{Seq: 5001, Ack: 6001, Flags: FlagACK, Window: 65535})
	s.out()
	s.c.Hold(s.now, true)
	for i := 0; i < 3; i++ {
		s.in(Segment{Seq: 5001, Ack: 6001, Flags: FlagACK, Window: 65535})
	}
	// Still in the burst: more data arrives from the user, enough to make
	// the buffer want to compact.
	s.c.Write(s.now, bytes.Repeat([]byte("C"), 1000))
	s.c.Hold(s.now, false)
	var retx *Segment
	for _, g := range s.out() {
		if g.Seq == 6001 {
			g := g
			retx = &g
			break
		}
	}
	if retx == nil {
		t.Fatal("no retransmission of the segment at 6001")
	}
	if want := data[5000:6000]; !bytes.Equal(retx.Payload, want) {
		t.Fatalf("retransmitted payload starts %q, want %q", retx.Payload[:8], want[:8])
	}
}
