package sockapi

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sys/unix"
)

// TestManyBlockedReaders blocks a reader on each of several connections
// at once, then feeds them: each wakes with its own data.
func TestManyBlockedReaders(t *testing.T) {
	l := open(t, "")
	lfd := listenOn(t, l, 7300)
	const n = 6
	fds, isss := make([]int, n), make([]uint32, n)
	for i := range n {
		fds[i], isss[i] = handshake(t, l, lfd, 7300, uint16(43000+i))
	}
	var wg sync.WaitGroup
	got := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 100)
			k, err := l.Read(fds[i], buf)
			got[i], errs[i] = string(buf[:max(k, 0)]), err
		}()
	}
	waitFor(t, "every reader to block", func() bool { return l.waiting.Load() == n })
	for i := n - 1; i >= 0; i-- {
		inject(t, l, seg{sport: uint16(43000 + i), dport: 7300, flags: fACK | fPSH, seq: 1001, ack: isss[i] + 1,
			opts: tsOpts(500, 0), data: fmt.Appendf(nil, "to %d", i)})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i] != fmt.Sprintf("to %d", i) {
			t.Errorf("reader %d got %q, %v", i, got[i], errs[i])
		}
	}
}

// TestBlockedAcceptAndClose: a blocked accept wakes for a connection; a
// blocked read wakes with EBADF when another thread closes the socket.
func TestBlockedAcceptAndClose(t *testing.T) {
	l := open(t, "")
	lfd := listenOn(t, l, 7400)
	type res struct {
		fd  int
		err error
	}
	done := make(chan res, 1)
	go func() {
		fd, _, err := l.Accept(lfd, 0)
		done <- res{fd, err}
	}()
	waitFor(t, "accept to block", func() bool { return l.waiting.Load() == 1 })
	inject(t, l, seg{sport: 44000, dport: 7400, flags: fSYN, seq: 1000, opts: synOpts(1, 0)})
	sa := next(t, l, 0)
	inject(t, l, seg{sport: 44000, dport: 7400, flags: fACK, seq: 1001, ack: sa.seq + 1, opts: tsOpts(2, tsvalOf(t, sa))})
	r := <-done
	must(t, "accept", r.err)

	rd := make(chan error, 1)
	go func() {
		_, err := l.Read(r.fd, make([]byte, 10))
		rd <- err
	}()
	waitFor(t, "read to block", func() bool { return l.waiting.Load() == 1 })
	must(t, "close", l.Close(r.fd))
	isErr(t, "read across close", <-rd, unix.EBADF)
	want(t, next(t, l, 0), fFIN|fACK, sa.seq+1, 1001)
}

// TestListenerCloseAndBacklog: connections beyond the backlog are reset;
// closing the listener resets those not accepted and spares accepted
// ones.
func TestListenerCloseAndBacklog(t *testing.T) {
	l := open(t, "")
	lfd, _ := l.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	must(t, "bind", l.Bind(lfd, netip.AddrPortFrom(stackIP, 7500)))
	must(t, "listen", l.Listen(lfd, 0)) // room for one
	accepted, iss := handshake(t, l, lfd, 7500, 45000)
	isss := map[uint16]uint32{}
	for _, p := range []uint16{45001, 45002} {
		inject(t, l, seg{sport: p, dport: 7500, flags: fSYN, seq: 1000, opts: synOpts(1, 0)})
		sa := next(t, l, 0)
		isss[p] = sa.seq
		inject(t, l, seg{sport: p, dport: 7500, flags: fACK, seq: 1001, ack: sa.seq + 1, opts: tsOpts(2, tsvalOf(t, sa))})
	}
	// 45001 waits in the queue; 45002 found it full.
	r := next(t, l, 0)
	if r.dport != 45002 || !r.flags.Has(fRST) {
		t.Fatalf("want a RST to 45002, got %v to %d", r.flags, r.dport)
	}
	pfd := []unix.PollFd{{Fd: int32(lfd), Events: unix.POLLIN}}
	if n, _ := unix.Poll(pfd, 0); n != 1 {
		t.Fatal("the listener's descriptor does not poll readable with a connection queued")
	}
	must(t, "close the listener", l.Close(lfd))
	r = next(t, l, 0)
	if r.dport != 45001 || !r.flags.Has(fRST) {
		t.Fatalf("want a RST to the queued 45001, got %v to %d", r.flags, r.dport)
	}
	// The accepted connection carries on, and the port is closed.
	inject(t, l, seg{sport: 45000, dport: 7500, flags: fACK | fPSH, seq: 1001, ack: iss + 1, opts: tsOpts(203, 0), data: []byte("still")})
	mustRead(t, l, accepted, []byte("still"))
	inject(t, l, seg{sport: 45009, dport: 7500, flags: fSYN, seq: 1, opts: synOpts(1, 0)})
	for {
		s := next(t, l, time.Second)
		if s.dport == 45009 {
			want(t, s, fRST|fACK, 0, 2)
			break
		}
	}
}

