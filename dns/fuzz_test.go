package dns

import (
	"net/netip"
	"testing"
	"time"
)

func FuzzParse(f *testing.F) {
	f.Add(unhex(f, queryGolden))
	f.Add(unhex(f, responseGolden))
	f.Add([]byte{0, 1, 0x81, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 0x0c})
	f.Add(make([]byte, 12))
	var z Zone
	z.Add("host.test", netip.MustParseAddr("192.0.2.2"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// The responder answers anything without panicking, within bounds.
		if reply, _ := z.Respond(b, MaxUDP); len(reply) > MaxUDP {
			t.Fatalf("UDP reply of %d bytes", len(reply))
		}
		m, err := Parse(b)
		if err != nil {
			return
		}
		out, err := m.Append(nil)
		if err != nil {
			return // names with bytes Append refuses (none today) or oversize rdata
		}
		m2, err := Parse(out)
		if err != nil {
			t.Fatalf("re-encoded message does not parse: %v", err)
		}
		if m2.ID != m.ID || m2.RCode != m.RCode || len(m2.Questions) != len(m.Questions) ||
			len(m2.Answers) != len(m.Answers) {
			t.Fatalf("round trip changed the message:\n%+v\n%+v", m, m2)
		}
		for i := range m.Answers {
			if m2.Answers[i].Name != m.Answers[i].Name || m2.Answers[i].Addr != m.Answers[i].Addr {
				t.Fatalf("answer %d changed: %+v → %+v", i, m.Answers[i], m2.Answers[i])
			}
		}
	})
}

// FuzzResolverInput feeds arbitrary responses to a resolver with a lookup
// in progress: nothing panics, and the lookup still ends.
func FuzzResolverInput(f *testing.F) {
	f.Add(unhex(f, responseGolden))
	f.Add([]byte{0xbe, 0xef, 0x82, 0x00, 0, 1, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewResolver(ResolverConfig{Timeout: time.Second, Attempts: 1})
		r.SetServers([]netip.Addr{netip.MustParseAddr("192.0.2.1")})
		now := time.Unix(0, 0)
		out := r.Resolve(now, Key{"example.test", TypeA})
		if len(out.Send) != 1 {
			t.Fatal("no query")
		}
		if len(b) >= 2 { // give it a chance to match
			b[0], b[1] = byte(out.Send[0].ID>>8), byte(out.Send[0].ID)
		}
		r.Input(now, netip.MustParseAddr("192.0.2.1"), false, b)
		for i := 0; i < 20 && !r.Deadline().IsZero(); i++ {
			now = r.Deadline()
			r.Tick(now)
		}
		if !r.Deadline().IsZero() {
			t.Fatal("lookup never ended")
		}
	})
}
