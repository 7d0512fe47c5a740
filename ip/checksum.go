package ip

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// The Internet checksum (RFC 1071) is the 16-bit ones' complement of the
// ones' complement sum of the data taken as big-endian 16-bit words.
//
// Sum defers the carries instead of folding them as it goes: it adds the
// data as 32-bit words into four independent 64-bit accumulators, which
// cannot overflow before 2^30 bytes, so the adds run in parallel with no
// carry chain between them (1.5× faster than a math/bits.Add64 chain, see
// BenchmarkChecksum); below 128 bytes a math/bits.Add64 carry chain over
// 8-byte words is quicker and is used instead. The parallel loop loads
// little-endian words, which costs no byte swap on the machines netspace
// runs on, and corrects the byte order once at the end: by RFC 1071's byte-order independence, the sum of the
// byte-swapped words is the byte-swapped sum. Since 2^16-1 divides 2^32-1
// and 2^64-1, folding any of these wider sums gives the 16-bit sum.

// sumChunk bounds the bytes summed before the accumulators are folded:
// each 64-byte round adds less than 2^34 to each of them.
const sumChunk = 1 << 30

// Sum adds b, taken as big-endian 16-bit words, to the partial ones'
// complement sum acc and returns the new partial sum. Partial sums of
// consecutive pieces can be chained (pseudo-header, then header, then
// payload) without copying; every piece except the last must have an even
// length, because an odd final byte is padded with a zero byte as RFC 1071
// prescribes. Start from 0, or from PseudoHeaderSum. Turn the result into
// a checksum with Fold. Any alignment of b is fine.
func Sum(b []byte, acc uint64) uint64 {
	if len(b) < sumSmall {
		return sumCarryChain(b, acc)
	}
	for len(b) > sumChunk {
		acc = CombineSums(acc, sumLE(b[:sumChunk]))
		b = b[sumChunk:]
	}
	return CombineSums(acc, sumLE(b))
}

// sumSmall is the length below which a carry chain, with less set-up
// and folding, beats the parallel accumulators.
const sumSmall = 128

// sumCarryChain adds b to acc with a math/bits.Add64 carry chain over
// big-endian 8-byte words.
func sumCarryChain(b []byte, acc uint64) uint64 {
	var c uint64
	for len(b) >= 32 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[0:8]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[8:16]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[16:24]), c)
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[24:32]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, c = bits.Add64(acc, binary.BigEndian.Uint64(b[0:8]), c)
		b = b[8:]
	}
	if len(b) >= 4 {
		acc, c = bits.Add64(acc, uint64(binary.BigEndian.Uint32(b[0:4])), c)
		b = b[4:]
	}
	if len(b) >= 2 {
		acc, c = bits.Add64(acc, uint64(binary.BigEndian.Uint16(b[0:2])), c)
		b = b[2:]
	}
	if len(b) == 1 {
		acc, c = bits.Add64(acc, uint64(b[0])<<8, c)
	}
	// End-around carry. If this add carries out, acc was all ones and is
	// now zero, so adding the carry once more cannot overflow.
	acc, c = bits.Add64(acc, 0, c)
	return acc + c
}

// sumLE returns the big-endian 16-bit ones' complement sum of b, which is
// at most sumChunk bytes long, folded to 16 bits.
func sumLE(b []byte) uint64 {
	var a0, a1, a2, a3 uint64
	for len(b) >= 64 {
		a0 += uint64(binary.LittleEndian.Uint32(b[0:4])) + uint64(binary.LittleEndian.Uint32(b[16:20]))
		a1 += uint64(binary.LittleEndian.Uint32(b[4:8])) + uint64(binary.LittleEndian.Uint32(b[20:24]))
		a2 += uint64(binary.LittleEndian.Uint32(b[8:12])) + uint64(binary.LittleEndian.Uint32(b[24:28]))
		a3 += uint64(binary.LittleEndian.Uint32(b[12:16])) + uint64(binary.LittleEndian.Uint32(b[28:32]))
		a0 += uint64(binary.LittleEndian.Uint32(b[32:36])) + uint64(binary.LittleEndian.Uint32(b[48:52]))
		a1 += uint64(binary.LittleEndian.Uint32(b[36:40])) + uint64(binary.LittleEndian.Uint32(b[52:56]))
		a2 += uint64(binary.LittleEndian.Uint32(b[40:44])) + uint64(binary.LittleEndian.Uint32(b[56:60]))
		a3 += uint64(binary.LittleEndian.Uint32(b[44:48])) + uint64(binary.LittleEndian.Uint32(b[60:64]))
		b = b[64:]
	}
	for len(b) >= 4 {
		a0 += uint64(binary.LittleEndian.Uint32(b[0:4]))
		b = b[4:]
	}
	if len(b) >= 2 {
		a1 += uint64(binary.LittleEndian.Uint16(b[0:2]))
		b = b[2:]
	}
	if len(b) == 1 {
		a2 += uint64(b[0]) // the low byte of a little-endian word
	}
	return uint64(bits.ReverseBytes16(Fold(a0 + a1 + a2 + a3)))
}

// CombineSums combines two partial sums returned by Sum or
// PseudoHeaderSum, as if their data had been summed one after the other
// (the first of even length).
func CombineSums(a, b uint64) uint64 {
	s, c := bits.Add64(a, b, 0)
	s, c = bits.Add64(s, 0, c)
	return s + c
}

// Fold reduces a partial sum to the 16-bit ones' complement sum. It does
// not complement it: the checksum to store in a header is ^Fold(acc), and
// data that includes a correct checksum folds to 0xffff.
func Fold(acc uint64) uint16 {
	acc = acc>>32 + acc&0xffffffff
	acc = acc>>32 + acc&0xffffffff
	acc = acc>>16 + acc&0xffff
	acc = acc>>16 + acc&0xffff
	return uint16(acc)
}

// Checksum returns the Internet checksum of b continuing from the partial
// sum initial: ^Fold(Sum(b, initial)). Written into a zeroed checksum
// field it makes the data verify; computed over data that already holds a
// correct checksum it returns 0.
func Checksum(b []byte, initial uint64) uint16 {
	return ^Fold(Sum(b, initial))
}

// PseudoHeaderSum returns the partial sum of the pseudo-header that TCP
// and UDP include in their checksums: for IPv4 (RFC 9293 §3.1, RFC 768)
// source, destination, zero, protocol and the upper-layer length; for IPv6
// (RFC 8200 §8.1) the 128-bit addresses, the 32-bit length and the next
// header. The IPv4 form is used when both addresses are IPv4; otherwise
// both are taken as 16-byte addresses (an IPv4 address as IPv4-mapped).
// The result is a partial sum to pass to Sum.
func PseudoHeaderSum(src, dst netip.Addr, proto uint8, length int) uint64 {
	if src.Is4() && dst.Is4() {
		s, d := src.As4(), dst.As4()
		return uint64(binary.BigEndian.Uint32(s[:])) +
			uint64(binary.BigEndian.Uint32(d[:])) +
			uint64(proto) + uint64(uint16(length))
	}
	s, d := src.As16(), dst.As16()
	acc := Sum(s[:], 0)
	acc = Sum(d[:], acc)
	return CombineSums(acc, uint64(uint32(length))+uint64(proto))
}

// UpdateChecksum returns a header checksum adjusted for one 16-bit word of
// the covered data changing from old to new, without summing the data
// again (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')). Routers use it to
// rewrite the TTL.
func UpdateChecksum(checksum, old, new uint16) uint16 {
	acc := uint64(^checksum) + uint64(^old) + uint64(new)
	return ^Fold(acc)
}
