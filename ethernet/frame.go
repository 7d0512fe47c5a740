package ethernet

import "encoding/binary"

// EtherType values carried in the Ethernet type field.
const (
	EtherTypeIPv4 uint16 = 0x0800 // Internet Protocol version 4
	EtherTypeARP  uint16 = 0x0806 // Address Resolution Protocol
	EtherTypeVLAN uint16 = 0x8100 // IEEE 802.1Q VLAN tag
	EtherTypeIPv6 uint16 = 0x86DD // Internet Protocol version 6
)

// Header sizes.
const (
	// HeaderLen is the length of an untagged Ethernet II header:
	// destination, source and EtherType.
	HeaderLen = 14
	// VLANHeaderLen is the length of a header carrying one 802.1Q tag.
	VLANHeaderLen = 18
)

// Frame is a view of an Ethernet II frame, starting at the destination
// address and without the trailing FCS. Call Check before any accessor.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                  Destination MAC (6 octets)                   |
//	+                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                               |                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//	|                    Source MAC (6 octets)                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  EtherType or TPID 0x8100     | (if tagged) PCP|DEI|VLAN ID   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| (if tagged) inner EtherType   |  payload ...
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type Frame []byte

// Check validates that f holds a complete Ethernet header: 14 bytes, or
// 18 when the outer EtherType is the 802.1Q TPID. After Check returns nil,
// no accessor panics.
func (f Frame) Check() error {
	if len(f) < HeaderLen {
		return ErrTruncated
	}
	if f.tagged() && len(f) < VLANHeaderLen {
		return ErrTruncated
	}
	return nil
}

func (f Frame) tagged() bool {
	return binary.BigEndian.Uint16(f[12:14]) == EtherTypeVLAN
}

// Dst returns the destination MAC address.
func (f Frame) Dst() MAC { return MAC(f[0:6]) }

// Src returns the source MAC address.
func (f Frame) Src() MAC { return MAC(f[6:12]) }

// HeaderLen returns the length of the header: HeaderLen, or VLANHeaderLen
// for an 802.1Q-tagged frame.
func (f Frame) HeaderLen() int {
	if f.tagged() {
		return VLANHeaderLen
	}
	return HeaderLen
}

// EtherType returns the type of the payload. For an 802.1Q-tagged frame it
// is the EtherType after the tag.
func (f Frame) EtherType() uint16 {
	if f.tagged() {
		return binary.BigEndian.Uint16(f[16:18])
	}
	return binary.BigEndian.Uint16(f[12:14])
}

// VLAN returns the 802.1Q tag control information (PCP, DEI and the 12-bit
// VLAN ID) and true for a tagged frame, or 0 and false.
func (f Frame) VLAN() (tci uint16, ok bool) {
	if f.tagged() {
		return binary.BigEndian.Uint16(f[14:16]), true
	}
	return 0, false
}

// Payload returns the bytes after the header (and after the VLAN tag, if
// any). It may include padding up to the 60-byte minimum frame size; the
// network layer trims it using its own length field.
func (f Frame) Payload() []byte { return f[f.HeaderLen():] }

// PutHeader writes an untagged Ethernet header into b and returns
// HeaderLen. It panics if len(b) < HeaderLen.
func PutHeader(b []byte, dst, src MAC, etherType uint16) int {
	_ = b[HeaderLen-1]
	copy(b[0:6], dst[:])
	copy(b[6:12], src[:])
	binary.BigEndian.PutUint16(b[12:14], etherType)
	return HeaderLen
}

// PutVLANHeader writes an Ethernet header carrying one 802.1Q tag with the
// given tag control information, followed by etherType, into b and
// returns VLANHeaderLen. It panics if len(b) < VLANHeaderLen.
func PutVLANHeader(b []byte, dst, src MAC, tci uint16, etherType uint16) int {
	_ = b[VLANHeaderLen-1]
	copy(b[0:6], dst[:])
	copy(b[6:12], src[:])
	binary.BigEndian.PutUint16(b[12:14], EtherTypeVLAN)
	binary.BigEndian.PutUint16(b[14:16], tci)
	binary.BigEndian.PutUint16(b[16:18], etherType)
	return VLANHeaderLen
}
