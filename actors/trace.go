package actors

import (
	"fmt"
	"sort"
	"strings"
	"sync/atomic"

	ds "netspace/dataspace"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Tracer logs dataspace events through zap: every assert, retract and
// message of a traced label, and (layer "actors") every spawn and stop.
// Crashes are always logged, at Error. Tracing is switched per layer — the
// Layer of each record's label, e.g. "ip" or "tcp" — and costs one atomic
// load per event when off. Label switches are process-wide: two systems in
// one process trace the same layers.
type Tracer struct {
	log    *zap.Logger
	actors atomic.Bool
}

func newTracer(log *zap.Logger) *Tracer { return &Tracer{log: log.Named("trace")} }

// Layers returns every layer that can be traced: "actors" and the layers of
// all declared labels.
func (t *Tracer) Layers() []string {
	set := map[string]bool{"actors": true}
	for _, l := range ds.Labels() {
		set[l.Layer] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Enable switches tracing on for the given layers ("all" means every
// layer). An unknown layer is an error naming the known ones.
func (t *Tracer) Enable(layers ...string) error {
	known := t.Layers()
	want := map[string]bool{}
	for _, l := range layers {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if l == "all" {
			for _, k := range known {
				want[k] = true
			}
			continue
		}
		i := sort.SearchStrings(known, l)
		if i == len(known) || known[i] != l {
			return fmt.Errorf("unknown trace layer %q (known: all, %s)", l, strings.Join(known, ", "))
		}
		want[l] = true
	}
	if want["actors"] {
		t.actors.Store(true)
	}
	for _, l := range ds.Labels() {
		if want[l.Layer] {
			l.SetTraced(true)
		}
	}
	return nil
}

// Disable switches all tracing off.
func (t *Tracer) Disable() {
	t.actors.Store(false)
	for _, l := range ds.Labels() {
		l.SetTraced(false)
	}
}

func (t *Tracer) actorsOn() bool { return t.actors.Load() }

// on reports whether events about r are traced. An Observe is traced when
// the label it observes is.
func (t *Tracer) on(r ds.Record) bool {
	l := r.Label()
	if l.Traced() {
		return true
	}
	if l == ds.LabelObserve {
		if o, ok := r.(*ds.Observe); ok {
			if pl := o.Pattern.RecordLabel(); pl != nil {
				return pl.Traced()
			}
		}
	}
	return false
}

func (t *Tracer) record(op string, a *Actor, r ds.Record) {
	if ce := t.log.Check(zapcore.DebugLevel, op); ce != nil {
		ce.Write(zap.Uint64("actor", a.id), zap.String("name", a.name),
			zap.String("label", r.Label().Name), zap.Object("record", RecordFields{r}))
	}
}

func (t *Tracer) spawn(a, parent *Actor) {
	if ce := t.log.Check(zapcore.DebugLevel, "spawn"); ce != nil {
		fs := []zap.Field{zap.Uint64("actor", a.id), zap.String("name", a.name)}
		if parent != nil {
			fs = append(fs, zap.Uint64("parent", parent.id), zap.String("parent_name", parent.name))
		}
		ce.Write(fs...)
	}
}

func (t *Tracer) lifecycle(op string, a *Actor) {
	if ce := t.log.Check(zapcore.DebugLevel, op); ce != nil {
		ce.Write(zap.Uint64("actor", a.id), zap.String("name", a.name))
	}
}

// RecordFields renders a record's fields as a zap object, named by the
// label's field names. A record that implements zapcore.ObjectMarshaler
// renders itself (the ethernet records print MACs as MACs).
type RecordFields struct{ R ds.Record }

// MarshalLogObject implements zapcore.ObjectMarshaler.
func (rf RecordFields) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	r := rf.R
	if m, ok := r.(zapcore.ObjectMarshaler); ok {
		return m.MarshalLogObject(enc)
	}
	if p, ok := r.(*ds.Pattern); ok {
		enc.AddString("pattern", p.String())
		return nil
	}
	names := r.Label().Fields
	for i, n := 0, r.Arity(); i < n; i++ {
		key := fmt.Sprintf("f%d", i)
		if i < len(names) {
			key = names[i]
		}
		v := r.Field(i)
		switch v.Kind() {
		case ds.KindInt:
			enc.AddInt64(key, v.AsInt())
		case ds.KindBool:
			enc.AddBool(key, v.AsBool())
		case ds.KindString:
			enc.AddString(key, v.AsString())
		case ds.KindBytes:
			enc.AddInt(key+"_len", len(v.AsBytes()))
			enc.AddString(key, v.String())
		case ds.KindRecord:
			if p, ok := v.AsRecord().(*ds.Pattern); ok {
				enc.AddString(key, p.String())
			} else if err := enc.AddObject(key, RecordFields{v.AsRecord()}); err != nil {
				return err
			}
		default:
			enc.AddString(key, v.String())
		}
	}
	return nil
}
