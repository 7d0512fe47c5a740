package tcp

import (
	"net/netip"

	"netspace/actors"
	ds "netspace/dataspace"
)

// NetConnFeed drives a NetConn made by [NewNetConn]: the adapter that
// observes the connection's records hands the conn what they say.
type NetConnFeed struct{ c *NetConn }

// Deliver appends data the connection delivered (tcp-channel).
func (f NetConnFeed) Deliver(data []byte) { f.c.deliver(data) }

// Grant adds send credit (tcp-writable).
func (f NetConnFeed) Grant(n int) { f.c.grant(n) }

// SetState applies a tcp-connection state (or "closed").
func (f NetConnFeed) SetState(state string) { f.c.setState(state) }

// NewNetConn returns a net.Conn over the connection named (remoteRec,
// localRec), for adapters other than [Net]'s — the remote client library
// observes the connection's records over its link and feeds the conn
// through the returned NetConnFeed. The conn's own records (tcp-channel,
// tcp-consumed, tcp-close, tcp-set) are sent with sender.Send; release
// runs when the conn is closed, to end whatever keeps the connection.
// reportAt is how many bytes are read before they are reported consumed.
func NewNetConn(remote, local netip.AddrPort, remoteRec, localRec ds.Record, reportAt int,
	sender *actors.Actor, release func()) (*NetConn, NetConnFeed) {
	if reportAt <= 0 {
		reportAt = 64 << 10
	}
	c := newNetConn(remote, local, remoteRec, localRec, reportAt)
	c.actor, c.release = sender, release
	return c, NetConnFeed{c}
}
