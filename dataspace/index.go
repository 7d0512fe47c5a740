package dataspace

// Sink receives the events an index operation produces, in order. Package
// actors turns them into deliveries to the observers' actors.
type Sink interface {
	// Added: a capture tuple became present for o.
	Added(o *Observer, captures []Value)
	// Removed: a capture tuple is no longer present for o.
	Removed(o *Observer, captures []Value)
	// Message: r was sent and matches o's pattern. Use o.Captures(r) for
	// the captures; they are not computed unless asked for.
	Message(o *Observer, r Record)
}

// Observer is one registered pattern. Target is the owner's: package
// actors stores the endpoint that events go to.
type Observer struct {
	Pattern *Pattern
	Target  any

	skel  *skeleton
	node  *node
	group *constGroup
	leaf  *leaf
	caps  *capGroup
	pos   int // index in caps.observers
}

// Captures returns the values o's pattern captures from r, in preorder.
func (o *Observer) Captures(r Record) []Value {
	return o.AppendCaptures(nil, r)
}

// AppendCaptures appends the captures of r to dst.
func (o *Observer) AppendCaptures(dst []Value, r Record) []Value {
	for _, p := range o.skel.capPaths {
		dst = append(dst, fieldAt(r, p))
	}
	return dst
}

// Index is the skeleton index: the bag of current assertions and the
// observers, arranged so that routing costs one hash lookup per distinct
// shape of constants. It is not safe for concurrent use.
type Index struct {
	root      *node
	all       bag
	observers int
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{root: newNode(nil, nil, class{}), all: bag{m: map[uint64][]*bagEntry{}}}
}

// Len returns the number of distinct assertions present.
func (ix *Index) Len() int { return ix.all.n }

// Observers returns the number of registered observers.
func (ix *Index) Observers() int { return ix.observers }

// Count returns how many times r is currently asserted.
func (ix *Index) Count(r Record) int {
	if e := ix.all.find(r, HashRecord(r)); e != nil {
		return e.count
	}
	return 0
}

// Assert adds one copy of r to the bag. When r was absent, observers whose
// patterns match are told Added for any capture tuple that became present.
// It reports whether r was absent.
func (ix *Index) Assert(r Record, sink Sink) bool {
	h := HashRecord(r)
	if ix.all.add(r, h) != 1 {
		return false
	}
	ix.root.adjust(r, h, +1, sink)
	return true
}

// Retract removes one copy of r from the bag. When the last copy goes,
// observers are told Removed for capture tuples that disappeared. It
// reports whether r became absent; retracting an absent record is a no-op
// that reports false.
func (ix *Index) Retract(r Record, sink Sink) bool {
	h := HashRecord(r)
	switch ix.all.remove(r, h) {
	case -1, 1:
		return false
	case 0:
		ix.root.adjust(r, h, -1, sink)
		return true
	}
	return false
}

// Message routes r to every observer whose pattern matches it. It does not
// change the index and allocates nothing.
func (ix *Index) Message(r Record, sink Sink) {
	ix.root.message(r, sink)
}

// AddObserver registers an observer of p and tells it Added for every
// capture tuple already present.
func (ix *Index) AddObserver(p *Pattern, target any, sink Sink) *Observer {
	o := &Observer{Pattern: p, Target: target, skel: compile(p)}
	n := ix.root
	for _, c := range o.skel.classes {
		n = n.extend(c)
	}
	g := n.cont.group(n, o.skel.constPaths)
	l := g.leaf(n, o.skel.constVals)
	cg := l.capGroup(o.skel.capPaths)
	o.node, o.group, o.leaf, o.caps = n, g, l, cg
	o.pos = len(cg.observers)
	cg.observers = append(cg.observers, o)
	ix.observers++
	if sink != nil {
		for _, es := range cg.counts.m {
			for _, e := range es {
				sink.Added(o, e.caps)
			}
		}
	}
	return o
}

// RemoveObserver unregisters o. It is told nothing more.
func (ix *Index) RemoveObserver(o *Observer) {
	if o.caps == nil {
		return
	}
	cg := o.caps
	last := len(cg.observers) - 1
	cg.observers[o.pos] = cg.observers[last]
	cg.observers[o.pos].pos = o.pos
	cg.observers[last] = nil
	cg.observers = cg.observers[:last]
	ix.observers--
	if len(cg.observers) == 0 {
		o.leaf.dropCapGroup(cg)
		if len(o.leaf.caps) == 0 {
			o.group.dropLeaf(o.leaf)
			if o.group.n == 0 && len(o.node.cont.cached.m) < keepEmptyGroups {
				o.node.cont.dropGroup(o.group)
				o.node.prune()
			}
		}
	}
	o.caps, o.leaf, o.group, o.node = nil, nil, nil, nil
}

