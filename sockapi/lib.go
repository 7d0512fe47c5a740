package sockapi

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"netspace"
	"netspace/actors"
	"netspace/drivers"
	"netspace/tcp"

	"golang.org/x/sys/unix"
)

// Lib is one stack with its socket table. Every method is safe for
// concurrent use; a blocking call parks its goroutine (and, called from
// C, its OS thread) until the socket changes or its timeout passes.
type Lib struct {
	cfg   Config
	prof  profile
	st    *netspace.Stack
	sys   *actors.System
	inj   *drivers.Inject     // the injection link, or nil on a TAP
	clock *actors.ManualClock // the test clock (Warp), or nil
	turns sync.Mutex          // Warp: held while turns run
	ids   atomic.Uint64       // names of handles and actors
	// waiting counts the calls blocked now (for tests that must know a
	// call sleeps before they act).
	waiting atomic.Int64

	mu       sync.Mutex // guards everything below and every socket's state
	changed  chan struct{}
	closed   bool
	socks    map[int]*socket
	draining int // closed sockets whose connections have not finished
}

// Open starts a stack as cfg says and returns its (empty) socket table.
func Open(cfg Config) (*Lib, error) {
	if cfg.Local == (netip.Prefix{}) {
		cfg.Local = netip.MustParsePrefix("192.168.0.1/24")
	}
	if !cfg.Local.Addr().Is4() || cfg.Local.Bits() < 1 {
		return nil, errors.New("sockapi: Local must be an IPv4 prefix")
	}
	if cfg.MTU == 0 {
		cfg.MTU = drivers.DefaultMTU
	}
	if cfg.MaxSockets <= 0 {
		cfg.MaxSockets = 4096
	}
	if cfg.Start.IsZero() {
		cfg.Start = defaultStart
	}
	if cfg.Warp && cfg.TAP != "" {
		return nil, errors.New("sockapi: the test clock (warp) needs the injection link, not a TAP")
	}
	if cfg.RecvTimeout <= 0 {
		cfg.RecvTimeout = 10 * time.Second
		if cfg.Warp {
			cfg.RecvTimeout = 3 * time.Hour
		}
	}
	if cfg.DrainTimeout == 0 && !cfg.Warp {
		cfg.DrainTimeout = 10 * time.Second
	}
	if cfg.Warp && cfg.Seed == 0 {
		cfg.Seed = 0x6e657473 // "nets": runs on the test clock repeat
	}
	l := &Lib{cfg: cfg, changed: make(chan struct{}), socks: map[int]*socket{}}
	var link drivers.Link
	if cfg.TAP != "" {
		tap, err := drivers.OpenTAP(cfg.TAP, drivers.TAPOptions{})
		if err != nil {
			return nil, err
		}
		link = tap
	} else {
		var clock actors.Clock = actors.RealClock()
		if cfg.Warp {
			l.clock = actors.NewManualClock(cfg.Start)
			clock = l.clock
		}
		l.inj = drivers.NewInject(drivers.InjectConfig{MTU: cfg.MTU, Clock: clock})
		link = l.inj
		if !cfg.Gateway.IsValid() {
			cfg.Gateway = otherHost(cfg.Local)
		}
	}
	prof, err := newProfile(cfg.Profile, link.MTU()-40)
	if err != nil {
		link.Close()
		return nil, err
	}
	prof.conn.NoSACK, prof.conn.NoTimestamps, prof.conn.NoWindowScale = cfg.NoSACK, cfg.NoTimestamps, cfg.NoWindowScale
	l.prof, l.cfg = prof, cfg
	scfg := netspace.Config{
		Link:          link,
		Addrs:         []netip.Prefix{cfg.Local},
		Gateway:       cfg.Gateway,
		Logger:        cfg.Logger,
		Deterministic: cfg.Warp,
		Seed:          cfg.Seed,
		TCP:           tcp.LayerConfig{Conn: prof.conn},
	}
	if l.clock != nil {
		scfg.Clock = l.clock
	}
	st, err := netspace.New(scfg)
	if err != nil {
		link.Close()
		return nil, err
	}
	l.st, l.sys = st, st.Sys
	if cfg.Warp {
		l.run(func() {})
		return l, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := st.WaitReady(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return l, nil
}

// otherHost returns the first host address of p's subnet that is not
// p's own address.
func otherHost(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().Next()
	if a == p.Addr() {
		a = a.Next()
	}
	return a
}

// Stop closes every socket (their descriptors too), stops the stack and
// wakes every blocked call, which returns EBADF. It first waits, up to
// Config.DrainTimeout, for the connections of sockets already closed to
// finish delivering what was written to them. It is safe to call twice.
func (l *Lib) Stop() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	// Closed connections deliver what was written to them first, for a
	// while (a program's last reply must not die with it).
	dl := time.Now().Add(l.cfg.DrainTimeout)
	for l.draining > 0 && time.Now().Before(dl) {
		l.waitSlice(time.Time{}, 10*time.Millisecond)
	}
	l.closed = true
	for fd, s := range l.socks {
		s.fdClosed = true
		unix.Close(fd)
	}
	l.socks = map[int]*socket{}
	l.notify()
	l.mu.Unlock()
	if l.clock != nil {
		l.turns.Lock()
		defer l.turns.Unlock()
	}
	return l.st.Close()
}

// Stack returns the stack underneath (for its counters).
func (l *Lib) Stack() *netspace.Stack { return l.st }

// run calls f, which talks to the stack (sends, spawns, injects), and on
// the test clock runs every turn that follows to quiescence before it
// returns. It must be called without l.mu held: turns take it.
func (l *Lib) run(f func()) {
	if l.clock == nil {
		f()
		return
	}
	l.turns.Lock()
	defer l.turns.Unlock()
	f()
	l.sys.Quiesce()
}

// notify wakes every waiter (l.mu held).
func (l *Lib) notify() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// now reads the stack's clock.
func (l *Lib) now() time.Time { return l.sys.Clock().Now() }

// deadline returns the time d from now, or the zero time for d <= 0
// (no timeout).
func (l *Lib) deadline(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return l.now().Add(d)
}

// wait blocks, with l.mu held on entry and on return, until something
// changes or dl (zero: never) passes by the stack's clock. It reports
// false on timeout and when the library has closed.
func (l *Lib) wait(dl time.Time) bool {
	return l.waitSlice(dl, 0)
}

// waitSlice is wait that also returns (true) after slice of real time,
// for callers that must look at something the library is not told of.
func (l *Lib) waitSlice(dl time.Time, slice time.Duration) bool {
	if l.closed {
		return false
	}
	if !dl.IsZero() && !l.now().Before(dl) {
		return false
	}
	ch := l.changed
	l.waiting.Add(1)
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.waiting.Add(-1)
	}()
	d := slice
	if l.clock == nil && !dl.IsZero() {
		if left := time.Until(dl); d == 0 || left < d {
			d = left
		}
	}
	if d <= 0 {
		<-ch
		return true
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ch:
	case <-tm.C:
	}
	return true
}

