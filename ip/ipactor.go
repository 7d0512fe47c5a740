package ip

import (
	"errors"
	"maps"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/ethernet"

	"go.uber.org/zap"
)

// Config configures the IP actor.
type Config struct {
	// Reassembly bounds fragment reassembly (zero: the defaults).
	Reassembly ReassemblyConfig
	// PendingPerHop and PendingTotal bound the datagrams waiting for ARP
	// (defaults 64 and 1024); ResolveTimeout is how long they wait
	// (default 3 s).
	PendingPerHop, PendingTotal int
	ResolveTimeout              time.Duration
	// NeighborIdle is how long a next hop stays in use after its last
	// datagram (default 5 min): while in use, its arp-query stays
	// asserted, so ARP re-confirms the mapping before it expires instead
	// of dropping it and making traffic wait for a new resolution.
	NeighborIdle time.Duration
	// FirstID seeds the identification counter (take it from a random
	// source; tests pass a constant).
	FirstID uint16
	// MessageLimit bounds the actor's mailbox of packets (default 8192).
	MessageLimit int
}

// Stats counts the IP actor's work. Each received datagram lands in
// exactly one of Delivered, a drop counter, or Fragments.
type Stats struct {
	Received      atomic.Uint64 // IPv4 frames seen
	Delivered     atomic.Uint64 // datagrams passed up as ip-packet messages
	Fragments     atomic.Uint64 // fragments taken by reassembly
	Malformed     atomic.Uint64 // bad version, length, header length, checksum or options
	NotForUs      atomic.Uint64 // destination is not one of ours (we do not forward)
	NoProtocol    atomic.Uint64 // nobody serves the protocol (ICMP protocol unreachable)
	ReasmDropped  atomic.Uint64 // fragments refused by reassembly (overlap, too big, bounds)
	Sent          atomic.Uint64 // datagrams sent
	SentFragments atomic.Uint64 // fragments sent
	NoRoute       atomic.Uint64 // datagrams to send with no route
	TooBig        atomic.Uint64 // DF datagrams larger than the MTU
	Unresolved    atomic.Uint64 // datagrams dropped waiting for ARP (timeout or queue full)
	Local         atomic.Uint64 // datagrams sent to ourselves, delivered locally

	// Reassembly in progress, kept current by the actor: datagrams and
	// the memory their buffers hold (bounded by Config.Reassembly), the
	// most that memory has been, and unfinished datagrams discarded —
	// timed out, or evicted (oldest first) to make room for newer ones.
	ReasmDatagrams atomic.Int64
	ReasmBytes     atomic.Int64
	ReasmPeakBytes atomic.Int64
	ReasmTimeouts  atomic.Uint64
	ReasmEvicted   atomic.Uint64
}

type ifaceInfo struct {
	mac ethernet.MAC
	mtu int
}

type hop struct {
	iface string
	ip    netip.Addr
}

// pending holds the frames waiting for a next hop to be resolved.
type pending struct {
	frames [][]byte
	timer  *actors.ActorTimer
}

// hopUse is a next hop in use: our arp-query for it and its last use.
// The inline output path only sets used; the sweep turns it into last.
type hopUse struct {
	query actors.Handle
	last  time.Time
	used  atomic.Bool
}

// ipSnap is what the inline paths read: a copy of the actor's state,
// published whole after every change (the maps are never written once
// published).
type ipSnap struct {
	locals    map[netip.Addr]netip.Prefix
	localIf   map[netip.Addr]string
	ifaces    map[string]ifaceInfo
	neighbors map[hop]ethernet.MAC
	inUse     map[hop]*hopUse
	routes    RouteTable
	served    [256]bool
}

// sender is what sends a message: a turn (slow path) or an inline
// context (fast path).
type sender interface{ Send(m ds.Record) }

