package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// The DNS message header (RFC 1035 §4.1.1):
//
//	                                1  1  1  1  1  1
//	  0  1  2  3  4  5  6  7  8  9  0  1  2  3  4  5
//	+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//	|                      ID                       |
//	+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//	|QR|   Opcode  |AA|TC|RD|RA|   Z    |   RCODE   |
//	+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
//	|          QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT   |
//	+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
const (
	HeaderLen = 12
	Port      = 53
	// MaxUDP is the largest message sent over UDP without EDNS (RFC 1035
	// §4.2.1); a longer answer is truncated (TC) and asked again over TCP.
	MaxUDP = 512

	maxNameLen  = 255
	maxLabelLen = 63
	maxPointers = 32  // compression pointers followed in one name
	maxRecords  = 100 // records decoded per section
)

// Record types and the class used here.
const (
	TypeA     uint16 = 1
	TypeNS    uint16 = 2
	TypeCNAME uint16 = 5
	TypeSOA   uint16 = 6
	TypePTR   uint16 = 12
	TypeAAAA  uint16 = 28
	ClassIN   uint16 = 1
)

// Response codes (RFC 1035 §4.1.1).
const (
	RCodeSuccess  = 0
	RCodeFormErr  = 1
	RCodeServFail = 2
	RCodeNXDomain = 3
	RCodeNotImp   = 4
	RCodeRefused  = 5
)

// Errors of Parse and Append; match them with errors.Is.
var (
	ErrShort   = errors.New("dns: message too short")
	ErrName    = errors.New("dns: malformed name")
	ErrPointer = errors.New("dns: bad compression pointer")
	ErrRecord  = errors.New("dns: malformed record")
	ErrTooMany = errors.New("dns: too many records")
)

// Question is one entry of the question section.
type Question struct {
	Name        string // canonical: lower case, no trailing dot
	Type, Class uint16
}

// RR is a resource record. Data is the raw RDATA; for the types this
// package knows, the decoded form is in Addr (A, AAAA), Target (CNAME,
// PTR, NS) or MinTTL (SOA: the negative-caching TTL of RFC 2308 §5, the
// smaller of the record's TTL and its MINIMUM field).
type RR struct {
	Name        string
	Type, Class uint16
	TTL         uint32
	Data        []byte
	Addr        netip.Addr
	Target      string
	MinTTL      uint32
}

// Message is a DNS message.
type Message struct {
	ID                                   uint16
	Response, Authoritative, Truncated   bool
	RecursionDesired, RecursionAvailable bool
	Opcode, RCode                        uint8
	Questions                            []Question
	Answers, Authority, Additional       []RR
}

// Parse decodes a DNS message. It never panics and never loops: names are
// bounded in length and in compression pointers, sections in records. The
// returned message does not alias b.
func Parse(b []byte) (*Message, error) {
	if len(b) < HeaderLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrShort, len(b))
	}
	flags := binary.BigEndian.Uint16(b[2:4])
	m := &Message{
		ID:                 binary.BigEndian.Uint16(b[0:2]),
		Response:           flags&0x8000 != 0,
		Opcode:             uint8(flags>>11) & 0xf,
		Authoritative:      flags&0x0400 != 0,
		Truncated:          flags&0x0200 != 0,
		RecursionDesired:   flags&0x0100 != 0,
		RecursionAvailable: flags&0x0080 != 0,
		RCode:              uint8(flags & 0xf),
	}
	var counts [4]int
	for i := range counts {
		counts[i] = int(binary.BigEndian.Uint16(b[4+2*i:]))
	}
	if counts[0] > maxRecords || counts[1] > maxRecords || counts[2] > maxRecords {
		return nil, ErrTooMany
	}
	off := HeaderLen
	for i := 0; i < counts[0]; i++ {
		name, n, err := readName(b, off)
		if err != nil {
			return nil, err
		}
		off = n
		if off+4 > len(b) {
			return nil, fmt.Errorf("%w: question", ErrShort)
		}
		m.Questions = append(m.Questions, Question{Name: name,
			Type: binary.BigEndian.Uint16(b[off:]), Class: binary.BigEndian.Uint16(b[off+2:])})
		off += 4
	}
	sections := []*[]RR{&m.Answers, &m.Authority, &m.Additional}
	for s, sec := range sections {
		// Additional records beyond the bound are ignored, not an error
		// (an OPT record or glue we do not use).
		for i := 0; i < counts[s+1] && i < maxRecords; i++ {
			rr, n, err := readRR(b, off)
			if err != nil {
				if s == 2 {
					break
				}
				return nil, err
			}
			off = n
			*sec = append(*sec, rr)
		}
	}
	return m, nil
}

