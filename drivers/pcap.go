package drivers

import (
	"bufio"
	"io"
	"sync"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"netspace/actors"
)

// DefaultSnaplen is the snapshot length of captures that set none: larger
// than any frame a link carries, so nothing is cut.
const DefaultSnaplen = 262144

// captureBuffer is the size of the buffer between the capture and its
// writer; it is flushed after every batch.
const captureBuffer = 64 << 10

// CaptureOption configures Capture.
type CaptureOption func(*CaptureLink)

// CaptureClock makes Capture take its timestamps from c instead of the wall
// clock, e.g. an actors.ManualClock for reproducible files.
func CaptureClock(c actors.Clock) CaptureOption {
	return func(l *CaptureLink) { l.clock = c }
}

// CaptureStats counts what a capture has written.
type CaptureStats struct {
	Frames uint64 // frames written
	Bytes  uint64 // bytes of frame data written (after the snaplen cut)
	Errors uint64 // frames (or the file header) that could not be written
}

// CaptureLink is a Link that writes every frame of another link to a pcap
// stream. See Capture.
type CaptureLink struct {
	inner   Link
	clock   actors.Clock
	snaplen int

	mu     sync.Mutex // serialises the receive path and the senders
	buf    *bufio.Writer
	pw     *pcapgo.Writer
	broken bool // the file header could not be written
	stats  CaptureStats
}

var _ Link = (*CaptureLink)(nil)

// Capture wraps inner so that every frame it receives and every frame sent
// through it is written to w as a pcap stream (Ethernet link type,
// microsecond timestamps), readable by tcpdump and Wireshark. Frames longer
// than snaplen are cut to snaplen in the file (snaplen <= 0 means
// DefaultSnaplen). Sent frames are written before they are handed to inner,
// whether or not it then accepts them.
//
// Writes go through a buffer flushed after each received burst and each
// Send, so the stream is complete after every batch at the cost of one
// write to w per batch. Capture is safe for concurrent use; a write error is
// counted in CaptureStats and never reaches the data path (after one, the
// stream is broken and every later frame counts as an error too). Close
// flushes and closes inner; it does not close w.
func Capture(inner Link, w io.Writer, snaplen int, opts ...CaptureOption) *CaptureLink {
	if snaplen <= 0 {
		snaplen = DefaultSnaplen
	}
	l := &CaptureLink{inner: inner, clock: actors.RealClock(), snaplen: snaplen}
	for _, o := range opts {
		o(l)
	}
	l.buf = bufio.NewWriterSize(w, captureBuffer)
	l.pw = pcapgo.NewWriter(l.buf)
	if err := l.pw.WriteFileHeader(uint32(snaplen), layers.LinkTypeEthernet); err != nil || l.buf.Flush() != nil {
		l.broken = true
		l.stats.Errors++
	}
	return l
}

// record writes a batch of frames, all stamped with the time of the batch.
func (l *CaptureLink) record(frames [][]byte) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.broken {
		l.stats.Errors += uint64(len(frames))
		return
	}
	var n, nb uint64
	for _, f := range frames {
		data := f
		if len(data) > l.snaplen {
			data = data[:l.snaplen]
		}
		ci := gopacket.CaptureInfo{Timestamp: now, CaptureLength: len(data), Length: len(f)}
		if err := l.pw.WritePacket(ci, data); err != nil {
			l.stats.Errors++
			continue
		}
		n++
		nb += uint64(len(data))
	}
	if l.buf.Flush() != nil {
		l.stats.Errors += n // the batch did not reach w
		return
	}
	l.stats.Frames += n
	l.stats.Bytes += nb
}

// CaptureStats returns what the capture has written so far.
func (l *CaptureLink) CaptureStats() CaptureStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// Inner returns the wrapped link.
func (l *CaptureLink) Inner() Link { return l.inner }

// Name implements Link.
func (l *CaptureLink) Name() string { return l.inner.Name() }

// MTU implements Link.
func (l *CaptureLink) MTU() int { return l.inner.MTU() }

// HardwareAddr implements Link.
func (l *CaptureLink) HardwareAddr() [6]byte { return l.inner.HardwareAddr() }

// Stats implements Link: the inner link's counters.
func (l *CaptureLink) Stats() LinkStats { return l.inner.Stats() }

// Done implements Link.
func (l *CaptureLink) Done() <-chan struct{} { return l.inner.Done() }

// Err implements Link.
func (l *CaptureLink) Err() error { return l.inner.Err() }

// Start implements Link: rx sees each burst after it is written.
func (l *CaptureLink) Start(rx func(frames [][]byte)) error {
	if rx == nil {
		return l.inner.Start(nil)
	}
	return l.inner.Start(func(frames [][]byte) {
		l.record(frames)
		rx(frames)
	})
}

// Send implements Link.
func (l *CaptureLink) Send(frames [][]byte) error {
	l.record(frames)
	return l.inner.Send(frames)
}

// Close implements Link: it closes inner, then flushes the stream.
func (l *CaptureLink) Close() error {
	err := l.inner.Close()
	l.mu.Lock()
	if !l.broken && l.buf.Flush() != nil {
		l.stats.Errors++
	}
	l.mu.Unlock()
	return err
}
