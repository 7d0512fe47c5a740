package ip

import (
	"fmt"
	"net/netip"
	"sync/atomic"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/portalloc"

	"go.uber.org/zap"
)

// UDPStats counts the UDP actor's work.
type UDPStats struct {
	Received     atomic.Uint64
	Delivered    atomic.Uint64
	Malformed    atomic.Uint64 // bad length
	BadChecksum  atomic.Uint64
	NoPort       atomic.Uint64 // nobody listens (ICMP port unreachable)
	Sent         atomic.Uint64
	SendNoSource atomic.Uint64 // datagrams to send dropped: no local address, or an unbound handle

	// Ports counts the work of the UDP port allocator.
	Ports *portalloc.Stats
}

// SpawnUDP starts the UDP actor (RFC 768) and its port allocator. Users
// listen on a port by observing udp-channel(?, udp-listener(port), ?),
// and get an ephemeral port by observing udp-channel(?, udp-handle(id),
// ?); they send by sending udp-channel(udp-listener(port) or
// udp-handle(id), udp-address(host, port), body). Checksums are verified
// and computed; a datagram for a closed port gets ICMP port unreachable.
func SpawnUDP(t *actors.Turn, seed uint64) (*actors.Actor, *UDPStats) {
	stats := &UDPStats{}
	_, stats.Ports = portalloc.Spawn(t, portalloc.Config{
		Proto: "udp",
		Seed:  seed,
		InUse: []*ds.Pattern{
			ds.ObservePattern(ds.RecordPattern(LabelUDPChannel, ds.Discard, ds.RecordPattern(LabelUDPListener, ds.CaptureAny), ds.Discard)),
			ds.RecordPattern(LabelUDPBinding, ds.CaptureAny, ds.Discard),
		},
	})
	a := t.Spawn("udp", func(t *actors.Turn) { (&udpActor{stats: stats}).boot(t) })
	return a, stats
}

type udpBinding struct {
	port   uint16
	handle actors.Handle
	sub    *actors.Subscription
}

type udpActor struct {
	stats     *UDPStats
	log       *zap.Logger
	listeners map[uint16]int
	handles   ds.ValueMap[*udpBinding] // by handle id (structurally)
	byPort    map[uint16]ds.Value      // bound port → handle id
	locals    map[netip.Addr]netip.Prefix
}

func (u *udpActor) boot(t *actors.Turn) {
	t.SetMessageLimit(8192)
	u.log = t.System().Logger().Named("udp")
	u.listeners = map[uint16]int{}
	u.byPort = map[uint16]ds.Value{}
	u.locals = map[netip.Addr]netip.Prefix{}
	t.Observe(ds.RecordPattern(LabelHostRoute, ds.CaptureAny, ds.CaptureAny, ds.Discard), actors.Handler{
		Added: func(t *actors.Turn, c []ds.Value) {
			u.locals[c[0].AsAddr()] = netip.PrefixFrom(c[0].AsAddr(), int(c[1].AsInt())).Masked()
		},
		Removed: func(t *actors.Turn, c []ds.Value) { delete(u.locals, c[0].AsAddr()) },
	})
	t.Observe(ds.ObservePattern(ds.RecordPattern(LabelUDPChannel, ds.Discard,
		ds.RecordPattern(LabelUDPListener, ds.CaptureAny), ds.Discard)), actors.Handler{
		Added: func(t *actors.Turn, c []ds.Value) { u.listeners[uint16(c[0].AsInt())]++ },
		Removed: func(t *actors.Turn, c []ds.Value) {
			if p := uint16(c[0].AsInt()); u.listeners[p] <= 1 {
				delete(u.listeners, p)
			} else {
				u.listeners[p]--
			}
		},
	})
	t.Observe(ds.ObservePattern(ds.RecordPattern(LabelUDPChannel, ds.Discard,
		ds.RecordPattern(LabelUDPHandle, ds.CaptureAny), ds.Discard)), actors.Handler{
		Added:   func(t *actors.Turn, c []ds.Value) { u.bind(t, c[0]) },
		Removed: func(t *actors.Turn, c []ds.Value) { u.unbind(t, c[0]) },
	})
	t.Observe(InboundPattern(ProtocolUDP), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) { u.input(t, m.(*Packet)) },
	})
	for _, src := range []*ds.Pattern{
		ds.RecordPattern(LabelUDPListener, ds.Discard),
		ds.RecordPattern(LabelUDPHandle, ds.Discard),
	} {
		t.Observe(ds.RecordPattern(LabelUDPChannel, src, ds.RecordPattern(LabelUDPAddress, ds.Discard, ds.Discard), ds.Discard),
			actors.Handler{Message: func(t *actors.Turn, m ds.Record) { u.output(t, m.(*UDPChannel)) }})
	}
}

