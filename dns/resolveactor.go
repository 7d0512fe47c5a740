package dns

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/ip"
	"netspace/tcp"

	"go.uber.org/zap"
)

// RetryAfter is how soon a failed lookup (timeout, every server failing,
// no server) that is still wanted is tried again.
const RetryAfter = 5 * time.Second

// SpawnResolver starts the resolver actor: for every observer of
// dns-answer(name, type, ?) it asserts the answers, from its cache or by
// asking the dns-server servers over UDP (and TCP when an answer is
// truncated), until the interest goes, asking again as TTLs run out.
func SpawnResolver(t *actors.Turn, cfg ResolverConfig) (*actors.Actor, *ResolverStats) {
	ra := newResolverActor(cfg)
	return t.Spawn("dns-resolver", ra.boot), ra.core.Stats
}

// StartResolver is SpawnResolver for a top-level actor of sys.
func StartResolver(sys *actors.System, cfg ResolverConfig) (*actors.Actor, *ResolverStats) {
	ra := newResolverActor(cfg)
	return sys.Spawn("dns-resolver", ra.boot), ra.core.Stats
}

func newResolverActor(cfg ResolverConfig) *resolverActor {
	cfg.defaults()
	return &resolverActor{cfg: cfg, core: NewResolver(cfg)}
}

// want is the interest in one question: the names it was asked under
// (as written by the observers, with their counts) and the answers
// asserted for each.
type want struct {
	key     Key
	names   map[string]int
	answers map[string]*ds.ValueMap[actors.Handle]
	values  []ds.Value
	refresh *actors.ActorTimer
	lastErr string
}

type resolverActor struct {
	cfg     ResolverConfig
	core    *Resolver
	log     *zap.Logger
	me      *actors.Actor
	wants   map[Key]*want
	bad     map[[2]any]actors.Handle // answers for names that are not domain names
	servers []netip.Addr
	timer   *actors.ActorTimer
	udpID   ds.Value
	ready   bool
	pending []Query
	tcpN    int
}

func (ra *resolverActor) boot(t *actors.Turn) {
	t.SetMessageLimit(1024)
	ra.me = t.Actor()
	ra.log = t.System().Logger().Named("dns")
	ra.wants = map[Key]*want{}
	ra.bad = map[[2]any]actors.Handle{}
	ra.udpID = ds.String(fmt.Sprintf("dns-resolver-%d", ra.me.ID()))
	t.Observe(ds.RecordPattern(LabelServer, ds.CaptureAny), actors.Handler{
		Added: func(t *actors.Turn, c []ds.Value) {
			if a := c[0].AsAddr(); a.Is4() && !slices.Contains(ra.servers, a) {
				ra.servers = append(ra.servers, a)
				ra.core.SetServers(ra.servers)
				for k, w := range ra.wants {
					if w.lastErr == ErrNoServer {
						ra.apply(t, ra.core.Resolve(t.Now(), k))
					}
				}
			}
		},
		Removed: func(t *actors.Turn, c []ds.Value) {
			a := c[0].AsAddr()
			ra.servers = slices.DeleteFunc(ra.servers, func(s netip.Addr) bool { return s == a })
			ra.core.SetServers(ra.servers)
		},
	})
	t.Observe(ds.ObservePattern(ds.RecordPattern(LabelAnswer, ds.CaptureAny, ds.CaptureAny, ds.Discard)), actors.Handler{
		Added:   func(t *actors.Turn, c []ds.Value) { ra.wanted(t, c[0], c[1], 1) },
		Removed: func(t *actors.Turn, c []ds.Value) { ra.wanted(t, c[0], c[1], -1) },
	})
	t.Observe(ip.HandlePattern(ra.udpID), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) {
			ch := m.(*ip.UDPChannel)
			src, ok := ch.Src.(*ip.UDPAddress)
			if !ok || src.Port != Port {
				ra.core.Stats.Unexpected.Add(1)
				return
			}
			ra.apply(t, ra.core.Input(t.Now(), src.Host, false, ch.Body))
		},
	})
	t.Observe(ds.RecordPattern(ip.LabelUDPBinding, ds.Discard, ds.Lit(ra.udpID)), actors.Handler{
		Added: func(t *actors.Turn, _ []ds.Value) {
			ra.ready = true
			q := ra.pending
			ra.pending = nil
			for _, x := range q {
				ra.sendUDP(t, x)
			}
		},
		Removed: func(t *actors.Turn, _ []ds.Value) { ra.ready = false },
	})
}

