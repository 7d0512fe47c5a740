package ethernet

import (
	"sync"
	"sync/atomic"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/drivers"

	"go.uber.org/zap"
)

// InterfaceConfig configures an interface actor.
type InterfaceConfig struct {
	// Name is the interface's name in records (default: the link's name).
	Name string
	// MAC is the stack's address on the link (default: the link's own
	// address; links without one, such as TAP, need it set).
	MAC MAC
}

// InterfaceStats counts what an interface did. Every frame received is
// counted once in RxFrames and at most once in a drop counter.
type InterfaceStats struct {
	RxFrames    atomic.Uint64 // frames read from the link
	RxBytes     atomic.Uint64
	RxDelivered atomic.Uint64 // frames passed up as ethernet-packet messages
	RxNotForUs  atomic.Uint64 // dropped: unicast to another MAC, unjoined multicast, or our own frames echoed back
	RxMalformed atomic.Uint64 // dropped: shorter than a header
	TxFrames    atomic.Uint64 // frames written
	TxBytes     atomic.Uint64
	TxErrors    atomic.Uint64 // frames the link refused
}

// SpawnInterface starts the actor that owns link: it asserts
// ethernet-interface(name, mac, mtu), passes every received frame that is
// for us (our MAC, broadcast, or a multicast group joined with
// ethernet-join) up as an ethernet-packet message — routed on the link's
// reader goroutine, straight to the observers — and writes every
// ethernet-packet(name, #f, …) to the link. When the actor stops it closes
// the link; when the link ends (a device error, the end of a playback) the
// actor stops and its interface assertion is retracted.
func SpawnInterface(t *actors.Turn, link drivers.Link, cfg InterfaceConfig) (*actors.Actor, *InterfaceStats) {
	if cfg.Name == "" {
		cfg.Name = link.Name()
	}
	if cfg.MAC == (MAC{}) {
		cfg.MAC = MAC(link.HardwareAddr())
	}
	stats := &InterfaceStats{}
	a := t.Spawn("ethernet:"+cfg.Name, func(t *actors.Turn) { bootInterface(t, link, cfg, stats) })
	return a, stats
}

func bootInterface(t *actors.Turn, link drivers.Link, cfg InterfaceConfig, stats *InterfaceStats) {
	me := t.Actor()
	log := t.System().Logger().With(zap.String("iface", cfg.Name))
	name, mac := cfg.Name, cfg.MAC
	t.Assert(&Interface{Name: name, MAC: mac, MTU: link.MTU()})

	var joined atomic.Pointer[map[MAC]int]
	empty := map[MAC]int{}
	joined.Store(&empty)
	setJoined := func(m MAC, delta int) {
		old := *joined.Load()
		next := make(map[MAC]int, len(old)+1)
		for k, v := range old {
			next[k] = v
		}
		if next[m] += delta; next[m] <= 0 {
			delete(next, m)
		}
		joined.Store(&next)
	}
	t.Observe(ds.RecordPattern(LabelJoin, ds.Lit(ds.String(name)), ds.CaptureAny), actors.Handler{
		Added:   func(t *actors.Turn, c []ds.Value) { setJoined(MACFrom(c[0]), +1) },
		Removed: func(t *actors.Turn, c []ds.Value) { setJoined(MACFrom(c[0]), -1) },
	})

	// Transmission runs inline, on the sender's goroutine: the frame goes
	// to the link without a hop through this actor's mailbox (links take
	// concurrent Sends).
	t.ObserveInline(OutboundPattern(name), func(in actors.Inline, m ds.Record) {
		p := m.(*Packet)
		frame := p.Frame
		if len(frame) != HeaderLen+len(p.Body) {
			frame = make([]byte, HeaderLen+len(p.Body))
			copy(frame[HeaderLen:], p.Body)
		}
		PutHeader(frame, p.Dst, p.Src, p.Type)
		out := sendBatches.Get().(*[1][]byte)
		out[0] = frame
		err := link.Send(out[:])
		out[0] = nil
		sendBatches.Put(out)
		if err != nil {
			stats.TxErrors.Add(1)
			if ce := log.Check(zap.DebugLevel, "send failed"); ce != nil && LabelPacket.Traced() {
				ce.Write(zap.Error(err), zap.Int("len", len(frame)))
			}
			return
		}
		stats.TxFrames.Add(1)
		stats.TxBytes.Add(uint64(len(frame)))
	})

	rx := func(frames [][]byte) {
		set := *joined.Load()
		for _, b := range frames {
			stats.RxFrames.Add(1)
			stats.RxBytes.Add(uint64(len(b)))
			f := Frame(b)
			if f.Check() != nil {
				stats.RxMalformed.Add(1)
				traceDrop(log, "malformed frame", len(b))
				continue
			}
			dst, src := f.Dst(), f.Src()
			if src == mac || (dst != mac && !dst.IsBroadcast() && (!dst.IsMulticast() || set[dst] == 0)) {
				stats.RxNotForUs.Add(1)
				continue
			}
			owned := make([]byte, len(b))
			copy(owned, b)
			of := Frame(owned)
			stats.RxDelivered.Add(1)
			me.Send(&Packet{Iface: name, FromWire: true, Src: src, Dst: dst, Type: of.EtherType(), Body: of.Payload(), Frame: owned})
		}
	}
	if err := link.Start(rx); err != nil {
		log.Error("cannot start link", zap.Error(err))
		t.Stop()
		return
	}
	t.OnStop(func() { link.Close() })
	go func() {
		<-link.Done()
		if err := link.Err(); err != nil {
			log.Error("link failed", zap.Error(err))
		}
		me.Stop()
	}()
}

// sendBatches holds one-frame batches for link.Send, so a send allocates
// no slice.
var sendBatches = sync.Pool{New: func() any { return new([1][]byte) }}

func traceDrop(log *zap.Logger, reason string, n int) {
	if !LabelPacket.Traced() {
		return
	}
	if ce := log.Check(zap.DebugLevel, "drop"); ce != nil {
		ce.Write(zap.String("reason", reason), zap.Int("len", n))
	}
}
