package sockapi

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"netspace/ip"

	"golang.org/x/sys/unix"
)

func TestSocketErrors(t *testing.T) {
	l := open(t, "")
	for _, tc := range []struct {
		domain, typ, proto int
		err                unix.Errno
	}{
		{unix.AF_INET6, unix.SOCK_STREAM, 0, unix.EAFNOSUPPORT},
		{unix.AF_UNIX, unix.SOCK_STREAM, 0, unix.EAFNOSUPPORT},
		{unix.AF_INET, unix.SOCK_RAW, 0, unix.ESOCKTNOSUPPORT},
		{unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_UDP, unix.EPROTONOSUPPORT},
		{unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_TCP, unix.EPROTONOSUPPORT},
	} {
		_, err := l.Socket(tc.domain, tc.typ, tc.proto)
		isErr(t, "socket", err, tc.err)
	}
	buf := make([]byte, 4)
	_, err := l.Read(-1, buf)
	isErr(t, "read(-1)", err, unix.EBADF)
	_, err = l.Read(1<<20, buf)
	isErr(t, "read(a number no descriptor has)", err, unix.EBADF)
	var p [2]int
	must(t, "pipe", unix.Pipe2(p[:], unix.O_CLOEXEC))
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	_, err = l.Read(p[0], buf)
	isErr(t, "read(a pipe)", err, unix.ENOTSOCK)
	isErr(t, "listen(a pipe)", l.Listen(p[0], 1), unix.ENOTSOCK)

	fd, err := l.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	must(t, "socket", err)
	if v, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil || v&unix.FD_CLOEXEC == 0 {
		t.Fatalf("SOCK_CLOEXEC: F_GETFD = %d, %v", v, err)
	}
	if v, err := l.Fcntl(fd, unix.F_GETFD, 0); err != nil || v&unix.FD_CLOEXEC == 0 {
		t.Fatalf("Fcntl F_GETFD = %d, %v", v, err)
	}
	_, err = l.Read(fd, buf)
	isErr(t, "read on a fresh socket", err, unix.ENOTCONN)
	_, err = l.Write(fd, buf)
	isErr(t, "write on a fresh socket", err, unix.EPIPE)
	isErr(t, "shutdown on a fresh socket", l.Shutdown(fd, unix.SHUT_WR), unix.ENOTCONN)
	isErr(t, "shutdown how=7", l.Shutdown(fd, 7), unix.EINVAL)
	_, _, err = l.Accept(fd, 0)
	isErr(t, "accept on a fresh socket", err, unix.EINVAL)
	_, _, err = l.Accept(fd, 0x40000000)
	isErr(t, "accept with bad flags", err, unix.EINVAL)
	_, err = l.Fcntl(fd, unix.F_DUPFD, 0)
	isErr(t, "fcntl F_DUPFD", err, unix.EINVAL)
	var v int
	isErr(t, "ioctl TIOCGWINSZ", l.Ioctl(fd, unix.TIOCGWINSZ, &v), unix.ENOTTY)
	isErr(t, "bind to an address not ours", l.Bind(fd, netip.MustParseAddrPort("198.18.0.9:80")), unix.EADDRNOTAVAIL)
	isErr(t, "bind IPv6", l.Bind(fd, netip.MustParseAddrPort("[::1]:80")), unix.EAFNOSUPPORT)
	must(t, "bind", l.Bind(fd, netip.AddrPortFrom(stackIP, 80)))
	isErr(t, "bind twice", l.Bind(fd, netip.AddrPortFrom(stackIP, 81)), unix.EINVAL)
	fd2, _ := l.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	isErr(t, "bind a port taken", l.Bind(fd2, netip.AddrPortFrom(netip.IPv4Unspecified(), 80)), unix.EADDRINUSE)
	isErr(t, "connect IPv6", l.Connect(fd2, netip.MustParseAddrPort("[2001:db8::1]:80")), unix.EAFNOSUPPORT)
	isErr(t, "connect to port 0", l.Connect(fd2, netip.AddrPortFrom(peerIP, 0)), unix.ECONNREFUSED)
	must(t, "close", l.Close(fd))
	isErr(t, "close twice", l.Close(fd), unix.EBADF)
	must(t, "bind the port freed", l.Bind(fd2, netip.AddrPortFrom(netip.IPv4Unspecified(), 80)))
	must(t, "listen", l.Listen(fd2, 1))
	if me, _ := l.Getsockname(fd2); me != netip.MustParseAddrPort("0.0.0.0:80") {
		t.Fatalf("getsockname of a listener: %v", me)
	}
	_, err = l.Getpeername(fd2)
	isErr(t, "getpeername of a listener", err, unix.ENOTCONN)
	isErr(t, "connect on a listener", l.Connect(fd2, netip.AddrPortFrom(peerIP, 80)), unix.EISCONN)
	_, err = l.Read(fd2, buf)
	isErr(t, "read on a listener", err, unix.ENOTCONN)
	if v, _ := l.GetsockoptInt(fd2, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); v != 1 {
		t.Fatalf("SO_ACCEPTCONN = %d", v)
	}
	u, _ := l.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	isErr(t, "listen on a datagram socket", l.Listen(u, 1), unix.EOPNOTSUPP)

	// Listen without bind takes an ephemeral port.
	fd3, _ := l.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	must(t, "listen unbound", l.Listen(fd3, 1))
	if me, _ := l.Getsockname(fd3); me.Port() < 32768 {
		t.Fatalf("autobound to %v", me)
	}
}

