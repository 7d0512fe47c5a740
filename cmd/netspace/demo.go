package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/timer"
)

// labelGreeting is the demo's one record: greeting(name, text).
var labelGreeting = ds.NewLabel("greeting", "demo", "name", "text")

func greeting(name string, text string) *ds.Tuple {
	return ds.NewTuple(labelGreeting, ds.String(name), ds.String(text))
}

// cmdDemo runs a small dataspace: users observe greeting(name, ?); a
// demand matcher sees that interest (Observe(Observe(greeting(?, _))))
// and spawns a greeter per name, which asserts the greeting and stops
// when nobody is interested any more. The trace shows every step.
func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	names := fs.String("names", "alice,bob", "comma-separated user names")
	level := fs.String("log-level", "debug", "log level: debug shows the trace")
	trace := fs.String("trace", "actors,dataspace,demo,timer", "layers to trace (or \"all\")")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	log, err := newLogger(*level, stderr)
	if err != nil {
		return err
	}
	defer log.Sync()
	sys := actors.NewSystem(actors.WithLogger(log))
	if err := sys.Tracer().Enable(strings.Split(*trace, ",")...); err != nil {
		return usageError{err}
	}
	var users []string
	for _, n := range strings.Split(*names, ",") {
		if n = strings.TrimSpace(n); n != "" {
			users = append(users, n)
		}
	}
	if len(users) == 0 {
		return usageError{fmt.Errorf("--names: no names given")}
	}

	var out sync.Mutex
	say := func(format string, a ...any) {
		out.Lock()
		defer out.Unlock()
		fmt.Fprintf(stdout, format+"\n", a...)
	}
	var wg sync.WaitGroup // every user and greeter, until it stops
	timer.SpawnDriver(sys)
	sys.SpawnDemandMatcher("greeter-matcher", actors.DemandSpec{
		Demand: ds.ObservePattern(ds.RecordPattern(labelGreeting, ds.CaptureAny, ds.Discard)),
		Supply: ds.RecordPattern(labelGreeting, ds.CaptureAny, ds.Discard),
		Spawn: func(t *actors.Turn, caps []ds.Value) *actors.Actor {
			name := caps[0].AsString()
			wg.Add(1)
			g := t.Spawn("greeter-"+name, func(t *actors.Turn) {
				t.Assert(greeting(name, "hello, "+name))
				t.Observe(ds.ObservePattern(ds.RecordPattern(labelGreeting, ds.Lit(ds.String(name)), ds.Discard)), actors.Handler{
					Removed: func(t *actors.Turn, _ []ds.Value) { t.Stop() },
				})
			})
			g.Watch(wg.Done)
			return g
		},
	})
	for i, name := range users {
		name, linger := name, time.Duration(50*(i+1))*time.Millisecond
		wg.Add(1)
		u := sys.Spawn("user-"+name, func(t *actors.Turn) {
			t.Observe(ds.RecordPattern(labelGreeting, ds.Lit(ds.String(name)), ds.CaptureAny), actors.Handler{
				Added: func(t *actors.Turn, caps []ds.Value) {
					say("%s heard %v", name, caps[0])
					timer.Await(t, ds.String("linger-"+name), t.Now().Add(linger), func(t *actors.Turn, _ time.Time) {
						say("%s leaves", name)
						t.Stop()
					})
				},
			})
		})
		u.Watch(wg.Done)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("demo did not finish within 10 s")
	}
	st := sys.Stats()
	say("done: %d actors spawned, %d messages routed, %d assertions left (the matcher's and timer's interests)",
		st.Spawned, st.Messages, st.Assertions)
	return sys.Close(5 * time.Second)
}
