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
package portalloc

import (
	"math/rand/v2"
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
	// Low and High bound the ephemeral range (default 49152–65535, RFC 6335).
	Low, High uint16
	// Hold is how long a port handed out stays reserved before its user
	// asserts it (default 10 s).
	Hold time.Duration
	// Rand picks where each search starts (default: seeded from Seed).
	Rand *rand.Rand
	Seed uint64
}

// Spawn starts the allocator for cfg.Proto.
func Spawn(t *actors.Turn, cfg Config) *actors.Actor {
	if cfg.Low == 0 && cfg.High == 0 {
		cfg.Low, cfg.High = 49152, 65535
	}
	if cfg.Hold <= 0 {
		cfg.Hold = 10 * time.Second
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	}
	return t.Spawn("portalloc:"+cfg.Proto, func(t *actors.Turn) { boot(t, cfg) })
}

func boot(t *actors.Turn, cfg Config) {
	log := t.System().Logger().Named("portalloc").With(zap.String("proto", cfg.Proto))
	inUse := map[uint16]int{}
	held := map[uint16]time.Time{}
	for _, p := range cfg.InUse {
		t.Observe(p, actors.Handler{
			Added: func(t *actors.Turn, c []ds.Value) {
				port := uint16(c[0].AsInt())
				inUse[port]++
				delete(held, port)
			},
			Removed: func(t *actors.Turn, c []ds.Value) {
				port := uint16(c[0].AsInt())
				if inUse[port]--; inUse[port] <= 0 {
					delete(inUse, port)
				}
			},
		})
	}
	span := int(cfg.High) - int(cfg.Low) + 1
	t.Observe(ds.RecordPattern(LabelRequest, ds.Lit(ds.String(cfg.Proto)), ds.Discard), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) {
			req := m.(*Request)
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
				log.Warn("no free port", zap.Int("in_use", len(inUse)), zap.Int("held", len(held)))
			} else {
				held[port] = now.Add(cfg.Hold)
			}
			t.Send(&Reply{Proto: cfg.Proto, ID: req.ID, Port: port})
		},
	})
}
