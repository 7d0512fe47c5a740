package sockapi

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"netspace/ip"
	"netspace/tcp"

	"golang.org/x/sys/unix"
)

// The addresses of the scripted exchanges: the stack, and the peer the
// test plays.
var (
	stackIP = netip.MustParseAddr("192.0.2.2")
	peerIP  = netip.MustParseAddr("192.0.2.1")
)

// open starts a library on the test clock with the injection link.
func open(t *testing.T, flags string) *Lib {
	t.Helper()
	cfg, err := ParseFlags("local=192.0.2.2/24,gateway=192.0.2.1,clock=warp," + flags)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Stop() })
	return l
}

// seg is a TCP segment as the test writes and reads it.
type seg struct {
	sport, dport uint16
	flags        tcp.Flags
	seq, ack     uint32
	win          uint16
	opts         []byte // encoded options
	data         []byte
	at           time.Time // emission time (read)
}

// packet encodes s as an IPv4 packet from the peer to the stack.
func (s seg) packet() []byte {
	hf := tcp.HeaderFields{SrcPort: s.sport, DstPort: s.dport, Seq: tcp.Seq(s.seq), Ack: tcp.Seq(s.ack),
		Flags: s.flags, Window: s.win, Options: s.opts}
	hl := hf.HeaderLen()
	b := make([]byte, 20+hl+len(s.data))
	ip.PutIPv4Header(b, &ip.IPv4Fields{TotalLen: uint16(len(b)), TTL: 64, Protocol: ip.ProtocolTCP, Src: peerIP, Dst: stackIP})
	tcp.PutHeader(b[20:], &hf)
	copy(b[20+hl:], s.data)
	tcp.SetChecksum(b[20:], peerIP, stackIP)
	return b
}

// inject sends s to the stack.
func inject(t *testing.T, l *Lib, s seg) {
	t.Helper()
	if s.win == 0 && s.flags&tcp.FlagRST == 0 {
		s.win = 65535
	}
	if err := l.Inject(s.packet()); err != nil {
		t.Fatalf("inject: %v", err)
	}
}

// next returns the next segment the stack emits within timeout (test
// clock), failing if none comes or it is not a valid TCP segment to the
// peer.
func next(t *testing.T, l *Lib, timeout time.Duration) seg {
	t.Helper()
	s, ok := tryNext(t, l, timeout)
	if !ok {
		t.Fatalf("no segment within %v", timeout)
	}
	return s
}

func tryNext(t *testing.T, l *Lib, timeout time.Duration) (seg, bool) {
	t.Helper()
	buf := make([]byte, 2000)
	n, at, err := l.Receive(buf, timeout)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if n == 0 {
		return seg{}, false
	}
	p := ip.IPv4(buf[:n])
	if err := p.Check(); err != nil || p.Protocol() != ip.ProtocolTCP || p.Src() != stackIP || p.Dst() != peerIP {
		t.Fatalf("emitted %x: not TCP from the stack to the peer (%v)", buf[:n], err)
	}
	h := tcp.Header(p.Payload())
	if err := h.Check(); err != nil || !h.VerifyChecksum(stackIP, peerIP) {
		t.Fatalf("emitted a bad TCP segment %x (%v)", h, err)
	}
	return seg{sport: h.SrcPort(), dport: h.DstPort(), flags: h.Flags(), seq: uint32(h.Seq()), ack: uint32(h.Ack()),
		win: h.Window(), opts: append([]byte(nil), h.Options()...), data: append([]byte(nil), h.Payload()...), at: at}, true
}

// want checks a segment's flags, sequence and acknowledgment numbers.
func want(t *testing.T, s seg, flags tcp.Flags, seq, ack uint32) {
	t.Helper()
	if s.flags != flags || s.seq != seq || flags.Has(tcp.FlagACK) && s.ack != ack {
		t.Fatalf("got %v seq=%d ack=%d, want %v seq=%d ack=%d", s.flags, s.seq, s.ack, flags, seq, ack)
	}
}

// nothing checks that the stack sends nothing within d (test clock).
func nothing(t *testing.T, l *Lib, d time.Duration) {
	t.Helper()
	if s, ok := tryNext(t, l, d); ok {
		t.Fatalf("unexpected segment %v seq=%d ack=%d len=%d", s.flags, s.seq, s.ack, len(s.data))
	}
}

// parseOpts decodes a segment's options.
func parseOpts(t *testing.T, b []byte) tcp.Options {
	t.Helper()
	var o tcp.Options
	if err := tcp.ParseOptions(b, &o); err != nil {
		t.Fatalf("options % x: %v", b, err)
	}
	return o
}

// synOpts encodes a peer's SYN options: MSS 1460, SACK-permitted,
// timestamps (TSval tsval), window scale 7.
func synOpts(tsval, tsecr uint32) []byte {
	b := make([]byte, 40)
	return b[:tcp.PutOptions(b, &tcp.Options{HasMSS: true, MSS: 1460, SACKPermitted: true,
		HasTS: true, TSVal: tsval, TSEcr: tsecr, HasWScale: true, WScale: 7})]
}

// tsOpts encodes the peer's timestamps for a segment after the handshake.
func tsOpts(tsval, tsecr uint32) []byte {
	b := make([]byte, 12)
	return b[:tcp.PutOptions(b, &tcp.Options{HasTS: true, TSVal: tsval, TSEcr: tsecr})]
}

// isErr checks that err is errno e.
func isErr(t *testing.T, what string, err error, e unix.Errno) {
	t.Helper()
	if !errors.Is(err, e) {
		t.Fatalf("%s: got %v, want %v", what, err, e)
	}
}

// must fails the test on an error.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// mustRead reads exactly want from fd (one read).
func mustRead(t *testing.T, l *Lib, fd int, want []byte) {
	t.Helper()
	buf := make([]byte, len(want)+100)
	n, err := l.Read(fd, buf)
	if err != nil || !bytes.Equal(buf[:n], want) {
		t.Fatalf("read = %q, %v; want %q", buf[:max(n, 0)], err, want)
	}
}

// waitFor waits (real time, bounded) until cond holds: for a call on
// another goroutine to reach the point the test needs.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	dl := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(dl) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
