package tcp

import (
	"fmt"
	"testing"
	"time"
)

// Conformance tests of option negotiation and use: window scale and
// timestamps (RFC 7323), SACK-permitted (RFC 2018), MSS (RFC 9293
// §3.7.1, RFC 6691).

// open runs a passive open with the peer's SYN options opts: the peer's
// ACK comes rtt after our SYN-ACK, with window win (as on the wire) and,
// if timestamps were offered, a timestamp echoing ours. It returns our
// SYN-ACK.
func (s *script) open(opts Options, rtt time.Duration, win uint16) Segment {
	s.t.Helper()
	syn := Segment{Seq: 5000, Flags: FlagSYN, Window: peerWin, Opts: opts}
	s.c.AcceptSYN(s.now, &syn)
	synack := s.expect("SYN|ACK seq=1000 ack=5001")[0]
	s.advance(rtt)
	ack := Segment{Seq: 5001, Ack: 1001, Flags: FlagACK, Window: win}
	if opts.HasTS && synack.Opts.HasTS {
		ack.Opts = Options{HasTS: true, TSVal: opts.TSVal + 1, TSEcr: synack.Opts.TSVal}
	}
	s.in(ack)
	s.expect()
	s.wantState(Established)
	return synack
}

// activeOpen runs an active open; the peer answers with a SYN-ACK (ISN
// 5000) carrying opts and window win. It returns our SYN.
func (s *script) activeOpen(opts Options, win uint16) Segment {
	s.t.Helper()
	s.c.Connect(s.now)
	syn := s.expect("SYN seq=1000 ack=0")[0]
	s.wantState(SynSent)
	s.in(Segment{Seq: 5000, Ack: 1001, Flags: FlagSYN | FlagACK, Window: win, Opts: opts})
	s.expect("ACK seq=1001 ack=5001")
	s.wantState(Established)
	return syn
}

// offer is a set of the three negotiated options.
type offer struct{ ws, sack, ts bool }

func (o offer) String() string { return fmt.Sprintf("ws=%v,sack=%v,ts=%v", o.ws, o.sack, o.ts) }

// allOffers lists the eight subsets.
func allOffers() []offer {
	var r []offer
	for m := range 8 {
		r = append(r, offer{m&1 != 0, m&2 != 0, m&4 != 0})
	}
	return r
}

// synOptions returns the options of a peer's SYN offering o, MSS 1460
// and window shift 7.
func (o offer) synOptions() Options {
	opts := Options{MSS: 1460, HasMSS: true}
	if o.ws {
		opts.HasWScale, opts.WScale = true, 7
	}
	opts.SACKPermitted = o.sack
	if o.ts {
		opts.HasTS, opts.TSVal = true, 100
	}
	return opts
}

// config returns a Config that switches off what o does not hold.
func (o offer) config() Config {
	return Config{NoWindowScale: !o.ws, NoSACK: !o.sack, NoTimestamps: !o.ts}
}

func (o offer) and(p offer) offer { return offer{o.ws && p.ws, o.sack && p.sack, o.ts && p.ts} }

// checkNegotiated checks Negotiated against the options both ends
// offered; RcvBuf is the default 1 MiB, whose window shift is 5.
func checkNegotiated(t *testing.T, c *Conn, both offer) {
	t.Helper()
	mss, sws, rws, sack, ts := c.Negotiated()
	wantMSS := 1460
	if both.ts {
		wantMSS -= 12
	}
	var wantS, wantR uint8
	if both.ws {
		wantS, wantR = 7, 5
	}
	if mss != wantMSS || sws != wantS || rws != wantR || sack != both.sack || ts != both.ts {
		t.Fatalf("negotiated mss %d shifts %d/%d sack %v ts %v; want mss %d shifts %d/%d %v",
			mss, sws, rws, sack, ts, wantMSS, wantS, wantR, both)
	}
}

