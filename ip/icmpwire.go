package ip

import (
	"encoding/binary"
	"net/netip"
)

// ICMPv4 message types (RFC 792).
const (
	ICMPTypeEchoReply      uint8 = 0
	ICMPTypeDestUnreach    uint8 = 3
	ICMPTypeSourceQuench   uint8 = 4
	ICMPTypeRedirect       uint8 = 5
	ICMPTypeEchoRequest    uint8 = 8
	ICMPTypeTimeExceeded   uint8 = 11
	ICMPTypeParamProblem   uint8 = 12
	ICMPTypeTimestamp      uint8 = 13
	ICMPTypeTimestampReply uint8 = 14
)

// Codes of Destination Unreachable messages (RFC 792, RFC 1812 §5.2.7.1).
const (
	ICMPCodeNetUnreachable      uint8 = 0
	ICMPCodeHostUnreachable     uint8 = 1
	ICMPCodeProtocolUnreachable uint8 = 2
	ICMPCodePortUnreachable     uint8 = 3
	ICMPCodeFragNeeded          uint8 = 4 // carries the next-hop MTU (RFC 1191)
	ICMPCodeSourceRouteFailed   uint8 = 5
	ICMPCodeAdminProhibited     uint8 = 13
)

// Codes of Time Exceeded messages (RFC 792).
const (
	ICMPCodeTTLExceeded        uint8 = 0 // time to live exceeded in transit
	ICMPCodeReassemblyExceeded uint8 = 1 // fragment reassembly time exceeded
)

// ICMPHeaderLen is the length of the ICMPv4 header: type, code, checksum
// and the four type-specific bytes.
const ICMPHeaderLen = 8

// ICMP is a view of an ICMPv4 message, as carried in the payload of an
// IPv4 datagram of protocol ProtocolICMP. Call Check before any accessor.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |     Code      |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Identifier / unused / pointer|  Sequence / next-hop MTU      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Data: echo payload, or the original IP header + 8 bytes ...
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type ICMP []byte

// Check validates that m holds at least the 8-byte header and that the
// checksum over all of m verifies. After Check returns nil, no accessor
// panics.
func (m ICMP) Check() error {
	if err := m.CheckNoChecksum(); err != nil {
		return err
	}
	if Checksum(m, 0) != 0 {
		return ErrBadChecksum
	}
	return nil
}

// CheckNoChecksum is Check without verifying the checksum.
func (m ICMP) CheckNoChecksum() error {
	if len(m) < ICMPHeaderLen {
		return ErrTruncated
	}
	return nil
}

// Type returns the message type.
func (m ICMP) Type() uint8 { return m[0] }

// Code returns the message code.
func (m ICMP) Code() uint8 { return m[1] }

// Checksum returns the checksum field.
func (m ICMP) Checksum() uint16 { return binary.BigEndian.Uint16(m[2:4]) }

// ID returns the identifier of an echo or timestamp message.
func (m ICMP) ID() uint16 { return binary.BigEndian.Uint16(m[4:6]) }

// Seq returns the sequence number of an echo or timestamp message.
func (m ICMP) Seq() uint16 { return binary.BigEndian.Uint16(m[6:8]) }

// RestOfHeader returns the four type-specific header bytes.
func (m ICMP) RestOfHeader() uint32 { return binary.BigEndian.Uint32(m[4:8]) }

// MTU returns the next-hop MTU of a "fragmentation needed" message (RFC
// 1191); 0 from a router that predates it.
func (m ICMP) MTU() uint16 { return binary.BigEndian.Uint16(m[6:8]) }

// Pointer returns the octet offset of a Parameter Problem message.
func (m ICMP) Pointer() uint8 { return m[4] }

// Gateway returns the gateway address of a Redirect message.
func (m ICMP) Gateway() netip.Addr { return netip.AddrFrom4([4]byte(m[4:8])) }

// Payload returns the data after the 8-byte header.
func (m ICMP) Payload() []byte { return m[ICMPHeaderLen:] }

// IsError reports whether m is an error message (Destination
// Unreachable, Source Quench, Redirect, Time Exceeded, Parameter
// Problem). RFC 1122 §3.2.2 forbids answering an error with an error.
func (m ICMP) IsError() bool {
	switch m.Type() {
	case ICMPTypeDestUnreach, ICMPTypeSourceQuench, ICMPTypeRedirect,
		ICMPTypeTimeExceeded, ICMPTypeParamProblem:
		return true
	}
	return false
}

