package dns

import (
	"net/netip"
	"testing"
)

func query(t testing.TB, id uint16, name string, qtype uint16) []byte {
	t.Helper()
	b, err := (&Message{ID: id, RecursionDesired: true, Questions: []Question{{name, qtype, ClassIN}}}).Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func respond(t *testing.T, z *Zone, q []byte, max int) (*Message, Outcome) {
	t.Helper()
	b, out := z.Respond(q, max)
	if b == nil {
		return nil, out
	}
	m, err := Parse(b)
	if err != nil {
		t.Fatalf("reply does not parse: %v", err)
	}
	return m, out
}

func TestZoneRespond(t *testing.T) {
	var z Zone
	host := netip.MustParseAddr("192.0.2.2")
	if err := z.Add("Host.Test", host); err != nil {
		t.Fatal(err)
	}
	if err := z.Add("bad..name", host); err == nil {
		t.Fatal("bad name added")
	}

	m, out := respond(t, &z, query(t, 1, "host.test", TypeA), MaxUDP)
	if out != Answered || m.ID != 1 || !m.Response || !m.Authoritative || !m.RecursionDesired || m.RCode != 0 ||
		len(m.Answers) != 1 || m.Answers[0].Addr != host || m.Answers[0].TTL != ZoneTTL || m.Questions[0].Name != "host.test" {
		t.Fatalf("A: %v %+v", out, m)
	}
	m, out = respond(t, &z, query(t, 2, "2.2.0.192.in-addr.arpa", TypePTR), MaxUDP)
	if out != Answered || len(m.Answers) != 1 || m.Answers[0].Type != TypePTR || m.Answers[0].Target != "host.test" {
		t.Fatalf("PTR: %v %+v", out, m)
	}
	m, out = respond(t, &z, query(t, 3, "nothere.test", TypeA), MaxUDP)
	if out != NXDomain || m.RCode != RCodeNXDomain || len(m.Answers) != 0 || !m.Authoritative {
		t.Fatalf("NXDOMAIN: %v %+v", out, m)
	}
	m, out = respond(t, &z, query(t, 4, "3.2.0.192.in-addr.arpa", TypePTR), MaxUDP)
	if out != NXDomain || m.RCode != RCodeNXDomain {
		t.Fatalf("unknown PTR: %v %+v", out, m)
	}
	m, out = respond(t, &z, query(t, 5, "host.test", TypeAAAA), MaxUDP)
	if out != NoData || m.RCode != 0 || len(m.Answers) != 0 {
		t.Fatalf("AAAA: %v %+v", out, m)
	}
	// Malformed with a header: FORMERR with the ID. Junk: no reply.
	bad := append(query(t, 6, "host.test", TypeA)[:HeaderLen], 0xc0)
	m, out = respond(t, &z, bad, MaxUDP)
	if out != Malformed || m.ID != 6 || m.RCode != RCodeFormErr {
		t.Fatalf("malformed: %v %+v", out, m)
	}
	if b, out := z.Respond([]byte{1, 2, 3}, MaxUDP); b != nil || out != Dropped {
		t.Fatalf("junk answered: %v", out)
	}
	// A response is never answered (no loops between responders).
	r, _ := z.Respond(query(t, 7, "host.test", TypeA), MaxUDP)
	if b, out := z.Respond(r, MaxUDP); b != nil || out != Dropped {
		t.Fatal("a response was answered")
	}
	// Another opcode: NOTIMP.
	q := query(t, 8, "host.test", TypeA)
	q[2] |= 2 << 3
	if m, out := respond(t, &z, q, MaxUDP); out != Malformed || m.RCode != RCodeNotImp {
		t.Fatalf("opcode 2: %v %+v", out, m)
	}
	z.Remove("host.test", host)
	if _, out := respond(t, &z, query(t, 9, "host.test", TypeA), MaxUDP); out != NXDomain || z.Len() != 0 {
		t.Fatalf("after Remove: %v", out)
	}
}

func TestZoneTruncates(t *testing.T) {
	var z Zone
	for i := range 40 {
		z.Add("many.test", netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}))
	}
	m, out := respond(t, &z, query(t, 1, "many.test", TypeA), MaxUDP)
	if out != Answered || !m.Truncated || len(m.Answers) != 0 {
		t.Fatalf("UDP: %v truncated %v, %d answers", out, m.Truncated, len(m.Answers))
	}
	m, _ = respond(t, &z, query(t, 1, "many.test", TypeA), 0xffff)
	if m.Truncated || len(m.Answers) != 40 {
		t.Fatalf("TCP: truncated %v, %d answers", m.Truncated, len(m.Answers))
	}
}
