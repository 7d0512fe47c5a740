package tcp

import (
	"encoding/binary"
	"maps"
	"net/netip"
	"sync/atomic"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/ip"
	"netspace/portalloc"

	"go.uber.org/zap"
)

// LayerConfig configures the TCP layer of a stack.
type LayerConfig struct {
	// Conn holds the defaults of every connection.
	Conn Config
	// Backlog bounds each listener's half-open connections; SYNs beyond
	// it are answered with SYN cookies [1024].
	Backlog int
	// Secret keys ISNs and SYN cookies (take it from crypto/rand).
	Secret [16]byte
	// Seed seeds the ephemeral port choice.
	Seed uint64
	// MessageLimit bounds each connection actor's mailbox [4096].
	MessageLimit int
}

// LayerStats count the TCP layer's work; connections count their own.
type LayerStats struct {
	SegsIn          atomic.Uint64
	Malformed       atomic.Uint64 // bad header or options
	BadChecksum     atomic.Uint64
	Unclaimed       atomic.Uint64 // segments for no connection, passed to a listener
	ResetsSent      atomic.Uint64 // resets for segments nobody claims
	SYNs            atomic.Uint64
	CookiesSent     atomic.Uint64 // SYN-ACKs with a cookie (backlog full)
	CookiesAccepted atomic.Uint64
	CookiesRejected atomic.Uint64
	Opened          atomic.Uint64 // connections that reached ESTABLISHED
	Active          atomic.Int64  // connection actors alive now
	Retransmits     atomic.Uint64 // summed as connections end
	Timeouts        atomic.Uint64
	ChallengeACKs   atomic.Uint64
	SendOverruns    atomic.Uint64 // users that wrote past their grants
	MailboxDropped  atomic.Uint64 // segments dropped at full connection mailboxes
	ResetsOnStop    atomic.Uint64 // connections reset because their actor ended (a crash) while open
}

// layer is what the TCP actors share: configuration, secrets and counters,
// all safe for concurrent use once built.
type layer struct {
	cfg     LayerConfig
	stats   *LayerStats
	isn     *ISNGenerator
	cookies *SYNCookies
}

// Spawn starts the TCP layer: the codec, which decodes received segments
// and hands each to the connection observing its 4-tuple (or to its
// port's listener, or answers a reset); a demand matcher that starts a
// listener for every port users observe tcp-channel(_, tcp-listener(p),
// _) on; the dialer, which opens a connection for every user observing
// tcp-channel(tcp-address(h, p), tcp-handle(id), _); and the port
// allocator for local ports.
func Spawn(t *actors.Turn, cfg LayerConfig) (*actors.Actor, *LayerStats) {
	if cfg.Backlog <= 0 {
		cfg.Backlog = 1024
	}
	if cfg.MessageLimit <= 0 {
		cfg.MessageLimit = 4096
	}
	cfg.Conn.defaults()
	var k2 [16]byte
	binary.LittleEndian.PutUint64(k2[:8], binary.LittleEndian.Uint64(cfg.Secret[8:])^0x5bd1e995)
	binary.LittleEndian.PutUint64(k2[8:], binary.LittleEndian.Uint64(cfg.Secret[:8])+0x27d4eb2f165667c5)
	l := &layer{cfg: cfg, stats: &LayerStats{}, isn: NewISNGenerator(cfg.Secret), cookies: NewSYNCookies(k2)}
	_, _ = portalloc.Spawn(t, portalloc.Config{
		Proto: "tcp",
		Seed:  cfg.Seed,
		InUse: []*ds.Pattern{
			ds.ObservePattern(ds.RecordPattern(LabelChannel, ds.Discard, ds.RecordPattern(LabelListener, ds.CaptureAny), ds.Discard)),
			ds.RecordPattern(LabelPortInUse, ds.CaptureAny),
		},
	})
	t.SpawnDemandMatcher("tcp-listeners", actors.DemandSpec{
		// Wildcard interest opens a port: tcp-channel(?, tcp-listener(p), ?),
		// not a per-connection lease tcp-channel(tcp-address(h, q), …).
		Demand: ds.ObservePattern(ds.RecordPattern(LabelChannel, ds.Captured, ds.RecordPattern(LabelListener, ds.CaptureAny), ds.Discard)),
		Supply: ds.RecordPattern(LabelListening, ds.CaptureAny),
		Spawn: func(t *actors.Turn, caps []ds.Value) *actors.Actor {
			return l.spawnListener(t, uint16(caps[0].AsInt()))
		},
	})
	t.Spawn("tcp-dialer", l.bootDialer)
	a := t.Spawn("tcp", l.bootCodec)
	return a, l.stats
}