// SpawnIP starts the IP actor. It learns interfaces from
// ethernet-interface, addresses and routes from host-route, net-route and
// gateway-route, and neighbours from arp-assertion. It validates received
// IPv4 datagrams, reassembles fragments and passes datagrams for us up as
// ip-packet(iface, #t, …); it routes ip-packet(_, #f, …) datagrams to
// send, resolving next hops through arp-query, and fragments them to the
// interface's MTU. The arp-query of a next hop stays asserted while the hop
// is in use (until NeighborIdle after its last datagram, or until it fails
// to resolve), so that ARP keeps its mapping fresh. For each address it
// asserts arp-local, so ARP answers for it.
func SpawnIP(t *actors.Turn, cfg Config) (*actors.Actor, *Stats) {
	if cfg.PendingPerHop <= 0 {
		cfg.PendingPerHop = 64
	}
	if cfg.PendingTotal <= 0 {
		cfg.PendingTotal = 1024
	}
	if cfg.ResolveTimeout <= 0 {
		cfg.ResolveTimeout = 3 * time.Second
	}
	if cfg.NeighborIdle <= 0 {
		cfg.NeighborIdle = 5 * time.Minute
	}
	if cfg.MessageLimit <= 0 {
		cfg.MessageLimit = 8192
	}
	stats := &Stats{}
	a := t.Spawn("ip", func(t *actors.Turn) { (&ipActor{cfg: cfg, stats: stats}).boot(t) })
	return a, stats
}

type ipActor struct {
	cfg       Config
	stats     *Stats
	log       *zap.Logger
	me        *actors.Actor
	snap      atomic.Pointer[ipSnap]
	ids       atomic.Uint32 // identification counter, shared by both paths
	ifaces    map[string]ifaceInfo
	locals    map[netip.Addr]netip.Prefix // our address → its subnet
	localIf   map[netip.Addr]string
	addrs     []netip.Addr // our addresses, in the order they appeared
	arpLocal  map[netip.Addr]actors.Handle
	routes    RouteTable
	neighbors map[hop]ethernet.MAC
	pending   map[hop]*pending
	npending  int
	inUse     map[hop]*hopUse
	sweepTmr  *actors.ActorTimer
	served    map[uint8]int // protocols somebody listens to
	reasm     *Reassembler
	reasmTmr  *actors.ActorTimer
}

// publish makes the actor's current state what the inline paths see.
func (p *ipActor) publish() {
	s := &ipSnap{
		locals: maps.Clone(p.locals), localIf: maps.Clone(p.localIf), ifaces: maps.Clone(p.ifaces),
		neighbors: maps.Clone(p.neighbors), inUse: maps.Clone(p.inUse),
		routes: RouteTable{routes: slices.Clone(p.routes.routes)},
	}
	for proto, n := range p.served {
		s.served[proto] = n > 0
	}
	p.snap.Store(s)
}

