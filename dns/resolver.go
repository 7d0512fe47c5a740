package dns

import (
	"container/list"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"time"
)

// ResolverConfig configures the resolver. Zero values take the defaults
// beside them.
type ResolverConfig struct {
	// Timeout is how long one try waits for its answer (2 s); Attempts is
	// how many tries each server gets (2), taken in turn.
	Timeout  time.Duration
	Attempts int
	// CacheSize bounds the cached answers (256); past it the least
	// recently used goes.
	CacheSize int
	// MaxInflight bounds the lookups in progress (64); past it a lookup
	// fails at once with ErrBusy.
	MaxInflight int
	// MaxCNAME bounds the CNAME chain followed (8).
	MaxCNAME int
	// NegativeTTL is how long a negative answer without an SOA is cached
	// (60 s). MinTTL and MaxTTL clamp every TTL (1 s and 1 day): a zero
	// TTL would have a wanted name asked again at once, forever.
	NegativeTTL, MinTTL, MaxTTL time.Duration
	// Rand picks query IDs.
	Rand *rand.Rand
}

func (c *ResolverConfig) defaults() {
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
	if c.Attempts <= 0 {
		c.Attempts = 2
	}
	if c.CacheSize <= 0 {
		c.CacheSize = 256
	}
	if c.MaxInflight <= 0 {
		c.MaxInflight = 64
	}
	if c.MaxCNAME <= 0 {
		c.MaxCNAME = 8
	}
	if c.NegativeTTL <= 0 {
		c.NegativeTTL = time.Minute
	}
	if c.MinTTL <= 0 {
		c.MinTTL = time.Second
	}
	if c.MaxTTL <= 0 {
		c.MaxTTL = 24 * time.Hour
	}
	if c.Rand == nil {
		c.Rand = rand.New(rand.NewPCG(3, 4))
	}
}

// Key is a question: a canonical name and a type.
type Key struct {
	Name string
	Type uint16
}

// Result is the outcome of a lookup: addresses (A, AAAA) or names (PTR,
// CNAME), or Err, a negative code (ErrNXDomain, …). Expires is when it
// must be asked again; errors that are not answers (timeouts, failures)
// expire at once and are not cached.
type Result struct {
	Addrs   []netip.Addr
	Names   []string
	Err     string
	Expires time.Time
}

// Query is a datagram to send to a server: a whole DNS message (without
// TCP's length prefix).
type Query struct {
	Server  netip.Addr
	TCP     bool
	ID      uint16
	Payload []byte
}

// Completed is a lookup's result.
type Completed struct {
	Key    Key
	Result Result
}

// Output is what a resolver event asks of the caller: queries to send and
// lookups finished.
type Output struct {
	Send []Query
	Done []Completed
}

// ResolverStats counts the resolver's work.
type ResolverStats struct {
	Lookups     atomic.Uint64 // lookups started (cache misses)
	CacheHits   atomic.Uint64
	Evictions   atomic.Uint64 // cache entries dropped for room
	Queries     atomic.Uint64 // queries sent, retries included
	TCPQueries  atomic.Uint64 // queries sent over TCP after truncation
	Timeouts    atomic.Uint64 // tries that got no answer in time
	Failures    atomic.Uint64 // lookups that failed (timeout, servfail)
	Busy        atomic.Uint64 // lookups refused: MaxInflight reached
	Unexpected  atomic.Uint64 // responses matching no query
	Malformed   atomic.Uint64 // responses that do not parse
	Negative    atomic.Uint64 // NXDOMAIN and no-data answers
	CNAMEs      atomic.Uint64 // CNAME chains followed with a new query
	Truncations atomic.Uint64 // truncated UDP answers
	Unsent      atomic.Uint64 // queries dropped waiting for the UDP port (bounded by MaxInflight)
}

type centry struct {
	key Key
	res Result
	el  *list.Element
}

type lookup struct {
	key      Key
	name     string // the name asked now (the end of the CNAME chain so far)
	hops     int
	try      int
	id       uint16
	server   netip.Addr
	tcp      bool
	deadline time.Time
	ttl      uint32 // least TTL along the chain
}

// Resolver is the resolver's pure core: a bounded TTL cache and the
// lookups in progress. Questions, responses and the time come in; queries
// to send and results go out. It reads no clock and does no I/O.
type Resolver struct {
	cfg     ResolverConfig
	Stats   *ResolverStats
	servers []netip.Addr
	cache   map[Key]*centry
	lru     list.List // front: most recently used
	lookups map[Key]*lookup
	byID    map[uint16]*lookup
}

