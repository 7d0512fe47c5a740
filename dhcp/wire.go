package dhcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// The fixed part of a DHCP message (RFC 2131 §2, Figure 1), the magic
// cookie that starts the options (RFC 2132 §2), and the ports.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+---------------+---------------+---------------+---------------+
//	|     op (1)    |   htype (1)   |   hlen (1)    |   hops (1)    |
//	+---------------+---------------+---------------+---------------+
//	|                            xid (4)                            |
//	+-------------------------------+-------------------------------+
//	|           secs (2)            |           flags (2)           |
//	+-------------------------------+-------------------------------+
//	|                          ciaddr  (4)                          |
//	|                          yiaddr  (4)                          |
//	|                          siaddr  (4)                          |
//	|                          giaddr  (4)                          |
//	|                          chaddr  (16)                         |
//	|                          sname   (64)                         |
//	|                          file    (128)                        |
//	+---------------------------------------------------------------+
//	|          magic cookie 99.130.83.99, then options              |
//	+---------------------------------------------------------------+
const (
	HeaderLen  = 236 // op … file
	cookieLen  = 4
	MinLen     = HeaderLen + cookieLen // the shortest message we accept
	BOOTPMin   = 300                   // messages we send are padded to this (RFC 1542 §3.2)
	ServerPort = 67
	ClientPort = 68

	opRequest   = 1
	opReply     = 2
	htypeEther  = 1
	flagBcast   = 0x8000
	maxOptions  = 1500 // we never build or accept a longer option area
	maxAddrList = 8    // routers and DNS servers kept from one option
)

var magicCookie = [cookieLen]byte{99, 130, 83, 99}

// MessageType is option 53, the DHCP message type (RFC 2132 §9.6).
type MessageType uint8

// The message types.
const (
	Discover MessageType = 1
	Offer    MessageType = 2
	Request  MessageType = 3
	Decline  MessageType = 4
	Ack      MessageType = 5
	Nak      MessageType = 6
	Release  MessageType = 7
	Inform   MessageType = 8
)

var typeNames = [...]string{"", "DISCOVER", "OFFER", "REQUEST", "DECLINE", "ACK", "NAK", "RELEASE", "INFORM"}