func readRR(b []byte, off int) (RR, int, error) {
	var rr RR
	name, off, err := readName(b, off)
	if err != nil {
		return rr, 0, err
	}
	if off+10 > len(b) {
		return rr, 0, fmt.Errorf("%w: record header", ErrShort)
	}
	rr.Name = name
	rr.Type, rr.Class = binary.BigEndian.Uint16(b[off:]), binary.BigEndian.Uint16(b[off+2:])
	rr.TTL = binary.BigEndian.Uint32(b[off+4:]) & 0x7fffffff // RFC 2181 §8
	n := int(binary.BigEndian.Uint16(b[off+8:]))
	off += 10
	if off+n > len(b) {
		return rr, 0, fmt.Errorf("%w: rdata runs past the end", ErrRecord)
	}
	rr.Data = append([]byte(nil), b[off:off+n]...)
	switch rr.Type {
	case TypeA:
		if n != 4 {
			return rr, 0, fmt.Errorf("%w: A record of %d bytes", ErrRecord, n)
		}
		rr.Addr = netip.AddrFrom4([4]byte(b[off : off+4]))
	case TypeAAAA:
		if n != 16 {
			return rr, 0, fmt.Errorf("%w: AAAA record of %d bytes", ErrRecord, n)
		}
		rr.Addr = netip.AddrFrom16([16]byte(b[off : off+16]))
	case TypeCNAME, TypePTR, TypeNS:
		t, end, err := readName(b, off)
		if err != nil || end > off+n {
			return rr, 0, fmt.Errorf("%w: target of type %d", ErrRecord, rr.Type)
		}
		rr.Target = t
	case TypeSOA:
		_, p, err := readName(b, off) // MNAME
		if err == nil {
			_, p, err = readName(b, p) // RNAME
		}
		if err != nil || p+20 > off+n {
			return rr, 0, fmt.Errorf("%w: SOA", ErrRecord)
		}
		rr.MinTTL = min(rr.TTL, binary.BigEndian.Uint32(b[p+16:]))
	}
	return rr, off + n, nil
}

// readName reads a possibly compressed name at off and returns it in
// canonical form and the offset after it (after the first pointer, if
// any).
func readName(b []byte, off int) (string, int, error) {
	var sb strings.Builder
	end, wire, hops := -1, 1, 0
	for {
		if off >= len(b) {
			return "", 0, fmt.Errorf("%w: runs past the end", ErrName)
		}
		l := int(b[off])
		switch {
		case l == 0:
			if end < 0 {
				end = off + 1
			}
			return sb.String(), end, nil
		case l&0xc0 == 0xc0:
			if off+1 >= len(b) {
				return "", 0, ErrPointer
			}
			if hops++; hops > maxPointers {
				return "", 0, fmt.Errorf("%w: too many", ErrPointer)
			}
			if end < 0 {
				end = off + 2
			}
			off = int(binary.BigEndian.Uint16(b[off:]) & 0x3fff)
		case l&0xc0 != 0:
			return "", 0, fmt.Errorf("%w: label type %#x", ErrName, l&0xc0)
		default:
			if off+1+l > len(b) {
				return "", 0, fmt.Errorf("%w: label runs past the end", ErrName)
			}
			if wire += 1 + l; wire > maxNameLen {
				return "", 0, fmt.Errorf("%w: longer than 255 bytes", ErrName)
			}
			label := b[off+1 : off+1+l]
			for _, c := range label {
				if c == '.' {
					return "", 0, fmt.Errorf("%w: dot inside a label", ErrName)
				}
			}
			if sb.Len() > 0 {
				sb.WriteByte('.')
			}
			for _, c := range label {
				sb.WriteByte(lowerASCII(c))
			}
			off += 1 + l
		}
	}
}

// CanonicalName returns name in the form this package uses — lower case,
// without a trailing dot — or an error if it cannot be a domain name (an
// empty label, a label over 63 bytes, over 255 bytes in all).
func CanonicalName(name string) (string, error) {
	name = strings.TrimSuffix(name, ".")
	if strings.ContainsFunc(name, func(r rune) bool { return r >= 'A' && r <= 'Z' }) {
		b := []byte(name)
		for i, c := range b {
			b[i] = lowerASCII(c)
		}
		name = string(b)
	}
	if name == "" {
		return "", nil
	}
	if len(name)+2 > maxNameLen {
		return "", fmt.Errorf("%w: %q is too long", ErrName, name)
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > maxLabelLen {
			return "", fmt.Errorf("%w: %q", ErrName, name)
		}
	}
	return name, nil
}