func TestOptionsLinux(t *testing.T) {
	l := open(t, "profile=linux")
	fd, _ := l.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	get := func(level, opt int) int {
		t.Helper()
		v, err := l.GetsockoptInt(fd, level, opt)
		must(t, "getsockopt", err)
		return v
	}
	for _, tc := range []struct {
		level, opt, want int
	}{
		{unix.SOL_SOCKET, unix.SO_RCVBUF, 131072},
		{unix.SOL_SOCKET, unix.SO_SNDBUF, 16384},
		{unix.SOL_SOCKET, unix.SO_TYPE, unix.SOCK_STREAM},
		{unix.SOL_SOCKET, unix.SO_PROTOCOL, unix.IPPROTO_TCP},
		{unix.SOL_SOCKET, unix.SO_DOMAIN, unix.AF_INET},
		{unix.SOL_SOCKET, unix.SO_ERROR, 0},
		{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 0},
		{unix.IPPROTO_TCP, unix.TCP_NODELAY, 0},
		{unix.IPPROTO_TCP, unix.TCP_MAXSEG, 536},
		{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 7200},
		{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 75},
		{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 9},
	} {
		if v := get(tc.level, tc.opt); v != tc.want {
			t.Errorf("option %d/%d = %d, want %d", tc.level, tc.opt, v, tc.want)
		}
	}
	// Linux doubles buffer sizes, within limits.
	for _, tc := range []struct{ opt, set, want int }{
		{unix.SO_RCVBUF, 100000, 200000},
		{unix.SO_RCVBUF, 1000, 2304},
		{unix.SO_RCVBUF, 1 << 30, 425984},
		{unix.SO_SNDBUF, 1, 4608},
		{unix.SO_SNDBUF, 65536, 131072},
	} {
		must(t, "setsockopt", l.SetsockoptInt(fd, unix.SOL_SOCKET, tc.opt, tc.set))
		if v := get(unix.SOL_SOCKET, tc.opt); v != tc.want {
			t.Errorf("set %d to %d: reads %d, want %d", tc.opt, tc.set, v, tc.want)
		}
	}
	must(t, "TCP_NODELAY", l.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1))
	must(t, "TCP_MAXSEG", l.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_MAXSEG, 1000))
	if get(unix.IPPROTO_TCP, unix.TCP_NODELAY) != 1 || get(unix.IPPROTO_TCP, unix.TCP_MAXSEG) != 1000 {
		t.Fatal("options set do not read back")
	}
	isErr(t, "TCP_MAXSEG 50", l.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_MAXSEG, 50), unix.EINVAL)
	isErr(t, "TCP_KEEPCNT 0", l.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 0), unix.EINVAL)
	isErr(t, "TCP_KEEPIDLE 40000", l.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 40000), unix.EINVAL)
	isErr(t, "short value", l.Setsockopt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, []byte{1}), unix.EINVAL)
	isErr(t, "unknown option", l.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PRIORITY, 1), unix.ENOPROTOOPT)
	isErr(t, "unknown level", l.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, 1), unix.ENOPROTOOPT)
	_, err := l.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	isErr(t, "get unknown option", err, unix.ENOPROTOOPT)

	// Structured options round-trip; short buffers are truncated.
	lg := make([]byte, 8)
	binary.NativeEndian.PutUint32(lg[0:4], 1)
	binary.NativeEndian.PutUint32(lg[4:8], 7)
	must(t, "SO_LINGER", l.Setsockopt(fd, unix.SOL_SOCKET, unix.SO_LINGER, lg))
	back := make([]byte, 8)
	if n, err := l.Getsockopt(fd, unix.SOL_SOCKET, unix.SO_LINGER, back); n != 8 || err != nil || !bytes.Equal(back, lg) {
		t.Fatalf("SO_LINGER reads % x (%d, %v)", back, n, err)
	}
	tv := make([]byte, 16)
	binary.NativeEndian.PutUint64(tv[0:8], 2)
	binary.NativeEndian.PutUint64(tv[8:16], 500000)
	must(t, "SO_RCVTIMEO", l.Setsockopt(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, tv))
	back = make([]byte, 16)
	if n, _ := l.Getsockopt(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, back); n != 16 || !bytes.Equal(back, tv) {
		t.Fatalf("SO_RCVTIMEO reads % x", back)
	}
	binary.NativeEndian.PutUint64(tv[8:16], 1000000)
	isErr(t, "SO_SNDTIMEO usec 1e6", l.Setsockopt(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, tv), unix.EDOM)
	if n, _ := l.Getsockopt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, make([]byte, 2)); n != 2 {
		t.Fatalf("a 2-byte buffer got %d bytes", n)
	}
}

