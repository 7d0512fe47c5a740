package ip

import "errors"

// Sentinel errors returned by Check methods, the fragmenter and the
// reassembler. Compare with errors.Is.
var (
	// ErrTruncated reports a buffer shorter than the fixed header.
	ErrTruncated = errors.New("ip: truncated")
	// ErrBadVersion reports an IP version other than 4.
	ErrBadVersion = errors.New("ip: version is not 4")
	// ErrBadHeaderLength reports an IHL below 5 or a header longer than
	// the buffer.
	ErrBadHeaderLength = errors.New("ip: bad header length")
	// ErrBadTotalLength reports a length field shorter than the header or
	// longer than the buffer (IPv4 total length, UDP length).
	ErrBadTotalLength = errors.New("ip: bad total length")
	// ErrBadChecksum reports a checksum that does not verify.
	ErrBadChecksum = errors.New("ip: bad checksum")
	// ErrBadOption reports malformed IPv4 options: a length below 2 or
	// running past the header.
	ErrBadOption = errors.New("ip: malformed option")

	// ErrNeedFragmentation reports a datagram larger than the MTU with
	// Don't Fragment set; the sender should be told with ICMP
	// "fragmentation needed" (type 3 code 4) carrying the MTU.
	ErrNeedFragmentation = errors.New("ip: fragmentation needed and DF set")
	// ErrMTUTooSmall reports an MTU that cannot carry the header and eight
	// bytes of payload.
	ErrMTUTooSmall = errors.New("ip: MTU too small to fragment")

	// ErrFragmentOverlap reports a fragment overlapping another one
	// without being an exact duplicate; the whole datagram was discarded.
	ErrFragmentOverlap = errors.New("ip: overlapping fragment")
	// ErrFragmentTooBig reports a fragment that would extend the datagram
	// past 65535 bytes.
	ErrFragmentTooBig = errors.New("ip: fragment past maximum datagram size")
	// ErrFragmentMalformed reports a fragment that contradicts the
	// datagram's other fragments (a second, different last fragment; data
	// past the end) or is itself invalid (a non-final fragment whose length
	// is not a multiple of 8 or is zero).
	ErrFragmentMalformed = errors.New("ip: inconsistent fragment")
	// ErrFragmentNoRoom reports a fragment dropped because it alone would
	// exceed the reassembler's memory bound.
	ErrFragmentNoRoom = errors.New("ip: reassembly memory exhausted")
)
