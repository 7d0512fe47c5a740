package tcp

import (
	"encoding/binary"
	"net/netip"

	"netspace/ip"
)

// Header sizes.
const (
	// HeaderLen is the length of a header without options.
	HeaderLen = 20
	// MaxHeaderLen is the length of a header with 40 bytes of options.
	MaxHeaderLen = 60
	// MaxOptionsLen is the largest options area.
	MaxOptionsLen = 40
)

// Flags holds the eight control bits of a TCP header (byte 13).
type Flags uint8

// Control bits (RFC 9293 §3.1, RFC 3168 for ECE and CWR).
const (
	FlagFIN Flags = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
)

var flagNames = [8]string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"}

// String lists the bits set, lowest first, joined by "|", e.g. "SYN|ACK";
// "0" when none is.
func (f Flags) String() string {
	if f == 0 {
		return "0"
	}
	var buf [8 * 4]byte
	b := buf[:0]
	for i, name := range flagNames {
		if f&(1<<i) != 0 {
			if len(b) > 0 {
				b = append(b, '|')
			}
			b = append(b, name...)
		}
	}
	return string(b)
}

// Has reports whether every bit of g is set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }

// Header is a view of a TCP segment, header first, as carried in the
// payload of an IP datagram (RFC 9293 §3.1). Call Check before any
// accessor.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Source Port          |       Destination Port        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        Sequence Number                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Acknowledgment Number                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Data |       |C|E|U|A|P|R|S|F|                               |
//	| Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//	|       |       |R|E|G|K|H|T|N|N|                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Checksum            |         Urgent Pointer        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                           [Options]                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                             Data ...
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type Header []byte

// Check validates that h holds the fixed header and that the data offset
// is at least 5 and within h. It verifies neither the checksum, which
// needs the IP addresses (see VerifyChecksum), nor the options (see
// ParseOptions). After Check returns nil, no accessor panics.
func (h Header) Check() error {
	if len(h) < HeaderLen {
		return ErrTruncated
	}
	if hl := h.HeaderLen(); hl < HeaderLen || hl > len(h) {
		return ErrBadDataOffset
	}
	return nil
}

// SrcPort returns the source port.
func (h Header) SrcPort() uint16 { return binary.BigEndian.Uint16(h[0:2]) }

// DstPort returns the destination port.
func (h Header) DstPort() uint16 { return binary.BigEndian.Uint16(h[2:4]) }

// Seq returns the sequence number.
func (h Header) Seq() Seq { return Seq(binary.BigEndian.Uint32(h[4:8])) }

// Ack returns the acknowledgment number (meaningful when ACK is set).
func (h Header) Ack() Seq { return Seq(binary.BigEndian.Uint32(h[8:12])) }

// DataOffset returns the header length in 32-bit words.
func (h Header) DataOffset() int { return int(h[12] >> 4) }

// HeaderLen returns the header length in bytes, options included.
func (h Header) HeaderLen() int { return int(h[12]>>4) * 4 }

// Flags returns the control bits.
func (h Header) Flags() Flags { return Flags(h[13]) }

// Window returns the window field, not scaled.
func (h Header) Window() uint16 { return binary.BigEndian.Uint16(h[14:16]) }

// Checksum returns the checksum field.
func (h Header) Checksum() uint16 { return binary.BigEndian.Uint16(h[16:18]) }

// Urgent returns the urgent pointer (meaningful when URG is set).
func (h Header) Urgent() uint16 { return binary.BigEndian.Uint16(h[18:20]) }

// Options returns the options area, empty when the data offset is 5.
func (h Header) Options() []byte { return h[HeaderLen:h.HeaderLen()] }

// Payload returns the data after the header.
func (h Header) Payload() []byte { return h[h.HeaderLen():] }

// SegmentLen returns the sequence space the segment occupies: the
// payload length plus one each for SYN and FIN (SEG.LEN in RFC 9293).
func (h Header) SegmentLen() uint32 {
	n := uint32(len(h) - h.HeaderLen())
	if h[13]&uint8(FlagSYN) != 0 {
		n++
	}
	if h[13]&uint8(FlagFIN) != 0 {
		n++
	}
	return n
}

// VerifyChecksum reports whether the checksum of the whole segment h
// (header and payload, exactly as delimited by the IP layer), sent from
// src to dst, is correct.
func (h Header) VerifyChecksum(src, dst netip.Addr) bool {
	return ip.Checksum(h, ip.PseudoHeaderSum(src, dst, ip.ProtocolTCP, len(h))) == 0
}

// Fields returns the header as a HeaderFields. Its Options slice aliases
// the view.
func (h Header) Fields() HeaderFields {
	return HeaderFields{
		SrcPort: h.SrcPort(),
		DstPort: h.DstPort(),
		Seq:     h.Seq(),
		Ack:     h.Ack(),
		Flags:   h.Flags(),
		Window:  h.Window(),
		Urgent:  h.Urgent(),
		Options: h.Options(),
	}
}

// HeaderFields are the fields of a TCP header, for encoding with
// PutHeader. The data offset is computed from Options; the checksum is
// set by SetChecksum.
type HeaderFields struct {
	SrcPort, DstPort uint16
	Seq, Ack         Seq
	Flags            Flags
	Window           uint16
	Urgent           uint16
	// Options holds encoded options (see PutOptions), at most 40 bytes;
	// PutHeader pads them with zero (EOL) bytes to a multiple of 4.
	Options []byte
}

// HeaderLen returns the length of the header PutHeader writes for f.
func (f *HeaderFields) HeaderLen() int { return HeaderLen + (len(f.Options)+3)&^3 }

// PutHeader writes the header described by f into b with a zero checksum
// and returns its length. Write the payload after it, then call
// SetChecksum. The reserved bits are written as zero. PutHeader panics if
// the options exceed 40 bytes or b is shorter than f.HeaderLen().
func PutHeader(b []byte, f *HeaderFields) int {
	if len(f.Options) > MaxOptionsLen {
		panic("tcp: options longer than 40 bytes")
	}
	hl := f.HeaderLen()
	_ = b[hl-1]
	binary.BigEndian.PutUint16(b[0:2], f.SrcPort)
	binary.BigEndian.PutUint16(b[2:4], f.DstPort)
	binary.BigEndian.PutUint32(b[4:8], uint32(f.Seq))
	binary.BigEndian.PutUint32(b[8:12], uint32(f.Ack))
	b[12] = byte(hl/4) << 4
	b[13] = byte(f.Flags)
	binary.BigEndian.PutUint16(b[14:16], f.Window)
	b[16], b[17] = 0, 0
	binary.BigEndian.PutUint16(b[18:20], f.Urgent)
	n := copy(b[HeaderLen:hl], f.Options)
	clear(b[HeaderLen+n : hl])
	return hl
}

// SetChecksum computes the checksum of segment (header and payload) sent
// from src to dst and stores it in the header. It panics if the segment
// is shorter than HeaderLen.
func SetChecksum(segment []byte, src, dst netip.Addr) {
	_ = segment[HeaderLen-1]
	segment[16], segment[17] = 0, 0
	c := ip.Checksum(segment, ip.PseudoHeaderSum(src, dst, ip.ProtocolTCP, len(segment)))
	binary.BigEndian.PutUint16(segment[16:18], c)
}
