package actors

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	ds "netspace/dataspace"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

var (
	lFact = ds.NewLabel("actors-test-fact", "actors-test", "key", "value")
	lMsg  = ds.NewLabel("actors-test-msg", "actors-test", "to", "body")
)

func fact(k string, v int64) *ds.Tuple { return ds.NewTuple(lFact, ds.String(k), ds.Int(v)) }
func msg(to string, body int64) *ds.Tuple {
	return ds.NewTuple(lMsg, ds.String(to), ds.Int(body))
}

// log collects events as strings, for deterministic tests.
type log struct {
	mu     sync.Mutex
	events []string
}

func (l *log) add(format string, args ...any) {
	l.mu.Lock()
	l.events = append(l.events, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *log) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.Join(l.events, "; ")
	l.events = nil
	return s
}

// watcher observes facts with key k and logs what it sees.
func watcher(sys *System, l *log, name string) *Actor {
	return sys.Spawn(name, func(t *Turn) {
		t.Observe(ds.RecordPattern(lFact, ds.CaptureAny, ds.CaptureAny), Handler{
			Added:   func(t *Turn, c []ds.Value) { l.add("%s +%v", name, c) },
			Removed: func(t *Turn, c []ds.Value) { l.add("%s -%v", name, c) },
		})
	})
}

func TestAssertRetractObserve(t *testing.T) {
	sys := NewSystem(Deterministic())
	l := &log{}
	var h Handle
	p := sys.Spawn("publisher", func(t *Turn) { h = t.Assert(fact("a", 1)) })
	sys.Quiesce()
	watcher(sys, l, "w") // arrives late: told about what is present
	sys.Quiesce()
	if got := l.take(); got != `w +["a" 1]` {
		t.Fatalf("late observer saw %q", got)
	}
	p.Inject(func(t *Turn) { t.Retract(h); t.Assert(fact("b", 2)) })
	sys.Quiesce()
	if got := l.take(); got != `w -["a" 1]; w +["b" 2]` {
		t.Fatalf("update seen as %q", got)
	}
	if sys.Count(fact("b", 2)) != 1 || sys.Count(fact("a", 1)) != 0 {
		t.Fatal("index does not hold exactly the current facts")
	}
}

func TestFateSharingOnStop(t *testing.T) {
	sys := NewSystem(Deterministic())
	l := &log{}
	watcher(sys, l, "w")
	p := sys.Spawn("publisher", func(t *Turn) {
		t.Assert(fact("a", 1))
		t.Assert(fact("b", 2))
	})
	sys.Quiesce()
	l.take()
	p.Stop()
	sys.Quiesce()
	got := strings.Split(l.take(), "; ")
	sort.Strings(got)
	if strings.Join(got, "; ") != `w -["a" 1]; w -["b" 2]` {
		t.Fatalf("stop retracted %q", got)
	}
	if p.Alive() || sys.Live() != 1 {
		t.Fatalf("publisher alive=%v, live=%d", p.Alive(), sys.Live())
	}
	if st := sys.Stats(); st.Assertions != 1 { // only the watcher's Observe
		t.Fatalf("%d assertions left", st.Assertions)
	}
}

func TestCrashIsContainedAndAtomic(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	sys := NewSystem(Deterministic(), WithLogger(zap.New(core)))
	l := &log{}
	watcher(sys, l, "w")
	got := map[int64]bool{}
	sys.Spawn("listener", func(t *Turn) {
		t.Observe(ds.RecordPattern(lMsg, ds.Lit(ds.String("listener")), ds.CaptureAny), Handler{
			Message: func(t *Turn, m ds.Record) { got[t.Captures()[0].AsInt()] = true },
		})
	})
	victim := sys.Spawn("victim", func(t *Turn) {
		t.Assert(fact("kept-until-crash", 1))
		t.Observe(ds.RecordPattern(lMsg, ds.Lit(ds.String("victim")), ds.Discard), Handler{
			Message: func(t *Turn, m ds.Record) {
				t.Assert(fact("never", 1))  // discarded: the turn panics
				t.Send(msg("listener", 99)) // discarded too
				panic("boom")
			},
		})
	})
	sys.Quiesce()
	l.take()
	sys.Spawn("sender", func(t *Turn) { t.Send(msg("victim", 0)); t.Send(msg("listener", 1)) })
	sys.Quiesce()
	if victim.Alive() {
		t.Fatal("crashed actor still alive")
	}
	if s := l.take(); s != `w -["kept-until-crash" 1]` {
		t.Fatalf("watcher saw %q; want only the retraction of the crashed actor's fact", s)
	}
	if got[99] || !got[1] {
		t.Fatalf("listener got %v: the crashed turn's message must not be sent, the other must", got)
	}
	crashes := logs.FilterMessage("actor crashed").All()
	if len(crashes) != 1 {
		t.Fatalf("%d crash log entries", len(crashes))
	}
	fields := crashes[0].ContextMap()
	if fields["name"] != "victim" || fields["panic"] != "boom" || !strings.Contains(fmt.Sprint(fields["stack"]), "actors_test.go") {
		t.Fatalf("crash entry lacks name/panic/stack: %v", fields)
	}
	if sys.Stats().Crashes != 1 {
		t.Fatal("crash not counted")
	}
}

