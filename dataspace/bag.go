package dataspace

// bag counts records by structural equality.
type bag struct {
	m map[uint64][]*bagEntry
	n int // distinct records
}

type bagEntry struct {
	rec   Record
	count int
}

func (b *bag) find(r Record, h uint64) *bagEntry {
	for _, e := range b.m[h] {
		if RecordsEqual(e.rec, r) {
			return e
		}
	}
	return nil
}

// add counts one more r and returns the new count.
func (b *bag) add(r Record, h uint64) int {
	if e := b.find(r, h); e != nil {
		e.count++
		return e.count
	}
	b.m[h] = append(b.m[h], &bagEntry{rec: r, count: 1})
	b.n++
	return 1
}

// remove counts one less r and returns the new count, or -1 if r was
// absent.
func (b *bag) remove(r Record, h uint64) int {
	es := b.m[h]
	for i, e := range es {
		if !RecordsEqual(e.rec, r) {
			continue
		}
		e.count--
		if e.count > 0 {
			return e.count
		}
		if len(es) == 1 {
			delete(b.m, h)
		} else {
			es[i] = es[len(es)-1]
			es[len(es)-1] = nil
			b.m[h] = es[:len(es)-1]
		}
		b.n--
		return 0
	}
	return -1
}

// recordSet is a set of distinct records, keyed by their hash.
type recordSet struct {
	m map[uint64][]Record
}

func newRecordSet() recordSet { return recordSet{m: map[uint64][]Record{}} }

func (s recordSet) add(r Record, h uint64) {
	s.m[h] = append(s.m[h], r)
}

func (s recordSet) remove(r Record, h uint64) {
	rs := s.m[h]
	for i, x := range rs {
		if RecordsEqual(x, r) {
			if len(rs) == 1 {
				delete(s.m, h)
				return
			}
			rs[i] = rs[len(rs)-1]
			rs[len(rs)-1] = nil
			s.m[h] = rs[:len(rs)-1]
			return
		}
	}
}

func (s recordSet) each(f func(r Record, h uint64)) {
	for h, rs := range s.m {
		for _, r := range rs {
			f(r, h)
		}
	}
}

// capBag counts capture tuples.
type capBag struct {
	m map[uint64][]*capEntry
}

type capEntry struct {
	caps  []Value
	count int
}

// inc counts caps once more; first says whether it was absent.
func (b *capBag) inc(caps []Value) (e *capEntry, first bool) {
	h := hashValues(caps)
	for _, e := range b.m[h] {
		if valuesEqual(e.caps, caps) {
			e.count++
			return e, false
		}
	}
	e = &capEntry{caps: caps, count: 1}
	b.m[h] = append(b.m[h], e)
	return e, true
}

// dec counts caps once less; last says whether it is now absent.
func (b *capBag) dec(caps []Value) (e *capEntry, last bool) {
	h := hashValues(caps)
	es := b.m[h]
	for i, e := range es {
		if !valuesEqual(e.caps, caps) {
			continue
		}
		e.count--
		if e.count > 0 {
			return e, false
		}
		if len(es) == 1 {
			delete(b.m, h)
		} else {
			es[i] = es[len(es)-1]
			es[len(es)-1] = nil
			b.m[h] = es[:len(es)-1]
		}
		return e, true
	}
	return nil, false
}