// String returns the type's name as RFC 2131 writes it ("DISCOVER", …).
func (t MessageType) String() string {
	if int(t) < len(typeNames) && t != 0 {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Option codes (RFC 2132) this package reads or writes.
const (
	OptPad          = 0
	OptSubnetMask   = 1
	OptRouter       = 3
	OptDNS          = 6
	OptHostname     = 12
	OptDomainName   = 15
	OptRequestedIP  = 50
	OptLeaseTime    = 51
	OptOverload     = 52
	OptMessageType  = 53
	OptServerID     = 54
	OptParamRequest = 55
	OptMessage      = 56
	OptMaxSize      = 57
	OptT1           = 58
	OptT2           = 59
	OptClientID     = 61
	OptEnd          = 255
)

// Errors of Parse; match them with errors.Is.
var (
	ErrShort    = errors.New("dhcp: message too short")
	ErrCookie   = errors.New("dhcp: bad magic cookie")
	ErrOption   = errors.New("dhcp: malformed option")
	ErrNoType   = errors.New("dhcp: no message type")
	ErrHardware = errors.New("dhcp: not Ethernet")
)

// Message is a DHCP message with the options this client uses decoded.
// Options it does not know are skipped on decode. Addresses absent from
// the message are the invalid netip.Addr (not 0.0.0.0); durations absent
// are 0.
type Message struct {
	Op        uint8 // 1 request, 2 reply
	XID       uint32
	Secs      uint16
	Broadcast bool // the BROADCAST flag (RFC 2131 §4.1)
	CIAddr    netip.Addr
	YIAddr    netip.Addr
	SIAddr    netip.Addr
	GIAddr    netip.Addr
	CHAddr    [6]byte

	Type         MessageType
	SubnetBits   int // prefix length from the subnet mask; -1 if absent or not contiguous
	Routers      []netip.Addr
	DNS          []netip.Addr
	ServerID     netip.Addr
	RequestedIP  netip.Addr
	LeaseTime    time.Duration // 0: absent; math.MaxUint32 s means infinite
	T1, T2       time.Duration
	ParamRequest []byte
	ClientID     []byte
	Hostname     string
	DomainName   string
	Text         string // option 56, a server's error message
}

func addr4(b []byte) netip.Addr { return netip.AddrFrom4([4]byte(b[:4])) }

// optAddr returns a (non-zero) address, or the invalid Addr.
func optAddr(a netip.Addr) netip.Addr {
	if a.IsValid() && !a.IsUnspecified() {
		return a
	}
	return netip.Addr{}
}

// Parse decodes a DHCP message. It never panics: a message shorter than
// the fixed part, without the magic cookie, with an option running past
// the end, an Ethernet-less hardware type or no message type is an error.
// The returned Message does not alias b.
func Parse(b []byte) (*Message, error) {
	if len(b) < MinLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrShort, len(b))
	}
	if [cookieLen]byte(b[HeaderLen:MinLen]) != magicCookie {
		return nil, ErrCookie
	}
	if b[1] != htypeEther || b[2] != 6 {
		return nil, fmt.Errorf("%w: htype %d hlen %d", ErrHardware, b[1], b[2])
	}
	m := &Message{
		Op:         b[0],
		XID:        binary.BigEndian.Uint32(b[4:8]),
		Secs:       binary.BigEndian.Uint16(b[8:10]),
		Broadcast:  binary.BigEndian.Uint16(b[10:12])&flagBcast != 0,
		CIAddr:     optAddr(addr4(b[12:])),
		YIAddr:     optAddr(addr4(b[16:])),
		SIAddr:     optAddr(addr4(b[20:])),
		GIAddr:     optAddr(addr4(b[24:])),
		CHAddr:     [6]byte(b[28:34]),
		SubnetBits: -1,
	}
	opts := b[MinLen:]
	if len(opts) > maxOptions {
		opts = opts[:maxOptions]
	}
	for i := 0; i < len(opts); {
		code := opts[i]
		if code == OptPad {
			i++
			continue
		}
		if code == OptEnd {
			break
		}
		if i+1 >= len(opts) {
			return nil, fmt.Errorf("%w: option %d has no length", ErrOption, code)
		}
		n := int(opts[i+1])
		if i+2+n > len(opts) {
			return nil, fmt.Errorf("%w: option %d runs past the end", ErrOption, code)
		}
		if err := m.option(code, opts[i+2:i+2+n]); err != nil {
			return nil, err
		}
		i += 2 + n
	}
	if m.Type == 0 {
		return nil, ErrNoType
	}
	return m, nil
}

// option decodes one option's value v.
func (m *Message) option(code byte, v []byte) error {
	bad := func() error { return fmt.Errorf("%w: option %d of length %d", ErrOption, code, len(v)) }
	switch code {
	case OptMessageType:
		if len(v) != 1 || v[0] == 0 {
			return bad()
		}
		m.Type = MessageType(v[0])
	case OptSubnetMask:
		if len(v) != 4 {
			return bad()
		}
		m.SubnetBits = maskBits(binary.BigEndian.Uint32(v))
	case OptRouter, OptDNS:
		if len(v) == 0 || len(v)%4 != 0 {
			return bad()
		}
		var list []netip.Addr
		for j := 0; j+4 <= len(v) && len(list) < maxAddrList; j += 4 {
			list = append(list, addr4(v[j:]))
		}
		if code == OptRouter {
			m.Routers = list
		} else {
			m.DNS = list
		}
	case OptServerID, OptRequestedIP:
		if len(v) != 4 {
			return bad()
		}
		if code == OptServerID {
			m.ServerID = optAddr(addr4(v))
		} else {
			m.RequestedIP = optAddr(addr4(v))
		}
	case OptLeaseTime, OptT1, OptT2:
		if len(v) != 4 {
			return bad()
		}
		d := time.Duration(binary.BigEndian.Uint32(v)) * time.Second
		switch code {
		case OptLeaseTime:
			m.LeaseTime = d
		case OptT1:
			m.T1 = d
		default:
			m.T2 = d
		}
	case OptParamRequest:
		m.ParamRequest = append([]byte(nil), v...)
	case OptClientID:
		m.ClientID = append([]byte(nil), v...)
	case OptHostname:
		m.Hostname = string(v)
	case OptDomainName:
		m.DomainName = string(v)
	case OptMessage:
		m.Text = string(v)
	}
	return nil
}

