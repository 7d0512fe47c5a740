package dataspace

import (
	"strings"
)

type patKind uint8

const (
	patDiscard patKind = iota
	patBind
	patLit
	patRec
	patCaptured // Captured: a Discard that, quoted, matches capture nodes
)

// Labels of patterns as records, so that patterns can be asserted (inside
// Observe) and matched by other patterns.
var (
	labelDiscard = NewLabel("_", "dataspace")
	labelBind    = NewLabel("bind", "dataspace", "pattern")
	labelLit     = NewLabel("lit", "dataspace", "value")
	labelRec     = NewLabel("rec", "dataspace") // variadic: label name, then field patterns
	// LabelObserve labels [Observe] assertions.
	LabelObserve = NewLabel("observe", "dataspace", "pattern")
)

// Pattern is a record shape: [Discard] matches anything, [Capture] matches
// its sub-pattern and captures the value, [Lit] matches an equal value, and
// [RecordPattern] matches a record with the given label and arity whose
// fields match field patterns. Patterns are immutable and are themselves
// records, so they can travel inside [Observe] assertions.
type Pattern struct {
	kind   patKind
	sub    *Pattern   // patBind
	val    Value      // patLit
	label  *Label     // patRec
	fields []*Pattern // patRec
}

// Discard is the pattern `_`: it matches any value and captures nothing.
var Discard = &Pattern{kind: patDiscard}

// Capture returns the pattern `?sub`: it matches what sub matches and
// captures the whole matched value. Capture(Discard) captures anything.
func Capture(sub *Pattern) *Pattern {
	if sub == nil {
		sub = Discard
	}
	return &Pattern{kind: patBind, sub: sub}
}

// CaptureAny is Capture(Discard), the pattern `?`.
var CaptureAny = Capture(Discard)

// Captured is for patterns given to [ObservePattern]: there it matches a
// position where the observed pattern captures, whatever it captures. A
// listener opens a port for tcp-channel(?, tcp-listener(p), ?) but not
// for tcp-channel(tcp-address(h, q), tcp-listener(p), ?), and
// ObservePattern(tcp-channel(Captured, tcp-listener(?), _)) tells the two
// apart. Anywhere else it matches anything, like Discard.
var Captured = &Pattern{kind: patCaptured}

// Lit returns a pattern matching values equal to v.
func Lit(v Value) *Pattern { return &Pattern{kind: patLit, val: v} }

// RecordPattern returns a pattern matching records labelled l with exactly
// len(fields) fields, each matching its field pattern. A nil field pattern
// means Discard.
func RecordPattern(l *Label, fields ...*Pattern) *Pattern {
	fs := make([]*Pattern, len(fields))
	for i, f := range fields {
		if f == nil {
			f = Discard
		}
		fs[i] = f
	}
	return &Pattern{kind: patRec, label: l, fields: fs}
}

// RecordLabel returns the label a record pattern matches, or nil for other
// patterns.
func (p *Pattern) RecordLabel() *Label {
	if p.kind != patRec {
		return nil
	}
	return p.label
}

// Label implements Record.
func (p *Pattern) Label() *Label {
	switch p.kind {
	case patDiscard, patCaptured:
		return labelDiscard
	case patBind:
		return labelBind
	case patLit:
		return labelLit
	default:
		return labelRec
	}
}

// Arity implements Record.
func (p *Pattern) Arity() int {
	switch p.kind {
	case patDiscard, patCaptured:
		return 0
	case patBind, patLit:
		return 1
	default:
		return 1 + len(p.fields)
	}
}

// Field implements Record.
func (p *Pattern) Field(i int) Value {
	switch p.kind {
	case patBind:
		return Rec(p.sub)
	case patLit:
		return p.val
	case patRec:
		if i == 0 {
			return String(p.label.Name)
		}
		return Rec(p.fields[i-1])
	}
	return Value{}
}

func (p *Pattern) String() string {
	var b strings.Builder
	p.format(&b)
	return b.String()
}

func (p *Pattern) format(b *strings.Builder) {
	switch p.kind {
	case patDiscard:
		b.WriteByte('_')
	case patCaptured:
		b.WriteString("_?")
	case patBind:
		b.WriteByte('?')
		if p.sub.kind != patDiscard {
			p.sub.format(b)
		}
	case patLit:
		if p.val.kind == KindRecord {
			b.WriteByte('=') // a literal record, distinct from a record pattern
		}
		p.val.format(b)
	case patRec:
		b.WriteByte('<')
		b.WriteString(p.label.Name)
		for _, f := range p.fields {
			b.WriteByte(' ')
			f.format(b)
		}
		b.WriteByte('>')
	}
}