// TestStreamCalls: readv/writev, MSG_PEEK, MSG_WAITALL, SHUT_WR and the
// descriptor's readiness.
func TestStreamCalls(t *testing.T) {
	l := open(t, "")
	lfd := listenOn(t, l, 7600)
	fd, iss := handshake(t, l, lfd, 7600, 46000)
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if n, _ := unix.Poll(pfd, 0); n != 0 {
		t.Fatal("idle connection polls readable")
	}
	inject(t, l, seg{sport: 46000, dport: 7600, flags: fACK | fPSH, seq: 1001, ack: iss + 1, opts: tsOpts(202, 0), data: []byte("abcdef")})
	if n, _ := unix.Poll(pfd, 0); n != 1 {
		t.Fatal("connection with data does not poll readable")
	}
	peek := make([]byte, 3)
	if n, _, err := l.Recv(fd, [][]byte{peek}, unix.MSG_PEEK); n != 3 || err != nil || string(peek) != "abc" {
		t.Fatalf("peek = %d %v %q", n, err, peek)
	}
	a, b := make([]byte, 2), make([]byte, 10)
	if n, _, err := l.Recv(fd, [][]byte{a, b}, 0); n != 6 || err != nil || string(a) != "ab" || string(b[:4]) != "cdef" {
		t.Fatalf("readv = %d %v %q %q", n, err, a, b[:4])
	}
	// MSG_WAITALL waits for the whole buffer across segments.
	done := make(chan string, 1)
	go func() {
		buf := make([]byte, 8)
		n, _, _ := l.Recv(fd, [][]byte{buf}, unix.MSG_WAITALL)
		done <- string(buf[:max(n, 0)])
	}()
	inject(t, l, seg{sport: 46000, dport: 7600, flags: fACK | fPSH, seq: 1007, ack: iss + 1, opts: tsOpts(203, 0), data: []byte("1234")})
	waitFor(t, "the WAITALL read to block", func() bool { return l.waiting.Load() == 1 })
	inject(t, l, seg{sport: 46000, dport: 7600, flags: fACK | fPSH, seq: 1011, ack: iss + 1, opts: tsOpts(204, 0), data: []byte("5678")})
	select {
	case got := <-done:
		if got != "12345678" {
			t.Fatalf("WAITALL read %q", got)
		}
	case <-time.After(10 * time.Second):
		l.mu.Lock()
		buffered := fmt.Sprintf("%q", l.socks[fd].rbuf)
		l.mu.Unlock()
		t.Fatalf("WAITALL read stuck with %s buffered, %d calls waiting", buffered, l.waiting.Load())
	}
	if n, err := l.Send(fd, [][]byte{[]byte("wr"), []byte("itev")}, unix.MSG_NOSIGNAL, netip.AddrPort{}); n != 6 || err != nil {
		t.Fatalf("writev = %d, %v", n, err)
	}
	for {
		s := next(t, l, time.Second)
		if len(s.data) > 0 {
			if string(s.data) != "writev" {
				t.Fatalf("sent %q", s.data)
			}
			break
		}
	}
	// Half-close: FIN, writes fail, reads go on.
	must(t, "shutdown", l.Shutdown(fd, unix.SHUT_WR))
	fin := next(t, l, time.Second)
	if !fin.flags.Has(fFIN) {
		t.Fatalf("shutdown sent %v", fin.flags)
	}
	_, err := l.Write(fd, []byte("x"))
	isErr(t, "write after SHUT_WR", err, unix.EPIPE)
	inject(t, l, seg{sport: 46000, dport: 7600, flags: fACK | fPSH, seq: 1015, ack: fin.seq + 1, opts: tsOpts(205, 0), data: []byte("more")})
	mustRead(t, l, fd, []byte("more"))
	pfd[0].Events = unix.POLLOUT | unix.POLLRDHUP
	if n, _ := l.Poll(pfd, 0); n != 1 || pfd[0].Revents != unix.POLLOUT {
		t.Fatalf("after SHUT_WR: revents %#x, want POLLOUT", pfd[0].Revents)
	}
	inject(t, l, seg{sport: 46000, dport: 7600, flags: fACK | fFIN, seq: 1019, ack: fin.seq + 1, opts: tsOpts(206, 0)})
	if n, _ := l.Poll(pfd, 0); n != 1 || pfd[0].Revents != unix.POLLOUT|unix.POLLRDHUP|unix.POLLHUP {
		t.Fatalf("both directions closed: revents %#x, want POLLOUT|POLLRDHUP|POLLHUP", pfd[0].Revents)
	}
}

