package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	ds "netspace/dataspace"
)

// Limits of what a decoder accepts. They bound the work and memory one
// frame can cost the receiver.
const (
	// MaxDepth is the deepest nesting of records and patterns.
	MaxDepth = 16
	// MaxFields is the most fields a record (or record pattern) may have.
	MaxFields = 64
	// MaxString is the longest label name or string value.
	MaxString = 4 << 10
	// MaxBytes is the longest bytes value (a tcp-channel chunk, a
	// datagram).
	MaxBytes = 256 << 10
	// MaxFrame is the largest frame either end sends or accepts.
	MaxFrame = MaxBytes + 64<<10
)

// ErrOpaque is returned for an opaque value: a Go value has no meaning in
// another process, so it never crosses the link.
var ErrOpaque = errors.New("wire: opaque values are not transferable")

// Value tags. Records carry their label by name: labels are interned per
// process, and both ends resolve the name with dataspace.LookupLabel.
const (
	tagFalse   = 1
	tagTrue    = 2
	tagInt     = 3 // uvarint of the value's 64 bits
	tagString  = 4 // uvarint length, bytes
	tagBytes   = 5 // uvarint length, bytes
	tagAddr4   = 6 // 4 bytes
	tagAddr16  = 7 // 16 bytes, then the zone as a string
	tagNoAddr  = 8 // the invalid netip.Addr
	tagRecord  = 9 // label name, uvarint arity, fields
	tagInvalid = 10

	// Patterns.
	tagDiscard  = 20
	tagCapture  = 21 // sub-pattern
	tagLit      = 22 // value
	tagRecPat   = 23 // label name, uvarint arity, field patterns
	tagCaptured = 24
)

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendValue appends the encoding of v to b.
func AppendValue(b []byte, v ds.Value) ([]byte, error) { return appendValue(b, v, 0) }

func appendValue(b []byte, v ds.Value, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return b, errors.New("wire: value nested too deeply")
	}
	switch v.Kind() {
	case ds.KindInvalid:
		return append(b, tagInvalid), nil
	case ds.KindBool:
		if v.AsBool() {
			return append(b, tagTrue), nil
		}
		return append(b, tagFalse), nil
	case ds.KindInt:
		return binary.AppendUvarint(append(b, tagInt), v.AsUint()), nil
	case ds.KindString:
		if len(v.AsString()) > MaxString {
			return b, errors.New("wire: string too long")
		}
		return appendString(append(b, tagString), v.AsString()), nil
	case ds.KindBytes:
		p := v.AsBytes()
		if len(p) > MaxBytes {
			return b, fmt.Errorf("wire: %d bytes is over the %d-byte limit", len(p), MaxBytes)
		}
		b = binary.AppendUvarint(append(b, tagBytes), uint64(len(p)))
		return append(b, p...), nil
	case ds.KindAddr:
		a := v.AsAddr()
		switch {
		case !a.IsValid():
			return append(b, tagNoAddr), nil
		case a.Is4():
			a4 := a.As4()
			return append(append(b, tagAddr4), a4[:]...), nil
		default:
			a16 := a.As16()
			b = append(append(b, tagAddr16), a16[:]...)
			return appendString(b, a.Zone()), nil
		}
	case ds.KindRecord:
		return appendRecord(b, v.AsRecord(), depth+1)
	default:
		return b, ErrOpaque
	}
}

// AppendRecord appends the encoding of r (as a record value) to b.
func AppendRecord(b []byte, r ds.Record) ([]byte, error) { return appendRecord(b, r, 0) }

func appendRecord(b []byte, r ds.Record, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return b, errors.New("wire: record nested too deeply")
	}
	n := r.Arity()
	if n > MaxFields {
		return b, errors.New("wire: record has too many fields")
	}
	b = appendString(append(b, tagRecord), r.Label().Name)
	b = binary.AppendUvarint(b, uint64(n))
	var err error
	for i := 0; i < n; i++ {
		if b, err = appendValue(b, r.Field(i), depth); err != nil {
			return b, err
		}
	}
	return b, nil
}

// AppendPattern appends the encoding of p to b.
func AppendPattern(b []byte, p *ds.Pattern) ([]byte, error) { return appendPattern(b, p, 0) }

func appendPattern(b []byte, p *ds.Pattern, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return b, errors.New("wire: pattern nested too deeply")
	}
	if p == nil {
		return append(b, tagDiscard), nil
	}
	if p == ds.Captured {
		return append(b, tagCaptured), nil
	}
	if l := p.RecordLabel(); l != nil {
		n := p.Arity() - 1
		if n > MaxFields {
			return b, errors.New("wire: pattern has too many fields")
		}
		b = appendString(append(b, tagRecPat), l.Name)
		b = binary.AppendUvarint(b, uint64(n))
		var err error
		for i := 1; i <= n; i++ {
			if b, err = appendPattern(b, subPattern(p.Field(i)), depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	}
	switch p.Label() {
	case labelBind:
		if sub := subPattern(p.Field(0)); sub != nil {
			return appendPattern(append(b, tagCapture), sub, depth+1)
		}
	case labelLit:
		return appendValue(append(b, tagLit), p.Field(0), depth+1)
	case labelDiscard:
		return append(b, tagDiscard), nil
	}
	return b, errors.New("wire: unknown pattern form")
}

// The labels of the pattern forms, as package dataspace declares them.
var (
	labelBind    = ds.LookupLabel("bind")
	labelLit     = ds.LookupLabel("lit")
	labelDiscard = ds.LookupLabel("_")
)

// subPattern returns the pattern a pattern's field holds, or nil.
func subPattern(v ds.Value) *ds.Pattern {
	p, _ := v.AsRecord().(*ds.Pattern)
	return p
}

// Decoder reads values, records and patterns from a frame, refusing
// anything outside the limits. Bytes values alias the frame.
type Decoder struct {
	buf []byte
	err error
	// Records builds records from their label and fields; nil means
	// [Registry.Build] of the default registry.
	Records *Registry
}

// NewDecoder returns a decoder over b.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Err returns the first error met, if any.
func (d *Decoder) Err() error { return d.err }

// Len returns the number of bytes not yet read.
func (d *Decoder) Len() int { return len(d.buf) }

func (d *Decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("wire: "+format, args...)
	}
	d.buf = nil
}

