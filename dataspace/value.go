package dataspace

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"net/netip"
	"strconv"
	"strings"
	"unsafe"
)

// Kind says which variant a [Value] holds.
type Kind uint8

// The kinds of Value.
const (
	KindInvalid Kind = iota // the zero Value
	KindBool
	KindInt
	KindString
	KindBytes
	KindAddr
	KindRecord
	KindOpaque
)

var kindNames = [...]string{"invalid", "bool", "int", "string", "bytes", "addr", "record", "opaque"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one field of a record: a small tagged union that is built,
// compared and hashed without allocating (except KindOpaque, whose boxing
// is the caller's). The zero Value is KindInvalid and matches nothing but
// itself.
//
// Bytes values alias the slice they were made from: the slice must not be
// changed while the Value is in use as an assertion or a constant.
type Value struct {
	kind Kind
	aux  uint8  // KindAddr: 4 or 16
	n, m uint64 // KindBool/KindInt: n; KindAddr: the 16 bytes, big-endian halves
	s    string // KindString/KindBytes (aliased), KindAddr zone
	x    Record // KindRecord: the record; KindOpaque: an *opaqueBox
}

// opaqueBox carries an opaque Go value in Value.x, so that a record field
// needs no interface conversion on the routing path.
type opaqueBox struct{ v any }

var labelOpaque = NewLabel("opaque", "dataspace", "value")

func (o *opaqueBox) Label() *Label   { return labelOpaque }
func (o *opaqueBox) Arity() int      { return 0 }
func (o *opaqueBox) Field(int) Value { return Value{} }

// Bool returns a boolean Value.
func Bool(b bool) Value {
	v := Value{kind: KindBool}
	if b {
		v.n = 1
	}
	return v
}

// Int returns an integer Value.
func Int(i int64) Value { return Value{kind: KindInt, n: uint64(i)} }

// Uint returns an integer Value from an unsigned integer (ports, sequence
// numbers); it compares equal to Int of the same number.
func Uint(u uint64) Value { return Value{kind: KindInt, n: u} }

// String returns a string Value.
func String(s string) Value { return Value{kind: KindString, s: s} }

// Bytes returns a bytes Value aliasing b (see [Value]).
func Bytes(b []byte) Value {
	return Value{kind: KindBytes, s: unsafe.String(unsafe.SliceData(b), len(b))}
}

// Addr returns an IP address Value. The invalid netip.Addr is allowed and
// equals only itself.
func Addr(a netip.Addr) Value {
	v := Value{kind: KindAddr}
	if a.Is4() {
		b := a.As4()
		v.aux = 4
		v.m = uint64(binary.BigEndian.Uint32(b[:]))
		return v
	}
	if !a.IsValid() {
		return v
	}
	b := a.As16()
	v.n = binary.BigEndian.Uint64(b[:8])
	v.m = binary.BigEndian.Uint64(b[8:])
	v.aux = uint8(a.BitLen() / 8)
	v.s = a.Zone()
	return v
}

// Rec returns a Value holding a nested record. A nil record gives the
// invalid Value.
func Rec(r Record) Value {
	if r == nil {
		return Value{}
	}
	return Value{kind: KindRecord, x: r}
}

// Opaque returns a Value holding any comparable Go value not covered by the
// other kinds. It is compared with == and hashed by its dynamic type and
// formatted value, so it is meant for rare control-plane fields.
func Opaque(x any) Value { return Value{kind: KindOpaque, x: &opaqueBox{x}} }

// Kind returns the variant v holds.
func (v Value) Kind() Kind { return v.kind }

// IsValid reports whether v is not the zero Value.
func (v Value) IsValid() bool { return v.kind != KindInvalid }

// AsBool returns the boolean v holds (false for other kinds).
func (v Value) AsBool() bool { return v.kind == KindBool && v.n != 0 }

// AsInt returns the integer v holds (0 for other kinds).
func (v Value) AsInt() int64 {
	if v.kind != KindInt {
		return 0
	}
	return int64(v.n)
}

// AsUint returns the integer v holds as unsigned (0 for other kinds).
func (v Value) AsUint() uint64 {
	if v.kind != KindInt {
		return 0
	}
	return v.n
}

// AsString returns the string v holds ("" for other kinds).
func (v Value) AsString() string {
	if v.kind != KindString {
		return ""
	}
	return v.s
}

// AsBytes returns the bytes v holds (nil for other kinds). The slice
// aliases the one the Value was made from.
func (v Value) AsBytes() []byte {
	if v.kind != KindBytes {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(v.s), len(v.s))
}

// AsAddr returns the address v holds (the invalid Addr for other kinds).
func (v Value) AsAddr() netip.Addr {
	if v.kind != KindAddr || v.aux == 0 {
		return netip.Addr{}
	}
	if v.aux == 4 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(v.m))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], v.n)
	binary.BigEndian.PutUint64(b[8:], v.m)
	return netip.AddrFrom16(b).WithZone(v.s)
}

// AsRecord returns the record v holds (nil for other kinds).
func (v Value) AsRecord() Record {
	if v.kind != KindRecord {
		return nil
	}
	return v.x
}

// AsOpaque returns the opaque Go value v holds (nil for other kinds).
func (v Value) AsOpaque() any {
	if v.kind != KindOpaque {
		return nil
	}
	return v.x.(*opaqueBox).v
}