// node is one class prefix in the skeleton tree.
type node struct {
	parent      *node
	parentSel   *selector
	parentClass class
	cont        continuation
	edges       []*selector
}

type selector struct {
	path  path
	table map[class]*node
}

type continuation struct {
	cached recordSet // assertions satisfying the node's classes
	groups []*constGroup
}

type constGroup struct {
	paths  []path
	leaves map[uint64]*leaf
	n      int
	// byVals holds the node's assertions by the hash of their values at
	// paths, so that a new leaf finds the assertions it matches without
	// scanning all of them (connection setup would otherwise cost time
	// proportional to the number of connections).
	byVals map[uint64]recordSet
}

type leaf struct {
	consts []Value
	next   *leaf
	cached recordSet
	caps   []*capGroup
}

type capGroup struct {
	paths     []path
	counts    capBag
	observers []*Observer
}

func newNode(parent *node, sel *selector, c class) *node {
	return &node{parent: parent, parentSel: sel, parentClass: c, cont: continuation{cached: newRecordSet()}}
}

// extend returns the child of n for class c at its path, creating it (and
// filling its cache from n's) when absent.
func (n *node) extend(c classAt) *node {
	var sel *selector
	for _, s := range n.edges {
		if s.path.equal(c.path) {
			sel = s
			break
		}
	}
	if sel == nil {
		sel = &selector{path: c.path, table: map[class]*node{}}
		n.edges = append(n.edges, sel)
	}
	child := sel.table[c.class]
	if child == nil {
		child = newNode(n, sel, c.class)
		n.cont.cached.each(func(r Record, h uint64) {
			if k, ok := classOf(fieldAt(r, c.path)); ok && k == c.class {
				child.cont.cached.add(r, h)
			}
		})
		sel.table[c.class] = child
	}
	return child
}

// prune removes n from its parent while it serves nothing.
func (n *node) prune() {
	for n.parent != nil && len(n.cont.groups) == 0 && len(n.edges) == 0 {
		sel := n.parentSel
		delete(sel.table, n.parentClass)
		p := n.parent
		if len(sel.table) == 0 {
			for i, s := range p.edges {
				if s == sel {
					p.edges = append(p.edges[:i], p.edges[i+1:]...)
					break
				}
			}
		}
		n = p
	}
}

// child returns the child matched by r under selector s, or nil.
func (s *selector) child(r Record) *node {
	x := fieldAt(r, s.path).AsRecord()
	if x == nil {
		return nil
	}
	return s.table[class{x.Label(), x.Arity()}]
}

// maxInline is how many constants routing gathers on the stack.
const maxInline = 8

func (n *node) message(r Record, sink Sink) {
	var buf [maxInline]Value
	for _, g := range n.cont.groups {
		if g.n == 0 {
			continue
		}
		vals := gather(r, g.paths, buf[:0])
		for l := g.leaves[hashValues(vals)]; l != nil; l = l.next {
			if !valuesEqual(l.consts, vals) {
				continue
			}
			for _, cg := range l.caps {
				for _, o := range cg.observers {
					sink.Message(o, r)
				}
			}
		}
	}
	for _, s := range n.edges {
		if c := s.child(r); c != nil {
			c.message(r, sink)
		}
	}
}

// adjust adds (delta +1) or removes (delta -1) the assertion r (hash h)
// in n's subtree, telling observers of capture tuples that appear or
// disappear.
func (n *node) adjust(r Record, h uint64, delta int, sink Sink) {
	if delta > 0 {
		n.cont.cached.add(r, h)
	} else {
		n.cont.cached.remove(r, h)
	}
	var buf [maxInline]Value
	for _, g := range n.cont.groups {
		vals := gather(r, g.paths, buf[:0])
		vh := hashValues(vals)
		if delta > 0 {
			g.hold(vh, r, h)
		} else if set, ok := g.byVals[vh]; ok {
			set.remove(r, h)
			if len(set.m) == 0 {
				delete(g.byVals, vh)
			}
		}
		if g.n == 0 {
			continue
		}
		for l := g.leaves[vh]; l != nil; l = l.next {
			if !valuesEqual(l.consts, vals) {
				continue
			}
			if delta > 0 {
				l.cached.add(r, h)
			} else {
				l.cached.remove(r, h)
			}
			for _, cg := range l.caps {
				caps := gather(r, cg.paths, nil)
				if delta > 0 {
					if e, first := cg.counts.inc(caps); first && sink != nil {
						for _, o := range cg.observers {
							sink.Added(o, e.caps)
						}
					}
				} else if e, last := cg.counts.dec(caps); last && sink != nil {
					for _, o := range cg.observers {
						sink.Removed(o, e.caps)
					}
				}
			}
		}
	}
	for _, s := range n.edges {
		if c := s.child(r); c != nil {
			c.adjust(r, h, delta, sink)
		}
	}
}

