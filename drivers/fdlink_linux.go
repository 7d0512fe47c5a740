//go:build linux

package drivers

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// sendWait bounds how long Send waits for a full device queue (EAGAIN) to
// drain before dropping the frame.
const sendWait = 10 * time.Millisecond

// maxReadErrors is how many consecutive transient read errors the reader
// tolerates before it gives up on the device.
const maxReadErrors = 1000

// fdLink is the part of TAP and Packet that moves frames through a
// non-blocking file descriptor: the read loop, Send, Stats and Close.
type fdLink struct {
	lifecycle
	name  string
	mtu   int
	mac   [6]byte
	batch int
	fd    int // the device; non-blocking
	wake  int // eventfd that Close writes to wake an idle reader
	stats counters

	mu      sync.RWMutex // Send and Stats hold it shared, Close exclusively
	closed  bool
	started bool

	stopping   atomic.Bool   // set by Close; checked by the reader each round
	readerDone chan struct{} // closed when the read loop has returned
}

// initFdLink takes ownership of fd (closing it on failure), makes it
// non-blocking and creates the wake-up eventfd.
func (l *fdLink) initFdLink(fd int, name string, mtu int, mac [6]byte, batch int) error {
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return fmt.Errorf("drivers: %s: set non-blocking: %w", name, err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(fd)
		return fmt.Errorf("drivers: %s: eventfd: %w", name, err)
	}
	if batch <= 0 {
		batch = DefaultBatch
	}
	l.lifecycle.init()
	l.name, l.mtu, l.mac, l.batch = name, mtu, mac, batch
	l.fd, l.wake = fd, wake
	l.readerDone = make(chan struct{})
	return nil
}

// Name implements Link.
func (l *fdLink) Name() string { return l.name }

// MTU implements Link. It is read from the device when the link is opened.
func (l *fdLink) MTU() int { return l.mtu }

// HardwareAddr implements Link.
func (l *fdLink) HardwareAddr() [6]byte { return l.mac }

// Stats implements Link.
func (l *fdLink) Stats() LinkStats { return l.stats.snapshot() }