// lowerASCII lowers ASCII letters only: DNS compares names without case
// for ASCII alone (RFC 4343), and other bytes must pass unchanged.
func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func appendName(b []byte, name string) ([]byte, error) {
	name, err := CanonicalName(name)
	if err != nil {
		return b, err
	}
	if name != "" {
		for label := range strings.SplitSeq(name, ".") {
			b = append(b, byte(len(label)))
			b = append(b, label...)
		}
	}
	return append(b, 0), nil
}

// Append encodes m after b (names uncompressed) and returns the extended
// slice. RR.Data is written as it is; for A, AAAA, CNAME, PTR and NS
// records with no Data, it is built from Addr or Target.
func (m *Message) Append(b []byte) ([]byte, error) {
	var flags uint16
	if m.Response {
		flags |= 0x8000
	}
	flags |= uint16(m.Opcode&0xf) << 11
	for _, f := range []struct {
		on  bool
		bit uint16
	}{{m.Authoritative, 0x0400}, {m.Truncated, 0x0200}, {m.RecursionDesired, 0x0100}, {m.RecursionAvailable, 0x0080}} {
		if f.on {
			flags |= f.bit
		}
	}
	flags |= uint16(m.RCode & 0xf)
	b = binary.BigEndian.AppendUint16(b, m.ID)
	b = binary.BigEndian.AppendUint16(b, flags)
	for _, n := range []int{len(m.Questions), len(m.Answers), len(m.Authority), len(m.Additional)} {
		if n > 0xffff {
			return b, ErrTooMany
		}
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	}
	var err error
	for _, q := range m.Questions {
		if b, err = appendName(b, q.Name); err != nil {
			return b, err
		}
		b = binary.BigEndian.AppendUint16(b, q.Type)
		b = binary.BigEndian.AppendUint16(b, q.Class)
	}
	for _, sec := range [][]RR{m.Answers, m.Authority, m.Additional} {
		for i := range sec {
			if b, err = appendRR(b, &sec[i]); err != nil {
				return b, err
			}
		}
	}
	return b, nil
}

func appendRR(b []byte, rr *RR) ([]byte, error) {
	b, err := appendName(b, rr.Name)
	if err != nil {
		return b, err
	}
	b = binary.BigEndian.AppendUint16(b, rr.Type)
	b = binary.BigEndian.AppendUint16(b, rr.Class)
	b = binary.BigEndian.AppendUint32(b, rr.TTL)
	data := rr.Data
	if data == nil {
		switch rr.Type {
		case TypeA:
			if !rr.Addr.Is4() {
				return b, fmt.Errorf("%w: A record without an IPv4 address", ErrRecord)
			}
			a := rr.Addr.As4()
			data = a[:]
		case TypeAAAA:
			a := rr.Addr.As16()
			data = a[:]
		case TypeCNAME, TypePTR, TypeNS:
			if data, err = appendName(nil, rr.Target); err != nil {
				return b, err
			}
		}
	}
	if len(data) > 0xffff {
		return b, fmt.Errorf("%w: rdata of %d bytes", ErrRecord, len(data))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...), nil
}

// ReverseName returns the in-addr.arpa name of an IPv4 address (RFC 1035
// §3.5): 192.0.2.2 → 2.2.0.192.in-addr.arpa.
func ReverseName(a netip.Addr) string {
	v := a.Unmap().As4()
	return fmt.Sprintf("%d.%d.%d.%d.in-addr.arpa", v[3], v[2], v[1], v[0])
}

// ParseReverseName is the inverse of ReverseName: it reports the address
// a canonical in-addr.arpa name stands for.
func ParseReverseName(name string) (netip.Addr, bool) {
	rest, ok := strings.CutSuffix(name, ".in-addr.arpa")
	if !ok {
		return netip.Addr{}, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 4 {
		return netip.Addr{}, false
	}
	var v [4]byte
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 8)
		if err != nil || (len(p) > 1 && p[0] == '0') {
			return netip.Addr{}, false
		}
		v[3-i] = byte(n)
	}
	return netip.AddrFrom4(v), true
}
