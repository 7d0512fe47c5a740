package tcp

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// SYNCookies makes and checks SYN cookies: when a listener's SYN backlog
// is full, it answers a SYN without keeping any state, choosing as its
// ISN a cookie from which the ACK completing the handshake can be
// validated and the SYN's options recovered (RFC 4987 §3.6).
//
// A cookie is 32 bits:
//
//	 31      27 26  24 23                                  0
//	+----------+------+-------------------------------------+
//	| t mod 32 | MSS  | MAC(local, remote, client ISN, t, MSS) |
//	+----------+------+-------------------------------------+
//
// where t counts 64-second periods since the Unix epoch, MSS indexes a
// table of eight common values (64, 536, 1220, 1360, 1440, 1452, 1460,
// 8960; the client's MSS is rounded down to one), and MAC is SipHash-2-4
// keyed with the secret, truncated to 24 bits. Putting t in the top bits keeps the cookies of one listener
// increasing slowly with time, as ISNs should (RFC 9293 §3.4.1). A
// cookie is accepted during the period it was made in and the two after
// it, so for 128 to 192 seconds.
//
// Window scale and SACK-permitted do not fit; when the client sent
// timestamps they travel in the low 6 bits of the SYN-ACK's TSval, which
// the ACK echoes (see TSVal). Otherwise they are lost and the connection
// runs without them.
//
// A SYNCookies holds no mutable state: it is safe for concurrent use.
type SYNCookies struct {
	k0, k1 uint64
}

// NewSYNCookies returns a SYN cookie maker keyed with secret, which the
// caller draws from a cryptographically secure source and which should
// differ from the one its ISNGenerator uses.
func NewSYNCookies(secret [16]byte) *SYNCookies {
	k0, k1 := sipKey(secret)
	return &SYNCookies{k0: k0, k1: k1}
}

// CookieOptions are the options a cookie can carry.
type CookieOptions struct {
	MSS           uint16 // the client's MSS; a cookie rounds it down to a value of its table
	WScale        uint8  // the client's window shift, valid if HasWScale (clamped to 14)
	HasWScale     bool
	SACKPermitted bool
}

// cookieMSSTable lists the MSS values a cookie can carry, in increasing
// order: 64 as a floor for the rare tiny MSS, 536 (the default, RFC 9293
// §3.7.1), 1220 (IPv6 minimum MTU), 1360 (tunnels), 1440 (IPv6 over
// Ethernet), 1452 (PPPoE), 1460 (IPv4 over Ethernet) and 8960 (jumbo
// frames). A client's MSS is rounded down to an entry, so we never send
// segments larger than it asked for (except below 64).
var cookieMSSTable = [8]uint16{64, 536, 1220, 1360, 1440, 1452, 1460, 8960}

// Cookie time: 64-second periods, the current one and two before it
// valid.
const (
	cookiePeriodShift = 6 // log2 of the period in seconds
	cookieMaxAge      = 2 // periods
	// cookieTSMaxAge bounds, in milliseconds, how old an echoed cookie
	// timestamp may be: the longest a cookie is valid, plus one period
	// of slack for the 6 bits the options replace.
	cookieTSMaxAge = (cookieMaxAge+1)*(1<<cookiePeriodShift)*1000 + 64
)

// cookieCounter is t: the number of 64-second periods since the Unix
// epoch, modulo 2^32 (floored, so it also counts down before 1970).
func cookieCounter(now time.Time) uint32 {
	return uint32(now.Unix() >> cookiePeriodShift)
}

// cookieMSSIndex returns the index of the largest cookieMSSTable entry
// not above mss, or 0.
func cookieMSSIndex(mss uint16) uint32 {
	for i := len(cookieMSSTable) - 1; i > 0; i-- {
		if mss >= cookieMSSTable[i] {
			return uint32(i)
		}
	}
	return 0
}

// mac is the cookie's 24-bit message authentication code.
func (c *SYNCookies) mac(local, remote netip.AddrPort, clientISN Seq, t, mssIndex uint32) uint32 {
	var msg [tupleLen + 9]byte
	putTuple(msg[:], local, remote)
	binary.BigEndian.PutUint32(msg[tupleLen:], uint32(clientISN))
	binary.BigEndian.PutUint32(msg[tupleLen+4:], t)
	msg[tupleLen+8] = byte(mssIndex)
	return uint32(sipHash24(c.k0, c.k1, msg[:])) & 0xffffff
}