// Passive open: an option is in force only if the peer's SYN offered it
// and we allow it, and the SYN-ACK offers exactly those (RFC 7323 §2.2:
// a window scale "MUST only be sent in a <SYN,ACK> if the <SYN> had it";
// §3.2 the same for timestamps; RFC 2018 §2 for SACK-permitted).
func TestOptionsNegotiatedPassive(t *testing.T) {
	for _, peer := range allOffers() {
		for _, ours := range allOffers() {
			t.Run("peer("+peer.String()+")/ours("+ours.String()+")", func(t *testing.T) {
				s := newScript(t, ours.config())
				synack := s.open(peer.synOptions(), 10*time.Millisecond, peerWin)
				both := peer.and(ours)
				o := synack.Opts
				if !o.HasMSS || o.MSS != 1460 {
					t.Fatalf("SYN-ACK MSS %v %d", o.HasMSS, o.MSS)
				}
				if o.HasWScale != both.ws || (both.ws && o.WScale != 5) {
					t.Fatalf("SYN-ACK window scale %v %d, want %v", o.HasWScale, o.WScale, both.ws)
				}
				if o.SACKPermitted != both.sack {
					t.Fatalf("SYN-ACK SACK-permitted %v, want %v", o.SACKPermitted, both.sack)
				}
				if o.HasTS != both.ts || (both.ts && (o.TSEcr != 100 || o.TSVal == 0)) {
					t.Fatalf("SYN-ACK timestamps %v %d/%d, want %v echoing 100", o.HasTS, o.TSVal, o.TSEcr, both.ts)
				}
				checkNegotiated(t, s.c, both)
			})
		}
	}
}

// Active open: the SYN offers everything allowed; an option is in force
// only if the SYN-ACK has it too. A SYN-ACK carrying an option the SYN did
// not offer is a peer's error, and the option stays off.
func TestOptionsNegotiatedActive(t *testing.T) {
	for _, ours := range allOffers() {
		for _, peer := range allOffers() {
			t.Run("ours("+ours.String()+")/peer("+peer.String()+")", func(t *testing.T) {
				s := newScript(t, ours.config())
				opts := peer.synOptions()
				if opts.HasTS {
					opts.TSEcr = 1
				}
				syn := s.activeOpen(opts, peerWin)
				o := syn.Opts
				if !o.HasMSS || o.MSS != 1460 || o.HasWScale != ours.ws || o.SACKPermitted != ours.sack || o.HasTS != ours.ts {
					t.Fatalf("SYN offers %+v, want MSS 1460 and %v", o, ours)
				}
				if ours.ws && o.WScale != 5 {
					t.Fatalf("SYN window shift %d, want 5", o.WScale)
				}
				if ours.ts && o.TSEcr != 0 {
					t.Fatalf("SYN TSecr %d, want 0 (RFC 7323 §3.2)", o.TSEcr)
				}
				checkNegotiated(t, s.c, peer.and(ours))
			})
		}
	}
}

// The MSS we use: 536 without the option (RFC 9293 §3.7.1, MUST-15),
// else the smaller of the peer's and ours, less 12 for the timestamps
// every segment carries (RFC 9293 §3.7.1: options count against it).
func TestOptionsMSS(t *testing.T) {
	cases := []struct {
		peerMSS uint16 // 0: no option
		ourMSS  int
		ts      bool
		want    int
	}{
		{0, 1460, false, 536},
		{0, 1460, true, 524},
		{1460, 1460, false, 1460},
		{1460, 1460, true, 1448},
		{1000, 1460, false, 1000},
		{1000, 1460, true, 988},
		{1460, 1200, false, 1200},
		{1460, 1200, true, 1188},
		{9000, 8960, true, 8948},
		{400, 1460, false, 400},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("peer=%d/ours=%d/ts=%v", tc.peerMSS, tc.ourMSS, tc.ts), func(t *testing.T) {
			s := newScript(t, Config{MSS: tc.ourMSS, NoDelay: true})
			opts := Options{MSS: tc.peerMSS, HasMSS: tc.peerMSS != 0, HasTS: tc.ts, TSVal: 100}
			synack := s.open(opts, 10*time.Millisecond, peerWin)
			if synack.Opts.MSS != uint16(tc.ourMSS) {
				t.Fatalf("SYN-ACK MSS %d, want ours %d", synack.Opts.MSS, tc.ourMSS)
			}
			if mss, _, _, _, _ := s.c.Negotiated(); mss != tc.want {
				t.Fatalf("MSS %d, want %d", mss, tc.want)
			}
			s.c.Write(s.now, pattern(2*tc.want+10))
			got := s.out()
			if len(got) < 2 || len(got[0].Payload) != tc.want || len(got[1].Payload) != tc.want {
				t.Fatalf("segments %v, want two of %d bytes first", fmtSegs(got), tc.want)
			}
		})
	}
}

