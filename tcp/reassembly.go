package tcp

import "slices"

// MaxReassemblyBlocks bounds the number of disjoint blocks a Reassembly
// holds, so that a peer sending many small, scattered segments cannot
// make the queue's bookkeeping grow without bound; the bytes held are
// bounded by the window the caller passes to Insert.
const MaxReassemblyBlocks = 64

// Reassembly holds received data that is not yet in order, bounded by the caller's window.
//
// It is the out-of-order queue of RFC 9293 §3.10.7.4 ("Segments with
// higher beginning sequence numbers can be held for later processing"):
// data is kept as sorted, disjoint, non-adjacent blocks, each one
// contiguous byte slice, so that Pop hands over the in-order part without
// copying, and SACKBlocks describes the blocks for RFC 2018.
//
// Memory: every held byte lies in the window [rcvNxt, limit) given when it
// was inserted. Block buffers grow by doubling, so their capacity may
// reach about twice the bytes held, and up to maxSpare buffers that
// blocks no longer use are kept for new blocks, so that a connection
// that keeps losing segments stops allocating once warm (Reset releases
// them). At most MaxReassemblyBlocks blocks are kept. When a segment
// would make one more, it is refused (Refused counts it) unless it lies
// below the highest block, in which case that highest block is dropped
// instead (Reneged counts it): data nearer rcvNxt is worth more, and RFC
// 2018 §8 allows a receiver to discard data it has SACKed (the sender
// keeps it until it is cumulatively acknowledged).
//
// The zero value is an empty queue ready to use. A Reassembly is not safe
// for concurrent use.
type Reassembly struct {
	blocks  []reasmBlock // sorted by start, disjoint and non-adjacent
	bytes   int
	clock   uint64 // stamps updates, for SACK block order
	refused uint64
	reneged uint64

	spare  [maxSpare][]byte // buffers for reuse, each of length 0
	nspare int
}

// maxSpare is the number of unused block buffers a Reassembly keeps, and
// maxSpareCap the largest buffer it keeps.
const (
	maxSpare    = 2
	maxSpareCap = 1 << 20
)

// firstBlockCap is the capacity given to the buffer of a block created
// in an empty queue, where one lost segment usually means that a
// window's worth of segments will follow it into the same block (unless
// the window is smaller).
const firstBlockCap = 64 << 10

// reasmBlock is a run of held bytes starting at start.
type reasmBlock struct {
	start Seq
	data  []byte
	stamp uint64 // clock at the block's latest update
}

func (b *reasmBlock) end() Seq { return b.start.Add(len(b.data)) }

// Insert stores a copy of the part of data (starting at seq) that lies in [rcvNxt, limit);
// overlapping or duplicate bytes already held are kept as they are (first copy wins).
// It remembers the most recently received block for SACK (RFC 2018 §4: the first SACK
// block must contain the most recently received segment).
//
// Held data below rcvNxt, which the caller has received some other way,
// is dropped first. A limit at or before rcvNxt stores nothing.
func (r *Reassembly) Insert(seq Seq, data []byte, rcvNxt, limit Seq) {
	r.trim(rcvNxt)
	window := limit.Sub(rcvNxt)
	if window <= 0 || len(data) == 0 {
		return
	}
	// Clip data to [rcvNxt, limit), in offsets from rcvNxt; int64 so that
	// a long slice cannot overflow the arithmetic.
	off := int64(seq.Sub(rcvNxt))
	end := off + int64(len(data))
	if off < 0 {
		if end <= 0 {
			return
		}
		data = data[-off:]
		off = 0
	}
	if off >= int64(window) {
		return
	}
	if end > int64(window) {
		data = data[:int64(window)-off]
	}
	s := rcvNxt.Add(int(off))
	e := s.Add(len(data))

	// Blocks i..j-1 overlap or touch [s, e).
	i := r.search(s)
	j := i
	for j < len(r.blocks) && r.blocks[j].start.LessThanEq(e) {
		j++
	}
	r.clock++
	if i == j {
		r.insertNew(i, s, data, limit)
		return
	}
	r.merge(i, j, s, data)
}

