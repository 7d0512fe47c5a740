// Package portalloc is the port allocator: an actor per transport protocol
// that hands out ephemeral ports on request, never one in use.
//
// It knows which ports are in use by observing patterns the protocol gives
// it — each captures one port, e.g. the UDP actor passes its listeners'
// interest, Observe(udp-channel(_, udp-listener(?), _)), and its bindings,
// udp-binding(?, _) — so a port is free again as soon as the assertion
// that held it is retracted (fate sharing does the rest). A port just
// handed out stays reserved for a while, until its user has had time to
// assert it.
//
// Protocol:
//
//	port-allocation-request(proto, id)       message  user → allocator
//	port-allocation-reply(proto, id, port)   message  allocator → user; port 0: none free
//
// Port 0 is never handed out: it is the answer when no port is free, and
// when the configured range is invalid (an error logged once, every request
// answered with 0), both counted in [Stats].Exhausted.
package portalloc

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"

	"go.uber.org/zap"
)

// Labels of the allocator's protocol.
var (
	LabelRequest = ds.NewLabel("port-allocation-request", "portalloc", "proto", "id")
	LabelReply   = ds.NewLabel("port-allocation-reply", "portalloc", "proto", "id", "port")
)

// Request is the message port-allocation-request(proto, id).
type Request struct {
	Proto string
	ID    ds.Value
}

// Label implements dataspace.Record.
func (r *Request) Label() *ds.Label { return LabelRequest }

// Arity implements dataspace.Record.
func (r *Request) Arity() int { return 2 }

// Field implements dataspace.Record.
func (r *Request) Field(i int) ds.Value {
	if i == 0 {
		return ds.String(r.Proto)
	}
	return r.ID
}

// Reply is the message port-allocation-reply(proto, id, port).
type Reply struct {
	Proto string
	ID    ds.Value
	Port  uint16
}

// Label implements dataspace.Record.
func (r *Reply) Label() *ds.Label { return LabelReply }

// Arity implements dataspace.Record.
func (r *Reply) Arity() int { return 3 }

// Field implements dataspace.Record.
func (r *Reply) Field(i int) ds.Value {
	switch i {
	case 0:
		return ds.String(r.Proto)
	case 1:
		return r.ID
	default:
		return ds.Int(int64(r.Port))
	}
}

// ReplyPattern matches the reply to request id, capturing the port.
func ReplyPattern(proto string, id ds.Value) *ds.Pattern {
	return ds.RecordPattern(LabelReply, ds.Lit(ds.String(proto)), ds.Lit(id), ds.CaptureAny)
}

// Config configures one allocator.
type Config struct {
	Proto string
	// InUse are patterns whose single capture is a port in use.
	InUse []*ds.Pattern
	// Low and High bound the ephemeral range, inclusive; unset (0), each
	// takes its default independently: 49152 and 65535 (RFC 6335). Low
	// above High is a configuration error (see [Spawn]).
	Low, High uint16
	// Hold is how long a port handed out stays reserved before its user
	// asserts it (default 10 s).
	Hold time.Duration
	// Rand picks where each search starts (default: seeded from Seed).
	Rand *rand.Rand
	Seed uint64
}

// Stats counts an allocator's work.
type Stats struct {
	Requests  atomic.Uint64 // requests answered
	Allocated atomic.Uint64 // requests answered with a port
	Exhausted atomic.Uint64 // requests answered with port 0: no port free, or an invalid range
	InUse     atomic.Int64  // distinct ports in use now (by the InUse patterns)
}

// Spawn starts the allocator for cfg.Proto and returns it with its
// counters. An invalid range (Low above High once defaults are applied) does
// not panic: the allocator logs an error and answers every request with
// port 0, counted as Exhausted.
func Spawn(t *actors.Turn, cfg Config) (*actors.Actor, *Stats) {
	if cfg.Low == 0 {
		cfg.Low = 49152
	}
	if cfg.High == 0 {
		cfg.High = 65535
	}
	if cfg.Hold <= 0 {
		cfg.Hold = 10 * time.Second
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	}
	stats := &Stats{}
	a := t.Spawn("portalloc:"+cfg.Proto, func(t *actors.Turn) { boot(t, cfg, stats) })
	return a, stats
}

// checkRange reports an invalid range: one that is empty (Low above High)
// or contains 0, which is no port.
func checkRange(low, high uint16) error {
	if low > high {
		return fmt.Errorf("portalloc: empty port range %d–%d (low above high)", low, high)
	}
	if low == 0 {
		return fmt.Errorf("portalloc: port range %d–%d contains 0", low, high)
	}
	return nil
}

func boot(t *actors.Turn, cfg Config, stats *Stats) {
	log := t.System().Logger().Named("portalloc").With(zap.String("proto", cfg.Proto))
	requests := ds.RecordPattern(LabelRequest, ds.Lit(ds.String(cfg.Proto)), ds.Discard)
	if err := checkRange(cfg.Low, cfg.High); err != nil {
		log.Error("invalid configuration: every request will get port 0", zap.Error(err))
		t.Observe(requests, actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) {
				stats.Requests.Add(1)
				stats.Exhausted.Add(1)
				t.Send(&Reply{Proto: cfg.Proto, ID: m.(*Request).ID, Port: 0})
			},
		})
		return
	}
	inUse := map[uint16]int{}
	held := map[uint16]time.Time{}
	for _, p := range cfg.InUse {
		t.Observe(p, actors.Handler{
			Added: func(t *actors.Turn, c []ds.Value) {
				port := uint16(c[0].AsInt())
				inUse[port]++
				delete(held, port)
				stats.InUse.Store(int64(len(inUse)))
			},
			Removed: func(t *actors.Turn, c []ds.Value) {
				port := uint16(c[0].AsInt())
				if inUse[port]--; inUse[port] <= 0 {
					delete(inUse, port)
				}
				stats.InUse.Store(int64(len(inUse)))
			},
		})
	}
	span := int(cfg.High) - int(cfg.Low) + 1
	t.Observe(requests, actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) {
			req := m.(*Request)
			stats.Requests.Add(1)
			now := t.Now()
			if len(held) > 1024 {
				for p, until := range held {
					if !now.Before(until) {
						delete(held, p)
					}
				}
			}
			start := cfg.Rand.IntN(span)
			var port uint16
			for i := 0; i < span; i++ {
				p := uint16(int(cfg.Low) + (start+i)%span)
				if inUse[p] > 0 {
					continue
				}
				if until, ok := held[p]; ok && now.Before(until) {
					continue
				}
				port = p
				break
			}
			if port == 0 {
				stats.Exhausted.Add(1)
				log.Warn("no free port", zap.Int("in_use", len(inUse)), zap.Int("held", len(held)))
			} else {
				stats.Allocated.Add(1)
				held[port] = now.Add(cfg.Hold)
			}
			t.Send(&Reply{Proto: cfg.Proto, ID: req.ID, Port: port})
		},
	})
}
