package dns

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// queryGolden is a query for the A records of example.test, ID 0xbeef,
// recursion desired.
const queryGolden = `beef 0100 0001 0000 0000 0000
	07 6578616d706c65 04 74657374 00  0001 0001`

func TestQueryGolden(t *testing.T) {
	m := &Message{ID: 0xbeef, RecursionDesired: true, Questions: []Question{{Name: "Example.TEST.", Type: TypeA, Class: ClassIN}}}
	got, err := m.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, queryGolden); !bytes.Equal(got, want) {
		t.Fatalf("query:\n got % x\nwant % x", got, want)
	}
}

// responseGolden answers it with a CNAME to www.example.test (compressed:
// a pointer to offset 12) and an A record for that name (a pointer into
// the CNAME's data), with an SOA in the authority section.
const responseGolden = `beef 8580 0001 0002 0001 0000
	07 6578616d706c65 04 74657374 00  0001 0001
	c00c 0005 0001 0000012c 0006  03 777777 c00c
	c02a 0001 0001 00000e10 0004  c0000263
	c00c 0006 0001 00000e10 0016  00 00 00000001 00000e10 00000258 00093a80 0000003c`

func TestParseResponseGolden(t *testing.T) {
	m, err := Parse(unhex(t, responseGolden))
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != 0xbeef || !m.Response || !m.Authoritative || !m.RecursionDesired || !m.RecursionAvailable || m.RCode != 0 {
		t.Fatalf("header: %+v", m)
	}
	if len(m.Questions) != 1 || m.Questions[0] != (Question{"example.test", TypeA, ClassIN}) {
		t.Fatalf("questions: %+v", m.Questions)
	}
	if len(m.Answers) != 2 {
		t.Fatalf("answers: %+v", m.Answers)
	}
	if a := m.Answers[0]; a.Type != TypeCNAME || a.Name != "example.test" || a.Target != "www.example.test" || a.TTL != 300 {
		t.Fatalf("CNAME: %+v", a)
	}
	if a := m.Answers[1]; a.Type != TypeA || a.Name != "www.example.test" || a.Addr != netip.MustParseAddr("192.0.2.99") || a.TTL != 3600 {
		t.Fatalf("A: %+v", a)
	}
	if len(m.Authority) != 1 || m.Authority[0].MinTTL != 60 {
		t.Fatalf("SOA: %+v", m.Authority)
	}
}

func TestParseErrors(t *testing.T) {
	hdr := "0001 0100 0001 0000 0000 0000 "
	cases := []struct {
		name, hex string
		want      error
	}{
		{"short", "0001 01", ErrShort},
		{"name past end", hdr + "07 6578", ErrName},
		{"pointer loop", hdr + "c00c 0001 0001", ErrPointer},
		{"pointer past end", hdr + "c0ff 0001 0001", ErrName},
		{"reserved label type", hdr + "40 00 0001 0001", ErrName},
		{"no type", hdr + "00 00", ErrShort},
		{"bad A length", "0001 8100 0000 0001 0000 0000 00 0001 0001 00000001 0003 010203", ErrRecord},
		{"rdata past end", "0001 8100 0000 0001 0000 0000 00 0001 0001 00000001 0004 0102", ErrRecord},
		{"too many questions", "0001 0100 ffff 0000 0000 0000", ErrTooMany},
		{"dot in label", hdr + "03 612e62 00 0001 0001", ErrName},
	}
	for _, c := range cases {
		if _, err := Parse(unhex(t, c.hex)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// A name of 64 labels of 3 bytes is over 255 bytes.
	long := hdr + strings.Repeat("03 616161 ", 64) + "00 0001 0001"
	if _, err := Parse(unhex(t, long)); !errors.Is(err, ErrName) {
		t.Errorf("long name: %v", err)
	}
}

func TestCanonicalName(t *testing.T) {
	for in, want := range map[string]string{"Example.COM.": "example.com", "a.b": "a.b", ".": "", "": ""} {
		if got, err := CanonicalName(in); err != nil || got != want {
			t.Errorf("CanonicalName(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"a..b", strings.Repeat("x", 64) + ".com", strings.Repeat("abc.", 70) + "com", ".a"} {
		if _, err := CanonicalName(bad); err == nil {
			t.Errorf("CanonicalName(%q) accepted", bad)
		}
	}
}

func TestReverseName(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.2")
	if n := ReverseName(a); n != "2.2.0.192.in-addr.arpa" {
		t.Fatalf("ReverseName: %s", n)
	}
	if got, ok := ParseReverseName("2.2.0.192.in-addr.arpa"); !ok || got != a {
		t.Fatalf("ParseReverseName: %v %v", got, ok)
	}
	for _, bad := range []string{"2.0.192.in-addr.arpa", "256.2.0.192.in-addr.arpa", "02.2.0.192.in-addr.arpa", "x.example"} {
		if _, ok := ParseReverseName(bad); ok {
			t.Errorf("ParseReverseName(%q) accepted", bad)
		}
	}
}

func TestAppendRoundTrip(t *testing.T) {
	m := &Message{ID: 9, Response: true, Authoritative: true, RCode: RCodeNXDomain, Opcode: 0,
		Questions: []Question{{"b.test", TypePTR, ClassIN}},
		Answers: []RR{{Name: "b.test", Type: TypePTR, Class: ClassIN, TTL: 5, Target: "c.test"},
			{Name: "b.test", Type: TypeA, Class: ClassIN, TTL: 7, Addr: netip.MustParseAddr("192.0.2.5")}}}
	b, err := m.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if m2.RCode != RCodeNXDomain || !m2.Authoritative || m2.Answers[0].Target != "c.test" || m2.Answers[1].Addr != netip.MustParseAddr("192.0.2.5") {
		t.Fatalf("round trip: %+v", m2)
	}
	bad := &Message{Questions: []Question{{Name: "a..b"}}}
	if _, err := bad.Append(nil); !errors.Is(err, ErrName) {
		t.Fatalf("bad name encoded: %v", err)
	}
}