// Make returns the ISN to put in the SYN-ACK for a SYN from remote to
// local with the client's ISN clientISN: a cookie holding the current
// 64-second time counter t (mod 32, in the top 5 bits), opts.MSS rounded
// down to an entry of a table of common MSS values (3 bits), and a
// keyed SipHash of (local, remote, clientISN, t, MSS index) (24 bits).
// When the client sent timestamps, the SYN-ACK's TSval comes from TSVal,
// which carries WScale and SACK-permitted statelessly; otherwise those
// options are lost, as in Linux.
//
// Only opts.MSS matters here. A client that sent no MSS option should be
// given the default 536 (RFC 9293 §3.7.1).
func (c *SYNCookies) Make(local, remote netip.AddrPort, clientISN Seq, opts CookieOptions, now time.Time) (isn Seq) {
	t := cookieCounter(now)
	idx := cookieMSSIndex(opts.MSS)
	return Seq(t%32<<27 | idx<<24 | c.mac(local, remote, clientISN, t, idx))
}

// Timestamp option bits of a cookie's TSval (the low 6 bits).
const (
	cookieTSWScale = 0x0f // window shift + 1, or 0 if none
	cookieTSSACK   = 0x10 // SACK permitted
	cookieTSMark   = 0x20 // always set, so the value is never zero
	cookieTSBits   = 0x3f
)

// TSVal returns the TSval for a SYN-ACK carrying a cookie: a clock in
// milliseconds since the Unix epoch (modulo 2^32) whose low 6 bits are
// replaced by opts' window scale (shift+1, 0 for none, in bits 0–3),
// SACK-permitted (bit 4) and a bit always set (bit 5). The value never
// exceeds the plain millisecond clock at now, and is never zero.
//
// The connection that the cookie's ACK opens must keep its own TSval at
// or above the one echoed, or the peer's PAWS check (RFC 7323 §5)
// discards its segments.
func (c *SYNCookies) TSVal(opts CookieOptions, now time.Time) uint32 {
	bits := uint32(cookieTSMark)
	if opts.HasWScale {
		bits |= uint32(min(opts.WScale, MaxWindowScale)) + 1
	}
	if opts.SACKPermitted {
		bits |= cookieTSSACK
	}
	ms := uint32(now.UnixMilli())
	ts := ms&^cookieTSBits | bits
	if int32(ts-ms) > 0 {
		ts -= cookieTSBits + 1
	}
	return ts
}

// Check validates the ACK completing a handshake: cookie = ack-1, clientISN = seq-1; tsEcr is the
// echoed timestamp (hasTS false if none). It accepts cookies minted in the current or previous 2
// time counters and returns the options recovered.
//
// With a timestamp, the echo must be a cookie timestamp (bit 5 set) no
// older than the cookie can be and not in the future; otherwise the ACK
// is rejected. Without one, only the MSS is recovered.
func (c *SYNCookies) Check(local, remote netip.AddrPort, clientISN, cookie Seq, tsEcr uint32, hasTS bool, now time.Time) (CookieOptions, bool) {
	v := uint32(cookie)
	now32 := cookieCounter(now)
	age := (now32 - v>>27) % 32
	if age > cookieMaxAge {
		return CookieOptions{}, false
	}
	idx := v >> 24 & 7
	if c.mac(local, remote, clientISN, now32-age, idx) != v&0xffffff {
		return CookieOptions{}, false
	}
	opts := CookieOptions{MSS: cookieMSSTable[idx]}
	if hasTS {
		if tsEcr&cookieTSMark == 0 || uint32(now.UnixMilli())-tsEcr > cookieTSMaxAge {
			return CookieOptions{}, false
		}
		if ws := tsEcr & cookieTSWScale; ws != 0 {
			opts.WScale, opts.HasWScale = uint8(ws-1), true
		}
		opts.SACKPermitted = tsEcr&cookieTSSACK != 0
	}
	return opts, true
}
