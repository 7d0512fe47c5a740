package drivers

import (
	"bytes"
	"math/bits"
	"slices"
	"testing"
	"time"

	"netspace/actors"
)

// faultRun sends n 100-byte frames, one per Send, from a to b over a wire
// with faults f on a manual clock, lets all timers run, and returns what b
// received and the fault counters.
func faultRun(t *testing.T, f Faults, n int) (*recorder, FaultStats, *WireEnd) {
	t.Helper()
	clock := actors.NewManualClock(time.Unix(0, 0))
	a, b, _, rb := startWire(t, WireConfig{Clock: clock, AtoB: f})
	for i := range n {
		if err := a.Send([][]byte{frame(uint32(i), 100)}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(100 * time.Microsecond)
	}
	clock.Advance(time.Second)
	if clock.Pending() != 0 {
		t.Fatalf("%d timers still pending", clock.Pending())
	}
	return rb, a.Faults(), b
}

func TestFaultDrop(t *testing.T) {
	rb, fs, _ := faultRun(t, Faults{Seed: 1, Drop: 0.1}, 1000)
	if fs.Dropped != 103 {
		t.Errorf("Dropped = %d, want 103 for seed 1", fs.Dropped)
	}
	if got := rb.count(); got != 1000-int(fs.Dropped) {
		t.Errorf("received %d, want %d", got, 1000-fs.Dropped)
	}
	if s := rb.seqs(); !slices.IsSorted(s) {
		t.Error("drop reordered frames")
	}
	if (fs != FaultStats{Dropped: fs.Dropped}) {
		t.Errorf("other faults counted: %+v", fs)
	}
}

func TestFaultDuplicate(t *testing.T) {
	rb, fs, _ := faultRun(t, Faults{Seed: 1, Duplicate: 0.1}, 1000)
	if fs.Duplicated != 103 {
		t.Errorf("Duplicated = %d, want 103 for seed 1", fs.Duplicated)
	}
	s := rb.seqs()
	if len(s) != 1000+int(fs.Duplicated) {
		t.Errorf("received %d, want %d", len(s), 1000+fs.Duplicated)
	}
	if len(slices.Compact(s)) != 1000 {
		t.Error("duplicates are not next to their originals")
	}
}

func TestFaultCorrupt(t *testing.T) {
	for _, header := range []bool{false, true} {
		rb, fs, _ := faultRun(t, Faults{Seed: 2, Corrupt: 0.05, CorruptHeader: header}, 1000)
		want := uint64(52)
		if fs.Corrupted != want {
			t.Errorf("header %v: Corrupted = %d, want %d for seed 2", header, fs.Corrupted, want)
		}
		damaged := 0
		for i, f := range rb.frames {
			orig := frame(uint32(i), 100)
			diff, at := 0, -1
			for j := range f {
				if d := bits.OnesCount8(f[j] ^ orig[j]); d > 0 {
					diff += d
					at = j
				}
			}
			if diff == 0 {
				continue
			}
			damaged++
			if diff != 1 {
				t.Errorf("frame %d: %d bits flipped, want 1", i, diff)
			}
			if !header && at < EthernetHeaderLen {
				t.Errorf("frame %d: header byte %d corrupted", i, at)
			}
		}
		if damaged != int(fs.Corrupted) {
			t.Errorf("header %v: %d frames damaged, %d counted", header, damaged, fs.Corrupted)
		}
	}
}

func TestFaultCorruptLeavesSenderBuffer(t *testing.T) {
	a, _, _, _ := startWire(t, WireConfig{AtoB: Faults{Corrupt: 1}})
	f := frame(1, 100)
	a.Send([][]byte{f})
	if !bytes.Equal(f, frame(1, 100)) {
		t.Error("corruption changed the sender's buffer")
	}
}

func TestFaultReorder(t *testing.T) {
	rb, fs, _ := faultRun(t, Faults{Seed: 3, Reorder: 0.1}, 1000)
	if fs.Reordered != 105 {
		t.Errorf("Reordered = %d, want 105 for seed 3", fs.Reordered)
	}
	s := rb.seqs()
	if len(s) != 1000 {
		t.Fatalf("received %d, want 1000", len(s))
	}
	// Each hold swaps a frame with the next one; frames are sent 100 µs
	// apart, well within the 10 ms timeout.
	swaps := 0
	for i := 0; i+1 < len(s); i++ {
		if s[i] > s[i+1] {
			swaps++
			if s[i] != s[i+1]+1 {
				t.Errorf("position %d: %d before %d, want adjacent frames swapped", i, s[i], s[i+1])
			}
		}
	}
	if swaps != int(fs.Reordered) {
		t.Errorf("%d swaps, %d reorders counted", swaps, fs.Reordered)
	}
	slices.Sort(s)
	for i, v := range s {
		if v != uint32(i) {
			t.Fatalf("frame %d lost or duplicated", i)
		}
	}
}

func TestFaultReorderTimeout(t *testing.T) {
	clock := actors.NewManualClock(time.Unix(0, 0))
	a, _, _, rb := startWire(t, WireConfig{Clock: clock, AtoB: Faults{Reorder: 1, ReorderTimeout: 3 * time.Millisecond}})
	a.Send([][]byte{frame(1, 60)})
	clock.Advance(2 * time.Millisecond)
	if rb.count() != 0 {
		t.Fatal("held frame released before its timeout")
	}
	clock.Advance(time.Millisecond)
	if !slices.Equal(rb.seqs(), []uint32{1}) {
		t.Fatalf("after the timeout: %v, want [1]", rb.seqs())
	}
	// With probability 1, every frame that finds the hold empty is held:
	// 2 is held, 3 passes and releases it.
	a.Send([][]byte{frame(2, 60), frame(3, 60)})
	if !slices.Equal(rb.seqs(), []uint32{1, 3, 2}) {
		t.Errorf("got %v, want [1 3 2]", rb.seqs())
	}
	clock.Advance(time.Second)
	if rb.count() != 3 {
		t.Errorf("a stale timer delivered again: %v", rb.seqs())
	}
}

func TestFaultJitter(t *testing.T) {
	rb, fs, _ := faultRun(t, Faults{Seed: 4, Delay: time.Millisecond, Jitter: time.Millisecond}, 200)
	s := rb.seqs()
	if len(s) != 200 || fs.Delayed != 200 {
		t.Fatalf("received %d, delayed %d; want 200, 200", len(s), fs.Delayed)
	}
	inversions := 0
	for i := 0; i+1 < len(s); i++ {
		if s[i] > s[i+1] {
			inversions++
		}
	}
	if inversions != 80 {
		t.Errorf("%d inversions, want 80 for seed 4", inversions)
	}
}

// allFaults enables every fault at once.
func allFaults(seed uint64) Faults {
	return Faults{
		Seed: seed, Drop: 0.05, Corrupt: 0.05, Duplicate: 0.05, Reorder: 0.05,
		Delay: time.Millisecond, Jitter: 500 * time.Microsecond,
	}
}

func TestFaultDeterminism(t *testing.T) {
	run := func(seed uint64) ([][]byte, []int, FaultStats) {
		rb, fs, _ := faultRun(t, allFaults(seed), 500)
		return rb.frames, rb.bursts, fs
	}
	f1, b1, s1 := run(7)
	f2, b2, s2 := run(7)
	if s1 != s2 || !slices.Equal(b1, b2) || !slices.EqualFunc(f1, f2, bytes.Equal) {
		t.Errorf("same seed, different runs: %+v vs %+v", s1, s2)
	}
	f3, _, s3 := run(8)
	if s1 == s3 && slices.EqualFunc(f1, f3, bytes.Equal) {
		t.Error("seeds 7 and 8 gave identical runs")
	}
	want := FaultStats{Dropped: 28, Corrupted: 26, Duplicated: 24, Reordered: 21, Delayed: 496}
	if s1 != want {
		t.Errorf("seed 7: %+v, want %+v", s1, want)
	}
}

func TestFaultDelayRealClock(t *testing.T) {
	a, b := NewWire(WireConfig{AtoB: Faults{Delay: time.Millisecond, Reorder: 0.5, Seed: 5}})
	defer a.Close()
	defer b.Close()
	got := make(chan int, 100)
	b.Start(func(frames [][]byte) { got <- len(frames) })
	for i := range 10 {
		a.Send([][]byte{frame(uint32(i), 60)})
	}
	n := 0
	for deadline := time.After(5 * time.Second); n < 10; {
		select {
		case k := <-got:
			n += k
		case <-deadline:
			t.Fatalf("received %d of 10 frames within 5 s", n)
		}
	}
}
