package timer

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"
)

func TestTimersFireInOrderOnManualClock(t *testing.T) {
	sys := actors.NewSystem(actors.Deterministic())
	SpawnDriver(sys)
	start := sys.Clock().Now()
	var got []string
	sys.Spawn("user", func(t *actors.Turn) {
		for _, d := range []time.Duration{3 * time.Second, time.Second, 2 * time.Second} {
			name := ds.String(d.String())
			Await(t, name, start.Add(d), func(t *actors.Turn, now time.Time) {
				got = append(got, fmt.Sprintf("%s@%v", name.AsString(), now.Sub(start)))
			})
		}
	})
	sys.Advance(1500 * time.Millisecond)
	if s := strings.Join(got, " "); s != "1s@1s" {
		t.Fatalf("after 1.5s: %q", s)
	}
	sys.Advance(10 * time.Second)
	if s := strings.Join(got, " "); s != "1s@1s 2s@2s 3s@3s" {
		t.Fatalf("after 11.5s: %q", s)
	}
}

func TestResetAndCancel(t *testing.T) {
	sys := actors.NewSystem(actors.Deterministic())
	SpawnDriver(sys)
	start := sys.Clock().Now()
	var got []string
	sys.Spawn("user", func(t *actors.Turn) {
		t.Observe(ds.RecordPattern(LabelExpired, ds.CaptureAny, ds.Discard), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) {
				e := m.(*Expired)
				got = append(got, fmt.Sprintf("%v@%v", e.Name, e.Now.Sub(start)))
			},
		})
		t.Send(&Set{Name: ds.String("moved"), Deadline: start.Add(time.Second)})
		t.Send(&Set{Name: ds.String("moved"), Deadline: start.Add(4 * time.Second)}) // re-arm
		t.Send(&Set{Name: ds.String("cancelled"), Deadline: start.Add(2 * time.Second)})
		t.Send(&Cancel{Name: ds.String("cancelled")})
		t.Send(&Set{Name: ds.Int(7), Deadline: start}) // already due
	})
	sys.Advance(10 * time.Second)
	if s := strings.Join(got, " "); s != `7@0s "moved"@4s` {
		t.Fatalf("got %q", s)
	}
}

// TestExpiryNeverOvertakesSubscription runs on real goroutines and the wall
// clock: every Await with a deadline already passed must still be heard.
func TestExpiryNeverOvertakesSubscription(t *testing.T) {
	sys := actors.NewSystem()
	defer sys.Close(5 * time.Second)
	SpawnDriver(sys)
	const n = 2000
	fired := make(chan int, n)
	for i := 0; i < n; i++ {
		i := i
		sys.Spawn("waiter", func(t *actors.Turn) {
			Await(t, ds.Int(int64(i)), t.Now().Add(-time.Second), func(t *actors.Turn, _ time.Time) {
				fired <- i
				t.Stop()
			})
		})
	}
	seen := map[int]bool{}
	deadline := time.After(30 * time.Second)
	for len(seen) < n {
		select {
		case i := <-fired:
			seen[i] = true
		case <-deadline:
			t.Fatalf("%d of %d expiries heard", len(seen), n)
		}
	}
}