func TestSpawnedActorSeesItsTrigger(t *testing.T) {
	sys := NewSystem(Deterministic())
	l := &log{}
	sys.Spawn("parent", func(t *Turn) {
		t.Observe(ds.RecordPattern(lMsg, ds.Lit(ds.String("parent")), ds.CaptureAny), Handler{
			Message: func(t *Turn, m ds.Record) {
				n := t.Captures()[0].AsInt()
				name := fmt.Sprintf("child%d", n)
				// The child gets the trigger in its boot turn, and its
				// observation is in place before this turn's message leaves.
				t.Send(msg(name, n*10))
				t.Spawn(name, func(t *Turn) {
					l.add("%s booted with %d", name, n)
					t.Observe(ds.RecordPattern(lMsg, ds.Lit(ds.String(name)), ds.CaptureAny), Handler{
						Message: func(t *Turn, m ds.Record) { l.add("%s got %v", name, t.Captures()[0]) },
					})
				})
			},
		})
	})
	sys.Quiesce()
	sys.Spawn("client", func(t *Turn) { t.Send(msg("parent", 7)) })
	sys.Quiesce()
	if got := l.take(); got != "child7 booted with 7; child7 got 70" {
		t.Fatalf("got %q", got)
	}
}

func TestCrashInBootIsContained(t *testing.T) {
	sys := NewSystem(Deterministic())
	var child *Actor
	parent := sys.Spawn("parent", func(t *Turn) {
		t.Assert(fact("parent", 1))
		child = t.Spawn("child", func(t *Turn) {
			t.Assert(fact("child", 1))
			panic("bad boot")
		})
	})
	sys.Quiesce()
	if child.Alive() || !parent.Alive() {
		t.Fatalf("child alive=%v parent alive=%v", child.Alive(), parent.Alive())
	}
	if sys.Count(fact("child", 1)) != 0 || sys.Count(fact("parent", 1)) != 1 {
		t.Fatal("boot crash leaked an assertion or lost the parent's")
	}
}

func TestUnobserveStopsEvents(t *testing.T) {
	sys := NewSystem(Deterministic())
	l := &log{}
	var sub *Subscription
	a := sys.Spawn("a", func(t *Turn) {
		sub = t.Observe(ds.RecordPattern(lMsg, ds.Lit(ds.String("a")), ds.CaptureAny), Handler{
			Message: func(t *Turn, m ds.Record) { l.add("got %v", t.Captures()[0]) },
		})
	})
	sys.Quiesce()
	b := sys.Spawn("b", func(t *Turn) { t.Send(msg("a", 1)) })
	_ = b
	// Queue a second message, then unobserve before it is handled.
	sys.Spawn("c", func(t *Turn) { t.Send(msg("a", 2)) })
	a.Inject(func(t *Turn) { t.Unobserve(sub) })
	sys.Quiesce()
	sys.Spawn("d", func(t *Turn) { t.Send(msg("a", 3)) })
	sys.Quiesce()
	if got := l.take(); got != "got 1; got 2" {
		t.Fatalf("got %q", got)
	}
	if n := sys.Count(&ds.Observe{Pattern: sub.Pattern()}); n != 0 {
		t.Fatalf("Observe still asserted %d times", n)
	}
}

func TestObserveObserve(t *testing.T) {
	sys := NewSystem(Deterministic())
	l := &log{}
	// A "driver" learns which keys users are interested in.
	sys.Spawn("driver", func(t *Turn) {
		t.Observe(ds.ObservePattern(ds.RecordPattern(lFact, ds.CaptureAny, ds.Discard)), Handler{
			Added:   func(t *Turn, c []ds.Value) { l.add("interest in %v", c[0]) },
			Removed: func(t *Turn, c []ds.Value) { l.add("no interest in %v", c[0]) },
		})
	})
	u1 := sys.Spawn("user1", func(t *Turn) {
		t.Observe(ds.RecordPattern(lFact, ds.Lit(ds.String("k")), ds.CaptureAny), Handler{})
	})
	sys.Quiesce()
	u2 := sys.Spawn("user2", func(t *Turn) {
		t.Observe(ds.RecordPattern(lFact, ds.Lit(ds.String("k")), ds.CaptureAny), Handler{})
	})
	sys.Quiesce()
	u1.Stop()
	sys.Quiesce()
	if got := l.take(); got != `interest in "k"` {
		t.Fatalf("got %q (bag semantics: one interest while either user remains)", got)
	}
	u2.Stop()
	sys.Quiesce()
	if got := l.take(); got != `no interest in "k"` {
		t.Fatalf("got %q", got)
	}
}