// TestPollWaitsAndTimesOut: Poll sleeps until a socket is ready, and its
// timeout counts test-clock time.
func TestPollWaitsAndTimesOut(t *testing.T) {
	l := open(t, "")
	lfd := listenOn(t, l, 7700)
	var p [2]int
	must(t, "pipe", unix.Pipe2(p[:], unix.O_CLOEXEC))
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	fds := []unix.PollFd{{Fd: int32(lfd), Events: unix.POLLIN}, {Fd: int32(p[0]), Events: unix.POLLIN}, {Fd: -1}}
	done := make(chan int, 1)
	go func() {
		n, _ := l.Poll(fds, 100*time.Millisecond)
		done <- n
	}()
	waitFor(t, "poll to block", func() bool { return l.waiting.Load() == 1 })
	l.Usleep(100 * time.Millisecond)
	if n := <-done; n != 0 {
		t.Fatalf("poll timed out with %d", n)
	}
	// A descriptor that is not ours (a pipe) is polled too.
	unix.Write(p[1], []byte("x"))
	if n, err := l.Poll(fds, -1); n != 1 || err != nil || fds[1].Revents != unix.POLLIN || fds[0].Revents != 0 {
		t.Fatalf("poll with a readable pipe = %d, %v, %+v", n, err, fds)
	}
}

// TestReopen stops a library and starts another, as
// packetdrill_interface_init does: the old descriptors are gone.
func TestReopen(t *testing.T) {
	cfg, _ := ParseFlags("local=192.0.2.2/24,clock=warp")
	for i := range 3 {
		l, err := Open(cfg)
		must(t, "open", err)
		fd, err := l.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		must(t, "socket", err)
		must(t, "bind", l.Bind(fd, netip.AddrPortFrom(stackIP, 80))) // the same port each time
		must(t, "listen", l.Listen(fd, 1))
		blocked := make(chan error, 1)
		go func() {
			_, _, err := l.Accept(fd, 0)
			blocked <- err
		}()
		waitFor(t, "accept to block", func() bool { return l.waiting.Load() == 1 })
		must(t, "stop", l.Stop())
		isErr(t, fmt.Sprintf("round %d: accept across Stop", i), <-blocked, unix.EBADF)
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			t.Fatalf("round %d: descriptor %d still open after Stop", i, fd)
		}
		_, err = l.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		isErr(t, "socket after Stop", err, unix.EBADF)
		must(t, "stop twice", l.Stop())
	}
}

