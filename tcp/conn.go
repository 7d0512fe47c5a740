package tcp

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Errors that end a connection; Conn.Err reports them.
var (
	ErrReset    = errors.New("tcp: connection reset by peer")
	ErrRefused  = errors.New("tcp: connection refused")
	ErrTimeout  = errors.New("tcp: connection timed out")
	ErrAborted  = errors.New("tcp: connection aborted")
	ErrSendFull = errors.New("tcp: send buffer overrun")
)

// Config tunes a connection. Zero fields take the defaults in brackets.
type Config struct {
	// MSS is the largest segment we receive: the interface MTU less 40
	// [1460].
	MSS int
	// RcvBuf bounds the data held for the user, received but not yet
	// consumed; it is the largest window advertised [1 MiB]. SndBuf bounds
	// the data queued by the user and not yet acknowledged [1 MiB].
	RcvBuf, SndBuf int
	// Congestion is "cubic" or "reno" ["cubic"].
	Congestion string
	// NoDelay switches Nagle's algorithm off; NoDelayedAck acknowledges
	// every segment at once. DelayedAck is the delayed-ACK timeout [40 ms].
	NoDelay, NoDelayedAck bool
	DelayedAck            time.Duration
	// NoSACK, NoTimestamps and NoWindowScale switch those options off.
	NoSACK, NoTimestamps, NoWindowScale bool
	// InitialRTO, MinRTO and MaxRTO bound the retransmission timeout
	// [1 s, 200 ms, 120 s]; MaxRetries is how many RTOs in a row end the
	// connection [15]; SynRetries the same for the handshake [6].
	InitialRTO, MinRTO, MaxRTO time.Duration
	MaxRetries, SynRetries     int
	// TimeWait is how long TIME-WAIT lasts, 2*MSL [60 s].
	TimeWait time.Duration
	// FinWait2 bounds how long a connection the user has Closed (not just
	// Shut down) waits in FIN-WAIT-2 for the peer's FIN, as Linux's
	// tcp_fin_timeout does [60 s]: nobody will read, and a peer that
	// never closes would otherwise hold the connection for good.
	FinWait2 time.Duration
	// KeepAlive sends keepalive probes after KeepIdle of silence, every
	// KeepInterval, and gives up after KeepCount unanswered [2 h, 75 s, 9].
	KeepAlive              bool
	KeepIdle, KeepInterval time.Duration
	KeepCount              int
	// ChallengeACKs bounds the RFC 5961 challenge ACKs sent per second
	// [10].
	ChallengeACKs int
	// SYNWindow caps the window our SYN and SYN-ACK advertise [65535, and
	// no more than RcvBuf]; OptionLayout orders their options
	// [LayoutLinux]. Behaviour profiles that mimic a kernel set them.
	SYNWindow    int
	OptionLayout OptionLayout
}

func (c *Config) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MSS, 1460)
	def(&c.RcvBuf, 1<<20)
	def(&c.SndBuf, 1<<20)
	if c.Congestion == "" {
		c.Congestion = "cubic"
	}
	defd(&c.DelayedAck, 40*time.Millisecond)
	defd(&c.InitialRTO, time.Second)
	defd(&c.MinRTO, 200*time.Millisecond)
	defd(&c.MaxRTO, 120*time.Second)
	def(&c.MaxRetries, 15)
	def(&c.SynRetries, 6)
	defd(&c.TimeWait, 60*time.Second)
	defd(&c.FinWait2, 60*time.Second)
	defd(&c.KeepIdle, 2*time.Hour)
	defd(&c.KeepInterval, 75*time.Second)
	def(&c.KeepCount, 9)
	def(&c.ChallengeACKs, 10)
}

// Segment is a TCP segment without its IP header: what Input takes and
// what a connection emits. An emitted segment's Payload aliases the
// connection's send buffer and is valid until the connection's next call.
type Segment struct {
	Seq, Ack Seq
	Flags    Flags
	Window   uint16 // as on the wire, unscaled
	Opts     Options
	Payload  []byte
}