func TestActorTimers(t *testing.T) {
	sys := NewSystem(Deterministic())
	l := &log{}
	start := sys.Clock().Now()
	var cancelMe *ActorTimer
	a := sys.Spawn("a", func(t *Turn) {
		t.After(2*time.Second, func(t *Turn) { l.add("2s at %v", t.Now().Sub(start)) })
		t.After(time.Second, func(t *Turn) {
			l.add("1s at %v", t.Now().Sub(start))
			cancelMe.Stop()
			t.After(500*time.Millisecond, func(t *Turn) { l.add("1.5s at %v", t.Now().Sub(start)) })
		})
		cancelMe = t.After(1800*time.Millisecond, func(t *Turn) { l.add("cancelled timer ran") })
	})
	sys.Advance(time.Second - time.Nanosecond)
	if got := l.take(); got != "" {
		t.Fatalf("early: %q", got)
	}
	sys.Advance(5 * time.Second)
	if got := l.take(); got != "1s at 1s; 1.5s at 1.5s; 2s at 2s" {
		t.Fatalf("got %q", got)
	}
	sys.Spawn("b", func(t *Turn) {})
	a.Inject(func(t *Turn) { t.After(time.Second, func(t *Turn) { l.add("after stop") }); t.Stop() })
	sys.Advance(2 * time.Second)
	if got := l.take(); got != "" {
		t.Fatalf("a stopped actor's timer ran: %q", got)
	}
}

