package drivers

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"netspace/actors"
)

// frame returns a frame of size bytes whose payload starts with seq.
func frame(seq uint32, size int) []byte {
	f := make([]byte, size)
	copy(f[0:6], []byte{0x02, 0, 0, 0, 0, 0xb})
	copy(f[6:12], []byte{0x02, 0, 0, 0, 0, 0xa})
	binary.BigEndian.PutUint16(f[12:14], 0x88b5) // local experimental EtherType
	binary.BigEndian.PutUint32(f[14:18], seq)
	for i := 18; i < size; i++ {
		f[i] = byte(i)
	}
	return f
}

// seqOf returns the sequence number of a frame made by frame, 0 if the
// frame is too short to carry one.
func seqOf(f []byte) uint32 {
	if len(f) < 18 {
		return 0
	}
	return binary.BigEndian.Uint32(f[14:18])
}

// recorder is an rx that keeps copies of every frame and the burst sizes.
type recorder struct {
	mu      sync.Mutex
	frames  [][]byte
	bursts  []int
	running atomic.Int32
	overlap atomic.Int32 // rx calls that found another one running
}

func (r *recorder) rx(frames [][]byte) {
	if r.running.Add(1) > 1 {
		r.overlap.Add(1)
	}
	defer r.running.Add(-1)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range frames {
		r.frames = append(r.frames, bytes.Clone(f))
	}
	r.bursts = append(r.bursts, len(frames))
}

func (r *recorder) seqs() []uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := make([]uint32, len(r.frames))
	for i, f := range r.frames {
		s[i] = seqOf(f)
	}
	return s
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.frames)
}

// startWire makes a wire and starts both ends with recorders.
func startWire(t testing.TB, cfg WireConfig) (a, b *WireEnd, ra, rb *recorder) {
	t.Helper()
	a, b = NewWire(cfg)
	ra, rb = new(recorder), new(recorder)
	if err := a.Start(ra.rx); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(rb.rx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b, ra, rb
}

func TestWireDelivery(t *testing.T) {
	a, b, ra, rb := startWire(t, WireConfig{})
	sent := [][]byte{frame(1, 60), frame(2, 1514), frame(3, 100)}
	if err := a.Send(sent); err != nil {
		t.Fatal(err)
	}
	// Synchronous: delivered before Send returned, in one burst.
	if rb.count() != 3 || !slices.Equal(rb.bursts, []int{3}) {
		t.Fatalf("b received %d frames in bursts %v, want 3 in [3]", rb.count(), rb.bursts)
	}
	for i := range sent {
		if !bytes.Equal(rb.frames[i], sent[i]) {
			t.Errorf("frame %d differs", i)
		}
	}
	if err := b.Send([][]byte{frame(9, 64)}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ra.seqs(), []uint32{9}) {
		t.Errorf("a received %v, want [9]", ra.seqs())
	}
	want := LinkStats{TxFrames: 3, TxBytes: 60 + 1514 + 100, RxFrames: 1, RxBytes: 64}
	if got := a.Stats(); got != want {
		t.Errorf("a.Stats() = %+v, want %+v", got, want)
	}
	if a.Name() != "wire-a" || b.Name() != "wire-b" || a.MTU() != 1500 || a.HardwareAddr() != ([6]byte{}) {
		t.Errorf("identity: %q %q %d %x", a.Name(), b.Name(), a.MTU(), a.HardwareAddr())
	}
}

func TestWireCopies(t *testing.T) {
	a, b := NewWire(WireConfig{})
	f := frame(1, 64)
	var got []byte
	b.Start(func(frames [][]byte) {
		got = frames[0]
		frames[0][20] ^= 0xff // rx owns its buffers
	})
	a.Send([][]byte{f})
	if !bytes.Equal(f, frame(1, 64)) {
		t.Error("rx modifying its frame changed the sender's buffer")
	}
	if &got[0] == &f[0] {
		t.Error("rx got the sender's buffer")
	}
}

func TestWireBeforeStartAndSizes(t *testing.T) {
	a, b := NewWire(WireConfig{MTU: 1000})
	if err := a.Send([][]byte{frame(1, 60), frame(2, 60)}); err != nil {
		t.Fatal(err)
	}
	if got := b.Stats().RxDropped; got != 2 {
		t.Errorf("frames before Start: RxDropped = %d, want 2", got)
	}
	rb := new(recorder)
	b.Start(rb.rx)
	if err := b.Start(rb.rx); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start: %v", err)
	}
	err := a.Send([][]byte{frame(3, 1018), make([]byte, 13), frame(4, 1019), make([]byte, 14)})
	if !errors.Is(err, ErrFrameSize) {
		t.Errorf("Send with bad sizes: %v, want ErrFrameSize", err)
	}
	if got := a.Stats(); got.TxDropped != 2 || got.TxFrames != 4 {
		t.Errorf("a.Stats() = %+v, want 2 dropped, 4 sent", got)
	}
	if !slices.Equal(rb.seqs(), []uint32{3, 0}) || rb.count() != 2 {
		t.Errorf("b received %v", rb.seqs())
	}
}

func TestWireBursts(t *testing.T) {
	a, _, _, rb := startWire(t, WireConfig{})
	var batch [][]byte
	for i := range 150 {
		batch = append(batch, frame(uint32(i), 60))
	}
	a.Send(batch)
	if !slices.Equal(rb.bursts, []int{64, 64, 22}) {
		t.Errorf("bursts %v, want [64 64 22]", rb.bursts)
	}
}

