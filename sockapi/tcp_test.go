package sockapi

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"netspace/tcp"

	"golang.org/x/sys/unix"
)

const (
	fSYN = tcp.FlagSYN
	fACK = tcp.FlagACK
	fFIN = tcp.FlagFIN
	fRST = tcp.FlagRST
	fPSH = tcp.FlagPSH
)

// listenOn returns a listening socket on port.
func listenOn(t *testing.T, l *Lib, port uint16) int {
	t.Helper()
	fd, err := l.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	must(t, "socket", err)
	must(t, "setsockopt", l.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1))
	must(t, "bind", l.Bind(fd, netip.AddrPortFrom(netip.IPv4Unspecified(), port)))
	must(t, "listen", l.Listen(fd, 16))
	return fd
}

// handshake plays the peer's side of a passive open on port from
// peerPort and returns the accepted socket and the stack's ISS.
func handshake(t *testing.T, l *Lib, lfd int, port, peerPort uint16) (int, uint32) {
	t.Helper()
	inject(t, l, seg{sport: peerPort, dport: port, flags: fSYN, seq: 1000, opts: synOpts(100, 0)})
	sa := next(t, l, 0)
	want(t, sa, fSYN|fACK, sa.seq, 1001)
	iss := sa.seq
	inject(t, l, seg{sport: peerPort, dport: port, flags: fACK, seq: 1001, ack: iss + 1, opts: tsOpts(101, tsvalOf(t, sa))})
	fd, from, err := l.Accept(lfd, 0)
	must(t, "accept", err)
	if from != netip.AddrPortFrom(peerIP, peerPort) {
		t.Fatalf("accepted from %v", from)
	}
	return fd, iss
}

func tsvalOf(t *testing.T, s seg) uint32 {
	t.Helper()
	return parseOpts(t, s.opts).TSVal
}

func TestPassiveOpenDataAndPeerCloses(t *testing.T) {
	l := open(t, "profile=linux")
	lfd := listenOn(t, l, 8080)
	_, err := l.Fcntl(lfd, unix.F_SETFL, unix.O_NONBLOCK)
	must(t, "fcntl", err)
	_, _, err = l.Accept(lfd, 0)
	isErr(t, "accept with nothing queued", err, unix.EAGAIN)

	t0 := l.Now()
	inject(t, l, seg{sport: 40000, dport: 8080, flags: fSYN, seq: 1000, opts: synOpts(100, 0)})
	sa := next(t, l, 0)
	want(t, sa, fSYN|fACK, sa.seq, 1001)
	iss := sa.seq
	if !sa.at.Equal(t0) || sa.win != 64240 {
		t.Errorf("SYN-ACK at +%v win %d; want at once, win 64240", sa.at.Sub(t0), sa.win)
	}
	// Linux's layout: MSS, SACK-permitted, timestamps, NOP, window scale 7.
	o := sa.opts
	if len(o) != 20 || !bytes.Equal(o[0:4], []byte{2, 4, 0x05, 0xb4}) || !bytes.Equal(o[4:6], []byte{4, 2}) ||
		o[6] != 8 || o[7] != 10 || binary.BigEndian.Uint32(o[12:16]) != 100 || !bytes.Equal(o[16:20], []byte{1, 3, 3, 7}) {
		t.Fatalf("SYN-ACK options % x", o)
	}
	tsval := binary.BigEndian.Uint32(o[8:12])

	inject(t, l, seg{sport: 40000, dport: 8080, flags: fACK, seq: 1001, ack: iss + 1, opts: tsOpts(101, tsval)})
	fd, from, err := l.Accept(lfd, 0)
	must(t, "accept", err)
	if from != netip.AddrPortFrom(peerIP, 40000) {
		t.Fatalf("accepted from %v", from)
	}
	if fl, _ := l.Fcntl(fd, unix.F_GETFL, 0); fl&unix.O_NONBLOCK != 0 {
		t.Fatal("accepted socket inherited O_NONBLOCK")
	}
	if peer, err := l.Getpeername(fd); err != nil || peer != from {
		t.Fatalf("getpeername %v %v", peer, err)
	}
	if me, err := l.Getsockname(fd); err != nil || me != netip.AddrPortFrom(stackIP, 8080) {
		t.Fatalf("getsockname %v %v", me, err)
	}

	// Data from the peer: read, and acknowledged after the delayed-ACK
	// time.
	t1 := l.Now()
	inject(t, l, seg{sport: 40000, dport: 8080, flags: fACK | fPSH, seq: 1001, ack: iss + 1, opts: tsOpts(102, tsval), data: []byte("hello")})
	ack := next(t, l, time.Second)
	want(t, ack, fACK, iss+1, 1006)
	if d := ack.at.Sub(t1); d != 40*time.Millisecond {
		t.Errorf("delayed ACK after %v, want 40ms", d)
	}
	var n int
	must(t, "ioctl", l.Ioctl(fd, fionread, &n))
	if n != 5 {
		t.Fatalf("FIONREAD = %d, want 5", n)
	}
	mustRead(t, l, fd, []byte("hello"))

	// Data to the peer.
	if n, err := l.Write(fd, []byte("world")); n != 5 || err != nil {
		t.Fatalf("write = %d, %v", n, err)
	}
	d := next(t, l, 0)
	want(t, d, fACK|fPSH, iss+1, 1006)
	if string(d.data) != "world" {
		t.Fatalf("sent %q", d.data)
	}
	inject(t, l, seg{sport: 40000, dport: 8080, flags: fACK, seq: 1006, ack: iss + 6, opts: tsOpts(103, tsval)})

	// The peer closes first: its FIN is acknowledged at once, reads end.
	inject(t, l, seg{sport: 40000, dport: 8080, flags: fFIN | fACK, seq: 1006, ack: iss + 6, opts: tsOpts(104, tsval)})
	want(t, next(t, l, 0), fACK, iss+6, 1007)
	buf := make([]byte, 10)
	if n, err := l.Read(fd, buf); n != 0 || err != nil {
		t.Fatalf("read at end of stream = %d, %v", n, err)
	}
	// We close: FIN; the peer's ACK ends the connection.
	must(t, "close", l.Close(fd))
	want(t, next(t, l, 0), fFIN|fACK, iss+6, 1007)
	inject(t, l, seg{sport: 40000, dport: 8080, flags: fACK, seq: 1007, ack: iss + 7, opts: tsOpts(105, tsval)})
	nothing(t, l, 5*time.Second)
	_, err = l.Read(fd, buf)
	isErr(t, "read after close", err, unix.EBADF)
}