// get returns the socket of fd (l.mu held): EBADF if fd is no
// descriptor, ENOTSOCK if it is not one of ours.
func (l *Lib) get(fd int) (*socket, error) {
	if l.closed {
		return nil, unix.EBADF
	}
	if s := l.socks[fd]; s != nil {
		return s, nil
	}
	if fd < 0 {
		return nil, unix.EBADF
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		return nil, unix.EBADF
	}
	return nil, unix.ENOTSOCK
}

// Socket creates a socket: domain AF_INET, type SOCK_STREAM or
// SOCK_DGRAM (optionally or'ed with SOCK_NONBLOCK and SOCK_CLOEXEC),
// protocol 0 or the type's. Its descriptor is a real one (an eventfd,
// readable while the socket is), so it can be closed with close(2) and
// polled by poll(2); ns_close (Close) is what ends the socket, and a
// descriptor closed with close(2) is forgotten once the system hands its
// number out again.
func (l *Lib) Socket(domain, typ, proto int) (int, error) {
	if domain != unix.AF_INET {
		return -1, unix.EAFNOSUPPORT
	}
	flags := typ & (unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC)
	typ &^= flags
	switch {
	case typ == unix.SOCK_STREAM && (proto == 0 || proto == unix.IPPROTO_TCP):
	case typ == unix.SOCK_DGRAM && (proto == 0 || proto == unix.IPPROTO_UDP):
	case typ == unix.SOCK_STREAM || typ == unix.SOCK_DGRAM:
		return -1, unix.EPROTONOSUPPORT
	default:
		return -1, unix.ESOCKTNOSUPPORT
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return -1, unix.EBADF
	}
	s := l.newSocket(typ)
	s.nonblock = flags&unix.SOCK_NONBLOCK != 0
	stale, err := l.install(s, flags&unix.SOCK_CLOEXEC != 0)
	l.mu.Unlock()
	if stale != nil {
		l.release(stale, true)
	}
	if err != nil {
		return -1, err
	}
	return s.fd, nil
}

