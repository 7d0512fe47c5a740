package tcp

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// payload returns n bytes whose values depend on their sequence numbers
// and on tag, so that copies of the same range from different segments
// can be told apart.
func payload(seq Seq, n int, tag byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(uint32(seq)+uint32(i)) ^ tag
	}
	return b
}

// permutations calls f with every permutation of 0..n-1.
func permutations(n int, f func([]int)) {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	var rec func(k int)
	rec = func(k int) {
		if k == n {
			f(p)
			return
		}
		for i := k; i < n; i++ {
			p[k], p[i] = p[i], p[k]
			rec(k + 1)
			p[k], p[i] = p[i], p[k]
		}
	}
	rec(0)
}

// TestReassemblyPermutations inserts the segments of a stream in every
// order, popping whatever becomes contiguous after each, and checks that
// the stream comes out whole and the queue ends empty.
func TestReassemblyPermutations(t *testing.T) {
	type seg struct{ off, n int }
	for _, tc := range []struct {
		name string
		isn  Seq
		segs []seg
	}{
		{"4 equal", 1000, []seg{{0, 100}, {100, 100}, {200, 100}, {300, 100}}},
		{"5 uneven", 1000, []seg{{0, 1}, {1, 536}, {537, 1460}, {1997, 3}, {2000, 700}}},
		{"5 overlapping", 1000, []seg{{0, 300}, {200, 300}, {250, 100}, {450, 400}, {840, 60}}},
		{"5 duplicates", 1000, []seg{{0, 200}, {200, 200}, {0, 200}, {100, 200}, {200, 200}}},
		{"5 across 2^32", 1<<32 - 900, []seg{{0, 400}, {400, 400}, {800, 400}, {1200, 400}, {1600, 400}}},
		{"5 at 2^32", 1<<32 - 400, []seg{{0, 100}, {100, 200}, {300, 100}, {400, 100}, {500, 100}}},
	} {
		streamLen := 0
		for _, s := range tc.segs {
			streamLen = max(streamLen, s.off+s.n)
		}
		want := payload(tc.isn, streamLen, 0)
		permutations(len(tc.segs), func(order []int) {
			var r Reassembly
			rcvNxt := tc.isn
			var got []byte
			for _, k := range order {
				s := tc.segs[k]
				seq := tc.isn.Add(s.off)
				r.Insert(seq, payload(seq, s.n, 0), rcvNxt, rcvNxt.Add(1<<20))
				if d := r.Pop(rcvNxt); d != nil {
					got = append(got, d...)
					rcvNxt = rcvNxt.Add(len(d))
				}
			}
			if !bytes.Equal(got, want) || r.Len() != 0 || r.Bytes() != 0 {
				t.Fatalf("%s, order %v: got %d bytes (equal %v), %d blocks and %d bytes left",
					tc.name, order, len(got), bytes.Equal(got, want), r.Len(), r.Bytes())
			}
		})
	}
}