// Len is the segment's length in sequence space (RFC 9293 §3.4): its
// payload, plus one for SYN and one for FIN.
func (s *Segment) Len() uint32 {
	n := uint32(len(s.Payload))
	if s.Flags.Has(FlagSYN) {
		n++
	}
	if s.Flags.Has(FlagFIN) {
		n++
	}
	return n
}

func (s *Segment) String() string {
	return fmt.Sprintf("%s seq=%d ack=%d win=%d len=%d", s.Flags, s.Seq, s.Ack, s.Window, len(s.Payload))
}

// Stats count what a connection did.
type Stats struct {
	SegsIn, SegsOut         uint64
	BytesIn, BytesOut       uint64 // payload bytes received in order / sent for the first time
	Retransmits             uint64 // segments sent again
	FastRetransmits         uint64 // recoveries entered on duplicate ACKs or SACK
	Timeouts                uint64 // retransmission timeouts
	TailProbes              uint64 // tail loss probes sent (RFC 8985 §7)
	DupAcks                 uint64
	OutOfOrder              uint64 // segments held for reassembly
	OutOfWindow             uint64 // segments not acceptable (answered with an ACK)
	ChallengeACKs           uint64 // RFC 5961 challenge ACKs sent
	ChallengeLimited        uint64 // challenge ACKs not sent: over the rate
	PAWSDropped             uint64 // segments with an old timestamp (RFC 7323 §5)
	ZeroWindowProbes        uint64
	KeepAlives              uint64
	WindowFull, SendRefused uint64 // user writes cut short by SndBuf
}

// Conn is one TCP connection's state vector (RFC 9293): a pure state
// machine driven by Input (a segment arrived), the user calls (Write,
// Consumed, Close, Shutdown, Abort) and Tick (time passed). It never reads
// a clock or starts a goroutine; whatever it decides to send is queued for
// TakeSegments, and Deadline says when it next needs Tick.
type Conn struct {
	cfg           Config
	state         State
	local, remote netip.AddrPort
	err           error
	passive       bool // opened by a listener

	// Send side (RFC 9293 §3.3.1).
	iss, sndUna, sndNxt, sndMax Seq
	sndWnd                      uint32 // peer's window, scaled
	maxSndWnd                   uint32 // largest window the peer offered
	sndWl1, sndWl2              Seq
	sndBuf                      []byte // queued data; sndBuf[sndOff] has sequence number sndBase
	sndOff                      int
	sndBase                     Seq
	finQueued, finSent          bool // user closed its direction / FIN sent at least once
	userClosed                  bool // the user will read no more
	pushSeq                     Seq  // PSH on the segment reaching this sequence number

	// Receive side.
	irs, rcvNxt Seq
	rcvAdvRight Seq    // right edge of the window advertised
	rcvReady    []byte // in-order data the user has not taken
	rcvHeld     int    // data taken by the user but not yet consumed
	reasm       Reassembly
	finRcvd     bool // peer's FIN received in order
	finSeq      Seq  // sequence number of a FIN received out of order
	finPending  bool
	ackNow      bool // an ACK must go out
	unackedSegs int  // full segments received since the last ACK sent

	// Negotiated options.
	sndMSS               int // payload of a full-sized segment (timestamps allowed for)
	mssLimit             int // payload plus options per segment: min(peer's MSS, ours)
	sndWScale, rcvWScale uint8
	wsOK, sackOK, tsOK   bool
	tsRecent             uint32
	lastAckSent          Seq
	tsBase               time.Time

	// Round-trip time and retransmission (RFC 6298).
	srtt, rttvar, rto time.Duration
	rttSeq            Seq
	rttTime           time.Time
	rttTiming         bool
	retries           int

	// Congestion control and loss recovery (RFC 5681, 6582, 6675).
	cc         Congestion
	inRecovery bool
	recover    Seq
	dupAcks    int
	ltSent     int // bytes sent beyond cwnd by limited transmit (RFC 3042)
	inflation  int // NewReno cwnd inflation during recovery (no SACK)
	score      Scoreboard
	highRxt    Seq

	// Timers: zero means off.
	rtoAt, delackAt, persistAt, keepAt, timeWaitAt time.Time
	ptoAt                                          time.Time // tail loss probe (RFC 8985 §7)
	finWait2At                                     time.Time // FIN-WAIT-2 after Close
	tlpOut                                         bool      // a probe is out, no ACK since
	persistBackoff                                 int
	keepProbes                                     int
	lastRecv, lastSend                             time.Time

	// Challenge ACK rate limit (RFC 5961 §7).
	chTokens float64
	chLast   time.Time

	out   []Segment
	stats Stats
	held  bool // output waits for Hold(false)
}

