package ip

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// ReassemblyKey identifies the datagram a fragment belongs to (RFC 791
// §3.2): source, destination, protocol and identification. It is
// comparable and used as a map key.
type ReassemblyKey struct {
	Src, Dst netip.Addr
	Protocol uint8
	ID       uint16
}

// ReassemblyConfig bounds a Reassembler. Zero fields take the defaults.
type ReassemblyConfig struct {
	// MaxBytes bounds the memory held by datagrams in progress: buffers,
	// bookkeeping and a fixed overhead per datagram. Default 4 MiB.
	MaxBytes int
	// MaxDatagrams bounds the number of datagrams in progress. Default
	// 1024.
	MaxDatagrams int
	// Timeout is how long a datagram may take to complete, counted from
	// its first fragment. Default 30 s.
	Timeout time.Duration
}

// Defaults for ReassemblyConfig.
const (
	DefaultReassemblyMaxBytes     = 4 << 20
	DefaultReassemblyMaxDatagrams = 1024
	DefaultReassemblyTimeout      = 30 * time.Second
)

// ReassemblyCounters count what a Reassembler did. Every dropped fragment
// and discarded datagram is counted exactly once.
type ReassemblyCounters struct {
	Fragments   uint64 // fragments stored
	Reassembled uint64 // datagrams completed
	Duplicates  uint64 // exact duplicate fragments ignored
	Overlaps    uint64 // datagrams discarded because fragments overlapped
	Malformed   uint64 // fragments dropped or datagrams discarded as inconsistent
	TooBig      uint64 // fragments or datagrams past 65535 bytes
	Timeouts    uint64 // datagrams discarded by timeout
	Evicted     uint64 // datagrams discarded, oldest first, to stay within the bounds
	NoRoom      uint64 // datagrams discarded because they alone exceed MaxBytes
}

// ipv4HeaderRoom is reserved at the front of every reassembly buffer for
// the first fragment's header, so the completed datagram is contiguous.
const ipv4HeaderRoom = IPv4MaxHeaderLen

// datagramOverhead is charged per datagram in progress on top of its
// buffers: the struct, its map entry and its list links.
const datagramOverhead = 256

// maxFreeDatagrams bounds the Reassembler's free list.
const maxFreeDatagrams = 16

// Reassembler reassembles IPv4 datagrams from their fragments (RFC 791
// §3.2, RFC 815) within bounds on memory, on the number of datagrams in
// progress and on time.
//
// Policy:
//   - An exact duplicate (same offset, length and bytes) is ignored.
//   - Any other overlap discards the whole datagram and counts it in
//     Overlaps: overlapping fragments have no legitimate use and are how
//     IDS evasion and "teardrop"-style attacks work (RFC 5722 mandates
//     this for IPv6; RFC 1858 discusses it for IPv4).
//   - A fragment that would extend the datagram past 65535 bytes is
//     dropped (TooBig). Tiny fragments are accepted.
//   - A datagram times out Timeout after its first fragment arrived
//     (Linux's rule; RFC 791's TTL-based timer is not used).
//   - When a new datagram or a larger buffer would exceed MaxDatagrams or
//     MaxBytes, the oldest other datagrams are evicted until it fits.
//
// The caller passes the current time into every call and calls Expire
// when NextDeadline has passed; the Reassembler never reads the clock. It
// is not safe for concurrent use.
type Reassembler struct {
	cfg        ReassemblyConfig
	m          map[ReassemblyKey]*datagram
	head, tail *datagram // in-progress datagrams, oldest first
	bytes      int
	free       *datagram // recycled datagram structs, linked by next
	nFree      int
	counters   ReassemblyCounters
}

// span is the byte range [start, end) of the payload one fragment covers.
type span struct{ start, end uint16 }

type datagram struct {
	key        ReassemblyKey
	deadline   time.Time
	prev, next *datagram
	// buf holds the first fragment's header at buf[ipv4HeaderRoom-hl0:
	// ipv4HeaderRoom] and the payload from buf[ipv4HeaderRoom:].
	buf      []byte
	hl0      int    // header length of the offset-0 fragment; 0 until seen
	spans    []span // received ranges, sorted, disjoint
	received int    // sum of span lengths
	total    int    // payload length once the last fragment is seen, else -1
	mem      int    // bytes charged to the Reassembler
}

// NewReassembler returns a Reassembler with the given bounds; zero fields
// of cfg take the defaults.
func NewReassembler(cfg ReassemblyConfig) *Reassembler {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultReassemblyMaxBytes
	}
	if cfg.MaxDatagrams <= 0 {
		cfg.MaxDatagrams = DefaultReassemblyMaxDatagrams
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultReassemblyTimeout
	}
	return &Reassembler{cfg: cfg, m: make(map[ReassemblyKey]*datagram)}
}

// Counters returns a snapshot of the counters.
func (r *Reassembler) Counters() ReassemblyCounters { return r.counters }

// Len returns the number of datagrams in progress.
func (r *Reassembler) Len() int { return len(r.m) }

// Bytes returns the memory charged to datagrams in progress.
func (r *Reassembler) Bytes() int { return r.bytes }