// NewResolver returns an empty resolver.
func NewResolver(cfg ResolverConfig) *Resolver {
	cfg.defaults()
	return &Resolver{cfg: cfg, Stats: &ResolverStats{}, cache: map[Key]*centry{},
		lookups: map[Key]*lookup{}, byID: map[uint16]*lookup{}}
}

// SetServers sets the servers to ask, in order of preference.
func (r *Resolver) SetServers(s []netip.Addr) { r.servers = append([]netip.Addr(nil), s...) }

// Servers returns the servers.
func (r *Resolver) Servers() []netip.Addr { return r.servers }

// CacheLen returns the number of cached results.
func (r *Resolver) CacheLen() int { return len(r.cache) }

// Resolve asks for k (k.Name canonical): from the cache when it holds a
// fresh answer, else by starting a lookup (or joining the one in
// progress), whose result comes out of a later Input or Tick.
func (r *Resolver) Resolve(now time.Time, k Key) Output {
	var out Output
	if e := r.cache[k]; e != nil {
		if now.Before(e.res.Expires) {
			r.Stats.CacheHits.Add(1)
			r.lru.MoveToFront(e.el)
			out.Done = append(out.Done, Completed{k, e.res})
			return out
		}
		r.drop(e)
	}
	if r.lookups[k] != nil {
		return out
	}
	if len(r.servers) == 0 {
		out.Done = append(out.Done, Completed{k, Result{Err: ErrNoServer, Expires: now}})
		return out
	}
	if len(r.lookups) >= r.cfg.MaxInflight {
		r.Stats.Busy.Add(1)
		out.Done = append(out.Done, Completed{k, Result{Err: ErrBusy, Expires: now}})
		return out
	}
	r.Stats.Lookups.Add(1)
	l := &lookup{key: k, name: k.Name, ttl: ^uint32(0)}
	r.lookups[k] = l
	r.ask(now, l, &out)
	return out
}

// ask sends try l.try of l: to the next server in turn, with a fresh ID.
func (r *Resolver) ask(now time.Time, l *lookup, out *Output) {
	if r.byID[l.id] == l {
		delete(r.byID, l.id)
	}
	for {
		l.id = uint16(r.cfg.Rand.Uint32())
		if _, used := r.byID[l.id]; !used && l.id != 0 {
			break
		}
	}
	r.byID[l.id] = l
	l.server = r.servers[l.try%len(r.servers)]
	l.deadline = now.Add(r.cfg.Timeout)
	r.send(l, out)
}

func (r *Resolver) send(l *lookup, out *Output) {
	q := &Message{ID: l.id, RecursionDesired: true, Questions: []Question{{Name: l.name, Type: l.key.Type, Class: ClassIN}}}
	b, err := q.Append(nil)
	if err != nil { // names are checked before they get here
		return
	}
	r.Stats.Queries.Add(1)
	if l.tcp {
		r.Stats.TCPQueries.Add(1)
	}
	out.Send = append(out.Send, Query{Server: l.server, TCP: l.tcp, ID: l.id, Payload: b})
}

// Deadline returns when Tick must next be called (zero: never).
func (r *Resolver) Deadline() time.Time {
	var d time.Time
	for _, l := range r.lookups {
		if d.IsZero() || l.deadline.Before(d) {
			d = l.deadline
		}
	}
	return d
}

// Tick retries or fails the lookups whose try has timed out.
func (r *Resolver) Tick(now time.Time) Output {
	var out Output
	for _, l := range r.lookups {
		if now.Before(l.deadline) {
			continue
		}
		r.Stats.Timeouts.Add(1)
		r.retry(now, l, ErrTimeout, &out)
	}
	return out
}

// retry moves l to its next try, or fails it with code.
func (r *Resolver) retry(now time.Time, l *lookup, code string, out *Output) {
	l.try++
	l.tcp = false
	if l.try >= r.cfg.Attempts*len(r.servers) || len(r.servers) == 0 {
		r.Stats.Failures.Add(1)
		r.finish(l, Result{Err: code, Expires: now}, false, out)
		return
	}
	r.ask(now, l, out)
}

func (r *Resolver) finish(l *lookup, res Result, cache bool, out *Output) {
	delete(r.lookups, l.key)
	if r.byID[l.id] == l {
		delete(r.byID, l.id)
	}
	if cache {
		r.store(l.key, res)
	}
	out.Done = append(out.Done, Completed{l.key, res})
}

