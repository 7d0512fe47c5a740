package ethernet

import (
	"net/netip"
	"sync/atomic"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"

	"go.uber.org/zap"
)

// ARPConfig configures the ARP actor of one interface.
type ARPConfig struct {
	Iface string
	MAC   MAC
	// CacheSize bounds the number of cached mappings (default 1024); when
	// full, the oldest entry nobody queries is evicted (else the oldest).
	CacheSize int
	// Lifetime is how long a mapping stays fresh without being confirmed
	// (default 60 s). A mapping still in use is re-confirmed by a unicast
	// request before it is dropped.
	Lifetime time.Duration
	// Retries and RetryInterval bound resolution: a query is asked
	// Retries times, RetryInterval apart (defaults 3 and 1 s).
	Retries       int
	RetryInterval time.Duration
	// MessageLimit bounds the actor's mailbox of received ARP packets
	// (default 4096): beyond it, packets are dropped and counted by the
	// actor (actors.Actor.Dropped), so a flood cannot grow it without end.
	MessageLimit int
}

// ARPStats counts the ARP actor's work.
type ARPStats struct {
	RequestsIn    atomic.Uint64
	RepliesIn     atomic.Uint64
	RequestsOut   atomic.Uint64
	RepliesOut    atomic.Uint64
	Announcements atomic.Uint64 // gratuitous ARPs sent for our addresses
	Malformed     atomic.Uint64 // ARP packets dropped as malformed
	Conflicts     atomic.Uint64 // another MAC claimed one of our addresses
	Failures      atomic.Uint64 // queries that got no answer
	Evictions     atomic.Uint64 // cache entries evicted to make room
	Cached        atomic.Int64  // entries in the cache now
}

type arpEntry struct {
	mac        MAC
	handle     actors.Handle
	seq        uint64
	timer      *actors.ActorTimer
	refreshing bool
}

type arpQuery struct {
	tries  int
	timer  *actors.ActorTimer
	failed bool
}

// SpawnARP starts the ARP actor (RFC 826) of one interface. It answers
// requests for the addresses asserted as arp-local(iface, ip), announcing
// each with a gratuitous ARP when it appears; resolves arp-query(iface,
// ip) with retries, asserting arp-assertion(iface, ip, mac) for each
// answer; and keeps a bounded cache whose entries expire. Its mailbox of
// received packets is bounded too (ARPConfig.MessageLimit).
func SpawnARP(t *actors.Turn, cfg ARPConfig) (*actors.Actor, *ARPStats) {
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 1024
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = 60 * time.Second
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 3
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = time.Second
	}
	if cfg.MessageLimit <= 0 {
		cfg.MessageLimit = 4096
	}
	stats := &ARPStats{}
	a := t.Spawn("arp:"+cfg.Iface, func(t *actors.Turn) { (&arp{cfg: cfg, stats: stats}).boot(t) })
	return a, stats
}

type arp struct {
	cfg     ARPConfig
	stats   *ARPStats
	log     *zap.Logger
	locals  map[netip.Addr]bool
	cache   map[netip.Addr]*arpEntry
	queries map[netip.Addr]*arpQuery
	seq     uint64
	defend  time.Time // last time we defended an address
}

func (r *arp) boot(t *actors.Turn) {
	t.SetMessageLimit(r.cfg.MessageLimit)
	r.log = t.System().Logger().With(zap.String("iface", r.cfg.Iface))
	r.locals = map[netip.Addr]bool{}
	r.cache = map[netip.Addr]*arpEntry{}
	r.queries = map[netip.Addr]*arpQuery{}
	iface := ds.Lit(ds.String(r.cfg.Iface))
	t.Observe(InboundPattern(r.cfg.Iface, EtherTypeARP), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) { r.input(t, m.(*Packet)) },
	})
	t.Observe(ds.RecordPattern(LabelARPLocal, iface, ds.CaptureAny), actors.Handler{
		Added: func(t *actors.Turn, c []ds.Value) {
			ip := c[0].AsAddr()
			r.locals[ip] = true
			r.stats.Announcements.Add(1)
			r.send(t, ARPRequest, Broadcast, ip, MAC{}, ip)
		},
		Removed: func(t *actors.Turn, c []ds.Value) { delete(r.locals, c[0].AsAddr()) },
	})
	t.Observe(ds.RecordPattern(LabelARPQuery, iface, ds.CaptureAny), actors.Handler{
		Added:   func(t *actors.Turn, c []ds.Value) { r.query(t, c[0].AsAddr()) },
		Removed: func(t *actors.Turn, c []ds.Value) { r.unquery(c[0].AsAddr()) },
	})
}

