// Package ethernet is the link layer of netspace: Ethernet II frames,
// 802.1Q VLAN tags, MAC addresses and the ARP wire format for IPv4 over
// Ethernet (RFC 826).
//
// The wire types are views over a []byte that is owned by the caller:
// [Frame] and [ARP] are decoded in place and never copied. Each view has a
// Check method; after Check returns nil every accessor is safe on that
// slice, whatever bytes it holds, and none allocates. Encoders (PutHeader,
// PutARP) write into a buffer supplied by the caller and return the number
// of bytes written; they panic if that buffer is too short, as
// encoding/binary does, because that is a programming error rather than
// malformed input.
//
// Malformed input is reported by Check with an error that matches one of
// this package's sentinel errors ([ErrTruncated], [ErrBadHardwareType], …)
// under errors.Is; it never causes a panic.
//
// # VLAN tags
//
// A frame carrying one 802.1Q tag (TPID 0x8100) is accepted by
// [Frame.Check]: [Frame.EtherType] reports the inner EtherType,
// [Frame.Payload] starts after the tag, and [Frame.VLAN] returns the tag
// control information. Only the outermost tag is removed; a stacked second
// tag (0x8100 or 802.1ad 0x88A8) shows up as the EtherType and is left to
// the caller, which will normally drop the frame as unsupported.
//
// Actor code for the link layer (ARP resolution, the cache) lives in this
// package too, in files of its own; the files named frame.go, mac.go and
// arpwire.go hold only wire formats and import nothing from netspace.
package ethernet