// bootCodec is the codec: one decode per received segment, then one
// routing attempt to the connection's 4-tuple pattern.
func (l *layer) bootCodec(t *actors.Turn) {
	log := t.System().Logger().Named("tcp")
	// The codec runs inline, on the goroutine that delivers the datagram
	// (the link's reader): one decode, then one routing attempt straight
	// into the connection's mailbox. Its only state, the ports listened
	// on, is published copy-on-write.
	var listening atomic.Pointer[map[uint16]bool]
	listening.Store(&map[uint16]bool{})
	setListening := func(port uint16, on bool) {
		next := maps.Clone(*listening.Load())
		if on {
			next[port] = true
		} else {
			delete(next, port)
		}
		listening.Store(&next)
	}
	t.Observe(ds.RecordPattern(LabelListening, ds.CaptureAny), actors.Handler{
		Added:   func(t *actors.Turn, c []ds.Value) { setListening(uint16(c[0].AsInt()), true) },
		Removed: func(t *actors.Turn, c []ds.Value) { setListening(uint16(c[0].AsInt()), false) },
	})
	trace := func(msg string, fs ...zap.Field) {
		if LabelPacket.Traced() {
			if ce := log.Check(zap.DebugLevel, msg); ce != nil {
				ce.Write(fs...)
			}
		}
	}
	t.ObserveInline(ip.InboundPattern(ip.ProtocolTCP), func(in actors.Inline, m ds.Record) {
		d := m.(*ip.Packet)
		l.stats.SegsIn.Add(1)
		h := Header(d.Body)
		if err := h.Check(); err != nil {
			l.stats.Malformed.Add(1)
			trace("drop malformed segment", zap.Error(err), zap.Stringer("src", d.Src))
			return
		}
		if d.Iface != "lo" && !h.VerifyChecksum(d.Src, d.Dst) {
			l.stats.BadChecksum.Add(1)
			trace("drop segment with bad checksum", zap.Stringer("src", d.Src))
			return
		}
		p := &Packet{FromWire: true,
			Src: netip.AddrPortFrom(d.Src, h.SrcPort()), Dst: netip.AddrPortFrom(d.Dst, h.DstPort()),
			Seg:     Segment{Seq: h.Seq(), Ack: h.Ack(), Flags: h.Flags(), Window: h.Window(), Payload: h.Payload()},
			RawOpts: h.Options()}
		if err := ParseOptions(p.RawOpts, &p.Seg.Opts); err != nil {
			l.stats.Malformed.Add(1)
			trace("drop segment with malformed options", zap.Error(err), zap.Stringer("src", p.Src))
			return
		}
		if in.SendNow(p) > 0 {
			return
		}
		if (*listening.Load())[p.Dst.Port()] {
			l.stats.Unclaimed.Add(1)
			if in.SendNow(&Unclaimed{Port: p.Dst.Port(), Packet: p}) > 0 {
				return
			}
		}
		l.reset(in, p)
	})
}

// reset answers a segment that belongs to no connection (RFC 9293
// §3.10.7.1): never a RST for a RST.
func (l *layer) reset(t interface{ Send(ds.Record) }, p *Packet) {
	s := &p.Seg
	if s.Flags.Has(FlagRST) {
		return
	}
	var r Segment
	if s.Flags.Has(FlagACK) {
		r = Segment{Seq: s.Ack, Flags: FlagRST}
	} else {
		r = Segment{Ack: s.Seq.Add(int(s.Len())), Flags: FlagRST | FlagACK}
	}
	l.stats.ResetsSent.Add(1)
	t.Send(encode(p.Dst, p.Src, &r))
}

// encode builds the IP datagram carrying s from src to dst: the TCP
// header, options and payload written once into a frame with room for
// the IP and Ethernet headers in front.
func encode(src, dst netip.AddrPort, s *Segment) *ip.Packet {
	var ob [40]byte
	hf := HeaderFields{SrcPort: src.Port(), DstPort: dst.Port(), Seq: s.Seq, Ack: s.Ack, Flags: s.Flags, Window: s.Window}
	if n := OptionsLen(&s.Opts); n > 0 {
		hf.Options = ob[:PutOptions(ob[:], &s.Opts)]
	}
	hl := hf.HeaderLen()
	frame := make([]byte, ip.Headroom+hl+len(s.Payload))
	seg := frame[ip.Headroom:]
	PutHeader(seg, &hf)
	copy(seg[hl:], s.Payload)
	SetChecksum(seg, src.Addr(), dst.Addr())
	return &ip.Packet{Src: src.Addr(), Dst: dst.Addr(), Proto: ip.ProtocolTCP, Body: seg, Frame: frame, DontFragment: true}
}
