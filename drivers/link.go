package drivers

import (
	"errors"
	"sync"
	"sync/atomic"
)

// Link is a raw Ethernet link.
//
// Frames are whole Ethernet frames, destination MAC first, without preamble
// or FCS. Implementations are safe for concurrent use: Send may be called from
// several goroutines at once, also while rx runs.
type Link interface {
	// Name is the link's name, e.g. the kernel interface name.
	Name() string
	// MTU is the IP MTU (e.g. 1500): frames are at most MTU+14 bytes, or
	// MTU+18 with a VLAN tag (see [MaxFrameSize]).
	MTU() int
	// HardwareAddr is the link's own MAC if it has one (a packet socket
	// bound to an interface), or zero if the stack must pick its own (TAP,
	// in-memory wire).
	HardwareAddr() [6]byte
	// Start begins delivering received frames to rx. rx is called from one
	// goroutine at a time, with bursts of frames: as many as were ready, up
	// to a batch size. The frames' buffers belong to the link and are
	// reused once rx returns: rx must copy what it keeps (it may modify
	// them in place). Start may be called once. What arrived before it
	// depends on the link: a device delivers what its kernel queue kept,
	// the in-memory wire dropped and counted it.
	Start(rx func(frames [][]byte)) error
	// Send transmits frames. The buffers stay the caller's and are not
	// retained. Send tries every frame and returns nil, or the first error
	// met (frames refused are counted in Stats either way).
	Send(frames [][]byte) error
	// Stats returns a snapshot of the link's counters.
	Stats() LinkStats
	// Done is closed when the link has stopped delivering frames for
	// good: after Close, after a fatal device error, at the end of a
	// playback.
	Done() <-chan struct{}
	// Err reports why delivery stopped: nil while running and after a
	// plain Close or end of file, the device error otherwise.
	Err() error
	// Close stops delivery, unblocking a blocked reader promptly, and
	// releases the device. When Close returns rx is no longer running and
	// will not be called again. Close must not be called from inside rx.
	Close() error
}

// EthernetHeaderLen is the length of an untagged Ethernet header.
const EthernetHeaderLen = 14

// VLANTagLen is the length of one 802.1Q tag.
const VLANTagLen = 4

// MaxFrameSize returns the largest frame a link of the given IP MTU carries:
// the MTU plus an Ethernet header and one VLAN tag.
func MaxFrameSize(mtu int) int { return mtu + EthernetHeaderLen + VLANTagLen }

// DefaultBatch is the number of frames a reader collects, at most, before
// calling rx.
const DefaultBatch = 64

// DefaultMTU is the MTU of links that are not told otherwise.
const DefaultMTU = 1500

// Errors returned by links; test with errors.Is.
var (
	// ErrClosed is returned by operations on a closed link.
	ErrClosed = errors.New("drivers: link closed")
	// ErrStarted is returned by a second call to Start.
	ErrStarted = errors.New("drivers: link already started")
	// ErrFrameSize is returned by Send for a frame shorter than an Ethernet
	// header or longer than MaxFrameSize(MTU).
	ErrFrameSize = errors.New("drivers: frame size out of range")
)

// LinkStats counts what a link has carried. Received frames and bytes are
// those handed to rx; sent ones are those accepted by the device (or wire).
type LinkStats struct {
	RxFrames uint64 // frames delivered to rx
	RxBytes  uint64 // bytes delivered to rx
	TxFrames uint64 // frames accepted by Send
	TxBytes  uint64 // bytes accepted by Send
	// RxErrors counts failed reads (system call errors).
	RxErrors uint64
	// TxErrors counts frames whose write failed (system call errors).
	TxErrors uint64
	// RxDropped counts received frames discarded: truncated, arriving
	// before Start or after Close, or beyond a full queue.
	RxDropped uint64
	// TxDropped counts frames Send refused or could not queue: wrong size,
	// device busy beyond the send wait, a full hold queue.
	TxDropped uint64
}

// counters holds LinkStats as atomics. Receive and send counters sit on
// different cache lines: the reader and the senders run on different cores.
type counters struct {
	rxFrames, rxBytes, rxErrors, rxDropped atomic.Uint64
	_                                      [64]byte
	txFrames, txBytes, txErrors, txDropped atomic.Uint64
}

func (c *counters) snapshot() LinkStats {
	return LinkStats{
		RxFrames:  c.rxFrames.Load(),
		RxBytes:   c.rxBytes.Load(),
		TxFrames:  c.txFrames.Load(),
		TxBytes:   c.txBytes.Load(),
		RxErrors:  c.rxErrors.Load(),
		TxErrors:  c.txErrors.Load(),
		RxDropped: c.rxDropped.Load(),
		TxDropped: c.txDropped.Load(),
	}
}

// received counts a batch handed to rx.
func (c *counters) received(frames [][]byte) {
	var n uint64
	for _, f := range frames {
		n += uint64(len(f))
	}
	c.rxFrames.Add(uint64(len(frames)))
	c.rxBytes.Add(n)
}

// lifecycle is the Done/Err half of a Link.
type lifecycle struct {
	once sync.Once
	done chan struct{}
	mu   sync.Mutex
	err  error
}

func (l *lifecycle) init() { l.done = make(chan struct{}) }

// finish records err (the first one wins) and closes done.
func (l *lifecycle) finish(err error) {
	l.once.Do(func() {
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
		close(l.done)
	})
}

// Done implements Link.
func (l *lifecycle) Done() <-chan struct{} { return l.done }

// Err implements Link.
func (l *lifecycle) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}
