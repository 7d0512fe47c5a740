package tcp

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestScoreboardUpdate(t *testing.T) {
	for _, una := range []Seq{1000, 1<<32 - 500, 1<<31 - 100} {
		nxt := una.Add(10000)
		at := func(off int) Seq { return una.Add(off) }
		for _, tc := range []struct {
			name   string
			blocks []Block
			newly  int
			sacked int
		}{
			{"one", []Block{{at(100), at(200)}}, 100, 100},
			{"two", []Block{{at(100), at(200)}, {at(300), at(400)}}, 200, 200},
			{"overlapping", []Block{{at(100), at(200)}, {at(150), at(250)}}, 150, 150},
			{"adjacent", []Block{{at(100), at(200)}, {at(200), at(300)}}, 200, 200},
			{"duplicate", []Block{{at(100), at(200)}, {at(100), at(200)}}, 100, 100},
			{"up to snd.nxt", []Block{{at(9000), at(10000)}}, 1000, 1000},
			{"beyond snd.nxt", []Block{{at(9000), at(10001)}}, 0, 0},
			{"D-SACK below snd.una", []Block{{at(-100), at(0)}}, 0, 0},
			{"D-SACK then SACK", []Block{{at(-100), at(-50)}, {at(10), at(20)}}, 10, 10},
			{"straddling snd.una", []Block{{at(-100), at(100)}}, 100, 100},
			{"empty", []Block{{at(100), at(100)}}, 0, 0},
			{"inverted", []Block{{at(200), at(100)}}, 0, 0},
			{"far away", []Block{{at(1 << 31), at(1<<31 + 10)}}, 0, 0},
			{"bridging", []Block{{at(100), at(200)}, {at(300), at(400)}, {at(150), at(350)}}, 300, 300},
		} {
			var s Scoreboard
			if n := s.Update(tc.blocks, una, nxt); n != tc.newly || s.SackedBytes() != tc.sacked {
				t.Errorf("una %v, %s: newly %d sacked %d, want %d and %d", una, tc.name, n, s.SackedBytes(), tc.newly, tc.sacked)
			}
		}
	}
}

func TestScoreboardAdvance(t *testing.T) {
	var s Scoreboard
	una := Seq(1<<32 - 100)
	s.Update([]Block{{una.Add(10), una.Add(20)}, {una.Add(100), una.Add(200)}, {una.Add(300), una.Add(310)}}, una, una.Add(1000))
	if s.SackedBytes() != 120 || s.Len() != 3 {
		t.Fatalf("sacked %d in %d ranges", s.SackedBytes(), s.Len())
	}
	s.Advance(una.Add(150)) // drops the first, cuts the second
	if s.SackedBytes() != 60 || s.Len() != 2 || s.IsSacked(una.Add(149)) || !s.IsSacked(una.Add(150)) {
		t.Fatalf("after Advance: sacked %d in %d ranges", s.SackedBytes(), s.Len())
	}
	if h, ok := s.HighSacked(); !ok || h != una.Add(310) {
		t.Fatalf("HighSacked %v %v", h, ok)
	}
	s.Advance(una.Add(400))
	if s.SackedBytes() != 0 || s.Len() != 0 {
		t.Fatalf("after full Advance: sacked %d", s.SackedBytes())
	}
	if _, ok := s.HighSacked(); ok {
		t.Fatal("HighSacked ok on an empty scoreboard")
	}
	s.Update([]Block{{una.Add(500), una.Add(600)}}, una.Add(400), una.Add(1000))
	s.Reset()
	if s.SackedBytes() != 0 || s.Len() != 0 || s.IsSacked(una.Add(550)) {
		t.Fatal("Reset kept data")
	}
}

// TestScoreboardIsLost checks RFC 6675 §4's IsLost with DupThresh 3 and
// an SMSS of 100.
func TestScoreboardIsLost(t *testing.T) {
	const mss = 100
	una := Seq(5000)
	for _, tc := range []struct {
		name   string
		blocks []Block
		seq    Seq
		lost   bool
	}{
		{"nothing SACKed", nil, 5000, false},
		{"two segments above", []Block{{5100, 5300}}, 5000, false},
		{"2*SMSS+1 bytes above", []Block{{5100, 5301}}, 5000, true},
		{"three small blocks", []Block{{5100, 5101}, {5200, 5201}, {5300, 5301}}, 5000, true},
		{"two small blocks", []Block{{5100, 5101}, {5200, 5201}}, 5000, false},
		{"segments in a block round up", []Block{{5100, 5150}, {5200, 5350}}, 5000, true},
		{"only what lies above seq", []Block{{5100, 5400}}, 5200, false},
		{"seq just below a block", []Block{{5100, 5400}}, 5099, true},
		{"seq in the block, 2*SMSS above", []Block{{5100, 5400}}, 5199, false},
		{"seq in the block, more above", []Block{{5100, 5400}}, 5198, true},
		{"seq above everything", []Block{{5100, 5400}}, 6000, false},
	} {
		var s Scoreboard
		s.Update(tc.blocks, una, una.Add(10000))
		if got := s.IsLost(tc.seq, mss); got != tc.lost {
			t.Errorf("%s: IsLost(%v) = %v", tc.name, tc.seq, got)
		}
	}
}