// NextDeadline returns the time at which the oldest datagram in progress
// times out, and false if there is none.
func (r *Reassembler) NextDeadline() (time.Time, bool) {
	if r.head == nil {
		return time.Time{}, false
	}
	return r.head.deadline, true
}

// Add adds the checked IPv4 packet p. If p is not a fragment it is
// returned as is, with done true. If p completes a datagram, Add returns
// the reassembled datagram, done true: a well-formed IPv4 packet (it
// passes Check) with the first fragment's header and options, MF and
// offset cleared, and the new total length and checksum. The returned
// buffer belongs to the caller; p is copied and not retained.
//
// Otherwise done is false, and err is nil if the fragment was stored or
// was a duplicate, or says why it or its datagram was dropped
// (ErrFragmentOverlap, ErrFragmentTooBig, ErrFragmentMalformed,
// ErrFragmentNoRoom). Dropping is already counted; the error is for
// tracing.
//
// A datagram whose deadline has passed is discarded (as a timeout) when
// its next fragment arrives, but only Expire reports timeouts to the
// caller, so call Expire at NextDeadline.
func (r *Reassembler) Add(now time.Time, p IPv4) (pkt IPv4, done bool, err error) {
	if !p.IsFragment() {
		return p, true, nil
	}
	hl := p.HeaderLen()
	data := p.Payload()
	off := p.FragmentOffset()
	end := off + len(data)
	more := p.MoreFragments()
	if hl+end > IPv4MaxDatagramLen {
		r.counters.TooBig++
		return nil, false, ErrFragmentTooBig
	}
	if more && (len(data) == 0 || len(data)%8 != 0) {
		r.counters.Malformed++
		return nil, false, ErrFragmentMalformed
	}

	key := ReassemblyKey{Src: p.Src(), Dst: p.Dst(), Protocol: p.Protocol(), ID: p.ID()}
	d := r.m[key]
	if d != nil && !now.Before(d.deadline) {
		r.counters.Timeouts++
		r.discard(d)
		d = nil
	}
	if d == nil {
		if d = r.newDatagram(now, key); d == nil {
			return nil, false, ErrFragmentNoRoom
		}
	}

	// The last fragment fixes the payload length; nothing may pass it.
	if !more {
		if d.total >= 0 && d.total != end ||
			len(d.spans) > 0 && int(d.spans[len(d.spans)-1].end) > end {
			r.counters.Malformed++
			r.discard(d)
			return nil, false, ErrFragmentMalformed
		}
		d.total = end
	} else if d.total >= 0 && end > d.total {
		r.counters.Malformed++
		r.discard(d)
		return nil, false, ErrFragmentMalformed
	}

	if len(data) > 0 {
		// i is the index of the first span starting at or after off.
		i := len(d.spans)
		for i > 0 && int(d.spans[i-1].start) >= off {
			i--
		}
		if i < len(d.spans) && int(d.spans[i].start) == off && int(d.spans[i].end) == end {
			if string(d.buf[ipv4HeaderRoom+off:ipv4HeaderRoom+end]) == string(data) {
				r.counters.Duplicates++
				return nil, false, nil
			}
			r.counters.Overlaps++
			r.discard(d)
			return nil, false, ErrFragmentOverlap
		}
		if i > 0 && int(d.spans[i-1].end) > off || i < len(d.spans) && int(d.spans[i].start) < end {
			r.counters.Overlaps++
			r.discard(d)
			return nil, false, ErrFragmentOverlap
		}
		if !r.reserve(d, end) {
			return nil, false, ErrFragmentNoRoom
		}
		copy(d.buf[ipv4HeaderRoom+off:], data)
		if off == 0 {
			copy(d.buf[ipv4HeaderRoom-hl:], p[:hl])
			d.hl0 = hl
		}
		d.spans = append(d.spans, span{})
		copy(d.spans[i+1:], d.spans[i:])
		d.spans[i] = span{uint16(off), uint16(end)}
		d.received += len(data)
		r.recharge(d)
		r.counters.Fragments++
	}

	if d.total < 0 || d.received != d.total || d.hl0 == 0 {
		return nil, false, nil
	}
	return r.complete(d)
}

// complete builds the reassembled datagram of d, which has every byte.
func (r *Reassembler) complete(d *datagram) (IPv4, bool, error) {
	if d.hl0+d.total > IPv4MaxDatagramLen {
		r.counters.TooBig++
		r.discard(d)
		return nil, false, ErrFragmentTooBig
	}
	out := IPv4(d.buf[ipv4HeaderRoom-d.hl0 : ipv4HeaderRoom+d.total])
	binary.BigEndian.PutUint16(out[2:4], uint16(d.hl0+d.total))
	// Keep DF and the reserved bit; clear MF and the offset.
	binary.BigEndian.PutUint16(out[6:8], binary.BigEndian.Uint16(out[6:8])&0xc000)
	out[10], out[11] = 0, 0
	binary.BigEndian.PutUint16(out[10:12], Checksum(out[:d.hl0], 0))
	d.buf = nil // ownership passes to the caller
	r.counters.Reassembled++
	r.discard(d)
	return out, true, nil
}

