// Package ip is the network layer of netspace: the Internet checksum,
// IPv4 (RFC 791) headers with options, fragmentation and reassembly, and
// the wire formats of the two protocols that live beside IP rather than
// above a connection, ICMPv4 (RFC 792) and UDP (RFC 768).
//
// The wire types ([IPv4], [ICMP], [UDP]) are views over a []byte owned by
// the caller. Each has a Check method; after Check returns nil no accessor
// panics, whatever the bytes, and none allocates. Encoders (PutIPv4Header,
// PutUDPHeader, PutICMP, …) write into a buffer supplied by the caller and
// return the number of bytes written; they panic when that buffer is too
// short or the fields they are given are impossible (a fragment offset
// that is not a multiple of 8, options longer than 40 bytes), because such
// calls are programming errors rather than malformed input.
//
// Malformed input never panics: Check returns an error that matches one
// of the sentinel errors in errors.go under errors.Is.
//
// # Checksums
//
// [Sum] accumulates the ones' complement sum in 64-bit accumulators with
// deferred carries (a math/bits.Add64 carry chain for short inputs);
// [Fold] reduces it to 16 bits. Upper layers chain [PseudoHeaderSum], the
// header and the payload without copying; [UpdateChecksum] patches a
// checksum for one changed word (RFC 1624).
//
// # Fragmentation and reassembly
//
// [Fragmenter] splits a datagram into fragments written into buffers the
// caller provides. [Reassembler] puts fragments back together under a
// memory bound, a bound on datagrams in progress and a timeout; time is
// passed in by the caller and never read from the clock. Any overlap other
// than an exact duplicate discards the whole datagram (RFC 5722's policy
// for IPv6, applied here to IPv4 too): overlapping fragments have no
// legitimate use and are the substance of several evasion and
// denial-of-service attacks.
//
// Routing and other actor code for the network layer lives in this
// package too, in files of its own; the wire-format files (checksum.go,
// ipv4.go, fragment.go, reassembly.go, icmpwire.go, udpwire.go) import
// nothing from netspace.
package ip
