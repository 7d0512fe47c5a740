package dns

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/ip"
	"netspace/tcp"

	"go.uber.org/zap"
)

// ResponderStats counts the responder's work.
type ResponderStats struct {
	Queries   atomic.Uint64 // queries received, UDP and TCP
	Answered  atomic.Uint64
	NoData    atomic.Uint64
	NXDomain  atomic.Uint64
	Malformed atomic.Uint64 // answered with FORMERR, NOTIMP or REFUSED
	Dropped   atomic.Uint64 // not answered (responses, junk)
	Truncated atomic.Uint64 // UDP replies sent with TC
	TCPConns  atomic.Uint64 // TCP connections accepted
	TCPRefuse atomic.Uint64 // TCP connections aborted: too many, or a message too long
}

// ResponderConfig configures the responder.
type ResponderConfig struct {
	// Port is the port served over UDP and TCP (default 53).
	Port uint16
	// MaxConns bounds the TCP connections served at once (default 64);
	// beyond it new ones are aborted and counted.
	MaxConns int
}

// SpawnResponder starts the DNS responder: it answers, over UDP and TCP,
// A and PTR queries for the names asserted as dns-name(name, addr), and
// NXDOMAIN for other names (see Zone.Respond).
func SpawnResponder(t *actors.Turn, cfg ResponderConfig) (*actors.Actor, *ResponderStats) {
	r := newResponder(cfg)
	return t.Spawn("dns-responder", r.boot), r.st
}

// StartResponder is SpawnResponder for a top-level actor of sys.
func StartResponder(sys *actors.System, cfg ResponderConfig) (*actors.Actor, *ResponderStats) {
	r := newResponder(cfg)
	return sys.Spawn("dns-responder", r.boot), r.st
}

func newResponder(cfg ResponderConfig) *responder {
	if cfg.Port == 0 {
		cfg.Port = Port
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 64
	}
	return &responder{cfg: cfg, st: &ResponderStats{}}
}

type responder struct {
	cfg   ResponderConfig
	st    *ResponderStats
	log   *zap.Logger
	zone  Zone
	local *tcp.Listener
	conns map[netip.AddrPort]*rconn
}

// rconn is one TCP connection: bytes until a whole length-prefixed
// message is in, and replies waiting for send credit.
type rconn struct {
	remote ds.Record
	in     []byte
	out    []byte
	credit int
	closed bool
	peerFn bool
}

func (r *responder) boot(t *actors.Turn) {
	r.log = t.System().Logger().Named("dns")
	r.conns = map[netip.AddrPort]*rconn{}
	r.local = &tcp.Listener{Port: r.cfg.Port}
	t.Observe(ds.RecordPattern(LabelName, ds.CaptureAny, ds.CaptureAny), actors.Handler{
		Added: func(t *actors.Turn, c []ds.Value) {
			if err := r.zone.Add(c[0].AsString(), c[1].AsAddr()); err != nil {
				r.log.Warn("bad dns-name", zap.Error(err))
			}
		},
		Removed: func(t *actors.Turn, c []ds.Value) { r.zone.Remove(c[0].AsString(), c[1].AsAddr()) },
	})
	t.Observe(ip.ListenerPattern(r.cfg.Port), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) {
			ch := m.(*ip.UDPChannel)
			reply := r.respond(ch.Body, MaxUDP, ch.Src)
			if reply != nil {
				t.Send(&ip.UDPChannel{Src: ch.Dst, Dst: ch.Src, Body: reply})
			}
		},
	})
	lp := tcp.ListenerPattern(r.cfg.Port)
	t.Observe(ds.RecordPattern(tcp.LabelConnection, ds.CaptureAny, lp, ds.CaptureAny), actors.Handler{
		Added: func(t *actors.Turn, c []ds.Value) { r.connState(t, c[0].AsRecord(), c[1].AsString()) },
	})
	t.Observe(tcp.ChannelFrom(lp), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) {
			ch := m.(*tcp.Channel)
			if c := r.conns[addrPort(ch.Src)]; c != nil {
				r.tcpData(t, c, ch.Data)
			}
		},
	})
	t.Observe(ds.RecordPattern(tcp.LabelWritable, ds.CaptureAny, lp, ds.CaptureAny), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) {
			w := m.(*tcp.Writable)
			if c := r.conns[addrPort(w.Remote)]; c != nil {
				c.credit += w.N
				r.flush(t, c)
			}
		},
	})
}