func TestOptionsFreeBSD(t *testing.T) {
	l := open(t, "profile=freebsd")
	lfd := listenOn(t, l, 8000)
	if v, _ := l.GetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_RCVBUF); v != 65536 {
		t.Fatalf("default SO_RCVBUF %d, want 65536", v)
	}
	must(t, "SO_RCVBUF", l.SetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_RCVBUF, 10000))
	if v, _ := l.GetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_RCVBUF); v != 10000 {
		t.Fatalf("SO_RCVBUF set to 10000 reads %d before a connection", v)
	}
	inject(t, l, seg{sport: 40000, dport: 8000, flags: fSYN, seq: 1000, opts: synOpts(100, 0)})
	sa := next(t, l, 0)
	// FreeBSD's layout: MSS, NOP, window scale 6, SACK-permitted, timestamps.
	o := sa.opts
	if len(o) != 20 || !bytes.Equal(o[0:8], []byte{2, 4, 0x05, 0xb4, 1, 3, 3, 6}) || !bytes.Equal(o[8:10], []byte{4, 2}) ||
		o[10] != 8 || o[11] != 10 || binary.BigEndian.Uint32(o[16:20]) != 100 || sa.win != 65535 {
		t.Fatalf("SYN-ACK win %d options % x", sa.win, o)
	}
	inject(t, l, seg{sport: 40000, dport: 8000, flags: fACK, seq: 1001, ack: sa.seq + 1, opts: tsOpts(101, tsvalOf(t, sa))})
	fd, _, err := l.Accept(lfd, 0)
	must(t, "accept", err)
	// Rounded up to a multiple of the MSS once connected.
	if v, _ := l.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF); v != 10220 {
		t.Fatalf("accepted SO_RCVBUF %d, want 10220 (7 × 1460)", v)
	}
	if v, _ := l.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT); v != 8 {
		t.Fatalf("TCP_KEEPCNT %d, want 8", v)
	}
	// An active open: the same layout on the SYN, and FreeBSD's 100 ms
	// delayed ACK.
	cfd, _ := l.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	isErr(t, "connect", l.Connect(cfd, netip.AddrPortFrom(peerIP, 99)), unix.EINPROGRESS)
	syn := next(t, l, 0)
	if o := syn.opts; len(o) != 20 || !bytes.Equal(o[0:10], []byte{2, 4, 0x05, 0xb4, 1, 3, 3, 6, 4, 2}) || o[10] != 8 || syn.win != 65535 {
		t.Fatalf("SYN win %d options % x", syn.win, o)
	}
	inject(t, l, seg{sport: 99, dport: syn.sport, flags: fSYN | fACK, seq: 3000, ack: syn.seq + 1, opts: synOpts(5, tsvalOf(t, syn))})
	want(t, next(t, l, 0), fACK, syn.seq+1, 3001)
	t1 := l.Now()
	inject(t, l, seg{sport: 99, dport: syn.sport, flags: fACK | fPSH, seq: 3001, ack: syn.seq + 1, opts: tsOpts(6, 0), data: []byte("x")})
	ack := next(t, l, time.Second)
	want(t, ack, fACK, syn.seq+1, 3002)
	if d := ack.at.Sub(t1); d != 100*time.Millisecond {
		t.Fatalf("delayed ACK after %v, want 100ms", d)
	}
}

