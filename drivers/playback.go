package drivers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"netspace/actors"
)

// maxStoredFrame bounds the frames Playback reads: larger records are taken
// for a corrupt file rather than allocated.
const maxStoredFrame = 1 << 18

// PlaybackOptions configure Playback.
type PlaybackOptions struct {
	// Name is the link's name (default "playback").
	Name string
	// MTU is the MTU the link reports (default DefaultMTU). Frames in the
	// file are delivered as stored whatever their size.
	MTU int
	// HardwareAddr is the MAC the link reports (default zero).
	HardwareAddr [6]byte
	// Filter, if set, keeps only the frames it returns true for, e.g.
	// one direction of a capture (see FromMAC). It must not keep frame.
	Filter func(frame []byte) bool
	// Pace delivers frames at the pace they were captured, by Clock: a
	// frame captured d after the first one is delivered d after Start.
	// Without Pace frames are delivered as fast as rx takes them.
	Pace bool
	// Clock paces the delivery (default actors.RealClock). With an
	// actors.ManualClock frames are delivered from inside Advance,
	// starting with the first Advance after Start.
	Clock actors.Clock
	// Batch is the most frames per rx call (default DefaultBatch).
	Batch int
	// Record keeps copies of the first Record frames sent, for Sent.
	Record int
}

// FromMAC returns a Filter keeping the frames whose source MAC is mac.
func FromMAC(mac [6]byte) func(frame []byte) bool {
	return func(f []byte) bool { return len(f) >= 12 && [6]byte(f[6:12]) == mac }
}

// PlaybackLink is a Link whose received frames come from a pcap stream. See
// Playback.
type PlaybackLink struct {
	lifecycle
	opts     PlaybackOptions
	r        *pcapgo.Reader
	stats    counters
	filtered atomic.Uint64

	mu      sync.Mutex
	idle    *sync.Cond // signalled when busy turns false
	started bool
	closed  bool
	busy    bool         // a delivery step is running
	timer   actors.Timer // the paced step scheduled next
	sent    [][]byte     // recorded frames

	// Delivery state, owned by the running step.
	rx       func(frames [][]byte)
	bufs     [][]byte
	frames   [][]byte
	next     []byte    // paced: the first frame not yet due
	nextTS   time.Time // its capture time
	haveNext bool
	t0       time.Time // paced: Start time on Clock
	c0       time.Time // paced: capture time of the first frame
}

var _ Link = (*PlaybackLink)(nil)

// Playback returns a Link that delivers the frames of the pcap stream r
// (Ethernet link type) in file order, in bursts, once Start is called. When
// the stream ends delivery stops and Done is closed; Err then reports a read
// error, or nil at a clean end of file. Frames that the capture truncated
// are delivered as stored. Send only counts the frames, and keeps copies of
// the first opts.Record of them.
//
// Without Pace a goroutine reads and delivers; Close waits for its current
// read, so r should be a file or a buffer, not a stream that can block.
func Playback(r io.Reader, opts PlaybackOptions) (*PlaybackLink, error) {
	pr, err := pcapgo.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("drivers: playback: %w", err)
	}
	if lt := pr.LinkType(); lt != layers.LinkTypeEthernet {
		return nil, fmt.Errorf("drivers: playback: link type %v, want Ethernet", lt)
	}
	// Read frames longer than the declared snaplen as stored.
	pr.SetSnaplen(maxStoredFrame)
	if opts.Name == "" {
		opts.Name = "playback"
	}
	if opts.MTU <= 0 {
		opts.MTU = DefaultMTU
	}
	if opts.Clock == nil {
		opts.Clock = actors.RealClock()
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	p := &PlaybackLink{opts: opts, r: pr}
	p.lifecycle.init()
	p.idle = sync.NewCond(&p.mu)
	p.bufs = make([][]byte, opts.Batch)
	p.frames = make([][]byte, 0, opts.Batch)
	return p, nil
}

// Name implements Link.
func (p *PlaybackLink) Name() string { return p.opts.Name }

// MTU implements Link.
func (p *PlaybackLink) MTU() int { return p.opts.MTU }

// HardwareAddr implements Link.
func (p *PlaybackLink) HardwareAddr() [6]byte { return p.opts.HardwareAddr }

// Stats implements Link.
func (p *PlaybackLink) Stats() LinkStats { return p.stats.snapshot() }

// Filtered returns the number of frames in the file that Filter left out.
func (p *PlaybackLink) Filtered() uint64 { return p.filtered.Load() }

