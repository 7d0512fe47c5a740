package ip

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

func TestICMPGoldenEcho(t *testing.T) {
	m := ICMP(IPv4(goldenPing).Payload())
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	if m.Type() != ICMPTypeEchoRequest || m.Code() != 0 || m.Checksum() != 0x1edf || m.ID() != 0x0a3b ||
		m.Seq() != 1 || len(m.Payload()) != 56 || m.IsError() || m.RestOfHeader() != 0x0a3b0001 {
		t.Errorf("type %d code %d id %#x seq %d", m.Type(), m.Code(), m.ID(), m.Seq())
	}
	// Re-encode the request: identical.
	out := make([]byte, len(m))
	PutICMP(out, m.Type(), m.Code(), m.RestOfHeader(), m.Payload())
	if !bytes.Equal(out, m) {
		t.Errorf("re-encoded % x", out)
	}
	// The reply: type 0, same id/seq/data, checksum differs by exactly
	// the type change (0x0800).
	reply := make([]byte, len(m))
	n := PutEchoReply(reply, m)
	r := ICMP(reply[:n])
	if err := r.Check(); err != nil || r.Type() != ICMPTypeEchoReply || r.ID() != m.ID() || r.Seq() != m.Seq() ||
		!bytes.Equal(r.Payload(), m.Payload()) || r.Checksum() != m.Checksum()+0x0800 {
		t.Errorf("reply: %v % x", err, reply[:8])
	}
	// In place.
	inPlace := bytes.Clone(m)
	PutEchoReply(inPlace, ICMP(inPlace))
	if !bytes.Equal(inPlace, reply) {
		t.Error("in-place reply differs")
	}
}

func TestICMPCheckErrors(t *testing.T) {
	m := bytes.Clone(IPv4(goldenPing).Payload())
	if err := ICMP(m[:7]).Check(); !errors.Is(err, ErrTruncated) {
		t.Errorf("7 bytes: %v", err)
	}
	m[len(m)-1] ^= 1
	if err := ICMP(m).Check(); !errors.Is(err, ErrBadChecksum) {
		t.Errorf("corrupt: %v", err)
	}
	if err := ICMP(m).CheckNoChecksum(); err != nil {
		t.Errorf("CheckNoChecksum: %v", err)
	}
}

func TestICMPDestUnreachable(t *testing.T) {
	// A UDP datagram to a closed port, padded by Ethernet.
	orig := buildIPv4(IPv4Fields{ID: 0x4242, TTL: 64, Protocol: ProtocolUDP, Src: addrB, Dst: addrA}, []byte{
		0x9c, 0x40, 0x00, 0x35, 0x00, 0x0d, 0x00, 0x00, 'h', 'e', 'l', 'l', 'o'})
	padded := append(bytes.Clone(orig), make([]byte, 10)...)
	for _, o := range [][]byte{orig, padded} {
		b := make([]byte, ICMPErrorLen(IPv4(o)))
		n := PutDestUnreachable(b, ICMPCodePortUnreachable, 1400, IPv4(o))
		m := ICMP(b[:n])
		if n != 8+28 || m.Check() != nil || m.Type() != ICMPTypeDestUnreach || m.Code() != 3 || m.MTU() != 0 || !m.IsError() {
			t.Fatalf("n=%d % x", n, b)
		}
		if !bytes.Equal(m.Payload(), orig[:28]) {
			t.Errorf("body % x", m.Payload())
		}
		q, err := m.Quote()
		if err != nil || q.Src != addrB || q.Dst != addrA || q.Protocol != ProtocolUDP || q.ID != 0x4242 ||
			!bytes.Equal(q.Transport, orig[20:28]) {
			t.Errorf("quote %+v %v", q, err)
		}
	}
	// Fragmentation needed carries the MTU.
	b := make([]byte, ICMPErrorLen(IPv4(goldenPing)))
	n := PutDestUnreachable(b, ICMPCodeFragNeeded, 1400, IPv4(goldenPing))
	m := ICMP(b[:n])
	if m.Check() != nil || m.MTU() != 1400 || m.Code() != ICMPCodeFragNeeded {
		t.Errorf("frag needed: % x", b[:8])
	}
	// A datagram with less than 8 bytes of payload is quoted whole.
	short := buildIPv4(IPv4Fields{TTL: 1, Protocol: 253, Src: addrA, Dst: addrB}, []byte{1, 2, 3})
	if ICMPErrorLen(IPv4(short)) != 8+23 {
		t.Errorf("short quote length %d", ICMPErrorLen(IPv4(short)))
	}
	b = make([]byte, 64)
	n = PutTimeExceeded(b, ICMPCodeTTLExceeded, IPv4(short))
	if m := ICMP(b[:n]); m.Check() != nil || m.Type() != ICMPTypeTimeExceeded || !bytes.Equal(m.Payload(), short) {
		t.Errorf("time exceeded: % x", b[:n])
	}
}

func TestICMPQuoteErrors(t *testing.T) {
	mk := func(body []byte) ICMP {
		b := make([]byte, 8+len(body))
		return ICMP(b[:PutICMP(b, ICMPTypeDestUnreach, 3, 0, body)])
	}
	hdr := bytes.Clone(goldenPing[:28])
	v6 := bytes.Clone(hdr)
	v6[0] = 0x65
	ihl := bytes.Clone(hdr)
	ihl[0] = 0x4f
	for _, tt := range []struct {
		body []byte
		want error
	}{
		{hdr[:19], ErrTruncated},
		{v6, ErrBadVersion},
		{ihl, ErrBadHeaderLength},
	} {
		if _, err := mk(tt.body).Quote(); !errors.Is(err, tt.want) {
			t.Errorf("% x: %v, want %v", tt.body, err, tt.want)
		}
	}
}

func TestICMPRedirectAndPointer(t *testing.T) {
	b := make([]byte, 8)
	PutICMP(b, ICMPTypeRedirect, 1, 0x0a000063, nil)
	m := ICMP(b)
	if m.Check() != nil || m.Gateway() != netip.MustParseAddr("10.0.0.99") || !m.IsError() {
		t.Errorf("redirect % x", b)
	}
	PutICMP(b, ICMPTypeParamProblem, 0, 12<<24, nil)
	if m.Pointer() != 12 {
		t.Errorf("pointer %d", m.Pointer())
	}
}
