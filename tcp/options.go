package tcp

import "encoding/binary"

// Option kinds (RFC 9293 §3.2, RFC 7323, RFC 2018).
const (
	OptionEOL           = 0 // end of option list
	OptionNOP           = 1 // no operation
	OptionMSS           = 2 // maximum segment size, length 4
	OptionWindowScale   = 3 // window scale shift, length 3
	OptionSACKPermitted = 4 // SACK permitted, length 2
	OptionSACK          = 5 // SACK blocks, length 2+8n
	OptionTimestamps    = 8 // TSval and TSecr, length 10
)

// MaxSACKBlocks is the number of SACK blocks that fit in the options
// area (4 × 8 + 2 = 34 ≤ 40). With timestamps only 3 fit.
const MaxSACKBlocks = 4

// MaxWindowScale is the largest shift RFC 7323 §2.3 allows; a larger
// received value is to be treated as 14.
const MaxWindowScale = 14

// Block is a SACK block: the sequence numbers Start to End-1 were
// received (RFC 2018 §3).
type Block struct {
	Start, End Seq
}

// Options are the TCP options netspace understands, decoded. The zero
// value means "no options". It is a comparable value holding no pointers,
// so parsing into it allocates nothing.
type Options struct {
	MSS    uint16 // valid if HasMSS
	HasMSS bool

	WScale    uint8 // valid if HasWScale; as received, not clamped to 14
	HasWScale bool

	SACKPermitted bool

	TSVal, TSEcr uint32 // valid if HasTS
	HasTS        bool

	SACK    [MaxSACKBlocks]Block // the first NumSACK are valid
	NumSACK int

	// Layout orders the options when they are encoded (ParseOptions
	// leaves it LayoutLinux).
	Layout OptionLayout
}

// OptionLayout is an order and padding of options on the wire. Peers
// accept any; conformance tests written against one kernel compare them
// byte for byte.
type OptionLayout uint8

// Option layouts.
const (
	// LayoutLinux is Linux's: MSS, SACK-permitted, timestamps, NOP, window
	// scale, then SACK blocks.
	LayoutLinux OptionLayout = iota
	// LayoutBSD is FreeBSD's: MSS, NOP, window scale, SACK-permitted,
	// timestamps, SACK blocks, each preceded by the NOPs that align it as
	// FreeBSD does, and EOL padding to a multiple of 4.
	LayoutBSD
)

// ParseOptions decodes the options area b (Header.Options) into o, which
// it resets first. EOL ends the list; NOPs are skipped; unknown options
// with a valid length are skipped; when an option appears twice the last
// one wins. It returns an error matching ErrBadOption if an option's
// length byte is missing, below 2 or runs past b, or if MSS, window
// scale, SACK-permitted, timestamps or SACK have the wrong length; o then
// holds what was parsed before the error.
func ParseOptions(b []byte, o *Options) error {
	*o = Options{}
	for len(b) > 0 {
		kind := b[0]
		switch kind {
		case OptionEOL:
			return nil
		case OptionNOP:
			b = b[1:]
			continue
		}
		if len(b) < 2 {
			return errOptionTruncated
		}
		l := int(b[1])
		if l < 2 || l > len(b) {
			return errOptionLength
		}
		switch kind {
		case OptionMSS:
			if l != 4 {
				return errMSSLength
			}
			o.MSS, o.HasMSS = binary.BigEndian.Uint16(b[2:4]), true
		case OptionWindowScale:
			if l != 3 {
				return errWScaleLength
			}
			o.WScale, o.HasWScale = b[2], true
		case OptionSACKPermitted:
			if l != 2 {
				return errSACKPermLength
			}
			o.SACKPermitted = true
		case OptionSACK:
			n := (l - 2) / 8
			if (l-2)%8 != 0 || n < 1 || n > MaxSACKBlocks {
				return errSACKLength
			}
			for i := range n {
				p := b[2+8*i:]
				o.SACK[i] = Block{Seq(binary.BigEndian.Uint32(p[0:4])), Seq(binary.BigEndian.Uint32(p[4:8]))}
			}
			o.NumSACK = n
		case OptionTimestamps:
			if l != 10 {
				return errTSLength
			}
			o.TSVal, o.TSEcr, o.HasTS = binary.BigEndian.Uint32(b[2:6]), binary.BigEndian.Uint32(b[6:10]), true
		}
		b = b[l:]
	}
	return nil
}

// OptionsLen returns the number of bytes PutOptions writes for o: a
// multiple of 4, at most 40.
func OptionsLen(o *Options) int {
	if o.Layout == LayoutBSD {
		return putOptionsBSD(nil, o)
	}
	n, _ := optionsLayout(o)
	return n
}

