package drivers

import (
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"netspace/actors"
)

// InjectConfig configures NewInject. The zero value is a 1500-byte-MTU
// link on the real clock.
type InjectConfig struct {
	// Name is the link's name (default "inject").
	Name string
	// MTU is the IP MTU (default DefaultMTU).
	MTU int
	// MAC is the stack's MAC, reported by HardwareAddr; injected packets
	// are addressed to it (default 02:00:00:00:00:01).
	MAC [6]byte
	// PeerMAC is the MAC of every host beyond the link: ARP requests are
	// answered with it, injected packets come from it (default
	// 02:00:00:00:00:02).
	PeerMAC [6]byte
	// Clock stamps emitted packets with their emission time (default
	// actors.RealClock).
	Clock actors.Clock
	// MaxQueue bounds the emitted packets kept for Receive and the frames
	// waiting for rx (default 4096 each). Beyond it packets are dropped and
	// counted (TxDropped, RxDropped).
	MaxQueue int
}

// Emitted is an IPv4 packet the stack sent, without its link header,
// and the time the stack sent it by its clock.
type Emitted struct {
	Packet []byte
	At     time.Time
}

// ErrNotIPv4 is returned by Inject for a packet that is not an IPv4
// packet (too short, or another version).
var ErrNotIPv4 = errors.New("drivers: not an IPv4 packet")

// Inject is a link for tests that speaks IP packets instead of frames:
// Inject hands a whole IPv4 packet to the stack (wrapped in an Ethernet
// header from PeerMAC to MAC), and Receive returns the IPv4 packets the
// stack sent, stripped of their Ethernet header and stamped with their
// emission time. Every ARP request the stack sends is answered at once
// with PeerMAC, so packets flow to any address without a real peer;
// other frames that are not IPv4 are counted and discarded.
//
// Delivery to rx is synchronous, as on the in-memory wire: an injected
// packet (or an ARP answer) reaches rx before Inject (or Send) returns,
// on the calling goroutine, unless rx is already running — then the
// goroutine running it delivers the frame once rx returns, so rx is never
// entered twice at once.
type Inject struct {
	lifecycle
	cfg InjectConfig
	cnt counters

	mu         sync.Mutex
	idle       *sync.Cond // signalled when delivering ends
	rx         func([][]byte)
	started    bool
	closed     bool
	delivering bool
	pending    [][]byte  // frames waiting for rx
	out        []Emitted // emitted packets waiting for Receive
	ready      chan struct{}
}

// NewInject returns an IP-injection link.
func NewInject(cfg InjectConfig) *Inject {
	if cfg.Name == "" {
		cfg.Name = "inject"
	}
	if cfg.MTU <= 0 {
		cfg.MTU = DefaultMTU
	}
	if cfg.MAC == ([6]byte{}) {
		cfg.MAC = [6]byte{0x02, 0, 0, 0, 0, 0x01}
	}
	if cfg.PeerMAC == ([6]byte{}) {
		cfg.PeerMAC = [6]byte{0x02, 0, 0, 0, 0, 0x02}
	}
	if cfg.Clock == nil {
		cfg.Clock = actors.RealClock()
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = 4096
	}
	l := &Inject{cfg: cfg, ready: make(chan struct{}, 1)}
	l.idle = sync.NewCond(&l.mu)
	l.lifecycle.init()
	return l
}

// Name implements Link.
func (l *Inject) Name() string { return l.cfg.Name }

// MTU implements Link.
func (l *Inject) MTU() int { return l.cfg.MTU }

// HardwareAddr implements Link: the stack's MAC, InjectConfig.MAC.
func (l *Inject) HardwareAddr() [6]byte { return l.cfg.MAC }

// Start implements Link.
func (l *Inject) Start(rx func(frames [][]byte)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return ErrClosed
	case l.started:
		return ErrStarted
	}
	l.rx, l.started = rx, true
	return nil
}

// Inject hands the IPv4 packet pkt to the stack. The packet is copied.
// It fails for a packet that is not IPv4 or is longer than the MTU, and
// on a closed link; a packet injected before Start is dropped and
// counted.
func (l *Inject) Inject(pkt []byte) error {
	if len(pkt) < 20 || pkt[0]>>4 != 4 {
		return ErrNotIPv4
	}
	if len(pkt) > l.cfg.MTU {
		return ErrFrameSize
	}
	f := make([]byte, EthernetHeaderLen+len(pkt))
	copy(f[0:6], l.cfg.MAC[:])
	copy(f[6:12], l.cfg.PeerMAC[:])
	binary.BigEndian.PutUint16(f[12:14], 0x0800)
	copy(f[EthernetHeaderLen:], pkt)
	return l.deliver(f)
}

