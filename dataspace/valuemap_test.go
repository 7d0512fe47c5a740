package dataspace

import (
	"bytes"
	"net/netip"
	"sort"
	"testing"
)

// longBytes returns two 40-byte values that differ only in their last
// byte, so that their String forms (abbreviated after 32 bytes) are equal.
func longBytes() (Value, Value) {
	x, y := bytes.Repeat([]byte{7}, 40), bytes.Repeat([]byte{7}, 40)
	y[39] = 8
	return Bytes(x), Bytes(y)
}

func TestValueMapLongBytesKeysAreDistinct(t *testing.T) {
	x, y := longBytes()
	if x.String() != y.String() {
		t.Fatalf("the premise fails: %s and %s print differently", x, y)
	}
	var m ValueMap[int]
	m.Set(x, 1)
	m.Set(y, 2)
	if m.Len() != 2 {
		t.Fatalf("Len = %d; want 2", m.Len())
	}
	if v, ok := m.Get(x); !ok || v != 1 {
		t.Errorf("Get(x) = %d, %v; want 1, true", v, ok)
	}
	if v, ok := m.Get(y); !ok || v != 2 {
		t.Errorf("Get(y) = %d, %v; want 2, true", v, ok)
	}
	m.Delete(x)
	if _, ok := m.Get(x); ok || m.Len() != 1 {
		t.Errorf("after Delete(x): present %v, Len %d; want false, 1", ok, m.Len())
	}
	if v, ok := m.Get(y); !ok || v != 2 {
		t.Errorf("Delete(x) disturbed y: %d, %v", v, ok)
	}
}

func TestValueMapStructuralEquality(t *testing.T) {
	var m ValueMap[string]
	m.Set(Int(5), "five")
	m.Set(Uint(5), "FIVE") // the same key
	m.Set(String("5"), "string")
	m.Set(Bytes([]byte("5")), "bytes")
	m.Set(Addr(netip.MustParseAddr("192.0.2.5")), "addr")
	m.Set(Rec(a(Int(1), String("x"))), "record")
	m.Set(Value{}, "invalid")
	if m.Len() != 6 {
		t.Fatalf("Len = %d; want 6 distinct keys", m.Len())
	}
	for k, want := range map[Value]string{
		Int(5):                                 "FIVE",
		String("5"):                            "string",
		Bytes([]byte{'5'}):                     "bytes",
		Addr(netip.MustParseAddr("192.0.2.5")): "addr",
		Rec(a(Int(1), String("x"))):            "record",
		Value{}:                                "invalid",
	} {
		if v, ok := m.Get(k); !ok || v != want {
			t.Errorf("Get(%s) = %q, %v; want %q", k, v, ok, want)
		}
	}
	// A typed record equal to a Tuple is the same key.
	p := &pkt{src: netip.MustParseAddr("192.0.2.1"), dst: netip.MustParseAddr("192.0.2.2"), sport: 1, dport: 2, body: []byte("b")}
	m.Set(Rec(p), "pkt")
	tup := NewTuple(lPkt, Addr(p.src), Int(1), Addr(p.dst), Int(2), Bytes([]byte("b")))
	if v, ok := m.Get(Rec(tup)); !ok || v != "pkt" {
		t.Errorf("Get(tuple equal to a typed record) = %q, %v; want pkt", v, ok)
	}
	for _, k := range []Value{Int(6), Bool(true), Rec(a(Int(1), String("y")))} {
		if _, ok := m.Get(k); ok {
			t.Errorf("Get(%s) found a key never set", k)
		}
	}
	m.Delete(Int(99)) // absent: no change
	if m.Len() != 7 {
		t.Errorf("Len = %d after deleting an absent key; want 7", m.Len())
	}
}