// TestReassemblyFirstCopyWins checks that bytes already held are kept
// when a later segment overlaps them.
func TestReassemblyFirstCopyWins(t *testing.T) {
	var r Reassembly
	const nxt = Seq(100)
	r.Insert(110, payload(110, 10, 'A'), nxt, 1000) // [110,120) A
	r.Insert(130, payload(130, 10, 'B'), nxt, 1000) // [130,140) B
	r.Insert(105, payload(105, 40, 'C'), nxt, 1000) // [105,145) C fills the gaps
	if r.Len() != 1 || r.Bytes() != 40 {
		t.Fatalf("%d blocks, %d bytes", r.Len(), r.Bytes())
	}
	r.Insert(100, payload(100, 5, 'D'), nxt, 1000)
	got := r.Pop(nxt)
	want := slices.Concat(payload(100, 5, 'D'), payload(105, 5, 'C'), payload(110, 10, 'A'),
		payload(120, 10, 'C'), payload(130, 10, 'B'), payload(140, 5, 'C'))
	if !bytes.Equal(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// TestReassemblyCopies checks that Insert copies: the caller may reuse
// its buffer.
func TestReassemblyCopies(t *testing.T) {
	var r Reassembly
	buf := []byte("hello")
	r.Insert(10, buf, 5, 100)
	copy(buf, "XXXXX")
	r.Insert(5, []byte("01234"), 5, 100)
	if got := r.Pop(5); string(got) != "01234hello" {
		t.Fatalf("got %q", got)
	}
}

func TestReassemblyWindow(t *testing.T) {
	for _, base := range []Seq{1000, 1<<32 - 50, 1<<31 - 20} {
		nxt, limit := base, base.Add(100)
		for _, tc := range []struct {
			name       string
			off, n     int
			start, end int // held range, offsets from nxt; start == end: nothing
		}{
			{"inside", 10, 20, 10, 30},
			{"up to limit", 90, 10, 90, 100},
			{"past limit", 90, 30, 90, 100},
			{"at limit", 100, 10, 0, 0},
			{"beyond limit", 500, 10, 0, 0},
			{"below rcvNxt", -30, 20, 0, 0},
			{"ending at rcvNxt", -20, 20, 0, 0},
			{"straddling rcvNxt", -10, 30, 0, 20},
			{"covering the window", -10, 200, 0, 100},
			{"empty", 10, 0, 0, 0},
			{"far below", -1 << 30, 10, 0, 0},
		} {
			var r Reassembly
			seq := nxt.Add(tc.off)
			r.Insert(seq, payload(seq, tc.n, 0), nxt, limit)
			var blocks [4]Block
			n := r.SACKBlocks(blocks[:])
			if tc.start == tc.end {
				if n != 0 || r.Bytes() != 0 {
					t.Errorf("base %v, %s: held %v", base, tc.name, blocks[:n])
				}
				continue
			}
			want := Block{nxt.Add(tc.start), nxt.Add(tc.end)}
			if n != 1 || blocks[0] != want || r.Bytes() != tc.end-tc.start {
				t.Errorf("base %v, %s: held %v (%d bytes), want %v", base, tc.name, blocks[:n], r.Bytes(), want)
			}
		}
		// A window of zero or less stores nothing.
		var r Reassembly
		r.Insert(nxt.Add(1), []byte("x"), nxt, nxt)
		r.Insert(nxt.Add(1), []byte("x"), nxt, nxt.Add(-5))
		if r.Len() != 0 {
			t.Errorf("base %v: stored with an empty window", base)
		}
	}
}

// TestReassemblyAdvance checks that data below rcvNxt is dropped once
// the caller has moved rcvNxt past it (in-order data that arrived
// directly, without going through the queue).
func TestReassemblyAdvance(t *testing.T) {
	var r Reassembly
	r.Insert(110, payload(110, 10, 0), 100, 1000) // [110,120)
	r.Insert(130, payload(130, 10, 0), 100, 1000) // [130,140)
	if d := r.Pop(115); !bytes.Equal(d, payload(115, 5, 0)) {
		t.Fatalf("Pop(115) = %v", d)
	}
	if d := r.Pop(125); d != nil || r.Bytes() != 10 {
		t.Fatalf("Pop(125) = %v, %d bytes held", d, r.Bytes())
	}
	r.Insert(200, payload(200, 1, 0), 135, 1000)
	if r.Len() != 2 || r.Bytes() != 6 {
		t.Fatalf("after Insert with rcvNxt 135: %d blocks, %d bytes", r.Len(), r.Bytes())
	}
	r.Reset()
	if r.Len() != 0 || r.Bytes() != 0 || r.Pop(200) != nil {
		t.Fatal("Reset left data")
	}
}

func sackOf(r *Reassembly, max int) []Block {
	b := make([]Block, max)
	return b[:r.SACKBlocks(b)]
}

// TestReassemblySACKOrder checks RFC 2018 §4's order: the block holding
// the latest segment first, then the others by how recently they changed.
func TestReassemblySACKOrder(t *testing.T) {
	var r Reassembly
	const nxt, lim = Seq(1000), Seq(1 << 20)
	ins := func(seq Seq, n int) { r.Insert(seq, payload(seq, n, 0), nxt, lim) }
	ins(2000, 100) // A
	ins(3000, 100) // B
	ins(4000, 100) // C
	ins(5000, 100) // D
	ins(6000, 100) // E
	want := []Block{{6000, 6100}, {5000, 5100}, {4000, 4100}, {3000, 3100}}
	if got := sackOf(&r, 4); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	ins(2050, 10) // a duplicate inside A: A first
	want = []Block{{2000, 2100}, {6000, 6100}, {5000, 5100}}
	if got := sackOf(&r, 3); !slices.Equal(got, want) {
		t.Fatalf("after duplicate: got %v, want %v", got, want)
	}
	ins(3100, 900) // bridges B and C
	want = []Block{{3000, 4100}, {2000, 2100}, {6000, 6100}, {5000, 5100}}
	if got := sackOf(&r, 4); !slices.Equal(got, want) {
		t.Fatalf("after bridge: got %v, want %v", got, want)
	}
	ins(10, 10) // old data below rcvNxt changes nothing
	if got := sackOf(&r, 4); !slices.Equal(got, want) {
		t.Fatalf("after old data: got %v, want %v", got, want)
	}
	if got := sackOf(&r, 10); len(got) != 4 {
		t.Fatalf("room for 10, got %v", got)
	}
	if got := sackOf(&r, 0); len(got) != 0 {
		t.Fatalf("room for 0, got %v", got)
	}
	r.Insert(1000, payload(1000, 1000, 0), nxt, lim) // fills up to A: popped, not reported
	if d := r.Pop(nxt); len(d) != 1100 {
		t.Fatalf("popped %d bytes", len(d))
	}
	want = []Block{{3000, 4100}, {6000, 6100}, {5000, 5100}}
	if got := sackOf(&r, 4); !slices.Equal(got, want) {
		t.Fatalf("after pop: got %v, want %v", got, want)
	}
}

// TestReassemblyBound fills the queue with the maximum number of blocks
// and checks refusal, reneging and the counters.
func TestReassemblyBound(t *testing.T) {
	var r Reassembly
	const nxt, lim = Seq(0), Seq(1 << 20)
	for i := range MaxReassemblyBlocks {
		seq := Seq(1000 + 100*i)
		r.Insert(seq, payload(seq, 10, 0), nxt, lim)
	}
	if r.Len() != MaxReassemblyBlocks || r.Refused() != 0 {
		t.Fatalf("%d blocks, %d refused", r.Len(), r.Refused())
	}
	top := Seq(1000 + 100*(MaxReassemblyBlocks-1))
	// A new block above the highest: refused.
	r.Insert(top+50, []byte("x"), nxt, lim)
	if r.Len() != MaxReassemblyBlocks || r.Refused() != 1 || r.Bytes() != 10*MaxReassemblyBlocks {
		t.Fatalf("above: %d blocks, %d refused, %d bytes", r.Len(), r.Refused(), r.Bytes())
	}
	// Growing an existing block or bridging two is always accepted.
	r.Insert(1010, payload(1010, 90, 0), nxt, lim)
	r.Insert(top+10, payload(top+10, 5, 0), nxt, lim)
	if r.Len() != MaxReassemblyBlocks-1 || r.Refused() != 1 {
		t.Fatalf("merge: %d blocks, %d refused", r.Len(), r.Refused())
	}
	r.Insert(top+50, []byte("x"), nxt, lim) // room again
	if r.Len() != MaxReassemblyBlocks || r.Refused() != 1 {
		t.Fatalf("after merge: %d blocks, %d refused", r.Len(), r.Refused())
	}
	// A new block below the highest: the highest is dropped instead.
	r.Insert(0, payload(0, 10, 0), nxt, lim)
	if r.Len() != MaxReassemblyBlocks || r.Reneged() != 1 || r.Refused() != 1 {
		t.Fatalf("below: %d blocks, %d reneged", r.Len(), r.Reneged())
	}
	if got := sackOf(&r, 4); got[0] != (Block{0, 10}) {
		t.Fatalf("first SACK block %v", got[0])
	}
	for _, b := range sackOf(&r, MaxReassemblyBlocks) {
		if b.End.GreaterThan(top + 50) {
			t.Fatalf("highest block %v kept", b)
		}
	}
	want := 0
	for _, b := range sackOf(&r, MaxReassemblyBlocks) {
		want += int(b.End - b.Start)
	}
	if r.Bytes() != want {
		t.Fatalf("Bytes %d, blocks hold %d", r.Bytes(), want)
	}
	if d := r.Pop(nxt); len(d) != 10 {
		t.Fatalf("popped %d", len(d))
	}
}

// refReassembly is the reference: a map from sequence number to byte.
type refReassembly map[Seq]byte

func (m refReassembly) insert(seq Seq, data []byte, nxt, limit Seq) {
	for i, c := range data {
		s := seq.Add(i)
		if s.InRange(nxt, limit) && limit.GreaterThan(nxt) {
			if _, ok := m[s]; !ok {
				m[s] = c
			}
		}
	}
}

func (m refReassembly) advance(nxt Seq) {
	for s := range m {
		if s.LessThan(nxt) {
			delete(m, s)
		}
	}
}

func (m refReassembly) pop(nxt Seq) []byte {
	m.advance(nxt)
	var out []byte
	for {
		c, ok := m[nxt]
		if !ok {
			return out
		}
		out = append(out, c)
		delete(m, nxt)
		nxt++
	}
}

// blocks returns the reference's runs, in sequence order from nxt.
func (m refReassembly) blocks(nxt Seq) []Block {
	seqs := make([]Seq, 0, len(m))
	for s := range m {
		seqs = append(seqs, s)
	}
	slices.SortFunc(seqs, func(a, b Seq) int { return int(a.Sub(nxt)) - int(b.Sub(nxt)) })
	var out []Block
	for _, s := range seqs {
		if n := len(out); n > 0 && out[n-1].End == s {
			out[n-1].End++
		} else {
			out = append(out, Block{s, s + 1})
		}
	}
	return out
}

// checkAgainstRef compares the queue's blocks, byte count and (for the
// first block) the SACK order with the reference.
func checkAgainstRef(t *testing.T, r *Reassembly, ref refReassembly, nxt Seq, lastSeq Seq, lastStored bool) {
	t.Helper()
	r.trim(nxt)
	ref.advance(nxt)
	want := ref.blocks(nxt)
	got := sackOf(r, MaxReassemblyBlocks+1)
	if len(got) > 0 && lastStored && !lastSeq.InRange(got[0].Start, got[0].End) {
		t.Fatalf("first SACK block %v does not hold the latest segment at %v", got[0], lastSeq)
	}
	slices.SortFunc(got, func(a, b Block) int { return int(a.Start.Sub(nxt)) - int(b.Start.Sub(nxt)) })
	if !slices.Equal(got, want) || r.Bytes() != len(ref) || r.Len() != len(want) {
		t.Fatalf("blocks %v (%d bytes), reference %v (%d bytes)", got, r.Bytes(), want, len(ref))
	}
}

// runReassemblyOps interprets ops as a sequence of operations on a
// Reassembly and the reference, 4 bytes each: kind, offset, length and a
// tag. Inserts are limited to fewer than MaxReassemblyBlocks so that the
// bound never applies.
func runReassemblyOps(t *testing.T, base Seq, window int, ops []byte) {
	var r Reassembly
	ref := refReassembly{}
	nxt := base
	inserts := 0
	for len(ops) >= 4 {
		kind, a, b, tag := ops[0], int(ops[1]), int(ops[2]), ops[3]
		ops = ops[4:]
		switch kind % 4 {
		case 0, 1: // insert: offset -32..223, length 0..255 (scaled)
			if inserts >= MaxReassemblyBlocks-1 {
				continue
			}
			inserts++
			seq := nxt.Add(a - 32)
			data := payload(seq, b, tag)
			lim := nxt.Add(window)
			r.Insert(seq, data, nxt, lim)
			ref.insert(seq, data, nxt, lim)
			// Was any byte of the segment stored (now held)?
			stored := false
			var at Seq
			for i := range data {
				if s := seq.Add(i); s.InRange(nxt, lim) {
					stored, at = true, s
					break
				}
			}
			checkAgainstRef(t, &r, ref, nxt, at, stored)
		case 2: // pop
			got, want := r.Pop(nxt), ref.pop(nxt)
			if !bytes.Equal(got, want) {
				t.Fatalf("Pop(%v): %d bytes, reference %d", nxt, len(got), len(want))
			}
			nxt = nxt.Add(len(got))
			checkAgainstRef(t, &r, ref, nxt, 0, false)
		case 3: // in-order data delivered directly: rcvNxt moves on
			nxt = nxt.Add(a % 64)
			checkAgainstRef(t, &r, ref, nxt, 0, false)
		}
	}
	for {
		got, want := r.Pop(nxt), ref.pop(nxt)
		if !bytes.Equal(got, want) {
			t.Fatalf("final Pop(%v): %d bytes, reference %d", nxt, len(got), len(want))
		}
		if got == nil {
			break
		}
		nxt = nxt.Add(len(got))
	}
}

func TestReassemblyRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for run := range 300 {
		ops := make([]byte, 4*(20+rng.IntN(100)))
		for i := range ops {
			ops[i] = byte(rng.Uint32())
		}
		base := Seq(rng.Uint32())
		if run%3 == 0 {
			base = Seq(1<<32 - rng.IntN(300))
		}
		t.Run(fmt.Sprint(run), func(t *testing.T) {
			runReassemblyOps(t, base, 64+rng.IntN(300), ops)
		})
	}
}

func FuzzReassembly(f *testing.F) {
	f.Add(uint32(1000), uint16(200), []byte{0, 40, 10, 1, 0, 32, 10, 2, 2, 0, 0, 0})
	f.Add(uint32(1<<32-10), uint16(100), []byte{0, 60, 30, 1, 1, 20, 50, 2, 3, 5, 0, 0, 2, 0, 0, 0})
	f.Add(uint32(0), uint16(0), []byte{0, 33, 1, 1})
	f.Fuzz(func(t *testing.T, base uint32, window uint16, ops []byte) {
		runReassemblyOps(t, Seq(base), int(window), ops)
	})
}

func TestReassemblyAllocs(t *testing.T) {
	seg := make([]byte, 1460)
	var r Reassembly
	// Appending to a block whose buffer has room allocates nothing.
	r.Insert(1460, seg, 0, 1<<30)
	n := testing.AllocsPerRun(100, func() {
		r.Insert(1460, seg, 0, 1<<30) // a duplicate
	})
	if n != 0 {
		t.Errorf("duplicate Insert allocates %v", n)
	}
	var blocks [MaxSACKBlocks]Block
	if n := testing.AllocsPerRun(100, func() { r.SACKBlocks(blocks[:]) }); n != 0 {
		t.Errorf("SACKBlocks allocates %v", n)
	}
	// Once warm, a connection losing one or two segments per window
	// reuses its buffers: one loss, a window out of order, the hole
	// filled, popped; then two losses.
	nxt := Seq(0)
	window := func() {
		for _, lost := range [][]int{{0}, {0, 20}} {
			for i := range 44 {
				if !slices.Contains(lost, i) {
					r.Insert(nxt.Add(i*1460), seg, nxt, nxt.Add(1<<20))
				}
			}
			for _, i := range lost {
				r.Insert(nxt.Add(i*1460), seg, nxt, nxt.Add(1<<20))
			}
			d := r.Pop(nxt)
			if len(d) != 44*1460 {
				t.Fatalf("popped %d bytes", len(d))
			}
			nxt = nxt.Add(len(d))
		}
	}
	window()
	if n := testing.AllocsPerRun(20, window); n != 0 {
		t.Errorf("a warm queue allocates %v per two windows", n)
	}
}

// BenchmarkReassemblyWindow models one loss in a window of 44 full-sized
// segments: 43 arrive out of order and queue in one block, then the lost
// one arrives and the whole window is popped. Per op: one window.
func BenchmarkReassemblyWindow(b *testing.B) {
	const mss, n = 1460, 44
	seg := make([]byte, mss)
	var r Reassembly
	var sack [MaxSACKBlocks]Block
	nxt := Seq(1<<32 - 10*mss)
	b.ReportAllocs()
	b.SetBytes(n * mss)
	for b.Loop() {
		for i := 1; i < n; i++ {
			r.Insert(nxt.Add(i*mss), seg, nxt, nxt.Add(1<<20))
			r.SACKBlocks(sack[:3])
		}
		r.Insert(nxt, seg, nxt, nxt.Add(1<<20))
		d := r.Pop(nxt)
		nxt = nxt.Add(len(d))
	}
}

// BenchmarkReassemblyScattered inserts segments into a queue holding many
// blocks (every other segment lost), the worst case for the search.
func BenchmarkReassemblyScattered(b *testing.B) {
	const mss = 1460
	seg := make([]byte, mss)
	var r Reassembly
	nxt := Seq(0)
	b.ReportAllocs()
	for b.Loop() {
		for i := range 2 * (MaxReassemblyBlocks - 1) {
			if i%2 == 1 {
				r.Insert(nxt.Add(i*mss), seg, nxt, nxt.Add(1<<24))
			}
		}
		for i := range 2 * (MaxReassemblyBlocks - 1) {
			if i%2 == 0 {
				r.Insert(nxt.Add(i*mss), seg, nxt, nxt.Add(1<<24))
			}
		}
		d := r.Pop(nxt)
		nxt = nxt.Add(len(d))
	}
}
