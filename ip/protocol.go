package ip

import (
	"net/netip"

	ds "netspace/dataspace"
	"netspace/ethernet"
)

// The IP layer's records. Trace layers: "ip", "icmp" and "udp".
var (
	LabelHostRoute    = ds.NewLabel("host-route", "ip", "addr", "prefix", "iface")
	LabelNetRoute     = ds.NewLabel("net-route", "ip", "net", "prefix", "iface")
	LabelGatewayRoute = ds.NewLabel("gateway-route", "ip", "net", "prefix", "gateway", "iface")
	LabelPacket       = ds.NewLabel("ip-packet", "ip", "iface", "from-wire", "src", "dst", "proto", "options", "body")
	LabelICMPError    = ds.NewLabel("icmp-error", "icmp", "type", "code", "original")

	LabelUDPChannel  = ds.NewLabel("udp-channel", "udp", "src", "dst", "body")
	LabelUDPListener = ds.NewLabel("udp-listener", "udp", "port")
	LabelUDPHandle   = ds.NewLabel("udp-handle", "udp", "id")
	LabelUDPAddress  = ds.NewLabel("udp-address", "udp", "host", "port")
	LabelUDPBinding  = ds.NewLabel("udp-binding", "udp", "port", "handle")
)

// Headroom is the space an outbound transport segment can leave in front
// of its bytes (see [Packet].Frame): an Ethernet header and an IPv4 header
// without options.
const Headroom = ethernet.HeaderLen + IPv4MinHeaderLen

// HostRoute is the assertion host-route(addr, prefix, iface): Addr is
// ours, on Iface, and Addr/Prefix is reachable on that link.
type HostRoute struct {
	Addr   netip.Addr
	Prefix int
	Iface  string
}

// Label implements dataspace.Record.
func (r *HostRoute) Label() *ds.Label { return LabelHostRoute }

// Arity implements dataspace.Record.
func (r *HostRoute) Arity() int { return 3 }

// Field implements dataspace.Record.
func (r *HostRoute) Field(i int) ds.Value {
	switch i {
	case 0:
		return ds.Addr(r.Addr)
	case 1:
		return ds.Int(int64(r.Prefix))
	default:
		return ds.String(r.Iface)
	}
}

// NetRoute is the assertion net-route(net, prefix, iface): Net/Prefix is
// reachable directly on Iface.
type NetRoute struct {
	Net    netip.Addr
	Prefix int
	Iface  string
}

// Label implements dataspace.Record.
func (r *NetRoute) Label() *ds.Label { return LabelNetRoute }

// Arity implements dataspace.Record.
func (r *NetRoute) Arity() int { return 3 }

// Field implements dataspace.Record.
func (r *NetRoute) Field(i int) ds.Value {
	switch i {
	case 0:
		return ds.Addr(r.Net)
	case 1:
		return ds.Int(int64(r.Prefix))
	default:
		return ds.String(r.Iface)
	}
}

// GatewayRoute is the assertion gateway-route(net, prefix, gateway,
// iface): Net/Prefix is reached through Gateway, on Iface. 0.0.0.0/0 is
// the default route.
type GatewayRoute struct {
	Net     netip.Addr
	Prefix  int
	Gateway netip.Addr
	Iface   string
}

// Label implements dataspace.Record.
func (r *GatewayRoute) Label() *ds.Label { return LabelGatewayRoute }

// Arity implements dataspace.Record.
func (r *GatewayRoute) Arity() int { return 4 }

// Field implements dataspace.Record.
func (r *GatewayRoute) Field(i int) ds.Value {
	switch i {
	case 0:
		return ds.Addr(r.Net)
	case 1:
		return ds.Int(int64(r.Prefix))
	case 2:
		return ds.Addr(r.Gateway)
	default:
		return ds.String(r.Iface)
	}
}

// Packet is the message ip-packet(iface, from-wire, src, dst, proto,
// options, body). Received datagrams (reassembled, for us) travel with
// FromWire true and the interface they came in on ("lo" for datagrams we
// sent ourselves); datagrams to send travel with FromWire false, and the
// IP actor picks the interface by route, and the source when Src is not
// set.
type Packet struct {
	Iface    string
	FromWire bool
	Src, Dst netip.Addr
	Proto    uint8
	Options  []byte
	Body     []byte

	// Not record fields:

	// TTL and TOS of a received datagram; for one to send, TTL 0 means
	// the default (64).
	TTL, TOS uint8
	// DontFragment asks for DF on a datagram to send.
	DontFragment bool
	// Broadcast, on a received datagram, says it was received for a
	// broadcast address (the limited broadcast or the broadcast address of
	// one of our subnets), as set by the IP actor: it must not be answered
	// from that address, nor with an ICMP error (RFC 1122 §3.2.2).
	Broadcast bool
	// Datagram is a received datagram whole, header and payload (for
	// ICMP errors about it); nil for datagrams we sent ourselves.
	Datagram []byte
	// Frame, on a datagram to send, is a buffer of Headroom+len(Body)
	// bytes whose tail is Body: the IP and Ethernet headers are written
	// in front of the payload without copying it. The sender gives up the
	// buffer when it sends the message.
	Frame []byte
}

// Label implements dataspace.Record.
func (r *Packet) Label() *ds.Label { return LabelPacket }

// Arity implements dataspace.Record.
func (r *Packet) Arity() int { return 7 }

// Field implements dataspace.Record.
func (r *Packet) Field(i int) ds.Value {
	switch i {
	case 0:
		return ds.String(r.Iface)
	case 1:
		return ds.Bool(r.FromWire)
	case 2:
		return ds.Addr(r.Src)
	case 3:
		return ds.Addr(r.Dst)
	case 4:
		return ds.Int(int64(r.Proto))
	case 5:
		return ds.Bytes(r.Options)
	default:
		return ds.Bytes(r.Body)
	}
}

