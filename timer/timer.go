// Package timer is the timer driver: an actor that turns set-timer
// messages into timer-expired messages on the system clock, so that any
// actor can ask for time through the dataspace and tests can drive it with
// a manual clock.
//
// Protocol (records declared here):
//
//	set-timer(name, deadline)   message  anyone → driver   (re)arm timer name
//	cancel-timer(name)          message  anyone → driver   disarm timer name
//	timer-expired(name, now)    message  driver → anyone   timer name fired at now
//
// Names are any dataspace Value; one timer per name, re-setting a name
// moves its deadline. The expiry can never overtake the subscription
// waiting for it: a turn's observations are committed before its messages
// (see actors.Turn), so an actor that observes timer-expired(name, _) and
// sends set-timer(name, …) in one turn — as [Await] does — is listening
// before the driver can hear the request.
//
// Protocol state machines with a timer per segment (TCP retransmission)
// use the per-actor form of the same clock, actors.Turn.After, which
// avoids a dataspace round trip per packet.
package timer

import (
	"time"

	"netspace/actors"
	ds "netspace/dataspace"
)

// Labels of the timer protocol.
var (
	LabelSet     = ds.NewLabel("set-timer", "timer", "name", "deadline")
	LabelCancel  = ds.NewLabel("cancel-timer", "timer", "name")
	LabelExpired = ds.NewLabel("timer-expired", "timer", "name", "now")
)

// Set is the message set-timer(name, deadline): arm (or re-arm) the timer
// called Name to fire at Deadline.
type Set struct {
	Name     ds.Value
	Deadline time.Time
}

// Label implements dataspace.Record.
func (m *Set) Label() *ds.Label { return LabelSet }

// Arity implements dataspace.Record.
func (m *Set) Arity() int { return 2 }

// Field implements dataspace.Record.
func (m *Set) Field(i int) ds.Value {
	if i == 0 {
		return m.Name
	}
	return ds.Int(m.Deadline.UnixNano())
}

// Cancel is the message cancel-timer(name).
type Cancel struct{ Name ds.Value }

// Label implements dataspace.Record.
func (m *Cancel) Label() *ds.Label { return LabelCancel }

// Arity implements dataspace.Record.
func (m *Cancel) Arity() int { return 1 }

// Field implements dataspace.Record.
func (m *Cancel) Field(int) ds.Value { return m.Name }

// Expired is the message timer-expired(name, now).
type Expired struct {
	Name ds.Value
	Now  time.Time
}

// Label implements dataspace.Record.
func (m *Expired) Label() *ds.Label { return LabelExpired }

// Arity implements dataspace.Record.
func (m *Expired) Arity() int { return 2 }

// Field implements dataspace.Record.
func (m *Expired) Field(i int) ds.Value {
	if i == 0 {
		return m.Name
	}
	return ds.Int(m.Now.UnixNano())
}

// ExpiredPattern matches timer-expired(name, _).
func ExpiredPattern(name ds.Value) *ds.Pattern {
	return ds.RecordPattern(LabelExpired, ds.Lit(name), ds.Discard)
}

// Spawn starts the timer driver as a child of t's actor.
func Spawn(t *actors.Turn) *actors.Actor { return t.Spawn("timer", boot) }

// SpawnDriver starts the timer driver as a top-level actor of sys.
func SpawnDriver(sys *actors.System) *actors.Actor { return sys.Spawn("timer", boot) }

func boot(t *actors.Turn) {
	pending := map[uint64][]*armed{}
	find := func(name ds.Value) (uint64, int) {
		h := name.Hash()
		for i, a := range pending[h] {
			if a.name.Equal(name) {
				return h, i
			}
		}
		return h, -1
	}
	cancel := func(name ds.Value) {
		h, i := find(name)
		if i < 0 {
			return
		}
		as := pending[h]
		as[i].timer.Stop()
		pending[h] = append(as[:i], as[i+1:]...)
		if len(pending[h]) == 0 {
			delete(pending, h)
		}
	}
	t.Observe(ds.RecordPattern(LabelSet, ds.Discard, ds.Discard), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) {
			s := m.(*Set)
			cancel(s.Name)
			a := &armed{name: s.Name}
			name := s.Name
			a.timer = t.After(s.Deadline.Sub(t.Now()), func(t *actors.Turn) {
				cancel(name)
				t.Send(&Expired{Name: name, Now: t.Now()})
			})
			h := name.Hash()
			pending[h] = append(pending[h], a)
		},
	})
	t.Observe(ds.RecordPattern(LabelCancel, ds.Discard), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) { cancel(m.(*Cancel).Name) },
	})
}

type armed struct {
	name  ds.Value
	timer *actors.ActorTimer
}

// Await observes timer-expired(name, _) and sends set-timer(name,
// deadline) in the same turn, then calls fn once when the timer fires and
// ends the observation. It returns the subscription, which the caller may
// Unobserve (and send Cancel) to give up early.
func Await(t *actors.Turn, name ds.Value, deadline time.Time, fn func(t *actors.Turn, now time.Time)) *actors.Subscription {
	var sub *actors.Subscription
	sub = t.Observe(ExpiredPattern(name), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) {
			t.Unobserve(sub)
			fn(t, m.(*Expired).Now)
		},
	})
	t.Send(&Set{Name: name, Deadline: deadline})
	return sub
}