func addrPort(r ds.Record) netip.AddrPort {
	return netip.AddrPortFrom(r.Field(0).AsAddr(), uint16(r.Field(1).AsInt()))
}

// respond answers one query and counts the outcome.
func (r *responder) respond(q []byte, maxLen int, from ds.Record) []byte {
	r.st.Queries.Add(1)
	reply, out := r.zone.Respond(q, maxLen)
	switch out {
	case Answered:
		r.st.Answered.Add(1)
	case NoData:
		r.st.NoData.Add(1)
	case NXDomain:
		r.st.NXDomain.Add(1)
	case Malformed:
		r.st.Malformed.Add(1)
	default:
		r.st.Dropped.Add(1)
	}
	if len(reply) > 3 && reply[2]&0x02 != 0 {
		r.st.Truncated.Add(1)
	}
	if LabelAnswer.Traced() {
		if ce := r.log.Check(zap.DebugLevel, "respond"); ce != nil {
			ce.Write(zap.String("from", ds.FormatRecord(from)), zap.Int("len", len(q)), zap.Uint8("outcome", uint8(out)))
		}
	}
	return reply
}

func (r *responder) connState(t *actors.Turn, remote ds.Record, state string) {
	a := addrPort(remote)
	c := r.conns[a]
	switch state {
	case tcp.StateEstablished:
		if c != nil {
			return
		}
		c = &rconn{remote: remote}
		if len(r.conns) >= r.cfg.MaxConns {
			r.st.TCPRefuse.Add(1)
			t.Send(&tcp.Close{Remote: remote, Local: r.local, How: tcp.CloseAbort})
			return
		}
		r.st.TCPConns.Add(1)
		r.conns[a] = c
	case tcp.StatePeerClosed:
		if c != nil {
			c.peerFn = true
			r.flush(t, c)
		}
	default:
		delete(r.conns, a)
	}
}

// tcpData takes bytes of a TCP connection: each message is preceded by
// its length in two bytes (RFC 1035 §4.2.2).
func (r *responder) tcpData(t *actors.Turn, c *rconn, data []byte) {
	t.Send(&tcp.Consumed{Remote: c.remote, Local: r.local, N: len(data)})
	if c.closed {
		return
	}
	c.in = append(c.in, data...)
	for len(c.in) >= 2 {
		n := int(binary.BigEndian.Uint16(c.in))
		if len(c.in) < 2+n {
			break
		}
		if reply := r.respond(c.in[2:2+n], 0xffff, c.remote); reply != nil {
			c.out = binary.BigEndian.AppendUint16(c.out, uint16(len(reply)))
			c.out = append(c.out, reply...)
		}
		c.in = c.in[2+n:]
	}
	if len(c.out) > 1<<20 {
		// A client that sends queries and never reads: stop it.
		r.st.TCPRefuse.Add(1)
		c.closed = true
		t.Send(&tcp.Close{Remote: c.remote, Local: r.local, How: tcp.CloseAbort})
		return
	}
	c.in = append([]byte(nil), c.in...)
	r.flush(t, c)
}

func (r *responder) flush(t *actors.Turn, c *rconn) {
	if n := min(len(c.out), c.credit); n > 0 && !c.closed {
		t.Send(&tcp.Channel{Src: r.local, Dst: c.remote, Data: c.out[:n:n]})
		c.out, c.credit = c.out[n:], c.credit-n
	}
	if c.peerFn && len(c.out) == 0 && !c.closed {
		c.closed = true
		t.Send(&tcp.Close{Remote: c.remote, Local: r.local, How: tcp.CloseWrite})
	}
}
