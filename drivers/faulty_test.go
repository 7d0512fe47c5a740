package drivers

import (
	"testing"
	"time"

	"netspace/actors"
)

func TestFaultyLinkDropsAndDuplicates(t *testing.T) {
	a, b := NewWire(WireConfig{Clock: actors.NewManualClock(time.Unix(0, 0))})
	fa := Faulty(a, LinkFaults{}, LinkFaults{Drop: 0.2, Duplicate: 0.1}, 7)
	got := 0
	if err := b.Start(func(frames [][]byte) { got += len(frames) }); err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 100)
	for i := 0; i < 1000; i++ {
		fa.Send([][]byte{frame})
	}
	st := fa.FaultStats()
	if st.Dropped < 150 || st.Dropped > 250 || st.Duplicated < 50 || st.Duplicated > 130 {
		t.Fatalf("faults %+v for 1000 frames at 20%% drop, 10%% duplicate", st)
	}
	if want := 1000 - int(st.Dropped) + int(st.Duplicated); got != want {
		t.Fatalf("received %d frames, want %d", got, want)
	}
	// Same seed, same outcome.
	fb := Faulty(a, LinkFaults{}, LinkFaults{Drop: 0.2, Duplicate: 0.1}, 7)
	for i := 0; i < 1000; i++ {
		fb.Send([][]byte{frame})
	}
	if fb.FaultStats() != st {
		t.Fatalf("seeded faults differ: %+v vs %+v", fb.FaultStats(), st)
	}
}