// Hold defers output: while held, Input, Write and Consumed change the
// connection's state but send nothing; Hold(false) sends what is due, once.
// A caller that has a burst of segments to hand in holds, inputs them all,
// and releases: the burst is acknowledged by one ACK (as receive offload
// does in kernels), and data goes out in as few segments as possible.
func (c *Conn) Hold(now time.Time, on bool) {
	c.held = on
	if !on {
		c.output(now)
	}
}

// NewConn returns a closed connection between local and remote, whose
// initial send sequence number is iss (take it from an ISNGenerator).
func NewConn(cfg Config, local, remote netip.AddrPort, iss Seq, now time.Time) *Conn {
	cfg.defaults()
	c := &Conn{cfg: cfg, local: local, remote: remote, iss: iss, tsBase: now}
	c.sndUna, c.sndNxt, c.sndMax, c.sndBase = iss, iss, iss, iss.Add(1)
	c.rto = cfg.InitialRTO
	c.sndMSS = 536 // RFC 9293 §3.7.1 default until the peer says otherwise
	cc, err := NewCongestion(cfg.Congestion, c.sndMSS, now)
	if err != nil {
		cc, _ = NewCongestion("cubic", c.sndMSS, now)
	}
	c.cc = cc
	c.chTokens, c.chLast = float64(cfg.ChallengeACKs), now
	c.lastRecv, c.lastSend = now, now
	return c
}

// State returns the connection's state.
func (c *Conn) State() State { return c.state }

// Local and Remote return the connection's endpoints.
func (c *Conn) Local() netip.AddrPort  { return c.local }
func (c *Conn) Remote() netip.AddrPort { return c.remote }

// Err returns why the connection ended abnormally (reset, refused,
// timed out, aborted), or nil.
func (c *Conn) Err() error { return c.err }

// Stats returns the connection's counters.
func (c *Conn) Stats() Stats { return c.stats }

// Congestion returns the connection's congestion control.
func (c *Conn) Congestion() Congestion { return c.cc }

// RTT returns the smoothed round-trip time and the current RTO.
func (c *Conn) RTT() (srtt, rto time.Duration) { return c.srtt, c.rto }

// Negotiated reports the options in force: the send MSS, window scales,
// SACK and timestamps.
func (c *Conn) Negotiated() (mss int, sndWScale, rcvWScale uint8, sack, ts bool) {
	return c.sndMSS, c.sndWScale, c.rcvWScale, c.sackOK, c.tsOK
}

// Connect starts an active open (RFC 9293 §3.10.1): it sends a SYN.
func (c *Conn) Connect(now time.Time) {
	if c.state != Closed {
		return
	}
	c.state = SynSent
	c.rcvWScale = c.chooseWScale()
	c.sendSYN(now, false)
}

