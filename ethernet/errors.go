package ethernet

import "errors"

// Sentinel errors returned by Check methods. Compare with errors.Is.
var (
	// ErrTruncated reports a frame or ARP packet shorter than its header.
	ErrTruncated = errors.New("ethernet: truncated")
	// ErrBadHardwareType reports an ARP packet whose hardware type is not
	// Ethernet (1) or whose hardware address length is not 6.
	ErrBadHardwareType = errors.New("ethernet: ARP hardware type or length is not Ethernet")
	// ErrBadProtocolType reports an ARP packet whose protocol type is not
	// IPv4 (0x0800) or whose protocol address length is not 4.
	ErrBadProtocolType = errors.New("ethernet: ARP protocol type or length is not IPv4")
	// ErrBadOperation reports an ARP operation other than request or reply.
	ErrBadOperation = errors.New("ethernet: unknown ARP operation")
	// ErrBadMAC reports a string that ParseMAC cannot read.
	ErrBadMAC = errors.New("ethernet: malformed MAC address")
)