func TestValueMapRange(t *testing.T) {
	var m ValueMap[int64]
	var empty ValueMap[int64]
	empty.Range(func(Value, int64) bool { t.Fatal("Range over an empty map called f"); return false })
	empty.Delete(Int(1))
	for i := int64(0); i < 10; i++ {
		m.Set(Int(i), i*i)
	}
	var seen []int
	m.Range(func(k Value, v int64) bool {
		if v != k.AsInt()*k.AsInt() {
			t.Errorf("Range gave %s → %d", k, v)
		}
		seen = append(seen, int(k.AsInt()))
		return true
	})
	sort.Ints(seen)
	if len(seen) != 10 || seen[0] != 0 || seen[9] != 9 {
		t.Errorf("Range saw %v; want 0..9", seen)
	}
	n := 0
	m.Range(func(Value, int64) bool { n++; return n < 3 })
	if n != 3 {
		t.Errorf("Range went on after f returned false: %d calls", n)
	}
}

// collideKey hashes every Value alike, to exercise the chains.
type collideKey struct{}

func (collideKey) hash(Value) uint64     { return 42 }
func (collideKey) equal(a, b Value) bool { return a.Equal(b) }

func TestChainMapCollisions(t *testing.T) {
	var c chainMap[Value, collideKey, int]
	for i := 0; i < 5; i++ {
		c.set(Int(int64(i)), i)
	}
	c.set(Int(2), 20)
	if c.n != 5 || len(c.m) != 1 {
		t.Fatalf("n %d, %d buckets; want 5 in 1", c.n, len(c.m))
	}
	c.delete(Int(1))
	c.delete(Int(1))
	for i, want := range []int{0, -1, 20, 3, 4} {
		v, ok := c.get(Int(int64(i)))
		if want < 0 && ok || want >= 0 && (!ok || v != want) {
			t.Errorf("get(%d) = %d, %v; want %d", i, v, ok, want)
		}
	}
	for i := 0; i < 5; i++ {
		c.delete(Int(int64(i)))
	}
	if c.n != 0 || len(c.m) != 0 {
		t.Errorf("after deleting all: n %d, %d buckets", c.n, len(c.m))
	}
}

func TestTupleMap(t *testing.T) {
	x, y := longBytes()
	var m TupleMap[string]
	k := []Value{String("udp"), x}
	m.Set(k, "x")
	k[1] = y // Set kept a copy: reusing the slice changes nothing
	m.Set(k, "y")
	m.Set([]Value{String("udp")}, "short")
	m.Set(nil, "empty")
	if m.Len() != 4 {
		t.Fatalf("Len = %d; want 4", m.Len())
	}
	for _, c := range []struct {
		k    []Value
		want string
	}{
		{[]Value{String("udp"), x}, "x"},
		{[]Value{String("udp"), y}, "y"},
		{[]Value{String("udp")}, "short"},
		{[]Value{}, "empty"},
	} {
		if v, ok := m.Get(c.k); !ok || v != c.want {
			t.Errorf("Get(%v) = %q, %v; want %q", c.k, v, ok, c.want)
		}
	}
	m.Set([]Value{String("udp"), x}, "x2")
	m.Delete([]Value{String("udp"), y})
	if v, _ := m.Get([]Value{String("udp"), x}); v != "x2" || m.Len() != 3 {
		t.Errorf("after replace and delete: x → %q, Len %d; want x2, 3", v, m.Len())
	}
	if _, ok := m.Get([]Value{String("udp"), y}); ok {
		t.Error("deleted tuple still present")
	}
	n := 0
	m.Range(func(k []Value, v string) bool { n++; return true })
	if n != 3 {
		t.Errorf("Range saw %d entries; want 3", n)
	}
}

func TestValueMapGetDoesNotAllocate(t *testing.T) {
	var m ValueMap[int]
	var tm TupleMap[int]
	key := Addr(netip.MustParseAddr("198.18.0.1"))
	tuple := []Value{key, Int(53)}
	m.Set(key, 1)
	tm.Set(tuple, 1)
	if n := testing.AllocsPerRun(100, func() {
		m.Get(key)
		tm.Get(tuple)
	}); n != 0 {
		t.Errorf("Get allocates %v times; want 0", n)
	}
}