// AcceptSYN starts a passive open from a listener for the SYN syn (RFC
// 9293 §3.10.7.2): it answers SYN-ACK.
func (c *Conn) AcceptSYN(now time.Time, syn *Segment) {
	if c.state != Closed {
		return
	}
	c.passive = true
	c.state = SynReceived
	c.irs = syn.Seq
	c.rcvNxt = syn.Seq.Add(1)
	c.rcvAdvRight = c.rcvNxt
	c.negotiate(&syn.Opts, true)
	c.updateWindow(syn, true)
	c.sendSYN(now, true)
}

// AcceptCookie opens a connection straight into ESTABLISHED from the ACK
// that completed a SYN-cookie handshake: the connection's iss is the
// cookie (ack-1) and its peer's ISN is seq-1; opts are what the cookie
// carried.
func (c *Conn) AcceptCookie(now time.Time, ack *Segment, opts CookieOptions) {
	if c.state != Closed {
		return
	}
	c.passive = true
	c.irs = ack.Seq.Add(-1)
	c.rcvNxt = ack.Seq
	c.sndUna, c.sndNxt, c.sndMax, c.sndBase = ack.Ack, ack.Ack, ack.Ack, ack.Ack
	c.iss = ack.Ack.Add(-1)
	peer := Options{MSS: opts.MSS, HasMSS: true, WScale: opts.WScale, HasWScale: opts.HasWScale,
		SACKPermitted: opts.SACKPermitted, HasTS: ack.Opts.HasTS, TSVal: ack.Opts.TSVal}
	c.rcvAdvRight = c.rcvNxt
	c.negotiate(&peer, true)
	if c.tsOK && ack.Opts.TSEcr != 0 {
		// Our timestamp clock goes on from the value the cookie's SYN-ACK
		// carried, or the peer's PAWS check would drop us (RFC 7323 §5).
		c.tsBase = now.Add(-time.Duration(ack.Opts.TSEcr-1) * time.Millisecond)
	}
	c.state = Established
	c.Input(now, ack)
}

// Write queues data for sending and returns how much was taken: no more
// than the send buffer's free space.
func (c *Conn) Write(now time.Time, data []byte) int {
	if !c.state.canSend() || c.finQueued {
		c.stats.SendRefused++
		return 0
	}
	n := min(len(data), c.Writable())
	if n < len(data) {
		c.stats.WindowFull++
	}
	if c.sndOff > 0 && c.sndOff >= len(c.sndBuf)/2 && len(c.out) == 0 {
		// Move the queued data down before it grows the array again —
		// but never under segments not yet taken: their payloads alias
		// this array (a retransmission queued while output is held).
		k := copy(c.sndBuf, c.sndBuf[c.sndOff:])
		c.sndBuf, c.sndOff = c.sndBuf[:k], 0
	}
	c.sndBuf = append(c.sndBuf, data[:n]...)
	c.pushSeq = c.sndBase.Add(len(c.sndBuf) - c.sndOff)
	c.output(now)
	return n
}

// Writable returns the send buffer's free space.
func (c *Conn) Writable() int {
	if !c.state.canSend() || c.finQueued {
		return 0
	}
	return max(c.cfg.SndBuf-(len(c.sndBuf)-c.sndOff), 0)
}

// Unsent returns the bytes queued and not yet acknowledged.
func (c *Conn) Unsent() int { return len(c.sndBuf) - c.sndOff }

// TakeReadable returns the data received in order since the last call
// (nil if none). The user holds it against the receive buffer until it
// calls Consumed.
func (c *Conn) TakeReadable() []byte {
	d := c.rcvReady
	c.rcvReady = nil
	c.rcvHeld += len(d)
	return d
}

// Consumed tells the connection the user has finished with n bytes of
// data it took, opening the receive window by as much.
func (c *Conn) Consumed(now time.Time, n int) {
	c.rcvHeld = max(c.rcvHeld-n, 0)
	if c.windowUpdateDue() {
		c.ackNow = true
	}
	c.output(now)
}

// ReadClosed reports whether the peer has closed its direction and every
// byte before its FIN has been taken: end of stream.
func (c *Conn) ReadClosed() bool { return c.finRcvd && len(c.rcvReady) == 0 }