// Expire discards every datagram whose deadline is not after now and
// returns how many. For each one whose first fragment (offset 0) had
// arrived it calls onTimeout, if not nil, with that fragment exactly as
// received: a valid IPv4 packet, from which PutTimeExceeded with
// ICMPCodeReassemblyExceeded builds the message RFC 792 and RFC 1122
// §3.3.2 call for. The slice is valid only during the call.
func (r *Reassembler) Expire(now time.Time, onTimeout func(first IPv4)) int {
	n := 0
	for d := r.head; d != nil && !now.Before(d.deadline); d = r.head {
		if onTimeout != nil && d.hl0 > 0 && len(d.spans) > 0 && d.spans[0].start == 0 {
			// Spans are never merged, so spans[0] is the first fragment's
			// data and its stored header still describes it.
			onTimeout(IPv4(d.buf[ipv4HeaderRoom-d.hl0 : ipv4HeaderRoom+int(d.spans[0].end)]))
		}
		r.counters.Timeouts++
		r.discard(d)
		n++
	}
	return n
}

// newDatagram starts a datagram for key, evicting the oldest datagrams if
// MaxDatagrams or MaxBytes would be exceeded. It returns nil, counted in
// NoRoom, if MaxBytes cannot hold even an empty datagram.
func (r *Reassembler) newDatagram(now time.Time, key ReassemblyKey) *datagram {
	d := r.free
	if d != nil {
		r.free = d.next
		r.nFree--
		*d = datagram{spans: d.spans[:0]}
	} else {
		d = &datagram{}
	}
	d.mem = datagramOverhead + 4*cap(d.spans)
	for r.head != nil && (len(r.m) >= r.cfg.MaxDatagrams || r.bytes+d.mem > r.cfg.MaxBytes) {
		r.counters.Evicted++
		r.discard(r.head)
	}
	if r.bytes+d.mem > r.cfg.MaxBytes {
		r.counters.NoRoom++
		d.next, r.free = r.free, d
		r.nFree++
		return nil
	}
	d.key = key
	d.deadline = now.Add(r.cfg.Timeout)
	d.total = -1
	r.bytes += d.mem
	r.m[key] = d
	d.prev = r.tail
	if r.tail != nil {
		r.tail.next = d
	} else {
		r.head = d
	}
	r.tail = d
	return d
}

// reserve makes d's buffer reach payload offset end, evicting older
// datagrams if the memory bound requires. If d alone would exceed the
// bound it is discarded and reserve returns false.
func (r *Reassembler) reserve(d *datagram, end int) bool {
	need := ipv4HeaderRoom + end
	if need <= len(d.buf) && len(d.spans) < cap(d.spans) {
		return true
	}
	size := len(d.buf)
	if need > size {
		limit := ipv4HeaderRoom + IPv4MaxDatagramLen
		if d.total >= 0 {
			limit = ipv4HeaderRoom + d.total
		}
		// While the length is unknown, leave room for a few more fragments
		// of the same size, so in-order arrival rarely copies the buffer.
		size = max(min(ipv4HeaderRoom+4*end, limit), need)
	}
	spanCap := cap(d.spans)
	if len(d.spans) == spanCap {
		spanCap = max(4, 2*spanCap)
	}
	grow := size - len(d.buf) + 4*(spanCap-cap(d.spans))
	// Evict the oldest other datagrams: those before d, then those after.
	for r.bytes+grow > r.cfg.MaxBytes && r.head != d {
		r.counters.Evicted++
		r.discard(r.head)
	}
	for r.bytes+grow > r.cfg.MaxBytes && d.next != nil {
		r.counters.Evicted++
		r.discard(d.next)
	}
	if r.bytes+grow > r.cfg.MaxBytes {
		r.counters.NoRoom++
		r.discard(d)
		return false
	}
	if size > len(d.buf) {
		nb := make([]byte, size)
		copy(nb, d.buf)
		d.buf = nb
	}
	if spanCap > cap(d.spans) {
		ns := make([]span, len(d.spans), spanCap)
		copy(ns, d.spans)
		d.spans = ns
	}
	return true
}

// recharge updates the memory charged for d after its buffers changed.
func (r *Reassembler) recharge(d *datagram) {
	mem := datagramOverhead + len(d.buf) + 4*cap(d.spans)
	r.bytes += mem - d.mem
	d.mem = mem
}

// discard removes d from the Reassembler and recycles its struct.
func (r *Reassembler) discard(d *datagram) {
	delete(r.m, d.key)
	if d.prev != nil {
		d.prev.next = d.next
	} else {
		r.head = d.next
	}
	if d.next != nil {
		d.next.prev = d.prev
	} else {
		r.tail = d.prev
	}
	r.bytes -= d.mem
	if r.nFree < maxFreeDatagrams {
		spans := d.spans[:0]
		if cap(spans) > 64 {
			spans = nil // do not keep large span lists off the books
		}
		*d = datagram{spans: spans, next: r.free}
		r.free = d
		r.nFree++
	}
}