// RFC 7323 §2.2: the window field of a SYN or SYN-ACK is never scaled —
// neither ours nor the peer's.
func TestOptionsSYNWindowNotScaled(t *testing.T) {
	// RcvBuf 200000 needs shift 2; the SYN-ACK can only say 65535.
	s := newScript(t, Config{RcvBuf: 200000})
	synack := s.open(Options{HasWScale: true, WScale: 7}, 10*time.Millisecond, peerWin)
	if synack.Window != 65535 || synack.Opts.WScale != 2 {
		t.Fatalf("SYN-ACK window %d shift %d, want 65535 unscaled and shift 2", synack.Window, synack.Opts.WScale)
	}
	s.in(peerData(5001, 1001, 100))
	s.advance(40 * time.Millisecond)
	s.expect(fmt.Sprintf("ACK ack=5101 win=%d", (200000-100)>>2))

	// The peer's SYN-ACK window of 3000 with shift 7 means 3000 bytes.
	s = newScript(t, Config{NoDelay: true})
	s.activeOpen(Options{MSS: 1000, HasMSS: true, HasWScale: true, WScale: 7}, 3000)
	s.c.Write(s.now, pattern(20000))
	s.expect("ACK seq=1001 len=1000", "ACK seq=2001 len=1000", "ACK seq=3001 len=1000")
	// A later window field is scaled: 50<<7 = 6400 bytes from 1001.
	s.in(Segment{Seq: 5001, Ack: 1001, Flags: FlagACK, Window: 50})
	s.expect("ACK seq=4001 len=1000", "ACK seq=5001 len=1000", "ACK seq=6001 len=1000")
	s.in(Segment{Seq: 5001, Ack: 7001, Flags: FlagACK, Window: 50})
	s.expect("ACK seq=7001 len=1000", "ACK seq=8001 len=1000", "ACK seq=9001 len=1000",
		"ACK seq=10001 len=1000", "ACK seq=11001 len=1000", "ACK seq=12001 len=1000")
}

// The passive side's peer SYN window is not scaled either; the ACK's is.
func TestOptionsSendWindowScaledPassive(t *testing.T) {
	s := newScript(t, Config{NoDelay: true})
	syn := Segment{Seq: 5000, Flags: FlagSYN, Window: 2000, Opts: Options{MSS: 1000, HasMSS: true, HasWScale: true, WScale: 3}}
	s.c.AcceptSYN(s.now, &syn)
	s.expect("SYN|ACK seq=1000 ack=5001")
	s.c.Write(s.now, pattern(8000)) // queued in SYN-RECEIVED
	s.expect()
	s.in(Segment{Seq: 5001, Ack: 1001, Flags: FlagACK, Window: 500}) // 4000 bytes
	s.expect("ACK seq=1001 len=1000", "ACK seq=2001 len=1000", "ACK seq=3001 len=1000", "ACK seq=4001 len=1000")
}

// Our window field is scaled by our shift once both sides agreed, and
// limited to 65535 without window scaling.
func TestOptionsAdvertisedWindowScaled(t *testing.T) {
	s := newScript(t, Config{NoDelayedAck: true})
	s.open(Options{HasWScale: true, WScale: 0}, 10*time.Millisecond, peerWin)
	s.in(peerData(5001, 1001, 1000))
	s.expect(fmt.Sprintf("ACK ack=6001 win=%d", (1<<20-1000)>>5))

	s = newScript(t, Config{NoDelayedAck: true})
	s.open(Options{}, 10*time.Millisecond, peerWin)
	s.in(peerData(5001, 1001, 1000))
	s.expect("ACK ack=6001 win=65535")

	s = newScript(t, Config{NoDelayedAck: true, NoWindowScale: true})
	synack := s.open(Options{HasWScale: true, WScale: 7}, 10*time.Millisecond, peerWin)
	if synack.Opts.HasWScale {
		t.Fatal("SYN-ACK offers window scaling with NoWindowScale")
	}
	s.in(peerData(5001, 1001, 1000))
	s.expect("ACK ack=6001 win=65535")
}

// tsData is a data segment from the peer with a timestamp.
func tsData(seq Seq, n int, tsval, tsecr uint32) Segment {
	g := peerData(seq, 1001, n)
	g.Opts = Options{HasTS: true, TSVal: tsval, TSEcr: tsecr}
	return g
}

