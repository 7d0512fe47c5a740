package dhcp

import (
	"testing"
)

func FuzzParse(f *testing.F) {
	f.Add((&Message{Op: 1, XID: 1, CHAddr: testMAC, Type: Discover, SubnetBits: -1,
		ParamRequest: []byte{1, 3, 6}}).Append(nil))
	f.Add((&Message{Op: 2, XID: 2, Type: Ack, SubnetBits: 24, LeaseTime: 120e9, T1: 10e9, T2: 20e9}).Append(nil))
	f.Add(make([]byte, 240))
	f.Add(append(make([]byte, 236), 99, 130, 83, 99, 53, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 236+1 {
			b[1], b[2] = 1, 6 // reach the options more often
		}
		m, err := Parse(b)
		if err != nil {
			return
		}
		m2, err := Parse(m.Append(nil))
		if err != nil {
			t.Fatalf("re-encoded message does not parse: %v", err)
		}
		if m2.Type != m.Type || m2.XID != m.XID || m2.YIAddr != m.YIAddr || m2.ServerID != m.ServerID ||
			m2.LeaseTime != m.LeaseTime || len(m2.DNS) != len(m.DNS) || m2.SubnetBits != m.SubnetBits {
			t.Fatalf("round trip changed the message:\n%+v\n%+v", m, m2)
		}
	})
}
