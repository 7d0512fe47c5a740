package ethernet

import (
	"bytes"
	"testing"
)

func FuzzFrame(f *testing.F) {
	f.Add(goldenARPRequest)
	f.Add([]byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x81, 0x00, 0x00, 0x01, 0x08, 0x00, 0x45})
	f.Add([]byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x81, 0x00, 0x00})
	f.Add(goldenARPRequest[:14])
	f.Fuzz(func(t *testing.T, b []byte) {
		fr := Frame(b)
		if err := fr.Check(); err != nil {
			return
		}
		hl := fr.HeaderLen()
		if hl != HeaderLen && hl != VLANHeaderLen {
			t.Fatalf("header length %d", hl)
		}
		if len(fr.Payload()) != len(b)-hl {
			t.Fatalf("payload %d, frame %d, header %d", len(fr.Payload()), len(b), hl)
		}
		tci, tagged := fr.VLAN()
		// Re-encode the header and compare.
		out := make([]byte, hl)
		if tagged {
			PutVLANHeader(out, fr.Dst(), fr.Src(), tci, fr.EtherType())
		} else {
			PutHeader(out, fr.Dst(), fr.Src(), fr.EtherType())
		}
		if !bytes.Equal(out, b[:hl]) {
			t.Fatalf("re-encoded header % x, input % x", out, b[:hl])
		}
		_ = fr.Dst().String()
	})
}

func FuzzARP(f *testing.F) {
	f.Add(goldenARPRequest[HeaderLen:])
	f.Add(goldenARPRequest[HeaderLen : HeaderLen+ARPLen])
	f.Add(goldenARPRequest[HeaderLen : HeaderLen+ARPLen-1])
	f.Fuzz(func(t *testing.T, b []byte) {
		a := ARP(b)
		if err := a.Check(); err != nil {
			return
		}
		op := a.Op()
		if op != ARPRequest && op != ARPReply {
			t.Fatalf("Check accepted op %d", op)
		}
		if !a.SenderIP().Is4() || !a.TargetIP().Is4() {
			t.Fatal("addresses are not IPv4")
		}
		_ = a.IsGratuitous()
		out := make([]byte, ARPLen)
		PutARP(out, op, a.SenderMAC(), a.SenderIP(), a.TargetMAC(), a.TargetIP())
		if !bytes.Equal(out, b[:ARPLen]) {
			t.Fatalf("round trip % x != % x", out, b[:ARPLen])
		}
		if ARP(out).Check() != nil {
			t.Fatal("re-encoded packet fails Check")
		}
	})
}