func (r *Resolver) store(k Key, res Result) {
	if e := r.cache[k]; e != nil {
		r.drop(e)
	}
	for len(r.cache) >= r.cfg.CacheSize {
		r.Stats.Evictions.Add(1)
		r.drop(r.lru.Back().Value.(*centry))
	}
	e := &centry{key: k, res: res}
	e.el = r.lru.PushFront(e)
	r.cache[k] = e
}

func (r *Resolver) drop(e *centry) {
	r.lru.Remove(e.el)
	delete(r.cache, e.key)
}

func (r *Resolver) clampTTL(ttl uint32) time.Duration {
	return min(max(time.Duration(ttl)*time.Second, r.cfg.MinTTL), r.cfg.MaxTTL)
}

// Input takes a response from server (over TCP if viaTCP).
func (r *Resolver) Input(now time.Time, server netip.Addr, viaTCP bool, payload []byte) Output {
	var out Output
	m, err := Parse(payload)
	if err != nil {
		r.Stats.Malformed.Add(1)
		return out
	}
	l := r.byID[m.ID]
	if l == nil || !m.Response || l.server != server || l.tcp != viaTCP || len(m.Questions) != 1 ||
		m.Questions[0].Name != l.name || m.Questions[0].Type != l.key.Type {
		r.Stats.Unexpected.Add(1)
		return out
	}
	if m.Truncated && !viaTCP {
		// RFC 1035 §4.2.1, RFC 7766: ask the same server over TCP.
		r.Stats.Truncations.Add(1)
		l.tcp = true
		l.deadline = now.Add(r.cfg.Timeout)
		r.send(l, &out)
		return out
	}
	switch m.RCode {
	case RCodeSuccess:
		r.answer(now, l, m, &out)
	case RCodeNXDomain:
		r.Stats.Negative.Add(1)
		r.finish(l, Result{Err: ErrNXDomain, Expires: now.Add(r.negativeTTL(m, l))}, true, &out)
	default: // SERVFAIL, REFUSED, NOTIMP, FORMERR: the next server
		r.retry(now, l, ErrServFail, &out)
	}
	return out
}

// negativeTTL is how long a negative answer stands: the SOA's (RFC 2308
// §5), else NegativeTTL; never longer than the chain that led to it.
func (r *Resolver) negativeTTL(m *Message, l *lookup) time.Duration {
	d := r.cfg.NegativeTTL
	for _, rr := range m.Authority {
		if rr.Type == TypeSOA {
			d = r.clampTTL(rr.MinTTL)
			break
		}
	}
	if l.ttl != ^uint32(0) {
		d = min(d, r.clampTTL(l.ttl))
	}
	return d
}

// answer follows the CNAME chain through the answer section: records of
// the asked type for the name reached are the answer; a chain that ends
// without them is asked again from its end, up to MaxCNAME names.
func (r *Resolver) answer(now time.Time, l *lookup, m *Message, out *Output) {
	name := l.name
	var res Result
	for hop := 0; ; hop++ {
		for _, rr := range m.Answers {
			if rr.Name != name || rr.Type != l.key.Type || rr.Class != ClassIN {
				continue
			}
			l.ttl = min(l.ttl, rr.TTL)
			switch {
			case rr.Addr.IsValid():
				res.Addrs = append(res.Addrs, rr.Addr)
			case rr.Target != "":
				res.Names = append(res.Names, rr.Target)
			}
		}
		if len(res.Addrs)+len(res.Names) > 0 {
			res.Expires = now.Add(r.clampTTL(l.ttl))
			r.finish(l, res, true, out)
			return
		}
		next := ""
		for _, rr := range m.Answers {
			if rr.Name == name && rr.Type == TypeCNAME && rr.Class == ClassIN {
				next, l.ttl = rr.Target, min(l.ttl, rr.TTL)
				break
			}
		}
		if next == "" {
			break
		}
		if l.hops++; l.hops > r.cfg.MaxCNAME {
			r.finish(l, Result{Err: ErrLoop, Expires: now}, false, out)
			return
		}
		name = next
	}
	if name != l.name {
		// The chain led elsewhere without its records: ask for its end.
		r.Stats.CNAMEs.Add(1)
		l.name, l.try = name, 0
		r.ask(now, l, out)
		return
	}
	r.Stats.Negative.Add(1)
	r.finish(l, Result{Err: ErrNoData, Expires: now.Add(r.negativeTTL(m, l))}, true, out)
}