// input handles one received ARP packet, merging as RFC 826 says: a
// sender already cached is refreshed; a sender that asks us (or answers a
// query of ours) is added.
func (r *arp) input(t *actors.Turn, p *Packet) {
	a := ARP(p.Body)
	if err := a.Check(); err != nil {
		r.stats.Malformed.Add(1)
		r.trace("drop malformed ARP", zap.Error(err))
		return
	}
	op, sha, spa, tpa := a.Op(), a.SenderMAC(), a.SenderIP(), a.TargetIP()
	if op == ARPRequest {
		r.stats.RequestsIn.Add(1)
	} else {
		r.stats.RepliesIn.Add(1)
	}
	if sha == r.cfg.MAC {
		return // our own frame
	}
	if r.locals[spa] {
		// Somebody else claims one of our addresses: count, log, defend
		// at most every 10 s (RFC 5227 §2.4 (b)), never cache it.
		r.stats.Conflicts.Add(1)
		r.log.Warn("address conflict: another host claims our address",
			zap.Stringer("ip", spa), zap.Stringer("mac", sha))
		if now := t.Now(); now.Sub(r.defend) >= 10*time.Second {
			r.defend = now
			r.stats.Announcements.Add(1)
			r.send(t, ARPRequest, Broadcast, spa, MAC{}, spa)
		}
		return
	}
	valid := spa.Is4() && !spa.IsUnspecified() && sha.IsUnicast()
	merged := false
	if e := r.cache[spa]; e != nil && valid {
		r.refresh(t, spa, e, sha)
		merged = true
	}
	if r.locals[tpa] {
		if valid && !merged {
			r.insert(t, spa, sha)
		}
		if op == ARPRequest {
			r.stats.RepliesOut.Add(1)
			r.send(t, ARPReply, sha, tpa, sha, spa)
		}
		return
	}
	if q := r.queries[spa]; q != nil && valid && !merged {
		r.insert(t, spa, sha)
	}
}

func (r *arp) query(t *actors.Turn, ip netip.Addr) {
	q := &arpQuery{}
	r.queries[ip] = q
	if r.cache[ip] != nil {
		return // already asserted
	}
	r.ask(t, ip, q)
}

func (r *arp) unquery(ip netip.Addr) {
	if q := r.queries[ip]; q != nil {
		q.timer.Stop()
		delete(r.queries, ip)
	}
}

// ask sends a broadcast request for ip and arms the retry timer.
func (r *arp) ask(t *actors.Turn, ip netip.Addr, q *arpQuery) {
	q.tries++
	r.stats.RequestsOut.Add(1)
	r.send(t, ARPRequest, Broadcast, r.localFor(ip), MAC{}, ip)
	q.timer = t.After(r.cfg.RetryInterval, func(t *actors.Turn) {
		if r.queries[ip] != q || r.cache[ip] != nil {
			return
		}
		if q.tries < r.cfg.Retries {
			r.ask(t, ip, q)
			return
		}
		q.failed = true
		r.stats.Failures.Add(1)
		r.trace("no answer", zap.Stringer("ip", ip), zap.Int("tries", q.tries))
	})
}

// localFor picks the source address for a request: one of our addresses
// (any; a host on one subnet has one), or 0.0.0.0 when we have none yet.
func (r *arp) localFor(netip.Addr) netip.Addr {
	for ip := range r.locals {
		return ip
	}
	return netip.IPv4Unspecified()
}