// group returns the const group of node n for paths, creating it (and
// indexing n's assertions by their values at paths) when absent.
func (c *continuation) group(n *node, paths []path) *constGroup {
	for _, g := range c.groups {
		if pathsEqual(g.paths, paths) {
			return g
		}
	}
	g := &constGroup{paths: paths, leaves: map[uint64]*leaf{}, byVals: map[uint64]recordSet{}}
	var buf [maxInline]Value
	n.cont.cached.each(func(r Record, h uint64) {
		g.hold(hashValues(gather(r, paths, buf[:0])), r, h)
	})
	c.groups = append(c.groups, g)
	return g
}

// hold files r (hash h) under the hash vh of its values at g's paths.
func (g *constGroup) hold(vh uint64, r Record, h uint64) {
	set, ok := g.byVals[vh]
	if !ok {
		set = newRecordSet()
		g.byVals[vh] = set
	}
	set.add(r, h)
}

// keepEmptyGroups is how many assertions a node must hold for a const
// group without leaves to be kept rather than dropped: rebuilding its
// index would cost a scan of them all each time an observer comes back.
const keepEmptyGroups = 64

func (c *continuation) dropGroup(g *constGroup) {
	for i, x := range c.groups {
		if x == g {
			c.groups = append(c.groups[:i], c.groups[i+1:]...)
			return
		}
	}
}

// leaf returns the leaf of g for the constants vals, creating it (and
// filling its cache from node n's) when absent.
func (g *constGroup) leaf(n *node, vals []Value) *leaf {
	h := hashValues(vals)
	for l := g.leaves[h]; l != nil; l = l.next {
		if valuesEqual(l.consts, vals) {
			return l
		}
	}
	l := &leaf{consts: vals, next: g.leaves[h], cached: newRecordSet()}
	g.leaves[h] = l
	g.n++
	var buf [maxInline]Value
	if set, ok := g.byVals[h]; ok {
		set.each(func(r Record, rh uint64) {
			if valuesEqual(l.consts, gather(r, g.paths, buf[:0])) {
				l.cached.add(r, rh)
			}
		})
	}
	return l
}

func (g *constGroup) dropLeaf(l *leaf) {
	h := hashValues(l.consts)
	pp := g.leaves[h]
	if pp == l {
		if l.next == nil {
			delete(g.leaves, h)
		} else {
			g.leaves[h] = l.next
		}
	} else {
		for ; pp != nil; pp = pp.next {
			if pp.next == l {
				pp.next = l.next
				break
			}
		}
	}
	g.n--
}

func (l *leaf) capGroup(paths []path) *capGroup {
	for _, cg := range l.caps {
		if pathsEqual(cg.paths, paths) {
			return cg
		}
	}
	cg := &capGroup{paths: paths, counts: capBag{m: map[uint64][]*capEntry{}}}
	l.cached.each(func(r Record, _ uint64) {
		cg.counts.inc(gather(r, paths, nil))
	})
	l.caps = append(l.caps, cg)
	return cg
}

func (l *leaf) dropCapGroup(cg *capGroup) {
	for i, x := range l.caps {
		if x == cg {
			l.caps = append(l.caps[:i], l.caps[i+1:]...)
			return
		}
	}
}

// fieldAt returns the value at path p under r. The index only asks for
// paths whose enclosing records it has already checked against a class
// (label and arity), so every step exists; a step into a non-record gives
// the invalid Value rather than a panic all the same.
func fieldAt(r Record, p path) Value {
	if len(p) == 0 {
		return Rec(r)
	}
	for {
		v := r.Field(p[0])
		if len(p) == 1 {
			return v
		}
		if r = v.AsRecord(); r == nil {
			return Value{}
		}
		p = p[1:]
	}
}

// gather appends to dst the values at paths under r.
func gather(r Record, paths []path, dst []Value) []Value {
	for _, p := range paths {
		dst = append(dst, fieldAt(r, p))
	}
	return dst
}

const valuesSeed = 0x452821e638d01377

func hashValues(vals []Value) uint64 {
	h := uint64(valuesSeed)
	for _, x := range vals {
		h = x.hashInto(h)
	}
	return h
}

func valuesEqual(a, b []Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}
