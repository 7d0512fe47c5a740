package tcp

import "strconv"

// Seq is a TCP sequence number: arithmetic on it is modulo 2^32 and
// comparisons are wrap-safe, valid for numbers less than 2^31 apart (RFC
// 9293 §3.4). Seq is a comparable value; == and != need no special care.
type Seq uint32

// LessThan reports whether s precedes t (s < t modulo 2^32).
func (s Seq) LessThan(t Seq) bool { return int32(s-t) < 0 }

// LessThanEq reports whether s precedes or equals t.
func (s Seq) LessThanEq(t Seq) bool { return int32(s-t) <= 0 }

// GreaterThan reports whether s follows t.
func (s Seq) GreaterThan(t Seq) bool { return int32(s-t) > 0 }

// GreaterThanEq reports whether s follows or equals t.
func (s Seq) GreaterThanEq(t Seq) bool { return int32(s-t) >= 0 }

// Add returns s advanced by n, which may be negative, modulo 2^32.
func (s Seq) Add(n int) Seq { return s + Seq(uint32(n)) }

// Sub returns the signed distance s - t: positive when s follows t.
func (s Seq) Sub(t Seq) int32 { return int32(s - t) }

// InRange reports whether a <= s < b, in sequence space starting at a.
// An empty range (a == b) contains nothing.
func (s Seq) InRange(a, b Seq) bool { return uint32(s-a) < uint32(b-a) }

// InWindow reports whether start <= s < start+size. A zero-sized window
// contains nothing.
func (s Seq) InWindow(start Seq, size uint32) bool { return uint32(s-start) < size }

// String formats s in decimal.
func (s Seq) String() string { return strconv.FormatUint(uint64(s), 10) }

// MaxSeq returns whichever of a and b follows the other.
func MaxSeq(a, b Seq) Seq {
	if a.LessThan(b) {
		return b
	}
	return a
}

// MinSeq returns whichever of a and b precedes the other.
func MinSeq(a, b Seq) Seq {
	if a.LessThan(b) {
		return a
	}
	return b
}

// Acceptable is the segment acceptability test of RFC 9293 §3.10.7.4: a
// segment starting at seq and occupying length sequence numbers (data
// plus SYN and FIN) is acceptable to a receiver expecting rcvNxt with a
// receive window of rcvWnd if
//
//	length  window  test
//	0       0       SEG.SEQ = RCV.NXT
//	0       >0      RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
//	>0      0       not acceptable
//	>0      >0      RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND or
//	                RCV.NXT =< SEG.SEQ+SEG.LEN-1 < RCV.NXT+RCV.WND
func Acceptable(seq Seq, length uint32, rcvNxt Seq, rcvWnd uint32) bool {
	switch {
	case length == 0 && rcvWnd == 0:
		return seq == rcvNxt
	case length == 0:
		return seq.InWindow(rcvNxt, rcvWnd)
	case rcvWnd == 0:
		return false
	}
	return seq.InWindow(rcvNxt, rcvWnd) || seq.Add(int(length-1)).InWindow(rcvNxt, rcvWnd)
}