// maskBits returns the prefix length of a contiguous netmask, or -1.
func maskBits(mask uint32) int {
	n := 0
	for mask&0x80000000 != 0 {
		n++
		mask <<= 1
	}
	if mask != 0 {
		return -1
	}
	return n
}

// Len returns the length Append writes for m.
func (m *Message) Len() int { return len(m.Append(nil)) }

// Append encodes m after b and returns the extended slice: the fixed part,
// the cookie, option 53 first, then the other options that are set, END,
// padded to 300 bytes. Unset addresses are written as 0.0.0.0.
func (m *Message) Append(b []byte) []byte {
	start := len(b)
	b = append(b, make([]byte, HeaderLen)...)
	h := b[start:]
	h[0], h[1], h[2], h[3] = m.Op, htypeEther, 6, 0
	binary.BigEndian.PutUint32(h[4:8], m.XID)
	binary.BigEndian.PutUint16(h[8:10], m.Secs)
	if m.Broadcast {
		binary.BigEndian.PutUint16(h[10:12], flagBcast)
	}
	for i, a := range []netip.Addr{m.CIAddr, m.YIAddr, m.SIAddr, m.GIAddr} {
		if a.Is4() {
			v := a.As4()
			copy(h[12+4*i:], v[:])
		}
	}
	copy(h[28:34], m.CHAddr[:])
	b = append(b, magicCookie[:]...)
	b = append(b, OptMessageType, 1, byte(m.Type))
	if m.ClientID != nil {
		b = appendOpt(b, OptClientID, m.ClientID)
	}
	b = appendAddr(b, OptRequestedIP, m.RequestedIP)
	b = appendAddr(b, OptServerID, m.ServerID)
	if m.SubnetBits >= 0 && m.SubnetBits <= 32 {
		var v [4]byte
		binary.BigEndian.PutUint32(v[:], ^uint32(0)<<(32-m.SubnetBits))
		if m.SubnetBits == 0 {
			v = [4]byte{}
		}
		b = appendOpt(b, OptSubnetMask, v[:])
	}
	b = appendAddrs(b, OptRouter, m.Routers)
	b = appendAddrs(b, OptDNS, m.DNS)
	b = appendSecs(b, OptLeaseTime, m.LeaseTime)
	b = appendSecs(b, OptT1, m.T1)
	b = appendSecs(b, OptT2, m.T2)
	if m.Hostname != "" {
		b = appendOpt(b, OptHostname, []byte(m.Hostname))
	}
	if m.DomainName != "" {
		b = appendOpt(b, OptDomainName, []byte(m.DomainName))
	}
	if m.Text != "" {
		b = appendOpt(b, OptMessage, []byte(m.Text))
	}
	if m.ParamRequest != nil {
		b = appendOpt(b, OptParamRequest, m.ParamRequest)
	}
	b = append(b, OptEnd)
	for len(b)-start < BOOTPMin {
		b = append(b, OptPad)
	}
	return b
}

func appendOpt(b []byte, code byte, v []byte) []byte {
	if len(v) > 255 {
		v = v[:255]
	}
	b = append(b, code, byte(len(v)))
	return append(b, v...)
}

func appendAddr(b []byte, code byte, a netip.Addr) []byte {
	if !a.Is4() {
		return b
	}
	v := a.As4()
	return appendOpt(b, code, v[:])
}

func appendAddrs(b []byte, code byte, as []netip.Addr) []byte {
	if len(as) == 0 {
		return b
	}
	var v []byte
	for _, a := range as[:min(len(as), 63)] {
		x := a.As4()
		v = append(v, x[:]...)
	}
	return appendOpt(b, code, v)
}

func appendSecs(b []byte, code byte, d time.Duration) []byte {
	if d <= 0 {
		return b
	}
	var v [4]byte
	binary.BigEndian.PutUint32(v[:], uint32(min(d/time.Second, 0xffffffff)))
	return appendOpt(b, code, v[:])
}
