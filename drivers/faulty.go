package drivers

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// LinkFaults are the faults a FaultyLink injects in one direction:
// probabilities per frame, in [0, 1].
type LinkFaults struct {
	Drop, Duplicate, Corrupt float64
}

// FaultyLink wraps any link and injects seeded faults into the frames it
// receives and sends — loss for real devices, as the in-memory wire offers
// for tests. Corruption flips one bit after the Ethernet header, so
// checksums must catch it.
type FaultyLink struct {
	Link
	rx, tx         LinkFaults
	mu             sync.Mutex // guards the random source
	rng            *rand.Rand
	dropped, duped atomic.Uint64
	corrupted      atomic.Uint64
	scratch        [][]byte // rx batch after faults (rx is called from one goroutine)
}

// Faulty wraps inner with rx faults on received frames and tx faults on
// sent ones, drawn from a source seeded with seed.
func Faulty(inner Link, rx, tx LinkFaults, seed uint64) *FaultyLink {
	return &FaultyLink{Link: inner, rx: rx, tx: tx, rng: rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d))}
}

// FaultStats reports the faults injected so far.
func (l *FaultyLink) FaultStats() FaultStats {
	return FaultStats{Dropped: l.dropped.Load(), Duplicated: l.duped.Load(), Corrupted: l.corrupted.Load()}
}

// apply returns frames after the faults f, appending to out; corrupted
// frames are copies.
func (l *FaultyLink) apply(f LinkFaults, frames [][]byte, out [][]byte) [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, fr := range frames {
		if f.Drop > 0 && l.rng.Float64() < f.Drop {
			l.dropped.Add(1)
			continue
		}
		if f.Corrupt > 0 && len(fr) > EthernetHeaderLen && l.rng.Float64() < f.Corrupt {
			fr = append([]byte(nil), fr...)
			i := EthernetHeaderLen + l.rng.IntN(len(fr)-EthernetHeaderLen)
			fr[i] ^= 1 << l.rng.IntN(8)
			l.corrupted.Add(1)
		}
		out = append(out, fr)
		if f.Duplicate > 0 && l.rng.Float64() < f.Duplicate {
			l.duped.Add(1)
			out = append(out, fr)
		}
	}
	return out
}

// Start implements Link.
func (l *FaultyLink) Start(rx func(frames [][]byte)) error {
	return l.Link.Start(func(frames [][]byte) {
		l.scratch = l.apply(l.rx, frames, l.scratch[:0])
		if len(l.scratch) > 0 {
			rx(l.scratch)
		}
	})
}

// Send implements Link.
func (l *FaultyLink) Send(frames [][]byte) error {
	return l.Link.Send(l.apply(l.tx, frames, nil))
}
