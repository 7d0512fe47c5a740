package tcp

import (
	"fmt"
	"net/netip"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/ip"
	"netspace/portalloc"
)

// bootDialer is the dialer: for every user observing
// tcp-channel(tcp-address(h, p), tcp-handle(id), _) it starts a connection
// actor that opens a connection to h:p from one of our addresses. The
// user learns the outcome from tcp-connection(tcp-address(h, p),
// tcp-handle(id), state) and may write once granted (tcp-writable).
func (l *layer) bootDialer(t *actors.Turn) {
	me := t.Actor()
	locals := map[netip.Addr]netip.Prefix{}
	t.Observe(ds.RecordPattern(ip.LabelHostRoute, ds.CaptureAny, ds.CaptureAny, ds.Discard), actors.Handler{
		Added: func(t *actors.Turn, c []ds.Value) {
			locals[c[0].AsAddr()] = netip.PrefixFrom(c[0].AsAddr(), int(c[1].AsInt())).Masked()
		},
		Removed: func(t *actors.Turn, c []ds.Value) { delete(locals, c[0].AsAddr()) },
	})
	conns := map[string]*actors.Actor{}
	t.Observe(ds.ObservePattern(ds.RecordPattern(LabelChannel,
		ds.RecordPattern(LabelAddress, ds.CaptureAny, ds.CaptureAny),
		ds.RecordPattern(LabelHandle, ds.CaptureAny), ds.Discard)), actors.Handler{
		Added: func(t *actors.Turn, c []ds.Value) {
			key := fmt.Sprint(c)
			if a := conns[key]; a != nil && a.Alive() {
				return
			}
			remote := netip.AddrPortFrom(c[0].AsAddr(), uint16(c[1].AsInt()))
			child := l.spawnConn(t, connSpec{
				local:     netip.AddrPortFrom(sourceFor(locals, remote.Addr()), 0),
				remote:    remote,
				localRec:  &Handle{ID: c[2]},
				remoteRec: &Address{Host: remote.Addr(), Port: remote.Port()},
			})
			conns[key] = child
			child.Watch(func() {
				me.Inject(func(*actors.Turn) {
					if conns[key] == child {
						delete(conns, key)
					}
				})
			})
		},
	})
}

// sourceFor picks our address for a connection to dst: one on dst's
// subnet, else the lowest (the one towards the gateway on a one-subnet
// host), or the invalid address when we have none.
func sourceFor(locals map[netip.Addr]netip.Prefix, dst netip.Addr) netip.Addr {
	if _, ok := locals[dst]; ok {
		return dst
	}
	var best netip.Addr
	for a, pfx := range locals {
		if pfx.Contains(dst) {
			return a
		}
		if !best.IsValid() || a.Less(best) {
			best = a
		}
	}
	return best
}

func portallocRequest(id ds.Value) ds.Record { return &portalloc.Request{Proto: "tcp", ID: id} }

func portallocReply(id ds.Value) *ds.Pattern { return portalloc.ReplyPattern("tcp", id) }

func portallocPort(m ds.Record) uint16 { return m.(*portalloc.Reply).Port }