func TestScoreboardNextHole(t *testing.T) {
	var s Scoreboard
	una := Seq(1<<32 - 50)
	at := func(off int) Seq { return una.Add(off) }
	s.Update([]Block{{at(100), at(200)}, {at(300), at(400)}}, una, at(1000))
	type hole struct {
		start, end Seq
		ok         bool
	}
	for _, tc := range []struct {
		from, limit Seq
		want        hole
	}{
		{at(0), at(400), hole{at(0), at(100), true}},
		{at(50), at(400), hole{at(50), at(100), true}},
		{at(100), at(400), hole{at(200), at(300), true}},
		{at(150), at(400), hole{at(200), at(300), true}},
		{at(200), at(250), hole{at(200), at(250), true}},
		{at(300), at(400), hole{0, 0, false}},
		{at(350), at(1000), hole{at(400), at(1000), true}},
		{at(0), at(50), hole{at(0), at(50), true}},
		{at(0), at(0), hole{0, 0, false}},
		{at(500), at(400), hole{0, 0, false}},
		{at(100), at(200), hole{0, 0, false}},
	} {
		st, en, ok := s.NextHole(tc.from, tc.limit)
		if got := (hole{st, en, ok}); got != tc.want {
			t.Errorf("NextHole(%v, %v) = %v, want %v", tc.from, tc.limit, got, tc.want)
		}
	}
}

func TestScoreboardBound(t *testing.T) {
	var s Scoreboard
	una := Seq(0)
	for i := range MaxScoreboardRanges {
		s.Update([]Block{{Seq(10 + 10*i), Seq(15 + 10*i)}}, una, 1<<20)
	}
	if s.Len() != MaxScoreboardRanges || s.Ignored() != 0 {
		t.Fatalf("%d ranges, %d ignored", s.Len(), s.Ignored())
	}
	if n := s.Update([]Block{{5, 6}}, una, 1<<20); n != 0 || s.Ignored() != 1 || s.Len() != MaxScoreboardRanges {
		t.Fatalf("one too many: newly %d, %d ignored, %d ranges", n, s.Ignored(), s.Len())
	}
	// Extending or merging existing ranges is still recorded.
	if n := s.Update([]Block{{15, 20}, {8, 10}}, una, 1<<20); n != 7 || s.Len() != MaxScoreboardRanges-1 {
		t.Fatalf("merge: newly %d, %d ranges", n, s.Len())
	}
}

// refScoreboard is the reference: a bitmap over offsets from a base.
type refScoreboard struct {
	base Seq
	bits []bool
}

func (r *refScoreboard) runs(from int) (n int) {
	for i := from; i < len(r.bits); i++ {
		if r.bits[i] && (i == from || !r.bits[i-1]) {
			n++
		}
	}
	return n
}

func (r *refScoreboard) update(blocks []Block, una, nxt int) int {
	for i := 0; i < una; i++ {
		r.bits[i] = false
	}
	newly := 0
	for _, b := range blocks {
		lo, hi := int(b.Start.Sub(r.base)), int(b.End.Sub(r.base))
		if lo >= hi || hi <= una || hi > nxt {
			continue
		}
		lo = max(lo, una)
		// Would it make a new range when the bound is reached?
		touches := false
		for i := max(lo-1, 0); i < min(hi+1, len(r.bits)); i++ {
			touches = touches || r.bits[i]
		}
		if !touches && r.runs(0) >= MaxScoreboardRanges {
			continue
		}
		for i := lo; i < hi; i++ {
			if !r.bits[i] {
				r.bits[i] = true
				newly++
			}
		}
	}
	return newly
}

func (r *refScoreboard) isLost(seq, mss int) bool {
	bytes, segs, run := 0, 0, 0
	for i := len(r.bits) - 1; i >= -1; i-- {
		if i > seq && r.bits[i] {
			bytes++
			run++
			continue
		}
		segs += (run + mss - 1) / mss
		run = 0
	}
	return bytes > 2*mss || segs >= 3
}

func (r *refScoreboard) nextHole(from, limit int) (int, int, bool) {
	i := from
	for i < limit && r.bits[i] {
		i++
	}
	if i >= limit {
		return 0, 0, false
	}
	j := i
	for j < limit && !r.bits[j] {
		j++
	}
	return i, j, true
}