// ICMPQuote is the part of the offending datagram that an ICMP error
// message quotes: its addresses, protocol and identification, and the
// first bytes of its transport header (8 or more), enough to find the
// connection or socket the error is about.
type ICMPQuote struct {
	Src, Dst  netip.Addr
	Protocol  uint8
	ID        uint16
	Transport []byte // aliases the message
}

// Quote parses the original datagram quoted in the payload of an error
// message. The quoted header must be IPv4 with a valid IHL within the
// payload; its checksum and total length are not checked, since the quote
// is truncated. It returns ErrTruncated, ErrBadVersion or
// ErrBadHeaderLength otherwise.
func (m ICMP) Quote() (ICMPQuote, error) {
	q := m.Payload()
	if len(q) < IPv4MinHeaderLen {
		return ICMPQuote{}, ErrTruncated
	}
	if q[0]>>4 != 4 {
		return ICMPQuote{}, ErrBadVersion
	}
	hl := int(q[0]&0x0f) * 4
	if hl < IPv4MinHeaderLen || hl > len(q) {
		return ICMPQuote{}, ErrBadHeaderLength
	}
	h := IPv4(q)
	return ICMPQuote{Src: h.Src(), Dst: h.Dst(), Protocol: h.Protocol(), ID: h.ID(), Transport: q[hl:]}, nil
}

// PutICMP writes an ICMPv4 message (header and payload) into b, computes
// its checksum and returns its length. payload may overlap b at offset 8
// (as when a request is turned into a reply in place). It panics if b is
// shorter than ICMPHeaderLen+len(payload).
func PutICMP(b []byte, typ, code uint8, rest uint32, payload []byte) int {
	n := ICMPHeaderLen + len(payload)
	_ = b[n-1]
	copy(b[ICMPHeaderLen:], payload)
	b[0], b[1], b[2], b[3] = typ, code, 0, 0
	binary.BigEndian.PutUint32(b[4:8], rest)
	binary.BigEndian.PutUint16(b[2:4], Checksum(b[:n], 0))
	return n
}

// PutEchoReply writes the Echo Reply to the checked Echo Request req into
// b (same identifier, sequence and data) and returns its length. b may be
// req itself, to answer in place.
func PutEchoReply(b []byte, req ICMP) int {
	return PutICMP(b, ICMPTypeEchoReply, 0, req.RestOfHeader(), req.Payload())
}

// ICMPErrorLen returns the length of an ICMP error message about the
// checked datagram orig: the header plus orig's IP header and up to 8
// bytes of its payload.
func ICMPErrorLen(orig IPv4) int { return ICMPHeaderLen + quoteLen(orig) }

func quoteLen(orig IPv4) int {
	return min(len(orig), orig.HeaderLen()+8, max(int(orig.TotalLen()), orig.HeaderLen()))
}

// PutICMPError writes an error message of the given type, code and
// type-specific bytes about the checked datagram orig into b: its body is
// orig's IP header and the first 8 bytes of its payload (RFC 792, RFC
// 1812 §4.3.2.3). It returns the length, ICMPErrorLen(orig), and panics if
// b is shorter.
func PutICMPError(b []byte, typ, code uint8, rest uint32, orig IPv4) int {
	return PutICMP(b, typ, code, rest, orig[:quoteLen(orig)])
}

// PutDestUnreachable writes a Destination Unreachable message with the
// given code about orig into b and returns its length. mtu is the next-hop
// MTU for ICMPCodeFragNeeded and ignored otherwise.
func PutDestUnreachable(b []byte, code uint8, mtu uint16, orig IPv4) int {
	var rest uint32
	if code == ICMPCodeFragNeeded {
		rest = uint32(mtu)
	}
	return PutICMPError(b, ICMPTypeDestUnreach, code, rest, orig)
}

// PutTimeExceeded writes a Time Exceeded message with the given code
// (ICMPCodeTTLExceeded or ICMPCodeReassemblyExceeded) about orig into b
// and returns its length.
func PutTimeExceeded(b []byte, code uint8, orig IPv4) int {
	return PutICMPError(b, ICMPTypeTimeExceeded, code, 0, orig)
}
