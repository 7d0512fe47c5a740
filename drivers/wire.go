package drivers

import (
	"fmt"
	"sync"
	"sync/atomic"

	"netspace/actors"
)

// WireConfig configures NewWire. The zero value is a perfect 1500-byte-MTU
// wire on the real clock.
type WireConfig struct {
	// MTU is the IP MTU of both ends (default DefaultMTU).
	MTU int
	// NameA and NameB name the ends (default "wire-a" and "wire-b").
	NameA, NameB string
	// Clock runs the timers of delayed and reordered frames (default
	// actors.RealClock). With an actors.ManualClock held frames are
	// delivered from inside Advance, so a test needs no goroutine and no
	// sleep.
	Clock actors.Clock
	// AtoB and BtoA are the faults injected on frames sent by end a and by
	// end b.
	AtoB, BtoA Faults
	// MaxHeld caps the frames each direction holds for delay and reorder
	// (default 1024). Frames beyond it are dropped and counted in
	// FaultStats.Overflow and the sender's TxDropped.
	MaxHeld int
	// MaxQueue caps the frames waiting for an end's rx while it is busy
	// (default 4096). Frames beyond it are dropped and counted in the
	// receiver's RxDropped.
	MaxQueue int
}

// NewWire returns the two ends of an in-memory Ethernet wire: a frame sent on
// one end is delivered to the other end's rx, after fault injection.
//
// Delivery is synchronous: unless a fault holds it back, a frame reaches rx
// before Send returns, called from the sending goroutine, so that on a
// manual clock a whole-stack test runs without goroutines or sleeps. Each
// Send is delivered as bursts of at most DefaultBatch frames. rx is still
// called from one goroutine at a time: a Send that finds the receiver busy —
// running rx on another goroutine, or a Send from inside rx — queues its
// frames, and the goroutine already delivering hands them over once rx
// returns. rx gets copies in buffers of the receiving end, as from a real
// device: it may modify them, and the sender's buffers are never retained.
//
// The ends are *WireEnd, which implements Link.
func NewWire(cfg WireConfig) (a, b *WireEnd) {
	if cfg.MTU <= 0 {
		cfg.MTU = DefaultMTU
	}
	if cfg.NameA == "" {
		cfg.NameA = "wire-a"
	}
	if cfg.NameB == "" {
		cfg.NameB = "wire-b"
	}
	if cfg.Clock == nil {
		cfg.Clock = actors.RealClock()
	}
	if cfg.MaxHeld <= 0 {
		cfg.MaxHeld = 1024
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = 4096
	}
	a = newWireEnd(cfg.NameA, cfg)
	b = newWireEnd(cfg.NameB, cfg)
	a.out = newDirection(cfg.AtoB, cfg, a, b)
	b.out = newDirection(cfg.BtoA, cfg, b, a)
	return a, b
}

// WireEnd is one end of an in-memory wire made by NewWire.
type WireEnd struct {
	lifecycle
	name   string
	mtu    int
	out    *direction // faults and timers of the frames this end sends
	stats  counters
	closed atomic.Bool

	// Receive side, under rmu.
	rmu        sync.Mutex
	idle       *sync.Cond // signalled when delivering turns false
	rx         func(frames [][]byte)
	started    bool
	delivering bool     // a goroutine is running the delivery loop
	pending    [][]byte // copies waiting for rx, oldest first
	burst      [][]byte // the frames of the rx call in progress
	free       [][]byte // recycled frame buffers
	maxQueue   int
}

var _ Link = (*WireEnd)(nil)

func newWireEnd(name string, cfg WireConfig) *WireEnd {
	e := &WireEnd{name: name, mtu: cfg.MTU, maxQueue: cfg.MaxQueue}
	e.lifecycle.init()
	e.idle = sync.NewCond(&e.rmu)
	e.burst = make([][]byte, 0, DefaultBatch)
	return e
}

// Name implements Link.
func (e *WireEnd) Name() string { return e.name }

// MTU implements Link.
func (e *WireEnd) MTU() int { return e.mtu }

// HardwareAddr implements Link: a wire end has no MAC of its own.
func (e *WireEnd) HardwareAddr() [6]byte { return [6]byte{} }

// Stats implements Link.
func (e *WireEnd) Stats() LinkStats { return e.stats.snapshot() }

// Faults returns the faults injected so far on the frames this end sent.
func (e *WireEnd) Faults() FaultStats { return e.out.faultStats() }

// Start implements Link. Frames that reached this end before Start were
// dropped and counted in RxDropped.
func (e *WireEnd) Start(rx func(frames [][]byte)) error {
	if rx == nil {
		return fmt.Errorf("drivers: %s: Start with nil rx", e.name)
	}
	e.rmu.Lock()
	defer e.rmu.Unlock()
	if e.closed.Load() {
		return ErrClosed
	}
	if e.started {
		return ErrStarted
	}
	e.rx, e.started = rx, true
	return nil
}

// Send implements Link: it passes the frames through the fault injector of
// this direction and delivers what comes out to the other end.
func (e *WireEnd) Send(frames [][]byte) error {
	if e.closed.Load() {
		return ErrClosed
	}
	err := e.out.send(frames)
	e.out.to.deliver()
	return err
}

// Close implements Link. Frames still on their way to this end are dropped
// when they arrive and counted in RxDropped; the other end keeps working.
func (e *WireEnd) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	e.rmu.Lock()
	for e.delivering {
		e.idle.Wait()
	}
	e.stats.rxDropped.Add(uint64(len(e.pending)))
	e.pending = nil
	e.rmu.Unlock()
	e.finish(nil)
	return nil
}

// enqueue queues a copy of f for this end's rx, or counts it dropped.
func (e *WireEnd) enqueue(f []byte) {
	e.rmu.Lock()
	defer e.rmu.Unlock()
	if !e.started || e.closed.Load() || len(e.pending) >= e.maxQueue {
		e.stats.rxDropped.Add(1)
		return
	}
	var buf []byte
	if n := len(e.free); n > 0 {
		buf, e.free = e.free[n-1], e.free[:n-1]
	} else {
		buf = make([]byte, 0, MaxFrameSize(e.mtu))
	}
	e.pending = append(e.pending, append(buf[:0], f...))
}

// deliver runs the delivery loop unless another goroutine is running it:
// it hands the queued frames to rx, DefaultBatch at a time, until none are
// left.
func (e *WireEnd) deliver() {
	e.rmu.Lock()
	if e.delivering || len(e.pending) == 0 {
		e.rmu.Unlock()
		return
	}
	e.delivering = true
	for len(e.pending) > 0 && !e.closed.Load() {
		n := min(len(e.pending), DefaultBatch)
		burst := append(e.burst[:0], e.pending[:n]...)
		rest := copy(e.pending, e.pending[n:])
		clear(e.pending[rest:])
		e.pending = e.pending[:rest]
		e.rmu.Unlock()

		e.stats.received(burst)
		e.rx(burst)

		e.rmu.Lock()
		for i, b := range burst {
			if len(e.free) < e.maxQueue {
				e.free = append(e.free, b)
			}
			burst[i] = nil
		}
		e.burst = burst[:0]
	}
	e.delivering = false
	e.idle.Broadcast()
	e.rmu.Unlock()
}