// bind allocates a port for a handle somebody observes.
func (u *udpActor) bind(t *actors.Turn, id ds.Value) {
	b := &udpBinding{}
	u.handles.Set(id, b)
	b.sub = t.Observe(portalloc.ReplyPattern("udp", id), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) {
			t.Unobserve(b.sub)
			if cur, _ := u.handles.Get(id); cur != b {
				return
			}
			port := m.(*portalloc.Reply).Port
			if port == 0 {
				u.log.Warn("no ephemeral UDP port for handle", zap.Stringer("handle", id))
				return
			}
			b.port = port
			b.handle = t.Assert(&UDPBinding{Port: port, Handle: id})
			u.byPort[port] = id
		},
	})
	t.Send(&portalloc.Request{Proto: "udp", ID: id})
}

func (u *udpActor) unbind(t *actors.Turn, id ds.Value) {
	b, ok := u.handles.Get(id)
	if !ok {
		return
	}
	u.handles.Delete(id)
	t.Unobserve(b.sub)
	if b.port != 0 {
		t.Retract(b.handle)
		delete(u.byPort, b.port)
	}
}

func (u *udpActor) input(t *actors.Turn, p *Packet) {
	u.stats.Received.Add(1)
	d := UDP(p.Body)
	if err := d.Check(); err != nil {
		u.stats.Malformed.Add(1)
		u.trace("drop malformed UDP", zap.Error(err), zap.Stringer("src", p.Src))
		return
	}
	if p.Iface != "lo" && !d.VerifyChecksum(p.Src, p.Dst) {
		u.stats.BadChecksum.Add(1)
		u.trace("drop UDP with bad checksum", zap.Stringer("src", p.Src))
		return
	}
	src := &UDPAddress{Host: p.Src, Port: d.SrcPort()}
	port := d.DstPort()
	var dst ds.Record
	if u.listeners[port] > 0 {
		dst = &UDPListener{Port: port}
	} else if id, ok := u.byPort[port]; ok {
		dst = &UDPHandle{ID: id}
	} else {
		u.stats.NoPort.Add(1)
		// No port unreachable about a broadcast (RFC 1122 §3.2.2).
		if p.Datagram != nil && !p.Broadcast {
			t.Send(&ICMPError{Type: ICMPTypeDestUnreach, Code: ICMPCodePortUnreachable, Original: p.Datagram})
		}
		return
	}
	u.stats.Delivered.Add(1)
	t.Send(&UDPChannel{Src: src, Dst: dst, Body: d.Payload()})
}

func (u *udpActor) output(t *actors.Turn, c *UDPChannel) {
	var sport uint16
	switch c.Src.Label() {
	case LabelUDPListener:
		sport = uint16(c.Src.Field(0).AsInt())
	case LabelUDPHandle:
		if b, ok := u.handles.Get(c.Src.Field(0)); ok {
			sport = b.port
		}
	}
	dst, ok := c.Dst.(*UDPAddress)
	if !ok {
		dst = &UDPAddress{Host: c.Dst.Field(0).AsAddr(), Port: uint16(c.Dst.Field(1).AsInt())}
	}
	src := u.source(dst.Host)
	if sport == 0 || !src.IsValid() || !dst.Host.Is4() {
		u.stats.SendNoSource.Add(1)
		u.trace("cannot send datagram", zap.String("from", fmt.Sprint(c.Src)), zap.Stringer("to", dst.AddrPort()))
		return
	}
	n := UDPHeaderLen + len(c.Body)
	frame := make([]byte, Headroom+n)
	seg := frame[Headroom:]
	PutUDPHeader(seg, sport, dst.Port, len(c.Body))
	copy(seg[UDPHeaderLen:], c.Body)
	SetUDPChecksum(seg, src, dst.Host)
	u.stats.Sent.Add(1)
	t.Send(&Packet{Src: src, Dst: dst.Host, Proto: ProtocolUDP, Body: seg, Frame: frame})
}

// source picks our address for a datagram to dst: one on dst's subnet,
// else the lowest (the gateway's side).
func (u *udpActor) source(dst netip.Addr) netip.Addr {
	if _, ok := u.locals[dst]; ok {
		return dst
	}
	var best netip.Addr
	for a, pfx := range u.locals {
		if pfx.Contains(dst) {
			return a
		}
		if !best.IsValid() || a.Less(best) {
			best = a
		}
	}
	return best
}

func (u *udpActor) trace(msg string, fs ...zap.Field) {
	if !LabelUDPChannel.Traced() {
		return
	}
	if ce := u.log.Check(zap.DebugLevel, msg); ce != nil {
		ce.Write(fs...)
	}
}