func (p *ipActor) boot(t *actors.Turn) {
	t.SetMessageLimit(p.cfg.MessageLimit)
	p.log = t.System().Logger().Named("ip")
	p.ifaces = map[string]ifaceInfo{}
	p.locals = map[netip.Addr]netip.Prefix{}
	p.localIf = map[netip.Addr]string{}
	p.arpLocal = map[netip.Addr]actors.Handle{}
	p.neighbors = map[hop]ethernet.MAC{}
	p.pending = map[hop]*pending{}
	p.inUse = map[hop]*hopUse{}
	p.served = map[uint8]int{}
	p.reasm = NewReassembler(p.cfg.Reassembly)
	p.ids.Store(uint32(p.cfg.FirstID))
	p.me = t.Actor()
	p.publish()
	// Every handler below ends with publish (a turn may run several).

	t.Observe(ds.RecordPattern(ethernet.LabelInterface, ds.CaptureAny, ds.CaptureAny, ds.CaptureAny), actors.Handler{
		Added: func(t *actors.Turn, c []ds.Value) {
			p.ifaces[c[0].AsString()] = ifaceInfo{mac: ethernet.MACFrom(c[1]), mtu: int(c[2].AsInt())}
			p.publish()
		},
		Removed: func(t *actors.Turn, c []ds.Value) { delete(p.ifaces, c[0].AsString()); p.publish() },
	})
	t.Observe(ds.RecordPattern(LabelHostRoute, ds.CaptureAny, ds.CaptureAny, ds.CaptureAny), actors.Handler{
		Added: func(t *actors.Turn, c []ds.Value) {
			addr, bits, iface := c[0].AsAddr(), int(c[1].AsInt()), c[2].AsString()
			pfx := netip.PrefixFrom(addr, bits).Masked()
			if _, dup := p.locals[addr]; !dup {
				p.addrs = append(p.addrs, addr)
			}
			p.locals[addr], p.localIf[addr] = pfx, iface
			p.routes.Add(Route{Net: pfx, Iface: iface})
			p.arpLocal[addr] = t.Assert(&ethernet.ARPLocal{Iface: iface, IP: addr})
			p.publish()
		},
		Removed: func(t *actors.Turn, c []ds.Value) {
			addr, bits, iface := c[0].AsAddr(), int(c[1].AsInt()), c[2].AsString()
			delete(p.locals, addr)
			delete(p.localIf, addr)
			p.addrs = slices.DeleteFunc(p.addrs, func(a netip.Addr) bool { return a == addr })
			p.routes.Remove(Route{Net: netip.PrefixFrom(addr, bits), Iface: iface})
			t.Retract(p.arpLocal[addr])
			delete(p.arpLocal, addr)
		},
	})
	t.Observe(ds.RecordPattern(LabelNetRoute, ds.CaptureAny, ds.CaptureAny, ds.CaptureAny), actors.Handler{
		Added: func(t *actors.Turn, c []ds.Value) {
			p.routes.Add(Route{Net: netip.PrefixFrom(c[0].AsAddr(), int(c[1].AsInt())), Iface: c[2].AsString()})
			p.publish()
		},
		Removed: func(t *actors.Turn, c []ds.Value) {
			p.routes.Remove(Route{Net: netip.PrefixFrom(c[0].AsAddr(), int(c[1].AsInt())), Iface: c[2].AsString()})
			p.publish()
		},
	})
	t.Observe(ds.RecordPattern(LabelGatewayRoute, ds.CaptureAny, ds.CaptureAny, ds.CaptureAny, ds.CaptureAny), actors.Handler{
		Added: func(t *actors.Turn, c []ds.Value) {
			p.routes.Add(Route{Net: netip.PrefixFrom(c[0].AsAddr(), int(c[1].AsInt())), Gateway: c[2].AsAddr(), Iface: c[3].AsString()})
			p.publish()
		},
		Removed: func(t *actors.Turn, c []ds.Value) {
			p.routes.Remove(Route{Net: netip.PrefixFrom(c[0].AsAddr(), int(c[1].AsInt())), Gateway: c[2].AsAddr(), Iface: c[3].AsString()})
			p.publish()
		},
	})
	t.Observe(ds.RecordPattern(ethernet.LabelARPEntry, ds.CaptureAny, ds.CaptureAny, ds.CaptureAny), actors.Handler{
		Added: func(t *actors.Turn, c []ds.Value) {
			h := hop{c[0].AsString(), c[1].AsAddr()}
			p.neighbors[h] = ethernet.MACFrom(c[2])
			p.flush(t, h)
			p.publish()
		},
		Removed: func(t *actors.Turn, c []ds.Value) {
			delete(p.neighbors, hop{c[0].AsString(), c[1].AsAddr()})
			p.publish()
		},
	})
	// Which protocols does anybody listen to? Interest in
	// ip-packet(_, #t, _, _, proto, _, _) says.
	t.Observe(ds.ObservePattern(ds.RecordPattern(LabelPacket, ds.Discard, ds.Lit(ds.Bool(true)), ds.Discard, ds.Discard,
		ds.CaptureAny, ds.Discard, ds.Discard)), actors.Handler{
		Added:   func(t *actors.Turn, c []ds.Value) { p.served[uint8(c[0].AsInt())]++; p.publish() },
		Removed: func(t *actors.Turn, c []ds.Value) { p.served[uint8(c[0].AsInt())]--; p.publish() },
	})
	// The data path runs inline, on the sender's goroutine (the link's
	// reader, a connection actor), against the published snapshot; what
	// it cannot finish goes to this actor's own turns.
	t.ObserveInline(ds.RecordPattern(ethernet.LabelPacket, ds.Discard, ds.Lit(ds.Bool(true)), ds.Discard, ds.Discard,
		ds.Lit(ds.Int(int64(ethernet.EtherTypeIPv4))), ds.Discard), func(in actors.Inline, m ds.Record) {
		p.inputInline(in, m.(*ethernet.Packet))
	})
	t.ObserveInline(OutboundPattern(), func(in actors.Inline, m ds.Record) {
		d := m.(*Packet)
		if !p.fastOutput(in, d) {
			p.me.Inject(func(t *actors.Turn) { p.output(t, d) })
		}
	})
}

