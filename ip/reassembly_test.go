package ip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func permutations(n int, f func([]int)) {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	var rec func(k int)
	rec = func(k int) {
		if k == n {
			f(p)
			return
		}
		for i := k; i < n; i++ {
			p[k], p[i] = p[i], p[k]
			rec(k + 1)
			p[k], p[i] = p[i], p[k]
		}
	}
	rec(0)
}

// feed adds fragments in order and expects completion exactly at the last.
func feed(t *testing.T, r *Reassembler, fs [][]byte, order []int) IPv4 {
	t.Helper()
	var out IPv4
	for i, k := range order {
		pkt, done, err := r.Add(t0, IPv4(fs[k]))
		if err != nil {
			t.Fatalf("order %v step %d: %v", order, i, err)
		}
		if done != (i == len(order)-1) {
			t.Fatalf("order %v step %d: done=%v", order, i, done)
		}
		out = pkt
	}
	return out
}

func TestReassembleAllOrders(t *testing.T) {
	opts := []byte{0x94, 4, 0, 0} // Router Alert, copied
	for _, n := range []int{3, 4, 5} {
		h := IPv4Fields{ID: uint16(n), TTL: 64, Protocol: ProtocolUDP, Src: addrA, Dst: addrB, Options: opts}
		payload := testPayload(n*552 - 100)
		want := buildIPv4(h, payload)
		fs := fragments(t, h, payload, 576)
		if len(fs) != n {
			t.Fatalf("%d fragments, want %d", len(fs), n)
		}
		r := NewReassembler(ReassemblyConfig{})
		count := 0
		permutations(n, func(order []int) {
			count++
			got := feed(t, r, fs, order)
			if err := got.Check(); err != nil {
				t.Fatalf("order %v: reassembled datagram fails Check: %v", order, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("order %v: reassembled datagram differs from the original", order)
			}
			if r.Len() != 0 || r.Bytes() != 0 {
				t.Fatalf("order %v: %d datagrams, %d bytes left", order, r.Len(), r.Bytes())
			}
		})
		if c := r.Counters(); c.Reassembled != uint64(count) || c.Fragments != uint64(count*n) {
			t.Errorf("n=%d counters %+v", n, c)
		}
	}
}

func TestReassembleDuplicates(t *testing.T) {
	h := IPv4Fields{ID: 3, TTL: 64, Protocol: ProtocolTCP, Src: addrA, Dst: addrB}
	payload := testPayload(1500)
	want := buildIPv4(h, payload)
	fs := fragments(t, h, payload, 576)
	permutations(3, func(order []int) {
		r := NewReassembler(ReassemblyConfig{})
		// Every fragment twice, the first copy of the last one before
		// any duplicate completes nothing early.
		seq := []int{order[0], order[0], order[1], order[0], order[1], order[2]}
		for i, k := range seq {
			pkt, done, err := r.Add(t0, IPv4(fs[k]))
			if err != nil || done != (i == len(seq)-1) {
				t.Fatalf("order %v step %d: done=%v err=%v", seq, i, done, err)
			}
			if done && !bytes.Equal(pkt, want) {
				t.Fatalf("order %v: wrong datagram", seq)
			}
		}
		if c := r.Counters(); c.Duplicates != 3 || c.Reassembled != 1 || c.Overlaps != 0 {
			t.Fatalf("counters %+v", c)
		}
	})
	// A duplicate after completion starts a new datagram.
	r := NewReassembler(ReassemblyConfig{})
	feed(t, r, fs, []int{0, 1, 2})
	if _, done, err := r.Add(t0, IPv4(fs[1])); done || err != nil || r.Len() != 1 {
		t.Fatalf("late duplicate: done=%v err=%v len=%d", done, err, r.Len())
	}
}

// rawFragment builds a fragment with arbitrary offset, MF and data.
func rawFragment(id uint16, off int, mf bool, data []byte) IPv4 {
	h := IPv4Fields{ID: id, TTL: 64, Protocol: ProtocolUDP, Src: addrA, Dst: addrB, FragOffset: off}
	if mf {
		h.Flags = FlagMF
	}
	return IPv4(buildIPv4(h, data))
}

func TestReassembleOverlaps(t *testing.T) {
	d16 := testPayload(16)
	tests := []struct {
		name  string
		first IPv4
		next  IPv4
	}{
		{"same start, longer", rawFragment(1, 0, true, d16[:8]), rawFragment(1, 0, true, d16)},
		{"same start, shorter", rawFragment(1, 0, true, d16), rawFragment(1, 0, true, d16[:8])},
		{"tail overlap", rawFragment(1, 0, true, d16), rawFragment(1, 8, true, d16)},
		{"head overlap", rawFragment(1, 8, true, d16), rawFragment(1, 0, true, d16)},
		{"contained", rawFragment(1, 0, true, testPayload(32)), rawFragment(1, 8, true, d16[:8])},
		{"containing", rawFragment(1, 8, true, d16[:8]), rawFragment(1, 0, true, testPayload(32))},
		{"same range, different bytes", rawFragment(1, 8, true, d16), rawFragment(1, 8, true, make([]byte, 16))},
		{"last fragment overlaps", rawFragment(1, 0, true, d16), rawFragment(1, 8, false, d16)},
	}
	for _, tt := range tests {
		r := NewReassembler(ReassemblyConfig{})
		if _, _, err := r.Add(t0, tt.first); err != nil {
			t.Fatalf("%s: first: %v", tt.name, err)
		}
		if _, done, err := r.Add(t0, tt.next); !errors.Is(err, ErrFragmentOverlap) || done {
			t.Errorf("%s: err = %v done = %v", tt.name, err, done)
		}
		if c := r.Counters(); c.Overlaps != 1 || r.Len() != 0 || r.Bytes() != 0 {
			t.Errorf("%s: counters %+v len %d bytes %d", tt.name, c, r.Len(), r.Bytes())
		}
		// The datagram is gone: the rest of it starts afresh and does not
		// complete.
		if _, done, err := r.Add(t0, rawFragment(1, 16, false, d16)); done || err != nil {
			t.Errorf("%s: after discard: done=%v err=%v", tt.name, done, err)
		}
	}
}

func TestReassembleMalformed(t *testing.T) {
	d16 := testPayload(16)
	tests := []struct {
		name string
		seq  []IPv4
		want error
	}{
		{"non-final not multiple of 8", []IPv4{rawFragment(1, 0, true, d16[:12])}, ErrFragmentMalformed},
		{"non-final empty", []IPv4{rawFragment(1, 8, true, nil)}, ErrFragmentMalformed},
		{"two different ends", []IPv4{rawFragment(1, 16, false, d16), rawFragment(1, 16, false, d16[:8])}, ErrFragmentMalformed},
		{"data past the end", []IPv4{rawFragment(1, 8, false, d16[:8]), rawFragment(1, 16, true, d16)}, ErrFragmentMalformed},
		{"end before data", []IPv4{rawFragment(1, 16, true, d16), rawFragment(1, 8, false, d16[:8])}, ErrFragmentMalformed},
		{"past 65535", []IPv4{rawFragment(1, 65512, true, d16)}, ErrFragmentTooBig},
	}
	for _, tt := range tests {
		r := NewReassembler(ReassemblyConfig{})
		var err error
		for _, p := range tt.seq {
			_, _, err = r.Add(t0, p)
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
		c := r.Counters()
		if c.Malformed+c.TooBig != 1 {
			t.Errorf("%s: counters %+v", tt.name, c)
		}
	}
	// The last possible fragment fits exactly.
	r := NewReassembler(ReassemblyConfig{})
	if _, _, err := r.Add(t0, rawFragment(1, 65512, false, d16[:3])); err != nil {
		t.Errorf("fragment ending at 65535: %v", err)
	}
}

func TestReassembleZeroLengthLast(t *testing.T) {
	r := NewReassembler(ReassemblyConfig{})
	d16 := testPayload(16)
	if _, _, err := r.Add(t0, rawFragment(4, 0, true, d16)); err != nil {
		t.Fatal(err)
	}
	pkt, done, err := r.Add(t0, rawFragment(4, 16, false, nil))
	if err != nil || !done || !bytes.Equal(pkt.Payload(), d16) {
		t.Fatalf("done=%v err=%v payload % x", done, err, pkt.Payload())
	}
}

func TestReassembleTinyFragmentsShuffled(t *testing.T) {
	h := IPv4Fields{ID: 8, TTL: 64, Protocol: ProtocolUDP, Src: addrA, Dst: addrB}
	payload := testPayload(8000)
	want := buildIPv4(h, payload)
	fs := fragments(t, h, payload, 28) // 8 bytes each: 1000 fragments
	rng := rand.New(rand.NewPCG(1, 1))
	rng.Shuffle(len(fs), func(i, j int) { fs[i], fs[j] = fs[j], fs[i] })
	r := NewReassembler(ReassemblyConfig{})
	for i, f := range fs {
		pkt, done, err := r.Add(t0, IPv4(f))
		if err != nil || done != (i == len(fs)-1) {
			t.Fatalf("step %d: done=%v err=%v", i, done, err)
		}
		if done && !bytes.Equal(pkt, want) {
			t.Fatal("wrong datagram")
		}
	}
}

func TestReassembleNotAFragment(t *testing.T) {
	r := NewReassembler(ReassemblyConfig{})
	pkt, done, err := r.Add(t0, IPv4(goldenPing))
	if !done || err != nil || &pkt[0] != &goldenPing[0] {
		t.Fatal("non-fragment not passed through")
	}
}

func TestReassembleTimeout(t *testing.T) {
	r := NewReassembler(ReassemblyConfig{})
	h := IPv4Fields{ID: 6, TTL: 64, Protocol: ProtocolUDP, Src: addrA, Dst: addrB}
	fs := fragments(t, h, testPayload(1500), 576)
	if _, ok := r.NextDeadline(); ok {
		t.Fatal("deadline with nothing in progress")
	}
	r.Add(t0, IPv4(fs[0]))
	r.Add(t0.Add(10*time.Second), IPv4(fs[1]))
	if d, ok := r.NextDeadline(); !ok || !d.Equal(t0.Add(DefaultReassemblyTimeout)) {
		t.Fatalf("deadline %v %v", d, ok)
	}
	var quoted []byte
	onTimeout := func(first IPv4) { quoted = bytes.Clone(first) }
	if n := r.Expire(t0.Add(30*time.Second-1), onTimeout); n != 0 || quoted != nil {
		t.Fatal("expired early")
	}
	if n := r.Expire(t0.Add(30*time.Second), onTimeout); n != 1 || r.Len() != 0 || r.Bytes() != 0 {
		t.Fatalf("Expire = %d, len %d bytes %d", n, r.Len(), r.Bytes())
	}
	// The callback gets the first fragment as received, from which a
	// valid ICMP Time Exceeded message quotes header and 8 bytes.
	if !bytes.Equal(quoted, fs[0]) || IPv4(quoted).Check() != nil {
		t.Fatalf("quote % x", quoted)
	}
	msg := make([]byte, ICMPErrorLen(IPv4(quoted)))
	n := PutTimeExceeded(msg, ICMPCodeReassemblyExceeded, IPv4(quoted))
	m := ICMP(msg[:n])
	if err := m.Check(); err != nil || n != 36 || m.Type() != ICMPTypeTimeExceeded || m.Code() != 1 {
		t.Fatalf("ICMP: %v n=%d", err, n)
	}
	if q, err := m.Quote(); err != nil || q.ID != 6 || len(q.Transport) != 8 {
		t.Fatalf("quote: %+v %v", q, err)
	}
	// Without the first fragment there is no quote.
	quoted = nil
	r.Add(t0, IPv4(fs[2]))
	if r.Expire(t0.Add(time.Hour), onTimeout) != 1 || quoted != nil {
		t.Fatal("timeout without first fragment")
	}
	// A late fragment of a timed-out datagram that was not expired yet
	// starts a new one.
	r.Add(t0, IPv4(fs[0]))
	if _, done, err := r.Add(t0.Add(time.Minute), IPv4(fs[1])); done || err != nil {
		t.Fatalf("done=%v err=%v", done, err)
	}
	if c := r.Counters(); c.Timeouts != 3 || r.Len() != 1 {
		t.Fatalf("counters %+v len %d", c, r.Len())
	}
}

func TestReassembleMaxDatagrams(t *testing.T) {
	r := NewReassembler(ReassemblyConfig{MaxDatagrams: 3})
	for id := range uint16(10) {
		if _, _, err := r.Add(t0, rawFragment(id, 0, true, testPayload(8))); err != nil {
			t.Fatal(err)
		}
		if r.Len() > 3 {
			t.Fatalf("%d datagrams in progress", r.Len())
		}
	}
	if c := r.Counters(); c.Evicted != 7 {
		t.Fatalf("evicted %d", c.Evicted)
	}
	// The newest three survive: 7, 8, 9 complete.
	for id := uint16(7); id < 10; id++ {
		if _, done, _ := r.Add(t0, rawFragment(id, 8, false, testPayload(8))); !done {
			t.Errorf("datagram %d did not complete", id)
		}
	}
	if _, done, _ := r.Add(t0, rawFragment(0, 8, false, testPayload(8))); done {
		t.Error("evicted datagram completed")
	}
}

func TestReassembleMemoryBound(t *testing.T) {
	const max = 64 << 10
	r := NewReassembler(ReassemblyConfig{MaxBytes: max})
	h := IPv4Fields{TTL: 64, Protocol: ProtocolUDP, Src: addrA, Dst: addrB}
	payload := testPayload(8000)
	for id := range uint16(200) {
		h.ID = id
		fs := fragments(t, h, payload, 1500)
		// Everything but the last fragment: nothing completes.
		for _, f := range fs[:len(fs)-1] {
			if _, _, err := r.Add(t0, IPv4(f)); err != nil {
				t.Fatal(err)
			}
			if r.Bytes() > max {
				t.Fatalf("%d bytes held, bound %d", r.Bytes(), max)
			}
		}
	}
	c := r.Counters()
	if c.Evicted == 0 || r.Len() == 0 || r.Len() > max/8000 {
		t.Fatalf("counters %+v len %d", c, r.Len())
	}
	// The newest datagram is still there and completes.
	h.ID = 199
	fs := fragments(t, h, payload, 1500)
	if _, done, err := r.Add(t0, IPv4(fs[len(fs)-1])); !done || err != nil {
		t.Fatalf("newest datagram: done=%v err=%v", done, err)
	}

	// A single datagram larger than the bound is dropped and counted.
	small := NewReassembler(ReassemblyConfig{MaxBytes: 4096})
	h.ID = 1000
	fs = fragments(t, h, testPayload(20000), 1500)
	var lastErr error
	for _, f := range fs {
		if _, done, err := small.Add(t0, IPv4(f)); done {
			t.Fatal("oversized datagram completed")
		} else if err != nil {
			lastErr = err
		}
		if small.Bytes() > 4096 {
			t.Fatalf("%d bytes held", small.Bytes())
		}
	}
	if !errors.Is(lastErr, ErrFragmentNoRoom) || small.Counters().NoRoom == 0 {
		t.Fatalf("err %v counters %+v", lastErr, small.Counters())
	}
}

func TestReassembledHeaderFlags(t *testing.T) {
	// DF and the reserved bit of the first fragment survive; MF does not.
	r := NewReassembler(ReassemblyConfig{})
	a := rawFragment(2, 0, true, testPayload(8))
	a[6] |= 0x80 // reserved bit
	binary.BigEndian.PutUint16(a[10:], 0)
	binary.BigEndian.PutUint16(a[10:], Checksum(a[:20], 0))
	r.Add(t0, a)
	pkt, done, _ := r.Add(t0, rawFragment(2, 8, false, testPayload(8)))
	if !done || pkt.Check() != nil || pkt.Flags() != FlagReserved || pkt.FragmentOffset() != 0 {
		t.Fatalf("flags %v offset %d", pkt.Flags(), pkt.FragmentOffset())
	}
}

func BenchmarkReassemble3(b *testing.B) {
	b.ReportAllocs()
	h := IPv4Fields{ID: 3, TTL: 64, Protocol: ProtocolUDP, Src: addrA, Dst: addrB}
	fs := fragments(b, h, testPayload(4000), 1500)
	r := NewReassembler(ReassemblyConfig{})
	for b.Loop() {
		for _, f := range fs {
			if _, _, err := r.Add(t0, IPv4(f)); err != nil {
				b.Fatal(err)
			}
		}
	}
	if r.Counters().Reassembled == 0 {
		b.Fatal("nothing reassembled")
	}
}

func TestReassembleEvictsOldestOther(t *testing.T) {
	// Three datagrams A, B, C in progress; A, the oldest, grows past the
	// bound: B (the oldest other one) is evicted, C survives.
	start := func(r *Reassembler) {
		for id := uint16(1); id <= 3; id++ {
			if _, _, err := r.Add(t0, rawFragment(id, 0, true, testPayload(8))); err != nil {
				t.Fatal(err)
			}
		}
	}
	probe := NewReassembler(ReassemblyConfig{})
	start(probe)
	r := NewReassembler(ReassemblyConfig{MaxBytes: probe.Bytes() + 100})
	start(r)
	last := make([]byte, 400)
	for i := range last {
		last[i] = byte(i + 8)
	}
	if _, done, err := r.Add(t0, rawFragment(1, 8, false, last)); !done || err != nil {
		t.Fatalf("A: done=%v err=%v", done, err)
	}
	if c := r.Counters(); c.Evicted != 1 || r.Len() != 1 {
		t.Fatalf("counters %+v, %d in progress", c, r.Len())
	}
	if _, done, _ := r.Add(t0, rawFragment(3, 8, false, testPayload(8))); !done {
		t.Error("C did not survive")
	}
	if _, done, _ := r.Add(t0, rawFragment(2, 8, false, testPayload(8))); done {
		t.Error("B was not the one evicted")
	}
}