func TestInjectBeforeBootWaits(t *testing.T) {
	sys := NewSystem()
	defer sys.Close(5 * time.Second)
	done := make(chan string, 1)
	sys.Spawn("parent", func(t *Turn) {
		var booted bool
		child := t.Spawn("child", func(t *Turn) { booted = true })
		// Injected before the child's boot turn has run (it runs when this
		// turn commits): it must wait for the boot, not race it.
		child.Inject(func(t *Turn) { done <- fmt.Sprintf("booted=%v", booted) })
	})
	select {
	case got := <-done:
		if got != "booted=true" {
			t.Fatalf("injected turn ran with %s", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("injected turn never ran")
	}
}

// TestConcurrentPingPong runs on protoactor mailboxes with real goroutines.
func TestConcurrentPingPong(t *testing.T) {
	sys := NewSystem()
	defer sys.Close(5 * time.Second)
	const pairs, rounds = 8, 500
	done := make(chan int, pairs)
	for p := 0; p < pairs; p++ {
		ping, pong := fmt.Sprintf("ping%d", p), fmt.Sprintf("pong%d", p)
		sys.Spawn(pong, func(t *Turn) {
			t.Observe(ds.RecordPattern(lMsg, ds.Lit(ds.String(pong)), ds.CaptureAny), Handler{
				Message: func(t *Turn, m ds.Record) { t.Send(msg(ping, t.Captures()[0].AsInt()+1)) },
			})
		})
		p := p
		sys.Spawn(ping, func(t *Turn) {
			t.Observe(ds.RecordPattern(lMsg, ds.Lit(ds.String(ping)), ds.CaptureAny), Handler{
				Message: func(t *Turn, m ds.Record) {
					n := t.Captures()[0].AsInt()
					if n >= 2*rounds {
						done <- p
						t.Stop()
						return
					}
					t.Send(msg(pong, n+1))
				},
			})
			t.Send(msg(pong, 0))
		})
	}
	deadline := time.After(20 * time.Second)
	for i := 0; i < pairs; i++ {
		select {
		case <-done:
		case <-deadline:
			t.Fatalf("only %d of %d pairs finished", i, pairs)
		}
	}
}

func TestTracing(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	sys := NewSystem(Deterministic(), WithLogger(zap.New(core)))
	if err := sys.Tracer().Enable("no-such-layer"); err == nil || !strings.Contains(err.Error(), "actors-test") {
		t.Fatalf("unknown layer error = %v", err)
	}
	sys.Spawn("quiet", func(t *Turn) { t.Assert(fact("untraced", 1)) })
	sys.Quiesce()
	if n := logs.Len(); n != 0 {
		t.Fatalf("%d log entries with tracing off", n)
	}
	if err := sys.Tracer().Enable("actors-test", "actors"); err != nil {
		t.Fatal(err)
	}
	defer sys.Tracer().Disable()
	a := sys.Spawn("loud", func(t *Turn) {
		h := t.Assert(fact("k", 42))
		t.Send(msg("x", 1))
		t.Retract(h)
	})
	sys.Quiesce()
	a.Stop()
	sys.Quiesce()
	var got []string
	for _, e := range logs.All() {
		s := e.Message
		if r, ok := e.ContextMap()["record"].(map[string]any); ok {
			s += fmt.Sprintf(" %v", r)
		}
		got = append(got, s)
	}
	want := "spawn; assert map[key:k value:42]; message map[body:1 to:x]; retract map[key:k value:42]; stop"
	if strings.Join(got, "; ") != want {
		t.Fatalf("trace:\n got %s\nwant %s", strings.Join(got, "; "), want)
	}
}

func TestCloseRetractsEverything(t *testing.T) {
	sys := NewSystem()
	for i := 0; i < 50; i++ {
		i := i
		sys.Spawn("a", func(t *Turn) { t.Assert(fact("k", int64(i))) })
	}
	if err := sys.Close(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if st := sys.Stats(); st.Live != 0 || st.Assertions != 0 {
		t.Fatalf("after Close: %+v", st)
	}
}

// BenchmarkHop measures one message from an actor through the dataspace
// to another actor and back (two hops), on protoactor mailboxes.
func BenchmarkHop(b *testing.B) {
	sys := NewSystem()
	defer sys.Close(5 * time.Second)
	done := make(chan struct{})
	n := b.N
	sys.Spawn("echo", func(t *Turn) {
		t.Observe(ds.RecordPattern(lMsg, ds.Lit(ds.String("echo")), ds.Discard), Handler{
			Message: func(t *Turn, m ds.Record) { t.Send(msg("origin", 0)) },
		})
	})
	ping := msg("echo", 0)
	sys.Spawn("origin", func(t *Turn) {
		count := 0
		t.Observe(ds.RecordPattern(lMsg, ds.Lit(ds.String("origin")), ds.Discard), Handler{
			Message: func(t *Turn, m ds.Record) {
				count++
				if count == n {
					close(done)
					return
				}
				t.Send(ping)
			},
		})
	})
	b.ReportAllocs()
	b.ResetTimer()
	sys.Spawn("start", func(t *Turn) { t.Send(ping) })
	<-done
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/hop")
}

// BenchmarkFanIn measures throughput with many actors: 64 senders stream
// messages to one sink through the dataspace, from outside any turn (as a
// driver's reader goroutine does).
func BenchmarkFanIn(b *testing.B) {
	sys := NewSystem()
	defer sys.Close(5 * time.Second)
	total := b.N
	done := make(chan struct{})
	count := 0
	sys.Spawn("sink", func(t *Turn) {
		t.Observe(ds.RecordPattern(lMsg, ds.Lit(ds.String("sink")), ds.Discard), Handler{
			Message: func(t *Turn, m ds.Record) {
				count++
				if count == total {
					close(done)
				}
			},
		})
	})
	const senders = 64
	var as []*Actor
	for i := 0; i < senders; i++ {
		as = append(as, sys.Spawn("sender", func(*Turn) {}))
	}
	m := msg("sink", 1)
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := i; j < total; j += 2 {
				as[j%senders].Send(m)
			}
		}(i)
	}
	wg.Wait()
	<-done
}

// BenchmarkTraceCheck is the cost tracing adds to every event when it is
// off: one atomic load of the label's switch.
func BenchmarkTraceCheck(b *testing.B) {
	tr := newTracer(zap.NewNop())
	m := msg("x", 1)
	n := 0
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if tr.on(m) {
			n++
		}
	}
	if n != 0 {
		b.Fatal("traced while off")
	}
}

