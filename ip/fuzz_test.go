package ip

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

func FuzzChecksum(f *testing.F) {
	f.Add([]byte{}, uint32(0))
	f.Add([]byte{0xff}, uint32(0xffff))
	f.Add(bytes.Repeat([]byte{0xff}, 33), uint32(0xfffff))
	f.Add(goldenPing, uint32(1))
	f.Fuzz(func(t *testing.T, b []byte, init uint32) {
		init &= 0xffffff // the reference accumulator must not overflow
		if got, want := Checksum(b, uint64(init)), refChecksum(b, init); got != want {
			t.Fatalf("Checksum %#04x, reference %#04x", got, want)
		}
	})
}

func FuzzIPv4(f *testing.F) {
	f.Add(goldenPing)
	f.Add(append(bytes.Clone(goldenIPv4Header), make([]byte, 95)...))
	f.Add(buildIPv4(IPv4Fields{TTL: 1, Protocol: ProtocolTCP, Src: addrA, Dst: addrB, Options: []byte{7, 7, 4, 0, 0, 0, 0}}, []byte("x")))
	f.Add(buildIPv4(IPv4Fields{TTL: 1, Protocol: ProtocolTCP, Src: addrA, Dst: addrB, Options: []byte{1, 0x94, 4, 0, 0}, Flags: FlagMF, FragOffset: 8}, nil))
	f.Add([]byte{0x46, 0, 0, 24, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 7, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p := IPv4(b)
		errNC := p.CheckNoChecksum()
		if err := p.Check(); err != nil {
			if errNC == nil && err != ErrBadChecksum {
				t.Fatalf("Check %v but CheckNoChecksum nil", err)
			}
			return
		}
		hl, tl := p.HeaderLen(), int(p.TotalLen())
		if hl < 20 || hl > 60 || tl < hl || tl > len(b) {
			t.Fatalf("hl %d tl %d len %d", hl, tl, len(b))
		}
		if len(p.Payload()) != tl-hl || len(p.Options()) != hl-20 {
			t.Fatalf("payload %d options %d", len(p.Payload()), len(p.Options()))
		}
		if p.FragmentOffset()%8 != 0 || p.FragmentOffset() > 65528 || !p.Src().Is4() || !p.Dst().Is4() {
			t.Fatal("bad field")
		}
		_ = p.TOS() + p.TTL() + p.Protocol()
		_ = p.ID() + p.Checksum()
		_ = p.DontFragment() || p.MoreFragments() || p.IsFragment()

		// Encode the decoded fields: the same header, up to the
		// checksum's two representations of zero.
		f := p.Fields()
		out := make([]byte, tl)
		n := PutIPv4Header(out, &f)
		copy(out[n:], p.Payload())
		if n != hl {
			t.Fatalf("re-encoded header length %d, was %d", n, hl)
		}
		if err := IPv4(out).Check(); err != nil {
			t.Fatalf("re-encoded datagram fails Check: %v", err)
		}
		a, c := bytes.Clone(b[:tl]), bytes.Clone(out)
		a[10], a[11], c[10], c[11] = 0, 0, 0, 0
		if !bytes.Equal(a, c) {
			t.Fatalf("round trip\n% x\n% x", b[:tl], out)
		}
		// Forwarding keeps the datagram valid.
		IPv4(out).DecrementTTL()
		if err := IPv4(out).Check(); err != nil {
			t.Fatalf("after DecrementTTL: %v", err)
		}
	})
}

// fuzzPattern is the payload byte at absolute offset i of datagram id, so
// that fragments cut from anywhere agree with each other.
func fuzzPattern(id uint16, i int) byte { return byte(i*7 + i>>8 + int(id)*13) }

// FuzzReassembly drives a Reassembler with fragments described by the
// fuzz input: 4 bytes per fragment (datagram id, offset/8, length/8 and
// flags) and a time step.
func FuzzReassembly(f *testing.F) {
	f.Add([]byte{0, 0, 2, 1, 0, 2, 1, 0}, uint16(1))
	f.Add([]byte{1, 2, 1, 0, 1, 0, 2, 1, 1, 0, 2, 1}, uint16(0))
	f.Add([]byte{0, 0, 4, 1, 0, 2, 4, 1, 0, 4, 1, 0, 0, 1, 1, 1}, uint16(100))
	f.Add([]byte{2, 0, 1, 1, 2, 1, 1, 3, 2, 0, 1, 5}, uint16(40000))
	f.Fuzz(runReassemblySpec)
}

