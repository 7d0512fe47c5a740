package client

import (
	"sync/atomic"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/ip"
	"netspace/relay/wire"
	"netspace/tcp"
)

// uplink carries messages sent from outside any turn — what a NetConn
// sends as it is read and written (tcp-channel, tcp-consumed, tcp-close,
// tcp-set) — to the stack. NetConns send through an actor of the
// client's own runtime; the uplink observes those messages there, inline
// (on the sender's goroutine, with no mailbox hop), and forwards each as
// a turn of a remote actor of its own.
type uplink struct {
	c     *Conn
	id    atomic.Uint64
	local *actors.Actor
}

// outbound are the messages a user sends towards the stack's protocols.
var outbound = []*ds.Pattern{
	ds.RecordPattern(tcp.LabelChannel, ds.RecordPattern(tcp.LabelListener, ds.Discard), ds.Discard, ds.Discard),
	ds.RecordPattern(tcp.LabelChannel, ds.RecordPattern(tcp.LabelHandle, ds.Discard), ds.Discard, ds.Discard),
	ds.RecordPattern(tcp.LabelConsumed, ds.Discard, ds.Discard, ds.Discard),
	ds.RecordPattern(tcp.LabelClose, ds.Discard, ds.Discard, ds.Discard),
	ds.RecordPattern(tcp.LabelSet, ds.Discard, ds.Discard, ds.Discard, ds.Discard),
	ds.RecordPattern(ip.LabelUDPChannel, ds.RecordPattern(ip.LabelUDPListener, ds.Discard), ds.Discard, ds.Discard),
	ds.RecordPattern(ip.LabelUDPChannel, ds.RecordPattern(ip.LabelUDPHandle, ds.Discard), ds.Discard, ds.Discard),
}

func startUplink(c *Conn) *uplink {
	u := &uplink{c: c}
	u.announce()
	u.local = c.sys.Spawn("uplink", func(t *actors.Turn) {
		for _, p := range outbound {
			t.ObserveInline(p, u.forward)
		}
	})
	return u
}

// announce gives the uplink a new remote actor (at the start, and after
// the stack refused one of its sends).
func (u *uplink) announce() {
	id := u.c.nextID.Add(1)
	u.c.sendFrame(&wire.Batch{Actor: id, Name: "uplink"})
	u.id.Store(id)
}

func (u *uplink) forward(_ actors.Inline, m ds.Record) {
	u.c.sendFrame(&wire.Batch{Actor: u.id.Load(), Ops: []wire.Op{{Kind: wire.OpSend, Record: m}}})
}
