package ip

import (
	"bytes"
	"errors"
	"testing"
)

func testPayload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i>>8)
	}
	return b
}

// fragments returns copies of the fragments of (h, payload) for mtu.
func fragments(t testing.TB, h IPv4Fields, payload []byte, mtu int) [][]byte {
	t.Helper()
	var out [][]byte
	buf := make([]byte, mtu)
	err := Fragment(&h, payload, mtu, buf, func(f IPv4) error {
		if err := f.Check(); err != nil {
			t.Fatalf("fragment fails Check: %v", err)
		}
		if len(f) > mtu {
			t.Fatalf("fragment of %d bytes exceeds MTU %d", len(f), mtu)
		}
		out = append(out, bytes.Clone(f))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFragmentBasic(t *testing.T) {
	h := IPv4Fields{ID: 77, TTL: 64, Protocol: ProtocolUDP, Src: addrA, Dst: addrB}
	payload := testPayload(4000)
	fs := fragments(t, h, payload, 1500)
	wantLen := []int{1480, 1480, 1040}
	if len(fs) != 3 {
		t.Fatalf("%d fragments", len(fs))
	}
	var joined []byte
	for i, b := range fs {
		p := IPv4(b)
		if len(p.Payload()) != wantLen[i] || p.FragmentOffset() != 1480*i || p.MoreFragments() != (i < 2) ||
			p.ID() != 77 || p.TTL() != 64 || p.Protocol() != ProtocolUDP || p.Src() != addrA || p.Dst() != addrB {
			t.Errorf("fragment %d: %+v", i, p.Fields())
		}
		joined = append(joined, p.Payload()...)
	}
	if !bytes.Equal(joined, payload) {
		t.Error("fragments do not carry the payload")
	}
}

func TestFragmentFitsUnchanged(t *testing.T) {
	h := IPv4Fields{ID: 1, TTL: 64, Protocol: ProtocolICMP, Src: addrA, Dst: addrB, Flags: FlagDF}
	payload := IPv4(goldenPing).Payload()
	fs := fragments(t, h, payload, len(goldenPing))
	if len(fs) != 1 || !bytes.Equal(fs[0], buildIPv4(h, payload)) {
		t.Fatalf("got %d fragments", len(fs))
	}
	var f Fragmenter
	if err := f.Init(&h, nil, 20); err != nil || f.NextLen() != 20 {
		t.Fatalf("empty payload: %v, NextLen %d", err, f.NextLen())
	}
	f.Next(make([]byte, 20))
	if f.More() || f.NextLen() != 0 {
		t.Fatal("more than one packet for an empty payload")
	}
}

func TestFragmentErrors(t *testing.T) {
	h := IPv4Fields{TTL: 64, Protocol: ProtocolUDP, Src: addrA, Dst: addrB, Flags: FlagDF}
	var f Fragmenter
	if err := f.Init(&h, make([]byte, 1481), 1500); !errors.Is(err, ErrNeedFragmentation) {
		t.Errorf("DF: %v", err)
	}
	h.Flags = 0
	if err := f.Init(&h, make([]byte, 100), 27); !errors.Is(err, ErrMTUTooSmall) {
		t.Errorf("MTU 27: %v", err)
	}
	if err := f.Init(&h, make([]byte, 100), 28); err != nil {
		t.Errorf("MTU 28: %v", err)
	}
	if err := f.Init(&h, make([]byte, 65516), 1500); !errors.Is(err, ErrBadTotalLength) {
		t.Errorf("too long: %v", err)
	}
	h.FragOffset = 65000
	if err := f.Init(&h, make([]byte, 600), 1500); !errors.Is(err, ErrBadTotalLength) {
		t.Errorf("offset+length too long: %v", err)
	}
	errStop := errors.New("stop")
	h.FragOffset = 0
	if err := Fragment(&h, make([]byte, 3000), 1500, make([]byte, 1500), func(IPv4) error { return errStop }); err != errStop {
		t.Errorf("emit error not returned: %v", err)
	}
}

func TestFragmentOptions(t *testing.T) {
	// Record Route (7, not copied) and LSRR (0x83, copied).
	rr := []byte{7, 7, 4, 0, 0, 0, 0}
	lsrr := []byte{0x83, 7, 4, 10, 9, 9, 9}
	opts := append(append(append([]byte{}, rr...), lsrr...), 1, 0) // 16 bytes
	h := IPv4Fields{ID: 5, TTL: 64, Protocol: ProtocolUDP, Src: addrA, Dst: addrB, Options: opts}
	fs := fragments(t, h, testPayload(1000), 576)
	if len(fs) != 2 {
		t.Fatalf("%d fragments", len(fs))
	}
	first, second := IPv4(fs[0]), IPv4(fs[1])
	if !bytes.Equal(first.Options(), opts) {
		t.Errorf("first fragment options % x", first.Options())
	}
	if !bytes.Equal(second.Options(), append(bytes.Clone(lsrr), 0)) {
		t.Errorf("later fragment options % x", second.Options())
	}
	if len(first.Payload()) != (576-36)&^7 || second.FragmentOffset() != len(first.Payload()) {
		t.Errorf("sizes %d, offset %d", len(first.Payload()), second.FragmentOffset())
	}
	// Malformed options stop the copy without panicking.
	var dst [40]byte
	if n := copiedOptions(dst[:], []byte{1, 0x83, 9, 0}); n != 0 {
		t.Errorf("copied %d bytes of a malformed option", n)
	}
}

func TestFragmentAFragment(t *testing.T) {
	// Forwarding a middle fragment (offset 1480, MF) onto a smaller link.
	h := IPv4Fields{ID: 9, TTL: 63, Protocol: ProtocolTCP, Src: addrA, Dst: addrB, Flags: FlagMF, FragOffset: 1480}
	fs := fragments(t, h, testPayload(1480), 576)
	for i, b := range fs {
		p := IPv4(b)
		if !p.MoreFragments() {
			t.Errorf("fragment %d lost MF", i)
		}
		if i == 0 && p.FragmentOffset() != 1480 || i == 1 && p.FragmentOffset() != 1480+552 {
			t.Errorf("fragment %d offset %d", i, p.FragmentOffset())
		}
	}
	h.Flags = 0 // the last piece of the original: MF only on the new pieces but the last
	fs = fragments(t, h, testPayload(1480), 576)
	if IPv4(fs[len(fs)-1]).MoreFragments() || !IPv4(fs[0]).MoreFragments() {
		t.Error("MF wrong when fragmenting the last fragment")
	}
}

func TestFragmentAllocs(t *testing.T) {
	h := IPv4Fields{ID: 77, TTL: 64, Protocol: ProtocolUDP, Src: addrA, Dst: addrB}
	payload := testPayload(9000)
	buf := make([]byte, 1500)
	emit := func(IPv4) error { return nil }
	if n := testing.AllocsPerRun(50, func() {
		if err := Fragment(&h, payload, 1500, buf, emit); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("allocs = %v", n)
	}
}

func BenchmarkFragment9000(b *testing.B) {
	b.ReportAllocs()
	h := IPv4Fields{ID: 77, TTL: 64, Protocol: ProtocolUDP, Src: addrA, Dst: addrB}
	payload := testPayload(9000)
	buf := make([]byte, 1500)
	emit := func(IPv4) error { return nil }
	for b.Loop() {
		_ = Fragment(&h, payload, 1500, buf, emit)
	}
}
