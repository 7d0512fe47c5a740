package ip

import (
	"encoding/binary"
	"net/netip"
)

// IP protocol numbers carried in the IPv4 Protocol field.
const (
	ProtocolICMP uint8 = 1
	ProtocolTCP  uint8 = 6
	ProtocolUDP  uint8 = 17
)

// IPv4 header sizes.
const (
	// IPv4MinHeaderLen is the length of a header without options.
	IPv4MinHeaderLen = 20
	// IPv4MaxHeaderLen is the length of a header with 40 bytes of options.
	IPv4MaxHeaderLen = 60
	// IPv4MaxOptionsLen is the largest options area.
	IPv4MaxOptionsLen = 40
	// IPv4MaxDatagramLen is the largest total length.
	IPv4MaxDatagramLen = 65535
)

// IPv4 option types with special layout (RFC 791 §3.1). All others are
// length-prefixed.
const (
	IPv4OptionEOL = 0 // end of option list
	IPv4OptionNOP = 1 // no operation
)

// IPv4Flags holds the three flag bits of the IPv4 header, right-aligned:
// reserved (0x4), Don't Fragment (0x2) and More Fragments (0x1).
type IPv4Flags uint8

// IPv4 flag bits.
const (
	FlagMF       IPv4Flags = 0x1 // More Fragments
	FlagDF       IPv4Flags = 0x2 // Don't Fragment
	FlagReserved IPv4Flags = 0x4 // reserved, must be zero when sent
)

// IPv4 is a view of an IPv4 datagram, header first (RFC 791 §3.1). Call
// Check before any accessor.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version|  IHL  |Type of Service|          Total Length         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Identification        |Flags|      Fragment Offset    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Source Address                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Destination Address                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Options                    |    Padding    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type IPv4 []byte

// Check validates the header: version 4; IHL at least 5 and the header
// within the buffer; total length at least the header and at most the
// buffer (a longer buffer is allowed, e.g. Ethernet padding, and Payload
// stops at the total length); a correct header checksum; and well-formed
// options. After Check returns nil, no accessor panics.
func (p IPv4) Check() error {
	if err := p.CheckNoChecksum(); err != nil {
		return err
	}
	if Checksum(p[:p.HeaderLen()], 0) != 0 {
		return ErrBadChecksum
	}
	return nil
}

// CheckNoChecksum is Check without verifying the header checksum, for
// input whose checksum was already verified (e.g. by NIC offload) or that
// this stack built itself.
func (p IPv4) CheckNoChecksum() error {
	if len(p) < IPv4MinHeaderLen {
		return ErrTruncated
	}
	if p[0]>>4 != 4 {
		return ErrBadVersion
	}
	hl := p.HeaderLen()
	if hl < IPv4MinHeaderLen || hl > len(p) {
		return ErrBadHeaderLength
	}
	if tl := int(p.TotalLen()); tl < hl || tl > len(p) {
		return ErrBadTotalLength
	}
	return checkIPv4Options(p[IPv4MinHeaderLen:hl])
}

// checkIPv4Options validates the option list syntax of RFC 791 §3.1:
// EOL ends the list (the rest is padding), NOP is one byte, and every
// other option has a length byte of at least 2 that stays within the
// area. Option contents are not interpreted.
func checkIPv4Options(o []byte) error {
	for len(o) > 0 {
		switch o[0] {
		case IPv4OptionEOL:
			return nil
		case IPv4OptionNOP:
			o = o[1:]
			continue
		}
		if len(o) < 2 || o[1] < 2 || int(o[1]) > len(o) {
			return ErrBadOption
		}
		o = o[o[1]:]
	}
	return nil
}

// HeaderLen returns the header length in bytes (IHL × 4).
func (p IPv4) HeaderLen() int { return int(p[0]&0x0f) * 4 }

// TOS returns the Type of Service octet (DSCP and ECN bits).
func (p IPv4) TOS() uint8 { return p[1] }

// TotalLen returns the Total Length field: header plus payload.
func (p IPv4) TotalLen() uint16 { return binary.BigEndian.Uint16(p[2:4]) }

// ID returns the Identification field.
func (p IPv4) ID() uint16 { return binary.BigEndian.Uint16(p[4:6]) }

// Flags returns the three flag bits.
func (p IPv4) Flags() IPv4Flags { return IPv4Flags(p[6] >> 5) }

// DontFragment reports whether the DF flag is set.
func (p IPv4) DontFragment() bool { return p.Flags()&FlagDF != 0 }

// MoreFragments reports whether the MF flag is set.
func (p IPv4) MoreFragments() bool { return p.Flags()&FlagMF != 0 }

// FragmentOffset returns the fragment offset in bytes (the field × 8).
func (p IPv4) FragmentOffset() int {
	return int(binary.BigEndian.Uint16(p[6:8])&0x1fff) * 8
}