// wanted counts an observer of dns-answer(name, type, ?) in or out.
func (ra *resolverActor) wanted(t *actors.Turn, nv, tv ds.Value, delta int) {
	if nv.Kind() != ds.KindString || tv.Kind() != ds.KindInt || tv.AsInt() < 0 || tv.AsInt() > 0xffff {
		return
	}
	written, qtype := nv.AsString(), uint16(tv.AsInt())
	name, err := CanonicalName(written)
	if err != nil || name == "" {
		bk := [2]any{written, qtype}
		if delta > 0 {
			if _, ok := ra.bad[bk]; !ok {
				ra.bad[bk] = t.Assert(&Answer{Name: written, Type: qtype, Value: ErrorValue(ErrBadName)})
			}
		} else if h, ok := ra.bad[bk]; ok {
			t.Retract(h)
			delete(ra.bad, bk)
		}
		return
	}
	k := Key{Name: name, Type: qtype}
	w := ra.wants[k]
	if delta > 0 {
		if w == nil {
			w = &want{key: k, names: map[string]int{}, answers: map[string]*ds.ValueMap[actors.Handle]{}}
			ra.wants[k] = w
		}
		w.names[written]++
		if w.names[written] == 1 {
			w.answers[written] = &ds.ValueMap[actors.Handle]{}
			if w.values != nil {
				ra.assertValues(t, w, written)
				return
			}
		}
		ra.apply(t, ra.core.Resolve(t.Now(), k))
		return
	}
	if w == nil || w.names[written] == 0 {
		return
	}
	if w.names[written]--; w.names[written] == 0 {
		delete(w.names, written)
		w.answers[written].Range(func(_ ds.Value, h actors.Handle) bool { t.Retract(h); return true })
		delete(w.answers, written)
	}
	if len(w.names) == 0 {
		w.refresh.Stop()
		delete(ra.wants, k)
	}
}

// apply carries out what the core asked for, and re-arms its timer.
func (ra *resolverActor) apply(t *actors.Turn, out Output) {
	for _, q := range out.Send {
		ra.trace("query", zap.Stringer("server", q.Server), zap.Bool("tcp", q.TCP), zap.Uint16("id", q.ID))
		if q.TCP {
			ra.sendTCP(t, q)
		} else {
			ra.sendUDP(t, q)
		}
	}
	for _, d := range out.Done {
		ra.complete(t, d)
	}
	ra.timer.Stop()
	ra.timer = nil
	if dl := ra.core.Deadline(); !dl.IsZero() {
		ra.timer = t.After(max(dl.Sub(t.Now()), 0), func(t *actors.Turn) {
			ra.timer = nil
			ra.apply(t, ra.core.Tick(t.Now()))
		})
	}
}

// complete replaces the answers of a finished question and arranges to
// ask again when they expire, for as long as they are wanted.
func (ra *resolverActor) complete(t *actors.Turn, d Completed) {
	w := ra.wants[d.Key]
	ra.trace("answer", zap.String("name", d.Key.Name), zap.Uint16("type", d.Key.Type),
		zap.Int("addrs", len(d.Result.Addrs)), zap.Strings("names", d.Result.Names), zap.String("error", d.Result.Err))
	if w == nil {
		return
	}
	var vals []ds.Value
	for _, a := range d.Result.Addrs {
		vals = append(vals, ds.Addr(a))
	}
	for _, n := range d.Result.Names {
		vals = append(vals, ds.String(n))
	}
	if d.Result.Err != "" {
		vals = []ds.Value{ErrorValue(d.Result.Err)}
	}
	w.values, w.lastErr = vals, d.Result.Err
	for written := range w.names {
		ra.assertValues(t, w, written)
	}
	wait := d.Result.Expires.Sub(t.Now())
	if wait <= 0 {
		wait = RetryAfter
	}
	w.refresh.Stop()
	w.refresh = t.After(wait, func(t *actors.Turn) {
		w.refresh = nil
		if ra.wants[w.key] == w {
			ra.apply(t, ra.core.Resolve(t.Now(), w.key))
		}
	})
}