func TestNoOptFlag(t *testing.T) {
	l := open(t, "noopt")
	fd, _ := l.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	l.Connect(fd, netip.AddrPortFrom(peerIP, 99))
	syn := next(t, l, 0)
	if o := parseOpts(t, syn.opts); o.SACKPermitted || o.HasTS || o.HasWScale || !o.HasMSS {
		t.Fatalf("noopt SYN options %+v", o)
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := ParseFlags("local=198.18.0.2/15,gateway=198.18.0.1,mtu=9000,profile=freebsd,clock=warp,sack=0,ts=1,ws=0,rfc5961=1,rxtimeout=250,seed=7")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Local != netip.MustParsePrefix("198.18.0.2/15") || cfg.Gateway != netip.MustParseAddr("198.18.0.1") || cfg.MTU != 9000 ||
		cfg.Profile != "freebsd" || !cfg.Warp || !cfg.NoSACK || cfg.NoTimestamps || !cfg.NoWindowScale ||
		cfg.RecvTimeout != 250*time.Millisecond || cfg.Seed != 7 {
		t.Fatalf("parsed %+v", cfg)
	}
	if cfg, _ := ParseFlags("local=192.0.2.9"); cfg.Local != netip.MustParsePrefix("192.0.2.9/24") {
		t.Fatalf("bare address: %v", cfg.Local)
	}
	for _, bad := range []string{"bogus=1", "local=fe80::1", "local=x", "mtu=10", "profile=windows", "clock=slow",
		"sack=2", "rfc5961=0", "syncookies=0", "rxtimeout=-1", "tap=", "tap=abcdefghijklmnopq", "seed=x", "noopt=0"} {
		if _, err := ParseFlags(bad); err == nil {
			t.Errorf("ParseFlags(%q) accepted", bad)
		}
	}
	if _, err := Open(Config{Warp: true, TAP: "tap0"}); err == nil {
		t.Error("warp on a TAP accepted")
	}
}

func TestKeepaliveAndNoDelayReachTheConnection(t *testing.T) {
	l := open(t, "")
	lfd := listenOn(t, l, 7100)
	fd, iss := handshake(t, l, lfd, 7100, 42000)
	// Nagle: a second small write waits for the first one's ACK...
	l.Write(fd, []byte("a"))
	want(t, next(t, l, 0), fACK|fPSH, iss+1, 1001)
	l.Write(fd, []byte("b"))
	nothing(t, l, 0)
	// ... unless TCP_NODELAY is set.
	must(t, "TCP_NODELAY", l.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1))
	l.Write(fd, []byte("c"))
	s := next(t, l, 0)
	if s.seq != iss+2 || string(s.data) != "bc" {
		t.Fatalf("after TCP_NODELAY: seq %d data %q", s.seq-iss, s.data)
	}
	inject(t, l, seg{sport: 42000, dport: 7100, flags: fACK, seq: 1001, ack: iss + 4, opts: tsOpts(300, 0)})
	// Keepalive: a probe (one byte below snd.nxt) after TCP_KEEPIDLE of
	// silence, then every TCP_KEEPINTVL.
	must(t, "TCP_KEEPIDLE", l.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 10))
	must(t, "TCP_KEEPINTVL", l.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 3))
	t0 := l.Now()
	must(t, "SO_KEEPALIVE", l.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1))
	p1 := next(t, l, time.Minute)
	p2 := next(t, l, time.Minute)
	want(t, p1, fACK, iss+3, 1001)
	want(t, p2, fACK, iss+3, 1001)
	if d1, d2 := p1.at.Sub(t0), p2.at.Sub(p1.at); d1 != 10*time.Second || d2 != 3*time.Second {
		t.Fatalf("probes after %v and %v; want 10s, then 3s", d1, d2)
	}
}

func TestReceiveTimeout(t *testing.T) {
	l := open(t, "")
	lfd := listenOn(t, l, 7200)
	fd, _ := handshake(t, l, lfd, 7200, 42100)
	tv := make([]byte, 16)
	binary.NativeEndian.PutUint64(tv[8:16], 300000) // 300 ms
	must(t, "SO_RCVTIMEO", l.Setsockopt(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, tv))
	done := make(chan error, 1)
	go func() {
		_, err := l.Read(fd, make([]byte, 10))
		done <- err
	}()
	// Test-clock time: the read returns once 300 ms have passed on it.
	waitFor(t, "the read to block", func() bool { return l.waiting.Load() == 1 })
	l.Usleep(200 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("read returned %v after 200ms of a 300ms timeout", err)
	default:
	}
	l.Usleep(100 * time.Millisecond)
	select {
	case err := <-done:
		isErr(t, "read after its timeout", err, unix.EAGAIN)
	case <-time.After(5 * time.Second):
		t.Fatal("read did not time out")
	}
}