// Start implements Link: it starts the reader goroutine.
func (l *fdLink) Start(rx func(frames [][]byte)) error {
	if rx == nil {
		return errors.New("drivers: Start with nil rx")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.started {
		return ErrStarted
	}
	l.started = true
	go l.readLoop(rx)
	return nil
}

// readLoop is the reader goroutine. It stays on one OS thread and never
// enters the netpoller: it reads until the device is empty, delivering
// bursts of up to l.batch frames, then sleeps in poll(2) on the device and
// the wake-up eventfd.
func (l *fdLink) readLoop(rx func(frames [][]byte)) {
	defer close(l.readerDone)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	// One spare byte per buffer: a read that fills it was truncated.
	size := MaxFrameSize(l.mtu) + 1
	arena := make([]byte, size*l.batch)
	bufs := make([][]byte, l.batch)
	for i := range bufs {
		bufs[i] = arena[i*size : (i+1)*size : (i+1)*size]
	}
	frames := make([][]byte, 0, l.batch)
	pfd := []unix.PollFd{
		{Fd: int32(l.fd), Events: unix.POLLIN},
		{Fd: int32(l.wake), Events: unix.POLLIN},
	}
	errRun := 0
	for !l.stopping.Load() {
		frames = frames[:0]
		empty := false
		for len(frames) < l.batch {
			n, err := unix.Read(l.fd, bufs[len(frames)])
			switch {
			case err == nil && n == 0:
				l.deliver(rx, frames)
				l.finish(fmt.Errorf("drivers: %s: read: %w", l.name, io.EOF))
				return
			case err == nil && n == size:
				l.stats.rxDropped.Add(1) // truncated: larger than MTU allows
				continue
			case err == nil && n < EthernetHeaderLen:
				l.stats.rxDropped.Add(1) // runt
				continue
			case err == nil:
				frames = append(frames, bufs[len(frames)][:n])
				errRun = 0
				continue
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
			case fatalReadError(err):
				l.stats.rxErrors.Add(1)
				l.deliver(rx, frames)
				l.finish(fmt.Errorf("drivers: %s: read: %w", l.name, err))
				return
			default:
				l.stats.rxErrors.Add(1)
				if errRun++; errRun > maxReadErrors {
					l.deliver(rx, frames)
					l.finish(fmt.Errorf("drivers: %s: %d read errors in a row, last: %w", l.name, errRun, err))
					return
				}
			}
			empty = true
			break
		}
		l.deliver(rx, frames)
		if !empty {
			continue // a full batch: more may be waiting
		}
		if len(frames) > 0 {
			continue // frames may have arrived during rx; poll only once a read finds none
		}
		if err := l.sleep(pfd); err != nil {
			l.finish(fmt.Errorf("drivers: %s: poll: %w", l.name, err))
			return
		}
	}
}

func (l *fdLink) deliver(rx func(frames [][]byte), frames [][]byte) {
	if len(frames) == 0 {
		return
	}
	l.stats.received(frames)
	rx(frames)
}

// sleep waits until the device is readable or Close wakes the reader.
func (l *fdLink) sleep(pfd []unix.PollFd) error {
	for {
		pfd[0].Revents, pfd[1].Revents = 0, 0
		_, err := unix.Poll(pfd, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if pfd[0].Revents&unix.POLLNVAL != 0 {
			return unix.EBADF
		}
		return nil // readable, an error to collect with read, or woken
	}
}

// fatalReadError reports whether a read error means the device is gone.
func fatalReadError(err error) bool {
	switch err {
	case unix.EBADF, unix.EBADFD, unix.ENXIO, unix.ENODEV, unix.EIO, unix.EFAULT, unix.EINVAL:
		return true
	}
	return false
}

// Send implements Link with one write(2) per frame.
func (l *fdLink) Send(frames [][]byte) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	maxLen := MaxFrameSize(l.mtu)
	var first error
	var nf, nb uint64
	for _, f := range frames {
		if len(f) < EthernetHeaderLen || len(f) > maxLen {
			l.stats.txDropped.Add(1)
			if first == nil {
				first = fmt.Errorf("drivers: %s: %d-byte frame: %w", l.name, len(f), ErrFrameSize)
			}
			continue
		}
		if err := l.write(f); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		nf++
		nb += uint64(len(f))
	}
	l.stats.txFrames.Add(nf)
	l.stats.txBytes.Add(nb)
	return first
}

// write writes one frame, waiting up to sendWait once if the device queue
// is full.
func (l *fdLink) write(f []byte) error {
	waited := false
	for {
		_, err := unix.Write(l.fd, f)
		switch {
		case err == nil:
			return nil
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN && !waited:
			waited = true
			pfd := []unix.PollFd{{Fd: int32(l.fd), Events: unix.POLLOUT}}
			if _, perr := unix.Poll(pfd, int(sendWait/time.Millisecond)); perr == nil || perr == unix.EINTR {
				continue
			}
			l.stats.txDropped.Add(1)
			return fmt.Errorf("drivers: %s: write: %w", l.name, err)
		case err == unix.EAGAIN:
			l.stats.txDropped.Add(1)
			return fmt.Errorf("drivers: %s: write: %w", l.name, err)
		default:
			l.stats.txErrors.Add(1)
			return fmt.Errorf("drivers: %s: write: %w", l.name, err)
		}
	}
}

// Close implements Link. It wakes the reader, waits for it to return, then
// closes the device.
func (l *fdLink) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	started := l.started
	l.mu.Unlock()

	if started {
		l.stopping.Store(true)
		// Adding 1 makes the eventfd readable. The write cannot block
		// (EFD_NONBLOCK) and fails only if the counter would overflow, in
		// which case it is readable already.
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		unix.Write(l.wake, one[:])
		<-l.readerDone
	}
	err := unix.Close(l.fd)
	unix.Close(l.wake)
	l.finish(nil)
	if err != nil {
		return fmt.Errorf("drivers: %s: close: %w", l.name, err)
	}
	return nil
}