// search returns the index of the first block whose end is at or after s:
// the first that overlaps or touches a range starting at s.
func (r *Reassembly) search(s Seq) int {
	lo, hi := 0, len(r.blocks)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r.blocks[m].end().LessThan(s) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// insertNew stores data as a new block at index i, enforcing the bound.
// limit is the right edge of the window, a hint for the buffer's size.
func (r *Reassembly) insertNew(i int, s Seq, data []byte, limit Seq) {
	if len(r.blocks) >= MaxReassemblyBlocks {
		if i >= len(r.blocks) {
			r.refused++
			return
		}
		last := len(r.blocks) - 1
		r.bytes -= len(r.blocks[last].data)
		r.release(r.blocks[last].data)
		r.blocks[last] = reasmBlock{}
		r.blocks = r.blocks[:last]
		r.reneged++
	}
	hint := len(data)
	if len(r.blocks) == 0 {
		hint = min(int(limit.Sub(s)), firstBlockCap)
	}
	buf := append(r.alloc(len(data), hint), data...)
	r.blocks = slices.Insert(r.blocks, i, reasmBlock{start: s, data: buf, stamp: r.clock})
	r.bytes += len(data)
}

// alloc returns an empty buffer with room for n bytes: a spare one if one
// is large enough, else a new one with room for max(n, hint).
func (r *Reassembly) alloc(n, hint int) []byte {
	for k := r.nspare - 1; k >= 0; k-- {
		if b := r.spare[k]; cap(b) >= n {
			r.nspare--
			r.spare[k] = r.spare[r.nspare]
			r.spare[r.nspare] = nil
			return b
		}
	}
	return make([]byte, 0, max(n, hint))
}

// release keeps b, which no block uses any more, for reuse if there is
// room among the spares or it is larger than one of them.
func (r *Reassembly) release(b []byte) {
	if cap(b) == 0 || cap(b) > maxSpareCap {
		return
	}
	b = b[:0]
	if r.nspare < maxSpare {
		r.spare[r.nspare] = b
		r.nspare++
		return
	}
	small := 0
	for k := 1; k < r.nspare; k++ {
		if cap(r.spare[k]) < cap(r.spare[small]) {
			small = k
		}
	}
	if cap(b) > cap(r.spare[small]) {
		r.spare[small] = b
	}
}

// merge combines blocks i..j-1 with data starting at s into block i. The
// held bytes win over data where they overlap; data fills the gaps. The
// result is built in block i's buffer, grown (or, when data starts before
// the block, shifted) as needed; the buffers of the other blocks are
// released.
func (r *Reassembly) merge(i, j int, s Seq, data []byte) {
	e := s.Add(len(data))
	first := &r.blocks[i]
	start := MinSeq(s, first.start)
	end := MaxSeq(e, r.blocks[j-1].end())
	total := int(end.Sub(start))
	held := 0
	for k := i; k < j; k++ {
		held += len(r.blocks[k].data)
	}

	buf := first.data
	if cap(buf) < total {
		buf = append(r.alloc(total, max(total, 2*cap(buf))), buf...)
		r.release(first.data)
	}
	if s.LessThan(first.start) {
		// Shift the block up and put data's head before it.
		pre := int(first.start.Sub(s))
		n := len(buf)
		buf = buf[:pre+n]
		copy(buf[pre:], buf[:n])
		copy(buf, data[:pre])
	}
	cur := first.end()
	for k := i + 1; k < j; k++ {
		b := &r.blocks[k]
		buf = append(buf, data[cur.Sub(s):b.start.Sub(s)]...)
		buf = append(buf, b.data...)
		cur = b.end()
		r.release(b.data)
	}
	if cur.LessThan(e) {
		buf = append(buf, data[cur.Sub(s):]...)
	}

	*first = reasmBlock{start: start, data: buf, stamp: r.clock}
	r.blocks = slices.Delete(r.blocks, i+1, j)
	r.bytes += total - held
}

// trim drops held data below rcvNxt.
func (r *Reassembly) trim(rcvNxt Seq) {
	n := 0
	for n < len(r.blocks) && r.blocks[n].end().LessThanEq(rcvNxt) {
		r.bytes -= len(r.blocks[n].data)
		r.release(r.blocks[n].data)
		n++
	}
	if n > 0 {
		r.blocks = slices.Delete(r.blocks, 0, n)
	}
	if len(r.blocks) > 0 && r.blocks[0].start.LessThan(rcvNxt) {
		b := &r.blocks[0]
		cut := int(rcvNxt.Sub(b.start))
		b.data = b.data[cut:]
		b.start = rcvNxt
		r.bytes -= cut
	}
}

// Pop removes and returns the data that is contiguous from rcvNxt (nil if none),
// as one slice (merge if needed). After the caller advances rcvNxt by len(result),
// blocks now below rcvNxt are dropped too.
//
// Adjacent blocks are merged as they arrive, so the result is a single
// block's buffer, returned without copying. Its buffer is then reused:
// the slice is valid only until the next Insert or Reset, as with
// bufio.Reader.Peek; copy it to keep it.
func (r *Reassembly) Pop(rcvNxt Seq) []byte {
	r.trim(rcvNxt)
	if len(r.blocks) == 0 || r.blocks[0].start != rcvNxt {
		return nil
	}
	d := r.blocks[0].data
	r.bytes -= len(d)
	r.blocks = slices.Delete(r.blocks, 0, 1)
	r.release(d)
	return d
}

// Bytes returns the number of bytes held.
func (r *Reassembly) Bytes() int { return r.bytes }

// Len returns the number of disjoint blocks held.
func (r *Reassembly) Len() int { return len(r.blocks) }

// Refused returns how many segments were refused, in all, because they
// would have made more than MaxReassemblyBlocks blocks.
func (r *Reassembly) Refused() uint64 { return r.refused }

// Reneged returns how many held blocks were dropped, in all, to make room
// for a segment nearer rcvNxt when MaxReassemblyBlocks were held.
func (r *Reassembly) Reneged() uint64 { return r.reneged }

// SACKBlocks writes up to len(dst) SACK blocks describing held data: the block containing
// the most recent Insert first, then the others most recently updated first (RFC 2018 §4);
// returns how many were written.
//
// RFC 2018 §4 asks that the first block report the segment that
// triggered the ACK and that the others repeat the most recently
// reported ones; ordering by the time of the latest update gives both.
// After a segment that stored nothing new (a duplicate inside a block, or
// data outside the window) the first block is still the most recently
// updated one.
func (r *Reassembly) SACKBlocks(dst []Block) int {
	n := 0
	var below uint64 = 1<<64 - 1 // stamps are unique: take the largest under the last one taken
	for n < len(dst) {
		best := -1
		for k := range r.blocks {
			st := r.blocks[k].stamp
			if st < below && (best < 0 || st > r.blocks[best].stamp) {
				best = k
			}
		}
		if best < 0 {
			break
		}
		b := &r.blocks[best]
		dst[n] = Block{Start: b.start, End: b.end()}
		below = b.stamp
		n++
	}
	return n
}

// Reset drops everything held and releases the spare buffers. The
// Refused and Reneged counters are kept.
func (r *Reassembly) Reset() {
	clear(r.blocks)
	r.blocks = r.blocks[:0]
	r.bytes = 0
	r.spare = [maxSpare][]byte{}
	r.nspare = 0
}