// TestScoreboardRandom compares the scoreboard with a bitmap through
// random SACKs and cumulative ACKs, near sequence number wrap-around.
func TestScoreboardRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const space = 2000
	var ignored uint64
	for run := range 80 {
		// Every fourth run SACKs tiny blocks and never advances, to
		// reach the bound.
		tiny := run%4 == 1
		base := Seq(rng.Uint32())
		if run%2 == 0 {
			base = Seq(1<<32 - 1 - rng.IntN(space))
		}
		t.Run(fmt.Sprint(run), func(t *testing.T) {
			var s Scoreboard
			ref := &refScoreboard{base: base, bits: make([]bool, space)}
			una, nxt := 0, 500
			mss := 1 + rng.IntN(60)
			for step := range 150 {
				if !tiny && rng.IntN(5) == 0 {
					una = min(una+rng.IntN(200), nxt)
					s.Advance(base.Add(una))
					ref.update(nil, una, nxt)
				}
				nxt = min(nxt+rng.IntN(100), space)
				blocks := make([]Block, rng.IntN(5))
				for k := range blocks {
					lo := una - 50 + rng.IntN(nxt-una+100)
					n := rng.IntN(80) - 5 // sometimes empty or inverted
					if tiny {
						n = 1 + rng.IntN(2)
					}
					blocks[k] = Block{base.Add(lo), base.Add(lo + n)}
				}
				got := s.Update(blocks, base.Add(una), base.Add(nxt))
				want := ref.update(blocks, una, nxt)
				if got != want {
					t.Fatalf("step %d: Update %v newly %d, reference %d", step, blocks, got, want)
				}
				count := 0
				for i := range space {
					if s.IsSacked(base.Add(i)) != ref.bits[i] {
						t.Fatalf("step %d: IsSacked(+%d) = %v", step, i, !ref.bits[i])
					}
					if ref.bits[i] {
						count++
					}
				}
				if s.SackedBytes() != count || s.Len() != ref.runs(0) {
					t.Fatalf("step %d: SackedBytes %d in %d ranges, reference %d in %d", step, s.SackedBytes(), s.Len(), count, ref.runs(0))
				}
				high, ok := s.HighSacked()
				wantHigh := -1
				for i := space - 1; i >= 0; i-- {
					if ref.bits[i] {
						wantHigh = i + 1
						break
					}
				}
				if ok != (wantHigh >= 0) || (ok && high != base.Add(wantHigh)) {
					t.Fatalf("step %d: HighSacked %v %v, reference +%d", step, high, ok, wantHigh)
				}
				for range 20 {
					seq := una + rng.IntN(nxt-una+1)
					if seq < space && s.IsLost(base.Add(seq), mss) != ref.isLost(seq, mss) {
						t.Fatalf("step %d: IsLost(+%d, %d) = %v", step, seq, mss, !ref.isLost(seq, mss))
					}
					from := una + rng.IntN(nxt-una+1)
					limit := from + rng.IntN(nxt-from+1)
					st, en, ok := s.NextHole(base.Add(from), base.Add(limit))
					rs, re, rok := ref.nextHole(from, limit)
					if ok != rok || (ok && (st != base.Add(rs) || en != base.Add(re))) {
						t.Fatalf("step %d: NextHole(+%d, +%d) = %v %v %v, reference +%d +%d %v",
							step, from, limit, st.Sub(base), en.Sub(base), ok, rs, re, rok)
					}
				}
			}
			ignored += s.Ignored()
		})
	}
	if ignored == 0 {
		t.Error("the bound was never reached")
	}
}

func TestScoreboardAllocs(t *testing.T) {
	var s Scoreboard
	blocks := []Block{{1100, 1200}, {1300, 1400}, {1500, 1600}}
	s.Update(blocks, 1000, 2000)
	n := testing.AllocsPerRun(100, func() {
		s.Update(blocks, 1000, 2000)
		s.IsLost(1000, 100)
		s.NextHole(1000, 1600)
		s.Advance(1000)
	})
	if n != 0 {
		t.Errorf("allocates %v", n)
	}
}

// BenchmarkScoreboard models SACK recovery in a window of 100 segments
// with every tenth lost: an ACK with three SACK blocks, then the
// connection's walk over the holes (NextHole and IsLost for each).
func BenchmarkScoreboard(b *testing.B) {
	const mss = 1460
	var s Scoreboard
	una := Seq(0)
	nxt := una.Add(100 * mss)
	var blocks []Block
	for i := 0; i < 100; i += 10 {
		blocks = append(blocks, Block{una.Add((i + 1) * mss), una.Add((i + 10) * mss)})
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := i % (len(blocks) - 2)
		s.Update(blocks[k:k+3], una, nxt)
		high, _ := s.HighSacked()
		for from := una; ; {
			st, en, ok := s.NextHole(from, high)
			if !ok {
				break
			}
			s.IsLost(st, mss)
			from = en
		}
	}
}