// IsFragment reports whether the datagram is a fragment: MF set or a
// non-zero offset.
func (p IPv4) IsFragment() bool {
	return binary.BigEndian.Uint16(p[6:8])&0x3fff != 0
}

// TTL returns the Time to Live.
func (p IPv4) TTL() uint8 { return p[8] }

// Protocol returns the upper-layer protocol number.
func (p IPv4) Protocol() uint8 { return p[9] }

// Checksum returns the header checksum field.
func (p IPv4) Checksum() uint16 { return binary.BigEndian.Uint16(p[10:12]) }

// Src returns the source address.
func (p IPv4) Src() netip.Addr { return netip.AddrFrom4([4]byte(p[12:16])) }

// Dst returns the destination address.
func (p IPv4) Dst() netip.Addr { return netip.AddrFrom4([4]byte(p[16:20])) }

// Options returns the options area (with any padding), empty when IHL is 5.
func (p IPv4) Options() []byte { return p[IPv4MinHeaderLen:p.HeaderLen()] }

// Payload returns the bytes between the header and the total length.
func (p IPv4) Payload() []byte { return p[p.HeaderLen():p.TotalLen()] }

// DecrementTTL lowers the TTL by one and patches the header checksum
// incrementally (RFC 1624), as a router does when forwarding. It returns
// the new TTL; a TTL already 0 is left unchanged.
func (p IPv4) DecrementTTL() uint8 {
	if p[8] == 0 {
		return 0
	}
	old := binary.BigEndian.Uint16(p[8:10])
	p[8]--
	binary.BigEndian.PutUint16(p[10:12], UpdateChecksum(p.Checksum(), old, binary.BigEndian.Uint16(p[8:10])))
	return p[8]
}

// Fields returns the header as an IPv4Fields. Its Options slice aliases
// the view.
func (p IPv4) Fields() IPv4Fields {
	return IPv4Fields{
		TOS:        p.TOS(),
		TotalLen:   p.TotalLen(),
		ID:         p.ID(),
		Flags:      p.Flags(),
		FragOffset: p.FragmentOffset(),
		TTL:        p.TTL(),
		Protocol:   p.Protocol(),
		Src:        p.Src(),
		Dst:        p.Dst(),
		Options:    p.Options(),
	}
}

// IPv4Fields are the fields of an IPv4 header, for encoding with
// PutIPv4Header. The version, IHL and checksum are computed.
type IPv4Fields struct {
	TOS        uint8
	TotalLen   uint16 // header plus payload
	ID         uint16
	Flags      IPv4Flags
	FragOffset int // in bytes; a multiple of 8 below 65536
	TTL        uint8
	Protocol   uint8
	Src, Dst   netip.Addr // IPv4 (IPv4-mapped addresses are unmapped)
	Options    []byte     // at most 40 bytes; padded with EOL to a multiple of 4
}

// HeaderLen returns the length of the header PutIPv4Header writes for f:
// 20 plus the options rounded up to a multiple of 4.
func (f *IPv4Fields) HeaderLen() int {
	return IPv4MinHeaderLen + (len(f.Options)+3)&^3
}

// PutIPv4Header writes the header described by f into b, computes its
// checksum and returns the header length. It does not write the payload.
// It panics if b is shorter than f.HeaderLen(), if the options exceed 40
// bytes, if FragOffset is not a multiple of 8 in [0, 65528], or if Src or
// Dst is not an IPv4 address.
func PutIPv4Header(b []byte, f *IPv4Fields) int {
	if len(f.Options) > IPv4MaxOptionsLen {
		panic("ip: IPv4 options longer than 40 bytes")
	}
	if f.FragOffset < 0 || f.FragOffset > 0xfff8 || f.FragOffset&7 != 0 {
		panic("ip: IPv4 fragment offset not a multiple of 8 below 65536")
	}
	hl := f.HeaderLen()
	_ = b[hl-1]
	b[0] = 0x40 | byte(hl/4)
	b[1] = f.TOS
	binary.BigEndian.PutUint16(b[2:4], f.TotalLen)
	binary.BigEndian.PutUint16(b[4:6], f.ID)
	binary.BigEndian.PutUint16(b[6:8], uint16(f.Flags&7)<<13|uint16(f.FragOffset/8))
	b[8] = f.TTL
	b[9] = f.Protocol
	b[10], b[11] = 0, 0
	s, d := f.Src.Unmap().As4(), f.Dst.Unmap().As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	n := copy(b[IPv4MinHeaderLen:hl], f.Options)
	clear(b[IPv4MinHeaderLen+n : hl])
	binary.BigEndian.PutUint16(b[10:12], Checksum(b[:hl], 0))
	return hl
}