func TestActiveOpenBlockingAndWeCloseFirst(t *testing.T) {
	l := open(t, "profile=linux")
	fd, err := l.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	must(t, "socket", err)
	done := make(chan error, 1)
	go func() { done <- l.Connect(fd, netip.AddrPortFrom(peerIP, 80)) }()
	waitFor(t, "the SYN", func() bool { return l.inj.Queued() > 0 })
	t0 := l.Now()
	syn := next(t, l, 0)
	want(t, syn, fSYN, syn.seq, 0)
	if syn.dport != 80 || syn.win != 64240 {
		t.Fatalf("SYN to port %d win %d", syn.dport, syn.win)
	}
	o := parseOpts(t, syn.opts)
	if !o.HasMSS || o.MSS != 1460 || !o.SACKPermitted || !o.HasTS || o.TSEcr != 0 || !o.HasWScale || o.WScale != 7 {
		t.Fatalf("SYN options %+v", o)
	}
	select {
	case err := <-done:
		t.Fatalf("connect returned %v before the SYN-ACK", err)
	default:
	}
	// No answer: the SYN is sent again one initial RTO (1 s) later.
	re := next(t, l, 5*time.Second)
	want(t, re, fSYN, syn.seq, 0)
	if d := re.at.Sub(t0); d != time.Second {
		t.Fatalf("SYN retransmitted after %v, want 1s", d)
	}
	iss, sport := syn.seq, syn.sport
	inject(t, l, seg{sport: 80, dport: sport, flags: fSYN | fACK, seq: 5000, ack: iss + 1, opts: synOpts(7, o.TSVal)})
	want(t, next(t, l, 0), fACK, iss+1, 5001)
	must(t, "connect", <-done)
	err = l.Connect(fd, netip.AddrPortFrom(peerIP, 80))
	isErr(t, "second connect", err, unix.EISCONN)

	// Data both ways.
	if n, err := l.Write(fd, []byte("GET /")); n != 5 || err != nil {
		t.Fatalf("write = %d, %v", n, err)
	}
	d := next(t, l, 0)
	want(t, d, fACK|fPSH, iss+1, 5001)
	inject(t, l, seg{sport: 80, dport: sport, flags: fACK | fPSH, seq: 5001, ack: iss + 6, opts: tsOpts(8, 0), data: []byte("200 OK")})
	mustRead(t, l, fd, []byte("200 OK"))

	// We close first: FIN; the peer's ACK, then its FIN, acknowledged.
	must(t, "close", l.Close(fd))
	fin := next(t, l, time.Second)
	if fin.flags == fACK { // the delayed ACK of the data may come first
		fin = next(t, l, time.Second)
	}
	want(t, fin, fFIN|fACK, iss+6, 5007)
	inject(t, l, seg{sport: 80, dport: sport, flags: fACK, seq: 5007, ack: iss + 7, opts: tsOpts(9, 0)})
	inject(t, l, seg{sport: 80, dport: sport, flags: fFIN | fACK, seq: 5007, ack: iss + 7, opts: tsOpts(10, 0)})
	want(t, next(t, l, 0), fACK, iss+7, 5008)
	nothing(t, l, 30*time.Second)
}

