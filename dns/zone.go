package dns

import (
	"net/netip"
	"slices"
)

// ZoneTTL is the TTL of the responder's answers, and of its negative
// answers (RFC 2308: the SOA it would send says the same).
const ZoneTTL = 60

// Zone is the set of names the responder answers for: name → addresses
// and address → names. The zero Zone is empty and ready to use.
type Zone struct {
	byName map[string][]netip.Addr
	byAddr map[netip.Addr][]string
}

// Add makes name resolve to addr, and addr to name. A name that is not a
// valid domain name is refused.
func (z *Zone) Add(name string, addr netip.Addr) error {
	n, err := CanonicalName(name)
	if err != nil {
		return err
	}
	if z.byName == nil {
		z.byName, z.byAddr = map[string][]netip.Addr{}, map[netip.Addr][]string{}
	}
	if !slices.Contains(z.byName[n], addr) {
		z.byName[n] = append(z.byName[n], addr)
	}
	if !slices.Contains(z.byAddr[addr], n) {
		z.byAddr[addr] = append(z.byAddr[addr], n)
	}
	return nil
}

// Remove undoes Add.
func (z *Zone) Remove(name string, addr netip.Addr) {
	n, err := CanonicalName(name)
	if err != nil || z.byName == nil {
		return
	}
	if z.byName[n] = slices.DeleteFunc(z.byName[n], func(a netip.Addr) bool { return a == addr }); len(z.byName[n]) == 0 {
		delete(z.byName, n)
	}
	if z.byAddr[addr] = slices.DeleteFunc(z.byAddr[addr], func(s string) bool { return s == n }); len(z.byAddr[addr]) == 0 {
		delete(z.byAddr, addr)
	}
}

// Len returns the number of names.
func (z *Zone) Len() int { return len(z.byName) }

// Outcome says what Respond did with a query, for counters.
type Outcome uint8

// Outcomes of Respond.
const (
	Dropped   Outcome = iota // not a query (no reply)
	Answered                 // NOERROR with answers
	NoData                   // NOERROR, name known, no records of the type
	NXDomain                 // name unknown
	Malformed                // FORMERR or NOTIMP
)

// Respond answers one query as an authoritative server for the zone: A
// and PTR from the zone; NOERROR without answers for other types of a
// known name; NXDOMAIN for an unknown name; FORMERR for a malformed query
// with a readable header, NOTIMP for an opcode other than QUERY; no reply
// at all for responses or shorter-than-a-header junk. A reply longer than
// maxLen is truncated to its header and question with TC set (RFC 1035
// §4.2.1), so the client asks again over TCP.
func (z *Zone) Respond(query []byte, maxLen int) ([]byte, Outcome) {
	q, err := Parse(query)
	if err != nil {
		if len(query) < HeaderLen || query[2]&0x80 != 0 {
			return nil, Dropped
		}
		r := &Message{ID: uint16(query[0])<<8 | uint16(query[1]), Response: true, RCode: RCodeFormErr,
			Opcode: (query[2] >> 3) & 0xf, RecursionDesired: query[2]&1 != 0}
		b, _ := r.Append(nil)
		return b, Malformed
	}
	if q.Response {
		return nil, Dropped
	}
	r := &Message{ID: q.ID, Response: true, Opcode: q.Opcode, RecursionDesired: q.RecursionDesired,
		Authoritative: true, Questions: q.Questions}
	out := Answered
	switch {
	case q.Opcode != 0:
		r.RCode, r.Authoritative, out = RCodeNotImp, false, Malformed
	case len(q.Questions) != 1:
		r.RCode, r.Authoritative, out = RCodeFormErr, false, Malformed
	default:
		out = z.answer(q.Questions[0], r)
	}
	b, err := r.Append(nil)
	if err != nil {
		return nil, Dropped
	}
	if len(b) > maxLen {
		r.Answers, r.Truncated = nil, true
		if b, err = r.Append(nil); err != nil || len(b) > maxLen {
			return nil, Dropped
		}
	}
	return b, out
}

// answer fills r's answer section for question qu.
func (z *Zone) answer(qu Question, r *Message) Outcome {
	if qu.Class != ClassIN && qu.Class != 255 {
		r.RCode = RCodeRefused
		r.Authoritative = false
		return Malformed
	}
	if addr, ok := ParseReverseName(qu.Name); ok {
		names := z.byAddr[addr]
		if len(names) == 0 {
			r.RCode = RCodeNXDomain
			return NXDomain
		}
		if qu.Type != TypePTR && qu.Type != 255 {
			return NoData
		}
		for _, n := range names {
			r.Answers = append(r.Answers, RR{Name: qu.Name, Type: TypePTR, Class: ClassIN, TTL: ZoneTTL, Target: n})
		}
		return Answered
	}
	addrs, ok := z.byName[qu.Name]
	if !ok {
		r.RCode = RCodeNXDomain
		return NXDomain
	}
	for _, a := range addrs {
		if (qu.Type == TypeA || qu.Type == 255) && a.Is4() {
			r.Answers = append(r.Answers, RR{Name: qu.Name, Type: TypeA, Class: ClassIN, TTL: ZoneTTL, Addr: a})
		}
	}
	if len(r.Answers) == 0 {
		return NoData
	}
	return Answered
}
