package drivers

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"netspace/actors"
)

func ipv4Packet(n int) []byte {
	p := make([]byte, n)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:4], uint16(n))
	return p
}

func arpRequest(senderMAC [6]byte, senderIP, targetIP [4]byte) []byte {
	f := make([]byte, 42)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(f[6:12], senderMAC[:])
	binary.BigEndian.PutUint16(f[12:14], 0x0806)
	a := f[14:]
	binary.BigEndian.PutUint16(a[0:2], 1)
	binary.BigEndian.PutUint16(a[2:4], 0x0800)
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:8], 1)
	copy(a[8:14], senderMAC[:])
	copy(a[14:18], senderIP[:])
	copy(a[24:28], targetIP[:])
	return f
}

func TestInjectDeliversAndEmits(t *testing.T) {
	clock := actors.NewManualClock(time.Unix(100, 0))
	l := NewInject(InjectConfig{Clock: clock})
	var got [][]byte
	if err := l.Inject(ipv4Packet(20)); err != nil {
		t.Fatalf("inject before start: %v", err)
	}
	if s := l.Stats(); s.RxDropped != 1 {
		t.Fatalf("a packet before Start is dropped and counted: %+v", s)
	}
	if err := l.Start(func(fs [][]byte) {
		for _, f := range fs {
			got = append(got, append([]byte(nil), f...))
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(func([][]byte) {}); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v", err)
	}
	pkt := ipv4Packet(60)
	pkt[19] = 7
	if err := l.Inject(pkt); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0]) != 74 || !bytes.Equal(got[0][0:6], []byte{2, 0, 0, 0, 0, 1}) ||
		!bytes.Equal(got[0][6:12], []byte{2, 0, 0, 0, 0, 2}) || got[0][12] != 8 || got[0][13] != 0 || !bytes.Equal(got[0][14:], pkt) {
		t.Fatalf("rx got %x", got)
	}
	for _, bad := range [][]byte{nil, make([]byte, 19), append([]byte{0x65}, make([]byte, 39)...)} {
		if err := l.Inject(bad); !errors.Is(err, ErrNotIPv4) {
			t.Errorf("Inject(% x): %v, want ErrNotIPv4", bad, err)
		}
	}
	if err := l.Inject(ipv4Packet(1501)); !errors.Is(err, ErrFrameSize) {
		t.Errorf("oversized: %v", err)
	}

	// The stack sends a frame: the IP packet comes out with its time.
	clock.Advance(1500 * time.Microsecond)
	frame := append(make([]byte, 14), ipv4Packet(40)...)
	binary.BigEndian.PutUint16(frame[12:14], 0x0800)
	frame[14+10] = 0xaa
	if err := l.Send([][]byte{frame}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Ready():
	default:
		t.Fatal("Ready not signalled")
	}
	e, ok := l.Receive()
	if !ok || !bytes.Equal(e.Packet, frame[14:]) || !e.At.Equal(time.Unix(100, 1500_000)) {
		t.Fatalf("Receive = %x at %v, %v", e.Packet, e.At, ok)
	}
	frame[14+10] = 0 // the link kept a copy
	if e.Packet[10] != 0xaa {
		t.Fatal("emitted packet aliases the sender's buffer")
	}
	if _, ok := l.Receive(); ok {
		t.Fatal("a second packet out of nowhere")
	}
	if err := l.Send([][]byte{make([]byte, 13)}); !errors.Is(err, ErrFrameSize) {
		t.Fatalf("runt frame: %v", err)
	}
}

func TestInjectAnswersARP(t *testing.T) {
	l := NewInject(InjectConfig{PeerMAC: [6]byte{2, 9, 9, 9, 9, 9}})
	stackMAC := [6]byte{2, 0, 0, 0, 0, 1}
	var got [][]byte
	l.Start(func(fs [][]byte) {
		for _, f := range fs {
			got = append(got, append([]byte(nil), f...))
		}
	})
	// An announcement is not answered.
	l.Send([][]byte{arpRequest(stackMAC, [4]byte{192, 0, 2, 2}, [4]byte{192, 0, 2, 2})})
	if len(got) != 0 {
		t.Fatalf("answered a gratuitous ARP: %x", got)
	}
	l.Send([][]byte{arpRequest(stackMAC, [4]byte{192, 0, 2, 2}, [4]byte{192, 0, 2, 1})})
	if len(got) != 1 {
		t.Fatalf("want one reply, got %d", len(got))
	}
	r := got[0]
	a := r[14:]
	if !bytes.Equal(r[0:6], stackMAC[:]) || !bytes.Equal(r[6:12], []byte{2, 9, 9, 9, 9, 9}) ||
		binary.BigEndian.Uint16(a[6:8]) != 2 || !bytes.Equal(a[8:14], []byte{2, 9, 9, 9, 9, 9}) ||
		!bytes.Equal(a[14:18], []byte{192, 0, 2, 1}) || !bytes.Equal(a[18:24], stackMAC[:]) ||
		!bytes.Equal(a[24:28], []byte{192, 0, 2, 2}) {
		t.Fatalf("bad ARP reply % x", r)
	}
	if _, ok := l.Receive(); ok {
		t.Fatal("ARP must not be queued as an emitted IP packet")
	}
}

// TestInjectReentrant sends from inside rx (as a stack's inline handlers
// do): the answer is delivered after rx returns, never inside it.
func TestInjectReentrant(t *testing.T) {
	l := NewInject(InjectConfig{})
	depth, maxDepth, calls := 0, 0, 0
	stackMAC := [6]byte{2, 0, 0, 0, 0, 1}
	l.Start(func(fs [][]byte) {
		depth++
		maxDepth = max(maxDepth, depth)
		calls++
		if calls == 1 {
			l.Send([][]byte{arpRequest(stackMAC, [4]byte{192, 0, 2, 2}, [4]byte{192, 0, 2, 1})})
		}
		depth--
	})
	l.Inject(ipv4Packet(20))
	if calls != 2 || maxDepth != 1 {
		t.Fatalf("calls %d, max depth %d; want 2 calls, never nested", calls, maxDepth)
	}
}

func TestInjectBoundsAndClose(t *testing.T) {
	l := NewInject(InjectConfig{MaxQueue: 2})
	l.Start(func([][]byte) {})
	frame := append(make([]byte, 14), ipv4Packet(20)...)
	binary.BigEndian.PutUint16(frame[12:14], 0x0800)
	l.Send([][]byte{frame, frame, frame})
	if l.Queued() != 2 || l.Stats().TxDropped != 1 {
		t.Fatalf("queued %d, stats %+v: want 2 kept, 1 dropped", l.Queued(), l.Stats())
	}
	l.Discard()
	if l.Queued() != 0 {
		t.Fatal("Discard left packets")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Done():
	default:
		t.Fatal("Done not closed")
	}
	if err := l.Inject(ipv4Packet(20)); !errors.Is(err, ErrClosed) {
		t.Fatalf("inject after close: %v", err)
	}
	if err := l.Send([][]byte{frame}); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
}