// deliver hands f to rx, or queues it for the goroutine already doing so.
func (l *Inject) deliver(f []byte) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if !l.started || len(l.pending) >= l.cfg.MaxQueue {
		l.mu.Unlock()
		l.cnt.rxDropped.Add(1)
		return nil
	}
	l.pending = append(l.pending, f)
	if l.delivering {
		l.mu.Unlock()
		return nil
	}
	l.delivering = true
	for len(l.pending) > 0 && !l.closed {
		batch := l.pending
		if len(batch) > DefaultBatch {
			batch = batch[:DefaultBatch]
		}
		l.pending = l.pending[len(batch):]
		rx := l.rx
		l.mu.Unlock()
		l.cnt.received(batch)
		rx(batch)
		l.mu.Lock()
	}
	l.delivering = false
	l.idle.Broadcast()
	l.mu.Unlock()
	return nil
}

// Send implements Link: IPv4 packets are queued for Receive, ARP
// requests answered, the rest discarded.
func (l *Inject) Send(frames [][]byte) error {
	var first error
	for _, f := range frames {
		if len(f) < EthernetHeaderLen || len(f) > MaxFrameSize(l.cfg.MTU) {
			l.cnt.txDropped.Add(1)
			if first == nil {
				first = ErrFrameSize
			}
			continue
		}
		if l.isClosed() {
			l.cnt.txDropped.Add(1)
			if first == nil {
				first = ErrClosed
			}
			continue
		}
		l.cnt.txFrames.Add(1)
		l.cnt.txBytes.Add(uint64(len(f)))
		switch binary.BigEndian.Uint16(f[12:14]) {
		case 0x0800:
			l.emit(f[EthernetHeaderLen:])
		case 0x0806:
			if reply := l.arpReply(f); reply != nil {
				if err := l.deliver(reply); err != nil && first == nil {
					first = err
				}
			}
		}
	}
	return first
}

func (l *Inject) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// emit queues a copy of the IPv4 packet pkt for Receive.
func (l *Inject) emit(pkt []byte) {
	e := Emitted{Packet: append([]byte(nil), pkt...), At: l.cfg.Clock.Now()}
	l.mu.Lock()
	if len(l.out) >= l.cfg.MaxQueue {
		l.mu.Unlock()
		l.cnt.txDropped.Add(1)
		return
	}
	l.out = append(l.out, e)
	l.mu.Unlock()
	select {
	case l.ready <- struct{}{}:
	default:
	}
}

// arpReply returns the answer to the ARP request in frame f (Ethernet,
// IPv4), from PeerMAC, or nil if f is not a request or is an
// announcement of the sender's own address.
func (l *Inject) arpReply(f []byte) []byte {
	a := f[EthernetHeaderLen:]
	if len(a) < 28 || binary.BigEndian.Uint16(a[0:2]) != 1 || binary.BigEndian.Uint16(a[2:4]) != 0x0800 ||
		a[4] != 6 || a[5] != 4 || binary.BigEndian.Uint16(a[6:8]) != 1 {
		return nil
	}
	senderMAC, senderIP, targetIP := a[8:14], a[14:18], a[24:28]
	if string(senderIP) == string(targetIP) {
		return nil // gratuitous ARP: nobody to answer
	}
	r := make([]byte, EthernetHeaderLen+28)
	copy(r[0:6], senderMAC)
	copy(r[6:12], l.cfg.PeerMAC[:])
	binary.BigEndian.PutUint16(r[12:14], 0x0806)
	p := r[EthernetHeaderLen:]
	binary.BigEndian.PutUint16(p[0:2], 1)
	binary.BigEndian.PutUint16(p[2:4], 0x0800)
	p[4], p[5] = 6, 4
	binary.BigEndian.PutUint16(p[6:8], 2)
	copy(p[8:14], l.cfg.PeerMAC[:])
	copy(p[14:18], targetIP)
	copy(p[18:24], senderMAC)
	copy(p[24:28], senderIP)
	return r
}

// Receive returns the oldest emitted packet not yet returned, without
// waiting; ok is false if there is none.
func (l *Inject) Receive() (e Emitted, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.out) == 0 {
		return Emitted{}, false
	}
	e = l.out[0]
	l.out[0] = Emitted{}
	l.out = l.out[1:]
	if len(l.out) == 0 {
		l.out = nil
	}
	return e, true
}

// Queued returns how many emitted packets wait for Receive.
func (l *Inject) Queued() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.out)
}

// Ready is signalled (it has room for one signal) each time a packet is
// queued for Receive: a caller that found nothing waits on it, then
// tries again.
func (l *Inject) Ready() <-chan struct{} { return l.ready }

// Discard drops every emitted packet waiting for Receive.
func (l *Inject) Discard() {
	l.mu.Lock()
	l.out = nil
	l.mu.Unlock()
}

// Stats implements Link.
func (l *Inject) Stats() LinkStats { return l.cnt.snapshot() }

// Close implements Link: rx is not called again once Close returns.
func (l *Inject) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.pending = nil
	for l.delivering {
		l.idle.Wait()
	}
	l.mu.Unlock()
	l.finish(nil)
	return nil
}

var _ Link = (*Inject)(nil)