// Byte reads one byte.
func (d *Decoder) Byte() byte {
	if len(d.buf) < 1 {
		d.fail("short frame")
		return 0
	}
	c := d.buf[0]
	d.buf = d.buf[1:]
	return c
}

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint() uint64 {
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

// Count reads a count and checks it against max.
func (d *Decoder) Count(max int) int {
	v := d.Uvarint()
	if v > uint64(max) {
		d.fail("count %d over the limit %d", v, max)
		return 0
	}
	return int(v)
}

func (d *Decoder) raw(n int) []byte {
	if n > len(d.buf) {
		d.fail("short frame")
		return nil
	}
	p := d.buf[:n:n]
	d.buf = d.buf[n:]
	return p
}

// String reads a string of at most MaxString bytes.
func (d *Decoder) String() string { return string(d.raw(d.Count(MaxString))) }

// Bytes reads a bytes field of at most MaxBytes bytes, aliasing the frame.
func (d *Decoder) Bytes() []byte { return d.raw(d.Count(MaxBytes)) }

// Value reads a value.
func (d *Decoder) Value() ds.Value { return d.value(0) }

func (d *Decoder) value(depth int) ds.Value {
	if depth > MaxDepth {
		d.fail("value nested too deeply")
		return ds.Value{}
	}
	switch tag := d.Byte(); tag {
	case tagFalse:
		return ds.Bool(false)
	case tagTrue:
		return ds.Bool(true)
	case tagInt:
		return ds.Uint(d.Uvarint())
	case tagString:
		return ds.String(d.String())
	case tagBytes:
		return ds.Bytes(d.Bytes())
	case tagAddr4:
		p := d.raw(4)
		if p == nil {
			return ds.Value{}
		}
		return ds.Addr(netip.AddrFrom4([4]byte(p)))
	case tagAddr16:
		p := d.raw(16)
		if p == nil {
			return ds.Value{}
		}
		a := netip.AddrFrom16([16]byte(p))
		if z := d.String(); z != "" {
			a = a.WithZone(z)
		}
		return ds.Addr(a)
	case tagNoAddr:
		return ds.Addr(netip.Addr{})
	case tagRecord:
		if r := d.record(depth + 1); r != nil {
			return ds.Rec(r)
		}
		return ds.Value{}
	case tagInvalid:
		return ds.Value{}
	default:
		if d.err == nil {
			d.fail("unknown value tag %d", tag)
		}
		return ds.Value{}
	}
}

// Record reads a record value (a value that must be a record).
func (d *Decoder) Record() ds.Record {
	if tag := d.Byte(); tag != tagRecord {
		d.fail("want a record, got tag %d", tag)
		return nil
	}
	return d.record(1)
}

func (d *Decoder) label() *ds.Label {
	name := d.String()
	if d.err != nil {
		return nil
	}
	l := ds.LookupLabel(name)
	if l == nil {
		d.fail("unknown label %q", name)
	}
	return l
}

func (d *Decoder) record(depth int) ds.Record {
	if depth > MaxDepth {
		d.fail("record nested too deeply")
		return nil
	}
	l := d.label()
	n := d.Count(MaxFields)
	if d.err != nil {
		return nil
	}
	fields := make([]ds.Value, n)
	for i := range fields {
		fields[i] = d.value(depth)
	}
	if d.err != nil {
		return nil
	}
	reg := d.Records
	if reg == nil {
		reg = DefaultRegistry
	}
	r, err := reg.Build(l, fields)
	if err != nil {
		d.fail("%v", err)
		return nil
	}
	return r
}

// Pattern reads a pattern.
func (d *Decoder) Pattern() *ds.Pattern { return d.pattern(0) }

func (d *Decoder) pattern(depth int) *ds.Pattern {
	if depth > MaxDepth {
		d.fail("pattern nested too deeply")
		return nil
	}
	switch tag := d.Byte(); tag {
	case tagDiscard:
		return ds.Discard
	case tagCaptured:
		return ds.Captured
	case tagCapture:
		sub := d.pattern(depth + 1)
		if sub == nil {
			return nil
		}
		return ds.Capture(sub)
	case tagLit:
		v := d.value(depth + 1)
		if d.err != nil {
			return nil
		}
		return ds.Lit(v)
	case tagRecPat:
		l := d.label()
		n := d.Count(MaxFields)
		if d.err != nil {
			return nil
		}
		if err := checkArity(l, n); err != nil {
			d.fail("%v", err)
			return nil
		}
		fs := make([]*ds.Pattern, n)
		for i := range fs {
			if fs[i] = d.pattern(depth + 1); fs[i] == nil {
				return nil
			}
		}
		return ds.RecordPattern(l, fs...)
	default:
		if d.err == nil {
			d.fail("unknown pattern tag %d", tag)
		}
		return nil
	}
}

// checkArity refuses an arity that differs from the label's declared
// fields (labels declared without field names are variadic).
func checkArity(l *ds.Label, n int) error {
	if len(l.Fields) > 0 && n != len(l.Fields) {
		return fmt.Errorf("%s has %d fields, not %d", l.Name, len(l.Fields), n)
	}
	return nil
}
