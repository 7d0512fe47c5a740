package ip

import (
	"encoding/binary"
	"net/netip"
)

// UDPHeaderLen is the length of the UDP header.
const UDPHeaderLen = 8

// UDP is a view of a UDP datagram (RFC 768), header first, as carried in
// the payload of an IPv4 datagram of protocol ProtocolUDP. Call Check
// before any accessor.
//
//	 0      7 8     15 16    23 24    31
//	+--------+--------+--------+--------+
//	|   Source Port   |Destination Port |
//	+--------+--------+--------+--------+
//	|     Length      |    Checksum     |
//	+--------+--------+--------+--------+
//	|  data octets ...
//	+---------------- ...
type UDP []byte

// Check validates that u holds the header and that the Length field is at
// least 8 and at most len(u); bytes past Length are ignored by Payload.
// It does not verify the checksum, which needs the IP addresses: see
// VerifyChecksum. After Check returns nil, no accessor panics.
func (u UDP) Check() error {
	if len(u) < UDPHeaderLen {
		return ErrTruncated
	}
	if l := int(u.Length()); l < UDPHeaderLen || l > len(u) {
		return ErrBadTotalLength
	}
	return nil
}

// SrcPort returns the source port (0 if unused).
func (u UDP) SrcPort() uint16 { return binary.BigEndian.Uint16(u[0:2]) }

// DstPort returns the destination port.
func (u UDP) DstPort() uint16 { return binary.BigEndian.Uint16(u[2:4]) }

// Length returns the Length field: header plus data.
func (u UDP) Length() uint16 { return binary.BigEndian.Uint16(u[4:6]) }

// Checksum returns the checksum field; 0 means none was computed.
func (u UDP) Checksum() uint16 { return binary.BigEndian.Uint16(u[6:8]) }

// Payload returns the data, up to Length.
func (u UDP) Payload() []byte { return u[UDPHeaderLen:u.Length()] }

// VerifyChecksum reports whether the checksum of the checked datagram u,
// sent from src to dst, is correct. A zero checksum field means the
// sender computed none, which IPv4 allows: it is accepted when both
// addresses are IPv4 and rejected otherwise (RFC 8200 §8.1).
func (u UDP) VerifyChecksum(src, dst netip.Addr) bool {
	if u.Checksum() == 0 {
		return src.Is4() && dst.Is4()
	}
	l := int(u.Length())
	return Checksum(u[:l], PseudoHeaderSum(src, dst, ProtocolUDP, l)) == 0
}

// PutUDPHeader writes a UDP header with Length 8+payloadLen and a zero
// checksum into b and returns UDPHeaderLen. Write the payload after it and
// then call SetUDPChecksum. It panics if len(b) < 8 or the length does not
// fit in 16 bits.
func PutUDPHeader(b []byte, srcPort, dstPort uint16, payloadLen int) int {
	if payloadLen < 0 || payloadLen > 0xffff-UDPHeaderLen {
		panic("ip: UDP payload length out of range")
	}
	_ = b[UDPHeaderLen-1]
	binary.BigEndian.PutUint16(b[0:2], srcPort)
	binary.BigEndian.PutUint16(b[2:4], dstPort)
	binary.BigEndian.PutUint16(b[4:6], uint16(UDPHeaderLen+payloadLen))
	b[6], b[7] = 0, 0
	return UDPHeaderLen
}

// SetUDPChecksum computes the checksum of the UDP datagram b (header and
// payload, Length bytes) sent from src to dst and stores it. A computed
// checksum of 0 is stored as 0xffff, since 0 means "none" (RFC 768). It
// panics if b is shorter than its Length field.
func SetUDPChecksum(b []byte, src, dst netip.Addr) {
	u := UDP(b)
	l := int(u.Length())
	b[6], b[7] = 0, 0
	c := Checksum(b[:l], PseudoHeaderSum(src, dst, ProtocolUDP, l))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(b[6:8], c)
}