// install gives s a descriptor and enters it in the table (l.mu held).
// It returns the socket whose descriptor the caller had closed with
// close(2), if the system handed its number out again: the caller
// releases it once it has let go of l.mu.
func (l *Lib) install(s *socket, cloexec bool) (stale *socket, err error) {
	if len(l.socks) >= l.cfg.MaxSockets {
		return nil, unix.EMFILE
	}
	ef := unix.EFD_NONBLOCK
	if cloexec {
		ef |= unix.EFD_CLOEXEC
	}
	fd, err := unix.Eventfd(0, ef)
	if err != nil {
		var en unix.Errno
		if errors.As(err, &en) {
			return nil, en
		}
		return nil, unix.ENFILE
	}
	if stale = l.socks[fd]; stale != nil {
		stale.fdClosed = true
		delete(l.socks, fd)
	}
	s.fd = fd
	l.socks[fd] = s
	s.refresh()
	return stale, nil
}

// Bind gives the socket a local address: ours or INADDR_ANY, port 0
// for an ephemeral one.
func (l *Lib) Bind(fd int, addr netip.AddrPort) error {
	l.mu.Lock()
	s, err := l.get(fd)
	if err != nil {
		l.mu.Unlock()
		return err
	}
	if !addr.Addr().Is4() {
		l.mu.Unlock()
		return unix.EAFNOSUPPORT
	}
	if a := addr.Addr(); !a.IsUnspecified() && a != l.cfg.Local.Addr() {
		l.mu.Unlock()
		return unix.EADDRNOTAVAIL
	}
	if s.port != 0 || s.state != stFresh || s.udp != nil {
		l.mu.Unlock()
		return unix.EINVAL
	}
	port := addr.Port()
	if port == 0 {
		if port = l.freePort(s.typ); port == 0 {
			l.mu.Unlock()
			return unix.EADDRINUSE
		}
	} else if l.portTaken(s, port) {
		l.mu.Unlock()
		return unix.EADDRINUSE
	}
	s.port, s.bindAddr = port, addr.Addr()
	isUDP := s.typ == unix.SOCK_DGRAM
	l.mu.Unlock()
	if isUDP {
		return l.udpOpen(s)
	}
	return nil
}

// portTaken reports whether another socket of s's type holds port (l.mu
// held): bound to it, unless both allow reuse and neither listens.
func (l *Lib) portTaken(s *socket, port uint16) bool {
	for _, o := range l.socks {
		if o == s || o.typ != s.typ || o.port != port {
			continue
		}
		if s.typ == unix.SOCK_STREAM && s.opts.reuseaddr && o.opts.reuseaddr && o.state != stListening {
			continue
		}
		return true
	}
	return false
}

// freePort returns an ephemeral port no socket of type typ holds, or 0.
func (l *Lib) freePort(typ int) uint16 {
	const lo, hi = 32768, 60999
	start := lo + int(l.ids.Add(1)*7919%(hi-lo+1))
	probe := &socket{typ: typ}
	for i := 0; i <= hi-lo; i++ {
		p := uint16(lo + (start-lo+i)%(hi-lo+1))
		if !l.portTaken(probe, p) {
			return p
		}
	}
	return 0
}

// Close closes the socket and its descriptor. A connection closes as
// close(2) closes it: FIN, or RST if received data was left unread or
// SO_LINGER asks for it with a zero time; with a non-zero linger time a
// blocking socket waits up to that long for the connection to close.
func (l *Lib) Close(fd int) error {
	l.mu.Lock()
	s, err := l.get(fd)
	if err != nil {
		l.mu.Unlock()
		return err
	}
	delete(l.socks, fd)
	s.fdClosed = true
	unix.Close(fd)
	l.notify()
	l.mu.Unlock()
	l.release(s, false)
	return nil
}
