package ethernet

// MAC is an IEEE 802 48-bit MAC address. It is a comparable value, usable
// as a map key.
type MAC [6]byte

// Broadcast is the all-ones broadcast address ff:ff:ff:ff:ff:ff.
var Broadcast = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

const hexDigits = "0123456789abcdef"

// String formats m as six lowercase hex pairs separated by colons,
// e.g. "02:00:00:00:00:01".
func (m MAC) String() string {
	var buf [17]byte
	m.appendTo(buf[:0])
	return string(buf[:])
}

func (m MAC) appendTo(b []byte) []byte {
	for i, x := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexDigits[x>>4], hexDigits[x&0xf])
	}
	return b
}

// AppendText implements encoding.TextAppender.
func (m MAC) AppendText(b []byte) ([]byte, error) { return m.appendTo(b), nil }

// MarshalText implements encoding.TextMarshaler.
func (m MAC) MarshalText() ([]byte, error) { return m.appendTo(make([]byte, 0, 17)), nil }

// UnmarshalText implements encoding.TextUnmarshaler using ParseMAC.
func (m *MAC) UnmarshalText(text []byte) error {
	v, err := ParseMAC(string(text))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// ParseMAC parses six hex pairs separated by ':' or '-', such as
// "02:00:00:00:00:01" or "02-00-00-00-00-01". Both cases of hex digit are
// accepted; the separator must be the same throughout. Any other form
// returns ErrBadMAC.
func ParseMAC(s string) (MAC, error) {
	var m MAC
	if len(s) != 17 {
		return m, ErrBadMAC
	}
	sep := s[2]
	if sep != ':' && sep != '-' {
		return m, ErrBadMAC
	}
	for i := range m {
		p := i * 3
		if i > 0 && s[p-1] != sep {
			return m, ErrBadMAC
		}
		hi, ok1 := unhex(s[p])
		lo, ok2 := unhex(s[p+1])
		if !ok1 || !ok2 {
			return m, ErrBadMAC
		}
		m[i] = hi<<4 | lo
	}
	return m, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// IsBroadcast reports whether m is ff:ff:ff:ff:ff:ff.
func (m MAC) IsBroadcast() bool { return m == Broadcast }

// IsMulticast reports whether the group bit (the least significant bit of
// the first octet) is set. The broadcast address is a multicast address.
func (m MAC) IsMulticast() bool { return m[0]&0x01 != 0 }

// IsUnicast reports whether m is an individual (non-group) address. The
// zero address counts as unicast by this test; see IsZero.
func (m MAC) IsUnicast() bool { return m[0]&0x01 == 0 }

// IsLocallyAdministered reports whether the U/L bit (0x02 of the first
// octet) is set.
func (m MAC) IsLocallyAdministered() bool { return m[0]&0x02 != 0 }

// IsZero reports whether m is 00:00:00:00:00:00.
func (m MAC) IsZero() bool { return m == MAC{} }

// LocallyAdministered returns a locally administered unicast MAC made from
// the low 48 bits of seed: the group bit is cleared and the U/L bit set.
// The caller supplies the randomness (e.g. from an injected source), so
// the result is reproducible in tests.
func LocallyAdministered(seed uint64) MAC {
	m := MAC{
		byte(seed >> 40), byte(seed >> 32), byte(seed >> 24),
		byte(seed >> 16), byte(seed >> 8), byte(seed),
	}
	m[0] = m[0]&^0x01 | 0x02
	return m
}