// Match matches v against p by direct recursion, appending captures to
// caps. It is the reference semantics the index must agree with, and is
// handy for one-off checks; routing uses the [Index].
func (p *Pattern) Match(v Value, caps []Value) ([]Value, bool) {
	switch p.kind {
	case patDiscard, patCaptured:
		return caps, true
	case patBind:
		return p.sub.Match(v, append(caps, v))
	case patLit:
		return caps, p.val.Equal(v)
	default:
		r := v.AsRecord()
		if r == nil || r.Label() != p.label || r.Arity() != len(p.fields) {
			return caps, false
		}
		for i, f := range p.fields {
			var ok bool
			if caps, ok = f.Match(r.Field(i), caps); !ok {
				return caps, false
			}
		}
		return caps, true
	}
}

// Observe is the assertion of interest: an actor observing pattern P
// asserts Observe{P}. Because it is an ordinary assertion, interest itself
// can be observed with [ObservePattern] (the basis of demand matchers).
type Observe struct {
	Pattern *Pattern
}

// Label implements Record.
func (o *Observe) Label() *Label { return LabelObserve }

// Arity implements Record.
func (o *Observe) Arity() int { return 1 }

// Field implements Record.
func (o *Observe) Field(int) Value { return Rec(o.Pattern) }

func (o *Observe) String() string { return "<observe " + o.Pattern.String() + ">" }

// ObservePattern returns a pattern over Observe assertions: it matches
// Observe{q} when the user pattern q has the shape of p, read as follows.
// A Discard in p accepts any sub-pattern of q; a literal in p requires the
// same literal in q; a record pattern in p requires a record pattern with
// the same label and arity in q; a Capture in p captures the literal that
// q has there (and matches only literals). So the TCP driver, observing
//
//	ObservePattern(tcp-channel(_, tcp-listener(?), _))
//
// learns 7 from a user who observes tcp-channel(?, tcp-listener(7), ?).
// Asserting Observe{ObservePattern(x)} is "Observe(Observe(x))".
func ObservePattern(p *Pattern) *Pattern {
	return RecordPattern(LabelObserve, quote(p))
}

// QuotePattern returns the pattern over pattern values described at
// [ObservePattern], without the outer Observe.
func QuotePattern(p *Pattern) *Pattern { return quote(p) }

func quote(p *Pattern) *Pattern {
	switch p.kind {
	case patDiscard:
		return Discard
	case patCaptured:
		return RecordPattern(labelBind, Discard)
	case patBind:
		return RecordPattern(labelLit, Capture(p.sub))
	case patLit:
		return RecordPattern(labelLit, Lit(p.val))
	default:
		fs := make([]*Pattern, 0, 1+len(p.fields))
		fs = append(fs, Lit(String(p.label.Name)))
		for _, f := range p.fields {
			fs = append(fs, quote(f))
		}
		return RecordPattern(labelRec, fs...)
	}
}

// path is a sequence of field indices from the root of a value.
type path []int

func (p path) equal(q path) bool {
	if len(p) != len(q) {
		return false
	}
	for i := range p {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

func pathsEqual(a, b []path) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].equal(b[i]) {
			return false
		}
	}
	return true
}

// class is what a record pattern requires at a path: a label and arity.
type class struct {
	label *Label
	arity int
}

func classOf(v Value) (class, bool) {
	r := v.AsRecord()
	if r == nil {
		return class{}, false
	}
	return class{r.Label(), r.Arity()}, true
}

type classAt struct {
	path  path
	class class
}

// skeleton is a pattern compiled for the index: the classes it requires in
// preorder, the paths and values of its constants, and its capture paths.
type skeleton struct {
	classes    []classAt
	constPaths []path
	constVals  []Value
	capPaths   []path
}

func compile(p *Pattern) *skeleton {
	s := &skeleton{}
	var walk func(p *Pattern, at path)
	walk = func(p *Pattern, at path) {
		switch p.kind {
		case patBind:
			s.capPaths = append(s.capPaths, at)
			walk(p.sub, at)
		case patLit:
			s.constPaths = append(s.constPaths, at)
			s.constVals = append(s.constVals, p.val)
		case patRec:
			s.classes = append(s.classes, classAt{at, class{p.label, len(p.fields)}})
			for i, f := range p.fields {
				walk(f, append(at[:len(at):len(at)], i))
			}
		}
	}
	walk(p, path{})
	return s
}
