package tcp

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"time"
)

// ISNGenerator chooses initial sequence numbers as RFC 6528 §3 describes:
//
//	ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
//
// where M is a timer that ticks every 4 microseconds and F is a keyed
// pseudorandom function, here SipHash-2-4 truncated to 32 bits. The same
// 4-tuple therefore gets ISNs that grow with time at 250,000 per second,
// so that segments of an old incarnation of a connection are unlikely to
// fall in the new one's window (RFC 9293 §3.4.1), while an off-path
// attacker who does not know the secret cannot predict the ISN of a
// connection it is not part of.
//
// An ISNGenerator holds no mutable state: it is safe for concurrent use.
type ISNGenerator struct {
	k0, k1 uint64
}

// NewISNGenerator returns a generator keyed with secret, which the caller
// draws from a cryptographically secure source (RFC 6528 §3: "secretkey
// is a secret key ... not known to the attacker").
func NewISNGenerator(secret [16]byte) *ISNGenerator {
	k0, k1 := sipKey(secret)
	return &ISNGenerator{k0: k0, k1: k1}
}

// ISN returns the initial sequence number for a connection from local to
// remote opened at now.
func (g *ISNGenerator) ISN(local, remote netip.AddrPort, now time.Time) Seq {
	var msg [tupleLen]byte
	putTuple(msg[:], local, remote)
	f := uint32(sipHash24(g.k0, g.k1, msg[:]))
	return Seq(isnClock(now) + f)
}

// isnClock is RFC 6528's M: a 32-bit counter that ticks every 4 µs
// (RFC 9293 §3.4.1), derived from the time passed in. Its origin is the
// Unix epoch; only its rate matters. It is computed modulo 2^32 from
// seconds and nanoseconds, so it is defined for any time.
func isnClock(now time.Time) uint32 {
	return uint32(now.Unix())*250_000 + uint32(now.Nanosecond()/4000)
}

// tupleLen is the length of an encoded 4-tuple: two 16-byte addresses
// and two 2-byte ports.
const tupleLen = 36

// putTuple encodes local and remote into b[:tupleLen]. IPv4 addresses are
// written in their IPv4-mapped IPv6 form, so every address takes 16
// bytes and the encoding is unambiguous.
func putTuple(b []byte, local, remote netip.AddrPort) {
	la, ra := local.Addr().As16(), remote.Addr().As16()
	copy(b[0:16], la[:])
	binary.BigEndian.PutUint16(b[16:18], local.Port())
	copy(b[18:34], ra[:])
	binary.BigEndian.PutUint16(b[34:36], remote.Port())
}

// sipKey splits a 128-bit key into SipHash's two 64-bit halves, each read
// little-endian (SipHash paper §2).
func sipKey(secret [16]byte) (k0, k1 uint64) {
	return binary.LittleEndian.Uint64(secret[0:8]), binary.LittleEndian.Uint64(secret[8:16])
}

// sipHash24 is SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast
// short-input PRF", 2012): two compression rounds per 8-byte message
// word, four finalization rounds, 64-bit output. It allocates nothing.
func sipHash24(k0, k1 uint64, msg []byte) uint64 {
	// Initialization: the key xored with "somepseudorandomlygeneratedbytes".
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573

	// Compression: each full little-endian word m is absorbed as
	// v3 ^= m; SipRound × 2; v0 ^= m.
	n := len(msg)
	for len(msg) >= 8 {
		m := binary.LittleEndian.Uint64(msg)
		v3 ^= m
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0 ^= m
		msg = msg[8:]
	}
	// The last word holds the remaining 0–7 bytes and, in its top byte,
	// the message length mod 256.
	last := uint64(n) << 56
	for i, c := range msg {
		last |= uint64(c) << (8 * i)
	}
	v3 ^= last
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= last

	// Finalization.
	v2 ^= 0xff
	for range 4 {
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	}
	return v0 ^ v1 ^ v2 ^ v3
}

// sipRound is SipHash's add-rotate-xor round (SipHash paper §2).
func sipRound(v0, v1, v2, v3 uint64) (uint64, uint64, uint64, uint64) {
	v0 += v1
	v1 = bits.RotateLeft64(v1, 13)
	v1 ^= v0
	v0 = bits.RotateLeft64(v0, 32)
	v2 += v3
	v3 = bits.RotateLeft64(v3, 16)
	v3 ^= v2
	v0 += v3
	v3 = bits.RotateLeft64(v3, 21)
	v3 ^= v0
	v2 += v1
	v1 = bits.RotateLeft64(v1, 17)
	v1 ^= v2
	v2 = bits.RotateLeft64(v2, 32)
	return v0, v1, v2, v3
}
