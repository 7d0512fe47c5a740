package dataspace

// ValueMap is a map from Values to T with the dataspace's structural
// equality: two keys are the same key when [Value.Equal] says so, whatever
// Go types carry them. It is keyed by [Value.Hash], with chaining, so unlike
// a Go map keyed by [Value.String] (which abbreviates long bytes) it never
// merges distinct keys. The zero ValueMap is empty and ready to use; it is
// not safe for concurrent use.
//
// A bytes key aliases the slice it was made from (see [Value]): the slice
// must not change while the key is in the map.
type ValueMap[T any] struct {
	c chainMap[Value, valueKey, T]
}

// Get returns the value stored under k, and whether there is one.
func (m *ValueMap[T]) Get(k Value) (T, bool) { return m.c.get(k) }

// Set stores v under k, replacing any value already there.
func (m *ValueMap[T]) Set(k Value, v T) { m.c.set(k, v) }

// Delete removes k and its value, if present.
func (m *ValueMap[T]) Delete(k Value) { m.c.delete(k) }

// Len returns the number of keys.
func (m *ValueMap[T]) Len() int { return m.c.n }

// Range calls f for each key and value, in no particular order, until f
// returns false. f must not change the map.
func (m *ValueMap[T]) Range(f func(k Value, v T) bool) { m.c.each(f) }

// TupleMap is a map from tuples of Values (such as the captures an
// observer is told of) to T, with structural equality: two tuples are the
// same key when they have the same length and pairwise [Value.Equal]
// fields. The zero TupleMap is empty and ready to use; it is not safe for
// concurrent use.
//
// Set keeps a copy of the key slice, so a caller may reuse its slice; the
// bytes Values in it still alias theirs (see [Value]).
type TupleMap[T any] struct {
	c chainMap[[]Value, tupleKey, T]
}

// Get returns the value stored under k, and whether there is one.
func (m *TupleMap[T]) Get(k []Value) (T, bool) { return m.c.get(k) }

// Set stores v under k, replacing any value already there.
func (m *TupleMap[T]) Set(k []Value, v T) {
	if e := m.c.find(k, tupleKey{}.hash(k)); e != nil {
		e.v = v
		return
	}
	m.c.set(append([]Value(nil), k...), v)
}

// Delete removes k and its value, if present.
func (m *TupleMap[T]) Delete(k []Value) { m.c.delete(k) }

// Len returns the number of keys.
func (m *TupleMap[T]) Len() int { return m.c.n }

// Range calls f for each key and value, in no particular order, until f
// returns false. f must not change the map nor the key slice it is given.
func (m *TupleMap[T]) Range(f func(k []Value, v T) bool) { m.c.each(f) }

// keyOps hashes and compares the keys of a chainMap.
type keyOps[K any] interface {
	hash(K) uint64
	equal(a, b K) bool
}

type valueKey struct{}

func (valueKey) hash(k Value) uint64   { return k.Hash() }
func (valueKey) equal(a, b Value) bool { return a.Equal(b) }

type tupleKey struct{}

func (tupleKey) hash(k []Value) uint64   { return hashValues(k) }
func (tupleKey) equal(a, b []Value) bool { return valuesEqual(a, b) }

// chainMap is a hash map with chaining over keys that Go cannot compare
// with ==: the buckets of a Go map, keyed by structural hash, hold the
// entries whose keys share that hash.
type chainMap[K any, O keyOps[K], T any] struct {
	m map[uint64][]*chainEntry[K, T]
	n int
}

type chainEntry[K, T any] struct {
	k K
	v T
}

func (c *chainMap[K, O, T]) find(k K, h uint64) *chainEntry[K, T] {
	var o O
	for _, e := range c.m[h] {
		if o.equal(e.k, k) {
			return e
		}
	}
	return nil
}

func (c *chainMap[K, O, T]) get(k K) (T, bool) {
	var o O
	if e := c.find(k, o.hash(k)); e != nil {
		return e.v, true
	}
	var zero T
	return zero, false
}

func (c *chainMap[K, O, T]) set(k K, v T) {
	var o O
	h := o.hash(k)
	if e := c.find(k, h); e != nil {
		e.v = v
		return
	}
	if c.m == nil {
		c.m = map[uint64][]*chainEntry[K, T]{}
	}
	c.m[h] = append(c.m[h], &chainEntry[K, T]{k: k, v: v})
	c.n++
}

func (c *chainMap[K, O, T]) delete(k K) {
	var o O
	h := o.hash(k)
	es := c.m[h]
	for i, e := range es {
		if !o.equal(e.k, k) {
			continue
		}
		if len(es) == 1 {
			delete(c.m, h)
		} else {
			es[i] = es[len(es)-1]
			es[len(es)-1] = nil
			c.m[h] = es[:len(es)-1]
		}
		c.n--
		return
	}
}

func (c *chainMap[K, O, T]) each(f func(K, T) bool) {
	for _, es := range c.m {
		for _, e := range es {
			if !f(e.k, e.v) {
				return
			}
		}
	}
}