// RFC 7323 §4.3: TS.Recent takes the TSval of a segment at or below
// Last.ACK.sent, so an ACK echoes the earliest unacknowledged segment's
// timestamp after a delayed ACK, not the out-of-order one's, and the
// segment filling a hole's.
func TestOptionsTimestampEcho(t *testing.T) {
	s := newScript(t, Config{})
	s.open(Options{MSS: 1012, HasMSS: true, SACKPermitted: true, HasTS: true, TSVal: 100}, 10*time.Millisecond, peerWin)
	s.advance(time.Second)
	s.in(tsData(5001, 1000, 200, 0))
	s.expect()
	s.in(tsData(6001, 1000, 201, 0))
	ack := s.expect("ACK seq=1001 ack=7001")[0]
	if !ack.Opts.HasTS || ack.Opts.TSEcr != 200 {
		t.Fatalf("TSecr %d, want 200 (the first of the two segments)", ack.Opts.TSEcr)
	}
	if want := uint32(s.now.Sub(time.Unix(1_000_000, 0)).Milliseconds()) + 1; ack.Opts.TSVal != want {
		t.Fatalf("TSval %d, want %d (milliseconds since the start, plus one)", ack.Opts.TSVal, want)
	}
	s.in(tsData(7001, 1000, 300, 0))
	s.advance(40 * time.Millisecond) // delayed ACK
	ack = s.expect("ACK seq=1001 ack=8001")[0]
	if ack.Opts.TSEcr != 300 {
		t.Fatalf("TSecr %d, want 300", ack.Opts.TSEcr)
	}
	// Out of order: acknowledged at once, echoing the last in-order one.
	s.in(tsData(9001, 1000, 400, 0))
	ack = s.expect("ACK seq=1001 ack=8001")[0]
	if ack.Opts.TSEcr != 300 {
		t.Fatalf("TSecr %d after an out-of-order segment, want 300", ack.Opts.TSEcr)
	}
	// The hole filled: its segment's timestamp.
	s.in(tsData(8001, 1000, 401, 0))
	ack = s.expect("ACK seq=1001 ack=10001")[0]
	if ack.Opts.TSEcr != 401 {
		t.Fatalf("TSecr %d after the hole filled, want 401", ack.Opts.TSEcr)
	}
}

// Our own data segments carry timestamps, and the RTT is measured from
// their echo (RFC 7323 §4.1).
func TestOptionsTimestampsOnData(t *testing.T) {
	s := newScript(t, Config{NoDelay: true})
	s.open(Options{MSS: 1012, HasMSS: true, HasTS: true, TSVal: 100}, 10*time.Millisecond, peerWin)
	s.advance(time.Second)
	g := s.c.TakeSegments()
	if len(g) != 0 {
		t.Fatalf("unexpected %v", fmtSegs(g))
	}
	s.c.Write(s.now, pattern(100))
	d := s.expect("PSH|ACK seq=1001 len=100")[0]
	if !d.Opts.HasTS || d.Opts.TSEcr != 101 {
		t.Fatalf("data timestamps %+v, want TSecr 101", d.Opts)
	}
	s.advance(30 * time.Millisecond)
	s.in(Segment{Seq: 5001, Ack: 1101, Flags: FlagACK, Window: peerWin, Opts: Options{HasTS: true, TSVal: 102, TSEcr: d.Opts.TSVal}})
	srtt, _ := s.c.RTT()
	// Samples: 10 ms (handshake), then 30 ms: 7/8*10 + 1/8*30 = 12.5 ms.
	if srtt != 12500*time.Microsecond {
		t.Fatalf("srtt %v, want 12.5ms", srtt)
	}
}

// RFC 7323 §5.3: PAWS drops a non-RST segment whose TSval is older than
// TS.Recent, answers it with an ACK and counts it; the data is not taken.
// A RST is not subject to the test (R1: "If ... the RST bit is off").
func TestOptionsPAWS(t *testing.T) {
	s := newScript(t, Config{NoDelayedAck: true})
	s.open(Options{MSS: 1012, HasMSS: true, HasTS: true, TSVal: 100}, 10*time.Millisecond, peerWin)
	s.in(tsData(5001, 100, 200, 0))
	s.expect("ACK seq=1001 ack=5101")
	s.read(pattern(100))
	old := tsData(5101, 100, 150, 0)
	s.in(old)
	ack := s.expect("ACK seq=1001 ack=5101")[0]
	if ack.Opts.TSEcr != 200 {
		t.Fatalf("TSecr %d, want 200", ack.Opts.TSEcr)
	}
	s.read(nil)
	if st := s.c.Stats(); st.PAWSDropped != 1 {
		t.Fatalf("PAWSDropped %d", st.PAWSDropped)
	}
	// The same TSval as TS.Recent is not old.
	s.in(tsData(5101, 100, 200, 0))
	s.expect("ACK seq=1001 ack=5201")
	s.read(pattern(100))
	// An old timestamp on a RST does not protect the connection from it.
	s.in(Segment{Seq: 5201, Flags: FlagRST, Opts: Options{HasTS: true, TSVal: 1}})
	s.expect()
	s.wantClosed(ErrReset)
	if st := s.c.Stats(); st.PAWSDropped != 1 {
		t.Fatalf("PAWSDropped %d after the RST", st.PAWSDropped)
	}
}

