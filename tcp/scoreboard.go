package tcp

import "slices"

// MaxScoreboardRanges bounds the number of disjoint SACKed ranges a
// Scoreboard keeps. A receiver reports at most four blocks per ACK and
// a real one rarely holds more than a few dozen; the bound stops a peer
// that SACKs every other byte from making the scoreboard grow without
// bound.
const MaxScoreboardRanges = 128

// dupThresh is RFC 6675 §2's DupThresh, "the number of duplicate
// acknowledgments required to trigger a fast retransmission": 3.
const dupThresh = 3

// Scoreboard records which bytes above snd.una the peer has SACKed.
//
// It is the data sender's scoreboard of RFC 6675 §3, kept as sorted,
// disjoint, non-adjacent ranges of SACKed sequence numbers, all above the
// latest snd.una it was given. A range that would be one more than
// MaxScoreboardRanges is ignored (Ignored counts it); forgetting a SACK
// only makes the sender more conservative, as if the ACK carrying it had
// been lost.
//
// The zero value is an empty scoreboard ready to use. A Scoreboard is
// not safe for concurrent use.
type Scoreboard struct {
	ranges  []Block // sorted, disjoint and non-adjacent
	sacked  int
	ignored uint64
}

// Update records the SACK blocks that lie in (sndUna, sndNxt] (others are ignored, as are
// D-SACK blocks below sndUna); it returns the number of bytes newly SACKed.
//
// Precisely: a block is ignored if it is empty or inverted (Start not
// before End), if it ends at or below sndUna (an RFC 2883 D-SACK, or a
// stale block), or if it ends beyond sndNxt (it reports data never sent,
// RFC 2018 §3's blocks cover only received data). A block that starts
// below sndUna is clipped to it. Ranges already held below sndUna are
// dropped first, as by Advance.
func (s *Scoreboard) Update(blocks []Block, sndUna, sndNxt Seq) int {
	s.Advance(sndUna)
	newly := 0
	for _, b := range blocks {
		if !b.Start.LessThan(b.End) || !b.End.GreaterThan(sndUna) || b.End.GreaterThan(sndNxt) {
			continue
		}
		newly += s.add(MaxSeq(b.Start, sndUna), b.End)
	}
	return newly
}

// search returns the index of the first range whose end is at or after
// seq: the first that overlaps or touches a range starting at seq.
func (s *Scoreboard) search(seq Seq) int {
	lo, hi := 0, len(s.ranges)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.ranges[m].End.LessThan(seq) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// add marks [lo, hi) SACKed and returns how many of its bytes were not.
func (s *Scoreboard) add(lo, hi Seq) int {
	i := s.search(lo)
	j := i
	held := 0
	for j < len(s.ranges) && s.ranges[j].Start.LessThanEq(hi) {
		held += int(s.ranges[j].End.Sub(s.ranges[j].Start))
		j++
	}
	if i == j {
		if len(s.ranges) >= MaxScoreboardRanges {
			s.ignored++
			return 0
		}
		s.ranges = slices.Insert(s.ranges, i, Block{lo, hi})
		n := int(hi.Sub(lo))
		s.sacked += n
		return n
	}
	merged := Block{MinSeq(lo, s.ranges[i].Start), MaxSeq(hi, s.ranges[j-1].End)}
	s.ranges[i] = merged
	s.ranges = slices.Delete(s.ranges, i+1, j)
	n := int(merged.End.Sub(merged.Start)) - held
	s.sacked += n
	return n
}

// Advance drops everything below sndUna (a cumulative ACK).
func (s *Scoreboard) Advance(sndUna Seq) {
	n := 0
	for n < len(s.ranges) && s.ranges[n].End.LessThanEq(sndUna) {
		s.sacked -= int(s.ranges[n].End.Sub(s.ranges[n].Start))
		n++
	}
	if n > 0 {
		s.ranges = slices.Delete(s.ranges, 0, n)
	}
	if len(s.ranges) > 0 && s.ranges[0].Start.LessThan(sndUna) {
		s.sacked -= int(sndUna.Sub(s.ranges[0].Start))
		s.ranges[0].Start = sndUna
	}
}

// Reset forgets everything SACKed (RFC 6675 §5.1 after a retransmission
// timeout, or a new connection). The Ignored counter is kept.
func (s *Scoreboard) Reset() {
	s.ranges = s.ranges[:0]
	s.sacked = 0
}

// IsSacked reports whether the byte with sequence number seq has been
// SACKed (RFC 6675 §4's IsLost and NextSeg ask this of each octet).
func (s *Scoreboard) IsSacked(seq Seq) bool {
	i := s.search(seq)
	return i < len(s.ranges) && seq.InRange(s.ranges[i].Start, s.ranges[i].End)
}

// SackedBytes returns the number of bytes above snd.una SACKed.
func (s *Scoreboard) SackedBytes() int { return s.sacked }

// Len returns the number of disjoint SACKed ranges held.
func (s *Scoreboard) Len() int { return len(s.ranges) }

// Ignored returns how many SACK ranges were ignored, in all, because
// MaxScoreboardRanges were already held.
func (s *Scoreboard) Ignored() uint64 { return s.ignored }

// HighSacked returns the highest SACKed sequence number + 1 (ok false if none).
// It is the bound of RFC 6675 §4 NextSeg's rule (1.b): "S2 is less than
// the highest octet covered by any received SACK".
func (s *Scoreboard) HighSacked() (Seq, bool) {
	if len(s.ranges) == 0 {
		return 0, false
	}
	return s.ranges[len(s.ranges)-1].End, true
}

// IsLost implements RFC 6675 §4 IsLost(SeqNum) with DupThresh = 3: true if at least
// DupThresh discontiguous SACKed ranges... — precisely: the number of SACKed bytes above
// seq is at least (DupThresh-1)*mss+1, or at least DupThresh distinct SACKed segments lie above it
// (count segments as ceil(bytes/mss) per block).
//
// "Above seq" means with sequence numbers greater than seq. A
// non-positive mss counts as 1.
func (s *Scoreboard) IsLost(seq Seq, mss int) bool {
	mss = max(mss, 1)
	above := seq.Add(1)
	bytes, segs := 0, 0
	for k := len(s.ranges) - 1; k >= 0; k-- {
		r := s.ranges[k]
		if r.End.LessThanEq(above) {
			break
		}
		n := int(r.End.Sub(MaxSeq(r.Start, above)))
		bytes += n
		segs += (n + mss - 1) / mss
		if bytes > (dupThresh-1)*mss || segs >= dupThresh {
			return true
		}
	}
	return false
}

// NextHole returns the first un-SACKed range [start, end) at or after from and below limit
// (ok false if none): the candidate for retransmission (RFC 6675 NextSeg rule 1).
//
// The caller decides with IsLost whether the hole is to be retransmitted
// and passes HighSacked as limit for rule 1, or snd.nxt to look at all
// unSACKed data.
func (s *Scoreboard) NextHole(from, limit Seq) (start, end Seq, ok bool) {
	start = from
	for i := s.search(from); i < len(s.ranges); i++ {
		if !start.LessThan(limit) {
			return 0, 0, false
		}
		r := s.ranges[i]
		if r.Start.LessThanEq(start) {
			start = MaxSeq(start, r.End)
			continue
		}
		return start, MinSeq(r.Start, limit), true
	}
	if !start.LessThan(limit) {
		return 0, 0, false
	}
	return start, limit, true
}
