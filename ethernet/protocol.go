package ethernet

import (
	"net/netip"

	ds "netspace/dataspace"
)

// The ethernet layer's records. Layer names for tracing: "ethernet" and
// "arp".
var (
	LabelInterface = ds.NewLabel("ethernet-interface", "ethernet", "name", "mac", "mtu")
	LabelPacket    = ds.NewLabel("ethernet-packet", "ethernet", "iface", "from-wire", "src", "dst", "type", "body")
	LabelJoin      = ds.NewLabel("ethernet-join", "ethernet", "iface", "mac")
	LabelARPLocal  = ds.NewLabel("arp-local", "arp", "iface", "ip")
	LabelARPQuery  = ds.NewLabel("arp-query", "arp", "iface", "ip")
	LabelARPEntry  = ds.NewLabel("arp-assertion", "arp", "iface", "ip", "mac")
)

// Interface is the assertion ethernet-interface(name, mac, mtu): a link is
// up under this name, with this MAC address and IP MTU. The interface
// actor asserts it for as long as it runs.
type Interface struct {
	Name string
	MAC  MAC
	MTU  int
}

// Label implements dataspace.Record.
func (r *Interface) Label() *ds.Label { return LabelInterface }

// Arity implements dataspace.Record.
func (r *Interface) Arity() int { return 3 }

// Field implements dataspace.Record.
func (r *Interface) Field(i int) ds.Value {
	switch i {
	case 0:
		return ds.String(r.Name)
	case 1:
		return ds.Bytes(r.MAC[:])
	default:
		return ds.Int(int64(r.MTU))
	}
}

// Packet is the message ethernet-packet(iface, from-wire, src, dst, type,
// body). Received frames travel with FromWire true; frames to transmit
// with FromWire false.
//
// An outbound packet may carry Frame: a buffer whose last len(Body) bytes
// are Body and whose first HeaderLen bytes are free for the Ethernet
// header, so the interface writes the frame without copying. The sender
// gives up the buffer when it sends the message.
type Packet struct {
	Iface    string
	FromWire bool
	Src, Dst MAC
	Type     uint16
	Body     []byte
	Frame    []byte
}

// Label implements dataspace.Record.
func (r *Packet) Label() *ds.Label { return LabelPacket }

// Arity implements dataspace.Record.
func (r *Packet) Arity() int { return 6 }

// Field implements dataspace.Record.
func (r *Packet) Field(i int) ds.Value {
	switch i {
	case 0:
		return ds.String(r.Iface)
	case 1:
		return ds.Bool(r.FromWire)
	case 2:
		return ds.Bytes(r.Src[:])
	case 3:
		return ds.Bytes(r.Dst[:])
	case 4:
		return ds.Int(int64(r.Type))
	default:
		return ds.Bytes(r.Body)
	}
}

// Join is the assertion ethernet-join(iface, mac): accept frames sent to
// the multicast address mac on iface.
type Join struct {
	Iface string
	MAC   MAC
}

// Label implements dataspace.Record.
func (r *Join) Label() *ds.Label { return LabelJoin }

// Arity implements dataspace.Record.
func (r *Join) Arity() int { return 2 }

// Field implements dataspace.Record.
func (r *Join) Field(i int) ds.Value {
	if i == 0 {
		return ds.String(r.Iface)
	}
	return ds.Bytes(r.MAC[:])
}

// ARPLocal is the assertion arp-local(iface, ip): ip is our address on
// iface, so ARP answers for it (and announces it when it appears). The IP
// layer asserts it for each configured address.
type ARPLocal struct {
	Iface string
	IP    netip.Addr
}

// Label implements dataspace.Record.
func (r *ARPLocal) Label() *ds.Label { return LabelARPLocal }

// Arity implements dataspace.Record.
func (r *ARPLocal) Arity() int { return 2 }

// Field implements dataspace.Record.
func (r *ARPLocal) Field(i int) ds.Value {
	if i == 0 {
		return ds.String(r.Iface)
	}
	return ds.Addr(r.IP)
}

// ARPQuery is the assertion arp-query(iface, ip): somebody needs the MAC
// of ip on iface. ARP resolves it while the query is asserted.
type ARPQuery struct {
	Iface string
	IP    netip.Addr
}

// Label implements dataspace.Record.
func (r *ARPQuery) Label() *ds.Label { return LabelARPQuery }

// Arity implements dataspace.Record.
func (r *ARPQuery) Arity() int { return 2 }

// Field implements dataspace.Record.
func (r *ARPQuery) Field(i int) ds.Value {
	if i == 0 {
		return ds.String(r.Iface)
	}
	return ds.Addr(r.IP)
}

// ARPEntry is the assertion arp-assertion(iface, ip, mac): a cached
// mapping, asserted by ARP while it is fresh.
type ARPEntry struct {
	Iface string
	IP    netip.Addr
	MAC   MAC
}

// Label implements dataspace.Record.
func (r *ARPEntry) Label() *ds.Label { return LabelARPEntry }

// Arity implements dataspace.Record.
func (r *ARPEntry) Arity() int { return 3 }

// Field implements dataspace.Record.
func (r *ARPEntry) Field(i int) ds.Value {
	switch i {
	case 0:
		return ds.String(r.Iface)
	case 1:
		return ds.Addr(r.IP)
	default:
		return ds.Bytes(r.MAC[:])
	}
}

// MACValue returns mac as a dataspace Value (for patterns).
func MACValue(mac MAC) ds.Value { return ds.Bytes(append([]byte(nil), mac[:]...)) }

// MACFrom returns the MAC held by a bytes Value (zero if it is not six
// bytes).
func MACFrom(v ds.Value) MAC {
	var m MAC
	if b := v.AsBytes(); len(b) == 6 {
		copy(m[:], b)
	}
	return m
}

// InboundPattern matches received frames of etherType on iface.
func InboundPattern(iface string, etherType uint16) *ds.Pattern {
	return ds.RecordPattern(LabelPacket, ds.Lit(ds.String(iface)), ds.Lit(ds.Bool(true)),
		ds.Discard, ds.Discard, ds.Lit(ds.Int(int64(etherType))), ds.Discard)
}

// OutboundPattern matches frames to transmit on iface.
func OutboundPattern(iface string) *ds.Pattern {
	return ds.RecordPattern(LabelPacket, ds.Lit(ds.String(iface)), ds.Lit(ds.Bool(false)),
		ds.Discard, ds.Discard, ds.Discard, ds.Discard)
}