// assertValues makes the answers asserted under one written name equal
// w.values, touching only those that change.
func (ra *resolverActor) assertValues(t *actors.Turn, w *want, written string) {
	held := w.answers[written]
	keep := ds.ValueMap[bool]{}
	for _, v := range w.values {
		keep.Set(v, true)
		if _, ok := held.Get(v); !ok {
			held.Set(v, t.Assert(&Answer{Name: written, Type: w.key.Type, Value: v}))
		}
	}
	var gone []ds.Value
	held.Range(func(v ds.Value, h actors.Handle) bool {
		if _, ok := keep.Get(v); !ok {
			t.Retract(h)
			gone = append(gone, v)
		}
		return true
	})
	for _, v := range gone {
		held.Delete(v)
	}
}

func (ra *resolverActor) sendUDP(t *actors.Turn, q Query) {
	if !ra.ready {
		if len(ra.pending) >= ra.cfg.MaxInflight {
			ra.core.Stats.Unsent.Add(1)
			ra.pending = ra.pending[1:] // its lookup times out and retries
		}
		ra.pending = append(ra.pending, q)
		return
	}
	t.Send(&ip.UDPChannel{Src: &ip.UDPHandle{ID: ra.udpID}, Dst: &ip.UDPAddress{Host: q.Server, Port: Port}, Body: q.Payload})
}

// sendTCP asks over TCP (RFC 7766): a child actor opens a connection,
// writes the query with its two-byte length, reads one answer, hands it
// back and stops, which closes the connection. It gives up after twice
// the resolver's timeout; the core has retried by then.
func (ra *resolverActor) sendTCP(t *actors.Turn, q Query) {
	ra.tcpN++
	remote := &tcp.Address{Host: q.Server, Port: Port}
	local := &tcp.Handle{ID: ds.String(fmt.Sprintf("dns-tcp-%d-%d", ra.me.ID(), ra.tcpN))}
	msg := binary.BigEndian.AppendUint16(nil, uint16(len(q.Payload)))
	msg = append(msg, q.Payload...)
	server := q.Server
	t.Spawn("dns-tcp", func(t *actors.Turn) {
		var in []byte
		// Record patterns, not literal records: the dialer recognises
		// tcp-channel(tcp-address(h, p), tcp-handle(id), ?) by its shape.
		R, L := tcp.AddressPattern(remote.AddrPort()), tcp.HandlePattern(local.ID)
		t.Observe(ds.RecordPattern(tcp.LabelChannel, R, L, ds.CaptureAny), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) {
				data := m.(*tcp.Channel).Data
				t.Send(&tcp.Consumed{Remote: remote, Local: local, N: len(data)})
				in = append(in, data...)
				if len(in) >= 2 && len(in) >= 2+int(binary.BigEndian.Uint16(in)) {
					answer := in[2 : 2+int(binary.BigEndian.Uint16(in))]
					ra.me.Inject(func(t *actors.Turn) { ra.apply(t, ra.core.Input(t.Now(), server, true, answer)) })
					t.Stop()
				}
			},
		})
		t.Observe(ds.RecordPattern(tcp.LabelWritable, R, L, ds.CaptureAny), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) {
				if n := min(m.(*tcp.Writable).N, len(msg)); n > 0 {
					t.Send(&tcp.Channel{Src: local, Dst: remote, Data: msg[:n:n]})
					msg = msg[n:]
				}
			},
		})
		t.Observe(ds.RecordPattern(tcp.LabelConnection, R, L, ds.CaptureAny), actors.Handler{
			Added: func(t *actors.Turn, c []ds.Value) {
				switch c[0].AsString() {
				case tcp.StateConnecting, tcp.StateEstablished:
				default:
					t.Stop()
				}
			},
		})
		t.After(2*ra.cfg.Timeout, func(t *actors.Turn) { t.Stop() })
	})
}

func (ra *resolverActor) trace(msg string, fs ...zap.Field) {
	if !LabelAnswer.Traced() {
		return
	}
	if ce := ra.log.Check(zap.DebugLevel, msg); ce != nil {
		ce.Write(fs...)
	}
}