// InboundPattern matches received datagrams of protocol proto.
func InboundPattern(proto uint8) *ds.Pattern {
	return ds.RecordPattern(LabelPacket, ds.Discard, ds.Lit(ds.Bool(true)), ds.Discard, ds.Discard,
		ds.Lit(ds.Int(int64(proto))), ds.Discard, ds.Discard)
}

// OutboundPattern matches datagrams to send.
func OutboundPattern() *ds.Pattern {
	return ds.RecordPattern(LabelPacket, ds.Discard, ds.Lit(ds.Bool(false)), ds.Discard, ds.Discard,
		ds.Discard, ds.Discard, ds.Discard)
}

// ICMPError is the message icmp-error(type, code, original): send an ICMP
// error of this type and code about the datagram Original (its header and
// at least the first 8 bytes of its payload). The ICMP actor applies RFC
// 1122's rules (never about ICMP errors, broadcasts or later fragments)
// and rate-limits.
type ICMPError struct {
	Type, Code uint8
	Original   []byte
	// MTU is the next-hop MTU of a "fragmentation needed" error.
	MTU uint16
}

// Label implements dataspace.Record.
func (r *ICMPError) Label() *ds.Label { return LabelICMPError }

// Arity implements dataspace.Record.
func (r *ICMPError) Arity() int { return 3 }

// Field implements dataspace.Record.
func (r *ICMPError) Field(i int) ds.Value {
	switch i {
	case 0:
		return ds.Int(int64(r.Type))
	case 1:
		return ds.Int(int64(r.Code))
	default:
		return ds.Bytes(r.Original)
	}
}

// UDPAddress is udp-address(host, port): a remote UDP endpoint.
type UDPAddress struct {
	Host netip.Addr
	Port uint16
}

// Label implements dataspace.Record.
func (r *UDPAddress) Label() *ds.Label { return LabelUDPAddress }

// Arity implements dataspace.Record.
func (r *UDPAddress) Arity() int { return 2 }

// Field implements dataspace.Record.
func (r *UDPAddress) Field(i int) ds.Value {
	if i == 0 {
		return ds.Addr(r.Host)
	}
	return ds.Int(int64(r.Port))
}

// AddrPort returns the address as a netip.AddrPort.
func (r *UDPAddress) AddrPort() netip.AddrPort { return netip.AddrPortFrom(r.Host, r.Port) }

// UDPListener is udp-listener(port): our end of datagrams on a well-known
// port. Observing udp-channel(?, udp-listener(p), ?) opens port p.
type UDPListener struct{ Port uint16 }

// Label implements dataspace.Record.
func (r *UDPListener) Label() *ds.Label { return LabelUDPListener }

// Arity implements dataspace.Record.
func (r *UDPListener) Arity() int { return 1 }

// Field implements dataspace.Record.
func (r *UDPListener) Field(int) ds.Value { return ds.Int(int64(r.Port)) }

// UDPHandle is udp-handle(id): our end of datagrams on an ephemeral port.
// Observing udp-channel(?, udp-handle(id), ?) makes the UDP actor
// allocate a port for id (asserting udp-binding(port, id)) until the
// observation ends.
type UDPHandle struct{ ID ds.Value }

// Label implements dataspace.Record.
func (r *UDPHandle) Label() *ds.Label { return LabelUDPHandle }

// Arity implements dataspace.Record.
func (r *UDPHandle) Arity() int { return 1 }

// Field implements dataspace.Record.
func (r *UDPHandle) Field(int) ds.Value { return r.ID }

// UDPChannel is the message udp-channel(src, dst, body). Datagrams
// received travel from a udp-address to a udp-listener or udp-handle;
// datagrams to send travel from a udp-listener or udp-handle to a
// udp-address.
type UDPChannel struct {
	Src, Dst ds.Record
	Body     []byte
}

// Label implements dataspace.Record.
func (r *UDPChannel) Label() *ds.Label { return LabelUDPChannel }

// Arity implements dataspace.Record.
func (r *UDPChannel) Arity() int { return 3 }

// Field implements dataspace.Record.
func (r *UDPChannel) Field(i int) ds.Value {
	switch i {
	case 0:
		return ds.Rec(r.Src)
	case 1:
		return ds.Rec(r.Dst)
	default:
		return ds.Bytes(r.Body)
	}
}

// UDPBinding is the assertion udp-binding(port, handle): the UDP actor
// gave Port to a handle.
type UDPBinding struct {
	Port   uint16
	Handle ds.Value
}

// Label implements dataspace.Record.
func (r *UDPBinding) Label() *ds.Label { return LabelUDPBinding }

// Arity implements dataspace.Record.
func (r *UDPBinding) Arity() int { return 2 }

// Field implements dataspace.Record.
func (r *UDPBinding) Field(i int) ds.Value {
	if i == 0 {
		return ds.Int(int64(r.Port))
	}
	return r.Handle
}

// ListenerPattern matches datagrams received on a well-known port:
// udp-channel(?src, udp-listener(port), ?body).
func ListenerPattern(port uint16) *ds.Pattern {
	return ds.RecordPattern(LabelUDPChannel, ds.CaptureAny,
		ds.RecordPattern(LabelUDPListener, ds.Lit(ds.Int(int64(port)))), ds.CaptureAny)
}

// HandlePattern matches datagrams received for handle id:
// udp-channel(?src, udp-handle(id), ?body).
func HandlePattern(id ds.Value) *ds.Pattern {
	return ds.RecordPattern(LabelUDPChannel, ds.CaptureAny,
		ds.RecordPattern(LabelUDPHandle, ds.Lit(id)), ds.CaptureAny)
}