func TestActiveOpenNonBlocking(t *testing.T) {
	l := open(t, "")
	fd, err := l.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	must(t, "socket", err)
	err = l.Connect(fd, netip.AddrPortFrom(peerIP, 443))
	isErr(t, "non-blocking connect", err, unix.EINPROGRESS)
	isErr(t, "connect again", l.Connect(fd, netip.AddrPortFrom(peerIP, 443)), unix.EALREADY)
	syn := next(t, l, 0)
	want(t, syn, fSYN, syn.seq, 0)
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT | unix.POLLIN}}
	if n, _ := l.Poll(pfd, 0); n != 0 {
		t.Fatalf("poll while connecting: %d, revents %#x", n, pfd[0].Revents)
	}
	_, err = l.Write(fd, []byte("x"))
	isErr(t, "write while connecting", err, unix.EAGAIN)
	inject(t, l, seg{sport: 443, dport: syn.sport, flags: fSYN | fACK, seq: 9000, ack: syn.seq + 1, opts: synOpts(7, 0)})
	if n, _ := l.Poll(pfd, 0); n != 1 || pfd[0].Revents != unix.POLLOUT {
		t.Fatalf("poll after the handshake: %d, revents %#x; want POLLOUT", n, pfd[0].Revents)
	}
	if v, err := l.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); v != 0 || err != nil {
		t.Fatalf("SO_ERROR = %d, %v", v, err)
	}
	must(t, "connect once established", l.Connect(fd, netip.AddrPortFrom(peerIP, 443)))
	isErr(t, "connect after that", l.Connect(fd, netip.AddrPortFrom(peerIP, 443)), unix.EISCONN)
	buf := make([]byte, 10)
	_, err = l.Read(fd, buf)
	isErr(t, "read with nothing", err, unix.EAGAIN)
}

func TestConnectRefused(t *testing.T) {
	l := open(t, "")
	// Non-blocking: EINPROGRESS, then POLLERR and SO_ERROR ECONNREFUSED.
	fd, err := l.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	must(t, "socket", err)
	isErr(t, "connect", l.Connect(fd, netip.AddrPortFrom(peerIP, 81)), unix.EINPROGRESS)
	syn := next(t, l, 0)
	inject(t, l, seg{sport: 81, dport: syn.sport, flags: fRST | fACK, ack: syn.seq + 1})
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	if n, _ := l.Poll(pfd, 0); n != 1 || pfd[0].Revents != unix.POLLOUT|unix.POLLERR|unix.POLLHUP {
		t.Fatalf("poll after RST: revents %#x, want POLLOUT|POLLERR|POLLHUP", pfd[0].Revents)
	}
	if v, err := l.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); v != int(unix.ECONNREFUSED) || err != nil {
		t.Fatalf("SO_ERROR = %d, %v", v, err)
	}
	if v, _ := l.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); v != 0 {
		t.Fatalf("SO_ERROR not cleared: %d", v)
	}

	// Blocking: the error comes back from connect.
	fd2, err := l.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	must(t, "socket", err)
	done := make(chan error, 1)
	go func() { done <- l.Connect(fd2, netip.AddrPortFrom(peerIP, 82)) }()
	waitFor(t, "the SYN", func() bool { return l.inj.Queued() > 0 })
	syn = next(t, l, 0)
	inject(t, l, seg{sport: 82, dport: syn.sport, flags: fRST | fACK, ack: syn.seq + 1})
	isErr(t, "blocking connect", <-done, unix.ECONNREFUSED)
	_, err = l.Write(fd2, []byte("x"))
	isErr(t, "write after a refused connect", err, unix.EPIPE)
}

