package drivers

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"netspace/actors"
)

// Faults are the faults a wire injects in one direction. Probabilities are
// per frame, in [0, 1]; a zero Faults is a perfect wire.
//
// Each frame meets the faults in this order, each drawing from the
// direction's own random source only if it is enabled, so that a seed and a
// sequence of sends always give the same outcome:
//
//  1. Drop: the frame is lost.
//  2. Corrupt: one random bit of one random byte is flipped, in a copy (the
//     sender's buffer is untouched). The byte is chosen after the 14-byte
//     Ethernet header, so the frame still reaches the stack and its
//     checksums must catch the damage; with CorruptHeader it may be any
//     byte, addresses and EtherType included. Frames with nothing to
//     corrupt pass unharmed and uncounted.
//  3. Duplicate: the frame goes on twice; each copy meets the next faults
//     on its own.
//  4. Reorder: the frame is held back and released right after the next
//     frame that passes this stage, swapping the two; or, if no frame comes
//     within ReorderTimeout, on its own. One frame at most is held back at
//     a time.
//  5. Delay: the frame is delivered after Delay plus a uniform random part
//     of [0, Jitter] (so jitter reorders too), by the wire's Clock.
//     Consecutive frames of one Send with the same delay travel together.
type Faults struct {
	// Seed seeds the direction's random source.
	Seed uint64
	// Drop is the probability that a frame is lost.
	Drop float64
	// Corrupt is the probability that a frame has a bit flipped.
	Corrupt float64
	// CorruptHeader lets corruption hit the Ethernet header too.
	CorruptHeader bool
	// Duplicate is the probability that a frame is delivered twice.
	Duplicate float64
	// Reorder is the probability that a frame is held back behind the
	// next one.
	Reorder float64
	// ReorderTimeout releases a held-back frame when no other frame
	// follows it in time (default 10 ms; negative: wait for the next
	// frame however long it takes).
	ReorderTimeout time.Duration
	// Delay is added to every frame's transit.
	Delay time.Duration
	// Jitter is the bound of a random extra delay.
	Jitter time.Duration
}

// DefaultReorderTimeout is the ReorderTimeout of Faults that set none.
const DefaultReorderTimeout = 10 * time.Millisecond

// FaultStats counts the faults a wire injected in one direction.
type FaultStats struct {
	Dropped    uint64 // frames lost on purpose
	Corrupted  uint64 // frames with a bit flipped
	Duplicated uint64 // frames delivered twice
	Reordered  uint64 // frames held back behind a later one
	Delayed    uint64 // frames held for a delay (copies counted once each)
	// Overflow counts frames dropped because MaxHeld frames were held
	// already; they are in the sender's TxDropped too.
	Overflow uint64
}

// direction carries the frames one end sends to the other.
type direction struct {
	mu      sync.Mutex
	f       Faults
	rng     *rand.Rand
	clock   actors.Clock
	from    *WireEnd
	to      *WireEnd
	maxLen  int
	maxHeld int
	held    int // frames held for reorder or delay
	stats   FaultStats
	scratch []byte   // the corrupted copy of the frame in hand
	spare   [][]byte // recycled buffers for held frames

	reordered []byte // the frame held back for reordering, or nil
	reorderID uint64 // identifies the hold, so a stale timer does nothing
	reorderT  actors.Timer

	group      [][]byte // delayed frames that will travel together
	groupDelay time.Duration
}

func newDirection(f Faults, cfg WireConfig, from, to *WireEnd) *direction {
	if f.ReorderTimeout == 0 {
		f.ReorderTimeout = DefaultReorderTimeout
	}
	return &direction{
		f:       f,
		rng:     rand.New(rand.NewPCG(f.Seed, f.Seed^0x6e657473706163)),
		clock:   cfg.Clock,
		from:    from,
		to:      to,
		maxLen:  MaxFrameSize(cfg.MTU),
		maxHeld: cfg.MaxHeld,
	}
}

func (d *direction) faultStats() FaultStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// chance draws whether an event of probability p happens.
func (d *direction) chance(p float64) bool { return p > 0 && d.rng.Float64() < p }