func (r *arp) insert(t *actors.Turn, ip netip.Addr, mac MAC) {
	if len(r.cache) >= r.cfg.CacheSize {
		r.evict(t)
	}
	r.seq++
	e := &arpEntry{mac: mac, seq: r.seq}
	e.handle = t.Assert(&ARPEntry{Iface: r.cfg.Iface, IP: ip, MAC: mac})
	r.cache[ip] = e
	r.stats.Cached.Store(int64(len(r.cache)))
	r.arm(t, ip, e)
	if q := r.queries[ip]; q != nil {
		q.timer.Stop()
		q.tries, q.failed = 0, false
	}
}

// refresh confirms an entry, updating its MAC if it changed.
func (r *arp) refresh(t *actors.Turn, ip netip.Addr, e *arpEntry, mac MAC) {
	if mac != e.mac {
		e.mac = mac
		e.handle = t.Replace(e.handle, &ARPEntry{Iface: r.cfg.Iface, IP: ip, MAC: mac})
	}
	e.refreshing = false
	e.timer.Stop()
	r.arm(t, ip, e)
}

// arm sets the entry's expiry: an entry in use is re-confirmed with a
// unicast request and dropped if that gets no answer in time.
func (r *arp) arm(t *actors.Turn, ip netip.Addr, e *arpEntry) {
	e.timer = t.After(r.cfg.Lifetime, func(t *actors.Turn) {
		if r.cache[ip] != e {
			return
		}
		if q := r.queries[ip]; q == nil {
			r.remove(t, ip, e)
			return
		}
		e.refreshing = true
		r.stats.RequestsOut.Add(1)
		r.send(t, ARPRequest, e.mac, r.localFor(ip), MAC{}, ip)
		e.timer = t.After(time.Duration(r.cfg.Retries)*r.cfg.RetryInterval, func(t *actors.Turn) {
			if r.cache[ip] != e || !e.refreshing {
				return
			}
			r.remove(t, ip, e)
			if q := r.queries[ip]; q != nil {
				q.tries, q.failed = 0, false
				r.ask(t, ip, q)
			}
		})
	})
}

func (r *arp) remove(t *actors.Turn, ip netip.Addr, e *arpEntry) {
	e.timer.Stop()
	t.Retract(e.handle)
	delete(r.cache, ip)
	r.stats.Cached.Store(int64(len(r.cache)))
}

// evict drops the oldest entry nobody is querying, or the oldest of all
// when every entry is in use. An evicted entry that is still queried is
// resolved again, as on expiry, so that its arp-query is answered.
func (r *arp) evict(t *actors.Turn) {
	var victim netip.Addr
	var best *arpEntry
	bestUsed := false
	for ip, e := range r.cache {
		_, used := r.queries[ip]
		if best == nil || (bestUsed && !used) || (used == bestUsed && e.seq < best.seq) {
			victim, best, bestUsed = ip, e, used
		}
	}
	if best != nil {
		r.stats.Evictions.Add(1)
		r.remove(t, victim, best)
		if q := r.queries[victim]; q != nil {
			q.timer.Stop()
			q.tries, q.failed = 0, false
			r.ask(t, victim, q)
		}
	}
}

func (r *arp) send(t *actors.Turn, op uint16, dst MAC, spa netip.Addr, tha MAC, tpa netip.Addr) {
	buf := make([]byte, HeaderLen+ARPLen)
	PutARP(buf[HeaderLen:], op, r.cfg.MAC, spa, tha, tpa)
	t.Send(&Packet{Iface: r.cfg.Iface, Src: r.cfg.MAC, Dst: dst, Type: EtherTypeARP, Body: buf[HeaderLen:], Frame: buf})
}

func (r *arp) trace(msg string, fs ...zap.Field) {
	if !LabelARPQuery.Traced() {
		return
	}
	if ce := r.log.Check(zap.DebugLevel, msg); ce != nil {
		ce.Write(fs...)
	}
}