// Timestamps compare modulo 2^32 (RFC 7323 §5.2).
func TestOptionsPAWSWraps(t *testing.T) {
	s := newScript(t, Config{NoDelayedAck: true})
	s.open(Options{MSS: 1012, HasMSS: true, HasTS: true, TSVal: 0xfffffff0}, 10*time.Millisecond, peerWin)
	s.in(tsData(5001, 10, 0x10, 0)) // after the wrap: newer
	s.expect("ACK seq=1001 ack=5011")
	s.read(pattern(10))
	s.in(tsData(5011, 10, 0xfffffff8, 0)) // before the wrap: older
	s.expect("ACK seq=1001 ack=5011")
	s.read(nil)
	if st := s.c.Stats(); st.PAWSDropped != 1 {
		t.Fatalf("PAWSDropped %d", st.PAWSDropped)
	}
}

// A segment without timestamps on a connection that negotiated them is
// accepted: RFC 7323 §3.2 says a receiver SHOULD drop it; the code, like
// Linux, takes it.
func TestOptionsSegmentWithoutTimestampAccepted(t *testing.T) {
	s := newScript(t, Config{NoDelayedAck: true})
	s.open(Options{MSS: 1012, HasMSS: true, HasTS: true, TSVal: 100}, 10*time.Millisecond, peerWin)
	s.in(peerData(5001, 1001, 10))
	s.expect("ACK seq=1001 ack=5011")
	s.read(pattern(10))
}

// sizeCase is one combination for the segment size guard.
type sizeCase struct {
	peerMSS  uint16
	ts, sack bool
	blocks   int // out-of-order blocks we hold, reported as SACK blocks
}

// sackBlocksSent is how many SACK blocks our segments carry in c.
func (c sizeCase) sackBlocksSent() int {
	if !c.sack {
		return 0
	}
	if c.ts {
		return min(c.blocks, 3)
	}
	return min(c.blocks, 4)
}

// optionsLen is the options length of our data segments in c.
func (c sizeCase) optionsLen() int {
	n := 0
	if c.ts {
		n += 12
	}
	if k := c.sackBlocksSent(); k > 0 {
		n += 4 + 8*k
	}
	return n
}

func sizeCases() []sizeCase {
	var r []sizeCase
	for _, mss := range []uint16{536, 1000, 1460} {
		for _, o := range []struct{ ts, sack bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
			for blocks := range 5 {
				if blocks > 0 && !o.sack && blocks != 2 {
					continue // without SACK the blocks are not reported; one case is enough
				}
				r = append(r, sizeCase{mss, o.ts, o.sack, blocks})
			}
		}
	}
	return r
}

// openWithBlocks opens a connection for c and makes us hold c.blocks
// out-of-order blocks of the peer's data: 5101.., 5301.., each 100
// bytes, with the hole at 5001 never filled.
func openWithBlocks(t *testing.T, c sizeCase, cfg Config) *script {
	s := newScript(t, cfg)
	s.open(Options{MSS: c.peerMSS, HasMSS: true, SACKPermitted: c.sack, HasTS: c.ts, TSVal: 100}, 10*time.Millisecond, peerWin)
	for i := range c.blocks {
		g := peerData(Seq(5101+200*i), 1001, 100)
		if c.ts {
			g.Opts = Options{HasTS: true, TSVal: 200}
		}
		s.in(g)
		ack := s.expect("ACK seq=1001 ack=5001")[0]
		if ack.Opts.NumSACK != min(i+1, c.sackBlocksSent()) {
			t.Fatalf("ACK carries %d SACK blocks, want %d", ack.Opts.NumSACK, min(i+1, c.sackBlocksSent()))
		}
		if ack.Opts.NumSACK > 0 && ack.Opts.SACK[0] != (Block{Seq(5101 + 200*i), Seq(5201 + 200*i)}) {
			t.Fatalf("first SACK block %v, want the latest segment", ack.Opts.SACK[0])
		}
	}
	return s
}