// optionsLayout returns the encoded length and the number of SACK blocks
// that fit.
func optionsLayout(o *Options) (n, sack int) {
	if o.HasMSS {
		n += 4
	}
	switch {
	case o.SACKPermitted && o.HasTS:
		n += 12 // SACK-permitted, timestamps
	case o.HasTS:
		n += 12 // NOP, NOP, timestamps
	case o.SACKPermitted:
		n += 4 // NOP, NOP, SACK-permitted
	}
	if o.HasWScale {
		n += 4 // NOP, window scale
	}
	if o.NumSACK > 0 {
		sack = min(o.NumSACK, MaxSACKBlocks, (MaxOptionsLen-n-4)/8)
		if sack > 0 {
			n += 4 + 8*sack // NOP, NOP, SACK
		}
	}
	return n, sack
}

// PutOptions encodes o into b, NOP-padded so that every option is
// aligned as RFC 7323 Appendix A suggests and the total is a multiple of
// 4, and returns the length written (OptionsLen(o)). The layout is o.Layout:
// Linux's by default (MSS, SACK-permitted, timestamps, NOP, window scale,
// then SACK blocks). SACK blocks that do not fit in 40 bytes are left out,
// the first ones kept. A window scale above 14 is written as given.
// PutOptions panics if len(b) < OptionsLen(o).
func PutOptions(b []byte, o *Options) int {
	if o.Layout == LayoutBSD {
		_ = b[:putOptionsBSD(nil, o)]
		return putOptionsBSD(b, o)
	}
	n, sack := optionsLayout(o)
	if n > 0 {
		_ = b[n-1]
	}
	i := 0
	if o.HasMSS {
		b[0], b[1] = OptionMSS, 4
		binary.BigEndian.PutUint16(b[2:4], o.MSS)
		i = 4
	}
	switch {
	case o.SACKPermitted && o.HasTS:
		b[i], b[i+1] = OptionSACKPermitted, 2
		i += 2
	case o.HasTS:
		b[i], b[i+1] = OptionNOP, OptionNOP
		i += 2
	case o.SACKPermitted:
		b[i], b[i+1], b[i+2], b[i+3] = OptionNOP, OptionNOP, OptionSACKPermitted, 2
		i += 4
	}
	if o.HasTS {
		b[i], b[i+1] = OptionTimestamps, 10
		binary.BigEndian.PutUint32(b[i+2:i+6], o.TSVal)
		binary.BigEndian.PutUint32(b[i+6:i+10], o.TSEcr)
		i += 10
	}
	if o.HasWScale {
		b[i], b[i+1], b[i+2], b[i+3] = OptionNOP, OptionWindowScale, 3, o.WScale
		i += 4
	}
	if sack > 0 {
		b[i], b[i+1], b[i+2], b[i+3] = OptionNOP, OptionNOP, OptionSACK, byte(2+8*sack)
		i += 4
		for _, blk := range o.SACK[:sack] {
			binary.BigEndian.PutUint32(b[i:i+4], uint32(blk.Start))
			binary.BigEndian.PutUint32(b[i+4:i+8], uint32(blk.End))
			i += 8
		}
	}
	return i
}

// putOptionsBSD writes o in LayoutBSD into b and returns the length; with
// b nil it only measures. Each option starts where FreeBSD puts it: window
// scale at an odd offset, SACK-permitted at an even one, timestamps and
// SACK blocks at 2 mod 4.
func putOptionsBSD(b []byte, o *Options) int {
	w := optWriter{b: b}
	if o.HasMSS {
		w.put(OptionMSS, 4, byte(o.MSS>>8), byte(o.MSS))
	}
	if o.HasWScale {
		w.align(2, 1)
		w.put(OptionWindowScale, 3, o.WScale)
	}
	if o.SACKPermitted {
		w.align(2, 0)
		w.put(OptionSACKPermitted, 2)
	}
	if o.HasTS {
		w.align(4, 2)
		w.put(OptionTimestamps, 10)
		w.put32(o.TSVal)
		w.put32(o.TSEcr)
	}
	if o.NumSACK > 0 {
		w.align(4, 2)
		if n := min(o.NumSACK, MaxSACKBlocks, (MaxOptionsLen-w.n-2)/8); n > 0 {
			w.put(OptionSACK, byte(2+8*n))
			for _, blk := range o.SACK[:n] {
				w.put32(uint32(blk.Start))
				w.put32(uint32(blk.End))
			}
		}
	}
	for w.n%4 != 0 {
		w.put(OptionEOL)
	}
	return w.n
}

// optWriter appends options to b (or only counts them, if b is nil).
type optWriter struct {
	b []byte
	n int
}

func (w *optWriter) put(v ...byte) {
	if w.b != nil {
		copy(w.b[w.n:], v)
	}
	w.n += len(v)
}

func (w *optWriter) put32(v uint32) {
	w.put(byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// align writes NOPs until the offset is rem modulo mod.
func (w *optWriter) align(mod, rem int) {
	for w.n%mod != rem {
		w.put(OptionNOP)
	}
}
