package dataspace

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Label names a record type. Labels are interned: one *Label per name, so
// label comparison is pointer comparison. Declare them once, at package
// level, with [NewLabel].
type Label struct {
	// Name is the label as written in traces and patterns, e.g. "tcp-packet".
	Name string
	// Layer groups labels for tracing, e.g. "tcp"; see package actors.
	Layer string
	// Fields names the record's fields in order; its length is the arity
	// of records with this label (variadic labels, such as the ones of
	// patterns, leave it empty).
	Fields []string

	id     uint32
	traced atomic.Bool
}

var labels struct {
	sync.Mutex
	byName map[string]*Label
	all    []*Label
}

// NewLabel declares the label name in the given trace layer with the given
// field names. Declaring a name twice is a programming error and panics.
func NewLabel(name, layer string, fields ...string) *Label {
	labels.Lock()
	defer labels.Unlock()
	if labels.byName == nil {
		labels.byName = make(map[string]*Label)
	}
	if _, dup := labels.byName[name]; dup {
		panic(fmt.Sprintf("dataspace: label %q declared twice", name))
	}
	l := &Label{Name: name, Layer: layer, Fields: fields, id: uint32(len(labels.all) + 1)}
	labels.byName[name] = l
	labels.all = append(labels.all, l)
	return l
}

// LookupLabel returns the label declared with name, or nil.
func LookupLabel(name string) *Label {
	labels.Lock()
	defer labels.Unlock()
	return labels.byName[name]
}

// Labels returns every declared label, in declaration order.
func Labels() []*Label {
	labels.Lock()
	defer labels.Unlock()
	return append([]*Label(nil), labels.all...)
}

// Arity is the number of fields of records with this label.
func (l *Label) Arity() int { return len(l.Fields) }

// SetTraced switches tracing of records with this label on or off.
func (l *Label) SetTraced(on bool) { l.traced.Store(on) }

// Traced reports whether records with this label are traced. It is one
// atomic load, cheap enough for every packet.
func (l *Label) Traced() bool { return l.traced.Load() }

// Record is a labelled tuple: the unit of assertion and message. Protocol
// packages implement it on a pointer to a struct, returning fields as
// Values; nested records are returned with [Rec] of a pointer into the
// parent, so reading a field allocates nothing.
//
// A record must not change once it has been asserted or sent.
type Record interface {
	Label() *Label
	Arity() int
	Field(i int) Value
}

// Tuple is a generic record: a label and a slice of field values. It suits
// tests, demos and ad-hoc records; protocol packages declare typed structs.
type Tuple struct {
	L *Label
	F []Value
}

// NewTuple returns a Tuple with label l and the given fields.
func NewTuple(l *Label, fields ...Value) *Tuple { return &Tuple{L: l, F: fields} }

// Label implements Record.
func (t *Tuple) Label() *Label { return t.L }

// Arity implements Record.
func (t *Tuple) Arity() int { return len(t.F) }

// Field implements Record.
func (t *Tuple) Field(i int) Value { return t.F[i] }

func (t *Tuple) String() string { return FormatRecord(t) }