// limitedBroadcast is 255.255.255.255 (RFC 919, RFC 1122 §3.2.1.3).
var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// isLocal reports whether a received datagram to dst is ours: one of our
// addresses, the limited broadcast, or the broadcast address of one of our
// subnets.
func (p *ipActor) isLocal(dst netip.Addr) (ours, broadcast bool) { return isLocalIn(p.locals, dst) }

func isLocalIn(locals map[netip.Addr]netip.Prefix, dst netip.Addr) (ours, broadcast bool) {
	if _, ok := locals[dst]; ok {
		return true, false
	}
	if dst == limitedBroadcast {
		return true, true
	}
	for _, pfx := range locals {
		if isSubnetBroadcast(pfx, dst) {
			return true, true
		}
	}
	return false, false
}

// isSubnetBroadcast reports whether dst is the broadcast address of pfx
// (subnets of /31 and /32 have none, RFC 3021).
func isSubnetBroadcast(pfx netip.Prefix, dst netip.Addr) bool {
	return pfx.Addr().Is4() && pfx.Bits() < 31 && pfx.Contains(dst) && dst == lastAddr(pfx)
}

// broadcastOut picks the interface and source address for a datagram to
// send to a broadcast address, or reports that dst is not one. The limited
// broadcast leaves on the interface of src when src is ours, else on the
// interface of our first address, from that address (RFC 1122 §3.3.6: a
// host sends it on a connected link, never to a gateway). The broadcast
// address of one of our subnets leaves on that subnet's interface, from
// src when set, else from our (lowest) address on that subnet.
func (p *ipActor) broadcastOut(dst, src netip.Addr) (iface string, from netip.Addr, ok bool) {
	if dst == limitedBroadcast {
		if ifc, ours := p.localIf[src]; ours {
			return ifc, src, true
		}
		if len(p.addrs) == 0 {
			return "", netip.Addr{}, false
		}
		a := p.addrs[0]
		if src.IsValid() {
			return p.localIf[a], src, true
		}
		return p.localIf[a], a, true
	}
	for a, pfx := range p.locals {
		if !isSubnetBroadcast(pfx, dst) {
			continue
		}
		if a == src {
			return p.localIf[a], a, true
		}
		if !from.IsValid() || a.Less(from) {
			iface, from, ok = p.localIf[a], a, true
		}
	}
	if ok && src.IsValid() {
		from = src
	}
	return iface, from, ok
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// inputInline handles one received IPv4 frame on the sender's goroutine:
// validate, and pass it up, unless it is a fragment (reassembly is the
// actor's).
func (p *ipActor) inputInline(in actors.Inline, f *ethernet.Packet) {
	s := p.snap.Load()
	p.stats.Received.Add(1)
	h := IPv4(f.Body)
	if err := h.Check(); err != nil {
		p.stats.Malformed.Add(1)
		p.trace("drop malformed datagram", zap.Error(err), zap.Int("len", len(f.Body)))
		return
	}
	ours, bcast := isLocalIn(s.locals, h.Dst())
	if !ours {
		p.stats.NotForUs.Add(1)
		p.trace("drop datagram not for us", zap.Stringer("dst", h.Dst()))
		return
	}
	if h.IsFragment() {
		p.me.Inject(func(t *actors.Turn) { p.reassemble(t, f.Iface, h, bcast) })
		return
	}
	p.deliverTo(in, s.served[h.Protocol()], f.Iface, h, bcast)
}

// reassemble takes one fragment (already validated, for us).
func (p *ipActor) reassemble(t *actors.Turn, iface string, h IPv4, bcast bool) {
	{
		whole, done, err := p.reasm.Add(t.Now(), h)
		p.publishReassembly()
		if err != nil {
			p.stats.ReasmDropped.Add(1)
			p.trace("drop fragment", zap.Error(err), zap.Stringer("src", h.Src()), zap.Uint16("id", h.ID()))
			return
		}
		p.stats.Fragments.Add(1)
		p.armReassembly(t)
		if !done {
			return
		}
		h = whole
	}
	p.deliverTo(t, p.served[h.Protocol()] > 0, iface, h, bcast)
}

// deliverTo passes a whole datagram up, or answers protocol unreachable.
func (p *ipActor) deliverTo(t sender, served bool, iface string, h IPv4, bcast bool) {
	proto := h.Protocol()
	if !served {
		p.stats.NoProtocol.Add(1)
		if !bcast {
			t.Send(&ICMPError{Type: ICMPTypeDestUnreach, Code: ICMPCodeProtocolUnreachable, Original: h})
		}
		return
	}
	p.stats.Delivered.Add(1)
	t.Send(&Packet{
		Iface: iface, FromWire: true, Src: h.Src(), Dst: h.Dst(), Proto: proto,
		Options: h.Options(), Body: h.Payload(), TTL: h.TTL(), TOS: h.TOS(), Datagram: h[:h.TotalLen()],
		Broadcast: bcast,
	})
}

// publishReassembly copies the reassembler's state into the stats.
func (p *ipActor) publishReassembly() {
	c, b := p.reasm.Counters(), int64(p.reasm.Bytes())
	p.stats.ReasmDatagrams.Store(int64(p.reasm.Len()))
	p.stats.ReasmBytes.Store(b)
	if b > p.stats.ReasmPeakBytes.Load() {
		p.stats.ReasmPeakBytes.Store(b)
	}
	p.stats.ReasmTimeouts.Store(c.Timeouts)
	p.stats.ReasmEvicted.Store(c.Evicted)
}

// armReassembly keeps a timer on the earliest reassembly deadline.
func (p *ipActor) armReassembly(t *actors.Turn) {
	if p.reasmTmr != nil {
		return
	}
	next, ok := p.reasm.NextDeadline()
	if !ok {
		return
	}
	p.reasmTmr = t.After(next.Sub(t.Now()), func(t *actors.Turn) {
		p.reasmTmr = nil
		p.reasm.Expire(t.Now(), func(first IPv4) {
			// RFC 792: time exceeded in reassembly, when we hold the
			// first fragment; never about a broadcast (RFC 1122 §3.2.2).
			if _, bcast := p.isLocal(first.Dst()); bcast {
				return
			}
			t.Send(&ICMPError{Type: ICMPTypeTimeExceeded, Code: ICMPCodeReassemblyExceeded, Original: append([]byte(nil), first...)})
		})
		p.publishReassembly()
		p.armReassembly(t)
	})
}

// output routes one datagram to send.
func (p *ipActor) output(t *actors.Turn, d *Packet) {
	dst := d.Dst
	if !dst.Is4() {
		p.stats.NoRoute.Add(1)
		return
	}
	if _, ours := p.locals[dst]; ours {
		p.local(t, d, d.Src, false)
		return
	}
	var target hop
	src := d.Src
	if iface, from, bcast := p.broadcastOut(dst, src); bcast {
		// A broadcast leaves on its link (emit sends it to
		// ff:ff:ff:ff:ff:ff), and, as on Linux, a copy is looped back to
		// our own listeners.
		target, src = hop{iface, dst}, from
		p.local(t, d, src, true)
	} else {
		route, next, ok := p.routes.Lookup(dst)
		if !ok {
			p.stats.NoRoute.Add(1)
			p.trace("no route", zap.Stringer("dst", dst))
			return
		}
		target = hop{route.Iface, next}
		if !src.IsValid() {
			src = p.sourceFor(route.Iface, dst)
		}
	}
	info, ok := p.ifaces[target.iface]
	if !ok {
		p.stats.NoRoute.Add(1)
		return
	}
	ttl := d.TTL
	if ttl == 0 {
		ttl = 64
	}
	hdr := IPv4Fields{TOS: d.TOS, ID: uint16(p.ids.Add(1)), TTL: ttl, Protocol: d.Proto, Src: src, Dst: dst, Options: d.Options}
	if d.DontFragment {
		hdr.Flags = FlagDF
	}
	hl := hdr.HeaderLen()
	total := hl + len(d.Body)
	hdr.TotalLen = uint16(total)
	if total <= info.mtu {
		frame := d.Frame
		if hl != IPv4MinHeaderLen || len(frame) != Headroom+len(d.Body) {
			frame = make([]byte, ethernet.HeaderLen+total)
			copy(frame[ethernet.HeaderLen+hl:], d.Body)
		}
		PutIPv4Header(frame[ethernet.HeaderLen:], &hdr)
		p.stats.Sent.Add(1)
		p.emit(t, target, info, frame)
		return
	}
	if d.DontFragment || total > 65535 {
		p.stats.TooBig.Add(1)
		p.trace("datagram too big", zap.Int("len", total), zap.Int("mtu", info.mtu))
		return
	}
	var fr Fragmenter
	if err := fr.Init(&hdr, d.Body, info.mtu); err != nil {
		p.stats.TooBig.Add(1)
		return
	}
	p.stats.Sent.Add(1)
	for fr.More() {
		frame := make([]byte, ethernet.HeaderLen+fr.NextLen())
		fr.Next(frame[ethernet.HeaderLen:])
		p.stats.SentFragments.Add(1)
		p.emit(t, target, info, frame)
	}
}

// local delivers a datagram we sent to one of our own addresses, or the
// copy of one we broadcast (bcast: delivered only if somebody serves its
// protocol, and then counted in Local).
func (p *ipActor) local(t *actors.Turn, d *Packet, src netip.Addr, bcast bool) {
	if bcast && p.served[d.Proto] <= 0 {
		return
	}
	p.stats.Local.Add(1)
	if !src.IsValid() {
		src = d.Dst
	}
	if p.served[d.Proto] <= 0 {
		p.stats.NoProtocol.Add(1)
		return
	}
	ttl := d.TTL
	if ttl == 0 {
		ttl = 64
	}
	t.Send(&Packet{Iface: "lo", FromWire: true, Src: src, Dst: d.Dst, Proto: d.Proto, Options: d.Options,
		Body: d.Body, TTL: ttl, TOS: d.TOS, Broadcast: bcast})
}

// sourceFor picks our address on iface, preferring one on dst's subnet.
func (p *ipActor) sourceFor(iface string, dst netip.Addr) netip.Addr {
	return sourceIn(p.locals, p.localIf, iface, dst)
}

func sourceIn(locals map[netip.Addr]netip.Prefix, localIf map[netip.Addr]string, iface string, dst netip.Addr) netip.Addr {
	var any netip.Addr
	for a, pfx := range locals {
		if localIf[a] != iface {
			continue
		}
		if pfx.Contains(dst) {
			return a
		}
		if !any.IsValid() || a.Less(any) {
			any = a
		}
	}
	return any
}

// fastOutput sends a datagram on the sender's goroutine when nothing about
// it needs the actor: a unicast off our own addresses, routed to a next
// hop already resolved and in use, within the MTU. It reports false for
// everything else (local delivery, broadcasts, unresolved next hops,
// fragmentation, no route), which the actor then handles in a turn.
func (p *ipActor) fastOutput(in sender, d *Packet) bool {
	s := p.snap.Load()
	dst := d.Dst
	if !dst.Is4() || dst == limitedBroadcast {
		return false
	}
	if _, ours := s.locals[dst]; ours {
		return false
	}
	for _, pfx := range s.locals {
		if isSubnetBroadcast(pfx, dst) {
			return false
		}
	}
	route, next, ok := s.routes.Lookup(dst)
	if !ok {
		return false
	}
	h := hop{route.Iface, next}
	info, ok := s.ifaces[h.iface]
	mac, known := s.neighbors[h]
	u := s.inUse[h]
	if !ok || !known || u == nil {
		return false
	}
	src := d.Src
	if !src.IsValid() {
		src = sourceIn(s.locals, s.localIf, h.iface, dst)
	}
	ttl := d.TTL
	if ttl == 0 {
		ttl = 64
	}
	hdr := IPv4Fields{TOS: d.TOS, TTL: ttl, Protocol: d.Proto, Src: src, Dst: dst, Options: d.Options}
	hl := hdr.HeaderLen()
	total := hl + len(d.Body)
	if total > info.mtu {
		return false
	}
	hdr.ID, hdr.TotalLen = uint16(p.ids.Add(1)), uint16(total)
	if d.DontFragment {
		hdr.Flags = FlagDF
	}
	frame := d.Frame
	if hl != IPv4MinHeaderLen || len(frame) != Headroom+len(d.Body) {
		frame = make([]byte, ethernet.HeaderLen+total)
		copy(frame[ethernet.HeaderLen+hl:], d.Body)
	}
	PutIPv4Header(frame[ethernet.HeaderLen:], &hdr)
	p.stats.Sent.Add(1)
	if !u.used.Load() {
		u.used.Store(true)
	}
	in.Send(&ethernet.Packet{Iface: h.iface, Src: info.mac, Dst: mac, Type: ethernet.EtherTypeIPv4,
		Body: frame[ethernet.HeaderLen:], Frame: frame})
	return true
}

// emit sends a frame (IP header written at HeaderLen) to a next hop,
// resolving its MAC first if need be.
func (p *ipActor) emit(t *actors.Turn, h hop, info ifaceInfo, frame []byte) {
	var dst ethernet.MAC
	if _, bcast := p.isLocal(h.ip); bcast {
		dst = ethernet.Broadcast
	} else {
		p.use(t, h)
		mac, ok := p.neighbors[h]
		if !ok {
			p.enqueue(t, h, frame)
			return
		}
		dst = mac
	}
	t.Send(&ethernet.Packet{Iface: h.iface, Src: info.mac, Dst: dst, Type: ethernet.EtherTypeIPv4,
		Body: frame[ethernet.HeaderLen:], Frame: frame})
}

var errQueueFull = errors.New("ARP queue full")

// use records a use of the next hop h, asserting arp-query for it if it
// is not in use yet: ARP resolves it, or, if it is cached, re-confirms it
// before it expires for as long as the query stays.
func (p *ipActor) use(t *actors.Turn, h hop) {
	u := p.inUse[h]
	if u == nil {
		u = &hopUse{query: t.Assert(&ethernet.ARPQuery{Iface: h.iface, IP: h.ip})}
		p.inUse[h] = u
		p.armSweep(t, p.cfg.NeighborIdle/8)
		defer p.publish()
	}
	u.last = t.Now()
}

// release retracts the arp-query of a next hop no longer in use.
func (p *ipActor) release(t *actors.Turn, h hop) {
	if u := p.inUse[h]; u != nil {
		t.Retract(u.query)
		delete(p.inUse, h)
		p.publish()
	}
}

// armSweep sets the one timer that releases idle next hops, to fire after
// d unless it is already set.
func (p *ipActor) armSweep(t *actors.Turn, d time.Duration) {
	if p.sweepTmr != nil {
		return
	}
	p.sweepTmr = t.After(d, func(t *actors.Turn) {
		p.sweepTmr = nil
		p.sweep(t)
	})
}

// sweep releases the next hops unused for NeighborIdle (a hop waiting for
// resolution is left to its resolve timeout) and re-arms the timer for the
// earliest of the others, and at least every NeighborIdle/8 while hops are
// in use: uses on the inline path only set a flag (no clock read per
// datagram) and the sweep dates them, so a hop goes between NeighborIdle
// and NeighborIdle/8 after its last use.
func (p *ipActor) sweep(t *actors.Turn) {
	now, idle := t.Now(), p.cfg.NeighborIdle
	var next time.Duration
	for h, u := range p.inUse {
		if u.used.Swap(false) {
			u.last = now // used on the fast path since the last sweep
		}
		left := idle - now.Sub(u.last)
		if p.pending[h] != nil {
			left = max(left, p.cfg.ResolveTimeout)
		} else if left <= 0 {
			p.trace("next hop idle", zap.Stringer("ip", h.ip))
			p.release(t, h)
			continue
		}
		if next == 0 || left < next {
			next = left
		}
	}
	if len(p.inUse) > 0 {
		p.armSweep(t, min(max(next, time.Second), idle/8))
	}
}

// enqueue holds a frame until h is resolved (bounded per hop and in all).
func (p *ipActor) enqueue(t *actors.Turn, h hop, frame []byte) {
	q := p.pending[h]
	if q == nil {
		q = &pending{}
		q.timer = t.After(p.cfg.ResolveTimeout, func(t *actors.Turn) {
			if p.pending[h] != q {
				return
			}
			p.stats.Unresolved.Add(uint64(len(q.frames)))
			p.trace("next hop unresolved", zap.Stringer("ip", h.ip), zap.Int("dropped", len(q.frames)))
			p.drop(q, h)
			p.release(t, h)
		})
		p.pending[h] = q
	}
	if len(q.frames) >= p.cfg.PendingPerHop || p.npending >= p.cfg.PendingTotal {
		p.stats.Unresolved.Add(1)
		p.trace("drop datagram", zap.Error(errQueueFull), zap.Stringer("ip", h.ip))
		return
	}
	q.frames = append(q.frames, frame)
	p.npending++
}

// flush sends the frames waiting for h, now that it is resolved.
func (p *ipActor) flush(t *actors.Turn, h hop) {
	q := p.pending[h]
	if q == nil {
		return
	}
	frames := q.frames
	p.drop(q, h)
	info := p.ifaces[h.iface]
	for _, f := range frames {
		p.emit(t, h, info, f)
	}
}

// drop forgets the queue of h (its arp-query stays while h is in use).
func (p *ipActor) drop(q *pending, h hop) {
	q.timer.Stop()
	p.npending -= len(q.frames)
	delete(p.pending, h)
}

func (p *ipActor) trace(msg string, fs ...zap.Field) {
	if !LabelPacket.Traced() {
		return
	}
	if ce := p.log.Check(zap.DebugLevel, msg); ce != nil {
		ce.Write(fs...)
	}
}