// send passes frames through the faults, queueing what comes out at the
// receiver (the caller then runs its delivery loop).
func (d *direction) send(frames [][]byte) error {
	var first error
	var nf, nb uint64
	d.mu.Lock()
	for _, f := range frames {
		if len(f) < EthernetHeaderLen || len(f) > d.maxLen {
			d.from.stats.txDropped.Add(1)
			if first == nil {
				first = fmt.Errorf("drivers: %s: %d-byte frame: %w", d.from.name, len(f), ErrFrameSize)
			}
			continue
		}
		nf++
		nb += uint64(len(f))
		d.inject(f)
	}
	d.flushGroup()
	d.mu.Unlock()
	d.from.stats.txFrames.Add(nf)
	d.from.stats.txBytes.Add(nb)
	return first
}

// inject applies drop, corrupt and duplicate to f.
func (d *direction) inject(f []byte) {
	if d.chance(d.f.Drop) {
		d.stats.Dropped++
		return
	}
	if d.chance(d.f.Corrupt) {
		lo := EthernetHeaderLen
		if d.f.CorruptHeader {
			lo = 0
		}
		if len(f) > lo {
			d.scratch = append(d.scratch[:0], f...)
			d.scratch[lo+d.rng.IntN(len(f)-lo)] ^= 1 << d.rng.IntN(8)
			f = d.scratch
			d.stats.Corrupted++
		}
	}
	if d.chance(d.f.Duplicate) {
		d.stats.Duplicated++
		d.reorder(f)
	}
	d.reorder(f)
}

// reorder holds f back or lets it through, releasing a frame held back
// before it right after it.
func (d *direction) reorder(f []byte) {
	if d.reordered == nil && d.chance(d.f.Reorder) {
		if !d.reserve() {
			return
		}
		d.stats.Reordered++
		d.reordered = d.copyHeld(f)
		d.reorderID++
		if d.f.ReorderTimeout > 0 {
			id := d.reorderID
			d.reorderT = d.clock.AfterFunc(d.f.ReorderTimeout, func() { d.reorderTimeout(id) })
		}
		return
	}
	d.delay(f)
	if h := d.reordered; h != nil {
		d.reordered = nil
		if d.reorderT != nil {
			d.reorderT.Stop()
			d.reorderT = nil
		}
		d.held--
		d.delay(h)
		d.recycle(h)
	}
}

// reorderTimeout releases the frame held back by hold id, if it still is.
func (d *direction) reorderTimeout(id uint64) {
	d.mu.Lock()
	if h := d.reordered; h != nil && d.reorderID == id {
		d.reordered, d.reorderT = nil, nil
		d.held--
		d.delay(h)
		d.recycle(h)
		d.flushGroup()
	}
	d.mu.Unlock()
	d.to.deliver()
}

// delay queues f at the receiver, or holds it for its delay.
func (d *direction) delay(f []byte) {
	wait := d.f.Delay
	if d.f.Jitter > 0 {
		wait += time.Duration(d.rng.Int64N(int64(d.f.Jitter) + 1))
	}
	if wait <= 0 {
		d.flushGroup() // keep order with frames delayed before
		d.to.enqueue(f)
		return
	}
	if len(d.group) > 0 && wait != d.groupDelay {
		d.flushGroup()
	}
	if !d.reserve() {
		return
	}
	d.stats.Delayed++
	d.group = append(d.group, d.copyHeld(f))
	d.groupDelay = wait
}

// flushGroup starts the timer of the delayed frames gathered so far.
func (d *direction) flushGroup() {
	if len(d.group) == 0 {
		return
	}
	group := d.group
	d.group = nil
	d.clock.AfterFunc(d.groupDelay, func() {
		d.mu.Lock()
		for i, h := range group {
			d.held--
			d.to.enqueue(h)
			d.recycle(h)
			group[i] = nil
		}
		d.mu.Unlock()
		d.to.deliver()
	})
}

// reserve counts one more held frame, or drops the frame if MaxHeld are
// held already.
func (d *direction) reserve() bool {
	if d.held >= d.maxHeld {
		d.stats.Overflow++
		d.from.stats.txDropped.Add(1)
		return false
	}
	d.held++
	return true
}

// copyHeld copies f into a buffer owned by the direction.
func (d *direction) copyHeld(f []byte) []byte {
	var buf []byte
	if n := len(d.spare); n > 0 {
		buf, d.spare = d.spare[n-1], d.spare[:n-1]
	} else {
		buf = make([]byte, 0, d.maxLen)
	}
	return append(buf[:0], f...)
}

// recycle returns a held frame's buffer.
func (d *direction) recycle(h []byte) {
	if len(d.spare) < d.maxHeld {
		d.spare = append(d.spare, h[:0])
	}
}
