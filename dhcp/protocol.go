package dhcp

import (
	"net/netip"

	ds "netspace/dataspace"
)

// The DHCP client's records; trace layer "dhcp". Besides these it asserts
// records of other layers for its lease: ip.HostRoute (address and
// prefix), ip.GatewayRoute (the router, as the default route) and
// dns.Server (each DNS server).
var (
	LabelLease   = ds.NewLabel("dhcp-lease", "dhcp", "iface", "addr", "prefix", "router", "server")
	LabelState   = ds.NewLabel("dhcp-state", "dhcp", "iface", "state")
	LabelRelease = ds.NewLabel("dhcp-release", "dhcp", "iface")
)

// LeaseRecord is the assertion dhcp-lease(iface, addr, prefix, router,
// server): the client on Iface holds a lease of Addr/Prefix from Server,
// with Router as default gateway (invalid if none). It stays asserted
// across renewals that change nothing, and is retracted when the lease is
// released, refused (NAK) or runs out.
type LeaseRecord struct {
	Iface  string
	Addr   netip.Addr
	Prefix int
	Router netip.Addr
	Server netip.Addr
}

// Label implements dataspace.Record.
func (r *LeaseRecord) Label() *ds.Label { return LabelLease }

// Arity implements dataspace.Record.
func (r *LeaseRecord) Arity() int { return 5 }

// Field implements dataspace.Record.
func (r *LeaseRecord) Field(i int) ds.Value {
	switch i {
	case 0:
		return ds.String(r.Iface)
	case 1:
		return ds.Addr(r.Addr)
	case 2:
		return ds.Int(int64(r.Prefix))
	case 3:
		return ds.Addr(r.Router)
	default:
		return ds.Addr(r.Server)
	}
}

// StateRecord is the assertion dhcp-state(iface, state): the client's
// state (State.String: "selecting", "bound", …), replaced at every
// transition, so a trace of layer dhcp shows them.
type StateRecord struct {
	Iface string
	State string
}

// Label implements dataspace.Record.
func (r *StateRecord) Label() *ds.Label { return LabelState }

// Arity implements dataspace.Record.
func (r *StateRecord) Arity() int { return 2 }

// Field implements dataspace.Record.
func (r *StateRecord) Field(i int) ds.Value {
	if i == 0 {
		return ds.String(r.Iface)
	}
	return ds.String(r.State)
}

// ReleaseMsg is the message dhcp-release(iface): give the lease back
// (RELEASE to the server), retract it, and stop the client.
type ReleaseMsg struct{ Iface string }

// Label implements dataspace.Record.
func (r *ReleaseMsg) Label() *ds.Label { return LabelRelease }

// Arity implements dataspace.Record.
func (r *ReleaseMsg) Arity() int { return 1 }

// Field implements dataspace.Record.
func (r *ReleaseMsg) Field(int) ds.Value { return ds.String(r.Iface) }

// LeasePattern matches the lease on iface: dhcp-lease(iface, ?addr,
// ?prefix, ?router, ?server).
func LeasePattern(iface string) *ds.Pattern {
	return ds.RecordPattern(LabelLease, ds.Lit(ds.String(iface)), ds.CaptureAny, ds.CaptureAny, ds.CaptureAny, ds.CaptureAny)
}