// Shutdown closes our direction (CloseWrite): a FIN follows the queued
// data.
func (c *Conn) Shutdown(now time.Time) {
	switch c.state {
	case SynSent:
		c.finish(nil)
		return
	case SynReceived, Established, CloseWait:
		if c.finQueued {
			return
		}
		c.finQueued = true
		c.output(now)
	}
}

// Close closes the connection from the user's side (RFC 9293 §3.10.4): a
// FIN follows the queued data. The user reads no more: if received data
// is still untaken, or data arrives later, the connection is reset
// instead (RFC 2525 §2.17, as Linux does).
func (c *Conn) Close(now time.Time) {
	c.userClosed = true
	if len(c.rcvReady) > 0 {
		c.Abort(now)
		return
	}
	c.Shutdown(now)
	c.armFinWait2(now) // if Shutdown earlier already brought it to FIN-WAIT-2
}

// Abort resets the connection (RFC 9293 §3.10.5): a RST is sent and the
// connection is closed.
func (c *Conn) Abort(now time.Time) {
	switch c.state {
	case SynReceived, Established, FinWait1, FinWait2, CloseWait:
		c.emit(now, Segment{Seq: c.ctlSeq(), Flags: FlagRST})
	}
	c.finish(ErrAborted)
}

// Done reports whether the connection has closed (after it was opened).
func (c *Conn) Done() bool { return c.state == Closed }

// TakeSegments returns the segments to send, in order, and forgets them.
// Their payloads alias the send buffer: encode them before the next call.
func (c *Conn) TakeSegments() []Segment {
	s := c.out
	c.out = c.out[:0]
	return s
}

// finish closes the connection, with err if it failed.
func (c *Conn) finish(err error) {
	if c.state == Closed && c.err != nil {
		return
	}
	c.state = Closed
	if c.err == nil {
		c.err = err
	}
	c.rtoAt, c.delackAt, c.persistAt, c.keepAt, c.timeWaitAt, c.ptoAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	c.finWait2At = time.Time{}
	c.reasm.Reset()
	c.score.Reset()
}

// chooseWScale picks our window scale: the smallest shift that lets the
// receive buffer be advertised (RFC 7323 §2.3).
func (c *Conn) chooseWScale() uint8 {
	if c.cfg.NoWindowScale {
		return 0
	}
	var s uint8
	for s < MaxWindowScale && c.cfg.RcvBuf>>s > 65535 {
		s++
	}
	return s
}

// negotiate settles the options from the peer's SYN (RFC 9293 §3.7.1,
// RFC 7323 §2.2 and §3.2, RFC 2018 §2).
func (c *Conn) negotiate(peer *Options, passive bool) {
	mss := 536
	if peer.HasMSS && peer.MSS > 0 {
		mss = int(peer.MSS)
	}
	if passive {
		c.rcvWScale = c.chooseWScale()
	}
	c.wsOK = peer.HasWScale && !c.cfg.NoWindowScale
	if c.wsOK {
		c.sndWScale = min(peer.WScale, MaxWindowScale)
	} else {
		c.sndWScale, c.rcvWScale = 0, 0
	}
	c.sackOK = peer.SACKPermitted && !c.cfg.NoSACK
	c.tsOK = peer.HasTS && !c.cfg.NoTimestamps
	if c.tsOK {
		c.tsRecent = peer.TSVal
	}
	c.sndMSS = min(mss, c.cfg.MSS)
	c.mssLimit = c.sndMSS
	if c.tsOK {
		c.sndMSS -= 12 // timestamps ride on every segment (RFC 7323 §3.2)
	}
	c.cc.SetMSS(c.sndMSS)
}

// tsNow is our timestamp clock: milliseconds since the connection began.
func (c *Conn) tsNow(now time.Time) uint32 { return uint32(now.Sub(c.tsBase).Milliseconds()) + 1 }