func TestMessageLimitDropsOnlyMessages(t *testing.T) {
	sys := NewSystem(Deterministic())
	l := &log{}
	slow := sys.Spawn("slow", func(t *Turn) {
		t.SetMessageLimit(3)
		t.Observe(ds.RecordPattern(lMsg, ds.Lit(ds.String("slow")), ds.CaptureAny), Handler{
			Message: func(t *Turn, m ds.Record) { l.add("m%v", t.Captures()[0]) },
		})
		t.Observe(ds.RecordPattern(lFact, ds.CaptureAny, ds.Discard), Handler{
			Added: func(t *Turn, c []ds.Value) { l.add("+%v", c[0]) },
		})
	})
	sys.Quiesce()
	sys.Spawn("flood", func(t *Turn) {
		for i := 0; i < 10; i++ {
			t.Send(msg("slow", int64(i)))
		}
		for i := 0; i < 5; i++ {
			t.Assert(fact(fmt.Sprint(i), 0))
		}
	})
	sys.Quiesce()
	if got := l.take(); got != `m0; m1; m2; +"0"; +"1"; +"2"; +"3"; +"4"` {
		t.Fatalf("got %q", got)
	}
	if slow.Dropped() != 7 || slow.Queued() != 0 {
		t.Fatalf("dropped %d, queued %d", slow.Dropped(), slow.Queued())
	}
}

func TestObserveInline(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	sys := NewSystem(Deterministic(), WithLogger(zap.New(core)))
	l := &log{}
	doubler := sys.Spawn("doubler", func(t *Turn) {
		t.ObserveInline(ds.RecordPattern(lMsg, ds.Lit(ds.String("double")), ds.Discard), func(in Inline, m ds.Record) {
			v := m.Field(1).AsInt()
			if v < 0 {
				panic("negative")
			}
			n := in.SendNow(msg("sink", 2*v))
			l.add("doubled %d to %d observers", v, n)
		})
	})
	sys.Spawn("sink", func(t *Turn) {
		t.Observe(ds.RecordPattern(lMsg, ds.Lit(ds.String("sink")), ds.CaptureAny), Handler{
			Message: func(t *Turn, m ds.Record) { l.add("sink got %v", t.Captures()[0]) },
		})
	})
	sys.Quiesce()
	var reached int
	sys.Spawn("source", func(t *Turn) {
		reached = t.SendNow(msg("double", 21))
	})
	sys.Quiesce()
	if got := l.take(); got != "doubled 21 to 1 observers; sink got 42" {
		t.Fatalf("got %q", got)
	}
	if reached != 1 {
		t.Fatalf("SendNow to an inline observer reached %d", reached)
	}
	// The inline observer's actor never ran a turn for it: its mailbox saw nothing.
	if doubler.Queued() != 0 || doubler.Dropped() != 0 {
		t.Fatal("an inline delivery went through the mailbox")
	}
	// Interest is still asserted, so drivers can see it.
	if n := sys.Count(&ds.Observe{Pattern: ds.RecordPattern(lMsg, ds.Lit(ds.String("double")), ds.Discard)}); n != 1 {
		t.Fatalf("inline interest asserted %d times", n)
	}
	// A panic is contained: the sender goes on, the inline actor stops.
	sys.Spawn("bad", func(t *Turn) { t.Send(msg("double", -1)); t.Send(msg("sink", 7)) })
	sys.Quiesce()
	if got := l.take(); got != "sink got 7" {
		t.Fatalf("after the panic: %q", got)
	}
	if doubler.Alive() || logs.FilterMessage("inline observer crashed").Len() != 1 {
		t.Fatalf("inline crash: alive %v, logged %d", doubler.Alive(), logs.FilterMessage("inline observer crashed").Len())
	}
}

func TestObserveInlineConcurrent(t *testing.T) {
	sys := NewSystem()
	defer sys.Close(5 * time.Second)
	const senders, each = 4, 2000
	got := make(chan int64, senders*each)
	sys.Spawn("stage", func(t *Turn) {
		t.ObserveInline(ds.RecordPattern(lMsg, ds.Lit(ds.String("stage")), ds.Discard), func(in Inline, m ds.Record) {
			in.Send(msg("end", m.Field(1).AsInt()+1))
		})
	})
	ready := make(chan struct{})
	sys.Spawn("end", func(t *Turn) {
		t.Observe(ds.RecordPattern(lMsg, ds.Lit(ds.String("end")), ds.CaptureAny), Handler{
			Message: func(t *Turn, m ds.Record) { got <- t.Captures()[0].AsInt() },
		})
		close(ready)
	})
	<-ready
	var wg sync.WaitGroup
	for g := 0; g < senders; g++ {
		a := sys.Spawn("sender", func(*Turn) {})
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				a.Send(msg("stage", int64(g*each+i)))
			}
		}(g)
	}
	wg.Wait()
	seen := map[int64]bool{}
	timeout := time.After(20 * time.Second)
	for len(seen) < senders*each {
		select {
		case v := <-got:
			seen[v] = true
		case <-timeout:
			t.Fatalf("%d of %d through the inline stage", len(seen), senders*each)
		}
	}
	if !seen[1] || !seen[senders*each] {
		t.Fatal("values were not transformed")
	}
}
