package wire

import (
	"fmt"
	"math"

	ds "netspace/dataspace"
	"netspace/dns"
	"netspace/ip"
	"netspace/tcp"
)

// Builder makes the typed record of one label from decoded fields, or
// refuses fields of the wrong kind or range.
type Builder func(f []ds.Value) (ds.Record, error)

// Registry maps labels to the typed records that stand for them. Actors
// in the stack type-assert the messages they receive (the TCP connection
// actor reads m.(*tcp.Channel)), so a record that crosses the link must
// arrive as the Go type its label's package declares, not as a generic
// dataspace.Tuple. Labels without a builder decode as Tuples, which are
// equal to any typed record with the same label and fields.
type Registry struct {
	builders map[*ds.Label]Builder
	sendable map[*ds.Label]bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{builders: map[*ds.Label]Builder{}, sendable: map[*ds.Label]bool{}}
}

// Register sets the builder of label l. sendable says whether a remote
// client may send records with this label as messages into the stack.
// Registries are set up before use and are then read-only.
func (r *Registry) Register(l *ds.Label, sendable bool, b Builder) {
	r.builders[l] = b
	if sendable {
		r.sendable[l] = true
	}
}

// Sendable reports whether a remote client may send messages labelled l.
// Only records with a typed builder are: the stack's actors type-assert
// what they receive, and raw frames or packets (ethernet-packet,
// ip-packet, tcp-packet) are never for a remote user to inject.
func (r *Registry) Sendable(l *ds.Label) bool { return r.sendable[l] }

// Build returns the record of label l with fields f: the typed record if
// l has a builder, else a Tuple (after checking the arity).
func (r *Registry) Build(l *ds.Label, f []ds.Value) (ds.Record, error) {
	if b := r.builders[l]; b != nil {
		if err := checkArity(l, len(f)); err != nil {
			return nil, err
		}
		rec, err := b(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.Name, err)
		}
		return rec, nil
	}
	if err := checkArity(l, len(f)); err != nil {
		return nil, err
	}
	return ds.NewTuple(l, f...), nil
}

// DefaultRegistry knows the records of tcp, udp and dns that users speak.
var DefaultRegistry = defaultRegistry()

func want(v ds.Value, k ds.Kind, what string) error {
	if v.Kind() != k {
		return fmt.Errorf("%s must be %s, not %s", what, k, v.Kind())
	}
	return nil
}

func port(v ds.Value) (uint16, error) {
	if err := want(v, ds.KindInt, "port"); err != nil {
		return 0, err
	}
	if n := v.AsInt(); n < 0 || n > math.MaxUint16 {
		return 0, fmt.Errorf("port %d out of range", n)
	}
	return uint16(v.AsInt()), nil
}

func count(v ds.Value) (int, error) {
	if err := want(v, ds.KindInt, "count"); err != nil {
		return 0, err
	}
	if n := v.AsInt(); n < 0 || n > math.MaxInt32 {
		return 0, fmt.Errorf("count %d out of range", n)
	}
	return int(v.AsInt()), nil
}

// ends checks the two record fields that name a connection's ends.
func ends(f []ds.Value) (ds.Record, ds.Record, error) {
	if err := want(f[0], ds.KindRecord, "first end"); err != nil {
		return nil, nil, err
	}
	if err := want(f[1], ds.KindRecord, "second end"); err != nil {
		return nil, nil, err
	}
	return f[0].AsRecord(), f[1].AsRecord(), nil
}