func TestResetOnClosedPort(t *testing.T) {
	l := open(t, "")
	inject(t, l, seg{sport: 5555, dport: 9, flags: fSYN, seq: 77, opts: synOpts(1, 0)})
	r := next(t, l, 0)
	want(t, r, fRST|fACK, 0, 78)
	if r.sport != 9 || r.dport != 5555 {
		t.Fatalf("RST ports %d→%d", r.sport, r.dport)
	}
	// A stray ACK gets a RST whose sequence number is its ACK.
	inject(t, l, seg{sport: 5555, dport: 9, flags: fACK, seq: 78, ack: 4242})
	want(t, next(t, l, 0), fRST, 4242, 0)
}

func TestDataRetransmittedAfterRTO(t *testing.T) {
	l := open(t, "")
	lfd := listenOn(t, l, 7000)
	fd, iss := handshake(t, l, lfd, 7000, 41000)
	if n, err := l.Write(fd, []byte("lost")); n != 4 || err != nil {
		t.Fatalf("write = %d, %v", n, err)
	}
	d := next(t, l, 0)
	want(t, d, fACK|fPSH, iss+1, 1001)
	// Not acknowledged: a tail loss probe first (RFC 8985), then
	// retransmissions when the RTO expires — the handshake measured no
	// delay, so the RTO is the minimum, 200 ms — and after twice that.
	var r [3]seg
	for i := range r {
		r[i] = next(t, l, 10*time.Second)
		if r[i].seq != iss+1 || string(r[i].data) != "lost" {
			t.Fatalf("retransmission %d: seq %d data %q", i+1, r[i].seq, r[i].data)
		}
	}
	if probe, rto, backoff := r[0].at.Sub(d.at), r[1].at.Sub(r[0].at), r[2].at.Sub(r[1].at); probe >= 200*time.Millisecond ||
		rto != 200*time.Millisecond || backoff != 400*time.Millisecond {
		t.Fatalf("probe after %v, RTO after %v, then %v; want a probe within the RTO, then 200ms, then 400ms", probe, rto, backoff)
	}
	inject(t, l, seg{sport: 41000, dport: 7000, flags: fACK, seq: 1001, ack: iss + 5, opts: tsOpts(200, 0)})
	nothing(t, l, 10*time.Second)
}

func TestUnreadDataClosesWithReset(t *testing.T) {
	l := open(t, "")
	lfd := listenOn(t, l, 7001)
	fd, iss := handshake(t, l, lfd, 7001, 41001)
	inject(t, l, seg{sport: 41001, dport: 7001, flags: fACK | fPSH, seq: 1001, ack: iss + 1, opts: tsOpts(200, 0), data: []byte("unread")})
	must(t, "close", l.Close(fd))
	r := next(t, l, 0)
	if !r.flags.Has(fRST) {
		t.Fatalf("close with unread data sent %v, want RST", r.flags)
	}
}

func TestLingerZeroResets(t *testing.T) {
	l := open(t, "")
	lfd := listenOn(t, l, 7002)
	fd, iss := handshake(t, l, lfd, 7002, 41002)
	lg := make([]byte, 8)
	binary.NativeEndian.PutUint32(lg[0:4], 1)
	must(t, "SO_LINGER", l.Setsockopt(fd, unix.SOL_SOCKET, unix.SO_LINGER, lg))
	must(t, "close", l.Close(fd))
	want(t, next(t, l, 0), fRST, iss+1, 0)
}

func TestPeerResetReported(t *testing.T) {
	l := open(t, "")
	lfd := listenOn(t, l, 7003)
	fd, iss := handshake(t, l, lfd, 7003, 41003)
	inject(t, l, seg{sport: 41003, dport: 7003, flags: fRST, seq: 1001, ack: iss + 1})
	buf := make([]byte, 10)
	_, err := l.Read(fd, buf)
	isErr(t, "read after RST", err, unix.ECONNRESET)
	if n, err := l.Read(fd, buf); n != 0 || err != nil {
		t.Fatalf("second read after RST = %d, %v; want 0", n, err)
	}
	_, err = l.Write(fd, []byte("x"))
	isErr(t, "write after RST", err, unix.EPIPE)
}