func runReassemblySpec(t *testing.T, spec []byte, step uint16) {
	{
		const maxBytes = 16 << 10
		r := NewReassembler(ReassemblyConfig{MaxBytes: maxBytes, MaxDatagrams: 4, Timeout: time.Second})
		now := t0
		buf := make([]byte, 0, 2048)
		if len(spec) > 4*64 {
			spec = spec[:4*64] // long inputs only slow the fuzzer down
		}
		// Corrupted fragments flip their first byte; remember where, so
		// that a datagram completed with one is recognised.
		type pos struct {
			id  uint16
			off int
		}
		corrupted := map[pos]bool{}
		for len(spec) >= 4 {
			id := uint16(spec[0] % 6)
			off := int(spec[1]) * 8
			n := int(spec[2]) * 8
			flags := spec[3]
			spec = spec[4:]
			if flags&2 != 0 {
				n -= int(flags>>4) % 8 // odd lengths
			}
			n = max(n, 0)
			data := buf[:n]
			for i := range data {
				data[i] = fuzzPattern(id, off+i)
			}
			if flags&4 != 0 && n > 0 {
				data[0] ^= 0xff // conflicting content
				corrupted[pos{id, off}] = true
			}
			h := IPv4Fields{ID: id, TTL: 64, Protocol: ProtocolUDP, Src: addrA, Dst: addrB, FragOffset: off}
			if flags&1 != 0 {
				h.Flags = FlagMF
			}
			pkt := IPv4(buildIPv4(h, data))
			if flags&8 != 0 {
				now = now.Add(time.Duration(step) * time.Millisecond)
				r.Expire(now, func(first IPv4) {
					if err := first.Check(); err != nil || first.FragmentOffset() != 0 || !first.MoreFragments() {
						t.Fatalf("timed-out first fragment: %v % x", err, first)
					}
				})
			}
			out, done, err := r.Add(now, pkt)
			if done {
				if err != nil {
					t.Fatalf("done with error %v", err)
				}
				if cerr := out.Check(); cerr != nil {
					t.Fatalf("reassembled datagram fails Check: %v", cerr)
				}
				if out.IsFragment() || out.ID() != id {
					t.Fatalf("reassembled header: %+v", out.Fields())
				}
				for i, c := range out.Payload() {
					want := fuzzPattern(id, i)
					if c != want && !(c == want^0xff && corrupted[pos{id, i}]) {
						t.Fatalf("payload byte %d = %#x, want %#x", i, c, want)
					}
				}
			}
			if r.Bytes() > maxBytes || r.Len() > 4 || r.Bytes() < 0 {
				t.Fatalf("bounds: %d bytes, %d datagrams", r.Bytes(), r.Len())
			}
		}
		r.Expire(now.Add(time.Hour), nil)
		if r.Len() != 0 || r.Bytes() != 0 {
			t.Fatalf("after expiring everything: %d datagrams, %d bytes", r.Len(), r.Bytes())
		}
	}
}