func TestUDP(t *testing.T) {
	l := open(t, "")
	fd, err := l.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	must(t, "socket", err)
	must(t, "bind", l.Bind(fd, netip.AddrPortFrom(netip.IPv4Unspecified(), 5353)))
	must(t, "inject", l.Inject(udpPacket(peerIP, 9999, stackIP, 5353, []byte("query"))))
	buf := make([]byte, 3)
	n, from, err := l.Recv(fd, [][]byte{buf}, unix.MSG_TRUNC)
	if n != 5 || err != nil || from != netip.AddrPortFrom(peerIP, 9999) || string(buf) != "que" {
		t.Fatalf("recvfrom = %d %v %v %q", n, from, err, buf)
	}
	_, _, err = l.Recv(fd, [][]byte{buf}, unix.MSG_DONTWAIT)
	isErr(t, "recv with nothing", err, unix.EAGAIN)
	if n, err := l.Send(fd, [][]byte{[]byte("ans"), []byte("wer")}, 0, netip.AddrPortFrom(peerIP, 9999)); n != 6 || err != nil {
		t.Fatalf("sendto = %d, %v", n, err)
	}
	sport, dport, body := nextUDP(t, l)
	if sport != 5353 || dport != 9999 || string(body) != "answer" {
		t.Fatalf("sent %d→%d %q", sport, dport, body)
	}
	_, err = l.Write(fd, []byte("x"))
	isErr(t, "send without an address", err, unix.EDESTADDRREQ)

	// An unbound socket sends from an ephemeral port, and hears replies
	// to it; once connected it hears only its peer.
	u, _ := l.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	must(t, "connect", l.Connect(u, netip.AddrPortFrom(peerIP, 53)))
	if n, err := l.Write(u, []byte("q")); n != 1 || err != nil {
		t.Fatalf("write = %d, %v", n, err)
	}
	sport, dport, _ = nextUDP(t, l)
	if me, _ := l.Getsockname(u); dport != 53 || me.Port() != sport || sport == 0 {
		t.Fatalf("sent %d→%d, getsockname %v", sport, dport, me)
	}
	must(t, "inject", l.Inject(udpPacket(peerIP, 54, stackIP, sport, []byte("stranger"))))
	must(t, "inject", l.Inject(udpPacket(peerIP, 53, stackIP, sport, []byte("reply"))))
	pfd := []unix.PollFd{{Fd: int32(u), Events: unix.POLLIN}}
	if n, _ := unix.Poll(pfd, 0); n != 1 {
		t.Fatal("the descriptor does not poll readable with a datagram queued")
	}
	mustRead(t, l, u, []byte("reply"))
	if n, _ := unix.Poll(pfd, 0); n != 0 {
		t.Fatal("the descriptor polls readable with nothing queued")
	}
	_, err = l.Send(u, [][]byte{make([]byte, maxDatagram+1)}, 0, netip.AddrPort{})
	isErr(t, "oversized datagram", err, unix.EMSGSIZE)
	must(t, "close", l.Close(u))
}

func udpPacket(src netip.Addr, sport uint16, dst netip.Addr, dport uint16, body []byte) []byte {
	b := make([]byte, 20+8+len(body))
	ip.PutIPv4Header(b, &ip.IPv4Fields{TotalLen: uint16(len(b)), TTL: 64, Protocol: ip.ProtocolUDP, Src: src, Dst: dst})
	ip.PutUDPHeader(b[20:], sport, dport, len(body))
	copy(b[28:], body)
	ip.SetUDPChecksum(b[20:], src, dst)
	return b
}

func nextUDP(t *testing.T, l *Lib) (sport, dport uint16, body []byte) {
	t.Helper()
	buf := make([]byte, 2000)
	n, _, err := l.Receive(buf, 0)
	if err != nil || n == 0 {
		t.Fatalf("no datagram (%v)", err)
	}
	p := ip.IPv4(buf[:n])
	if p.Check() != nil || p.Protocol() != ip.ProtocolUDP {
		t.Fatalf("not UDP: % x", buf[:n])
	}
	u := ip.UDP(p.Payload())
	if u.Check() != nil || !u.VerifyChecksum(p.Src(), p.Dst()) {
		t.Fatalf("bad UDP % x", u)
	}
	return u.SrcPort(), u.DstPort(), append([]byte(nil), u.Payload()...)
}