// Start implements Link: delivery begins.
func (p *PlaybackLink) Start(rx func(frames [][]byte)) error {
	if rx == nil {
		return errors.New("drivers: playback: Start with nil rx")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if p.started {
		return ErrStarted
	}
	p.started, p.rx = true, rx
	if !p.opts.Pace {
		p.busy = true
		go p.runFast()
		return nil
	}
	p.t0 = p.opts.Clock.Now()
	p.timer = p.opts.Clock.AfterFunc(0, p.step)
	return nil
}

// runFast delivers the whole file as fast as rx takes it.
func (p *PlaybackLink) runFast() {
	for {
		p.frames = p.frames[:0]
		var err error
		for len(p.frames) < p.opts.Batch {
			var f []byte
			if f, _, err = p.read(len(p.frames)); err != nil {
				break
			}
			p.frames = append(p.frames, f)
		}
		if !p.deliver(p.frames) || err != nil {
			p.end(err)
			return
		}
	}
}

// step is the paced delivery: it delivers the frames that are due and
// schedules itself for the next one.
func (p *PlaybackLink) step() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.busy, p.timer = true, nil
	p.mu.Unlock()

	now := p.opts.Clock.Now()
	p.frames = p.frames[:0]
	var err error
	for len(p.frames) < p.opts.Batch {
		if !p.haveNext {
			var f []byte
			var ts time.Time
			if f, ts, err = p.read(len(p.frames)); err != nil {
				break
			}
			if p.c0.IsZero() {
				p.c0 = ts
			}
			p.next, p.nextTS, p.haveNext = f, ts, true
		}
		if p.due(p.nextTS).After(now) {
			// Keep it for later, in a buffer of its own: the batch buffer
			// it sits in is about to be lent to rx.
			p.next = append([]byte(nil), p.next...)
			break
		}
		p.frames = append(p.frames, p.next)
		p.haveNext = false
	}
	if !p.deliver(p.frames) || err != nil {
		p.end(err)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy = false
	p.idle.Broadcast()
	if !p.closed {
		wait := max(p.due(p.nextTS).Sub(p.opts.Clock.Now()), 0)
		p.timer = p.opts.Clock.AfterFunc(wait, p.step)
	}
}

// due is the Clock time at which a frame captured at ts is delivered.
func (p *PlaybackLink) due(ts time.Time) time.Time { return p.t0.Add(ts.Sub(p.c0)) }

// read returns the next frame that passes the filter, in buffer i, with its
// capture time. It returns io.EOF at the end of the file.
func (p *PlaybackLink) read(i int) ([]byte, time.Time, error) {
	for {
		data, ci, err := p.r.ZeroCopyReadPacketData()
		if err != nil {
			if err == io.ErrUnexpectedEOF {
				err = fmt.Errorf("drivers: playback: truncated file: %w", err)
			}
			return nil, time.Time{}, err
		}
		if p.opts.Filter != nil && !p.opts.Filter(data) {
			p.filtered.Add(1)
			continue
		}
		p.bufs[i] = append(p.bufs[i][:0], data...)
		return p.bufs[i], ci.Timestamp, nil
	}
}

// deliver hands frames to rx unless the link is closed, which it reports.
func (p *PlaybackLink) deliver(frames [][]byte) bool {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return false
	}
	if len(frames) > 0 {
		p.stats.received(frames)
		p.rx(frames)
	}
	return true
}

// end finishes delivery: err is io.EOF at the end of the file.
func (p *PlaybackLink) end(err error) {
	if err == io.EOF {
		err = nil
	}
	p.mu.Lock()
	p.busy = false
	p.idle.Broadcast()
	p.mu.Unlock()
	p.finish(err)
}

// Send implements Link: it counts the frames and records the first
// opts.Record of them.
func (p *PlaybackLink) Send(frames [][]byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	var nb uint64
	for _, f := range frames {
		nb += uint64(len(f))
		if len(p.sent) < p.opts.Record {
			p.sent = append(p.sent, bytes.Clone(f))
		}
	}
	p.stats.txFrames.Add(uint64(len(frames)))
	p.stats.txBytes.Add(nb)
	return nil
}

// Sent returns the recorded frames, in the order they were sent.
func (p *PlaybackLink) Sent() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.sent...)
}

// Close implements Link: delivery stops, after the burst in progress.
func (p *PlaybackLink) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	for p.busy {
		p.idle.Wait()
	}
	p.mu.Unlock()
	p.finish(nil)
	return nil
}