func defaultRegistry() *Registry {
	r := NewRegistry()
	// TCP.
	r.Register(tcp.LabelAddress, false, func(f []ds.Value) (ds.Record, error) {
		if err := want(f[0], ds.KindAddr, "host"); err != nil {
			return nil, err
		}
		p, err := port(f[1])
		return &tcp.Address{Host: f[0].AsAddr(), Port: p}, err
	})
	r.Register(tcp.LabelListener, false, func(f []ds.Value) (ds.Record, error) {
		p, err := port(f[0])
		return &tcp.Listener{Port: p}, err
	})
	r.Register(tcp.LabelHandle, false, func(f []ds.Value) (ds.Record, error) {
		return &tcp.Handle{ID: f[0]}, nil
	})
	r.Register(tcp.LabelListening, false, func(f []ds.Value) (ds.Record, error) {
		p, err := port(f[0])
		return &tcp.Listening{Port: p}, err
	})
	r.Register(tcp.LabelChannel, true, func(f []ds.Value) (ds.Record, error) {
		src, dst, err := ends(f)
		if err != nil {
			return nil, err
		}
		if err := want(f[2], ds.KindBytes, "bytes"); err != nil {
			return nil, err
		}
		return &tcp.Channel{Src: src, Dst: dst, Data: f[2].AsBytes()}, nil
	})
	r.Register(tcp.LabelConnection, false, func(f []ds.Value) (ds.Record, error) {
		rm, lc, err := ends(f)
		if err != nil {
			return nil, err
		}
		return &tcp.Connection{Remote: rm, Local: lc, State: f[2].AsString()}, want(f[2], ds.KindString, "state")
	})
	r.Register(tcp.LabelConsumed, true, func(f []ds.Value) (ds.Record, error) {
		rm, lc, err := ends(f)
		if err != nil {
			return nil, err
		}
		n, err := count(f[2])
		return &tcp.Consumed{Remote: rm, Local: lc, N: n}, err
	})
	r.Register(tcp.LabelWritable, false, func(f []ds.Value) (ds.Record, error) {
		rm, lc, err := ends(f)
		if err != nil {
			return nil, err
		}
		n, err := count(f[2])
		return &tcp.Writable{Remote: rm, Local: lc, N: n}, err
	})
	r.Register(tcp.LabelClose, true, func(f []ds.Value) (ds.Record, error) {
		rm, lc, err := ends(f)
		if err != nil {
			return nil, err
		}
		return &tcp.Close{Remote: rm, Local: lc, How: f[2].AsString()}, want(f[2], ds.KindString, "how")
	})
	r.Register(tcp.LabelSet, true, func(f []ds.Value) (ds.Record, error) {
		rm, lc, err := ends(f)
		if err != nil {
			return nil, err
		}
		if err := want(f[2], ds.KindString, "option"); err != nil {
			return nil, err
		}
		return &tcp.Set{Remote: rm, Local: lc, Option: f[2].AsString(), Value: f[3].AsInt()}, want(f[3], ds.KindInt, "value")
	})
	// UDP.
	r.Register(ip.LabelUDPAddress, false, func(f []ds.Value) (ds.Record, error) {
		if err := want(f[0], ds.KindAddr, "host"); err != nil {
			return nil, err
		}
		p, err := port(f[1])
		return &ip.UDPAddress{Host: f[0].AsAddr(), Port: p}, err
	})
	r.Register(ip.LabelUDPListener, false, func(f []ds.Value) (ds.Record, error) {
		p, err := port(f[0])
		return &ip.UDPListener{Port: p}, err
	})
	r.Register(ip.LabelUDPHandle, false, func(f []ds.Value) (ds.Record, error) {
		return &ip.UDPHandle{ID: f[0]}, nil
	})
	r.Register(ip.LabelUDPBinding, false, func(f []ds.Value) (ds.Record, error) {
		p, err := port(f[0])
		return &ip.UDPBinding{Port: p, Handle: f[1]}, err
	})
	r.Register(ip.LabelUDPChannel, true, func(f []ds.Value) (ds.Record, error) {
		src, dst, err := ends(f)
		if err != nil {
			return nil, err
		}
		if err := want(f[2], ds.KindBytes, "body"); err != nil {
			return nil, err
		}
		return &ip.UDPChannel{Src: src, Dst: dst, Body: f[2].AsBytes()}, nil
	})
	// DNS.
	r.Register(dns.LabelAnswer, false, func(f []ds.Value) (ds.Record, error) {
		if err := want(f[0], ds.KindString, "name"); err != nil {
			return nil, err
		}
		t, err := port(f[1])
		return &dns.Answer{Name: f[0].AsString(), Type: t, Value: f[2]}, err
	})
	r.Register(dns.LabelError, false, func(f []ds.Value) (ds.Record, error) {
		return &dns.Error{Code: f[0].AsString()}, want(f[0], ds.KindString, "code")
	})
	r.Register(dns.LabelServer, false, func(f []ds.Value) (ds.Record, error) {
		return &dns.Server{Addr: f[0].AsAddr()}, want(f[0], ds.KindAddr, "addr")
	})
	r.Register(dns.LabelName, false, func(f []ds.Value) (ds.Record, error) {
		if err := want(f[0], ds.KindString, "name"); err != nil {
			return nil, err
		}
		return &dns.Name{Name: f[0].AsString(), Addr: f[1].AsAddr()}, want(f[1], ds.KindAddr, "addr")
	})
	return r
}