// FuzzFragmentRoundTrip fragments a datagram, shuffles the fragments,
// reassembles them and expects the original datagram back.
func FuzzFragmentRoundTrip(f *testing.F) {
	f.Add(uint16(4000), uint16(1500), uint8(0), uint64(1))
	f.Add(uint16(65515), uint16(576), uint8(3), uint64(2))
	f.Add(uint16(9), uint16(68), uint8(1), uint64(3))
	f.Fuzz(func(t *testing.T, size, mtu uint16, optSel uint8, seed uint64) {
		opts := [][]byte{nil, {0x94, 4, 0, 0}, {7, 7, 4, 0, 0, 0, 0}, {0x83, 7, 4, 1, 2, 3, 4, 1, 7, 3, 4}}[optSel%4]
		h := IPv4Fields{ID: uint16(seed), TTL: 64, Protocol: ProtocolUDP, Src: addrA, Dst: addrB, Options: opts}
		payload := testPayload(int(size))
		var fr Fragmenter
		if err := fr.Init(&h, payload, int(mtu)); err != nil {
			return
		}
		var fs [][]byte
		for fr.More() {
			b := make([]byte, fr.NextLen())
			if n := fr.Next(b); n != len(b) || n > int(mtu) {
				t.Fatalf("fragment of %d bytes, NextLen %d, MTU %d", n, len(b), mtu)
			}
			fs = append(fs, b)
		}
		want := buildIPv4(h, payload)
		if len(fs) == 1 {
			if !bytes.Equal(fs[0], want) {
				t.Fatal("unfragmented datagram altered")
			}
			return
		}
		rng := rand.New(rand.NewPCG(seed, 0))
		rng.Shuffle(len(fs), func(i, j int) { fs[i], fs[j] = fs[j], fs[i] })
		r := NewReassembler(ReassemblyConfig{MaxBytes: 1 << 20})
		for i, b := range fs {
			got, done, err := r.Add(t0, IPv4(b))
			if err != nil || done != (i == len(fs)-1) {
				t.Fatalf("fragment %d/%d: done %v err %v", i, len(fs), done, err)
			}
			if done && !bytes.Equal(got, want) {
				t.Fatal("reassembled datagram differs")
			}
		}
	})
}

func FuzzICMP(f *testing.F) {
	f.Add(IPv4(goldenPing).Payload())
	b := make([]byte, 64)
	f.Add(b[:PutDestUnreachable(b, ICMPCodeFragNeeded, 1400, IPv4(goldenPing))])
	f.Add(b[:PutICMP(b, ICMPTypeDestUnreach, 3, 0, []byte{0x45, 0, 0})])
	f.Fuzz(func(t *testing.T, b []byte) {
		m := ICMP(b)
		if err := m.Check(); err != nil {
			return
		}
		if len(m.Payload()) != len(b)-ICMPHeaderLen {
			t.Fatal("payload length")
		}
		_, _, _, _, _, _ = m.Type(), m.Code(), m.ID(), m.Seq(), m.MTU(), m.Pointer()
		_, _ = m.Gateway(), m.IsError()
		if q, err := m.Quote(); err == nil {
			if !q.Src.Is4() || len(q.Transport) > len(b) {
				t.Fatal("quote")
			}
		}
		out := make([]byte, len(b))
		PutICMP(out, m.Type(), m.Code(), m.RestOfHeader(), m.Payload())
		if ICMP(out).Check() != nil {
			t.Fatal("re-encoded message fails Check")
		}
		a, c := bytes.Clone(b), bytes.Clone(out)
		a[2], a[3], c[2], c[3] = 0, 0, 0, 0
		if !bytes.Equal(a, c) {
			t.Fatal("round trip differs")
		}
		PutEchoReply(out, m)
		if r := ICMP(out); r.Check() != nil || r.Type() != ICMPTypeEchoReply {
			t.Fatal("echo reply")
		}
	})
}

func FuzzUDP(f *testing.F) {
	f.Add(goldenDNSQuery, []byte{10, 0, 0, 1}, []byte{10, 0, 0, 2})
	f.Add(goldenDNSQuery[:8], []byte{1, 2, 3, 4}, []byte{5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, b, s, d []byte) {
		if len(s) < 4 || len(d) < 4 {
			return
		}
		src, dst := netip.AddrFrom4([4]byte(s[:4])), netip.AddrFrom4([4]byte(d[:4]))
		u := UDP(b)
		if err := u.Check(); err != nil {
			return
		}
		l := int(u.Length())
		if len(u.Payload()) != l-UDPHeaderLen || l > len(b) {
			t.Fatal("length")
		}
		ok := u.VerifyChecksum(src, dst)
		out := make([]byte, l)
		n := PutUDPHeader(out, u.SrcPort(), u.DstPort(), len(u.Payload()))
		copy(out[n:], u.Payload())
		SetUDPChecksum(out, src, dst)
		if !UDP(out).VerifyChecksum(src, dst) || binary.BigEndian.Uint16(out[6:]) == 0 {
			t.Fatal("re-encoded datagram does not verify")
		}
		if ok && u.Checksum() != 0 && !bytes.Equal(out, b[:l]) {
			t.Fatalf("round trip\n% x\n% x", out, b[:l])
		}
	})
}