func TestWireReentrantSend(t *testing.T) {
	// A ping-pong played entirely inside the first Send: each end answers
	// from its rx, up to 10 rounds.
	a, b := NewWire(WireConfig{})
	var got []uint32
	var depth, maxDepth int
	answer := func(self *WireEnd) func([][]byte) {
		return func(frames [][]byte) {
			depth++
			maxDepth = max(maxDepth, depth)
			defer func() { depth-- }()
			for _, f := range frames {
				got = append(got, seqOf(f))
				if s := seqOf(f); s < 10 {
					self.Send([][]byte{frame(s+1, 60)})
				}
			}
		}
	}
	a.Start(answer(a))
	b.Start(answer(b))
	a.Send([][]byte{frame(0, 60)})
	if want := []uint32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}; !slices.Equal(got, want) {
		t.Errorf("ping-pong %v, want %v", got, want)
	}
	if maxDepth != 2 {
		t.Errorf("rx nested %d deep, want 2 (a's rx under b's, never an end's under its own)", maxDepth)
	}
}

func TestWireQueueBound(t *testing.T) {
	// Frames sent to an end from inside its own rx queue up behind it;
	// beyond MaxQueue they are dropped and counted.
	a, b := NewWire(WireConfig{MaxQueue: 50})
	n := 0
	b.Start(func(frames [][]byte) {
		if n == 0 {
			for i := range 80 {
				a.Send([][]byte{frame(uint32(i+1), 60)})
			}
		}
		n += len(frames)
	})
	a.Send([][]byte{frame(0, 60)})
	if st := b.Stats(); n != 51 || st.RxDropped != 30 || st.RxFrames != 51 {
		t.Errorf("received %d, stats %+v; want 51 received, 30 dropped", n, st)
	}
}

func TestWireConcurrentSend(t *testing.T) {
	a, b, ra, rb := startWire(t, WireConfig{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 500 {
				a.Send([][]byte{frame(uint32(g<<16|i), 60)})
			}
		}()
		go func() {
			defer wg.Done()
			for i := range 500 {
				b.Send([][]byte{frame(uint32(g<<16|i), 60)})
			}
		}()
	}
	wg.Wait()
	if ra.count() != 2000 || rb.count() != 2000 {
		t.Errorf("received %d and %d, want 2000 each", ra.count(), rb.count())
	}
	if ra.overlap.Load() != 0 || rb.overlap.Load() != 0 {
		t.Errorf("rx ran concurrently with itself (%d, %d times)", ra.overlap.Load(), rb.overlap.Load())
	}
}

func TestWireClose(t *testing.T) {
	a, b, _, _ := startWire(t, WireConfig{})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.Done():
	default:
		t.Error("Done not closed")
	}
	if err := b.Send([][]byte{frame(1, 60)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send on closed end: %v", err)
	}
	if err := b.Start(func([][]byte) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("Start on closed end: %v", err)
	}
	if err := a.Send([][]byte{frame(1, 60)}); err != nil {
		t.Errorf("Send towards a closed end: %v", err)
	}
	if got := b.Stats().RxDropped; got != 1 {
		t.Errorf("closed end RxDropped = %d, want 1", got)
	}
}

func TestWireDelayManualClock(t *testing.T) {
	clock := actors.NewManualClock(time.Unix(0, 0))
	a, _, _, rb := startWire(t, WireConfig{Clock: clock, AtoB: Faults{Delay: 5 * time.Millisecond}})
	a.Send([][]byte{frame(1, 60), frame(2, 60), frame(3, 60)})
	if rb.count() != 0 {
		t.Fatalf("delivered %d frames before any time passed", rb.count())
	}
	clock.Advance(4 * time.Millisecond)
	if rb.count() != 0 {
		t.Fatalf("delivered %d frames after 4 ms of 5", rb.count())
	}
	clock.Advance(time.Millisecond)
	if !slices.Equal(rb.seqs(), []uint32{1, 2, 3}) || !slices.Equal(rb.bursts, []int{3}) {
		t.Errorf("after 5 ms: %v in bursts %v, want [1 2 3] in [3]", rb.seqs(), rb.bursts)
	}
	if got := a.Faults().Delayed; got != 3 {
		t.Errorf("Delayed = %d, want 3", got)
	}
	if clock.Pending() != 0 {
		t.Errorf("%d timers left", clock.Pending())
	}
}

func TestWireHeldBound(t *testing.T) {
	clock := actors.NewManualClock(time.Unix(0, 0))
	a, _, _, rb := startWire(t, WireConfig{Clock: clock, MaxHeld: 10, AtoB: Faults{Delay: time.Millisecond}})
	for i := range 20 {
		a.Send([][]byte{frame(uint32(i), 60)})
	}
	clock.Advance(time.Millisecond)
	if f, st := a.Faults(), a.Stats(); f.Overflow != 10 || f.Delayed != 10 || st.TxDropped != 10 || rb.count() != 10 {
		t.Errorf("faults %+v, stats %+v, received %d; want 10 delayed, 10 overflowed", f, st, rb.count())
	}
	// The room is free again.
	a.Send([][]byte{frame(99, 60)})
	clock.Advance(time.Millisecond)
	if rb.count() != 11 {
		t.Errorf("received %d after the queue drained, want 11", rb.count())
	}
}
