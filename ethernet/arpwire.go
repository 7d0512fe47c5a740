package ethernet

import (
	"encoding/binary"
	"net/netip"
)

// ARP operation codes (RFC 826).
const (
	ARPRequest uint16 = 1
	ARPReply   uint16 = 2
)

// ARPLen is the length of an ARP packet for IPv4 over Ethernet.
const ARPLen = 28

// ARP header field values for IPv4 over Ethernet.
const (
	arpHTypeEthernet = 1
	arpHLen          = 6
	arpPLen          = 4
)

// ARP is a view of an ARP packet for IPv4 over Ethernet (RFC 826), as
// carried in the payload of a frame of type EtherTypeARP. Call Check
// before any accessor.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Hardware type (1)         |     Protocol type (0x0800)    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  HLEN (6)     |  PLEN (4)     |          Operation            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Sender hardware address (6) ...                      |
//	|          Sender protocol address (4) ...                      |
//	|          Target hardware address (6) ...                      |
//	|          Target protocol address (4)                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type ARP []byte

// Check validates a as an Ethernet/IPv4 ARP request or reply: at least
// ARPLen bytes (trailing frame padding is allowed), hardware type 1 with
// 6-byte addresses, protocol type 0x0800 with 4-byte addresses, and
// operation ARPRequest or ARPReply. After Check returns nil, no accessor
// panics.
func (a ARP) Check() error {
	if len(a) < ARPLen {
		return ErrTruncated
	}
	if binary.BigEndian.Uint16(a[0:2]) != arpHTypeEthernet || a[4] != arpHLen {
		return ErrBadHardwareType
	}
	if binary.BigEndian.Uint16(a[2:4]) != EtherTypeIPv4 || a[5] != arpPLen {
		return ErrBadProtocolType
	}
	if op := a.Op(); op != ARPRequest && op != ARPReply {
		return ErrBadOperation
	}
	return nil
}

// Op returns the operation: ARPRequest or ARPReply.
func (a ARP) Op() uint16 { return binary.BigEndian.Uint16(a[6:8]) }

// SenderMAC returns the sender hardware address.
func (a ARP) SenderMAC() MAC { return MAC(a[8:14]) }

// SenderIP returns the sender protocol address.
func (a ARP) SenderIP() netip.Addr { return netip.AddrFrom4([4]byte(a[14:18])) }

// TargetMAC returns the target hardware address (zero in most requests).
func (a ARP) TargetMAC() MAC { return MAC(a[18:24]) }

// TargetIP returns the target protocol address.
func (a ARP) TargetIP() netip.Addr { return netip.AddrFrom4([4]byte(a[24:28])) }

// IsGratuitous reports whether the packet announces the sender's own
// address: sender and target protocol addresses are equal.
func (a ARP) IsGratuitous() bool { return [4]byte(a[14:18]) == [4]byte(a[24:28]) }

// PutARP writes an Ethernet/IPv4 ARP packet into b and returns ARPLen.
// spa and tpa must be IPv4 addresses (IPv4-mapped IPv6 addresses are
// unmapped); PutARP panics otherwise, or if len(b) < ARPLen.
func PutARP(b []byte, op uint16, sha MAC, spa netip.Addr, tha MAC, tpa netip.Addr) int {
	_ = b[ARPLen-1]
	binary.BigEndian.PutUint16(b[0:2], arpHTypeEthernet)
	binary.BigEndian.PutUint16(b[2:4], EtherTypeIPv4)
	b[4] = arpHLen
	b[5] = arpPLen
	binary.BigEndian.PutUint16(b[6:8], op)
	copy(b[8:14], sha[:])
	s4 := spa.Unmap().As4()
	copy(b[14:18], s4[:])
	copy(b[18:24], tha[:])
	t4 := tpa.Unmap().As4()
	copy(b[24:28], t4[:])
	return ARPLen
}