// Equal reports whether v and w are structurally equal.
func (v Value) Equal(w Value) bool {
	if v.kind != w.kind {
		return false
	}
	switch v.kind {
	case KindInvalid:
		return true
	case KindBool, KindInt:
		return v.n == w.n
	case KindString, KindBytes:
		return v.s == w.s
	case KindAddr:
		return v.aux == w.aux && v.n == w.n && v.m == w.m && v.s == w.s
	case KindRecord:
		return RecordsEqual(v.x, w.x)
	default:
		return opaqueEqual(v.x.(*opaqueBox).v, w.x.(*opaqueBox).v)
	}
}

func opaqueEqual(a, b any) (eq bool) {
	defer func() {
		if recover() != nil {
			eq = false
		}
	}()
	return a == b
}

// RecordsEqual reports whether two records have the same label, arity and
// (structurally) equal fields.
func RecordsEqual(a, b Record) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if sameObject(a, b) {
		return true // the same record (retracting what was asserted)
	}
	if a.Label() != b.Label() {
		return false
	}
	n := a.Arity()
	if n != b.Arity() {
		return false
	}
	for i := 0; i < n; i++ {
		if !a.Field(i).Equal(b.Field(i)) {
			return false
		}
	}
	return true
}

// sameObject reports whether a and b hold the very same object: the same
// dynamic type and the same data word. It never compares contents, so it
// is safe for records of any type (== would panic on an uncomparable one).
func sameObject(a, b Record) bool {
	wa := (*[2]unsafe.Pointer)(unsafe.Pointer(&a))
	wb := (*[2]unsafe.Pointer)(unsafe.Pointer(&b))
	return wa[0] == wb[0] && wa[1] == wb[1]
}

var hashSeed = maphash.MakeSeed()

// mix folds x into the running hash h (a multiply-xorshift step).
func mix(h, x uint64) uint64 {
	h ^= x
	h *= 0x9e3779b97f4a7c15
	h ^= h >> 29
	return h
}

// Hash returns a structural hash of v: equal Values hash equally.
func (v Value) Hash() uint64 { return v.hashInto(0x243f6a8885a308d3) }

func (v Value) hashInto(h uint64) uint64 {
	h = mix(h, uint64(v.kind))
	switch v.kind {
	case KindBool, KindInt:
		h = mix(h, v.n)
	case KindString, KindBytes:
		h = mix(h, maphash.String(hashSeed, v.s))
	case KindAddr:
		h = mix(mix(h, v.n), v.m)
		if v.s != "" {
			h = mix(h, maphash.String(hashSeed, v.s))
		}
	case KindRecord:
		h = hashRecord(h, v.x)
	case KindOpaque:
		o := v.x.(*opaqueBox).v
		h = mix(h, maphash.String(hashSeed, fmt.Sprintf("%T:%v", o, o)))
	}
	return h
}

// HashRecord returns a structural hash of r, consistent with [RecordsEqual].
func HashRecord(r Record) uint64 { return hashRecord(0x13198a2e03707344, r) }

func hashRecord(h uint64, r Record) uint64 {
	h = mix(h, uint64(r.Label().id))
	n := r.Arity()
	h = mix(h, uint64(n))
	for i := 0; i < n; i++ {
		h = r.Field(i).hashInto(h)
	}
	return h
}

// String formats v in a Preserves-like text form: records as
// <label field ...>, strings quoted, bytes as #x"..".
func (v Value) String() string {
	var b strings.Builder
	v.format(&b)
	return b.String()
}

func (v Value) format(b *strings.Builder) {
	switch v.kind {
	case KindInvalid:
		b.WriteString("#invalid")
	case KindBool:
		if v.n != 0 {
			b.WriteString("#t")
		} else {
			b.WriteString("#f")
		}
	case KindInt:
		b.WriteString(strconv.FormatInt(int64(v.n), 10))
	case KindString:
		b.WriteString(strconv.Quote(v.s))
	case KindBytes:
		const max = 32
		s := v.s
		b.WriteString(`#x"`)
		for i := 0; i < len(s) && i < max; i++ {
			fmt.Fprintf(b, "%02x", s[i])
		}
		if len(s) > max {
			fmt.Fprintf(b, "…(%d bytes)", len(s))
		}
		b.WriteByte('"')
	case KindAddr:
		if v.aux == 0 {
			b.WriteString("#addr-invalid")
		} else {
			b.WriteString(v.AsAddr().String())
		}
	case KindRecord:
		formatRecord(b, v.x)
	case KindOpaque:
		fmt.Fprintf(b, "#opaque(%v)", v.x.(*opaqueBox).v)
	}
}

// FormatRecord formats r as <label field ...>.
func FormatRecord(r Record) string {
	var b strings.Builder
	formatRecord(&b, r)
	return b.String()
}

func formatRecord(b *strings.Builder, r Record) {
	if r == nil {
		b.WriteString("#nil")
		return
	}
	if p, ok := r.(*Pattern); ok {
		b.WriteString(p.String())
		return
	}
	b.WriteByte('<')
	b.WriteString(r.Label().Name)
	for i, n := 0, r.Arity(); i < n; i++ {
		b.WriteByte(' ')
		r.Field(i).format(b)
	}
	b.WriteByte('>')
}
