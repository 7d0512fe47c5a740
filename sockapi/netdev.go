package sockapi

import (
	"errors"
	"time"

	"netspace/drivers"

	"golang.org/x/sys/unix"
)

// maxWarpSteps bounds the timers one Receive fires while it waits on the
// test clock.
const maxWarpSteps = 1 << 20

// Inject hands a whole IPv4 packet to the stack (the injection link
// only: ENOTSUP on a TAP). A packet that is not IPv4 or exceeds the MTU
// is EINVAL. On the test clock the stack has done everything the packet
// caused — answers included — when Inject returns.
func (l *Lib) Inject(pkt []byte) error {
	if l.inj == nil {
		return unix.ENOTSUP
	}
	var err error
	l.run(func() { err = l.inj.Inject(pkt) })
	switch {
	case err == nil:
		return nil
	case errors.Is(err, drivers.ErrClosed):
		return unix.EBADF
	}
	return unix.EINVAL
}

// Receive copies the next IPv4 packet the stack emitted into buf
// (truncating it if buf is short) and returns its length and emission
// time. It waits up to timeout (< 0: Config.RecvTimeout) and returns
// n == 0 when nothing came. On the test clock, waiting means moving the
// clock: Receive fires the stack's timers in deadline order until one of
// them makes it send a packet, or the timeout is reached — a
// retransmission one RTO later is received at once, stamped one RTO
// later.
func (l *Lib) Receive(buf []byte, timeout time.Duration) (int, time.Time, error) {
	if l.inj == nil {
		return 0, time.Time{}, unix.ENOTSUP
	}
	if timeout < 0 {
		timeout = l.cfg.RecvTimeout
	}
	if l.isClosed() {
		return 0, time.Time{}, unix.EBADF
	}
	if l.clock != nil {
		return l.receiveWarp(buf, timeout)
	}
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	for {
		if e, ok := l.inj.Receive(); ok {
			return copy(buf, e.Packet), e.At, nil
		}
		select {
		case <-l.inj.Ready():
		case <-l.inj.Done():
			return 0, time.Time{}, unix.EBADF
		case <-tm.C:
			return 0, time.Time{}, nil
		}
	}
}

func (l *Lib) receiveWarp(buf []byte, timeout time.Duration) (int, time.Time, error) {
	l.turns.Lock()
	moved := false
	defer func() {
		l.turns.Unlock()
		if moved {
			l.tock()
		}
	}()
	end := l.clock.Now().Add(timeout)
	for range maxWarpSteps {
		if e, ok := l.inj.Receive(); ok {
			return copy(buf, e.Packet), e.At, nil
		}
		next, ok := l.clock.Next()
		if !ok || next.After(end) {
			break
		}
		l.sys.Advance(max(next.Sub(l.clock.Now()), 0))
		moved = true
	}
	if e, ok := l.inj.Receive(); ok {
		return copy(buf, e.Packet), e.At, nil
	}
	if now := l.clock.Now(); now.Before(end) {
		l.sys.Advance(end.Sub(now))
		moved = true
	}
	return 0, time.Time{}, nil
}

// tock wakes the callers that wait for test-clock time to pass.
func (l *Lib) tock() {
	l.mu.Lock()
	l.notify()
	l.mu.Unlock()
}

// Usleep lets d pass: on the test clock it moves the clock, firing every
// timer due on the way (and running what they cause); on the real clock
// it sleeps.
func (l *Lib) Usleep(d time.Duration) {
	if d <= 0 {
		return
	}
	if l.clock == nil {
		time.Sleep(d)
		return
	}
	l.turns.Lock()
	l.sys.Advance(d)
	l.turns.Unlock()
	l.tock()
}

// Now reads the stack's clock.
func (l *Lib) Now() time.Time { return l.now() }

// Gettimeofday reads the stack's clock for a caller that may spin on it:
// on the test clock each reading first moves the clock on by a
// microsecond (firing what falls due), so that a loop waiting for a time
// to come reaches it, as packetdrill's does.
func (l *Lib) Gettimeofday() time.Time {
	if l.clock != nil {
		l.Usleep(time.Microsecond)
	}
	return l.now()
}

// Warp reports whether the library runs on the test clock.
func (l *Lib) Warp() bool { return l.clock != nil }