// TestRealClock runs an active open on the real clock: the normal
// executor, blocking calls woken from the stack's goroutines. (A passive
// open is not raced here: the stack's codec learns of a new listener a
// turn after the listener announces itself, so a SYN injected in that
// instant is reset — see the package's limits.)
func TestRealClock(t *testing.T) {
	cfg, _ := ParseFlags("local=192.0.2.2/24,gateway=192.0.2.1,clock=real")
	var logbuf syncBuf
	cfg.Logger = zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(&logbuf), zap.DebugLevel))
	l, err := Open(cfg)
	must(t, "open", err)
	l.sys.Tracer().Enable("tcp")
	defer l.Stop()
	defer func() {
		if t.Failed() {
			t.Log(logbuf.String())
		}
	}()
	fd, err := l.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	must(t, "socket", err)
	done := make(chan error, 1)
	go func() { done <- l.Connect(fd, netip.AddrPortFrom(peerIP, 80)) }()
	syn := next(t, l, 5*time.Second)
	want(t, syn, fSYN, syn.seq, 0)
	inject(t, l, seg{sport: 80, dport: syn.sport, flags: fSYN | fACK, seq: 5000, ack: syn.seq + 1, opts: synOpts(7, tsvalOf(t, syn))})
	must(t, "connect", <-done)
	rd := make(chan string, 1)
	go func() {
		buf := make([]byte, 10)
		n, _ := l.Read(fd, buf)
		rd <- string(buf[:max(n, 0)])
	}()
	inject(t, l, seg{sport: 80, dport: syn.sport, flags: fACK | fPSH, seq: 5001, ack: syn.seq + 1, opts: tsOpts(8, 0), data: []byte("real")})
	if got := <-rd; got != "real" {
		t.Fatalf("read %q", got)
	}
	wr := make(chan error, 1)
	go func() {
		_, err := l.Write(fd, []byte("time"))
		wr <- err
	}()
	select {
	case err := <-wr:
		must(t, "write", err)
	case <-time.After(10 * time.Second):
		l.mu.Lock()
		state, credit := l.socks[fd].state, l.socks[fd].credit
		l.mu.Unlock()
		t.Fatalf("write stuck: state %v, credit %d", state, credit)
	}
	for {
		s := next(t, l, 5*time.Second)
		if len(s.data) > 0 {
			if string(s.data) != "time" || s.at.IsZero() {
				t.Fatalf("sent %q at %v", s.data, s.at)
			}
			break
		}
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  []byte
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	return len(p), nil
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}

// TestClosedConnectionsDrain: a closed socket's connection goes on until
// it has finished, and Stop waits for it.
func TestClosedConnectionsDrain(t *testing.T) {
	cfg, _ := ParseFlags("local=192.0.2.2/24,gateway=192.0.2.1,clock=real,drain=5000")
	l, err := Open(cfg)
	must(t, "open", err)
	defer l.Stop()
	fd, _ := l.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	done := make(chan error, 1)
	go func() { done <- l.Connect(fd, netip.AddrPortFrom(peerIP, 80)) }()
	syn := next(t, l, 5*time.Second)
	inject(t, l, seg{sport: 80, dport: syn.sport, flags: fSYN | fACK, seq: 5000, ack: syn.seq + 1, opts: synOpts(7, tsvalOf(t, syn))})
	must(t, "connect", <-done)
	if n, err := l.Write(fd, []byte("last words")); n != 10 || err != nil {
		t.Fatalf("write = %d, %v", n, err)
	}
	must(t, "close", l.Close(fd))
	draining := func() int {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.draining
	}
	if d := draining(); d != 1 {
		t.Fatalf("draining %d after close, want 1", d)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- l.Stop() }()
	waitFor(t, "Stop to wait for the connection", func() bool { return l.waiting.Load() == 1 })
	// The data and the FIN still go out, and are acknowledged.
	var fin seg
	for !fin.flags.Has(fFIN) {
		fin = next(t, l, 5*time.Second)
	}
	if fin.seq != syn.seq+11 {
		t.Fatalf("FIN at seq +%d, want +11 (after the data)", fin.seq-syn.seq)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) before the connection finished", err)
	default:
	}
	inject(t, l, seg{sport: 80, dport: syn.sport, flags: fACK | fFIN, seq: 5001, ack: syn.seq + 12, opts: tsOpts(9, 0)})
	select {
	case err := <-stopped:
		must(t, "stop", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Stop still waits after the connection finished")
	}
	if d := draining(); d != 0 {
		t.Fatalf("draining %d after the connection finished", d)
	}
}