// checkSizes fails unless every segment's payload and options fit the
// MSS both ends allow (RFC 9293 §3.7.1: options are counted in the
// segment size; RFC 6691).
func checkSizes(t *testing.T, segs []Segment, limit int) {
	t.Helper()
	for i := range segs {
		g := &segs[i]
		if n := len(g.Payload) + OptionsLen(&g.Opts); n > limit {
			t.Fatalf("segment %v carries %d bytes of payload and options, more than the MSS %d (options %+v)",
				g, n, limit, g.Opts)
		}
	}
}

// Payload plus options never exceeds the MSS, whatever options are in
// force and however many SACK blocks ride on the segment: new data,
// timeout retransmissions, fast retransmissions and tail loss probes.
// (A regression test: segments with three SACK blocks and timestamps
// once carried a full sndMSS of payload.)
func TestOptionsSegmentSizeNeverExceedsMSS(t *testing.T) {
	for _, c := range sizeCases() {
		t.Run(fmt.Sprintf("mss=%d/ts=%v/sack=%v/blocks=%d", c.peerMSS, c.ts, c.sack, c.blocks), func(t *testing.T) {
			limit := int(c.peerMSS)
			full := limit - c.optionsLen()
			s := openWithBlocks(t, c, Config{NoDelay: true, Congestion: "reno"})
			var all []Segment
			take := func() []Segment {
				g := s.out()
				checkSizes(t, g, limit)
				all = append(all, g...)
				return g
			}
			una := Seq(1001)
			ack := func(a Seq) Segment {
				g := peerAck(5001, a)
				if c.ts {
					g.Opts = Options{HasTS: true, TSVal: 200}
				}
				return g
			}
			// Eight full segments (NoDelay sends each at once), the first
			// lost, duplicate ACKs (with SACK blocks if allowed): a fast
			// retransmission.
			for range 8 {
				s.c.Write(s.now, pattern(full))
				if g := take(); len(g) != 1 || len(g[0].Payload) != full {
					t.Fatalf("one segment of %d bytes wanted, sent %v", full, fmtSegs(g))
				}
			}
			for i := range 4 {
				g := ack(una)
				if c.sack {
					g.Opts.NumSACK = 1
					g.Opts.SACK[0] = Block{una.Add(full), una.Add(full * (2 + i))}
				}
				s.in(g)
				take()
			}
			if st := s.c.Stats(); st.FastRetransmits != 1 {
				t.Fatalf("FastRetransmits %d", st.FastRetransmits)
			}
			una = una.Add(8 * full)
			s.in(ack(una))
			take()
			// One more, lost with its retransmissions: a tail loss probe
			// (with SACK) and timeouts.
			s.c.Write(s.now, pattern(full))
			if g := take(); len(g) != 1 || len(g[0].Payload) != full {
				t.Fatalf("one segment of %d bytes wanted, sent %v", full, fmtSegs(g))
			}
			_, rto := s.c.RTT()
			s.advance(rto)
			if g := take(); len(g) != 1 || len(g[0].Payload) != full {
				t.Fatalf("a retransmission of %d bytes wanted, sent %v", full, fmtSegs(g))
			}
			s.advance(10 * rto)
			take()
			if st := s.c.Stats(); st.Retransmits < 3 {
				t.Fatalf("only %d retransmissions checked", st.Retransmits)
			}
		})
	}
}

// Segments carrying SACK blocks are full-sized when their payload fills
// the MSS less their options: a bulk write goes out as such segments
// while we hold out-of-order data of the peer's (RFC 9293 §3.8.6.2.1:
// send "if a maximum-sized segment can be sent").
func TestOptionsFullSizedSegmentsWithSACKBlocks(t *testing.T) {
	for _, c := range sizeCases() {
		if c.sackBlocksSent() == 0 {
			continue
		}
		t.Run(fmt.Sprintf("mss=%d/ts=%v/blocks=%d", c.peerMSS, c.ts, c.blocks), func(t *testing.T) {
			full := int(c.peerMSS) - c.optionsLen()
			s := openWithBlocks(t, c, Config{Congestion: "reno"})
			s.c.Write(s.now, pattern(4*full))
			g := s.out()
			checkSizes(t, g, int(c.peerMSS))
			if len(g) != 4 {
				t.Fatalf("sent %v, want 4 segments of %d bytes", fmtSegs(g), full)
			}
			for i := range g {
				if len(g[i].Payload) != full {
					t.Fatalf("segment %v, want %d bytes", &g[i], full)
				}
			}
		})
	}
}
