package ip

// Fragmenter splits an IPv4 datagram into fragments that fit an MTU (RFC
// 791 §3.2, "An Example Fragmentation Procedure"), writing each fragment
// into a buffer supplied by the caller, so that fragmenting allocates
// nothing. The zero value is not ready: call Init.
//
//	var fr ip.Fragmenter
//	if err := fr.Init(&hdr, payload, mtu); err != nil { ... }
//	for fr.More() {
//		n := fr.Next(buf) // len(buf) >= fr.NextLen()
//		send(buf[:n])
//	}
//
// Every fragment but the last carries a multiple of 8 payload bytes and
// has MF set. The first fragment carries all the options; later fragments
// carry only the options whose copied flag (0x80 in the type) is set.
// Fragmenting a datagram that is itself a fragment (when forwarding) keeps
// its offset as the base and its MF flag on the last piece.
type Fragmenter struct {
	hdr      IPv4Fields
	payload  []byte
	off      int // next offset into payload
	maxFirst int // payload bytes per fragment, first fragment
	maxRest  int // payload bytes per fragment, later fragments
	baseOff  int
	lastMF   bool
	copied   [IPv4MaxOptionsLen]byte
	nCopied  int
	first    []byte // options of the first fragment
	single   bool   // the datagram fits: sent unchanged
}

// Init prepares to fragment the datagram with header h (whose TotalLen is
// ignored and computed) and payload for a link with the given MTU. If the
// datagram fits, it is produced unchanged as a single packet. Init returns
// ErrNeedFragmentation if it does not fit and DF is set, ErrMTUTooSmall if
// the MTU cannot carry the header and 8 bytes of payload, and
// ErrBadTotalLength if the datagram is longer than IPv4 allows. Init does
// not retain h but does retain payload and h.Options until the last call
// to Next.
func (f *Fragmenter) Init(h *IPv4Fields, payload []byte, mtu int) error {
	*f = Fragmenter{hdr: *h, payload: payload, baseOff: h.FragOffset, lastMF: h.Flags&FlagMF != 0}
	f.first = h.Options
	hl := h.HeaderLen()
	if h.FragOffset+hl+len(payload) > IPv4MaxDatagramLen {
		return ErrBadTotalLength
	}
	if hl+len(payload) <= mtu {
		f.single = true
		f.maxFirst = len(payload)
		return nil
	}
	if h.Flags&FlagDF != 0 {
		return ErrNeedFragmentation
	}
	f.nCopied = copiedOptions(f.copied[:], h.Options)
	f.maxFirst = (mtu - hl) &^ 7
	f.maxRest = (mtu - IPv4MinHeaderLen - (f.nCopied+3)&^3) &^ 7
	if f.maxFirst < 8 || f.maxRest < 8 {
		return ErrMTUTooSmall
	}
	return nil
}

// copiedOptions writes into dst the options of src whose copied flag is
// set (RFC 791 §3.1) and returns their length. It stops at EOL or at the
// first malformed option.
func copiedOptions(dst, src []byte) int {
	n := 0
	for len(src) > 0 {
		t := src[0]
		if t == IPv4OptionEOL {
			break
		}
		if t == IPv4OptionNOP {
			src = src[1:]
			continue
		}
		if len(src) < 2 || src[1] < 2 || int(src[1]) > len(src) {
			break
		}
		l := int(src[1])
		if t&0x80 != 0 {
			n += copy(dst[n:], src[:l])
		}
		src = src[l:]
	}
	return n
}

// More reports whether fragments remain to be produced.
func (f *Fragmenter) More() bool {
	return f.off < len(f.payload) || (f.off == 0 && f.single)
}

// NextLen returns the length of the next fragment, header included, or 0
// when none remain.
func (f *Fragmenter) NextLen() int {
	if !f.More() {
		return 0
	}
	hl, n := f.next()
	return hl + n
}

// next returns the header and payload lengths of the next fragment.
func (f *Fragmenter) next() (hl, n int) {
	if f.off == 0 {
		hl, n = IPv4MinHeaderLen+(len(f.first)+3)&^3, f.maxFirst
	} else {
		hl, n = IPv4MinHeaderLen+(f.nCopied+3)&^3, f.maxRest
	}
	return hl, min(n, len(f.payload)-f.off)
}

// Next writes the next fragment, header and payload, into b and returns
// its length. It panics if len(b) < NextLen() or if no fragment remains.
func (f *Fragmenter) Next(b []byte) int {
	if !f.More() {
		panic("ip: Fragmenter.Next called with no fragment left")
	}
	hl, n := f.next()
	h := f.hdr
	h.TotalLen = uint16(hl + n)
	h.FragOffset = f.baseOff + f.off
	if f.off == 0 {
		h.Options = f.first
	} else {
		h.Options = f.copied[:f.nCopied]
	}
	last := f.off+n == len(f.payload)
	if !f.single {
		h.Flags &^= FlagMF
		if !last || f.lastMF {
			h.Flags |= FlagMF
		}
	}
	_ = b[hl+n-1]
	PutIPv4Header(b, &h)
	copy(b[hl:], f.payload[f.off:f.off+n])
	f.off += n
	f.single = false
	return hl + n
}

// Fragment fragments the datagram (header h, payload) for the MTU as
// Fragmenter does, writing each fragment into buf and passing it to emit,
// which must not retain it: buf is reused for the next fragment. buf must
// be at least min(mtu, datagram length) bytes. It returns the first error
// from Init or emit.
func Fragment(h *IPv4Fields, payload []byte, mtu int, buf []byte, emit func(fragment IPv4) error) error {
	var f Fragmenter
	if err := f.Init(h, payload, mtu); err != nil {
		return err
	}
	for f.More() {
		n := f.Next(buf)
		if err := emit(IPv4(buf[:n])); err != nil {
			return err
		}
	}
	return nil
}
